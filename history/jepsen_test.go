package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const corpusDir = "../testdata/corpus/knossos"

// porcupineTestData returns porcupine's test_data directory from the module
// cache, skipping the test when it is not there.
func porcupineTestData(t testing.TB) string {
	t.Helper()
	porcupineDirOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err == nil {
			porcupineDir = filepath.Join(strings.TrimSpace(string(out)), "github.com/anishathalye/porcupine@v1.3.1/test_data")
		}
	})
	if _, err := os.Stat(porcupineDir); porcupineDir == "" || err != nil {
		t.Fatalf("porcupine test data not found (%q): %v", porcupineDir, err)
	}
	return porcupineDir
}

var (
	porcupineDirOnce sync.Once
	porcupineDir     string
)

func importFile(t *testing.T, path, format string) *Imported {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp, err := Import(f, format)
	if err != nil {
		t.Fatalf("Import(%s, %s): %v", path, format, err)
	}
	return imp
}

func importString(t *testing.T, src, format string) *Imported {
	t.Helper()
	imp, err := Import(strings.NewReader(src), format)
	if err != nil {
		t.Fatalf("Import(%s): %v", format, err)
	}
	return imp
}

// outcomes counts the imported ops by outcome.
func outcomes(ops []Op) (ok, failed, indeterminate int) {
	for i := range ops {
		switch {
		case ops[i].OK():
			ok++
		case ops[i].Failed():
			failed++
		default:
			indeterminate++
		}
	}
	return
}

// TestImportKnossosCorpus imports every Jepsen history of the corpus and
// checks the op counts against counts taken from the raw text.
func TestImportKnossosCorpus(t *testing.T) {
	var files []string
	err := filepath.Walk(corpusDir, func(path string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(path, ".edn") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("corpus missing from the repository: %v", err)
	}
	if len(files) != 122 {
		t.Errorf("found %d corpus files, the README lists 122", len(files))
	}
	count := func(src []byte, pattern string) int {
		return len(regexp.MustCompile(pattern).FindAllIndex(src, -1))
	}
	for _, path := range files {
		rel, _ := filepath.Rel(corpusDir, path)
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			invokes := count(src, `:type\s+:invoke`)
			oks := count(src, `:type\s+:ok`)
			fails := count(src, `:type\s+:fail`)
			nemesis := count(src, `:process\s+:nemesis`)
			timed := count(src, `:time\s+\d`)
			imp := importFile(t, path, "jepsen-edn")
			if len(imp.Rejected) != 0 {
				t.Fatalf("%d rejections, first %v", len(imp.Rejected), imp.Rejected[0])
			}
			if len(imp.Ops) != invokes {
				t.Errorf("%d ops, the file has %d :invoke rows", len(imp.Ops), invokes)
			}
			ok, failed, indet := outcomes(imp.Ops)
			if ok != oks || failed != fails || indet != invokes-oks-fails {
				t.Errorf("ok/fail/indeterminate = %d/%d/%d, the file says %d/%d/%d", ok, failed, indet, oks, fails, invokes-oks-fails)
			}
			if nemesis == 0 && len(imp.Windows) != 0 {
				t.Errorf("%d windows without nemesis rows", len(imp.Windows))
			}
			if nemesis > 0 && len(imp.Windows) == 0 {
				t.Errorf("%d nemesis rows but no windows", nemesis)
			}
			for i := range imp.Ops {
				op := &imp.Ops[i]
				if op.InvokeTS == nil || op.ProcessID == nil || op.OpType == "" || op.TimeoutMarker == nil {
					t.Fatalf("op %d lacks a core field: %+v", i, op)
				}
				if op.Indeterminate() && (op.CompleteTS != nil || op.Output != nil || !*op.TimeoutMarker) {
					t.Fatalf("indeterminate op %s not in the timeout shape: %+v", op.OpID, op)
				}
				if timed > 0 && timed == invokes+oks+fails+count(src, `:type\s+:info`) && *op.InvokeTS < 1000 {
					t.Fatalf("op %s: invoke_ts %d is not a :time", op.OpID, *op.InvokeTS)
				}
			}
			// The accepted ops pass Validate again against the import's own windows.
			if _, rej := Validate(imp.Ops, nil, imp.Windows); len(rej) != 0 {
				t.Errorf("imported ops fail Validate: %v", rej[0])
			}
		})
	}
}

