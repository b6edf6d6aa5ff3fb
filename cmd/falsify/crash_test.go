package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
)

// serverProc is a running "falsify serve --http" process.
type serverProc struct {
	cmd *exec.Cmd
	url string
}

// startServer starts falsify serve over streamable HTTP on a free
// loopback port with root as the workspace, and waits for its endpoint.
func startServer(t *testing.T, root string) *serverProc {
	t.Helper()
	return startServerWith(t, nil, "serve", "--http", "127.0.0.1:0", "--root", root)
}

// startServerWith runs the falsify binary with args and extra environment
// variables, and waits for it to announce its MCP endpoint.
func startServerWith(t *testing.T, env []string, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, server.TokenEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	urlc := make(chan string, 1)
	var logTail strings.Builder
	go func() {
		// Drain the log for the life of the process so that it never
		// blocks on a full pipe.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			var line struct {
				Message string `json:"message"`
				URL     string `json:"url"`
			}
			if !sent {
				logTail.WriteString(sc.Text() + "\n")
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "MCP endpoint" && !sent {
				urlc <- line.URL
				sent = true
			}
		}
		if !sent {
			close(urlc)
		}
	}()
	select {
	case u, ok := <-urlc:
		if !ok {
			t.Fatalf("falsify serve exited before serving:\n%s", logTail.String())
		}
		p.url = u
	case <-time.After(20 * time.Second):
		t.Fatal("falsify serve did not announce its endpoint")
	}
	return p
}

