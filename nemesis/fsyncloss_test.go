package nemesis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// With FALSIFY_FSYNC_WRITER set to a file, the test binary is a writer
// that loops: append "pid P line N" to the file, fsync it, print
// "acked P N". It acknowledges only after fsync returned, as a database
// acknowledges a commit. Its goroutine stays on one thread so that
// strace's per-thread counting of sync calls is the program's.
func init() {
	path := os.Getenv("FALSIFY_FSYNC_WRITER")
	if path == "" {
		return
	}
	runtime.LockOSThread()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsync writer:", err)
		os.Exit(2)
	}
	pid := os.Getpid()
	for i := 1; ; i++ {
		if _, err := fmt.Fprintf(f, "pid %d line %d\n", pid, i); err != nil {
			fmt.Fprintln(os.Stderr, "fsync writer: write:", err)
			os.Exit(1)
		}
		if err := f.Sync(); err != nil {
			fmt.Fprintln(os.Stderr, "fsync writer: fsync:", err)
			os.Exit(1)
		}
		fmt.Printf("acked %d %d\n", pid, i)
		time.Sleep(20 * time.Millisecond)
	}
}

func requireStrace(t *testing.T) {
	t.Helper()
	if c := probeStrace(context.Background(), os.Getenv("PATH")); !c.OK {
		t.Skipf("strace unusable here (%s): %s", c.Detail, c.Hint)
	}
}

