package checkers

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// elleRWRegister is the rw-register workload: keys are registers,
// transactions write values (unique per key) and read them.
//
// A key's version order is inferred soundly, as Elle does without
// process or real-time assumptions: the initial value precedes every
// write, and a committed transaction that read v1 and then wrote v2 to the
// same key put v2 after v1.
type elleRWRegister struct {
	initial value
	txns    []elleTxn
	writer  map[elleElem]int32 // who wrote v to k (any write, any transaction)
	// preds: per written version, the versions inferred to precede it
	// directly (initState for the initial value).
	preds   map[elleElem][]value
	readers map[elleElem][]int32 // committed external reads per version
	initAmb map[value]bool       // keys where the initial value was also written
	nkeys   int
	skipped int
}

func (w *elleRWRegister) keys() (int, int) { return w.nkeys, w.skipped }

// writerOf returns the transaction that wrote e, or writerNone /
// writerSeveral.
func (w *elleRWRegister) writerOf(e elleElem) int32 {
	if wr, ok := w.writer[e]; ok {
		return wr
	}
	return elleWriterNone
}

// version names what a read of v on key k observed: initState for the
// initial value, v itself for a uniquely written value; ok is false when
// the value cannot be attributed (written several times, or both the
// initial value and written).
func (w *elleRWRegister) version(k, v value) (value, bool) {
	wr := w.writerOf(elleElem{k, v})
	if v == w.initial {
		return elleInit, !w.initAmb[k] && wr == elleWriterNone
	}
	return v, wr >= 0
}

