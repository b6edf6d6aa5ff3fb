package plan

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// region returns the byte range of src from the line starting with from to
// the line starting with to ("" = end of file).
func region(t *testing.T, src, from, to string) (int, int) {
	t.Helper()
	start := lineIndex(src, from, 0)
	if start < 0 {
		t.Fatalf("marker %q not found", from)
	}
	end := len(src)
	if to != "" {
		end = lineIndex(src, to, start+1)
		if end < 0 {
			t.Fatalf("marker %q not found", to)
		}
	}
	return start, end
}

// lineIndex finds the first line at or after off that starts with prefix.
func lineIndex(src, prefix string, off int) int {
	for i := off; i < len(src); {
		if (i == 0 || src[i-1] == '\n') && strings.HasPrefix(src[i:], prefix) {
			return i
		}
		j := strings.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return -1
}

func TestReplaceSectionKeepsRest(t *testing.T) {
	src := string(loadFixture(t, "handwritten.md"))
	p0, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s4 := func(p *Plan) *Scenario { return &p.Scenarios[3] }
	tests := []struct {
		name, id, scenario string
		from, to           string // the region that may change
		content            string
		check              func(p *Plan) (got, want any)
		// restore copies the replaced part of the original plan into p so
		// that the rest can be compared whole.
		restore func(p, orig *Plan)
	}{
		{
			name: "header", id: "header", from: "# Test Plan:", to: "## 0.",
			content: "# Test Plan: kvr-retries\n\n**Date:** 2026-12-01\n**Plan mode:** change-scoped\n**Status:** reviewed\n",
			check: func(p *Plan) (any, any) {
				return []string{p.Header.Date, p.Header.Status}, []string{"2026-12-01", "reviewed"}
			},
			restore: func(p, o *Plan) { p.Header = o.Header },
		},
		{
			name: "0 without heading", id: "0", from: "## 0.", to: "## 1. Scope",
			content: "Primary, two backups.\n",
			check:   func(p *Plan) (any, any) { return p.Summary, "Primary, two backups." },
			restore: func(p, o *Plan) { p.Summary = o.Summary },
		},
		{
			name: "1b table", id: "1b", from: "## 1b.", to: "## 1c.",
			content: "## 1b. Claims under test\n\n| ID | Claim | Category | Source | Inferred? |\n|---|---|---|---|---|\n| C1 | x | safety | d | no |\n| C2 | y | idempotency | d | no |\n",
			check:   func(p *Plan) (any, any) { return len(p.Claims), 2 },
			restore: func(p, o *Plan) { p.Claims, p.ClaimsNotes = o.Claims, o.ClaimsNotes },
		},
		{
			name: "1c table", id: "1c", from: "## 1c.", to: "## 2.",
			content: "| ID | Behavior the code relies on | Source / evidence | Suggested action |\n|---|---|---|---|\n| M1 | keys expire | idem.go:88 | document |\n",
			check: func(p *Plan) (any, any) {
				return []any{p.MissingClaims[0].Behavior, p.MissingNone}, []any{"keys expire", ""}
			},
			restore: func(p, o *Plan) {
				p.MissingClaims, p.MissingNone, p.MissingNotes = o.MissingClaims, o.MissingNone, o.MissingNotes
			},
		},
		{
			name: "4 hypotheses", id: "4", from: "## 4.", to: "## 6.",
			content: "## 4. Failure-mode hypotheses\n\nH1. **Only one** — short.\n   - Could falsify: C2\n",
			check: func(p *Plan) (any, any) {
				return []any{len(p.Hypotheses), p.Hypotheses[0].Falsifies, p.CategoryNA}, []any{1, []string{"C2"}, map[string]string(nil)}
			},
			restore: func(p, o *Plan) {
				p.Hypotheses, p.CategoryNA, p.HypothesesNotes = o.Hypotheses, o.CategoryNA, o.HypothesesNotes
			},
		},
		{
			name: "6 techniques", id: "6", from: "## 6.", to: "## 6b.",
			content: "| Technique | Hypotheses addressed | What it catches that others miss | Cost |\n|---|---|---|---|\n| fuzzing | H1 | odd inputs | cheap |\n",
			check:   func(p *Plan) (any, any) { return p.Techniques[0].Name, "fuzzing" },
			restore: func(p, o *Plan) { p.Techniques, p.TechniquesNotes = o.Techniques, o.TechniquesNotes },
		},
		{
			name: "6b environment", id: "6b", from: "## 6b.", to: "## 7.",
			content: "| Requirement | Version floor | Used by scenarios | Install hint |\n|---|---|---|---|\n| Docker | 24 | S1 | apt |\n",
			check:   func(p *Plan) (any, any) { return p.Environment[0].UsedBy, []string{"S1"} },
			restore: func(p, o *Plan) { p.Environment, p.EnvNotes = o.Environment, o.EnvNotes },
		},
		{
			name: "7 whole", id: "7", from: "## 7.", to: "## 7b.",
			content: "## 7. Scenarios\n\n### Scenario S9: only_one\n- **Falsifies if it FAILs:** C1\n",
			check: func(p *Plan) (any, any) {
				return idsOf(p.Scenarios, func(s Scenario) string { return s.ID }), []string{"S9"}
			},
			restore: func(p, o *Plan) { p.Scenarios, p.ScenariosNotes = o.Scenarios, o.ScenariosNotes },
		},
		{
			name: "7 scenario S1", id: "7", scenario: "S1", from: "### Scenario S1", to: "### Scenario S2",
			content: "### Scenario S1: retried_put_takes_effect_at_most_once\n- **Falsifies if it FAILs:** C2\n- **Oracle:** exactly-once per key\n",
			check: func(p *Plan) (any, any) {
				return []string{p.Scenarios[0].Oracle, p.Scenarios[0].Notes}, []string{"exactly-once per key", ""}
			},
			restore: func(p, o *Plan) { p.Scenarios[0] = o.Scenarios[0] },
		},
		{
			name: "7 scenario S3", id: "7", scenario: "S3", from: "### Scenario S3", to: "### Scenario S4",
			content: "### Scenario S3: single_key_linearizable_with_retries\n\n- **Falsifies if it FAILs:** C1\n\n" + NotApplicableLine + "\n",
			check: func(p *Plan) (any, any) {
				return []any{p.Scenarios[2].ModelNA, p.Scenarios[2].Discipline == nil}, []any{true, true}
			},
			restore: func(p, o *Plan) { p.Scenarios[2] = o.Scenarios[2] },
		},
		{
			name: "arm S4/api without heading", id: "7", scenario: "S4/api", from: "#### Arm S4/api", to: "#### Arm S4/export",
			content: "- **Surface:** key API v2\n- **Oracle:** 404 for every foreign key\n",
			check: func(p *Plan) (any, any) {
				return s4(p).Arms[0], Arm{ID: "S4/api", Surface: "key API v2", Oracle: "404 for every foreign key"}
			},
			restore: func(p, o *Plan) { s4(p).Arms[0] = s4(o).Arms[0] },
		},
		{
			name: "arm S4/export with heading", id: "7", scenario: "S4/export", from: "#### Arm S4/export", to: "## 7b.",
			content: "#### Arm S4/export\n- **Surface:** export v2\n",
			check:   func(p *Plan) (any, any) { return s4(p).Arms[1].Surface, "export v2" },
			restore: func(p, o *Plan) { s4(p).Arms[1] = s4(o).Arms[1] },
		},
		{
			name: "7b", id: "7b", from: "## 7b.", to: "## 7c.",
			content: "| Claim | Threat model | Scenarios that exercise the threats | Why these are sufficient |\n|---|---|---|---|\n| C1 | t | S3 | w |\n",
			check:   func(p *Plan) (any, any) { return len(p.Adequacy), 1 },
			restore: func(p, o *Plan) { p.Adequacy, p.AdequacyNotes = o.Adequacy, o.AdequacyNotes },
		},
		{
			name: "7c table replaces sentence", id: "7c", from: "## 7c.", to: "## 7d.",
			content: "| Uncertainty | Why uncovered | Why acceptable today | When to revisit |\n|---|---|---|---|\n| skew | no nemesis | short leases | later |\n",
			check:   func(p *Plan) (any, any) { return []any{p.Residual[0].Uncertainty, p.ResidualNone}, []any{"skew", ""} },
			restore: func(p, o *Plan) {
				p.Residual, p.ResidualNone, p.ResidualNotes = o.Residual, o.ResidualNone, o.ResidualNotes
			},
		},
		{
			name: "7d", id: "7d", from: "## 7d.", to: "## 8.",
			content: "We have not observed duplicates under the tested faults.",
			check: func(p *Plan) (any, any) {
				return p.Confidence, "We have not observed duplicates under the tested faults."
			},
			restore: func(p, o *Plan) { p.Confidence = o.Confidence },
		},
		{
			name: "8", id: "8", from: "## 8.", to: "## 9.",
			content: "- the admin API\n",
			check: func(p *Plan) (any, any) {
				return []any{p.NotCovered, p.NotCoveredNotes}, []any{[]string{"the admin API"}, ""}
			},
			restore: func(p, o *Plan) { p.NotCovered, p.NotCoveredNotes = o.NotCovered, o.NotCoveredNotes },
		},
		{
			name: "9 before the appendix", id: "9", from: "## 9.", to: "## 10. Appendix",
			content: "## 9. Open questions / followups\n\n- one\n- two\n\n\n",
			check:   func(p *Plan) (any, any) { return p.OpenQuestions, []string{"one", "two"} },
			restore: func(p, o *Plan) { p.OpenQuestions, p.QuestionsNotes = o.OpenQuestions, o.QuestionsNotes },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end := region(t, src, tc.from, tc.to)
			out, err := ReplaceSection([]byte(src), tc.id, tc.scenario, []byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			got := string(out)
			if !strings.HasPrefix(got, src[:start]) {
				t.Errorf("bytes before the section changed")
			}
			if !strings.HasSuffix(got, src[end:]) {
				t.Errorf("bytes after the section changed")
			}
			mid := got[start : len(got)-(len(src)-end)]
			if !strings.Contains(mid, strings.TrimSpace(tc.content)) {
				t.Errorf("replaced region %q lacks the content", mid)
			}
			p, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := tc.check(p); !reflect.DeepEqual(g, w) {
				t.Errorf("after splice: got %#v, want %#v", g, w)
			}
			// Everything else parses exactly as before, hand-written prose
			// included (header notes, §1b prose, scenario notes, appendix).
			tc.restore(p, p0)
			if !reflect.DeepEqual(p, p0) {
				t.Errorf("the rest of the plan changed:\n got  %+v\n want %+v", p, p0)
			}
		})
	}
}

func TestReplaceSectionInsert(t *testing.T) {
	hw := string(loadFixture(t, "handwritten.md"))
	// Removing a region and splicing the same text back in as an absent
	// section, scenario or arm must restore the file: the insertion lands
	// in canonical order.
	tests := []struct {
		name, id, scenario string
		from, to           string
	}{
		{"first section", "0", "", "## 0.", "## 1. Scope"},
		{"1c between 1b and 2", "1c", "", "## 1c.", "## 2."},
		{"7b after 7", "7b", "", "## 7b.", "## 7c."},
		{"9 before an unknown section", "9", "", "## 9.", "## 10. Appendix"},
		{"first scenario", "7", "S1", "### Scenario S1", "### Scenario S2"},
		{"middle scenario", "7", "S3", "### Scenario S3", "### Scenario S4"},
		{"last scenario", "7", "S4", "### Scenario S4", "## 7b."},
		{"last arm", "7", "S4/export", "#### Arm S4/export", "## 7b."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end := region(t, hw, tc.from, tc.to)
			cut := hw[:start] + hw[end:]
			out, err := ReplaceSection([]byte(cut), tc.id, tc.scenario, []byte(hw[start:end]))
			if err != nil {
				t.Fatal(err)
			}
			// The spliced text is written trimmed, followed by one blank
			// line.
			want := hw[:start] + strings.TrimSpace(hw[start:end]) + "\n\n" + hw[end:]
			if string(out) != want {
				t.Errorf("reinsertion did not restore the file:\n%s", firstDiff(want, string(out)))
			}
		})
	}

	kv := string(loadFixture(t, "kvstore.md"))
	inventory := "## 3. Existing test inventory\n\n| Test / harness | Subsystem | Invariant pinned | Failure modes it catches |\n|---|---|---|---|\n| t | s | i | f |\n"
	coverage := "| Claim | Hypothesis | Existing tests | Verdict | Gap kind | Recommended scenario |\n|---|---|---|---|---|---|\n| C1 | H1 | none | not covered | no test | S1 |\n"
	s6 := "### Scenario S6: reads_monotonic_per_session\n- **Falsifies if it FAILs:** C1\n"
	s0 := "### Scenario S0: first\n- **Falsifies if it FAILs:** C1\n"
	sdk := "#### Arm S4/sdk\n- **Surface:** Go SDK\n"
	steps := []struct {
		name, id, scenario, content string
		before                      string // the line the insertion must precede
		check                       func(p *Plan) (any, any)
	}{
		{"3 into a change-scoped plan", "3", "", inventory, "## 4.", func(p *Plan) (any, any) {
			return p.Present[:7], []string{"0", "1", "1b", "1c", "2", "3", "4"}
		}},
		{"5 after 4", "5", "", coverage, "## 6.", func(p *Plan) (any, any) {
			return p.Present[5:8], []string{"4", "5", "6"}
		}},
		{"S6 after S5", "7", "S6", s6, "## 7b.", func(p *Plan) (any, any) {
			return idsOf(p.Scenarios, func(s Scenario) string { return s.ID }), []string{"S1", "S2", "S3", "S4", "S5", "S6"}
		}},
		{"S0 before S1", "7", "S0", s0, "### Scenario S1", func(p *Plan) (any, any) {
			return p.Scenarios[0].ID, "S0"
		}},
		{"arm at the end of its scenario", "7", "S4/sdk", sdk, "### Scenario S5", func(p *Plan) (any, any) {
			return idsOf(scenarioByID(p, "S4").Arms, func(a Arm) string { return a.ID }), []string{"S4/api", "S4/export", "S4/sdk"}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			at := lineIndex(kv, st.before, 0)
			out, err := ReplaceSection([]byte(kv), st.id, st.scenario, []byte(st.content))
			if err != nil {
				t.Fatal(err)
			}
			body := strings.TrimSpace(st.content)
			if !strings.HasPrefix(body, "#") {
				body = "## " + st.id + ". " + SectionTitles[st.id] + "\n\n" + body
			}
			want := kv[:at] + body + "\n\n" + kv[at:]
			if string(out) != want {
				t.Errorf("insertion misplaced:\n%s", firstDiff(want, string(out)))
			}
			p, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := st.check(p); !reflect.DeepEqual(g, w) {
				t.Errorf("got %#v, want %#v", g, w)
			}
		})
	}

	t.Run("7 created for a scenario", func(t *testing.T) {
		start, end := region(t, hw, "## 7.", "## 7b.")
		cut := hw[:start] + hw[end:]
		out, err := ReplaceSection([]byte(cut), "7", "S2", []byte(s6))
		if err == nil {
			t.Fatal("content for S2 holding scenario S6 was accepted")
		}
		out, err = ReplaceSection([]byte(cut), "7", "S6", []byte(s6))
		if err != nil {
			t.Fatal(err)
		}
		want := cut[:start] + "## 7. Scenarios\n\n" + strings.TrimSpace(s6) + "\n\n" + cut[start:]
		if string(out) != want {
			t.Errorf("§7 not created in place:\n%s", firstDiff(want, string(out)))
		}
	})

	t.Run("append at end of file without newline", func(t *testing.T) {
		src := "# Test Plan: a\n\n## 8. What this plan does NOT cover\n\n- x"
		out, err := ReplaceSection([]byte(src), "9", "", []byte("- q\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := src + "\n\n## 9. Open questions / followups\n\n- q\n"
		if string(out) != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
}

func TestReplaceSectionErrors(t *testing.T) {
	kv := loadFixture(t, "kvstore.md")
	tests := []struct {
		name, id, scenario, content string
		src                         []byte
		want                        string // substring of the error
	}{
		{"unknown id", "7e", "", "x", kv, "valid ids are header, 0, 1, 1b, 1c, 2, 3, 4, 5, 6, 6b, 7, 7b, 7c, 7d, 8, 9"},
		{"empty id", "", "", "x", kv, "valid ids are"},
		{"number out of range", "10", "", "x", kv, "unknown section id \"10\""},
		{"scenario outside 7", "4", "S1", "x", kv, "scenarios live in section 7"},
		{"bad scenario id", "7", "X1", "x", kv, "invalid scenario id"},
		{"1b without table", "1b", "", "## 1b. Claims under test\n\nC1 is a claim.\n", kv, "no claims table"},
		{"heading of another section", "1b", "", "## 4. Failure-mode hypotheses\n\nH1. **x** — y\n", kv, "is for section 4, not 1b"},
		{"unknown heading", "8", "", "## Misc\n\n- x\n", kv, "is not a plan section"},
		{"two sections", "8", "", "## 8. What this plan does NOT cover\n\n- x\n\n## 9. Open questions\n\n- y\n", kv, "is for section 9, not 8"},
		{"7 without scenario heading", "7", "", "## 7. Scenarios\n\nWe will add scenarios later.\n", kv, "has no \"### Scenario S<n>: <name>\" heading"},
		{"unparsable scenario id", "7", "S3", "### Scenario X1: foo\n- **Oracle:** y\n", kv, "has no id of the form S<n>"},
		{"scenario id mismatch", "7", "S3", "### Scenario S2: foo\n", kv, "content is scenario S2"},
		{"two scenarios for one", "7", "S3", "### Scenario S3: a\n\n### Scenario S3: b\n", kv, "holds 2 scenario blocks"},
		{"scenario content with section heading", "7", "S3", "## 7. Scenarios\n\n### Scenario S3: a\n", kv, "holds the section heading"},
		{"arm for missing scenario", "7", "S9/api", "- **Surface:** x\n", kv, "scenario S9 not found"},
		{"arm id mismatch", "7", "S4/api", "#### Arm S4/export\n- **Surface:** x\n", kv, "content is arm S4/export"},
		{"header without title", "header", "", "**Date:** 2026-01-01\n", kv, "no \"# Test Plan: <slug>\" title"},
		{"header with a section", "header", "", "# Test Plan: a\n\n## 0. Architectural summary\n\nx\n", kv, "the header ends before §0"},
		{"title in a section", "0", "", "# Test Plan: a\n", kv, "use id \"header\""},
		{"1c empty", "1c", "", "## 1c. Missing claims discovered\n", kv, "neither a missing-claims table nor a sentence"},
		{"empty summary", "0", "", "", kv, "section 0 (Architectural summary) is empty"},
		{"not a plan", "0", "", "x", []byte("just notes\n"), "not a test plan"},
		{"heading ends the arm", "7", "S4/api", "#### Ar| S4/api\n\n**Oracle:** none\n", kv, "arm S4/api: content holds the heading \"Ar| S4/api\" of level 4, which would end the block (its own heading is level 4)"},
		{"heading ends the given arm", "7", "S4/api", "##### Arm S4/api\n\n- **Oracle:** none\n\n##### Details\n", kv, "holds the heading \"Details\" of level 5"},
		{"heading ends the scenario", "7", "S3", "### Scenario S3: a\n\n- **Oracle:** o\n\n### Notes\n\nx\n", kv, "scenario S3: content holds the heading \"Notes\" of level 3, which would end the block"},
		{"arm at scenario level", "7", "S4/api", "### Arm S4/api\n\n- **Oracle:** none\n", kv, "the arm heading is level 3, not deeper than the heading of scenario S4 (level 3); use \"#### Arm S4/api\""},
		{"unclosed fence", "0", "", "```", []byte("# TestPlan\n#"), "section 0: content opens a ``` code fence at line 1 that is never closed; close it"},
		{"unclosed tilde fence after text", "1", "", "Scope.\n\n~~~~ sh\nrun\n~~~\n", kv, "content opens a ~~~~ code fence at line 3 that is never closed"},
		{"unclosed fence in a scenario field", "7", "S1", "### Scenario S1: a\n\n- **Skeleton:**\n\n  ```go\n  package x\n", kv, "scenario S1: content opens a ``` code fence at line 5"},
		{"unclosed fence in an arm", "7", "S4/api", "- **Surface:** x\n\n```\n", kv, "arm S4/api: content opens a ``` code fence at line 3"},
		{"fence closed by a shorter run", "9", "", "- q\n\n````\n```\n", kv, "content opens a ```` code fence at line 3"},
		{"unclosed HTML comment", "9", "", "- q\n\n<!-- draft\n", kv, "content opens an HTML block (<!-- draft) at line 3 that is never closed"},
		{"unclosed fence in the header", "header", "", "# Test Plan: a\n\n```\n", kv, "section header: content opens a ``` code fence at line 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ReplaceSection(tc.src, tc.id, tc.scenario, []byte(tc.content))
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	if _, err := ReplaceSection([]byte("no title"), "0", "", []byte("x")); !errors.Is(err, ErrNotPlan) {
		t.Errorf("err = %v, want ErrNotPlan", err)
	}
}

func TestParseSection(t *testing.T) {
	tests := []struct {
		name, id, content string
		got               func(p *Plan) any
		want              any
	}{
		{"1b with heading and extra words", "1b", "## 1b. Claims under test (v2)\n\n| ID | Claim | Category | Source | Inferred? |\n|---|---|---|---|---|\n| C1 | x | safety | d | no |\n",
			func(p *Plan) any { return []any{p.Present, p.Claims[0].Category} }, []any{[]string{"1b"}, "safety"}},
		{"1c sentence", "1c", "No missing claims were found.", func(p *Plan) any { return p.MissingNone }, "No missing claims were found."},
		{"7 two scenarios", "7", "### Scenario S1: a\n\n### Scenario S2: b\n",
			func(p *Plan) any { return idsOf(p.Scenarios, func(s Scenario) string { return s.ID }) }, []string{"S1", "S2"}},
		{"scenario block", "S3", "### Scenario S3: c\n- **Oracle:** z\n", func(p *Plan) any { return p.Scenarios[0].Oracle }, "z"},
		{"arm block without heading", "S5/api", "- **Surface:** api\n- **Checker:** linearizability\n",
			func(p *Plan) any {
				return []string{p.Scenarios[0].Arms[0].ID, p.Scenarios[0].Arms[0].Discipline.Checker}
			}, []string{"S5/api", "linearizability"}},
		{"header", "header", "# Test Plan: s\n\n**SUT:** kvr\n", func(p *Plan) any { return p.Header.SUT }, "kvr"},
		{"4 hypothesis", "4", "H1. **x** — y\n   - Could falsify: C1\n", func(p *Plan) any { return p.Hypotheses[0].Falsifies }, []string{"C1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseSection(tc.id, []byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.got(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	bad := []struct{ id, content, want string }{
		{"2b", "x", "valid ids are"},
		{"1b", "| a | b |\n|---|---|\n| 1 | 2 |\n", "no claims table"},
		{"7", "Some prose.\n", "has no \"### Scenario"},
		{"S3", "- **Oracle:** z\n", "has no \"### Scenario S3: <name>\" heading"},
		{"S3", "Intro.\n\n### Scenario S3: c\n", "text before"},
		{"4", "Nothing here.\n", "has no hypothesis"},
		{"6", "- fuzzing\n", "has no technique"},
		{"9", "Questions later.\n", "has no bullet"},
		{"0", "Intro.\n\n## 0. Architectural summary\n\nx\n", "text before the section heading"},
	}
	for _, tc := range bad {
		if _, err := ParseSection(tc.id, []byte(tc.content)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSection(%q, %q) err = %v, want %q", tc.id, tc.content, err, tc.want)
		}
	}
}

func TestReplaceSectionBareScenarios(t *testing.T) {
	hw := string(loadFixture(t, "handwritten.md"))
	content := "### Scenario S3: single_key_linearizable_with_retries\n- **Falsifies if it FAILs:** C1\n- **Oracle:** linearizability per key\n\n### Scenario S6: export_resumes_without_leaks\n- **Falsifies if it FAILs:** C3\n"
	out, err := ReplaceSection([]byte(hw), "7", "", []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	s3start, s3end := region(t, hw, "### Scenario S3", "### Scenario S4")
	at := lineIndex(hw, "## 7b.", 0)
	want := hw[:s3start] +
		"### Scenario S3: single_key_linearizable_with_retries\n- **Falsifies if it FAILs:** C1\n- **Oracle:** linearizability per key\n\n" +
		hw[s3end:at] +
		"### Scenario S6: export_resumes_without_leaks\n- **Falsifies if it FAILs:** C3\n\n" +
		hw[at:]
	if string(out) != want {
		t.Errorf("bare scenario blocks not spliced one by one:\n%s", firstDiff(want, string(out)))
	}
	p, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, w := idsOf(p.Scenarios, func(s Scenario) string { return s.ID }), []string{"S1", "S2", "S3", "S4", "S6"}; !reflect.DeepEqual(got, w) {
		t.Errorf("scenarios = %v, want %v", got, w)
	}
	for _, bad := range []struct{ content, want string }{
		{"Intro prose.\n\n### Scenario S1: a\n", "text before the first"},
		{"### Scenario S1: a\n\n### Scenario S1: b\n", "holds scenario S1 twice"},
	} {
		if _, err := ReplaceSection([]byte(hw), "7", "", []byte(bad.content)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ReplaceSection(7, %q) err = %v, want %q", bad.content, err, bad.want)
		}
	}
}

// TestReplaceSectionUnclosedSource splices into files that end inside a
// construct goldmark never closes. The sections after such a construct are
// code to goldmark, and to the splicer: a block inserted after an unclosed
// fence or HTML block closes it first, so that the next splice finds the
// block instead of inserting it again; when the construct holds lines that
// look like headings (the author's sections), splicing fails instead of
// duplicating or deleting them.
func TestReplaceSectionUnclosedSource(t *testing.T) {
	tests := []struct {
		name, src, id, scenario, content string
		want                             string // output, or "" when an error is wanted
		wantErr                          string
	}{
		{name: "section after an unclosed fence", src: "# TestPlan\n```", id: "7c", content: ".",
			want: "# TestPlan\n```\n```\n\n## 7c. Residual uncertainty\n\n.\n"},
		{name: "fence swallows the later headings", src: "# Test Plan: a\n\n## 0. Architectural summary\n\n~~~~\ncode\n## 1. Scope\n\nold\n", id: "1", content: "new",
			wantErr: "the plan holds a ~~~~ code fence at line 5 that is never closed, so the heading \"## 1. Scope\" at line 7 is read as part of it; close it first"},
		{name: "fence closes after code", src: "# Test Plan: a\n\n## 0. Architectural summary\n\n~~~~\ncode\n#!/bin/sh\n# install\n### Step 2\n", id: "1", content: "new",
			want: "# Test Plan: a\n\n## 0. Architectural summary\n\n~~~~\ncode\n#!/bin/sh\n# install\n### Step 2\n~~~~\n\n## 1. Scope\n\nnew\n"},
		{name: "section before the fence keeps it open", src: "# Test Plan: a\n\n## 9. Open questions / followups\n\n```\n## 1. x\n", id: "1", content: "s",
			want: "# Test Plan: a\n\n## 1. Scope\n\ns\n\n## 9. Open questions / followups\n\n```\n## 1. x\n"},
		{name: "scenario after an unclosed skeleton", src: "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: a\n\n```go\n### Scenario S2: b\n", id: "7", scenario: "S2", content: "### Scenario S2: b\n\n- **Oracle:** o\n",
			wantErr: "the heading \"### Scenario S2: b\" at line 8 is read as part of it"},
		{name: "arm after an unclosed skeleton", src: "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: a\n\n```go\nfunc f() {}\n", id: "7", scenario: "S1/api", content: "- **Surface:** api\n",
			want: "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: a\n\n```go\nfunc f() {}\n```\n\n#### Arm S1/api\n\n- **Surface:** api\n"},
		{name: "fence in a list item does not swallow", src: "# Test Plan: a\n\n## 8. What this plan does NOT cover\n\n- ```", id: "9", content: "- q",
			want: "# Test Plan: a\n\n## 8. What this plan does NOT cover\n\n- ```\n\n## 9. Open questions / followups\n\n- q\n"},
		{name: "replacing the section of an unclosed fence", src: "# Test Plan: a\n\n## 0. Architectural summary\n\n```\ncode\n\n## 1. Scope\n\nold\n", id: "0", content: "new",
			wantErr: "the plan holds a ``` code fence at line 5 that is never closed, so the heading \"## 1. Scope\" at line 8 is read as part of it; close it first"},
		{name: "replacing the scenario of an unclosed skeleton", src: "# Test Plan: a\n\n## 7. Scenarios\n\n### Scenario S1: a\n\n  ```go\n### Scenario S2: b\n", id: "7", scenario: "S1", content: "### Scenario S1: a\n",
			wantErr: "the heading \"### Scenario S2: b\" at line 8"},
		{name: "replacing the section of an unclosed fence without headings", src: "# Test Plan: a\n\n## 0. Architectural summary\n\n```\n#include <x>\n", id: "0", content: "new",
			want: "# Test Plan: a\n\n## 0. Architectural summary\n\nnew\n"},
		{name: "section after an unclosed HTML comment", src: "# Test Plan: x\n<!--\nreview notes\n", id: "0", content: "summary",
			want: "# Test Plan: x\n<!--\nreview notes\n-->\n\n## 0. Architectural summary\n\nsummary\n"},
		{name: "HTML comment swallows a section", src: "# Test Plan: x\n<!--\n## 1. Scope\n", id: "0", content: "summary",
			wantErr: "the plan holds an HTML block (<!--) at line 2 that is never closed, so the heading \"## 1. Scope\" at line 3"},
		{name: "section after an unclosed pre", src: "# Test Plan: x\n\n<PRE>\n", id: "9", content: "- q",
			want: "# Test Plan: x\n\n<PRE>\n</pre>\n\n## 9. Open questions / followups\n\n- q\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ReplaceSection([]byte(tc.src), tc.id, tc.scenario, []byte(tc.content))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q; output:\n%s", err, tc.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("got %q, want %q", out, tc.want)
			}
			again, err := ReplaceSection(out, tc.id, tc.scenario, []byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(out) {
				t.Errorf("second splice changed the file:\n%s", firstDiff(string(out), string(again)))
			}
		})
	}
}
