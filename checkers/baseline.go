package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Baseline-comparison defaults.
const (
	DefaultBaselineAlpha     = 0.05
	DefaultBaselineResamples = 10000
)

func baselineComparison() *Checker {
	return &Checker{
		Name:   "baseline-comparison",
		Models: slices.Clone(anyModel),
		Needs:  needsFor(anyModel),
		Check:  checkBaseline,
	}
}

const baselineScope = "a regression of the candidate's mean over replicated runs beyond the declared threshold, " +
	"by a one-sided percentile-bootstrap bound at the declared false-positive rate (seeded, deterministic); " +
	"cannot detect regressions in metrics not recorded, in the tails when the runs record means, or smaller than " +
	"the runs' noise allows (then the verdict is unknown: add runs)"

// baselineWitness is the evidence for a regression.
type baselineWitness struct {
	Baseline     []float64 `json:"baseline_runs"`
	Candidate    []float64 `json:"candidate_runs"`
	Estimate     float64   `json:"estimate"`
	Lower        float64   `json:"lower_bound"`
	Upper        float64   `json:"upper_bound"`
	Threshold    float64   `json:"threshold"`
	Relative     bool      `json:"relative"`
	Alpha        float64   `json:"alpha"`
	Resamples    int       `json:"resamples"`
	Seed         uint64    `json:"seed"`
	HigherBetter bool      `json:"higher_is_better"`
}