// TestImportJepsenMapping pins the exact rows of a small real history.
func TestImportJepsenMapping(t *testing.T) {
	imp := importFile(t, filepath.Join(corpusDir, "cas-register/bad/immediate-failure.edn"), "jepsen-edn")
	var b bytes.Buffer
	if err := WriteJSONL(&b, imp.Ops); err != nil {
		t.Fatal(err)
	}
	want := `{"op_id":"0","process_id":"1","invoke_ts":0,"complete_ts":3,"op_type":"read","key":null,"input":null,"output":3,"error":null,"timeout_marker":false,"node_seen":null,"fault_epoch":null}
{"op_id":"1","process_id":"101","invoke_ts":1,"complete_ts":2,"op_type":"write","key":null,"input":3,"output":null,"error":"[\"temporarily-unavailable\",null]","timeout_marker":false,"node_seen":null,"fault_epoch":null}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if !strings.Contains(imp.Mapping, "row position in file order") {
		t.Errorf("mapping does not say times come from file order: %s", imp.Mapping)
	}

	// With :time and :index (the etcd mutex history), op ids and times come from them.
	imp = importFile(t, filepath.Join(corpusDir, "mutex/bad/etcd.edn"), "jepsen-edn")
	first := imp.Ops[0]
	if first.OpID != "0" || *first.InvokeTS != 341187643 || *first.CompleteTS != 342667129 ||
		first.OpType != "release" || *first.Error != "not-held" || *first.ProcessID != "1" {
		t.Errorf("first op %+v", first)
	}
	last := imp.Ops[len(imp.Ops)-1]
	if last.OpID != "1132" || !last.Indeterminate() || *last.ProcessID != "4" || last.OpType != "acquire" {
		t.Errorf("last op (an acquire with no completion) %+v", last)
	}
	if !strings.Contains(imp.Mapping, "op_id = :index") || !strings.Contains(imp.Mapping, ":time (ns)") {
		t.Errorf("mapping: %s", imp.Mapping)
	}

	// A multi-register txn keeps its structure, and reads fill the output.
	imp = importFile(t, filepath.Join(corpusDir, "multi-register/good/multi-register.edn"), "jepsen-edn")
	if got := string(imp.Ops[1].Input); got != `[["read","x",null],["read","y",null]]` {
		t.Errorf("txn input %s", got)
	}
	if got := string(imp.Ops[1].Output); got != `[["read","x",0],["read","y",0]]` {
		t.Errorf("txn output %s", got)
	}
	if got := string(imp.Ops[3].Output); got != `[["write","y",2]]` {
		t.Errorf("write-only txn output %s: a txn's completion is its result", got)
	}

	// A read whose invoke already carried the value still reports it as output;
	// a write's echoed value is not an output.
	imp = importFile(t, filepath.Join(corpusDir, "cas-register/bad/bad-analysis.edn"), "jepsen-edn")
	for _, op := range imp.Ops {
		switch *op.ProcessID {
		case "14":
			if string(op.Input) != "4" || string(op.Output) != "4" {
				t.Errorf("read of process 14: input %s output %s", op.Input, op.Output)
			}
		case "4":
			if op.Output != nil {
				t.Errorf("write of process 4 has output %s", op.Output)
			}
		}
	}
}

// crafted is a history with :time whose nemesis heals before any fault,
// partitions, kills (Jepsen's :invoke/:info form), restarts with :start,
// pauses and resumes, and leaves a generic :start open at the end.
const crafted = `; crafted nemesis history
[{:process :nemesis, :type :info, :f :stop, :time 0}
 {:process :nemesis, :type :info, :f :stop, :time 1}
 {:process 0, :type :invoke, :f :write, :value 1, :time 5}
 {:process 0, :type :ok, :f :write, :value 1, :time 8}
 {:process :nemesis, :type :info, :f :start-partition, :time 10}
 {:process :nemesis, :type :info, :f :start-partition, :value [:isolated {"n1" ["n2"]}], :time 12}
 {:process 0, :type :invoke, :f :read, :value nil, :time 15, :node "n1"}
 {:process 0, :type :ok, :f :read, :value 1, :time 18}
 {:process :nemesis, :type :invoke, :f :kill, :value ["n2"], :time 20}
 {:process :nemesis, :type :info, :f :kill, :value {"n2" :killed}, :time 21}
 {:process 1, :type :invoke, :f :cas, :value [1 2], :time 22}
 {:process :nemesis, :type :info, :f :stop-partition, :time 30}
 {:process :nemesis, :type :info, :f :stop-partition, :value :network-healed, :time 31}
 {:process 1, :type :info, :f :cas, :value [1 2], :error :timeout, :time 35}
 {:process :nemesis, :type :info, :f :start, :time 40}
 {:process :nemesis, :type :info, :f :start, :value ["n2"], :time 41}
 {:process :nemesis, :type :info, :f :pause, :time 50}
 {:process :nemesis, :type :info, :f :pause, :value ["n3"], :time 51}
 {:process 2, :type :invoke, :f :read, :key :k1, :time 52}
 {:process 2, :type :ok, :f :read, :key :k1, :value 2, :time 53}
 {:process :nemesis, :type :info, :f :resume, :time 60}
 {:process :nemesis, :type :info, :f :resume, :time 61}
 {:process :nemesis, :type :info, :f :start, :time 70}
 {:process :nemesis, :type :info, :f :start, :value "Cut off [:n1 #{:n2}]", :time 71}
 {:process 3, :type :invoke, :f :write, :value 3, :time 80}]`

func TestImportNemesisWindows(t *testing.T) {
	imp := importString(t, crafted, "jepsen-edn")
	if len(imp.Rejected) != 0 {
		t.Fatalf("rejected %v", imp.Rejected)
	}
	type win struct {
		id, kind   string
		start, end int64 // end -1 = open
	}
	want := []win{
		{"F1", `start-partition: ["isolated",{"n1":["n2"]}]`, 10, 31},
		{"F2", `kill: {"n2":"killed"}`, 20, 41},
		{"F3", `pause: ["n3"]`, 50, 61},
		{"F4", `start: Cut off [:n1 #{:n2}]`, 70, -1},
	}
	var got []win
	for _, w := range imp.Windows {
		end := int64(-1)
		if w.End != nil {
			end = *w.End
		}
		got = append(got, win{w.ID, w.Kind, w.Start, end})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("windows\n got %v\nwant %v", got, want)
	}
	epochs := map[string]string{}
	for _, op := range imp.Ops {
		e := "-"
		if op.FaultEpoch != nil {
			e = *op.FaultEpoch
		}
		epochs[op.OpType+"@"+fmt.Sprint(*op.InvokeTS)] = e
	}
	wantEpochs := map[string]string{
		"write@5":  "-",  // before any fault
		"read@15":  "F1", // inside the partition
		"cas@22":   "F4", // indeterminate: [22, +∞) meets every window; F4 starts last
		"read@52":  "F3", // the pause only: partition and kill are healed
		"write@80": "F4", // never completed, inside the open window
	}
	if fmt.Sprint(epochs) != fmt.Sprint(wantEpochs) {
		t.Errorf("fault epochs\n got %v\nwant %v", epochs, wantEpochs)
	}
	cas := imp.Ops[2]
	if !cas.Indeterminate() || cas.Error == nil || *cas.Error != "timeout" || cas.Output != nil {
		t.Errorf(":info cas %+v", cas)
	}
	read := imp.Ops[1]
	if read.NodeSeen == nil || *read.NodeSeen != "n1" || string(read.Output) != "1" {
		t.Errorf("read %+v", read)
	}
	if k := imp.Ops[3].Key; k == nil || *k != "k1" {
		t.Errorf("key %v", k)
	}
	if !strings.Contains(imp.Mapping, "4 nemesis fault windows") {
		t.Errorf("mapping %s", imp.Mapping)
	}

	// Joining a run whose ledger already holds F1 and F2.
	imp.RenumberWindows(3)
	var ids []string
	for _, w := range imp.Windows {
		ids = append(ids, w.ID)
	}
	if fmt.Sprint(ids) != "[F3 F4 F5 F6]" || *imp.Ops[1].FaultEpoch != "F3" || *imp.Ops[2].FaultEpoch != "F6" {
		t.Errorf("renumbered windows %v, epochs %v %v", ids, *imp.Ops[1].FaultEpoch, *imp.Ops[2].FaultEpoch)
	}
	ledger := append([]Window{{ID: "F1", Start: 0, End: ptr(int64(1))}, {ID: "F2", Start: 2, End: ptr(int64(3))}}, imp.Windows...)
	if _, rej := Validate(imp.Ops, nil, ledger); len(rej) != 0 {
		t.Errorf("renumbered ops fail Validate: %v", rej)
	}
}

