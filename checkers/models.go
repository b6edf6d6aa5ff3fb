package checkers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/anishathalye/porcupine"

	"github.com/falsify-dev/falsify/history"
)

// opKind is what an op does to a linearizable object.
type opKind uint8

const (
	opRead opKind = iota
	opWrite
	opCAS
	opAppend
	opAcquire
	opRelease
	opTxn
)

// lzModel describes one sequential model the linearizability checker
// knows: the op types it accepts and whether it is partitioned by key.
type lzModel struct {
	name        string
	kinds       map[string]opKind // op_type → what it does
	partitioned bool              // one independent object per key
	unit        string            // what a partition is, for evidence
	scope       string
}

var (
	registerKinds = map[string]opKind{
		"read": opRead, "get": opRead,
		"write": opWrite, "put": opWrite, "set": opWrite,
	}
	casKinds = map[string]opKind{"cas": opCAS, "compare-and-set": opCAS}
)

// lzModelTable holds the models, built once; it is never modified.
var lzModelTable = buildLZModels()

// lzModelList is the model names, sorted.
var lzModelList = slices.Sorted(maps.Keys(lzModelTable))

// lzModels returns the models. The map is shared: do not modify it.
func lzModels() map[string]lzModel {
	return lzModelTable
}

// buildLZModels returns the models, freshly built.
func buildLZModels() map[string]lzModel {
	cas := maps.Clone(registerKinds)
	maps.Copy(cas, casKinds)
	kv := maps.Clone(cas)
	kv["append"] = opAppend
	kvScope := "linearizability per key, each key an independent register " +
		"(read/get, write/put/set, append, cas); cannot detect cross-key anomalies " +
		"(read skew, lost updates across keys, transactional anomalies: use serializability), " +
		"nor anything the recorded reads never observed"
	regScope := "linearizability of one register: every completed op must take effect " +
		"between its invocation and completion, timed-out ops at any later point or never; " +
		"cannot detect anomalies the recorded reads never observed, nor anything across objects"
	return map[string]lzModel{
		"register":     {name: "register", kinds: registerKinds, unit: "register", scope: regScope},
		"cas-register": {name: "cas-register", kinds: cas, unit: "register", scope: regScope},
		"kv":           {name: "kv", kinds: kv, partitioned: true, unit: "key", scope: kvScope},
		"map":          {name: "map", kinds: kv, partitioned: true, unit: "key", scope: kvScope},
		"multi-register": {name: "multi-register", unit: "multi-register",
			kinds: map[string]opKind{"txn": opTxn},
			scope: "linearizability of transactions over a set of registers checked as one object " +
				"(Knossos' multi-register: txn of [read k v] / [write k v]); exponential in concurrency, " +
				"so for long histories prefer serializability; cannot detect anomalies the recorded reads never observed"},
		"mutex": {name: "mutex", unit: "lock",
			kinds: map[string]opKind{"acquire": opAcquire, "lock": opAcquire, "release": opRelease, "unlock": opRelease},
			scope: "mutual exclusion as a linearizable lock (acquire / release; the holder's identity " +
				"is not tracked, as in Knossos' mutex model); cannot detect a holder that lost the lock " +
				"without a recorded op (lease expiry, fencing), nor a release by a non-holder"},
	}
}

// lzModelNames returns the model names, sorted.
func lzModelNames() []string {
	return slices.Clone(lzModelList)
}

// opTypes returns the op types a model accepts, sorted.
func (m lzModel) opTypes() []string {
	return slices.Sorted(maps.Keys(m.kinds))
}

// lzInput is the porcupine input of one op. Operations carry a pointer
// to it, so converting a history boxes nothing.
type lzInput struct {
	kind  opKind
	typ   uint8 // the op type as recorded, for descriptions: index in part.types
	keyed bool  // show the key in descriptions
	arg   int32 // written / appended value, cas expected: an id in part; a txn's index in part.txns
	arg2  int32 // cas new value
	part  *lzPart
}

// microOp is one read or write of a transaction.
type microOp struct {
	write bool
	key   string
	v     value
}

