package session

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// registerOps returns a three-op register history starting at base whose
// final read returns read: 2 is linearizable, 1 is not (w2 completed
// before the read began).
func registerOps(prefix string, base int64, read int) []history.Op {
	w1 := writeOp(prefix+"w1", base, base+10, 1)
	w2 := writeOp(prefix+"w2", base+20, base+30, 2)
	rd := history.Op{OpID: prefix + "r1", ProcessID: str("p-reader"), InvokeTS: i64(base + 40), CompleteTS: i64(base + 50),
		OpType: "read", Key: str("x"), Output: json.RawMessage(itoaJSON(read)), TimeoutMarker: boolp(false), NodeSeen: str("n2")}
	return []history.Op{w1, w2, rd}
}

func TestAssignVerdictFlow(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	// No run: the error names start_run.
	if _, _, err := m.AssignVerdict(ctx, sess.ID, "S1", nil, nil); err == nil || !strings.Contains(err.Error(), "start_run") {
		t.Fatalf("verdict without a run: %v", err)
	}
	r1, err := m.StartRun(ctx, sess.ID, "S1", "7", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AssignVerdict(ctx, sess.ID, "S1", nil, nil); err == nil || !strings.Contains(err.Error(), "record_op") {
		t.Fatalf("verdict without a history: %v", err)
	}
	if _, _, err := m.RecordOps(ctx, r1.ID, registerOps("a", 1000, 1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AssignVerdict(ctx, sess.ID, r1.ID, nil, nil); err == nil || !strings.Contains(err.Error(), "run_checker linearizability") {
		t.Fatalf("verdict without a checker result: %v", err)
	}
	if res, err := m.RunChecker(ctx, r1.ID, "linearizability", nil, nil); err != nil || res.Status != "violation" {
		t.Fatalf("checker: %+v %v", res, err)
	}
	d, path, err := m.AssignVerdict(ctx, sess.ID, "S1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != FailNondeterministic {
		t.Fatalf("one violating run: %s (%v)", d.Verdict, d.Reasons)
	}
	if path != sess.Dir+"/findings/S1.md" {
		t.Fatalf("findings path %s", path)
	}
	body, err := os.ReadFile(filepath.Join(m.ws.Root(), path))
	if err != nil || !strings.Contains(string(body), string(FailNondeterministic)) {
		t.Fatalf("findings file: %v\n%s", err, body)
	}

	// A same-seed re-run with the same (empty) fault schedule violates
	// again: FAIL-reproducible.
	r2, err := m.StartRun(ctx, sess.ID, "S1", "7", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.RecordOps(ctx, r2.ID, registerOps("b", 5000, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RunChecker(ctx, r2.ID, "linearizability", nil, nil); err != nil {
		t.Fatal(err)
	}
	facts, err := m.Facts(sess.ID, "S1")
	if err != nil {
		t.Fatal(err)
	}
	if len(facts.Runs) != 2 || facts.Runs[0].FaultSchedule != facts.Runs[1].FaultSchedule || facts.Runs[0].Seed != "7" {
		t.Fatalf("facts runs: %+v", facts.Runs)
	}
	if rf := facts.Runs[0]; rf.Ops != 3 || rf.StartNS != 1000 || rf.EndNS != 1050 || !rf.MonotonicTS || rf.Nodes != 2 {
		t.Fatalf("run facts: %+v", rf)
	}
	d, _, err = m.AssignVerdict(ctx, sess.ID, "S1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != FailReproducible {
		t.Fatalf("two same-seed violating runs: %s (%v)", d.Verdict, d.Reasons)
	}

	// The verdict is journaled: after a restart the session log shows it.
	m.Close()
	if _, err := m.OpenSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(m.ws.Root(), sess.Dir, sessionLogName))
	if !strings.Contains(string(log), "| S1 | "+string(FailReproducible)) {
		t.Fatalf("session log lacks the verdict:\n%s", log)
	}
}

func TestAssignVerdictCleanRunIsNotFail(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, _ := m.StartSession(ctx, "kvr-replication")
	r, err := m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	m.RecordOps(ctx, r.ID, registerOps("c", 100, 2))
	if res, err := m.RunChecker(ctx, r.ID, "linearizability", nil, nil); err != nil || res.Status != "ok" {
		t.Fatalf("checker: %+v %v", res, err)
	}
	d, _, err := m.AssignVerdict(ctx, sess.ID, "S1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict.IsFail() || d.Verdict == PassHardening || len(d.Reasons) == 0 {
		t.Fatalf("clean smoke run without faults: %s %v", d.Verdict, d.Reasons)
	}
}

func TestFactsCarryLedgerEvidence(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, _ := m.StartSession(ctx, "kvr-replication")
	r, err := m.StartRun(ctx, sess.ID, "S1", "1", "hardening")
	if err != nil {
		t.Fatal(err)
	}
	writeNow(t, m, "drops", "0\n")
	writeNow(t, m, "client.log", "")
	done := writeWhenMeasured(t, m, r.ID, "F1", "drops", "250\n")
	done2 := writeWhenMeasured(t, m, r.ID, "F1", "client.log", "timeout talking to n1\n")
	e, err := m.InjectExternal(ctx, r.ID, ExternalFault{
		Kind: "partition", Targets: []string{"n1", "n3"}, Params: map[string]any{"direction": "in"},
		Probe:       Probe{Command: []string{"cat", "drops"}, Expect: "increases"},
		VictimProbe: &Probe{File: "client.log", Pattern: "timeout", Expect: "increases"},
		DurationMS:  400,
	})
	<-done
	<-done2
	if err != nil || !e.Landed || e.Victim == nil || !e.Victim.Changed {
		t.Fatalf("inject: %+v %+v %v", e, e.Victim, err)
	}
	writeNow(t, m, "drops", "0\n")
	if _, err := m.HealFault(ctx, r.ID, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	f, err := m.Facts(sess.ID, r.Name)
	if err != nil {
		t.Fatal(err)
	}
	if f.Scenario != "S1" || !f.FaultPlanned || !f.Serious || f.DeclaredChecker != "linearizability" {
		t.Fatalf("scenario facts: %+v", f)
	}
	ff := f.Runs[0].Faults[0]
	if !ff.Landed || !ff.Healed || !ff.External || !ff.Asymmetric || ff.VictimEvidence == "" || !strings.Contains(ff.Evidence, "250") {
		t.Fatalf("fault facts: %+v", ff)
	}
	if f.Runs[0].FaultSchedule != "partition[n1,n3]" || f.Runs[0].Nodes != 2 {
		t.Fatalf("run facts: %+v", f.Runs[0])
	}
}
