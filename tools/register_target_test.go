package tools_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/nemesis"
	"github.com/falsify-dev/falsify/tools"
)

// echoServer serves a TCP echo on a free loopback port until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// procState reads the one-letter state of a process from /proc.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// TestBuiltinFaultsOverMCP drives register_target → inject_fault →
// heal_fault with real faults: a proxy partition in front of a TCP echo
// server, proven by the active probe, and a pause of an owned command,
// proven by /proc state T; both journaled.
func TestBuiltinFaultsOverMCP(t *testing.T) {
	f := newFlow(t)
	sessionID, run := f.startRun("11")

	var reg tools.RegisterTargetResult
	f.ok("register_target", map[string]any{"session": sessionID, "name": "primary", "address": echoServer(t)}, &reg)
	if reg.ID != "t1" || reg.ProxyListen == "" || reg.Target.Kind != nemesis.TargetAddress {
		t.Fatalf("register_target address: %+v", reg)
	}
	// The proxy forwards before any fault.
	c, err := net.Dial("tcp", reg.ProxyListen)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	c.Close()

	var fr tools.FaultResult
	f.ok("inject_fault", map[string]any{"run": run, "kind": "partition", "targets": []string{"primary"}, "duration_ms": 60000}, &fr)
	if fr.Epoch != "F1" || !fr.Landed || fr.Healed || fr.Fault.Nemesis == nil || fr.Fault.Nemesis.Landing == nil {
		t.Fatalf("inject partition: %+v", fr)
	}
	probed := false
	for _, ev := range fr.Fault.Nemesis.Landing.Evidence {
		if strings.HasPrefix(ev.Probe, "active probe") && ev.Side == nemesis.SideVictim && ev.Measured && ev.Raw["before"] != nil && strings.Contains(ev.After, "timeout") {
			probed = true
		}
	}
	if !probed {
		t.Errorf("no raw active-probe evidence: %+v", fr.Fault.Nemesis.Landing.Evidence)
	}
	f.ok("heal_fault", map[string]any{"run": run, "epoch": fr.Epoch}, &fr)
	if !fr.Healed || fr.Fault.State != "healed" || fr.Fault.Nemesis.Heal == nil || !fr.Fault.Nemesis.Heal.Healed {
		t.Fatalf("heal partition: %+v", fr)
	}

	f.ok("register_target", map[string]any{"session": sessionID, "name": "sleeper", "command": []string{"sleep", "30"}}, &reg)
	if reg.ID != "t2" || reg.Target.PID == 0 {
		t.Fatalf("register_target command: %+v", reg)
	}
	f.ok("inject_fault", map[string]any{"run": run, "kind": "pause", "targets": []string{"t2"}, "duration_ms": 60000}, &fr)
	if fr.Epoch != "F2" || !fr.Landed || procState(reg.Target.PID) != "T" {
		t.Fatalf("inject pause: landed %t, state %s: %+v", fr.Landed, procState(reg.Target.PID), fr.Fault.Evidence)
	}
	f.ok("heal_fault", map[string]any{"run": run, "epoch": "F2"}, &fr)
	if st := procState(reg.Target.PID); !fr.Healed || (st != "S" && st != "R") {
		t.Fatalf("heal pause: healed %t, state %s", fr.Healed, st)
	}

	// Bad input is an isError naming the problem.
	f.refused("register_target", map[string]any{"session": sessionID, "name": "ghost", "pid": 1 << 30}, "no such process")
	f.refused("register_target", map[string]any{"session": sessionID, "name": "two", "pid": os.Getpid(), "path": "/tmp"}, "path")
	f.refused("register_target", map[string]any{"session": sessionID, "name": "n9", "path": f.root, "ssh": map[string]any{"user": "root", "key_file": "/nonexistent"}}, "ssh")
	f.refused("register_target", map[string]any{"session": sessionID, "name": "n9", "node": "192.0.2.9", "ssh": map[string]any{"user": "root", "key_file": "/nonexistent/key", "insecure_ignore_host_key": true}}, "key file")
	f.refused("inject_fault", map[string]any{"run": run, "kind": "pause", "targets": []string{"pid-4242"}}, "not registered")
	f.refused("inject_fault", map[string]any{"run": run, "kind": "meteor", "targets": []string{"t1"}}, "kind")
	f.refused("inject_fault", map[string]any{"run": run, "kind": "pause", "targets": []string{"t2"}, "duration_ms": 600001}, "duration_ms")
	f.refused("inject_fault", map[string]any{"run": run, "kind": "latency", "targets": []string{"primary"}}, "latency")

	// Everything is journaled: the ledger entries with their records,
	// landing and heal outcomes, and the targets.
	journal, err := os.ReadFile(filepath.Join(f.root, "test-sessions", sessionID, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"target-registered"`, `"origin":"nemesis"`, `"healed_by":"heal"`, `"kind":"partition"`, `"kind":"pause"`} {
		if !strings.Contains(string(journal), want) {
			t.Errorf("journal lacks %s", want)
		}
	}
	applying := strings.Count(string(journal), `"type":"fault-applying"`)
	if applying != 2 {
		t.Errorf("journal has %d fault-applying facts, want 2 (one per applied fault, none for refusals)", applying)
	}
}

func TestProbeEnv(t *testing.T) {
	f := newFlow(t)
	var pe tools.ProbeEnvResult
	f.ok("probe_env", map[string]any{}, &pe)
	caps := map[string]bool{}
	for _, c := range pe.Capabilities {
		caps[c.Name] = c.OK
		if !c.OK && c.Hint == "" {
			t.Errorf("capability %s missing without a hint: %+v", c.Name, c)
		}
	}
	root := os.Geteuid() == 0
	if !caps[nemesis.CapProxy] || caps[nemesis.CapRoot] != root {
		t.Errorf("capabilities %v (euid %d)", caps, os.Geteuid())
	}
	kinds := map[string]tools.FaultKindInfo{}
	for _, k := range pe.Kinds {
		kinds[k.Name] = k
		if k.Available == (k.Refused != "") {
			t.Errorf("kind %s: available %t but refused %q", k.Name, k.Available, k.Refused)
		}
	}
	if len(kinds) != len(nemesis.KindNames()) {
		t.Errorf("%d kinds listed, nemesis has %d", len(kinds), len(nemesis.KindNames()))
	}
	for _, name := range []string{"partition", "pause", "kill"} {
		if !kinds[name].Available {
			t.Errorf("kind %s not available: %+v", name, kinds[name])
		}
	}
	if d := kinds["drop"]; d.Available != (root && caps[nemesis.CapNFTables]) {
		t.Errorf("drop available %t with root %t nftables %t", d.Available, root, caps[nemesis.CapNFTables])
	}
}

// TestInjectScheduleOverMCP: a composition (partition, then pause 300 ms
// later) becomes two epochs, each landed on its own, spaced as scheduled;
// a step on an unregistered target stops the schedule and says why.
func TestInjectScheduleOverMCP(t *testing.T) {
	f := newFlow(t)
	sessionID, run := f.startRun("12")
	var reg tools.RegisterTargetResult
	f.ok("register_target", map[string]any{"session": sessionID, "name": "primary", "address": echoServer(t)}, &reg)
	f.ok("register_target", map[string]any{"session": sessionID, "name": "sleeper", "command": []string{"sleep", "30"}}, &reg)
	pid := reg.Target.PID

	var res tools.InjectScheduleResult
	f.ok("inject_schedule", map[string]any{"run": run, "steps": []map[string]any{
		{"at_ms": 0, "kind": "partition", "targets": []string{"primary"}, "duration_ms": 60000},
		{"at_ms": 300, "kind": "pause", "targets": []string{"sleeper"}, "duration_ms": 60000},
	}}, &res)
	if len(res.Epochs) != 2 || res.Landed != 2 || res.Stopped != "" {
		t.Fatalf("inject_schedule: %+v", res)
	}
	a, b := res.Epochs[0].Fault, res.Epochs[1].Fault
	if a.ID != "F1" || b.ID != "F2" || a.Kind != "partition" || b.Kind != "pause" || procState(pid) != "T" {
		t.Fatalf("epochs %s %s, %s %s, state %s", a.ID, a.Kind, b.ID, b.Kind, procState(pid))
	}
	if gap := b.Start - a.Start; gap < 300e6 {
		t.Errorf("pause started %d ns after the partition, want ≥ 300 ms", gap)
	}
	for _, ep := range []string{"F1", "F2"} {
		var fr tools.FaultResult
		f.ok("heal_fault", map[string]any{"run": run, "epoch": ep}, &fr)
		if !fr.Healed {
			t.Errorf("heal %s: %+v", ep, fr)
		}
	}

	f.ok("inject_schedule", map[string]any{"run": run, "steps": []map[string]any{
		{"at_ms": 0, "kind": "pause", "targets": []string{"sleeper"}, "duration_ms": 60000},
		{"at_ms": 10, "kind": "pause", "targets": []string{"nobody"}},
	}}, &res)
	if len(res.Epochs) != 1 || !strings.Contains(res.Stopped, "steps[1]") || !strings.Contains(res.Stopped, "not registered") {
		t.Fatalf("stopped schedule: %+v", res)
	}
	f.refused("inject_schedule", map[string]any{"run": run, "steps": []map[string]any{
		{"at_ms": 500, "kind": "pause", "targets": []string{"sleeper"}},
		{"at_ms": 100, "kind": "pause", "targets": []string{"sleeper"}},
	}}, "steps[1].at_ms")
	f.refused("inject_schedule", map[string]any{"run": run, "steps": []map[string]any{{"kind": "meteor", "targets": []string{"sleeper"}}}}, "steps[0].kind")
}
