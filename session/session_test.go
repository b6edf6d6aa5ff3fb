package session

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// newTestManager returns a manager on a fresh workspace.
func newTestManager(t *testing.T) *Manager {
	t.Helper()
	w, _ := newTestWorkspace(t)
	m := NewManager(w)
	t.Cleanup(func() { m.Close() })
	return m
}

// newTestSession creates a session without a plan file, for tests of the
// journal, ledger and history paths that do not depend on the plan.
func newTestSession(t *testing.T, m *Manager) *SessionInfo {
	t.Helper()
	info, err := m.createSession("kv", "testing-plans/kv.md", "kvd", []byte("# Test Plan: kv\n"))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// newTestRun starts a run of scenario with seed in the session.
func newTestRun(t *testing.T, m *Manager, sessionID, scenario, seed, model string) *RunInfo {
	t.Helper()
	s, err := m.session(sessionID)
	if err != nil {
		t.Fatal(err)
	}
	info, err := m.createRun(s, factRun{
		Scenario: scenario, Seed: seed, Tier: "smoke", Model: model,
		Oracle: "linearizability", Checker: "linearizability",
	})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func str(s string) *string { return &s }
func i64(n int64) *int64   { return &n }
func boolp(b bool) *bool   { return &b }

// writeOp returns a completed register write.
func writeOp(id string, invoke, complete int64, v int) history.Op {
	return history.Op{
		OpID: id, ProcessID: str("p" + id), InvokeTS: i64(invoke), CompleteTS: i64(complete),
		OpType: "write", Key: str("x"), Input: json.RawMessage(itoaJSON(v)),
		TimeoutMarker: boolp(false), NodeSeen: str("n1"),
	}
}

func itoaJSON(v int) string { b, _ := json.Marshal(v); return string(b) }

// dumpState renders everything a session knows, for comparisons across a
// reopen.
func dumpState(t *testing.T, m *Manager, sessionID string) string {
	t.Helper()
	info, err := m.OpenSession(sessionID)
	if err != nil {
		t.Fatal(err)
	}
	info.Repairs = nil
	out := map[string]any{"session": info}
	for _, id := range info.Runs {
		run, err := m.Run(id)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := m.History(id)
		l, _ := m.Ledger(id)
		st, _ := m.States(id)
		ch, _ := m.Checks(id)
		out[id] = map[string]any{"info": run, "history": h, "ledger": l, "states": st, "checks": ch}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// historyFileIDs reads the op ids in a run's history.jsonl.
func historyFileIDs(t *testing.T, m *Manager, run *RunInfo) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(m.ws.Root(), run.Dir, historyName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.ReadJSONL(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, op := range ops {
		ids = append(ids, op.OpID)
	}
	return ids
}

func TestSessionLayout(t *testing.T) {
	m := newTestManager(t)
	info := newTestSession(t, m)
	if !sessionIDRE.MatchString(info.ID) || !strings.HasPrefix(info.ID, "kv/") {
		t.Fatalf("session id %q", info.ID)
	}
	for _, p := range []string{"session-log.md", "journal.jsonl", "logs", "metrics", "artifacts", "findings"} {
		if _, err := os.Stat(filepath.Join(m.ws.Root(), info.Dir, p)); err != nil {
			t.Errorf("session directory lacks %s: %v", p, err)
		}
	}
	// A second session in the same second gets its own directory.
	info2 := newTestSession(t, m)
	if info2.ID == info.ID {
		t.Fatalf("two sessions share id %s", info.ID)
	}
	for _, bad := range []string{"", "kv", "../x/20260101T000000Z", "kv/20260101T000000Z/../../etc", "kv/20990101T000000Z"} {
		if _, err := m.OpenSession(bad); err == nil {
			t.Errorf("OpenSession(%q) succeeded", bad)
		}
	}
}

func TestRecordOpsRejectionsDoNotPoisonTheBatch(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	ctx := context.Background()

	timedOutWithOutput := writeOp("3", 30, 0, 3)
	timedOutWithOutput.CompleteTS = nil
	timedOutWithOutput.TimeoutMarker = boolp(true)
	timedOutWithOutput.Output = json.RawMessage(`3`)
	batch := []history.Op{
		writeOp("1", 10, 20, 1),
		writeOp("1", 11, 21, 9), // duplicate within the batch
		timedOutWithOutput,
		{OpID: "", OpType: "read"},
		writeOp("2", 40, 50, 2),
	}
	acc, rej, err := m.RecordOps(ctx, run.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 2 || len(rej) != 3 {
		t.Fatalf("accepted %d, rejected %v; want 2 and 3", acc, rej)
	}
	wantIdx := []int{1, 2, 3}
	wantField := []string{"op_id", "output", "op_id"}
	for i, r := range rej {
		if r.Index != wantIdx[i] || r.Field != wantField[i] || r.Reason == "" {
			t.Errorf("rejection %d = %+v, want index %d field %s", i, r, wantIdx[i], wantField[i])
		}
	}
	// A later batch cannot reuse an id either, and its good rows land.
	acc, rej, err = m.RecordOps(ctx, run.ID, []history.Op{writeOp("2", 60, 70, 5), writeOp("4", 60, 70, 4)})
	if err != nil || acc != 1 || len(rej) != 1 || rej[0].OpID != "2" {
		t.Fatalf("second batch: %d, %v, %v", acc, rej, err)
	}
	if got := strings.Join(historyFileIDs(t, m, run), ","); got != "1,2,4" {
		t.Fatalf("history.jsonl holds %s, want 1,2,4", got)
	}
	info, _ := m.Run(run.ID)
	if info.Ops != 3 || info.Rejected != 4 {
		t.Fatalf("run counts ops=%d rejected=%d, want 3 and 4", info.Ops, info.Rejected)
	}
	// The rejections are journaled: they survive a reopen.
	m.Close()
	info, _ = m.Run(run.ID)
	if info.Ops != 3 || info.Rejected != 4 {
		t.Fatalf("after reopen ops=%d rejected=%d", info.Ops, info.Rejected)
	}
	if _, _, err := m.RecordOps(ctx, sess.ID+"/R9", batch); err == nil || !strings.Contains(err.Error(), "R1") {
		t.Fatalf("unknown run: %v", err)
	}
}

func TestReopenRebuildsStateFromTheJournal(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	r1 := newTestRun(t, m, sess.ID, "S1", "7", "register")
	r2 := newTestRun(t, m, sess.ID, "S1", "7", "register")
	newTestRun(t, m, sess.ID, "S1", "8", "register")
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, _, err := m.RecordOps(ctx, r1.ID, []history.Op{writeOp("a"+itoaJSON(i), int64(i*10), int64(i*10+5), i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.RecordState(ctx, r1.ID, "final-state", "n1", json.RawMessage(`{"x": 9}`), ""); err != nil {
		t.Fatal(err)
	}
	want := dumpState(t, m, sess.ID)
	m.Close()
	if got := dumpState(t, m, sess.ID); got != want {
		t.Fatalf("state after reopen differs:\n got %s\nwant %s", got, want)
	}

	// Same-seed runs are linked both ways.
	info, _ := m.Run(r2.ID)
	if strings.Join(info.SameSeed, ",") != r1.ID {
		t.Fatalf("R2 same-seed = %v, want [%s]", info.SameSeed, r1.ID)
	}

	// Tear the journal's last line as a crash mid-write would: the state
	// is the same minus the torn fact, and the repair is recorded.
	jpath := filepath.Join(m.ws.Root(), sess.Dir, journalName)
	m.Close()
	before := dumpState(t, m, sess.ID)
	m.Close()
	f, err := os.OpenFile(jpath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := `{"seq":99,"type":"ops-recorded","time":"2026-01-01T00:00:00Z","data":{"run":"R1","ops":[{"op_id":"torn"`
	f.WriteString(torn)
	f.Close()
	if got := dumpState(t, m, sess.ID); got != before {
		t.Fatalf("state after torn-line repair differs:\n got %s\nwant %s", got, before)
	}
	si, _ := m.OpenSession(sess.ID)
	if len(si.Repairs) != 1 || si.Repairs[0].Dropped != len(torn) {
		t.Fatalf("repairs = %+v, want one of %d bytes", si.Repairs, len(torn))
	}
	log, _ := os.ReadFile(filepath.Join(m.ws.Root(), sess.Dir, sessionLogName))
	if !strings.Contains(string(log), "journal repaired") {
		t.Fatalf("session log does not mention the repair:\n%s", log)
	}
	// And the repaired journal keeps working.
	if _, _, err := m.RecordOps(ctx, r1.ID, []history.Op{writeOp("torn", 500, 505, 1)}); err != nil {
		t.Fatal(err)
	}
}

func TestReopenRebuildsShortHistoryFile(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	ctx := context.Background()
	var batch []history.Op
	for i := 0; i < 50; i++ {
		batch = append(batch, writeOp("o"+itoaJSON(i), int64(i), int64(i+1), i))
	}
	if _, _, err := m.RecordOps(ctx, run.ID, batch); err != nil {
		t.Fatal(err)
	}
	m.Close()
	hpath := filepath.Join(m.ws.Root(), run.Dir, historyName)
	data, _ := os.ReadFile(hpath)
	// Keep 20 whole lines and half of the 21st.
	cut := 0
	for n := 0; n < 20; n++ {
		cut += strings.IndexByte(string(data[cut:]), '\n') + 1
	}
	cut += 10
	if err := os.WriteFile(hpath, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	ids := historyFileIDs(t, m, run)
	if len(ids) != 50 || ids[49] != "o49" {
		t.Fatalf("history.jsonl not rebuilt: %d rows", len(ids))
	}
	if got, _ := os.ReadFile(hpath); string(got) != string(data) {
		t.Fatalf("rebuilt history.jsonl differs from the original")
	}
}

func TestConcurrentRecordOps(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	sessA := newTestSession(t, m)
	sessB := newTestSession(t, m)
	runs := []*RunInfo{
		newTestRun(t, m, sessA.ID, "S1", "1", "register"),
		newTestRun(t, m, sessA.ID, "S1", "2", "register"),
		newTestRun(t, m, sessB.ID, "S1", "1", "register"),
	}
	const writers, batches, size = 4, 10, 25
	errs := make(chan error, writers*len(runs))
	for _, run := range runs {
		for w := 0; w < writers; w++ {
			go func(run *RunInfo, w int) {
				for b := 0; b < batches; b++ {
					var batch []history.Op
					for i := 0; i < size; i++ {
						ts := int64((b*size + i) * 10)
						// Every writer also replays another writer's id:
						// exactly one of the two must win.
						id := itoaJSON(w) + "-" + itoaJSON(b) + "-" + itoaJSON(i)
						if i == 0 {
							id = "shared-" + itoaJSON(b)
						}
						batch = append(batch, writeOp(id, ts, ts+5, i))
					}
					if _, _, err := m.RecordOps(ctx, run.ID, batch); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}(run, w)
		}
	}
	for i := 0; i < writers*len(runs); i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := writers*batches*(size-1) + batches
	for _, run := range runs {
		ops, _ := m.History(run.ID)
		seen := map[string]bool{}
		for _, op := range ops {
			if seen[op.OpID] {
				t.Fatalf("run %s: op %s stored twice", run.ID, op.OpID)
			}
			seen[op.OpID] = true
		}
		if len(ops) != want {
			t.Fatalf("run %s: %d ops, want %d", run.ID, len(ops), want)
		}
		if ids := historyFileIDs(t, m, run); len(ids) != want {
			t.Fatalf("run %s: history.jsonl has %d rows, want %d", run.ID, len(ids), want)
		}
	}
	// The journal agrees after a reopen.
	before := dumpState(t, m, sessA.ID)
	m.Close()
	if after := dumpState(t, m, sessA.ID); after != before {
		t.Fatal("state differs after reopen")
	}
}

func TestFailedJournalAppendLeavesStateUnchanged(t *testing.T) {
	m := newTestManager(t)
	ctx := context.Background()
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	s, _ := m.session(sess.ID)
	s.j.Close() // every append now fails
	batch := []history.Op{writeOp("x1", 1, 2, 1), writeOp("x2", 3, 4, 2)}
	for i := 0; i < 2; i++ {
		acc, _, err := m.RecordOps(ctx, run.ID, batch)
		if err == nil || acc != 0 || strings.Contains(err.Error(), "duplicate") {
			t.Fatalf("attempt %d: accepted %d, %v; want the journal error, not a duplicate", i, acc, err)
		}
	}
	if ops, _ := m.History(run.ID); len(ops) != 0 {
		t.Fatalf("unjournaled ops in memory: %d", len(ops))
	}
	m.Close()
	acc, rej, err := m.RecordOps(ctx, run.ID, batch)
	if err != nil || acc != 2 || len(rej) != 0 {
		t.Fatalf("after reopen: %d %v %v", acc, rej, err)
	}
}
