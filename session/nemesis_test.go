package session

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/nemesis"
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

// procStateOf reads the one-letter state of a process from /proc.
func procStateOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// startSleep starts `sleep 60` owned by the test (not by falsify).
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// reopen closes m and returns a new manager on the same workspace, as a
// restarted server would have.
func reopen(t *testing.T, m *Manager) *Manager {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	m2 := NewManager(m.ws)
	t.Cleanup(func() { m2.Close() })
	return m2
}

func TestNemesisProxyPartitionJournaled(t *testing.T) {
	ctx := context.Background()
	m := planManager(t, nil)
	info, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	run, err := m.StartRun(ctx, info.ID, "S2", "7", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "primary", Address: echoServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if tgt.ID != "t1" || tgt.ProxyListen == "" {
		t.Fatalf("target: %+v", tgt)
	}
	tests := []struct {
		kind   string
		params map[string]any
		asym   bool
	}{
		{"partition", nil, false},
		{"partition-oneway", map[string]any{"direction": "upstream"}, true},
	}
	for i, tc := range tests {
		e, err := m.InjectFault(ctx, run.ID, nemesis.Spec{Kind: tc.kind, Targets: []string{"primary"}, Params: tc.params, Duration: time.Minute})
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		want := fmt.Sprintf("F%d", i+1)
		if e.ID != want || e.Origin != OriginNemesis || e.State != FaultActive || !e.Landed {
			t.Fatalf("%s: epoch %s origin %s state %s landed %t: %s", tc.kind, e.ID, e.Origin, e.State, e.Landed, e.Evidence)
		}
		victim := false
		for _, ev := range e.Nemesis.Landing.Evidence {
			if strings.HasPrefix(ev.Probe, "active probe") && ev.Measured && ev.Side == nemesis.SideVictim && strings.Contains(ev.After, "timeout") {
				victim = true
			}
		}
		if !victim {
			t.Errorf("%s: no active-probe timeout in the evidence: %+v", tc.kind, e.Nemesis.Landing.Evidence)
		}
		h, err := m.HealFault(ctx, run.ID, e.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.State != FaultHealed || h.Heal == nil || !h.Heal.Recovered || h.End == nil || *h.End < h.Start {
			t.Fatalf("%s: heal: state %s heal %+v", tc.kind, h.State, h.Heal)
		}
		if _, err := m.HealFault(ctx, run.ID, e.ID, nil); err == nil || !strings.Contains(err.Error(), "already healed") {
			t.Errorf("%s: second heal: %v", tc.kind, err)
		}
	}

	// Everything is in the journal: a new manager sees the same ledger,
	// and the verdict facts carry the measured evidence.
	m2 := reopen(t, m)
	ledger, err := m2.Ledger(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 2 {
		t.Fatalf("ledger after reopen: %d entries", len(ledger))
	}
	facts, err := m2.Facts(info.ID, "S2")
	if err != nil {
		t.Fatal(err)
	}
	ffs := facts.Runs[0].Faults
	for i, ff := range ffs {
		if !ff.Landed || !ff.Healed || ff.External || ff.Evidence == "" || ff.VictimEvidence == "" || ff.Asymmetric != tests[i].asym {
			t.Errorf("fault facts %d: %+v", i, ff)
		}
	}
	if sig := facts.Runs[0].FaultSchedule; sig != "partition[primary];partition-oneway[primary]" {
		t.Errorf("fault schedule %q", sig)
	}
	// The address target is registered again on the same proxy address.
	tr, err := m2.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "primary", Address: "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("duplicate name after reopen: %+v, %v", tr, err)
	}
	e, err := m2.InjectFault(ctx, run.ID, nemesis.Spec{Kind: "partition", Targets: []string{"t1"}, Duration: time.Minute})
	if err != nil || !e.Landed || e.ID != "F3" {
		t.Fatalf("partition after reopen: %+v, %v", e, err)
	}
	if e.Nemesis.Record.Targets[0].ProxyListen != tgt.ProxyListen {
		t.Errorf("proxy moved from %s to %s", tgt.ProxyListen, e.Nemesis.Record.Targets[0].ProxyListen)
	}
	// Close heals it and journals the heal.
	m3 := reopen(t, m2)
	ledger, err = m3.Ledger(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := ledger[2]; last.State != FaultHealed || last.Nemesis.HealedBy != "close" || !last.Heal.Recovered {
		t.Errorf("F3 after close: state %s by %s heal %+v", last.State, last.Nemesis.HealedBy, last.Heal)
	}
}

func TestNemesisPauseOwnedCommand(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	info := newTestSession(t, m)
	run := newTestRun(t, m, info.ID, "S1", "1", "register")
	tgt, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "sleeper", Command: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	if tgt.PID == 0 || !strings.HasPrefix(tgt.LogPath, m.ws.Root()) {
		t.Fatalf("target: %+v", tgt)
	}
	e, err := m.InjectFault(ctx, run.ID, nemesis.Spec{Kind: "pause", Targets: []string{"sleeper"}, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Landed || procStateOf(t, tgt.PID) != "T" {
		t.Fatalf("pause: landed %t, state %s: %s", e.Landed, procStateOf(t, tgt.PID), e.Evidence)
	}
	if !strings.Contains(e.Evidence, "T (stopped)") {
		t.Errorf("evidence does not show state T: %s", e.Evidence)
	}
	// The TTL watchdog heals it; the heal is journaled.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := m.Ledger(run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l[0].State == FaultHealed {
			if l[0].Nemesis.HealedBy != "ttl" || !l[0].Heal.Recovered {
				t.Errorf("auto-heal: by %s heal %+v", l[0].Nemesis.HealedBy, l[0].Heal)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the TTL heal was never journaled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := procStateOf(t, tgt.PID); st != "S" && st != "R" {
		t.Errorf("after the TTL heal the command is %s", st)
	}
	// After a restart the owned command is gone and recorded as lost.
	m2 := reopen(t, m)
	_, err = m2.InjectFault(ctx, run.ID, nemesis.Spec{Kind: "pause", Targets: []string{"sleeper"}})
	var re *nemesis.RefusalError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "stopped with the falsify process") {
		t.Fatalf("pause on a lost command: %v", err)
	}
	targets, err := m2.Targets(info.ID)
	if err != nil || len(targets) != 1 || targets[0].Lost == "" {
		t.Fatalf("targets after restart: %+v, %v", targets, err)
	}
}

func TestNemesisBadInput(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	info := newTestSession(t, m)
	run := newTestRun(t, m, info.ID, "S1", "1", "register")
	sleeper := startSleep(t)
	if _, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "n1", PID: sleeper.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "far", Node: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		spec    nemesis.Spec
		refusal bool
		want    string
	}{
		{"unknown kind", nemesis.Spec{Kind: "meteor", Targets: []string{"n1"}}, false, "unknown"},
		{"unregistered target", nemesis.Spec{Kind: "pause", Targets: []string{"n9"}}, true, "not registered"},
		{"over the cap", nemesis.Spec{Kind: "pause", Targets: []string{"n1"}, Duration: 11 * time.Minute}, false, "duration"},
		{"wrong target kind", nemesis.Spec{Kind: "latency", Targets: []string{"n1"}}, true, "address"},
		{"missing parameter", nemesis.Spec{Kind: "drop-oneway", Targets: []string{"far"}}, false, "direction"},
	}
	for _, tc := range tests {
		_, err := m.InjectFault(ctx, run.ID, tc.spec)
		var re *nemesis.RefusalError
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &re) != tc.refusal {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// An unregistered pid is refused at registration too.
	if _, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "ghost", PID: 1 << 30}); err == nil {
		t.Error("registered a pid that does not exist")
	}
	// A target that exited is refused with the reason.
	sleeper.Process.Kill()
	sleeper.Wait()
	if _, err := m.InjectFault(ctx, run.ID, nemesis.Spec{Kind: "pause", Targets: []string{"n1"}}); err == nil {
		t.Error("paused an exited pid")
	}
	// Refusals and bad input open no ledger entry.
	l, err := m.Ledger(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l {
		if e.Landed {
			t.Errorf("ledger entry landed: %+v", e)
		}
	}
}

// TestNemesisEnvMissing: a kind refused for a missing capability makes the
// scenario INCONCLUSIVE-env with the refusal's reason, until a fault of
// that kind lands in a run of it. This host has every capability the kinds
// need, so the refusal is journaled as Prepare would have produced it.
func TestNemesisEnvMissing(t *testing.T) {
	ctx := context.Background()
	m := planManager(t, stableEnv) // §6b this host always meets
	info, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	run, err := m.StartRun(ctx, info.ID, "S2", "7", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	s, r, err := m.lookupRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.nemState(s)
	if err != nil {
		t.Fatal(err)
	}
	re := &nemesis.RefusalError{Kind: "clock-skew", Capability: nemesis.CapFaketime, Reason: "libfaketime.so.1 not found", Hint: "apt-get install -y faketime"}
	if err := m.recordRefusal(st, r, re); err != nil {
		t.Fatal(err)
	}
	for _, mm := range []*Manager{m, reopen(t, m)} {
		f, err := mm.Facts(info.ID, "S2")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.EnvMissing) != 1 || !strings.Contains(f.EnvMissing[0], "faketime") || !strings.Contains(f.EnvMissing[0], "clock-skew") {
			t.Fatalf("EnvMissing %q", f.EnvMissing)
		}
		if d := Decide(f); d.Verdict != InconclusiveEnv {
			t.Errorf("verdict %s, want %s", d.Verdict, InconclusiveEnv)
		}
		// Another scenario is not affected.
		if f, err := mm.Facts(info.ID, "S1"); err != nil || len(f.EnvMissing) != 0 {
			t.Errorf("S1 EnvMissing %q, %v", f.EnvMissing, err)
		}
	}
}

// Crash test: a child process (this test binary) registers a pid and a
// proxied address, pauses the pid and partitions the address, then is
// SIGKILLed. HealOrphans in a new manager resumes the pid, checks that the
// proxy died, and journals both heals.
const (
	crashNemRootEnv = "FALSIFY_NEMESIS_CRASH_ROOT"
	crashNemRunEnv  = "FALSIFY_NEMESIS_CRASH_RUN"
	crashNemPIDEnv  = "FALSIFY_NEMESIS_CRASH_PID"
	crashNemAddrEnv = "FALSIFY_NEMESIS_CRASH_ADDR"
)

func TestNemesisCrashChild(t *testing.T) {
	root := os.Getenv(crashNemRootEnv)
	if root == "" {
		t.Skip("child process of TestNemesisHealOnRestart")
	}
	ctx := context.Background()
	w, err := OpenWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(w)
	runID := os.Getenv(crashNemRunEnv)
	sessionID := runID[:strings.LastIndexByte(runID, '/')]
	pid, _ := strconv.Atoi(os.Getenv(crashNemPIDEnv))
	if _, err := m.RegisterTarget(ctx, sessionID, nemesis.TargetSpec{Name: "victim", PID: pid}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RegisterTarget(ctx, sessionID, nemesis.TargetSpec{Name: "db", Address: os.Getenv(crashNemAddrEnv)}); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []nemesis.Spec{{Kind: "pause", Targets: []string{"victim"}}, {Kind: "partition", Targets: []string{"db"}}} {
		e, err := m.InjectFault(ctx, runID, spec)
		if err != nil || !e.Landed {
			t.Fatalf("%s: %+v %v", spec.Kind, e, err)
		}
	}
	fmt.Println("injected")
	time.Sleep(time.Minute)
}

func TestNemesisHealOnRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	m := newTestManager(t)
	info := newTestSession(t, m)
	run := newTestRun(t, m, info.ID, "S1", "1", "register")
	m.Close()
	sleeper := startSleep(t)
	addr := echoServer(t)

	child := exec.Command(os.Args[0], "-test.run=^TestNemesisCrashChild$", "-test.v")
	child.Env = append(os.Environ(), crashNemRootEnv+"="+m.ws.Root(), crashNemRunEnv+"="+run.ID,
		crashNemPIDEnv+"="+strconv.Itoa(sleeper.Process.Pid), crashNemAddrEnv+"="+addr)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = child.Stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	sc := bufio.NewScanner(out)
	var log strings.Builder
	injected := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if sc.Text() == "injected" {
			injected = true
			break
		}
	}
	if !injected {
		child.Wait()
		t.Fatalf("child never injected:\n%s", log.String())
	}
	if st := procStateOf(t, sleeper.Process.Pid); st != "T" {
		t.Fatalf("victim state %s after pause", st)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	time.Sleep(50 * time.Millisecond)
	if st := procStateOf(t, sleeper.Process.Pid); st != "T" {
		t.Fatalf("victim state %s after the crash, want still T", st)
	}

	m2 := NewManager(m.ws)
	defer m2.Close()
	lines, err := m2.HealOrphans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Fatalf("healed %q", lines)
	}
	if st := procStateOf(t, sleeper.Process.Pid); st != "S" && st != "R" {
		t.Errorf("victim state %s after heal on restart", st)
	}
	l, err := m2.Ledger(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l {
		if e.State != FaultHealed || e.Nemesis.HealedBy != HealedOnRestart || !e.Heal.Recovered || !strings.Contains(e.Heal.Evidence, "healed on restart") {
			t.Errorf("%s %s: state %s by %s heal %+v", e.ID, e.Kind, e.State, e.Nemesis.HealedBy, e.Heal)
		}
	}
	// Healing is not repeated on the next start.
	if lines, err := NewManager(m.ws).HealOrphans(ctx); err != nil || len(lines) != 0 {
		t.Errorf("second HealOrphans: %q, %v", lines, err)
	}
	// The pid target is registered again (same start time); the address
	// target gets its proxy back on the same address.
	e, err := m2.InjectFault(ctx, run.ID, nemesis.Spec{Kind: "pause", Targets: []string{"victim"}, Duration: time.Minute})
	if err != nil || !e.Landed {
		t.Fatalf("pause after restart: %+v %v", e, err)
	}
	if h, err := m2.HealFault(ctx, run.ID, e.ID, nil); err != nil || !h.Heal.Recovered {
		t.Fatalf("heal after restart: %+v %v", h, err)
	}
	targets, err := m2.Targets(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 2 || targets[0].Lost != "" || targets[1].Lost != "" {
		t.Errorf("targets after restart: %+v", targets)
	}
}

// BenchmarkInjectPause measures landing latency through the session: from
// InjectFault (journal the record, SIGSTOP, read /proc state T) to the
// journaled landing, then the heal.
func BenchmarkInjectPause(b *testing.B) {
	ctx := context.Background()
	w, err := OpenWorkspace(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	m := NewManager(w)
	defer m.Close()
	info, err := m.createSession("kv", "testing-plans/kv.md", "kvd", []byte("# Test Plan: kv\n"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := m.session(info.ID)
	if err != nil {
		b.Fatal(err)
	}
	run, err := m.createRun(s, factRun{Scenario: "S1", Seed: "1", Tier: "smoke"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "sleeper", Command: []string{"sleep", "300"}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		e, err := m.InjectFault(ctx, run.ID, nemesis.Spec{Kind: "pause", Targets: []string{"sleeper"}, Duration: time.Minute})
		if err != nil || !e.Landed {
			b.Fatalf("%+v %v", e, err)
		}
		if _, err := m.HealFault(ctx, run.ID, e.ID, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNemesisSSHNodeJournaled: a node reached over ssh is journaled with
// its ssh config (the key file's path, never the key) and registered again
// with a working executor after a restart.
func TestNemesisSSHNodeJournaled(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	info := newTestSession(t, m)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &nemesis.SSHConfig{Addr: "127.0.0.1:1", User: "root", KeyFile: keyFile, InsecureIgnoreHostKey: true}
	tgt, err := m.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "n2", Node: "192.0.2.7", SSH: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if tgt.Remote == "" || tgt.Remote == "local" {
		t.Fatalf("node target without its ssh executor: %+v", tgt)
	}
	m2 := reopen(t, m)
	// Any use starts the session's Nemesis, which registers n2 again.
	if _, err := m2.RegisterTarget(ctx, info.ID, nemesis.TargetSpec{Name: "data", Path: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	targets, err := m2.Targets(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 2 || targets[0].Lost != "" || targets[0].Target.Remote != tgt.Remote || targets[0].Spec.SSH == nil || targets[0].Spec.SSH.KeyFile != keyFile {
		t.Fatalf("targets after restart: %+v", targets)
	}
	journal, err := os.ReadFile(filepath.Join(m.ws.Root(), "test-sessions", info.ID, journalName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(journal), "PRIVATE KEY") || !strings.Contains(string(journal), keyFile) {
		t.Error("the journal must hold the key file's path and never the key")
	}
}

func TestHistorySignal(t *testing.T) {
	end := int64(2000)
	e := &Epoch{ID: "F1", Start: 1000, End: &end}
	timeout := func(id string, invoke int64) history.Op {
		op := writeOp(id, invoke, invoke+5, 1)
		op.TimeoutMarker = boolp(true)
		return op
	}
	tagged := func(op history.Op, epoch string) history.Op { op.FaultEpoch = str(epoch); return op }
	tests := []struct {
		name string
		ops  []history.Op
		want string // substring; "" = no signal
	}{
		{"timeouts rise in the window", []history.Op{writeOp("a", 100, 105, 1), writeOp("b", 1100, 1105, 1), timeout("c", 1200), timeout("d", 1300), writeOp("e", 2500, 2505, 1)},
			"2 of 3 client ops in F1 timed out (unknown outcome), against 0 of 2 outside"},
		{"fault_epoch wins over the clock", []history.Op{tagged(timeout("a", 5000), "F1"), writeOp("b", 100, 105, 1)}, "1 of 1 client ops in F1"},
		{"as many timeouts outside", []history.Op{timeout("a", 100), writeOp("b", 200, 205, 1), timeout("c", 1100), writeOp("d", 1200, 1205, 1)}, ""},
		{"no timeout in the window", []history.Op{writeOp("a", 1100, 1105, 1), timeout("b", 100)}, ""},
		{"no op in the window", []history.Op{timeout("a", 100)}, ""},
		{"tagged with another epoch", []history.Op{tagged(timeout("a", 1500), "F2"), writeOp("b", 100, 105, 1)}, ""},
	}
	for _, tc := range tests {
		got := historySignal(e, tc.ops)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestInjectScheduleBadInput(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	info := newTestSession(t, m)
	run := newTestRun(t, m, info.ID, "S1", "1", "register")
	pause := func(at time.Duration) nemesis.Step {
		return nemesis.Step{At: at, Spec: nemesis.Spec{Kind: "pause", Targets: []string{"x"}}}
	}
	tests := []struct {
		name  string
		steps []nemesis.Step
		want  string
	}{
		{"empty", nil, "at least one step"},
		{"out of order", []nemesis.Step{pause(time.Second), pause(0)}, "steps[1].at"},
		{"beyond the span", []nemesis.Step{pause(MaxScheduleSpan + time.Second)}, "steps[0].at"},
		{"unknown kind", []nemesis.Step{{Spec: nemesis.Spec{Kind: "meteor"}}}, "steps[0]: kind"},
		{"unregistered target", []nemesis.Step{pause(0)}, "not registered"},
	}
	for _, tc := range tests {
		eps, err := m.InjectSchedule(ctx, run.ID, tc.steps)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(eps) != 0 {
			t.Errorf("%s: %d epochs, %v", tc.name, len(eps), err)
		}
	}
}
