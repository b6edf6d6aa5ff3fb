package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
)

// kvOp is a completed op on key k; out "" leaves output null, errText sets
// error (a failed op), and indeterminate drops the completion.
func kvOp(id, typ, key, in, out string, indeterminate bool, errText string) history.Op {
	o := history.Op{OpID: id, ProcessID: str("p" + id), InvokeTS: i64(10), CompleteTS: i64(20), OpType: typ, Key: str(key)}
	if in != "" {
		o.Input = json.RawMessage(in)
	}
	if out != "" {
		o.Output = json.RawMessage(out)
	}
	if errText != "" {
		o.Error = str(errText)
	}
	if indeterminate {
		o.CompleteTS, o.Output, o.TimeoutMarker = nil, nil, boolp(true)
	}
	return o
}

// at sets an op's invoke and complete times (an indeterminate op keeps no
// completion).
func at(o history.Op, invoke, complete int64) history.Op {
	o.InvokeTS = i64(invoke)
	if o.CompleteTS != nil {
		o.CompleteTS = i64(complete)
	}
	return o
}

func TestUnexplained(t *testing.T) {
	for _, tc := range []struct {
		name    string
		model   string
		initial any
		ops     []history.Op
		want    bool
	}{
		{"read of a written value", "kv", nil, []history.Op{kvOp("w", "write", "a", "1", "", false, ""), kvOp("r", "read", "a", "", "1", false, "")}, true},
		{"read of the initial value", "kv", nil, []history.Op{kvOp("r", "read", "a", "", "null", false, "")}, true},
		{"read of a value nothing wrote", "kv", nil, []history.Op{kvOp("r", "read", "a", "", "1", false, "")}, false},
		{"read of a value written to another key", "kv", nil, []history.Op{kvOp("w", "write", "b", "1", "", false, ""), kvOp("r", "read", "a", "", "1", false, "")}, false},
		{"unkeyed register: any key", "register", nil, []history.Op{kvOp("w", "write", "b", "1", "", false, ""), kvOp("r", "read", "a", "", "1", false, "")}, true},
		{"numbers compare as numbers", "kv", nil, []history.Op{kvOp("w", "write", "a", "1.0", "", false, ""), kvOp("r", "read", "a", "", "1", false, "")}, true},
		{"read of a failed write's value", "kv", nil, []history.Op{kvOp("w", "write", "a", "1", "", false, "not-primary"), kvOp("r", "read", "a", "", "1", false, "")}, false},
		{"read of an indeterminate write's value", "kv", nil, []history.Op{kvOp("w", "write", "a", "1", "", true, ""), kvOp("r", "read", "a", "", "1", false, "")}, true},
		{"cas found a value nothing wrote", "kv", nil, []history.Op{kvOp("c", "cas", "a", "[1,2]", "true", false, "")}, false},
		{"cas found a written value", "kv", nil, []history.Op{kvOp("w", "write", "a", "1", "", false, ""), kvOp("c", "cas", "a", "[1,2]", "true", false, "")}, true},
		{"read of a successful cas's value", "kv", nil, []history.Op{kvOp("c", "cas", "a", "[null,2]", "true", false, ""), kvOp("r", "read", "a", "", "2", false, "")}, true},
		// The trap the demo hit: a cas that found the register changed
		// from its initial value, with nothing written, is a failure of
		// its own kind.
		{"cas from initial failed, nothing written", "kv", nil, []history.Op{kvOp("c", "cas", "a", "[null,2]", "false", false, "")}, false},
		{"cas from initial failed after a write", "kv", nil, []history.Op{kvOp("w", "write", "a", "1", "", false, ""), kvOp("c", "cas", "a", "[null,2]", "false", false, "")}, true},
		{"a failed cas wrote nothing", "kv", nil, []history.Op{kvOp("c1", "cas", "a", "[null,2]", "false", false, ""), kvOp("c2", "cas", "a", "[null,3]", "false", false, ""), kvOp("w", "write", "a", "1", "", false, "")}, true},
		{"a failed cas's value is not written", "kv", nil, []history.Op{kvOp("w", "write", "a", "1", "", false, ""), kvOp("c", "cas", "a", "[5,2]", "false", false, ""), kvOp("r", "read", "a", "", "2", false, "")}, false},
		{"cas from another value failed, nothing written", "kv", nil, []history.Op{kvOp("c", "cas", "a", "[7,2]", "false", false, "")}, true},
		// A cas right after the write of its expected value, failing with
		// no other write in sight: the write that beat it was dropped.
		{"cas failed after the write it expected", "kv", nil, []history.Op{at(kvOp("w", "write", "a", "7", "", false, ""), 0, 5), at(kvOp("c", "cas", "a", "[7,2]", "false", false, ""), 10, 15)}, false},
		{"cas failed concurrent with the write it expected", "kv", nil, []history.Op{at(kvOp("w", "write", "a", "7", "", false, ""), 0, 12), at(kvOp("c", "cas", "a", "[7,2]", "false", false, ""), 10, 15)}, true},
		{"cas failed after the write it expected and another", "kv", nil, []history.Op{at(kvOp("w", "write", "a", "7", "", false, ""), 0, 5), at(kvOp("w2", "write", "a", "8", "", true, ""), 6, 0), at(kvOp("c", "cas", "a", "[7,2]", "false", false, ""), 10, 15)}, true},
		// The other value was written before the expected one: the cas
		// must have found the expected value.
		{"cas failed; the other write came before", "kv", nil, []history.Op{at(kvOp("w0", "write", "a", "8", "", false, ""), 0, 2), at(kvOp("w", "write", "a", "7", "", false, ""), 3, 5), at(kvOp("c", "cas", "a", "[7,2]", "false", false, ""), 10, 15)}, false},
		{"cas failed; the other write came after it returned", "kv", nil, []history.Op{at(kvOp("w", "write", "a", "7", "", false, ""), 0, 5), at(kvOp("c", "cas", "a", "[7,2]", "false", false, ""), 10, 15), at(kvOp("w2", "write", "a", "8", "", false, ""), 20, 25)}, false},
		{"declared initial value", "register", 5.0, []history.Op{kvOp("r", "read", "a", "", "5", false, "")}, true},
		{"appends are not judged", "kv", nil, []history.Op{kvOp("a", "append", "a", `"x"`, "", false, ""), kvOp("r", "read", "a", "", `"zz"`, false, "")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := unexplained(tc.ops, tc.model, tc.initial)
			if (len(got) == 0) != tc.want {
				t.Errorf("unexplained = %v, want none: %t", got, tc.want)
			}
		})
	}
}

