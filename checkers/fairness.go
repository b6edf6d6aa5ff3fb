package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Fairness formulas (SPEC §2.5).
const (
	FormulaP99Ratio      = "worst_group_p99 / aggregate_p99 <= t"
	FormulaMinThroughput = "min_group_throughput >= t"
	FormulaErrorRate     = "error_rate_by_group == 0"
	FormulaRepeatSpread  = "repeat_spread <= t"
)

func fairness() *Checker {
	return &Checker{
		Name:   "fairness",
		Models: slices.Clone(anyModel),
		Needs:  needsFor(anyModel),
		Check:  checkFairness,
	}
}

const fairnessScope = "the declared formula over the recorded per-group metric series; cannot detect unfairness " +
	"inside a group (a group too coarse hides it), between groups that were not recorded separately, or in " +
	"metrics the formula does not read"

// groupMetrics is one group's recorded metrics in a metric-series State:
//
//	{"groups": {"tenant-a": {"latency_ms": [...], "p99_ms": [...],
//	  "throughput": [...], "requests": n or [...], "errors": n or [...]}, ...},
//	 "aggregate": {"latency_ms": [...], "p99_ms": [...]}}
//
// latency_ms holds raw latency samples; p99_ms one p99 per window (then
// aggregate.p99_ms must hold the aggregate p99 of the same windows);
// throughput one rate per window; requests and errors totals or per-window
// counts.
type groupMetrics struct {
	LatencyMS  []float64       `json:"latency_ms"`
	P99MS      []float64       `json:"p99_ms"`
	Throughput []float64       `json:"throughput"`
	Requests   json.RawMessage `json:"requests"`
	Errors     json.RawMessage `json:"errors"`
}

type metricsState struct {
	Groups    map[string]groupMetrics `json:"groups"`
	Aggregate *groupMetrics           `json:"aggregate"`
}

// fairnessWitness is the evidence for a failed formula.
type fairnessWitness struct {
	Formula   string             `json:"formula"`
	Threshold float64            `json:"threshold"`
	State     string             `json:"state"`
	Worst     string             `json:"worst_group"`
	Value     float64            `json:"value"`
	Groups    map[string]float64 `json:"groups"`
	Windows   []int              `json:"failing_windows,omitempty"`
}

