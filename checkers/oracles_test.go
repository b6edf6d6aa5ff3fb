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

	"github.com/falsify-dev/falsify/history"
)

func TestField(t *testing.T) {
	for _, tt := range []struct {
		raw, path, want string
		ok              bool
	}{
		{`{"a":1}`, "a", "1", true},
		{` { "a" : "x" , "b" : [1,{"c":"}"}] } `, "b", `[1,{"c":"}"}]`, true},
		{`{"s":"a\"b","t":true}`, "t", "true", true},
		{`{"a":{"b":{"c":-1.5e3}}}`, "a.b.c", "-1.5e3", true},
		{`{"a":{"b":2}}`, "a.c", "", false},
		{`{"a\u0062":3}`, "ab", "3", true},
		{`[1,2]`, "a", "", false},
		{`{"a":`, "a", "", false},
		{`{"a":1 "b":2}`, "b", "", false},
		{``, "a", "", false},
		{`{"x":null}`, "x", "null", true},
	} {
		got, ok := jsonField(json.RawMessage(tt.raw), tt.path)
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("jsonField(%s, %q) = %s, %v; want %s, %v", tt.raw, tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestScanList(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{` [ 1 , "a,]" , {"b":[2,3]} , null ] `, []string{"1", `"a,]"`, `{"b":[2,3]}`, "null"}, true},
		{`[1,]`, nil, false},
		{`[1 2]`, nil, false},
		{`[1`, nil, false},
		{`[1] x`, nil, false},
		{`{"a":1}`, nil, false},
	} {
		got, ok := scanList([]byte(tt.raw))
		var s []string
		for _, e := range got {
			s = append(s, string(e))
		}
		if ok != tt.ok || strings.Join(s, "|") != strings.Join(tt.want, "|") {
			t.Errorf("scanList(%s) = %q, %v; want %q, %v", tt.raw, s, ok, tt.want, tt.ok)
		}
	}
}

func TestSessions(t *testing.T) {
	ops := []history.Op{
		op("a", "0", "read", 0, 1, "", `{"session":"s1"}`),
		op("b", "1", "read", 0, 1, "", ""),
		op("c", "0", "read", 2, 3, "", `{"session":"s1"}`),
		op("d", "0", "read", 4, 5, "", `{"session":"s2"}`),
		op("e", "0", "connect", 6, 7, "", ""),
		op("f", "0", "read", 8, 9, "", ""),
	}
	got := sessionIDs(ops, "session")
	want := []string{"0#0", "1#0", "0#0", "0#1", "0#2", "0#2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sessions %v, want %v", got, want)
		}
	}
	if sessionLabel("0#2") != "process 0, session 3" || sessionLabel("7#0") != "process 7" {
		t.Errorf("labels %q %q", sessionLabel("0#2"), sessionLabel("7#0"))
	}
}

// oracleInputs is one valid input per oracle checker.
func oracleInputs() map[string]Input {
	vr := []history.Op{vread("r1", "0", 0, 10, "x", 1, 1), vread("r2", "0", 20, 30, "x", 1, 2)}
	return map[string]Input{
		"exactly-once": {Model: "ledger", Ops: []history.Op{pay("a", "0", 0, 10, "x", 1), pay("b", "0", 20, 30, "y", 1)},
			States: ledgerState("x", "y"), Options: map[string]any{"key_field": "idem"}},
		"monotonic-read": {Model: "session", Ops: vr},
		"session-consistency": {Model: "session", Ops: []history.Op{
			keyed("x", op("w", "0", "write", 0, 10, "1", "")), keyed("x", op("r", "0", "read", 20, 30, "", "1"))}},
		"prefix-order":          {Model: "queue", Ops: []history.Op{enq("e1", "p", 0, 10, 1), deq("d1", "c", 20, 30, 1)}},
		"final-state-invariant": {Model: "ledger", States: final(`{"b":[1,-1]}`), Options: map[string]any{"quiescent": true, "predicate": "sum(b) == 0"}},
		"reconciliation":        {Model: "map", States: replicas(`{"a":1}`, `{"a":1}`), Options: map[string]any{"converged": true}},
		"replay-equivalence":    {Model: "log", States: snapshots(`{}`, `{"a":1}`, `{"a":1}`)},
		"mutual-exclusion":      {Model: "lock", Ops: []history.Op{op("a", "p", "acquire", 0, 10, "", ""), op("r", "p", "release", 20, 30, "", "")}},
		"counter":               {Model: "counter", Ops: []history.Op{op("i", "0", "inc", 0, 10, "1", ""), op("r", "1", "read", 20, 30, "", "1")}},
		"set":                   {Model: "set", Ops: []history.Op{addOp("a", "0", 0, 10, 1), op("r", "1", "read", 20, 30, "", "[1]")}},
		"set-full":              {Model: "set", Ops: []history.Op{addOp("a", "0", 0, 10, 1), op("r", "1", "read", 20, 30, "", "[1]")}},
		"fairness": {Model: "other", States: []State{metricState("run", `{"groups":{"a":{"throughput":[5]},"b":{"throughput":[6]}}}`)},
			Options: map[string]any{"formula": FormulaMinThroughput, "threshold": 1.0}},
		"slo-threshold": {Model: "other", States: []State{metricState("s", `[1,2]`)}, Options: map[string]any{"threshold": 5.0, "threshold_source": "SLO"}},
		"baseline-comparison": {Model: "other", States: []State{metricState("baseline", `[10,10.5,9.5]`), metricState("candidate", `[10,10.2,9.8]`)},
			Options: map[string]any{"threshold": 0.5}},
	}
}