// TestUnexplainedIDs checks that the observations are named: the
// reduction keeps those the full history already could not explain.
func TestUnexplainedIDs(t *testing.T) {
	ops := []history.Op{
		kvOp("w", "write", "a", "1", "", false, ""),
		kvOp("r1", "read", "a", "", "1", false, ""),
		kvOp("r9", "read", "a", "", "9", false, ""),
		kvOp("c", "cas", "b", "[3,4]", "true", false, ""),
		kvOp("r2", "read", "b", "", "4", false, ""),
	}
	if got := unexplained(ops, "kv", nil); !slices.Equal(got, []string{"r9", "c"}) {
		t.Errorf("unexplained %v, want [r9 c]", got)
	}
	if got := unexplained(ops[:2], "kv", nil); len(got) != 0 {
		t.Errorf("unexplained %v, want none", got)
	}
}

func TestFailureNature(t *testing.T) {
	orig := &checkers.Result{Status: checkers.StatusViolation, Anomalies: []checkers.Anomaly{
		{Kind: "nonlinearizable", Key: "k1"}, {Kind: "nonlinearizable", Key: "k3"},
	}}
	n := failureNature(orig)
	for _, tc := range []struct {
		name string
		res  *checkers.Result
		want bool
	}{
		{"same kind, same key", &checkers.Result{Status: checkers.StatusViolation, Anomalies: []checkers.Anomaly{{Kind: "nonlinearizable", Key: "k3"}}}, true},
		{"same kind, another key", &checkers.Result{Status: checkers.StatusViolation, Anomalies: []checkers.Anomaly{{Kind: "nonlinearizable", Key: "k2"}}}, false},
		{"another kind", &checkers.Result{Status: checkers.StatusViolation, Anomalies: []checkers.Anomaly{{Kind: "lost-ack", Key: "k1"}}}, false},
		{"ok", &checkers.Result{Status: checkers.StatusOK}, false},
		{"unknown", &checkers.Result{Status: checkers.StatusUnknown}, false},
	} {
		if got := n.kept(tc.res); got != tc.want {
			t.Errorf("%s: kept = %t, want %t", tc.name, got, tc.want)
		}
	}
	if !slices.Equal(n.kinds, []string{"nonlinearizable"}) {
		t.Errorf("kinds %v", n.kinds)
	}
	// An anomaly without a key keeps only its kind.
	g := failureNature(&checkers.Result{Status: checkers.StatusViolation, Anomalies: []checkers.Anomaly{{Kind: "G-single"}}})
	if !g.kept(&checkers.Result{Status: checkers.StatusViolation, Anomalies: []checkers.Anomaly{{Kind: "G-single", Key: "x"}}}) {
		t.Error("keyless nature: a G-single on any key is the same failure")
	}
}

