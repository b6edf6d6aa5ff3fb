package session

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// mdDoc is a findings file as goldmark parsed it.
type mdDoc struct {
	headings []string
	tables   [][][]string // table → rows (header first) → cell text
	html     string
}

func parseMarkdown(t *testing.T, src []byte) mdDoc {
	t.Helper()
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	root := md.Parser().Parse(text.NewReader(src))
	var doc mdDoc
	err := ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			doc.headings = append(doc.headings, nodeText(n, src))
		case *extast.Table:
			var rows [][]string
			for r := n.FirstChild(); r != nil; r = r.NextSibling() {
				var cells []string
				for c := r.FirstChild(); c != nil; c = c.NextSibling() {
					cells = append(cells, nodeText(c, src))
				}
				rows = append(rows, cells)
			}
			doc.tables = append(doc.tables, rows)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	var buf bytes.Buffer
	if err := md.Convert(src, &buf); err != nil {
		t.Fatalf("convert: %v", err)
	}
	doc.html = buf.String()
	return doc
}

// nodeText concatenates the text segments under n.
func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			if t, ok := c.(*ast.Text); ok {
				b.Write(t.Segment.Value(src))
				if t.SoftLineBreak() {
					b.WriteByte(' ')
				}
			}
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func TestRenderFinding(t *testing.T) {
	tests := []struct {
		name     string
		facts    func() Facts
		headline string
		headings []string // must be present
		absent   []string // headings that must not be present
		contains []string // substrings of the rendered Markdown
	}{
		{
			name: "pass-hardening", facts: hardFacts,
			headline: "S1 linearizable_register_under_partition — PASS-hardening",
			headings: []string{"Rule path", "Reasons", "Blockers", "Runs", "Audit (SPEC §8)"},
			absent:   []string{"Finding (SPEC §6.4)"},
			contains: []string{"None: nothing stood in the way.", "gate-seeds: 3 distinct seeds ≥ 3", "iptables DROP counter 0 → 4,112 packets"},
		},
		{
			name: "fail with incomplete finding",
			facts: func() Facts {
				f := hardFacts()
				violate(&f.Runs[0], "no linear order | ops 17 and 18 overlap")
				f.Finding = &FindingFacts{Reproducer: "falsify run S1 --seed 1", BlameClass: "unknown"}
				return f
			},
			headline: "S1 linearizable_register_under_partition — FAIL-nondeterministic",
			headings: []string{"Finding (SPEC §6.4)"},
			contains: []string{
				"- **Reproducer:** falsify run S1 --seed 1",
				"- **Blame class:** unknown — pending re-run on alternative harness/host",
				"- **Owner:** **missing**",
				"This FAIL stands; its finding is incomplete",
				"finding.owner is missing",
			},
		},
		{
			name: "fail with complete finding",
			facts: func() Facts {
				f := hardFacts()
				violate(&f.Runs[0], "x")
				f.Finding = completeFinding()
				return f
			},
			headline: "S1 linearizable_register_under_partition — FAIL-nondeterministic",
			headings: []string{"Finding (SPEC §6.4)"},
			contains: []string{"- **Severity:** P0", "- **TaxDC type:** partition", "- **Tags:** replication, safety",
				"- **Evidence links:** artifacts/R1/linearizability.html", "- **Next action:** fix lease check"},
		},
		{
			name:     "not run",
			facts:    func() Facts { f := hardFacts(); f.Runs = nil; return f },
			headline: "S1 linearizable_register_under_partition — NOT-RUN",
			contains: []string{"No run was recorded."},
		},
		{
			name: "arms",
			facts: func() Facts {
				f := hardFacts()
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: PassHardening, TierMet: "hardening"}},
					{Arm: "S1/export", Decision: Decision{Verdict: NotRun, Reasons: []string{"NOT-RUN: no run"}}}}
				return f
			},
			headline: "S1 linearizable_register_under_partition — PARTIAL-surface",
			headings: []string{"Arms"},
			contains: []string{"| S1/export | NOT-RUN | (none) | NOT-RUN: no run |"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.facts()
			d := Decide(f)
			out := RenderFinding(d, f)
			doc := parseMarkdown(t, out)
			if len(doc.headings) == 0 || doc.headings[0] != tt.headline {
				t.Fatalf("headline = %q, want %q", doc.headings, tt.headline)
			}
			for _, h := range tt.headings {
				if !hasString(doc.headings, h) {
					t.Errorf("heading %q missing; headings %q", h, doc.headings)
				}
			}
			for _, h := range tt.absent {
				if hasString(doc.headings, h) {
					t.Errorf("heading %q present", h)
				}
			}
			for _, s := range tt.contains {
				if !bytes.Contains(out, []byte(s)) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			// Every table is rectangular: no cell text broke a row.
			for i, tab := range doc.tables {
				for j, row := range tab {
					if len(row) != len(tab[0]) {
						t.Errorf("table %d row %d has %d cells, header %d: %q", i, j, len(row), len(tab[0]), row)
					}
				}
			}
			// The runs table has one row per run, the audit table one per item.
			runs, audit := tableWithHeader(doc.tables, "Run"), tableWithHeader(doc.tables, "Item")
			if len(f.Runs) > 0 && (runs == nil || len(runs)-1 != len(f.Runs)) {
				t.Errorf("runs table %q, want %d rows", runs, len(f.Runs))
			}
			if audit == nil || len(audit)-1 != len(AuditQuestions()) {
				t.Errorf("audit table has %d rows, want %d", len(audit)-1, len(AuditQuestions()))
			}
			for _, row := range audit[1:] {
				if row[2] == "" {
					t.Errorf("audit row %q has no status", row)
				}
			}
		})
	}
}

