package tools_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/falsify-dev/falsify/plan"
	"github.com/falsify-dev/falsify/tools"
)

// planPart is one write_plan_section call's worth of a plan file.
type planPart struct {
	section, scenario, content string
}

var (
	sectionHeading  = regexp.MustCompile(`^## ([0-9]+[a-z]?)\. `)
	scenarioHeading = regexp.MustCompile(`^### Scenario (S[0-9]+):`)
)

// splitPlan cuts a plan file into its header, its sections and, for §7,
// one part per scenario block (the "## 7." heading and any prose before
// the first scenario become a part of their own).
func splitPlan(t testing.TB, src string) []planPart {
	t.Helper()
	var parts []planPart
	cur := planPart{section: "header"}
	var b strings.Builder
	flush := func() {
		cur.content = b.String()
		if strings.TrimSpace(cur.content) != "" {
			parts = append(parts, cur)
		}
		b.Reset()
	}
	inFence := false
	for _, line := range strings.SplitAfter(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inFence = !inFence
		}
		if !inFence {
			if m := sectionHeading.FindStringSubmatch(line); m != nil {
				flush()
				cur = planPart{section: m[1]}
			} else if m := scenarioHeading.FindStringSubmatch(line); m != nil && cur.section == "7" {
				flush()
				cur = planPart{section: "7", scenario: m[1]}
			}
		}
		b.WriteString(line)
	}
	flush()
	return parts
}

