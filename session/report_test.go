package session

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/report")

// tickClock is a deterministic clock: every reading is one second after
// the previous one.
type tickClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tickClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// stableEnv replaces the plan's §6b with requirements every host that
// runs these tests meets (the go tool runs them), so that the reports do
// not depend on the host's kernel.
func stableEnv(src string) string {
	i := strings.Index(src, "## 6b.")
	j := strings.Index(src, "## 7.")
	return src[:i] + "## 6b. Environment requirements\n\n| Requirement | Version floor | Used by scenarios | Install hint |\n|---|---|---|---|\n" +
		"| Go toolchain | 1.22 | S1, S2, S3, S4, S5 | https://go.dev/dl |\n\n" + src[j:]
}

// reportManager returns a manager on a workspace holding the kvr plan
// with a stable §6b (then edited by edit), with a deterministic clock.
func reportManager(t *testing.T, edit func(string) string) (*Manager, *tickClock) {
	t.Helper()
	m := planManager(t, func(s string) string {
		s = stableEnv(s)
		if edit != nil {
			s = edit(s)
		}
		return s
	})
	clk := &tickClock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	m.now = clk.now
	return m, clk
}

// counterProbe is a command probe whose value rises by one on every
// reading: a fault measured with it lands, deterministically.
func counterProbe(file string) Probe {
	return Probe{Command: []string{"sh", "-c", "n=$(cat " + file + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + file + "; echo $n"}, Expect: "increases"}
}

// flatProbe is a command probe whose value never changes: a fault
// measured with it did not land.
func flatProbe() Probe {
	return Probe{Command: []string{"echo", "0"}, Expect: "increases"}
}

// injectLanded injects a fault that lands and heals it, with a victim
// probe that changes too.
func injectLanded(t *testing.T, m *Manager, runID, kind string, params map[string]any, targets ...string) {
	t.Helper()
	ctx := context.Background()
	victim := counterProbe("victim-count")
	e, err := m.InjectExternal(ctx, runID, ExternalFault{
		Kind: kind, Targets: targets, Params: params, Probe: counterProbe("drop-count"), VictimProbe: &victim,
	})
	if err != nil || !e.Landed {
		t.Fatalf("inject %s: %+v %v", kind, e, err)
	}
	heal := counterProbe("drop-count")
	if h, err := m.HealFault(ctx, runID, e.ID, &heal); err != nil || !h.Heal.Recovered {
		t.Fatalf("heal %s: %+v %v", e.ID, h, err)
	}
}

// linearOps is a clean register history over three nodes spanning span:
// w1, w2, then a read of 2.
func linearOps(prefix string, base int64, span time.Duration) []history.Op {
	mid := base + int64(span/2)
	end := base + int64(span)
	w1 := writeOp(prefix+"w1", base, base+1e9, 1)
	w2 := writeOp(prefix+"w2", mid, mid+1e9, 2)
	w2.NodeSeen = str("n2")
	rd := history.Op{OpID: prefix + "r1", ProcessID: str("p-reader"), InvokeTS: i64(end), CompleteTS: i64(end + 1e9),
		OpType: "read", Key: str("x"), Output: json.RawMessage("2"), TimeoutMarker: boolp(false), NodeSeen: str("n3")}
	return []history.Op{w1, w2, rd}
}

// answers returns an audit with every item answered as holding, with
// evidence, except the not-applicable ones.
func answers(evidence map[string]string, na ...string) Audit {
	a := Audit{}
	for _, q := range AuditQuestions() {
		ev := "checked by hand against the run's logs and counters"
		if e, ok := evidence[q.Key]; ok {
			ev = e
		}
		a[q.Key] = Answer{Holds: boolp(true), Evidence: ev}
	}
	for _, k := range na {
		a[k] = Answer{NotApplicable: true, Evidence: "does not apply to this scenario"}
	}
	return a
}

// onlyS1 removes every scenario but S1 from the plan.
func onlyS1(src string) string {
	i := strings.Index(src, "### Scenario S2")
	j := strings.Index(src, "## 7b.")
	return src[:i] + src[j:]
}

