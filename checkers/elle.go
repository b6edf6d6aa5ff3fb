package checkers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/falsify-dev/falsify/history"
)

// The serializability checker is an Elle-style transactional checker
// (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
// Experimental Observations", VLDB 2020) over Adya's dependency graphs: it
// infers each key's version order from what reads observed, builds the
// ww / wr / rw dependency graph plus process and real-time order, and
// classifies the cycles of each strongly connected component.

// Workloads the serializability checker understands.
const (
	WorkloadListAppend = "list-append"
	WorkloadRWRegister = "rw-register"
)

// DefaultSCCBudget is the number of search steps the serializability
// checker may spend classifying the cycles of one strongly connected
// component when Options["scc_budget"] is not set.
const DefaultSCCBudget = 5_000_000

// elleMaxDrawings caps the DOT files one check writes.
const elleMaxDrawings = 100

// elleMaxListed caps the anomalies of one kind a result lists; the rest
// are counted in the evidence (and in the verdict).
const elleMaxListed = 100

// serializabilityModels are the models the checker accepts; "map" needs
// Options["workload"] or micro-ops that tell the workload.
var serializabilityModels = []string{WorkloadListAppend, "map", WorkloadRWRegister}

func serializability() *Checker {
	return &Checker{
		Name:   "serializability",
		Models: slices.Clone(serializabilityModels),
		Needs:  serializabilityNeeds,
		Check:  checkSerializability,
	}
}

// serializabilityNeeds: an indeterminate transaction must be told from a
// committed one. Process ids and times are needed only by the session and
// real-time consistency models, which Check adds to Missing.
func serializabilityNeeds(model string) []string {
	if !slices.Contains(serializabilityModels, model) {
		return nil
	}
	return []string{FieldTimeoutMarker}
}

const serializabilityScope = "dependency cycles among committed transactions (G0, G1c, G-single, " +
	"G-nonadjacent, G2-item and their -process / -realtime variants), aborted reads (G1a), " +
	"intermediate reads (G1b), internal inconsistency, future reads, dirty and lost updates, " +
	"duplicate elements, incompatible orders and cyclic version orders, with version orders inferred " +
	"only from what committed reads observed (list-append: the longest read; rw-register: the initial " +
	"state and writes that follow reads in one transaction); cannot detect anomalies on versions no " +
	"committed read observed, predicate anomalies (phantoms, G-SI beyond items), or anything on a key " +
	"where a value was written twice (such keys are skipped for ordering); an indeterminate " +
	"transaction counts as committed only when one of its writes was observed"

// elleTxnState is what became of a transaction.
type elleTxnState uint8

const (
	txnOK     elleTxnState = iota // committed (:ok)
	txnInfo                       // indeterminate (:info, timeout)
	txnFailed                     // aborted (:fail)
)

// elleMopKind is a micro-operation's function.
type elleMopKind uint8

const (
	mopRead elleMopKind = iota + 1
	mopAppend
	mopWrite
)

// elleMop is one micro-operation of a transaction.
type elleMop struct {
	f     elleMopKind
	key   value
	v     value   // the appended or written value; a register read's value
	list  []value // a list-append read's value
	known bool    // a read whose result is known
}

// elleTxn is one transaction of the history.
type elleTxn struct {
	op        int // index in Input.Ops
	id        string
	state     elleTxnState
	mops      []elleMop
	process   string
	hasProc   bool
	invoke    int64
	complete  int64
	hasTimes  bool // invoke and complete both known, invoke <= complete
	hasInvoke bool
	// committed: known (ok) or inferred (an indeterminate transaction one
	// of whose writes was read) to have committed; only these are nodes
	// of the dependency graph.
	committed bool
}

// elleFinding is one anomaly before it becomes an [Anomaly].
type elleFinding struct {
	kind   string
	key    string // display form of the key; "" for cycles
	txns   []int32
	text   string     // what happened, step by step
	detail any        // workload-specific evidence
	steps  []elleStep // the cycle, for cycle anomalies
}

// elleWorkload is the part of the check that depends on the data type.
type elleWorkload interface {
	// analyze infers version orders, marks committed transactions and
	// returns the dependency edges and the non-cycle anomalies.
	analyze(ctx context.Context, txns []elleTxn) (edges []elleRawEdge, found []elleFinding, err error)
	// explain says why step holds, naming the transactions a and b.
	explain(step elleStep, a, b string) string
	// keys is the number of keys seen; skipped the keys not ordered.
	keys() (all, skipped int)
}

