package checkers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
)

// counterModels are the models counter accepts.
var counterModels = []string{"counter"}

// Counter op types: incOpTypes add their input (default 1), decOpTypes
// subtract it.
var (
	incOpTypes = map[string]bool{"inc": true, "add": true, "incr": true, "increment": true}
	decOpTypes = map[string]bool{"dec": true, "decr": true, "decrement": true}
)

func counter() *Checker {
	return &Checker{
		Name:   "counter",
		Models: slices.Clone(counterModels),
		Needs:  needsFor(counterModels, FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker),
		Check:  checkCounter,
	}
}

const counterScope = "Jepsen's / Maelstrom's counter rule per key: each read lies between the sum of the increments " +
	"acknowledged before it began and the sum of every increment that may have taken effect before it completed " +
	"(acknowledged or indeterminate, invoked before the read completed, not reported failed by then); cannot detect " +
	"double-applied increments that stay within the bounds, nor anomalies between reads (use linearizability)"

// counterWitness is the evidence for a read out of bounds.
type counterWitness struct {
	Read  string  `json:"read_op"`
	Value float64 `json:"value"`
	Lower float64 `json:"lower_bound"`
	Upper float64 `json:"upper_bound"`
}

// delta is one increment's time points and amount, sorted views of which
// give the bounds by prefix sums.
type timedDelta struct {
	t int64
	d float64
}

// prefixSums holds deltas sorted by time with running sums of the
// positive and the negative ones.
type prefixSums struct {
	t        []int64
	pos, neg []float64 // pos[i]: sum of positive deltas among the first i
}

func newPrefixSums(ds []timedDelta) prefixSums {
	slices.SortFunc(ds, func(a, b timedDelta) int { return compareInt64(a.t, b.t) })
	p := prefixSums{t: make([]int64, len(ds)), pos: make([]float64, len(ds)+1), neg: make([]float64, len(ds)+1)}
	for i, d := range ds {
		p.t[i] = d.t
		p.pos[i+1], p.neg[i+1] = p.pos[i], p.neg[i]
		if d.d > 0 {
			p.pos[i+1] += d.d
		} else {
			p.neg[i+1] += d.d
		}
	}
	return p
}

// before returns the sums of the positive and negative deltas at times
// strictly before t.
func (p prefixSums) before(t int64) (pos, neg float64) {
	i := sort.Search(len(p.t), func(i int) bool { return p.t[i] >= t })
	return p.pos[i], p.neg[i]
}

