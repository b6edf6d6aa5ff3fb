package plan

import (
	"slices"
	"testing"
)

func TestCheckerFits(t *testing.T) {
	tests := []struct {
		model, category, checker string
		want                     bool
	}{
		// Every row of SPEC §4.1, with the aliases plans write.
		{"register", "safety", "linearizability", true},
		{"register", "safety", "linearizability (Porcupine)", true},
		{"register", "safety", "porcupine", true},
		{"register", "safety", "Knossos linearizability", true},
		{"map", "safety", "linearizability per key", true},
		{"map (per key)", "safety", "Porcupine, partitioned per key", true},
		{"log", "durability", "no-lost-ack + replay-equivalence", true},
		{"log", "durability", "no-lost-ack", true},
		{"log", "durability", "replay equivalence", true},
		{"map", "isolation", "serializability", true},
		{"map", "isolation", "Elle list-append (dependency cycles)", true},
		{"map", "isolation", "elle", true},
		{"session", "safety", "session-consistency / monotonic-read", true},
		{"session", "safety", "read-your-writes", true},
		{"ledger", "idempotency", "exactly-once on the business idempotency key", true},
		{"membership-table", "membership", "reconciliation across replicas", true},
		{"membership table", "membership", "reconciliation", true},
		{"queue", "ordering", "prefix / order", true},
		{"counter", "safety", "invariant over final state per key", true},
		{"counter", "safety", "linearizability", true},
		{"lock", "safety", "mutual exclusion + invariant over final state", true},
		{"lease", "safety", "mutual-exclusion", true},
		{"lease", "safety", "mutex", true},
		{"map", "fairness", "per-group fairness formulas", true},
		{"other(scheduler)", "fairness", "fairness", true},
		{"Register", "Safety", "Linearizability", true},

		// Misfits: right checker, wrong model or category; wrong checker.
		{"register", "safety", "serializability", false},
		{"register", "safety", "no-lost-ack", false},
		{"register", "durability", "linearizability", false},
		{"map", "isolation", "linearizability", false},
		{"log", "durability", "linearizability", false},
		{"queue", "ordering", "linearizability", false},
		{"ledger", "idempotency", "no-lost-ack", false},
		{"lock", "safety", "linearizability", false},
		{"membership-table", "membership", "exactly-once", false},
		{"session", "safety", "linearizability", false},
		{"map", "boundary", "invariant over final state", false},
		{"other(ring)", "safety", "linearizability", false},
		{"register", "safety", "logs look fine", false},
		{"register", "safety", "", false},
		{"widget", "safety", "linearizability", false},
	}
	for _, tt := range tests {
		if got := CheckerFits(tt.model, tt.category, tt.checker); got != tt.want {
			t.Errorf("CheckerFits(%q, %q, %q) = %v, want %v", tt.model, tt.category, tt.checker, got, tt.want)
		}
	}
}

func TestCanonicalChecker(t *testing.T) {
	tests := []struct {
		text, want string
		ok         bool
	}{
		{"linearizability (Porcupine)", CheckerLinearizability, true},
		{"porcupine", CheckerLinearizability, true},
		{"Elle", CheckerSerializability, true},
		{"serializability per key and cross key", CheckerSerializability, true},
		{"read your writes", CheckerSession, true},
		{"monotonic reads", CheckerMonotonicRead, true},
		{"no lost acks", CheckerNoLostAck, true},
		{"slo-threshold", CheckerSLOThreshold, true},
		{"baseline-comparison", CheckerBaseline, true},
		{"final-state invariant", CheckerFinalState, true},
		{"eyeballing", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := CanonicalChecker(tt.text)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalChecker(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
	if got := CheckersIn("no-lost-ack + replay-equivalence"); !slices.Equal(got, []string{CheckerNoLostAck, CheckerReplayEquivalent}) {
		t.Errorf("CheckersIn(no-lost-ack + replay-equivalence) = %v", got)
	}
}

func TestModelName(t *testing.T) {
	tests := []struct {
		text, want string
		ok         bool
	}{
		{"register", "register", true},
		{"Map (per key)", "map", true},
		{"membership-table", "membership-table", true},
		{"membership table", "membership-table", true},
		{"ledger — accounts with idempotency keys", "ledger", true},
		{"other(ring-buffer)", "other(ring-buffer)", true},
		{"other (job queue)", "other(job queue)", true},
		{"`lease`", "lease", true},
		{"other()", "", false},
		{"kv", "", false},
		{"registers", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ModelName(tt.text)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ModelName(%q) = %q, %v; want %q, %v", tt.text, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckerJustified(t *testing.T) {
	tests := []struct {
		checker string
		want    bool
	}{
		{"none — the final dump is compared byte for byte against the model's expected map", true},
		{"serializability — justification: rw-register over a single map key space", true},
		{"invariant over final state because the picker has no map + boundary row", true},
		{"invariant over final state — the picker has no map + boundary row; the predicate is the oracle", true},
		{"linearizability — run with Porcupine over every key in the history", false},
		{"serializability: Elle list-append over all keys and transactions", false},
		{"serializability — used instead of linearizability since writes are multi-key transactions", true},
		{"none", false},
		{"none — trust me", false},
		{"linearizability (Porcupine)", false},
		{"no-lost-ack + replay-equivalence", false},
	}
	for _, tt := range tests {
		if got := checkerJustified(tt.checker); got != tt.want {
			t.Errorf("checkerJustified(%q) = %v, want %v", tt.checker, got, tt.want)
		}
	}
}

func TestCheckerByName(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"linearizability", CheckerLinearizability, true},
		{"Porcupine", CheckerLinearizability, true},
		{"Elle", CheckerSerializability, true},
		{"prefix / order", CheckerPrefixOrder, true},
		{"set-full", CheckerSetFull, true},
		{"set", CheckerSet, true},
		// A phrase that merely contains a name is not a checker name.
		{"elle-magic", "", false},
		{"linearizability or whatever", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := CheckerByName(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CheckerByName(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
