package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/falsify-dev/falsify/tools"
)

// flow is a workspace holding the kvstore plan, with a client on it.
type flow struct {
	t    testing.TB
	root string
	c    *client.Client
}

func newFlow(t testing.TB) *flow {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"testing-plans/kvr-replication.md": kvstore(t)})
	return &flow{t: t, root: root, c: newClient(t, root)}
}

func (f *flow) ok(name string, args map[string]any, v any) {
	f.t.Helper()
	decode(f.t, name, call(f.t, f.c, name, args), v)
}

// refused calls a tool that must answer isError naming field.
func (f *flow) refused(name string, args map[string]any, field string) string {
	f.t.Helper()
	res := call(f.t, f.c, name, args)
	if !res.IsError {
		f.t.Errorf("%s %v: want isError, got %s", name, args, text(res))
		return ""
	}
	if !strings.Contains(text(res), field) {
		f.t.Errorf("%s: message does not name %q: %s", name, field, text(res))
	}
	return text(res)
}

func (f *flow) startRun(seed string) (sessionID, runID string) {
	f.t.Helper()
	var ss tools.StartSessionResult
	f.ok("start_session", map[string]any{"plan": "kvr-replication"}, &ss)
	if ss.Session.ID == "" || !strings.HasPrefix(ss.Session.Dir, "test-sessions/") {
		f.t.Fatalf("start_session: %+v", ss)
	}
	var sr tools.StartRunResult
	f.ok("start_run", map[string]any{"session": ss.Session.ID, "scenario": "S1", "seed": seed, "tier": "smoke"}, &sr)
	if sr.Run.ID == "" || sr.Run.Checker == "" {
		f.t.Fatalf("start_run: %+v", sr)
	}
	return ss.Session.ID, sr.Run.ID
}

// injectKill declares an external kill whose probe counts "killed" lines
// in a workspace file, and writes that line while falsify waits.
func (f *flow) injectKill(run string) tools.FaultResult {
	f.t.Helper()
	marker := filepath.Join(f.root, "state", "events.log")
	if err := os.MkdirAll(filepath.Dir(marker), 0o755); err != nil {
		f.t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(marker, []byte("node n1 killed\n"), 0o644)
	}()
	var fr tools.FaultResult
	f.ok("inject_fault", map[string]any{
		"run": run, "kind": "external", "fault": "kill", "targets": []string{"n1"},
		"probe":       map[string]any{"file": "state/events.log", "pattern": "killed", "expect": "increases"},
		"duration_ms": 600,
	}, &fr)
	return fr
}

func (f *flow) heal(run, epoch string) tools.FaultResult {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.root, "state", "events.log"), []byte("node n1 restarted\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
	var fr tools.FaultResult
	f.ok("heal_fault", map[string]any{"run": run, "epoch": epoch}, &fr)
	return fr
}

// registerOps returns a sequential register history on key k starting at
// t0: write 1, read 1, write 2, read <lastRead>.
func registerOps(t0 int64, lastRead int) []map[string]any {
	op := func(id, typ string, in, out any, start int64) map[string]any {
		m := map[string]any{
			"op_id": id, "process_id": "p" + id[len(id)-1:], "invoke_ts": start, "complete_ts": start + 1000,
			"op_type": typ, "key": "k", "input": in, "output": out,
			"error": nil, "timeout_marker": nil, "node_seen": "n2",
		}
		return m
	}
	return []map[string]any{
		op("o1", "write", 1, nil, t0),
		op("o2", "read", nil, 1, t0+2000),
		op("o3", "write", 2, nil, t0+4000),
		op("o4", "read", nil, lastRead, t0+6000),
	}
}

