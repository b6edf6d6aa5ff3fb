package checkers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/falsify-dev/falsify/history"
)

// Event is one entry of a run's event log (SPEC §9): an op or a fault
// window. Exactly one of Op and Fault is set.
type Event struct {
	Op    *history.Op     `json:"op,omitempty"`
	Fault *history.Window `json:"fault,omitempty"`
}

// String names the event: "op w17" or "fault F2 (partition)".
func (e Event) String() string {
	switch {
	case e.Op != nil:
		return "op " + e.Op.OpID
	case e.Fault != nil:
		return fmt.Sprintf("fault %s (%s)", e.Fault.ID, e.Fault.Kind)
	}
	return "empty event"
}

// at is when the event began, for ordering the log.
func (e Event) at() int64 {
	switch {
	case e.Op != nil:
		return invokeOf(e.Op, math.MinInt64)
	case e.Fault != nil:
		return e.Fault.Start
	}
	return math.MinInt64
}

// Events merges a run's ops and fault windows into one log ordered by
// start time (ops by invoke time; faults first on ties; history order
// otherwise kept).
func Events(ops []history.Op, windows []history.Window) []Event {
	out := make([]Event, 0, len(ops)+len(windows))
	for i := range windows {
		w := windows[i]
		out = append(out, Event{Fault: &w})
	}
	for i := range ops {
		o := ops[i]
		out = append(out, Event{Op: &o})
	}
	slices.SortStableFunc(out, func(a, b Event) int { return cmp.Compare(a.at(), b.at()) })
	return out
}

// SplitEvents returns the ops and the fault windows of an event log, in
// log order.
func SplitEvents(events []Event) (ops []history.Op, windows []history.Window) {
	for _, e := range events {
		switch {
		case e.Op != nil:
			ops = append(ops, *e.Op)
		case e.Fault != nil:
			windows = append(windows, *e.Fault)
		}
	}
	return ops, windows
}

// Reduction is the outcome of [Reduce].
type Reduction struct {
	Events []Event `json:"events"` // the smallest failing sub-log found, in log order
	From   int     `json:"from"`   // events in the log reduced
	To     int     `json:"to"`     // events kept
	Checks int     `json:"checks"` // times the failure predicate ran
	// FaultKinds are the fault categories among the kept events: the
	// failure needs at least one fault of each (removing all of a kind
	// made it vanish).
	FaultKinds []string `json:"fault_kinds"`
	// Reproduced is false when the full log did not fail: nothing was
	// reduced (SPEC §9: recorded as such, not forced).
	Reproduced bool `json:"reproduced"`
	// Minimal is true when every kept event was shown needed (the search
	// ran to the end, 1-minimal); false when it was cancelled.
	Minimal bool   `json:"minimal"`
	Record  string `json:"record"` // "reduced from N events to k over M checks"
}

