package plan

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Render writes p in the canonical Markdown shapes of SPEC §12:
//
//   - the title "# Test Plan: <slug>" and the seven bold header fields;
//   - "## <id>. <Title>" for every section listed in p.Present or holding
//     content, in SectionOrder; sections the parser did not know (p.Extra)
//     come back verbatim after the known section they followed;
//   - §1b, §1c, §3, §5, §6, §6b, §7b and §7c as tables with their header
//     row; an empty §1c / §7c is the explicit sentence (MissingNone /
//     ResidualNone) instead of the table;
//   - §4 as one entry per hypothesis, then the categories marked N/A (the
//     convention shown below);
//   - §7 as "### Scenario Sn: name" blocks of bold-label bullets, the
//     skeleton as an indented fenced block, then the not-applicable line or
//     "#### §7.M — Model / history / checker discipline", then
//     "#### §7.M.S — Surface decomposition" and "#### Arm Sn/x" blocks;
//   - §8 and §9 as bullets.
//
// §4 shape: each hypothesis is an "H<n>." line with a bold title and a
// one-sentence statement, followed by its fields as plain-label bullets
// indented three spaces; after the hypotheses, the categories of
// HypothesisCategories that no hypothesis covers are listed under
// "Categories not covered:" as "<category>: N/A — <reason>":
//
//	H1. **Stale read from a lagging backup** — A backup serves a read before applying the latest acknowledged write.
//	   - Could falsify: C1
//	   - Suspected because: backups answer reads from local state (server/read.go:42)
//	   - Subsystem: replication
//	   - Category: correctness
//
//	Categories not covered:
//	- upgrade/rollback: N/A — no on-disk format change in this change
//
// Prose kept in Notes fields is written where Parse reads it back: after
// the heading of §4, §7, a scenario or an arm, after the table or bullets
// of the other sections; so Parse(Render(p)) reads the same plan.
func Render(p *Plan) []byte {
	var w bytes.Buffer
	if p == nil {
		return nil
	}
	renderHeader(&w, p.Header)

	// Anchor each unknown section after the known section it followed.
	anchors := map[string][]RawSection{}
	var tail []RawSection
	k := 0
	last := ""
	for _, id := range p.Present {
		if strings.HasPrefix(id, "?") {
			if k < len(p.Extra) {
				anchors[last] = append(anchors[last], p.Extra[k])
				k++
			}
			continue
		}
		last = id
	}
	tail = append(tail, p.Extra[min(k, len(p.Extra)):]...)

	for _, x := range anchors[""] {
		renderRaw(&w, x)
	}
	present := map[string]bool{}
	for _, id := range p.Present {
		present[id] = true
	}
	for _, id := range SectionOrder {
		if !present[id] && !hasContent(p, id) {
			continue
		}
		fmt.Fprintf(&w, "## %s. %s\n\n", id, SectionTitles[id])
		renderSection(&w, p, id)
		for _, x := range anchors[id] {
			renderRaw(&w, x)
		}
	}
	for _, x := range tail {
		renderRaw(&w, x)
	}
	return append(bytes.TrimRight(w.Bytes(), "\n"), '\n')
}

func renderRaw(w *bytes.Buffer, x RawSection) {
	w.WriteString(strings.TrimSpace(x.Heading))
	w.WriteString("\n\n")
	if b := strings.TrimSpace(x.Body); b != "" {
		w.WriteString(closeOpen(trimBlank(x.Body)))
		w.WriteString("\n\n")
	}
}

func renderHeader(w *bytes.Buffer, h Header) {
	fmt.Fprintf(w, "# Test Plan: %s\n\n", h.Slug)
	fmt.Fprintf(w, "**Date:** %s\n", h.Date)
	fmt.Fprintf(w, "**Plan mode:** %s\n", h.Mode)
	fmt.Fprintf(w, "**SUT:** %s\n", h.SUT)
	fmt.Fprintf(w, "**Change under test:** %s\n", h.Change)
	fmt.Fprintf(w, "**Plan author:** %s\n", h.Author)
	fmt.Fprintf(w, "**Status:** %s\n\n", h.Status)
	writeNotes(w, h.Notes)
}