// TestExecutionFlow drives plan → session → run → record → external
// fault → check → verdict through MCP, for a passing and a failing history.
func TestExecutionFlow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lastRead int
		status   string
		fail     bool
	}{
		{"linearizable history", 2, "ok", false},
		{"stale read", 1, "violation", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t)
			var mu sync.Mutex
			var progress []mcp.JSONRPCNotification
			f.c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == string(mcp.MethodNotificationProgress) {
					mu.Lock()
					progress = append(progress, n)
					mu.Unlock()
				}
			})
			sessionID, run := f.startRun("7")

			fr := f.injectKill(run)
			if fr.Epoch != "F1" || !fr.Landed || fr.Fault.Before == nil || fr.Fault.After == nil {
				t.Fatalf("inject_fault: %+v", fr)
			}
			var rec tools.RecordOpResult
			f.ok("record_op", map[string]any{"run": run, "ops": registerOps(time.Now().UnixNano(), tc.lastRead)}, &rec)
			if rec.Accepted != 4 || len(rec.Rejected) != 0 {
				t.Fatalf("record_op: %+v", rec)
			}
			// A duplicate op_id is rejected with its reason; the rest is kept.
			dup := registerOps(time.Now().UnixNano(), tc.lastRead)[:1]
			dup = append(dup, map[string]any{"op_id": "o5", "op_type": "read", "key": "k", "invoke_ts": time.Now().UnixNano(), "complete_ts": time.Now().UnixNano() + 10, "output": tc.lastRead})
			f.ok("record_op", map[string]any{"run": run, "ops": dup}, &rec)
			if rec.Accepted != 1 || len(rec.Rejected) != 1 || rec.Rejected[0].OpID != "o1" || rec.Rejected[0].Reason == "" {
				t.Errorf("record_op with a duplicate: %+v", rec)
			}
			hr := f.heal(run, fr.Epoch)
			if !hr.Healed {
				t.Errorf("heal_fault: %+v", hr)
			}

			var req mcp.CallToolRequest
			req.Params.Name = "run_checker"
			req.Params.Arguments = map[string]any{"run": run, "checker": "linearizability"}
			req.Params.Meta = &mcp.Meta{ProgressToken: "check-1"}
			res, err := f.c.CallTool(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var cr tools.RunCheckerResult
			decode(t, "run_checker", res, &cr)
			if cr.Status != tc.status || cr.OpsTotal != 5 || cr.OpsConsumed == 0 || cr.Evidence == "" {
				t.Fatalf("run_checker: %+v", cr)
			}
			if tc.fail {
				if len(cr.Anomalies) == 0 || len(cr.Anomalies[0].OpIDs) == 0 {
					t.Errorf("violation without anomalies: %+v", cr)
				}
				if len(cr.Artifacts) == 0 {
					t.Errorf("violation without artifacts")
				}
				if !hasLink(res, "falsify://sessions/") {
					t.Errorf("run_checker result has no resource link to its artifacts: %+v", res.Content)
				}
			}
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			if len(progress) == 0 {
				t.Error("no progress notification for a request with a progress token")
			} else if progress[0].Params.AdditionalFields["progressToken"] != "check-1" {
				t.Errorf("progress notification: %+v", progress[0].Params.AdditionalFields)
			}
			mu.Unlock()

			args := map[string]any{"session": sessionID, "scenario": "S1", "audit": map[string]any{
				"8.1.3-fault-evidence": map[string]any{"holds": true, "evidence": "probe on state/events.log went 0 → 1"},
			}}
			if tc.fail {
				args["finding"] = map[string]any{"reproducer": "seed 7, kill n1 at t=20s", "reduction": "not reduced: 5 ops already"}
			}
			vres := call(t, f.c, "assign_verdict", args)
			var av tools.AssignVerdictResult
			decode(t, "assign_verdict", vres, &av)
			if got := strings.HasPrefix(av.Verdict, "FAIL"); got != tc.fail {
				t.Errorf("verdict %s (fail=%v), want fail=%v; reasons %v", av.Verdict, got, tc.fail, av.Decision.Reasons)
			}
			if !tc.fail && strings.HasPrefix(av.Verdict, "PASS-hardening") {
				t.Errorf("one smoke run earned %s", av.Verdict)
			}
			if len(av.Decision.Path) == 0 || len(av.Decision.Reasons) == 0 {
				t.Errorf("decision without rule path or reasons: %+v", av.Decision)
			}
			if !tc.fail && len(av.Decision.Blockers) == 0 {
				t.Errorf("%s below PASS-hardening lists no blockers", av.Verdict)
			}
			if _, err := os.Stat(filepath.Join(f.root, filepath.FromSlash(av.Findings))); err != nil {
				t.Errorf("findings file: %v", err)
			}
			uri := tools.SessionURI(av.Findings)
			if !hasLink(vres, uri) {
				t.Errorf("assign_verdict result lacks a link to %s", uri)
			}
			var rr mcp.ReadResourceRequest
			rr.Params.URI = uri
			read, err := f.c.ReadResource(context.Background(), rr)
			if err != nil {
				t.Fatalf("read %s: %v", uri, err)
			}
			if tc, ok := read.Contents[0].(mcp.TextResourceContents); !ok || !strings.Contains(tc.Text, av.Verdict) || tc.MIMEType != "text/markdown" {
				t.Errorf("findings resource does not state the verdict: %+v", read.Contents[0])
			}
		})
	}
}

