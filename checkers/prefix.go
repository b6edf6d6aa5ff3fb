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

// prefixModels are the models prefix accepts.
var prefixModels = []string{"log", "queue"}

// produceOpTypes add an element to a queue or log; consumeOpTypes take
// elements from a queue (their output is an element or a list of them).
var (
	produceOpTypes = map[string]bool{"enqueue": true, "append": true, "send": true, "produce": true, "publish": true, "push": true}
	consumeOpTypes = map[string]bool{"dequeue": true, "pop": true, "take": true, "receive": true, "consume": true, "poll": true}
)

// maxPrefixAnomalies bounds the anomalies reported; the evidence counts
// the rest.
const maxPrefixAnomalies = 1000

func prefixOrder() *Checker {
	return &Checker{
		Name:   "prefix-order",
		Models: slices.Clone(prefixModels),
		Needs:  needsFor(prefixModels, FieldInvokeTS, FieldProcessID, FieldTimeoutMarker),
		Check:  checkPrefix,
	}
}

const prefixScope = "per producer (its acknowledged and indeterminate enqueues / appends in invoke order) against each " +
	"consumer's observations: an element delivered out of its producer's order by more than the reorder window " +
	"(reorder), a producer's acknowledged element never delivered although one more than the window after it was " +
	"(skip; for a queue only when no timed-out dequeue can account for it), an element nobody enqueued (insert), an " +
	"element delivered twice (duplicate), and for a log a read that is not a prefix of the longest read; cannot " +
	"order elements of different producers, nor detect loss of a producer's last elements (use no-lost-ack)"

// prefixWitness is the evidence for an order anomaly.
type prefixWitness struct {
	Consumer  string `json:"consumer"`           // the consumer process, or the read op for a log view
	Producer  string `json:"producer,omitempty"` // the producer process
	Element   any    `json:"element"`            // the element at fault
	Position  int    `json:"position,omitempty"` // its position in the producer's order (1-based)
	After     any    `json:"after,omitempty"`    // the element it came after / that was delivered instead
	AfterPos  int    `json:"after_position,omitempty"`
	Window    int    `json:"reorder_window"`
	Delivered string `json:"delivered_by,omitempty"` // the op that delivered the element
}

// produced is one element as its producer sent it.
type produced struct {
	producer string
	pos      int // 0-based position in the producer's order
	op       int // op index
	acked    bool
}

// delivery is one element as a consumer observed it.
type delivery struct {
	v  value
	op int
}

