package checkers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// craftedLog is 20 ops and 4 fault windows; the failure needs ops o3 and
// o17 and any one partition.
func craftedLog() ([]Event, func(context.Context, []Event) (bool, error)) {
	var ops []history.Op
	for i := range 20 {
		ops = append(ops, op(fmt.Sprintf("o%d", i), "0", "write", int64(i*10), int64(i*10+5), "1", ""))
	}
	end := func(n int64) *int64 { return &n }
	windows := []history.Window{
		{ID: "F1", Kind: "partition", Start: 12, End: end(40)},
		{ID: "F2", Kind: "clock", Start: 50, End: end(60)},
		{ID: "F3", Kind: "partition", Start: 95, End: end(130)},
		{ID: "F4", Kind: "kill", Start: 150, End: nil},
	}
	failing := func(_ context.Context, sub []Event) (bool, error) {
		var o3, o17, part bool
		for _, e := range sub {
			switch {
			case e.Op != nil && e.Op.OpID == "o3":
				o3 = true
			case e.Op != nil && e.Op.OpID == "o17":
				o17 = true
			case e.Fault != nil && e.Fault.Kind == "partition":
				part = true
			}
		}
		return o3 && o17 && part, nil
	}
	return Events(ops, windows), failing
}

func eventNames(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.String())
	}
	return out
}

func TestReduceCrafted(t *testing.T) {
	events, failing := craftedLog()
	if got := eventNames(events[:4]); !slices.Equal(got, []string{"op o0", "op o1", "fault F1 (partition)", "op o2"}) {
		t.Fatalf("log order %v", got)
	}
	r, err := Reduce(context.Background(), events, failing)
	if err != nil {
		t.Fatal(err)
	}
	got := eventNames(r.Events)
	if len(got) != 3 || !slices.Contains(got, "op o3") || !slices.Contains(got, "op o17") || !slices.Equal(r.FaultKinds, []string{"partition"}) {
		t.Fatalf("reduced to %v (kinds %v), want o3, o17 and one partition", got, r.FaultKinds)
	}
	if !r.Reproduced || !r.Minimal || r.From != 24 || r.To != 3 {
		t.Errorf("reduction %+v", r)
	}
	want := fmt.Sprintf("reduced from 24 events to 3 over %d checks; the failure needs faults of kind partition", r.Checks)
	if r.Record != want {
		t.Errorf("record %q, want %q", r.Record, want)
	}
	if r.Checks > 24*24 {
		t.Errorf("%d checks for 24 events", r.Checks)
	}
	assertOneMinimal(t, r.Events, failing)
	ops, windows := SplitEvents(r.Events)
	if len(ops) != 2 || len(windows) != 1 {
		t.Errorf("split: %d ops, %d windows", len(ops), len(windows))
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Reduction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(&back); string(again) != string(b) {
		t.Errorf("JSON round trip:\n%s\n%s", b, again)
	}
	if !strings.Contains(string(b), `"fault":{"id":"F`) || !strings.Contains(string(b), `"op":{"op_id":"o3"`) {
		t.Errorf("JSON %s", b)
	}
}

// assertOneMinimal checks that the sub-log fails and that dropping any one
// event makes the failure vanish.
func assertOneMinimal(t *testing.T, sub []Event, failing func(context.Context, []Event) (bool, error)) {
	t.Helper()
	if ok, _ := failing(context.Background(), sub); !ok {
		t.Fatalf("reduced log %v does not fail", eventNames(sub))
	}
	for i := range sub {
		rest := slices.Delete(slices.Clone(sub), i, i+1)
		if ok, _ := failing(context.Background(), rest); ok {
			t.Errorf("not 1-minimal: still fails without %s", sub[i])
		}
	}
}

// TestReduceKnossos reduces Knossos' cas-failure history (a real
// non-linearizable cas-register run) with the linearizability checker.
func TestReduceKnossos(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir(t), "knossos", "cas-register", "bad", "*.edn"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad histories: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { reduceKnossos(t, filepath.Base(f)) })
	}
}

