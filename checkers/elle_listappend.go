package checkers

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// elleInit stands for a key's initial state (the empty list, or the
// register's initial value) where a value is expected; its text is not
// valid JSON, so it equals no real value.
var elleInit = value{kind: kindOther, s: "\x00init"}

// elleElem is one value of one key.
type elleElem struct{ k, v value }

// Writer markers in the append / write index.
const (
	elleWriterNone    int32 = -1 // nobody wrote it
	elleWriterSeveral int32 = -2 // more than one transaction (or write) did
)

// maxUnobservedEdges caps, per key, the rw edges from the readers of a
// key's last observed state to the writers of appends no read observed:
// skipping edges loses completeness, never soundness.
const elleMaxUnobservedEdges = 1 << 20

// elleListAppend is the list-append workload: keys are lists, transactions
// append unique values and read whole lists.
type elleListAppend struct {
	txns    []elleTxn
	writer  map[elleElem]int32 // who appended v to k
	order   map[value]*elleAppendOrder
	nkeys   int
	skipped int
}

// elleAppendOrder is one key's inferred version order.
type elleAppendOrder struct {
	order   []value // the longest read, every other read a prefix of it
	pos     map[value]int
	usable  bool       // the order can be trusted (no duplicates, no incompatible reads, unique appends)
	longest int32      // the transaction that read it
	readers [][]int32  // readers[i+1]: transactions that read the state ending at order[i]; [0]: the empty list
	extra   []elleElem // committed appends no read observed
}

func (w *elleListAppend) keys() (int, int) { return w.nkeys, w.skipped }

// writerOf returns the transaction that appended e, or writerNone /
// writerSeveral.
func (w *elleListAppend) writerOf(e elleElem) int32 {
	if wr, ok := w.writer[e]; ok {
		return wr
	}
	return elleWriterNone
}

