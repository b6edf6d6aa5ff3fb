package tools_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/plan"
	"github.com/falsify-dev/falsify/tools"
)

func TestLintPlan(t *testing.T) {
	src := kvstore(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"testing-plans/kvstore.md": src,
		// §7b without the row for C2: adequacy-missing for C2.
		"docs/broken.md": regexp7bRow(t, src, "C2"),
	})
	c := newClient(t, root)

	var res tools.LintPlanResult
	decode(t, "lint_plan", call(t, c, "lint_plan", map[string]any{"plan": "kvstore"}), &res)
	if !res.Clean || len(res.Errors) != 0 {
		t.Errorf("kvstore: clean=%v errors=%+v", res.Clean, res.Errors)
	}
	if res.Summary.Claims < 5 || res.Summary.Scenarios < 3 || len(res.Summary.Gates) == 0 {
		t.Errorf("summary = %+v", res.Summary)
	}

	decode(t, "lint_plan", call(t, c, "lint_plan", map[string]any{"plan": "docs/broken.md"}), &res)
	if res.Clean {
		t.Fatal("plan without a §7b row for C2 linted clean")
	}
	found := false
	for _, d := range res.Errors {
		if d.Rule == plan.RuleAdequacyMissing && d.ID == "C2" && d.Section == "7b" && d.Fix != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("errors lack adequacy-missing for C2 in §7b: %+v", res.Errors)
	}

	for _, tc := range []struct{ plan, field string }{
		{"../outside.md", "plan"},
		{"nope", "plan"},
		{"", "plan"},
	} {
		r := call(t, c, "lint_plan", map[string]any{"plan": tc.plan})
		if !r.IsError || !strings.Contains(text(r), tc.field) {
			t.Errorf("lint_plan %q: isError=%v %s", tc.plan, r.IsError, text(r))
		}
	}
	// A file that is not a plan at all.
	if err := os.WriteFile(filepath.Join(root, "docs", "notes.md"), []byte("just some notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := call(t, c, "lint_plan", map[string]any{"plan": "docs/notes.md"})
	if !r.IsError && !strings.Contains(text(r), `"clean":false`) {
		t.Errorf("lint_plan on a non-plan: %s", text(r))
	}
}

// regexp7bRow returns src with the §7b table row of claim id removed.
func regexp7bRow(t *testing.T, src, id string) string {
	t.Helper()
	i := strings.Index(src, "## 7b.")
	if i < 0 {
		t.Fatal("kvstore.md has no §7b")
	}
	head, tail := src[:i], src[i:]
	var out []string
	removed := false
	for _, line := range strings.Split(tail, "\n") {
		if !removed && strings.HasPrefix(line, "| "+id+" ") {
			removed = true
			continue
		}
		out = append(out, line)
	}
	if !removed {
		t.Fatalf("no §7b row for %s", id)
	}
	return head + strings.Join(out, "\n")
}