func reduceKnossos(t *testing.T, file string) {
	ops := importFile(t, filepath.Join(corpusDir(t), "knossos", "cas-register", "bad", file), "jepsen-edn")
	lz, _ := Lookup("linearizability")
	// When every read of the full history reads a written value, so must
	// the reduced one's: the failure must keep its nature.
	closed := readsFromWrites(ops)
	failing := func(ctx context.Context, sub []Event) (bool, error) {
		ops, _ := SplitEvents(sub)
		if closed && !readsFromWrites(ops) {
			return false, nil // a different failure: a value read from nowhere
		}
		res, err := lz.Check(ctx, Input{Ops: ops, Model: "cas-register", Options: map[string]any{"timeout": "10s"}})
		if err != nil {
			return false, err
		}
		if res.Status == StatusUnknown {
			return false, errors.New(res.Evidence)
		}
		return res.Status == StatusViolation, nil
	}
	start := time.Now()
	r, err := Reduce(context.Background(), Events(ops, nil), failing)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s in %v: %v", file, r.Record, time.Since(start), eventNames(r.Events))
	if !r.Reproduced || !r.Minimal || r.From != len(ops) || r.To > 6 || r.To < 1 || closed && r.To < 2 {
		t.Fatalf("reduction %+v", r)
	}
	if !strings.HasPrefix(r.Record, fmt.Sprintf("reduced from %s events to %d over ", thousands(len(ops)), r.To)) {
		t.Errorf("record %q", r.Record)
	}
	assertOneMinimal(t, r.Events, failing)
}

// readsFromWrites reports whether every value a successful read returns,
// and every value a successful cas expects, is written by an op of the
// sub-history: dropping the write a read observed makes a different,
// trivial failure, which a reduction must not converge to.
func readsFromWrites(ops []history.Op) bool {
	written := map[value]bool{{}: true}
	for _, o := range ops {
		switch {
		case o.Failed():
		case o.OpType == "write":
			v, _ := canonical(o.Input)
			written[v] = true
		case o.OpType == "cas":
			_, next, _ := casArgs(o.Input)
			written[next] = true
		}
	}
	for _, o := range ops {
		switch {
		case !o.OK():
		case o.OpType == "read":
			if v, _ := canonical(o.Output); !written[v] {
				return false
			}
		case o.OpType == "cas":
			if expected, _, _ := casArgs(o.Input); !written[expected] {
				return false
			}
		}
	}
	return true
}

func TestWriteReduction(t *testing.T) {
	events, failing := craftedLog()
	r, err := Reduce(context.Background(), events, failing)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "artifacts")
	paths, err := WriteReduction(dir, r)
	if err != nil || len(paths) != 2 {
		t.Fatalf("%v %v", paths, err)
	}
	f, err := os.Open(filepath.Join(dir, ReducedHistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.ReadJSONL(f)
	if err != nil || len(ops) != 2 || ops[0].OpID != "o3" || ops[1].OpID != "o17" {
		t.Fatalf("reduced history %v %v", ops, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ReductionFile))
	if err != nil {
		t.Fatal(err)
	}
	var back Reduction
	if err := json.Unmarshal(data, &back); err != nil || back.Record != r.Record || len(back.Events) != 3 {
		t.Fatalf("reduction.json: %v %+v", err, back)
	}
}

func TestReduceNotReproduced(t *testing.T) {
	events, _ := craftedLog()
	r, err := Reduce(context.Background(), events, func(context.Context, []Event) (bool, error) { return false, nil })
	if err != nil {
		t.Fatal(err)
	}
	if r.Reproduced || r.To != 24 || r.Checks != 1 || !strings.HasPrefix(r.Record, "not reproduced") {
		t.Fatalf("%+v", r)
	}
}

func TestReduceErrors(t *testing.T) {
	events, failing := craftedLog()
	boom := errors.New("checker crashed")
	calls := 0
	_, err := Reduce(context.Background(), events, func(ctx context.Context, sub []Event) (bool, error) {
		if calls++; calls == 3 {
			return false, boom
		}
		return failing(ctx, sub)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the predicate's", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	r, err := Reduce(ctx, events, func(ctx context.Context, sub []Event) (bool, error) {
		if calls++; calls == 4 {
			cancel()
		}
		return failing(ctx, sub)
	})
	if !errors.Is(err, context.Canceled) || r == nil || r.Minimal || !r.Reproduced {
		t.Fatalf("cancelled: %+v, %v", r, err)
	}
	if ok, _ := failing(context.Background(), r.Events); !ok {
		t.Errorf("the partial reduction %v does not fail", eventNames(r.Events))
	}
}
