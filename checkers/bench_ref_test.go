package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/falsify-dev/falsify/history"
)

// The benchmarks in this file each measure falsify next to a reference
// taken in the same run, as sub-benchmarks …/falsify and …/<reference>;
// scripts/bench prints them side by side with their ratio.

// linearizabilityDataset is a set of histories checked together: one
// iteration checks every history in it.
type linearizabilityDataset struct {
	name   string
	model  string // falsify's model
	format string // history.Import format
	files  []string
	// initial is Options["initial"]: porcupine's kv model reads an absent
	// key as "".
	initial any
}

// linearizabilityDatasets returns Porcupine's key-value histories, a
// handful of its etcd logs (linearizable and not, small and large) and
// every linearizable history of the Knossos cas-register corpus.
func linearizabilityDatasets(b *testing.B) []linearizabilityDataset {
	pd := porcupineData(b)
	var sets []linearizabilityDataset
	for _, name := range []string{"c01-ok", "c10-ok", "c50-ok"} {
		sets = append(sets, linearizabilityDataset{name: "kv/" + name, model: "kv", format: "jepsen-edn",
			files: []string{filepath.Join(pd, "kv", name+".txt")}, initial: ""})
	}
	// etcd_000 and etcd_040 are not linearizable, the others are; 002
	// and 100 are among the longest.
	for _, n := range []int{0, 2, 7, 40, 100} {
		sets = append(sets, linearizabilityDataset{name: fmt.Sprintf("etcd/%03d", n), model: "cas-register", format: "jepsen-log",
			files: []string{filepath.Join(pd, "jepsen", fmt.Sprintf("etcd_%03d.log", n))}})
	}
	knossos, err := filepath.Glob(filepath.Join(corpusDir(b), "knossos", "cas-register", "good", "*.edn"))
	if err != nil || len(knossos) == 0 {
		b.Fatalf("knossos corpus: %d files, %v", len(knossos), err)
	}
	sets = append(sets, linearizabilityDataset{name: fmt.Sprintf("knossos-good-%d", len(knossos)), model: "cas-register",
		format: "jepsen-edn", files: knossos})
	return sets
}

