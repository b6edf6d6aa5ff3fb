package checkers

import (
	"encoding/json"
	"github.com/falsify-dev/falsify/plan"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/history"
)

func TestRegistry(t *testing.T) {
	// Every checker the plan's picker can name (SPEC §4.2) exists as code,
	// under the same name, and nothing else is registered.
	names := Names()
	want := slices.Clone(plan.CheckerNames)
	slices.Sort(want)
	got := slices.Clone(names)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want the plan's checker names %v", got, want)
	}
	for _, n := range names {
		c, err := Lookup(n)
		if err != nil || c.Name != n || c.Check == nil || c.Needs == nil || len(c.Models) == 0 {
			t.Fatalf("Lookup(%q) = %+v, %v", n, c, err)
		}
		for _, m := range c.Models {
			if c.Needs(m) == nil {
				t.Errorf("%s: Needs(%q) is nil", n, m)
			}
		}
		if c.Needs("no-such-model") != nil {
			t.Errorf("%s: Needs of an unknown model is not nil", n)
		}
	}
	_, err := Lookup("no-such-checker")
	if err == nil || !strings.Contains(err.Error(), strings.Join(names, ", ")) {
		t.Fatalf("Lookup of an unknown name: %v, want the known names listed", err)
	}
	// A caller changing what it got must not change what the next one gets.
	c, _ := Lookup("linearizability")
	c.Models[0] = "changed"
	c.Name = "changed"
	if again, _ := Lookup("linearizability"); again.Models[0] == "changed" {
		t.Error("Lookup returned shared state")
	}
}

func TestMissingFields(t *testing.T) {
	tsv := int64(5)
	yes, no := true, false
	s := "x"
	errText := "boom"
	full := history.Op{OpID: "1", ProcessID: &s, InvokeTS: &tsv, CompleteTS: &tsv, TimeoutMarker: &no,
		Key: &s, NodeSeen: &s, FaultEpoch: &s}
	with := func(f func(*history.Op)) []history.Op {
		o := full
		f(&o)
		return []history.Op{full, o}
	}
	all := []string{FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker, FieldProcessID, FieldKey, FieldNodeSeen, FieldFaultEpoch}
	tests := []struct {
		name string
		ops  []history.Op
		want []string
	}{
		{"complete history", []history.Op{full}, nil},
		{"no invoke time", with(func(o *history.Op) { o.InvokeTS = nil }), []string{FieldInvokeTS}},
		{"timed out properly", with(func(o *history.Op) { o.CompleteTS = nil; o.TimeoutMarker = &yes }), nil},
		{"no response, no marker", with(func(o *history.Op) { o.CompleteTS = nil; o.TimeoutMarker = nil }), []string{FieldTimeoutMarker}},
		{"output but no completion time", with(func(o *history.Op) {
			o.CompleteTS = nil
			o.TimeoutMarker = nil
			o.Output = json.RawMessage("1")
		}), []string{FieldCompleteTS, FieldTimeoutMarker}},
		{"error but no completion time", with(func(o *history.Op) { o.CompleteTS = nil; o.TimeoutMarker = &no; o.Error = &errText }),
			[]string{FieldCompleteTS, FieldTimeoutMarker}},
		{"no process", with(func(o *history.Op) { o.ProcessID = nil }), []string{FieldProcessID}},
		{"no key", with(func(o *history.Op) { o.Key = nil }), []string{FieldKey}},
		{"no node", with(func(o *history.Op) { o.NodeSeen = nil }), []string{FieldNodeSeen}},
		{"some epochs", with(func(o *history.Op) { o.FaultEpoch = nil }), nil},
		{"no epoch at all", []history.Op{{OpID: "1", ProcessID: &s, InvokeTS: &tsv, CompleteTS: &tsv, TimeoutMarker: &no, Key: &s, NodeSeen: &s}},
			[]string{FieldFaultEpoch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MissingFields(tt.ops, all); !slices.Equal(got, tt.want) {
				t.Errorf("MissingFields = %v, want %v", got, tt.want)
			}
		})
	}
	if got := MissingFields([]history.Op{full}, []string{"key", "key", "wall_clock"}); !slices.Equal(got, []string{"wall_clock"}) {
		t.Errorf("unknown field: %v, want [wall_clock]", got)
	}
}

func TestCanonical(t *testing.T) {
	same := [][]string{
		{"1", "1.0", "1e0", "1.00e+0", " 1 "},
		{"0", "-0", "0.0", "-0.0"},
		{"-12", "-1.2e1"},
		{"0.5", "5e-1", "0.50"},
		{`{"a":1,"b":[1,2]}`, `{"b":[1.0,2], "a":1}`},
		{`"x"`, `"\u0078"`},
		{`null`, ``, ` null `},
		{`[]`, `[ ]`},
		{`"<&>"`, `"\u003c&\u003e"`},
		{`123456789012345678901234567890`, `123456789012345678901234567890`},
	}
	for _, group := range same {
		first, err := canonical(json.RawMessage(group[0]))
		if err != nil {
			t.Fatalf("%s: %v", group[0], err)
		}
		for _, s := range group[1:] {
			v, err := canonical(json.RawMessage(s))
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			if v != first {
				t.Errorf("%s → %+v, %s → %+v: want equal", group[0], first, s, v)
			}
		}
	}
	different := [][2]string{{"1", `"1"`}, {"1", "1.5"}, {`"a"`, `"b"`}, {"[1,2]", "[2,1]"}, {"null", `"null"`}, {"false", "0"}, {"null", `""`}}
	for _, d := range different {
		a, _ := canonical(json.RawMessage(d[0]))
		b, _ := canonical(json.RawMessage(d[1]))
		if a == b {
			t.Errorf("%s and %s read as equal", d[0], d[1])
		}
	}
	for _, bad := range []string{"{", "1 2", "[1,]", "tru"} {
		if _, err := canonical(json.RawMessage(bad)); err == nil {
			t.Errorf("canonical(%q) accepted invalid JSON", bad)
		}
	}
	// Decoded option values agree with raw JSON.
	a, _ := canonicalAny(map[string]any{"n": 2.0, "s": "x"})
	b, _ := canonical(json.RawMessage(`{"s":"x","n":2}`))
	if a != b {
		t.Errorf("decoded %+v != raw %+v", a, b)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 4217: "4,217", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := plural(0, "anomaly"); got != "0 anomalies" {
		t.Errorf("plural: %q", got)
	}
	if got := plural(1, "key"); got != "1 key" {
		t.Errorf("plural: %q", got)
	}
}

func TestDurationOption(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want time.Duration
		ok   bool
	}{
		{nil, time.Minute, true},
		{30.0, 30 * time.Second, true},
		{0.5, 500 * time.Millisecond, true},
		{"90s", 90 * time.Second, true},
		{"2m", 2 * time.Minute, true},
		{"15", 15 * time.Second, true},
		{json.Number("3"), 3 * time.Second, true},
		{0.0, 0, false},
		{"-1s", 0, false},
		{"later", 0, false},
		{true, 0, false},
	} {
		got, err := durationOption(map[string]any{"timeout": tt.v}, "timeout", time.Minute)
		if (err == nil) != tt.ok || tt.ok && got != tt.want {
			t.Errorf("timeout %v: %v, %v; want %v (ok %v)", tt.v, got, err, tt.want, tt.ok)
		}
	}
}