func (w *elleListAppend) analyze(ctx context.Context, txns []elleTxn) ([]elleRawEdge, []elleFinding, error) {
	w.txns = txns
	w.writer = map[elleElem]int32{}
	w.order = map[value]*elleAppendOrder{}
	intermediate := map[elleElem]bool{}
	ambiguous := map[value]bool{}
	lastAppend := map[value]value{}
	keyOf := func(k value) *elleAppendOrder {
		o := w.order[k]
		if o == nil {
			o = &elleAppendOrder{usable: true, longest: -1}
			w.order[k] = o
		}
		return o
	}

	// Appends: who wrote each element, and which were not a transaction's
	// last append to the key.
	for i := range txns {
		if i&4095 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		t := &txns[i]
		if t.state == txnOK {
			t.committed = true
		}
		lastAppend = elleEmptied(lastAppend)
		for _, m := range t.mops {
			if m.f == mopWrite {
				return nil, nil, fmt.Errorf("op %s: list-append transactions append and read; got a write (use workload rw-register)", t.id)
			}
			keyOf(m.key)
			if m.f != mopAppend {
				continue
			}
			e := elleElem{m.key, m.v}
			if prev, ok := w.writer[e]; ok {
				if prev != elleWriterSeveral {
					w.writer[e] = elleWriterSeveral
					ambiguous[m.key] = true
				}
			} else {
				w.writer[e] = int32(i)
			}
			if prev, ok := lastAppend[m.key]; ok {
				intermediate[elleElem{m.key, prev}] = true
			}
			lastAppend[m.key] = m.v
		}
	}
	w.nkeys = len(w.order)

	var found []elleFinding
	seen := map[value]int{}
	// Reads: the longest per key, duplicates, aborted and intermediate
	// reads, and which indeterminate transactions were observed.
	for i := range txns {
		if i&4095 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		t := &txns[i]
		if t.state != txnOK {
			continue
		}
		for _, m := range t.mops {
			if m.f != mopRead || !m.known {
				continue
			}
			o := w.order[m.key]
			if o.longest < 0 || len(m.list) > len(o.order) {
				o.order, o.longest = m.list, int32(i)
			}
			seen = elleEmptied(seen)
			var dups, aborted []string
			var abortedBy []int32
			for _, v := range m.list {
				seen[v]++
				if seen[v] == 2 {
					dups = append(dups, v.JSON())
				}
				wr, ok := w.writer[elleElem{m.key, v}]
				if !ok || wr < 0 {
					continue
				}
				switch txns[wr].state {
				case txnInfo:
					txns[wr].committed = true
				case txnFailed:
					aborted = append(aborted, v.JSON())
					abortedBy = append(abortedBy, wr)
				}
			}
			if dups != nil {
				o.usable = false
				found = append(found, elleFinding{
					kind: AnomalyDuplicateElements, key: elleKey(m.key), txns: []int32{int32(i)},
					text: fmt.Sprintf("op %s read key %s as %s, which holds %s more than once; every value is appended once",
						t.id, m.key.JSON(), elleList(m.list), strings.Join(dups, ", ")),
					detail: map[string]any{"read": m.list, "duplicates": dups},
				})
			}
			if aborted != nil {
				f := elleFinding{kind: AnomalyG1a, key: elleKey(m.key), txns: []int32{int32(i)},
					detail: map[string]any{"read": m.list, "aborted_elements": aborted}}
				var by []string
				for _, a := range abortedBy {
					f.txns = append(f.txns, a)
					by = append(by, txns[a].id)
				}
				f.text = fmt.Sprintf("op %s read key %s as %s, which includes %s appended by aborted op(s) %s",
					t.id, m.key.JSON(), elleList(m.list), strings.Join(aborted, ", "), strings.Join(by, ", "))
				found = append(found, f)
			}
			if n := len(m.list); n > 0 {
				last := elleElem{m.key, m.list[n-1]}
				if wr := w.writerOf(last); wr >= 0 && wr != int32(i) && intermediate[last] && txns[wr].state != txnFailed {
					found = append(found, elleFinding{
						kind: AnomalyG1b, key: elleKey(m.key), txns: []int32{int32(i), wr},
						text: fmt.Sprintf("op %s read key %s as %s, ending in %s, an intermediate append of op %s (which appended to key %s again later)",
							t.id, m.key.JSON(), elleList(m.list), last.v.JSON(), txns[wr].id, m.key.JSON()),
						detail: map[string]any{"read": m.list, "element": last.v.any(), "writer": txns[wr].id},
					})
				}
			}
		}
		found = append(found, elleAppendInternal(t, int32(i))...)
	}

	// Version orders: every read must be a prefix of the longest.
	for k, o := range w.order {
		if ambiguous[k] {
			o.usable = false
		}
		if !o.usable {
			continue
		}
		o.pos = make(map[value]int, len(o.order))
		for i, v := range o.order {
			if _, dup := o.pos[v]; dup {
				o.usable = false
				break
			}
			o.pos[v] = i
		}
		o.readers = make([][]int32, len(o.order)+1)
	}
	reported := map[value]bool{}
	for i := range txns {
		t := &txns[i]
		if t.state != txnOK {
			continue
		}
		for _, m := range t.mops {
			if m.f != mopRead || !m.known {
				continue
			}
			o := w.order[m.key]
			if !elleIsPrefix(m.list, o.order) {
				o.usable = false
				if !reported[m.key] {
					reported[m.key] = true
					found = append(found, elleFinding{
						kind: AnomalyIncompatibleOrder, key: elleKey(m.key), txns: []int32{int32(i), o.longest},
						text: fmt.Sprintf("op %s read key %s as %s and op %s read it as %s: neither is a prefix of the other, so no single order of appends explains both",
							t.id, m.key.JSON(), elleList(m.list), txns[o.longest].id, elleList(o.order)),
						detail: map[string]any{"reads": [][]value{m.list, o.order}},
					})
				}
				continue
			}
			if o.readers == nil {
				continue
			}
			o.readers[len(m.list)] = append(o.readers[len(m.list)], int32(i))
		}
	}

	// Dirty updates and lost updates.
	for k, o := range w.order {
		if o.usable {
			found = append(found, w.dirtyUpdates(k, o)...)
		}
	}
	found = append(found, elleLostUpdates(txns, func(m elleMop) (value, bool) {
		if len(m.list) == 0 {
			return elleInit, true
		}
		return m.list[len(m.list)-1], !ambiguous[m.key]
	}, mopAppend)...)

	// Appends no read observed come after every observed one.
	for i := range txns {
		t := &txns[i]
		if !t.committed {
			continue
		}
		for _, m := range t.mops {
			if m.f != mopAppend {
				continue
			}
			o := w.order[m.key]
			if !o.usable {
				continue
			}
			if _, ok := o.pos[m.v]; !ok {
				o.extra = append(o.extra, elleElem{m.key, m.v})
			}
		}
	}

	// Edges.
	var edges []elleRawEdge
	committed := func(e elleElem) int32 {
		wr, ok := w.writer[e]
		if !ok || wr < 0 || !txns[wr].committed {
			return -1
		}
		return wr
	}
	for i := range txns {
		t := &txns[i]
		if t.state != txnOK {
			continue
		}
		for _, m := range t.mops {
			if m.f == mopRead && m.known && len(m.list) > 0 {
				if wr := committed(elleElem{m.key, m.list[len(m.list)-1]}); wr >= 0 && wr != int32(i) {
					edges = append(edges, elleRawEdge{wr, int32(i), edgeWR})
				}
			}
		}
	}
	for k, o := range w.order {
		if !o.usable {
			if len(o.order) > 0 || len(o.extra) > 0 {
				w.skipped++
			}
			continue
		}
		prev := int32(-1)
		for i, v := range o.order {
			cur := committed(elleElem{k, v})
			if cur < 0 {
				continue
			}
			if prev >= 0 {
				edges = append(edges, elleRawEdge{prev, cur, edgeWW})
			}
			for _, r := range o.readers[i] {
				edges = append(edges, elleRawEdge{r, cur, edgeRW})
			}
			prev = cur
		}
		lastReaders := o.readers[len(o.order)]
		if len(lastReaders)*len(o.extra) > elleMaxUnobservedEdges {
			lastReaders = nil
		}
		for _, e := range o.extra {
			cur := committed(e)
			if cur < 0 {
				continue
			}
			if prev >= 0 {
				edges = append(edges, elleRawEdge{prev, cur, edgeWW})
			}
			for _, r := range lastReaders {
				edges = append(edges, elleRawEdge{r, cur, edgeRW})
			}
		}
	}
	return edges, found, nil
}