func kvstore(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(repoFile(t, "plan/testdata/kvstore.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func writeArgs(slug string, p planPart) map[string]any {
	args := map[string]any{"plan": slug, "section": p.section, "content": p.content}
	if p.scenario != "" {
		args["scenario"] = p.scenario
	}
	return args
}

// TestWritePlanSectionBySection writes the kvstore plan one section (and
// one scenario) at a time through an MCP client, then lints it clean.
func TestWritePlanSectionBySection(t *testing.T) {
	src := kvstore(t)
	parts := splitPlan(t, src)
	if len(parts) < 18 {
		t.Fatalf("split kvstore.md into %d parts; want the header, every section and every scenario", len(parts))
	}
	root := t.TempDir()
	c := newClient(t, root)
	for i, p := range parts {
		if p.section == "7" && p.scenario == "" {
			continue // the bare "## 7. Scenarios" heading; scenarios are written one by one
		}
		var res tools.WritePlanSectionResult
		decode(t, "write_plan_section", call(t, c, "write_plan_section", writeArgs("kvstore", p)), &res)
		if !res.Written || len(res.Errors) > 0 {
			t.Fatalf("part %d (section %s %s): written=%v errors=%+v", i, p.section, p.scenario, res.Written, res.Errors)
		}
		if res.Path != "testing-plans/kvstore.md" {
			t.Fatalf("path = %q", res.Path)
		}
		if res.Created != (i == 0) {
			t.Errorf("part %d: created = %v", i, res.Created)
		}
	}

	var lint tools.LintPlanResult
	decode(t, "lint_plan", call(t, c, "lint_plan", map[string]any{"plan": "kvstore"}), &lint)
	if !lint.Clean || len(lint.Errors) > 0 {
		t.Fatalf("lint_plan after writing every section: %+v", lint.Errors)
	}
	want, err := plan.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ws := plan.Summarize(want)
	if lint.Summary.Claims != ws.Claims || lint.Summary.Hypotheses != ws.Hypotheses ||
		lint.Summary.Scenarios != ws.Scenarios || lint.Summary.Arms != ws.Arms {
		t.Errorf("summary = %+v, want counts of kvstore.md %+v", lint.Summary, ws)
	}
	written, err := os.ReadFile(filepath.Join(root, "testing-plans", "kvstore.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := plan.Parse(written)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range want.Scenarios {
		gs, _, err := got.FindScenario(s.ID)
		if err != nil {
			t.Errorf("scenario %s missing from the written plan: %v", s.ID, err)
			continue
		}
		if gs.Name != s.Name || gs.Oracle != s.Oracle || len(gs.Arms) != len(s.Arms) {
			t.Errorf("scenario %s written as %q (oracle %q, %d arms), want %q (%q, %d arms)", s.ID, gs.Name, gs.Oracle, len(gs.Arms), s.Name, s.Oracle, len(s.Arms))
		}
	}
	// Rewriting a section in place leaves the rest of the file alone.
	for _, p := range parts {
		if p.section != "2" {
			continue
		}
		edited := strings.Replace(p.content, "There is no per-tenant quota.", "There is no per-tenant quota (hand edit).", 1)
		var res tools.WritePlanSectionResult
		decode(t, "write_plan_section", call(t, c, "write_plan_section", writeArgs("kvstore", planPart{section: "2", content: edited})), &res)
		if !res.Written {
			t.Fatalf("rewrite §2: %+v", res.Errors)
		}
		after, _ := os.ReadFile(filepath.Join(root, "testing-plans", "kvstore.md"))
		if !bytes.Contains(after, []byte("(hand edit)")) {
			t.Error("rewritten §2 not in the file")
		}
		if got, want := strings.Count(string(after), "\n## "), strings.Count(string(written), "\n## "); got != want {
			t.Errorf("section count changed from %d to %d after rewriting §2", want, got)
		}
	}
}

// TestWritePlanSectionRejects checks that caller mistakes are isError
// results naming the argument, and that the plan on disk is untouched.
func TestWritePlanSectionRejects(t *testing.T) {
	src := kvstore(t)
	parts := splitPlan(t, src)
	find := func(section, scenario string) string {
		for _, p := range parts {
			if p.section == section && p.scenario == scenario {
				return p.content
			}
		}
		t.Fatalf("kvstore.md has no part %s %s", section, scenario)
		return ""
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "testing-plans", "kvstore.md")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(root, "testing-plans", "notes.md")
	if err := os.WriteFile(notes, []byte("some notes, not a plan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, root)

	tests := []struct {
		name  string
		args  map[string]any
		field string // the argument the message must name
	}{
		{"unknown section", map[string]any{"plan": "kvstore", "section": "7e", "content": find("7b", "")}, "section"},
		{"malformed scenario id", map[string]any{"plan": "kvstore", "section": "7", "scenario": "scenario-3", "content": find("7", "S3")}, "scenario"},
		{"scenario on another section", map[string]any{"plan": "kvstore", "section": "4", "scenario": "S1", "content": find("4", "")}, "scenario"},
		{"content for the wrong section", map[string]any{"plan": "kvstore", "section": "1b", "content": find("4", "")}, "content"},
		{"scenario content under another id", map[string]any{"plan": "kvstore", "section": "7", "scenario": "S2", "content": find("7", "S3")}, "content"},
		{"empty content", map[string]any{"plan": "kvstore", "section": "0", "content": "  \n"}, "content"},
		{"plan path escaping the root", map[string]any{"plan": "../x", "section": "0", "content": find("0", "")}, "plan"},
		{"absolute plan path", map[string]any{"plan": "/etc/passwd", "section": "0", "content": find("0", "")}, "plan"},
		{"missing plan", map[string]any{"section": "0", "content": find("0", "")}, "plan"},
		{"bad mode", map[string]any{"plan": "fresh", "section": "0", "mode": "galaxy-wide", "content": find("0", "")}, "mode"},
		{"plan file that is not a plan", map[string]any{"plan": "notes", "section": "0", "content": find("0", "")}, "plan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, c, "write_plan_section", tc.args)
			if !res.IsError {
				t.Fatalf("want isError, got %s", text(res))
			}
			if msg := text(res); !strings.Contains(msg, tc.field) {
				t.Errorf("message does not name %q: %s", tc.field, msg)
			}
			after, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != src {
				t.Error("plan file changed")
			}
			if raw, _ := os.ReadFile(notes); string(raw) != "some notes, not a plan\n" {
				t.Error("a file that is not a plan was changed")
			}
			if _, err := os.Stat(filepath.Join(root, "testing-plans", "fresh.md")); err == nil {
				t.Error("a rejected write created a plan")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(root), "x.md")); err == nil {
				t.Error("a write escaped the workspace")
			}
		})
	}
}

// TestWritePlanSectionBlocksLintErrors checks that content that parses
// but breaks a plan rule is refused with the error and nothing written.
func TestWritePlanSectionBlocksLintErrors(t *testing.T) {
	src := kvstore(t)
	parts := splitPlan(t, src)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "testing-plans", "kvstore.md")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, root)
	var s1, h4 string
	for _, p := range parts {
		if p.section == "7" && p.scenario == "S1" {
			s1 = p.content
		}
		if p.section == "4" {
			h4 = p.content
		}
	}
	tests := []struct {
		name, section, scenario, content string
		rule, id                         string
	}{
		{"serious scenario loses its checker", "7", "S1", regexp.MustCompile(`(?m)^- \*\*Checker:\*\*.*$`).ReplaceAllString(s1, "- **Checker:**"), plan.RuleModelPartial, "S1"},
		{"hypothesis names an unknown claim", "4", "", strings.Replace(h4, "Could falsify: C1", "Could falsify: C99", 1), plan.RuleUnknownClaim, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.content == s1 || tc.content == h4 {
				t.Fatal("mutation did not apply")
			}
			var res tools.WritePlanSectionResult
			decode(t, "write_plan_section", call(t, c, "write_plan_section", writeArgs("kvstore", planPart{tc.section, tc.scenario, tc.content})), &res)
			if res.Written {
				t.Fatal("written despite a blocking error")
			}
			found := false
			for _, d := range res.Errors {
				if d.Rule == tc.rule && (tc.id == "" || d.ID == tc.id) {
					found = true
				}
			}
			if !found {
				t.Errorf("errors %+v lack rule %s id %q", res.Errors, tc.rule, tc.id)
			}
			after, _ := os.ReadFile(file)
			if string(after) != src {
				t.Error("plan file changed")
			}
		})
	}
}

