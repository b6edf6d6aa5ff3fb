package checkers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func snapshots(a, b, replay string) []State {
	return []State{
		{Kind: StateSnapshot, Name: "A", Data: json.RawMessage(a)},
		{Kind: StateSnapshot, Name: "B", Data: json.RawMessage(b)},
		{Kind: StateSnapshot, Name: "replay", Data: json.RawMessage(replay)},
	}
}

func TestReplayEquivalence(t *testing.T) {
	const a = `{"items":[{"id":1,"qty":2}],"meta":{"generated_at":100}}`
	const b = `{"items":[{"id":1,"qty":2},{"id":2,"qty":5,"updated_at":7}],"meta":{"generated_at":200}}`
	ignore := map[string]any{"ignore_fields": []any{"$.meta.generated_at", "items[*].updated_at"}}
	tests := []struct {
		name   string
		replay string
		opts   map[string]any
		want   string
		paths  []string
	}{
		{"identical", b, nil, StatusOK, nil},
		{"non-determinism declared", `{"items":[{"id":1,"qty":2},{"id":2,"qty":5,"updated_at":8}],"meta":{"generated_at":300}}`, ignore, StatusOK, nil},
		{"non-determinism undeclared", `{"items":[{"id":1,"qty":2},{"id":2,"qty":5,"updated_at":8}],"meta":{"generated_at":300}}`, nil, StatusViolation,
			[]string{"$.items[1].updated_at", "$.meta.generated_at"}},
		{"numbers by value", `{"items":[{"id":1.0,"qty":2},{"id":2,"qty":5e0,"updated_at":7}],"meta":{"generated_at":200}}`, nil, StatusOK, nil},
		// Lenient comparison is the classic trap: every one of these differs.
		{"string vs number", `{"items":[{"id":"1","qty":2},{"id":2,"qty":5,"updated_at":7}],"meta":{"generated_at":200}}`, ignore, StatusViolation, []string{"$.items[0].id"}},
		{"null vs absent", `{"items":[{"id":1,"qty":2,"note":null},{"id":2,"qty":5,"updated_at":7}],"meta":{"generated_at":200}}`, ignore, StatusViolation, []string{"$.items[0].note"}},
		{"order matters", `{"items":[{"id":2,"qty":5,"updated_at":7},{"id":1,"qty":2}],"meta":{"generated_at":200}}`, ignore, StatusViolation,
			[]string{"$.items[0].id", "$.items[0].qty", "$.items[1].id", "$.items[1].qty"}},
		{"missing element", `{"items":[{"id":1,"qty":2}],"meta":{"generated_at":200}}`, ignore, StatusViolation, []string{"$.items[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "replay-equivalence", Input{Model: "log", States: snapshots(a, b, tt.replay), Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			if tt.paths == nil {
				return
			}
			w := res.Anomalies[0].Witness.(replayWitness)
			var paths []string
			for _, d := range w.Differences {
				paths = append(paths, d.Path)
			}
			if strings.Join(paths, " ") != strings.Join(tt.paths, " ") {
				t.Errorf("paths %v, want %v", paths, tt.paths)
			}
		})
	}
	res := check(t, "replay-equivalence", Input{Model: "log", States: snapshots(a, b, b), Options: ignore})
	if want := `replay-equivalence compared 4 fields of the replay "replay" with "B" strictly (2 ignored by declaration): 0 differ`; res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	res = check(t, "replay-equivalence", Input{Model: "log", States: snapshots(b, b, b)})
	if !strings.Contains(res.Evidence, "replaying nothing would pass") {
		t.Errorf("A == B not flagged: %s", res.Evidence)
	}
	res = check(t, "replay-equivalence", Input{Model: "log", States: snapshots(a, b, b)[:2]})
	if res.Status != StatusUnknown || len(res.Missing) != 1 {
		t.Errorf("missing replay: %s %v", res.Status, res.Missing)
	}
}

func TestReplayTooLenient(t *testing.T) {
	c, _ := Lookup("replay-equivalence")
	for _, opts := range []map[string]any{
		{"ignore_fields": "$"},
		{"ignore_fields": []any{"*"}},
		{"ignore_order": true},
		{"tolerance": 0.1},
	} {
		if _, err := c.Check(context.Background(), Input{Model: "log", States: snapshots(`{}`, `{}`, `{}`), Options: opts}); err == nil {
			t.Errorf("%v accepted", opts)
		}
	}
}
