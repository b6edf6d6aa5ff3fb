package nemesis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/procfs"
)

// target is a registered target and the objects falsify owns for it.
type target struct {
	mu sync.Mutex
	Target

	// Owned command.
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process exited
	exit     string        // its exit status
	logFile  *os.File
	extraEnv []string // set by clock-skew, used by the next start

	proxy *toxiproxy.Proxy
	spawn *spawner
	exec  Executor // node targets: runs commands on the node
	// ownExec: exec was built from TargetSpec.SSH and is closed with t.
	ownExec bool
}

// spawner forks owned commands from one OS thread that lives as long as
// the Nemesis. Pdeathsig fires when the forking thread exits, and the Go
// runtime ends threads whose goroutine exits locked (as the network
// namespace helpers do); forking from a pinned thread ties an owned
// process's life to its owner's instead.
type spawner struct {
	reqs chan func()
	quit chan struct{}
	once sync.Once
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan func()), quit: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for {
			select {
			case f := <-s.reqs:
				f()
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// do runs f on the spawner's thread; false when the spawner is closed.
func (s *spawner) do(f func()) bool {
	done := make(chan struct{})
	select {
	case s.reqs <- func() { f(); close(done) }:
		<-done
		return true
	case <-s.quit:
		return false
	}
}

func (s *spawner) close() { s.once.Do(func() { close(s.quit) }) }

func (t *target) snapshot() Target {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.Target
	c.Command = append([]string(nil), t.Command...)
	return c
}

func (t *target) ref() TargetRef {
	s := t.snapshot()
	return TargetRef{ID: s.ID, Name: s.Name, Kind: s.Kind, PID: s.PID, StartTime: s.StartTime,
		Address: s.Address, ProxyListen: s.ProxyListen, Node: s.Node, Path: s.Path, Netns: s.Netns}
}

// proc returns the current process of a pid or command target.
func (t *target) proc() ProcRef {
	t.mu.Lock()
	defer t.mu.Unlock()
	return ProcRef{PID: t.PID, StartTime: t.StartTime, Group: t.Kind == TargetCommand}
}

// procOf returns the process a fault on t signals: the target's own, or
// params.pid on a node.
func procOf(ctx context.Context, a *Applied, t *target) (ProcRef, error) {
	if t.Kind == TargetNode {
		return nodeProc(ctx, a, t)
	}
	return t.proc(), nil
}

var nameRE = strings.NewReplacer("/", "_", " ", "_", "..", "_")

// Register registers a target. A pid must exist (its start time is
// recorded against pid reuse); a command is started and owned (stdout and
// stderr to logDir/<name>.log, its own process group); an address gets an
// embedded Toxiproxy proxy on 127.0.0.1:0 (Target.ProxyListen); a node is
// resolved to an IP; a path must be an existing directory.
func (n *Nemesis) Register(ctx context.Context, spec TargetSpec) (*Target, error) {
	name := strings.TrimSpace(spec.Name)
	if name == "" {
		return nil, errors.New("name: give the target a name")
	}
	set := 0
	for _, b := range []bool{spec.PID != 0, len(spec.Command) > 0, spec.Address != "", spec.Node != "", spec.Path != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("target: give exactly one of pid, command, address, node or path")
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errors.New("nemesis is closed")
	}
	for _, id := range n.order {
		if n.targets[id].Name == name {
			n.mu.Unlock()
			return nil, fmt.Errorf("name %q: a target with this name is already registered (%s)", name, id)
		}
	}
	id := fmt.Sprintf("t%d", len(n.order)+1)
	n.mu.Unlock()

	t := &target{Target: Target{ID: id, Name: name, Netns: spec.Netns}, spawn: n.spawn}
	if spec.Netns != "" {
		if _, err := netnsPath(spec.Netns); err != nil {
			return nil, fmt.Errorf("netns: %w", err)
		}
	}
	switch {
	case spec.PID != 0:
		t.Kind = TargetPID
		if spec.PID < 0 {
			return nil, fmt.Errorf("pid %d: not a process id", spec.PID)
		}
		st, err := readStat(spec.PID)
		if err != nil {
			return nil, &RefusalError{Reason: fmt.Sprintf("pid %d: no such process (%v)", spec.PID, err)}
		}
		if st.State == "Z" {
			return nil, &RefusalError{Reason: fmt.Sprintf("pid %d has exited (zombie)", spec.PID)}
		}
		if spec.PID == os.Getpid() {
			return nil, &RefusalError{Reason: fmt.Sprintf("pid %d is falsify itself", spec.PID)}
		}
		t.PID, t.StartTime = spec.PID, st.Starttime
	case len(spec.Command) > 0:
		t.Kind = TargetCommand
		if spec.Command[0] == "" {
			return nil, errors.New("command: argv[0] is empty; give the program to run")
		}
		t.Command = append([]string(nil), spec.Command...)
		t.Dir, t.Env = spec.Dir, append([]string(nil), spec.Env...)
		if n.logDir == "" {
			return nil, errors.New("command: this nemesis has no log directory for owned commands")
		}
		if err := os.MkdirAll(n.logDir, 0o755); err != nil {
			return nil, fmt.Errorf("log directory: %w", err)
		}
		t.LogPath = filepath.Join(n.logDir, nameRE.Replace(name)+".log")
		if err := t.start(); err != nil {
			return nil, err
		}
	case spec.Address != "":
		t.Kind = TargetAddress
		if _, _, err := net.SplitHostPort(spec.Address); err != nil {
			return nil, fmt.Errorf("address %q: want host:port (%v)", spec.Address, err)
		}
		t.Address = spec.Address
		listen := spec.Listen
		if listen == "" {
			listen = "127.0.0.1:0"
		} else if _, _, err := net.SplitHostPort(listen); err != nil {
			return nil, fmt.Errorf("listen %q: want host:port (%v)", listen, err)
		}
		p := toxiproxy.NewProxy(n.toxi, "falsify_"+n.owner+"_"+nameRE.Replace(name), listen, spec.Address)
		if err := n.toxi.Collection.Add(p, true); err != nil {
			return nil, fmt.Errorf("address %q: starting the proxy: %w", spec.Address, err)
		}
		t.proxy = p
		t.ProxyListen = p.Listen
	case spec.Node != "":
		t.Kind = TargetNode
		ip, err := resolveIP(ctx, spec.Node)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", spec.Node, err)
		}
		t.Node = ip.String()
		t.exec = spec.Executor
		if t.exec == nil && spec.SSH != nil {
			cfg := *spec.SSH
			if cfg.Addr == "" {
				cfg.Addr = spec.Node
			}
			ex, err := NewSSHExecutor(cfg)
			if err != nil {
				return nil, fmt.Errorf("node %q: %w", spec.Node, err)
			}
			t.exec, t.ownExec = ex, true
		}
		t.Remote = executorName(t.exec)
	case spec.Path != "":
		t.Kind = TargetPath
		abs, err := filepath.Abs(spec.Path)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", spec.Path, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", spec.Path, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("path %q: not a directory", spec.Path)
		}
		t.Path = abs
	}
	n.mu.Lock()
	n.targets[id] = t
	n.order = append(n.order, id)
	n.mu.Unlock()
	s := t.snapshot()
	return &s, nil
}