// checkSerializability runs the Elle-style check.
//
// Options: "consistency" (the consistency model judged against, or a list
// of models that must all hold; default "serializable"; see
// [ConsistencyModels]), "scc_budget" (search steps
// per strongly connected component, default [DefaultSCCBudget]),
// "workload" ("list-append" or "rw-register", for model "map"), "initial"
// (rw-register: every key's initial value, default null), "per_replica"
// and "fault_window" (see [weakFields]).
func checkSerializability(ctx context.Context, in Input) (*Result, error) {
	fail := func(err error) (*Result, error) { return nil, fmt.Errorf("serializability: %w", err) }
	if !slices.Contains(serializabilityModels, in.Model) {
		return fail(fmt.Errorf("unknown model %q (supported: %s)", in.Model, strings.Join(serializabilityModels, ", ")))
	}
	consistency, proscribed, err := consistencyOption(in.Options)
	if err != nil {
		return fail(err)
	}
	sccBudget := DefaultSCCBudget
	if v, ok := in.Options["scc_budget"]; ok && v != nil {
		n, isInt := asInt64(v)
		if !isInt || n <= 0 || n > math.MaxInt32 {
			return fail(fmt.Errorf("option scc_budget: want a positive number of steps, got %v", v))
		}
		sccBudget = int(n)
	}
	kind, err := elleWorkloadKind(in)
	if err != nil {
		return fail(err)
	}
	missing, err := weakFields(serializability(), in.Model, in.Ops, in.Options)
	if err != nil {
		return fail(err)
	}
	var extra []string
	if elleNeedsProcess(proscribed) {
		extra = append(extra, FieldProcessID)
	}
	if elleNeedsRealtime(proscribed) {
		extra = append(extra, FieldInvokeTS, FieldCompleteTS)
	}
	for _, f := range MissingFields(in.Ops, extra) {
		if !slices.Contains(missing, f) {
			missing = append(missing, f)
		}
	}

	res := &Result{
		Checker:  "serializability",
		Model:    in.Model,
		OpsTotal: len(in.Ops),
		Scope:    serializabilityScope,
		Missing:  missing,
	}
	// Progress is in ops: reading them is the first half of the work,
	// inferring dependencies the next quarter, the cycle search the last.
	n := len(in.Ops)
	progress := func(done int) {
		if in.Progress != nil {
			in.Progress(done, n)
		}
	}
	progress(0)
	stoppedEarly := func() *Result {
		res.Status = StatusUnknown
		res.Partial = true
		res.Evidence = fmt.Sprintf("Elle-style check was stopped (%v) before deciding", context.Cause(ctx))
		return res
	}

	txns, err := parseElleTxns(ctx, in.Ops, kind == WorkloadListAppend, func(i int) { progress(i / 2) })
	if err != nil {
		if ctx.Err() != nil {
			return stoppedEarly(), nil
		}
		return fail(err)
	}
	res.OpsConsumed = len(txns)
	if len(txns) == 0 {
		res.Status = StatusUnknown
		res.Evidence = fmt.Sprintf("Elle-style check found no transactions (op_type \"txn\") among %s: nothing to check", plural(len(in.Ops), "op"))
		progress(len(in.Ops))
		return res, nil
	}

	var w elleWorkload
	switch kind {
	case WorkloadListAppend:
		w = &elleListAppend{}
	default:
		var initial value
		if v, ok := in.Options["initial"]; ok {
			if raw, isRaw := v.(json.RawMessage); isRaw {
				initial, err = canonical(raw)
			} else {
				initial, err = canonicalAny(v)
			}
			if err != nil {
				return fail(fmt.Errorf("option initial: %w", err))
			}
		}
		w = &elleRWRegister{initial: initial}
	}
	edges, found, err := w.analyze(ctx, txns)
	if err != nil {
		if ctx.Err() != nil {
			return stoppedEarly(), nil
		}
		return fail(err)
	}
	order, virtual := elleOrderEdges(txns)
	g := buildElleGraph(len(txns)+virtual, append(edges, order...))
	progress(n/2 + n/4)

	cycles, unclassified, err := elleSearchCycles(ctx, g, txns, sccBudget, func(frac float64) {
		progress(n/2 + n/4 + int(frac*float64(n-n/2-n/4)))
	})
	if err != nil {
		return stoppedEarly(), nil
	}
	// A stable report: anomalies of single transactions and keys first,
	// then cycles, each in history order.
	slices.SortStableFunc(found, func(a, b elleFinding) int {
		return cmp.Or(cmp.Compare(elleMinTxn(a.txns), elleMinTxn(b.txns)), cmp.Compare(a.kind, b.kind))
	})
	found = append(found, cycles...)
	found = append(found, unclassified...)
	keys, skipped := w.keys()
	res.Keys = keys
	if skipped > 0 {
		res.Partial = true
	}

	var names []string
	var violations, allowed, unknown, drawn int
	counts := map[string]int{}
	truncated := false
	for i, f := range found {
		if counts[f.kind] >= elleMaxListed {
			// Counted, not listed.
			truncated = true
			switch {
			case f.kind == AnomalyCycleExists:
				unknown++
			case proscribed[f.kind]:
				violations++
			default:
				allowed++
			}
			counts[f.kind]++
			continue
		}
		a, isViolation := elleAnomaly(f, txns, w, consistency, proscribed)
		if f.steps != nil && in.ArtifactDir != "" && drawn < elleMaxDrawings {
			drawn++
			paths, err := writeElleDOT(ctx, in.ArtifactDir, i, f, txns, w, consistency, isViolation)
			if err != nil {
				return fail(err)
			}
			if wit, ok := a.Witness.(*elleWitness); ok && len(paths) > 0 {
				wit.DOT = paths[0]
			}
			res.Artifacts = append(res.Artifacts, paths...)
		}
		res.Anomalies = append(res.Anomalies, a)
		switch {
		case f.kind == AnomalyCycleExists:
			unknown++
		case isViolation:
			violations++
		default:
			allowed++
		}
		if counts[f.kind] == 0 {
			names = append(names, f.kind)
		}
		counts[f.kind]++
	}
	switch {
	case violations > 0:
		res.Status = StatusViolation
	case unknown > 0:
		res.Status = StatusUnknown
	default:
		res.Status = StatusOK
	}
	res.Evidence = serializabilityEvidence(len(txns), keys, skipped, consistency, names, counts, violations, allowed, unknown, g)
	if truncated {
		res.Evidence += fmt.Sprintf("; the first %d of each kind are listed", elleMaxListed)
	}
	progress(len(in.Ops))
	return res, nil
}

