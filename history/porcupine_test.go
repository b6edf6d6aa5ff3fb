package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// A register history in porcupine.Operation form: a write, a concurrent
// read, a CAS that never returned (Return = MaxInt64) and a bare-value call.
const porcupineArray = `[
 {"ClientId": 0, "Input": {"op": "write", "key": "x", "value": 1}, "Call": 0, "Output": null, "Return": 10},
 {"ClientId": 1, "Input": {"op": "read", "key": "x"}, "Call": 5, "Output": {"value": 1}, "Return": 12},
 {"ClientId": 2, "Input": {"Op": "cas", "Key": "x", "from": 1, "to": 2}, "Call": 11, "Output": {"ok": true}, "Return": 9223372036854775807},
 {"ClientId": 1, "Input": 7, "Call": 20, "Output": 7, "Return": 25, "Metadata": "free-form"}
]`

// The same operations with snake_case keys, one per line, the pending one
// without Return.
const porcupineLines = `{"client_id": 0, "input": {"op": "write", "key": "x", "value": 1}, "call": 0, "output": null, "return": 10}
{"client_id": 1, "input": {"op": "read", "key": "x"}, "call": 5, "output": {"value": 1}, "return": 12}
{"client_id": 2, "input": {"Op": "cas", "Key": "x", "from": 1, "to": 2}, "call": 11}

{"clientId": 1, "input": 7, "call": 20, "output": 7, "return": 25}
`

func TestImportPorcupine(t *testing.T) {
	a := importString(t, porcupineArray, "porcupine")
	b := importString(t, porcupineLines, "porcupine")
	if len(a.Rejected) != 0 || len(b.Rejected) != 0 {
		t.Fatalf("rejected %v %v", a.Rejected, b.Rejected)
	}
	if !reflect.DeepEqual(a.Ops, b.Ops) {
		t.Errorf("array and JSON Lines forms differ:\n%+v\n%+v", a.Ops, b.Ops)
	}
	var got []string
	for _, op := range a.Ops {
		key := "-"
		if op.Key != nil {
			key = *op.Key
		}
		got = append(got, fmt.Sprintf("%s:%s:%s:%s:%v", op.OpID, *op.ProcessID, op.OpType, key, op.Indeterminate()))
	}
	want := []string{"0:0:write:x:false", "1:1:read:x:false", "2:2:cas:x:true", "3:1:call:-:false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ops %v, want %v", got, want)
	}
	if cas := a.Ops[2]; cas.Output != nil || cas.CompleteTS != nil {
		t.Errorf("pending op kept an output or a return: %+v", cas)
	}
	if string(a.Ops[1].Output) != `{"value":1}` || string(a.Ops[3].Input) != "7" {
		t.Errorf("values not kept as given: %s %s", a.Ops[1].Output, a.Ops[3].Input)
	}
	if !strings.Contains(a.Mapping, "1 with Return null/absent/MaxInt64") || !strings.Contains(a.Mapping, "1 outputs dropped") {
		t.Errorf("mapping %s", a.Mapping)
	}
}

func TestPorcupineRoundTrip(t *testing.T) {
	first := importString(t, porcupineArray, "porcupine")
	var out bytes.Buffer
	if err := WritePorcupine(&out, first.Ops); err != nil {
		t.Fatal(err)
	}
	// Porcupine itself can read what we write.
	var pops []porcupine.Operation
	if err := json.Unmarshal(out.Bytes(), &pops); err != nil || len(pops) != 4 {
		t.Fatalf("porcupine.Operation decode: %v (%d ops)\n%s", err, len(pops), out.String())
	}
	if pops[2].Return != math.MaxInt64 || pops[1].Call != 5 || pops[1].ClientId != 1 {
		t.Errorf("porcupine ops %+v", pops)
	}
	second := importString(t, out.String(), "porcupine")
	if len(second.Rejected) != 0 {
		t.Fatalf("rejected %v", second.Rejected)
	}
	if !reflect.DeepEqual(first.Ops, second.Ops) {
		t.Errorf("round trip changed the ops:\n%+v\n%+v", first.Ops, second.Ops)
	}
	var again bytes.Buffer
	if err := WritePorcupine(&again, second.Ops); err != nil || again.String() != out.String() {
		t.Errorf("second write differs (%v):\n%s\n%s", err, out.String(), again.String())
	}
}

