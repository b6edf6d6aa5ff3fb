package nemesis

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProbeCapabilities(t *testing.T) {
	caps := Probe(context.Background())
	for _, name := range []string{CapRoot, CapNFTables, CapNetns, CapNetem, CapFaketime, CapCgroup, CapFuse, CapProxy} {
		c, ok := caps.Get(name)
		if !ok || c.Detail == "" {
			t.Errorf("capability %s missing or without detail: %+v", name, c)
		}
		if ok && !c.OK && c.Hint == "" {
			t.Errorf("capability %s is missing without an install hint", name)
		}
	}
	root, _ := caps.Get(CapRoot)
	if root.OK != (os.Geteuid() == 0) {
		t.Errorf("root = %v, euid %d", root.OK, os.Geteuid())
	}
	if ft, _ := caps.Get(CapFaketime); ft.OK != (findFaketimeLib() != "") {
		t.Errorf("faketime = %+v", ft)
	}
	if caps.CgroupVersion == "" {
		t.Error("no cgroup version")
	}
	for _, k := range KindNames() {
		if _, ok := caps.Kinds[k]; !ok {
			t.Errorf("kind %s not in the capability matrix", k)
		}
	}
	if os.Geteuid() == 0 {
		if nft, _ := caps.Get(CapNFTables); !nft.OK {
			t.Errorf("root but nftables unusable: %+v", nft)
		}
		if caps.Kinds["drop"] != "" {
			t.Errorf("drop refused as root: %s", caps.Kinds["drop"])
		}
	}
	// Netem is probed for real; on kernels without sch_netem it says so.
	if netem, _ := caps.Get(CapNetem); !netem.OK && !strings.Contains(netem.Detail, "netem") {
		t.Errorf("netem absent without saying why: %+v", netem)
	}
}

// TestMissingCapabilityRefuses checks that a kind whose capability is
// missing is refused with the capability named (INCONCLUSIVE-env).
func TestMissingCapabilityRefuses(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	n.capsOnce.Do(func() {
		n.caps = Capabilities{List: []Capability{{Name: CapRoot, OK: false, Detail: "euid 1000", Hint: "run as root"}, {Name: CapNFTables, OK: false, Detail: "permission denied"}}}
	})
	if _, err := n.Register(ctx, TargetSpec{Name: "peer", Node: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	_, err := n.Prepare(ctx, Spec{Kind: "drop", Targets: []string{"peer"}})
	var re *RefusalError
	if !errors.As(err, &re) || re.Capability != CapRoot || re.Hint == "" {
		t.Fatalf("err = %#v, want a refusal naming capability root with a hint", err)
	}
}

func TestLocalExecutor(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		exec     LocalExecutor
		argv     []string
		stdout   string
		exit     int
		errMatch string
	}{
		{"ok", LocalExecutor{}, []string{"echo", "a b"}, "a b\n", 0, ""},
		{"no shell", LocalExecutor{}, []string{"echo", "$HOME;", "|", "x"}, "$HOME; | x\n", 0, ""},
		{"exit code", LocalExecutor{}, []string{"sh", "-c", "exit 3"}, "", 3, ""},
		{"output cap", LocalExecutor{OutputCap: 4}, []string{"echo", "abcdefgh"}, "abcd", 0, ""},
		{"timeout", LocalExecutor{Timeout: 100 * time.Millisecond}, []string{"sleep", "5"}, "", -1, "deadline"},
		{"missing program", LocalExecutor{}, []string{"falsify-no-such-program"}, "", -1, "not found"},
		{"empty argv", LocalExecutor{}, nil, "", -1, "empty"},
	} {
		out, _, exit, err := tc.exec.Run(ctx, tc.argv)
		if string(out) != tc.stdout || exit != tc.exit || (tc.errMatch == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.errMatch) {
			t.Errorf("%s: Run(%q) = %q, %d, %v; want %q, %d, %q", tc.name, tc.argv, out, exit, err, tc.stdout, tc.exit, tc.errMatch)
		}
	}
}

// TestScheduleComposes runs a composition: partition the proxy in front of
// a node, then kill the node's process, each its own fault, journaled
// before it is applied.
func TestScheduleComposes(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	argv, env, addrFile := helperCommand(t, "echo")
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a fixed port, kept across the restart
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env = append(env, "FALSIFY_HELPER_LISTEN="+addr)
	if _, err := n.Register(ctx, TargetSpec{Name: "leader", Command: argv, Env: env}); err != nil {
		t.Fatal(err)
	}
	if got := waitAddr(t, addrFile); got != addr {
		t.Fatalf("helper listens on %s, want %s", got, addr)
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "leader-net", Address: addr}); err != nil {
		t.Fatal(err)
	}
	var journaled []string
	start := time.Now()
	faults, err := n.Schedule(ctx, []Step{
		{At: 0, Spec: Spec{Kind: "partition", Targets: []string{"leader-net"}, Params: map[string]any{"probe_timeout": "300ms"}}},
		{At: 500 * time.Millisecond, Spec: Spec{Kind: "kill", Targets: []string{"leader"}}},
	}, func(r *Record) error { journaled = append(journaled, r.ID+":"+r.Kind); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(faults) != 2 || faults[0].ID == faults[1].ID {
		t.Fatalf("faults = %+v, want two distinct", faults)
	}
	for _, f := range faults {
		if !f.Landing.Landed {
			t.Errorf("%s did not land: %s", f.Kind, f.Landing.Reason)
		}
	}
	if faults[1].Start.Sub(start) < 500*time.Millisecond {
		t.Errorf("kill applied %s after the start, want ≥ 500ms", faults[1].Start.Sub(start))
	}
	if strings.Join(journaled, ",") != "f1:partition,f2:kill" {
		t.Errorf("journaled %v", journaled)
	}
	if errs := n.HealAll(ctx); len(errs) != 0 {
		t.Errorf("heal all: %v", errs)
	}
	for _, f := range n.Faults() {
		if f.Heal == nil || !f.Heal.Healed {
			t.Errorf("fault %s not healed: %+v", f.ID, f.Heal)
		}
	}
	if _, err := n.Schedule(ctx, []Step{{At: time.Second}, {At: 0}}, nil); err == nil {
		t.Error("out-of-order steps accepted")
	}
}
