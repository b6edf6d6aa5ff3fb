package checkers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

func final(data string) []State {
	return []State{{Kind: StateFinal, Name: "n1", Data: json.RawMessage(data)}}
}

var quiescent = map[string]any{"quiescent": true}

func TestNoLostAck(t *testing.T) {
	logOps := []history.Op{
		op("a1", "0", "append", 0, 10, "1", ""),
		op("a2", "1", "append", 5, 15, "2", ""),
		op("a3", "2", "append", 20, 30, "3", ""),
		op("r", "0", "read", 40, 50, "", "[1,2,3]"),
	}
	tests := []struct {
		name   string
		model  string
		ops    []history.Op
		states []State
		want   string
		lost   []string // op ids reported lost
	}{
		{name: "log intact", model: "log", ops: logOps, states: final("[1, 2, 3]"), want: StatusOK},
		{name: "log lost an ack", model: "log", ops: logOps, states: final("[1, 3]"), want: StatusViolation, lost: []string{"a2"}},
		{name: "numbers as numbers", model: "log", ops: logOps, states: final("[1.0, 2e0, 3]"), want: StatusOK},
		// The classic trap: a write that timed out was never acknowledged.
		{name: "timed-out write absent", model: "set", want: StatusOK, states: final(`["a"]`), ops: []history.Op{
			op("w1", "0", "add", 0, 10, `"a"`, ""),
			op("w2", "1", "add", 0, timeout, `"b"`, ""),
		}},
		{name: "timed-out write present", model: "set", want: StatusOK, states: final(`["a", "b"]`), ops: []history.Op{
			op("w1", "0", "add", 0, 10, `"a"`, ""),
			op("w2", "1", "add", 0, timeout, `"b"`, ""),
		}},
		{name: "failed write present", model: "set", want: StatusOK, states: final(`["a", "b"]`), ops: []history.Op{
			op("w1", "0", "add", 0, 10, `"a"`, ""),
			failed(op("w2", "1", "add", 0, 10, `"b"`, "")),
		}},
		{name: "failed write absent", model: "set", want: StatusOK, states: final(`["a"]`), ops: []history.Op{
			op("w1", "0", "add", 0, 10, `"a"`, ""),
			failed(op("w2", "1", "add", 0, 10, `"b"`, "")),
		}},
		{name: "dequeued values are not lost", model: "queue", want: StatusOK, states: final(`[3]`), ops: []history.Op{
			op("e1", "0", "enqueue", 0, 10, "1", ""),
			op("e2", "0", "enqueue", 20, 30, "2", ""),
			op("e3", "0", "enqueue", 40, 50, "3", ""),
			op("d1", "1", "dequeue", 60, 70, "", "1"),
			op("d2", "1", "dequeue", 80, timeout, "", ""),
			op("r2", "1", "remove", 90, 100, "2", ""),
		}},
		{name: "queue lost an enqueue", model: "queue", want: StatusViolation, lost: []string{"e2"}, states: final(`[3]`), ops: []history.Op{
			op("e1", "0", "enqueue", 0, 10, "1", ""),
			op("e2", "0", "enqueue", 20, 30, "2", ""),
			op("e3", "0", "enqueue", 40, 50, "3", ""),
			op("d1", "1", "dequeue", 60, 70, "", "1"),
		}},
		{name: "per-key logs", model: "map", want: StatusViolation, lost: []string{"y2"}, states: final(`{"x": [1, 2], "y": [1]}`), ops: []history.Op{
			keyed("x", op("x1", "0", "append", 0, 10, "1", "")),
			keyed("x", op("x2", "0", "append", 20, 30, "2", "")),
			keyed("y", op("y1", "1", "append", 0, 10, "1", "")),
			keyed("y", op("y2", "1", "append", 20, 30, "2", "")),
		}},
		{name: "per-key logs repaired", model: "map", want: StatusOK, states: final(`{"x": [1, 2], "y": [2, 1]}`), ops: []history.Op{
			keyed("x", op("x1", "0", "append", 0, 10, "1", "")),
			keyed("x", op("x2", "0", "append", 20, 30, "2", "")),
			keyed("y", op("y1", "1", "append", 0, 10, "1", "")),
			keyed("y", op("y2", "1", "append", 20, 30, "2", "")),
		}},
		{name: "register: last acknowledged write survives", model: "kv", want: StatusOK, states: final(`{"x": 2}`), ops: []history.Op{
			keyed("x", op("w1", "0", "write", 0, 10, "1", "")),
			keyed("x", op("w2", "0", "write", 20, 30, "2", "")),
		}},
		{name: "register: overwritten by an older write", model: "kv", want: StatusViolation, lost: []string{"w2"}, states: final(`{"x": 1}`), ops: []history.Op{
			keyed("x", op("w1", "0", "write", 0, 10, "1", "")),
			keyed("x", op("w2", "0", "write", 20, 30, "2", "")),
		}},
		{name: "register: concurrent writes, either may win", model: "kv", want: StatusOK, states: final(`{"x": 1}`), ops: []history.Op{
			keyed("x", op("w1", "0", "write", 0, 25, "1", "")),
			keyed("x", op("w2", "1", "write", 20, 30, "2", "")),
		}},
		{name: "register: a timed-out write may win", model: "kv", want: StatusOK, states: final(`{"x": 3}`), ops: []history.Op{
			keyed("x", op("w1", "0", "write", 0, 10, "1", "")),
			keyed("x", op("w3", "1", "write", 5, timeout, "3", "")),
			keyed("x", op("w2", "0", "write", 20, 30, "2", "")),
		}},
		{name: "register: timed-out write absent", model: "kv", want: StatusOK, states: final(`{"x": 2}`), ops: []history.Op{
			keyed("x", op("w1", "0", "write", 0, 10, "1", "")),
			keyed("x", op("w2", "0", "write", 20, 30, "2", "")),
			keyed("x", op("w3", "1", "write", 40, timeout, "3", "")),
		}},
		{name: "register: value nobody wrote", model: "register", want: StatusViolation, lost: []string{"w1", "w2"}, states: final(`7`), ops: []history.Op{
			op("w1", "0", "write", 0, 10, "1", ""),
			op("w2", "0", "write", 20, 30, "2", ""),
		}},
		{name: "register: key missing from the final state", model: "map", want: StatusViolation, lost: []string{"w1"}, states: final(`{}`), ops: []history.Op{
			keyed("x", op("w1", "0", "put", 0, 10, `"v"`, "")),
		}},
		{name: "register: deleted key", model: "map", want: StatusOK, states: final(`{}`), ops: []history.Op{
			keyed("x", op("w1", "0", "put", 0, 10, `"v"`, "")),
			keyed("x", op("d", "0", "delete", 20, 30, "", "")),
		}},
		{name: "two final states, one lost", model: "log", ops: logOps, want: StatusViolation, lost: []string{"a3"}, states: []State{
			{Kind: StateFinal, Name: "n1", Data: json.RawMessage(`[1,2,3]`)},
			{Kind: StateFinal, Name: "n2", Data: json.RawMessage(`[1,2]`)},
			{Kind: StateReplica, Name: "n3", Data: json.RawMessage(`[]`)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "no-lost-ack", Input{Ops: tt.ops, Model: tt.model, States: tt.states, Options: quiescent})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s; %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			var lost []string
			for _, a := range res.Anomalies {
				if a.Kind != "lost-ack" {
					t.Errorf("anomaly kind %q", a.Kind)
				}
				lost = append(lost, a.OpIDs...)
				w := a.Witness.(lostAckWitness)
				if len(w.Lost) != len(a.OpIDs) || w.State == "" {
					t.Errorf("witness %+v does not match ops %v", w, a.OpIDs)
				}
			}
			if !slices.Equal(lost, tt.lost) {
				t.Errorf("lost %v, want %v", lost, tt.lost)
			}
			if res.OpsConsumed != len(tt.ops) {
				t.Errorf("consumed %d of %d", res.OpsConsumed, len(tt.ops))
			}
		})
	}
}