func hasLink(res *mcp.CallToolResult, prefix string) bool {
	for _, c := range res.Content {
		if l, ok := c.(mcp.ResourceLink); ok && strings.HasPrefix(l.URI, prefix) {
			return true
		}
	}
	return false
}

// TestImportHistoryCorpus imports Knossos cas-register histories through
// import_history and checks them with run_checker: the good one passes,
// the bad one is a violation.
func TestImportHistoryCorpus(t *testing.T) {
	corpus := filepath.Join("..", "..", "shared", "corpus", "knossos", "cas-register")
	if _, err := os.Stat(corpus); err != nil {
		corpus = "/work/shared/corpus/knossos/cas-register"
	}
	for _, tc := range []struct{ file, status string }{
		{"good/memstress3-0.edn", "ok"},
		{"bad/cas-failure.edn", "violation"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(tc.file)))
			if err != nil {
				t.Skipf("corpus: %v", err)
			}
			f := newFlow(t)
			writeTree(t, f.root, map[string]string{"histories/h.edn": string(raw)})
			_, run := f.startRun("1")
			var ir tools.ImportHistoryResult
			f.ok("import_history", map[string]any{"run": run, "path": "histories/h.edn"}, &ir)
			if ir.Format != "jepsen-edn" || ir.Accepted == 0 || ir.Mapping == "" {
				t.Fatalf("import_history: %+v", ir)
			}
			var cr tools.RunCheckerResult
			f.ok("run_checker", map[string]any{"run": run, "checker": "linearizability", "options": map[string]any{"model": "cas-register"}}, &cr)
			if cr.Status != tc.status {
				t.Errorf("%s: status %s, want %s (%s)", tc.file, cr.Status, tc.status, cr.Evidence)
			}
		})
	}
}

// TestExecutionRejects checks the execution tools' isError answers.
func TestExecutionRejects(t *testing.T) {
	f := newFlow(t)
	sessionID, run := f.startRun("3")
	f.refused("start_session", map[string]any{"plan": "../etc/passwd"}, "plan")
	f.refused("start_run", map[string]any{"session": sessionID, "scenario": "S1", "seed": "1", "tier": "galactic"}, "tier")
	f.refused("start_run", map[string]any{"session": sessionID, "scenario": "S99", "seed": "1", "tier": "smoke"}, "scenario")
	f.refused("start_run", map[string]any{"session": sessionID, "scenario": "S1", "seed": "", "tier": "smoke"}, "seed")
	f.refused("record_op", map[string]any{"run": run, "ops": []any{}}, "ops")
	f.refused("record_op", map[string]any{"run": "nope/R1", "ops": registerOps(1, 1)}, "run")
	f.refused("import_history", map[string]any{"run": run, "path": "h.xyz"}, "format")
	f.refused("import_history", map[string]any{"run": run, "path": "../../h.edn"}, "path")
	f.refused("record_state", map[string]any{"run": run, "kind": "final-state", "name": "n1"}, "data")
	f.refused("record_state", map[string]any{"run": run, "kind": "mood", "name": "n1", "data": map[string]any{"k": 1}}, "kind")
	f.refused("run_checker", map[string]any{"run": run, "checker": "vibes"}, "checker")
	f.refused("run_checker", map[string]any{"run": run, "checker": "linearizability", "options": map[string]any{"model": "queue"}}, "model")
	f.refused("inject_fault", map[string]any{"run": run, "kind": "partition", "fault": "partition", "probe": map[string]any{"command": []string{"true"}, "expect": "changes"}}, "kind")
	f.refused("inject_fault", map[string]any{"run": run, "kind": "external", "fault": "kill", "probe": map[string]any{"expect": "increases"}}, "probe")
	f.refused("heal_fault", map[string]any{"run": run, "epoch": "F9"}, "F9")
	f.refused("assign_verdict", map[string]any{"session": sessionID}, "scenario")
	// A verdict before any checker result names the missing step.
	msg := f.refused("assign_verdict", map[string]any{"session": sessionID, "scenario": "S1"}, "run_checker")
	if msg != "" && !strings.Contains(msg, "S1") {
		t.Errorf("missing-step message does not name the scenario: %s", msg)
	}
	// There is no argument that sets a verdict.
	res := call(t, f.c, "assign_verdict", map[string]any{"session": sessionID, "scenario": "S1", "verdict": "PASS-hardening"})
	if !res.IsError {
		t.Errorf("assign_verdict accepted a verdict argument: %s", text(res))
	}
	// record_state stores data and links it.
	var st tools.RecordStateResult
	res = call(t, f.c, "record_state", map[string]any{"run": run, "kind": "final-state", "name": "n1", "data": map[string]any{"k": 2}})
	decode(t, "record_state", res, &st)
	if st.State.Path == "" || !hasLink(res, "falsify://sessions/") {
		t.Errorf("record_state: %+v %+v", st, res.Content)
	}
	stored, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(st.State.Path)))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if json.Unmarshal(stored, &v) != nil || v["k"] != float64(2) {
		t.Errorf("stored state %s", stored)
	}
}