// consistencyOption reads Options["consistency"]: a model name or a list
// of them (all must hold), Jepsen's keyword spelling (":serializable")
// accepted. It returns the models' display name and what they proscribe
// together.
func consistencyOption(opts map[string]any) (string, map[string]bool, error) {
	var names []string
	switch v := opts["consistency"].(type) {
	case nil:
		names = []string{DefaultConsistency}
	case string:
		names = []string{v}
	case []string:
		names = v
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return "", nil, fmt.Errorf("option consistency: want model names, got %T in the list", x)
			}
			names = append(names, s)
		}
	default:
		return "", nil, fmt.Errorf("option consistency: want a model name or a list of them, got %T", v)
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("option consistency: the list of models is empty")
	}
	proscribed := map[string]bool{}
	var canon []string
	for _, n := range names {
		m, err := elleCanonicalModel(strings.TrimPrefix(strings.TrimSpace(n), ":"))
		if err != nil {
			return "", nil, fmt.Errorf("option consistency: %w", err)
		}
		p, err := ProscribedAnomalies(m)
		if err != nil {
			return "", nil, err
		}
		for a := range p {
			proscribed[a] = true
		}
		if !slices.Contains(canon, m) {
			canon = append(canon, m)
		}
	}
	return strings.Join(canon, " + "), proscribed, nil
}

// elleMinTxn returns the smallest transaction index of a finding.
func elleMinTxn(txns []int32) int32 {
	if len(txns) == 0 {
		return math.MaxInt32
	}
	return slices.Min(txns)
}

// elleWorkloadKind tells the workload from the model, Options["workload"] or,
// for "map", the micro-ops themselves.
func elleWorkloadKind(in Input) (string, error) {
	if in.Model != "map" {
		return in.Model, nil
	}
	if v, ok := in.Options["workload"]; ok && v != nil {
		s, _ := v.(string)
		if s != WorkloadListAppend && s != WorkloadRWRegister {
			return "", fmt.Errorf("option workload: want %q or %q, got %v", WorkloadListAppend, WorkloadRWRegister, v)
		}
		return s, nil
	}
	// Infer from the first transaction that appends or writes: appends
	// mean list-append, writes rw-register (a later mix is refused by the
	// workload itself).
	for i := range in.Ops {
		o := &in.Ops[i]
		if o.OpType != "txn" {
			continue
		}
		mops, err := parseElleMops(o.Input, false, false)
		if err != nil {
			return "", fmt.Errorf("op %s: %w", o.OpID, err)
		}
		for _, m := range mops {
			switch m.f {
			case mopAppend:
				return WorkloadListAppend, nil
			case mopWrite:
				return WorkloadRWRegister, nil
			}
		}
	}
	return "", fmt.Errorf("model map: set option workload to %q or %q (the micro-ops do not tell)", WorkloadListAppend, WorkloadRWRegister)
}