// checkCounter checks every successful read of a counter against the
// bounds its increments allow, per key.
//
// With D the increments acknowledged before the read was invoked, P the
// others that may have taken effect before the read completed (invoked
// before it completed; acknowledged, indeterminate, or failed only after
// it completed, as Jepsen counts them), the read must lie in
// [initial + ΣD + Σ{d<0 in P}, initial + ΣD + Σ{d>0 in P}].
//
// Options: "initial" (the counter's starting value, default 0).
func checkCounter(ctx context.Context, in Input) (*Result, error) {
	const name = "counter"
	if err := checkModel(name, counterModels, in.Model); err != nil {
		return nil, err
	}
	initial, _, err := numberOption(in.Options, "initial")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(counter(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, counterScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)
	step := stepper(ctx, progress)

	type keyOps struct {
		invoked, acked, failed []timedDelta
		reads                  []int
	}
	per := map[string]*keyOps{}
	var keys []string
	incs, ackedIncs, maybeIncs, reads := 0, 0, 0, 0
	for i := range in.Ops {
		if step(i) {
			return halted(res, ctx), nil
		}
		o := &in.Ops[i]
		isInc, isDec, isRead := incOpTypes[o.OpType], decOpTypes[o.OpType], readOpTypes[o.OpType]
		if !isInc && !isDec && !isRead {
			continue
		}
		k := opKey(o)
		ko := per[k]
		if ko == nil {
			ko = &keyOps{}
			per[k] = ko
			keys = append(keys, k)
		}
		if isRead {
			if o.OK() {
				reads++
				ko.reads = append(ko.reads, i)
			}
			continue
		}
		d := 1.0
		if !isNull(o.Input) {
			raw := o.Input
			if v, ok := jsonField(o.Input, "delta"); ok {
				raw = v
			} else if v, ok := jsonField(o.Input, "value"); ok {
				raw = v
			}
			var ok bool
			if d, ok = jsonNumber(raw); !ok {
				return nil, fmt.Errorf("%s: op %s: increment %.40s is not a number", name, o.OpID, o.Input)
			}
		}
		if isDec {
			d = -d
		}
		incs++
		inv := invokeOf(o, math.MinInt64)
		ko.invoked = append(ko.invoked, timedDelta{inv, d})
		switch {
		case o.OK():
			ackedIncs++
			ko.acked = append(ko.acked, timedDelta{completeOf(o, math.MaxInt64), d})
		case o.Failed():
			ko.failed = append(ko.failed, timedDelta{completeOf(o, math.MaxInt64), d})
		default:
			maybeIncs++
		}
	}
	outOfBounds := 0
	for _, k := range keys {
		ko := per[k]
		invoked, acked, failed := newPrefixSums(ko.invoked), newPrefixSums(ko.acked), newPrefixSums(ko.failed)
		for n, i := range ko.reads {
			if cancelled(ctx, n) {
				return halted(res, ctx), nil
			}
			o := &in.Ops[i]
			v, ok := jsonNumber(o.Output)
			if !ok {
				if raw, has := jsonField(o.Output, "value"); has {
					v, ok = jsonNumber(raw)
				}
			}
			if !ok {
				return nil, fmt.Errorf("%s: read %s returned %.40s, not a number", name, o.OpID, o.Output)
			}
			rInv, rCmp := invokeOf(o, math.MinInt64), completeOf(o, math.MaxInt64)
			dPos, dNeg := acked.before(rInv)
			iPos, iNeg := invoked.before(rCmp)
			fPos, fNeg := failed.before(rCmp)
			// P = invoked before completion − failed by then − definite.
			pPos, pNeg := iPos-fPos-dPos, iNeg-fNeg-dNeg
			lower := initial + dPos + dNeg + pNeg
			upper := initial + dPos + dNeg + pPos
			if v >= lower && v <= upper {
				continue
			}
			outOfBounds++
			why := fmt.Sprintf("more than the %s that may have been applied", formatNumber(upper))
			if v < lower {
				why = fmt.Sprintf("less than the %s acknowledged before it began", formatNumber(lower))
			}
			label := ""
			if k != "" {
				label = fmt.Sprintf(" of key %q", k)
			}
			res.Anomalies = append(res.Anomalies, Anomaly{
				Kind: "counter-out-of-bounds",
				Key:  k,
				Description: fmt.Sprintf("read %s%s returned %s, %s (bounds [%s, %s])",
					o.OpID, label, formatNumber(v), why, formatNumber(lower), formatNumber(upper)),
				OpIDs:   []string{o.OpID},
				Witness: counterWitness{Read: o.OpID, Value: v, Lower: lower, Upper: upper},
			})
		}
	}
	res.OpsConsumed = len(in.Ops)
	res.Keys = len(keys)
	if reads == 0 {
		progress(len(in.Ops))
		return undecided(res, fmt.Sprintf("none of the %s is a successful read of the counter", plural(len(in.Ops), "op"))), nil
	}
	decideByAnomalies(res)
	res.Evidence = fmt.Sprintf("counter checked %s over %s: %s (%s acknowledged, %s indeterminate) and %s: %s out of bounds",
		plural(len(in.Ops), "op"), plural(len(keys), "key"), plural(incs, "increment"), thousands(ackedIncs), thousands(maybeIncs),
		plural(reads, "successful read"), thousands(outOfBounds))
	progress(len(in.Ops))
	return res, nil
}