// TestStartRunRefusesUncheckableOracle: a scenario whose oracle a machine
// cannot decide is refused with a pointer back to design.
func TestStartRunRefusesUncheckableOracle(t *testing.T) {
	src := kvstore(t)
	i := strings.Index(src, "### Scenario S1")
	j := strings.Index(src[i:], "- **Oracle:**")
	k := strings.Index(src[i+j:], "\n")
	mutated := src[:i+j] + "- **Oracle:** the logs look fine and nothing seems off" + src[i+j+k:]
	root := t.TempDir()
	writeTree(t, root, map[string]string{"testing-plans/kvr-replication.md": mutated})
	c := newClient(t, root)
	var ss tools.StartSessionResult
	decode(t, "start_session", call(t, c, "start_session", map[string]any{"plan": "kvr-replication"}), &ss)
	res := call(t, c, "start_run", map[string]any{"session": ss.Session.ID, "scenario": "S1", "seed": "1", "tier": "smoke"})
	if !res.IsError || !strings.Contains(text(res), "design") || !strings.Contains(text(res), "oracle") {
		t.Errorf("start_run on an uncheckable oracle: isError=%v %s", res.IsError, text(res))
	}
}

// TestRunCheckerCancel cancels a linearizability check that would search
// for a very long time, and expects the call to end promptly and the run
// to stay usable.
func TestRunCheckerCancel(t *testing.T) {
	f := newFlow(t)
	_, run := f.startRun("5")
	// 24 writes of distinct values and 24 reads of distinct values, all
	// concurrent, then a read of a value never written: not linearizable,
	// and the search space is every interleaving of the concurrent ops.
	const n = 24
	var ops []map[string]any
	t0 := int64(1_000_000)
	for i := 0; i < n; i++ {
		ops = append(ops,
			map[string]any{"op_id": fmt.Sprintf("w%d", i), "process_id": fmt.Sprintf("pw%d", i), "invoke_ts": t0 + int64(i), "complete_ts": t0 + 10_000 + int64(i), "op_type": "write", "key": "k", "input": i + 1},
			map[string]any{"op_id": fmt.Sprintf("r%d", i), "process_id": fmt.Sprintf("pr%d", i), "invoke_ts": t0 + int64(i), "complete_ts": t0 + 10_000 + int64(i), "op_type": "read", "key": "k", "output": n - i},
		)
	}
	ops = append(ops, map[string]any{"op_id": "last", "process_id": "pz", "invoke_ts": t0 + 20_000, "complete_ts": t0 + 20_001, "op_type": "read", "key": "k", "output": 999})
	var rec tools.RecordOpResult
	f.ok("record_op", map[string]any{"run": run, "ops": ops}, &rec)
	if rec.Accepted != len(ops) {
		t.Fatalf("record_op: %+v", rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var req mcp.CallToolRequest
	req.Params.Name = "run_checker"
	req.Params.Arguments = map[string]any{"run": run, "checker": "linearizability", "options": map[string]any{"timeout": 600}}
	start := time.Now()
	res, err := f.c.CallTool(ctx, req)
	took := time.Since(start)
	if err == nil && !res.IsError {
		var cr tools.RunCheckerResult
		decode(t, "run_checker", res, &cr)
		// The checker may answer the cancellation as an undecided
		// search; it must never be a pass.
		if cr.Status == "ok" {
			t.Errorf("a non-linearizable history checked ok: %+v", cr)
		}
	}
	if took > 10*time.Second {
		t.Errorf("cancelled check returned after %v", took)
	}
	// The server is still serving, and the run still takes ops.
	f.ok("record_op", map[string]any{"run": run, "ops": registerOps(t0+100_000, 2)}, &rec)
	if rec.Accepted != 4 {
		t.Errorf("record_op after a cancelled check: %+v", rec)
	}
}