// parseElleTxns reads every "txn" op. A committed transaction's micro-ops come
// from its output (reads filled in) when it has one, else from its input;
// the others' from their input, with reads unknown.
func parseElleTxns(ctx context.Context, ops []history.Op, lists bool, progress func(int)) ([]elleTxn, error) {
	var txns []elleTxn
	intern := map[string]string{}
	for i := range ops {
		if i&4095 == 0 {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			progress(i)
		}
		o := &ops[i]
		if o.OpType != "txn" {
			continue
		}
		t := elleTxn{op: i, id: o.OpID}
		switch {
		case o.OK():
			t.state = txnOK
		case o.Failed():
			t.state = txnFailed
		default:
			t.state = txnInfo
		}
		if o.ProcessID != nil {
			t.process, t.hasProc = *o.ProcessID, true
		}
		if o.InvokeTS != nil {
			t.invoke, t.hasInvoke = *o.InvokeTS, true
			if o.CompleteTS != nil && *o.CompleteTS >= *o.InvokeTS && t.state != txnInfo {
				t.complete, t.hasTimes = *o.CompleteTS, true
			}
		}
		raw, readsKnown := o.Input, false
		if t.state == txnOK && !isNull(o.Output) {
			raw, readsKnown = o.Output, true
		}
		mops, ok := parseElleMopsFast(raw, readsKnown, lists, intern)
		if !ok {
			var err error
			if mops, err = parseElleMops(raw, readsKnown, lists); err != nil {
				return nil, fmt.Errorf("op %s: %w", o.OpID, err)
			}
		}
		t.mops = mops
		txns = append(txns, t)
	}
	return txns, nil
}

// parseElleMops reads a transaction's micro-ops: a JSON array of [f, k, v]
// arrays, f one of "append", "r" / "read", "w" / "write". With lists, a
// read's value is a list (null: the empty list); else any value.
func parseElleMops(raw json.RawMessage, readsKnown, lists bool) ([]elleMop, error) {
	if isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("transaction %.60s: want a list of micro-ops [f, k, v]: %w", raw, err)
	}
	mops := make([]elleMop, 0, len(list))
	for _, m := range list {
		var parts []json.RawMessage
		if err := json.Unmarshal(m, &parts); err != nil || len(parts) != 3 {
			return nil, fmt.Errorf("micro-op %.60s: want [f, k, v]", m)
		}
		f, err := canonical(parts[0])
		if err != nil || f.kind != kindString {
			return nil, fmt.Errorf("micro-op %.60s: want a function name", m)
		}
		var x elleMop
		switch f.s {
		case "append":
			x.f = mopAppend
		case "r", "read":
			x.f = mopRead
		case "w", "write":
			x.f = mopWrite
		default:
			return nil, fmt.Errorf("micro-op %.60s: unknown function %q (want append, r or w)", m, f.s)
		}
		if x.key, err = canonical(parts[1]); err != nil {
			return nil, fmt.Errorf("micro-op %.60s: key: %w", m, err)
		}
		if x.f != mopRead {
			if x.v, err = canonical(parts[2]); err != nil {
				return nil, fmt.Errorf("micro-op %.60s: value: %w", m, err)
			}
			mops = append(mops, x)
			continue
		}
		x.known = readsKnown
		if !readsKnown {
			mops = append(mops, x)
			continue
		}
		if !lists {
			if x.v, err = canonical(parts[2]); err != nil {
				return nil, fmt.Errorf("micro-op %.60s: value: %w", m, err)
			}
			mops = append(mops, x)
			continue
		}
		if !isNull(parts[2]) {
			elems, ok := asList(parts[2])
			if !ok {
				return nil, fmt.Errorf("micro-op %.60s: a list-append read returns a list", m)
			}
			x.list = make([]value, len(elems))
			for i, e := range elems {
				if x.list[i], err = canonical(e); err != nil {
					return nil, fmt.Errorf("micro-op %.60s: element: %w", m, err)
				}
			}
		}
		mops = append(mops, x)
	}
	return mops, nil
}

