package checkers

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// generateElleListAppend returns a list-append history of n transactions that
// a serializable (indeed strict-serializable) database produced: the
// transactions execute one at a time in commit order, each within its
// own [invoke, complete] interval, on processes that each run one at a
// time. active keys are in use at once; a key retires after maxAppends
// appends, as in Jepsen's list-append generator. About 2% of the
// transactions abort (their appends never apply) and 2% time out (their
// appends apply or not, at random).
func generateElleListAppend(n, active, maxAppends int, seed uint64) []history.Op {
	const processes = 16
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	state := map[int][]int{}    // key → list
	appends := map[int]int{}    // key → appends so far
	keys := make([]int, active) // the keys in use
	nextKey := 0
	for i := range keys {
		keys[i] = nextKey
		nextKey++
	}
	ops := make([]history.Op, 0, n)
	var in, out strings.Builder
	for i := range n {
		commit := int64(i) * 100
		invoke := commit - rng.Int64N(50*processes)
		complete := commit + 1 + rng.Int64N(50*processes)
		proc := strconv.Itoa(i % processes)
		roll := rng.IntN(100)
		aborted, indeterminate := roll < 2, roll >= 2 && roll < 4
		applied := !aborted && (!indeterminate || rng.IntN(2) == 0)
		in.Reset()
		out.Reset()
		in.WriteByte('[')
		out.WriteByte('[')
		for j := range 1 + rng.IntN(4) {
			if j > 0 {
				in.WriteByte(',')
				out.WriteByte(',')
			}
			slot := rng.IntN(active)
			k := keys[slot]
			ks := strconv.Itoa(k)
			if rng.IntN(2) == 0 {
				in.WriteString(`["r",` + ks + `,null]`)
				out.WriteString(`["r",` + ks + `,[`)
				for e, v := range state[k] {
					if e > 0 {
						out.WriteByte(',')
					}
					out.WriteString(strconv.Itoa(v))
				}
				out.WriteString(`]]`)
				continue
			}
			appends[k]++
			v := appends[k]
			m := `["append",` + ks + `,` + strconv.Itoa(v) + `]`
			in.WriteString(m)
			out.WriteString(m)
			if applied {
				state[k] = append(state[k], v)
			}
			if appends[k] >= maxAppends {
				keys[slot] = nextKey
				nextKey++
			}
		}
		in.WriteByte(']')
		out.WriteByte(']')
		o := history.Op{OpID: strconv.Itoa(i), ProcessID: &proc, OpType: "txn", InvokeTS: &invoke,
			Input: json.RawMessage(in.String())}
		marker := indeterminate
		o.TimeoutMarker = &marker
		switch {
		case indeterminate:
		case aborted:
			c, e := complete, "aborted"
			o.CompleteTS, o.Error = &c, &e
		default:
			c := complete
			o.CompleteTS = &c
			o.Output = json.RawMessage(out.String())
		}
		ops = append(ops, o)
	}
	return ops
}

// generateElleRWRegister returns an rw-register history of n transactions
// from a strict-serializable database, like generateListAppend: each
// micro-op reads a key, writes it a fresh value (unique per key), or
// reads and then writes it, which is what lets the checker order
// versions. About 2% abort and 2% time out.
func generateElleRWRegister(n, keys int, seed uint64) []history.Op {
	const processes = 16
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	state := map[int]int{} // key → value; 0 is the initial null
	next := map[int]int{}
	ops := make([]history.Op, 0, n)
	var in, out strings.Builder
	sep := func() {
		if in.Len() > 1 {
			in.WriteByte(',')
			out.WriteByte(',')
		}
	}
	read := func(k int) {
		sep()
		ks := strconv.Itoa(k)
		in.WriteString(`["r",` + ks + `,null]`)
		if v := state[k]; v == 0 {
			out.WriteString(`["r",` + ks + `,null]`)
		} else {
			out.WriteString(`["r",` + ks + `,` + strconv.Itoa(v) + `]`)
		}
	}
	for i := range n {
		commit := int64(i) * 100
		invoke := commit - rng.Int64N(50*processes)
		complete := commit + 1 + rng.Int64N(50*processes)
		proc := strconv.Itoa(i % processes)
		roll := rng.IntN(100)
		aborted, indeterminate := roll < 2, roll >= 2 && roll < 4
		applied := !aborted && (!indeterminate || rng.IntN(2) == 0)
		in.Reset()
		out.Reset()
		in.WriteByte('[')
		out.WriteByte('[')
		saved := map[int]int{}
		for range 1 + rng.IntN(3) {
			k := rng.IntN(keys)
			if _, ok := saved[k]; !ok {
				saved[k] = state[k]
			}
			switch rng.IntN(3) {
			case 0:
				read(k)
			case 1:
				read(k)
				fallthrough
			default:
				next[k]++
				sep()
				m := `["w",` + strconv.Itoa(k) + `,` + strconv.Itoa(next[k]) + `]`
				in.WriteString(m)
				out.WriteString(m)
				state[k] = next[k]
			}
		}
		if !applied { // roll back
			for k, v := range saved {
				state[k] = v
			}
		}
		in.WriteByte(']')
		out.WriteByte(']')
		o := history.Op{OpID: strconv.Itoa(i), ProcessID: &proc, OpType: "txn", InvokeTS: &invoke,
			Input: json.RawMessage(in.String())}
		marker := indeterminate
		o.TimeoutMarker = &marker
		switch {
		case indeterminate:
		case aborted:
			c, e := complete, "aborted"
			o.CompleteTS, o.Error = &c, &e
		default:
			c := complete
			o.CompleteTS = &c
			o.Output = json.RawMessage(out.String())
		}
		ops = append(ops, o)
	}
	return ops
}

// BenchmarkSerializabilityRWRegister100k checks a generated anomaly-free
// rw-register history of 100,000 transactions over 1,000 keys under
// strict serializability.
func BenchmarkSerializabilityRWRegister100k(b *testing.B) {
	ops := generateElleRWRegister(100_000, 1000, 1)
	c, err := Lookup("serializability")
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Ops: ops, Model: "rw-register", Options: map[string]any{"consistency": "strict-serializable"}}
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Check(context.Background(), in)
		if err != nil || res.Status != StatusOK {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// BenchmarkSerializability100k checks a generated anomaly-free
// list-append history of 100,000 transactions under strict
// serializability (every edge kind, real-time included).
func BenchmarkSerializability100k(b *testing.B) {
	ops := generateElleListAppend(100_000, 10, 32, 1)
	c, err := Lookup("serializability")
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Ops: ops, Model: "list-append", Options: map[string]any{"consistency": "strict-serializable"}}
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Check(context.Background(), in)
		if err != nil || res.Status != StatusOK {
			b.Fatalf("%v %+v", err, res)
		}
	}
}
