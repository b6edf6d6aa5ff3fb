package session

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

// planManager returns a manager whose workspace holds the kvr-replication
// plan (plan/testdata/kvstore.md), with edit applied to its text.
func planManager(t *testing.T, edit func(string) string) *Manager {
	t.Helper()
	src, err := os.ReadFile("../plan/testdata/kvstore.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if edit != nil {
		text = edit(text)
	}
	m := newTestManager(t)
	dir := filepath.Join(m.ws.Root(), plansDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kvr-replication.md"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStartSessionFromPlan(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	for _, ref := range []string{"kvr-replication", "testing-plans/kvr-replication.md"} {
		info, err := m.StartSession(ctx, ref)
		if err != nil {
			t.Fatalf("StartSession(%q): %v", ref, err)
		}
		if info.Slug != "kvr-replication" || info.Plan != "testing-plans/kvr-replication.md" || !strings.HasPrefix(info.SUT, "kvr") {
			t.Fatalf("session info %+v", info)
		}
		if !strings.HasPrefix(info.Dir, "test-sessions/kvr-replication/") {
			t.Fatalf("session dir %s", info.Dir)
		}
		log, err := os.ReadFile(filepath.Join(m.ws.Root(), info.Dir, sessionLogName))
		if err != nil || !strings.Contains(string(log), "kvr (replicated") {
			t.Fatalf("session log: %v\n%s", err, log)
		}
	}
	for _, ref := range []string{"", "no-such-plan", "../outside.md", "/etc/passwd"} {
		if _, err := m.StartSession(ctx, ref); err == nil {
			t.Errorf("StartSession(%q) succeeded", ref)
		}
	}
}

func TestStartRun(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := m.StartRun(ctx, sess.ID, "S1", "42", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if r1.ID != sess.ID+"/R1" || r1.Scenario != "S1" || r1.Model != "register" || r1.Checker != "linearizability" || len(r1.SameSeed) != 0 {
		t.Fatalf("run 1: %+v", r1)
	}
	if !strings.Contains(r1.Budget, "60s") || !strings.Contains(r1.FaultSchedule, "SIGKILL") {
		t.Fatalf("run 1 lost the plan's budget or faults: %+v", r1)
	}
	r2, err := m.StartRun(ctx, sess.ID, "s1", "42", "Hardening")
	if err != nil {
		t.Fatal(err)
	}
	r3, err := m.StartRun(ctx, sess.ID, "S1", "43", "hardening")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r2.SameSeed, ",") != r1.ID || len(r3.SameSeed) != 0 {
		t.Fatalf("same-seed links: R2 %v, R3 %v", r2.SameSeed, r3.SameSeed)
	}
	if r1, _ = m.Run(r1.ID); strings.Join(r1.SameSeed, ",") != r2.ID {
		t.Fatalf("R1 not linked back to R2: %v", r1.SameSeed)
	}
	if _, err := os.Stat(filepath.Join(m.ws.Root(), r1.Dir)); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	tests := []struct{ scenario, seed, tier, want string }{
		{"S1", "1", "soak", "tier"},
		{"S1", "", "smoke", "seed"},
		{"S9", "1", "smoke", "no scenario S9"},
		{"S4/nope", "1", "smoke", "no arm"},
	}
	for _, tt := range tests {
		if _, err := m.StartRun(ctx, sess.ID, tt.scenario, tt.seed, tt.tier); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("StartRun(%s, %q, %q) = %v, want an error containing %q", tt.scenario, tt.seed, tt.tier, err, tt.want)
		}
	}
}