// hasContent reports whether section id holds anything to render.
func hasContent(p *Plan, id string) bool {
	switch id {
	case "0":
		return p.Summary != ""
	case "1":
		return p.Scope != ""
	case "1b":
		return len(p.Claims) > 0 || p.ClaimsNotes != ""
	case "1c":
		return len(p.MissingClaims) > 0 || p.MissingNone != "" || p.MissingNotes != ""
	case "2":
		return p.SUTModel != ""
	case "3":
		return len(p.Inventory) > 0 || p.InventoryNote != ""
	case "4":
		return len(p.Hypotheses) > 0 || len(p.CategoryNA) > 0 || p.HypothesesNotes != ""
	case "5":
		return len(p.Coverage) > 0 || p.CoverageNotes != ""
	case "6":
		return len(p.Techniques) > 0 || p.TechniquesNotes != ""
	case "6b":
		return len(p.Environment) > 0 || p.EnvNotes != ""
	case "7":
		return len(p.Scenarios) > 0 || p.ScenariosNotes != ""
	case "7b":
		return len(p.Adequacy) > 0 || p.AdequacyNotes != ""
	case "7c":
		return len(p.Residual) > 0 || p.ResidualNone != "" || p.ResidualNotes != ""
	case "7d":
		return p.Confidence != ""
	case "8":
		return len(p.NotCovered) > 0 || p.NotCoveredNotes != ""
	case "9":
		return len(p.OpenQuestions) > 0 || p.QuestionsNotes != ""
	}
	return false
}

// writeNotes writes prose read from a plan. A code fence or HTML comment
// it leaves open (the source file ended inside it) is closed, so that the
// sections Render writes after it are not read as part of it.
func writeNotes(w *bytes.Buffer, s string) {
	if s = trimBlank(s); s != "" {
		s = closeOpen(s)
		w.WriteString(s)
		w.WriteString("\n\n")
	}
}

