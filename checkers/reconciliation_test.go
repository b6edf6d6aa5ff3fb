package checkers

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func replicas(dumps ...string) []State {
	var out []State
	for i, d := range dumps {
		out = append(out, State{Kind: StateReplica, Name: "n" + string(rune('1'+i)), Data: json.RawMessage(d)})
	}
	return out
}

func TestReconciliation(t *testing.T) {
	conv := map[string]any{"converged": true}
	tests := []struct {
		name   string
		states []State
		opts   map[string]any
		want   string
		keys   []string
	}{
		{"maps agree", replicas(`{"a":1,"b":[1,2]}`, `{"b":[1,2.0],"a":1}`, `{"a":1,"b":[1,2]}`), conv, StatusOK, nil},
		{"one replica behind", replicas(`{"a":1,"b":2}`, `{"a":1,"b":1}`, `{"a":1,"b":2}`), conv, StatusViolation, []string{"b"}},
		{"key missing on one", replicas(`{"a":1,"b":2}`, `{"a":1}`), conv, StatusViolation, []string{"b"}},
		{"strict types", replicas(`{"a":1}`, `{"a":"1"}`), conv, StatusViolation, []string{"a"}},
		{"membership as a set", replicas(`["n1","n2","n3"]`, `["n3","n1","n2"]`), conv, StatusOK, nil},
		{"membership differs", replicas(`["n1","n2","n3"]`, `["n1","n2"]`), conv, StatusViolation, []string{`"n3"`}},
		{"membership by id", replicas(`[{"node":"n1","state":"up"},{"node":"n2","state":"up"}]`, `[{"node":"n2","state":"down"},{"node":"n1","state":"up"}]`),
			map[string]any{"converged": true, "id_field": "node"}, StatusViolation, []string{"n2"}},
		{"ordered log", replicas(`[1,2,3]`, `[1,3,2]`), map[string]any{"converged": true, "ordered": true}, StatusViolation, []string{"[000001]", "[000002]"}},
		{"ignored field", replicas(`{"a":1,"meta":{"ts":5}}`, `{"a":1,"meta":{"ts":9}}`), map[string]any{"converged": true, "ignore_fields": []any{"$.meta.ts"}}, StatusOK, nil},
		{"quiescent counts as converged", replicas(`{"a":1}`, `{"a":1}`), map[string]any{"quiescent": true}, StatusOK, nil},
		// The classic trap: comparing before convergence reports replication
		// lag as divergence; without the declaration there is no verdict.
		{"convergence not declared", replicas(`{"a":1}`, `{"a":2}`), nil, StatusUnknown, nil},
		{"one replica", replicas(`{"a":1}`), conv, StatusUnknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "reconciliation", Input{Model: "membership-table", States: tt.states, Options: tt.opts})
			var keys []string
			for _, a := range res.Anomalies {
				keys = append(keys, a.Key)
			}
			if res.Status != tt.want || !slices.Equal(keys, tt.keys) {
				t.Fatalf("status %s keys %v, want %s %v: %s", res.Status, keys, tt.want, tt.keys, res.Evidence)
			}
		})
	}
	res := check(t, "reconciliation", Input{Model: "map", States: replicas(`{"a":1,"b":2}`, `{"a":1,"b":1}`, `{"a":1,"b":2}`), Options: conv})
	if want := "reconciliation compared 3 replica dumps (n1, n2, n3) pairwise over 2 keys after declared convergence (0 ignored by declaration): 1 key differs (n1/n2 1 key, n2/n3 1 key)"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	w := res.Anomalies[0].Witness.(reconciliationWitness)
	if len(w.Replicas) != 3 || len(w.Pairs) != 2 || !strings.Contains(res.Anomalies[0].Description, "n2 1") {
		t.Errorf("witness %+v, description %q", w, res.Anomalies[0].Description)
	}
}