// Targets returns snapshots of the registered targets.
func (n *Nemesis) Targets() []Target {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Target, 0, len(n.order))
	for _, id := range n.order {
		out = append(out, n.targets[id].snapshot())
	}
	return out
}

// Target returns a snapshot of the target with the given ID or name.
func (n *Nemesis) Target(ref string) (Target, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ts, err := n.lookupTargets([]string{ref})
	if err != nil {
		return Target{}, false
	}
	return ts[0].snapshot(), true
}

func resolveIP(ctx context.Context, host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	return ips[0], nil
}

// start starts the owned command (again). The caller holds no lock.
func (t *target) start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.logFile == nil {
		f, err := os.OpenFile(t.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("log %s: %w", t.LogPath, err)
		}
		t.logFile = f
	}
	cmd := exec.Command(t.Command[0], t.Command[1:]...)
	cmd.Dir = t.Dir
	cmd.Env = append(append(os.Environ(), t.Env...), t.extraEnv...)
	cmd.Stdout = t.logFile
	cmd.Stderr = t.logFile
	// Its own process group, so that signals reach the whole command, and
	// killed with falsify: an owned process does not outlive its owner.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var err error
	if !t.spawn.do(func() { err = cmd.Start() }) {
		return errors.New("nemesis is closed")
	}
	if err != nil {
		return fmt.Errorf("command %q: %w", t.Command[0], err)
	}
	done := make(chan struct{})
	t.cmd, t.done, t.exit, t.Exited = cmd, done, "", ""
	t.PID = cmd.Process.Pid
	if st, err := readStat(t.PID); err == nil {
		t.StartTime = st.Starttime
	}
	fmt.Fprintf(t.logFile, "# falsify: started pid %d: %s\n", t.PID, strings.Join(t.Command, " "))
	go func() {
		err := cmd.Wait()
		status := "exit status 0"
		if cmd.ProcessState != nil {
			status = cmd.ProcessState.String()
		} else if err != nil {
			status = err.Error()
		}
		t.mu.Lock()
		if t.cmd == cmd {
			t.exit = status
			t.Exited = status
		}
		t.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited waits up to d for the current owned process to exit and returns
// its status.
func (t *target) exited(d time.Duration) (string, bool) {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done == nil {
		return "", false
	}
	select {
	case <-done:
	case <-time.After(d):
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exit, true
}

// running reports whether the current owned process has not exited.
func (t *target) running() bool {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// stopOwned ends the owned command: SIGTERM to its group, then SIGKILL
// after grace. It returns the exit status.
func (t *target) stopOwned(grace time.Duration) string {
	if !t.running() {
		s, _ := t.exited(0)
		return s
	}
	p := t.proc()
	_ = signalProc(p, syscall.SIGTERM)
	if s, ok := t.exited(grace); ok {
		return s
	}
	_ = signalProc(p, syscall.SIGKILL)
	s, _ := t.exited(10 * time.Second)
	return s
}

func (t *target) close() error {
	var err error
	if t.Kind == TargetCommand && t.running() {
		p := t.proc()
		_ = signalProc(p, syscall.SIGCONT)
		if s := t.stopOwned(2 * time.Second); s == "" {
			err = fmt.Errorf("target %s: owned pid %d did not exit", t.Name, p.PID)
		}
	}
	if t.proxy != nil {
		t.proxy.Stop()
	}
	if c, ok := t.exec.(*SSHExecutor); ok && t.ownExec {
		c.Close()
	}
	t.mu.Lock()
	if t.logFile != nil {
		t.logFile.Close()
		t.logFile = nil
	}
	t.mu.Unlock()
	return err
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	return p.Stat()
}

func selfStartTime() uint64 {
	st, err := readStat(os.Getpid())
	if err != nil {
		return 0
	}
	return st.Starttime
}

// procState describes a process as read from /proc: "S (sleeping)",
// "gone", "pid reused".
func procState(p ProcRef) (state string, alive bool) {
	if p.Node != "" {
		return remoteState(p)
	}
	st, err := readStat(p.PID)
	if err != nil {
		return "gone (/proc/" + fmt.Sprint(p.PID) + " absent)", false
	}
	if p.StartTime != 0 && st.Starttime != p.StartTime {
		return fmt.Sprintf("gone (pid %d reused: start time %d, not %d)", p.PID, st.Starttime, p.StartTime), false
	}
	s := st.State + " (" + stateName(st.State) + ")"
	return s, st.State != "Z" && st.State != "X"
}

func stateName(s string) string {
	switch s {
	case "R":
		return "running"
	case "S":
		return "sleeping"
	case "D":
		return "disk sleep"
	case "T":
		return "stopped"
	case "t":
		return "tracing stop"
	case "Z":
		return "zombie"
	case "X":
		return "dead"
	case "I":
		return "idle"
	}
	return "unknown"
}

// signalProc signals a process (or its group) only if its start time
// still matches, so that a reused pid is never hit.
func signalProc(p ProcRef, sig syscall.Signal) error {
	if p.PID <= 0 {
		return fmt.Errorf("pid %d: not a process", p.PID)
	}
	if p.Node != "" {
		return remoteSignal(p, sig)
	}
	if _, alive := procState(p); !alive {
		st, _ := procState(p)
		return fmt.Errorf("pid %d: %s", p.PID, st)
	}
	pid := p.PID
	if p.Group {
		pid = -p.PID
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("kill(%d, %s): %w", pid, sig, err)
	}
	return nil
}