func TestRenderFindingEscapesCells(t *testing.T) {
	f := hardFacts()
	violate(&f.Runs[0], "read | write overlap\nat op 17")
	d := Decide(f)
	doc := parseMarkdown(t, RenderFinding(d, f))
	runs := tableWithHeader(doc.tables, "Run")
	if runs == nil {
		t.Fatal("no runs table")
	}
	if len(runs[1]) != len(runs[0]) {
		t.Fatalf("run row has %d cells, header %d", len(runs[1]), len(runs[0]))
	}
	// The escaped pipe renders as a literal pipe inside one cell.
	var cellHTML string
	for _, m := range regexp.MustCompile(`<td>(.*?)</td>`).FindAllStringSubmatch(doc.html, -1) {
		if strings.Contains(m[1], "write overlap") {
			cellHTML = m[1]
		}
	}
	if !strings.Contains(cellHTML, "read | write overlap at op 17") {
		t.Errorf("checker cell HTML = %q, want the evidence intact in one cell", cellHTML)
	}
}

func tableWithHeader(tables [][][]string, first string) [][]string {
	for _, tab := range tables {
		if len(tab) > 0 && len(tab[0]) > 0 && tab[0][0] == first {
			return tab
		}
	}
	return nil
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestFindingFactsValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*FindingFacts)
		want   []string // substrings, one per expected message
	}{
		{"complete", func(*FindingFacts) {}, nil},
		{"unknown blame accepted", func(f *FindingFacts) { f.BlameClass = "Unknown - pending re-run" }, nil},
		{"blame case-insensitive", func(f *FindingFacts) { f.BlameClass = "sut" }, nil},
		{"bad blame", func(f *FindingFacts) { f.BlameClass = "the network" }, []string{`finding.blame_class "the network" is invalid`}},
		{"bad taxdc", func(f *FindingFacts) { f.TaxDCType = "race" }, []string{`finding.taxdc_type "race" is invalid`}},
		{"bad tag", func(f *FindingFacts) { f.Tags = []string{"safety", "vibes"} }, []string{`finding.tags "vibes" is invalid`}},
		{"bad severity", func(f *FindingFacts) { f.Severity = "P4" }, []string{`finding.severity "P4" is invalid`}},
		{"blank links", func(f *FindingFacts) { f.EvidenceLinks = []string{" "} }, []string{"finding.evidence_links is missing"}},
		{"no owner, no next action", func(f *FindingFacts) { f.Owner, f.NextAction = "", " " },
			[]string{"finding.owner is missing", "finding.next_action is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := completeFinding()
			tt.mutate(f)
			got := f.Validate()
			if len(got) != len(tt.want) {
				t.Fatalf("Validate = %q, want %d messages", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("message %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
	var nilFacts *FindingFacts
	got := nilFacts.Validate()
	for _, field := range []string{"reproducer", "reduction", "blame_class", "taxdc_type", "severity", "evidence_links", "root_cause", "owner", "next_action"} {
		if !anyContains(got, "finding."+field+" is missing") {
			t.Errorf("nil finding: no message for %s in %q", field, got)
		}
	}
	if len(got) != 9 {
		t.Errorf("nil finding: %d messages, want 9", len(got))
	}
}