// staleHistory is 20 padding writes each read back, then write 1, write 2
// and a read returning read (1: stale, the only anomaly; 2: repaired).
func staleHistory(read int) []history.Op {
	var ops []history.Op
	at := int64(1000)
	for i := range 20 {
		ops = append(ops, writeOp(fmt.Sprintf("pw%d", i), at, at+5, 100+i))
		ops = append(ops, history.Op{OpID: fmt.Sprintf("pr%d", i), ProcessID: str("p-reader"), InvokeTS: i64(at + 10), CompleteTS: i64(at + 15),
			OpType: "read", Key: str("x"), Output: json.RawMessage(itoaJSON(100 + i)), TimeoutMarker: boolp(false), NodeSeen: str("n2")})
		at += 20
	}
	return append(ops, registerOps("z", at, read)...)
}

func TestReduceHistory(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	runs := map[int]*RunInfo{}
	for _, read := range []int{1, 2} {
		r, err := m.StartRun(ctx, sess.ID, "S1", "7", "smoke")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.RecordOps(ctx, r.ID, staleHistory(read)); err != nil {
			t.Fatal(err)
		}
		runs[read] = r
	}
	// Nothing checked yet: refused.
	if _, _, err := m.ReduceHistory(ctx, runs[1].ID, "", nil, nil); err == nil || !strings.Contains(err.Error(), "run_checker first") {
		t.Fatalf("reduce before a check: %v", err)
	}
	for read, r := range runs {
		res, err := m.RunChecker(ctx, r.ID, "linearizability", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]string{1: "violation", 2: "ok"}[read]; res.Status != want {
			t.Fatalf("read %d: %s, want %s", read, res.Status, want)
		}
	}
	// The repaired twin has no violation to reduce.
	if _, _, err := m.ReduceHistory(ctx, runs[2].ID, "linearizability", nil, nil); err == nil || !strings.Contains(err.Error(), "not a violation") {
		t.Fatalf("reduce a clean run: %v", err)
	}
	// A cancelled call does nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := m.ReduceHistory(cctx, runs[1].ID, "", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}

	// Cancelled once the full history failed again: the best so far (the
	// whole history) is stored, not minimal, with ctx's error.
	cctx, cancel = context.WithCancel(ctx)
	part, _, err := m.ReduceHistory(cctx, runs[1].ID, "", nil, func(done, total int) { cancel() })
	cancel()
	if !errors.Is(err, context.Canceled) || part == nil || part.Minimal || !part.Reproduced || part.To != part.From ||
		!strings.Contains(part.Record, "stopped before 1-minimal") {
		t.Fatalf("cancelled mid-way: %v, %+v", err, part)
	}

	calls := 0
	red, paths, err := m.ReduceHistory(ctx, runs[1].ID, "", map[string]any{"timeout": 10}, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range red.Events {
		kept = append(kept, e.String())
	}
	slices.Sort(kept)
	if !slices.Equal(kept, []string{"op zr1", "op zw1", "op zw2"}) || !red.Minimal || !red.Reproduced || red.From != 43 {
		t.Fatalf("reduced to %v: %+v", kept, red)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	want := []string{sess.Dir + "/artifacts/R1/reduction/" + checkers.ReducedHistoryFile, sess.Dir + "/artifacts/R1/reduction/" + checkers.ReductionFile}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(m.ws.Root(), p)); err != nil {
			t.Error(err)
		}
	}
	// Journaled: the record is on the timeline after a reopen, and in
	// the session log.
	m.Close()
	s, err := m.session(sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range s.timeline {
		found = found || strings.Contains(e.Text, red.Record)
	}
	if !found {
		t.Errorf("the reduction %q is not on the reopened session's timeline", red.Record)
	}
	logText, err := os.ReadFile(filepath.Join(m.ws.Root(), sess.Dir, "session-log.md"))
	if err != nil || !strings.Contains(string(logText), red.Record) {
		t.Errorf("session log lacks the reduction record (%v)", err)
	}
	// The model of the violating check cannot be changed.
	if _, _, err := m.ReduceHistory(ctx, runs[1].ID, "", map[string]any{"model": "kv"}, nil); err == nil || !strings.Contains(err.Error(), "options.model") {
		t.Errorf("model override: %v", err)
	}
}