// TestPorcupineRoundTripJepsen writes a real Jepsen history (process ids,
// :index op ids, errors on timeouts, fault epochs) to porcupine form and
// reads it back: everything but the failed ops, which porcupine cannot
// express, survives.
func TestPorcupineRoundTripJepsen(t *testing.T) {
	for _, name := range []string{"mutex/bad/etcd.edn", "multi-register/good/multi-register.edn", "cas-register/bad/cas-failure.edn"} {
		imp := importFile(t, filepath.Join(corpusDir, name), "jepsen-edn")
		var out bytes.Buffer
		if err := WritePorcupine(&out, imp.Ops); err != nil {
			t.Fatal(err)
		}
		back := importString(t, out.String(), "porcupine")
		var want []Op
		for _, op := range imp.Ops {
			if !op.Failed() {
				want = append(want, op)
			}
		}
		if len(back.Rejected) != 0 || !reflect.DeepEqual(back.Ops, want) {
			t.Errorf("%s: %d ops back of %d, rejected %v", name, len(back.Ops), len(want), back.Rejected)
		}
	}
	// Named processes get numbers and keep their names.
	ops := []Op{row("a", 1, 2), row("b", 3, 4), row("c", 5, 6)}
	ops[0].ProcessID, ops[1].ProcessID, ops[2].ProcessID = ptr("client-x"), ptr("3"), nil
	var out bytes.Buffer
	if err := WritePorcupine(&out, ops); err != nil {
		t.Fatal(err)
	}
	var pops []porcupine.Operation
	if err := json.Unmarshal(out.Bytes(), &pops); err != nil {
		t.Fatal(err)
	}
	if pops[0].ClientId != 4 || pops[1].ClientId != 3 || pops[2].ClientId != 5 {
		t.Errorf("client ids %d %d %d", pops[0].ClientId, pops[1].ClientId, pops[2].ClientId)
	}
	back := importString(t, out.String(), "porcupine")
	if *back.Ops[0].ProcessID != "client-x" || *back.Ops[1].ProcessID != "3" {
		t.Errorf("process ids back: %v %v", *back.Ops[0].ProcessID, *back.Ops[1].ProcessID)
	}
	if err := WritePorcupine(&out, []Op{{OpID: "x", OpType: "read"}}); err == nil {
		t.Errorf("an op without invoke_ts was written")
	}
}

func TestImportPorcupineRejects(t *testing.T) {
	src := `{"ClientId": 0, "Input": 1, "Call": 0, "Output": 1, "Return": 1}
{"ClientId": 0, "Input": 1, "Call": "soon", "Return": 1}
{"ClientId": 0, "Input": 1, "Call": 0, "Return": 1, "Colour": "red"}
[1, 2]
{"ClientId": 0, "Input": 1, "Return": 1}
{"ClientId": 0, "Input": 1, "Call": 5, "Return": 1}
{"ClientId": 0, "Input": 1, "Call": 0, "Return": 1.5}
not json
{"ClientId": 0, "Input": 2, "Call": 7, "Output": 2, "Return": 9}
`
	imp := importString(t, src, "porcupine")
	want := map[int]string{2: "invoke_ts", 3: "row", 4: "row", 5: "invoke_ts", 6: "complete_ts", 7: "complete_ts", 8: "row"}
	got := map[int]string{}
	for _, r := range imp.Rejected {
		got[r.Index] = r.Field
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rejected lines→fields\n got %v\nwant %v\n%v", got, want, imp.Rejected)
	}
	if len(imp.Ops) != 2 || imp.Ops[1].OpID != "8" {
		t.Errorf("kept %+v", imp.Ops)
	}
	if _, err := Import(strings.NewReader(`[{"Call": 1}, {"Call": `), "porcupine"); err == nil {
		t.Errorf("truncated array imported without error")
	}
}

// kvOp is an imported kv op decoded once for the model.
type kvOp struct{ typ, key, in, out string }

// kvModel is porcupine's key-value model over imported ops: get returns
// the value, put replaces it, append extends it; partitioned by key.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range history {
			k := o.Input.(kvOp).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		var parts [][]porcupine.Operation
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		op := input.(kvOp)
		switch op.typ {
		case "get":
			return op.out == state.(string), state
		case "put":
			return true, op.in
		case "append":
			return true, state.(string) + op.in
		}
		return false, state
	},
	Equal: func(a, b interface{}) bool { return a == b },
}

// TestImportKVLinearizability checks the imported kv histories with
// Porcupine: the -ok files are linearizable and the -bad ones are not, as
// porcupine_test.go says; a wrong pairing or timestamp would break that.
func TestImportKVLinearizability(t *testing.T) {
	dir := porcupineTestData(t)
	for _, name := range []string{"c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad"} {
		if testing.Short() && strings.HasPrefix(name, "c50") {
			continue // seconds of search
		}
		imp := importFile(t, filepath.Join(dir, "kv", name+".txt"), "jepsen-edn")
		var ops []porcupine.Operation
		for _, op := range imp.Ops {
			client := 0
			fmt.Sscan(*op.ProcessID, &client)
			in := kvOp{typ: op.OpType, key: *op.Key}
			_ = json.Unmarshal(op.Input, &in.in)
			_ = json.Unmarshal(op.Output, &in.out)
			ops = append(ops, porcupine.Operation{ClientId: client, Input: in, Call: *op.InvokeTS, Return: *op.CompleteTS})
		}
		res := porcupine.CheckOperationsTimeout(kvModel, ops, time.Minute)
		want := porcupine.Ok
		if strings.HasSuffix(name, "-bad") {
			want = porcupine.Illegal
		}
		if res != want {
			t.Errorf("%s: porcupine says %v, want %v", name, res, want)
		}
	}
}
