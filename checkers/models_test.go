package checkers

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

func TestCasPair(t *testing.T) {
	tests := []struct {
		in             string
		expected, next string
		ok             bool
	}{
		{in: `[1,2]`, expected: `1`, next: `2`, ok: true},
		{in: ` [ 1 , null ] `, expected: ` 1 `, next: ` null `, ok: true},
		{in: `["a,b","c"]`, expected: `"a,b"`, next: `"c"`, ok: true},
		{in: `[1.5,true]`, expected: `1.5`, next: `true`, ok: true},
		// Anything else is left to casArgs.
		{in: `[[1],2]`},
		{in: `[{"a":1},2]`},
		{in: `[1,2,3]`},
		{in: `["a\",b",1]`},
		{in: `[1]`},
		{in: `[,1]`},
		{in: `[1,]`},
		{in: `["a,1]`},
		{in: `1,2`},
	}
	for _, tt := range tests {
		e, n, ok := casPair(json.RawMessage(tt.in))
		if ok != tt.ok || string(e) != tt.expected || string(n) != tt.next {
			t.Errorf("casPair(%s) = %q, %q, %v; want %q, %q, %v", tt.in, e, n, ok, tt.expected, tt.next, tt.ok)
		}
	}
}

// TestLinearizabilityValueTable checks the compact values the search steps
// on: each value's spellings share one id, reads of values no op writes
// (appended strings) compare by value, and a cas input the fast path
// cannot split still works.
func TestLinearizabilityValueTable(t *testing.T) {
	tests := []struct {
		name  string
		model string
		opts  map[string]any
		ops   []history.Op
		want  string
		// describe is text the anomaly's description must contain.
		describe string
	}{
		{name: "spellings of one number", model: "cas-register", want: StatusOK, ops: []history.Op{
			op("w", "0", "write", 0, 10, `1.0`, ""),
			op("c", "1", "cas", 20, 30, `[ 1e0 , 2 ]`, `true`),
			op("r", "2", "read", 40, 50, "", `2.00`),
		}},
		{name: "spellings of one number, cas refused", model: "cas-register", want: StatusViolation, describe: "cas(1, 2) -> false", ops: []history.Op{
			op("w", "0", "write", 0, 10, `1.0`, ""),
			op("c", "1", "cas", 20, 30, `[1,2]`, `false`),
		}},
		{name: "read before the write that makes its value", model: "register", want: StatusOK, ops: []history.Op{
			op("r", "1", "read", 0, 30, "", `"v"`),
			op("w", "0", "write", 5, 20, `"v"`, ""),
		}},
		{name: "appended strings read whole", model: "kv", opts: map[string]any{"initial": ""}, want: StatusOK, ops: []history.Op{
			keyed("k", op("a1", "0", "append", 0, 10, `"x"`, "")),
			keyed("k", op("a2", "0", "append", 20, 30, `"y"`, "")),
			keyed("k", op("r", "1", "read", 40, 50, "", `"xy"`)),
			keyed("j", op("p", "2", "put", 0, 10, `"xy"`, "")),
			keyed("j", op("a3", "2", "append", 20, 30, `""`, "")),
			keyed("j", op("r2", "3", "read", 40, 50, "", `"xy"`)),
		}},
		{name: "appended strings read out of order", model: "kv", opts: map[string]any{"initial": ""}, want: StatusViolation, describe: `read("k") -> "yx"`, ops: []history.Op{
			keyed("k", op("a1", "0", "append", 0, 10, `"x"`, "")),
			keyed("k", op("a2", "0", "append", 20, 30, `"y"`, "")),
			keyed("k", op("r", "1", "read", 40, 50, "", `"yx"`)),
		}},
		{name: "cas of lists", model: "cas-register", want: StatusOK, ops: []history.Op{
			op("w", "0", "write", 0, 10, `[1,2]`, ""),
			op("c", "1", "cas", 20, 30, `[[1, 2],[3]]`, `true`),
			op("r", "2", "read", 40, 50, "", `[3]`),
		}},
		{name: "cas of lists, stale read", model: "cas-register", want: StatusViolation, describe: "read() -> [1,2]", ops: []history.Op{
			op("w", "0", "write", 0, 10, `[1,2]`, ""),
			op("c", "1", "cas", 20, 30, `[[1, 2],[3]]`, `true`),
			op("r", "2", "read", 40, 50, "", `[1,2]`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "linearizability", Input{Ops: tt.ops, Model: tt.model, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s; evidence: %s; anomalies: %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.describe != "" && (len(res.Anomalies) == 0 || !strings.Contains(res.Anomalies[0].Description, tt.describe)) {
				t.Errorf("anomalies %+v, want a description with %q", res.Anomalies, tt.describe)
			}
		})
	}
}
