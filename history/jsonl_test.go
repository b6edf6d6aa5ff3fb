package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// sample holds one op of each shape: completed, failed, timed out with an
// error, all-null extras, and nested JSON values.
func sample() []Op {
	return []Op{
		{OpID: "1", ProcessID: ptr("c1"), InvokeTS: ptr(int64(10)), CompleteTS: ptr(int64(20)), OpType: "read",
			Key: ptr("k"), Output: json.RawMessage(`{"v":[1,2,null],"s":"<&>"}`), TimeoutMarker: ptr(false),
			NodeSeen: ptr("n1"), FaultEpoch: ptr("F1")},
		{OpID: "2", ProcessID: ptr("c2"), InvokeTS: ptr(int64(11)), CompleteTS: ptr(int64(15)), OpType: "write",
			Input: json.RawMessage(`3`), Error: ptr("not-leader"), TimeoutMarker: ptr(false)},
		{OpID: "3", ProcessID: ptr("c3"), InvokeTS: ptr(int64(12)), OpType: "cas",
			Input: json.RawMessage(`[1,2]`), Error: ptr("timeout"), TimeoutMarker: ptr(true)},
		{OpID: "4", OpType: "noop"},
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	ops := sample()
	var b bytes.Buffer
	if err := WriteJSONL(&b, ops); err != nil {
		t.Fatal(err)
	}
	// Every field is present on every line, null when unused.
	fields := []string{"op_id", "process_id", "invoke_ts", "complete_ts", "op_type", "key", "input", "output",
		"error", "timeout_marker", "node_seen", "fault_epoch"}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(ops) {
		t.Fatalf("%d lines for %d ops", len(lines), len(ops))
	}
	for i, line := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != len(fields) {
			t.Errorf("line %d has %d fields, want %d: %s", i+1, len(m), len(fields), line)
		}
		for _, f := range fields {
			if _, ok := m[f]; !ok {
				t.Errorf("line %d lacks %q", i+1, f)
			}
		}
	}
	if !strings.Contains(lines[3], `"process_id":null,"invoke_ts":null,"complete_ts":null`) ||
		!strings.Contains(lines[0], `"s":"<&>"`) {
		t.Errorf("unexpected encoding:\n%s", b.String())
	}
	back, err := ReadJSONL(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ops) {
		t.Errorf("round trip changed the ops:\n%+v\n%+v", back, ops)
	}
	imp := importString(t, b.String(), "jsonl")
	if len(imp.Rejected) != 0 || len(imp.Ops) != 4 {
		t.Fatalf("import: %d ops, rejected %v", len(imp.Ops), imp.Rejected)
	}
	// Import normalises: op 4 has no response, so it is marked timed out.
	if tm := imp.Ops[3].TimeoutMarker; tm == nil || !*tm {
		t.Errorf("timeout_marker %v", tm)
	}
	if !reflect.DeepEqual(imp.Ops[:3], ops[:3]) {
		t.Errorf("import changed sound ops")
	}
}

