package nemesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process faults on a node target run through the node's Executor: the
// target's own kill(1) and /proc, read with cat(1). The exact commands and
// their raw output are kept in the evidence.

// remoteTimeout bounds one remote command.
const remoteTimeout = 10 * time.Second

// executorName is the serialisable name of an executor: "local" for a
// LocalExecutor (HealOrphans can use it again), otherwise its type.
func executorName(ex Executor) string {
	switch ex.(type) {
	case nil:
		return ""
	case LocalExecutor, *LocalExecutor:
		return "local"
	case *SSHExecutor:
		return "ssh"
	}
	return fmt.Sprintf("%T", ex)
}

// executorFor returns the executor of a remote process reference.
func (p ProcRef) executor() Executor {
	if p.ex != nil {
		return p.ex
	}
	if p.Exec == "local" {
		return LocalExecutor{Timeout: remoteTimeout}
	}
	return nil
}

// remoteStat reads /proc/PID/stat on the node: state and start time.
func remoteStat(ctx context.Context, ex Executor, pid int) (state string, start uint64, raw map[string]any, err error) {
	argv := []string{"cat", fmt.Sprintf("/proc/%d/stat", pid)}
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	out, stderr, code, err := ex.Run(ctx, argv)
	raw = map[string]any{"command": argv, "stdout": string(out), "stderr": string(stderr), "exit": code}
	if err != nil {
		return "", 0, raw, err
	}
	if code != 0 {
		return "", 0, raw, fmt.Errorf("%s: exit %d: %s", strings.Join(argv, " "), code, strings.TrimSpace(string(stderr)))
	}
	s := string(out)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, raw, fmt.Errorf("%s: unexpected output %q", strings.Join(argv, " "), s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", 0, raw, fmt.Errorf("%s: short stat line %q", strings.Join(argv, " "), s)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return "", 0, raw, fmt.Errorf("%s: start time %q: %w", strings.Join(argv, " "), f[19], err)
	}
	return f[0], start, raw, nil
}

// remoteState is procState for a process on a node.
func remoteState(p ProcRef) (string, bool) {
	ex := p.executor()
	if ex == nil {
		return fmt.Sprintf("unknown (node %s: no executor)", p.Node), false
	}
	st, start, _, err := remoteStat(context.Background(), ex, p.PID)
	if err != nil {
		return fmt.Sprintf("gone on %s (%v)", p.Node, err), false
	}
	if p.StartTime != 0 && start != p.StartTime {
		return fmt.Sprintf("gone on %s (pid %d reused: start time %d, not %d)", p.Node, p.PID, start, p.StartTime), false
	}
	return st + " (" + stateName(st) + ")", st != "Z" && st != "X"
}

// remoteSignal is signalProc for a process on a node: kill(1) there.
func remoteSignal(p ProcRef, sig syscall.Signal) error {
	ex := p.executor()
	if ex == nil {
		return fmt.Errorf("node %s: no executor to run kill -%d %d", p.Node, int(sig), p.PID)
	}
	if st, alive := remoteState(p); !alive {
		return fmt.Errorf("pid %d on %s: %s", p.PID, p.Node, st)
	}
	argv := []string{"kill", "-" + strconv.Itoa(int(sig)), strconv.Itoa(p.PID)}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	_, stderr, code, err := ex.Run(ctx, argv)
	if err != nil {
		return fmt.Errorf("node %s: %s: %w", p.Node, strings.Join(argv, " "), err)
	}
	if code != 0 {
		return fmt.Errorf("node %s: %s: exit %d: %s", p.Node, strings.Join(argv, " "), code, strings.TrimSpace(string(stderr)))
	}
	return nil
}

// nodeProc resolves the process a fault on a node target signals:
// params.pid, checked on the node and pinned by its start time.
func nodeProc(ctx context.Context, a *Applied, t *target) (ProcRef, error) {
	s := t.snapshot()
	if t.exec == nil {
		return ProcRef{}, &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("node target %q has no executor; process faults on a node run its kill(1) through one", s.Name),
			Hint: "register the node with an executor (ssh is not built in yet)"}
	}
	pid, err := a.params().int("pid", 0)
	if err != nil {
		return ProcRef{}, err
	}
	if pid <= 0 {
		return ProcRef{}, errors.New("params.pid: give the process id on the node")
	}
	st, start, _, err := remoteStat(ctx, t.exec, pid)
	if err != nil {
		return ProcRef{}, &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("pid %d on node %s: %v", pid, s.Node, err)}
	}
	if st == "Z" || st == "X" {
		return ProcRef{}, &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("pid %d on node %s has exited (%s)", pid, s.Node, stateName(st))}
	}
	return ProcRef{PID: pid, StartTime: start, Node: s.Node, Exec: executorName(t.exec), ex: t.exec}, nil
}
