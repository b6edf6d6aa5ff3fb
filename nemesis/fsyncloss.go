package nemesis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// syncSyscalls are the durability points fsync-loss traces and may kill at.
var syncSyscalls = []string{"fsync", "fdatasync", "sync_file_range", "msync", "syncfs", "sync"}

func init() {
	register(&Kind{
		Name: "fsync-loss", Family: "storage", Needs: []string{CapStrace}, Targets: []string{TargetCommand},
		Doc: "kill between write and fsync: restart an owned command under strace, which SIGKILLs it at the entry of its params.when-th sync call (its writes since the last sync reached the page cache, never made durable or acknowledged); evidence: the strace log shows that sync call never returning and the process killed by SIGKILL, the owned command's wait status is signal: killed and the traced pid is gone; heal restarts it without strace. Works on static and Go binaries (ptrace, not LD_PRELOAD)",
		Params: map[string]string{
			"syscalls": "the sync calls to kill at, comma-separated or a list (default \"fsync,fdatasync\"; also sync_file_range, msync, syncfs, sync)",
			"when":     "strace's when= expression: which call kills (default \"1\": the first after the restart; \"3\", \"2+\"); counted per syscall and per thread, as strace counts",
			"wait":     "how long the landing probe waits for that call (default 10s)",
		},
		Check:     checkFsyncLoss,
		Baseline:  baselineFsyncLoss,
		Apply:     applyFsyncLoss,
		Probe:     probeFsyncLoss,
		Heal:      healFsyncLoss,
		HealProbe: healProbeFsyncLoss,
		Orphan:    orphanNothing("strace dies with its owner (Pdeathsig) and the traced program with strace (--kill-on-exit or setpriv --pdeathsig); nothing persistent was created, the strace log is evidence, not state"),
	})
}

// fsyncFault is the state of one fsync-loss fault.
type fsyncFault struct {
	strace   string   // strace binary
	exitKill []string // strace's --kill-on-exit, or nil
	wrap     []string // setpriv --pdeathsig KILL --, when strace lacks --kill-on-exit
	syscalls []string
	when     string
	first    int // the ordinal of the killing call
	wait     time.Duration
	logPath  string // strace -o

	stracePID  int
	straceTime uint64
	tracee     int   // the traced program's pid
	logOff     int64 // the target log's size before the restart
}

var whenRE = regexp.MustCompile(`^([0-9]+)(?:\.\.([0-9]+))?(?:\+([0-9]*))?$`)

// parseWhen validates strace's when= expression first[..last][+[step]]
// and returns first.
func parseWhen(s string) (int, error) {
	m := whenRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("params.when: %q is not strace's first[..last][+[step]] (e.g. \"1\", \"3\", \"2+\")", s)
	}
	first, err := strconv.Atoi(m[1])
	if err != nil || first < 1 || first > 65535 {
		return 0, fmt.Errorf("params.when: first %q is outside 1..65535", m[1])
	}
	if m[2] != "" {
		last, err := strconv.Atoi(m[2])
		if err != nil || last < first || last > 65534 {
			return 0, fmt.Errorf("params.when: last %q is outside %d..65534", m[2], first)
		}
	}
	if m[3] != "" {
		step, err := strconv.Atoi(m[3])
		if err != nil || step < 1 || step > 65535 {
			return 0, fmt.Errorf("params.when: step %q is outside 1..65535", m[3])
		}
	}
	return first, nil
}

// syscallList reads params.syscalls: a comma-separated string or a list.
func syscallList(p params) ([]string, error) {
	var names []string
	switch v := p["syscalls"].(type) {
	case nil:
		return []string{"fsync", "fdatasync"}, nil
	case string:
		names = strings.Split(v, ",")
	case []string:
		names = v
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("params.syscalls: want syscall names, got %v", x)
			}
			names = append(names, s)
		}
	default:
		return nil, fmt.Errorf("params.syscalls: want a comma-separated string or a list, got %v", v)
	}
	var out []string
	for _, s := range names {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(syncSyscalls, s) {
			return nil, fmt.Errorf("params.syscalls: %q is not a sync call (use %s)", s, strings.Join(syncSyscalls, ", "))
		}
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("params.syscalls: name at least one sync call")
	}
	return out, nil
}

// lookPathIn finds an executable named file in the directories of
// pathEnv (a PATH value).
func lookPathIn(file, pathEnv string) (string, error) {
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH %q", file, pathEnv)
}

