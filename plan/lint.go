package plan

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Diagnostic severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Lint rule ids (SPEC §2.6). Errors block execution; warnings do not.
const (
	RuleSectionMissing       = "section-missing"        // a required section is absent
	RuleSectionOrder         = "section-order"          // a section is out of SPEC §2.1 order
	RuleSectionDuplicate     = "section-duplicate"      // a section appears twice
	RulePlanMode             = "plan-mode"              // Plan mode is neither change-scoped nor project-wide
	RuleProjectWide          = "projectwide-sections"   // project-wide plan without §3 / §5 rows
	RuleNoClaim              = "no-claim"               // hypothesis or scenario names no claim
	RuleUnknownClaim         = "unknown-claim"          // a claim id that §1b does not define
	RuleUnknownHypothesis    = "unknown-hypothesis"     // an H id that §4 does not define
	RuleUnknownScenario      = "unknown-scenario"       // an S id that §7 does not define
	RuleUnknownCategory      = "unknown-category"       // a §1b category outside SPEC §2.3
	RuleDuplicateID          = "duplicate-id"           // the same id defined twice
	RuleModelMissing         = "model-missing"          // serious scenario (or arm) without §7.M
	RuleSeriousNA            = "serious-na"             // serious scenario carrying the not-applicable line
	RuleModelPartial         = "model-partial"          // §7.M with a blank field
	RuleModelUnknown         = "model-unknown"          // Model under test outside SPEC §2.4
	RuleModelInvented        = "model-invented"         // non-serious scenario with §7.M filled
	RuleNALineMissing        = "na-line-missing"        // non-serious scenario without the not-applicable line
	RuleCheckerMismatch      = "checker-mismatch"       // checker does not fit model + category, unjustified
	RuleSurfacesIncomplete   = "surfaces-incomplete"    // boundary/fairness scenario without a full §7.M.S
	RuleHardeningNotStronger = "hardening-not-stronger" // §7.M.S hardening budget not above smoke everywhere
	RuleNeedsSplit           = "needs-split"            // split rule of SPEC §2.5 not followed
	RuleArmIncomplete        = "arm-incomplete"         // an arm without surface, oracle or §7.M
	RuleArmID                = "arm-id"                 // an arm id not of the form S<n>/<surface>
	RuleOracleNotCheckable   = "oracle-not-checkable"   // oracle a machine cannot decide
	RuleExplicitEmpty        = "explicit-empty"         // §1c / §7c present but neither rows nor a statement
	RuleAdequacyMissing      = "adequacy-missing"       // a claim with no §7b row
	RuleSkeletonHeader       = "skeleton-header"        // skeleton without the AUTO-GENERATED header
	RuleUntestedSurfaces     = "untested-surfaces"      // §7d silent on arms expected NOT-RUN / PARTIAL
	RuleSetupShapedName      = "setup-shaped-name"      // warning
	RuleAbsoluteConfidence   = "absolute-confidence"    // warning
	RuleCategoryUncovered    = "category-uncovered"     // warning
	RuleClaimUnfalsified     = "claim-unfalsified"      // warning
	RuleSummaryTooLong       = "summary-too-long"       // warning
	RuleUnknownTechnique     = "unknown-technique"      // warning
	RuleReleaseDisclosure    = "release-disclosure"     // warning
	RuleBudgetMissing        = "budget-missing"         // warning
	RuleScenarioIncomplete   = "scenario-incomplete"    // warning: a SPEC §2.2 field is blank
	RuleConfidenceLength     = "confidence-length"      // warning: §7d outside 4–8 sentences
)

const (
	maxSummaryLines        = 30 // SPEC §2.1: §0 is at most 30 lines
	skeletonHeaderMaxLines = 12 // lines searched for the AUTO-GENERATED header
)

