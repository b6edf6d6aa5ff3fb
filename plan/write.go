package plan

import (
	"slices"
	"strings"
)

// A plan is written one section at a time (write_plan_section), so a
// write cannot be blocked by every error of the whole plan: most are about
// sections not written yet. ClassifyWrite decides which diagnostics block
// a write.

// ClassifyWrite splits the diagnostics of the plan after a write into blocking
// errors (located in the section written, or introduced by this write),
// pending errors and warnings. Pending errors are about what is not yet
// written — a section still empty, a claim or hypothesis whose section is
// still empty, a scenario (§7 fills one call at a time) — or were already
// in the file before the write, elsewhere in the
func ClassifyWrite(before, after []Diagnostic, p *Plan, section, scenario string) (blocking, pending, warnings []Diagnostic) {
	blocking, pending, warnings = []Diagnostic{}, []Diagnostic{}, []Diagnostic{}
	// A diagnostic's Fix may list the ids defined so far; identity is the
	// rest.
	key := func(d Diagnostic) string {
		return d.Rule + "\x00" + d.Section + "\x00" + d.ID + "\x00" + d.Message
	}
	old := make(map[string]bool, len(before))
	for _, d := range before {
		old[key(d)] = true
	}
	absent := func(id string) bool { return !p.Written(id) }
	for _, d := range after {
		if d.Severity != SeverityError {
			warnings = append(warnings, d)
			continue
		}
		base, _, _ := strings.Cut(d.Section, ".")
		switch {
		case absent(base):
			pending = append(pending, d)
		case d.Rule == RuleUnknownScenario:
			// Scenarios are written one call at a time, so §7 is only
			// complete at the end: a reference to a scenario not yet
			// written waits for lint_
			pending = append(pending, d)
		case forwardRef(d.Rule) != "" && absent(forwardRef(d.Rule)):
			pending = append(pending, d)
		case gateRules[d.Rule] && undefinedClaims(p, d.ID):
			// Whether a gate applies depends on the categories of the
			// claims the scenario falsifies; until §1b defines them the
			// gate cannot be judged.
			pending = append(pending, d)
		case inScope(base, d.ID, section, scenario):
			blocking = append(blocking, d)
		case old[key(d)]:
			pending = append(pending, d)
		default:
			blocking = append(blocking, d)
		}
	}
	return blocking, pending, warnings
}

// Written reports whether section id of p has any content yet. A new
// plan (NewPlan) lists every section with an empty body; those are
// still to be written.
func (p *Plan) Written(id string) bool {
	if id == "header" || id == "" {
		return true
	}
	if !slices.Contains(p.Present, id) {
		return false
	}
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	switch id {
	case "0":
		return !blank(p.Summary)
	case "1":
		return !blank(p.Scope)
	case "1b":
		return len(p.Claims) > 0 || !blank(p.ClaimsNotes)
	case "1c":
		return len(p.MissingClaims) > 0 || !blank(p.MissingNone)
	case "2":
		return !blank(p.SUTModel)
	case "3":
		return len(p.Inventory) > 0 || !blank(p.InventoryNote)
	case "4":
		return len(p.Hypotheses) > 0 || len(p.CategoryNA) > 0 || !blank(p.HypothesesNotes)
	case "5":
		return len(p.Coverage) > 0 || !blank(p.CoverageNotes)
	case "6":
		return len(p.Techniques) > 0 || !blank(p.TechniquesNotes)
	case "6b":
		return len(p.Environment) > 0 || !blank(p.EnvNotes)
	case "7":
		return len(p.Scenarios) > 0 || !blank(p.ScenariosNotes)
	case "7b":
		return len(p.Adequacy) > 0 || !blank(p.AdequacyNotes)
	case "7c":
		return len(p.Residual) > 0 || !blank(p.ResidualNone)
	case "7d":
		return !blank(p.Confidence)
	case "8":
		return len(p.NotCovered) > 0
	case "9":
		return len(p.OpenQuestions) > 0
	}
	return true
}

// gateRules are the lint rules whose outcome depends on the categories of
// the claims a scenario falsifies (the §7.M and §7.M.S gates).
var gateRules = map[string]bool{
	RuleModelMissing: true, RuleSeriousNA: true, RuleModelInvented: true,
	RuleNALineMissing: true, RuleSurfacesIncomplete: true, RuleNeedsSplit: true,
	RuleCheckerMismatch: true, RuleArmIncomplete: true,
}

// undefinedClaims reports whether the scenario (or arm) id names a claim
// that §1b does not define yet.
func undefinedClaims(p *Plan, id string) bool {
	s, _, err := p.FindScenario(id)
	if err != nil {
		return false
	}
	for _, c := range s.Falsifies {
		if p.Claim(c) == nil {
			return true
		}
	}
	return false
}

// forwardRef returns the section that defines the ids a reference rule
// checks: an unknown claim is fixed in §1b, an unknown hypothesis in §4.
func forwardRef(rule string) string {
	switch rule {
	case RuleUnknownClaim:
		return "1b"
	case RuleUnknownHypothesis:
		return "4"
	}
	return ""
}

// inScope reports whether a diagnostic in section base about id concerns
// the section (or scenario) written.
func inScope(base, id, section, scenario string) bool {
	if base != section {
		return false
	}
	if section != "7" || scenario == "" || id == "" {
		return true
	}
	return id == scenario || strings.HasPrefix(id, scenario+"/") || strings.HasPrefix(scenario, id+"/")
}
