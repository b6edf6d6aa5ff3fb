package checkers

import (
	"context"
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

// lzModels returns the models, freshly built.
func lzModels() map[string]lzModel {
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
	return slices.Sorted(maps.Keys(lzModels()))
}

// opTypes returns the op types a model accepts, sorted.
func (m lzModel) opTypes() []string {
	return slices.Sorted(maps.Keys(m.kinds))
}

// lzInput is the porcupine input of one op.
type lzInput struct {
	kind   opKind
	opType string // as recorded, for the visualization
	key    string
	arg    value     // written / appended value, cas expected
	arg2   value     // cas new value
	keyed  bool      // show the key in descriptions
	txn    []microOp // a transaction's reads and writes
}

// microOp is one read or write of a transaction.
type microOp struct {
	write bool
	key   string
	v     value
}

// lzOutput is the porcupine output of one op.
type lzOutput struct {
	unknown   bool  // indeterminate: the op may or may not have taken effect
	v         value // value read
	casFailed bool  // a cas that completed reporting the comparison failed
}

// partition is one independent part of the history: one key, or the
// whole history for an unpartitioned model.
type partition struct {
	key string
	ops []porcupine.Operation
	idx []int // index in the input history of each op
}

// toPartitions converts a history into porcupine operations, one
// partition per key (sorted) or a single one. Failed ops are dropped (they
// cannot have taken effect), and so are reads with an unknown result (they
// constrain nothing); dropped counts both. An indeterminate op returns
// after every other op, following porcupine's convention for calls that
// never returned, and its output matches anything.
func toPartitions(ops []history.Op, m lzModel) (parts []partition, dropped int, err error) {
	minTS, maxTS := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range ops {
		for _, ts := range []*int64{ops[i].InvokeTS, ops[i].CompleteTS} {
			if ts != nil {
				minTS = min(minTS, *ts)
				maxTS = max(maxTS, *ts)
			}
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

	clients := map[string]int{}
	nextClient := 0
	byKey := map[string]*partition{}
	for i := range ops {
		o := &ops[i]
		kind, ok := m.kinds[o.OpType]
		if !ok {
			return nil, 0, fmt.Errorf("op %s: op_type %q is not part of the %s model (accepted: %s)",
				o.OpID, o.OpType, m.name, strings.Join(m.opTypes(), ", "))
		}
		indeterminate := o.Indeterminate()
		if o.Failed() || indeterminate && kind == opRead {
			dropped++
			continue
		}
		in := lzInput{kind: kind, opType: o.OpType, keyed: m.partitioned}
		if m.partitioned && o.Key != nil {
			in.key = *o.Key
		}
		switch kind {
		case opWrite, opAppend:
			if in.arg, err = canonical(o.Input); err != nil {
				return nil, 0, fmt.Errorf("op %s: input: %w", o.OpID, err)
			}
		case opCAS:
			if in.arg, in.arg2, err = casArgs(o.Input); err != nil {
				return nil, 0, fmt.Errorf("op %s: %w", o.OpID, err)
			}
		case opTxn:
			// A completed txn's output carries the values it read; one
			// with an unknown outcome only has its writes.
			raw, what := o.Output, "output"
			if indeterminate || isNull(raw) {
				raw, what = o.Input, "input"
			}
			if in.txn, err = txnOps(raw, !indeterminate); err != nil {
				return nil, 0, fmt.Errorf("op %s: %s: %w", o.OpID, what, err)
			}
		}
		out := lzOutput{unknown: indeterminate}
		if !indeterminate {
			switch kind {
			case opRead:
				if out.v, err = canonical(o.Output); err != nil {
					return nil, 0, fmt.Errorf("op %s: output: %w", o.OpID, err)
				}
			case opCAS:
				r, err := canonical(o.Output)
				if err != nil {
					return nil, 0, fmt.Errorf("op %s: output: %w", o.OpID, err)
				}
				out.casFailed = r == value{kind: kindOther, s: "false"}
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
			id, ok := clients[*o.ProcessID]
			if !ok {
				id = nextClient
				clients[*o.ProcessID] = id
			}
			client = id
		}
		if client == nextClient {
			nextClient++
		}
		p := byKey[in.key]
		if p == nil {
			p = &partition{key: in.key}
			byKey[in.key] = p
		}
		p.ops = append(p.ops, porcupine.Operation{
			ClientId: client, Input: in, Call: call, Output: out, Return: ret, Metadata: o.OpID,
		})
		p.idx = append(p.idx, i)
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		parts = append(parts, *byKey[k])
	}
	return parts, dropped, nil
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

// porcupineModel returns the porcupine model for m. Every step first asks
// ctx whether the check was abandoned; if so it refuses and sets aborted
// (when not nil), which makes the search end quickly; its verdict must
// then be ignored.
func porcupineModel(ctx context.Context, m lzModel, initial value, aborted *atomic.Bool) porcupine.Model {
	refuse := func() bool {
		if ctx.Err() == nil {
			return false
		}
		if aborted != nil {
			aborted.Store(true)
		}
		return true
	}
	if m.name == "mutex" {
		return porcupine.Model{
			Init: func() any { return false },
			Step: func(state, input, output any) (bool, any) {
				if refuse() {
					return false, state
				}
				return stepMutex(state.(bool), input.(lzInput), output.(lzOutput))
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
		return porcupine.Model{
			Init: func() any { return registers{} },
			Step: func(state, input, output any) (bool, any) {
				if refuse() {
					return false, state
				}
				st := state.(registers)
				ok, next, changed := stepTxn(st, initial, input.(lzInput), output.(lzOutput))
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
		Init: func() any { return initial },
		Step: func(state, input, output any) (bool, any) {
			if refuse() {
				return false, state
			}
			st := state.(value)
			ok, next := stepValue(st, input.(lzInput), output.(lzOutput))
			if next == st {
				return ok, state // no new allocation for an unchanged state
			}
			return ok, next
		},
		Hash:                      func(state any) uint64 { return hashValue(state.(value)) },
		DescribeOperation:         describeOp,
		DescribeState:             func(state any) string { return state.(value).JSON() },
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
		k := o.Input.(lzInput).key
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
func stepValue(st value, in lzInput, out lzOutput) (bool, value) {
	switch in.kind {
	case opRead:
		return out.unknown || out.v == st, st
	case opWrite:
		return true, in.arg
	case opCAS:
		if st == in.arg {
			if out.casFailed && !out.unknown {
				return false, st
			}
			return true, in.arg2
		}
		return out.unknown || out.casFailed, st
	case opAppend:
		next, ok := appendValue(st, in.arg)
		if !ok {
			return out.unknown, st
		}
		return true, next
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
func stepTxn(st registers, initial value, in lzInput, out lzOutput) (ok bool, next registers, changed bool) {
	next = st
	for _, mo := range in.txn {
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
func stepMutex(held bool, in lzInput, out lzOutput) (bool, any) {
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
	in, out := input.(lzInput), output.(lzOutput)
	if in.kind == opTxn {
		mops := make([]string, len(in.txn))
		for i, mo := range in.txn {
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
	var args []string
	if in.keyed {
		args = append(args, fmt.Sprintf("%q", in.key))
	}
	switch in.kind {
	case opWrite, opAppend:
		args = append(args, in.arg.JSON())
	case opCAS:
		args = append(args, in.arg.JSON(), in.arg2.JSON())
	}
	s := in.opType + "(" + strings.Join(args, ", ") + ")"
	switch {
	case out.unknown:
		s += " -> ?"
	case in.kind == opRead:
		s += " -> " + out.v.JSON()
	case in.kind == opCAS && out.casFailed:
		s += " -> false"
	}
	return s
}

func describeMetadata(md any) string {
	if md == nil {
		return ""
	}
	return fmt.Sprint(md)
}
