package history

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// garbage is malformed input for every format. None of it may panic, and
// whatever Import accepts must be sound rows.
var garbage = []string{
	"",
	"\x00\x01\x02",
	"[",
	"]",
	"{",
	"}",
	"(((",
	"[{:process 0 :type :invoke :f :read}",
	"[{:process 0 :type :invoke :f}]",
	"[{:process #{} :type :invoke :f :read} {:process #{} :type :ok :f :read}]",
	"[{:process [1 2] :type :invoke :f {:a 1}} {:process [1 2] :type :ok :f {:a 1} :value 1}]",
	"[{:process 0 :type :invoke :f :read :time -5} {:process 0 :type :ok :f :read :time -9}]",
	"[{:process 0 :type :invoke :f :read :time 9223372036854775807} {:process 0 :type :info :f :read :time -9223372036854775808}]",
	"[{:process :nemesis :type :info :f :stop} {:process :nemesis :type :info :f :resume-x}]",
	"[{:process :nemesis :type :info :f :start :value ##NaN :time 1}]",
	"[{:process 0 :type :invoke :f :read :index 99999999999999999999999}]",
	"{:process 0 :type :invoke :f :read :value \"\xff\xfe\"}",
	"#", "##", "#_", "#:", "#{", "#foo", "^", "^{}", "\\", "\\u", "\"\\u", ":", "::", "'", "~@",
	"1/0", "1e999", "-", "+", "0x", "99999999999999999999999999999999N",
	strings.Repeat("[", 5000),
	strings.Repeat("{:a ", 3000),
	strings.Repeat("#_", 3000) + "1",
	strings.Repeat("^", 3000),
	"INFO  jepsen.util - ",
	"INFO  jepsen.util - 1\t:ok",
	"INFO  jepsen.util - 1\t:ok\t:read\t4",
	"INFO  jepsen.util - 1\t:invoke\t:read\t[",
	"INFO  jepsen.util - x\t:invoke\t:read\tnil",
	"INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:invoke\t:read\tnil",
	"INFO  jepsen.util - 1\t:invoke\t\"read\"\tnil",
	"null",
	"[null]",
	"[1,2]",
	"{\"op_id\": 5}",
	"{\"op_id\": \"a\", \"invoke_ts\": 1e30}",
	"{\"op_id\": \"a\", \"input\": {\"x\": [}",
	"[{\"Call\": 1e3, \"Return\": 5}]",
	"[{\"Call\": 1, \"Return\": 5, \"Input\": {\"op\": {\"nested\": true}}}]",
	"{\"ClientId\": \"c\", \"Call\": 1, \"Metadata\": {\"op_id\": 7}}",
	"[{}]",
	"[{\"Call\": 1}] trailing",
	"\ufeff{\"op_id\":\"bom\"}",
}

func TestImportGarbage(t *testing.T) {
	for _, src := range garbage {
		for _, format := range Formats() {
			checkImport(t, []byte(src), format)
		}
	}
}

// checkImport imports src and fails on a panic or an unsound result.
func checkImport(t *testing.T, src []byte, format string) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Import(%q, %s) panicked: %v", truncate(string(src)), format, p)
		}
	}()
	imp, err := Import(bytes.NewReader(src), format)
	if err != nil {
		if imp != nil {
			t.Fatalf("Import(%q, %s) returned both a result and %v", truncate(string(src)), format, err)
		}
		return
	}
	ids := map[string]bool{}
	for i := range imp.Ops {
		op := &imp.Ops[i]
		if op.OpID == "" || ids[op.OpID] {
			t.Fatalf("Import(%q, %s): op %d has an empty or duplicate op_id %q", truncate(string(src)), format, i, op.OpID)
		}
		ids[op.OpID] = true
		for _, raw := range []json.RawMessage{op.Input, op.Output} {
			if raw != nil && !json.Valid(raw) {
				t.Fatalf("Import(%q, %s): op %d carries invalid JSON %q", truncate(string(src)), format, i, raw)
			}
		}
		if op.Indeterminate() && op.Output != nil {
			t.Fatalf("Import(%q, %s): timed-out op %d has an output", truncate(string(src)), format, i)
		}
	}
	for _, w := range imp.Windows {
		if w.ID == "" || w.End != nil && *w.End < w.Start {
			t.Fatalf("Import(%q, %s): bad window %+v", truncate(string(src)), format, w)
		}
	}
	var b bytes.Buffer
	if err := WriteJSONL(&b, imp.Ops); err != nil {
		t.Fatalf("Import(%q, %s): imported ops do not serialise: %v", truncate(string(src)), format, err)
	}
}

// FuzzImportEDN feeds arbitrary bytes to the Jepsen importers: they must
// never panic, and what they accept must be sound rows. Seeds are in
// testdata/fuzz/FuzzImportEDN and below.
func FuzzImportEDN(f *testing.F) {
	f.Add([]byte(crafted))
	f.Add([]byte(`[{:process 0, :type :invoke, :f :read, :value nil} {:process 0, :type :ok, :f :read, :value 3}]`))
	f.Add([]byte("{:process 0 :type :invoke :f :txn :value [[:r :x nil]]}\n{:process 0 :type :ok :f :txn :value [[:r :x 1]]}\n"))
	f.Add([]byte("#jepsen.history.Op{:index 0 :time 1 :type :invoke :process 0 :f :read}"))
	for _, g := range garbage {
		f.Add([]byte(g))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkImport(t, src, FormatJepsenEDN)
		checkImport(t, src, FormatJepsenLog)
	})
}

func TestImportSkipsBOM(t *testing.T) {
	for format, src := range map[string]string{
		"jsonl":      "\ufeff" + `{"op_id":"a","op_type":"read","invoke_ts":1,"complete_ts":2}`,
		"jepsen-edn": "\ufeff[{:process 0 :type :invoke :f :read} {:process 0 :type :ok :f :read}]",
		"jepsen-log": "\ufeffINFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n",
		"porcupine":  "\ufeff" + `[{"ClientId":0,"Call":1,"Return":2}]`,
	} {
		imp := importString(t, src, format)
		if len(imp.Ops) != 1 || len(imp.Rejected) != 0 {
			t.Errorf("%s: %d ops, rejected %v", format, len(imp.Ops), imp.Rejected)
		}
	}
}

// FuzzImportJSON feeds arbitrary bytes to the JSON importers (native
// JSONL and Porcupine's operation form): they must never panic, and what
// they accept must be sound rows.
func FuzzImportJSON(f *testing.F) {
	f.Add([]byte(`{"op_id":"1","process_id":"p","invoke_ts":1,"complete_ts":2,"op_type":"read","key":"x","input":null,"output":3,"error":null,"timeout_marker":false,"node_seen":null,"fault_epoch":null}` + "\n"))
	f.Add([]byte(`[{"ClientId":0,"Input":{"op":"put","key":"x","value":"1"},"Call":1,"Output":null,"Return":2}]`))
	f.Add([]byte(`{"client_id":1,"input":5,"call":3,"output":null,"return":null}` + "\n"))
	for _, g := range garbage {
		f.Add([]byte(g))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkImport(t, src, FormatJSONL)
		checkImport(t, src, FormatPorcupine)
	})
}