// TestOracles: every oracle checker is registered, passes its valid input
// with evidence and scope, reports progress to the end, and stops on
// cancellation with an unknown, partial result.
func TestOracles(t *testing.T) {
	for name, in := range oracleInputs() {
		t.Run(name, func(t *testing.T) {
			c, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if c.Needs(in.Model) == nil || c.Needs("no-such-model") != nil || !slices.Contains(c.Models, in.Model) {
				t.Errorf("Needs / Models do not fit model %q: %v", in.Model, c.Models)
			}
			var last [2]int
			in.Progress = func(done, total int) { last = [2]int{done, total} }
			res, err := c.Check(context.Background(), in)
			if err != nil || res.Status != StatusOK || res.Checker != name || res.Model != in.Model {
				t.Fatalf("%v: %+v", err, res)
			}
			if !strings.HasPrefix(res.Evidence, name+" ") || len(res.Scope) < 40 || res.OpsTotal != len(in.Ops) {
				t.Errorf("evidence %q, scope %q, ops total %d", res.Evidence, res.Scope, res.OpsTotal)
			}
			if len(in.Ops) > 0 && (last[0] != last[1] || last[1] == 0) {
				t.Errorf("last progress %v", last)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			res, err = c.Check(ctx, in)
			if err != nil || res.Status != StatusUnknown || !res.Partial || !strings.Contains(res.Evidence, "stopped") {
				t.Fatalf("cancelled: %v %+v", err, res)
			}
			if _, err := c.Check(context.Background(), Input{Model: "no-such-model", Ops: in.Ops, States: in.States, Options: in.Options}); err == nil {
				t.Error("unknown model accepted")
			}
		})
	}
}

// fixtureCase is one entry of a testdata/<checker>/cases.json.
type fixtureCase struct {
	Name    string         `json:"name"`
	Checker string         `json:"checker"` // default: the directory's checker
	History string         `json:"history"` // JSON Lines, optional
	Model   string         `json:"model"`
	Options map[string]any `json:"options"`
	States  []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
		File string `json:"file"`
	} `json:"states"`
	Want  string   `json:"want"`
	Kinds []string `json:"kinds"`
	Ops   []string `json:"ops"` // op ids of the first anomaly, when given
}

// fixtureCheckers maps each fixture directory to its checker.
var fixtureCheckers = map[string]string{
	"baseline": "baseline-comparison", "counter": "counter", "fairness": "fairness", "invariant": "final-state-invariant",
	"monotonic": "monotonic-read", "mutex": "mutual-exclusion", "prefix": "prefix-order", "reconciliation": "reconciliation",
	"replay": "replay-equivalence", "session_consistency": "session-consistency", "set": "set", "slo": "slo-threshold",
}