// TestImportJepsenAnomalies imports a malformed history and its repaired
// twin: the malformed rows are refused by line, the rest kept.
func TestImportJepsenAnomalies(t *testing.T) {
	broken := `[{:process 0, :type :ok, :f :read, :value 1}
{:process 1, :type :invoke, :f :write, :value 1}
{:process 1, :type :ok, :f :read, :value 1}
:not-an-op
{:process 2, :type :bogus, :f :read}
{:type :invoke, :f :read}
{:process 3, :type :invoke, :f :read, :value nil, :index 7}
{:process 3, :type :ok, :f :read, :value 5, :index 8}
{:process 4, :type :invoke, :f :read, :value nil, :index 7}
{:process 4, :type :ok, :f :read, :value 5, :index 9}
{:process 5, :type :invoke, :f :read, :time 1.5}]`
	repaired := `[{:process 0, :type :invoke, :f :read, :value nil, :index 0}
{:process 0, :type :ok, :f :read, :value 1, :index 1}
{:process 1, :type :invoke, :f :write, :value 1, :index 2}
{:process 1, :type :ok, :f :write, :value 1, :index 3}
{:process 3, :type :invoke, :f :read, :value nil, :index 7}
{:process 3, :type :ok, :f :read, :value 5, :index 8}
{:process 4, :type :invoke, :f :read, :value nil, :index 9}
{:process 4, :type :ok, :f :read, :value 5, :index 10}]`
	imp := importString(t, broken, "jepsen-edn")
	want := map[int]string{1: "type", 3: "op_type", 4: "row", 5: "type", 6: "process_id", 9: "op_id", 11: "invoke_ts"}
	got := map[int]string{}
	for _, r := range imp.Rejected {
		got[r.Index] = r.Field
		if r.Reason == "" {
			t.Errorf("rejection without a reason: %v", r)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rejected lines→fields\n got %v\nwant %v\n%v", got, want, imp.Rejected)
	}
	// Kept: the write (its completion refused, so indeterminate) and the read of process 3.
	if len(imp.Ops) != 2 || !imp.Ops[0].Indeterminate() || imp.Ops[1].OpID != "7" || !imp.Ops[1].OK() {
		t.Errorf("kept ops %+v", imp.Ops)
	}

	imp = importString(t, repaired, "jepsen-edn")
	if len(imp.Rejected) != 0 || len(imp.Ops) != 4 {
		t.Fatalf("repaired twin: %d ops, rejected %v", len(imp.Ops), imp.Rejected)
	}
	if ok, _, _ := outcomes(imp.Ops); ok != 4 {
		t.Errorf("repaired twin: %d ok ops, want 4", ok)
	}
}

func TestImportJepsenEDNForms(t *testing.T) {
	tests := []struct {
		name, src string
		ops       int
	}{
		{"vector", `[{:process 0 :type :invoke :f :read} {:process 0 :type :ok :f :read :value 1}]`, 1},
		{"list", `({:process 0 :type :invoke :f :read} {:process 0 :type :ok :f :read :value 1})`, 1},
		{"one map per line", "{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :value 1}\n", 1},
		{"jepsen.history records", "#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :read, :value nil}\n" +
			"#jepsen.history.Op{:index 1, :time 9, :type :ok, :process 0, :f :read, :value 3}\n", 1},
		{"empty", "", 0},
		{"empty vector with comment", "; nothing\n[]", 0},
		{"discarded row", `[#_{:process 9 :type :invoke :f :x} {:process 0 :type :invoke :f :read}]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp := importString(t, tt.src, "jepsen-edn")
			if len(imp.Ops) != tt.ops || len(imp.Rejected) != 0 {
				t.Errorf("%d ops (want %d), rejected %v", len(imp.Ops), tt.ops, imp.Rejected)
			}
		})
	}
}

// TestImportJepsenLog imports every etcd log of porcupine's test data; the
// op count is the number of :invoke lines.
func TestImportJepsenLog(t *testing.T) {
	dir := porcupineTestData(t)
	files, err := filepath.Glob(filepath.Join(dir, "jepsen", "etcd_*.log"))
	if err != nil || len(files) != 103 {
		t.Fatalf("found %d etcd logs (%v), want 103", len(files), err)
	}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		imp := importFile(t, path, "jepsen-log")
		count := func(typ string) int {
			return len(regexp.MustCompile(`\s:`+typ+`\s`).FindAllIndex(src, -1))
		}
		invokes, infos := count("invoke"), count("info")
		if len(imp.Rejected) != 0 {
			t.Errorf("%s: rejected %v", path, imp.Rejected[0])
		}
		if len(imp.Ops) != invokes || invokes == 0 && len(src) > 0 {
			t.Errorf("%s: %d ops, %d :invoke lines", path, len(imp.Ops), invokes)
		}
		ok, failed, indet := outcomes(imp.Ops)
		if ok != count("ok") || failed != count("fail") || indet < infos {
			t.Errorf("%s: ok/fail/indeterminate %d/%d/%d", path, ok, failed, indet)
		}
	}
}

func TestImportJepsenLogLines(t *testing.T) {
	src := "2017-01-01 INFO  jepsen.core - Running test\n" +
		"INFO  jepsen.util - 3\t:invoke\t:read\tnil\n" +
		"INFO  jepsen.util - 4\t:invoke\t:cas\t[1 4]\n" +
		"INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n" +
		"INFO  jepsen.util - :nemesis\t:info\t:start\t\"Cut off {:n1 #{:n2}}\"\n" +
		"INFO  jepsen.util - 3\t:ok\t:read\t4\n" +
		"INFO  jepsen.util - 4\t:fail\t:cas\t[1 4]\t:not-found\n" +
		"INFO  jepsen.util - 5\t:invoke\t:write\t2\n" +
		"INFO  jepsen.util - 5\t:info\t:write\t:timed-out\n" +
		"INFO  jepsen.util - Something else entirely\n" +
		"INFO  jepsen.util - :nemesis\t:info\t:stop\tnil\n" +
		"INFO  jepsen.util - :nemesis\t:info\t:stop\t:healed\n" +
		"INFO  jepsen.util - 6\t:invoke\t:cas\t[0 3]\n" +
		"INFO  jepsen.util - 6\t:fail\t:cas\t[0 3]\n"
	imp := importString(t, src, "jepsen-log")
	if len(imp.Rejected) != 0 || len(imp.Ops) != 4 {
		t.Fatalf("%d ops, rejected %v", len(imp.Ops), imp.Rejected)
	}
	if bare := imp.Ops[3]; !bare.Failed() || *bare.Error != "fail" {
		t.Errorf(":fail without an error: %+v", bare)
	}
	read, cas, write := imp.Ops[0], imp.Ops[1], imp.Ops[2]
	if string(read.Output) != "4" || *read.InvokeTS != 0 || *read.CompleteTS != 4 || read.FaultEpoch == nil {
		t.Errorf("read %+v", read)
	}
	if !cas.Failed() || *cas.Error != "not-found" || string(cas.Input) != "[1,4]" {
		t.Errorf("cas %+v", cas)
	}
	if !write.Indeterminate() || *write.Error != "timed-out" {
		t.Errorf("write %+v", write)
	}
	if len(imp.Windows) != 1 || imp.Windows[0].Kind != "start: Cut off {:n1 #{:n2}}" || imp.Windows[0].Start != 2 || *imp.Windows[0].End != 9 {
		t.Errorf("windows %+v", imp.Windows)
	}
	if !strings.Contains(imp.Mapping, "2 non-op lines ignored") {
		t.Errorf("mapping %s", imp.Mapping)
	}
}

// TestImportKV imports porcupine's key-value histories (EDN maps, one per
// line, with :key).
func TestImportKV(t *testing.T) {
	dir := porcupineTestData(t)
	files, _ := filepath.Glob(filepath.Join(dir, "kv", "c*.txt"))
	if len(files) != 6 {
		t.Fatalf("found %d kv files, want 6", len(files))
	}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		imp := importFile(t, path, "jepsen-edn")
		invokes := bytes.Count(src, []byte(":type :invoke"))
		if len(imp.Rejected) != 0 || len(imp.Ops) != invokes {
			t.Errorf("%s: %d ops for %d invokes, rejected %v", path, len(imp.Ops), invokes, imp.Rejected)
		}
		for _, op := range imp.Ops {
			if op.Key == nil || !op.OK() {
				t.Fatalf("%s: op %+v", path, op)
			}
			if op.OpType == "get" && op.Output == nil {
				t.Fatalf("%s: get without output %+v", path, op)
			}
			var s string
			if op.OpType != "get" && json.Unmarshal(op.Input, &s) != nil {
				t.Fatalf("%s: %s input %s is not a string", path, op.OpType, op.Input)
			}
		}
	}
}

// BenchmarkImportEDN imports a generated 100k-op Jepsen history.
func BenchmarkImportEDN(b *testing.B) {
	const n = 100_000
	var src bytes.Buffer
	src.WriteString("[")
	for i := 0; i < n; i++ {
		p := i % 10
		fmt.Fprintf(&src, "{:type :invoke, :f :cas, :value [%d %d], :process %d, :time %d, :index %d}\n", i%5, (i+1)%5, p, 2*i, 2*i)
		fmt.Fprintf(&src, "{:type :ok, :f :cas, :value [%d %d], :process %d, :time %d, :index %d}\n", i%5, (i+1)%5, p, 2*i+1, 2*i+1)
	}
	src.WriteString("]")
	b.SetBytes(int64(src.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		imp, err := Import(bytes.NewReader(src.Bytes()), "jepsen-edn")
		if err != nil || len(imp.Ops) != n {
			b.Fatalf("%v", err)
		}
	}
}

// TestImportJepsenReinvoke: a process that invokes again before its op
// completed leaves that op indeterminate (it may have taken effect).
func TestImportJepsenReinvoke(t *testing.T) {
	imp := importString(t, `[{:process 0 :type :invoke :f :write :value 1}
{:process 0 :type :invoke :f :write :value 2}
{:process 0 :type :ok :f :write :value 2}]`, "jepsen-edn")
	if len(imp.Ops) != 2 || !imp.Ops[0].Indeterminate() || !imp.Ops[1].OK() || string(imp.Ops[1].Input) != "2" {
		t.Fatalf("ops %+v", imp.Ops)
	}
	if !strings.Contains(imp.Mapping, "0 :info and 1 never completed") {
		t.Errorf("mapping %s", imp.Mapping)
	}
}