// Diagnostic is one lint finding. Section is a SPEC section id ("1b", "7",
// "7.M", "7.M.S", or "header"); ID names the claim, hypothesis, scenario,
// arm or category concerned ("" for a whole section). Message is the whole
// sentence a person reads: the section, the id, the problem and the fix;
// Fix repeats what to change on its own.
type Diagnostic struct {
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Section  string `json:"section"`
	ID       string `json:"id,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// String renders the diagnostic on one line.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s [%s] %s", d.Severity, d.Rule, d.Message)
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(ds []Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// ForScenario returns the diagnostics about a scenario or an arm, as
// start_run needs them: for "S4" those of S4 and of its arms; for "S4/api"
// those of S4 itself and of that arm, not of its sibling arms.
func ForScenario(ds []Diagnostic, id string) []Diagnostic {
	id = strings.TrimSpace(id)
	sid, _, isArm := strings.Cut(id, "/")
	var out []Diagnostic
	for _, d := range ds {
		dsid, _, dArm := strings.Cut(d.ID, "/")
		switch {
		case !strings.EqualFold(dsid, sid) || !strings.HasPrefix(strings.ToUpper(d.ID), "S"):
		case !dArm, !isArm, strings.EqualFold(d.ID, id):
			out = append(out, d)
		}
	}
	return out
}

// Lint validates a plan against SPEC §2.6 and returns its diagnostics:
// errors first, then warnings, each group in section order and, within a
// section, in plan order.
func Lint(p *Plan) []Diagnostic {
	l := &linter{p: p}
	if p == nil {
		l.errorf(RuleSectionMissing, "header", "", "write a plan starting with \"# Test Plan: <slug>\" and the sections of SPEC §2.1", "there is no plan")
		return l.out
	}
	l.header()
	l.sections()
	l.ids()
	l.claims()
	l.emptyTables()
	l.hypotheses()
	l.techniques()
	l.environment()
	for i := range p.Scenarios {
		l.scenario(&p.Scenarios[i])
	}
	l.adequacy()
	l.confidence()
	l.unfalsified()
	l.summaryLength()
	sort.SliceStable(l.out, func(i, j int) bool {
		a, b := l.out[i], l.out[j]
		if (a.Severity == SeverityError) != (b.Severity == SeverityError) {
			return a.Severity == SeverityError
		}
		return sectionRank(a.Section) < sectionRank(b.Section)
	})
	return l.out
}

// sectionRank orders diagnostics by section: header first, then SPEC §2.1
// order, with §7.M and §7.M.S inside §7.
func sectionRank(section string) int {
	if section == "header" {
		return -1
	}
	base, _, _ := strings.Cut(section, ".")
	if i := slices.Index(SectionOrder, base); i >= 0 {
		return i
	}
	return len(SectionOrder)
}

type linter struct {
	p   *Plan
	out []Diagnostic
}

func (l *linter) add(sev, rule, section, id, fix, format string, args ...any) {
	where := "§" + section
	if section == "header" {
		where = "header"
	}
	if id != "" {
		where += " " + id
	}
	l.out = append(l.out, Diagnostic{
		Severity: sev, Rule: rule, Section: section, ID: id,
		Message: where + ": " + fmt.Sprintf(format, args...) + ". Fix: " + fix,
		Fix:     fix,
	})
}

func (l *linter) errorf(rule, section, id, fix, format string, args ...any) {
	l.add(SeverityError, rule, section, id, fix, format, args...)
}

func (l *linter) warnf(rule, section, id, fix, format string, args ...any) {
	l.add(SeverityWarning, rule, section, id, fix, format, args...)
}

// mode returns the plan mode, defaulting to change-scoped (SPEC §2).
func (l *linter) mode() string {
	m := strings.ToLower(strings.TrimSpace(l.p.Header.Mode))
	if m == "" {
		return ModeChangeScoped
	}
	return m
}

func (l *linter) header() {
	switch l.mode() {
	case ModeChangeScoped, ModeProjectWide:
	default:
		l.errorf(RulePlanMode, "header", "Plan mode",
			"write **Plan mode:** change-scoped or **Plan mode:** project-wide",
			"plan mode %q is neither %s nor %s", l.p.Header.Mode, ModeChangeScoped, ModeProjectWide)
	}
}

func (l *linter) present(id string) bool {
	return slices.Contains(l.p.Present, id)
}

func (l *linter) sections() {
	projectWide := l.mode() == ModeProjectWide
	seen := map[string]bool{}
	last, lastID := -1, ""
	for _, id := range l.p.Present {
		idx := slices.Index(SectionOrder, id)
		if idx < 0 {
			continue // unknown headings are kept verbatim, not judged
		}
		if seen[id] {
			l.errorf(RuleSectionDuplicate, id, "",
				fmt.Sprintf("merge the two \"§%s %s\" sections into one", id, SectionTitles[id]),
				"section %s appears more than once", SectionTitles[id])
			continue
		}
		seen[id] = true
		if idx < last {
			l.errorf(RuleSectionOrder, id, "",
				fmt.Sprintf("move §%s %s before §%s %s (order: %s)", id, SectionTitles[id], lastID, SectionTitles[lastID], strings.Join(SectionOrder, ", ")),
				"section %s comes after §%s %s", SectionTitles[id], lastID, SectionTitles[lastID])
			continue
		}
		last, lastID = idx, id
	}
	for _, id := range SectionOrder {
		if seen[id] {
			continue
		}
		if id == "3" || id == "5" {
			if projectWide {
				l.errorf(RuleProjectWide, id, "",
					fmt.Sprintf("add \"## %s. %s\" with its table (SPEC §2.1), or change Plan mode to change-scoped", id, SectionTitles[id]),
					"a project-wide plan needs section %s", SectionTitles[id])
			}
			continue
		}
		fix := fmt.Sprintf("add \"## %s. %s\" in SPEC §2.1 order", id, SectionTitles[id])
		switch id {
		case "1c":
			fix += " with its table, or a sentence saying no missing claims were found"
		case "7c":
			fix += " with its table, or a sentence saying the residual uncertainty is empty"
		}
		l.errorf(RuleSectionMissing, id, "", fix, "required section %s is missing", SectionTitles[id])
	}
	if projectWide {
		if seen["3"] && len(l.p.Inventory) == 0 {
			l.errorf(RuleProjectWide, "3", "",
				"list every existing test / harness with its subsystem, invariant pinned and failure modes caught",
				"a project-wide plan needs test inventory rows; the section has none")
		}
		if seen["5"] && len(l.p.Coverage) == 0 {
			l.errorf(RuleProjectWide, "5", "",
				"add one coverage row per claim × hypothesis with verdict, gap kind and recommended scenario",
				"a project-wide plan needs coverage matrix rows; the section has none")
		}
	}
}

func (l *linter) ids() {
	dup := func(section string, ids []string, what string) {
		seen := map[string]bool{}
		for _, id := range ids {
			key := strings.ToUpper(strings.TrimSpace(id))
			if key == "" {
				continue
			}
			if seen[key] {
				l.errorf(RuleDuplicateID, section, id,
					fmt.Sprintf("renumber one of the %ss so every id is unique", what),
					"%s id %s is defined more than once", what, id)
			}
			seen[key] = true
		}
	}
	var cs, ms, hs, ss, as []string
	for _, c := range l.p.Claims {
		cs = append(cs, c.ID)
	}
	for _, m := range l.p.MissingClaims {
		ms = append(ms, m.ID)
	}
	for _, h := range l.p.Hypotheses {
		hs = append(hs, h.ID)
	}
	for _, s := range l.p.Scenarios {
		ss = append(ss, s.ID)
		for _, a := range s.Arms {
			as = append(as, a.ID)
		}
	}
	dup("1b", cs, "claim")
	dup("1c", ms, "missing claim")
	dup("4", hs, "hypothesis")
	dup("7", ss, "scenario")
	dup("7", as, "arm")
}

func (l *linter) claims() {
	for _, c := range l.p.Claims {
		if !slices.Contains(Categories, canonCategory(c.Category)) {
			l.errorf(RuleUnknownCategory, "1b", c.ID,
				"set Category to one of: "+strings.Join(Categories, ", "),
				"category %q is not a SPEC §2.3 claim category, so no gate can be decided", c.Category)
		}
	}
}

func (l *linter) emptyTables() {
	if l.present("1c") && len(l.p.MissingClaims) == 0 && strings.TrimSpace(l.p.MissingNone) == "" {
		l.errorf(RuleExplicitEmpty, "1c", "",
			"add the missing-claims table, or the sentence \"No missing claims were found.\"",
			"section %s has neither rows nor an explicit statement that none were found", SectionTitles["1c"])
	}
	if l.present("7c") && len(l.p.Residual) == 0 && strings.TrimSpace(l.p.ResidualNone) == "" {
		l.errorf(RuleExplicitEmpty, "7c", "",
			"add the residual-uncertainty table, or a sentence stating that it is empty and why",
			"section %s has neither rows nor an explicit statement that it is empty", SectionTitles["7c"])
	}
}

// knownClaim reports whether id is a §1b claim or a §1c missing claim.
func (l *linter) knownClaim(id string) bool {
	if l.p.Claim(id) != nil {
		return true
	}
	for _, m := range l.p.MissingClaims {
		if strings.EqualFold(m.ID, strings.TrimSpace(id)) {
			return true
		}
	}
	return false
}

func (l *linter) claimRefs(section, id string, refs []string, what string) {
	if len(refs) == 0 {
		l.errorf(RuleNoClaim, section, id,
			fmt.Sprintf("list the §1b claim ids this %s could falsify", what),
			"%s names no claim", what)
		return
	}
	for _, c := range refs {
		if !l.knownClaim(c) {
			l.errorf(RuleUnknownClaim, section, id,
				fmt.Sprintf("use a claim id defined in §1b (%s), or add %s to §1b", joinOr(l.claimIDs(), "none defined"), c),
				"claim %s is not defined in §1b", c)
		}
	}
}

func (l *linter) claimIDs() []string {
	var ids []string
	for _, c := range l.p.Claims {
		ids = append(ids, c.ID)
	}
	return ids
}

func (l *linter) hypothesisRefs(section, id string, refs []string) {
	for _, h := range refs {
		if l.p.Hypothesis(h) == nil {
			l.errorf(RuleUnknownHypothesis, section, id,
				fmt.Sprintf("use a hypothesis id defined in §4, or add %s to §4", h),
				"hypothesis %s is not defined in §4", h)
		}
	}
}

func (l *linter) hypotheses() {
	covered := map[string]bool{}
	for _, h := range l.p.Hypotheses {
		l.claimRefs("4", h.ID, h.Falsifies, "hypothesis")
		if c := strings.ToLower(strings.TrimSpace(h.Category)); c != "" {
			covered[c] = true
		}
	}
	na := map[string]string{}
	for k, v := range l.p.CategoryNA {
		na[strings.ToLower(strings.TrimSpace(k))] = v
	}
	for _, c := range HypothesisCategories {
		if covered[c] {
			continue
		}
		reason, ok := na[c]
		switch {
		case !ok:
			l.warnf(RuleCategoryUncovered, "4", c,
				fmt.Sprintf("add a hypothesis with Category: %s, or mark it \"%s: N/A — <reason>\"", c, c),
				"hypothesis category %q is neither covered nor marked N/A", c)
		case strings.TrimSpace(strings.Trim(strings.TrimSpace(reason), "—–-:")) == "":
			l.warnf(RuleCategoryUncovered, "4", c,
				fmt.Sprintf("give the reason: \"%s: N/A — <reason>\"", c),
				"hypothesis category %q is marked N/A without a reason", c)
		}
	}
}

func (l *linter) techniques() {
	for _, t := range l.p.Techniques {
		if !slices.Contains(TechniqueCatalog, strings.ToLower(strings.TrimSpace(t.Name))) {
			l.warnf(RuleUnknownTechnique, "6", t.Name,
				"pick a technique from the catalog: "+strings.Join(TechniqueCatalog, ", "),
				"technique %q is not in the techniques catalog", t.Name)
		}
		l.hypothesisRefs("6", t.Name, t.Hypotheses)
	}
}

func (l *linter) knownScenario(id string) bool {
	_, _, err := l.p.FindScenario(id)
	return err == nil
}

func (l *linter) environment() {
	for _, r := range l.p.Environment {
		for _, s := range r.UsedBy {
			if !l.knownScenario(s) {
				l.errorf(RuleUnknownScenario, "6b", r.Requirement,
					fmt.Sprintf("use a scenario id defined in §7 (%s)", joinOr(l.p.scenarioIDs(), "none defined")),
					"requirement is used by scenario %s, which §7 does not define", s)
			}
		}
	}
}

func (l *linter) scenario(s *Scenario) {
	l.claimRefs("7", s.ID, s.Falsifies, "scenario")
	l.hypothesisRefs("7", s.ID, s.Closes)
	if t := strings.ToLower(strings.TrimSpace(s.Technique)); t != "" && !slices.Contains(TechniqueCatalog, t) {
		l.warnf(RuleUnknownTechnique, "7", s.ID,
			"set Technique to one from the catalog: "+strings.Join(TechniqueCatalog, ", "),
			"technique %q is not in the techniques catalog", s.Technique)
	}
	if setupShaped(s.Name) {
		l.warnf(RuleSetupShapedName, "7", s.ID,
			"name the scenario after the claim it tries to falsify, e.g. linearizable_append_under_partition",
			"scenario name %q describes the setup, not the claim", s.Name)
	}
	l.scenarioFields(s)
	l.scenarioOracle(s)
	l.budget(s)
	l.skeleton(s)
	l.discipline(s)
	if NeedsSurfaces(l.p, s) {
		l.surfaces(s)
	}
	if slices.Contains(ScenarioCategories(l.p, s), CategoryFairness) {
		l.fairnessOracle(s)
	}
	l.split(s)
	l.arms(s)
}

func (l *linter) scenarioFields(s *Scenario) {
	fields := []struct{ label, value string }{
		{"Technique", s.Technique},
		{"Workload", s.Workload},
		{"Faults", s.Faults},
		{"Observability required", s.Observability},
		{"Exit criteria", s.ExitCriteria},
		{"Target test file", s.TargetTestFile},
		{"Skeleton language", s.SkeletonLanguage},
	}
	var missing []string
	for _, f := range fields {
		if blankField(f.value) {
			missing = append(missing, f.label)
		}
	}
	if len(missing) > 0 {
		l.warnf(RuleScenarioIncomplete, "7", s.ID,
			"fill "+strings.Join(missing, ", ")+" (SPEC §2.2)",
			"scenario block lacks %s", strings.Join(missing, ", "))
	}
}

func (l *linter) scenarioOracle(s *Scenario) {
	if len(s.Arms) > 0 {
		o := strings.ToLower(strings.TrimSpace(s.Oracle))
		if o == "" || strings.Contains(o, "per arm") || strings.Contains(o, "see arm") {
			return // each arm states its own oracle
		}
	}
	if ok, why := MachineCheckable(s.Oracle); !ok {
		l.errorf(RuleOracleNotCheckable, "7", s.ID,
			"state a named checker (SPEC §4.2), a property over the history or final state, or an SLO with a threshold",
			"oracle %q is not machine-checkable: %s", s.Oracle, why)
	}
}

func (l *linter) budget(s *Scenario) {
	if strings.TrimSpace(s.Budget.Smoke) == "" || strings.TrimSpace(s.Budget.Hardening) == "" {
		l.warnf(RuleBudgetMissing, "7", s.ID,
			"write **Budget tiers:** smoke: <nodes, duration, faults, seeds>; hardening: <…>; release: <…>",
			"budget tiers lack a smoke or hardening tier, so no run can be judged against them")
	}
	if r := ParseTier(s.Budget.Release); r.NotProvided && (r.Reason == "" || r.Revisit == "") {
		l.warnf(RuleReleaseDisclosure, "7", s.ID,
			"write release: not provided — <reason>. Revisit when: <condition>",
			"release tier is not provided without both a reason and a revisit condition")
	}
}

var autoGenerated = regexp.MustCompile(`(?i)auto-?generated`)

func (l *linter) skeleton(s *Scenario) {
	fix := fmt.Sprintf("start the skeleton with comment lines \"AUTO-GENERATED from test plan: %s\" and \"Scenario: %s %s\"", l.planPath(), s.ID, s.Name)
	code := strings.TrimSpace(s.Skeleton)
	if code == "" {
		l.errorf(RuleSkeletonHeader, "7", s.ID, fix, "scenario has no skeleton")
		return
	}
	lines := strings.Split(code, "\n")
	if len(lines) > skeletonHeaderMaxLines {
		lines = lines[:skeletonHeaderMaxLines]
	}
	head := strings.Join(lines, "\n")
	var missing []string
	if !autoGenerated.MatchString(head) {
		missing = append(missing, "the AUTO-GENERATED marker")
	}
	if !l.namesPlanPath(head) {
		missing = append(missing, "the plan path "+l.planPath())
	}
	if !slices.ContainsFunc(refIDs(head, 'S'), func(id string) bool {
		sid, _, _ := strings.Cut(id, "/")
		return strings.EqualFold(sid, s.ID)
	}) {
		missing = append(missing, "the scenario id "+s.ID)
	}
	if len(missing) > 0 {
		l.errorf(RuleSkeletonHeader, "7", s.ID, fix, "skeleton header lacks %s", strings.Join(missing, ", "))
	}
}

func (l *linter) planPath() string {
	if slug := strings.TrimSpace(l.p.Header.Slug); slug != "" {
		return "testing-plans/" + slug + ".md"
	}
	return "testing-plans/<slug>.md"
}

var mdPath = regexp.MustCompile(`\S+\.md\b`)

func (l *linter) namesPlanPath(head string) bool {
	if slug := strings.TrimSpace(l.p.Header.Slug); slug != "" {
		return strings.Contains(head, slug+".md")
	}
	return mdPath.MatchString(head)
}

// discipline applies the §7.M gate to a scenario's own block.
func (l *linter) discipline(s *Scenario) {
	serious := Serious(l.p, s)
	hasArms := len(s.Arms) > 0
	switch {
	case serious && s.Discipline != nil:
		if s.ModelNA {
			l.errorf(RuleSeriousNA, "7.M", s.ID,
				"delete the not-applicable line: the scenario falsifies a gated claim and its §7.M block applies",
				"scenario carries both a §7.M block and the not-applicable line")
		}
		l.checkDiscipline(s, s.ID, s.Discipline)
	case serious && hasArms:
		// each arm must carry §7.M; checked in arms
	case serious && s.ModelNA:
		l.errorf(RuleSeriousNA, "7.M", s.ID,
			"replace the not-applicable line with a complete §7.M block (model, history, checker, nemesis + landing evidence, ambiguous outcomes, reduction plan)",
			"scenario falsifies a gated claim (%s) but carries the not-applicable line", strings.Join(l.gatedClaims(s), ", "))
	case serious:
		l.errorf(RuleModelMissing, "7.M", s.ID,
			"add \"#### §7.M — Model / history / checker discipline\" with all six fields",
			"scenario falsifies a gated claim (%s) but has no §7.M block", strings.Join(l.gatedClaims(s), ", "))
	case s.Discipline != nil:
		l.errorf(RuleModelInvented, "7.M", s.ID,
			"replace the §7.M block with the single line \""+NotApplicableLine+"\", or add the gated claim the model is for to Falsifies",
			"scenario falsifies no gated claim (categories: %s) yet fills §7.M with model %q", joinOr(ScenarioCategories(l.p, s), "none"), s.Discipline.Model)
	case !s.ModelNA && !hasArms:
		l.errorf(RuleNALineMissing, "7.M", s.ID,
			"add the exact line \""+NotApplicableLine+"\"",
			"scenario falsifies no gated claim but lacks the not-applicable line")
	}
}

// gatedClaims lists "C1 (safety)" for each §7.M-gated claim of s.
func (l *linter) gatedClaims(s *Scenario) []string {
	var out []string
	for _, id := range s.Falsifies {
		if c := l.p.Claim(id); c != nil && slices.Contains(ModelGatedCategories, canonCategory(c.Category)) {
			out = append(out, fmt.Sprintf("%s (%s)", c.ID, canonCategory(c.Category)))
		}
	}
	return out
}

// blankField reports whether a field value is empty or a placeholder.
func blankField(v string) bool {
	t := strings.TrimSpace(strings.Trim(strings.TrimSpace(v), "`*_"))
	switch strings.ToLower(t) {
	case "", "…", "...", "-", "—", "tbd", "todo", "?", "<…>", "<...>":
		return true
	}
	return false
}

