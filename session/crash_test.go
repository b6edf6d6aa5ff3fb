package session

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/history"
)

const (
	crashRootEnv = "FALSIFY_CRASH_ROOT"
	crashRunEnv  = "FALSIFY_CRASH_RUN"
)

// TestCrashChild is the child half of TestCrashMidStream: it records
// batches of ops in a loop and prints each acknowledged op id, until it is
// killed. It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	root, runID := os.Getenv(crashRootEnv), os.Getenv(crashRunEnv)
	if root == "" || runID == "" {
		t.Skip("child process of TestCrashMidStream")
	}
	w, err := OpenWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(w)
	out := bufio.NewWriter(os.Stdout)
	ctx := context.Background()
	ts := int64(0)
	for b := 0; ; b++ {
		n := 1 + b%37
		batch := make([]history.Op, 0, n+1)
		for i := 0; i < n; i++ {
			ts += 10
			batch = append(batch, writeOp(fmt.Sprintf("b%d-%d", b, i), ts, ts+5, i))
		}
		if b > 0 {
			// A duplicate of an acknowledged op: must be rejected, never
			// stored twice.
			batch = append(batch, writeOp(fmt.Sprintf("b%d-0", b-1), ts, ts+5, 0))
		}
		acc, rej, err := m.RecordOps(ctx, runID, batch)
		if err != nil {
			t.Fatal(err)
		}
		if acc != n || (b > 0 && len(rej) != 1) {
			t.Fatalf("batch %d: accepted %d of %d, rejected %v", b, acc, n, rej)
		}
		for _, op := range batch[:n] {
			fmt.Fprintln(out, op.OpID)
		}
		out.Flush()
	}
}

// TestCrashMidStream SIGKILLs a process in the middle of recording ops and
// checks that every op it acknowledged is in the reopened session exactly
// once.
func TestCrashMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for round, killAfter := range []int{1, 150, 700} {
		t.Run(fmt.Sprintf("kill after %d acks", killAfter), func(t *testing.T) {
			m := newTestManager(t)
			sess := newTestSession(t, m)
			run := newTestRun(t, m, sess.ID, "S1", fmt.Sprint(round), "register")
			m.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v=false")
			cmd.Env = append(os.Environ(), crashRootEnv+"="+m.ws.Root(), crashRunEnv+"="+run.ID)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := map[string]bool{}
			br := bufio.NewReader(stdout)
			killed := false
			deadline := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
			defer deadline.Stop()
			for {
				// Only whole lines count: an id the kill cut mid-print
				// has no newline.
				line, err := br.ReadString('\n')
				if err != nil {
					break
				}
				acked[strings.TrimSuffix(line, "\n")] = true
				if !killed && len(acked) >= killAfter {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					killed = true
				}
			}
			err = cmd.Wait()
			if !killed {
				t.Fatalf("child ended before it was killed (%v):\n%s", err, stderr.String())
			}
			ops, err := m.History(run.ID)
			if err != nil {
				t.Fatalf("reopen after SIGKILL: %v", err)
			}
			count := map[string]int{}
			for _, op := range ops {
				count[op.OpID]++
			}
			for id := range acked {
				if count[id] != 1 {
					t.Errorf("acknowledged op %s stored %d times", id, count[id])
				}
			}
			for id, n := range count {
				if n != 1 {
					t.Errorf("op %s stored %d times", id, n)
				}
			}
			if len(ops) < len(acked) {
				t.Errorf("reopened history has %d ops, %d were acknowledged", len(ops), len(acked))
			}
			// history.jsonl agrees with the journal after the reopen.
			if ids := historyFileIDs(t, m, run); len(ids) != len(ops) {
				t.Errorf("history.jsonl has %d rows, the journal %d", len(ids), len(ops))
			}
			t.Logf("acknowledged %d, recovered %d ops, journal repairs: %d", len(acked), len(ops), len(mustSession(t, m, sess.ID).Repairs))
		})
	}
}

func mustSession(t *testing.T, m *Manager, id string) *SessionInfo {
	t.Helper()
	info, err := m.OpenSession(id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}
