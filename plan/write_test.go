package plan

import (
	"os"
	"strings"
	"testing"
)

// TestClassifyWrite: a write is blocked only by errors it introduces in
// what it wrote; errors about sections not written yet wait for lint_plan.
func TestClassifyWrite(t *testing.T) {
	src, err := os.ReadFile("testdata/kvstore.md")
	if err != nil {
		t.Fatal(err)
	}
	full, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	// A new plan with only §0 written: every other section is pending.
	fresh := NewPlan(full.Header)
	fresh.Summary = full.Summary
	blocking, pending, _ := ClassifyWrite(nil, Lint(fresh), fresh, "0", "")
	if len(blocking) != 0 {
		t.Errorf("writing §0 of a new plan is blocked by %+v", blocking)
	}
	if len(pending) == 0 {
		t.Error("a plan with only §0 has no pending errors")
	}

	// The complete plan with scenario S1 now naming an unknown claim: the
	// write of S1 introduced it, so it blocks.
	bad := strings.Replace(string(src), "- **Falsifies if it FAILs:** C1", "- **Falsifies if it FAILs:** C1, C99", 1)
	if bad == string(src) {
		t.Fatal("fixture changed: S1's Falsifies line not found")
	}
	after, err := Parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	blocking, _, _ = ClassifyWrite(Lint(full), Lint(after), after, "7", "S1")
	if len(blocking) != 1 || blocking[0].Rule != RuleUnknownClaim || blocking[0].ID != "S1" {
		t.Fatalf("blocking = %+v, want one unknown-claim on S1", blocking)
	}

	// The same error, already in the file, does not block a write to
	// another section: it is pending.
	blocking, pending, _ = ClassifyWrite(Lint(after), Lint(after), after, "8", "")
	if len(blocking) != 0 {
		t.Errorf("an error already in the file blocks a write elsewhere: %+v", blocking)
	}
	found := false
	for _, d := range pending {
		found = found || d.Rule == RuleUnknownClaim
	}
	if !found {
		t.Errorf("the existing unknown-claim error is not pending: %+v", pending)
	}
}