// checkDiscipline checks a §7.M block (of scenario s, or of its arm id).
func (l *linter) checkDiscipline(s *Scenario, id string, d *Discipline) {
	fields := []struct{ label, value string }{
		{"Model under test", d.Model},
		{"Operation history", d.History},
		{"Checker", d.Checker},
		{"Nemesis + landing evidence", d.Nemesis},
		{"Ambiguous outcomes", d.AmbiguousOutcomes},
		{"Reduction plan", d.ReductionPlan},
	}
	var missing []string
	for _, f := range fields {
		if blankField(f.value) {
			missing = append(missing, f.label)
		}
	}
	if len(missing) > 0 {
		l.errorf(RuleModelPartial, "7.M", id,
			"fill "+strings.Join(missing, ", ")+" (SPEC §2.4); a partial §7.M cannot support a hardening claim",
			"§7.M is partial: %s blank", strings.Join(missing, ", "))
	}
	if !blankField(d.History) && !recordingMechanism.MatchString(d.History) {
		l.errorf(RuleModelPartial, "7.M", id,
			"say how the history is recorded: in-process, external probe, server-side audit, or combined (SPEC §2.4)",
			"Operation history names no recording mechanism")
	}
	if !blankField(d.Nemesis) && injectorSaidSo.MatchString(d.Nemesis) {
		l.errorf(RuleModelPartial, "7.M", id,
			"name an observable signal measured independently of the injector (SPEC §5): a counter read before and after, a kernel process state, a log line the SUT wrote",
			"Nemesis + landing evidence relies on the injector's own report (%q), which is not evidence", injectorSaidSo.FindString(d.Nemesis))
	}
	if blankField(d.Model) {
		return
	}
	model, ok := ModelName(d.Model)
	if !ok {
		l.errorf(RuleModelUnknown, "7.M", id,
			"set Model under test to one of "+strings.Join(Models, ", ")+", or other(<name>)",
			"model %q is not a SPEC §2.4 model", d.Model)
		return
	}
	if blankField(d.Checker) {
		return
	}
	l.checkChecker(s, id, model, d.Checker)
}

