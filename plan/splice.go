package plan

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// validIDs is the list of section ids ParseSection and ReplaceSection
// accept, for error messages.
var validIDs = "header, " + strings.Join(SectionOrder, ", ")

var (
	scenarioIDRE = regexp.MustCompile(`^S\d+$`)
	armIDRE      = regexp.MustCompile(`^(S\d+)/([A-Za-z0-9_.-]+)$`)
)

func checkID(id string) error {
	if id == "header" {
		return nil
	}
	if _, ok := SectionTitles[id]; ok {
		return nil
	}
	return fmt.Errorf("unknown section id %q: valid ids are %s", id, validIDs)
}

// ParseSection parses the Markdown of one section and returns a plan that
// holds only that section. id is "header", a section id (0, 1, 1b, … 9),
// a scenario id ("S3": content is one "### Scenario S3: …" block) or an arm
// id ("S4/api": content is one "#### Arm S4/api" block, its heading
// optional). Section content may include or omit its "## N. Title"
// heading; for id "7" it may be just scenario blocks. ParseSection fails
// when content is not Markdown for that section: a heading for another
// section, several sections, a table-shaped section without its table, §7
// without a scenario heading, a scenario or arm with another id, an
// empty body, or a code fence or HTML block (comment, <pre>, …) that
// content opens and never closes, which would swallow whatever follows it
// in a plan.
func ParseSection(id string, content []byte) (p *Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("section %s: internal error: %v", id, r)
		}
	}()
	if err := checkClosed(id, content); err != nil {
		return nil, err
	}
	switch {
	case scenarioIDRE.MatchString(id):
		return parseScenarioSection(id, content)
	case armIDRE.MatchString(id):
		return parseArmSection(id, content)
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	blocks, err := parseBlocks(content)
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", id, err)
	}
	if id == "header" {
		return parseHeaderSection(content, blocks)
	}
	heads := 0
	for i, b := range blocks {
		switch b.level {
		case 1:
			return nil, fmt.Errorf("section %s: content holds a title heading %q; use id \"header\" for the title", id, b.title)
		case 2:
			got := sectionID(b.title)
			if got != id {
				if got == "" {
					return nil, fmt.Errorf("section %s: heading %q is not a plan section (want \"## %s. %s\")", id, b.title, id, SectionTitles[id])
				}
				return nil, fmt.Errorf("section %s: heading %q is for section %s, not %s", id, b.title, got, id)
			}
			if i != 0 {
				return nil, fmt.Errorf("section %s: text before the section heading %q", id, b.title)
			}
			heads++
			if heads > 1 {
				return nil, fmt.Errorf("section %s: content holds more than one section heading", id)
			}
		}
	}
	var doc bytes.Buffer
	doc.WriteString("# Test Plan: section\n\n")
	if heads == 0 {
		fmt.Fprintf(&doc, "## %s. %s\n\n", id, SectionTitles[id])
	}
	doc.Write(content)
	p, err = Parse(doc.Bytes())
	if err != nil {
		return nil, fmt.Errorf("section %s: %w", id, err)
	}
	p.Header = Header{}
	if err := checkSection(p, id); err != nil {
		return nil, err
	}
	return p, nil
}

// checkClosed refuses content that opens a code fence or an HTML block it
// never closes: spliced into a plan, it would turn the sections after it
// into code, and the next splice would replace them.
func checkClosed(id string, content []byte) error {
	what := "section " + id
	switch {
	case scenarioIDRE.MatchString(id):
		what = "scenario " + id
	case armIDRE.MatchString(id):
		what = "arm " + id
	}
	u, found, err := findUnclosed(content)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if found {
		return fmt.Errorf("%s: content opens %s; close it", what, u)
	}
	return nil
}