func TestNoLostAckEvidence(t *testing.T) {
	ops := []history.Op{
		op("w1", "0", "add", 0, 10, `"a"`, ""),
		op("w2", "1", "add", 0, timeout, `"b"`, ""),
		failed(op("w3", "1", "add", 20, 30, `"c"`, "")),
		op("w4", "1", "add", 40, 50, `"d"`, ""),
	}
	res := check(t, "no-lost-ack", Input{Ops: ops, Model: "set", States: final(`["a"]`), Options: quiescent})
	want := "no-lost-ack checked 4 ops (2 acknowledged writes, 1 indeterminate, 1 failed) against 1 final state over 1 key: 1 lost"
	if res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if !strings.Contains(res.Anomalies[0].Description, `w4 add("d")`) {
		t.Errorf("description %q does not name the lost write", res.Anomalies[0].Description)
	}
	w := res.Anomalies[0].Witness.(lostAckWitness)
	if b, _ := json.Marshal(w); string(b) != `{"state":"n1","lost":[{"op_id":"w4","value":"d"}]}` {
		t.Errorf("witness %s", b)
	}
}

func TestNoLostAckUndecided(t *testing.T) {
	ops := []history.Op{op("w1", "0", "add", 0, 10, `"a"`, "")}
	tests := []struct {
		name   string
		opts   map[string]any
		states []State
		want   string // in the evidence
	}{
		{"quiescence not established", nil, final(`[]`), "quiescence"},
		{"quiescent false", map[string]any{"quiescent": false}, final(`[]`), "quiescence"},
		{"no final state", quiescent, []State{{Kind: StateReplica, Data: json.RawMessage(`[]`)}}, "final-state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "no-lost-ack", Input{Ops: ops, Model: "set", States: tt.states, Options: tt.opts})
			if res.Status != StatusUnknown || len(res.Anomalies) != 0 || !strings.Contains(res.Evidence, tt.want) {
				t.Fatalf("status %s, %d anomalies, evidence %q; want unknown mentioning %q", res.Status, len(res.Anomalies), res.Evidence, tt.want)
			}
		})
	}
}