func (l *linter) checkChecker(s *Scenario, id, model, checker string) {
	if checkerJustified(checker) {
		return
	}
	if checkerNone(checker) {
		l.errorf(RuleCheckerMismatch, "7.M", id,
			"write \"none — <1–2 sentences on the alternative oracle and why it decides the claim>\"",
			"checker is \"none\" without a justification of the alternative oracle")
		return
	}
	cats := gatedCheckCategories(l.p, s)
	if len(cats) == 0 {
		if len(CheckersIn(checker)) == 0 {
			l.errorf(RuleCheckerMismatch, "7.M", id,
				"name a SPEC §4.2 checker ("+strings.Join(CheckerNames, ", ")+"), or write \"none — <justification>\"",
				"checker %q is not a named checker", checker)
		}
		return
	}
	var misfit []string
	var suggest []string
	for _, c := range cats {
		if CheckerFits(model, c, checker) {
			continue
		}
		misfit = append(misfit, c)
		if t := SuggestCheckers(model, c); t != "" {
			suggest = append(suggest, fmt.Sprintf("%s + %s → %s", model, c, t))
		} else {
			suggest = append(suggest, fmt.Sprintf("%s + %s is outside the picker", model, c))
		}
	}
	if len(misfit) > 0 {
		l.errorf(RuleCheckerMismatch, "7.M", id,
			"use the picker's checker ("+strings.Join(suggest, "; ")+"), or add a justification (\"<checker> — justification: …\")",
			"checker %q does not fit model %s for category %s (SPEC §4.1)", checker, model, strings.Join(misfit, ", "))
	}
}