// renderSection writes the body of section id (without its heading).
func renderSection(w *bytes.Buffer, p *Plan, id string) {
	switch id {
	case "0":
		writeNotes(w, p.Summary)
	case "1":
		writeNotes(w, p.Scope)
	case "2":
		writeNotes(w, p.SUTModel)
	case "7d":
		writeNotes(w, p.Confidence)
	case "1b":
		var rows [][]string
		for _, c := range p.Claims {
			rows = append(rows, []string{c.ID, c.Text, c.Category, c.Source, c.Inferred})
		}
		writeTable(w, []string{"ID", "Claim", "Category", "Source", "Inferred?"}, rows)
		writeNotes(w, p.ClaimsNotes)
	case "1c":
		if len(p.MissingClaims) == 0 {
			writeNotes(w, joinNotes(p.MissingNone, p.MissingNotes))
			return
		}
		var rows [][]string
		for _, m := range p.MissingClaims {
			rows = append(rows, []string{m.ID, m.Behavior, m.Evidence, m.Action})
		}
		writeTable(w, []string{"ID", "Behavior the code relies on", "Source / evidence", "Suggested action"}, rows)
		writeNotes(w, joinNotes(p.MissingNone, p.MissingNotes))
	case "3":
		var rows [][]string
		for _, r := range p.Inventory {
			rows = append(rows, []string{r.Test, r.Subsystem, r.Invariant, r.FailureModes})
		}
		writeTable(w, []string{"Test / harness", "Subsystem", "Invariant pinned", "Failure modes it catches"}, rows)
		writeNotes(w, p.InventoryNote)
	case "4":
		renderHypotheses(w, p)
	case "5":
		var rows [][]string
		for _, r := range p.Coverage {
			rows = append(rows, []string{r.Claim, r.Hypothesis, r.ExistingTests, r.Verdict, r.GapKind, r.Recommended})
		}
		writeTable(w, []string{"Claim", "Hypothesis", "Existing tests", "Verdict", "Gap kind", "Recommended scenario"}, rows)
		writeNotes(w, p.CoverageNotes)
	case "6":
		var rows [][]string
		for _, t := range p.Techniques {
			rows = append(rows, []string{t.Name, strings.Join(t.Hypotheses, ", "), t.Catches, t.Cost})
		}
		writeTable(w, []string{"Technique", "Hypotheses addressed", "What it catches that others miss", "Cost"}, rows)
		writeNotes(w, p.TechniquesNotes)
	case "6b":
		var rows [][]string
		for _, r := range p.Environment {
			rows = append(rows, []string{r.Requirement, r.VersionFloor, strings.Join(r.UsedBy, ", "), r.InstallHint})
		}
		writeTable(w, []string{"Requirement", "Version floor", "Used by scenarios", "Install hint"}, rows)
		writeNotes(w, p.EnvNotes)
	case "7":
		writeNotes(w, p.ScenariosNotes)
		for i := range p.Scenarios {
			renderScenario(w, &p.Scenarios[i])
		}
	case "7b":
		var rows [][]string
		for _, r := range p.Adequacy {
			rows = append(rows, []string{r.Claim, r.Threat, strings.Join(r.Scenarios, ", "), r.Sufficient})
		}
		writeTable(w, []string{"Claim", "Threat model", "Scenarios that exercise the threats", "Why these are sufficient"}, rows)
		writeNotes(w, p.AdequacyNotes)
	case "7c":
		if len(p.Residual) == 0 {
			writeNotes(w, joinNotes(p.ResidualNone, p.ResidualNotes))
			return
		}
		var rows [][]string
		for _, r := range p.Residual {
			rows = append(rows, []string{r.Uncertainty, r.WhyUncovered, r.WhyAcceptable, r.Revisit})
		}
		writeTable(w, []string{"Uncertainty", "Why uncovered", "Why acceptable today", "When to revisit"}, rows)
		writeNotes(w, joinNotes(p.ResidualNone, p.ResidualNotes))
	case "8":
		writeBullets(w, p.NotCovered)
		writeNotes(w, p.NotCoveredNotes)
	case "9":
		writeBullets(w, p.OpenQuestions)
		writeNotes(w, p.QuestionsNotes)
	}
}

// writeTable writes a GFM table; it writes nothing when rows is empty.
func writeTable(w *bytes.Buffer, header []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	w.WriteString("| " + strings.Join(header, " | ") + " |\n")
	w.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			c = strings.Join(strings.Fields(strings.ReplaceAll(c, "|", `\|`)), " ")
			cells[i] = c
		}
		w.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	w.WriteString("\n")
}

func writeBullets(w *bytes.Buffer, items []string) {
	if len(items) == 0 {
		return
	}
	for _, it := range items {
		w.WriteString("- " + indentRest(it) + "\n")
	}
	w.WriteString("\n")
}

// writeField writes "- **Label:** value"; a value of several blocks goes
// on the lines below the label, indented into the item.
func writeField(w *bytes.Buffer, label, value string) {
	if value == "" {
		return
	}
	if strings.Contains(value, "\n") || markerRE.MatchString(value) || strings.HasPrefix(value, "#") {
		w.WriteString("- **" + label + ":**\n\n")
		w.WriteString(indentBlock(value, "  ") + "\n")
		return
	}
	w.WriteString("- **" + label + ":** " + value + "\n")
}

// writeExtra writes an unrecognised field, even when its value is empty.
func writeExtra(w *bytes.Buffer, f Field) {
	if f.Value == "" {
		w.WriteString("- **" + f.Label + ":**\n")
		return
	}
	writeField(w, f.Label, f.Value)
}

// fenceLang returns lang when it can serve as a fence info string.
func fenceLang(lang string) string {
	if lang == "" || strings.ContainsAny(lang, " \t\r\n`") {
		return ""
	}
	return lang
}

// indentBlock indents every non-empty line of s.
func indentBlock(s, pad string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}

