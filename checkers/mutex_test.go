package checkers

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

func TestMutualExclusion(t *testing.T) {
	acq := func(id, p string, inv, cmp int64) history.Op { return op(id, p, "acquire", inv, cmp, "", "") }
	rel := func(id, p string, inv, cmp int64) history.Op { return op(id, p, "release", inv, cmp, "", "") }
	tests := []struct {
		name  string
		model string
		ops   []history.Op
		opts  map[string]any
		want  string
		ids   []string
	}{
		{"handover", "lock", []history.Op{acq("a1", "p", 0, 10), rel("r1", "p", 20, 30), acq("a2", "q", 15, 40), rel("r2", "q", 50, 60)}, nil, StatusOK, nil},
		{"two holders", "lock", []history.Op{acq("a1", "p", 0, 10), acq("a2", "q", 12, 18), rel("r1", "p", 20, 30), rel("r2", "q", 50, 60)}, nil,
			StatusViolation, []string{"a1", "a2", "r1"}},
		{"never released", "lock", []history.Op{acq("a1", "p", 0, 10), acq("a2", "q", 100, 110)}, nil, StatusViolation, []string{"a1", "a2"}},
		{"reentrant acquire by the holder", "lock", []history.Op{acq("a1", "p", 0, 10), acq("a2", "p", 12, 18), rel("r1", "p", 20, 30)}, nil, StatusOK, nil},
		{"separate locks", "lock", []history.Op{keyed("l1", acq("a1", "p", 0, 10)), keyed("l2", acq("a2", "q", 12, 18))}, nil, StatusOK, nil},
		// Indeterminate acquires are maybe-held: never a violation.
		{"timed-out acquire", "lock", []history.Op{acq("a1", "p", 0, timeout), acq("a2", "q", 12, 18), rel("r2", "q", 20, 30)}, nil, StatusOK, nil},
		{"failed acquire", "lock", []history.Op{acq("a1", "p", 0, 10), failed(acq("a2", "q", 12, 18)), rel("r1", "p", 20, 30)}, nil, StatusOK, nil},
		// A release refused as not held: the lock was lost at some unknown
		// time, so the hold is only certain at its acquire.
		{"lock lost", "lock", []history.Op{acq("a1", "p", 0, 10), acq("a2", "q", 12, 18), failed(rel("r1", "p", 20, 30))}, nil, StatusOK, nil},
		{"lease expired before the next holder", "lease", []history.Op{acq("a1", "p", 0, 10), acq("a2", "q", 120, 130)}, map[string]any{"ttl": 1e-7}, StatusOK, nil},
		{"lease still valid", "lease", []history.Op{acq("a1", "p", 0, 10), acq("a2", "q", 50, 60)}, map[string]any{"ttl": 1e-7}, StatusViolation, []string{"a1", "a2"}},
		{"renewed lease", "lease", []history.Op{acq("a1", "p", 0, 10), op("n1", "p", "renew", 90, 95, "", ""), acq("a2", "q", 120, 130)},
			map[string]any{"ttl": 1e-7}, StatusViolation, []string{"a1", "a2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "mutual-exclusion", Input{Ops: tt.ops, Model: tt.model, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.ids != nil && (len(res.Anomalies) != 1 || !slices.Equal(res.Anomalies[0].OpIDs, tt.ids)) {
				t.Fatalf("anomalies %+v, want one over %v", res.Anomalies, tt.ids)
			}
		})
	}
	res := check(t, "mutual-exclusion", Input{Model: "lock", Ops: []history.Op{acq("a1", "p", 0, 10), acq("a2", "q", 12, 18), rel("r1", "p", 20, 30)}})
	if want := "mutual-exclusion checked 3 ops over 1 lock (no ttl): 2 successful acquires, 0 indeterminate acquires (maybe held, not judged), 2 definite holds: 1 overlap"; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	if d := res.Anomalies[0].Description; !strings.Contains(d, "process p held the lock from 10 (a1) until at least 20 (r1), yet process q's a2 succeeded by 18") {
		t.Errorf("description %q", d)
	}
	w := res.Anomalies[0].Witness.(mutexWitness)
	if w.OverlapStart != 18 || w.OverlapEnd == nil || *w.OverlapEnd != 20 {
		t.Errorf("witness %+v", w)
	}
	if _, err := mutualExclusion().Check(context.Background(), Input{Model: "lease", Ops: []history.Op{acq("a1", "p", 0, 10)}}); err == nil {
		t.Error("lease without ttl accepted")
	}
}

// TestMutualExclusionEtcd runs Jepsen's etcd lock history. Knossos finds
// it non-linearizable as a mutex (linearizability catches it, see
// TestKnossosMutex), but no two acquires overlap definitely in real time:
// mutual-exclusion, whose scope is definite overlaps, passes it. The same
// history with one acquire injected into a definite hold must fail.
func TestMutualExclusionEtcd(t *testing.T) {
	ops := importFile(t, filepath.Join(corpusDir(t), "knossos", "mutex", "bad", "etcd.edn"), "jepsen-edn")
	res := check(t, "mutual-exclusion", Input{Ops: ops, Model: "mutex"})
	if res.Status != StatusOK || res.OpsConsumed != len(ops) || res.Keys != 1 {
		t.Fatalf("status %s, consumed %d of %d: %s", res.Status, res.OpsConsumed, len(ops), res.Evidence)
	}
	if lz := check(t, "linearizability", Input{Ops: ops, Model: "mutex"}); lz.Status != StatusViolation {
		t.Fatalf("linearizability: %s", lz.Evidence)
	}
	// Find a definite hold: an acquire whose process next releases
	// successfully, then inject another process's acquire inside it.
	var held, release *history.Op
	for i := range ops {
		if ops[i].OpType != "acquire" || !ops[i].OK() {
			continue
		}
		for j := i + 1; j < len(ops); j++ {
			if processOf(&ops[j]) == processOf(&ops[i]) {
				if ops[j].OpType == "release" && ops[j].OK() && *ops[j].InvokeTS-*ops[i].CompleteTS > 2 {
					held, release = &ops[i], &ops[j]
				}
				break
			}
		}
		if held != nil {
			break
		}
	}
	if held == nil {
		t.Fatal("no acquire followed by a successful release in etcd.edn")
	}
	mid := *held.CompleteTS + (*release.InvokeTS-*held.CompleteTS)/2
	bad := append(slices.Clone(ops), op("intruder", "99", "acquire", mid-1, mid, "", ""), op("intruder-release", "99", "release", mid+1, mid+2, "", ""))
	res = check(t, "mutual-exclusion", Input{Ops: bad, Model: "mutex"})
	if res.Status != StatusViolation || len(res.Anomalies) != 1 || !slices.Contains(res.Anomalies[0].OpIDs, "intruder") ||
		!slices.Contains(res.Anomalies[0].OpIDs, held.OpID) {
		t.Fatalf("injected overlap: %s; first anomaly %+v", res.Evidence, res.Anomalies[:min(1, len(res.Anomalies))])
	}
	if w := res.Anomalies[0].Witness.(mutexWitness); w.OverlapStart != mid || w.OverlapEnd == nil || *w.OverlapEnd == math.MaxInt64 {
		t.Errorf("witness %+v", w)
	}
}