func (l *linter) surfaces(s *Scenario) {
	const fix = "fill all thirteen §7.M.S fields (SPEC §2.5)"
	if s.Surfaces == nil {
		l.errorf(RuleSurfacesIncomplete, "7.M.S", s.ID,
			"add \"#### §7.M.S — Surface decomposition\" with all thirteen fields (SPEC §2.5)",
			"scenario falsifies a boundary/fairness claim but has no §7.M.S block")
		return
	}
	f := s.Surfaces
	fields := []struct{ label, value string }{
		{"Boundary claim", f.BoundaryClaim},
		{"Boundary keys", f.BoundaryKeys},
		{"Surfaces", f.Surfaces},
		{"Operations", f.Operations},
		{"Positive controls", f.PositiveControls},
		{"Negative controls", f.NegativeControls},
		{"Confusable identifiers", f.ConfusableIDs},
		{"Delayed paths", f.DelayedPaths},
		{"Background paths", f.BackgroundPaths},
		{"Observability paths", f.ObservabilityPaths},
		{"Oracle", f.Oracle},
		{"Minimum smoke budget", f.MinSmokeBudget},
		{"Minimum hardening budget", f.MinHardeningBudget},
	}
	var missing []string
	for _, x := range fields {
		if blankField(x.value) {
			missing = append(missing, x.label)
		}
	}
	if len(missing) > 0 {
		l.errorf(RuleSurfacesIncomplete, "7.M.S", s.ID, fix+": "+strings.Join(missing, ", "),
			"§7.M.S is incomplete: %s blank", strings.Join(missing, ", "))
	}
	if slices.Contains(ScenarioCategories(l.p, s), CategoryBoundary) && !blankField(f.ConfusableIDs) && !confusableClass.MatchString(f.ConfusableIDs) {
		l.errorf(RuleSurfacesIncomplete, "7.M.S", s.ID,
			"name at least one confusable-identifier class per boundary claim: same name under different scopes, prefix collision, case folding, embedded separators / percent-encoding, trailing whitespace or control characters, recycled id after deletion, off-by-one range boundary, integer overflow, Unicode normalisation",
			"Confusable identifiers names no SPEC §2.5 confusable-identifier class")
	}
	if !blankField(f.Oracle) && !(controlPositive.MatchString(f.Oracle) && controlNegative.MatchString(f.Oracle)) {
		l.errorf(RuleSurfacesIncomplete, "7.M.S", s.ID,
			"state what the oracle checks for the positive controls (allowed access succeeds) and for the negative controls (denied and not observable)",
			"the §7.M.S oracle does not cover both positive and negative controls")
	}
	if !blankField(f.NegativeControls) && !observabilityWords.MatchString(f.NegativeControls) {
		l.errorf(RuleSurfacesIncomplete, "7.M.S", s.ID,
			"state that denied accesses are also not observable in metrics, logs and side channels",
			"negative controls check denial only, not absence from metrics / logs / side channels")
	}
	if !blankField(f.Oracle) {
		if ok, why := MachineCheckable(f.Oracle); !ok {
			l.errorf(RuleOracleNotCheckable, "7.M.S", s.ID,
				"state the surface oracle as a property with positive and negative controls",
				"oracle %q is not machine-checkable: %s", f.Oracle, why)
		}
	}
	if blankField(f.MinSmokeBudget) || blankField(f.MinHardeningBudget) {
		return
	}
	smoke, hard := ParseTier(f.MinSmokeBudget), ParseTier(f.MinHardeningBudget)
	if weak := hard.NotStrongerIn(smoke); hard.NotProvided || len(weak) > 0 {
		why := strings.Join(weak, ", ")
		if hard.NotProvided {
			why = "hardening budget not provided"
		}
		l.errorf(RuleHardeningNotStronger, "7.M.S", s.ID,
			"raise the minimum hardening budget above the smoke budget on nodes, duration, faults and seeds (e.g. \"5 nodes, 30m, 6 faults, 5 seeds\")",
			"minimum hardening budget %q is not strictly stronger than smoke %q on every dimension: %s", f.MinHardeningBudget, f.MinSmokeBudget, why)
	}
}

// Patterns the §7.M and §7.M.S checks read.
var (
	// recordingMechanism: §2.4 wants the history's recording mechanism.
	recordingMechanism = regexp.MustCompile(`(?i)in[- ]process|external|probe|server[- ]side|audit|combined|proxy|wrapper|recorder|sidecar|interceptor|instrument`)
	// injectorSaidSo: "the injector reported success" is not evidence (§2.4, §5).
	injectorSaidSo = regexp.MustCompile(`(?i)injector\s+(?:reported|reports|returned|returns|said|says)\s+(?:success|ok|done)|injected\s+and\s+waited|assumed?\s+(?:it\s+|to\s+have\s+)?landed|exit\s+code\s+0\s+(?:of|from)\s+the\s+injector`)
	// confusableClass: the confusable-identifier classes of §2.5.
	confusableClass = regexp.MustCompile(`(?i)scope|prefix|case[- ]?(?:fold|insensitiv|sensitiv)|\bcase\b|separator|percent|encod|whitespace|control char|recycl|reuse|after delet|off[- ]by[- ]one|range bound|overflow|unicode|normali[sz]|homoglyph`)
	// controlPositive / controlNegative: a §7.M.S oracle covers both.
	controlPositive = regexp.MustCompile(`(?i)positive|allowed|permitted|own\b|authori[sz]ed`)
	controlNegative = regexp.MustCompile(`(?i)negative|denied|forbidden|foreign|cross[- ]tenant|unauthori[sz]ed|other tenant|must not`)
	// observabilityWords: negative controls are also not observable.
	observabilityWords = regexp.MustCompile(`(?i)metric|log|side[- ]channel|observ|trace|label|timing`)
)

