package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lintKey is what a lint test asserts: which rule fired where.
type lintKey struct{ Rule, Section, ID string }

func (k lintKey) String() string { return fmt.Sprintf("%s §%s %q", k.Rule, k.Section, k.ID) }

func lintKeyOf(d Diagnostic) lintKey { return lintKey{d.Rule, d.Section, d.ID} }

func lintFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return string(b)
}

func lintSource(t *testing.T, src string) []Diagnostic {
	t.Helper()
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return Lint(p)
}

func TestLintFixturesClean(t *testing.T) {
	for _, name := range []string{"kvstore.md", "projectwide.md"} {
		t.Run(name, func(t *testing.T) {
			ds := lintSource(t, lintFixture(t, name))
			for _, d := range ds {
				t.Errorf("fixture %s is not lint-clean: %s", name, d)
			}
		})
	}
}

// lintEdit edits the fixture text; each step must apply or the test is void.
type lintEdit func(src string) (string, error)

// replace substitutes the first occurrence of old.
func editReplace(old, new string) lintEdit {
	return func(src string) (string, error) {
		if !strings.Contains(src, old) {
			return "", fmt.Errorf("fixture lacks %q", old)
		}
		return strings.Replace(src, old, new, 1), nil
	}
}

// cut removes the text from the first occurrence of from (inclusive) up to
// the next occurrence of to after it (exclusive).
func editCut(from, to string) lintEdit {
	return func(src string) (string, error) {
		i := strings.Index(src, from)
		if i < 0 {
			return "", fmt.Errorf("fixture lacks %q", from)
		}
		j := strings.Index(src[i+len(from):], to)
		if j < 0 {
			return "", fmt.Errorf("fixture lacks %q after %q", to, from)
		}
		return src[:i] + src[i+len(from)+j:], nil
	}
}

func applyEdits(src string, ms ...lintEdit) (string, error) {
	var err error
	for _, m := range ms {
		if src, err = m(src); err != nil {
			return "", err
		}
	}
	return src, nil
}

const lintS1Discipline = `#### §7.M — Model / history / checker discipline
- **Model under test:** register
- **Operation history:** all default fields; node_seen from the SDK's connection, fault_epoch from the falsify ledger; recorded in-process by the SDK wrapper
- **Checker:** linearizability
- **Nemesis + landing evidence:** process hard kill (exit status 137 and pid gone from /proc) and network partition (iptables DROP counters increase on the dropper and client timeouts on the victim)
- **Ambiguous outcomes:** timeouts and unknown-commit errors recorded with complete_ts = null and timeout_marker = true; retries are separate ops
- **Reduction plan:** shrink to the failing key, drop ops outside the fault epoch, replay the seed with fewer clients, then blame by bisecting PR #214 commits
`

