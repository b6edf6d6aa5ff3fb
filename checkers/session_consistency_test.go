package checkers

import (
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

func TestSessionConsistency(t *testing.T) {
	w := func(id, p string, inv, cmp int64, v string) history.Op {
		return keyed("x", op(id, p, "write", inv, cmp, v, ""))
	}
	r := func(id, p string, inv, cmp int64, v string) history.Op {
		return keyed("x", op(id, p, "read", inv, cmp, "", v))
	}
	// Process 0 writes 2, then reads 1 (its older value): it missed its
	// own write, and nobody else wrote 1 after it.
	missed := []history.Op{
		w("w1", "0", 0, 10, "1"),
		w("w2", "0", 20, 30, "2"),
		r("r1", "0", 40, 50, "1"),
	}
	// Another session's concurrent write of 3 may have overwritten it.
	overwritten := []history.Op{
		w("w1", "0", 0, 10, "1"),
		w("w2", "0", 20, 30, "2"),
		w("w3", "1", 25, 35, "3"),
		r("r1", "0", 40, 50, "3"),
	}
	// A write of 1 by another session that completed before w2 began
	// cannot excuse reading 1.
	tooEarly := []history.Op{
		w("w0", "1", 0, 5, "1"),
		w("w2", "0", 20, 30, "2"),
		r("r1", "0", 40, 50, "1"),
	}
	// A timed-out foreign write may take effect any time after it began.
	maybe := []history.Op{
		w("w0", "1", 0, timeout, "1"),
		w("w2", "0", 20, 30, "2"),
		r("r1", "0", 40, 50, "1"),
	}
	reconnect := []history.Op{
		w("w1", "0", 0, 10, "1"),
		w("w2", "0", 20, 30, "2"),
		op("c", "0", "reconnect", 31, 32, "", ""),
		r("r1", "0", 40, 50, "1"),
	}
	version := func(id, p, typ string, inv, cmp int64, in, out string) history.Op {
		return keyed("k", op(id, p, typ, inv, cmp, in, out))
	}
	tests := []struct {
		name string
		ops  []history.Op
		opts map[string]any
		want string
		ids  []string
	}{
		{"read misses own write", missed, nil, StatusViolation, []string{"w2", "r1"}},
		{"repaired", append(missed[:2:2], r("r1", "0", 40, 50, "2")), nil, StatusOK, nil},
		{"another session overwrote it", overwritten, nil, StatusOK, nil},
		{"foreign write too early", tooEarly, nil, StatusViolation, []string{"w2", "r1"}},
		{"timed-out foreign write", maybe, nil, StatusOK, nil},
		// Trap: a reconnect is a new session, which owes nothing to the old one.
		{"reconnect is a new session", reconnect, nil, StatusUnknown, nil},
		{"versions: stale", []history.Op{
			version("w", "0", "write", 0, 10, `5`, `{"version":7}`),
			version("r", "0", "read", 20, 30, "", `{"value":4,"version":6}`),
		}, map[string]any{"version_field": "version"}, StatusViolation, []string{"w", "r"}},
		{"versions: fresh", []history.Op{
			version("w", "0", "write", 0, 10, `5`, `{"version":7}`),
			version("r", "0", "read", 20, 30, "", `{"value":9,"version":8}`),
		}, map[string]any{"version_field": "version"}, StatusOK, nil},
		{"appends: missing own element", []history.Op{
			keyed("l", op("a1", "0", "append", 0, 10, `1`, "")),
			keyed("l", op("a2", "0", "append", 20, 30, `2`, "")),
			keyed("l", op("r", "0", "read", 40, 50, "", `[1]`)),
		}, nil, StatusViolation, []string{"a2", "r"}},
		{"appends: all there", []history.Op{
			keyed("l", op("a1", "0", "append", 0, 10, `1`, "")),
			keyed("l", op("a2", "0", "append", 20, 30, `2`, "")),
			keyed("l", op("r", "0", "read", 40, 50, "", `[1,2]`)),
		}, nil, StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "session-consistency", Input{Ops: tt.ops, Model: "session", Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.ids != nil && (len(res.Anomalies) != 1 || !slices.Equal(res.Anomalies[0].OpIDs, tt.ids)) {
				t.Fatalf("anomalies %+v, want one over %v", res.Anomalies, tt.ids)
			}
		})
	}
	res := check(t, "session-consistency", Input{Ops: missed, Model: "session"})
	if want := "session-consistency checked 3 ops: 1 read after their session's own writes, by value, in 1 session over 1 key: 1 anomaly"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, "r1 read 1, not its own write w2 of 2") {
		t.Errorf("description %q", d)
	}
}