func TestJSONLNullSpellings(t *testing.T) {
	// Absent fields and explicit nulls read the same.
	a, err := ReadJSONL(strings.NewReader(`{"op_id":"x","op_type":"read"}` + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadJSONL(strings.NewReader(`{"op_id":"x","process_id":null,"invoke_ts":null,"complete_ts":null,"op_type":"read","key":null,"input":null,"output":null,"error":null,"timeout_marker":null,"node_seen":null,"fault_epoch":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || a[0].Input != nil || a[0].Output != nil {
		t.Errorf("%+v vs %+v", a, b)
	}
}

func TestImportJSONLRejects(t *testing.T) {
	good := func(id string) string {
		return `{"op_id":"` + id + `","process_id":"p","invoke_ts":1,"complete_ts":2,"op_type":"read","key":null,"input":null,"output":1,"error":null,"timeout_marker":false,"node_seen":null,"fault_epoch":null}`
	}
	src := strings.Join([]string{
		good("a"),
		`{"op_id":"b","colour":"red"}`,           // 2 unknown field
		`{"op_id":"c","invoke_ts":"soon"}`,       // 3 wrong type
		`not json`,                               // 4
		``,                                       // 5 blank: skipped
		good("a"),                                // 6 duplicate
		`{"op_id":"d","invoke_ts":1,"output":5}`, // 7 output on a timed-out op
		`{"op_id":"e","invoke_ts":5,"complete_ts":4}`, // 8 complete before invoke
		`{"op_id":"f"} {"op_id":"g"}`,                 // 9 two objects on a line
		`[]`,                                          // 10 not an object
		good("h"),                                     // 11
		`{"op_id":"i","complete_ts":3,"error":"x","output":1}`, // 12 error and output
		`{"op_id":"j"} }`, // 13 trailing brace
		`null`,            // 14
	}, "\n")
	imp := importString(t, src, "jsonl")
	want := map[int]string{2: "colour", 3: "invoke_ts", 4: "row", 6: "op_id", 7: "output", 8: "complete_ts", 9: "row", 10: "row", 12: "error", 13: "row", 14: "row"}
	got := map[int]string{}
	for _, r := range imp.Rejected {
		got[r.Index] = r.Field
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rejected lines→fields\n got %v\nwant %v\n%v", got, want, imp.Rejected)
	}
	if len(imp.Ops) != 2 || imp.Ops[0].OpID != "a" || imp.Ops[1].OpID != "h" {
		t.Errorf("kept %+v", imp.Ops)
	}
	if _, err := ReadJSONL(strings.NewReader(good("a") + "\n" + `{"op_id":"b","colour":"red"}`)); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ReadJSONL error %v, want one naming line 2", err)
	}
}

func TestJSONLLongLine(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	ops := []Op{{OpID: "1", OpType: "write", Input: json.RawMessage(strconv.Quote(big))}, {OpID: "2", OpType: "read"}}
	var b bytes.Buffer
	if err := WriteJSONL(&b, ops); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSONL(&b)
	if err != nil || len(back) != 2 || len(back[0].Input) != len(big)+2 {
		t.Errorf("long line: %v, %d ops", err, len(back))
	}
}

func TestWriteJSONLInvalidValue(t *testing.T) {
	err := WriteJSONL(io.Discard, []Op{{OpID: "1", Input: json.RawMessage(`{broken`)}})
	if err == nil || !strings.Contains(err.Error(), `"1"`) {
		t.Errorf("error %v, want one naming op 1", err)
	}
}

func TestImportUnknownFormat(t *testing.T) {
	_, err := Import(strings.NewReader(""), "csv")
	if err == nil || !strings.Contains(err.Error(), "jepsen-edn") {
		t.Errorf("error %v, want one listing the formats", err)
	}
}

// writeGenerated writes n ops of a register workload as JSON Lines.
func writeGenerated(w io.Writer, n int) error {
	bw := bufio.NewWriter(w)
	ops := make([]Op, 0, 1024)
	for i := 0; i < n; i++ {
		inv := int64(i) * 1000
		op := Op{OpID: strconv.Itoa(i), ProcessID: ptr(strconv.Itoa(i % 16)), InvokeTS: &inv,
			OpType: "read", Key: ptr(strconv.Itoa(i % 100)), TimeoutMarker: ptr(false), NodeSeen: ptr("n" + strconv.Itoa(i%5))}
		switch i % 10 {
		case 0:
			op.TimeoutMarker = ptr(true)
			op.OpType = "write"
			op.Input = json.RawMessage(strconv.Itoa(i))
			op.Error = ptr("timeout")
		case 1, 2, 3:
			op.OpType = "write"
			op.Input = json.RawMessage(strconv.Itoa(i))
			op.CompleteTS = ptr(inv + 700)
		default:
			op.Output = json.RawMessage(strconv.Itoa(i - 3))
			op.CompleteTS = ptr(inv + 500)
		}
		ops = append(ops, op)
		if len(ops) == cap(ops) {
			if err := WriteJSONL(bw, ops); err != nil {
				return err
			}
			ops = ops[:0]
		}
	}
	if err := WriteJSONL(bw, ops); err != nil {
		return err
	}
	return bw.Flush()
}

func BenchmarkReadJSONL(b *testing.B) {
	const n = 1_000_000
	var buf bytes.Buffer
	if err := writeGenerated(&buf, n); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ops, err := ReadJSONL(bytes.NewReader(data))
		if err != nil || len(ops) != n {
			b.Fatalf("%d ops, %v", len(ops), err)
		}
	}
}

// FuzzDecodeRow checks the fast row decoder against encoding/json: when
// the fast path takes a row it must read exactly what encoding/json reads.
func FuzzDecodeRow(f *testing.F) {
	var b bytes.Buffer
	if err := WriteJSONL(&b, sample()); err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		f.Add([]byte(line))
	}
	for _, s := range []string{
		`{}`, `null`, ` { "op_id" : "a" , "input" : { "x" : [ 1 , "}" ] } } `,
		`{"op_id":"a","op_id":null}`, `{"invoke_ts":-0}`, `{"invoke_ts":01}`, `{"invoke_ts":1e3}`,
		`{"invoke_ts":9223372036854775808}`, `{"key":"\u00e9"}`, `{"key":"é"}`, "{\"key\":\"\xff\"}",
		`{"output":"a\"b"}`, `{"output":nul}`, `{"timeout_marker":truex}`, `{"OP_ID":"a"}`,
		`{"input":[1,2}`, `{"input":1}x`, `{"error":null,"error":"e"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var d rowDecoder
		var fast Op
		if !d.fast(line, &fast) {
			return
		}
		var slow Op
		if err := decodeRow(line, &slow); err != nil {
			t.Fatalf("fast path took %q, encoding/json refuses it: %v", line, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", line, fast, slow)
		}
	})
}