// dirtyUpdates finds, in one key's order, a committed append that
// follows an aborted one (with only indeterminate ones between): the
// committed transaction updated state an aborted one wrote.
func (w *elleListAppend) dirtyUpdates(k value, o *elleAppendOrder) []elleFinding {
	var found []elleFinding
	abortedAt := -1 // position of the aborted append in force
	for i, v := range o.order {
		wr := w.writerOf(elleElem{k, v})
		state := txnInfo
		if wr >= 0 {
			state = w.txns[wr].state
		}
		switch state {
		case txnFailed:
			if abortedAt < 0 {
				abortedAt = i
			}
		case txnOK:
			if abortedAt >= 0 {
				a := w.writerOf(elleElem{k, o.order[abortedAt]})
				found = append(found, elleFinding{
					kind: AnomalyDirtyUpdate, key: elleKey(k), txns: []int32{a, wr},
					text: fmt.Sprintf("on key %s, committed op %s appended %s after aborted op %s's append of %s (key %s's version order: %s)",
						k.JSON(), w.txns[wr].id, v.JSON(), w.txns[a].id, o.order[abortedAt].JSON(), k.JSON(), elleList(o.order[abortedAt:i+1])),
					detail: map[string]any{"values": o.order[abortedAt : i+1]},
				})
				abortedAt = -1
			}
		}
	}
	return found
}

