package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzPlans are the plan files every plan fuzz target is seeded with.
var fuzzPlans = []string{"kvstore.md", "handwritten.md", "projectwide.md"}

// malformed is Markdown that is almost a plan: broken tables, headings out
// of place, unterminated constructs. Seeds for both targets.
var malformed = []string{
	"",
	"# Test Plan:",
	"# Test Plan: x",
	"# Test Plan: x\n## 7. Scenarios\n### Scenario S1:\n#### Arm S1/",
	"# Test Plan: x\n## 1b. Claims under test\n| id | claim |\n|",
	"# Test Plan: x\n## 1b. Claims under test\n| id | claim |\n|---|---|\n| C1 | a | b | c |\n| C2",
	"# Test Plan: x\n## 7. Scenarios\n### Scenario S1: a\n**Oracle:**\n**Budget tiers:**\n- smoke: \n",
	"# Test Plan: x\n## 7. Scenarios\n### Scenario S99999999999999999999: a\n",
	"# Test Plan: x\n## 7. Scenarios\n### Scenario S1: a\n#### Arm S1/a\n#### Arm S1/a\n#### Arm S2/b\n",
	"# Test Plan: x\n```\n## 7. Scenarios\n",
	"# Test Plan: x\n<!--\n## 1. Scope\n",
	"# Test Plan: x\n## 7.M Discipline\n## 7.M.S Surfaces\n",
	"\ufeff# Test Plan: bom\r\n## 0. Architectural summary\r\ntext\r\n",
	"# Test Plan: x\n" + strings.Repeat("> ", 200) + "deep quote\n",
	"# Test Plan: x\n" + strings.Repeat("- ", 300) + "deep list\n",
	"# Test Plan: x\n" + strings.Repeat("#", 7) + " not a heading\n",
	"# Test Plan: \x00\xff\xfe\n## 1. Scope\n\x00",
	"Setext title\n============\n# Test Plan: y\nTitle\n---\n",
}

// seedPlans adds the test plans and the malformed ones to a corpus.
func seedPlans(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, name := range fuzzPlans {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	for _, m := range malformed {
		out = append(out, []byte(m))
	}
	return out
}

// checkParse parses src and fails on a recovered panic or an unsound
// result: a plan that renders to something that is not a plan, or whose
// rendering does not settle. Rendering settles from the second pass on,
// not always the first: Parse keeps what it cannot read (a table row with
// no usable cells renders as an empty row, which the next Parse drops).
func checkParse(t *testing.T, src []byte) {
	t.Helper()
	p, err := Parse(src)
	if err != nil {
		if strings.Contains(err.Error(), "internal error") {
			t.Fatalf("Parse(%q) panicked: %v", clip(src), err)
		}
		if p != nil {
			t.Fatalf("Parse(%q) returned a plan and an error %v", clip(src), err)
		}
		return
	}
	if p == nil {
		t.Fatalf("Parse(%q) returned neither a plan nor an error", clip(src))
	}
	out := Render(p)
	Lint(p)
	Summarize(p)
	for pass := 2; pass <= 3; pass++ {
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse of rendering %d of %q failed: %v\nrendered:\n%s", pass-1, clip(src), err, clip(out))
		}
		again := Render(q)
		if pass == 3 && !bytes.Equal(again, out) {
			t.Fatalf("Render does not settle for %q:\nsecond:\n%s\nthird:\n%s", clip(src), clip(out), clip(again))
		}
		out = again
	}
}

// FuzzParseRender feeds arbitrary Markdown to Parse: it must never panic
// (Parse turns a panic into an "internal error"), and a plan it accepts
// must render to a plan whose rendering is stable. (FuzzParse, in
// parse_test.go, checks only that the rendering parses.) Seeds: the test
// plans, malformed ones above and testdata/fuzz/FuzzParseRender.
func FuzzParseRender(f *testing.F) {
	for _, s := range seedPlans(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkParse(t, src)
	})
}

// sectionIDs are the ids ReplaceSection is fuzzed with, including wrong
// ones.
var sectionIDs = append([]string{"header", "7", "x", "", "10", "1B"}, SectionOrder...)

// FuzzReplaceSection splices arbitrary content into a plan as a section,
// scenario or arm: ReplaceSection must never panic; when it succeeds the
// result is a plan, the section parses back with ParseSection, and
// splicing the same content again changes nothing. Seeds: each section
// and scenario of the test plans replaced by another plan's, and
// testdata/fuzz/FuzzReplaceSection.
func FuzzReplaceSection(f *testing.F) {
	plans := seedPlans(f)
	kv := plans[0]
	f.Add(kv, "7", "S1", []byte("### Scenario S1: renamed\n\n**Oracle:** linearizable per key\n"))
	f.Add(kv, "7", "S4/api", []byte("#### Arm S4/api\n\n**Oracle:** none\n"))
	f.Add(kv, "7", "S9/new", []byte("#### Arm S9/new\n\ntext\n"))
	f.Add(kv, "7", "", []byte("### Scenario S6: new_one\n\nbody\n"))
	f.Add(kv, "header", "", []byte("# Test Plan: other\n\n**Plan mode:** project-wide\n"))
	f.Add(kv, "9", "", []byte("## 9. Open questions / followups\n\n- none\n"))
	f.Add(kv, "1b", "", []byte("| id | claim |\n|---|---|\n| C1 | x |\n"))
	f.Add([]byte("# Test Plan: empty\n"), "7", "S1", []byte("### Scenario S1: a\n"))
	f.Add([]byte(""), "0", "", []byte("## 0. Architectural summary\n\ntext\n"))
	for _, src := range plans {
		for _, m := range malformed {
			f.Add(src, "7", "S1", []byte(m))
		}
	}
	// Every section of each plan spliced into the kvstore plan.
	for _, donor := range plans[:len(fuzzPlans)] {
		blocks, err := parseBlocks(donor)
		if err != nil {
			f.Fatal(err)
		}
		_, secs, err := sections(donor, blocks)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range secs {
			f.Add(kv, s.id, "", donor[s.start:s.end])
		}
	}
	f.Fuzz(checkReplace)
}

// checkReplace splices content into src and fails on a recovered panic or
// an unsound result.
func checkReplace(t *testing.T, src []byte, id, scenario string, content []byte) {
	out, err := ReplaceSection(src, id, scenario, content)
	if err != nil {
		if strings.Contains(err.Error(), "internal error") {
			t.Fatalf("ReplaceSection(%q, %q, %q, %q) panicked: %v", clip(src), id, scenario, clip(content), err)
		}
		return
	}
	target := id
	if scenario != "" {
		target = scenario
	}
	if _, err := ParseSection(target, content); err != nil {
		t.Fatalf("ReplaceSection accepted content that ParseSection(%q) refuses: %v", target, err)
	}
	if _, err := Parse(src); err == nil {
		checkParse(t, out)
	}
	again, err := ReplaceSection(out, id, scenario, content)
	if err != nil {
		t.Fatalf("splicing %q again into the result failed: %v\nresult:\n%s", target, err, clip(out))
	}
	if !bytes.Equal(again, out) {
		t.Fatalf("splicing %q twice is not idempotent:\nonce:\n%s\ntwice:\n%s", target, clip(out), clip(again))
	}
}

// clip shortens input for a failure message.
func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