// registerWriter registers the fsync writer as an owned command and
// returns the file it writes.
func registerWriter(t *testing.T, n *Nemesis) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data.log")
	if _, err := n.Register(context.Background(), TargetSpec{Name: "writer", Command: []string{os.Args[0], "-test.run=^$"},
		Env: []string{"FALSIFY_FSYNC_WRITER=" + data}}); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFsyncLossLandsAndHeals(t *testing.T) {
	requireStrace(t)
	ctx := context.Background()
	n := newNemesis(t)
	data := registerWriter(t, n)
	f, err := n.Inject(ctx, Spec{Kind: "fsync-loss", Targets: []string{"writer"}, Params: map[string]any{"when": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed {
		t.Fatalf("fsync-loss did not land: %s\n%+v", f.Landing.Reason, f.Landing.Evidence)
	}
	ev := f.Landing.Evidence
	if ev[0].Raw["syscall"] != "fsync" || ev[0].Raw["ordinal"] != 3 {
		t.Errorf("strace evidence = %+v, want the kill at fsync call #3", ev[0])
	}
	if lines := fmt.Sprint(ev[0].Raw["lines"]); !strings.Contains(lines, "fsync(") || !strings.Contains(lines, "+++ killed by SIGKILL +++") {
		t.Errorf("strace lines = %s, want the fsync call and the SIGKILL", lines)
	}
	if ev[1].After != "signal: killed" {
		t.Errorf("wait status = %q, want signal: killed", ev[1].After)
	}
	pid := ev[0].Raw["pid"].(int)

	// The process acknowledged exactly two writes; the third reached the
	// file (the page cache) and was never acknowledged.
	tg, _ := n.Target("writer")
	logb, err := os.ReadFile(tg.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	acks := regexp.MustCompile(fmt.Sprintf(`(?m)^acked %d (\d+)$`, pid)).FindAllStringSubmatch(string(logb), -1)
	if len(acks) != 2 || acks[1][1] != "2" {
		t.Errorf("acks of traced pid %d = %v, want exactly 1 and 2\nlog:\n%s", pid, acks, logb)
	}
	datab, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"line 1", "line 2", "line 3"} {
		if !strings.Contains(string(datab), fmt.Sprintf("pid %d %s\n", pid, want)) {
			t.Errorf("data file lacks %q of pid %d:\n%s", want, pid, datab)
		}
	}
	if strings.Contains(string(datab), fmt.Sprintf("pid %d line 4\n", pid)) {
		t.Errorf("pid %d wrote line 4 after being killed at its third fsync", pid)
	}

	out, err := n.Heal(ctx, f)
	if err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
	now, _ := n.Target("writer")
	if now.PID == pid || tracerPID(now.PID) != 0 {
		t.Errorf("after heal: pid %d (traced pid was %d), TracerPid %d; want a new untraced process", now.PID, pid, tracerPID(now.PID))
	}
	if _, alive := procState(ProcRef{PID: now.PID, StartTime: now.StartTime}); !alive {
		t.Errorf("after heal: pid %d not running", now.PID)
	}
}

// TestFsyncLossArmedHeal heals a fault whose sync call never came: strace
// and its tracee are stopped and the command runs again untraced.
func TestFsyncLossArmedHeal(t *testing.T) {
	requireStrace(t)
	ctx := context.Background()
	n := newNemesis(t)
	registerWriter(t, n)
	f, err := n.Inject(ctx, Spec{Kind: "fsync-loss", Targets: []string{"writer"}, Params: map[string]any{"when": "60000", "wait": "300ms"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Landing.Landed || !strings.Contains(f.Landing.Reason, "stays armed") {
		t.Fatalf("landing = %+v, want not landed yet (call 60000 never came)", f.Landing)
	}
	out, err := n.Heal(ctx, f)
	if err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
}

func TestFsyncLossRefusals(t *testing.T) {
	requireStrace(t)
	ctx := context.Background()
	n := newNemesis(t)
	registerWriter(t, n)
	helper, _ := startHelper(t, "echo")
	if _, err := n.Register(ctx, TargetSpec{Name: "foreign", PID: helper.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		spec    Spec
		refusal bool
		want    string
	}{
		{"pid target", Spec{Kind: "fsync-loss", Targets: []string{"foreign"}}, true, "command"},
		{"bad when", Spec{Kind: "fsync-loss", Targets: []string{"writer"}, Params: map[string]any{"when": "third"}}, false, "params.when"},
		{"zero when", Spec{Kind: "fsync-loss", Targets: []string{"writer"}, Params: map[string]any{"when": "0"}}, false, "params.when"},
		{"not a sync call", Spec{Kind: "fsync-loss", Targets: []string{"writer"}, Params: map[string]any{"syscalls": "write"}}, false, "params.syscalls"},
	} {
		_, err := n.Prepare(ctx, tc.spec)
		var re *RefusalError
		if err == nil || errors.As(err, &re) != tc.refusal || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want refusal=%v mentioning %q", tc.name, err, tc.refusal, tc.want)
		}
	}
}

// TestFsyncLossWithoutStrace probes with a PATH lacking strace and checks
// the capability is missing with a hint and the fault refused naming it.
func TestFsyncLossWithoutStrace(t *testing.T) {
	ctx := context.Background()
	c := probeStrace(ctx, t.TempDir())
	if c.OK || c.Hint == "" || !strings.Contains(c.Detail, "not found") {
		t.Fatalf("probeStrace without strace on PATH = %+v, want missing with a hint", c)
	}
	n := newNemesis(t)
	n.capsOnce.Do(func() { n.caps = Capabilities{List: []Capability{c}} })
	registerWriter(t, n)
	_, err := n.Prepare(ctx, Spec{Kind: "fsync-loss", Targets: []string{"writer"}})
	var re *RefusalError
	if !errors.As(err, &re) || re.Capability != CapStrace || re.Hint == "" {
		t.Fatalf("err = %#v, want a refusal naming capability strace with a hint", err)
	}
}

func TestFsyncLossParseWhen(t *testing.T) {
	for _, tc := range []struct {
		in    string
		first int
		ok    bool
	}{
		{"1", 1, true}, {"3", 3, true}, {"2+", 2, true}, {"2+3", 2, true}, {"2..5", 2, true}, {"2..5+2", 2, true},
		{"0", 0, false}, {"65536", 0, false}, {"5..2", 0, false}, {"x", 0, false}, {"", 0, false}, {"3+0", 0, false},
	} {
		first, err := parseWhen(tc.in)
		if (err == nil) != tc.ok || tc.ok && first != tc.first {
			t.Errorf("parseWhen(%q) = %d, %v; want %d ok=%v", tc.in, first, err, tc.first, tc.ok)
		}
	}
}

// TestFsyncLossStraceLog reads crafted strace -f logs: a single-threaded
// kill, a multi-threaded one (unfinished call, kill reported on the
// leader), and a clean exit that is not a kill.
func TestFsyncLossStraceLog(t *testing.T) {
	for _, tc := range []struct {
		name, log    string
		found        bool
		tid, ordinal int
		call         string
	}{
		{"single thread", "100 fsync(3) = 0\n100 fdatasync(3) = 0\n100 fsync(3) = 0\n100 fsync(3) = ?\n100 +++ killed by SIGKILL +++\n", true, 100, 3, "fsync"},
		{"other thread", "100 fsync(3) = 0\n101 fdatasync(4 <unfinished ...>\n100 fsync(3) = 0\n101 <... fdatasync resumed>) = ?\n100 +++ killed by SIGKILL +++\n", true, 101, 1, "fdatasync"},
		{"clean exit", "100 fsync(3) = 0\n100 +++ exited with 0 +++\n", false, 0, 0, ""},
		{"killed outside a sync", "100 fsync(3) = 0\n100 +++ killed by SIGKILL +++\n", false, 0, 0, ""},
	} {
		p := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(p, []byte(tc.log), 0o644); err != nil {
			t.Fatal(err)
		}
		k := readStraceKill(p)
		if k.found != tc.found || k.tid != tc.tid || k.ordinal != tc.ordinal || k.syscall != tc.call {
			t.Errorf("%s: readStraceKill = %+v, want found=%v tid %d %s #%d", tc.name, k, tc.found, tc.tid, tc.call, tc.ordinal)
		}
	}
}

// TestFsyncLossRollback makes strace fail after it started (its -o log
// path is a directory): the apply is rolled back by restarting the
// command without strace, and reported not landed.
func TestFsyncLossRollback(t *testing.T) {
	requireStrace(t)
	ctx := context.Background()
	n := newNemesis(t)
	registerWriter(t, n)
	rec, err := n.Prepare(ctx, Spec{Kind: "fsync-loss", Targets: []string{"writer"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(n.logDir, "writer-fsync-loss-"+rec.ID+".strace"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := n.Apply(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if f.Landing.Landed || f.HealedBy != "rollback" || f.Heal == nil || !f.Heal.Healed {
		t.Fatalf("fault = landing %+v, healed by %q, heal %+v; want not landed and rolled back", f.Landing, f.HealedBy, f.Heal)
	}
	if !strings.Contains(f.Landing.Reason, "strace exited") {
		t.Errorf("reason = %q, want strace's early exit", f.Landing.Reason)
	}
	now, _ := n.Target("writer")
	if _, alive := procState(ProcRef{PID: now.PID, StartTime: now.StartTime}); !alive || tracerPID(now.PID) != 0 {
		t.Errorf("after rollback: pid %d alive=%v TracerPid %d; want running untraced", now.PID, alive, tracerPID(now.PID))
	}
}

// TestFsyncLossTraceeDiesWithStrace SIGKILLs strace, as Pdeathsig does
// when falsify crashes, and checks that the traced program dies with it
// rather than running on untraced and unowned.
func TestFsyncLossTraceeDiesWithStrace(t *testing.T) {
	requireStrace(t)
	ctx := context.Background()
	n := newNemesis(t)
	registerWriter(t, n)
	f, err := n.Inject(ctx, Spec{Kind: "fsync-loss", Targets: []string{"writer"}, Params: map[string]any{"when": "60000", "wait": "100ms"}})
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	ff := n.faults[f.ID].a.state.(*fsyncFault)
	n.mu.Unlock()
	if ff.tracee == 0 || tracerPID(ff.tracee) != ff.stracePID {
		t.Fatalf("tracee %d: TracerPid %d, want strace pid %d", ff.tracee, tracerPID(ff.tracee), ff.stracePID)
	}
	if err := signalProc(ProcRef{PID: ff.stracePID, StartTime: ff.straceTime}, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, alive := procState(ProcRef{PID: ff.tracee})
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traced pid %d outlived strace: %s", ff.tracee, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, err := n.Heal(ctx, f)
	if err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
}
