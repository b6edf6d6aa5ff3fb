package plan

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"
)

// ErrNotPlan is returned by Parse for input without a "# Test Plan:" title.
var ErrNotPlan = errors.New("not a test plan: no \"# Test Plan: <slug>\" title")

// Parse reads a plan written in the Markdown shapes of SPEC §12. It is
// lenient like a human reader: headings may carry extra words after the
// title, tables are read by header name in any column order, labels may be
// bold or plain, and prose the parser does not recognise is kept in the
// Notes fields, Extra fields and Extra sections, so that Render drops
// nothing. Missing or misplaced sections are not errors (Lint reports
// them); Parse fails only when src has no "# Test Plan:" title
// (ErrNotPlan) or is larger than MaxSize.
func Parse(src []byte) (p *Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("parse plan: internal error: %v", r)
		}
	}()
	blocks, err := parseBlocks(src)
	if err != nil {
		return nil, fmt.Errorf("parse plan: %w", err)
	}
	title := -1
	for i, b := range blocks {
		if b.level == 1 && titleRE.MatchString(b.title) {
			title = i
			break
		}
	}
	if title < 0 {
		return nil, ErrNotPlan
	}
	p = &Plan{}
	var pre []string
	for _, b := range blocks[:title] {
		pre = append(pre, b.raw(src))
	}
	p.Header.Slug = strings.TrimSpace(titleRE.FindStringSubmatch(blocks[title].title)[1])

	// Split the rest into the header body and level-1/2 sections.
	i := title + 1
	j := i
	for j < len(blocks) && !(blocks[j].level == 1 || blocks[j].level == 2) {
		j++
	}
	parseHeader(p, blocks[i:j], src, pre)
	for j < len(blocks) {
		k := j + 1
		for k < len(blocks) && !(blocks[k].level == 1 || blocks[k].level == 2) {
			k++
		}
		head, body := blocks[j], blocks[j+1:k]
		id := sectionID(head.title)
		if head.level != 2 {
			id = ""
		}
		if id == "" {
			p.Present = append(p.Present, "?"+head.title)
			p.Extra = append(p.Extra, RawSection{
				Heading: strings.TrimSpace(head.raw(src)),
				Body:    rawBlocks(body, src),
			})
		} else {
			p.Present = append(p.Present, id)
			parseSection(p, id, body, src)
		}
		j = k
	}
	return p, nil
}

var titleRE = regexp.MustCompile(`(?i)^test[ \t]*plan\b[ \t]*[:—–-]?[ \t]*(.*)$`)

// sectionID maps a level-2 heading text to a section id, or "" when the
// heading is not a known section. The number decides ("## 7. Scenarios
// (draft)" is §7); a heading without a number is matched by its title.
func sectionID(title string) string {
	t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(title), "§"))
	if m := sectionNumRE.FindStringSubmatch(t); m != nil {
		id := strings.ToLower(m[1])
		if _, ok := SectionTitles[id]; ok {
			return id
		}
		return ""
	}
	nt := normLabel(t)
	for _, id := range SectionOrder {
		if nt != "" && strings.HasPrefix(nt, normLabel(SectionTitles[id])) {
			return id
		}
	}
	return ""
}

var sectionNumRE = regexp.MustCompile(`^(\d+[a-zA-Z]?)(?:[.):]|\s|$)`)

// rawBlocks returns the source of blocks from the first's start to the
// last's end, trimmed.
func rawBlocks(bs []block, src []byte) string {
	if len(bs) == 0 {
		return ""
	}
	return trimBlank(string(src[bs[0].start:bs[len(bs)-1].end]))
}

// headerLabels maps the normalised header labels to their fields.
var headerLabels = []struct {
	keys  []string
	field func(h *Header) *string
}{
	{[]string{"date"}, func(h *Header) *string { return &h.Date }},
	{[]string{"plan mode", "mode"}, func(h *Header) *string { return &h.Mode }},
	{[]string{"sut", "system under test"}, func(h *Header) *string { return &h.SUT }},
	{[]string{"change under test", "change"}, func(h *Header) *string { return &h.Change }},
	{[]string{"plan author", "author"}, func(h *Header) *string { return &h.Author }},
	{[]string{"status"}, func(h *Header) *string { return &h.Status }},
}

