package kvr

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
)

// TestProcessCluster runs the nodes as separate processes (this test
// binary re-executed as "node …", see TestMain), records a history with
// the workload command, kills the primary with SIGKILL mid-run and
// checks the lost-ack bug shows.
func TestProcessCluster(t *testing.T) {
	t.Setenv("KVR_MAIN", "1")
	c := startCluster(t, ClusterConfig{Mode: ModeLostAck, Command: []string{os.Args[0]}})
	for _, name := range c.Names() {
		if c.PID(name) == 0 || c.Node(name) != nil {
			t.Fatalf("%s is not a separate process", name)
		}
	}
	out := filepath.Join(t.TempDir(), "history.jsonl")
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- MainContext(t.Context(), []string{"workload", "--nodes", strings.Join(c.ClientAddrs(), ","),
			"--seed", "5", "--clients", "5", "--duration", "2500ms", "--timeout", "500ms", "--pause", "1ms",
			"--out", out}, &stderr, &stderr)
	}()
	time.Sleep(time.Second)
	if err := c.Kill("n1"); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Fatalf("workload exited %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	s := summarize(ops)
	t.Logf("%d ops: %+v", len(ops), s)
	if s.okByNode["n1"] == 0 || s.okByNode["n2"] == 0 {
		t.Errorf("want ops served by n1 before the kill and by n2 after: %v", s.okByNode)
	}
	primary, err := c.WaitStable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if primary != "n2" {
		t.Errorf("after killing n1 the primary is %s, want n2", primary)
	}
	res := linearizable(t, ops)
	t.Log(res.Evidence)
	if res.Status != checkers.StatusViolation {
		t.Fatalf("lost-ack with the primary killed: got %s, want a violation", res.Status)
	}
}

func TestMainArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"serve"}, 2, "unknown command"},
		{[]string{"node", "--name", "n1", "--peers", "n1=127.0.0.1:1", "--mode", "eventual"}, 2, "unknown mode"},
		{[]string{"node", "--name", "n1", "--peers", "n1"}, 2, "want name=host:port"},
		{[]string{"node", "--name", "n9", "--peers", "n1=127.0.0.1:1,n2=127.0.0.1:2"}, 1, "not in its peer list"},
		{[]string{"workload"}, 2, "--nodes"},
		{[]string{"workload", "--nodes", "127.0.0.1:1", "--read-from", "nearest"}, 1, "read-from"},
	} {
		var out bytes.Buffer
		if got := MainContext(t.Context(), tc.args, &out, &out); got != tc.want || !strings.Contains(out.String(), tc.msg) {
			t.Errorf("%q: exit %d, output %q; want exit %d mentioning %q", tc.args, got, out.String(), tc.want, tc.msg)
		}
	}
}

// TestNodeExitsWithParent: a node started with --exit-on-stdin-eof stops
// when its standard input closes, as it does when the process that
// started it dies.
func TestNodeExitsWithParent(t *testing.T) {
	cmd := exec.Command(os.Args[0], "node", "--exit-on-stdin-eof", "--name", "n1", "--peers", "n1=127.0.0.1:1,n2=127.0.0.1:2")
	cmd.Env = append(os.Environ(), "KVR_MAIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening on") {
		cmd.Process.Kill()
		t.Fatalf("node did not start: %q, %v", line, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("node exited with its stdin open: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	stdin.Close()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("node exit: %v", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("node still running 5 s after its stdin closed")
	}
}