// TestFixtures runs every case of the generated fixtures
// (testdata/gen/fixtures.py): recorded histories and states with one known
// anomaly and their clean twins.
func TestFixtures(t *testing.T) {
	for dir, checker := range fixtureCheckers {
		data, err := os.ReadFile(filepath.Join("testdata", dir, "cases.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cs []fixtureCase
		if err := json.Unmarshal(data, &cs); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(cs) < 2 {
			t.Fatalf("%s: %d cases, want a clean and a bad one at least", dir, len(cs))
		}
		for _, c := range cs {
			t.Run(dir+"/"+c.Name, func(t *testing.T) {
				in := Input{Model: c.Model, Options: c.Options}
				if c.History != "" {
					f, err := os.Open(filepath.Join("testdata", dir, c.History))
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					if in.Ops, err = history.ReadJSONL(f); err != nil {
						t.Fatal(err)
					}
					if _, rejected := history.Validate(in.Ops, nil, nil); len(rejected) > 0 {
						t.Fatalf("fixture rejected: %v", rejected[0])
					}
				}
				for _, s := range c.States {
					data, err := os.ReadFile(filepath.Join("testdata", dir, s.File))
					if err != nil {
						t.Fatal(err)
					}
					in.States = append(in.States, State{Kind: s.Kind, Name: s.Name, Data: data})
				}
				name := checker
				if c.Checker != "" {
					name = c.Checker
				}
				res := check(t, name, in)
				var kinds []string
				for _, a := range res.Anomalies {
					kinds = append(kinds, a.Kind)
				}
				if res.Status != c.Want || !slices.Equal(kinds, c.Kinds) {
					t.Fatalf("status %s kinds %v, want %s %v: %s\n%+v", res.Status, kinds, c.Want, c.Kinds, res.Evidence, res.Anomalies)
				}
				if c.Ops != nil && !slices.Equal(res.Anomalies[0].OpIDs, c.Ops) {
					t.Errorf("ops %v, want %v", res.Anomalies[0].OpIDs, c.Ops)
				}
				if len(res.Missing) > 0 {
					t.Errorf("fixture is weak: missing %v", res.Missing)
				}
			})
		}
	}
}

// FuzzOracles feeds every oracle checker arbitrary histories, states and
// options: it may refuse them (an error) but never panic, and a result
// always carries a status and evidence.
func FuzzOracles(f *testing.F) {
	inputs := oracleInputs()
	names := slices.Sorted(maps.Keys(inputs))
	for i, n := range names {
		in := inputs[n]
		var ops strings.Builder
		if err := history.WriteJSONL(&ops, in.Ops); err != nil {
			f.Fatal(err)
		}
		states, _ := json.Marshal(in.States)
		opts, _ := json.Marshal(in.Options)
		f.Add(uint8(i), in.Model, ops.String(), string(states), string(opts))
	}
	f.Fuzz(func(t *testing.T, which uint8, model, opsText, statesText, optsText string) {
		name := names[int(which)%len(names)]
		ops, err := history.ReadJSONL(strings.NewReader(opsText))
		if err != nil {
			return
		}
		var states []State
		_ = json.Unmarshal([]byte(statesText), &states)
		var opts map[string]any
		_ = json.Unmarshal([]byte(optsText), &opts)
		c, _ := Lookup(name)
		res, err := c.Check(context.Background(), Input{Ops: ops, Model: model, States: states, Options: opts})
		if err == nil && (res == nil || res.Status == "" || res.Evidence == "") {
			t.Fatalf("%s: result %+v", name, res)
		}
	})
}

// TestOraclesWeakHistory: a history lacking what a checker needs (SPEC
// §3.3) is reported in Missing.
func TestOraclesWeakHistory(t *testing.T) {
	for name, in := range oracleInputs() {
		c, _ := Lookup(name)
		if len(c.Needs(in.Model)) == 0 || len(in.Ops) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ops := slices.Clone(in.Ops)
			for i := range ops {
				ops[i].InvokeTS, ops[i].CompleteTS, ops[i].ProcessID, ops[i].TimeoutMarker = nil, nil, nil, nil
			}
			res, err := c.Check(context.Background(), Input{Ops: ops, Model: in.Model, States: in.States, Options: in.Options})
			if err != nil {
				return // refused outright is fine too
			}
			if len(res.Missing) == 0 {
				t.Errorf("weak history not reported: %+v", res)
			}
		})
	}
	// A lease history timed in whole seconds cannot judge a 1 s ttl.
	ops := []history.Op{op("a", "p", "acquire", 1e9, 2e9, "", ""), op("r", "p", "release", 3e9, 4e9, "", "")}
	res := check(t, "mutual-exclusion", Input{Ops: ops, Model: "lease", Options: map[string]any{"ttl": "1s"}})
	if !slices.Contains(res.Missing, "timestamp precision finer than the ttl") {
		t.Errorf("coarse clock not reported: %v", res.Missing)
	}
	ops[1] = op("r", "p", "release", 3e9+5, 4e9, "", "")
	if res := check(t, "mutual-exclusion", Input{Ops: ops, Model: "lease", Options: map[string]any{"ttl": "1s"}}); len(res.Missing) != 0 {
		t.Errorf("fine clock reported weak: %v", res.Missing)
	}
	// A log read without offsets.
	logOps := []history.Op{op("a", "p", "append", 0, 10, "1", ""), op("r", "c", "read", 20, 30, "", "[1]")}
	if res := check(t, "prefix-order", Input{Ops: logOps, Model: "log"}); !slices.Equal(res.Missing, []string{"output.offset"}) {
		t.Errorf("log without offsets: missing %v", res.Missing)
	}
	logOps[1] = op("r", "c", "read", 20, 30, "", `[{"offset":0,"value":1}]`)
	if res := check(t, "prefix-order", Input{Ops: logOps, Model: "log"}); len(res.Missing) != 0 || res.Status != StatusOK {
		t.Errorf("log with offsets: %s missing %v", res.Status, res.Missing)
	}
}

// TestOraclesProgress: a long pass reports progress along the way, not
// only at its ends.
func TestOraclesProgress(t *testing.T) {
	ops := make([]history.Op, 0, 200_000)
	for i := range 100_000 {
		ops = append(ops, op("i"+strconv.Itoa(i), "w", "inc", int64(i)*10, int64(i)*10+1, "1", ""),
			op("r"+strconv.Itoa(i), "r", "read", int64(i)*10+2, int64(i)*10+3, "", strconv.Itoa(i+1)))
	}
	var mid int
	res := check(t, "counter", Input{Ops: ops, Model: "counter", Progress: func(done, total int) {
		if total != len(ops) {
			t.Errorf("total %d, want %d", total, len(ops))
		}
		if done > 0 && done < total {
			mid++
		}
	}})
	if res.Status != StatusOK || mid < 2 {
		t.Fatalf("%s, %d progress reports mid-way", res.Evidence, mid)
	}
}