func TestStartRunRefusesNonCheckableOracle(t *testing.T) {
	const vague = "- **Oracle:** the cluster logs look fine after the failover"
	m := planManager(t, func(s string) string {
		i := strings.Index(s, "### Scenario S2")
		j := i + strings.Index(s[i:], "- **Oracle:**")
		k := j + strings.Index(s[j:], "\n")
		return s[:j] + vague + s[k:]
	})
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.StartRun(ctx, sess.ID, "S2", "1", "smoke")
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("StartRun on a vague oracle = %v, want a *RefusedError", err)
	}
	msg := err.Error()
	for _, want := range []string{"scenario S2 has no machine-checkable oracle", "fix the plan's §7 oracle and re-run lint_plan", "look fine"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q lacks %q", msg, want)
		}
	}
	if info, _ := m.OpenSession(sess.ID); len(info.Runs) != 0 {
		t.Fatalf("a refused run was recorded: %v", info.Runs)
	}
	// The other scenarios still run, and fixing the plan un-refuses S2.
	if _, err := m.StartRun(ctx, sess.ID, "S1", "1", "smoke"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(m.ws.Root(), plansDir, "kvr-replication.md")
	src, _ := os.ReadFile(path)
	fixed := strings.Replace(string(src), vague, "- **Oracle:** slo-threshold: the write gap after the fault is ≤ 10 s", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartRun(ctx, sess.ID, "S2", "1", "smoke"); err != nil {
		t.Fatalf("S2 after fixing its oracle: %v", err)
	}
}

func TestStartRunRefusesScenarioFailingLint(t *testing.T) {
	m := planManager(t, func(s string) string {
		// S1 falsifies a claim that does not exist: a lint error on S1.
		return strings.Replace(s, "- **Falsifies if it FAILs:** C1\n", "- **Falsifies if it FAILs:** C99\n", 1)
	})
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.ws.ReadFile("testing-plans/kvr-replication.md")
	parsed, _ := plan.Parse(p)
	var onS1 []plan.Diagnostic
	for _, d := range plan.Lint(parsed) {
		if d.Severity == plan.SeverityError && d.ID == "S1" {
			onS1 = append(onS1, d)
		}
	}
	if len(onS1) == 0 {
		t.Skip("lint reports no error on S1 for an unknown claim id; nothing to refuse")
	}
	_, err = m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	var refused *RefusedError
	if !errors.As(err, &refused) || len(refused.Diagnostics) != len(onS1) || !strings.Contains(err.Error(), "fails lint") {
		t.Fatalf("StartRun = %v, want a refusal citing %d lint errors", err, len(onS1))
	}
}

func TestRecordStateAndRunChecker(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	run, err := m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	// A register history whose read returns a value never written: not
	// linearizable.
	w1 := writeOp("w1", 0, 10, 1)
	w2 := writeOp("w2", 20, 30, 2)
	rd := history.Op{OpID: "r1", ProcessID: str("p9"), InvokeTS: i64(40), CompleteTS: i64(50), OpType: "read",
		Key: str("x"), Output: json.RawMessage(`1`), TimeoutMarker: boolp(false), NodeSeen: str("n1")}
	if _, rej, err := m.RecordOps(ctx, run.ID, []history.Op{w1, w2, rd}); err != nil || len(rej) != 0 {
		t.Fatalf("record: %v %v", rej, err)
	}
	var calls int
	res, err := m.RunChecker(ctx, run.ID, "linearizability", nil, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "violation" || res.OpsTotal != 3 || res.Model != "register" {
		t.Fatalf("result %+v", res)
	}
	checks, _ := m.Checks(run.ID)
	if len(checks) != 1 || checks[0].Result.Status != "violation" {
		t.Fatalf("check not journaled: %+v", checks)
	}
	for _, a := range res.Artifacts {
		if !strings.HasPrefix(a, filepath.Join(m.ws.Root(), run.Dir, "linearizability")) {
			t.Errorf("artifact %s outside artifacts/<run>/linearizability/", a)
		}
	}
	// The repaired twin: the read returns the last write.
	run2, _ := m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	rd.Output = json.RawMessage(`2`)
	m.RecordOps(ctx, run2.ID, []history.Op{w1, w2, rd})
	if res, err := m.RunChecker(ctx, run2.ID, "linearizability", nil, nil); err != nil || res.Status != "ok" {
		t.Fatalf("repaired twin: %+v %v", res, err)
	}

	// States: data or a workspace file (JSON Lines becomes an array).
	if _, err := m.RecordState(ctx, run.ID, "final-state", "n1", json.RawMessage(`{"x":2}`), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.ws.Root(), "series.jsonl"), []byte("{\"t\":1,\"v\":3}\n{\"t\":2,\"v\":4}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := m.RecordState(ctx, run.ID, "metric-series", "p99", nil, "series.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := m.ws.ReadFile(st.Path)
	if string(body) != `[{"t":1,"v":3},{"t":2,"v":4}]` || !strings.Contains(st.Path, "/state/metric-series/p99.json") {
		t.Fatalf("stored %s at %s", body, st.Path)
	}
	bad := []struct {
		kind, name, file string
		data             string
		want             string
	}{
		{"dump", "n1", "", `{}`, "kind"},
		{"final-state", "../n1", "", `{}`, "name"},
		{"final-state", "n1", "", ``, "exactly one"},
		{"final-state", "n1", "series.jsonl", `{}`, "exactly one"},
		{"final-state", "n1", "", `{not json`, "JSON"},
		{"final-state", "n1", "../outside/secret", ``, "escapes"},
	}
	for _, b := range bad {
		if _, err := m.RecordState(ctx, run.ID, b.kind, b.name, json.RawMessage(b.data), b.file); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("RecordState(%s, %s, %s, %q) = %v, want %q", b.kind, b.name, b.file, b.data, err, b.want)
		}
	}

	// Errors name what exists.
	if _, err := m.RunChecker(ctx, run.ID, "frobnicator", nil, nil); err == nil || !strings.Contains(err.Error(), "linearizability") {
		t.Fatalf("unknown checker: %v", err)
	}
	if _, err := m.RunChecker(ctx, run.ID, "linearizability", map[string]any{"model": "ledger-of-doom"}, nil); err == nil || !strings.Contains(err.Error(), "register") {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestImportHistory(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	ctx := context.Background()
	corpus := "../../shared/corpus/knossos/cas-register/bad/cas-failure.edn"
	if _, err := os.Stat(corpus); err != nil {
		corpus = "/work/shared/corpus/knossos/cas-register/bad/cas-failure.edn"
	}
	src, err := os.ReadFile(corpus)
	if err != nil {
		t.Skip("corpus not available: ", err)
	}
	if err := os.WriteFile(filepath.Join(m.ws.Root(), "cas-failure.edn"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := m.ImportHistory(ctx, run.ID, "cas-failure.edn", "jepsen-edn")
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := m.History(run.ID)
	if res.Accepted == 0 || res.Accepted != len(ops) || res.Mapping == "" {
		t.Fatalf("import: %+v, %d ops stored", res, len(ops))
	}
	if got := historyFileIDs(t, m, run); len(got) != len(ops) {
		t.Fatalf("history.jsonl has %d rows, want %d", len(got), len(ops))
	}
	// Importing the same file again: every row is a duplicate.
	res2, err := m.ImportHistory(ctx, run.ID, "cas-failure.edn", "jepsen-edn")
	if err != nil || res2.Accepted != 0 || len(res2.Rejected) != res.Accepted {
		t.Fatalf("re-import: %+v %v", res2, err)
	}
	for _, p := range []string{"../outside/secret", "/etc/passwd"} {
		if _, err := m.ImportHistory(ctx, run.ID, p, "jsonl"); !errors.Is(err, ErrEscape) {
			t.Errorf("ImportHistory(%q) = %v, want ErrEscape", p, err)
		}
	}
	if _, err := m.ImportHistory(ctx, run.ID, "cas-failure.edn", "csv"); err == nil || !strings.Contains(err.Error(), "jepsen-edn") {
		t.Errorf("unknown format: %v", err)
	}
}

func TestImportHistoryNemesisWindows(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	ctx := context.Background()
	edn := `[{:process 0, :type :invoke, :f :write, :value 1, :time 100}
{:process 0, :type :ok, :f :write, :value 1, :time 200}
{:process :nemesis, :type :info, :f :start, :value "partition", :time 300}
{:process 1, :type :invoke, :f :read, :value nil, :time 400}
{:process 1, :type :ok, :f :read, :value 1, :time 500}
{:process :nemesis, :type :info, :f :stop, :value "healed", :time 600}
{:process 0, :type :invoke, :f :write, :value 2, :time 700}
{:process 0, :type :ok, :f :write, :value 2, :time 800}]`
	if err := os.WriteFile(filepath.Join(m.ws.Root(), "h.edn"), []byte(edn), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := m.ImportHistory(ctx, run.ID, "h.edn", "jepsen-edn")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.Ledger(run.ID)
	if len(l) != 1 {
		t.Skipf("the importer declared %d windows for a :start/:stop nemesis pair (mapping: %s)", len(l), res.Mapping)
	}
	e := l[0]
	if e.ID != "F1" || e.Origin != OriginImported || e.Landed || e.End == nil || e.Start != 300 {
		t.Fatalf("imported epoch %+v", e)
	}
	ops, _ := m.History(run.ID)
	in := 0
	for _, op := range ops {
		if op.FaultEpoch != nil {
			if *op.FaultEpoch != "F1" {
				t.Errorf("op %s epoch %s, want F1", op.OpID, *op.FaultEpoch)
			}
			in++
		}
	}
	if in != 1 {
		t.Fatalf("%d ops in the nemesis window, want 1 (the read)", in)
	}
}
