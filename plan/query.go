package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ModelGatedCategories are the claim categories whose scenarios are serious
// and must fill §7.M (SPEC §2.3).
var ModelGatedCategories = []string{
	CategorySafety, CategoryDurability, CategoryIdempotency,
	CategoryIsolation, CategoryOrdering, CategoryMembership,
}

// SurfaceGatedCategories are the claim categories whose scenarios must
// fill §7.M.S (SPEC §2.3).
var SurfaceGatedCategories = []string{CategoryBoundary, CategoryFairness}

// idPattern matches claim, missing-claim, hypothesis and scenario ids
// (C1, M2, H3, S4) and arm ids (S4/api).
var idPattern = regexp.MustCompile(`\b([CMHS])(\d+)((?:/[A-Za-z0-9_.-]+)?)\b`)

// refIDs returns the ids of the given kind ('C', 'M', 'H' or 'S') that text
// mentions, in order of first appearance, each once. Scenario ids keep an
// arm suffix ("S5/api") when one is written.
func refIDs(text string, kind byte) []string {
	var out []string
	for _, m := range idPattern.FindAllStringSubmatch(text, -1) {
		if m[1][0] != kind {
			continue
		}
		id := m[1] + m[2]
		if kind == 'S' {
			id += m[3]
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// canonCategory folds a written category to its canonical spelling.
func canonCategory(c string) string {
	c = strings.ToLower(strings.TrimSpace(c))
	c = strings.Trim(c, "`*_ ")
	switch c {
	case "performance-slo", "performance slo", "performance", "slo":
		return CategoryPerformance
	}
	return c
}

// Claim returns the §1b claim with the given id, or nil.
func (p *Plan) Claim(id string) *Claim {
	id = strings.TrimSpace(id)
	for i := range p.Claims {
		if strings.EqualFold(p.Claims[i].ID, id) {
			return &p.Claims[i]
		}
	}
	return nil
}

// Hypothesis returns the §4 hypothesis with the given id, or nil.
func (p *Plan) Hypothesis(id string) *Hypothesis {
	id = strings.TrimSpace(id)
	for i := range p.Hypotheses {
		if strings.EqualFold(p.Hypotheses[i].ID, id) {
			return &p.Hypotheses[i]
		}
	}
	return nil
}

// FindScenario resolves a scenario id ("S3") or an arm id ("S5/api"). For an
// arm id it returns the arm's scenario and the arm; for a scenario id the
// arm is nil.
func (p *Plan) FindScenario(id string) (*Scenario, *Arm, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, nil, fmt.Errorf("plan: empty scenario id: name a scenario (S3) or an arm (S5/api)")
	}
	sid, _, isArm := strings.Cut(id, "/")
	var s *Scenario
	for i := range p.Scenarios {
		if strings.EqualFold(p.Scenarios[i].ID, sid) {
			s = &p.Scenarios[i]
			break
		}
	}
	if s == nil {
		return nil, nil, fmt.Errorf("plan: no scenario %s in §7 (have %s)", sid, joinOr(p.scenarioIDs(), "none"))
	}
	if !isArm {
		return s, nil, nil
	}
	for i := range s.Arms {
		if strings.EqualFold(s.Arms[i].ID, id) {
			return s, &s.Arms[i], nil
		}
	}
	var arms []string
	for _, a := range s.Arms {
		arms = append(arms, a.ID)
	}
	return nil, nil, fmt.Errorf("plan: scenario %s has no arm %s (arms: %s)", s.ID, id, joinOr(arms, "none"))
}

func (p *Plan) scenarioIDs() []string {
	var ids []string
	for _, s := range p.Scenarios {
		ids = append(ids, s.ID)
	}
	return ids
}

func joinOr(xs []string, empty string) string {
	if len(xs) == 0 {
		return empty
	}
	return strings.Join(xs, ", ")
}

// ScenarioCategories returns the canonical categories of the claims that a
// scenario falsifies, each once, in claim order. Unknown claim ids are
// skipped.
func ScenarioCategories(p *Plan, s *Scenario) []string {
	var out []string
	for _, id := range s.Falsifies {
		c := p.Claim(id)
		if c == nil {
			continue
		}
		cat := canonCategory(c.Category)
		if cat != "" && !slices.Contains(out, cat) {
			out = append(out, cat)
		}
	}
	return out
}

// Serious reports whether s falsifies a claim in a §7.M-gated category
// (safety, durability, idempotency, isolation, ordering, membership) and so
// must fill §7.M completely.
func Serious(p *Plan, s *Scenario) bool {
	for _, c := range ScenarioCategories(p, s) {
		if slices.Contains(ModelGatedCategories, c) {
			return true
		}
	}
	return false
}

// NeedsSurfaces reports whether s falsifies a boundary or fairness claim and
// so must fill §7.M.S.
func NeedsSurfaces(p *Plan, s *Scenario) bool {
	for _, c := range ScenarioCategories(p, s) {
		if slices.Contains(SurfaceGatedCategories, c) {
			return true
		}
	}
	return false
}

// gatedCheckCategories are the categories of s a §7.M checker must fit:
// the §7.M-gated ones plus fairness, which the picker also covers.
func gatedCheckCategories(p *Plan, s *Scenario) []string {
	var out []string
	for _, c := range ScenarioCategories(p, s) {
		if slices.Contains(ModelGatedCategories, c) || c == CategoryFairness {
			out = append(out, c)
		}
	}
	return out
}