// lzOutput is the porcupine output of one op (a pointer to it, as for
// lzInput).
type lzOutput struct {
	unknown   bool  // indeterminate: the op may or may not have taken effect
	casFailed bool  // a cas that completed reporting the comparison failed
	v         int32 // value read: an id in the input's part, or -1-i: its reads[i]
}

// lzState is a register's state: one of its partition's interned values,
// which each have exactly one lzState, so that states compare by pointer
// and a step allocates nothing; or, made by an append, a value of its own
// (id -1), compared by value.
type lzState struct {
	id   int32 // in the partition's table; -1: not interned
	v    value
	hash uint64 // hashValue(v), well spread: porcupine XORs it into a weak bitset hash
}

// newLZState returns the state holding v, with id.
func newLZState(id int32, v value) *lzState {
	return &lzState{id: id, v: v, hash: hashValue(v)}
}

// lzPart is the value table of one partition: every distinct value its
// ops write or compare, and the initial value, interned to a small id, so
// the register models step on ids (values read that none of these is are
// kept in reads, compared by value). Id 0 is the initial value, the same *lzState in
// every partition. The table is complete before the search starts, which
// only reads it.
type lzPart struct {
	key    string
	states []*lzState
	free   []lzState // allocated in chunks
	byVal  map[value]int32
	byRaw  map[string]int32 // recorded JSON text → id, to skip parsing
	reads  []value          // values read that no op writes
	txns   [][]microOp      // the transactions' reads and writes
	types  *[]string        // op types, shared by the partitions
}

// holds reports whether st is the value with id.
func (p *lzPart) holds(st *lzState, id int32) bool {
	return st.id == id || st.id < 0 && st.v == p.states[id].v
}

// reads reports whether a read returning out can see st.
func (p *lzPart) sees(st *lzState, out *lzOutput) bool {
	if out.v < 0 {
		return st.v == p.readValue(out.v)
	}
	return p.holds(st, out.v)
}

// readValue returns the value a read returned, by its id.
func (p *lzPart) readValue(id int32) value {
	if id < 0 {
		return p.reads[-1-id]
	}
	return p.states[id].v
}

// readID returns the id of the JSON value raw a read returned: its id in
// the table if it is there, else -1-i, i its index in reads. The values
// reads return need no id of their own when no op writes them (long
// appended strings, typically), so they are not interned.
func (p *lzPart) readID(raw json.RawMessage) (int32, error) {
	t := bytes.TrimSpace(raw)
	if id, ok := p.byRaw[string(t)]; ok {
		return id, nil
	}
	v, err := canonical(t)
	if err != nil {
		return 0, err
	}
	if id, ok := p.byVal[v]; ok {
		return id, nil
	}
	p.reads = append(p.reads, v)
	return int32(-len(p.reads)), nil
}

// newLZPart returns the value table of a partition whose initial value
// is init.
func newLZPart(key string, init *lzState, types *[]string) *lzPart {
	return &lzPart{key: key, states: []*lzState{init}, byVal: map[value]int32{init.v: 0}, types: types}
}

// intern returns the id of v, adding it if new.
func (p *lzPart) intern(v value) int32 {
	if id, ok := p.byVal[v]; ok {
		return id
	}
	id := int32(len(p.states))
	if len(p.free) == 0 {
		p.free = make([]lzState, min(max(len(p.states), 4), 256))
	}
	st := &p.free[0]
	p.free = p.free[1:]
	*st = lzState{id: id, v: v, hash: hashValue(v)}
	p.states = append(p.states, st)
	p.byVal[v] = id
	return id
}

// internRaw returns the id of the JSON value raw, parsing each distinct
// text once.
func (p *lzPart) internRaw(raw json.RawMessage) (int32, error) {
	t := bytes.TrimSpace(raw)
	if id, ok := p.byRaw[string(t)]; ok {
		return id, nil
	}
	// The common values, plain strings and integers, are read here as
	// canonical does, sharing the text with the key.
	text := string(t)
	var v value
	switch {
	case len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' && plainString(t[1:len(t)-1]):
		v = value{kind: kindString, s: text[1 : len(text)-1]}
	case text == "-0":
		v = value{kind: kindOther, s: "0"}
	default:
		if integerText(t) {
			v = value{kind: kindOther, s: text}
			break
		}
		var err error
		if v, err = canonical(t); err != nil {
			return 0, err
		}
	}
	id := p.intern(v)
	if p.byRaw == nil {
		p.byRaw = map[string]int32{}
	}
	p.byRaw[text] = id
	return id, nil
}