func (w *elleRWRegister) analyze(ctx context.Context, txns []elleTxn) ([]elleRawEdge, []elleFinding, error) {
	w.txns = txns
	w.writer = map[elleElem]int32{}
	w.preds = map[elleElem][]value{}
	w.readers = map[elleElem][]int32{}
	w.initAmb = map[value]bool{}
	intermediate := map[elleElem]bool{}
	keys := map[value]bool{}
	last := map[value]value{}

	// Writes: who wrote each value, and which were overwritten within
	// their own transaction.
	for i := range txns {
		if i&4095 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		t := &txns[i]
		if t.state == txnOK {
			t.committed = true
		}
		last = elleEmptied(last)
		for _, m := range t.mops {
			if m.f == mopAppend {
				return nil, nil, fmt.Errorf("op %s: rw-register transactions write and read; got an append (use workload list-append)", t.id)
			}
			keys[m.key] = true
			if m.f != mopWrite {
				continue
			}
			e := elleElem{m.key, m.v}
			if m.v == w.initial {
				w.initAmb[m.key] = true
			}
			if _, ok := w.writer[e]; ok {
				w.writer[e] = elleWriterSeveral
			} else {
				w.writer[e] = int32(i)
			}
			if prev, ok := last[m.key]; ok {
				intermediate[elleElem{m.key, prev}] = true
			}
			last[m.key] = m.v
		}
	}
	w.nkeys = len(keys)

	// Reads: internal consistency, aborted and intermediate reads, the
	// version order, and which indeterminate transactions were observed.
	var found []elleFinding
	type extRead struct {
		txn int32
		k   value
		v   value // the version: initState or the value
	}
	var ext []extRead
	for i := range txns {
		if i&4095 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		t := &txns[i]
		if t.state != txnOK {
			continue
		}
		last = elleEmptied(last)
		known := map[value]bool{}
		for j, m := range t.mops {
			if m.f == mopWrite {
				last[m.key], known[m.key] = m.v, true
				continue
			}
			if !m.known {
				known[m.key] = false
				continue
			}
			if prev, ok := last[m.key]; ok {
				if known[m.key] && prev != m.v {
					found = append(found, elleFinding{
						kind: AnomalyInternal, key: elleKey(m.key), txns: []int32{int32(i)},
						text: fmt.Sprintf("op %s's micro-op %d read key %s as %s, but its own earlier micro-ops mean it should have read %s",
							t.id, j+1, m.key.JSON(), m.v.JSON(), prev.JSON()),
						detail: map[string]any{"mop": j, "read": m.v.any(), "expected": prev.any()},
					})
				}
				last[m.key], known[m.key] = m.v, true
				continue
			}
			last[m.key], known[m.key] = m.v, true
			// An external read.
			e := elleElem{m.key, m.v}
			wr := w.writerOf(e)
			if wr >= 0 {
				switch {
				case txns[wr].state == txnFailed:
					found = append(found, elleFinding{
						kind: AnomalyG1a, key: elleKey(m.key), txns: []int32{int32(i), wr},
						text: fmt.Sprintf("op %s read key %s = %s, written only by aborted op %s",
							t.id, m.key.JSON(), m.v.JSON(), txns[wr].id),
						detail: map[string]any{"value": m.v.any(), "writer": txns[wr].id},
					})
					continue
				case intermediate[e] && wr != int32(i):
					found = append(found, elleFinding{
						kind: AnomalyG1b, key: elleKey(m.key), txns: []int32{int32(i), wr},
						text: fmt.Sprintf("op %s read key %s = %s, an intermediate write of op %s (which wrote key %s again later)",
							t.id, m.key.JSON(), m.v.JSON(), txns[wr].id, m.key.JSON()),
						detail: map[string]any{"value": m.v.any(), "writer": txns[wr].id},
					})
					continue
				case txns[wr].state == txnInfo:
					txns[wr].committed = true
				}
			}
			if v, ok := w.version(m.key, m.v); ok {
				ext = append(ext, extRead{int32(i), m.key, v})
			}
		}
	}

	// Version order: the initial state before every write, and a
	// committed transaction's external read before its final write.
	for i := range txns {
		t := &txns[i]
		if t.state != txnOK {
			continue
		}
		firstRead := map[value]value{}
		touched := map[value]bool{}
		final := map[value]value{}
		for _, m := range t.mops {
			if m.f == mopRead && m.known && !touched[m.key] {
				if v, ok := w.version(m.key, m.v); ok {
					firstRead[m.key] = v
				}
			}
			if m.f == mopWrite {
				final[m.key] = m.v
			}
			touched[m.key] = true
		}
		for k, v2 := range final {
			v1, ok := firstRead[k]
			if !ok || w.writerOf(elleElem{k, v2}) != int32(i) || v1 == v2 {
				continue
			}
			w.preds[elleElem{k, v2}] = append(w.preds[elleElem{k, v2}], v1)
		}
	}
	// Writes with no inferred predecessor follow the initial state.
	for e, wr := range w.writer {
		if wr < 0 || !txns[wr].committed || w.initAmb[e.k] || intermediate[e] {
			continue
		}
		if len(w.preds[e]) == 0 {
			w.preds[e] = []value{elleInit}
		}
	}
	for _, r := range ext {
		e := elleElem{r.k, r.v}
		w.readers[e] = append(w.readers[e], r.txn)
	}

	// Cyclic version orders make a key unusable.
	cyclic := w.cyclicVersions()
	for k, cycle := range cyclic {
		var vs []any
		for _, v := range cycle {
			vs = append(vs, v.any())
		}
		found = append(found, elleFinding{
			kind: AnomalyCyclicVersions, key: elleKey(k),
			text: fmt.Sprintf("key %s's inferred version order is cyclic over %s: each was read by a committed transaction that then wrote the next",
				k.JSON(), elleList(cycle)),
			detail: map[string]any{"versions": vs},
		})
		w.skipped++
	}

	found = append(found, elleLostUpdates(txns, func(m elleMop) (value, bool) { return w.version(m.key, m.v) }, mopWrite)...)

	// Edges.
	var edges []elleRawEdge
	committed := func(e elleElem) int32 {
		wr := w.writerOf(e)
		if wr < 0 || !txns[wr].committed {
			return -1
		}
		return wr
	}
	for _, r := range ext {
		if r.v == elleInit {
			continue
		}
		if wr := committed(elleElem{r.k, r.v}); wr >= 0 && wr != r.txn {
			edges = append(edges, elleRawEdge{wr, r.txn, edgeWR})
		}
	}
	initEdges := map[value]int{}
	for _, e := range elleSortedElems(w.preds) {
		if _, bad := cyclic[e.k]; bad {
			continue
		}
		w2 := committed(e)
		if w2 < 0 {
			continue
		}
		for _, v1 := range w.preds[e] {
			if v1 != elleInit {
				if w1 := committed(elleElem{e.k, v1}); w1 >= 0 {
					edges = append(edges, elleRawEdge{w1, w2, edgeWW})
				}
			}
			readers := w.readers[elleElem{e.k, v1}]
			if v1 == elleInit {
				if initEdges[e.k]+len(readers) > elleMaxUnobservedEdges {
					continue
				}
				initEdges[e.k] += len(readers)
			}
			for _, r := range readers {
				edges = append(edges, elleRawEdge{r, w2, edgeRW})
			}
		}
	}
	return edges, found, nil
}