func renderHypotheses(w *bytes.Buffer, p *Plan) {
	writeNotes(w, p.HypothesesNotes)
	for _, h := range p.Hypotheses {
		// A title that holds bold marks of its own is written plain
		// ("H1. a **b** — statement"), which reads back the same.
		line := h.ID + ". **" + h.Title + "**"
		if h.Title == "" || strings.Contains(h.Title, "*") || strings.Contains(h.Title, "__") {
			line = strings.TrimRight(h.ID+". "+h.Title, " ")
		}
		if h.Statement != "" {
			line += " — " + h.Statement
		}
		w.WriteString(line + "\n")
		field := func(label, v string) {
			if v != "" {
				w.WriteString("   - " + label + ": " + v + "\n")
			}
		}
		field("Could falsify", strings.Join(h.Falsifies, ", "))
		field("Suspected because", h.SuspectedBecause)
		field("Subsystem", h.Subsystem)
		field("Category", h.Category)
		for _, f := range h.Extra {
			if f.Label == "" {
				w.WriteString("   - " + f.Value + "\n")
				continue
			}
			w.WriteString("   - " + f.Label + ": " + f.Value + "\n")
		}
		w.WriteString("\n")
	}
	if len(p.CategoryNA) == 0 {
		return
	}
	w.WriteString("Categories not covered:\n")
	for _, c := range naOrder(p.CategoryNA) {
		line := "- " + c + ": N/A"
		if !plainKeyRE.MatchString(c) {
			line = "- **" + c + ":** N/A"
		}
		if r := p.CategoryNA[c]; r != "" {
			line += " — " + indentRest(r)
		}
		w.WriteString(line + "\n")
	}
	w.WriteString("\n")
}

// plainKeyRE matches a category name that reads back as a plain label.
var plainKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 /+&().'-]*$`)

