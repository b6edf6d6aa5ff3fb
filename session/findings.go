package session

import (
	"fmt"
	"strings"
)

// Blame classes a finding may carry (SPEC §6.4, §9).
const (
	BlameSUT         = "SUT"
	BlameHarness     = "harness"
	BlameChecker     = "checker"
	BlameEnvironment = "environment"
	BlameUnknown     = "unknown — pending re-run on alternative harness/host"
)

// BlameClasses returns the blame classes of SPEC §6.4 in their canonical
// spelling.
func BlameClasses() []string {
	return []string{BlameSUT, BlameHarness, BlameChecker, BlameEnvironment, BlameUnknown}
}

// TaxDCTypes returns the TaxDC bug types a finding may carry (SPEC §6.4).
func TaxDCTypes() []string {
	return []string{"timing", "ordering", "partition", "crash-recovery", "upgrade", "config", "fault-handling", "performance"}
}

// FindingTags returns the optional tags a finding may carry (SPEC §6.4).
func FindingTags() []string {
	return []string{"replication", "leadership", "idempotency", "durability", "liveness", "safety"}
}

// Severities returns the severities a finding may carry, most severe
// first; P0 is data loss, corruption or a safety violation.
func Severities() []string {
	return []string{"P0", "P1", "P2", "P3"}
}

// FindingFacts are the facts the caller supplies for a FAIL (SPEC §6.4).
type FindingFacts struct {
	// Reproducer is how to re-trigger the failure: the command, seed and
	// fault schedule, or the reduced history.
	Reproducer string `json:"reproducer"`
	// Reduction says whether and how the reproducer was minimised ("reduced
	// from 412 events to 9 over 23 re-runs") or why it was not.
	Reduction     string   `json:"reduction"`
	BlameClass    string   `json:"blame_class"`
	TaxDCType     string   `json:"taxdc_type"`
	Tags          []string `json:"tags,omitempty"`
	Severity      string   `json:"severity"`
	EvidenceLinks []string `json:"evidence_links"`
	RootCause     string   `json:"root_cause"`
	Owner         string   `json:"owner"`
	NextAction    string   `json:"next_action"`
}

// Validate reports every missing or invalid field, one message each,
// naming the field and what it accepts. A nil receiver reports every
// required field as missing.
func (f *FindingFacts) Validate() []string {
	if f == nil {
		f = &FindingFacts{}
	}
	var bad []string
	missing := func(field, what string) {
		bad = append(bad, fmt.Sprintf("finding.%s is missing: %s", field, what))
	}
	if noText(f.Reproducer) {
		missing("reproducer", "give the command, seed and fault schedule (or the reduced history) that re-triggers the failure")
	}
	if noText(f.Reduction) {
		missing("reduction", `say how the reproducer was minimised ("reduced from N events to k over M re-runs") or why it was not`)
	}
	switch {
	case noText(f.BlameClass):
		missing("blame_class", "one of "+strings.Join(BlameClasses(), ", "))
	case canonicalBlame(f.BlameClass) == "":
		bad = append(bad, fmt.Sprintf("finding.blame_class %q is invalid: use one of %s", f.BlameClass, strings.Join(BlameClasses(), ", ")))
	}
	switch {
	case noText(f.TaxDCType):
		missing("taxdc_type", "one of "+strings.Join(TaxDCTypes(), ", "))
	case !foldIn(f.TaxDCType, TaxDCTypes()):
		bad = append(bad, fmt.Sprintf("finding.taxdc_type %q is invalid: use one of %s", f.TaxDCType, strings.Join(TaxDCTypes(), ", ")))
	}
	for _, t := range f.Tags {
		if !foldIn(t, FindingTags()) {
			bad = append(bad, fmt.Sprintf("finding.tags %q is invalid: use any of %s", t, strings.Join(FindingTags(), ", ")))
		}
	}
	switch {
	case noText(f.Severity):
		missing("severity", "one of P0 (data loss, corruption or safety violation), P1, P2, P3")
	case !foldIn(f.Severity, Severities()):
		bad = append(bad, fmt.Sprintf("finding.severity %q is invalid: use one of P0, P1, P2, P3", f.Severity))
	}
	links := 0
	for _, l := range f.EvidenceLinks {
		if !noText(l) {
			links++
		}
	}
	if links == 0 {
		missing("evidence_links", "link at least one artifact (history, checker output, fault evidence)")
	}
	if noText(f.RootCause) {
		missing("root_cause", "state the hypothesised root cause")
	}
	if noText(f.Owner) {
		missing("owner", "name who owns the fix")
	}
	if noText(f.NextAction) {
		missing("next_action", "state the next action")
	}
	return bad
}

