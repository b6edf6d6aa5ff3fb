package tools_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/tools"
)

// staleRegister is a sequential register history on key k: 30 padding
// writes each read back, then write 1, read 1, write 2 and a last read
// returning lastRead (1: a stale read, the only anomaly; 2: linearizable).
func staleRegister(t0 int64, lastRead int) []map[string]any {
	var ops []map[string]any
	at := t0
	add := func(id, typ string, in, out any) {
		ops = append(ops, map[string]any{
			"op_id": id, "process_id": "p" + id, "invoke_ts": at, "complete_ts": at + 1000,
			"op_type": typ, "key": "k", "input": in, "output": out, "node_seen": "n2",
		})
		at += 2000
	}
	for i := range 30 {
		v := 100 + i
		add("pw"+strconv.Itoa(i), "write", v, nil)
		add("pr"+strconv.Itoa(i), "read", nil, v)
	}
	add("w1", "write", 1, nil)
	add("r1", "read", nil, 1)
	add("w2", "write", 2, nil)
	add("r2", "read", nil, lastRead)
	return ops
}

// TestReduceHistory records a history with one stale read through MCP,
// checks it, reduces it with reduce_history and checks the outcome: the
// minimal failing sub-history is the read and the two writes it needs
// (the read of 1 stays explained by the write of 1), stored and
// journaled. The repaired twin has nothing to reduce and is refused.
func TestReduceHistory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lastRead int
		wantErr  string
	}{
		{"stale read", 1, ""},
		{"repaired", 2, "not a violation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t)
			var mu sync.Mutex
			var progress int
			f.c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == string(mcp.MethodNotificationProgress) {
					mu.Lock()
					progress++
					mu.Unlock()
				}
			})
			_, run := f.startRun("3")
			var rec tools.RecordOpResult
			f.ok("record_op", map[string]any{"run": run, "ops": staleRegister(time.Now().UnixNano(), tc.lastRead)}, &rec)
			if rec.Accepted != 64 || len(rec.Rejected) != 0 {
				t.Fatalf("record_op: %+v", rec)
			}
			// Before any check there is nothing to reduce.
			f.refused("reduce_history", map[string]any{"run": run}, "run_checker first")
			var cr tools.RunCheckerResult
			f.ok("run_checker", map[string]any{"run": run, "checker": "linearizability"}, &cr)
			if tc.wantErr != "" {
				if cr.Status != "ok" {
					t.Fatalf("repaired twin: %s", cr.Status)
				}
				f.refused("reduce_history", map[string]any{"run": run, "checker": "linearizability"}, tc.wantErr)
				return
			}
			if cr.Status != "violation" {
				t.Fatalf("run_checker: %+v", cr)
			}
			var req mcp.CallToolRequest
			req.Params.Name = "reduce_history"
			req.Params.Arguments = map[string]any{"run": run, "checker": "linearizability"}
			req.Params.Meta = &mcp.Meta{ProgressToken: "reduce-1"}
			res, err := f.c.CallTool(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var red tools.ReduceHistoryResult
			decode(t, "reduce_history", res, &red)
			var kept []string
			for _, e := range red.Events {
				if e.Op != nil {
					kept = append(kept, e.Op.OpID)
				}
			}
			slices.Sort(kept)
			if !slices.Equal(kept, []string{"r2", "w1", "w2"}) {
				t.Errorf("kept %v, want the stale read r2 and the writes w1, w2 it needs", kept)
			}
			if !red.Reproduced || !red.Minimal || red.From != 64 || red.To != 3 || red.Checks < 2 {
				t.Errorf("reduction %+v", red)
			}
			if want := "reduced from 64 events to 3 over "; !strings.HasPrefix(red.Record, want) {
				t.Errorf("record %q, want prefix %q", red.Record, want)
			}
			for _, p := range []string{red.History, red.Reduction} {
				if !strings.Contains(p, "/artifacts/R1/reduction/") {
					t.Errorf("artifact %q not under the run's reduction folder", p)
				}
				if !hasLink(res, tools.SessionURI(p)) {
					t.Errorf("no resource link to %s", p)
				}
			}
			raw, err := os.Open(filepath.Join(f.root, filepath.FromSlash(red.History)))
			if err != nil {
				t.Fatal(err)
			}
			ops, err := history.ReadJSONL(raw)
			raw.Close()
			if err != nil || len(ops) != 3 {
				t.Fatalf("reduced history: %d ops, %v", len(ops), err)
			}
			// The reduction is journaled: it is on the session log.
			logRaw, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(strings.Split(red.History, "/artifacts/")[0]), "session-log.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(logRaw), red.Record) {
				t.Errorf("session log lacks the reduction record %q", red.Record)
			}
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			if progress == 0 {
				t.Error("no progress notification for a request with a progress token")
			}
			mu.Unlock()
		})
	}
}

// TestReduceHistoryArgs checks reduce_history's argument errors.
func TestReduceHistoryArgs(t *testing.T) {
	f := newFlow(t)
	_, run := f.startRun("3")
	f.refused("reduce_history", map[string]any{"run": ""}, "run")
	f.refused("reduce_history", map[string]any{"run": "nope"}, "not a run id")
	f.refused("reduce_history", map[string]any{"run": run, "options": map[string]any{"model": "register"}}, "options")
	f.refused("reduce_history", map[string]any{"run": run, "checker": "no-lost-ack"}, "checker no-lost-ack")
}
