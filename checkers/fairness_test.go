package checkers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func metricState(name, data string) State {
	return State{Kind: StateMetricSeries, Name: name, Data: json.RawMessage(data)}
}

func TestFairness(t *testing.T) {
	const samples = `{"groups":{
		"tenant-a":{"latency_ms":[10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19,10,11,12,13,14,15,16,17,18,19]},
		"tenant-b":{"latency_ms":[10,12,14,16,18,20,22,24,26,90]}}}`
	const windows = `{"groups":{
		"a":{"p99_ms":[20,22,21],"throughput":[100,110,90],"requests":300,"errors":0},
		"b":{"p99_ms":[21,45,22],"throughput":[40,50,45],"requests":[100,100,100],"errors":[0,2,0]}},
	 "aggregate":{"p99_ms":[20,30,21]}}`
	tests := []struct {
		name   string
		states []State
		opts   map[string]any
		want   string
		worst  string
	}{
		{"p99 ratio from samples, unfair", []State{metricState("run", samples)}, map[string]any{"formula": FormulaP99Ratio, "threshold": 1.0}, StatusViolation, "tenant-b"},
		{"p99 ratio from samples, within", []State{metricState("run", samples)}, map[string]any{"formula": "worst_group_p99 / aggregate_p99 <= 4"}, StatusOK, ""},
		{"p99 ratio per window", []State{metricState("run", windows)}, map[string]any{"formula": "worst_group_p99/aggregate_p99", "threshold": 1.2}, StatusViolation, "b"},
		{"p99 ratio per window, loose", []State{metricState("run", windows)}, map[string]any{"formula": FormulaP99Ratio, "threshold": 1.5}, StatusOK, ""},
		{"min throughput", []State{metricState("run", windows)}, map[string]any{"formula": FormulaMinThroughput, "threshold": 50.0}, StatusViolation, "b"},
		{"min throughput met", []State{metricState("run", windows)}, map[string]any{"formula": "min_group_throughput >= 45"}, StatusOK, ""},
		{"error rate", []State{metricState("run", windows)}, map[string]any{"formula": FormulaErrorRate}, StatusViolation, "b"},
		{"error rate zero", []State{metricState("run", strings.Replace(windows, "[0,2,0]", "[0,0,0]", 1))}, map[string]any{"formula": FormulaErrorRate}, StatusOK, ""},
		{"repeat spread", []State{metricState("r1", windows), metricState("r2", strings.Replace(windows, "[40,50,45]", "[20,25,30]", 1))},
			map[string]any{"formula": FormulaRepeatSpread, "threshold": 0.2}, StatusViolation, "b"},
		{"repeat spread steady", []State{metricState("r1", windows), metricState("r2", strings.Replace(windows, "[40,50,45]", "[41,50,45]", 1))},
			map[string]any{"formula": FormulaRepeatSpread, "threshold": 0.2}, StatusOK, ""},
		{"no series", nil, map[string]any{"formula": FormulaErrorRate}, StatusUnknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "fairness", Input{Model: "other", States: tt.states, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.worst != "" && (len(res.Anomalies) != 1 || res.Anomalies[0].Witness.(fairnessWitness).Worst != tt.worst) {
				t.Fatalf("anomalies %+v, want one naming %s", res.Anomalies, tt.worst)
			}
		})
	}
	res := check(t, "fairness", Input{Model: "other", States: []State{metricState("run", windows)}, Options: map[string]any{"formula": FormulaMinThroughput, "threshold": 50.0}})
	if want := "fairness evaluated min_group_throughput >= t with t = 50 over 2 groups of 1 metric series: 1 failure"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, `group "b"'s mean throughput 45 is below 50 (per group: a 100, b 45)`) {
		t.Errorf("description %q", d)
	}
}

// TestFairnessRefusals: one group is too coarse to show unfairness; a
// spread needs repeated runs; the formula needs its threshold.
func TestFairnessRefusals(t *testing.T) {
	c, _ := Lookup("fairness")
	one := metricState("run", `{"groups":{"all":{"throughput":[1,2]}}}`)
	two := metricState("run", `{"groups":{"a":{"throughput":[1,2]},"b":{"throughput":[1,2]}}}`)
	for _, tt := range []struct {
		name   string
		states []State
		opts   map[string]any
		want   string
	}{
		{"single group", []State{one}, map[string]any{"formula": FormulaMinThroughput, "threshold": 1.0}, "too coarse"},
		{"spread of one run", []State{two}, map[string]any{"formula": FormulaRepeatSpread, "threshold": 0.1}, "at least 2"},
		{"no threshold", []State{two}, map[string]any{"formula": FormulaMinThroughput}, "threshold"},
		{"unknown formula", []State{two}, map[string]any{"formula": "mean_latency < 3"}, "want one of"},
		{"disagreeing thresholds", []State{two}, map[string]any{"formula": "min_group_throughput >= 3", "threshold": 4.0}, "disagree"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Check(context.Background(), Input{Model: "other", States: tt.states, Options: tt.opts})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