// straceHelpHas reports whether strace's help lists option.
func straceHelpHas(ctx context.Context, strace, option string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, strace, "-h").CombinedOutput()
	return bytes.Contains(out, []byte(option))
}

func checkFsyncLoss(ctx context.Context, env *Env, a *Applied) error {
	if len(a.targets) != 1 {
		return errors.New("targets: fsync-loss takes one command target")
	}
	p := a.params()
	ff := &fsyncFault{}
	var err error
	if ff.syscalls, err = syscallList(p); err != nil {
		return err
	}
	if ff.when, err = p.str("when", "1"); err != nil {
		return err
	}
	ff.when = strings.TrimSpace(ff.when)
	if ff.first, err = parseWhen(ff.when); err != nil {
		return err
	}
	if ff.wait, err = p.duration("wait", 10*time.Second); err != nil {
		return err
	}
	if ff.wait <= 0 {
		return errors.New("params.wait: give a positive duration")
	}
	if ff.strace, err = lookPathIn("strace", os.Getenv("PATH")); err != nil {
		return &RefusalError{Kind: "fsync-loss", Capability: CapStrace, Reason: err.Error(), Hint: straceHint}
	}
	// The traced program must die with falsify as every owned command
	// does: strace's Pdeathsig ends strace, and a tracer's death only
	// detaches its tracees unless told to kill them.
	if straceHelpHas(ctx, ff.strace, "--kill-on-exit") {
		ff.exitKill = []string{"--kill-on-exit"}
	} else if setpriv, err := exec.LookPath("setpriv"); err == nil {
		ff.wrap = []string{setpriv, "--pdeathsig", "KILL", "--"}
	} else {
		return &RefusalError{Kind: "fsync-loss", Capability: CapStrace,
			Reason: "this strace lacks --kill-on-exit and setpriv(1) is absent: the traced program would outlive a crashed falsify",
			Hint:   "install util-linux (setpriv) or a strace with --kill-on-exit"}
	}
	t := a.targets[0].snapshot()
	ff.logPath = filepath.Join(env.n.logDir, fmt.Sprintf("%s-fsync-loss-%s.strace", nameRE.Replace(t.Name), a.Record.ID))
	a.state = ff
	return recordProcs(ctx, a)
}

// argv is the restart command line: the target's argv under strace.
func (ff *fsyncFault) argv(command []string) []string {
	trace := []string{"fsync", "fdatasync", "sync_file_range", "msync"}
	for _, s := range ff.syscalls {
		if !contains(trace, s) {
			trace = append(trace, s)
		}
	}
	// -q, not -qq: -qq may hide "+++ killed by SIGKILL +++", the evidence;
	// so does -e signal=none, which would also drop the signals logged.
	argv := []string{ff.strace, "-f", "-q"}
	argv = append(argv, ff.exitKill...)
	argv = append(argv, "-o", ff.logPath,
		"-e", "trace="+strings.Join(trace, ","),
		"-e", "inject="+strings.Join(ff.syscalls, ",")+":signal=KILL:when="+ff.when,
		"--")
	argv = append(argv, ff.wrap...)
	return append(argv, command...)
}

func baselineFsyncLoss(_ context.Context, _ *Env, a *Applied) error {
	p := a.targets[0].proc()
	st, _ := procState(p)
	a.note(Evidence{Probe: statProbe(p) + " (target " + a.targets[0].Name + ", before the restart under strace)", Before: st, Measured: true, Side: SideVictim,
		Raw: map[string]any{"pid": p.PID, "start_time": p.StartTime}})
	return nil
}

func applyFsyncLoss(ctx context.Context, _ *Env, a *Applied) error {
	ff := a.state.(*fsyncFault)
	t := a.targets[0]
	t.stopOwned(5 * time.Second)
	ff.logOff = logSize(t.LogPath)
	t.mu.Lock()
	orig := t.Command
	t.Command = ff.argv(orig)
	t.mu.Unlock()
	err := t.start()
	t.mu.Lock()
	t.Command = orig
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("starting the command under strace: %w", err)
	}
	p := t.proc()
	ff.stracePID, ff.straceTime = p.PID, p.StartTime
	return ff.awaitTracee(ctx, t)
}