// checkPrefix checks queue / log order against producer order.
//
// Options: "reorder_window" (a non-negative integer, default 0: how many
// positions of its producer's order an element may be delivered out of
// place; an unbounded window is refused, the check would be vacuous),
// "value_field" and "offset_field" (for log reads whose entries are
// objects: default "value" and "offset"; entries are ordered by offset).
func checkPrefix(ctx context.Context, in Input) (*Result, error) {
	const name = "prefix-order"
	if err := checkModel(name, prefixModels, in.Model); err != nil {
		return nil, err
	}
	window, err := reorderWindow(in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	valueField, err := stringOption(in.Options, "value_field", "value")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	offsetField, err := stringOption(in.Options, "offset_field", "offset")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(prefixOrder(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, prefixScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)

	// Producer order.
	byProducer := map[string][]int{}
	var producers []string
	failedValues := map[value]string{}
	var consumers []int
	indeterminateTakes := 0
	for i := range in.Ops {
		o := &in.Ops[i]
		switch {
		case produceOpTypes[o.OpType] && o.Failed():
			if v, err := canonical(o.Input); err == nil {
				failedValues[v] = o.OpID
			}
		case produceOpTypes[o.OpType]:
			p := processOf(o)
			if _, ok := byProducer[p]; !ok {
				producers = append(producers, p)
			}
			byProducer[p] = append(byProducer[p], i)
		case consumeOpTypes[o.OpType] && o.OK(), readOpTypes[o.OpType] && o.OK() && in.Model == "log":
			consumers = append(consumers, i)
		case consumeOpTypes[o.OpType] && o.Indeterminate():
			indeterminateTakes++
		}
	}
	elems := make(map[value]produced, len(in.Ops)/2)
	order := map[string][]value{} // per producer, its elements in order
	acked := 0
	for _, p := range producers {
		for pos, i := range sortedByInvoke(in.Ops, byProducer[p]) {
			o := &in.Ops[i]
			v, err := canonical(o.Input)
			if err != nil {
				return nil, fmt.Errorf("%s: op %s: %w", name, o.OpID, err)
			}
			if prev, dup := elems[v]; dup {
				return nil, fmt.Errorf("%s: ops %s and %s both enqueue %s: elements must be unique for order to be checked", name, in.Ops[prev.op].OpID, o.OpID, v.JSON())
			}
			elems[v] = produced{producer: p, pos: pos, op: i, acked: o.OK()}
			order[p] = append(order[p], v)
			if o.OK() {
				acked++
			}
		}
	}
	if window > 0 && window >= len(elems) {
		return nil, fmt.Errorf("%s: reorder_window %d is not smaller than the %s produced: any order would pass; declare the in-flight window the system promises", name, window, plural(len(elems), "element"))
	}

	dropped := 0
	add := func(a Anomaly) {
		if len(res.Anomalies) < maxPrefixAnomalies {
			res.Anomalies = append(res.Anomalies, a)
		} else {
			dropped++
		}
	}
	describe := func(d delivery) string {
		return fmt.Sprintf("%s (delivered by %s)", d.v.JSON(), in.Ops[d.op].OpID)
	}
	// checkStream judges one consumer's observations in order. combined
	// is the queue's deliveries to all consumers together: only skips
	// and duplicates across consumers are judged there.
	checkStream := func(label string, stream []delivery, skips, combined bool) {
		maxPos := map[string]delivery{}
		seen := make(map[value]int, len(stream)) // op index of the first delivery, plus one
		for _, d := range stream {
			e, known := elems[d.v]
			if !known {
				if combined {
					continue
				}
				why := "nobody enqueued it"
				if id, ok := failedValues[d.v]; ok {
					why = "its only enqueue, " + id + ", was reported failed"
				}
				add(Anomaly{Kind: "insert", Description: fmt.Sprintf("%s observed %s, but %s", label, describe(d), why),
					OpIDs: []string{in.Ops[d.op].OpID}, Witness: prefixWitness{Consumer: label, Element: d.v.any(), Window: window, Delivered: in.Ops[d.op].OpID}})
				continue
			}
			if first := seen[d.v] - 1; first >= 0 {
				if combined && processOf(&in.Ops[first]) == processOf(&in.Ops[d.op]) {
					continue // reported on that consumer's own stream
				}
				add(Anomaly{Kind: "duplicate", Description: fmt.Sprintf("%s observed %s twice, first by %s", label, describe(d), in.Ops[first].OpID),
					OpIDs: []string{in.Ops[e.op].OpID, in.Ops[first].OpID, in.Ops[d.op].OpID}, Witness: prefixWitness{Consumer: label, Producer: e.producer,
						Element: d.v.any(), Position: e.pos + 1, Window: window, Delivered: in.Ops[d.op].OpID}})
				continue
			}
			seen[d.v] = d.op + 1
			m, ok := maxPos[e.producer]
			if !ok || elems[m.v].pos < e.pos {
				maxPos[e.producer] = d
				continue
			}
			if mp := elems[m.v].pos; mp-e.pos > window && !combined {
				add(Anomaly{Kind: "reorder",
					Description: fmt.Sprintf("%s observed %s after %s, though producer %s enqueued it %s earlier (window %d)",
						label, describe(d), describe(m), e.producer, plural(mp-e.pos, "position"), window),
					OpIDs: []string{in.Ops[e.op].OpID, in.Ops[elems[m.v].op].OpID, in.Ops[d.op].OpID},
					Witness: prefixWitness{Consumer: label, Producer: e.producer, Element: d.v.any(), Position: e.pos + 1,
						After: m.v.any(), AfterPos: mp + 1, Window: window, Delivered: in.Ops[d.op].OpID}})
			}
		}
		if !skips {
			return
		}
		for _, p := range producers {
			m, ok := maxPos[p]
			if !ok {
				continue
			}
			mp := elems[m.v].pos
			for pos, v := range order[p][:max(0, mp-window)] {
				e := elems[v]
				if e.acked && seen[v] == 0 {
					add(Anomaly{Kind: "skip",
						Description: fmt.Sprintf("%s observed %s but not %s, acknowledged by %s %s earlier in producer %s's order (window %d)",
							label, describe(m), v.JSON(), in.Ops[e.op].OpID, plural(mp-pos, "position"), p, window),
						OpIDs: []string{in.Ops[e.op].OpID, in.Ops[m.op].OpID},
						Witness: prefixWitness{Consumer: label, Producer: p, Element: v.any(), Position: pos + 1,
							After: m.v.any(), AfterPos: mp + 1, Window: window, Delivered: in.Ops[m.op].OpID}})
				}
			}
		}
	}

	deliveries := 0
	if in.Model == "queue" {
		byConsumer := map[string][]int{}
		var names []string
		for _, i := range consumers {
			p := processOf(&in.Ops[i])
			if _, ok := byConsumer[p]; !ok {
				names = append(names, p)
			}
			byConsumer[p] = append(byConsumer[p], i)
		}
		var all []delivery
		for n, p := range names {
			if ctx.Err() != nil {
				return halted(res, ctx), nil
			}
			var stream []delivery
			for _, i := range sortedByInvoke(in.Ops, byConsumer[p]) {
				vs, _, err := consumed(in.Ops[i].Output, "", "")
				if err != nil {
					return nil, fmt.Errorf("%s: op %s: %w", name, in.Ops[i].OpID, err)
				}
				for _, v := range vs {
					stream = append(stream, delivery{v, i})
				}
			}
			deliveries += len(stream)
			checkStream("consumer "+p, stream, false, false)
			all = append(all, stream...)
			progress(len(in.Ops) * (n + 1) / (len(names) + 1))
		}
		// Skips and cross-consumer duplicates over every delivery: a
		// queue's consumers share its elements. Skips that timed-out
		// dequeues may account for are not reported.
		slices.SortStableFunc(all, func(a, b delivery) int {
			return compareInt64(invokeOf(&in.Ops[a.op], math.MinInt64), invokeOf(&in.Ops[b.op], math.MinInt64))
		})
		saved, savedDropped := res.Anomalies, dropped
		res.Anomalies, dropped = nil, 0
		checkStream("the consumers together", all, true, true)
		skips := 0
		for _, a := range res.Anomalies {
			if a.Kind == "skip" {
				skips++
			}
		}
		if skips > 0 && skips <= indeterminateTakes {
			res.Anomalies = slices.DeleteFunc(res.Anomalies, func(a Anomaly) bool { return a.Kind == "skip" })
		}
		res.Anomalies, dropped = append(saved, res.Anomalies...), dropped+savedDropped
		if len(res.Anomalies) > maxPrefixAnomalies {
			dropped += len(res.Anomalies) - maxPrefixAnomalies
			res.Anomalies = res.Anomalies[:maxPrefixAnomalies]
		}
	} else {
		var longest []delivery
		views := make([][]delivery, 0, len(consumers))
		for n, i := range consumers {
			if cancelled(ctx, n) {
				return halted(res, ctx), nil
			}
			vs, offsets, err := consumed(in.Ops[i].Output, valueField, offsetField)
			if err != nil {
				return nil, fmt.Errorf("%s: op %s: %w", name, in.Ops[i].OpID, err)
			}
			if !offsets && len(vs) > 0 && !slices.Contains(res.Missing, "output."+offsetField) {
				// SPEC §3.3: a log read's output carries offsets; without
				// them the view's order is the list's, unverified.
				res.Missing = append(res.Missing, "output."+offsetField)
			}
			view := make([]delivery, len(vs))
			for j, v := range vs {
				view[j] = delivery{v, i}
			}
			deliveries += len(view)
			checkStream("read "+in.Ops[i].OpID, view, true, false)
			views = append(views, view)
			if len(view) > len(longest) {
				longest = view
			}
		}
		for _, view := range views {
			for j, d := range view {
				if d.v != longest[j].v {
					add(Anomaly{Kind: "not-prefix",
						Description: fmt.Sprintf("read %s is not a prefix of read %s: position %d holds %s in one and %s in the other",
							in.Ops[d.op].OpID, in.Ops[longest[j].op].OpID, j+1, d.v.JSON(), longest[j].v.JSON()),
						OpIDs: []string{in.Ops[d.op].OpID, in.Ops[longest[j].op].OpID},
						Witness: prefixWitness{Consumer: "read " + in.Ops[d.op].OpID, Element: d.v.any(), Position: j + 1,
							After: longest[j].v.any(), Window: window, Delivered: in.Ops[d.op].OpID}})
					break
				}
			}
		}
	}
	res.OpsConsumed = len(in.Ops)
	res.Keys = len(producers)
	if len(consumers) == 0 {
		progress(len(in.Ops))
		return undecided(res, fmt.Sprintf("no consumer observation among the %s (no successful dequeue or read)", plural(len(in.Ops), "op"))), nil
	}
	decideByAnomalies(res)
	more := ""
	if dropped > 0 {
		more = fmt.Sprintf(" (%s more not listed)", thousands(dropped))
	}
	res.Evidence = fmt.Sprintf("prefix-order checked %s: %s from %s (%s acknowledged) against %s (%s), reorder window %d: %s%s",
		plural(len(in.Ops), "op"), plural(len(elems), "element"), plural(len(producers), "producer"), thousands(acked),
		plural(len(consumers), "consumer observation"), plural(deliveries, "delivery"), window,
		plural(len(res.Anomalies)+dropped, "anomaly"), more)
	progress(len(in.Ops))
	return res, nil
}

// reorderWindow reads Options["reorder_window"]: a non-negative integer.
func reorderWindow(opts map[string]any) (int, error) {
	v, ok := opts["reorder_window"]
	if !ok || v == nil {
		return 0, nil
	}
	if s, isStr := v.(string); isStr {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "unbounded", "infinite", "inf", "+inf", "any", "unlimited", "∞":
			return 0, fmt.Errorf("option reorder_window %q: an unbounded window accepts any order and makes the check vacuous; declare the in-flight window the system promises", s)
		}
	}
	f, _, err := numberOption(opts, "reorder_window")
	if err != nil {
		if fl, isF := v.(float64); isF && math.IsInf(fl, 1) {
			return 0, fmt.Errorf("option reorder_window: an unbounded window accepts any order and makes the check vacuous")
		}
		return 0, err
	}
	if f < 0 || f != math.Trunc(f) {
		return 0, fmt.Errorf("option reorder_window: want a non-negative integer number of positions, got %v (an unbounded window is refused)", v)
	}
	if f > 1<<31 {
		return 0, fmt.Errorf("option reorder_window %v: an unbounded window accepts any order and makes the check vacuous", v)
	}
	return int(f), nil
}

// consumed reads what a consumer op observed: one element, or a list of
// them; log entries that are objects with offsetField are ordered by it
// and contribute valueField.
func consumed(raw json.RawMessage, valueField, offsetField string) (vs []value, offsets bool, err error) {
	if isNull(raw) {
		return nil, false, nil
	}
	list, ok := scanList(raw)
	if !ok {
		v, err := canonical(raw)
		return []value{v}, false, err
	}
	type entry struct {
		off float64
		v   value
	}
	entries := make([]entry, 0, len(list))
	byOffset := valueField != ""
	for j, e := range list {
		en := entry{off: float64(j)}
		t := bytes.TrimSpace(e)
		if valueField != "" && len(t) > 0 && t[0] == '{' {
			if vr, ok := jsonField(t, valueField); ok {
				e = vr
				if or, ok := jsonField(t, offsetField); ok {
					if f, ok := jsonNumber(or); ok {
						en.off = f
					} else {
						byOffset = false
					}
				} else {
					byOffset = false
				}
			} else {
				byOffset = false
			}
		} else {
			byOffset = false
		}
		v, err := canonical(e)
		if err != nil {
			return nil, false, err
		}
		en.v = v
		entries = append(entries, en)
	}
	if byOffset {
		slices.SortStableFunc(entries, func(a, b entry) int {
			switch {
			case a.off < b.off:
				return -1
			case a.off > b.off:
				return 1
			}
			return 0
		})
	}
	out := make([]value, len(entries))
	for j, e := range entries {
		out[j] = e.v
	}
	return out, byOffset, nil
}
