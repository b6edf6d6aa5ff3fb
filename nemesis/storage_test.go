package nemesis

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tmpfs mounts a small tmpfs on a fresh directory, unmounted at cleanup.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): disk-full needs a small filesystem to fill", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestDiskFullOnTmpfs(t *testing.T) {
	ctx := context.Background()
	dir := tmpfs(t, "4m")
	if err := os.WriteFile(filepath.Join(dir, "data.db"), []byte("state"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := newNemesis(t)
	if _, err := n.Register(ctx, TargetSpec{Name: "data", Path: dir}); err != nil {
		t.Fatal(err)
	}
	f, err := n.Inject(ctx, Spec{Kind: "disk-full", Targets: []string{"data"}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed {
		t.Fatalf("disk-full did not land: %s %+v", f.Landing.Reason, f.Landing.Evidence)
	}
	// The victim's own write fails too.
	if err := os.WriteFile(filepath.Join(dir, "victim"), make([]byte, 8192), 0o644); !errors.Is(err, unix.ENOSPC) {
		t.Errorf("victim write under disk-full: %v, want ENOSPC", err)
	}
	os.Remove(filepath.Join(dir, "victim"))
	ev := f.Landing.Evidence
	if ev[0].Raw["free_before"].(uint64) < 3<<20 || ev[0].Raw["free_after"].(uint64) >= 64<<10 {
		t.Errorf("statfs evidence = %+v, want ~4 MiB free before and ~0 after", ev[0].Raw)
	}
	if !strings.Contains(ev[1].After, "no space left") {
		t.Errorf("probe write evidence = %+v, want ENOSPC", ev[1])
	}
	out, err := n.Heal(ctx, f)
	if err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
	if _, err := os.Stat(f.Record.FillPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fill file left behind: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data.db")); err != nil || string(b) != "state" {
		t.Errorf("the target's data changed: %q, %v", b, err)
	}
}

func TestDiskFullRefusals(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	big := t.TempDir()
	if _, err := n.Register(ctx, TargetSpec{Name: "big", Path: big}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"max_bytes": 1024}, "refusing to fill"},
		{map[string]any{"path": "../.."}, "outside target"},
	} {
		_, err := n.Prepare(ctx, Spec{Kind: "disk-full", Targets: []string{"big"}, Params: tc.params})
		var re *RefusalError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want a refusal %q", tc.params, err, tc.want)
		}
	}
}