// integerText reports whether t is an integer literal that canonical
// keeps as it is (see plainInteger), without allocating.
func integerText(t []byte) bool {
	d := t
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 1 && d[0] == '0' || string(t) == "-0" {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// partition is one independent part of the history: one key, or the
// whole history for an unpartitioned model.
type partition struct {
	key string
	ops []porcupine.Operation
	idx []int // index in the input history of each op
}

// toPartitions converts a history into porcupine operations, one
// partition per key (sorted) or a single one, interning every value per
// partition with init (the initial value) as id 0. Failed ops are dropped
// (they cannot have taken effect), and so are reads with an unknown result
// (they constrain nothing); dropped counts both. An indeterminate op
// returns after every other op, following porcupine's convention for calls
// that never returned, and its output matches anything.
func toPartitions(ops []history.Op, m lzModel, init *lzState) (parts []partition, dropped int, err error) {
	minTS, maxTS := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range ops {
		if ts := ops[i].InvokeTS; ts != nil {
			minTS = min(minTS, *ts)
			maxTS = max(maxTS, *ts)
		}
		if ts := ops[i].CompleteTS; ts != nil {
			minTS = min(minTS, *ts)
			maxTS = max(maxTS, *ts)
		}
	}
	if minTS > maxTS { // no timestamps at all
		minTS, maxTS = 0, 0
	}
	begin, end := minTS, maxTS
	if begin > math.MinInt64 {
		begin--
	}
	if end < math.MaxInt64 {
		end++
	}

	ins := make([]lzInput, len(ops))
	outs := make([]lzOutput, len(ops))
	clients := map[string]int{}
	nextClient := 0
	var seenTypes []string // the op types met so far, and their kinds
	var seenKinds []opKind
	// Each key's ops go to their own run of grouped, in history order:
	// next[k] is where key k's next op goes; a run has room for all of
	// the key's ops, dropped or not.
	grouped := make([]porcupine.Operation, len(ops))
	groupedIdx := make([]int, len(ops))
	var keyOf []int32  // each op's key, as an index in keys
	var keys []*lzPart // in order of appearance
	var first, next []int
	var vals *lzPart // the op's key's
	if m.partitioned {
		byKey := map[string]int32{}
		keyOf = make([]int32, len(ops))
		var count []int
		for i := range ops {
			var key string
			if ops[i].Key != nil {
				key = *ops[i].Key
			}
			k, ok := byKey[key]
			if !ok {
				k = int32(len(keys))
				byKey[key] = k
				keys = append(keys, newLZPart(key, init, &seenTypes))
				count = append(count, 0)
			}
			keyOf[i] = k
			count[k]++
		}
		first, next = make([]int, len(keys)), make([]int, len(keys))
		pos := 0
		for k := range keys {
			first[k], next[k] = pos, pos
			pos += count[k]
		}
	} else {
		vals = newLZPart("", init, &seenTypes)
		first, next = []int{0}, []int{0}
	}
	var smallClients []int32 // client id+1 by process id, for small decimal ones
	for i := range ops {
		o := &ops[i]
		j := slices.Index(seenTypes, o.OpType)
		if j < 0 {
			k, ok := m.kinds[o.OpType]
			if !ok {
				return nil, 0, fmt.Errorf("op %s: op_type %q is not part of the %s model (accepted: %s)",
					o.OpID, o.OpType, m.name, strings.Join(m.opTypes(), ", "))
			}
			j = len(seenTypes)
			seenTypes, seenKinds = append(seenTypes, o.OpType), append(seenKinds, k)
		}
		kind := seenKinds[j]
		indeterminate := o.Indeterminate()
		if o.Failed() || indeterminate && kind == opRead {
			dropped++
			continue
		}
		k := 0
		if m.partitioned {
			k = int(keyOf[i])
			vals = keys[k]
		}
		in := &ins[i]
		*in = lzInput{kind: kind, typ: uint8(j), keyed: m.partitioned, part: vals}
		switch kind {
		case opWrite, opAppend:
			if in.arg, err = vals.internRaw(o.Input); err != nil {
				return nil, 0, fmt.Errorf("op %s: input: %w", o.OpID, err)
			}
		case opCAS:
			if expected, next, ok := casPair(o.Input); ok {
				a, err1 := vals.internRaw(expected)
				b, err2 := vals.internRaw(next)
				if err1 == nil && err2 == nil {
					in.arg, in.arg2 = a, b
					break
				}
			}
			expected, next, err := casArgs(o.Input) // the slow way, or the error
			if err != nil {
				return nil, 0, fmt.Errorf("op %s: %w", o.OpID, err)
			}
			in.arg, in.arg2 = vals.intern(expected), vals.intern(next)
		case opTxn:
			// A completed txn's output carries the values it read; one
			// with an unknown outcome only has its writes.
			raw, what := o.Output, "output"
			if indeterminate || isNull(raw) {
				raw, what = o.Input, "input"
			}
			txn, err := txnOps(raw, !indeterminate)
			if err != nil {
				return nil, 0, fmt.Errorf("op %s: %s: %w", o.OpID, what, err)
			}
			in.arg = int32(len(vals.txns))
			vals.txns = append(vals.txns, txn)
		}
		out := &outs[i]
		out.unknown = indeterminate
		if !indeterminate {
			switch kind {
			case opRead:
				if out.v, err = vals.readID(o.Output); err != nil {
					return nil, 0, fmt.Errorf("op %s: output: %w", o.OpID, err)
				}
			case opCAS:
				if out.casFailed, err = casFailed(o.Output); err != nil {
					return nil, 0, fmt.Errorf("op %s: output: %w", o.OpID, err)
				}
			}
		}
		call, ret := begin, end
		if o.InvokeTS != nil {
			call = *o.InvokeTS
		}
		if !indeterminate {
			ret = max(*o.CompleteTS, call)
		}
		client := nextClient
		if o.ProcessID != nil {
			if n, ok := smallDecimal(*o.ProcessID); ok {
				if n >= len(smallClients) {
					smallClients = append(smallClients, make([]int32, n+1-len(smallClients))...)
				}
				if smallClients[n] == 0 {
					smallClients[n] = int32(nextClient) + 1
				}
				client = int(smallClients[n]) - 1
			} else {
				id, ok := clients[*o.ProcessID]
				if !ok {
					id = nextClient
					clients[*o.ProcessID] = id
				}
				client = id
			}
		}
		if client == nextClient {
			nextClient++
		}
		grouped[next[k]] = porcupine.Operation{
			ClientId: client, Input: in, Call: call, Output: out, Return: ret, Metadata: &o.OpID,
		}
		groupedIdx[next[k]] = i
		next[k]++
	}
	if !m.partitioned {
		if next[0] == 0 {
			return nil, dropped, nil
		}
		n := next[0]
		return []partition{{ops: grouped[:n:n], idx: groupedIdx[:n:n]}}, dropped, nil
	}
	// Keys sorted; a key whose ops were all dropped has no partition.
	order := make([]int, 0, len(keys))
	for k := range keys {
		if next[k] > first[k] {
			order = append(order, k)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a].key, keys[b].key) })
	parts = make([]partition, len(order))
	for r, k := range order {
		a, b := first[k], next[k]
		parts[r] = partition{key: keys[k].key, ops: grouped[a:b:b], idx: groupedIdx[a:b:b]}
	}
	return parts, dropped, nil
}