// BenchmarkLinearizabilityRef checks each dataset through falsify
// (history ops → Lookup("linearizability").Check: conversion, canonical
// values, partitioning, Porcupine, evidence) and with Porcupine called
// directly on the equivalent porcupine.Operations with typed inputs and
// outputs (porcupine's own test models). Parsing happens once, outside the
// timer, in both; the verdicts must agree.
func BenchmarkLinearizabilityRef(b *testing.B) {
	c, err := Lookup("linearizability")
	if err != nil {
		b.Fatal(err)
	}
	for _, ds := range linearizabilityDatasets(b) {
		var inputs []Input
		var direct [][]porcupine.Operation
		var want []porcupine.CheckResult
		model := directRegisterModel
		if ds.model == "kv" {
			model = directKVModel
		}
		ops := 0
		for _, f := range ds.files {
			hist := importFile(b, f, ds.format)
			ops += len(hist)
			in := Input{Ops: hist, Model: ds.model}
			if ds.initial != nil {
				in.Options = map[string]any{"initial": ds.initial}
			}
			inputs = append(inputs, in)
			var d []porcupine.Operation
			if ds.model == "kv" {
				d = directKVOperations(b, hist)
			} else {
				d = directRegisterOperations(b, hist)
			}
			direct = append(direct, d)
			r := porcupine.CheckOperationsTimeout(model, d, 0)
			res, err := c.Check(context.Background(), in)
			if err != nil {
				b.Fatal(err)
			}
			if (r == porcupine.Ok) != (res.Status == StatusOK) || res.Status == StatusUnknown {
				b.Fatalf("%s: porcupine %s, falsify %s: %s", f, r, res.Status, res.Evidence)
			}
			want = append(want, r)
		}
		b.Run(ds.name+"/falsify", func(b *testing.B) {
			for b.Loop() {
				for i, in := range inputs {
					res, err := c.Check(context.Background(), in)
					if err != nil || (res.Status == StatusOK) != (want[i] == porcupine.Ok) {
						b.Fatalf("%s: %v %+v", ds.files[i], err, res)
					}
				}
			}
			b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run(ds.name+"/porcupine", func(b *testing.B) {
			for b.Loop() {
				for i, d := range direct {
					if r := porcupine.CheckOperationsTimeout(model, d, 0); r != want[i] {
						b.Fatalf("%s: porcupine %s, want %s", ds.files[i], r, want[i])
					}
				}
			}
			b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// directRegisterInput and directRegisterOutput are porcupine_test.go's
// etcdInput and etcdOutput.
type directRegisterInput struct {
	op   uint8 // 0 read, 1 write, 2 cas
	arg1 int   // written value, cas expected
	arg2 int   // cas new value
}

type directRegisterOutput struct {
	ok      bool // cas succeeded
	exists  bool // read a value (not nil)
	value   int  // value read
	unknown bool // no response
}

// directRegisterNil is porcupine_test.go's encoding of a nil register.
const directRegisterNil = -1000000

// directRegisterModel is porcupine_test.go's etcdModel, a cas-register of
// ints.
var directRegisterModel = porcupine.Model{
	Init: func() any { return directRegisterNil },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(int), input.(directRegisterInput), output.(directRegisterOutput)
		switch in.op {
		case 0:
			return !out.exists && st == directRegisterNil || out.exists && st == out.value || out.unknown, state
		case 1:
			return true, in.arg1
		}
		ok := in.arg1 == st && out.ok || in.arg1 != st && !out.ok || out.unknown
		if in.arg1 == st {
			return ok, in.arg2
		}
		return ok, st
	},
}

// directRegisterOperations converts imported cas-register ops to typed
// porcupine operations with falsify's rules (failed ops and reads without
// a response dropped; an op without a response returns after every
// other), so that both check the same operations.
func directRegisterOperations(b *testing.B, ops []history.Op) []porcupine.Operation {
	var maxTS int64
	for _, o := range ops {
		for _, ts := range []*int64{o.InvokeTS, o.CompleteTS} {
			if ts != nil {
				maxTS = max(maxTS, *ts)
			}
		}
	}
	num := func(raw json.RawMessage) (int, bool) {
		var v *int
		if len(raw) == 0 {
			return directRegisterNil, false // null is stored as no value
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatalf("%s is not an int or null: %v", raw, err)
		}
		if v == nil {
			return directRegisterNil, false
		}
		return *v, true
	}
	var out []porcupine.Operation
	for _, o := range ops {
		unknown := o.Indeterminate()
		if o.Failed() || unknown && o.OpType == "read" {
			continue
		}
		var in directRegisterInput
		output := directRegisterOutput{unknown: unknown}
		switch o.OpType {
		case "read":
			if !unknown {
				output.value, output.exists = num(o.Output)
			}
		case "write":
			in.op = 1
			in.arg1, _ = num(o.Input)
		case "cas":
			in.op = 2
			var pair []json.RawMessage
			if err := json.Unmarshal(o.Input, &pair); err != nil || len(pair) != 2 {
				b.Fatalf("cas input %s", o.Input)
			}
			in.arg1, _ = num(pair[0])
			in.arg2, _ = num(pair[1])
			output.ok = string(o.Output) != "false"
		default:
			b.Fatalf("op %s: op_type %q", o.OpID, o.OpType)
		}
		call, ret := *o.InvokeTS, maxTS+1
		if !unknown {
			ret = max(*o.CompleteTS, call)
		}
		client, _ := strconv.Atoi(*o.ProcessID)
		out = append(out, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: output, Return: ret})
	}
	return out
}

// linearOps is the size of the generated histories the linear checkers
// are measured on.
const linearOps = 1_000_000

// linearWorkload is a generated history for one linear-time checker.
type linearWorkload struct {
	checker string
	in      func(n int) Input // n ops, deterministic
}

// linearWorkloads returns a clean history per linear-time checker, in the
// shapes those checkers' tests use.
func linearWorkloads() []linearWorkload {
	return []linearWorkload{
		{"no-lost-ack", logHistory},
		{"exactly-once", func(n int) Input {
			ops := make([]history.Op, 0, n)
			var ledger strings.Builder
			ledger.WriteString("[")
			for i := 0; len(ops) < n; i++ {
				in := `{"idem":"k` + strconv.Itoa(i) + `","amount":1}`
				t := int64(i) * 100
				p := strconv.Itoa(i % 64)
				// A timed-out attempt and its retry, applied once.
				ops = append(ops, benchOp(len(ops), p, "debit", t, timeout, in, ""), benchOp(len(ops)+1, p, "debit", t+10, t+20, in, ""))
				if i > 0 {
					ledger.WriteString(",")
				}
				ledger.WriteString(`{"idem":"k` + strconv.Itoa(i) + `"}`)
			}
			ledger.WriteString("]")
			return Input{Ops: ops, Model: "ledger", Options: map[string]any{"key_field": "idem", "quiescent": true},
				States: []State{{Kind: StateFinal, Name: "ledger", Data: json.RawMessage(ledger.String())}}}
		}},
		{"monotonic-read", func(n int) Input {
			ops := make([]history.Op, n)
			for i := range ops {
				ver := strconv.Itoa(i / 100)
				ops[i] = keyed("k"+strconv.Itoa(i%1000), benchOp(i, strconv.Itoa(i%100), "read", int64(i)*10, int64(i)*10+5, "",
					`{"value":1,"version":`+ver+`}`))
			}
			return Input{Ops: ops, Model: "session"}
		}},
		{"prefix-order", func(n int) Input {
			ops := make([]history.Op, 0, n)
			for i := range n / 2 {
				ops = append(ops, benchOp(len(ops), "p"+strconv.Itoa(i%10), "enqueue", int64(i)*10, int64(i)*10+5, strconv.Itoa(i), ""))
			}
			for i := range n / 2 {
				ops = append(ops, benchOp(len(ops), "c"+strconv.Itoa(i%10), "dequeue", int64(n+i)*10, int64(n+i)*10+5, "", strconv.Itoa(i)))
			}
			return Input{Ops: ops, Model: "queue"}
		}},
		{"counter", func(n int) Input {
			ops := make([]history.Op, 0, n)
			for i := range n / 2 {
				t := int64(i) * 100
				ops = append(ops, benchOp(len(ops), strconv.Itoa(i%50), "inc", t, t+10, "1", ""),
					benchOp(len(ops)+1, "r"+strconv.Itoa(i%50), "read", t+20, t+30, "", strconv.Itoa(i+1)))
			}
			return Input{Ops: ops, Model: "counter"}
		}},
		{"set", func(n int) Input {
			ops := make([]history.Op, 0, n)
			var all strings.Builder
			all.WriteString("[")
			for i := range n - 1 {
				ops = append(ops, benchOp(i, strconv.Itoa(i%50), "add", int64(i)*10, int64(i)*10+5, strconv.Itoa(i), ""))
				if i > 0 {
					all.WriteString(",")
				}
				all.WriteString(strconv.Itoa(i))
			}
			all.WriteString("]")
			ops = append(ops, benchOp(n-1, "r", "read", int64(n)*10, int64(n)*10+5, "", all.String()))
			return Input{Ops: ops, Model: "set"}
		}},
	}
}

// logHistory is a log history of n ops for no-lost-ack: appends (1% timed
// out and absent, 1% failed) and reads, with the final log.
func logHistory(n int) Input {
	ops := make([]history.Op, 0, n)
	var final strings.Builder
	final.WriteString("[")
	for i := range n {
		ts := int64(i) * 10
		var o history.Op
		switch {
		case i%10 == 9:
			o = benchOp(i, "p", "read", ts, ts+5, "", "[]")
		case i%100 == 3:
			o = benchOp(i, "p", "append", ts, timeout, strconv.Itoa(i), "")
		case i%100 == 5:
			o = failed(benchOp(i, "p", "append", ts, ts+5, strconv.Itoa(i), ""))
		default:
			o = benchOp(i, "p", "append", ts, ts+5, strconv.Itoa(i), "")
			if final.Len() > 1 {
				final.WriteString(",")
			}
			final.WriteString(strconv.Itoa(i))
		}
		ops = append(ops, o)
	}
	final.WriteString("]")
	return Input{Ops: ops, Model: "log", Options: map[string]any{"quiescent": true},
		States: []State{{Kind: StateFinal, Name: "log", Data: json.RawMessage(final.String())}}}
}

// BenchmarkLinearCheckers runs each linear-time checker on a generated
// clean history of a million ops (…/falsify), next to the floor: decoding
// the same history from JSONL with history.ReadJSONL (…/decode). The
// checker runs on the decoded ops, as run_checker does.
func BenchmarkLinearCheckers(b *testing.B) {
	for _, w := range linearWorkloads() {
		c, err := Lookup(w.checker)
		if err != nil {
			b.Fatal(err)
		}
		var data []byte
		var in Input
		setup := func(b *testing.B) {
			if data != nil {
				return
			}
			in = w.in(linearOps)
			var buf bytes.Buffer
			if err := history.WriteJSONL(&buf, in.Ops); err != nil {
				b.Fatal(err)
			}
			data = buf.Bytes()
			if in.Ops, err = history.ReadJSONL(bytes.NewReader(data)); err != nil || len(in.Ops) != linearOps {
				b.Fatalf("%d ops, %v", len(in.Ops), err)
			}
			res, err := c.Check(context.Background(), in)
			if err != nil || res.Status != StatusOK || res.OpsConsumed != linearOps || len(res.Missing) > 0 {
				b.Fatalf("%s on its clean history: %v %+v", w.checker, err, res)
			}
		}
		b.Run(w.checker+"/falsify", func(b *testing.B) {
			setup(b)
			runtime.GC() // no garbage from setup or the previous checker collected on the clock
			b.ReportAllocs()
			for b.Loop() {
				if res, err := c.Check(context.Background(), in); err != nil || res.Status != StatusOK {
					b.Fatalf("%v %+v", err, res)
				}
			}
			b.ReportMetric(float64(linearOps)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run(w.checker+"/decode", func(b *testing.B) {
			setup(b)
			runtime.GC()
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if ops, err := history.ReadJSONL(bytes.NewReader(data)); err != nil || len(ops) != linearOps {
					b.Fatalf("%d ops, %v", len(ops), err)
				}
			}
			b.ReportMetric(float64(linearOps)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		data, in = nil, Input{} // free the history before the next checker's
	}
}

// peakRSSEnv tells the test binary it is BenchmarkPeakRSS's child: its
// value is "check:<path>" or "import:<path>".
const peakRSSEnv = "FALSIFY_BENCH_PEAK_RSS"

// BenchmarkPeakRSS measures the peak resident memory of importing a
// 1M-op JSONL history (history.Import) and checking it with no-lost-ack
// (…/falsify), next to importing it alone (…/import), each in a fresh
// child process (this test binary re-executed), in bytes per op: the
// highest of b.N runs (the peak depends on when the collector runs).
func BenchmarkPeakRSS(b *testing.B) {
	in := logHistory(linearOps)
	path := filepath.Join(b.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := history.WriteJSONL(f, in.Ops); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path+".final", in.States[0].Data, 0o644); err != nil {
		b.Fatal(err)
	}
	in = Input{}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"falsify", "import"} {
		b.Run(mode, func(b *testing.B) {
			var peak int64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSChild$", "-test.count=1", "-test.v")
				cmd.Env = append(os.Environ(), peakRSSEnv+"="+mode+":"+path)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				// The child's own high-water mark: rusage's maxrss would
				// include this process's, which the child's mm started
				// as a copy of until exec.
				_, hwm, ok := strings.Cut(string(out), peakRSSPrefix)
				if !ok {
					b.Fatalf("child reported no peak RSS:\n%s", out)
				}
				kib, err := strconv.ParseInt(strings.Fields(hwm)[0], 10, 64)
				if err != nil {
					b.Fatalf("child's peak RSS %q: %v", hwm, err)
				}
				peak = max(peak, kib*1024)
			}
			b.ReportMetric(float64(peak)/linearOps, "peak-B/op")
			b.ReportMetric(float64(st.Size())/linearOps, "file-B/op")
		})
	}
}

// TestPeakRSSChild is BenchmarkPeakRSS's child process; run directly it
// only checks that it refuses a malformed request.
func TestPeakRSSChild(t *testing.T) {
	spec, ok := os.LookupEnv(peakRSSEnv)
	if !ok {
		if err := peakRSSChild("bogus"); err == nil {
			t.Fatal("peakRSSChild accepted a malformed request")
		}
		return
	}
	if err := peakRSSChild(spec); err != nil {
		t.Fatal(err)
	}
	hwm, err := highWaterRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s%d kB", peakRSSPrefix, hwm)
}

// peakRSSPrefix precedes the child's peak RSS in its output.
const peakRSSPrefix = "peak RSS (VmHWM): "

// highWaterRSS returns this process's peak resident set size in KiB
// (VmHWM in /proc/self/status).
func highWaterRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// peakRSSChild imports the history named by spec ("<mode>:<path>") and,
// for mode "falsify", checks it with no-lost-ack against <path>.final.
func peakRSSChild(spec string) error {
	mode, path, ok := strings.Cut(spec, ":")
	if !ok || mode != "falsify" && mode != "import" {
		return fmt.Errorf("want falsify:<path> or import:<path>, got %q", spec)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	imp, err := history.Import(f, "jsonl")
	if err != nil {
		return err
	}
	if len(imp.Ops) != linearOps || len(imp.Rejected) > 0 {
		return fmt.Errorf("imported %d ops, %d rejected", len(imp.Ops), len(imp.Rejected))
	}
	if mode == "import" {
		return nil
	}
	final, err := os.ReadFile(path + ".final")
	if err != nil {
		return err
	}
	c, err := Lookup("no-lost-ack")
	if err != nil {
		return err
	}
	res, err := c.Check(context.Background(), Input{Ops: imp.Ops, Model: "log", Options: map[string]any{"quiescent": true},
		States: []State{{Kind: StateFinal, Name: "log", Data: final}}})
	if err != nil {
		return err
	}
	if res.Status != StatusOK || res.OpsConsumed != linearOps {
		return fmt.Errorf("no-lost-ack: %s, consumed %d: %s", res.Status, res.OpsConsumed, res.Evidence)
	}
	return nil
}
