package checkers

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestInvariant(t *testing.T) {
	bank := func(data string) []State {
		return []State{{Kind: StateFinal, Name: "bank", Data: json.RawMessage(data)}}
	}
	with := func(pred string) map[string]any { return map[string]any{"quiescent": true, "predicate": pred} }
	tests := []struct {
		name    string
		states  []State
		opts    map[string]any
		want    string
		failing []string
	}{
		{"sum of a list holds", bank(`{"balances":[10,-4,-6]}`), with("sum(balances) == 0"), StatusOK, nil},
		{"sum of a list fails", bank(`{"balances":[10,-4,-5]}`), with("sum(balances) == 0"), StatusViolation, []string{"sum(balances) == 0"}},
		{"sum of a map", bank(`{"balances":{"alice":70,"bob":30}}`), with("sum(balances) == 100"), StatusOK, nil},
		{"sum of doubles", bank(`{"balances":[0.5,0.25,0.25]}`), with("sum(balances) == 1.0"), StatusOK, nil},
		{"sum of an empty list", bank(`{"balances":[]}`), with("sum(balances) == 0"), StatusOK, nil},
		{"state variable and macros", bank(`{"balances":[1,2],"accounts":3}`), with("state.accounts == 3 && balances.all(b, b >= 0)"), StatusOK, nil},
		{"one conjunct fails", bank(`{"balances":[1,-2],"accounts":3}`), with("accounts == 3 && balances.all(b, b >= 0)"),
			StatusViolation, []string{"balances.all(b, b >= 0)"}},
		{"extensions", bank(`{"loads":[3,9,4],"members":["n1","n2"]}`), with(`math.greatest(loads) <= 10 && sets.contains(members, ["n1"]) && members.all(m, m.startsWith("n"))`), StatusOK, nil},
		{"extensions, false", bank(`{"loads":[3,19,4],"members":["n1","n2"]}`), with(`math.greatest(loads) <= 10 && sets.contains(members, ["n1"])`),
			StatusViolation, []string{"math.greatest(loads) <= 10"}},
		{"top-level list state", bank(`[1,2,3]`), with("size(state) == 3 && sum(state) == 6"), StatusOK, nil},
		{"lock table: one holder", bank(`{"holders":{"l1":["p1"],"l2":[]}}`), with("holders.all(k, size(holders[k]) <= 1)"), StatusOK, nil},
		{"lock table: two holders", bank(`{"holders":{"l1":["p1","p2"],"l2":[]}}`), with("holders.all(k, size(holders[k]) <= 1)"),
			StatusViolation, []string{"holders.all(k, size(holders[k]) <= 1)"}},
		// The classic trap: a predicate over a state read while writes
		// were in flight; without quiescence there is no verdict.
		{"quiescence undefined", bank(`{"balances":[10,-4,-5]}`), map[string]any{"predicate": "sum(balances) == 0"}, StatusUnknown, nil},
		{"quiescence as a recorded state", append(bank(`{"balances":[10,-4,-6]}`), State{Kind: StateMetricSeries, Name: "quiescence", Data: json.RawMessage(`{}`)}),
			map[string]any{"predicate": "sum(balances) == 0"}, StatusOK, nil},
		{"no final state", nil, with("true"), StatusUnknown, nil},
		{"runtime error", bank(`{"balances":[1,"x"]}`), with("sum(balances) == 0"), StatusUnknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "final-state-invariant", Input{Model: "ledger", States: tt.states, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.failing != nil {
				w := res.Anomalies[0].Witness.(invariantWitness)
				if !slices.Equal(w.Failing, tt.failing) {
					t.Errorf("failing conjuncts %q, want %q", w.Failing, tt.failing)
				}
			}
			if tt.name == "quiescence undefined" && !strings.Contains(res.Evidence, "quiescence undefined") {
				t.Errorf("evidence %q does not say quiescence undefined", res.Evidence)
			}
		})
	}
	res := check(t, "final-state-invariant", Input{Model: "ledger", States: bank(`{"balances":[10,-4,-5]}`), Options: with("sum(balances) == 0")})
	if want := "final-state-invariant sum(balances) == 0 evaluated on 1 final state at quiescence: true on 0, false on 1"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, "balances = [10,-4,-5]") {
		t.Errorf("description %q does not show the values read", d)
	}
}

func TestInvariantErrors(t *testing.T) {
	c, _ := Lookup("final-state-invariant")
	st := []State{{Kind: StateFinal, Name: "s", Data: json.RawMessage(`{"a":1}`)}}
	for _, tt := range []struct {
		name string
		opts map[string]any
		want string
	}{
		{"no predicate", map[string]any{"quiescent": true}, "required"},
		{"syntax", map[string]any{"quiescent": true, "predicate": "a ==="}, "predicate"},
		{"undeclared", map[string]any{"quiescent": true, "predicate": "b == 1"}, "undeclared"},
		{"not a bool", map[string]any{"quiescent": true, "predicate": "1 + 1"}, "want bool"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Check(context.Background(), Input{Model: "ledger", States: st, Options: tt.opts})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