func normMode(v string) string {
	n := normLabel(v)
	switch {
	case strings.HasPrefix(n, "project"):
		return ModeProjectWide
	case strings.HasPrefix(n, "change"):
		return ModeChangeScoped
	}
	return v
}

// parseHeader reads the bold-label lines under the title. Lines it does
// not recognise, and anything before the title, go to Header.Notes.
func parseHeader(p *Plan, body []block, src []byte, pre []string) {
	var notes noteSet
	for _, x := range pre {
		notes.text(x)
	}
	for _, b := range body {
		var other []string
		for _, line := range strings.Split(b.raw(src), "\n") {
			t := strings.TrimSpace(line)
			t = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(t, "- "), "* "))
			t = strings.TrimSuffix(t, `\`)
			label, value, ok := boldLabel(t)
			if !ok {
				label, value, ok = plainLabel(t)
			}
			set := false
			if ok {
				nl := normLabel(label)
				for _, hl := range headerLabels {
					// A repeated label stays in Notes rather than
					// overwriting the first value.
					if f := hl.field(&p.Header); slices.Contains(hl.keys, nl) && *f == "" {
						*f = strings.TrimSpace(value)
						if f == &p.Header.Mode {
							*f = normMode(*f)
						}
						set = true
					}
				}
			}
			if !set {
				other = append(other, line)
			}
		}
		for i := range other {
			other[i] = strings.TrimRight(other[i], " \t\r")
		}
		notes.add(strings.TrimLeft(strings.Join(other, "\n"), " \t"), b.start, b.end)
	}
	p.Header.Notes = notes.String()
}

// parseSection fills p from the body blocks of section id. A section that
// occurs twice is merged into the same fields.
func parseSection(p *Plan, id string, body []block, src []byte) {
	raw := rawBlocks(body, src)
	switch id {
	case "0":
		p.Summary = joinNotes(p.Summary, raw)
	case "1":
		p.Scope = joinNotes(p.Scope, raw)
	case "2":
		p.SUTModel = joinNotes(p.SUTModel, raw)
	case "7d":
		p.Confidence = joinNotes(p.Confidence, raw)
	case "1b":
		p.ClaimsNotes = joinNotes(p.ClaimsNotes, parseTables(body, src, claimCols, func(t table, c map[string]int) bool {
			if _, ok := c["claim"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.Claims = append(p.Claims, Claim{
					ID: cleanID(cell(r, c, "id")), Text: cell(r, c, "claim"), Category: canonCategoryName(cell(r, c, "category")),
					Source: cell(r, c, "source"), Inferred: cell(r, c, "inferred"),
				})
			}
			return true
		}))
	case "1c":
		notes := parseTables(body, src, missingCols, func(t table, c map[string]int) bool {
			if _, ok := c["behavior"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.MissingClaims = append(p.MissingClaims, MissingClaim{
					ID: cleanID(cell(r, c, "id")), Behavior: cell(r, c, "behavior"),
					Evidence: cell(r, c, "evidence"), Action: cell(r, c, "action"),
				})
			}
			return true
		})
		if len(p.MissingClaims) == 0 {
			p.MissingNone = joinNotes(p.MissingNone, p.MissingNotes, notes)
			p.MissingNotes = ""
		} else {
			p.MissingNotes = joinNotes(p.MissingNone, p.MissingNotes, notes)
			p.MissingNone = ""
		}
	case "3":
		p.InventoryNote = joinNotes(p.InventoryNote, parseTables(body, src, inventoryCols, func(t table, c map[string]int) bool {
			if _, ok := c["test"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.Inventory = append(p.Inventory, InventoryRow{
					Test: cell(r, c, "test"), Subsystem: cell(r, c, "subsystem"),
					Invariant: cell(r, c, "invariant"), FailureModes: cell(r, c, "failure"),
				})
			}
			return true
		}))
	case "4":
		parseHypotheses(p, body, src)
	case "5":
		p.CoverageNotes = joinNotes(p.CoverageNotes, parseTables(body, src, coverageCols, func(t table, c map[string]int) bool {
			if _, ok := c["claim"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.Coverage = append(p.Coverage, CoverageRow{
					Claim: cell(r, c, "claim"), Hypothesis: cell(r, c, "hypothesis"),
					ExistingTests: cell(r, c, "existing"), Verdict: cell(r, c, "verdict"),
					GapKind: cell(r, c, "gap"), Recommended: cell(r, c, "recommended"),
				})
			}
			return true
		}))
	case "6":
		parseTechniques(p, body, src)
	case "6b":
		p.EnvNotes = joinNotes(p.EnvNotes, parseTables(body, src, envCols, func(t table, c map[string]int) bool {
			if _, ok := c["requirement"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.Environment = append(p.Environment, Requirement{
					Requirement: cell(r, c, "requirement"), VersionFloor: cell(r, c, "version"),
					UsedBy: parseIDs(cell(r, c, "used")), InstallHint: cell(r, c, "install"),
				})
			}
			return true
		}))
	case "7":
		parseScenarios(p, body, src)
	case "7b":
		p.AdequacyNotes = joinNotes(p.AdequacyNotes, parseTables(body, src, adequacyCols, func(t table, c map[string]int) bool {
			if _, ok := c["claim"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.Adequacy = append(p.Adequacy, AdequacyRow{
					Claim: cell(r, c, "claim"), Threat: cell(r, c, "threat"),
					Scenarios: parseIDs(cell(r, c, "scenarios")), Sufficient: cell(r, c, "sufficient"),
				})
			}
			return true
		}))
	case "7c":
		notes := parseTables(body, src, residualCols, func(t table, c map[string]int) bool {
			if _, ok := c["uncertainty"]; !ok {
				return false
			}
			for _, r := range t.rows {
				p.Residual = append(p.Residual, UncertaintyRow{
					Uncertainty: cell(r, c, "uncertainty"), WhyUncovered: cell(r, c, "uncovered"),
					WhyAcceptable: cell(r, c, "acceptable"), Revisit: cell(r, c, "revisit"),
				})
			}
			return true
		})
		if len(p.Residual) == 0 {
			p.ResidualNone = joinNotes(p.ResidualNone, p.ResidualNotes, notes)
			p.ResidualNotes = ""
		} else {
			p.ResidualNotes = joinNotes(p.ResidualNone, p.ResidualNotes, notes)
			p.ResidualNone = ""
		}
	case "8":
		items, notes := parseBullets(body, src)
		p.NotCovered = append(p.NotCovered, items...)
		p.NotCoveredNotes = joinNotes(p.NotCoveredNotes, notes)
	case "9":
		items, notes := parseBullets(body, src)
		p.OpenQuestions = append(p.OpenQuestions, items...)
		p.QuestionsNotes = joinNotes(p.QuestionsNotes, notes)
	}
}

// Column name keys for each table, in matching priority order: the first
// element is the field, the rest are header substrings ("=x": whole
// header).
var (
	claimCols     = [][]string{{"inferred", "infer"}, {"source", "source", "evidence"}, {"category", "categ", "kind"}, {"id", "=id", "=#", "=claim id"}, {"claim", "claim", "statement", "guarantee"}}
	missingCols   = [][]string{{"action", "action", "suggest"}, {"evidence", "evidence", "source"}, {"behavior", "behav", "relies"}, {"id", "=id", "=#"}}
	inventoryCols = [][]string{{"failure", "failure", "catch"}, {"invariant", "invariant"}, {"subsystem", "subsystem", "component"}, {"test", "test", "harness"}}
	coverageCols  = [][]string{{"recommended", "recommend"}, {"gap", "gap"}, {"verdict", "verdict"}, {"existing", "existing", "tests"}, {"hypothesis", "hypothes"}, {"claim", "claim"}}
	techniqueCols = [][]string{{"cost", "cost"}, {"catches", "catch", "miss"}, {"hypotheses", "hypothes"}, {"technique", "technique", "name"}}
	envCols       = [][]string{{"install", "install", "hint"}, {"used", "used", "scenario"}, {"version", "version", "floor"}, {"requirement", "requirement", "dependency", "tool"}}
	adequacyCols  = [][]string{{"sufficient", "sufficient", "why"}, {"scenarios", "scenario"}, {"threat", "threat"}, {"claim", "claim"}}
	residualCols  = [][]string{{"revisit", "revisit"}, {"acceptable", "acceptable"}, {"uncovered", "uncovered"}, {"uncertainty", "uncertain"}}
)

// parseTables hands every table of body to take (which reports whether it
// understood it) and returns the raw text of everything else as notes.
func parseTables(body []block, src []byte, cols [][]string, take func(table, map[string]int) bool) string {
	var notes noteSet
	for _, b := range body {
		if _, ok := b.node.(*extast.Table); ok {
			t := readTable(b.node, src)
			if take(t, t.columns(cols)) {
				continue
			}
		}
		notes.block(b, src)
	}
	return notes.String()
}

// parseBullets returns the items of the lists in body and the raw text of
// the other blocks.
func parseBullets(body []block, src []byte) (items []string, notes string) {
	var other noteSet
	for _, b := range body {
		if _, ok := b.node.(*ast.List); ok {
			for _, it := range listItems(b, src) {
				if it.text != "" {
					items = append(items, it.text)
				}
			}
			continue
		}
		other.block(b, src)
	}
	return items, other.String()
}

var (
	hypRE        = regexp.MustCompile(`^\**(H\d+)\**[.:)]?\**(?:\s+|$)(.*)$`)
	notCoveredRE = regexp.MustCompile(`(?i)^\**\s*(categories|category)\b.*(not covered|n/a|not applicable)`)
	naValueRE    = regexp.MustCompile(`(?i)^(?:n/?a|not applicable)\b\s*[—–:,.-]*\s*`)
)

// parseHypotheses reads §4: "H1. **Title** — statement" paragraphs (or
// headings) each followed by a bullet list of labelled fields, and the
// "Categories not covered:" list of "<category>: N/A — <reason>" items.
func parseHypotheses(p *Plan, body []block, src []byte) {
	var notes noteSet
	var cur *Hypothesis
	naNext := false
	flush := func() {
		if cur != nil {
			p.Hypotheses = append(p.Hypotheses, *cur)
			cur = nil
		}
	}
	for _, b := range body {
		switch n := b.node.(type) {
		case *ast.Paragraph, *ast.Heading:
			txt := ""
			var lines []string
			if b.level > 0 {
				txt = b.title
				lines = []string{txt}
			} else if _, ok := n.(*ast.Heading); ok {
				// a setext heading: read its text as a paragraph
				txt = joinLines(n, src)
				lines = []string{txt}
			} else {
				for _, l := range strings.Split(b.raw(src), "\n") {
					lines = append(lines, strings.TrimSpace(l))
				}
				txt = strings.Join(lines, " ")
			}
			if m := hypRE.FindStringSubmatch(lines[0]); m != nil {
				flush()
				naNext = false
				cur = &Hypothesis{ID: m[1]}
				// Lines starting with a bullet inside the paragraph are
				// fields (a list indented four spaces is a lazy
				// continuation, not a list).
				head := []string{m[2]}
				var fields []string
				for _, l := range lines[1:] {
					if markerRE.MatchString(l) {
						fields = append(fields, stripMarker(l))
					} else if len(fields) > 0 {
						fields[len(fields)-1] += " " + l
					} else {
						head = append(head, l)
					}
				}
				cur.Title, cur.Statement = splitTitle(strings.TrimSpace(strings.Join(head, " ")))
				for _, f := range fields {
					hypField(cur, f)
				}
				continue
			}
			if notCoveredRE.MatchString(txt) {
				flush()
				naNext = true
				continue
			}
			flush()
			naNext = false
			notes.block(b, src)
		case *ast.List:
			items := listItems(b, src)
			if hypothesisList(items) {
				// "- H1. **Title** — statement" items with nested field
				// bullets.
				for _, it := range items {
					m := hypRE.FindStringSubmatch(it.head)
					if m == nil {
						if cur != nil {
							hypField(cur, itemFieldText(it))
						} else {
							notes.text("- " + indentRest(it.text))
						}
						continue
					}
					flush()
					cur = &Hypothesis{ID: m[1]}
					cur.Title, cur.Statement = splitTitle(strings.TrimSpace(m[2]))
					hypRest(cur, it, src)
				}
				naNext = false
				continue
			}
			if cur != nil {
				for _, it := range items {
					hypItem(cur, it, src)
				}
				continue
			}
			if naNext || allNAItems(items) {
				for _, it := range items {
					label, value, ok := boldLabel(it.head)
					if !ok {
						label, value, ok = plainLabel(it.head)
					}
					if !ok {
						notes.text("- " + indentRest(it.text))
						continue
					}
					if p.CategoryNA == nil {
						p.CategoryNA = map[string]string{}
					}
					reason := naValueRE.ReplaceAllString(value, "")
					if len(it.rest) > 0 {
						reason = joinNotes(reason, restText(it))
					}
					// A reason is one line, as Render writes it.
					reason = strings.Join(strings.Fields(reason), " ")
					p.CategoryNA[canonHypCategory(label)] = reason
				}
				continue
			}
			notes.block(b, src)
		default:
			flush()
			naNext = false
			notes.block(b, src)
		}
	}
	flush()
	p.HypothesesNotes = joinNotes(p.HypothesesNotes, notes.String())
}

// hypItem reads one field bullet of a hypothesis; bullets nested under it
// are read as fields too (Render writes them flat).
func hypItem(h *Hypothesis, it item, src []byte) {
	if it.head != "" || len(it.rest) == 0 {
		hypField(h, it.head)
	}
	hypRest(h, it, src)
}

// hypRest reads the blocks of an item after its first paragraph: nested
// lists as fields, anything else as an unlabelled Extra field.
func hypRest(h *Hypothesis, it item, src []byte) {
	for i, r := range it.rest {
		if _, ok := r.node.(*ast.List); !ok {
			h.Extra = append(h.Extra, Field{Value: strings.Join(strings.Fields(r.text), " ")})
			continue
		}
		rb := block{node: r.node, start: lineStart(src, r.node.Pos()), end: it.end}
		if i+1 < len(it.rest) && it.rest[i+1].node.Pos() >= 0 {
			rb.end = lineStart(src, it.rest[i+1].node.Pos())
		}
		if rb.end < rb.start {
			rb.end = rb.start
		}
		rb.end = trimBlankTail(src, rb.start, rb.end)
		for _, f := range listItems(rb, src) {
			hypItem(h, f, src)
		}
	}
}

// hypothesisList reports whether a list's first item opens a hypothesis
// ("- H1. **Title** — …").
func hypothesisList(items []item) bool {
	return len(items) > 0 && hypRE.MatchString(items[0].head)
}

// allNAItems reports whether every item reads "<category>: N/A …".
func allNAItems(items []item) bool {
	if len(items) == 0 {
		return false
	}
	for _, it := range items {
		label, value, ok := boldLabel(it.head)
		if !ok {
			label, value, ok = plainLabel(it.head)
		}
		if !ok {
			return false
		}
		if !naValueRE.MatchString(value) && !isHypCategory(label) {
			return false
		}
	}
	return true
}

func isHypCategory(s string) bool {
	n := normLabel(s)
	for _, c := range HypothesisCategories {
		if normLabel(c) == n {
			return true
		}
	}
	return false
}

// canonHypCategory returns the HypothesisCategories spelling of s when it
// names one ("Upgrade / Rollback" → "upgrade/rollback"), else s trimmed.
func canonHypCategory(s string) string {
	n := strings.ReplaceAll(normLabel(s), " / ", "/")
	for _, c := range HypothesisCategories {
		if normLabel(c) == n {
			return c
		}
	}
	return strings.TrimSpace(s)
}

// canonCategoryName returns the Categories spelling of a claim category
// cell when it names one ("**Safety**" → "safety"), else the cell as
// written.
func canonCategoryName(s string) string {
	t := cleanID(s)
	for _, c := range Categories {
		if strings.EqualFold(c, t) {
			return c
		}
	}
	return s
}

// cleanID strips code and emphasis marks around an id or name cell.
func cleanID(s string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "`*_"))
}

