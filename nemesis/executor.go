package nemesis

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// Executor runs a command on a host: the local one, or a remote node (an
// ssh executor is a separate implementation). argv is never passed to a
// shell. exit is the exit code (-1 when the command did not run or was
// killed); err is set when it could not be run or timed out, not for a
// non-zero exit.
type Executor interface {
	Run(ctx context.Context, argv []string) (stdout, stderr []byte, exit int, err error)
}

// LocalExecutor runs commands on this host.
type LocalExecutor struct {
	Timeout   time.Duration // per command; 0 means 30 s
	OutputCap int           // bytes kept of stdout and of stderr; 0 means 64 KiB
	Dir       string
	Env       []string // extra KEY=VALUE
}

// Run runs argv and returns its capped output and exit code.
func (e LocalExecutor) Run(ctx context.Context, argv []string) ([]byte, []byte, int, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, nil, -1, errors.New("argv: empty; give the program to run")
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	limit := e.OutputCap
	if limit <= 0 {
		limit = 64 << 10
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = e.Dir
	if len(e.Env) > 0 {
		cmd.Env = append(cmd.Environ(), e.Env...)
	}
	cmd.WaitDelay = time.Second
	stdout, stderr := &capBuffer{n: limit}, &capBuffer{n: limit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.b, stderr.b, -1, fmt.Errorf("%s: %w after %s", argv[0], ctx.Err(), timeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.b, stderr.b, ee.ExitCode(), nil
	}
	if err != nil {
		return stdout.b, stderr.b, -1, fmt.Errorf("%s: %w", argv[0], err)
	}
	return stdout.b, stderr.b, 0, nil
}

// capBuffer keeps the first n bytes written to it.
type capBuffer struct {
	b       []byte
	n       int
	dropped int
}

func (w *capBuffer) Write(p []byte) (int, error) {
	room := min(w.n-len(w.b), len(p))
	if room > 0 {
		w.b = append(w.b, p[:room]...)
	}
	w.dropped += len(p) - max(room, 0)
	return len(p), nil
}