// awaitTracee waits until strace's child runs traced by strace, or until
// strace exits: an early exit is a failed apply, unless the fault already
// fired.
func (ff *fsyncFault) awaitTracee(ctx context.Context, t *target) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if pid := tracedChild(ff.stracePID); pid != 0 {
			ff.tracee = pid
			return nil
		}
		if !t.running() {
			status, _ := t.exited(0)
			if k := readStraceKill(ff.logPath); k.found {
				return nil // the first sync came before we looked: the probe reads the log
			}
			return fmt.Errorf("strace exited (%s) before tracing the command: %s", status, logTail(t.LogPath, ff.logOff))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("strace (pid %d) did not start tracing the command within 5s: %s", ff.stracePID, logTail(t.LogPath, ff.logOff))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tracedChild returns the child of pid whose tracer is pid, or 0.
func tracedChild(pid int) int {
	procs, err := procfs.AllProcs()
	if err != nil {
		return 0
	}
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil || st.PPID != pid {
			continue
		}
		if tracerPID(p.PID) == pid {
			return p.PID
		}
	}
	return 0
}

// tracerPID reads TracerPid from /proc/PID/status; -1 when unreadable.
func tracerPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// logTail returns the end of the target log from offset off, for errors.
func logTail(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "log unreadable: " + err.Error()
	}
	if off < int64(len(b)) {
		b = b[off:]
	} else {
		b = nil
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// straceKill is what the strace log says about the injected kill.
type straceKill struct {
	found   bool   // a sync call never returned and its process was killed by SIGKILL
	pid     int    // the first pid strace reported killed after that call
	killed  []int  // every pid (thread) strace reported killed by SIGKILL
	tid     int    // the thread whose sync call never returned
	syscall string // that call
	ordinal int    // its number among that thread's calls of that syscall
	lines   []string
	calls   int // sync calls in the log
}

var (
	straceCallRE    = regexp.MustCompile(`^(\d+)\s+([a-z_0-9]+)\((.*)$`)
	straceResumedRE = regexp.MustCompile(`^(\d+)\s+<\.\.\. ([a-z_0-9]+) resumed>(.*)$`)
	straceKilledRE  = regexp.MustCompile(`^(\d+)\s+\+\+\+ killed by SIGKILL`)
)

// readStraceKill parses a strace -f log for the kill at a sync call: a
// thread's last sync call that never returned ("= ?", or unfinished and
// never resumed with a value) followed by "+++ killed by SIGKILL +++".
func readStraceKill(path string) straceKill {
	var k straceKill
	f, err := os.Open(path)
	if err != nil {
		return k
	}
	defer f.Close()
	type call struct {
		name     string
		ordinal  int
		returned bool
		line     string
		at       int
	}
	counts := map[[2]string]int{}
	last := map[string]*call{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		if m := straceCallRE.FindStringSubmatch(line); m != nil {
			key := [2]string{m[1], m[2]}
			counts[key]++
			k.calls++
			rest := strings.TrimSpace(m[3])
			last[m[1]] = &call{name: m[2], ordinal: counts[key], line: line, at: i,
				returned: !strings.HasSuffix(rest, "<unfinished ...>") && !strings.HasSuffix(rest, "= ?")}
			continue
		}
		if m := straceResumedRE.FindStringSubmatch(line); m != nil {
			if c := last[m[1]]; c != nil && c.name == m[2] {
				c.returned = !strings.HasSuffix(strings.TrimSpace(m[3]), "= ?")
				c.line += " … " + line
			}
			continue
		}
		if m := straceKilledRE.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[1])
			k.killed = append(k.killed, pid)
			if k.found {
				continue
			}
			var victim *call
			for _, c := range last {
				if !c.returned && (victim == nil || c.at > victim.at) {
					victim = c
				}
			}
			if victim == nil {
				continue
			}
			k.found = true
			k.pid = pid
			k.syscall, k.ordinal = victim.name, victim.ordinal
			for tid, c := range last {
				if c == victim {
					k.tid, _ = strconv.Atoi(tid)
				}
			}
			k.lines = []string{victim.line, line}
		}
	}
	return k
}

