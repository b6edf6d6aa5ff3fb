package checkers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
)

// setModels are the models set and set-full accept.
var setModels = []string{"set"}

// addOpTypes add an element to a set.
var addOpTypes = map[string]bool{"add": true, "insert": true, "write": true, "put": true}

func setChecker() *Checker {
	return &Checker{
		Name:   "set",
		Models: slices.Clone(setModels),
		Needs:  needsFor(setModels, FieldTimeoutMarker),
		Check:  checkSet,
	}
}

func setFull() *Checker {
	return &Checker{
		Name:   "set-full",
		Models: slices.Clone(setModels),
		Needs:  needsFor(setModels, FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker),
		Check:  checkSetFull,
	}
}

const setScope = "Jepsen's set: against the final read, every acknowledged add must be present (lost otherwise) " +
	"and every element read must have been attempted (unexpected otherwise); indeterminate adds may be present or " +
	"not (recovered when present); the final read must follow recovery and quiescence; cannot detect elements lost " +
	"and re-added, or transient anomalies between reads (use set-full)"

const setFullScope = "Jepsen's set-full: every element's timeline across all reads; lost (known — acknowledged or " +
	"read — then absent from every read that began after the last read that saw it), stale (absent from a read " +
	"that began after it was known, then present again; a violation with linearizable true), never-read (no read " +
	"began after it was known: no conclusion), unexpected (read but never attempted) and duplicated (twice in one " +
	"read); cannot detect anomalies on elements no read could observe"

// setElement is what the history says about one element.
type setElement struct {
	v        value
	addOps   []int // attempts
	acked    bool
	failed   bool  // every attempt failed
	known    int64 // when it was known present: its add's completion (or first read completing with it)
	knownBy  int   // the op that made it known
	lastSeen int   // the read (by invoke order) that last saw it, -1
	inFinal  bool  // present in the final read (set)
	stale    []int // reads missing it after it was known, before it was last seen
}

// setWitness lists elements by outcome.
type setWitness struct {
	Read     string   `json:"final_read,omitempty"`
	Elements []any    `json:"elements"`
	Ops      []string `json:"ops"`
}

// setHistory collects the adds of a set history.
func setHistory(in Input) (map[value]*setElement, []*setElement, error) {
	elems := make(map[value]*setElement, len(in.Ops))
	var order []*setElement
	for i := range in.Ops {
		o := &in.Ops[i]
		if !addOpTypes[o.OpType] {
			continue
		}
		v, err := canonical(o.Input)
		if err != nil {
			return nil, nil, fmt.Errorf("op %s: %w", o.OpID, err)
		}
		e := elems[v]
		if e == nil {
			e = &setElement{v: v, failed: true, known: math.MaxInt64, knownBy: -1, lastSeen: -1}
			elems[v] = e
			order = append(order, e)
		}
		e.addOps = append(e.addOps, i)
		if !o.Failed() {
			e.failed = false
		}
		if o.OK() {
			e.acked = true
			if t := completeOf(o, math.MaxInt64); t < e.known {
				e.known, e.knownBy = t, i
			}
		}
	}
	return elems, order, nil
}

