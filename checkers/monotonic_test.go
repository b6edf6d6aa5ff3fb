package checkers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// vread is a successful read returning value v at SUT version ver.
func vread(id, process string, invoke, complete int64, key string, v, ver int) history.Op {
	return keyed(key, op(id, process, "read", invoke, complete, "", fmt.Sprintf(`{"value":%d,"version":%d}`, v, ver)))
}

func TestMonotonicRead(t *testing.T) {
	// Process 0 reads x at versions 3 then 2: stale. Process 1 is fine.
	stale := []history.Op{
		vread("r1", "0", 0, 10, "x", 30, 3),
		vread("r2", "1", 5, 15, "x", 20, 2),
		vread("r3", "0", 20, 30, "x", 20, 2),
		vread("r4", "1", 25, 35, "x", 30, 3),
		vread("r5", "0", 20, 30, "y", 10, 1),
	}
	repaired := slices.Clone(stale)
	repaired[2] = vread("r3", "0", 20, 30, "x", 40, 4)
	reconnected := slices.Insert(slices.Clone(stale), 2, op("c", "0", "reconnect", 15, 16, "", ""))
	// The recorder clock says r3 completed last, but the SUT's versions say
	// it saw an older state: ordering by time would miss it, and reads
	// from different processes are not compared.
	tests := []struct {
		name string
		ops  []history.Op
		opts map[string]any
		want string
		ids  []string
	}{
		{"stale read in a session", stale, nil, StatusViolation, []string{"r1", "r3"}},
		{"repaired", repaired, nil, StatusOK, nil},
		{"reconnect starts a new session", reconnected, nil, StatusOK, nil},
		{"custom version field", []history.Op{
			keyed("x", op("a", "0", "read", 0, 10, "", `{"v":1,"meta":{"rev":9}}`)),
			keyed("x", op("b", "0", "read", 20, 30, "", `{"v":1,"meta":{"rev":8}}`)),
		}, map[string]any{"version_field": "meta.rev"}, StatusViolation, []string{"a", "b"}},
		{"session field change is a new session", []history.Op{
			keyed("x", op("a", "0", "read", 0, 10, "", `{"version":5,"session":"s1"}`)),
			keyed("x", op("b", "0", "read", 20, 30, "", `{"version":4,"session":"s2"}`)),
		}, map[string]any{"session_field": "session"}, StatusOK, nil},
		{"same session field", []history.Op{
			keyed("x", op("a", "0", "read", 0, 10, "", `{"version":5,"session":"s1"}`)),
			keyed("x", op("b", "0", "read", 20, 30, "", `{"version":4,"session":"s1"}`)),
		}, map[string]any{"session_field": "session"}, StatusViolation, []string{"a", "b"}},
		{"failed and timed-out reads ignored", []history.Op{
			vread("a", "0", 0, 10, "x", 1, 5),
			failed(vread("b", "0", 20, 30, "x", 1, 1)),
			keyed("x", op("c", "0", "read", 40, timeout, "", "")),
			vread("d", "0", 50, 60, "x", 1, 5),
		}, nil, StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "monotonic-read", Input{Ops: tt.ops, Model: "session", Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.ids != nil {
				if len(res.Anomalies) != 1 || !slices.Equal(res.Anomalies[0].OpIDs, tt.ids) || res.Anomalies[0].Kind != "non-monotonic-read" {
					t.Fatalf("anomalies %+v, want one over %v", res.Anomalies, tt.ids)
				}
			}
		})
	}
	res := check(t, "monotonic-read", Input{Ops: stale, Model: "session"})
	want := "monotonic-read checked 5 ops: 5 successful reads (0 without a version) in 2 sessions over 2 keys: 1 anomaly"
	if res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, `process 0, key "x": r3 read version 2 after r1 had read version 3`) {
		t.Errorf("description %q", d)
	}
}

// TestMonotonicReadRecorderClock: the trap of ordering by the recorder's
// clock instead of the SUT's version is refused.
func TestMonotonicReadRecorderClock(t *testing.T) {
	c, _ := Lookup("monotonic-read")
	ops := []history.Op{
		keyed("x", op("a", "0", "read", 100, 110, "", `{"version":110,"ts":110}`)),
		keyed("x", op("b", "0", "read", 200, 210, "", `{"version":210,"ts":210}`)),
	}
	for _, opts := range []map[string]any{{"version_field": "complete_ts"}, {"version_field": "ts"}, {"version_field": "version"}} {
		if _, err := c.Check(context.Background(), Input{Ops: ops, Model: "session", Options: opts}); err == nil || !strings.Contains(err.Error(), "clock") {
			t.Errorf("%v: error %v, want the recorder clock refused", opts, err)
		}
	}
}

func TestMonotonicReadUndecided(t *testing.T) {
	ops := []history.Op{keyed("x", op("a", "0", "read", 0, 10, "", `5`)), keyed("x", op("b", "0", "read", 20, 30, "", `4`))}
	res := check(t, "monotonic-read", Input{Ops: ops, Model: "session"})
	if res.Status != StatusUnknown || !slices.Contains(res.Missing, "output.version") {
		t.Fatalf("unversioned reads: %s %v %s", res.Status, res.Missing, res.Evidence)
	}
}
