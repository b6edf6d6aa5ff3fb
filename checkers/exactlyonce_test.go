package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// pay builds a payment op carrying an idempotency key.
func pay(id, process string, invoke, complete int64, key string, amount int) history.Op {
	return op(id, process, "debit", invoke, complete, fmt.Sprintf(`{"idem":%q,"amount":%d}`, key, amount), "")
}

func ledgerState(entries ...string) []State {
	var parts []string
	for _, e := range entries {
		parts = append(parts, fmt.Sprintf(`{"idem":%q,"amount":5}`, e))
	}
	return []State{{Kind: StateFinal, Name: "ledger", Data: json.RawMessage(`{"entries":[` + strings.Join(parts, ",") + `]}`)}}
}

func TestExactlyOnce(t *testing.T) {
	// k1 retried after a timeout: the retry has a new op id and the same key.
	retried := []history.Op{
		pay("p1", "0", 0, timeout, "k1", 5),
		pay("p2", "0", 20, 30, "k1", 5),
		pay("p3", "1", 5, 15, "k2", 5),
		pay("p4", "1", 40, timeout, "k3", 5),
		failed(pay("p5", "2", 40, 50, "k4", 5)),
	}
	eo := map[string]any{"key_field": "idem", "quiescent": true}
	tests := []struct {
		name   string
		ops    []history.Op
		states []State
		opts   map[string]any
		want   string
		kinds  []string
		ops1   []string // op ids of the first anomaly
	}{
		{name: "each key once", ops: retried, states: ledgerState("k1", "k2"), opts: eo, want: StatusOK},
		{name: "retry applied twice", ops: retried, states: ledgerState("k1", "k2", "k1"), opts: eo, want: StatusViolation,
			kinds: []string{"duplicate-effect"}, ops1: []string{"p1", "p2"}},
		// Trap: a timed-out attempt is a maybe, never acknowledged: k3
		// absent is fine, k3 present once is fine.
		{name: "timed-out key absent", ops: retried, states: ledgerState("k1", "k2"), opts: eo, want: StatusOK},
		{name: "timed-out key present", ops: retried, states: ledgerState("k1", "k2", "k3"), opts: eo, want: StatusOK},
		{name: "timed-out key twice", ops: retried, states: ledgerState("k1", "k2", "k3", "k3"), opts: eo, want: StatusViolation,
			kinds: []string{"duplicate-effect"}, ops1: []string{"p4"}},
		{name: "acknowledged key lost", ops: retried, states: ledgerState("k1"), opts: eo, want: StatusViolation,
			kinds: []string{"lost-effect"}, ops1: []string{"p3"}},
		{name: "lost not judged without quiescence", ops: retried, states: ledgerState("k1"), opts: map[string]any{"key_field": "idem"}, want: StatusOK},
		{name: "failed key took effect", ops: retried, states: ledgerState("k1", "k2", "k4"), opts: eo, want: StatusViolation,
			kinds: []string{"effect-of-failed-op"}, ops1: []string{"p5"}},
		{name: "read shows a duplicate", opts: map[string]any{"key_field": "idem"}, want: StatusViolation, kinds: []string{"duplicate-effect"}, ops1: []string{"p1", "p2"},
			ops: append(slices.Clone(retried), op("r", "3", "read", 100, 110, "", `[{"idem":"k1"},{"idem":"k2"},{"idem":"k1"}]`))},
		{name: "read repaired", opts: map[string]any{"key_field": "idem"}, want: StatusOK,
			ops: append(slices.Clone(retried), op("r", "3", "read", 100, 110, "", `[{"idem":"k1"},{"idem":"k2"}]`))},
		{name: "two effect ids acknowledged", opts: map[string]any{"key_field": "idem", "effect_field": "txn"}, want: StatusViolation,
			kinds: []string{"duplicate-effect"}, ops1: []string{"a", "b"}, ops: []history.Op{
				op("a", "0", "debit", 0, 10, `{"idem":"x"}`, `{"txn":1}`),
				op("b", "0", "debit", 20, 30, `{"idem":"x"}`, `{"txn":2}`),
				op("c", "1", "debit", 20, 30, `{"idem":"y"}`, `{"txn":3}`),
			}},
		{name: "same effect id twice is idempotent", opts: map[string]any{"key_field": "idem", "effect_field": "txn"}, want: StatusOK,
			ops: []history.Op{
				op("a", "0", "debit", 0, 10, `{"idem":"x"}`, `{"txn":1}`),
				op("b", "0", "debit", 20, 30, `{"idem":"x"}`, `{"txn":1}`),
				op("c", "1", "debit", 20, 30, `{"idem":"y"}`, `{"txn":3}`),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(t, "exactly-once", Input{Ops: tt.ops, Model: "ledger", States: tt.states, Options: tt.opts})
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s; %+v", res.Status, tt.want, res.Evidence, res.Anomalies)
			}
			var kinds []string
			for _, a := range res.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Fatalf("anomalies %v, want %v: %+v", kinds, tt.kinds, res.Anomalies)
			}
			if len(tt.ops1) > 0 && !slices.Equal(res.Anomalies[0].OpIDs, tt.ops1) {
				t.Errorf("witness ops %v, want %v", res.Anomalies[0].OpIDs, tt.ops1)
			}
			if !strings.HasPrefix(res.Evidence, "exactly-once checked ") || res.Scope == "" {
				t.Errorf("evidence %q scope %q", res.Evidence, res.Scope)
			}
		})
	}
}