// readSet decodes a read's output as a list of elements.
func readSet(out []byte) ([]value, error) {
	list, ok := scanList(out)
	if !ok {
		return nil, fmt.Errorf("output %.40s is not a list", out)
	}
	vs := make([]value, len(list))
	for i, e := range list {
		v, err := canonical(e)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

// checkSet checks a set history against its final read: the last
// successful read (by completion time), or a final-state State when one
// is recorded (Options "state" picks it by name).
func checkSet(ctx context.Context, in Input) (*Result, error) {
	const name = "set"
	if err := checkModel(name, setModels, in.Model); err != nil {
		return nil, err
	}
	only, err := stringOption(in.Options, "state", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(setChecker(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, setScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)
	elems, order, err := setHistory(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if ctx.Err() != nil {
		return halted(res, ctx), nil
	}
	var final []value
	source, readID := "", ""
	for _, st := range statesOf(in.States, StateFinal) {
		if only == "" || st.Name == only {
			if final, err = readSet(st.Data); err != nil {
				return nil, fmt.Errorf("%s: final state %q: %w", name, st.Name, err)
			}
			source = fmt.Sprintf("final state %q", st.Name)
			break
		}
	}
	if source == "" {
		last, lastT := -1, int64(math.MinInt64)
		for i := range in.Ops {
			o := &in.Ops[i]
			if readOpTypes[o.OpType] && o.OK() {
				if t := completeOf(o, math.MaxInt64); last < 0 || t >= lastT {
					last, lastT = i, t
				}
			}
		}
		if last < 0 {
			progress(len(in.Ops))
			res.Missing = append(res.Missing, "final read")
			return undecided(res, fmt.Sprintf("no successful read and no final-state among %s: the set was never observed", plural(len(in.Ops), "op"))), nil
		}
		readID = in.Ops[last].OpID
		source = "final read " + readID
		if final, err = readSet(in.Ops[last].Output); err != nil {
			return nil, fmt.Errorf("%s: read %s: %w", name, readID, err)
		}
	}
	var unexpected, failedPresent []value
	unexpectedSeen := map[value]bool{}
	for _, v := range final {
		e, ok := elems[v]
		switch {
		case !ok:
			if !unexpectedSeen[v] {
				unexpectedSeen[v] = true
				unexpected = append(unexpected, v)
			}
		case e.inFinal:
		default:
			e.inFinal = true
			if e.failed {
				failedPresent = append(failedPresent, v)
			}
		}
	}
	var lost []value
	ok, recovered, maybeAbsent := 0, 0, 0
	for _, e := range order {
		switch {
		case e.acked && e.inFinal:
			ok++
		case e.acked:
			lost = append(lost, e.v)
		case e.failed:
		case e.inFinal:
			recovered++
		default:
			maybeAbsent++
		}
	}
	opsOf := func(vs []value) []string {
		var ids []string
		for _, v := range vs {
			if e, ok := elems[v]; ok {
				for _, i := range e.addOps {
					ids = append(ids, in.Ops[i].OpID)
				}
			}
		}
		if readID != "" {
			ids = append(ids, readID)
		}
		return ids
	}
	report := func(kind string, vs []value, what string) {
		if len(vs) == 0 {
			return
		}
		w := setWitness{Read: readID, Ops: opsOf(vs)}
		var shown []string
		for _, v := range vs {
			w.Elements = append(w.Elements, v.any())
			shown = append(shown, v.JSON())
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: kind,
			Description: fmt.Sprintf("%s %s: %s", plural(len(vs), "element"), what, preview(shown, 10)),
			OpIDs:       w.Ops, Witness: w})
	}
	report("lost", lost, "acknowledged but absent from the "+source)
	report("unexpected", unexpected, "in the "+source+" but never added")
	report("unexpected", failedPresent, "in the "+source+" although every add of them failed")
	decideByAnomalies(res)
	res.OpsConsumed = len(in.Ops)
	res.Keys = 1
	res.Evidence = fmt.Sprintf("set checked %s: %s attempted against the %s (%s): %s ok, %s lost, %s unexpected, %s recovered, %s indeterminate and absent",
		plural(len(in.Ops), "op"), plural(len(order), "element"), source, plural(len(final), "element"),
		thousands(ok), thousands(len(lost)), thousands(len(unexpected)+len(failedPresent)), thousands(recovered), thousands(maybeAbsent))
	progress(len(in.Ops))
	return res, nil
}

// checkSetFull follows every element through every read (Jepsen's
// set-full).
//
// Options: "linearizable" (true: a stale read is a violation, as for a
// linearizable set).
func checkSetFull(ctx context.Context, in Input) (*Result, error) {
	const name = "set-full"
	if err := checkModel(name, setModels, in.Model); err != nil {
		return nil, err
	}
	linearizable, err := boolOption(in.Options, "linearizable")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(setFull(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, setFullScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)
	elems, order, err := setHistory(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var readIdx []int
	for i := range in.Ops {
		if readOpTypes[in.Ops[i].OpType] && in.Ops[i].OK() {
			readIdx = append(readIdx, i)
		}
	}
	readIdx = sortedByInvoke(in.Ops, readIdx)
	if len(readIdx) == 0 {
		res.Missing = append(res.Missing, "read")
		return undecided(res, fmt.Sprintf("no successful read among %s: no element's timeline can be followed", plural(len(in.Ops), "op"))), nil
	}
	invokes := make([]int64, len(readIdx))
	contents := make([]map[value]bool, len(readIdx))
	var unexpected []value
	unexpectedOps := map[value]string{}
	var dupAnoms []Anomaly
	for r, i := range readIdx {
		if cancelled(ctx, r) {
			return halted(res, ctx), nil
		}
		o := &in.Ops[i]
		invokes[r] = invokeOf(o, math.MinInt64)
		vs, err := readSet(o.Output)
		if err != nil {
			return nil, fmt.Errorf("%s: read %s: %w", name, o.OpID, err)
		}
		set := make(map[value]bool, len(vs))
		var dups []string
		for _, v := range vs {
			if set[v] {
				dups = append(dups, v.JSON())
				continue
			}
			set[v] = true
			e, ok := elems[v]
			if !ok || e.failed {
				if _, seen := unexpectedOps[v]; !seen {
					unexpected = append(unexpected, v)
					unexpectedOps[v] = o.OpID
				}
				continue
			}
			if t := completeOf(o, math.MaxInt64); t < e.known {
				e.known, e.knownBy = t, i
			}
			e.lastSeen = r // reads are in invoke order
		}
		if len(dups) > 0 {
			dupAnoms = append(dupAnoms, Anomaly{Kind: "duplicated",
				Description: fmt.Sprintf("read %s holds %s more than once: %s", o.OpID, plural(len(dups), "element"), preview(dups, 10)),
				OpIDs:       []string{o.OpID}, Witness: setWitness{Read: o.OpID, Ops: []string{o.OpID}}})
		}
		contents[r] = set
	}
	// after returns the index of the first read invoked strictly after t.
	after := func(t int64) int {
		return sort.Search(len(invokes), func(r int) bool { return invokes[r] > t })
	}
	var lost, stale []value
	stable, neverRead, unknown := 0, 0, 0
	staleReads := 0
	for n, e := range order {
		if cancelled(ctx, n) {
			return halted(res, ctx), nil
		}
		v := e.v
		if e.failed {
			continue
		}
		if e.known == math.MaxInt64 {
			unknown++ // indeterminate and never read
			continue
		}
		first := after(e.known)
		if first == len(readIdx) {
			neverRead++
			continue
		}
		// Lost: a read began after the last read that saw it completed.
		lastEnd := e.known
		if e.lastSeen >= 0 {
			lastEnd = max(lastEnd, completeOf(&in.Ops[readIdx[e.lastSeen]], math.MaxInt64))
		}
		if after(lastEnd) < len(readIdx) {
			lost = append(lost, v)
			continue
		}
		for r := first; r < len(readIdx) && r < e.lastSeen; r++ {
			if !contents[r][v] {
				e.stale = append(e.stale, readIdx[r])
			}
		}
		if len(e.stale) > 0 {
			stale = append(stale, v)
			staleReads += len(e.stale)
		} else {
			stable++
		}
	}
	describe := func(v value) string {
		e := elems[v]
		s := v.JSON()
		if e.knownBy >= 0 {
			s += " (known from " + in.Ops[e.knownBy].OpID + ")"
		}
		return s
	}
	if len(lost) > 0 {
		w := setWitness{}
		var shown []string
		for _, v := range lost {
			e := elems[v]
			w.Elements = append(w.Elements, v.any())
			if e.knownBy >= 0 {
				w.Ops = append(w.Ops, in.Ops[e.knownBy].OpID)
			}
			last := "never read"
			if e.lastSeen >= 0 {
				last = "last seen by " + in.Ops[readIdx[e.lastSeen]].OpID
			}
			shown = append(shown, describe(v)+", "+last)
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: "lost",
			Description: fmt.Sprintf("%s known present, then absent from every later read: %s", plural(len(lost), "element"), preview(shown, 8)),
			OpIDs:       w.Ops, Witness: w})
	}
	if len(unexpected) > 0 {
		w := setWitness{}
		var shown []string
		for _, v := range unexpected {
			w.Elements = append(w.Elements, v.any())
			w.Ops = append(w.Ops, unexpectedOps[v])
			shown = append(shown, v.JSON()+" in "+unexpectedOps[v])
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: "unexpected",
			Description: fmt.Sprintf("%s read but never successfully added: %s", plural(len(unexpected), "element"), preview(shown, 8)),
			OpIDs:       w.Ops, Witness: w})
	}
	res.Anomalies = append(res.Anomalies, dupAnoms...)
	if len(stale) > 0 && linearizable {
		w := setWitness{}
		var shown []string
		for _, v := range stale {
			e := elems[v]
			w.Elements = append(w.Elements, v.any())
			for _, r := range e.stale {
				w.Ops = append(w.Ops, in.Ops[r].OpID)
			}
			shown = append(shown, fmt.Sprintf("%s missed by %s", describe(v), in.Ops[e.stale[0]].OpID))
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: "stale",
			Description: fmt.Sprintf("%s missing from reads that began after they were known: %s", plural(len(stale), "element"), preview(shown, 8)),
			OpIDs:       w.Ops, Witness: w})
	}
	decideByAnomalies(res)
	res.OpsConsumed = len(in.Ops)
	res.Keys = 1
	staleNote := "not a violation"
	if linearizable {
		staleNote = "a violation: linearizable"
	}
	res.Evidence = fmt.Sprintf("set-full checked %s: %s over %s: %s stable, %s lost, %s stale (%s; %s), %s never read, %s indeterminate and never seen, %s unexpected, %s with duplicates",
		plural(len(in.Ops), "op"), plural(len(order), "element"), plural(len(readIdx), "read"), thousands(stable), thousands(len(lost)),
		thousands(len(stale)), plural(staleReads, "stale read"), staleNote, thousands(neverRead), thousands(unknown), thousands(len(unexpected)),
		plural(len(dupAnoms), "read"))
	progress(len(in.Ops))
	return res, nil
}