// cyclicVersions returns, per key whose inferred version order has a
// cycle, the versions of one such cycle.
func (w *elleRWRegister) cyclicVersions() map[value][]value {
	ids := map[elleElem]int32{}
	var names []elleElem
	id := func(e elleElem) int32 {
		if i, ok := ids[e]; ok {
			return i
		}
		ids[e] = int32(len(names))
		names = append(names, e)
		return ids[e]
	}
	var edges []elleRawEdge
	for _, e := range elleSortedElems(w.preds) {
		for _, v1 := range w.preds[e] {
			if v1 != elleInit {
				edges = append(edges, elleRawEdge{id(elleElem{e.k, v1}), id(e), edgeWW})
			}
		}
	}
	if len(edges) == 0 {
		return nil
	}
	g := buildElleGraph(len(names), edges)
	nodes := make([]int32, len(names))
	for i := range nodes {
		nodes[i] = int32(i)
	}
	comp := make([]int32, len(names))
	comps, _ := g.sccs(nodes, make([]int32, len(names)), 0, edgeWW, comp, &elleBudget{ctx: context.Background(), left: math.MaxInt})
	out := map[value][]value{}
	for _, c := range comps {
		k := names[c[0]].k
		if _, ok := out[k]; ok {
			continue
		}
		var vs []value
		for _, n := range c {
			vs = append(vs, names[n].v)
		}
		out[k] = vs
	}
	return out
}

func (w *elleRWRegister) explain(st elleStep, a, b string) string {
	tb := &w.txns[st.to]
	switch st.kind {
	case edgeWR:
		for _, m := range tb.mops {
			if m.f == mopRead && m.known && w.writerOf(elleElem{m.key, m.v}) == st.from {
				return fmt.Sprintf("%s read %s's write of %s to key %s", b, a, m.v.JSON(), m.key.JSON())
			}
		}
	case edgeWW, edgeRW:
		for _, m := range tb.mops {
			if m.f != mopWrite || w.writerOf(elleElem{m.key, m.v}) != st.to {
				continue
			}
			for _, v1 := range w.preds[elleElem{m.key, m.v}] {
				if st.kind == edgeWW {
					if v1 != elleInit && w.writerOf(elleElem{m.key, v1}) == st.from {
						return fmt.Sprintf("%s read %s's write of %s to key %s and then overwrote it with %s", b, a, v1.JSON(), m.key.JSON(), m.v.JSON())
					}
					continue
				}
				if !slices.Contains(w.readers[elleElem{m.key, v1}], st.from) {
					continue
				}
				if v1 == elleInit {
					return fmt.Sprintf("%s read key %s's initial value %s and did not observe %s's write of %s", a, m.key.JSON(), w.initial.JSON(), b, m.v.JSON())
				}
				return fmt.Sprintf("%s read key %s = %s and did not observe %s's write of %s (%s read %s and then overwrote it)",
					a, m.key.JSON(), v1.JSON(), b, m.v.JSON(), b, v1.JSON())
			}
		}
	}
	return fmt.Sprintf("%s %s %s", a, st.kind.name(), b)
}

// elleSortedElems returns the keys of m in a deterministic order.
func elleSortedElems[V any](m map[elleElem]V) []elleElem {
	out := make([]elleElem, 0, len(m))
	for e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y elleElem) int {
		if c := elleCompare(x.k, y.k); c != 0 {
			return c
		}
		return elleCompare(x.v, y.v)
	})
	return out
}

func elleCompare(a, b value) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	if len(a.s) != len(b.s) && a.kind == kindOther { // numbers: shorter first
		return len(a.s) - len(b.s)
	}
	switch {
	case a.s < b.s:
		return -1
	case a.s > b.s:
		return 1
	}
	return 0
}