func parseHeaderSection(content []byte, blocks []block) (*Plan, error) {
	first := -1
	for i, b := range blocks {
		if b.level == 1 && titleRE.MatchString(b.title) {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("header: content has no \"# Test Plan: <slug>\" title")
	}
	if first != 0 {
		return nil, fmt.Errorf("header: text before the \"# Test Plan:\" title")
	}
	for _, b := range blocks[first+1:] {
		if b.level == 1 || b.level == 2 {
			return nil, fmt.Errorf("header: content holds the section heading %q; the header ends before §0", b.title)
		}
	}
	p, err := Parse(content)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	return p, nil
}

// checkSection reports a section whose body lacks what it must hold.
func checkSection(p *Plan, id string) error {
	missing := ""
	switch id {
	case "0":
		if p.Summary == "" {
			missing = "is empty"
		}
	case "1":
		if p.Scope == "" {
			missing = "is empty"
		}
	case "2":
		if p.SUTModel == "" {
			missing = "is empty"
		}
	case "7d":
		if p.Confidence == "" {
			missing = "is empty"
		}
	case "1b":
		if len(p.Claims) == 0 {
			missing = "has no claims table (| ID | Claim | Category | Source | Inferred? |)"
		}
	case "1c":
		if len(p.MissingClaims) == 0 && p.MissingNone == "" {
			missing = "has neither a missing-claims table nor a sentence saying none were found"
		}
	case "3":
		if len(p.Inventory) == 0 {
			missing = "has no test inventory table (| Test / harness | Subsystem | Invariant pinned | Failure modes it catches |)"
		}
	case "4":
		if len(p.Hypotheses) == 0 {
			missing = "has no hypothesis (H1. **<title>** — <statement>, then its bullets)"
		}
	case "5":
		if len(p.Coverage) == 0 {
			missing = "has no coverage matrix table (| Claim | Hypothesis | Existing tests | Verdict | Gap kind | Recommended scenario |)"
		}
	case "6":
		if len(p.Techniques) == 0 {
			missing = "has no technique (table | Technique | Hypotheses addressed | What it catches that others miss | Cost |)"
		}
	case "6b":
		if len(p.Environment) == 0 {
			missing = "has no requirements table (| Requirement | Version floor | Used by scenarios | Install hint |)"
		}
	case "7":
		if len(p.Scenarios) == 0 {
			missing = "has no \"### Scenario S<n>: <name>\" heading"
		}
	case "7b":
		if len(p.Adequacy) == 0 {
			missing = "has no adequacy table (| Claim | Threat model | Scenarios that exercise the threats | Why these are sufficient |)"
		}
	case "7c":
		if len(p.Residual) == 0 && p.ResidualNone == "" {
			missing = "has neither a residual-uncertainty table nor a sentence saying it is empty"
		}
	case "8":
		if len(p.NotCovered) == 0 {
			missing = "has no bullet"
		}
	case "9":
		if len(p.OpenQuestions) == 0 {
			missing = "has no bullet"
		}
	}
	if missing != "" {
		return fmt.Errorf("section %s (%s) %s", id, SectionTitles[id], missing)
	}
	return nil
}

// checkScenarioHeadings reports a "Scenario" heading whose id does not
// parse, and any section heading, in content meant for §7.
func checkScenarioHeadings(what string, blocks []block) error {
	for _, b := range blocks {
		switch {
		case b.level == 1 || b.level == 2:
			return fmt.Errorf("%s: content holds the section heading %q; give only the scenario block", what, b.title)
		case b.level >= 3 && strings.HasPrefix(strings.ToLower(b.title), "scenario"):
			if _, _, ok := isScenarioHeading(b.title); !ok {
				return fmt.Errorf("%s: scenario heading %q has no id of the form S<n>", what, b.title)
			}
		}
	}
	return nil
}

func parseScenarioSection(id string, content []byte) (*Plan, error) {
	what := "scenario " + id
	blocks, err := parseBlocks(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := checkScenarioHeadings(what, blocks); err != nil {
		return nil, err
	}
	var doc bytes.Buffer
	doc.WriteString("# Test Plan: section\n\n## 7. Scenarios\n\n")
	doc.Write(content)
	p, err := Parse(doc.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	p.Header = Header{}
	switch {
	case len(p.Scenarios) == 0:
		return nil, fmt.Errorf("%s: content has no \"### Scenario %s: <name>\" heading", what, id)
	case len(p.Scenarios) > 1:
		return nil, fmt.Errorf("%s: content holds %d scenario blocks; give exactly one", what, len(p.Scenarios))
	case p.Scenarios[0].ID != id:
		return nil, fmt.Errorf("%s: content is scenario %s", what, p.Scenarios[0].ID)
	case p.ScenariosNotes != "":
		return nil, fmt.Errorf("%s: text before the \"### Scenario %s\" heading", what, id)
	}
	if len(blocks) > 0 {
		if err := checkInnerHeadings(what, blocks[1:], blocks[0].level); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func parseArmSection(id string, content []byte) (*Plan, error) {
	what := "arm " + id
	m := armIDRE.FindStringSubmatch(id)
	blocks, err := parseBlocks(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for _, b := range blocks {
		if b.level == 1 || b.level == 2 {
			return nil, fmt.Errorf("%s: content holds the section heading %q; give only the arm block", what, b.title)
		}
		if _, _, ok := isScenarioHeading(b.title); ok && b.level >= 3 {
			return nil, fmt.Errorf("%s: content holds the scenario heading %q; give only the arm block", what, b.title)
		}
	}
	hasHead := len(blocks) > 0 && blocks[0].level >= 3 && subheadingKind(blocks[0].title) == subArm
	var doc bytes.Buffer
	fmt.Fprintf(&doc, "# Test Plan: section\n\n## 7. Scenarios\n\n### Scenario %s: arm\n\n", m[1])
	if !hasHead {
		fmt.Fprintf(&doc, "#### Arm %s\n\n", id)
	}
	doc.Write(content)
	p, err := Parse(doc.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	p.Header = Header{}
	if len(p.Scenarios) != 1 {
		return nil, fmt.Errorf("%s: content is not one arm block", what)
	}
	s := &p.Scenarios[0]
	s.Name = ""
	switch {
	case len(s.Arms) == 0:
		return nil, fmt.Errorf("%s: content has no \"#### Arm %s\" heading", what, id)
	case len(s.Arms) > 1:
		return nil, fmt.Errorf("%s: content holds %d arm blocks; give exactly one", what, len(s.Arms))
	case s.Arms[0].ID != id:
		return nil, fmt.Errorf("%s: content is arm %s", what, s.Arms[0].ID)
	}
	inner, level := blocks, 4 // the "#### Arm" heading written for content without one
	if hasHead {
		inner, level = blocks[1:], blocks[0].level
	}
	if err := checkInnerHeadings(what, inner, level); err != nil {
		return nil, err
	}
	return p, nil
}

// checkInnerHeadings refuses a heading inside a scenario or arm block
// whose level is that of the block's own heading or higher: in the plan
// it would end the block, so that splicing the same content again would
// replace only the part above it.
func checkInnerHeadings(what string, inner []block, level int) error {
	for _, b := range inner {
		if b.level > 0 && b.level <= level {
			return fmt.Errorf("%s: content holds the heading %q of level %d, which would end the block (its own heading is level %d); make it deeper or drop it",
				what, b.title, b.level, level)
		}
	}
	return nil
}

// span is a heading-delimited region of a source file.
type span struct {
	id    string // section id, "?" for unknown sections, scenario or arm id
	level int
	start int // start of the heading line
	end   int // start of the next heading that closes it, or len(src)
}

// sections lists the level-1/2 sections after the title of src and returns
// the header span (title to first section).
func sections(src []byte, blocks []block) (header span, secs []span, err error) {
	title := -1
	for i, b := range blocks {
		if b.level == 1 && titleRE.MatchString(b.title) {
			title = i
			break
		}
	}
	if title < 0 {
		return span{}, nil, ErrNotPlan
	}
	header = span{id: "header", level: 1, start: blocks[title].start, end: len(src)}
	for i := title + 1; i < len(blocks); i++ {
		b := blocks[i]
		if b.level != 1 && b.level != 2 {
			continue
		}
		if len(secs) == 0 {
			header.end = b.start
		} else {
			secs[len(secs)-1].end = b.start
		}
		id := "?"
		if b.level == 2 {
			if s := sectionID(b.title); s != "" {
				id = s
			}
		}
		secs = append(secs, span{id: id, level: b.level, start: b.start, end: len(src)})
	}
	return header, secs, nil
}

// subspans lists the headings of level ≥ minLevel inside [outer.start,
// outer.end) that match, each closed by the next heading of the same or a
// lower level.
func subspans(blocks []block, outer span, minLevel int, match func(b block) (string, bool)) []span {
	var inner []block
	for _, b := range blocks {
		if b.start > outer.start && b.start < outer.end && b.level > 0 {
			inner = append(inner, b)
		}
	}
	var out []span
	for i, b := range inner {
		if b.level < minLevel {
			continue
		}
		id, ok := match(b)
		if !ok {
			continue
		}
		s := span{id: id, level: b.level, start: b.start, end: outer.end}
		for _, c := range inner[i+1:] {
			if c.level <= b.level {
				s.end = c.start
				break
			}
		}
		out = append(out, s)
	}
	return out
}

// ReplaceSection splices content into src as section id and returns the
// new file. Only the bytes of that section change: the section runs from
// its heading to the next heading of the same or a higher level, and every
// byte outside it stays identical. With id "7" and scenario "S3", only the
// "### Scenario S3" block is replaced; with scenario "S5/api", only the
// "#### Arm S5/api" block inside scenario S5. An absent section is inserted
// at its place in SectionOrder, an absent scenario in numeric order (§7 is
// created when needed) and an absent arm at the end of its scenario. With
// id "7" and no scenario, content that starts with the "## 7." heading
// replaces the whole section, while bare scenario blocks are spliced one
// by one, leaving the other scenarios alone. id "header" replaces the
// title and the bold fields. content is validated
// with ParseSection first; a section's or arm's heading may be omitted and
// is then written in its canonical form.
//
// Headings are found as goldmark reads src: a line inside a code fence is
// code, even when the fence is never closed and runs to the end of the
// file. Content inserted after such a fence (or HTML block) closes it
// first, so that a second splice finds it; when the unclosed block holds a
// line that looks like a heading, ReplaceSection fails rather than delete
// or duplicate that section.
func ReplaceSection(src []byte, id, scenario string, content []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("replace %s %s: internal error: %v", id, scenario, r)
		}
	}()
	if err := checkID(id); err != nil {
		return nil, err
	}
	if scenario != "" && id != "7" {
		return nil, fmt.Errorf("scenario %q given with section %s: scenarios live in section 7", scenario, id)
	}
	if scenario != "" && !scenarioIDRE.MatchString(scenario) && !armIDRE.MatchString(scenario) {
		return nil, fmt.Errorf("invalid scenario id %q: want S<n> or S<n>/<arm>", scenario)
	}
	target := id
	if scenario != "" {
		target = scenario
	}
	if _, err := ParseSection(target, content); err != nil {
		return nil, fmt.Errorf("replace %s: %w", target, err)
	}
	blocks, err := parseBlocks(src)
	if err != nil {
		return nil, fmt.Errorf("replace %s: %w", target, err)
	}
	header, secs, err := sections(src, blocks)
	if err != nil {
		return nil, fmt.Errorf("replace %s: %w", target, err)
	}
	body := trimBlank(string(content))

	if id == "header" {
		return splice(src, header.start, header.end, body)
	}
	if id == "7" && scenario == "" && !startsWithSection(body) {
		return replaceScenarios(src, body)
	}
	if scenario == "" {
		return replaceTopSection(src, header, secs, id, withHeading(body, id))
	}

	var sec7 *span
	for i := range secs {
		if secs[i].id == "7" {
			sec7 = &secs[i]
			break
		}
	}
	if m := armIDRE.FindStringSubmatch(scenario); m != nil {
		return replaceArm(src, blocks, sec7, m[1], scenario, body)
	}
	if sec7 == nil {
		return replaceTopSection(src, header, secs, "7", fmt.Sprintf("## 7. %s\n\n%s", SectionTitles["7"], body))
	}
	scens := subspans(blocks, *sec7, 3, func(b block) (string, bool) {
		sid, _, ok := isScenarioHeading(b.title)
		return sid, ok
	})
	for _, s := range scens {
		if s.id == scenario {
			return splice(src, s.start, s.end, body)
		}
	}
	n := scenarioNumber(scenario)
	for _, s := range scens {
		if scenarioNumber(s.id) > n {
			return insert(src, s.start, body)
		}
	}
	return insert(src, sec7.end, body)
}

// startsWithSection reports whether body opens with a level-2 heading.
func startsWithSection(body string) bool {
	bs, _ := parseBlocks([]byte(body))
	return len(bs) > 0 && bs[0].level == 2
}

// replaceScenarios splices each "### Scenario Sn" block of body into §7 on
// its own, so that §7 content given without its "## 7." heading replaces
// or inserts only the scenarios it holds.
func replaceScenarios(src []byte, body string) ([]byte, error) {
	bs, err := parseBlocks([]byte(body))
	if err != nil {
		return nil, fmt.Errorf("replace 7: %w", err)
	}
	var starts []int
	var sids []string
	for i, b := range bs {
		sid, _, ok := isScenarioHeading(b.title)
		if b.level < 3 || !ok {
			if i == 0 {
				return nil, fmt.Errorf("replace 7: text before the first \"### Scenario\" heading; start with \"## 7. %s\" to replace the whole section", SectionTitles["7"])
			}
			continue
		}
		if slices.Contains(sids, sid) {
			return nil, fmt.Errorf("replace 7: content holds scenario %s twice", sid)
		}
		starts = append(starts, b.start)
		sids = append(sids, sid)
	}
	out := src
	for i, start := range starts {
		end := len(body)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		if out, err = ReplaceSection(out, "7", sids[i], []byte(body[start:end])); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func replaceArm(src []byte, blocks []block, sec7 *span, sid, armID, body string) ([]byte, error) {
	if sec7 == nil {
		return nil, fmt.Errorf("replace %s: the plan has no section 7", armID)
	}
	scens := subspans(blocks, *sec7, 3, func(b block) (string, bool) {
		id, _, ok := isScenarioHeading(b.title)
		return id, ok
	})
	i := slices.IndexFunc(scens, func(s span) bool { return s.id == sid })
	if i < 0 {
		return nil, fmt.Errorf("replace %s: scenario %s not found in section 7", armID, sid)
	}
	sc := scens[i]
	arms := subspans(blocks, sc, sc.level+1, func(b block) (string, bool) {
		if subheadingKind(b.title) != subArm {
			return "", false
		}
		m := armRE.FindStringSubmatch(strings.TrimSpace(b.title))
		if m == nil {
			return "", false
		}
		id := strings.Trim(m[1], "`*")
		if !strings.Contains(id, "/") {
			id = sid + "/" + id
		}
		return id, true
	})
	bs, _ := parseBlocks([]byte(body))
	level := 4
	if len(bs) == 0 || bs[0].level < 3 || subheadingKind(bs[0].title) != subArm {
		body = "#### Arm " + armID + "\n\n" + body
	} else {
		level = bs[0].level
	}
	if level <= sc.level {
		return nil, fmt.Errorf("replace %s: the arm heading is level %d, not deeper than the heading of scenario %s (level %d); use \"%s Arm %s\"",
			armID, level, sid, sc.level, strings.Repeat("#", min(sc.level+1, 6)), armID)
	}
	for _, a := range arms {
		if a.id == armID {
			return splice(src, a.start, a.end, body)
		}
	}
	return insert(src, sc.end, body)
}

func scenarioNumber(id string) int {
	n := 0
	for _, r := range strings.TrimPrefix(strings.ToUpper(id), "S") {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
		if n > 1<<30 {
			break
		}
	}
	return n
}

// withHeading prepends the canonical heading of section id unless body
// starts with a level-2 heading.
func withHeading(body, id string) string {
	bs, _ := parseBlocks([]byte(body))
	if len(bs) > 0 && bs[0].level == 2 {
		return body
	}
	head := fmt.Sprintf("## %s. %s", id, SectionTitles[id])
	if body == "" {
		return head
	}
	return head + "\n\n" + body
}

func replaceTopSection(src []byte, header span, secs []span, id, body string) ([]byte, error) {
	for _, s := range secs {
		if s.id == id {
			return splice(src, s.start, s.end, body)
		}
	}
	want := slices.Index(SectionOrder, id)
	for _, s := range secs {
		if k := slices.Index(SectionOrder, s.id); k > want {
			return insert(src, s.start, body)
		}
	}
	// After the last known section that comes before id, or after the
	// header when there is none.
	at := header.end
	for _, s := range secs {
		if k := slices.Index(SectionOrder, s.id); k >= 0 && k < want {
			at = s.end
		}
	}
	return insert(src, at, body)
}

// splice replaces src[start:end] with body, keeping a blank line before
// whatever follows. A region that runs to the end of the file because a
// code fence or HTML block in it is never closed holds, to goldmark, the
// lines after that opening as code; when some of them look like headings,
// the author meant them as sections, and splice refuses to delete them.
func splice(src []byte, start, end int, body string) ([]byte, error) {
	u, opening, open, err := openTail(src)
	if err != nil {
		return nil, err
	}
	if open && opening >= start && opening < end {
		if err := swallowed(src, u, opening); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, len(src)+len(body)+2)
	out = append(out, src[:start]...)
	out = append(out, body...)
	if end < len(src) {
		out = append(out, "\n\n"...)
	} else {
		out = append(out, '\n')
	}
	return append(out, src[end:]...), nil
}

// swallowed reports a line after the opening line of u (at offset
// opening), the construct src ends in that is never closed, that reads as
// a plan heading: goldmark sees it as part of u, its author as a section.
// Splicing after u would put a second copy of that section below it, and
// replacing the block holding u would delete it; u must be closed first.
func swallowed(src []byte, u unclosed, opening int) error {
	next := lineEnd(src, opening)
	line, h := headingLike(src[next:])
	if h == "" {
		return nil
	}
	return fmt.Errorf("the plan holds %s, so the heading %q at line %d is read as part of it; close it first",
		u, h, lineNumber(src, next)+line-1)
}

// headingLike returns the first line of b that would be a heading of the
// plan's structure were it outside code — a level-1 or -2 section heading
// ("## 1. Scope", "## Appendix"), a scenario or an arm heading — and its
// number counted from 1. A "# comment" of a shell or Python snippet does
// not count.
func headingLike(b []byte) (line int, heading string) {
	for i, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimRight(l, " \t\r")
		if !isATX(l, 0) {
			continue
		}
		t := bytes.TrimLeft(l, " ")
		n := 0
		for n < len(t) && t[n] == '#' {
			n++
		}
		if n > 6 || (n < len(t) && t[n] != ' ' && t[n] != '\t') {
			continue
		}
		title := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(string(t[n:])), "#"))
		_, _, scen := isScenarioHeading(title)
		switch {
		case n == 1 && titleRE.MatchString(title),
			n == 2,
			n >= 3 && (scen || subheadingKind(title) == subArm):
			return i + 1, string(l)
		}
	}
	return 0, ""
}

// insert puts body at offset at (a line start or len(src)), separated from
// its neighbours by blank lines, without changing any existing byte. When
// src ends in a code fence or HTML block (a comment, <pre>, …) that is
// never closed and body goes after it, it is closed first (a fence closed
// at the end of the file reads the same as one the file's end closes);
// without that, goldmark would read body as code, and every later splice
// would insert it again. When the construct holds a line that looks like a
// heading, insert fails instead: the author meant a section there.
func insert(src []byte, at int, body string) ([]byte, error) {
	out := make([]byte, 0, len(src)+len(body)+4)
	out = append(out, src[:at]...)
	u, start, open, err := openTail(src)
	if err != nil {
		return nil, err
	}
	if open && at > start {
		if err := swallowed(src, u, start); err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		out = append(out, u.closer()+"\n"...)
	}
	if len(out) > 0 {
		switch {
		case !bytes.HasSuffix(out, []byte("\n")):
			out = append(out, "\n\n"...)
		case !bytes.HasSuffix(out, []byte("\n\n")):
			out = append(out, '\n')
		}
	}
	out = append(out, body...)
	if at < len(src) {
		out = append(out, "\n\n"...)
	} else {
		out = append(out, '\n')
	}
	return append(out, src[at:]...), nil
}
