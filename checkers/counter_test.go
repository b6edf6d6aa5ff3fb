package checkers

import (
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

func TestCounter(t *testing.T) {
	inc := func(id string, inv, cmp int64, d string) history.Op { return op(id, "w", "inc", inv, cmp, d, "") }
	read := func(id string, inv, cmp int64, v string) history.Op { return op(id, "r", "read", inv, cmp, "", v) }
	tests := []struct {
		name  string
		ops   []history.Op
		opts  map[string]any
		want  string
		reads []string
		lower []float64
		upper []float64
	}{
		{"exact", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, 30, "2"), read("r", 40, 50, "3")}, nil, StatusOK, nil, nil, nil},
		{"lost increment", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, 30, "2"), read("r", 40, 50, "1")}, nil, StatusViolation,
			[]string{"r"}, []float64{3}, []float64{3}},
		{"counted twice", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, 30, "2"), read("r", 40, 50, "5")}, nil, StatusViolation,
			[]string{"r"}, []float64{3}, []float64{3}},
		{"concurrent increment may or may not show", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 35, 45, "2"), read("r1", 40, 50, "1"), read("r2", 40, 50, "3")}, nil, StatusOK, nil, nil, nil},
		// Trap: a timed-out increment is not acknowledged, it may count or not.
		{"timed-out increment absent", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, timeout, "2"), read("r", 40, 50, "1")}, nil, StatusOK, nil, nil, nil},
		{"timed-out increment present", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, timeout, "2"), read("r", 40, 50, "3")}, nil, StatusOK, nil, nil, nil},
		{"timed-out increment cannot count twice", []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, timeout, "2"), read("r", 40, 50, "5")}, nil, StatusViolation,
			[]string{"r"}, []float64{1}, []float64{3}},
		{"failed increment", []history.Op{inc("i1", 0, 10, "1"), failed(inc("i2", 20, 30, "2")), read("r", 40, 50, "3")}, nil, StatusViolation,
			[]string{"r"}, []float64{1}, []float64{1}},
		{"increment invoked after the read", []history.Op{inc("i1", 0, 10, "1"), read("r", 40, 50, "3"), inc("i2", 60, 70, "2")}, nil, StatusViolation,
			[]string{"r"}, []float64{1}, []float64{1}},
		{"decrements", []history.Op{inc("i1", 0, 10, "5"), op("d", "w", "dec", 20, timeout, "2", ""), read("r1", 40, 50, "3"), read("r2", 40, 50, "5")}, nil, StatusOK, nil, nil, nil},
		{"decrement bound", []history.Op{inc("i1", 0, 10, "5"), op("d", "w", "dec", 20, timeout, "2", ""), read("r", 40, 50, "2")}, nil, StatusViolation,
			[]string{"r"}, []float64{3}, []float64{5}},
		{"initial value", []history.Op{inc("i1", 0, 10, "1"), read("r", 40, 50, "11")}, map[string]any{"initial": 10.0}, StatusOK, nil, nil, nil},
		{"default delta and object read", []history.Op{inc("i1", 0, 10, ""), read("r", 40, 50, `{"value":1}`)}, nil, StatusOK, nil, nil, nil},
		{"per key", []history.Op{keyed("a", inc("i1", 0, 10, "1")), keyed("b", inc("i2", 0, 10, "7")), keyed("a", read("r", 40, 50, "1")), keyed("b", read("s", 40, 50, "1"))},
			nil, StatusViolation, []string{"s"}, []float64{7}, []float64{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "counter", Input{Ops: tt.ops, Model: "counter", Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			var reads []string
			var lower, upper []float64
			for _, a := range res.Anomalies {
				w := a.Witness.(counterWitness)
				reads, lower, upper = append(reads, w.Read), append(lower, w.Lower), append(upper, w.Upper)
			}
			if !slices.Equal(reads, tt.reads) || !slices.Equal(lower, tt.lower) || !slices.Equal(upper, tt.upper) {
				t.Fatalf("reads %v bounds %v %v, want %v %v %v", reads, lower, upper, tt.reads, tt.lower, tt.upper)
			}
		})
	}
	res := check(t, "counter", Input{Model: "counter", Ops: []history.Op{inc("i1", 0, 10, "1"), inc("i2", 20, timeout, "2"), read("r", 40, 50, "5")}})
	if want := "counter checked 3 ops over 1 key: 2 increments (1 acknowledged, 1 indeterminate) and 1 successful read: 1 out of bounds"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, "read r returned 5, more than the 3 that may have been applied (bounds [1, 3])") {
		t.Errorf("description %q", d)
	}
}
