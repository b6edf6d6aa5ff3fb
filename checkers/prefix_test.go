package checkers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// enq and deq build queue ops; n is the element.
func enq(id, p string, inv, cmp int64, n int) history.Op {
	return op(id, p, "enqueue", inv, cmp, fmt.Sprint(n), "")
}

func deq(id, p string, inv, cmp int64, n int) history.Op {
	return op(id, p, "dequeue", inv, cmp, "", fmt.Sprint(n))
}

func TestPrefixQueue(t *testing.T) {
	// Producer p enqueues 1..6 in order; consumer c receives them.
	produce := []history.Op{
		enq("e1", "p", 0, 10, 1), enq("e2", "p", 20, 30, 2), enq("e3", "p", 40, 50, 3),
		enq("e4", "p", 60, 70, 4), enq("e5", "p", 80, 90, 5), enq("e6", "p", 100, 110, 6),
	}
	consume := func(ns ...int) []history.Op {
		ops := slices.Clone(produce)
		for i, n := range ns {
			ops = append(ops, deq(fmt.Sprintf("d%d", i+1), "c", int64(200+20*i), int64(210+20*i), n))
		}
		return ops
	}
	tests := []struct {
		name   string
		ops    []history.Op
		window any
		want   string
		kinds  []string
	}{
		{"in order", consume(1, 2, 3, 4, 5, 6), nil, StatusOK, nil},
		{"in order, tail not yet consumed", consume(1, 2, 3), nil, StatusOK, nil},
		{"reorder", consume(1, 3, 2, 4, 5, 6), nil, StatusViolation, []string{"reorder"}},
		{"reorder within the window", consume(1, 3, 2, 4, 5, 6), 1.0, StatusOK, nil},
		{"reorder beyond the window", consume(1, 4, 2, 3, 5, 6), 1.0, StatusViolation, []string{"reorder"}},
		{"skip", consume(1, 3, 4), nil, StatusViolation, []string{"skip"}},
		{"insert", consume(1, 2, 99, 3), nil, StatusViolation, []string{"insert"}},
		{"duplicate", consume(1, 2, 2, 3), nil, StatusViolation, []string{"duplicate"}},
		{"two consumers share the queue", append(slices.Clone(produce),
			deq("d1", "c1", 200, 210, 1), deq("d2", "c2", 205, 215, 2), deq("d3", "c1", 220, 230, 3),
			deq("d4", "c2", 225, 235, 4)), nil, StatusOK, nil},
		{"delivered to two consumers", append(slices.Clone(produce),
			deq("d1", "c1", 200, 210, 1), deq("d2", "c2", 205, 215, 1), deq("d3", "c1", 220, 230, 2)), nil, StatusViolation, []string{"duplicate"}},
		// A timed-out dequeue may have taken the element that looks skipped.
		{"skip explained by a timed-out dequeue", append(consume(1, 3), op("dx", "c2", "dequeue", 150, timeout, "", "")), nil, StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := map[string]any{}
			if tt.window != nil {
				opts["reorder_window"] = tt.window
			}
			res := check(t, "prefix-order", Input{Ops: tt.ops, Model: "queue", Options: opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			var kinds []string
			for _, a := range res.Anomalies {
				kinds = append(kinds, a.Kind)
				if len(a.OpIDs) == 0 || a.Witness == nil {
					t.Errorf("anomaly without ops or witness: %+v", a)
				}
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Fatalf("kinds %v, want %v: %+v", kinds, tt.kinds, res.Anomalies)
			}
		})
	}
	res := check(t, "prefix-order", Input{Ops: consume(1, 3, 2), Model: "queue"})
	if want := "prefix-order checked 9 ops: 6 elements from 1 producer (6 acknowledged) against 3 consumer observations (3 deliveries), reorder window 0: 1 anomaly"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, "consumer c observed 2 (delivered by d3) after 3 (delivered by d2)") {
		t.Errorf("description %q", d)
	}
}

func TestPrefixLog(t *testing.T) {
	app := func(id, p string, inv, cmp int64, n int) history.Op {
		return op(id, p, "append", inv, cmp, fmt.Sprint(n), "")
	}
	base := []history.Op{
		app("a1", "p", 0, 10, 1), app("a2", "p", 20, 30, 2), app("a3", "q", 25, 35, 10), app("a4", "p", 40, timeout, 3),
	}
	read := func(id string, out string) history.Op { return op(id, "r", "read", 100, 110, "", out) }
	tests := []struct {
		name  string
		reads []history.Op
		want  string
		kinds []string
	}{
		{"prefixes", []history.Op{read("r1", "[1]"), read("r2", "[1,10,2]"), read("r3", "[1,10,2,3]")}, StatusOK, nil},
		{"offsets order the entries", []history.Op{read("r1", `[{"offset":1,"value":10},{"offset":0,"value":1},{"offset":2,"value":2}]`)}, StatusOK, nil},
		{"skip in a view", []history.Op{read("r1", "[2]")}, StatusViolation, []string{"skip"}},
		{"views diverge", []history.Op{read("r1", "[1,10,2]"), read("r2", "[1,2,10]")}, StatusViolation, []string{"not-prefix"}},
		{"reordered producer", []history.Op{read("r1", "[2,1]")}, StatusViolation, []string{"reorder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "prefix-order", Input{Ops: append(slices.Clone(base), tt.reads...), Model: "log"})
			var kinds []string
			for _, a := range res.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if res.Status != tt.want || !slices.Equal(kinds, tt.kinds) {
				t.Fatalf("status %s kinds %v, want %s %v: %s %+v", res.Status, kinds, tt.want, tt.kinds, res.Evidence, res.Anomalies)
			}
		})
	}
}

// TestPrefixUnboundedWindow: the classic trap, a window that accepts any
// order, is refused.
func TestPrefixUnboundedWindow(t *testing.T) {
	c, _ := Lookup("prefix-order")
	ops := []history.Op{enq("e1", "p", 0, 10, 1), enq("e2", "p", 20, 30, 2), enq("e3", "p", 40, 50, 3), deq("d1", "c", 60, 70, 3)}
	for _, w := range []any{"unbounded", "inf", -1.0, 2.5, 3.0, 1e12, true} {
		if _, err := c.Check(context.Background(), Input{Ops: ops, Model: "queue", Options: map[string]any{"reorder_window": w}}); err == nil {
			t.Errorf("window %v accepted", w)
		}
	}
	if res := check(t, "prefix-order", Input{Ops: ops, Model: "queue", Options: map[string]any{"reorder_window": 2.0}}); res.Status != StatusOK {
		t.Errorf("window 2: %s %s", res.Status, res.Evidence)
	}
	if res := check(t, "prefix-order", Input{Ops: ops, Model: "queue"}); res.Status != StatusViolation {
		t.Errorf("window 0: %s %s", res.Status, res.Evidence)
	}
}
