package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

func sloThreshold() *Checker {
	return &Checker{
		Name:   "slo-threshold",
		Models: slices.Clone(anyModel),
		Needs:  needsFor(anyModel),
		Check:  checkSLO,
	}
}

const sloScope = "the recorded metric series against a threshold declared before the run, within the window; cannot " +
	"detect breaches between samples, in metrics not recorded, or outside the window"

// sameRunSources are threshold sources that derive the threshold from the
// run being judged.
var sameRunSources = []string{"this-run", "this run", "same-run", "same run", "current-run", "current run", "observed", "self"}

// seriesSample is one point of a metric series.
type seriesSample struct {
	t float64 // its time, or its index when the series has none
	v float64
}

// sloWitness is the evidence for a breached threshold.
type sloWitness struct {
	Metric    string       `json:"metric"`
	Statistic string       `json:"statistic"`
	Threshold float64      `json:"threshold"`
	Source    string       `json:"threshold_source"`
	Value     float64      `json:"value"`
	Breaches  [][2]float64 `json:"breaches,omitempty"` // [t, v] of the first breaching samples
	Count     int          `json:"breach_count"`
}

// checkSLO checks a metric series against a declared threshold.
//
// A metric-series State holds the series as a list of numbers (the index
// is the time), a list of [t, v] pairs or {"t", "v"} objects, or an
// object holding such a list under "samples" or under the metric's name.
//
// Options: "threshold" (required), "threshold_source" (required: where
// the threshold comes from — an SLO document, a baseline run; "this-run"
// and the like are refused, a threshold taken from the run it judges
// always passes), "comparison" ("<=", default: the value must stay at or
// below the threshold, or ">=" for floors such as throughput), "statistic"
// ("each" (default: every sample), "max", "min", "mean", "p50", "p95",
// "p99", "p999"), "window" ([start, end] on the series' time axis; end
// may be null), "metric" (the series name, when the State holds several),
// "state" (the State's name).
func checkSLO(ctx context.Context, in Input) (*Result, error) {
	const name = "slo-threshold"
	if err := checkModel(name, anyModel, in.Model); err != nil {
		return nil, err
	}
	threshold, ok, err := numberOption(in.Options, "threshold")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: option threshold is required", name)
	}
	source, err := stringOption(in.Options, "threshold_source", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case strings.TrimSpace(source) == "":
		return nil, fmt.Errorf("%s: option threshold_source is required: name where the threshold comes from (an SLO, a baseline run); a threshold derived from the run it judges always passes", name)
	case slices.Contains(sameRunSources, strings.ToLower(strings.TrimSpace(source))):
		return nil, fmt.Errorf("%s: threshold_source %q: a threshold taken from the same run is fitted to it and cannot fail; declare it before the run", name, source)
	}
	cmp, err := stringOption(in.Options, "comparison", "<=")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cmp != "<=" && cmp != ">=" && cmp != "<" && cmp != ">" {
		return nil, fmt.Errorf("%s: option comparison %q: want <=, <, >= or >", name, cmp)
	}
	statistic, err := stringOption(in.Options, "statistic", "each")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	metric, err := stringOption(in.Options, "metric", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	only, err := stringOption(in.Options, "state", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	from, to := math.Inf(-1), math.Inf(1)
	if wv, ok := in.Options["window"]; ok && wv != nil {
		pair, isList := wv.([]any)
		if !isList || len(pair) != 2 {
			return nil, fmt.Errorf("%s: option window: want [start, end], got %v", name, wv)
		}
		f, ok, err := numberOption(map[string]any{"window start": pair[0]}, "window start")
		if err != nil || !ok {
			return nil, fmt.Errorf("%s: option window: start %v is not a number", name, pair[0])
		}
		from = f
		if pair[1] != nil {
			if to, _, err = numberOption(map[string]any{"window end": pair[1]}, "window end"); err != nil {
				return nil, fmt.Errorf("%s: option window: end %v is not a number", name, pair[1])
			}
		}
	}
	holds := func(v float64) bool {
		switch cmp {
		case "<":
			return v < threshold
		case ">=":
			return v >= threshold
		case ">":
			return v > threshold
		}
		return v <= threshold
	}
	res := newResult(name, in, sloScope)
	var series []State
	for _, st := range statesOf(in.States, StateMetricSeries) {
		if only == "" || st.Name == only {
			series = append(series, st)
		}
	}
	if len(series) == 0 {
		res.Missing = []string{StateMetricSeries}
		return undecided(res, "no metric series was recorded (record_state kind metric-series)"), nil
	}
	if ctx.Err() != nil {
		return halted(res, ctx), nil
	}
	total := 0
	for _, st := range series {
		all, err := readSeries(st.Data, metric)
		if err != nil {
			return nil, fmt.Errorf("%s: metric series %q: %w", name, st.Name, err)
		}
		var in []seriesSample
		for _, s := range all {
			if s.t >= from && s.t <= to {
				in = append(in, s)
			}
		}
		total += len(in)
		if len(in) == 0 {
			return undecided(res, fmt.Sprintf("metric series %q has no sample in the window (%s samples outside it)", st.Name, thousands(len(all)))), nil
		}
		label := metric
		if label == "" {
			label = st.Name
		}
		w := sloWitness{Metric: label, Statistic: statistic, Threshold: threshold, Source: source}
		if statistic == "each" {
			for _, s := range in {
				if !holds(s.v) {
					w.Count++
					if len(w.Breaches) < 20 {
						w.Breaches = append(w.Breaches, [2]float64{s.t, s.v})
					}
					if w.Count == 1 || cmp[0] == '<' && s.v > w.Value || cmp[0] == '>' && s.v < w.Value {
						w.Value = s.v
					}
				}
			}
			if w.Count > 0 {
				res.Anomalies = append(res.Anomalies, Anomaly{Kind: "slo-breach", Key: label,
					Description: fmt.Sprintf("%s of %s in the window %s %s %s (from %s), worst %s at t=%s",
						plural(w.Count, "sample"), thousands(len(in)), map[bool]string{true: "breaches", false: "breach"}[w.Count == 1], cmp, formatNumber(threshold), source,
						formatNumber(w.Value), formatNumber(w.Breaches[0][0])),
					Witness: w})
			}
			continue
		}
		vals := make([]float64, len(in))
		for i, s := range in {
			vals[i] = s.v
		}
		v, err := statisticOf(statistic, vals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		w.Value = v
		if !holds(v) {
			w.Count = 1
			res.Anomalies = append(res.Anomalies, Anomaly{Kind: "slo-breach", Key: label,
				Description: fmt.Sprintf("the %s of %s over %s in the window is %s, breaching %s %s (from %s)",
					statistic, label, plural(len(in), "sample"), formatNumber(v), cmp, formatNumber(threshold), source),
				Witness: w})
		}
	}
	decideByAnomalies(res)
	res.Keys = len(series)
	window := "over the whole run"
	if !math.IsInf(from, -1) || !math.IsInf(to, 1) {
		window = fmt.Sprintf("in window [%s, %s]", formatNumber(from), strings.TrimPrefix(formatNumber(to), "+"))
	}
	res.Evidence = fmt.Sprintf("slo-threshold checked %s (%s) %s: %s %s %s (from %s): %s",
		plural(total, "sample"), plural(len(series), "series"), window, statistic, cmp, formatNumber(threshold), source,
		plural(len(res.Anomalies), "breach"))
	res.Evidence = strings.NewReplacer("seriess", "series", "breachs", "breaches").Replace(res.Evidence)
	return res, nil
}

// statisticOf reduces the window's values.
func statisticOf(statistic string, vals []float64) (float64, error) {
	switch statistic {
	case "max":
		return slices.Max(vals), nil
	case "min":
		return slices.Min(vals), nil
	case "mean", "avg":
		return meanOf(vals), nil
	case "p50", "median":
		return percentile(vals, 50), nil
	case "p90":
		return percentile(vals, 90), nil
	case "p95":
		return percentile(vals, 95), nil
	case "p99":
		return percentile(vals, 99), nil
	case "p999":
		return percentile(vals, 99.9), nil
	}
	return 0, fmt.Errorf("option statistic %q: want each, max, min, mean, p50, p90, p95, p99 or p999", statistic)
}

// readSeries decodes a metric series (see checkSLO).
func readSeries(data json.RawMessage, metric string) ([]seriesSample, error) {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '{' {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(t, &obj); err != nil {
			return nil, err
		}
		keys := []string{"samples", "series", "values"}
		if metric != "" {
			keys = append([]string{metric}, keys...)
		}
		for _, k := range keys {
			if raw, ok := obj[k]; ok {
				return readSeries(raw, "")
			}
		}
		return nil, fmt.Errorf("want a list of samples, or an object holding one under %s", strings.Join(keys, " / "))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(t, &list); err != nil {
		return nil, fmt.Errorf("want a list of samples: %w", err)
	}
	out := make([]seriesSample, 0, len(list))
	for i, e := range list {
		if v, ok := jsonNumber(e); ok {
			out = append(out, seriesSample{float64(i), v})
			continue
		}
		var pair []float64
		if json.Unmarshal(e, &pair) == nil && len(pair) == 2 {
			out = append(out, seriesSample{pair[0], pair[1]})
			continue
		}
		var tv struct {
			T *float64 `json:"t"`
			V *float64 `json:"v"`
		}
		if json.Unmarshal(e, &tv) == nil && tv.T != nil && tv.V != nil {
			out = append(out, seriesSample{*tv.T, *tv.V})
			continue
		}
		return nil, fmt.Errorf("sample %d (%.40s) is neither a number, [t, v] nor {\"t\", \"v\"}", i, e)
	}
	return out, nil
}