// itemFieldText is an item's first paragraph plus the text of its other
// blocks.
func itemFieldText(it item) string {
	if len(it.rest) == 0 {
		return it.head
	}
	return joinNotes(it.head, restText(it))
}

func restText(it item) string {
	var parts []string
	for _, r := range it.rest {
		parts = append(parts, r.text)
	}
	return joinNotes(parts...)
}

// indentRest indents every line after the first by two spaces, so that a
// multi-line text stays inside its list item.
func indentRest(s string) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// splitTitle splits "**Title** — statement" (or "Title — statement").
func splitTitle(s string) (title, statement string) {
	if strings.HasPrefix(s, "**") || strings.HasPrefix(s, "__") {
		delim := s[:2]
		end := strings.Index(s[2:], delim)
		if end < 0 {
			// An unclosed bold: the marks are noise, the rest is read
			// as if they were absent.
			return splitTitle(strings.TrimSpace(s[2:]))
		}
		title = strings.TrimSpace(s[2 : 2+end])
		statement = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(s[4+end:]), "—–-:"))
		return title, statement
	}
	if rest, ok := strings.CutPrefix(s, "— "); ok {
		return "", strings.TrimSpace(rest)
	}
	for _, sep := range []string{" — ", " – ", " -- "} {
		if i := strings.Index(s, sep); i >= 0 {
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(sep):])
		}
	}
	return s, ""
}

