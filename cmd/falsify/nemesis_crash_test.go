package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/nemesis"
	"github.com/falsify-dev/falsify/session"
)

// faultResult is the part of inject_fault's and heal_fault's result the
// crash test reads.
type faultResult struct {
	Epoch  string        `json:"epoch"`
	Landed bool          `json:"landed"`
	Healed bool          `json:"healed"`
	Fault  session.Epoch `json:"fault"`
}

// stateOf reads the one-letter state of a process from /proc.
func stateOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// TestCrashHealsFaults is the nemesis crash test: a falsify server pauses
// a pid, partitions a proxied address and (as root) installs an nftables
// drop, is SIGKILLed with all three faults open, and the next falsify on
// the same workspace heals them at start — the pid runs again, the
// nftables table is gone — and journals each heal with its evidence.
func TestCrashHealsFaults(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testing-plans", "kvr-replication.md"), kvstorePlan(t), 0o644); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Signal(syscall.SIGCONT)
		sleeper.Process.Kill()
		sleeper.Wait()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()

	srv := startServer(t, root)
	c, err := dial(t, srv.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ss struct {
		Session session.SessionInfo `json:"session"`
	}
	if err := callJSON(ctx, c, "start_session", map[string]any{"plan": "kvr-replication"}, &ss); err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Run session.RunInfo `json:"run"`
	}
	if err := callJSON(ctx, c, "start_run", map[string]any{"session": ss.Session.ID, "scenario": "S1", "seed": "1", "tier": "smoke"}, &sr); err != nil {
		t.Fatal(err)
	}
	run := sr.Run.ID
	register := func(args map[string]any) (proxy string) {
		t.Helper()
		args["session"] = ss.Session.ID
		var out struct {
			ID          string `json:"id"`
			ProxyListen string `json:"proxy_listen"`
		}
		if err := callJSON(ctx, c, "register_target", args, &out); err != nil {
			t.Fatal(err)
		}
		return out.ProxyListen
	}
	inject := func(kind, target string) faultResult {
		t.Helper()
		var fr faultResult
		if err := callJSON(ctx, c, "inject_fault", map[string]any{"run": run, "kind": kind, "targets": []string{target}, "duration_ms": 300000}, &fr); err != nil {
			t.Fatal(err)
		}
		return fr
	}
	register(map[string]any{"name": "victim", "pid": sleeper.Process.Pid})
	if fr := inject("pause", "victim"); !fr.Landed || stateOf(sleeper.Process.Pid) != "T" {
		t.Fatalf("pause: landed %t, state %s: %s", fr.Landed, stateOf(sleeper.Process.Pid), fr.Fault.Evidence)
	}
	proxy := register(map[string]any{"name": "db", "address": ln.Addr().String()})
	if fr := inject("partition", "db"); !fr.Landed {
		t.Fatalf("partition: %s", fr.Fault.Evidence)
	}
	// The kernel part needs root and nftables; TEST-NET-1 (192.0.2.1) is
	// never a real peer, so the drop disturbs nothing on the host.
	table := ""
	caps := nemesis.Probe(ctx)
	nft, _ := caps.Get(nemesis.CapNFTables)
	isRoot, _ := caps.Get(nemesis.CapRoot)
	if nft.OK && isRoot.OK {
		register(map[string]any{"name": "far", "node": "192.0.2.1"})
		fr := inject("drop", "far")
		table = fr.Fault.Nemesis.Record.Table
		if tables, err := nemesis.OrphanTables(""); err != nil || !slices.Contains(tables, table) {
			t.Fatalf("nft table %q not installed: %v %v", table, tables, err)
		}
	} else {
		t.Log("not root or no nftables: the nftables part of the crash test is skipped")
	}
	c.Close()

	srv.kill()
	if st := stateOf(sleeper.Process.Pid); st != "T" {
		t.Fatalf("victim state %s right after the crash, want T (still paused)", st)
	}

	srv = startServer(t, root)
	if st := stateOf(sleeper.Process.Pid); st != "S" && st != "R" {
		t.Errorf("victim state %s after the restart, want S or R", st)
	}
	if table != "" {
		if tables, err := nemesis.OrphanTables(""); err != nil || slices.Contains(tables, table) {
			t.Errorf("nft table %s left after the restart: %v %v", table, tables, err)
		}
	}
	// The journal records each heal on restart with its evidence.
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(ss.Session.Dir), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := map[string]*session.Epoch{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var fact struct {
			Type string `json:"type"`
			Data struct {
				Epoch *session.Epoch `json:"epoch"`
			} `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fact); err != nil {
			t.Fatal(err)
		}
		if fact.Data.Epoch != nil && strings.HasPrefix(fact.Type, "fault-") {
			last[fact.Data.Epoch.ID] = fact.Data.Epoch
		}
	}
	want := 2
	if table != "" {
		want = 3
	}
	if len(last) != want {
		t.Fatalf("journal holds %d fault epochs, want %d", len(last), want)
	}
	for id, e := range last {
		if e.State != session.FaultHealed || e.Nemesis == nil || e.Nemesis.HealedBy != session.HealedOnRestart || e.Heal == nil || !e.Heal.Recovered || !strings.Contains(e.Heal.Evidence, "healed on restart") {
			t.Errorf("%s (%s): state %s, nemesis %+v, heal %+v", id, e.Kind, e.State, e.Nemesis, e.Heal)
		}
	}

	// The new server registered the pid again; a pid nobody registered is
	// refused.
	c, err = dial(t, srv.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if fr := inject("pause", "victim"); !fr.Landed || stateOf(sleeper.Process.Pid) != "T" {
		t.Fatalf("pause after restart: landed %t: %s", fr.Landed, fr.Fault.Evidence)
	} else {
		var hr faultResult
		if err := callJSON(ctx, c, "heal_fault", map[string]any{"run": run, "epoch": fr.Epoch}, &hr); err != nil || !hr.Healed {
			t.Fatalf("heal after restart: %+v %v", hr, err)
		}
	}
	// The address target's proxy is back on the same address, so the
	// SUT's clients need no change, and faults land through it again.
	if fr := inject("partition", "db"); !fr.Landed || fr.Fault.Nemesis.Record.Targets[0].ProxyListen != proxy {
		t.Fatalf("partition after restart: landed %t on %s (was %s): %s", fr.Landed, fr.Fault.Nemesis.Record.Targets[0].ProxyListen, proxy, fr.Fault.Evidence)
	} else {
		var hr faultResult
		if err := callJSON(ctx, c, "heal_fault", map[string]any{"run": run, "epoch": fr.Epoch}, &hr); err != nil || !hr.Healed {
			t.Fatalf("heal partition after restart: %+v %v", hr, err)
		}
	}
	err = callJSON(ctx, c, "inject_fault", map[string]any{"run": run, "kind": "pause", "targets": []string{fmt.Sprint(os.Getppid())}}, &faultResult{})
	if err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("pause of an unregistered pid: %v", err)
	}
	err = callJSON(ctx, c, "register_target", map[string]any{"session": ss.Session.ID, "name": "ghost", "pid": 1 << 30}, &struct{}{})
	if err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("register of a pid that does not exist: %v", err)
	}

	// A graceful stop (SIGTERM) heals every open fault and journals it.
	fr := inject("pause", "victim")
	if !fr.Landed {
		t.Fatalf("pause before SIGTERM: %s", fr.Fault.Evidence)
	}
	c.Close()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("falsify did not stop within 30s of SIGTERM")
	}
	if st := stateOf(sleeper.Process.Pid); st != "S" && st != "R" {
		t.Errorf("victim state %s after SIGTERM, want S or R", st)
	}
	journal, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(ss.Session.Dir), "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(journal)), "\n")
	var lastPause session.Epoch
	for _, line := range lines {
		var fact struct {
			Data struct {
				Epoch *session.Epoch `json:"epoch"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(line), &fact) == nil && fact.Data.Epoch != nil && fact.Data.Epoch.ID == fr.Epoch {
			lastPause = *fact.Data.Epoch
		}
	}
	if lastPause.State != session.FaultHealed || lastPause.Nemesis == nil || lastPause.Nemesis.HealedBy != "close" || !lastPause.Heal.Recovered {
		t.Errorf("%s after SIGTERM: state %s, nemesis %+v, heal %+v", fr.Epoch, lastPause.State, lastPause.Nemesis, lastPause.Heal)
	}
}