// TestLintRules mutates the lint-clean fixture once per rule and asserts
// that exactly the expected diagnostics appear (beyond those of the
// unmutated fixture), with their rule, section and id.
func TestLintRules(t *testing.T) {
	base := lintFixture(t, "kvstore.md")
	baseline := map[string]bool{}
	for _, d := range lintSource(t, base) {
		baseline[d.Message] = true
	}
	tests := []struct {
		rule   string
		edits  []lintEdit
		want   []lintKey
		others []string // rules that may also fire as a consequence
	}{
		{RuleSectionMissing,
			[]lintEdit{editReplace("## 9. Open questions / followups\n", "")},
			[]lintKey{{RuleSectionMissing, "9", ""}}, nil},
		{RuleSectionOrder,
			[]lintEdit{
				editReplace("## 8. What this plan does NOT cover", "## 9. Open questions / followups"),
				editReplace("## 9. Open questions / followups\n\n- Should", "## 8. What this plan does NOT cover\n\n- Should"),
			},
			[]lintKey{{RuleSectionOrder, "8", ""}}, nil},
		{RuleSectionDuplicate,
			[]lintEdit{editReplace("## 9. Open questions / followups", "## 8. What this plan does NOT cover\n\n- Also the CLI\n\n## 9. Open questions / followups")},
			[]lintKey{{RuleSectionDuplicate, "8", ""}}, nil},
		{RulePlanMode,
			[]lintEdit{editReplace("**Plan mode:** change-scoped", "**Plan mode:** quick-check")},
			[]lintKey{{RulePlanMode, "header", "Plan mode"}}, nil},
		{RuleProjectWide,
			[]lintEdit{editReplace("**Plan mode:** change-scoped", "**Plan mode:** project-wide")},
			[]lintKey{{RuleProjectWide, "3", ""}, {RuleProjectWide, "5", ""}}, nil},
		{RuleNoClaim + "/hypothesis",
			[]lintEdit{editReplace("   - Could falsify: C5\n", "")},
			[]lintKey{{RuleNoClaim, "4", "H5"}}, nil},
		{RuleNoClaim + "/scenario",
			[]lintEdit{editReplace("- **Falsifies if it FAILs:** C5, C6\n", "")},
			[]lintKey{{RuleNoClaim, "7", "S2"}}, []string{RuleClaimUnfalsified}},
		{RuleUnknownClaim + "/scenario",
			[]lintEdit{editReplace("- **Falsifies if it FAILs:** C1\n", "- **Falsifies if it FAILs:** C1, C9\n")},
			[]lintKey{{RuleUnknownClaim, "7", "S1"}}, nil},
		{RuleUnknownClaim + "/hypothesis",
			[]lintEdit{editReplace("   - Could falsify: C3\n", "   - Could falsify: C3, C12\n")},
			[]lintKey{{RuleUnknownClaim, "4", "H3"}}, nil},
		{RuleUnknownClaim + "/adequacy",
			[]lintEdit{editReplace("| C6 | fsync batching", "| C16 | fsync batching")},
			[]lintKey{{RuleUnknownClaim, "7b", "C16"}, {RuleAdequacyMissing, "7b", "C6"}}, nil},
		{RuleUnknownHypothesis,
			[]lintEdit{editReplace("- **Closes:** H3\n", "- **Closes:** H3, H9\n")},
			[]lintKey{{RuleUnknownHypothesis, "7", "S3"}}, nil},
		{RuleUnknownScenario,
			[]lintEdit{editReplace("| 2.45 | S2, S4 |", "| 2.45 | S2, S6 |")},
			[]lintKey{{RuleUnknownScenario, "6b", "Prometheus scrape of :9400"}}, nil},
		{RuleUnknownCategory,
			[]lintEdit{editReplace("within 10 s\" | liveness |", "within 10 s\" | uptime |")},
			[]lintKey{{RuleUnknownCategory, "1b", "C5"}}, nil},
		{RuleDuplicateID + "/hypothesis",
			[]lintEdit{editReplace("H7. **fsync batching", "H6. **fsync batching")},
			[]lintKey{{RuleDuplicateID, "4", "H6"}}, []string{RuleUnknownHypothesis}},
		{RuleDuplicateID + "/arm",
			[]lintEdit{editReplace("#### Arm S4/export", "#### Arm S4/api")},
			[]lintKey{{RuleDuplicateID, "7", "S4/api"}}, nil},
		{RuleModelMissing,
			[]lintEdit{editCut("#### §7.M — Model / history / checker discipline", "### Scenario S2")},
			[]lintKey{{RuleModelMissing, "7.M", "S1"}}, nil},
		{RuleSeriousNA,
			[]lintEdit{
				editCut("#### §7.M — Model / history / checker discipline", "### Scenario S2"),
				editReplace("### Scenario S2", NotApplicableLine+"\n\n### Scenario S2"),
			},
			[]lintKey{{RuleSeriousNA, "7.M", "S1"}}, nil},
		{RuleModelPartial,
			[]lintEdit{editReplace("- **Reduction plan:** keep only the duplicated key's ops and the fault epoch around them, replay the seed; blame the replay path in server/idempotency.go", "- **Reduction plan:** TBD")},
			[]lintKey{{RuleModelPartial, "7.M", "S3"}}, nil},
		{RuleModelPartial + "/recording",
			[]lintEdit{editReplace("fault_epoch; recorded in-process plus server-side WAL dumps", "fault_epoch")},
			[]lintKey{{RuleModelPartial, "7.M", "S5"}}, nil},
		{RuleModelPartial + "/injector-evidence",
			[]lintEdit{editReplace("- **Nemesis + landing evidence:** process hard kill (exit status 137, pid gone from /proc, restart time in the node log)", "- **Nemesis + landing evidence:** process hard kill; the injector reported success")},
			[]lintKey{{RuleModelPartial, "7.M", "S5"}}, nil},
		{RuleModelPartial + "/arm",
			[]lintEdit{editReplace("- **Ambiguous outcomes:** an interrupted export is recorded as a timeout and resumed as a new op", "- **Ambiguous outcomes:** …")},
			[]lintKey{{RuleModelPartial, "7.M", "S4/export"}}, nil},
		{RuleModelUnknown,
			[]lintEdit{editReplace("- **Model under test:** log\n", "- **Model under test:** wal\n")},
			[]lintKey{{RuleModelUnknown, "7.M", "S5"}}, nil},
		{RuleModelInvented,
			[]lintEdit{editReplace("  ```\n\n"+NotApplicableLine, "  ```\n\n"+strings.Replace(lintS1Discipline, "- **Checker:** linearizability", "- **Checker:** slo-threshold", 1))},
			[]lintKey{{RuleModelInvented, "7.M", "S2"}}, nil},
		{RuleNALineMissing,
			[]lintEdit{editReplace("  ```\n\n"+NotApplicableLine+"\n", "  ```\n\n")},
			[]lintKey{{RuleNALineMissing, "7.M", "S2"}}, nil},
		{RuleCheckerMismatch + "/misfit",
			[]lintEdit{editReplace("- **Checker:** linearizability\n", "- **Checker:** serializability\n")},
			[]lintKey{{RuleCheckerMismatch, "7.M", "S1"}}, nil},
		{RuleCheckerMismatch + "/bare-none",
			[]lintEdit{editReplace("- **Checker:** exactly-once\n", "- **Checker:** none\n")},
			[]lintKey{{RuleCheckerMismatch, "7.M", "S3"}}, nil},
		{RuleCheckerMismatch + "/arm",
			[]lintEdit{editReplace("- **Checker:** invariant over final state — the picker has no map + boundary row; the predicate \"every exported line carries the caller's tenant prefix\" over the streamed keys is the boundary oracle", "- **Checker:** eyeball")},
			[]lintKey{{RuleCheckerMismatch, "7.M", "S4/export"}}, nil},
		{RuleSurfacesIncomplete + "/blank",
			[]lintEdit{editReplace("- **Background paths:** snapshot compaction rewriting keys while an export streams", "- **Background paths:** TBD")},
			[]lintKey{{RuleSurfacesIncomplete, "7.M.S", "S4"}}, nil},
		{RuleSurfacesIncomplete + "/absent",
			[]lintEdit{editCut("#### §7.M.S — Surface decomposition", "#### Arm S4/api")},
			[]lintKey{{RuleSurfacesIncomplete, "7.M.S", "S4"}}, nil},
		{RuleSurfacesIncomplete + "/negative-controls",
			[]lintEdit{editReplace("denied AND foreign keys absent from metrics labels, logs and export streams", "denied")},
			[]lintKey{{RuleSurfacesIncomplete, "7.M.S", "S4"}}, nil},
		{RuleSurfacesIncomplete + "/confusable-class",
			[]lintEdit{editReplace("- **Confusable identifiers:** prefix collision (`acme`/`acme2`), case folding (`Beta`/`beta`), embedded separator (`acme%2Fx`)", "- **Confusable identifiers:** tenants with similar names")},
			[]lintKey{{RuleSurfacesIncomplete, "7.M.S", "S4"}}, nil},
		{RuleSurfacesIncomplete + "/oracle-controls",
			[]lintEdit{editReplace("- **Oracle:** positive controls return exactly the tenant's own keys; negative controls return 403/404 and no foreign key string appears in any captured output", "- **Oracle:** every response key carries the caller's tenant prefix")},
			[]lintKey{{RuleSurfacesIncomplete, "7.M.S", "S4"}}, nil},
		{RuleOracleNotCheckable + "/fairness-threshold",
			[]lintEdit{
				editReplace("2,000 ops/s on a healthy 3-node cluster\" | performance-SLO |", "2,000 ops/s on a healthy 3-node cluster\" | fairness |"),
				editReplace("- **Oracle:** slo-threshold: the gap between the last successful write before the fault and the first after it is ≤ 10 s, and p99 PUT latency outside fault windows is ≤ 25 ms", "- **Oracle:** fairness: per-tenant p99 compared across tenant groups"),
			},
			[]lintKey{{RuleOracleNotCheckable, "7", "S2"}}, []string{RuleSurfacesIncomplete}},
		{RuleScenarioIncomplete,
			[]lintEdit{editReplace("- **Target test file:** `test/crash/no_lost_ack_test.go`\n", "")},
			[]lintKey{{RuleScenarioIncomplete, "7", "S5"}}, nil},
		{RuleConfidenceLength,
			[]lintEdit{editCut("This is evidence about", "\n\n## 8.")},
			[]lintKey{{RuleConfidenceLength, "7d", ""}}, nil},
		{RuleHardeningNotStronger,
			[]lintEdit{editReplace("- **Minimum hardening budget:** ", "- **Minimum hardening budget:** 2 nodes, 1m, 0 faults, 1 seed; was ")},
			[]lintKey{{RuleHardeningNotStronger, "7.M.S", "S4"}}, nil},
		{RuleNeedsSplit + "/oracles",
			[]lintEdit{editReplace("any key with no linearization is FAIL", "any key with no linearization is FAIL; Elle serializability finds no G2-item cycle across keys")},
			[]lintKey{{RuleNeedsSplit, "7", "S1"}}, nil},
		{RuleNeedsSplit + "/surfaces",
			[]lintEdit{
				editCut("#### Arm S4/api", "### Scenario S5"),
				editReplace("- **Surfaces:** key API (GET/PUT/LIST), export API", "- **Surfaces:** key API (GET/PUT/LIST), export API, metrics endpoint, admin API"),
				editReplace("- **Oracle:** per arm (below): every", "- **Oracle:** every"),
			},
			[]lintKey{{RuleNeedsSplit, "7", "S4"}}, []string{RuleNALineMissing}},
		{RuleArmIncomplete,
			[]lintEdit{editReplace("- **Surface:** export API (`/v1/export`)\n", "")},
			[]lintKey{{RuleArmIncomplete, "7", "S4/export"}}, nil},
		{RuleArmID,
			[]lintEdit{editReplace("#### Arm S4/export", "#### Arm S5/export")},
			[]lintKey{{RuleArmID, "7", "S5/export"}}, nil},
		{RuleOracleNotCheckable + "/scenario",
			[]lintEdit{editReplace("- **Oracle:** slo-threshold: the gap between the last successful write before the fault and the first after it is ≤ 10 s, and p99 PUT latency outside fault windows is ≤ 25 ms", "- **Oracle:** logs look fine")},
			[]lintKey{{RuleOracleNotCheckable, "7", "S2"}}, nil},
		{RuleOracleNotCheckable + "/arm",
			[]lintEdit{editReplace("- **Oracle:** every NDJSON line of tenant T's export has key prefix `T/`; the line count equals T's own key count", "- **Oracle:** manually verify the export")},
			[]lintKey{{RuleOracleNotCheckable, "7", "S4/export"}}, nil},
		{RuleSectionMissing + "/1c-absent",
			[]lintEdit{editCut("## 1c. Missing claims discovered", "## 2. SUT model")},
			[]lintKey{{RuleSectionMissing, "1c", ""}}, nil},
		{RuleSectionMissing + "/7c-absent",
			[]lintEdit{editCut("## 7c. Residual uncertainty", "## 7d. Confidence statement")},
			[]lintKey{{RuleSectionMissing, "7c", ""}}, nil},
		{RuleExplicitEmpty + "/1c",
			[]lintEdit{editCut("| ID | Behavior the code relies on", "## 2. SUT model")},
			[]lintKey{{RuleExplicitEmpty, "1c", ""}}, nil},
		{RuleExplicitEmpty + "/7c",
			[]lintEdit{editCut("| Uncertainty | Why uncovered", "## 7d. Confidence statement")},
			[]lintKey{{RuleExplicitEmpty, "7c", ""}}, nil},
		{RuleAdequacyMissing,
			[]lintEdit{editCut("| C6 | fsync batching", "| C7 |")},
			[]lintKey{{RuleAdequacyMissing, "7b", "C6"}}, nil},
		{RuleSkeletonHeader + "/marker",
			[]lintEdit{editReplace("  // AUTO-GENERATED from test plan: testing-plans/kvr-replication.md\n  // Scenario: S3", "  // Scenario: S3")},
			[]lintKey{{RuleSkeletonHeader, "7", "S3"}}, nil},
		{RuleSkeletonHeader + "/scenario-id",
			[]lintEdit{editReplace("  // Scenario: S5 acknowledged", "  // Scenario: acknowledged")},
			[]lintKey{{RuleSkeletonHeader, "7", "S5"}}, nil},
		{RuleUntestedSurfaces,
			[]lintEdit{
				editReplace("- **Surface:** export API (`/v1/export`)\n", "- **Surface:** export API (`/v1/export`)\n- **Expected verdict:** NOT-RUN until the export fixture lands\n"),
				editReplace("on the key API and the export API only", "on the key API only"),
			},
			[]lintKey{{RuleUntestedSurfaces, "7d", "S4/export"}}, nil},
		{RuleSetupShapedName,
			[]lintEdit{editReplace("### Scenario S2: writes_resume_within_10s_after_primary_failure", "### Scenario S2: 3-node cluster with chaos")},
			[]lintKey{{RuleSetupShapedName, "7", "S2"}}, nil},
		{RuleAbsoluteConfidence,
			[]lintEdit{editReplace("This is evidence about the tested fault schedules and seeds, not a proof for all schedules.", "Lost acknowledged writes cannot happen.")},
			[]lintKey{{RuleAbsoluteConfidence, "7d", ""}}, nil},
		{RuleCategoryUncovered,
			[]lintEdit{editReplace("- configuration: N/A — the change adds no flags and alters no defaults\n", "")},
			[]lintKey{{RuleCategoryUncovered, "4", "configuration"}}, nil},
		{RuleClaimUnfalsified,
			[]lintEdit{editReplace("- **Falsifies if it FAILs:** C5, C6\n", "- **Falsifies if it FAILs:** C5\n")},
			[]lintKey{{RuleClaimUnfalsified, "1b", "C6"}}, nil},
		{RuleSummaryTooLong,
			[]lintEdit{editReplace("## 1. Scope", strings.Repeat("- another component line\n", 10)+"\n## 1. Scope")},
			[]lintKey{{RuleSummaryTooLong, "0", ""}}, nil},
		{RuleUnknownTechnique,
			[]lintEdit{editReplace("- **Technique:** crash-recovery-and-upgrade", "- **Technique:** crash-testing")},
			[]lintKey{{RuleUnknownTechnique, "7", "S5"}}, nil},
		{RuleReleaseDisclosure,
			[]lintEdit{editReplace("release: not provided — no soak environment. Revisit when: the nightly soak environment is provisioned", "release: not provided")},
			[]lintKey{{RuleReleaseDisclosure, "7", "S5"}}, nil},
		{RuleBudgetMissing,
			[]lintEdit{editReplace("hardening: 3 nodes, 30m, 30 faults, 5 seeds; release: not provided — no soak", "release: not provided — no soak")},
			[]lintKey{{RuleBudgetMissing, "7", "S5"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			src, err := applyEdits(base, tt.edits...)
			if err != nil {
				t.Fatalf("lintEdit does not apply: %v", err)
			}
			var got []lintKey
			for _, d := range lintSource(t, src) {
				if baseline[d.Message] {
					continue
				}
				k := lintKeyOf(d)
				if !slices.Contains(tt.want, k) && !slices.Contains(tt.others, d.Rule) {
					t.Errorf("unexpected %s", d)
				}
				if !strings.Contains(d.Message, "§"+d.Section) && d.Section != "header" || d.ID != "" && !strings.Contains(d.Message, d.ID) || d.Fix == "" || !strings.HasSuffix(d.Message, "Fix: "+d.Fix) {
					t.Errorf("message must name section and id and carry a fix: %s", d)
				}
				got = append(got, k)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s; got %v", w, got)
				}
			}
		})
	}
}