// elleOrderEdges returns the process-order and real-time edges among committed
// transactions, and how many virtual nodes the real-time edges use.
//
// Process order links each transaction to the last committed and
// acknowledged one its process completed before invoking it.
//
// Real-time order (a completed before b was invoked) can have a
// transitive reduction of quadratic size (a batch of transactions all
// completing before another batch starts), so it goes through a chain of
// virtual barrier nodes, numbered from len(txns) on: when a transaction
// is invoked after some completed since the last barrier, a new barrier
// follows the last one and those completed transactions, and the invoked
// transaction follows the current barrier. a reaches b through barriers
// exactly when a completed before b was invoked; the edges are linear in
// number. Cycles are read with the barriers contracted away.
func elleOrderEdges(txns []elleTxn) (edges []elleRawEdge, virtual int) {
	// Process order.
	byProc := map[string][]int32{}
	for i := range txns {
		t := &txns[i]
		if t.committed && t.hasProc {
			byProc[t.process] = append(byProc[t.process], int32(i))
		}
	}
	for _, list := range byProc {
		slices.SortStableFunc(list, func(a, b int32) int {
			ta, tb := &txns[a], &txns[b]
			if ta.hasInvoke && tb.hasInvoke {
				return cmp.Compare(ta.invoke, tb.invoke)
			}
			return cmp.Compare(ta.op, tb.op)
		})
		last := int32(-1)
		for _, i := range list {
			t := &txns[i]
			if last >= 0 {
				l := &txns[last]
				if !(l.hasTimes && t.hasInvoke) || l.complete <= t.invoke {
					edges = append(edges, elleRawEdge{last, i, edgeProcess})
				}
			}
			if t.state == txnOK {
				last = i
			}
		}
	}
	// Real-time order.
	type event struct {
		at     int64
		txn    int32
		invoke bool
	}
	var events []event
	for i := range txns {
		t := &txns[i]
		if !t.committed || !t.hasInvoke {
			continue
		}
		events = append(events, event{t.invoke, int32(i), true})
		if t.hasTimes {
			events = append(events, event{t.complete, int32(i), false})
		}
	}
	// Invocations sort before completions at the same instant: real-time
	// order needs complete < invoke strictly.
	slices.SortFunc(events, func(a, b event) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if a.invoke != b.invoke {
			if a.invoke {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.txn, b.txn)
	})
	barrier := int32(-1)
	var completed []int32 // since the last barrier
	for _, e := range events {
		if !e.invoke {
			completed = append(completed, e.txn)
			continue
		}
		if len(completed) > 0 {
			next := int32(len(txns) + virtual)
			virtual++
			if barrier >= 0 {
				edges = append(edges, elleRawEdge{barrier, next, edgeRealtime})
			}
			for _, c := range completed {
				edges = append(edges, elleRawEdge{c, next, edgeRealtime})
			}
			barrier, completed = next, completed[:0]
		}
		if barrier >= 0 {
			edges = append(edges, elleRawEdge{barrier, e.txn, edgeRealtime})
		}
	}
	return edges, virtual
}

// elleContract rewrites a cycle through barrier nodes (n >= real) as one over
// transactions only: the real-time hops a → barrier … → c become one
// real-time step a → c.
func elleContract(steps []elleStep, real int32) []elleStep {
	first := slices.IndexFunc(steps, func(st elleStep) bool { return st.from < real })
	if first < 0 {
		return nil
	}
	steps = slices.Concat(steps[first:], steps[:first])
	var out []elleStep
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		for st.to >= real {
			i++
			st = elleStep{from: st.from, to: steps[i].to, kind: edgeRealtime}
		}
		out = append(out, st)
	}
	return out
}

// elleSearchCycles finds the strongly connected components of the whole graph
// and classifies the cycles in each, within budget steps per component,
// reporting the fraction of their nodes done through progress.
// It returns the cycles found and, for components whose search ran out
// of budget, a cycle-exists finding.
func elleSearchCycles(ctx context.Context, g *elleGraph, txns []elleTxn, perSCC int, progress func(frac float64)) (cycles, unclassified []elleFinding, err error) {
	all := make([]int32, g.n)
	zero := make([]int32, g.n)
	comp := make([]int32, g.n)
	for i := range all {
		all[i] = int32(i)
	}
	b := &elleBudget{ctx: ctx, left: math.MaxInt}
	comps, ok := g.sccs(all, zero, 0, edgeAll, comp, b)
	if !ok {
		return nil, nil, ctx.Err()
	}
	sub := make([]int32, g.n)
	for i := range sub {
		sub[i] = -1
	}
	s := &elleCycleSearch{g: g, real: int32(len(txns)), member: comp, sub: sub, linear: &elleBudget{ctx: ctx, left: math.MaxInt}}
	inSCCs, searched := 0, 0
	for _, nodes := range comps {
		inSCCs += len(nodes)
	}
	for id, nodes := range comps {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		progress(float64(searched) / float64(inSCCs))
		searched += len(nodes)
		s.budget = &elleBudget{ctx: ctx, left: perSCC}
		got, exhausted := s.component(int32(id), nodes)
		cycles = append(cycles, got...)
		if exhausted {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			nodes = slices.DeleteFunc(slices.Clone(nodes), func(n int32) bool { return n >= s.real })
			ids := make([]string, 0, min(len(nodes), 10))
			for _, n := range nodes[:min(len(nodes), 10)] {
				ids = append(ids, txns[n].id)
			}
			more := ""
			if len(nodes) > 10 {
				more = fmt.Sprintf(" and %s more", thousands(len(nodes)-10))
			}
			unclassified = append(unclassified, elleFinding{
				kind: AnomalyCycleExists,
				txns: nodes,
				text: fmt.Sprintf("a dependency cycle exists among %s (ops %s%s) but the search budget of %s steps ran out before its cycles were all classified",
					plural(len(nodes), "transaction"), strings.Join(ids, ", "), more, thousands(perSCC)),
				detail: map[string]any{"scc_size": len(nodes), "scc_budget": perSCC},
			})
		}
	}
	return cycles, unclassified, nil
}

// elleCycleSearch classifies the cycles of one strongly connected component.
type elleCycleSearch struct {
	g    *elleGraph
	real int32 // nodes from here on are real-time barriers

	member []int32     // component number per node
	sub    []int32     // scratch: sub-component per node, -1 elsewhere
	budget *elleBudget // the component's budget for the searches per rw edge
	linear *elleBudget // unlimited: the linear-time passes (stops on cancellation)
}

