package checkers

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// fuzzSeeds returns, per registered checker, an input it accepts: the
// oracle checkers' fixtures, and small histories for the others.
func fuzzSeeds(t testing.TB) map[string][]Input {
	seeds := map[string][]Input{}
	for name, in := range oracleInputs() {
		seeds[name] = append(seeds[name], in)
	}
	knossos := importFile(t, filepath.Join(corpusDir(t), "knossos", "cas-register", "bad", "bad-analysis.edn"), "jepsen-edn")
	kv := []history.Op{
		keyed("x", op("w1", "0", "write", 0, 10, `"a"`, "")), keyed("x", op("a1", "1", "append", 5, timeout, `"b"`, "")),
		keyed("y", op("c1", "2", "cas", 12, 20, `["a","c"]`, "false")), keyed("x", op("r1", "0", "read", 30, 40, "", `"ab"`)),
	}
	seeds["linearizability"] = []Input{
		{Model: "cas-register", Ops: knossos},
		{Model: "kv", Ops: kv, Options: map[string]any{"initial": ""}},
		{Model: "mutex", Ops: []history.Op{op("a", "p", "acquire", 0, 10, "", ""), op("b", "q", "acquire", 5, 15, "", "")}},
		{Model: "multi-register", Ops: []history.Op{op("t", "p", "txn", 0, 10, `[["w","x",1]]`, `[["w","x",1]]`),
			op("u", "q", "txn", 20, 30, `[["r","x",null]]`, `[["r","x",1]]`)}},
	}
	seeds["no-lost-ack"] = []Input{logHistory(40)}
	seeds["serializability"] = []Input{
		{Model: "list-append", Ops: generateElleListAppend(12, 3, 4, 7), Options: map[string]any{"consistency": "strict-serializable"}},
		{Model: "rw-register", Ops: generateElleRWRegister(12, 3, 7)},
	}
	for _, w := range linearWorkloads() {
		seeds[w.checker] = append(seeds[w.checker], w.in(20))
	}
	return seeds
}

// FuzzCheckers feeds every registered checker arbitrary history rows,
// states and options, under one of its models or an arbitrary one: it may
// refuse them (an error) but never panics, and a result it returns is
// coherent — a status, evidence, counts within the history, anomalies
// exactly when it reports a violation — and encodes as JSON (run_checker
// sends it to the agent).
func FuzzCheckers(f *testing.F) {
	names := Names()
	seeds := fuzzSeeds(f)
	for i, name := range names {
		if len(seeds[name]) == 0 {
			f.Fatalf("no fuzz seed for checker %s", name)
		}
		c, _ := Lookup(name)
		for _, in := range seeds[name] {
			var ops strings.Builder
			if err := history.WriteJSONL(&ops, in.Ops); err != nil {
				f.Fatal(err)
			}
			states, err := json.Marshal(in.States)
			if err != nil {
				f.Fatal(err)
			}
			opts, err := json.Marshal(in.Options)
			if err != nil {
				f.Fatal(err)
			}
			pick := uint8(slices.Index(c.Models, in.Model))
			if !slices.Contains(c.Models, in.Model) {
				pick = 255 // use the model as given
			}
			f.Add(uint8(i), pick, in.Model, ops.String(), string(states), string(opts))
		}
	}
	f.Fuzz(func(t *testing.T, which, pick uint8, model, opsText, statesText, optsText string) {
		name := names[int(which)%len(names)]
		c, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if pick != 255 && len(c.Models) > 0 {
			model = c.Models[int(pick)%len(c.Models)]
		}
		// Rows are read one by one so that a mutation breaking one row
		// leaves the others in play.
		var ops []history.Op
		for line := range strings.SplitSeq(opsText, "\n") {
			if row, err := history.ReadJSONL(strings.NewReader(line)); err == nil {
				ops = append(ops, row...)
			}
		}
		var states []State
		_ = json.Unmarshal([]byte(statesText), &states)
		var opts map[string]any
		_ = json.Unmarshal([]byte(optsText), &opts)
		if name == "linearizability" {
			// The search is exponential on adversarial histories; a short
			// budget keeps each input quick (running out gives unknown).
			if opts == nil {
				opts = map[string]any{}
			}
			opts["timeout"] = "500ms"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var progressErr string
		in := Input{Ops: ops, Model: model, States: states, Options: opts, ArtifactDir: t.TempDir(),
			Progress: func(done, total int) {
				if (done < 0 || total < 0 || done > total) && progressErr == "" {
					progressErr = "progress " + strconv.Itoa(done) + " of " + strconv.Itoa(total)
				}
			}}
		res, err := c.Check(ctx, in)
		if err != nil {
			return
		}
		if res == nil {
			t.Fatalf("%s: nil result and nil error", name)
		}
		if progressErr != "" {
			t.Errorf("%s: %s", name, progressErr)
		}
		switch {
		case res.Status != StatusOK && res.Status != StatusViolation && res.Status != StatusUnknown:
			t.Errorf("%s: status %q", name, res.Status)
		case res.Evidence == "":
			t.Errorf("%s: no evidence: %+v", name, res)
		case res.Checker != name:
			t.Errorf("%s: result names checker %q", name, res.Checker)
		case res.OpsTotal != len(ops) || res.OpsConsumed < 0 || res.OpsConsumed > res.OpsTotal:
			t.Errorf("%s: consumed %d of %d ops, the history has %d", name, res.OpsConsumed, res.OpsTotal, len(ops))
		case res.Status == StatusViolation && len(res.Anomalies) == 0:
			t.Errorf("%s: violation without an anomaly: %s", name, res.Evidence)
		case res.Status == StatusOK && len(res.Anomalies) > 0:
			t.Errorf("%s: ok with anomalies %+v", name, res.Anomalies)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("%s: result does not encode as JSON: %v", name, err)
		}
		for _, a := range res.Artifacts {
			if _, err := os.Stat(a); err != nil {
				t.Errorf("%s: artifact %s: %v", name, a, err)
			}
		}
	})
}

// TestFuzzSeedsCoverEveryChecker: every registered checker has a seed it
// accepts, so that FuzzCheckers starts from inputs that reach its logic.
func TestFuzzSeedsCoverEveryChecker(t *testing.T) {
	seeds := fuzzSeeds(t)
	for _, name := range Names() {
		if len(seeds[name]) == 0 {
			t.Errorf("%s: no seed", name)
			continue
		}
		for i, in := range seeds[name] {
			res := check(t, name, in)
			if res.Status == StatusUnknown && len(res.Missing) == 0 {
				t.Errorf("%s seed %d: %s: %s", name, i, res.Status, res.Evidence)
			}
		}
	}
	if extra := slices.DeleteFunc(slices.Sorted(maps.Keys(seeds)), func(n string) bool { return slices.Contains(Names(), n) }); len(extra) > 0 {
		t.Errorf("seeds for unregistered checkers %v", extra)
	}
}