func TestMachineCheckable(t *testing.T) {
	tests := []struct {
		oracle string
		ok     bool
		reason string // a substring the reason must contain
	}{
		// Named checkers (SPEC §4.2) and their aliases.
		{"Porcupine linearizability check per key over the complete history", true, "linearizability"},
		{"linearizability", true, "linearizability"},
		{"Elle list-append: no G0, G1c or G2-item cycle", true, "serializability"},
		{"no-lost-ack + replay-equivalence", true, "no-lost-ack"},
		{"exactly-once on the business idempotency key", true, "exactly-once"},
		{"mutual exclusion over lock ops", true, "mutual-exclusion"},
		{"slo-threshold on kvr_put_seconds", true, "slo-threshold"},
		// Properties and thresholds.
		{"p99 < 200ms", true, "comparison"},
		{"p99 PUT latency <= 25 ms outside fault windows", true, "comparison"},
		{"worst_group_p99 / aggregate_p99 ≤ 1.5", true, "fairness"},
		{"error_rate_by_group == 0", true, "fairness"},
		{"retries_per_op == 0", true, "comparison"},
		{"the write gap stays below 10 s", true, "threshold"},
		{"failover completes within 10 s", true, "threshold"},
		{"every acknowledged write is read back at quiescence", true, "property over"},
		{"each key has a single committed effect in the final dump", true, "property over"},
		{"no two holders of the same lease at any instant", true, "mutual-exclusion"},
		{"no two replicas report different values", true, "property over"},
		{"no foreign key appears in any response", true, "property over"},
		{"negative controls return 403/404 and no foreign key string appears in any captured output", true, "property over"},
		{"positive controls return exactly the tenant's own keys", true, "property over"},
		// Refused: vague, manual, empty.
		{"", false, "empty"},
		{"   ", false, "empty"},
		{"TBD", false, "empty"},
		{"logs look fine", false, "judgement"},
		{"no errors in logs", false, "judgement"},
		{"no errors in the logs after the run", false, "judgement"},
		{"manually verify the data", false, "person"},
		{"manually verify that every acknowledged write is present", false, "person"},
		{"output looks correct", false, "judgement"},
		{"seems ok", false, "judgement"},
		{"health checks pass", false, "judgement"},
		{"the system works correctly", false, "judgement"},
		{"eyeball the dashboard", false, "person"},
		{"the cluster is healthy afterwards", false, "names no checker"},
		{"all requests look fine", false, "judgement"},
		{"cross-tenant GET returns 404", true, "property over"},
		{"positive controls succeed and negative controls show no foreign key", true, "property over"},
		{"the request returns something", false, "names no checker"},
		{"every node seems healthy", false, "judgement"},
		{"logs look fine and every acknowledged write is read back", true, "property over"},
	}
	for _, tt := range tests {
		ok, reason := MachineCheckable(tt.oracle)
		if ok != tt.ok {
			t.Errorf("MachineCheckable(%q) = %v (%s), want %v", tt.oracle, ok, reason, tt.ok)
			continue
		}
		if !strings.Contains(reason, tt.reason) {
			t.Errorf("MachineCheckable(%q) reason %q does not mention %q", tt.oracle, reason, tt.reason)
		}
	}
}