// elleLevels are the edge sets the classes are searched with: data
// dependencies alone, then with process order, then with real-time order.
var elleLevels = []elleEdgeMask{0, edgeProcess, edgeProcess | edgeRealtime}

// component searches component id (its nodes sorted) for G0, G1c,
// G-single, G-nonadjacent and G2-item cycles, first on data dependencies
// alone, then with process and real-time order. A class is searched only
// when no class found so far implies it (a G0 cycle is a G1c cycle; a
// cycle found without process edges needs none).
//
// G0, G1c and G2-item are decided in linear time (an edge of the needed
// kind inside a strongly connected component of the allowed edges lies on
// such a cycle). G-single and G-nonadjacent need a search per rw edge,
// which spends the component's budget; exhausted is true when it ran out
// (or the context ended) before they were decided.
func (s *elleCycleSearch) component(id int32, nodes []int32) (found []elleFinding, exhausted bool) {
	implied := map[string]bool{}
	add := func(steps []elleStep) {
		steps = elleContract(steps, s.real)
		// Start the cycle at its earliest transaction, for reading.
		first := 0
		for i, st := range steps {
			if st.from < steps[first].from {
				first = i
			}
		}
		steps = slices.Concat(steps[first:], steps[:first])
		class := elleClassify(steps)
		if class == "" || implied[class] {
			return
		}
		for a := range elleClosure(elleAnomalyImplies, class) {
			implied[a] = true
		}
		f := elleFinding{kind: class, steps: steps}
		for _, st := range steps {
			f.txns = append(f.txns, st.from)
		}
		found = append(found, f)
	}
	defer s.resetSub(nodes)
	for _, extra := range elleLevels {
		suffix := ""
		switch {
		case extra&edgeRealtime != 0:
			suffix = elleSuffixRealtime
		case extra&edgeProcess != 0:
			suffix = elleSuffixProcess
		}
		nonRWAllowed := edgeWW | edgeWR | extra
		searches := []struct {
			class    string
			budgeted bool
			run      func() ([]elleStep, bool)
		}{
			{AnomalyG0, false, func() ([]elleStep, bool) { return s.anyCycle(id, nodes, edgeWW|extra, 0) }},
			{AnomalyG1c, false, func() ([]elleStep, bool) { return s.anyCycle(id, nodes, nonRWAllowed, edgeWR) }},
			{AnomalyGSingle, true, func() ([]elleStep, bool) { return s.singleRW(id, nodes, nonRWAllowed) }},
			{AnomalyGNonadjacent, true, func() ([]elleStep, bool) { return s.nonadjacent(id, nodes, nonRWAllowed) }},
			{AnomalyG2Item, false, func() ([]elleStep, bool) { return s.anyCycle(id, nodes, edgeData|extra, edgeRW) }},
		}
		for _, search := range searches {
			if implied[search.class+suffix] || search.budgeted && s.budget.out {
				continue
			}
			steps, ok := search.run()
			if !ok {
				if s.linear.out {
					return found, true // cancelled
				}
				exhausted = true
				continue
			}
			if steps != nil {
				add(steps)
			}
		}
	}
	return found, exhausted
}

func (s *elleCycleSearch) resetSub(nodes []int32) {
	for _, n := range nodes {
		s.sub[n] = -1
	}
}

// anyCycle finds a shortest cycle over edges meeting allowed that uses an
// edge of kind need (any edge when need is 0) for its first step: a
// need-edge whose ends share a strongly connected component of that
// subgraph lies on such a cycle. ok is false when the budget ran out.
func (s *elleCycleSearch) anyCycle(id int32, nodes []int32, allowed, need elleEdgeMask) (steps []elleStep, ok bool) {
	g, b := s.g, s.linear
	defer s.resetSub(nodes)
	comps, ok := g.sccs(nodes, s.member, id, allowed, s.sub, b)
	if !ok {
		return nil, false
	}
	if len(comps) == 0 {
		return nil, true
	}
	first := need
	if first == 0 {
		first = allowed
	}
	order := append(slices.Clone(elleNonRW), edgeRW)
	for _, c := range comps {
		for _, a := range c {
			for e := g.start[a]; e < g.start[a+1]; e++ {
				w := g.to[e]
				if s.sub[w] != s.sub[a] || g.mask[e]&first == 0 {
					continue
				}
				kind := elleFirstKind(g.mask[e]&first, order...)
				// Prefer non-rw steps for the rest: the fewer rw edges, the
				// more specific the class.
				path, found, out := g.shortestPath(w, 0, s.sub, s.sub[a], func(_ uint8, m elleEdgeMask) [2]elleMove {
					return [2]elleMove{{elleFirstKind(m&allowed, order...), 0}}
				}, func(p ellePathState) bool { return p.node == a }, b)
				if out {
					return nil, false
				}
				if found {
					return append([]elleStep{{a, w, kind}}, path...), true
				}
			}
		}
	}
	return nil, true
}

