package plan

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadFixture(t testing.TB, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func mustParseFixture(t testing.TB, name string) *Plan {
	t.Helper()
	p, err := Parse(loadFixture(t, name))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return p
}

func scenarioByID(p *Plan, id string) *Scenario {
	for i := range p.Scenarios {
		if p.Scenarios[i].ID == id {
			return &p.Scenarios[i]
		}
	}
	return &Scenario{}
}

func claimByID(p *Plan, id string) Claim {
	for _, c := range p.Claims {
		if c.ID == id {
			return c
		}
	}
	return Claim{}
}

func idsOf[T any](xs []T, id func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func TestParseFixtures(t *testing.T) {
	kv := mustParseFixture(t, "kvstore.md")
	pw := mustParseFixture(t, "projectwide.md")
	hw := mustParseFixture(t, "handwritten.md")
	changeScoped := []string{"0", "1", "1b", "1c", "2", "4", "6", "6b", "7", "7b", "7c", "7d", "8", "9"}
	tests := []struct {
		name string
		got  any
		want any
	}{
		// kvstore.md: the canonical change-scoped plan.
		{"kv slug", kv.Header.Slug, "kvr-replication"},
		{"kv mode", kv.Header.Mode, ModeChangeScoped},
		{"kv status", kv.Header.Status, "draft"},
		{"kv present", kv.Present, changeScoped},
		{"kv claim ids", idsOf(kv.Claims, func(c Claim) string { return c.ID }), []string{"C1", "C2", "C3", "C4", "C5", "C6", "C7"}},
		{"kv C3 category", claimByID(kv, "C3").Category, CategoryIdempotency},
		{"kv C7 inferred", claimByID(kv, "C7").Inferred, "yes"},
		{"kv C1 text", claimByID(kv, "C1").Text, `"Reads and writes of a single key are linearizable, including across a primary failover"`},
		{"kv missing ids", idsOf(kv.MissingClaims, func(m MissingClaim) string { return m.ID }), []string{"M1", "M2"}},
		{"kv M2 action", kv.MissingClaims[1].Action, "state the rule in docs/tenancy.md"},
		{"kv hypotheses", idsOf(kv.Hypotheses, func(h Hypothesis) string { return h.ID }), []string{"H1", "H2", "H3", "H4", "H5", "H6", "H7"}},
		{"kv H1 title", kv.Hypotheses[0].Title, "Stale read from a lagging backup"},
		{"kv H1 statement", kv.Hypotheses[0].Statement, "A backup serves a read before applying the latest acknowledged write."},
		{"kv H2 falsifies", kv.Hypotheses[1].Falsifies, []string{"C2", "C1"}},
		{"kv H1 suspected", kv.Hypotheses[0].SuspectedBecause, "backups answer reads from local state (server/read.go:42)"},
		{"kv H3 category", kv.Hypotheses[2].Category, "idempotency/replay"},
		{"kv H6 subsystem", kv.Hypotheses[5].Subsystem, "replication"},
		{"kv N/A", kv.CategoryNA, map[string]string{
			"upgrade/rollback": "no on-disk format change in this change",
			"configuration":    "the change adds no flags and alters no defaults",
		}},
		{"kv techniques", idsOf(kv.Techniques, func(x Technique) string { return x.Name }), []string{"jepsen-and-elle", "chaos-and-fault-injection", "crash-recovery-and-upgrade", "boundary-and-isolation", "performance-and-benchmarking"}},
		{"kv technique H", kv.Techniques[1].Hypotheses, []string{"H5", "H6"}},
		{"kv env used by", kv.Environment[3].UsedBy, []string{"S2", "S4"}},
		{"kv scenarios", idsOf(kv.Scenarios, func(s Scenario) string { return s.ID }), []string{"S1", "S2", "S3", "S4", "S5"}},
		{"kv S1 name", scenarioByID(kv, "S1").Name, "linearizable_single_key_reads_writes_under_primary_failover"},
		{"kv S1 checker", scenarioByID(kv, "S1").Discipline.Checker, "linearizability"},
		{"kv S1 model", scenarioByID(kv, "S1").Discipline.Model, "register"},
		{"kv S1 closes", scenarioByID(kv, "S1").Closes, []string{"H1", "H2"}},
		{"kv S1 target", scenarioByID(kv, "S1").TargetTestFile, "`test/jepsen/linearizable_failover_test.go`"},
		{"kv S1 budget", scenarioByID(kv, "S1").Budget, Budget{
			Smoke:     "3 nodes, 60s, 2 faults, 1 seed",
			Hardening: "3 nodes, 10m, 6 faults, 5 seeds",
			Release:   "not provided — no long-running cluster available for this PR. Revisit when: the nightly soak environment is provisioned",
		}},
		{"kv S1 skeleton header", strings.SplitN(scenarioByID(kv, "S1").Skeleton, "\n", 3)[:2], []string{
			"// AUTO-GENERATED from test plan: testing-plans/kvr-replication.md",
			"// Scenario: S1 linearizable_single_key_reads_writes_under_primary_failover",
		}},
		{"kv S1 skeleton tab", strings.Contains(scenarioByID(kv, "S1").Skeleton, "\n\tc := startCluster(t, 3)\n"), true},
		{"kv S1 language", scenarioByID(kv, "S1").SkeletonLanguage, "go"},
		{"kv S1 not NA", scenarioByID(kv, "S1").ModelNA, false},
		{"kv S2 NA", scenarioByID(kv, "S2").ModelNA, true},
		{"kv S2 no discipline", scenarioByID(kv, "S2").Discipline == nil, true},
		{"kv S2 falsifies", scenarioByID(kv, "S2").Falsifies, []string{"C5", "C6"}},
		{"kv S3 model", scenarioByID(kv, "S3").Discipline.Model, "ledger"},
		{"kv S3 checker", scenarioByID(kv, "S3").Discipline.Checker, "exactly-once"},
		{"kv S4 arms", idsOf(scenarioByID(kv, "S4").Arms, func(a Arm) string { return a.ID }), []string{"S4/api", "S4/export"}},
		{"kv S4 no discipline", scenarioByID(kv, "S4").Discipline == nil, true},
		{"kv S4 confusable", scenarioByID(kv, "S4").Surfaces.ConfusableIDs, "prefix collision (`acme`/`acme2`), case folding (`Beta`/`beta`), embedded separator (`acme%2Fx`)"},
		{"kv S4 surfaces oracle", scenarioByID(kv, "S4").Surfaces.Oracle, "positive controls return exactly the tenant's own keys; negative controls return 403/404 and no foreign key string appears in any captured output"},
		{"kv S4 min hardening", scenarioByID(kv, "S4").Surfaces.MinHardeningBudget, "5 nodes, 15m, 3 faults, 3 seeds"},
		{"kv S4 scenario oracle", scenarioByID(kv, "S4").Oracle, "per arm (below): every denied cross-tenant access returns 404/403 and no foreign key appears in any response, metric label or log line"},
		{"kv S4/export surface", scenarioByID(kv, "S4").Arms[1].Surface, "export API (`/v1/export`)"},
		{"kv S4/api model", scenarioByID(kv, "S4").Arms[0].Discipline.Model, "map"},
		{"kv S4/export reduction", scenarioByID(kv, "S4").Arms[1].Discipline.ReductionPlan, "shrink to the smallest key set and tenant pair that leaks"},
		{"kv S5 checker", scenarioByID(kv, "S5").Discipline.Checker, "no-lost-ack"},
		{"kv adequacy claims", idsOf(kv.Adequacy, func(a AdequacyRow) string { return a.Claim }), []string{"C1", "C2", "C3", "C4", "C5", "C6", "C7"}},
		{"kv adequacy C2", kv.Adequacy[1].Scenarios, []string{"S5"}},
		{"kv residual", len(kv.Residual), 2},
		{"kv residual revisit", kv.Residual[1].Revisit, "when the time nemesis is available"},
		{"kv not covered", len(kv.NotCovered), 4},
		{"kv questions", kv.OpenQuestions[1], "Confirm the 24 h idempotency retention (M1) with the API owners."},
		{"kv no extra", len(kv.Extra), 0},
		{"kv summary diagram", strings.Contains(kv.Summary, "|  primary P  |----"), true},

		// projectwide.md: project-wide, explicit-empty §1c and §7c.
		{"pw mode", pw.Header.Mode, ModeProjectWide},
		{"pw change", pw.Header.Change, "N/A — project-wide"},
		{"pw present", pw.Present, SectionOrder},
		{"pw missing none", pw.MissingNone, "No missing claims were found: every behaviour the produce and fetch paths rely on is stated in docs/semantics.md."},
		{"pw missing rows", pw.MissingClaims == nil, true},
		{"pw residual none", pw.ResidualNone, "The residual uncertainty table is empty: every claim has a scenario at the hardening tier."},
		{"pw inventory", idsOf(pw.Inventory, func(r InventoryRow) string { return r.Subsystem }), []string{"raft", "produce path", "consumer groups"}},
		{"pw coverage C4", pw.Coverage[3], CoverageRow{Claim: "C4", Hypothesis: "—", ExistingTests: "none", Verdict: "not covered", GapKind: "no test", Recommended: "S3"}},
		{"pw C1 category", claimByID(pw, "C1").Category, CategoryOrdering},
		{"pw N/A count", len(pw.CategoryNA), 5},
		{"pw S1 checker", scenarioByID(pw, "S1").Discipline.Checker, "prefix / order"},
		{"pw S3 NA", scenarioByID(pw, "S3").ModelNA, true},

		// handwritten.md: the same kind of plan written by a person.
		{"hw present", hw.Present, append(append([]string{}, changeScoped...), "?10. Appendix")},
		{"hw mode normalised", hw.Header.Mode, ModeChangeScoped},
		{"hw author", hw.Header.Author, "Dana (with help from an agent)"},
		{"hw header notes", hw.Header.Notes, "**Reviewers:** alice, bob\n\n> Drafted by hand after the design review on 2026-11-19; the agent filled in the skeletons."},
		{"hw columns by name", claimByID(hw, "C2"), Claim{ID: "C2", Text: "A retried PUT with the same Idempotency-Key takes effect at most once", Category: "idempotency", Source: "api/put.go", Inferred: "no"}},
		{"hw claims notes", hw.ClaimsNotes, "Claims come from the docs unless marked inferred."},
		{"hw missing none", hw.MissingNone, "None found. We read `server/`, `client/` and `coordinator/` looking for behaviour the docs do not state."},
		{"hw H1 extra", hw.Hypotheses[0].Extra, []Field{{Label: "Seen in", Value: "CI run 4411, once"}}},
		{"hw H2 lazy bullets", hw.Hypotheses[1].Falsifies, []string{"C1"}},
		{"hw H2 category", hw.Hypotheses[1].Category, "correctness"},
		{"hw hyp notes", hw.HypothesesNotes, "We kept this short; see kvr-replication for the replication hypotheses."},
		{"hw N/A bold", hw.CategoryNA["durability"], "the WAL path is unchanged by this commit"},
		{"hw N/A count", len(hw.CategoryNA), 5},
		{"hw techniques by heading", hw.Techniques, []Technique{
			{Name: "jepsen-and-elle", Hypotheses: []string{"H1", "H2"}, Catches: "duplicate effects and stale reads under real timeouts", Cost: "3 nodes, 20 min per hardening run"},
			{Name: "boundary-and-isolation", Hypotheses: []string{"H4"}, Catches: "prefix collisions on every surface", Cost: "cheap"},
		}},
		{"hw scenarios notes", hw.ScenariosNotes, "Scenario names follow the claims. S4 is split into two arms."},
		{"hw S1 plain technique", scenarioByID(hw, "S1").Technique, "jepsen-and-elle"},
		{"hw S1 colon outside bold", scenarioByID(hw, "S1").Oracle, "exactly-once on the business Idempotency-Key; each key has exactly one committed effect in the final dump"},
		{"hw S1 extra", scenarioByID(hw, "S1").Extra, []Field{{Label: "Owner", Value: "alice"}}},
		{"hw S1 notes", scenarioByID(hw, "S1").Notes, "This is the scenario the rewrite exists for. Dana wants it green before merge.\n\nWe may swap toxiproxy for iptables once the harness supports it."},
		{"hw S1 budget sub-bullets", scenarioByID(hw, "S1").Budget.Release, "not provided — no soak environment. Revisit when: Q1 infra lands"},
		{"hw S1 skeleton", scenarioByID(hw, "S1").Skeleton, "// AUTO-GENERATED from test plan: testing-plans/kvr-retries.md\n// Scenario: S1 retried_put_takes_effect_at_most_once\npackage jepsen"},
		{"hw S1 discipline variant heading", scenarioByID(hw, "S1").Discipline.Nemesis, "toxiproxy response drop; toxic counters and client timeouts"},
		{"hw S2 NA", scenarioByID(hw, "S2").ModelNA, true},
		{"hw S4 arms", idsOf(scenarioByID(hw, "S4").Arms, func(a Arm) string { return a.ID }), []string{"S4/api", "S4/export"}},
		{"hw S4/api notes", scenarioByID(hw, "S4").Arms[0].Notes, "The key API arm runs first because it is cheap."},
		{"hw S4/export extra", scenarioByID(hw, "S4").Arms[1].Extra, []Field{{Label: "Owner", Value: "bob"}}},
		{"hw S4 delayed", scenarioByID(hw, "S4").Surfaces.DelayedPaths, "export resume tokens"},
		{"hw adequacy arms", hw.Adequacy[2].Scenarios, []string{"S4/api", "S4/export"}},
		{"hw residual none", hw.ResidualNone, "Nothing residual that we know of today; exclusions are in §8."},
		{"hw star bullets", hw.NotCovered, []string{"Replication internals (see kvr-replication)", "Non-Go SDKs"}},
		{"hw not-covered prose", hw.NotCoveredNotes, "Anything about WAL compaction is out of scope too."},
		{"hw numbered questions", hw.OpenQuestions, []string{"Should the SDK expose the Idempotency-Key to callers?", "Do we need a release tier for client changes?"}},
		{"hw appendix", hw.Extra, []RawSection{{Heading: "## 10. Appendix", Body: "Raw notes from the review. The snippet below is not a heading:\n\n```\n## not a section\n```"}}},
		{"hw summary keeps diagram", strings.Contains(hw.Summary, "client --PUT--> primary"), true},
		{"hw scope", strings.HasPrefix(hw.Scope, "The retry loop in `client/retry.go` was rewritten"), true},
	}
	for _, tc := range tests {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseLenient(t *testing.T) {
	tests := []struct {
		name string
		src  string
		got  func(p *Plan) any
		want any
	}{
		{
			name: "title with an em dash",
			src:  "# Test Plan — demo\n",
			got:  func(p *Plan) any { return p.Header.Slug },
			want: "demo",
		},
		{
			name: "heading extra words",
			src:  "# Test Plan: a\n\n## 1b. Claims under test (from docs)\n\n| ID | Claim | Category | Source | Inferred? |\n|---|---|---|---|---|\n| C1 | x | safety | d | no |\n",
			got:  func(p *Plan) any { return []any{p.Present, len(p.Claims)} },
			want: []any{[]string{"1b"}, 1},
		},
		{
			name: "heading without number",
			src:  "# Test Plan: a\n\n## Confidence statement\n\nWe have not observed X.\n",
			got:  func(p *Plan) any { return []any{p.Present, p.Confidence} },
			want: []any{[]string{"7d"}, "We have not observed X."},
		},
		{
			name: "columns reordered and lower case",
			src:  "# Test Plan: a\n\n## 1b. Claims\n\n| source | INFERRED? | category | claim | id |\n|-|-|-|-|-|\n| s | yes | boundary | t \\| u | C9 |\n",
			got:  func(p *Plan) any { return p.Claims },
			want: []Claim{{ID: "C9", Text: "t | u", Category: "boundary", Source: "s", Inferred: "yes"}},
		},
		{
			name: "setext underline after header is not a section",
			src:  "# Test Plan: a\n**Date:** 2026-01-02\n---\n\n## 0. Architectural summary\n\nx\n",
			got:  func(p *Plan) any { return []any{p.Present, p.Header.Date} },
			want: []any{[]string{"0"}, "2026-01-02"},
		},
		{
			name: "plain header labels",
			src:  "# Test Plan: a\n\nDate: 2026-01-02\nPlan mode: Project-wide\n",
			got:  func(p *Plan) any { return []string{p.Header.Date, p.Header.Mode} },
			want: []string{"2026-01-02", ModeProjectWide},
		},
		{
			name: "hypothesis as heading",
			src:  "# Test Plan: a\n\n## 4. Failure-mode hypotheses\n\n### H2. Split brain — two primaries\n- Could falsify: C1 and C2\n- Subsystem: coord\n",
			got:  func(p *Plan) any { return p.Hypotheses },
			want: []Hypothesis{{ID: "H2", Title: "Split brain", Statement: "two primaries", Falsifies: []string{"C1", "C2"}, Subsystem: "coord"}},
		},
		{
			name: "N/A list without intro",
			src:  "# Test Plan: a\n\n## 4. Failure-mode hypotheses\n\n- configuration: n/a, single config\n",
			got:  func(p *Plan) any { return p.CategoryNA },
			want: map[string]string{"configuration": "single config"},
		},
		{
			name: "scenario budget without keywords is kept",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: x\n- **Budget tiers:** whatever fits\n",
			got:  func(p *Plan) any { return []any{p.Scenarios[0].Budget, p.Scenarios[0].Extra} },
			want: []any{Budget{}, []Field{{Label: "Budget tiers", Value: "whatever fits"}}},
		},
		{
			name: "unindented skeleton fence after the list",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: x\n- **Skeleton:**\n\n```go\n// AUTO-GENERATED\n```\n",
			got:  func(p *Plan) any { return p.Scenarios[0].Skeleton },
			want: "// AUTO-GENERATED",
		},
		{
			name: "NA line inside the 7.M heading",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: x\n\n#### §7.M\n\n" + NotApplicableLine + "\n",
			got:  func(p *Plan) any { return []any{p.Scenarios[0].ModelNA, p.Scenarios[0].Discipline == nil} },
			want: []any{true, true},
		},
		{
			name: "near-miss NA line is prose",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: x\n\n§7.M: not applicable\n",
			got:  func(p *Plan) any { return []any{p.Scenarios[0].ModelNA, p.Scenarios[0].Notes} },
			want: []any{false, "§7.M: not applicable"},
		},
		{
			name: "arm without scenario prefix",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S5: x\n\n#### Arm sdk\n- **Surface:** sdk\n",
			got:  func(p *Plan) any { return []string{p.Scenarios[0].Arms[0].ID, p.Scenarios[0].Arms[0].Surface} },
			want: []string{"S5/sdk", "sdk"},
		},
		{
			name: "duplicate label kept as extra",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: x\n- **Oracle:** a\n- **Oracle:** b\n",
			got:  func(p *Plan) any { return []any{p.Scenarios[0].Oracle, p.Scenarios[0].Extra} },
			want: []any{"a", []Field{{Label: "Oracle", Value: "b"}}},
		},
		{
			name: "repeated header label stays in notes",
			src:  "# Test Plan: a\n\n**Date:** 2026-01-01\n**Date:** 2026-02-02\n",
			got:  func(p *Plan) any { return []string{p.Header.Date, p.Header.Notes} },
			want: []string{"2026-01-01", "**Date:** 2026-02-02"},
		},
		{
			name: "scenario heading without the word Scenario",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### S3: `name_here`\n- **Oracle:** o\n",
			got:  func(p *Plan) any { return []string{p.Scenarios[0].ID, p.Scenarios[0].Name, p.Scenarios[0].Oracle} },
			want: []string{"S3", "name_here", "o"},
		},
		{
			name: "claim id and category markup",
			src:  "# Test Plan: a\n\n## 1b. Claims under test\n\n| ID | Claim | Category | Source | Inferred? |\n|---|---|---|---|---|\n| **C1** | x | `Safety` | d | no |\n",
			got:  func(p *Plan) any { return []string{p.Claims[0].ID, p.Claims[0].Category} },
			want: []string{"C1", "safety"},
		},
		{
			name: "hypotheses as list items",
			src:  "# Test Plan: a\n\n## 4. Failure-mode hypotheses\n\n- H1. **Lost ack** — a write vanishes\n  - Could falsify: C2 (durability, after crash), C1\n  - Subsystem: wal\n- H2. **Split brain** — two primaries\n  - Could falsify: C1\n",
			got: func(p *Plan) any {
				return []any{idsOf(p.Hypotheses, func(h Hypothesis) string { return h.ID }), p.Hypotheses[0].Falsifies, p.Hypotheses[0].Subsystem, p.Hypotheses[1].Title}
			},
			want: []any{[]string{"H1", "H2"}, []string{"C2 (durability, after crash)", "C1"}, "wal", "Split brain"},
		},
		{
			name: "label synonyms",
			src:  "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: x\n- **Test file:** `t_test.go`\n- **Falsifies (if it FAILs):** C1 & C2\n- **Confusable IDs:** case folding\n",
			got: func(p *Plan) any {
				return []any{p.Scenarios[0].TargetTestFile, p.Scenarios[0].Falsifies, p.Scenarios[0].Surfaces.ConfusableIDs}
			},
			want: []any{"`t_test.go`", []string{"C1", "C2"}, "case folding"},
		},
		{
			name: "section twice is merged",
			src:  "# Test Plan: a\n\n## 8. What this plan does NOT cover\n\n- a\n\n## 8. What this plan does NOT cover\n\n- b\n",
			got:  func(p *Plan) any { return []any{p.Present, p.NotCovered} },
			want: []any{[]string{"8", "8"}, []string{"a", "b"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.got(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			// Whatever shape was read, the canonical rendering reads back
			// the same (a repeated section is rendered once, on purpose).
			if len(p.Present) > 1 && p.Present[0] == p.Present[1] {
				return
			}
			p2, err := Parse(Render(p))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p2, p) {
				t.Errorf("round trip differs:\n got  %+v\n want %+v\n--- rendered ---\n%s", p2, p, Render(p))
			}
		})
	}
}

func TestParseNotAPlan(t *testing.T) {
	for _, src := range []string{"", "hello", "## 0. Architectural summary\n", "# Design doc\n\n## 1b. Claims under test\n", "```\n# Test Plan: x\n```\n", "#Test Plan: no space\n"} {
		if _, err := Parse([]byte(src)); !errors.Is(err, ErrNotPlan) {
			t.Errorf("Parse(%q) err = %v, want ErrNotPlan", src, err)
		}
	}
	if p, err := Parse([]byte("# Test plan - lower\n")); err != nil || p.Header.Slug != "lower" {
		t.Errorf("Parse lower-case title = %+v, %v", p, err)
	}
}

func TestParseTooLarge(t *testing.T) {
	src := "# Test Plan: big\n\n## 0. Architectural summary\n\n" + strings.Repeat("x", MaxSize)
	_, err := Parse([]byte(src))
	if err == nil || errors.Is(err, ErrNotPlan) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Parse(%d bytes) err = %v, want a size-limit error", len(src), err)
	}
	if _, err := ReplaceSection([]byte(src), "1", "", []byte("scope")); err == nil {
		t.Errorf("ReplaceSection on an oversized plan succeeded")
	}
}

// garbageInputs is a table of inputs that must never make the package panic.
var garbageInputs = []string{
	"",
	"\x00\x01\x02",
	"# Test Plan:",
	"# Test Plan: x\n## 7. Scenarios\n### Scenario\n#### Arm\n##### §7.M\n",
	"# Test Plan: x\n## 7. Scenarios\n#### Arm S1/a\n- **Surface:** x\n",
	"# Test Plan: x\n## 4. Failure-mode hypotheses\nH1.\nH2. ****\n   -\n- : N/A\n",
	"# Test Plan: x\n## 1b. Claims under test\n| |\n|-|\n| |\n",
	"# Test Plan: x\n## 1b\n|a|b|\n|-|-|\n|1|2|3|4|\n",
	"# Test Plan: x\n\n## 7. Scenarios\n### Scenario S99999999999999999999: x\n- **Skeleton:**\n  ```\n",
	"# Test Plan: x\n- **Date:**\n\t\t**\n",
	"# Test Plan: x\n## 7. Scenarios\n### Scenario S1: a\n- **Budget tiers:** smoke: smoke: release:\n",
	"# Test Plan: x\r\n## 0. Architectural summary\r\n\r\nbody\r\n",
	"# Test Plan: x\n## 6. Technique selection\n### fuzzing\n- \n- **\n",
	"# Test Plan: x\n> ## 1b. quoted\n- ## 8. listed\n",
	"# Test Plan: x\n## 9.\n1.\n2) \n",
	strings.Repeat("#", 300) + " Test Plan: x\n",
	"# Test Plan: x\n" + strings.Repeat("- ", 500) + "\n",
	"# Test Plan: x\n" + strings.Repeat(">", 200) + " text\n",
	"# Test Plan: x\n\n## 7. Scenarios\n\n### Scenario S1: a\n\n#### §7.M.S\n- **Oracle:**\n\n  - \n#### Arm S1/a\n##### §7.M\n" + NotApplicableLine + "\n",
}

func TestGarbageNeverPanics(t *testing.T) {
	inputs := append([]string{}, garbageInputs...)
	// Every fixture cut at a spread of offsets, and with bytes flipped.
	for _, name := range []string{"kvstore.md", "projectwide.md", "handwritten.md"} {
		src := string(loadFixture(t, name))
		for i := 0; i < len(src); i += 1009 {
			inputs = append(inputs, src[:i], src[i:])
		}
		b := []byte(src)
		for i := 13; i < len(b); i += 61 {
			b[i] = "|*#`-\n>[]_:"[i%11]
		}
		inputs = append(inputs, string(b))
	}
	ids := append([]string{"header", "S1", "S4/api", "bogus"}, SectionOrder...)
	for _, in := range inputs {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic on %q: %v", in, r)
				}
			}()
			if p, err := Parse([]byte(in)); err == nil {
				p2, err := Parse(Render(p))
				if err != nil {
					t.Errorf("Parse(Render(Parse(%q))): %v", in, err)
				} else {
					_ = Render(p2)
				}
			}
			for _, id := range ids {
				_, _ = ParseSection(id, []byte(in))
				_, _ = ReplaceSection([]byte(in), id, "", []byte(in))
			}
			_, _ = ReplaceSection([]byte(in), "7", "S1", []byte(in))
			_, _ = ReplaceSection([]byte(in), "7", "S1/a", []byte(in))
		}()
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range garbageInputs {
		f.Add(g)
	}
	for _, name := range []string{"kvstore.md", "handwritten.md"} {
		f.Add(string(loadFixture(f, name)))
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse([]byte(in))
		if err != nil {
			return
		}
		if _, err := Parse(Render(p)); err != nil {
			t.Fatalf("rendered plan does not parse: %v", err)
		}
		_, _ = ReplaceSection([]byte(in), "7", "S1", []byte("### Scenario S1: x\n- **Oracle:** y\n"))
	})
}

// TestItemBlockOnMarkerLine reads list items whose first block starts on
// the marker line of an enclosing item ("- * x", "- > x"): the block's
// text starts where goldmark puts it, without the markers in front of it,
// so that Render does not write them a second time.
func TestItemBlockOnMarkerLine(t *testing.T) {
	tests := []struct{ name, item, want string }{
		{"quote in a nested item", "- - > quoted", "> quoted"},
		{"fence in a nested item", "- * ```\n    x\n    ```", "```\nx\n```"},
		{"quote in an item", "- > quoted\n  > more", "> quoted > more"},
		{"three markers", "- + * > deep", "> deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "# Test Plan: a\n\n## 4. Failure-mode hypotheses\n\nH1. **t** — s\n" + tc.item + "\n"
			p, err := Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Hypotheses) != 1 || len(p.Hypotheses[0].Extra) != 1 {
				t.Fatalf("hypotheses = %#v, want one with one extra field", p.Hypotheses)
			}
			if got := p.Hypotheses[0].Extra[0].Value; got != strings.Join(strings.Fields(tc.want), " ") {
				t.Errorf("extra field = %q, want %q", got, tc.want)
			}
		})
	}
}