func probeFsyncLoss(ctx context.Context, _ *Env, a *Applied) Outcome {
	ff := a.state.(*fsyncFault)
	t := a.targets[0]
	var out Outcome
	status, exited := t.exited(ff.wait)
	k := readStraceKill(ff.logPath)
	armed := fmt.Sprintf("armed: inject=%s:signal=KILL:when=%s", strings.Join(ff.syscalls, ","), ff.when)
	ev := Evidence{Probe: "strace log " + ff.logPath, Before: armed, Measured: true, Side: SideInjector,
		Raw: map[string]any{"sync_calls": k.calls, "argv": ff.argv(t.snapshot().Command)}}
	switch {
	case k.found:
		pid := ff.tracee
		if pid == 0 {
			pid = k.pid
		}
		ev.After = fmt.Sprintf("thread %d: %s call #%d never returned; then +++ killed by SIGKILL +++ for %d threads (pid %d among them: %v)",
			k.tid, k.syscall, k.ordinal, len(k.killed), pid, slices.Contains(k.killed, pid))
		ev.Raw["lines"] = k.lines
		ev.Raw["tid"], ev.Raw["pid"], ev.Raw["syscall"], ev.Raw["ordinal"], ev.Raw["killed"] = k.tid, pid, k.syscall, k.ordinal, k.killed
	default:
		ev.After = fmt.Sprintf("no sync call killed (%d sync calls logged)", k.calls)
	}
	out.Evidence = append(out.Evidence, ev)
	// The program itself (its thread group leader) was killed, at the
	// call the injection named.
	atN := k.found && contains(ff.syscalls, k.syscall) && k.ordinal == ff.first && (ff.tracee == 0 || slices.Contains(k.killed, ff.tracee))
	ws := Evidence{Probe: fmt.Sprintf("wait status of the owned command (strace pid %d, which dies as its tracee did)", ff.stracePID),
		Before: fmt.Sprintf("running (traced pid %d)", ff.tracee), After: pick(exited, status, "still running after "+ff.wait.String()), Measured: true, Side: SideVictim}
	out.Evidence = append(out.Evidence, ws)
	killed := exited && status == "signal: killed"
	// The traced program is gone: its pid, or, when it died before
	// Apply saw it, every pid strace reported killed.
	pids := k.killed
	if ff.tracee != 0 {
		pids = []int{ff.tracee}
	}
	gone := len(pids) > 0
	for _, pid := range pids {
		st, alive := procState(ProcRef{PID: pid})
		gone = gone && !alive
		out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/%d (the traced program)", pid), Before: "running", After: st, Measured: true, Side: SideVictim})
	}
	out.Landed = atN && killed && gone
	switch {
	case out.Landed:
		out.Reason = fmt.Sprintf("the program was SIGKILLed at the entry of %s call #%d: writes since its last sync reached the page cache, were never made durable and never acknowledged", k.syscall, k.ordinal)
	case !exited:
		out.Reason = fmt.Sprintf("the program made no killing sync call within %s (%d sync calls logged); the fault stays armed until healed", ff.wait, k.calls)
	case !k.found:
		out.Reason = fmt.Sprintf("the owned command exited (%s) but the strace log shows no sync call killed", status)
	case !atN:
		out.Reason = fmt.Sprintf("the kill came at %s call #%d, not at call #%d of %s: something else killed it", k.syscall, k.ordinal, ff.first, strings.Join(ff.syscalls, ","))
	default:
		out.Reason = fmt.Sprintf("the owned command's wait status is %q, not signal: killed, or the traced pid still runs", status)
	}
	return out
}

func healFsyncLoss(_ context.Context, _ *Env, a *Applied) error {
	t := a.targets[0]
	// Armed but never fired: end strace and its tracee first.
	if p := t.proc(); t.running() && p.PID == a.state.(*fsyncFault).stracePID {
		t.stopOwned(5 * time.Second)
	} else if t.running() {
		return nil // restarted by someone else since: it already runs without strace
	}
	return t.start()
}

func healProbeFsyncLoss(_ context.Context, _ *Env, a *Applied) Outcome {
	ff := a.state.(*fsyncFault)
	t := a.targets[0]
	p := t.proc()
	st, alive := procState(p)
	tracer := tracerPID(p.PID)
	var out Outcome
	out.Evidence = append(out.Evidence, Evidence{Probe: statProbe(p) + " (target " + t.Name + " restarted)",
		Before: fmt.Sprintf("strace pid %d gone", ff.stracePID), After: fmt.Sprintf("pid %d start time %d: %s", p.PID, p.StartTime, st), Measured: true, Side: SideVictim,
		Raw: map[string]any{"strace_pid": ff.stracePID, "new_pid": p.PID, "start_time": p.StartTime}})
	out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/%d/status TracerPid", p.PID), Before: fmt.Sprint(ff.stracePID), After: fmt.Sprint(tracer), Measured: tracer >= 0, Side: SideVictim})
	out.Healed = alive && p.PID != ff.stracePID && tracer == 0
	out.Reason = pick(out.Healed, fmt.Sprintf("the command runs again without strace (pid %d, not traced)", p.PID), "the command is not running untraced after the restart")
	return out
}