// smallDecimal reads a process id written as a small decimal number
// (without leading zeros, so that each number has one spelling).
func smallDecimal(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// casFailed reads a cas output: whether it reports that the comparison
// failed (JSON false).
func casFailed(raw json.RawMessage) (bool, error) {
	switch string(raw) {
	case "false":
		return true, nil
	case "true", "":
		return false, nil
	}
	r, err := canonical(raw)
	if err != nil {
		return false, err
	}
	return r == value{kind: kindOther, s: "false"}, nil
}

// txnOps reads a transaction, Knossos' [[read k v] [write k v] …];
// withReads keeps the reads (their values are known).
func txnOps(raw json.RawMessage, withReads bool) ([]microOp, error) {
	var mops [][]json.RawMessage
	if err := json.Unmarshal(raw, &mops); err != nil {
		return nil, fmt.Errorf("txn must be a list of [f key value], got %.60s", raw)
	}
	var out []microOp
	for _, mo := range mops {
		if len(mo) != 3 {
			return nil, fmt.Errorf("txn micro-op must be [f key value], got %d elements", len(mo))
		}
		var f string
		if err := json.Unmarshal(mo[0], &f); err != nil {
			return nil, fmt.Errorf("txn micro-op function %.30s is not a string", mo[0])
		}
		k, err := canonical(mo[1])
		if err != nil {
			return nil, fmt.Errorf("txn key: %w", err)
		}
		key := k.s
		v, err := canonical(mo[2])
		if err != nil {
			return nil, fmt.Errorf("txn value: %w", err)
		}
		switch f {
		case "read", "r":
			if withReads {
				out = append(out, microOp{key: key, v: v})
			}
		case "write", "w":
			out = append(out, microOp{write: true, key: key, v: v})
		default:
			return nil, fmt.Errorf("txn micro-op %q: want read or write", f)
		}
	}
	return out, nil
}

// casPair splits a cas input of two scalars, [expected, new], without
// decoding it, or reports false (any other shape: see [casArgs]).
func casPair(raw json.RawMessage) (expected, next json.RawMessage, ok bool) {
	t := bytes.TrimSpace(raw)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return nil, nil, false
	}
	t = t[1 : len(t)-1]
	comma, inString := -1, false
	for i, c := range t {
		switch {
		case c == '"':
			inString = !inString
		case c == '\\':
			return nil, nil, false
		case inString:
		case c == ',' && comma < 0:
			comma = i
		case c == ',' || c == '[' || c == ']' || c == '{' || c == '}':
			return nil, nil, false
		}
	}
	if comma < 0 || inString {
		return nil, nil, false
	}
	expected, next = t[:comma], t[comma+1:]
	if len(bytes.TrimSpace(expected)) == 0 || len(bytes.TrimSpace(next)) == 0 {
		return nil, nil, false
	}
	return expected, next, true
}