// kill SIGKILLs the server and reaps it.
func (p *serverProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// dial connects an initialised MCP client over streamable HTTP.
func dial(t *testing.T, url string) (*client.Client, error) {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(context.Background()); err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "crash-test", Version: "0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// callJSON calls a tool and decodes its structured result into v; an
// isError result is an error.
func callJSON(ctx context.Context, c *client.Client, name string, args map[string]any, v any) error {
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return err
	}
	if res.IsError {
		var b strings.Builder
		for _, ct := range res.Content {
			if tc, ok := ct.(mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return fmt.Errorf("%s: %s", name, b.String())
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

type recordResult struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		OpID   string `json:"op_id"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// batchOps returns n write ops with ids prefix-0 … prefix-(n-1).
func batchOps(prefix, process string, n int) []map[string]any {
	ops := make([]map[string]any, n)
	for i := range ops {
		ts := time.Now().UnixNano()
		ops[i] = map[string]any{
			"op_id": fmt.Sprintf("%s-%d", prefix, i), "process_id": process,
			"invoke_ts": ts, "complete_ts": ts + 1000, "op_type": "write",
			"key": "k" + process, "input": i,
		}
	}
	return ops
}

// TestCrashUnderLoad SIGKILLs "falsify serve" while 8 clients record ops
// over streamable HTTP, at a different point in each round, restarts it on
// the same workspace and checks that every op the server acknowledged is
// in the run's history exactly once, that retrying the batches that were
// in flight stores nothing twice, and that the journal reopens cleanly.
func TestCrashUnderLoad(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 3
	}
	const clients = 8
	root := t.TempDir()
	plan, err := os.ReadFile(filepath.Join("..", "..", "plan", "testdata", "kvstore.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testing-plans", "kvr-replication.md"), plan, 0o644); err != nil {
		t.Fatal(err)
	}

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
	c.Close()
	runID := sr.Run.ID
	journal := filepath.Join(root, filepath.FromSlash(ss.Session.Dir), "journal.jsonl")
	historyFile := filepath.Join(root, filepath.FromSlash(sr.Run.Dir), "history.jsonl")

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	acked := map[string]bool{} // every op id acknowledged, all rounds
	var inflight [][]map[string]any
	kills, torn := 0, 0
	start := time.Now()
	for round := range rounds {
		if round > 0 {
			srv = startServer(t, root)
		}
		// Retry the batches that were in flight when the last server
		// died, as a client would: ops already stored are rejected as
		// duplicates, the rest are stored now.
		if len(inflight) > 0 {
			rc, err := dial(t, srv.url)
			if err != nil {
				t.Fatalf("round %d: reconnect after restart: %v", round, err)
			}
			for _, b := range inflight {
				var rr recordResult
				if err := callJSON(ctx, rc, "record_op", map[string]any{"run": runID, "ops": b}, &rr); err != nil {
					t.Fatalf("round %d: retry: %v", round, err)
				}
				for _, r := range rr.Rejected {
					if !strings.Contains(r.Reason, "duplicate") {
						t.Errorf("round %d: retried op %s rejected for %q, want duplicate", round, r.OpID, r.Reason)
					}
				}
				if rr.Accepted+len(rr.Rejected) != len(b) {
					t.Errorf("round %d: retry of %d ops: accepted %d, rejected %d", round, len(b), rr.Accepted, len(rr.Rejected))
				}
				for _, op := range b {
					acked[op["op_id"].(string)] = true
				}
			}
			rc.Close()
			inflight = nil
		}

		// Kill after a different number of acknowledged batches each
		// round (0 = as soon as the clients start), plus a random delay.
		killAt := int64((round * 7) % 29)
		var (
			batches atomic.Int64
			mu      sync.Mutex
			wg      sync.WaitGroup
		)
		killed := make(chan struct{})
		clientsDone := make(chan struct{})
		delay := time.Duration(rng.IntN(20)) * time.Millisecond
		go func() {
			defer close(killed)
			// The clients stop only when the server dies; if they all
			// stopped before the kill point, something else went wrong.
			giveUp := time.After(20 * time.Second)
			for batches.Load() < killAt {
				select {
				case <-clientsDone:
					return
				case <-giveUp:
					return
				case <-time.After(time.Millisecond):
				}
			}
			time.Sleep(delay)
			srv.kill()
		}()
		for k := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dial(t, srv.url)
				if err != nil {
					return // the server was killed before this client connected
				}
				defer c.Close()
				process := fmt.Sprintf("c%d", k)
				for b := 0; ; b++ {
					// Batch sizes vary from 1 to 150 ops, so that kills land
					// inside large journal writes and fsyncs too.
					ops := batchOps(fmt.Sprintf("r%d-c%d-b%d", round, k, b), process, 1+(b*37+k*11+round*5)%150)
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					var rr recordResult
					err := callJSON(cctx, c, "record_op", map[string]any{"run": runID, "ops": ops}, &rr)
					cancel()
					mu.Lock()
					if err != nil {
						inflight = append(inflight, ops)
						mu.Unlock()
						return
					}
					if rr.Accepted != len(ops) || len(rr.Rejected) != 0 {
						mu.Unlock()
						t.Errorf("round %d: batch of %d unique ops: accepted %d, rejected %v", round, len(ops), rr.Accepted, rr.Rejected)
						return
					}
					for _, op := range ops {
						acked[op["op_id"].(string)] = true
					}
					mu.Unlock()
					batches.Add(1)
				}
			}()
		}
		go func() { wg.Wait(); close(clientsDone) }()
		<-killed
		if srv.cmd.ProcessState == nil {
			srv.kill()
			<-clientsDone
			t.Fatalf("round %d: the clients stopped (or stalled) after %d of %d batches, before the kill", round, batches.Load(), killAt)
		}
		kills++
		<-clientsDone
		if t.Failed() {
			t.FailNow()
		}
		// A SIGKILL cannot tear a write(2), a power cut can: every third
		// round leaves the journal ending in half a fact, as if the
		// machine died mid-append. The restart must drop it (it was never
		// acknowledged) and keep everything before it.
		if round%3 == 1 {
			f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, `{"seq":999999,"type":"ops-recorded","data":{"run":"R1","ops":[{"op_id":"torn-%d","op_type":"wri`, round)
			f.Close()
			torn++
		}
		t.Logf("round %d: killed after %d acknowledged batches; %d ops acknowledged so far, %d batches in flight", round, batches.Load(), len(acked), len(inflight))
	}

	// Restart once more: the session reopens, its journal is repaired if
	// a line was torn, and history.jsonl is rebuilt from it.
	srv = startServer(t, root)
	c, err = dial(t, srv.url)
	if err != nil {
		t.Fatal(err)
	}
	var rr recordResult
	final := batchOps("final", "c0", 1)
	if err := callJSON(ctx, c, "record_op", map[string]any{"run": runID, "ops": final}, &rr); err != nil || rr.Accepted != 1 {
		t.Fatalf("record_op after the last restart: %v %+v", err, rr)
	}
	acked["final-0"] = true
	c.Close()
	srv.kill()

	// The journal: every line whole, seqs consecutive, each op once.
	raw, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	journalOps := map[string]int{}
	repairs := 0
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	for i, line := range lines {
		var f struct {
			Seq  int64  `json:"seq"`
			Type string `json:"type"`
			Data struct {
				Ops []struct {
					OpID string `json:"op_id"`
				} `json:"ops"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			// Only the last line may be torn, by the final kill.
			if i != len(lines)-1 {
				t.Fatalf("journal line %d is not a fact: %v: %.200s", i+1, err, line)
			}
			continue
		}
		if f.Seq != int64(i+1) {
			t.Fatalf("journal line %d has seq %d", i+1, f.Seq)
		}
		switch f.Type {
		case "journal-repaired":
			repairs++
		case "ops-recorded":
			for _, op := range f.Data.Ops {
				journalOps[op.OpID]++
			}
		}
	}
	if repairs < torn || repairs > kills+torn {
		t.Errorf("%d journal repairs for %d kills and %d torn lines", repairs, kills, torn)
	}
	j, facts, rep, err := session.OpenJournal(journal)
	if err != nil {
		t.Fatalf("the journal does not reopen: %v", err)
	}
	j.Close()
	if rep != nil && rep.Dropped <= 0 {
		t.Errorf("repair of nothing: %+v", rep)
	}

	// history.jsonl, rebuilt at the last restart and appended since.
	hf, err := os.Open(historyFile)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := history.ReadJSONL(hf)
	hf.Close()
	if err != nil {
		t.Fatalf("history.jsonl: %v", err)
	}
	historyOps := map[string]int{}
	for _, op := range ops {
		historyOps[op.OpID]++
	}
	for id := range journalOps {
		if strings.HasPrefix(id, "torn-") {
			t.Errorf("the torn fact's op %s was replayed", id)
		}
	}
	for name, count := range map[string]map[string]int{"journal": journalOps, "history.jsonl": historyOps} {
		for id := range acked {
			if count[id] != 1 {
				t.Errorf("acknowledged op %s is in the %s %d times", id, name, count[id])
			}
		}
		for id, n := range count {
			if n != 1 {
				t.Errorf("op %s is in the %s %d times", id, name, n)
			}
		}
	}
	if len(historyOps) != len(journalOps) {
		t.Errorf("history.jsonl holds %d ops, the journal %d", len(historyOps), len(journalOps))
	}
	logText, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(ss.Session.Dir), "session-log.md"))
	t.Logf("%d rounds in %s: %d ops acknowledged, %d stored, %d journal facts, %d torn lines repaired, %d history.jsonl rebuilds",
		rounds, time.Since(start).Round(time.Millisecond), len(acked), len(journalOps), len(facts), repairs,
		strings.Count(string(logText), "rebuilt from the journal"))
}
