package nemesis

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requireFaketime(t *testing.T) {
	t.Helper()
	if findFaketimeLib() == "" {
		t.Skip("libfaketime not installed (apt-get install -y faketime): clock-skew cannot run")
	}
}

func TestClockSkewMeasured(t *testing.T) {
	requireFaketime(t)
	ctx := context.Background()
	n := newNemesis(t)
	// A dynamically linked program (sh + date) that reports its clock.
	script := `while :; do echo "now $(date +%s)"; sleep 0.1; done`
	if _, err := n.Register(ctx, TargetSpec{Name: "clock", Command: []string{"/bin/sh", "-c", script}}); err != nil {
		t.Fatal(err)
	}
	f, err := n.Inject(ctx, Spec{Kind: "clock-skew", Targets: []string{"clock"}, Params: map[string]any{"offset": "+1h", "time_pattern": `now (\d+)`}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed {
		t.Fatalf("clock-skew did not land: %s %+v", f.Landing.Reason, f.Landing.Evidence)
	}
	reported := f.Landing.Evidence[2]
	if ms := reported.Raw["skew_ms"].(int64); ms < 3598_000 || ms > 3602_000 {
		t.Errorf("target-reported skew = %dms, want ~3600000", ms)
	}
	out, err := n.Heal(ctx, f)
	if err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
}

// minimalStaticELF writes an x86-64 ELF header with no program headers:
// what a static binary looks like to the PT_INTERP check.
func minimalStaticELF(t *testing.T) string {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1                  // 64-bit, little endian, version 1
	binary.LittleEndian.PutUint16(h[16:], 2)    // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 0x3e) // x86-64
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64) // ehsize
	binary.LittleEndian.PutUint16(h[54:], 56) // phentsize
	binary.LittleEndian.PutUint16(h[58:], 64) // shentsize
	p := filepath.Join(t.TempDir(), "static")
	if err := os.WriteFile(p, h, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFaketimeBlind(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 100\n"), 0o755)
	envScript := filepath.Join(dir, "env.sh")
	os.WriteFile(envScript, []byte("#!/usr/bin/env sh\n"), 0o755)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"dynamic C binary", "/bin/sh", ""},
		{"script", script, ""},
		{"env script", envScript, ""},
		{"static binary", minimalStaticELF(t), "statically linked"},
		{"Go binary (this test)", os.Args[0], "Go"},
		{"not a program", "/etc/hostname", "not an ELF"},
	} {
		got := faketimeBlind(tc.path)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			// The test binary may be static (no cgo): then either reason is right.
			if tc.name == "Go binary (this test)" && strings.Contains(got, "statically linked") {
				continue
			}
			t.Errorf("%s: faketimeBlind(%s) = %q, want %q", tc.name, tc.path, got, tc.want)
		}
	}
}

func TestClockSkewRefusesGoBinary(t *testing.T) {
	requireFaketime(t)
	ctx := context.Background()
	n := newNemesis(t)
	argv, env, _ := helperCommand(t, "echo")
	if _, err := n.Register(ctx, TargetSpec{Name: "gosrv", Command: argv, Env: env}); err != nil {
		t.Fatal(err)
	}
	_, err := n.Inject(ctx, Spec{Kind: "clock-skew", Targets: []string{"gosrv"}, Params: map[string]any{"offset": "+10s"}, Duration: time.Second})
	var re *RefusalError
	if !errors.As(err, &re) || !(strings.Contains(re.Reason, "Go binary") || strings.Contains(re.Reason, "statically linked")) {
		t.Fatalf("err = %v, want a refusal naming the Go/static binary", err)
	}
}