// casArgs reads a cas input [expected, new] (Jepsen's form).
func casArgs(raw json.RawMessage) (expected, next value, err error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return value{}, value{}, fmt.Errorf("cas input must be [expected, new], got %.60s", raw)
	}
	if expected, err = canonical(pair[0]); err != nil {
		return value{}, value{}, fmt.Errorf("cas expected value: %w", err)
	}
	if next, err = canonical(pair[1]); err != nil {
		return value{}, value{}, fmt.Errorf("cas new value: %w", err)
	}
	return expected, next, nil
}

// lzRun is one search's link to its check: once stop is set (the check
// was abandoned), every step refuses and records it in aborted, which
// makes the search end quickly; its verdict must then be ignored.
type lzRun struct {
	stop    *atomic.Bool // nil: never stop
	aborted atomic.Bool
}

// refuse reports whether the search must stop, recording it.
func (r *lzRun) refuse() bool {
	if r == nil || r.stop == nil || !r.stop.Load() {
		return false
	}
	r.aborted.Store(true)
	return true
}

// porcupineModel returns the porcupine model for m, stepping ops
// converted by [toPartitions] with initial state init; run (which may be
// nil) can stop it.
func porcupineModel(m lzModel, init *lzState, run *lzRun) porcupine.Model {
	if m.name == "mutex" {
		return porcupine.Model{
			Init: func() any { return false },
			Step: func(state, input, output any) (bool, any) {
				if run.refuse() {
					return false, state
				}
				return stepMutex(state.(bool), input.(*lzInput), output.(*lzOutput))
			},
			Hash: func(state any) uint64 {
				if state.(bool) {
					return 1
				}
				return 0
			},
			DescribeOperation:         describeOp,
			DescribeState:             func(state any) string { return map[bool]string{false: "free", true: "held"}[state.(bool)] },
			DescribeOperationMetadata: describeMetadata,
		}
	}
	if m.name == "multi-register" {
		initial := init.v
		return porcupine.Model{
			Init: func() any { return registers{} },
			Step: func(state, input, output any) (bool, any) {
				if run.refuse() {
					return false, state
				}
				st := state.(registers)
				ok, next, changed := stepTxn(st, initial, input.(*lzInput), output.(*lzOutput))
				if !changed {
					return ok, state
				}
				return ok, next
			},
			Equal:                     func(a, b any) bool { return a.(registers).equal(b.(registers)) },
			Hash:                      func(state any) uint64 { return state.(registers).hash() },
			DescribeOperation:         describeOp,
			DescribeState:             func(state any) string { return state.(registers).describe(initial) },
			DescribeOperationMetadata: describeMetadata,
		}
	}
	return porcupine.Model{
		Init: func() any { return init },
		Step: func(state, input, output any) (bool, any) {
			if run.refuse() {
				return false, state
			}
			st := state.(*lzState)
			ok, next := stepValue(st, input.(*lzInput), output.(*lzOutput))
			if next == st {
				return ok, state
			}
			return ok, next
		},
		Equal: func(a, b any) bool {
			x, y := a.(*lzState), b.(*lzState)
			return x == y || (x.id < 0 || y.id < 0) && x.v == y.v
		},
		Hash:                      func(state any) uint64 { return state.(*lzState).hash },
		DescribeOperation:         describeOp,
		DescribeState:             func(state any) string { return state.(*lzState).v.JSON() },
		DescribeOperationMetadata: describeMetadata,
	}
}