var surfaceSep = regexp.MustCompile(`\s*(?:,|;|\band\b|\n|\+)\s*`)

// fairnessThreshold matches a fairness formula with a numeric threshold
// ("worst_group_p99 / aggregate_p99 <= 1.5", "error_rate_by_group == 0").
var fairnessThreshold = regexp.MustCompile(`(?:<=|>=|==|≤|≥|<|>)\s*~?\d`)

// fairnessOracle requires a fairness scenario to declare at least one
// fairness formula with a threshold (SPEC §2.5) somewhere in its oracles.
func (l *linter) fairnessOracle(s *Scenario) {
	texts := []string{s.Oracle}
	if s.Surfaces != nil {
		texts = append(texts, s.Surfaces.Oracle)
	}
	for _, a := range s.Arms {
		texts = append(texts, a.Oracle)
	}
	for _, t := range texts {
		if fairnessThreshold.MatchString(t) {
			return
		}
	}
	l.errorf(RuleOracleNotCheckable, "7", s.ID,
		"declare a fairness formula with a threshold, e.g. worst_group_p99 / aggregate_p99 <= 1.5, min_group_throughput >= 200 ops/s, error_rate_by_group == 0, repeat_spread <= 0.1",
		"the scenario falsifies a fairness claim but its oracle declares no fairness formula with a threshold")
}