// canonicalBlame returns the canonical spelling of a blame class, or ""
// when s is not one. Case is ignored; any "unknown…" text is the unknown
// class, whose canonical form names the pending re-run.
func canonicalBlame(s string) string {
	s = strings.TrimSpace(s)
	for _, c := range BlameClasses() {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	if strings.HasPrefix(strings.ToLower(s), "unknown") {
		return BlameUnknown
	}
	return ""
}

// noText reports whether s is empty or only space.
func noText(s string) bool { return strings.TrimSpace(s) == "" }

// foldIn reports whether s is one of set, ignoring case and surrounding
// space.
func foldIn(s string, set []string) bool {
	s = strings.TrimSpace(s)
	for _, v := range set {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// RenderFinding renders the findings file of one scenario (or arm),
// findings/<scenario>.md (SPEC §7): the verdict headline, the rule path,
// the reasons and blockers, one row per run with its checker result and
// landing evidence, the arms, the §8 audit and, for a FAIL, every §6.4
// field of the finding.
func RenderFinding(d Decision, f Facts) []byte {
	var b strings.Builder
	title := d.Scenario
	if !noText(f.Name) {
		title += " " + findingLine(f.Name)
	}
	fmt.Fprintf(&b, "# %s — %s\n\n", findingLine(title), d.Verdict)
	fmt.Fprintf(&b, "**Verdict:** %s  \n", d.Verdict)
	fmt.Fprintf(&b, "**Budget tier met:** %s  \n", verdictText(d.TierMet))
	fmt.Fprintf(&b, "**Declared checker:** %s  \n", findingLine(verdictText(f.DeclaredChecker)))
	fmt.Fprintf(&b, "**Serious (§7.M gated):** %s\n\n", findingYesNo(f.Serious))
	b.WriteString("The verdict is derived by falsify from its own records (SPEC §6); it cannot be set by hand.\n\n")

	b.WriteString("## Rule path\n\n")
	findingList(&b, d.Path, true, "No rule applied.")
	b.WriteString("## Reasons\n\n")
	findingList(&b, d.Reasons, false, "No rule fired beyond the path above.")
	b.WriteString("## Blockers\n\n")
	findingList(&b, d.Blockers, false, "None: nothing stood in the way.")

	b.WriteString("## Runs\n\n")
	if len(f.Runs) == 0 {
		b.WriteString("No run was recorded.\n\n")
	} else {
		b.WriteString("| Run | Seed | Tier | Nodes | Duration | Ops | Fault schedule | Checker result | Landing evidence |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range f.Runs {
			dur := "(none)"
			if r.Duration() > 0 {
				dur = r.Duration().String()
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %d | %s | %s | %s |\n",
				findingCell(r.ID), findingCell(verdictText(r.Seed)), findingCell(verdictText(r.Tier)), r.Nodes, dur, r.Ops,
				findingCell(verdictText(r.FaultSchedule)), findingCell(checksCell(r.Checks)), findingCell(faultsCell(r.Faults)))
		}
		b.WriteString("\n")
	}

	if len(f.Arms) > 0 {
		b.WriteString("## Arms\n\n| Arm | Verdict | Budget tier met | First reason |\n|---|---|---|---|\n")
		for _, a := range f.Arms {
			first := ""
			if len(a.Decision.Reasons) > 0 {
				first = a.Decision.Reasons[0]
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", findingCell(a.Arm), findingCell(verdictText(string(a.Decision.Verdict))),
				findingCell(verdictText(a.Decision.TierMet)), findingCell(verdictText(first)))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Audit (SPEC §8)\n\n")
	if len(d.Audit) == 0 {
		b.WriteString("No audit was judged.\n\n")
	} else {
		b.WriteString("| Item | Question | Status | Answer evidence | falsify measured |\n|---|---|---|---|---|\n")
		for _, it := range d.Audit {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", findingCell(it.Key), findingCell(it.Question), findingCell(string(it.Status)),
				findingCell(verdictText(it.Evidence)), findingCell(verdictText(it.Check)))
		}
		b.WriteString("\n")
	}

	if d.Verdict.IsFail() {
		writeFindingBlock(&b, f.Finding)
	}
	return []byte(b.String())
}

// writeFindingBlock writes the §6.4 fields of a FAIL, naming the missing
// ones.
func writeFindingBlock(b *strings.Builder, ff *FindingFacts) {
	b.WriteString("## Finding (SPEC §6.4)\n\n")
	f := FindingFacts{}
	if ff != nil {
		f = *ff
	}
	missing := "**missing**"
	field := func(label, v string) {
		if noText(v) {
			v = missing
		}
		fmt.Fprintf(b, "- **%s:** %s\n", label, findingLine(v))
	}
	field("Reproducer", f.Reproducer)
	field("Reduction", f.Reduction)
	blame := canonicalBlame(f.BlameClass)
	if blame == "" {
		blame = f.BlameClass
	}
	field("Blame class", blame)
	field("TaxDC type", f.TaxDCType)
	tags := strings.Join(f.Tags, ", ")
	if noText(tags) {
		tags = "(none)"
	}
	field("Tags", tags)
	field("Severity", f.Severity)
	var links []string
	for _, l := range f.EvidenceLinks {
		if !noText(l) {
			links = append(links, findingLine(l))
		}
	}
	field("Evidence links", strings.Join(links, ", "))
	field("Hypothesised root cause", f.RootCause)
	field("Owner", f.Owner)
	field("Next action", f.NextAction)
	b.WriteString("\n")
	if problems := ff.Validate(); len(problems) > 0 {
		b.WriteString("This FAIL stands; its finding is incomplete:\n\n")
		findingList(b, problems, false, "")
	}
}

// checksCell summarises the checker results of a run for a table cell.
func checksCell(cs []CheckFacts) string {
	if len(cs) == 0 {
		return "no checker ran"
	}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.summary())
	}
	return strings.Join(parts, "; ")
}

// summary is one checker result in a sentence: "linearizability: ok, 812
// of 812 ops — Porcupine checked …", with partial coverage and the history
// fields it lacked.
func (c CheckFacts) summary() string {
	s := fmt.Sprintf("%s: %s, %d of %d ops", c.Checker, verdictText(c.Status), c.OpsConsumed, c.OpsTotal)
	if c.Partial {
		s += ", partial"
	}
	if len(c.Missing) > 0 {
		s += ", history lacks " + strings.Join(c.Missing, ", ")
	}
	if !noText(c.Evidence) {
		s += " — " + c.Evidence
	}
	return s
}

// faultsCell summarises the fault epochs of a run for a table cell.
func faultsCell(fs []FaultFacts) string {
	if len(fs) == 0 {
		return "no fault"
	}
	parts := make([]string, 0, len(fs))
	for _, ft := range fs {
		s := fmt.Sprintf("%s %s: ", ft.Epoch, verdictText(ft.Kind))
		if ft.Landed {
			s += "landed"
		} else {
			s += "NOT proven"
		}
		if ft.Asymmetric {
			s += " (asymmetric)"
		}
		if ft.External {
			s += " (external)"
		}
		s += " — injector: " + verdictText(ft.Evidence) + "; victim: " + verdictText(ft.VictimEvidence)
		if ft.Healed {
			s += "; healed"
		} else {
			s += "; NOT healed"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// findingList writes items as a Markdown list (numbered when ordered), or
// the empty sentence when there are none.
func findingList(b *strings.Builder, items []string, ordered bool, empty string) {
	if len(items) == 0 {
		if empty != "" {
			b.WriteString(empty + "\n\n")
		}
		return
	}
	for i, it := range items {
		if ordered {
			fmt.Fprintf(b, "%d. %s\n", i+1, findingLine(it))
		} else {
			fmt.Fprintf(b, "- %s\n", findingLine(it))
		}
	}
	b.WriteString("\n")
}

// findingLine folds s onto one line so that it cannot end a list item or
// start a new block.
func findingLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// findingCell makes s safe inside a Markdown table cell: one line, pipes escaped.
func findingCell(s string) string {
	s = strings.ReplaceAll(findingLine(s), `\`, `\\`)
	return strings.ReplaceAll(s, "|", `\|`)
}

func findingYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