// hashValue is FNV-1a over the value's kind and text, without allocating.
func hashValue(v value) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = (h ^ uint64(v.kind)) * prime
	for i := 0; i < len(v.s); i++ {
		h = (h ^ uint64(v.s[i])) * prime
	}
	return h
}

// partitionByKey is the porcupine partition function for keyed models, in
// key order.
func partitionByKey(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, o := range ops {
		k := o.Input.(*lzInput).part.key
		byKey[k] = append(byKey[k], o)
	}
	var out [][]porcupine.Operation
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}

// stepValue is the sequential specification of a register (or one key of
// a map). An op with an unknown outcome never makes a step illegal: it
// takes effect when it can, and otherwise is taken not to have happened.
func stepValue(st *lzState, in *lzInput, out *lzOutput) (bool, *lzState) {
	p := in.part
	switch in.kind {
	case opRead:
		return out.unknown || p.sees(st, out), st
	case opWrite:
		return true, p.states[in.arg]
	case opCAS:
		if p.holds(st, in.arg) {
			if out.casFailed && !out.unknown {
				return false, st
			}
			return true, p.states[in.arg2]
		}
		return out.unknown || out.casFailed, st
	case opAppend:
		next, ok := appendValue(st.v, p.states[in.arg].v)
		if !ok {
			return out.unknown, st
		}
		return true, &lzState{id: -1, v: next, hash: hashValue(next)}
	}
	return false, st
}

// appendValue appends v to st: strings concatenate (porcupine's kv model),
// anything else is appended as an element to a list (Jepsen's
// list-append); an empty state starts either.
func appendValue(st, v value) (value, bool) {
	switch {
	case st.kind == kindNull && v.kind == kindString:
		return v, true
	case st.kind == kindString && v.kind == kindString:
		return value{kind: kindString, s: st.s + v.s}, true
	case st.kind == kindNull:
		return value{kind: kindOther, s: "[" + v.JSON() + "]"}, true
	case st.kind == kindOther && strings.HasPrefix(st.s, "["):
		if st.s == "[]" {
			return value{kind: kindOther, s: "[" + v.JSON() + "]"}, true
		}
		return value{kind: kindOther, s: st.s[:len(st.s)-1] + "," + v.JSON() + "]"}, true
	}
	return st, false
}

