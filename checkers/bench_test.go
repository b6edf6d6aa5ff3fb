package checkers

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/falsify-dev/falsify/history"
)

// BenchmarkLinearizabilityKV checks porcupine's c50-ok key-value history
// through falsify (conversion, canonical values, per-key workers);
// compare with BenchmarkPorcupineDirectKV for the overhead.
func BenchmarkLinearizabilityKV(b *testing.B) {
	ops := importFile(b, filepath.Join(porcupineData(b), "kv", "c50-ok.txt"), "jepsen-edn")
	c, err := Lookup("linearizability")
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Ops: ops, Model: "kv", Options: map[string]any{"initial": ""}}
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Check(context.Background(), in)
		if err != nil || res.Status != StatusOK {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// BenchmarkPorcupineDirectKV checks the same ops with porcupine called
// directly, on its own test suite's kv model (typed inputs, string state,
// porcupine's partitioning), through the same CheckOperationsVerbose.
func BenchmarkPorcupineDirectKV(b *testing.B) {
	ops := importFile(b, filepath.Join(porcupineData(b), "kv", "c50-ok.txt"), "jepsen-edn")
	direct := directKVOperations(b, ops)
	b.ResetTimer()
	for b.Loop() {
		if r, _ := porcupine.CheckOperationsVerbose(directKVModel, direct, 0); r != porcupine.Ok {
			b.Fatalf("porcupine: %s", r)
		}
	}
}

// directKVInput and directKVOutput are porcupine_test.go's kvInput and
// kvOutput.
type directKVInput struct {
	op    uint8 // 0 get, 1 put, 2 append
	key   string
	value string
}

type directKVOutput struct{ value string }

// directKVModel is porcupine_test.go's kvModel.
var directKVModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		m := map[string][]porcupine.Operation{}
		for _, v := range history {
			k := v.Input.(directKVInput).key
			m[k] = append(m[k], v)
		}
		var ret [][]porcupine.Operation
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ret = append(ret, m[k])
		}
		return ret
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in, out, st := input.(directKVInput), output.(directKVOutput), state.(string)
		switch in.op {
		case 0:
			return out.value == st, state
		case 1:
			return true, in.value
		}
		return true, st + in.value
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
}

// directKVOperations converts imported ops the way porcupine's own test
// parser does, dropping reads that never returned as falsify does.
func directKVOperations(b *testing.B, ops []history.Op) []porcupine.Operation {
	var maxTS int64
	for _, o := range ops {
		if o.CompleteTS != nil {
			maxTS = max(maxTS, *o.CompleteTS)
		}
	}
	str := func(raw json.RawMessage) string {
		var s string
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &s); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	var out []porcupine.Operation
	for _, o := range ops {
		in := directKVInput{key: *o.Key, value: str(o.Input)}
		switch o.OpType {
		case "get":
			if o.Indeterminate() {
				continue
			}
		case "put":
			in.op = 1
		case "append":
			in.op = 2
		}
		ret := maxTS + 1
		var output directKVOutput
		if !o.Indeterminate() {
			ret = *o.CompleteTS
			output.value = str(o.Output)
		}
		client, _ := strconv.Atoi(*o.ProcessID)
		out = append(out, porcupine.Operation{ClientId: client, Input: in, Call: *o.InvokeTS, Output: output, Return: ret})
	}
	return out
}

// BenchmarkNoLostAck checks a million-op log history: appends (1% timed
// out, 1% failed) and reads, against the final log.
func BenchmarkNoLostAck(b *testing.B) {
	const n = 1_000_000
	ops := make([]history.Op, 0, n)
	var final []int
	proc := "p"
	for i := range n {
		ts, end := int64(i)*10, int64(i)*10+5
		o := history.Op{OpID: strconv.Itoa(i), ProcessID: &proc, InvokeTS: &ts, OpType: "append",
			Input: json.RawMessage(strconv.Itoa(i))}
		switch {
		case i%10 == 9:
			o.OpType, o.Input, o.Output = "read", nil, json.RawMessage("[]")
			o.CompleteTS = &end
		case i%100 == 3: // timed out, absent
			marker := true
			o.TimeoutMarker = &marker
		case i%100 == 5: // failed
			e := "unavailable"
			o.CompleteTS, o.Error = &end, &e
		default:
			o.CompleteTS = &end
			final = append(final, i)
		}
		if o.TimeoutMarker == nil {
			marker := false
			o.TimeoutMarker = &marker
		}
		ops = append(ops, o)
	}
	data, err := json.Marshal(final)
	if err != nil {
		b.Fatal(err)
	}
	c, _ := Lookup("no-lost-ack")
	in := Input{Ops: ops, Model: "log", States: []State{{Kind: StateFinal, Name: "log", Data: data}},
		Options: map[string]any{"quiescent": true}}
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Check(context.Background(), in)
		if err != nil || res.Status != StatusOK {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
