package plan

import (
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		fixture string
		// canonical fixtures are exactly what Render writes.
		canonical bool
	}{
		{"kvstore.md", true},
		{"projectwide.md", true},
		{"handwritten.md", false},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			src := loadFixture(t, tc.fixture)
			p1, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			out := Render(p1)
			p2, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Render): %v", err)
			}
			if !reflect.DeepEqual(p1, p2) {
				t.Errorf("Parse(Render(Parse(x))) differs from Parse(x)\nfirst:  %+v\nsecond: %+v", p1, p2)
			}
			if again := Render(p2); string(again) != string(out) {
				t.Errorf("Render is not stable across a round trip")
			}
			if tc.canonical && string(out) != string(src) {
				t.Errorf("Render(Parse(%s)) is not byte-identical to the canonical fixture:\n%s", tc.fixture, firstDiff(string(src), string(out)))
			}
		})
	}
}

// firstDiff describes the first differing line of a and b.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  want " + x + "\n  got  " + y
		}
	}
	return "(no line differs)"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestRenderShapes(t *testing.T) {
	p := NewPlan(Header{Slug: "demo", Date: "2026-11-20", SUT: "demo", Change: "PR 1", Author: "me"})
	p.Claims = []Claim{{ID: "C1", Text: "a | b", Category: "safety", Source: "docs", Inferred: "no"}}
	p.Hypotheses = []Hypothesis{{ID: "H1", Title: "T", Statement: "S.", Falsifies: []string{"C1"}, SuspectedBecause: "r", Subsystem: "x", Category: "correctness"}}
	p.CategoryNA = map[string]string{"configuration": "none", "upgrade/rollback": "no format change", "zzz": "custom"}
	p.Scenarios = []Scenario{{
		ID: "S1", Name: "n", Falsifies: []string{"C1"},
		Skeleton:         "// AUTO-GENERATED\nx := \"```\"",
		SkeletonLanguage: "go",
		Discipline:       &Discipline{},
		Arms:             []Arm{{ID: "S1/a", Surface: "api", Discipline: &Discipline{}}},
		Extra:            []Field{{Label: "Notes", Value: "line one\n\n- a sub bullet"}},
	}}
	p.MissingNone = "None were found."
	out := string(Render(p))
	for _, want := range []string{
		"# Test Plan: demo\n\n**Date:** 2026-11-20\n**Plan mode:** change-scoped\n**SUT:** demo\n**Change under test:** PR 1\n**Plan author:** me\n**Status:** draft\n\n## 0. Architectural summary\n\n## 1. Scope\n\n## 1b. Claims under test\n",
		"| C1 | a \\| b | safety | docs | no |\n",
		"## 1c. Missing claims discovered\n\nNone were found.\n",
		"H1. **T** — S.\n   - Could falsify: C1\n   - Suspected because: r\n   - Subsystem: x\n   - Category: correctness\n",
		"Categories not covered:\n- upgrade/rollback: N/A — no format change\n- configuration: N/A — none\n- zzz: N/A — custom\n",
		"  ````go\n  // AUTO-GENERATED\n  x := \"```\"\n  ````\n",
		"- **Notes:**\n\n  line one\n\n  - a sub bullet\n",
		"#### §7.M — Model / history / checker discipline\n\n#### Arm S1/a\n\n- **Surface:** api\n\n##### §7.M — Model / history / checker discipline\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Render output lacks %q\n--- output ---\n%s", want, out)
		}
	}
	if strings.Contains(out, "## 3.") || strings.Contains(out, "## 5.") {
		t.Errorf("change-scoped plan rendered project-wide sections:\n%s", out)
	}
	back, err := Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("Parse(Render(p)) != p\n got  %+v\n want %+v", back, p)
	}
}

func TestNewPlan(t *testing.T) {
	tests := []struct {
		h           Header
		wantPresent []string
		wantHeader  Header
	}{
		{
			h:           Header{Slug: "a"},
			wantPresent: []string{"0", "1", "1b", "1c", "2", "4", "6", "6b", "7", "7b", "7c", "7d", "8", "9"},
			wantHeader:  Header{Slug: "a", Mode: ModeChangeScoped, Status: "draft"},
		},
		{
			h:           Header{Slug: "b", Mode: ModeProjectWide, Status: "reviewed"},
			wantPresent: SectionOrder,
			wantHeader:  Header{Slug: "b", Mode: ModeProjectWide, Status: "reviewed", Change: "N/A — project-wide"},
		},
	}
	for _, tc := range tests {
		p := NewPlan(tc.h)
		if !reflect.DeepEqual(p.Present, tc.wantPresent) || p.Header != tc.wantHeader {
			t.Errorf("NewPlan(%+v) = %v %+v, want %v %+v", tc.h, p.Present, p.Header, tc.wantPresent, tc.wantHeader)
		}
		back, err := Parse(Render(p))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, p) {
			t.Errorf("Parse(Render(NewPlan)) = %+v, want %+v", back, p)
		}
	}
}

func TestRenderKeepsUnknownSectionInPlace(t *testing.T) {
	src := "# Test Plan: a\n\n## 0. Architectural summary\n\nA.\n\n## Glossary\n\nterms\n\n## 1. Scope\n\nB.\n\n## 99. Tail\n\nend\n"
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := string(Render(p))
	g, s, tail := strings.Index(out, "## Glossary"), strings.Index(out, "## 1. Scope"), strings.Index(out, "## 99. Tail")
	if g < 0 || s < 0 || tail < 0 || !(g < s && s < tail) {
		t.Errorf("unknown sections moved:\n%s", out)
	}
	if want := []string{"0", "?Glossary", "1", "?99. Tail"}; !reflect.DeepEqual(p.Present, want) {
		t.Errorf("Present = %v, want %v", p.Present, want)
	}
}

func TestRenderNil(t *testing.T) {
	if got := Render(nil); got != nil {
		t.Errorf("Render(nil) = %q, want nil", got)
	}
}

// TestRenderClosesOpenBlocks renders plans whose source ends inside a code
// fence or HTML block that is never closed. Render moves sections into
// canonical order, so the block may no longer be last: it must be closed,
// or the sections written after it would be read as part of it.
func TestRenderClosesOpenBlocks(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the §0 body Render writes
	}{
		{"backtick fence", "# Test Plan: a\n\n## 1. Scope\n\nB.\n\n## 0. Architectural summary\n\n```go\ncode\n", "```go\ncode\n```"},
		{"long tilde fence", "# Test Plan: a\n\n## 1. Scope\n\nB.\n\n## 0. Architectural summary\n\nA.\n\n~~~~\n~~~\n", "A.\n\n~~~~\n~~~\n~~~~"},
		{"HTML comment", "# Test Plan: a\n\n## 1. Scope\n\nB.\n\n## 0. Architectural summary\n\n<!-- draft\nmore", "<!-- draft\nmore\n-->"},
		{"closed fence stays as is", "# Test Plan: a\n\n## 1. Scope\n\nB.\n\n## 0. Architectural summary\n\n```\ncode\n```\n", "```\ncode\n```"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			out := Render(p)
			want := "## 0. Architectural summary\n\n" + tc.want + "\n\n## 1. Scope\n\nB.\n"
			if !strings.HasSuffix(string(out), want) {
				t.Fatalf("rendered:\n%s\nwant it to end with:\n%s", out, want)
			}
			q, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if q.Scope != "B." {
				t.Errorf("scope after a round trip = %q, want %q", q.Scope, "B.")
			}
		})
	}
}