func TestNoLostAckErrors(t *testing.T) {
	ops := []history.Op{op("w1", "0", "add", 0, 10, `"a"`, "")}
	c, _ := Lookup("no-lost-ack")
	for _, tt := range []struct {
		name string
		in   Input
		want string
	}{
		{"unknown model", Input{Ops: ops, Model: "mutex", States: final(`[]`), Options: quiescent}, "kv, log, map, queue, register, set"},
		{"quiescent type", Input{Ops: ops, Model: "set", States: final(`[]`), Options: map[string]any{"quiescent": "yes"}}, "quiescent"},
		{"bad final state", Input{Ops: ops, Model: "set", States: final(`[1,`), Options: quiescent}, `final state "n1"`},
		{"bad input", Input{Ops: []history.Op{op("w1", "0", "add", 0, 10, `{`, "")}, Model: "set", States: final(`[]`), Options: quiescent}, "op w1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Check(context.Background(), tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v (result %+v), want one mentioning %q", err, res, tt.want)
			}
		})
	}
}

func TestNoLostAckWeakHistory(t *testing.T) {
	w := op("w1", "0", "write", 0, 10, "1", "")
	noKey := []history.Op{w}
	res := check(t, "no-lost-ack", Input{Ops: noKey, Model: "map", States: final(`{"": 1}`), Options: quiescent})
	if !slices.Equal(res.Missing, []string{FieldKey}) {
		t.Errorf("missing %v, want [key]", res.Missing)
	}
	res = check(t, "no-lost-ack", Input{Ops: noKey, Model: "log", States: final(`[1]`), Options: quiescent})
	if len(res.Missing) != 0 {
		t.Errorf("missing %v, want none for a log", res.Missing)
	}
}

// TestNoLostAckJSONL runs the testdata set history (native JSON Lines)
// against its lossy final state and the repaired twin.
func TestNoLostAckJSONL(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "nolostack", "set.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, rejected := history.Validate(ops, nil, nil); len(rejected) > 0 {
		t.Fatalf("fixture rejected: %v", rejected)
	}
	for _, tt := range []struct {
		file string
		want string
		lost []string
	}{
		{"final-ok.json", StatusOK, nil},
		{"final-lost.json", StatusViolation, []string{"add-31"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "nolostack", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res := check(t, "no-lost-ack", Input{Ops: ops, Model: "set", Options: quiescent,
				States: []State{{Kind: StateFinal, Name: "set", Data: data}}})
			var lost []string
			for _, a := range res.Anomalies {
				lost = append(lost, a.OpIDs...)
			}
			if res.Status != tt.want || !slices.Equal(lost, tt.lost) {
				t.Fatalf("status %s lost %v, want %s %v: %s", res.Status, lost, tt.want, tt.lost, res.Evidence)
			}
			if len(res.Missing) != 0 || res.OpsConsumed != len(ops) {
				t.Errorf("missing %v, consumed %d of %d", res.Missing, res.OpsConsumed, len(ops))
			}
		})
	}
}