// TestLintProjectWide mutates the project-wide fixture: §3 and §5 are
// required there, with rows.
func TestLintProjectWide(t *testing.T) {
	base := lintFixture(t, "projectwide.md")
	tests := []struct {
		name  string
		edits []lintEdit
		want  []lintKey
	}{
		{"inventory absent", []lintEdit{editCut("## 3. Existing test inventory", "## 4. Failure-mode hypotheses")},
			[]lintKey{{RuleProjectWide, "3", ""}}},
		{"coverage rows absent", []lintEdit{editCut("| Claim | Hypothesis | Existing tests", "## 6. Technique selection")},
			[]lintKey{{RuleProjectWide, "5", ""}}},
		{"change-scoped drops the requirement", []lintEdit{
			editReplace("**Plan mode:** project-wide", "**Plan mode:** change-scoped"),
			editCut("## 3. Existing test inventory", "## 4. Failure-mode hypotheses"),
			editCut("## 5. Coverage matrix", "## 6. Technique selection"),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := applyEdits(base, tt.edits...)
			if err != nil {
				t.Fatalf("lintEdit does not apply: %v", err)
			}
			var got []lintKey
			for _, d := range lintSource(t, src) {
				got = append(got, lintKeyOf(d))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLintStableAcrossRender checks that rendering a parsed plan and
// parsing it back changes no diagnostic.
func TestLintStableAcrossRender(t *testing.T) {
	for _, name := range []string{"kvstore.md", "projectwide.md"} {
		p, err := Parse([]byte(lintFixture(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(Render(p))
		if err != nil {
			t.Fatalf("%s: re-parse rendered plan: %v", name, err)
		}
		if a, b := Lint(p), Lint(q); !slices.Equal(a, b) {
			t.Errorf("%s: diagnostics differ after Render:\n%v\n%v", name, a, b)
		}
	}
}

// TestLintAcceptsVariants edits the fixture in ways the SPEC allows; none
// may add a diagnostic.
func TestLintAcceptsVariants(t *testing.T) {
	base := lintFixture(t, "kvstore.md")
	baseline := map[string]bool{}
	for _, d := range lintSource(t, base) {
		baseline[d.Message] = true
	}
	tests := []struct {
		name  string
		edits []lintEdit
	}{
		{"checker alias porcupine", []lintEdit{editReplace("- **Checker:** linearizability\n", "- **Checker:** linearizability (Porcupine)\n")}},
		{"checker alias bare porcupine", []lintEdit{editReplace("- **Checker:** linearizability\n", "- **Checker:** porcupine\n")}},
		{"log checker pair", []lintEdit{editReplace("- **Checker:** no-lost-ack\n", "- **Checker:** no-lost-ack + replay-equivalence\n")}},
		{"none with justification", []lintEdit{editReplace("- **Checker:** exactly-once\n", "- **Checker:** none — the final dump is checked per business idempotency key for two committed effects, which decides C3 directly\n")}},
		{"misfit with justification", []lintEdit{editReplace("- **Checker:** linearizability\n", "- **Checker:** serializability — justification: every client op is a single-key transaction, so Elle rw-register decides C1\n")}},
		{"model with detail", []lintEdit{editReplace("- **Model under test:** log\n", "- **Model under test:** log (one per key)\n")}},
		{"1c explicitly empty", []lintEdit{
			editCut("| ID | Behavior the code relies on", "## 2. SUT model"),
			editReplace("## 2. SUT model", "No missing claims were found: every behaviour the code relies on is documented.\n\n## 2. SUT model"),
		}},
		{"7c explicitly empty", []lintEdit{
			editCut("| Uncertainty | Why uncovered", "## 7d. Confidence statement"),
			editReplace("## 7d. Confidence statement", "The residual uncertainty is empty for the claims in scope.\n\n## 7d. Confidence statement"),
		}},
		{"release tier provided", []lintEdit{editReplace("release: not provided — no soak environment. Revisit when: the nightly soak environment is provisioned", "release: 5 nodes, 4h, 100 faults, 20 seeds")}},
		{"conservative confidence", []lintEdit{editReplace("This is evidence about", "We have not observed a stale read; this is evidence about")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := applyEdits(base, tt.edits...)
			if err != nil {
				t.Fatalf("lintEdit does not apply: %v", err)
			}
			for _, d := range lintSource(t, src) {
				if !baseline[d.Message] {
					t.Errorf("unexpected %s", d)
				}
			}
		})
	}
}

func TestFindScenario(t *testing.T) {
	p, err := Parse([]byte(lintFixture(t, "kvstore.md")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id, scenario, arm string
		wantErr           bool
	}{
		{"S3", "S3", "", false},
		{" s3 ", "S3", "", false},
		{"S4/api", "S4", "S4/api", false},
		{"S4/export", "S4", "S4/export", false},
		{"S4/sdk", "", "", true},
		{"S9", "", "", true},
		{"S9/api", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		s, a, err := p.FindScenario(tt.id)
		if (err != nil) != tt.wantErr {
			t.Errorf("FindScenario(%q) error = %v, want error %v", tt.id, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if s.ID != tt.scenario {
			t.Errorf("FindScenario(%q) scenario = %s, want %s", tt.id, s.ID, tt.scenario)
		}
		if (a == nil) != (tt.arm == "") || a != nil && a.ID != tt.arm {
			t.Errorf("FindScenario(%q) arm = %v, want %q", tt.id, a, tt.arm)
		}
	}
	if c := p.Claim("C3"); c == nil || c.Category != CategoryIdempotency {
		t.Errorf("Claim(C3) = %+v, want the idempotency claim", c)
	}
	if c := p.Claim("C99"); c != nil {
		t.Errorf("Claim(C99) = %+v, want nil", c)
	}
}

func TestGatesAndSummary(t *testing.T) {
	p, err := Parse([]byte(lintFixture(t, "kvstore.md")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ serious, surfaces bool }{
		"S1": {true, false},  // safety
		"S2": {false, false}, // liveness + performance-SLO
		"S3": {true, false},  // idempotency
		"S4": {false, true},  // boundary
		"S5": {true, false},  // durability
	}
	for _, s := range p.Scenarios {
		w := want[s.ID]
		if got := Serious(p, &s); got != w.serious {
			t.Errorf("Serious(%s) = %v, want %v", s.ID, got, w.serious)
		}
		if got := NeedsSurfaces(p, &s); got != w.surfaces {
			t.Errorf("NeedsSurfaces(%s) = %v, want %v", s.ID, got, w.surfaces)
		}
	}
	sum := Summarize(p)
	if sum.Claims != 7 || sum.MissingClaims != 2 || sum.Hypotheses != 7 || sum.Scenarios != 5 || sum.Arms != 2 {
		t.Errorf("counts = %+v, want 7 claims, 2 missing, 7 hypotheses, 5 scenarios, 2 arms", sum)
	}
	gates := map[string][]string{}
	for _, g := range sum.Gates {
		gates[g.Gate] = g.AppliesTo
	}
	if !slices.Equal(gates["§7.M"], []string{"S1", "S3", "S5"}) || !slices.Equal(gates["§7.M.S"], []string{"S4"}) {
		t.Errorf("gates = %v", gates)
	}
	for _, ss := range sum.PerScenario {
		w := want[ss.ID]
		if ss.Serious != w.serious || ss.ModelGate != w.serious || ss.SurfaceGate != w.surfaces {
			t.Errorf("%s summary = %+v", ss.ID, ss)
		}
		if ss.Serious && !ss.CheckerFits {
			t.Errorf("%s: checker %q should fit model %q", ss.ID, ss.Checker, ss.Model)
		}
	}
	if s2 := sum.PerScenario[1]; !s2.NotApplicable || s2.Checker != "" {
		t.Errorf("S2 summary = %+v, want the not-applicable line and no checker", s2)
	}

	pw, err := Parse([]byte(lintFixture(t, "projectwide.md")))
	if err != nil {
		t.Fatal(err)
	}
	sum = Summarize(pw)
	if sum.Mode != ModeProjectWide || sum.Gates[len(sum.Gates)-1].Gate != "project-wide §3/§5" {
		t.Errorf("project-wide summary = %+v", sum)
	}
}

// TestLintOrder checks that errors come before warnings and that each
// group follows section order.
func TestLintOrder(t *testing.T) {
	src, err := applyEdits(lintFixture(t, "kvstore.md"),
		editReplace("- configuration: N/A — the change adds no flags and alters no defaults\n", ""), // warning §4
		editReplace("- **Closes:** H3\n", "- **Closes:** H3, H9\n"),                                 // error §7
		editReplace("| C6 | fsync batching", "| C16 | fsync batching"),                              // errors §7b
		editReplace("**Plan mode:** change-scoped", "**Plan mode:** quick-check"),                   // error header
		editReplace("## 9. Open questions / followups\n", ""),                                       // error §9
	)
	if err != nil {
		t.Fatal(err)
	}
	ds := lintSource(t, src)
	var got []string
	for _, d := range ds {
		got = append(got, d.Severity+" "+d.Section)
	}
	for i := 1; i < len(ds); i++ {
		a, b := ds[i-1], ds[i]
		if a.Severity == SeverityWarning && b.Severity == SeverityError {
			t.Fatalf("warning before error: %v", got)
		}
		if a.Severity == b.Severity && sectionRank(a.Section) > sectionRank(b.Section) {
			t.Fatalf("section order broken: %v", got)
		}
	}
	if len(ds) < 5 || ds[0].Section != "header" || ds[len(ds)-1].Severity != SeverityWarning {
		t.Errorf("diagnostics = %v", got)
	}
	if !HasErrors(ds) || HasErrors(ds[len(ds)-1:]) || HasErrors(nil) {
		t.Error("HasErrors misreports")
	}
}

// TestLintArmsOfSeriousScenario covers arms of a scenario that falsifies a
// gated claim: each arm needs its own complete §7.M.
func TestLintArmsOfSeriousScenario(t *testing.T) {
	src, err := applyEdits(lintFixture(t, "kvstore.md"),
		editReplace("- **Falsifies if it FAILs:** C4, C7\n", "- **Falsifies if it FAILs:** C4, C7, C1\n"),
		editCut("- **Model under test:** map\n- **Operation history:** export requests", "### Scenario S5"),
		editReplace("- **Checker:** invariant over final state — the picker has no map + boundary row; the predicate \"every response key", "- **Checker:** serializability\n- **Was:** the predicate \"every response key"),
	)
	if err != nil {
		t.Fatal(err)
	}
	var keys []lintKey
	for _, d := range lintSource(t, src) {
		if d.Rule != RuleHardeningNotStronger {
			keys = append(keys, lintKeyOf(d))
		}
	}
	want := []lintKey{
		{RuleCheckerMismatch, "7.M", "S4/api"}, // map + safety needs linearizability
		{RuleModelMissing, "7.M", "S4/export"},
	}
	if !slices.Equal(keys, want) {
		t.Errorf("got %v, want %v", keys, want)
	}
}

// TestLintNeverPanics lints every prefix of the fixtures at a stride: a
// truncated plan yields diagnostics, never a crash.
func TestLintNeverPanics(t *testing.T) {
	for _, name := range []string{"kvstore.md", "projectwide.md"} {
		src := lintFixture(t, name)
		for i := 0; i <= len(src); i += 97 {
			p, err := Parse([]byte(src[:i]))
			if err != nil {
				continue
			}
			ds := Lint(p)
			_ = Summarize(p)
			if i < len(src)/2 && !HasErrors(ds) {
				t.Errorf("%s truncated at %d: no errors", name, i)
			}
		}
	}
	if ds := Lint(nil); !HasErrors(ds) {
		t.Error("Lint(nil) reports no error")
	}
	_ = Summarize(nil)
	_ = Lint(&Plan{})
}

func TestLintHeuristics(t *testing.T) {
	names := []struct {
		name  string
		setup bool
	}{
		{"3-node cluster with chaos", true},
		{"five node jepsen run", true},
		{"chaos_test", true},
		{"basic smoke test", true},
		{"linearizable_append_under_partition", false},
		{"acknowledged_writes_survive_single_node_crash", false},
		{"tenant_keys_invisible_to_other_tenants", false},
		{"writes_resume_within_10s_after_primary_failure", false},
	}
	for _, tt := range names {
		if got := setupShaped(tt.name); got != tt.setup {
			t.Errorf("setupShaped(%q) = %v, want %v", tt.name, got, tt.setup)
		}
	}
	sentences := []struct {
		text string
		n    int
	}{
		{"One. Two! Three? Four.", 4},
		{"p99 stayed at 2.5 ms. We did not test WAN links", 2},
		{"We have not observed loss (under the tested faults). Next.", 2},
		{"", 0},
	}
	for _, tt := range sentences {
		if got := countSentences(tt.text); got != tt.n {
			t.Errorf("countSentences(%q) = %d, want %d", tt.text, got, tt.n)
		}
	}
	surfaces := []struct {
		text string
		n    int
	}{
		{"key API (GET/PUT/LIST), export API", 2},
		{"HTTP API, gRPC API, SDK and export job", 4},
		{"api; sdk; export; metrics; admin", 5},
		{"key API", 1},
	}
	for _, tt := range surfaces {
		if got := surfaceList(tt.text); len(got) != tt.n {
			t.Errorf("surfaceList(%q) = %q, want %d surfaces", tt.text, got, tt.n)
		}
	}
}

func TestForScenario(t *testing.T) {
	src, err := applyEdits(lintFixture(t, "kvstore.md"),
		editReplace("- **Oracle:** every NDJSON line of tenant T's export has key prefix `T/`; the line count equals T's own key count", "- **Oracle:** manually verify the export"),
		editReplace("- **Closes:** H3\n", "- **Closes:** H3, H9\n"),
		editReplace("- **Surface:** key API (GET, PUT, LIST)\n", ""),
	)
	if err != nil {
		t.Fatal(err)
	}
	ds := lintSource(t, src)
	ids := func(id string) []string {
		var out []string
		for _, d := range ForScenario(ds, id) {
			if d.Rule != RuleHardeningNotStronger {
				out = append(out, d.Rule+" "+d.ID)
			}
		}
		return out
	}
	tests := []struct {
		id   string
		want []string
	}{
		{"S4", []string{RuleArmIncomplete + " S4/api", RuleOracleNotCheckable + " S4/export"}},
		{"S4/export", []string{RuleOracleNotCheckable + " S4/export"}},
		{"S4/api", []string{RuleArmIncomplete + " S4/api"}},
		{"S3", []string{RuleUnknownHypothesis + " S3"}},
		{"S1", nil},
	}
	for _, tt := range tests {
		if got := ids(tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("ForScenario(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