// TestWritePlanSectionConcurrent writes the sections of one plan from 8
// goroutines at once: the per-plan lock must keep every write, and the
// file must parse with every section present.
func TestWritePlanSectionConcurrent(t *testing.T) {
	parts := splitPlan(t, kvstore(t))
	root := t.TempDir()
	c := newClient(t, root)
	// The header first, so the plan exists with its own header fields.
	var rest []planPart
	for _, p := range parts {
		switch {
		case p.section == "header":
			var res tools.WritePlanSectionResult
			decode(t, "write_plan_section", call(t, c, "write_plan_section", writeArgs("kvstore", p)), &res)
			if !res.Written {
				t.Fatalf("header: %+v", res.Errors)
			}
		case p.section == "7" && p.scenario == "":
		default:
			rest = append(rest, p)
		}
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, len(rest))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(rest); i += workers {
				res := call(t, c, "write_plan_section", writeArgs("kvstore", rest[i]))
				if res.IsError || !strings.Contains(text(res), `"written":true`) {
					errs <- fmt.Errorf("section %s %s: %s", rest[i].section, rest[i].scenario, text(res))
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "testing-plans", "kvstore.md"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Parse(raw)
	if err != nil {
		t.Fatalf("concurrently written plan does not parse: %v", err)
	}
	for _, part := range rest {
		if part.scenario != "" {
			if _, _, err := p.FindScenario(part.scenario); err != nil {
				t.Errorf("scenario %s lost: %v", part.scenario, err)
			}
			continue
		}
		found := false
		for _, id := range p.Present {
			if id == part.section {
				found = true
			}
		}
		if !found {
			t.Errorf("section %s lost (present: %v)", part.section, p.Present)
		}
	}
	if ds := plan.Lint(p); plan.HasErrors(ds) {
		t.Errorf("concurrently written plan has lint errors: %v", ds)
	}
}

// TestWritePlanSectionPending checks that errors about sections not yet
// written are reported as pending without blocking the write, and that
// lint_plan still reports them.
func TestWritePlanSectionPending(t *testing.T) {
	parts := splitPlan(t, kvstore(t))
	c := newClient(t, t.TempDir())
	var claims planPart
	for _, p := range parts {
		if p.section == "1b" {
			claims = p
		}
	}
	var res tools.WritePlanSectionResult
	decode(t, "write_plan_section", call(t, c, "write_plan_section", writeArgs("kv", claims)), &res)
	if !res.Written || !res.Created || len(res.Errors) != 0 {
		t.Fatalf("write §1b into a new plan: %+v", res)
	}
	pending := map[string]bool{}
	for _, d := range res.Pending {
		pending[d.Rule+" "+d.Section+" "+d.ID] = true
	}
	for _, want := range []string{"adequacy-missing 7b C1", "explicit-empty 1c ", "explicit-empty 7c "} {
		if !pending[want] {
			t.Errorf("pending lacks %q: %+v", want, res.Pending)
		}
	}
	var lint tools.LintPlanResult
	decode(t, "lint_plan", call(t, c, "lint_plan", map[string]any{"plan": "kv"}), &lint)
	if lint.Clean || len(lint.Errors) < len(res.Pending) {
		t.Errorf("lint_plan after one section: clean=%v, %d errors, %d pending", lint.Clean, len(lint.Errors), len(res.Pending))
	}
}
