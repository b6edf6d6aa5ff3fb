package checkers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

func addOp(id, p string, inv, cmp int64, n int) history.Op {
	return op(id, p, "add", inv, cmp, fmt.Sprint(n), "")
}

func TestSet(t *testing.T) {
	adds := []history.Op{
		addOp("a1", "0", 0, 10, 1), addOp("a2", "1", 0, 10, 2), addOp("a3", "0", 20, timeout, 3),
		failed(addOp("a4", "1", 20, 30, 4)), addOp("a5", "1", 40, 50, 5),
	}
	read := func(out string) []history.Op {
		return append(slices.Clone(adds), op("r", "2", "read", 100, 110, "", out))
	}
	tests := []struct {
		name   string
		ops    []history.Op
		states []State
		want   string
		kinds  []string
	}{
		{"all there", read("[1,2,5]"), nil, StatusOK, nil},
		{"timed-out add recovered", read("[1,2,3,5]"), nil, StatusOK, nil},
		{"lost", read("[1,5]"), nil, StatusViolation, []string{"lost"}},
		{"unexpected", read("[1,2,5,9]"), nil, StatusViolation, []string{"unexpected"}},
		{"failed add present", read("[1,2,4,5]"), nil, StatusViolation, []string{"unexpected"}},
		{"final state instead of a read", adds, final("[1,2,5]"), StatusOK, nil},
		{"final state lost", adds, final("[2,5]"), StatusViolation, []string{"lost"}},
		{"no read", adds, nil, StatusUnknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "set", Input{Ops: tt.ops, Model: "set", States: tt.states})
			var kinds []string
			for _, a := range res.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if res.Status != tt.want || !slices.Equal(kinds, tt.kinds) {
				t.Fatalf("status %s kinds %v, want %s %v: %s", res.Status, kinds, tt.want, tt.kinds, res.Evidence)
			}
		})
	}
	res := check(t, "set", Input{Ops: read("[1,3,5]"), Model: "set"})
	if want := "set checked 6 ops: 5 elements attempted against the final read r (3 elements): 2 ok, 1 lost, 0 unexpected, 1 recovered, 0 indeterminate and absent"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if a := res.Anomalies[0]; !slices.Equal(a.OpIDs, []string{"a2", "r"}) || !strings.Contains(a.Description, "1 element acknowledged but absent from the final read r: 2") {
		t.Errorf("anomaly %+v", a)
	}
}

func TestSetFull(t *testing.T) {
	r := func(id string, inv, cmp int64, out string) history.Op { return op(id, "r", "read", inv, cmp, "", out) }
	base := []history.Op{addOp("a1", "0", 0, 10, 1), addOp("a2", "1", 20, 30, 2), addOp("a3", "0", 40, timeout, 3)}
	with := func(reads ...history.Op) []history.Op { return append(slices.Clone(base), reads...) }
	tests := []struct {
		name  string
		ops   []history.Op
		opts  map[string]any
		want  string
		kinds []string
	}{
		{"stable", with(r("r1", 50, 60, "[1,2]"), r("r2", 70, 80, "[1,2,3]"), r("r3", 90, 100, "[1,2,3]")), nil, StatusOK, nil},
		{"lost after being read", with(r("r1", 50, 60, "[1,2]"), r("r2", 70, 80, "[2]"), r("r3", 90, 100, "[2]")), nil, StatusViolation, []string{"lost"}},
		{"acknowledged, never seen", with(r("r1", 50, 60, "[2]"), r("r2", 70, 80, "[2]")), nil, StatusViolation, []string{"lost"}},
		{"stale then present", with(r("r1", 50, 60, "[1]"), r("r2", 70, 80, "[1,2]")), nil, StatusOK, nil},
		{"stale is a violation when linearizable", with(r("r1", 50, 60, "[1]"), r("r2", 70, 80, "[1,2]")), map[string]any{"linearizable": true}, StatusViolation, []string{"stale"}},
		{"concurrent read may miss it", with(r("r1", 25, 35, "[1]"), r("r2", 70, 80, "[1,2]")), map[string]any{"linearizable": true}, StatusOK, nil},
		{"unexpected", with(r("r1", 50, 60, "[1,2,7]")), nil, StatusViolation, []string{"unexpected"}},
		{"duplicated", with(r("r1", 50, 60, "[1,2,2]")), nil, StatusViolation, []string{"duplicated"}},
		{"never read", with(r("r1", 5, 15, "[]")), nil, StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "set-full", Input{Ops: tt.ops, Model: "set", Options: tt.opts})
			var kinds []string
			for _, a := range res.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if res.Status != tt.want || !slices.Equal(kinds, tt.kinds) {
				t.Fatalf("status %s kinds %v, want %s %v: %s %+v", res.Status, kinds, tt.want, tt.kinds, res.Evidence, res.Anomalies)
			}
		})
	}
	res := check(t, "set-full", Input{Model: "set", Ops: with(r("r1", 50, 60, "[1]"), r("r2", 70, 80, "[1,2]"), r("r3", 90, 100, "[2]"))})
	if want := "set-full checked 6 ops: 3 elements over 3 reads: 0 stable, 1 lost, 1 stale (1 stale read; not a violation), 0 never read, 1 indeterminate and never seen, 0 unexpected, 0 reads with duplicates"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	w := res.Anomalies[0].Witness.(setWitness)
	if b, _ := json.Marshal(w); string(b) != `{"elements":[1],"ops":["a1"]}` || !strings.Contains(res.Anomalies[0].Description, "1 (known from a1), last seen by r2") {
		t.Errorf("witness %s, description %q", b, res.Anomalies[0].Description)
	}
}