// buildPassing builds a session whose only scenario, S1, reaches
// PASS-hardening on five seeds.
func buildPassing(t *testing.T) (*Manager, *SessionInfo) {
	m, clk := reportManager(t, onlyS1)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	for i, seed := range []string{"11", "12", "13", "14", "15"} {
		r, err := m.StartRun(ctx, sess.ID, "S1", seed, "hardening")
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 6; k++ {
			kind, params := "kill", map[string]any(nil)
			if k%2 == 1 {
				kind, params = "partition", map[string]any{"direction": "in"}
			}
			injectLanded(t, m, r.ID, kind, params, "n1", "n2", "n3")
		}
		base := clk.now().UnixNano()
		if _, rej, err := m.RecordOps(ctx, r.ID, linearOps(string(rune('a'+i)), base, 11*time.Minute)); err != nil || len(rej) > 0 {
			t.Fatalf("record ops: %v %v", rej, err)
		}
		if res, err := m.RunChecker(ctx, r.ID, "linearizability", nil, nil); err != nil || res.Status != StatusOK {
			t.Fatalf("checker: %+v %v", res, err)
		}
	}
	audit := answers(map[string]string{
		AuditOracleEveryCycle: "linearizability consumed every op of every run (3 ops each)",
		AuditThreeSeeds:       "5 distinct seeds: 11, 12, 13, 14, 15",
	}, AuditFairBaseline, AuditStatsReplicated, AuditMultipleFailovers)
	d, _, err := m.AssignVerdict(ctx, sess.ID, "S1", audit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != PassHardening {
		t.Fatalf("S1 = %s, want %s: %v %v", d.Verdict, PassHardening, d.Reasons, d.Blockers)
	}
	return m, sess
}

// buildFailing builds a session where S1 violates linearizability twice
// on the same seed (FAIL-reproducible, finding complete) and the audit
// claims three seeds where the runs used one; the other scenarios never
// run.
func buildFailing(t *testing.T) (*Manager, *SessionInfo) {
	m, clk := reportManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	var runs []*RunInfo
	for i := 0; i < 2; i++ {
		r, err := m.StartRun(ctx, sess.ID, "S1", "7", "smoke")
		if err != nil {
			t.Fatal(err)
		}
		base := clk.now().UnixNano()
		if _, _, err := m.RecordOps(ctx, r.ID, registerOps(string(rune('a'+i)), base, 1)); err != nil {
			t.Fatal(err)
		}
		if res, err := m.RunChecker(ctx, r.ID, "linearizability", nil, nil); err != nil || res.Status != StatusViolation {
			t.Fatalf("checker: %+v %v", res, err)
		}
		runs = append(runs, r)
	}
	audit := Audit{
		AuditThreeSeeds:       {Holds: boolp(true), Evidence: "we ran 3 seeds"},
		AuditOracleEveryCycle: {Holds: boolp(true), Evidence: "linearizability consumed all 3 ops of each run"},
	}
	finding := &FindingFacts{
		Reproducer:    "falsify start_run S1 seed 7 tier smoke; replay artifacts/R1/history.jsonl",
		Reduction:     "not reduced: the history is already 3 ops",
		BlameClass:    "SUT",
		TaxDCType:     "ordering",
		Tags:          []string{"replication", "safety"},
		Severity:      "P0",
		EvidenceLinks: []string{"artifacts/R1/history.jsonl", "artifacts/R2/history.jsonl"},
		RootCause:     "backups answer reads from local state before applying the acknowledged write (server/read.go:42)",
		Owner:         "replication team",
		NextAction:    "gate backup reads on the applied sequence number; re-run S1 at hardening",
	}
	d, _, err := m.AssignVerdict(ctx, sess.ID, "S1", audit, finding)
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != FailReproducible {
		t.Fatalf("S1 = %s, want %s: %v", d.Verdict, FailReproducible, d.Reasons)
	}
	return m, sess
}

// buildInconclusive builds a session where S1's fault never landed and
// S5's checker lacked history fields; nothing passes.
func buildInconclusive(t *testing.T) (*Manager, *SessionInfo) {
	m, clk := reportManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := m.StartRun(ctx, sess.ID, "S1", "3", "hardening")
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.InjectExternal(ctx, r1.ID, ExternalFault{Kind: "partition", Targets: []string{"n1"}, Probe: flatProbe()})
	if err != nil || e.Landed {
		t.Fatalf("a flat probe landed: %+v %v", e, err)
	}
	if _, err := m.HealFault(ctx, r1.ID, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	base := clk.now().UnixNano()
	if _, _, err := m.RecordOps(ctx, r1.ID, linearOps("a", base, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RunChecker(ctx, r1.ID, "linearizability", nil, nil); err != nil {
		t.Fatal(err)
	}
	if d, _, err := m.AssignVerdict(ctx, sess.ID, "S1", nil, nil); err != nil || d.Verdict != InconclusiveFaultNotProven {
		t.Fatalf("S1 = %+v %v", d, err)
	}
	// S5: appends whose reads carry no offsets; no-lost-ack without a
	// final state cannot decide.
	r5, err := m.StartRun(ctx, sess.ID, "S5", "5", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	base = clk.now().UnixNano()
	ops := []history.Op{
		{OpID: "s5a1", ProcessID: str("p1"), InvokeTS: i64(base), CompleteTS: i64(base + 10), OpType: "append", Key: str("k1"), Input: json.RawMessage("1"), TimeoutMarker: boolp(false)},
		{OpID: "s5a2", ProcessID: str("p2"), InvokeTS: i64(base + 20), CompleteTS: i64(base + 30), OpType: "append", Key: str("k1"), Input: json.RawMessage("2"), TimeoutMarker: boolp(false)},
	}
	if _, _, err := m.RecordOps(ctx, r5.ID, ops); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RunChecker(ctx, r5.ID, "no-lost-ack", nil, nil); err != nil {
		t.Fatal(err)
	}
	if d, _, err := m.AssignVerdict(ctx, sess.ID, "S5", nil, nil); err != nil || !d.Verdict.IsInconclusive() {
		t.Fatalf("S5 = %+v %v", d, err)
	}
	return m, sess
}

// buildBlocked builds a session in which nothing ran.
func buildBlocked(t *testing.T) (*Manager, *SessionInfo) {
	m, _ := reportManager(t, nil)
	sess, err := m.StartSession(context.Background(), "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	return m, sess
}

// normalize blanks what may differ between hosts and runs: timestamps.
var stampRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`)

func normalize(b []byte) string {
	return stampRE.ReplaceAllString(string(b), "<time>")
}

func TestReportGolden(t *testing.T) {
	tests := []struct {
		name    string
		build   func(*testing.T) (*Manager, *SessionInfo)
		verdict SessionVerdict
		delta   string
		// want are strings the report must hold, beyond the golden.
		want []string
	}{
		{"passing", buildPassing, SessionDone, BelieveMore,
			[]string{"| S1 | linearizable_single_key_reads_writes_under_primary_failover | PASS-hardening | hardening |", "| H3 | Retry after failover applies twice | C3 | (none) | no | no scenario of the plan closes it |", "| C1 | safety | S1 | S1 PASS-hardening | met |"}},
		{"fail", buildFailing, SessionFail, BelieveLess,
			[]string{"### S1 linearizable_single_key_reads_writes_under_primary_failover — FAIL-reproducible", "- **Severity:** P0", "| 8.2.8-three-seeds | **contradicted** | we ran 3 seeds | answer says 3 seeds; the runs say ", "[R1/history.jsonl](../artifacts/R1/history.jsonl)", "| C1 | safety | S1 | S1 FAIL-reproducible | unmet | falsified: S1 FAIL-reproducible |"}},
		{"inconclusive", buildInconclusive, SessionInconclusive, BelieveUnchanged,
			[]string{"INCONCLUSIVE-fault-not-proven", "R1/F1 partition: NOT proven", "| S4/export | tenant_keys_invisible_to_other_tenants | NOT-RUN |"}},
		{"blocked", buildBlocked, SessionBlocked, BelieveUnchanged,
			[]string{"**Session verdict: BLOCKED** — nothing ran:", "| H1 | Stale read from a lagging backup | C1 | S1 NOT-RUN | no | S1 was never run |"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, sess := tt.build(t)
			rep, err := m.FinishSession(context.Background(), sess.ID, "confidence notes for "+tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tt.verdict || rep.Confidence.Delta != tt.delta {
				t.Fatalf("session verdict %s, delta %q; want %s, %q\nrule: %v", rep.Verdict, rep.Confidence.Delta, tt.verdict, tt.delta, rep.Rule)
			}
			got, err := os.ReadFile(filepath.Join(m.ws.Root(), rep.Report))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(got), "# Findings report: kvr-replication\n\n**Session verdict: "+string(tt.verdict)+"** — ") {
				t.Errorf("the report does not open with its headline:\n%s", firstLines(got, 3))
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("report lacks %q", w)
				}
			}
			checkMarkdown(t, got)
			golden := filepath.Join("testdata", "report", tt.name+".md")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(normalize(got)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestReportGolden -update to create it)", err)
			}
			if normalize(got) != string(want) {
				t.Errorf("report differs from %s (run with -update after checking the diff):\n%s", golden, diffLines(string(want), normalize(got)))
			}
		})
	}
}

// checkMarkdown parses a report with goldmark and checks that it renders
// cleanly: every table rectangular and its header first, headings where
// the report puts them.
func checkMarkdown(t *testing.T, src []byte) {
	t.Helper()
	doc := parseMarkdown(t, src)
	for i, tbl := range doc.tables {
		if len(tbl) < 2 {
			t.Errorf("table %d has no body row", i)
			continue
		}
		for j, row := range tbl {
			if len(row) != len(tbl[0]) {
				t.Errorf("table %d row %d has %d cells, header %d: %q", i, j, len(row), len(tbl[0]), row)
			}
		}
	}
	for _, h := range []string{"Scenarios", "Findings", "Hypothesis coverage", "Claim adequacy (§7b)", "Surface coverage (arms)", "Release-budget disclosures", "Confidence delta (§7d)", "Audits (SPEC §8)"} {
		if !hasString(doc.headings, h) {
			t.Errorf("report has no %q heading (headings: %q)", h, doc.headings)
		}
	}
	if strings.Contains(doc.html, "<p>|") {
		t.Errorf("a table did not parse as a table:\n%s", doc.html)
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// diffLines shows the first differing lines of two texts.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 12; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "line "+itoaJSON(i+1)+":\n- "+a+"\n+ "+b)
		}
	}
	return strings.Join(out, "\n")
}

func TestDecideSession(t *testing.T) {
	o := func(id string, v Verdict) Outcome { return Outcome{ID: id, Verdict: v} }
	withRepro := Outcome{ID: "S9", Verdict: FailNondeterministic, Reproducer: "seed 3, history artifacts/R4/history.jsonl"}
	tests := []struct {
		name string
		outs []Outcome
		want SessionVerdict
		why  string // in the first rule line
	}{
		{"no scenario", nil, SessionBlocked, "no scenario"},
		{"nothing ran", []Outcome{o("S1", NotRun), o("S2", NotRun)}, SessionBlocked, "S1 NOT-RUN, S2 NOT-RUN"},
		{"nothing could start", []Outcome{o("S1", InconclusiveEnv), o("S2", NotRun)}, SessionBlocked, "S1 INCONCLUSIVE-env"},
		{"reproducible fail beats passes", []Outcome{o("S1", PassHardening), o("S2", FailReproducible)}, SessionFail, "S2 FAIL-reproducible"},
		{"nondeterministic fail with a reproducer", []Outcome{o("S1", PassHardening), withRepro}, SessionFail, "S9 FAIL-nondeterministic"},
		{"nondeterministic fail without a reproducer is a concern", []Outcome{o("S1", PassHardening), o("S2", FailNondeterministic)}, SessionDoneWithConcerns, "S1 PASS-hardening"},
		{"unreproduced fail alone", []Outcome{o("S2", FailNondeterministic)}, SessionInconclusive, "S2 FAIL-nondeterministic without a reproducer"},
		{"every row passed", []Outcome{o("S1", PassHardening), o("S2", PassSmoke), o("S3/api", PassHardening)}, SessionDone, "S2 PASS-smoke"},
		{"a pass and an inconclusive", []Outcome{o("S1", PassHardening), o("S2", InconclusiveOracleTooWeak)}, SessionDoneWithConcerns, "PASS-hardening"},
		{"a pass and a partial", []Outcome{o("S1", PassSmoke), o("S2", PartialModel)}, SessionDoneWithConcerns, "S1 PASS-smoke"},
		{"a pass and an arm never reached", []Outcome{o("S4/api", PassHardening), o("S4/export", NotRun)}, SessionDoneWithConcerns, "S4/api"},
		{"a pass and a missing capability", []Outcome{o("S1", PassHardening), o("S2", InconclusiveEnv)}, SessionDoneWithConcerns, "S1"},
		{"no pass", []Outcome{o("S1", InconclusiveFaultNotProven), o("S2", PartialSurface), o("S3", NotRun)}, SessionInconclusive, "S1 INCONCLUSIVE-fault-not-proven"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rule := DecideSession(tt.outs)
			if got != tt.want {
				t.Fatalf("DecideSession = %s (%v), want %s", got, rule, tt.want)
			}
			if len(rule) == 0 || !strings.HasPrefix(rule[0], string(tt.want)+": ") || !strings.Contains(strings.Join(rule, " "), tt.why) {
				t.Errorf("rule %q does not name %q", rule, tt.why)
			}
		})
	}
}

// TestRegenerateReport checks that the report, its exports and the
// session log are rebuilt byte for byte from the journal alone, and that
// regenerating never writes to the journal.
func TestRegenerateReport(t *testing.T) {
	m, sess := buildFailing(t)
	ctx := context.Background()
	if _, err := m.DiscoverEnvironment(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := m.FinishSession(ctx, sess.ID, "regenerate me")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{rep.Report, rep.JUnit, rep.Summary, rep.Log, path2(sess.Dir, environmentName)}
	want := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(m.ws.Root(), f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = b
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.Remove(filepath.Join(m.ws.Root(), f)); err != nil {
			t.Fatal(err)
		}
	}
	jpath := filepath.Join(m.ws.Root(), sess.Dir, journalName)
	// A torn final line (a crash mid-append) is ignored, not repaired.
	f, err := os.OpenFile(jpath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":999,"type":"ops-rec`)
	f.Close()
	journal, _ := os.ReadFile(jpath)

	// From another working directory, by absolute path.
	ws, rel, err := OpenSessionDir(filepath.Join(m.ws.Root(), sess.Dir))
	if err != nil || rel != sess.Dir {
		t.Fatalf("OpenSessionDir = %q, %v", rel, err)
	}
	rep2, err := RegenerateReport(ws, rel)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Verdict != rep.Verdict || rep2.Notes != "regenerate me" {
		t.Fatalf("regenerated verdict %s notes %q", rep2.Verdict, rep2.Notes)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(m.ws.Root(), f))
		if err != nil {
			t.Fatal(err)
		}
		if f == rep.Log {
			// The log adds the torn line it ignored to the timeline.
			if !strings.Contains(string(got), "torn final line was ignored") {
				t.Errorf("the regenerated log does not mention the torn journal line")
			}
			got = []byte(regexpTorn.ReplaceAllString(string(got), ""))
		}
		if string(got) != string(want[f]) {
			t.Errorf("%s differs after regeneration:\n%s", f, diffLines(string(want[f]), string(got)))
		}
	}
	if after, _ := os.ReadFile(jpath); string(after) != string(journal) {
		t.Errorf("RegenerateReport changed the journal")
	}
	for _, bad := range []string{"test-sessions/kvr-replication", "test-sessions/nope/20260101T000000Z", "../x"} {
		if _, err := RegenerateReport(ws, bad); err == nil {
			t.Errorf("RegenerateReport(%q) succeeded", bad)
		}
	}
	if _, _, err := OpenSessionDir(t.TempDir()); err == nil {
		t.Errorf("OpenSessionDir on a non-session directory succeeded")
	}
}

var regexpTorn = regexp.MustCompile(`(?m)^- [^\n]* — journal read for the report: a torn final line was ignored[^\n]*\n`)

func path2(a, b string) string { return a + "/" + b }

// TestSessionLogComplete checks that a finished session's log holds every
// part SPEC §7 names and renders cleanly.
func TestSessionLogComplete(t *testing.T) {
	m, sess := buildInconclusive(t)
	ctx := context.Background()
	env, err := m.DiscoverEnvironment(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if env.Toolbox == nil || len(env.Preconditions) == 0 || len(env.Capabilities) < 2 {
		t.Fatalf("environment: %+v", env)
	}
	rep, err := m.FinishSession(ctx, sess.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(m.ws.Root(), rep.Log))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"- **SUT:** kvr", "- **Plan:** testing-plans/kvr-replication.md", "- **Commit under test:**",
		"## Toolbox discovered", "## Environment capabilities", "| Go toolchain | present |", "## Preconditions",
		"- the plan lints clean: holds", "## Session verdict", "**" + string(rep.Verdict) + "**",
		"| S1 | INCONCLUSIVE-fault-not-proven | smoke | 1 | assign_verdict |", "| S2 | ", "## Timeline",
		"environment discovered:", "session finished: " + string(rep.Verdict),
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("session log lacks %q", want)
		}
	}
	if strings.Count(string(log), "## Toolbox discovered") != 1 || strings.Count(string(log), "## Session verdict") != 1 {
		t.Errorf("a section is repeated:\n%s", log)
	}
	doc := parseMarkdown(t, log)
	for i, tbl := range doc.tables {
		for j, row := range tbl {
			if len(row) != len(tbl[0]) {
				t.Errorf("log table %d row %d has %d cells, header %d", i, j, len(row), len(tbl[0]))
			}
		}
	}
	if strings.Contains(doc.html, "<p>|") {
		t.Errorf("a log table did not parse as a table")
	}
	// A later write of the log (a new run) keeps the environment
	// sections.
	if _, err := m.StartRun(ctx, sess.ID, "S3", "1", "smoke"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DiscoverEnvironment(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	log, _ = os.ReadFile(filepath.Join(m.ws.Root(), rep.Log))
	if !strings.Contains(string(log), "## Environment capabilities") || !strings.Contains(string(log), "| R3 | S3 |") {
		t.Errorf("the rewritten log lost a section:\n%s", log)
	}
}

// TestReportReadsTheRecords checks the outcomes a report derives itself:
// a scenario run but never assigned, a verdict the records changed after
// assign_verdict, and a scenario that cannot start for a missing
// capability.
func TestReportReadsTheRecords(t *testing.T) {
	m, clk := reportManager(t, func(s string) string {
		// S5 needs a tool no host has.
		return strings.Replace(s, "| Go toolchain | 1.22 | S1, S2, S3, S4, S5 | https://go.dev/dl |",
			"| Go toolchain | 1.22 | S1, S2, S3, S4, S5 | https://go.dev/dl |\n| `falsify-no-such-tool-x9 --version` | 1.0 | S5 | make tools |", 1)
	})
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	// S1: a clean smoke run, assigned; then a violating run is recorded
	// without assigning again.
	r1, _ := m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	m.RecordOps(ctx, r1.ID, registerOps("a", clk.now().UnixNano(), 2))
	if _, err := m.RunChecker(ctx, r1.ID, "linearizability", nil, nil); err != nil {
		t.Fatal(err)
	}
	d, _, err := m.AssignVerdict(ctx, sess.ID, "S1", nil, nil)
	if err != nil || d.Verdict.IsFail() {
		t.Fatalf("S1 assigned %s %v", d.Verdict, err)
	}
	r2, _ := m.StartRun(ctx, sess.ID, "S1", "2", "smoke")
	m.RecordOps(ctx, r2.ID, registerOps("b", clk.now().UnixNano(), 1))
	if _, err := m.RunChecker(ctx, r2.ID, "linearizability", nil, nil); err != nil {
		t.Fatal(err)
	}
	// S3: run and checked, never assigned.
	r3, _ := m.StartRun(ctx, sess.ID, "S3", "9", "smoke")
	m.RecordOps(ctx, r3.ID, registerOps("c", clk.now().UnixNano(), 2))
	if _, err := m.Environment(sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DiscoverEnvironment(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := m.FinishSession(ctx, sess.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Outcome{}
	for _, o := range rep.Outcomes {
		byID[o.ID] = o
	}
	s1 := byID["S1"]
	if s1.Verdict != FailNondeterministic || s1.AssignedAs != d.Verdict || !s1.Assigned || !strings.Contains(s1.Reasons[0], "assign_verdict gave "+string(d.Verdict)) {
		t.Errorf("S1: verdict %s assigned as %s, reasons %v", s1.Verdict, s1.AssignedAs, s1.Reasons)
	}
	s3 := byID["S3"]
	if s3.Assigned || s3.Verdict != PartialSurface || !strings.HasPrefix(s3.Reasons[0], "derived at finish_session") {
		t.Errorf("S3: %s assigned=%t %v", s3.Verdict, s3.Assigned, s3.Reasons)
	}
	s5 := byID["S5"]
	if s5.Verdict != InconclusiveEnv || !strings.Contains(strings.Join(s5.Reasons, " "), "falsify-no-such-tool-x9 not on PATH") {
		t.Errorf("S5: %s %v", s5.Verdict, s5.Reasons)
	}
	for _, h := range rep.Hypotheses {
		if h.ID == "H2" && (!h.Exercised || !strings.Contains(h.Why, "S5 could not start (INCONCLUSIVE-env)")) {
			t.Errorf("H2 coverage: %+v", h)
		}
	}
	// An unreproduced FAIL is a concern, not a FAIL of the session.
	if rep.Verdict != SessionInconclusive {
		t.Errorf("session verdict %s (%v)", rep.Verdict, rep.Rule)
	}
	body, _ := os.ReadFile(filepath.Join(m.ws.Root(), rep.Report))
	for _, want := range []string{"(assigned as " + string(d.Verdict) + " before the records changed)", "PARTIAL-surface (derived at finish)", "| S5 | acknowledged_writes_survive_single_node_crash | INCONCLUSIVE-env |"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	checkMarkdown(t, body)
}

func TestExecutePrompt(t *testing.T) {
	text := ExecutePrompt("kvr-replication", "", "")
	for _, want := range []string{
		"Execute the test plan kvr-replication", "every scenario of the plan, in plan order", "at the smoke budget tier",
		"lint_plan", "design_test_plan", "machine-checkable", "start_session", "toolbox", "ASK before installing",
		"register_target", "start_run", "three distinct seeds", "Checkpoint", "inject_fault", "measure_fault", "heal_fault",
		"victim-side", "record_op", "import_history", "timeout_marker", "record_state", "run_checker", "assign_verdict",
		"contradicted", "reduce_history", "Blame", "finish_session", "DONE_WITH_CONCERNS", "never a verdict",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("execute prompt lacks %q", want)
		}
	}
	// The steps come in the SPEC's order: load, discover, probe, run,
	// land, check, audit, reduce, report.
	order := []string{"1. Load the plan", "2. Start the session", "3. Resolve the environment", "4. Run the scenarios", "5. Checkpoint", "6. Capture landing evidence", "7. Record the history", "8. Check.", "9. Audit", "10. Reduce and blame", "11. Report."}
	last := -1
	for _, o := range order {
		i := strings.Index(text, o)
		if i <= last {
			t.Fatalf("step %q out of order or missing", o)
		}
		last = i
	}
	one := ExecutePrompt("kvr-replication", "S4/api", "Hardening")
	if !strings.Contains(one, "scenario S4/api only, at the hardening budget tier") {
		t.Errorf("scoped prompt: %s", firstLines([]byte(one), 1))
	}
}

// TestReportAfterPlanEdit checks that a report on a plan edited after the
// session started says so, and names runs of scenarios it dropped.
func TestReportAfterPlanEdit(t *testing.T) {
	m, sess := buildFailing(t)
	planPath := filepath.Join(m.ws.Root(), "testing-plans", "kvr-replication.md")
	src, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planPath, []byte(onlyS2(string(src))), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := m.FinishSession(context.Background(), sess.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.PlanNote, "changed since the session started") || !strings.Contains(rep.PlanNote, "R1 (S1), R2 (S1)") {
		t.Errorf("plan note %q", rep.PlanNote)
	}
	if len(rep.Outcomes) != 1 || rep.Outcomes[0].ID != "S2" || rep.Verdict != SessionBlocked {
		t.Errorf("outcomes %+v, verdict %s", rep.Outcomes, rep.Verdict)
	}
}

// onlyS2 removes every scenario but S2 from the plan.
func onlyS2(src string) string {
	i := strings.Index(src, "### Scenario S1")
	j := strings.Index(src, "### Scenario S2")
	k := strings.Index(src, "### Scenario S3")
	l := strings.Index(src, "## 7b.")
	return src[:i] + src[j:k] + src[l:]
}

func TestSurfaceCoverage(t *testing.T) {
	src, err := os.ReadFile("../plan/testdata/kvstore.md")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Parse([]byte(strings.Replace(string(src), "Tenant isolation was exercised on the key API and the export API only; other surfaces were not tested.", "Tenant isolation was exercised on the key API.", 1)))
	if err != nil {
		t.Fatal(err)
	}
	outs := []Outcome{{ID: "S4/api", Verdict: PassHardening}, {ID: "S4/export", Verdict: PartialSurface}}
	rows := surfaceCoverage(p, outs)
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if api := rows[0]; api.Arm != "S4/api" || !api.Tested || api.NamedIn7d != nil || api.Surface != "key API (GET, PUT, LIST)" {
		t.Errorf("api row %+v", api)
	}
	if exp := rows[1]; exp.Arm != "S4/export" || exp.Tested || exp.NamedIn7d == nil || *exp.NamedIn7d {
		t.Errorf("export row %+v (§7d no longer names the export API)", exp)
	}
	// The original §7d names both surfaces.
	orig, _ := plan.Parse(src)
	if exp := surfaceCoverage(orig, outs)[1]; exp.NamedIn7d == nil || !*exp.NamedIn7d {
		t.Errorf("export row on the original plan %+v", exp)
	}
	// Hypothesis H4 is closed by S4, exercised through its arms; C7's §7b
	// scenario S4 is partial with one arm short of PASS-hardening.
	for _, h := range hypothesisCoverage(p, outs) {
		if h.ID == "H4" && (!h.Exercised || strings.Join(h.ClosedBy, ",") != "S4/api PASS-hardening,S4/export PARTIAL-surface") {
			t.Errorf("H4 %+v", h)
		}
	}
	for _, a := range claimAdequacy(p, outs) {
		if a.Claim == "C7" && (a.Adequacy != AdequacyPartial || !strings.Contains(a.Why, "short of PASS-hardening: S4/export PARTIAL-surface")) {
			t.Errorf("C7 %+v", a)
		}
	}
	if cd := confidenceDelta(p, outs); cd.Delta != BelieveUnchanged || !strings.Contains(cd.Why, "S4/export PARTIAL-surface") || !strings.Contains(cd.Why, "hardening evidence only from S4/api PASS-hardening") {
		t.Errorf("confidence %+v", cd)
	}
}