// checkBaseline compares replicated baseline and candidate runs.
//
// Each arm's runs come from metric-series States: one named after the
// arm holding the per-run values (a list, or an object with "runs"), or
// several named "<arm>/<run>" (or "<arm>-<run>") each holding one run's
// value or series (reduced by option statistic, default mean).
//
// Options: "threshold" (required: the regression that matters, relative
// to the baseline's mean (0.05 = 5 %) unless threshold_kind is
// "absolute"), "direction" ("lower_is_better", default, for latencies;
// "higher_is_better" for throughput), "alpha" (the false-positive rate,
// default 0.05), "resamples" (default 10,000), "seed" (default 1),
// "baseline" and "candidate" (the arms' names, default "baseline" and
// "candidate"), "statistic".
//
// Regression is r = meanOf(candidate) − meanOf(baseline), signed so positive
// is worse. The verdict is violation when the (1−alpha) lower bound of r
// exceeds the threshold, ok when the (1−alpha) upper bound is within it,
// and unknown otherwise. One run per arm is refused.
func checkBaseline(ctx context.Context, in Input) (*Result, error) {
	const name = "baseline-comparison"
	if err := checkModel(name, anyModel, in.Model); err != nil {
		return nil, err
	}
	threshold, ok, err := numberOption(in.Options, "threshold")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !ok || threshold < 0 {
		return nil, fmt.Errorf("%s: option threshold is required and must be non-negative: the regression that matters", name)
	}
	kind, err := stringOption(in.Options, "threshold_kind", "relative")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if kind != "relative" && kind != "absolute" {
		return nil, fmt.Errorf("%s: option threshold_kind %q: want relative or absolute", name, kind)
	}
	direction, err := stringOption(in.Options, "direction", "lower_is_better")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if direction != "lower_is_better" && direction != "higher_is_better" {
		return nil, fmt.Errorf("%s: option direction %q: want lower_is_better or higher_is_better", name, direction)
	}
	alpha, ok, err := numberOption(in.Options, "alpha")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !ok {
		alpha = DefaultBaselineAlpha
	}
	if alpha <= 0 || alpha >= 0.5 {
		return nil, fmt.Errorf("%s: option alpha %v: want a false-positive rate in (0, 0.5)", name, alpha)
	}
	resamples := DefaultBaselineResamples
	if f, ok, err := numberOption(in.Options, "resamples"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	} else if ok {
		if f < 1000 || f > 1e6 || f != math.Trunc(f) {
			return nil, fmt.Errorf("%s: option resamples %v: want an integer in [1000, 1000000]", name, f)
		}
		resamples = int(f)
	}
	seed := uint64(1)
	if f, ok, err := numberOption(in.Options, "seed"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	} else if ok {
		if f < 0 || f != math.Trunc(f) {
			return nil, fmt.Errorf("%s: option seed %v: want a non-negative integer", name, f)
		}
		seed = uint64(f)
	}
	statistic, err := stringOption(in.Options, "statistic", "mean")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	arms := [2]string{}
	for i, opt := range []string{"baseline", "candidate"} {
		if arms[i], err = stringOption(in.Options, opt, opt); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	res := newResult(name, in, baselineScope)
	var runs [2][]float64
	for i, arm := range arms {
		if runs[i], err = armRuns(in.States, arm, statistic); err != nil {
			return nil, fmt.Errorf("%s: %s %q: %w", name, []string{"baseline", "candidate"}[i], arm, err)
		}
	}
	if len(runs[0]) == 0 || len(runs[1]) == 0 {
		res.Missing = []string{StateMetricSeries}
		return undecided(res, fmt.Sprintf("runs not recorded: %s of %q, %s of %q", plural(len(runs[0]), "run"), arms[0], plural(len(runs[1]), "run"), arms[1])), nil
	}
	if len(runs[0]) < 2 || len(runs[1]) < 2 {
		return nil, fmt.Errorf("%s: %s of %q against %s of %q: one run per arm cannot separate a regression from run-to-run noise; replicate both arms (at least 2 runs each, 5+ recommended)",
			name, plural(len(runs[0]), "run"), arms[0], plural(len(runs[1]), "run"), arms[1])
	}
	base := meanOf(runs[0])
	if kind == "relative" && base == 0 {
		return nil, fmt.Errorf("%s: the baseline's mean is 0: a relative threshold is undefined, use threshold_kind absolute", name)
	}
	sign := 1.0
	if direction == "higher_is_better" {
		sign = -1
	}
	regression := func(b, c float64) float64 {
		r := sign * (c - b)
		if kind == "relative" {
			r /= math.Abs(b)
		}
		return r
	}
	estimate := regression(base, meanOf(runs[1]))
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	boot := make([]float64, resamples)
	progress := progressFunc(in, resamples)
	for i := range boot {
		if cancelled(ctx, i) {
			return halted(res, ctx), nil
		}
		if i%1000 == 0 {
			progress(i)
		}
		boot[i] = regression(resampleMean(rng, runs[0]), resampleMean(rng, runs[1]))
	}
	progress(resamples)
	slices.Sort(boot)
	lower := boot[int(math.Floor(alpha*float64(resamples-1)))]
	upper := boot[int(math.Ceil((1-alpha)*float64(resamples-1)))]
	w := baselineWitness{Baseline: runs[0], Candidate: runs[1], Estimate: estimate, Lower: lower, Upper: upper,
		Threshold: threshold, Relative: kind == "relative", Alpha: alpha, Resamples: resamples, Seed: seed,
		HigherBetter: direction == "higher_is_better"}
	show := func(f float64) string {
		if kind == "relative" {
			return strconv.FormatFloat(f*100, 'f', 2, 64) + "%"
		}
		return strconv.FormatFloat(f, 'g', 5, 64)
	}
	interval := fmt.Sprintf("regression %s, %g%% one-sided bounds [%s, %s]", show(estimate), (1-alpha)*100, show(lower), show(upper))
	switch {
	case lower > threshold:
		res.Status = StatusViolation
		res.Anomalies = []Anomaly{{Kind: "regression",
			Description: fmt.Sprintf("candidate %q regressed against baseline %q beyond the threshold %s: %s (false-positive rate %g)",
				arms[1], arms[0], show(threshold), interval, alpha),
			Witness: w}}
	case upper <= threshold:
		res.Status = StatusOK
	default:
		res.Status = StatusUnknown
	}
	res.Keys = 2
	verdict := map[string]string{StatusOK: "no regression beyond the threshold", StatusViolation: "regression beyond the threshold",
		StatusUnknown: "inconclusive: the interval straddles the threshold, add runs"}[res.Status]
	res.Evidence = fmt.Sprintf("baseline-comparison bootstrapped %s (seed %d) over %s of %q and %s of %q: %s against threshold %s: %s",
		plural(resamples, "resample"), seed, plural(len(runs[0]), "run"), arms[0], plural(len(runs[1]), "run"), arms[1],
		interval, show(threshold), verdict)
	return res, nil
}

// resampleMean is the mean of a resample with replacement.
func resampleMean(rng *rand.Rand, s []float64) float64 {
	sum := 0.0
	for range s {
		sum += s[rng.IntN(len(s))]
	}
	return sum / float64(len(s))
}

// armRuns collects an arm's per-run values.
func armRuns(states []State, arm, statistic string) ([]float64, error) {
	var runs []float64
	for _, st := range statesOf(states, StateMetricSeries) {
		switch {
		case st.Name == arm:
			raw := bytes.TrimSpace(st.Data)
			if len(raw) > 0 && raw[0] == '{' {
				var obj struct {
					Runs json.RawMessage `json:"runs"`
				}
				if err := json.Unmarshal(raw, &obj); err != nil || obj.Runs == nil {
					return nil, fmt.Errorf("state %q: want a list of per-run values or {\"runs\": [...]}", st.Name)
				}
				raw = obj.Runs
			}
			var vals []float64
			if err := json.Unmarshal(raw, &vals); err != nil {
				return nil, fmt.Errorf("state %q: want a list of per-run values: %w", st.Name, err)
			}
			runs = append(runs, vals...)
		case strings.HasPrefix(st.Name, arm+"/") || strings.HasPrefix(st.Name, arm+"-") || strings.HasPrefix(st.Name, arm+"#"):
			if v, ok := jsonNumber(st.Data); ok {
				runs = append(runs, v)
				continue
			}
			series, err := readSeries(st.Data, "")
			if err != nil {
				return nil, fmt.Errorf("state %q: %w", st.Name, err)
			}
			if len(series) == 0 {
				return nil, fmt.Errorf("state %q: empty series", st.Name)
			}
			vals := make([]float64, len(series))
			for i, s := range series {
				vals[i] = s.v
			}
			v, err := statisticOf(statistic, vals)
			if err != nil {
				return nil, err
			}
			runs = append(runs, v)
		}
	}
	for _, v := range runs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("run value %v is not finite", v)
		}
	}
	return runs, nil
}