// elleAppendInternal checks one committed transaction against its own
// earlier appends and reads: a read must show what the transaction last
// read of the key, followed by what it appended since (or, before any
// read of the key, end with what it appended). It also finds future
// reads: a read showing a value the transaction only appends later.
func elleAppendInternal(t *elleTxn, i int32) []elleFinding {
	type expect struct {
		prefixKnown bool
		base        []value // the last read (shared, never modified)
		suffix      []value // appended since
	}
	var found []elleFinding
	var state map[value]*expect
	for j, m := range t.mops {
		if state == nil {
			state = map[value]*expect{}
		}
		s := state[m.key]
		switch m.f {
		case mopAppend:
			if s == nil {
				s = &expect{}
				state[m.key] = s
			}
			s.suffix = append(s.suffix, m.v)
		case mopRead:
			if !m.known {
				continue
			}
			if s != nil {
				var bad bool
				n := len(s.base) + len(s.suffix)
				if s.prefixKnown {
					bad = len(m.list) != n || !elleEqual(m.list[:len(s.base)], s.base) || !elleEqual(m.list[len(s.base):], s.suffix)
				} else {
					bad = len(m.list) < len(s.suffix) || !elleEqual(m.list[len(m.list)-len(s.suffix):], s.suffix)
				}
				if bad {
					want := elleList(slices.Concat(s.base, s.suffix))
					if !s.prefixKnown {
						want = "a list ending " + want
					}
					found = append(found, elleFinding{
						kind: AnomalyInternal, key: elleKey(m.key), txns: []int32{i},
						text: fmt.Sprintf("op %s's micro-op %d read key %s as %s, but its own earlier micro-ops mean it should have read %s",
							t.id, j+1, m.key.JSON(), elleList(m.list), want),
						detail: map[string]any{"mop": j, "read": m.list, "expected": slices.Concat(s.base, s.suffix), "prefix_known": s.prefixKnown},
					})
				}
			}
			state[m.key] = &expect{prefixKnown: true, base: m.list}
		}
	}
	// Future reads, walking backwards with the appends still to come.
	var later map[elleElem]bool
	for j := len(t.mops) - 1; j >= 0; j-- {
		m := t.mops[j]
		if m.f == mopAppend {
			if later == nil {
				later = map[elleElem]bool{}
			}
			later[elleElem{m.key, m.v}] = true
			continue
		}
		if m.f != mopRead || !m.known || later == nil {
			continue
		}
		for _, v := range m.list {
			if later[elleElem{m.key, v}] {
				found = append(found, elleFinding{
					kind: AnomalyFutureRead, key: elleKey(m.key), txns: []int32{i},
					text: fmt.Sprintf("op %s read key %s as %s, which includes %s, a value it only appends later in the same transaction",
						t.id, m.key.JSON(), elleList(m.list), v.JSON()),
					detail: map[string]any{"mop": j, "read": m.list, "element": v.any()},
				})
				break
			}
		}
	}
	return found
}

// elleLostUpdates finds committed transactions that read the same version of
// a key and then both wrote it: one of the writes is lost. version maps
// a read to the version it observed; write is the micro-op that writes.
func elleLostUpdates(txns []elleTxn, version func(elleMop) (value, bool), write elleMopKind) []elleFinding {
	groups := map[elleElem][]int32{}
	var order []elleElem
	for i := range txns {
		t := &txns[i]
		if t.state != txnOK {
			continue
		}
		if len(t.mops) < 2 {
			continue
		}
		firstRead := map[value]value{}
		touched := map[value]bool{}
		wrote := map[value]bool{}
		for _, m := range t.mops {
			switch {
			case m.f == mopRead && m.known && !touched[m.key]:
				if v, ok := version(m); ok {
					firstRead[m.key] = v
				}
			case m.f == write:
				if _, ok := firstRead[m.key]; ok && !wrote[m.key] {
					e := elleElem{m.key, firstRead[m.key]}
					if groups[e] == nil {
						order = append(order, e)
					}
					groups[e] = append(groups[e], int32(i))
					wrote[m.key] = true
				}
			}
			touched[m.key] = true
		}
	}
	var found []elleFinding
	for _, e := range order {
		g := groups[e]
		if len(g) < 2 {
			continue
		}
		var ids []string
		for _, t := range g {
			ids = append(ids, txns[t].id)
		}
		what := "the version " + e.v.JSON()
		if e.v == elleInit {
			what = "the initial state"
		}
		found = append(found, elleFinding{
			kind: AnomalyLostUpdate, key: elleKey(e.k), txns: g,
			text: fmt.Sprintf("committed ops %s each read %s of key %s and then wrote key %s: in a serial order only the first could have read it, so the others' updates are lost",
				strings.Join(ids, ", "), what, e.k.JSON(), e.k.JSON()),
			detail: map[string]any{"txns": ids},
		})
	}
	return found
}