// checkFairness evaluates one of SPEC §2.5's fairness formulas over
// metric-series States (see groupMetrics for the shape).
//
// Options: "formula" (required: one of the four, by its text or its
// left-hand name, e.g. "min_group_throughput"; a literal threshold in it,
// "repeat_spread <= 0.1", is read), "threshold" (t; not needed for
// error_rate_by_group), "metric" (for repeat_spread: "throughput"
// (default), "p99" or "error_rate"), "state" (judge only the State of that
// name). Every State is judged on its own, except repeat_spread which
// compares the States as repeated runs.
func checkFairness(ctx context.Context, in Input) (*Result, error) {
	const name = "fairness"
	if err := checkModel(name, anyModel, in.Model); err != nil {
		return nil, err
	}
	formula, threshold, err := fairnessFormula(in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	only, err := stringOption(in.Options, "state", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	metric, err := stringOption(in.Options, "metric", "throughput")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, fairnessScope)
	var names []string
	var states []metricsState
	for _, st := range statesOf(in.States, StateMetricSeries) {
		if only != "" && st.Name != only {
			continue
		}
		var m metricsState
		if err := json.Unmarshal(st.Data, &m); err != nil {
			return nil, fmt.Errorf("%s: metric series %q: %w", name, st.Name, err)
		}
		if len(m.Groups) < 2 {
			return nil, fmt.Errorf("%s: metric series %q has %s: fairness needs at least 2 groups, a single group hides the disparity (group too coarse)", name, st.Name, plural(len(m.Groups), "group"))
		}
		names = append(names, st.Name)
		states = append(states, m)
	}
	if len(states) == 0 {
		res.Missing = []string{StateMetricSeries}
		return undecided(res, "no per-group metric series was recorded (record_state kind metric-series)"), nil
	}
	if ctx.Err() != nil {
		return halted(res, ctx), nil
	}
	groups := 0
	if formula == FormulaRepeatSpread {
		if len(states) < 2 {
			return nil, fmt.Errorf("%s: repeat_spread compares repeated runs: it needs at least 2 metric-series States, got %d", name, len(states))
		}
		per := map[string][]float64{}
		for i, m := range states {
			for g, gm := range m.Groups {
				v, err := groupValue(gm, metric)
				if err != nil {
					return nil, fmt.Errorf("%s: metric series %q, group %q: %w", name, names[i], g, err)
				}
				per[g] = append(per[g], v)
			}
		}
		w := fairnessWitness{Formula: formula, Threshold: threshold, State: strings.Join(names, ", "), Groups: map[string]float64{}}
		w.Value = math.Inf(-1)
		for _, g := range slices.Sorted(maps.Keys(per)) {
			vs := per[g]
			if len(vs) < 2 {
				return nil, fmt.Errorf("%s: group %q appears in only one of the %s", name, g, plural(len(states), "run"))
			}
			mean := 0.0
			for _, v := range vs {
				mean += v
			}
			mean /= float64(len(vs))
			spread := 0.0
			if mean != 0 {
				spread = (slices.Max(vs) - slices.Min(vs)) / math.Abs(mean)
			} else if slices.Max(vs) != slices.Min(vs) {
				spread = math.Inf(1)
			}
			w.Groups[g] = spread
			if spread > w.Value {
				w.Value, w.Worst = spread, g
			}
		}
		groups = len(per)
		if w.Value > threshold {
			res.Anomalies = append(res.Anomalies, fairnessAnomaly(w, fmt.Sprintf("group %q's %s varies by %s of its mean across %s, above %s",
				w.Worst, metric, strconv.FormatFloat(w.Value, 'g', 4, 64), plural(len(states), "repeated run"), formatNumber(threshold))))
		}
	} else {
		for i, m := range states {
			groups = max(groups, len(m.Groups))
			w, bad, err := evalFairness(formula, threshold, m)
			if err != nil {
				return nil, fmt.Errorf("%s: metric series %q: %w", name, names[i], err)
			}
			w.State = names[i]
			if bad != "" {
				res.Anomalies = append(res.Anomalies, fairnessAnomaly(w, fmt.Sprintf("metric series %q: %s", names[i], bad)))
			}
		}
	}
	decideByAnomalies(res)
	res.Keys = groups
	res.Evidence = fmt.Sprintf("fairness evaluated %s with t = %s over %s of %s: %s",
		formula, formatNumber(threshold), plural(groups, "group"), thousands(len(states))+" metric series", plural(len(res.Anomalies), "failure"))
	if formula == FormulaErrorRate {
		res.Evidence = fmt.Sprintf("fairness evaluated %s over %s of %s: %s",
			formula, plural(groups, "group"), thousands(len(states))+" metric series", plural(len(res.Anomalies), "failure"))
	}
	return res, nil
}

func fairnessAnomaly(w fairnessWitness, what string) Anomaly {
	var parts []string
	for _, g := range slices.Sorted(maps.Keys(w.Groups)) {
		parts = append(parts, g+" "+strconv.FormatFloat(w.Groups[g], 'g', 4, 64))
	}
	return Anomaly{Kind: "unfair", Key: w.Worst, Description: what + " (per group: " + preview(parts, 10) + ")", Witness: w}
}

// fairnessFormula reads the formula and its threshold.
func fairnessFormula(opts map[string]any) (string, float64, error) {
	text, err := stringOption(opts, "formula", "")
	if err != nil {
		return "", 0, err
	}
	compact := strings.ReplaceAll(strings.ToLower(text), " ", "")
	var formula string
	switch {
	case strings.HasPrefix(compact, "worst_group_p99"):
		formula = FormulaP99Ratio
	case strings.HasPrefix(compact, "min_group_throughput"):
		formula = FormulaMinThroughput
	case strings.HasPrefix(compact, "error_rate_by_group"):
		return FormulaErrorRate, 0, nil
	case strings.HasPrefix(compact, "repeat_spread"):
		formula = FormulaRepeatSpread
	default:
		return "", 0, fmt.Errorf("option formula %q: want one of %q, %q, %q, %q", text, FormulaP99Ratio, FormulaMinThroughput, FormulaErrorRate, FormulaRepeatSpread)
	}
	t, ok, err := numberOption(opts, "threshold")
	if err != nil {
		return "", 0, err
	}
	if i := strings.LastIndexAny(compact, "=<>"); i >= 0 {
		if lit, perr := strconv.ParseFloat(compact[i+1:], 64); perr == nil {
			if ok && lit != t {
				return "", 0, fmt.Errorf("formula %q and option threshold %v disagree", text, t)
			}
			t, ok = lit, true
		}
	}
	if !ok {
		return "", 0, fmt.Errorf("formula %q needs a threshold t (option threshold)", formula)
	}
	return formula, t, nil
}

// evalFairness evaluates a single-run formula; bad describes a failure.
func evalFairness(formula string, t float64, m metricsState) (w fairnessWitness, bad string, err error) {
	w = fairnessWitness{Formula: formula, Threshold: t, Groups: map[string]float64{}}
	groups := slices.Sorted(maps.Keys(m.Groups))
	switch formula {
	case FormulaP99Ratio:
		samples := true
		for _, g := range groups {
			samples = samples && len(m.Groups[g].LatencyMS) > 0
		}
		if samples {
			var pooled []float64
			if m.Aggregate != nil && len(m.Aggregate.LatencyMS) > 0 {
				pooled = slices.Clone(m.Aggregate.LatencyMS)
			} else {
				for _, g := range groups {
					pooled = append(pooled, m.Groups[g].LatencyMS...)
				}
			}
			agg := percentile(pooled, 99)
			if agg <= 0 {
				return w, "", fmt.Errorf("aggregate p99 is %v: the ratio is undefined", agg)
			}
			for _, g := range groups {
				p := percentile(slices.Clone(m.Groups[g].LatencyMS), 99)
				w.Groups[g] = p / agg
				if w.Worst == "" || p/agg > w.Value {
					w.Worst, w.Value = g, p/agg
				}
			}
			if w.Value > t {
				bad = fmt.Sprintf("group %q's p99 is %s× the aggregate p99 (%s ms), above %s", w.Worst,
					strconv.FormatFloat(w.Value, 'g', 4, 64), formatNumber(agg), formatNumber(t))
			}
			return w, bad, nil
		}
		if m.Aggregate == nil || len(m.Aggregate.P99MS) == 0 {
			return w, "", fmt.Errorf("%s needs latency_ms samples in every group, or p99_ms series with aggregate.p99_ms", formula)
		}
		agg := m.Aggregate.P99MS
		for _, g := range groups {
			s := m.Groups[g].P99MS
			if len(s) != len(agg) {
				return w, "", fmt.Errorf("group %q has %s of p99_ms, the aggregate %d", g, plural(len(s), "window"), len(agg))
			}
			worst := 0.0
			for i, p := range s {
				if agg[i] <= 0 {
					return w, "", fmt.Errorf("aggregate p99 of window %d is %v: the ratio is undefined", i, agg[i])
				}
				r := p / agg[i]
				worst = max(worst, r)
				if r > t && !slices.Contains(w.Windows, i) {
					w.Windows = append(w.Windows, i)
				}
			}
			w.Groups[g] = worst
			if w.Worst == "" || worst > w.Value {
				w.Worst, w.Value = g, worst
			}
		}
		slices.Sort(w.Windows)
		if len(w.Windows) > 0 {
			bad = fmt.Sprintf("group %q's p99 reached %s× the aggregate p99, above %s, in %s", w.Worst,
				strconv.FormatFloat(w.Value, 'g', 4, 64), formatNumber(t), plural(len(w.Windows), "window"))
		}
	case FormulaMinThroughput:
		for _, g := range groups {
			tp := m.Groups[g].Throughput
			if len(tp) == 0 {
				return w, "", fmt.Errorf("group %q has no throughput series", g)
			}
			v := meanOf(tp)
			w.Groups[g] = v
			if w.Worst == "" || v < w.Value {
				w.Worst, w.Value = g, v
			}
		}
		if w.Value < t {
			bad = fmt.Sprintf("group %q's mean throughput %s is below %s", w.Worst, strconv.FormatFloat(w.Value, 'g', 6, 64), formatNumber(t))
		}
	case FormulaErrorRate:
		var failing []string
		for _, g := range groups {
			errs, ok := countTotal(m.Groups[g].Errors)
			if !ok {
				return w, "", fmt.Errorf("group %q has no errors count (a number or a per-window series)", g)
			}
			rate := errs
			if reqs, ok := countTotal(m.Groups[g].Requests); ok && reqs > 0 {
				rate = errs / reqs
			}
			w.Groups[g] = rate
			if w.Worst == "" || rate > w.Value {
				w.Worst, w.Value = g, rate
			}
			if errs > 0 {
				failing = append(failing, fmt.Sprintf("%s (%s errors)", g, formatNumber(errs)))
			}
		}
		if len(failing) > 0 {
			bad = fmt.Sprintf("%s had errors: %s", plural(len(failing), "group"), strings.Join(failing, ", "))
		}
	}
	return w, bad, nil
}

// groupValue is one run's value of a group's metric, for repeat_spread.
func groupValue(gm groupMetrics, metric string) (float64, error) {
	switch metric {
	case "throughput":
		if len(gm.Throughput) == 0 {
			return 0, fmt.Errorf("no throughput series")
		}
		return meanOf(gm.Throughput), nil
	case "p99", "p99_ms", "latency":
		if len(gm.LatencyMS) > 0 {
			return percentile(slices.Clone(gm.LatencyMS), 99), nil
		}
		if len(gm.P99MS) > 0 {
			return slices.Max(gm.P99MS), nil
		}
		return 0, fmt.Errorf("no latency_ms samples nor p99_ms series")
	case "error_rate":
		errs, ok := countTotal(gm.Errors)
		if !ok {
			return 0, fmt.Errorf("no errors count")
		}
		if reqs, ok := countTotal(gm.Requests); ok && reqs > 0 {
			return errs / reqs, nil
		}
		return errs, nil
	}
	return 0, fmt.Errorf("unknown metric %q (throughput, p99, error_rate)", metric)
}

// countTotal reads a count: a number or a series to add up.
func countTotal(raw json.RawMessage) (float64, bool) {
	if isNull(raw) {
		return 0, false
	}
	if f, ok := jsonNumber(raw); ok {
		return f, true
	}
	var s []float64
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return sum, true
}

func meanOf(s []float64) float64 {
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return sum / float64(len(s))
}

// percentile returns the nearest-rank p-th percentile of s (sorted in
// place).
func percentile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