// singleRW finds a cycle with exactly one rw edge: an rw edge a→b and a
// path b→a over nonRW edges. Edges whose ends share a component of the
// non-rw subgraph are tried first (the path surely exists), then the rest.
func (s *elleCycleSearch) singleRW(id int32, nodes []int32, nonRWAllowed elleEdgeMask) (steps []elleStep, ok bool) {
	g := s.g
	defer s.resetSub(nodes)
	if _, ok := g.sccs(nodes, s.member, id, nonRWAllowed, s.sub, s.linear); !ok {
		return nil, false
	}
	next := func(_ uint8, m elleEdgeMask) [2]elleMove {
		return [2]elleMove{{elleFirstKind(m&nonRWAllowed, elleNonRW...), 0}}
	}
	for pass := 0; pass < 2; pass++ {
		for _, a := range nodes {
			for e := g.start[a]; e < g.start[a+1]; e++ {
				w := g.to[e]
				if s.member[w] != id || g.mask[e]&edgeRW == 0 {
					continue
				}
				same := s.sub[a] >= 0 && s.sub[a] == s.sub[w]
				if same != (pass == 0) {
					continue
				}
				// Within one component of the non-rw edges the path
				// exists: finding it is linear. Elsewhere it is a search.
				member, want, b := s.member, id, s.budget
				if same {
					member, want, b = s.sub, s.sub[a], s.linear
				}
				path, found, out := g.shortestPath(w, 0, member, want, next, func(p ellePathState) bool { return p.node == a }, b)
				if out {
					return nil, false
				}
				if found {
					return append([]elleStep{{a, w, edgeRW}}, path...), true
				}
			}
		}
	}
	return nil, true
}

// nonadjacent finds a cycle with at least two rw edges, no two of them
// consecutive: from an rw edge a→b, a search over (node, last step was
// rw, a second rw was used) back to a with a non-rw last step.
func (s *elleCycleSearch) nonadjacent(id int32, nodes []int32, nonRWAllowed elleEdgeMask) (steps []elleStep, ok bool) {
	const lastRW, sawRW = 1, 2
	g, b := s.g, s.budget
	next := func(st uint8, m elleEdgeMask) [2]elleMove {
		var t [2]elleMove
		if k := elleFirstKind(m&nonRWAllowed, elleNonRW...); k != 0 {
			t[0] = elleMove{k, st &^ lastRW}
		}
		if m&edgeRW != 0 && st&lastRW == 0 {
			t[1] = elleMove{edgeRW, lastRW | sawRW}
		}
		return t
	}
	for _, a := range nodes {
		for e := g.start[a]; e < g.start[a+1]; e++ {
			w := g.to[e]
			if s.member[w] != id || g.mask[e]&edgeRW == 0 {
				continue
			}
			path, found, out := g.shortestPath(w, lastRW, s.member, id, next,
				func(p ellePathState) bool { return p.node == a && p.state == sawRW }, b)
			if out {
				return nil, false
			}
			if found {
				return append([]elleStep{{a, w, edgeRW}}, path...), true
			}
		}
	}
	return nil, true
}

// elleClassify names a cycle's class from the relations it uses; ""
// for a cycle of process and real-time order alone, which only
// contradictory timestamps can produce and which says nothing about the
// data.
func elleClassify(steps []elleStep) string {
	var rw, wr, ww int
	var process, realtime, adjacent bool
	for i, st := range steps {
		switch st.kind {
		case edgeRW:
			rw++
			if steps[(i+1)%len(steps)].kind == edgeRW {
				adjacent = true
			}
		case edgeWR:
			wr++
		case edgeWW:
			ww++
		case edgeProcess:
			process = true
		case edgeRealtime:
			realtime = true
		}
	}
	var class string
	switch {
	case rw == 0 && wr == 0 && ww == 0:
		return ""
	case rw == 0 && wr == 0:
		class = AnomalyG0
	case rw == 0:
		class = AnomalyG1c
	case rw == 1:
		class = AnomalyGSingle
	case !adjacent:
		class = AnomalyGNonadjacent
	default:
		class = AnomalyG2Item
	}
	switch {
	case realtime:
		class += elleSuffixRealtime
	case process:
		class += elleSuffixProcess
	}
	return class
}

// elleWitness is the evidence of a serializability anomaly.
type elleWitness struct {
	Anomaly     string `json:"anomaly"`
	Consistency string `json:"consistency"`
	// Proscribed: the consistency model forbids this anomaly (a
	// violation); false means it was found but the model allows it.
	Proscribed bool       `json:"proscribed"`
	Txns       []string   `json:"txns,omitempty"`  // the cycle's op ids, in cycle order
	Edges      []elleEdge `json:"edges,omitempty"` // the cycle's steps
	Detail     any        `json:"detail,omitempty"`
	DOT        string     `json:"dot,omitempty"` // the cycle's Graphviz file
}