// naOrder lists the N/A categories in HypothesisCategories order, then any
// others alphabetically.
func naOrder(m map[string]string) []string {
	var out []string
	known := map[string]bool{}
	for _, c := range HypothesisCategories {
		known[c] = true
		if _, ok := m[c]; ok {
			out = append(out, c)
		}
	}
	var rest []string
	for c := range m {
		if !known[c] {
			rest = append(rest, c)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func renderScenario(w *bytes.Buffer, s *Scenario) {
	fmt.Fprintf(w, "### Scenario %s: %s\n\n", s.ID, s.Name)
	writeNotes(w, s.Notes)
	var fields bytes.Buffer
	writeField(&fields, "Falsifies if it FAILs", strings.Join(s.Falsifies, ", "))
	writeField(&fields, "Closes", strings.Join(s.Closes, ", "))
	writeField(&fields, "Technique", s.Technique)
	writeField(&fields, "Workload", s.Workload)
	writeField(&fields, "Faults", s.Faults)
	writeField(&fields, "Oracle", s.Oracle)
	writeField(&fields, "Observability required", s.Observability)
	writeField(&fields, "Exit criteria", s.ExitCriteria)
	writeField(&fields, "Budget tiers", renderBudget(s.Budget))
	writeField(&fields, "Target test file", s.TargetTestFile)
	writeField(&fields, "Skeleton language", s.SkeletonLanguage)
	if s.Skeleton != "" {
		fence := fenceFor(s.Skeleton)
		fields.WriteString("- **Skeleton:**\n\n")
		fields.WriteString("  " + fence + fenceLang(s.SkeletonLanguage) + "\n")
		fields.WriteString(indentBlock(s.Skeleton, "  ") + "\n")
		fields.WriteString("  " + fence + "\n")
	}
	// Extra fields come after the skeleton, so that a second "Skeleton"
	// item kept in Extra reads back as Extra again.
	for _, f := range s.Extra {
		writeExtra(&fields, f)
	}
	if fields.Len() > 0 {
		w.Write(fields.Bytes())
		w.WriteString("\n")
	}
	if s.ModelNA {
		w.WriteString(NotApplicableLine + "\n\n")
	}
	if s.Discipline != nil {
		w.WriteString("#### §7.M — Model / history / checker discipline\n\n")
		if writeDiscipline(w, s.Discipline) {
			w.WriteString("\n")
		}
	}
	if s.Surfaces != nil {
		w.WriteString("#### §7.M.S — Surface decomposition\n\n")
		var b bytes.Buffer
		x := s.Surfaces
		writeField(&b, "Boundary claim", x.BoundaryClaim)
		writeField(&b, "Boundary keys", x.BoundaryKeys)
		writeField(&b, "Surfaces", x.Surfaces)
		writeField(&b, "Operations", x.Operations)
		writeField(&b, "Positive controls", x.PositiveControls)
		writeField(&b, "Negative controls", x.NegativeControls)
		writeField(&b, "Confusable identifiers", x.ConfusableIDs)
		writeField(&b, "Delayed paths", x.DelayedPaths)
		writeField(&b, "Background paths", x.BackgroundPaths)
		writeField(&b, "Observability paths", x.ObservabilityPaths)
		writeField(&b, "Oracle", x.Oracle)
		writeField(&b, "Minimum smoke budget", x.MinSmokeBudget)
		writeField(&b, "Minimum hardening budget", x.MinHardeningBudget)
		if b.Len() > 0 {
			w.Write(b.Bytes())
			w.WriteString("\n")
		}
	}
	for i := range s.Arms {
		renderArm(w, &s.Arms[i])
	}
}

// writeDiscipline writes the §7.M bullets and reports whether it wrote any.
func writeDiscipline(w *bytes.Buffer, d *Discipline) bool {
	n := w.Len()
	writeField(w, "Model under test", d.Model)
	writeField(w, "Operation history", d.History)
	writeField(w, "Checker", d.Checker)
	writeField(w, "Nemesis + landing evidence", d.Nemesis)
	writeField(w, "Ambiguous outcomes", d.AmbiguousOutcomes)
	writeField(w, "Reduction plan", d.ReductionPlan)
	return w.Len() > n
}

func renderArm(w *bytes.Buffer, a *Arm) {
	fmt.Fprintf(w, "#### Arm %s\n\n", a.ID)
	writeNotes(w, a.Notes)
	var b bytes.Buffer
	writeField(&b, "Surface", a.Surface)
	writeField(&b, "Oracle", a.Oracle)
	wrote := false
	if a.Discipline != nil {
		wrote = writeDiscipline(&b, a.Discipline)
	}
	for _, f := range a.Extra {
		writeExtra(&b, f)
	}
	if b.Len() > 0 {
		w.Write(b.Bytes())
		w.WriteString("\n")
	}
	if a.ModelNA {
		w.WriteString(NotApplicableLine + "\n\n")
	}
	if a.Discipline != nil && !wrote {
		// An empty §7.M is kept as its own subheading so that it reads
		// back as present-but-empty.
		w.WriteString("##### §7.M — Model / history / checker discipline\n\n")
	}
}

func renderBudget(b Budget) string {
	var parts []string
	if b.Smoke != "" {
		parts = append(parts, "smoke: "+b.Smoke)
	}
	if b.Hardening != "" {
		parts = append(parts, "hardening: "+b.Hardening)
	}
	if b.Release != "" {
		parts = append(parts, "release: "+b.Release)
	}
	return strings.Join(parts, "; ")
}

// fenceFor returns a backtick fence longer than any backtick run in code.
func fenceFor(code string) string {
	longest, run := 0, 0
	for _, r := range code {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// NewPlan returns an empty plan with header h and every section the mode
// requires (change-scoped plans omit §3 and §5), ready to be filled section
// by section. An empty Mode means change-scoped; an empty Status means
// draft; a project-wide plan's empty Change becomes "N/A — project-wide".
func NewPlan(h Header) *Plan {
	if h.Mode == "" {
		h.Mode = ModeChangeScoped
	}
	if h.Status == "" {
		h.Status = "draft"
	}
	if h.Mode == ModeProjectWide && h.Change == "" {
		h.Change = "N/A — project-wide"
	}
	p := &Plan{Header: h}
	for _, id := range SectionOrder {
		if h.Mode != ModeProjectWide && (id == "3" || id == "5") {
			continue
		}
		p.Present = append(p.Present, id)
	}
	return p
}