// Reduce minimises a failing event log by delta debugging (Zeller's
// ddmin): it drops halves, then complements, at ever finer granularity,
// down to single events, while failing still reports the failure, until
// every remaining event is needed (1-minimal). A fault kind stays
// represented as long as the failure depends on it, since removing its
// last event makes failing report no failure.
//
// failing reports whether a sub-log still fails; it is never called twice
// on the same sub-log. An error from it aborts the reduction. When the
// full log does not fail, Reduce returns a Reduction with Reproduced
// false and the log unchanged. When ctx ends, Reduce returns the smallest
// failing sub-log found so far (Minimal false) together with ctx's error.
func Reduce(ctx context.Context, events []Event, failing func(ctx context.Context, sub []Event) (bool, error)) (*Reduction, error) {
	r := &Reduction{From: len(events)}
	seen := map[string]bool{}
	test := func(idx []int) (bool, error) {
		key := indexKey(idx)
		if v, ok := seen[key]; ok {
			return v, nil
		}
		sub := make([]Event, len(idx))
		for i, j := range idx {
			sub[i] = events[j]
		}
		r.Checks++
		v, err := failing(ctx, sub)
		if err != nil {
			return false, fmt.Errorf("reduce: check %d on %s: %w", r.Checks, plural(len(idx), "event"), err)
		}
		seen[key] = v
		return v, nil
	}
	finish := func(cur []int) *Reduction {
		r.Events = make([]Event, len(cur))
		kinds := map[string]bool{}
		for i, j := range cur {
			r.Events[i] = events[j]
			if f := events[j].Fault; f != nil && !kinds[f.Kind] {
				kinds[f.Kind] = true
				r.FaultKinds = append(r.FaultKinds, f.Kind)
			}
		}
		r.To = len(cur)
		switch {
		case !r.Reproduced:
			r.Record = fmt.Sprintf("not reproduced: the full log of %s did not fail; not reduced (1 check)", plural(r.From, "event"))
		case r.Minimal:
			r.Record = fmt.Sprintf("reduced from %s to %d over %s", plural(r.From, "event"), r.To, plural(r.Checks, "check"))
		default:
			r.Record = fmt.Sprintf("reduced from %s to %d over %s (stopped before 1-minimal)", plural(r.From, "event"), r.To, plural(r.Checks, "check"))
		}
		if len(r.FaultKinds) > 0 {
			r.Record += "; the failure needs faults of kind " + strings.Join(r.FaultKinds, ", ")
		}
		return r
	}

	cur := make([]int, len(events))
	for i := range cur {
		cur[i] = i
	}
	ok, err := test(cur)
	if err != nil {
		return nil, err
	}
	if !ok {
		return finish(cur), nil
	}
	r.Reproduced = true
	n := 2
	for len(cur) >= 2 {
		if err := ctx.Err(); err != nil {
			return finish(cur), fmt.Errorf("reduce: %w", err)
		}
		chunks := chunksOf(cur, n)
		reduced := false
		// Try each chunk alone ("halves" at n = 2)…
		for _, c := range chunks {
			if ok, err = test(c); err != nil {
				return nil, err
			}
			if ok {
				cur, n, reduced = c, 2, true
				break
			}
		}
		// …then each complement.
		if !reduced { // at n = 2 the complements are the chunks: cached
			for i := range chunks {
				comp := complementOf(chunks, i)
				if ok, err = test(comp); err != nil {
					return nil, err
				}
				if ok {
					cur, n, reduced = comp, max(n-1, 2), true
					break
				}
			}
		}
		if reduced {
			continue
		}
		if n >= len(cur) {
			break // every single event was tried: 1-minimal
		}
		n = min(2*n, len(cur))
	}
	r.Minimal = true
	return finish(cur), nil
}

// chunksOf cuts idx into n chunks of near-equal size.
func chunksOf(idx []int, n int) [][]int {
	n = min(n, len(idx))
	out := make([][]int, 0, n)
	start := 0
	for i := range n {
		end := start + (len(idx)-start)/(n-i)
		out = append(out, idx[start:end])
		start = end
	}
	return out
}

// complementOf joins every chunk but the i-th.
func complementOf(chunks [][]int, i int) []int {
	var out []int
	for j, c := range chunks {
		if j != i {
			out = append(out, c...)
		}
	}
	return out
}

// indexKey identifies a sub-log by the indexes it keeps.
func indexKey(idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
	}
	return b.String()
}

// Artifact file names written by [WriteReduction].
const (
	ReducedHistoryFile = "reduced-history.jsonl" // the kept ops, JSON Lines
	ReductionFile      = "reduction.json"        // the whole Reduction
)

// WriteReduction stores a reduction in dir as two artifacts: the kept ops
// as a native history (JSON Lines, SPEC §3.1) and the Reduction as JSON
// (events with their fault windows, counts and record). It returns the
// full paths written. Each file is replaced atomically.
func WriteReduction(dir string, r *Reduction) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reduce: %w", err)
	}
	ops, _ := SplitEvents(r.Events)
	var hist bytes.Buffer
	if err := history.WriteJSONL(&hist, ops); err != nil {
		return nil, fmt.Errorf("reduce: writing the reduced history: %w", err)
	}
	whole, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return nil, fmt.Errorf("reduce: encoding the reduction: %w", err)
	}
	var paths []string
	for _, f := range []struct {
		name string
		data []byte
	}{{ReducedHistoryFile, hist.Bytes()}, {ReductionFile, append(whole, '\n')}} {
		path := filepath.Join(dir, f.name)
		if err := writeFileAtomic(path, f.data); err != nil {
			return paths, fmt.Errorf("reduce: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeFileAtomic writes data to path through a temporary file renamed
// into place.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
	}
	return werr
}