func TestExactlyOnceEvidence(t *testing.T) {
	ops := []history.Op{
		pay("p1", "0", 0, timeout, "k1", 5),
		pay("p2", "0", 20, 30, "k1", 5),
		pay("p3", "1", 5, 15, "k2", 5),
	}
	res := check(t, "exactly-once", Input{Ops: ops, Model: "ledger", States: ledgerState("k1", "k2", "k2"), Options: map[string]any{"key_field": "idem", "quiescent": true}})
	want := "exactly-once checked 3 ops: 3 attempts over 2 idempotency keys (2 acknowledged, 0 only indeterminate, 0 only failed) against 1 final ledger (3 effects): 1 anomaly"
	if res.Evidence != want {
		t.Errorf("evidence\n%q, want\n%q", res.Evidence, want)
	}
	w := res.Anomalies[0].Witness.(exactlyOnceWitness)
	if w.IdempotencyKey != "k2" || w.Effects != 2 || w.Source != "final state ledger" || !slices.Equal(w.Attempts, []string{"p3 ok"}) {
		t.Errorf("witness %+v", w)
	}
}

// TestExactlyOnceVacuousKeys: the classic trap, the op id as the
// idempotency key, and its disguises, are refused.
func TestExactlyOnceVacuousKeys(t *testing.T) {
	c, _ := Lookup("exactly-once")
	withOpID := []history.Op{
		op("a", "0", "debit", 0, 10, `{"req":"a","idem":"x"}`, ""),
		op("b", "0", "debit", 20, 30, `{"req":"b","idem":"x"}`, ""),
		op("c", "0", "debit", 40, 50, `{"req":"c","idem":"y"}`, ""),
	}
	for _, tt := range []struct {
		name string
		opts map[string]any
		want string
	}{
		{"op_id", map[string]any{"key_field": "op_id"}, "op id"},
		{"op-id spelled otherwise", map[string]any{"key_field": "Op-Id"}, "op id"},
		{"key equals op id", map[string]any{"key_field": "req"}, "equals the op id"},
		{"absent key", map[string]any{"key_field": "nope"}, "vacuous"},
		{"no key field", map[string]any{}, "required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Check(context.Background(), Input{Ops: withOpID, Model: "ledger", States: ledgerState("x"), Options: tt.opts})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	constant := []history.Op{pay("a", "0", 0, 10, "same", 1), pay("b", "0", 20, 30, "same", 1)}
	if _, err := c.Check(context.Background(), Input{Ops: constant, Model: "ledger", States: ledgerState("same"), Options: map[string]any{"key_field": "idem"}}); err == nil || !strings.Contains(err.Error(), "same value") {
		t.Fatalf("constant key: %v", err)
	}
	// The real business key on the same history works.
	res := check(t, "exactly-once", Input{Ops: withOpID, Model: "ledger", States: ledgerState("x", "y"), Options: map[string]any{"key_field": "idem"}})
	if res.Status != StatusOK {
		t.Fatalf("business key: %s %s", res.Status, res.Evidence)
	}
}

func TestExactlyOnceUndecided(t *testing.T) {
	ops := []history.Op{pay("a", "0", 0, 10, "x", 1), pay("b", "0", 20, 30, "y", 1)}
	res := check(t, "exactly-once", Input{Ops: ops, Model: "ledger", Options: map[string]any{"key_field": "idem"}})
	if res.Status != StatusUnknown || !slices.Contains(res.Missing, StateFinal) {
		t.Fatalf("no effects recorded: %s %v %s", res.Status, res.Missing, res.Evidence)
	}
}

// TestExactlyOnceJSONL runs a recorded ledger history (JSON Lines) with a
// duplicated retry and its repaired twin.
func TestExactlyOnceJSONL(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "exactlyonce", "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, err := history.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, rejected := history.Validate(ops, nil, nil); len(rejected) > 0 {
		t.Fatalf("fixture rejected: %v", rejected)
	}
	for _, tt := range []struct {
		file, want string
		keys       []string
	}{
		{"final-ok.json", StatusOK, nil},
		{"final-duplicate.json", StatusViolation, []string{"order-7"}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "exactlyonce", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res := check(t, "exactly-once", Input{Ops: ops, Model: "ledger", Options: map[string]any{"key_field": "idempotency_key", "quiescent": true},
				States: []State{{Kind: StateFinal, Name: "ledger", Data: data}}})
			var keys []string
			for _, a := range res.Anomalies {
				keys = append(keys, a.Key)
			}
			if res.Status != tt.want || !slices.Equal(keys, tt.keys) {
				t.Fatalf("status %s keys %v, want %s %v: %s", res.Status, keys, tt.want, tt.keys, res.Evidence)
			}
			if len(res.Missing) != 0 || res.OpsConsumed != len(ops) {
				t.Errorf("missing %v consumed %d of %d", res.Missing, res.OpsConsumed, len(ops))
			}
		})
	}
}