// elleEdge is one step of a cycle.
type elleEdge struct {
	From string `json:"from"` // op id
	To   string `json:"to"`
	Kind string `json:"kind"` // ww, wr, rw, process, realtime
	Why  string `json:"why"`
}

// elleTxnName is the name a cycle's i-th transaction goes by.
func elleTxnName(i int) string { return "T" + strconv.Itoa(i+1) }

// elleCycleNames numbers a cycle's transactions T1, T2, … in cycle order.
func elleCycleNames(steps []elleStep) map[int32]string {
	names := map[int32]string{}
	for _, st := range steps {
		if _, ok := names[st.from]; !ok {
			names[st.from] = elleTxnName(len(names))
		}
	}
	return names
}

// elleExplain says why a cycle step holds.
func elleExplain(st elleStep, txns []elleTxn, w elleWorkload, names map[int32]string) string {
	a, b := names[st.from], names[st.to]
	ta, tb := &txns[st.from], &txns[st.to]
	switch st.kind {
	case edgeProcess:
		return fmt.Sprintf("%s and %s ran in that order on process %s", a, b, ta.process)
	case edgeRealtime:
		return fmt.Sprintf("%s completed (at %d) before %s was invoked (at %d)", a, ta.complete, b, tb.invoke)
	}
	return w.explain(st, a, b)
}

// elleAnomaly turns a finding into the reported anomaly and says whether
// the consistency model forbids it.
func elleAnomaly(f elleFinding, txns []elleTxn, w elleWorkload, consistency string, proscribed map[string]bool) (Anomaly, bool) {
	isViolation := proscribed[f.kind] && f.kind != AnomalyCycleExists
	wit := &elleWitness{Anomaly: f.kind, Consistency: consistency, Proscribed: isViolation, Detail: f.detail}
	verdict := "allowed by " + consistency
	switch {
	case f.kind == AnomalyCycleExists:
		verdict = "not classified: the verdict for this component is unknown"
	case isViolation:
		verdict = "proscribed by " + consistency
	}
	var ids []string
	var text string
	if f.steps != nil {
		names := elleCycleNames(f.steps)
		var parts, who []string
		for _, st := range f.steps {
			why := elleExplain(st, txns, w, names)
			parts = append(parts, fmt.Sprintf("%s < %s because %s (%s)", names[st.from], names[st.to], why, st.kind.name()))
			wit.Edges = append(wit.Edges, elleEdge{From: txns[st.from].id, To: txns[st.to].id, Kind: st.kind.name(), Why: why})
			wit.Txns = append(wit.Txns, txns[st.from].id)
			who = append(who, fmt.Sprintf("%s = op %s", names[st.from], txns[st.from].id))
		}
		ids = wit.Txns
		text = fmt.Sprintf("%s cycle of %s (%s): %s; so %s precedes itself.",
			f.kind, plural(len(f.steps), "transaction"), strings.Join(who, ", "), strings.Join(parts, "; "), names[f.steps[0].from])
	} else {
		for _, t := range f.txns {
			ids = append(ids, txns[t].id)
		}
		text = f.text
	}
	return Anomaly{
		Kind:        f.kind,
		Key:         f.key,
		Description: fmt.Sprintf("%s (%s): %s", f.kind, verdict, text),
		OpIDs:       ids,
		Witness:     wit,
	}, isViolation
}

// serializabilityEvidence writes the execution evidence sentence.
func serializabilityEvidence(txns, keys, skipped int, consistency string, names []string, counts map[string]int,
	violations, allowed, unknown int, g *elleGraph) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Elle-style check of %s over %s", plural(txns, "txn"), plural(keys, "key"))
	if skipped > 0 {
		fmt.Fprintf(&b, " (%s not ordered: a value written twice or unreadable order)", plural(skipped, "key"))
	}
	b.WriteString(": ")
	edges := fmt.Sprintf("; %s in the dependency graph", plural(len(g.to), "edge"))
	total := violations + allowed + unknown
	if total == 0 {
		fmt.Fprintf(&b, "0 anomalies (%s)%s", consistency, edges)
		return b.String()
	}
	var list []string
	for _, n := range names {
		list = append(list, fmt.Sprintf("%s ×%d", n, counts[n]))
	}
	fmt.Fprintf(&b, "%s (%s); %s proscribed by %s", plural(total, "anomaly"), strings.Join(list, ", "), thousands(violations), consistency)
	if allowed > 0 {
		fmt.Fprintf(&b, ", %s found but allowed", thousands(allowed))
	}
	if unknown > 0 {
		fmt.Fprintf(&b, ", %s not classified within the search budget", plural(unknown, "cycle component"))
	}
	b.WriteString(edges)
	return b.String()
}