// surfaceList splits a §7.M.S Surfaces value into its surfaces, ignoring
// parenthesised detail ("key API (GET/PUT), export API" → 2).
func surfaceList(text string) []string {
	var b strings.Builder
	depth := 0
	for _, r := range text {
		switch {
		case r == '(' || r == '[':
			depth++
		case (r == ')' || r == ']') && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	parts := surfaceSep.Split(b.String(), -1)
	var out []string
	for _, p := range parts {
		p = strings.Trim(strings.TrimSpace(p), ".-*`")
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// independentOracles groups the checkers an oracle names by picker row:
// checkers the SPEC lists together for one model (no-lost-ack +
// replay-equivalence) count once.
func independentOracles(oracle string) [][]string {
	var groups [][]string
	for _, c := range CheckersIn(oracle) {
		placed := false
		for gi, g := range groups {
			for _, r := range Picker {
				if len(r.Checkers) > 1 && slices.Contains(r.Checkers, c) && slices.Contains(r.Checkers, g[0]) {
					groups[gi] = append(groups[gi], c)
					placed = true
					break
				}
			}
			if placed {
				break
			}
		}
		if !placed {
			groups = append(groups, []string{c})
		}
	}
	return groups
}

func (l *linter) split(s *Scenario) {
	if len(s.Arms) > 0 {
		return
	}
	var why []string
	if s.Surfaces != nil {
		if n := surfaceList(s.Surfaces.Surfaces); len(n) > 3 {
			why = append(why, fmt.Sprintf("%d surfaces (%s)", len(n), strings.Join(n, ", ")))
		}
	}
	if cats := ScenarioCategories(l.p, s); len(cats) > 3 {
		why = append(why, fmt.Sprintf("%d claim categories (%s)", len(cats), strings.Join(cats, ", ")))
	}
	if g := independentOracles(s.Oracle); len(g) > 1 {
		var names []string
		for _, x := range g {
			names = append(names, strings.Join(x, " + "))
		}
		why = append(why, fmt.Sprintf("%d independent oracles (%s)", len(g), strings.Join(names, "; ")))
	}
	if len(why) > 0 {
		l.errorf(RuleNeedsSplit, "7", s.ID,
			fmt.Sprintf("split into arms (#### Arm %s/<surface>), each with its own surface, oracle and §7.M", s.ID),
			"scenario spans %s without arms", strings.Join(why, " and "))
	}
}

var expectedPartial = regexp.MustCompile(`(?i)\bnot[- ]run\b|\bPARTIAL(?:-surface|-model)?\b`)

func (l *linter) arms(s *Scenario) {
	serious := Serious(l.p, s)
	for i := range s.Arms {
		a := &s.Arms[i]
		if !strings.HasPrefix(strings.ToUpper(a.ID), strings.ToUpper(s.ID)+"/") || len(a.ID) <= len(s.ID)+1 {
			l.errorf(RuleArmID, "7", a.ID,
				fmt.Sprintf("name the arm %s/<surface>, e.g. %s/api", s.ID, s.ID),
				"arm id %q is not of the form %s/<surface>", a.ID, s.ID)
		}
		if blankField(a.Surface) {
			l.errorf(RuleArmIncomplete, "7", a.ID, "add **Surface:** naming the one surface this arm exercises", "arm has no surface")
		}
		if blankField(a.Oracle) {
			l.errorf(RuleArmIncomplete, "7", a.ID, "add **Oracle:** with the arm's own machine-checkable oracle", "arm has no oracle")
		} else if ok, why := MachineCheckable(a.Oracle); !ok {
			l.errorf(RuleOracleNotCheckable, "7", a.ID,
				"state a named checker (SPEC §4.2), a property over the history or final state, or an SLO with a threshold",
				"oracle %q is not machine-checkable: %s", a.Oracle, why)
		}
		switch {
		case a.Discipline != nil:
			l.checkDiscipline(s, a.ID, a.Discipline)
		case serious && a.ModelNA:
			l.errorf(RuleSeriousNA, "7.M", a.ID,
				"replace the not-applicable line with the arm's own complete §7.M fields",
				"arm of a scenario that falsifies a gated claim (%s) carries the not-applicable line", strings.Join(l.gatedClaims(s), ", "))
		case serious && s.Discipline == nil:
			l.errorf(RuleModelMissing, "7.M", a.ID,
				"give the arm its own §7.M fields (model, history, checker, nemesis + landing evidence, ambiguous outcomes, reduction plan)",
				"arm of a scenario that falsifies a gated claim (%s) has no §7.M", strings.Join(l.gatedClaims(s), ", "))
		case !serious && !a.ModelNA:
			l.errorf(RuleArmIncomplete, "7.M", a.ID,
				"give the arm its own §7.M fields (SPEC §2.5 split rule), or the line \""+NotApplicableLine+"\"",
				"arm has neither its own model/history/checker nor the not-applicable line")
		}
	}
}

// armExpectedPartial reports whether an arm is expected to end NOT-RUN or
// PARTIAL-*: it says so in one of its fields, or it has no model-level
// checker to run.
func armExpectedPartial(a *Arm) bool {
	if a.Discipline == nil {
		return true
	}
	texts := []string{a.Surface, a.Oracle}
	for _, f := range a.Extra {
		texts = append(texts, f.Label+" "+f.Value)
	}
	for _, t := range texts {
		if expectedPartial.MatchString(t) {
			return true
		}
	}
	return false
}

func (l *linter) adequacy() {
	rows := map[string]bool{}
	for _, r := range l.p.Adequacy {
		ids := refIDs(r.Claim, 'C')
		if len(ids) == 0 && strings.TrimSpace(r.Claim) != "" {
			ids = []string{strings.TrimSpace(r.Claim)}
		}
		for _, id := range ids {
			rows[strings.ToUpper(id)] = true
			if !l.knownClaim(id) {
				l.errorf(RuleUnknownClaim, "7b", id,
					"use a claim id defined in §1b, or remove the row",
					"adequacy row names claim %s, which §1b does not define", id)
			}
		}
		for _, s := range r.Scenarios {
			if !l.knownScenario(s) {
				l.errorf(RuleUnknownScenario, "7b", joinOr(ids, r.Claim),
					fmt.Sprintf("use a scenario id defined in §7 (%s)", joinOr(l.p.scenarioIDs(), "none defined")),
					"adequacy row names scenario %s, which §7 does not define", s)
			}
		}
	}
	for _, c := range l.p.Claims {
		if !rows[strings.ToUpper(c.ID)] {
			l.errorf(RuleAdequacyMissing, "7b", c.ID,
				"add a §7b row: claim, threat model, scenarios that exercise the threats, why these are sufficient",
				"claim has no coverage adequacy row")
		}
	}
}

// absolutePhrases are absolute negatives and certainty claims a
// confidence statement must not make (SPEC §2.1 §7d).
var absolutePhrases = regexp.MustCompile(`(?i)\b(?:cannot|can ?not|can't|could not|couldn't|will not|won't|can never|will never|could never)\s+(?:ever\s+)?(?:happen|occur|lose|be lost|fail|break|leak|diverge|corrupt)\w*` +
	`|\bnever\s+(?:happens?|occurs?|loses?|fails?|leaks?|breaks?|diverges?|corrupts?)\b` +
	`|\bis\s+impossible\b|\bimpossible\s+(?:to|for)\b|\bguarantee(?:s|d)?\b|\bprove[sn]?\b|\bproved\b` +
	`|\bbug[- ]free\b|\bno\s+bugs\b|\b100\s*%|\bfully\s+(?:safe|correct|verified)\b|\bcompletely\s+(?:safe|correct)\b|\bcertainly\b|\bdefinitely\b|\bwithout\s+any\s+doubt\b`)

func (l *linter) confidence() {
	text := l.p.Confidence
	if m := absolutePhrases.FindString(text); m != "" {
		l.warnf(RuleAbsoluteConfidence, "7d", "",
			"use conservative wording: \"we have not observed X under the tested threats\", not \"X cannot happen\"",
			"confidence statement makes an absolute claim (%q)", m)
	}
	if strings.TrimSpace(text) != "" {
		if n := countSentences(text); n < 4 || n > 8 {
			l.warnf(RuleConfidenceLength, "7d", "",
				"write 4–8 sentences: what was exercised, under which threats, what was not, and how much that is worth",
				"confidence statement has %d sentences", n)
		}
	}
	lower := strings.ToLower(text)
	for i := range l.p.Scenarios {
		s := &l.p.Scenarios[i]
		if !NeedsSurfaces(l.p, s) {
			continue
		}
		for j := range s.Arms {
			a := &s.Arms[j]
			if !armExpectedPartial(a) {
				continue
			}
			if strings.Contains(lower, strings.ToLower(a.ID)) || (surfaceName(a.Surface) != "" && strings.Contains(lower, surfaceName(a.Surface))) {
				continue
			}
			l.errorf(RuleUntestedSurfaces, "7d", a.ID,
				fmt.Sprintf("name the untested surface in §7d, e.g. \"%s (%s) is expected NOT-RUN / PARTIAL-surface and was not tested\"", a.ID, strings.TrimSpace(a.Surface)),
				"arm is expected NOT-RUN or PARTIAL but the confidence statement does not name its surface")
		}
	}
}

var sentenceEnd = regexp.MustCompile(`[.!?]["')\]]*(?:\s+|$)`)

// countSentences counts sentences by their terminal punctuation; a final
// sentence without one counts too.
func countSentences(text string) int {
	t := strings.TrimSpace(text)
	if t == "" {
		return 0
	}
	n := len(sentenceEnd.FindAllStringIndex(t, -1))
	if !strings.ContainsAny(t[len(t)-1:], ".!?\"')]") {
		n++
	}
	return n
}

// surfaceName is the lower-case name of a surface without parenthesised
// detail: "export API (`/v1/export`)" → "export api".
func surfaceName(surface string) string {
	s := surface
	if i := strings.IndexAny(s, "(["); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), "`*_.,;"))
}

func (l *linter) unfalsified() {
	falsified := map[string]bool{}
	for _, s := range l.p.Scenarios {
		for _, c := range s.Falsifies {
			falsified[strings.ToUpper(strings.TrimSpace(c))] = true
		}
	}
	var residual strings.Builder
	residual.WriteString(l.p.ResidualNone)
	for _, r := range l.p.Residual {
		residual.WriteString(" " + r.Uncertainty + " " + r.WhyUncovered + " " + r.WhyAcceptable + " " + r.Revisit)
	}
	mentioned := refIDs(residual.String(), 'C')
	for _, c := range l.p.Claims {
		if falsified[strings.ToUpper(c.ID)] || slices.Contains(mentioned, c.ID) {
			continue
		}
		l.warnf(RuleClaimUnfalsified, "1b", c.ID,
			"add a scenario that falsifies it, or a §7c row explaining why it stays untested",
			"no scenario falsifies this claim and §7c does not mention it")
	}
}

func (l *linter) summaryLength() {
	body := strings.Trim(l.p.Summary, "\n")
	if strings.TrimSpace(body) == "" {
		return
	}
	if n := len(strings.Split(body, "\n")); n > maxSummaryLines {
		l.warnf(RuleSummaryTooLong, "0", "",
			fmt.Sprintf("cut the architectural summary to at most %d lines; move detail to §2", maxSummaryLines),
			"architectural summary is %d lines long", n)
	}
}

var (
	setupWords = []string{
		"cluster", "chaos", "setup", "harness", "docker", "kubernetes", "k8s", "testbed",
		"environment", "nemesis", "random", "stress", "soak", "load", "smoke", "basic",
		"sanity", "test", "tests", "run", "scenario", "bench", "benchmark", "nodes", "node", "jepsen",
	}
	propertyWords = []string{
		"linearizable", "linearisable", "serializable", "serialisable", "durable", "survive",
		"survives", "lost", "lose", "loss", "once", "idempotent", "isolated", "invisible",
		"visible", "ordered", "order", "monotonic", "consistent", "fair", "never", "no",
		"not", "only", "within", "resume", "resumes", "bounded", "unique", "exclusive",
		"converge", "converges", "preserved", "holds", "denied", "available", "acknowledged",
		"stays", "below", "above", "exactly", "most", "least", "leak", "leaks", "own",
	}
	wordSplit    = regexp.MustCompile(`[^a-z0-9]+`)
	leadingNodes = regexp.MustCompile(`(?i)^\s*(?:\d+|one|two|three|four|five|six|seven|nine)[\s_-]*(?:node|replica|server|broker)`)
)

// setupShaped reports whether a scenario name describes its setup ("3-node
// cluster with chaos") rather than the claim it tries to falsify.
func setupShaped(name string) bool {
	if leadingNodes.MatchString(name) {
		return true
	}
	words := wordSplit.Split(strings.ToLower(name), -1)
	setup, property := false, false
	for _, w := range words {
		if slices.Contains(setupWords, w) {
			setup = true
		}
		if slices.Contains(propertyWords, w) {
			property = true
		}
	}
	return setup && !property
}

// Summary is what lint_plan reports besides diagnostics: counts and, per
// scenario, which gates apply.
type Summary struct {
	Mode          string            `json:"mode"`
	Claims        int               `json:"claims"`
	MissingClaims int               `json:"missing_claims"`
	Hypotheses    int               `json:"hypotheses"`
	Scenarios     int               `json:"scenarios"`
	Arms          int               `json:"arms"`
	PerScenario   []ScenarioSummary `json:"per_scenario"`
	Gates         []GateSummary     `json:"gates"`
}

// ScenarioSummary says, for one scenario, whether it is serious, which
// gates apply and which checker it declares.
type ScenarioSummary struct {
	ID            string       `json:"id"`
	Name          string       `json:"name"`
	Falsifies     []string     `json:"falsifies"`
	Categories    []string     `json:"categories"`
	Serious       bool         `json:"serious"`
	ModelGate     bool         `json:"model_gate"`     // §7.M must be complete
	SurfaceGate   bool         `json:"surface_gate"`   // §7.M.S must be complete
	NotApplicable bool         `json:"not_applicable"` // carries the §7.M not-applicable line
	Model         string       `json:"model,omitempty"`
	Checker       string       `json:"checker,omitempty"`
	CheckerFits   bool         `json:"checker_fits"` // a declared checker fits (or is justified) for every gated category
	Arms          []ArmSummary `json:"arms,omitempty"`
}

// ArmSummary describes one arm of a scenario.
type ArmSummary struct {
	ID      string `json:"id"`
	Surface string `json:"surface"`
	Model   string `json:"model,omitempty"`
	Checker string `json:"checker,omitempty"`
}

// GateSummary names a gate and the scenarios (or sections) it applies to.
type GateSummary struct {
	Gate      string   `json:"gate"`
	AppliesTo []string `json:"applies_to"`
}

// Summarize counts a plan's claims, hypotheses, scenarios and arms and
// says, per scenario, whether it is serious, which gates apply and which
// checker it declares.
func Summarize(p *Plan) Summary {
	if p == nil {
		return Summary{}
	}
	sum := Summary{
		Mode:          ModeChangeScoped,
		Claims:        len(p.Claims),
		MissingClaims: len(p.MissingClaims),
		Hypotheses:    len(p.Hypotheses),
		Scenarios:     len(p.Scenarios),
	}
	if m := strings.ToLower(strings.TrimSpace(p.Header.Mode)); m != "" {
		sum.Mode = m
	}
	var modelGate, surfaceGate []string
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		ss := ScenarioSummary{
			ID: s.ID, Name: s.Name, Falsifies: s.Falsifies,
			Categories:  ScenarioCategories(p, s),
			Serious:     Serious(p, s),
			SurfaceGate: NeedsSurfaces(p, s),
		}
		ss.ModelGate = ss.Serious
		ss.NotApplicable = s.ModelNA
		if s.Discipline != nil {
			ss.Model, ss.Checker = s.Discipline.Model, s.Discipline.Checker
			ss.CheckerFits = disciplineFits(p, s, s.Discipline)
		} else if len(s.Arms) > 0 {
			ss.CheckerFits = true
			for j := range s.Arms {
				if d := s.Arms[j].Discipline; d == nil || !disciplineFits(p, s, d) {
					ss.CheckerFits = false
				}
			}
		}
		for _, a := range s.Arms {
			as := ArmSummary{ID: a.ID, Surface: a.Surface}
			if a.Discipline != nil {
				as.Model, as.Checker = a.Discipline.Model, a.Discipline.Checker
			}
			ss.Arms = append(ss.Arms, as)
			sum.Arms++
		}
		if ss.ModelGate {
			modelGate = append(modelGate, s.ID)
		}
		if ss.SurfaceGate {
			surfaceGate = append(surfaceGate, s.ID)
		}
		sum.PerScenario = append(sum.PerScenario, ss)
	}
	if len(modelGate) > 0 {
		sum.Gates = append(sum.Gates, GateSummary{"§7.M", modelGate})
	}
	if len(surfaceGate) > 0 {
		sum.Gates = append(sum.Gates, GateSummary{"§7.M.S", surfaceGate})
	}
	if sum.Mode == ModeProjectWide {
		sum.Gates = append(sum.Gates, GateSummary{"project-wide §3/§5", []string{"3", "5"}})
	}
	return sum
}

// disciplineFits reports whether a §7.M block's checker fits its model for
// every gated category of s, or carries a justification.
func disciplineFits(p *Plan, s *Scenario, d *Discipline) bool {
	model, ok := ModelName(d.Model)
	if !ok || blankField(d.Checker) {
		return false
	}
	if checkerJustified(d.Checker) {
		return true
	}
	cats := gatedCheckCategories(p, s)
	if len(cats) == 0 {
		return len(CheckersIn(d.Checker)) > 0
	}
	for _, c := range cats {
		if !CheckerFits(model, c, d.Checker) {
			return false
		}
	}
	return true
}