func (w *elleListAppend) explain(st elleStep, a, b string) string {
	ta, tb := &w.txns[st.from], &w.txns[st.to]
	switch st.kind {
	case edgeWR:
		for _, m := range tb.mops {
			if m.f == mopRead && m.known && len(m.list) > 0 && w.writerOf(elleElem{m.key, m.list[len(m.list)-1]}) == st.from {
				return fmt.Sprintf("%s read %s's append of %s to key %s (it read %s)", b, a, m.list[len(m.list)-1].JSON(), m.key.JSON(), elleList(m.list))
			}
		}
	case edgeWW, edgeRW:
		for _, m := range tb.mops {
			if m.f != mopAppend {
				continue
			}
			o := w.order[m.key]
			if o == nil || !o.usable {
				continue
			}
			p, observed := o.pos[m.v]
			if !observed {
				p = len(o.order)
			}
			if st.kind == edgeWW {
				for q := p - 1; q >= 0; q-- {
					wr := w.writerOf(elleElem{m.key, o.order[q]})
					if wr >= 0 && w.txns[wr].committed {
						if wr != st.from {
							break
						}
						if !observed {
							return fmt.Sprintf("%s appended %s to key %s, which no read observed, so after %s's append of %s, the last element read (op %s read %s)",
								b, m.v.JSON(), m.key.JSON(), a, o.order[q].JSON(), w.txns[o.longest].id, elleList(o.order))
						}
						return fmt.Sprintf("%s appended %s to key %s after %s's append of %s (op %s read %s)",
							b, m.v.JSON(), m.key.JSON(), a, o.order[q].JSON(), w.txns[o.longest].id, elleList(o.order))
					}
				}
				continue
			}
			for _, r := range ta.mops {
				if r.f == mopRead && r.known && r.key == m.key && len(r.list) == p && elleIsPrefix(r.list, o.order) {
					if len(r.list) == 0 {
						return fmt.Sprintf("%s read key %s as empty and did not observe %s's append of %s, the first", a, m.key.JSON(), b, m.v.JSON())
					}
					next := "which came next"
					if !observed {
						next = "which came after every element any read observed"
					}
					return fmt.Sprintf("%s read key %s as %s and did not observe %s's append of %s, %s", a, m.key.JSON(), elleList(r.list), b, m.v.JSON(), next)
				}
			}
		}
	}
	return fmt.Sprintf("%s %s %s", a, st.kind.name(), b)
}

// elleEmptied returns m cleared, or a fresh map when m grew large: clearing
// a map costs its capacity, and one huge transaction must not make every
// later one slow.
func elleEmptied[K comparable, V any](m map[K]V) map[K]V {
	if len(m) > 64 {
		return map[K]V{}
	}
	clear(m)
	return m
}

// elleIsPrefix reports whether a is a prefix of b.
func elleIsPrefix(a, b []value) bool {
	return len(a) <= len(b) && elleEqual(a, b[:len(a)])
}

func elleEqual(a, b []value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// elleList writes a list of values as JSON, eliding the middle of long
// ones.
func elleList(list []value) string {
	var parts []string
	for i, v := range list {
		if len(list) > 12 && i >= 4 && i < len(list)-4 {
			if i == 4 {
				parts = append(parts, fmt.Sprintf("… %d more …", len(list)-8))
			}
			continue
		}
		parts = append(parts, v.JSON())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// elleKey is a key as the Anomaly.Key field shows it: a string key as
// itself, anything else as JSON.
func elleKey(k value) string {
	if k.kind == kindString {
		return k.s
	}
	return k.JSON()
}
