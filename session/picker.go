package session

import (
	"fmt"
	"slices"
	"strings"

	"github.com/falsify-dev/falsify/plan"
)

// checkerAllowed enforces the SPEC §4.1 picker when a checker is run: the
// checker must be the one the scenario's §7.M (or its oracle) names —
// lint already made that fit its model and categories or carry a written
// justification — or one the picker gives for the run's model and one of
// the scenario's claim categories. Anything else would let an agent swap
// in an oracle the plan never argued for.
func (m *Manager) checkerAllowed(planPath, scenario, declared, oracle, model, checker string) error {
	if slices.Contains(plan.CheckersIn(declared), checker) || slices.Contains(plan.CheckersIn(oracle), checker) {
		return nil
	}
	_, p, _, err := m.loadPlan(planPath)
	if err != nil {
		return err
	}
	sc, _, err := p.FindScenario(scenario)
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	cats := plan.ScenarioCategories(p, sc)
	var suggest []string
	for _, cat := range cats {
		if plan.CheckerFits(model, cat, checker) {
			return nil
		}
		if s := plan.SuggestCheckers(model, cat); s != "" {
			suggest = append(suggest, cat+" → "+s)
		}
	}
	hint := "the picker has no row for this model and these categories"
	if len(suggest) > 0 {
		hint = "the picker gives " + strings.Join(suggest, "; ")
	}
	return fmt.Errorf("checker: %s does not fit scenario %s (model %q, claim categories %s) and the plan does not declare it (§7.M Checker %q); %s. Run the declared checker, or declare this one in the plan's §7.M with a justification and re-run lint_plan",
		checker, scenario, model, strings.Join(cats, ", "), declared, hint)
}
