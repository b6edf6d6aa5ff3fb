package checkers

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestBaselineComparison(t *testing.T) {
	arms := func(base, cand string) []State {
		return []State{metricState("baseline", base), metricState("candidate", cand)}
	}
	const base = `[100, 102, 98, 101, 99, 100, 103, 97]`
	tests := []struct {
		name   string
		states []State
		opts   map[string]any
		want   string
	}{
		{"clear regression", arms(base, `[120, 122, 119, 121, 118, 123, 120, 121]`), map[string]any{"threshold": 0.05}, StatusViolation},
		{"no regression", arms(base, `[100, 101, 99, 100, 102, 98, 100, 101]`), map[string]any{"threshold": 0.05}, StatusOK},
		{"improvement", arms(base, `[80, 81, 79, 80, 82, 78, 80, 81]`), map[string]any{"threshold": 0.05}, StatusOK},
		{"too noisy to tell", arms(`[100, 60, 140]`, `[105, 65, 150]`), map[string]any{"threshold": 0.05}, StatusUnknown},
		{"throughput drop", arms(base, `[80, 81, 79, 80, 82, 78, 80, 81]`), map[string]any{"threshold": 0.05, "direction": "higher_is_better"}, StatusViolation},
		{"absolute threshold", arms(base, `[104, 106, 102, 105, 103, 104, 107, 101]`), map[string]any{"threshold": 10.0, "threshold_kind": "absolute"}, StatusOK},
		{"runs as separate states", []State{metricState("baseline/1", "100"), metricState("baseline/2", "101"), metricState("baseline/3", `[98, 100]`),
			metricState("candidate-1", "130"), metricState("candidate-2", "131"), metricState("candidate-3", `{"samples":[129, 131]}`)},
			map[string]any{"threshold": 0.05}, StatusViolation},
		{"no runs", nil, map[string]any{"threshold": 0.05}, StatusUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "baseline-comparison", Input{Model: "other", States: tt.states, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s", res.Status, tt.want, res.Evidence)
			}
		})
	}
	// Deterministic: the same seed gives the same interval, another seed
	// (almost surely) another.
	in := Input{Model: "other", States: arms(base, `[120, 122, 119, 121, 118, 123, 120, 121]`), Options: map[string]any{"threshold": 0.05, "seed": 7.0}}
	a, b := check(t, "baseline-comparison", in), check(t, "baseline-comparison", in)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("not deterministic:\n%+v\n%+v", a, b)
	}
	in.Options = map[string]any{"threshold": 0.05, "seed": 8.0}
	if c := check(t, "baseline-comparison", in); c.Anomalies[0].Witness.(baselineWitness).Lower == a.Anomalies[0].Witness.(baselineWitness).Lower {
		t.Errorf("seed ignored")
	}
	if !strings.HasPrefix(a.Evidence, `baseline-comparison bootstrapped 10,000 resamples (seed 7) over 8 runs of "baseline" and 8 runs of "candidate": regression 20.50%, 95% one-sided bounds [`) {
		t.Errorf("evidence %q", a.Evidence)
	}
}

// TestBaselineSingleRun: one run against one run is the classic trap.
func TestBaselineSingleRun(t *testing.T) {
	c, _ := Lookup("baseline-comparison")
	for _, tt := range []struct {
		states []State
		opts   map[string]any
	}{
		{[]State{metricState("baseline", `[100]`), metricState("candidate", `[130]`)}, map[string]any{"threshold": 0.05}},
		{[]State{metricState("baseline/1", `100`), metricState("candidate/1", `130`)}, map[string]any{"threshold": 0.05}},
		{[]State{metricState("baseline", `[100, 101]`), metricState("candidate", `[130, 131]`)}, map[string]any{}},
		{[]State{metricState("baseline", `[100, 101]`), metricState("candidate", `[130, 131]`)}, map[string]any{"threshold": 0.05, "alpha": 0.7}},
	} {
		if _, err := c.Check(context.Background(), Input{Model: "other", States: tt.states, Options: tt.opts}); err == nil {
			t.Errorf("%v %v accepted", tt.states, tt.opts)
		}
	}
}

// TestBaselineFalsePositiveRate: with both arms drawn from the same
// distribution, the checker reports a regression beyond a zero threshold
// in about alpha of the cases, not more.
func TestBaselineFalsePositiveRate(t *testing.T) {
	if testing.Short() {
		t.Skip("200 bootstrap comparisons")
	}
	violations := 0
	const trials = 200
	for i := range trials {
		// Two arms of 10 runs from the same deterministic noise sequence.
		var b, c []string
		x := uint64(i*7919 + 1)
		next := func() string {
			x = x*6364136223846793005 + 1442695040888963407
			return strconv.FormatFloat(100+float64(x>>40%2000)/100, 'f', 2, 64)
		}
		for range 10 {
			b, c = append(b, next()), append(c, next())
		}
		res := check(t, "baseline-comparison", Input{Model: "other",
			States:  []State{metricState("baseline", "["+strings.Join(b, ",")+"]"), metricState("candidate", "["+strings.Join(c, ",")+"]")},
			Options: map[string]any{"threshold": 0.0, "alpha": 0.05, "resamples": 2000.0, "seed": float64(i)}})
		if res.Status == StatusViolation {
			violations++
		}
	}
	t.Logf("%d of %d null comparisons flagged", violations, trials)
	// Percentile bootstrap is a little liberal at n = 10; 2·alpha bounds it.
	if violations > trials/10 {
		t.Errorf("%d of %d null comparisons flagged, want about %d", violations, trials, trials/20)
	}
}