// hypField assigns one "Label: value" bullet of a hypothesis.
func hypField(h *Hypothesis, s string) {
	// A field is one line, as Render writes it.
	s = strings.Join(strings.Fields(s), " ")
	label, value, ok := boldLabel(s)
	if !ok {
		label, value, ok = plainLabel(s)
	}
	if !ok {
		h.Extra = append(h.Extra, Field{Value: s})
		return
	}
	n := normLabel(label)
	switch {
	case (strings.HasPrefix(n, "could falsify") || strings.HasPrefix(n, "falsif")) && h.Falsifies == nil:
		h.Falsifies = parseIDs(value)
	case strings.HasPrefix(n, "suspected") && h.SuspectedBecause == "":
		h.SuspectedBecause = value
	case n == "subsystem" && h.Subsystem == "":
		h.Subsystem = value
	case n == "category" && h.Category == "":
		h.Category = value
	default:
		h.Extra = append(h.Extra, Field{Label: label, Value: value})
	}
}

// parseTechniques reads §6: a table (Technique, Hypotheses addressed,
// What it catches that others miss, Cost), or per-technique headings /
// bold paragraphs each followed by labelled bullets.
func parseTechniques(p *Plan, body []block, src []byte) {
	var notes noteSet
	var cur *Technique
	flush := func() {
		if cur != nil {
			p.Techniques = append(p.Techniques, *cur)
			cur = nil
		}
	}
	for _, b := range body {
		switch n := b.node.(type) {
		case *extast.Table:
			flush()
			t := readTable(n, src)
			c := t.columns(techniqueCols)
			if _, ok := c["technique"]; !ok {
				notes.block(b, src)
				continue
			}
			for _, r := range t.rows {
				p.Techniques = append(p.Techniques, Technique{
					Name: cleanID(cell(r, c, "technique")), Hypotheses: parseIDs(cell(r, c, "hypotheses")),
					Catches: cell(r, c, "catches"), Cost: cell(r, c, "cost"),
				})
			}
		case *ast.Heading, *ast.Paragraph:
			txt := b.title
			if b.level == 0 {
				txt = joinLines(n, src)
			}
			if name := catalogName(txt); name != "" {
				flush()
				cur = &Technique{Name: name}
				continue
			}
			flush()
			notes.block(b, src)
		case *ast.List:
			if cur == nil {
				notes.block(b, src)
				continue
			}
			for _, it := range listItems(b, src) {
				label, value, ok := boldLabel(it.head)
				if !ok {
					label, value, ok = plainLabel(it.head)
				}
				n := normLabel(label)
				value = strings.Join(strings.Fields(value), " ")
				switch {
				case ok && strings.HasPrefix(n, "hypothes"):
					cur.Hypotheses = parseIDs(value)
				case ok && (strings.Contains(n, "catch") || strings.Contains(n, "miss")):
					cur.Catches = value
				case ok && strings.HasPrefix(n, "cost"):
					cur.Cost = value
				default:
					notes.text("- " + indentRest(it.text))
				}
			}
		default:
			flush()
			notes.block(b, src)
		}
	}
	flush()
	p.TechniquesNotes = joinNotes(p.TechniquesNotes, notes.String())
}

// catalogName returns the catalog technique a heading or bold paragraph
// names ("### jepsen-and-elle", "**fuzzing**"), or "".
func catalogName(s string) string {
	t := strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "*_`:"))
	for _, name := range TechniqueCatalog {
		if t == name {
			return name
		}
	}
	return ""
}
