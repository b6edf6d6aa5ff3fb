package session

import (
	"context"
	"strings"
	"testing"
)

// TestRunCheckerPicker: run_checker refuses a checker the plan never argued
// for (SPEC §4.1), and accepts the declared one.
func TestRunCheckerPicker(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if _, rej, err := m.RecordOps(ctx, r.ID, registerOps("a", 100, 2)); err != nil || len(rej) > 0 {
		t.Fatalf("record: %v %v", rej, err)
	}
	tests := []struct {
		checker string
		refused string // "" = allowed
	}{
		{"linearizability", ""},
		{"no-lost-ack", "does not fit scenario S1"},
		{"no-lost-ack", "picker gives safety → linearizability"},
	}
	for _, tc := range tests {
		_, err := m.RunChecker(ctx, r.ID, tc.checker, map[string]any{"model": "register", "quiescent": true}, nil)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.checker, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s: err = %v, want it to contain %q", tc.checker, err, tc.refused)
		}
	}
}

// TestRunCheckerName: run_checker takes a checker's name or an exact
// alias, never a phrase that merely contains one.
func TestRunCheckerName(t *testing.T) {
	m := planManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.StartRun(ctx, sess.ID, "S1", "1", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.RecordOps(ctx, r.ID, registerOps("a", 100, 2)); err != nil {
		t.Fatal(err)
	}
	opts := map[string]any{"model": "register"}
	if res, err := m.RunChecker(ctx, r.ID, "Porcupine", opts, nil); err != nil || res.Checker != "linearizability" {
		t.Errorf("alias Porcupine: %v, %v", res, err)
	}
	if _, err := m.RunChecker(ctx, r.ID, "linearizability-ish", opts, nil); err == nil || !strings.Contains(err.Error(), "checker") {
		t.Errorf("a loose name was accepted: %v", err)
	}
}