// registers is the state of a multi-register: the keys written so far,
// sorted, and their values; a key never written holds the initial value.
// It is never modified in place.
type registers struct {
	keys []string
	vals []value
}

func (r registers) get(key string, initial value) value {
	if i, ok := slices.BinarySearch(r.keys, key); ok {
		return r.vals[i]
	}
	return initial
}

func (r registers) set(key string, v value) registers {
	i, ok := slices.BinarySearch(r.keys, key)
	if ok {
		if r.vals[i] == v {
			return r
		}
		vals := slices.Clone(r.vals)
		vals[i] = v
		return registers{keys: r.keys, vals: vals}
	}
	return registers{keys: slices.Insert(slices.Clone(r.keys), i, key), vals: slices.Insert(slices.Clone(r.vals), i, v)}
}

func (r registers) equal(o registers) bool {
	return slices.Equal(r.keys, o.keys) && slices.Equal(r.vals, o.vals)
}

func (r registers) hash() uint64 {
	var h uint64
	for i, k := range r.keys {
		h = h*31 + hashValue(value{kind: kindString, s: k}) ^ hashValue(r.vals[i])
	}
	return h
}

func (r registers) describe(initial value) string {
	parts := make([]string, len(r.keys))
	for i, k := range r.keys {
		parts[i] = fmt.Sprintf("%s: %s", k, r.vals[i].JSON())
	}
	return "{" + strings.Join(parts, ", ") + "} (others " + initial.JSON() + ")"
}

// stepTxn applies a transaction: its reads must see the current values,
// its writes replace them. A transaction with an unknown outcome carries
// no reads and always applies.
func stepTxn(st registers, initial value, in *lzInput, out *lzOutput) (ok bool, next registers, changed bool) {
	next = st
	for _, mo := range in.part.txns[in.arg] {
		if mo.write {
			next = next.set(mo.key, mo.v)
			changed = true
		} else if next.get(mo.key, initial) != mo.v && !out.unknown {
			return false, st, false
		}
	}
	return true, next, changed
}

// stepMutex is the sequential specification of a lock.
func stepMutex(held bool, in *lzInput, out *lzOutput) (bool, any) {
	switch in.kind {
	case opAcquire:
		if !held {
			return true, true
		}
		return out.unknown, held
	case opRelease:
		if held {
			return true, false
		}
		return out.unknown, held
	}
	return false, held
}

func describeOp(input, output any) string {
	in, out := input.(*lzInput), output.(*lzOutput)
	if in.kind == opTxn {
		txn := in.part.txns[in.arg]
		mops := make([]string, len(txn))
		for i, mo := range txn {
			f := "r"
			if mo.write {
				f = "w"
			}
			mops[i] = fmt.Sprintf("%s %s %s", f, mo.key, mo.v.JSON())
		}
		s := "txn [" + strings.Join(mops, ", ") + "]"
		if out.unknown {
			s += " -> ?"
		}
		return s
	}
	val := func(id int32) string { return in.part.states[id].v.JSON() }
	var args []string
	if in.keyed {
		args = append(args, fmt.Sprintf("%q", in.part.key))
	}
	switch in.kind {
	case opWrite, opAppend:
		args = append(args, val(in.arg))
	case opCAS:
		args = append(args, val(in.arg), val(in.arg2))
	}
	s := (*in.part.types)[in.typ] + "(" + strings.Join(args, ", ") + ")"
	switch {
	case out.unknown:
		s += " -> ?"
	case in.kind == opRead:
		s += " -> " + in.part.readValue(out.v).JSON()
	case in.kind == opCAS && out.casFailed:
		s += " -> false"
	}
	return s
}

func describeMetadata(md any) string {
	switch t := md.(type) {
	case nil:
		return ""
	case *string:
		return *t
	}
	return fmt.Sprint(md)
}
