package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

// factReduction journals a reduce_history outcome.
const factReduction = "reduction-recorded"

// ReductionRecord is a reduction as journaled: which check it reproduced,
// the outcome and the artifacts written.
type ReductionRecord struct {
	Run     string         `json:"run"`
	Checker string         `json:"checker"`
	Model   string         `json:"model"`
	Options map[string]any `json:"options,omitempty"`
	// Kinds are the anomaly kinds the failure had to keep.
	Kinds      []string `json:"kinds"`
	From       int      `json:"from"`
	To         int      `json:"to"`
	Checks     int      `json:"checks"`
	Reproduced bool     `json:"reproduced"`
	Minimal    bool     `json:"minimal"`
	Record     string   `json:"record"`
	Artifacts  []string `json:"artifacts"` // workspace-relative
}

// ReduceHistory minimises a failing run (SPEC §9): it merges the run's
// ops and fault windows into one event log and delta-debugs it
// (checkers.Reduce), re-running the same checker, with the model and
// options of the violating check journaled for the run, on every candidate
// sub-log. A candidate fails only when the failure keeps its nature: a
// violation with one of the anomaly kinds (and, when they name keys, on
// one of the keys) of the original check; for linearizability, every
// observation the full history explains by its own writes must stay
// explained (see unexplained): a read of a value nothing wrote, or a cas
// that failed with no write to beat it, would be a different, trivial
// failure.
//
// checker names the violating check to reproduce ("" = the latest
// violating check of the run); options override the journaled options.
// The reduced history and the reduction are stored under
// artifacts/<run>/reduction/ (reduced-history.jsonl, reduction.json) and
// the reduction is journaled with its record ("reduced from N events to k
// over M checks"). progress, when set, is called as checks complete
// (total 0: unknown in advance). When ctx ends, the smallest failing
// sub-log found so far is stored (not minimal) and ctx's error returned
// with it.
func (m *Manager) ReduceHistory(ctx context.Context, runID, checker string, options map[string]any, progress func(done, total int)) (*checkers.Reduction, []string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, nil, err
	}
	want := strings.TrimSpace(checker)
	if _, err := checkers.Lookup(want); err != nil && want != "" {
		if canon, ok := plan.CheckerByName(want); ok {
			want = canon
		}
	}

	s.mu.Lock()
	// The latest check of each checker decides; of those, the requested
	// checker's, or the latest violating one.
	latest := map[string]int{}
	for i, c := range r.checks {
		if c.Result != nil {
			latest[c.Checker] = i
		}
	}
	var base *CheckRecord
	for i := len(r.checks) - 1; i >= 0; i-- {
		c := r.checks[i]
		if c.Result == nil || latest[c.Checker] != i || (want != "" && c.Checker != want) {
			continue
		}
		if c.Result.Status == checkers.StatusViolation {
			base = &c
			break
		}
	}
	ops := r.opsOf()
	windows := r.windows()
	states := append([]StateRecord(nil), r.states...)
	runName := r.Run
	var ran []string
	for _, c := range r.checks {
		if c.Result != nil {
			ran = append(ran, c.Checker+" "+c.Result.Status)
		}
	}
	s.mu.Unlock()

	if base == nil {
		what := "any checker"
		if want != "" {
			what = "checker " + want
		}
		if len(ran) == 0 {
			ran = []string{"none"}
		}
		return nil, nil, fmt.Errorf("run %s: its latest check by %s is not a violation (checks: %s); reduce_history minimises a failing run: run_checker first", runID, what, strings.Join(ran, ", "))
	}
	c, err := checkers.Lookup(base.Checker)
	if err != nil {
		return nil, nil, fmt.Errorf("checker: %w", err)
	}
	opts := make(map[string]any, len(base.Options)+len(options))
	for k, v := range base.Options {
		opts[k] = v
	}
	for k, v := range options {
		if k == "model" {
			return nil, nil, fmt.Errorf("options.model: the reduction re-runs the violating check with its own model (%s); leave model out", base.Model)
		}
		opts[k] = v
	}
	_, derivedWindows := opts["fault_window"]
	derivedWindows = derivedWindows && len(windows) > 0 && options["fault_window"] == nil
	var stateIn []checkers.State
	for _, st := range states {
		body, err := m.ws.ReadFile(st.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("state %s %s: %w", st.Kind, st.Name, err)
		}
		stateIn = append(stateIn, checkers.State{Kind: st.Kind, Name: st.Name, Data: body})
	}

	nature := failureNature(base.Result)
	// For linearizability, the observations the full history explains by
	// its writes must stay explained: dropping the write a read observed
	// makes a different, trivial failure.
	lz := c.Name == "linearizability"
	var weird map[string]bool
	if lz {
		weird = map[string]bool{}
		for _, id := range unexplained(ops, base.Model, opts["initial"]) {
			weird[id] = true
		}
	}
	var (
		pmu  sync.Mutex
		last time.Time
	)
	report := func(n int) {
		if progress == nil {
			return
		}
		pmu.Lock()
		defer pmu.Unlock()
		if now := time.Now(); now.Sub(last) >= 200*time.Millisecond {
			last = now
			progress(n, 0)
		}
	}
	checks := 0
	failing := func(ctx context.Context, sub []checkers.Event) (bool, error) {
		checks++
		defer report(checks)
		subOps, subWindows := checkers.SplitEvents(sub)
		if lz {
			for _, id := range unexplained(subOps, base.Model, opts["initial"]) {
				if !weird[id] {
					return false, nil
				}
			}
		}
		in := checkers.Input{Ops: subOps, Model: base.Model, States: stateIn, Options: opts}
		if derivedWindows {
			in.Options = withWindows(opts, subWindows)
		}
		res, err := c.Check(ctx, in)
		if ctx.Err() != nil {
			// Abandoned: Reduce notices ctx and keeps the best so far.
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return nature.kept(res), nil
	}
	red, rerr := checkers.Reduce(ctx, checkers.Events(ops, windows), failing)
	if red == nil {
		return nil, nil, rerr
	}
	if err := ctx.Err(); err != nil {
		if !red.Reproduced {
			return nil, nil, fmt.Errorf("reduce: cancelled before the full history was checked: %w", err)
		}
		if rerr == nil {
			rerr = fmt.Errorf("reduce: %w", err)
		}
		if red.Minimal { // a cancelled check read as "not failing"
			red.Minimal = false
			head, tail, _ := strings.Cut(red.Record, ";")
			red.Record = head + " (stopped before 1-minimal)"
			if tail != "" {
				red.Record += ";" + tail
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.dir("artifacts", runName, "reduction")
	abs, err := m.ws.MkdirAll(dir)
	if err != nil {
		return nil, nil, err
	}
	written, err := checkers.WriteReduction(abs, red)
	if err != nil {
		return nil, nil, err
	}
	paths := make([]string, len(written))
	for i, p := range written {
		paths[i] = path.Join(dir, path.Base(p))
	}
	rec := ReductionRecord{
		Run: runName, Checker: c.Name, Model: base.Model, Options: options, Kinds: nature.kinds,
		From: red.From, To: red.To, Checks: red.Checks, Reproduced: red.Reproduced, Minimal: red.Minimal,
		Record: red.Record, Artifacts: paths,
	}
	f, err := s.j.Append(factReduction, &rec)
	if err != nil {
		return nil, nil, err
	}
	s.log(f.Time, reductionLine(&rec))
	if err := s.writeLog(); err != nil {
		return nil, nil, err
	}
	return red, paths, rerr
}

// replayReduction puts a journaled reduction back on the session-log
// timeline when a session is reopened.
func (s *session) replayReduction(f Fact) {
	var rec ReductionRecord
	if err := json.Unmarshal(f.Data, &rec); err == nil {
		s.log(f.Time, reductionLine(&rec))
	}
}

func reductionLine(rec *ReductionRecord) string {
	return fmt.Sprintf("run %s: reduce_history with %s (%s): %s → %s", rec.Run, rec.Checker, rec.Model, rec.Record, strings.Join(rec.Artifacts, ", "))
}

// withWindows returns opts with "fault_window" set to the windows of a
// sub-log (removed when it keeps none), as RunChecker derives it from the
// ledger.
func withWindows(opts map[string]any, windows []history.Window) map[string]any {
	out := make(map[string]any, len(opts))
	for k, v := range opts {
		out[k] = v
	}
	delete(out, "fault_window")
	if len(windows) > 0 {
		ws := make([]any, 0, len(windows))
		for _, w := range windows {
			var end any
			if w.End != nil {
				end = *w.End
			}
			ws = append(ws, []any{w.Start, end})
		}
		out["fault_window"] = ws
	}
	return out
}

// nature is what a failure must keep while it is reduced: its anomaly
// kinds and, when the anomalies name keys, one of those keys.
type nature struct {
	kinds []string
	keys  map[string]bool // kind + "\x00" + key; nil when no anomaly names a key
}

func failureNature(r *checkers.Result) nature {
	n := nature{}
	for _, a := range r.Anomalies {
		if !slices.Contains(n.kinds, a.Kind) {
			n.kinds = append(n.kinds, a.Kind)
		}
		if a.Key != "" {
			if n.keys == nil {
				n.keys = map[string]bool{}
			}
			n.keys[a.Kind+"\x00"+a.Key] = true
		}
	}
	slices.Sort(n.kinds)
	return n
}

// kept reports whether a candidate's result is the same failure: a
// violation with an anomaly of one of the original kinds (on one of the
// original keys when those were named). A result without anomalies counts
// when the original had none either.
func (n nature) kept(r *checkers.Result) bool {
	if r.Status != checkers.StatusViolation {
		return false
	}
	if len(n.kinds) == 0 {
		return true
	}
	for _, a := range r.Anomalies {
		if !slices.Contains(n.kinds, a.Kind) {
			continue
		}
		if n.keys == nil || n.keys[a.Kind+"\x00"+a.Key] {
			return true
		}
	}
	return false
}

// unexplained returns the ids of the observations of ops that the writes
// of ops do not explain, per key for the keyed models (kv, map) and over
// the whole history otherwise: a successful read, or a successful cas,
// that found a value neither initial nor written (by a write, or a cas
// that did not fail); and a cas that found the register not holding its
// expected value e with no reason to: no write of another value that may
// take effect after the last write of e completed before the cas began
// (or, when e is the initial value, at all), while the register cannot
// still hold an initial value other than e. A history that appends is
// not judged (its reads are concatenations): none.
func unexplained(ops []history.Op, model string, initial any) []string {
	keyed := model == "kv" || model == "map"
	keyOf := func(o *history.Op) string {
		if keyed && o.Key != nil {
			return *o.Key
		}
		return ""
	}
	init := "null"
	if initial != nil {
		if b, err := json.Marshal(initial); err == nil {
			init = canonicalJSON(b)
		}
	}
	// The writes per key: value, invocation and completion (MaxInt64 when
	// the write's outcome is unknown).
	type write struct {
		v         string
		inv, done int64
	}
	writes := map[string][]write{}
	addWrite := func(o *history.Op, v json.RawMessage) {
		w := write{v: canonicalJSON(v), inv: math.MinInt64, done: math.MaxInt64}
		if o.InvokeTS != nil {
			w.inv = *o.InvokeTS
		}
		if o.OK() && o.CompleteTS != nil {
			w.done = *o.CompleteTS
		}
		writes[keyOf(o)] = append(writes[keyOf(o)], w)
	}
	for i := range ops {
		o := &ops[i]
		if o.Failed() {
			continue
		}
		switch o.OpType {
		case "append":
			return nil
		case "write", "put", "set":
			addWrite(o, o.Input)
		case "cas", "compare-and-set":
			// A cas that returned false wrote nothing.
			if pair := casPair(o.Input); pair != nil && !(o.OK() && canonicalJSON(o.Output) == "false") {
				addWrite(o, pair[1])
			}
		}
	}
	seen := func(o *history.Op, v json.RawMessage) bool {
		c := canonicalJSON(v)
		if c == init {
			return true
		}
		for _, w := range writes[keyOf(o)] {
			if w.v == c {
				return true
			}
		}
		return false
	}
	// missed reports whether a cas expecting e can have found another
	// value: the register held e last from the latest write of e that
	// completed before the cas began (or from the start, when e is the
	// initial value), and a write of another value may take effect after
	// that and before the cas returned.
	missed := func(o *history.Op, e json.RawMessage) bool {
		c := canonicalJSON(e)
		invoke, complete := int64(math.MinInt64), int64(math.MaxInt64)
		if o.InvokeTS != nil {
			invoke = *o.InvokeTS
		}
		if o.CompleteTS != nil {
			complete = *o.CompleteTS
		}
		since, held := int64(math.MinInt64), c == init
		for _, w := range writes[keyOf(o)] {
			if w.v == c && w.done < invoke {
				since, held = max(since, w.done), true
			}
		}
		if !held {
			return true // the register may still hold its initial value
		}
		for _, w := range writes[keyOf(o)] {
			if w.v != c && w.done > since && w.inv < complete {
				return true
			}
		}
		return false
	}
	var out []string
	for i := range ops {
		o := &ops[i]
		if !o.OK() {
			continue
		}
		switch o.OpType {
		case "read", "get":
			if !seen(o, o.Output) {
				out = append(out, o.OpID)
			}
		case "cas", "compare-and-set":
			pair := casPair(o.Input)
			if pair == nil {
				continue
			}
			switch canonicalJSON(o.Output) {
			case "true":
				if !seen(o, pair[0]) {
					out = append(out, o.OpID)
				}
			case "false":
				if !missed(o, pair[0]) {
					out = append(out, o.OpID)
				}
			}
		}
	}
	return out
}

// casPair reads a cas input [expected, new]; nil when it is not one.
func casPair(raw json.RawMessage) []json.RawMessage {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return nil
	}
	return pair
}

// canonicalJSON renders a JSON value canonically (numbers as numbers,
// object keys sorted); absent is null, undecodable text is kept as is.
func canonicalJSON(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "null"
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return string(t)
	}
	v = normalizeNumbers(v)
	b, err := json.Marshal(v)
	if err != nil {
		return string(t)
	}
	return string(b)
}

// normalizeNumbers makes 1, 1.0 and 1e0 the same value.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			if f == float64(int64(f)) {
				return int64(f)
			}
			return f
		}
		return x.String()
	case []any:
		for i := range x {
			x[i] = normalizeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumbers(x[k])
		}
	}
	return v
}
