package plan

import (
	"slices"
	"testing"
	"time"
)

func TestParseTier(t *testing.T) {
	tests := []struct {
		text string
		want Tier
	}{
		{"3 nodes, 10m, 6 faults, 5 seeds", Tier{Nodes: 3, Duration: 10 * time.Minute, Faults: 6, Seeds: 5}},
		{"smoke: 3 nodes, 60s, 2 faults, 1 seed", Tier{Nodes: 3, Duration: time.Minute, Faults: 2, Seeds: 1}},
		{"hardening: 5-node cluster, 1h30m, 12 fault epochs, 10 distinct seeds", Tier{Nodes: 5, Duration: 90 * time.Minute, Faults: 12, Seeds: 10}},
		{"3-node cluster, 10 min, no faults, one seed", Tier{Nodes: 3, Duration: 10 * time.Minute, Seeds: 1}},
		{"single node, 30 seconds, 0 faults, single seed", Tier{Nodes: 1, Duration: 30 * time.Second, Seeds: 1}},
		{"cluster of 7, 2 hours, 20 faults, 3 seeds", Tier{Nodes: 7, Duration: 2 * time.Hour, Faults: 20, Seeds: 3}},
		{"five replicas, 45 s, three faults, seeds: 4", Tier{Nodes: 5, Duration: 45 * time.Second, Faults: 3, Seeds: 4}},
		{"3 brokers, 1.5h, 6 faults, 5 seeds at 2,000 ops/s", Tier{Nodes: 3, Duration: 90 * time.Minute, Faults: 6, Seeds: 5}},
		{"nodes: 3, 15m, faults: 3, seeds: 3", Tier{Nodes: 3, Duration: 15 * time.Minute, Faults: 3, Seeds: 3}},
		{"", Tier{}},
	}
	for _, tt := range tests {
		got := ParseTier(tt.text)
		tt.want.Text = got.Text
		if got != tt.want {
			t.Errorf("ParseTier(%q) = %+v, want %+v", tt.text, got, tt.want)
		}
	}
}

func TestParseTierNotProvided(t *testing.T) {
	tests := []struct {
		text, reason, revisit string
	}{
		{"not provided — no long-running cluster available for this PR. Revisit when: the nightly soak environment is provisioned",
			"no long-running cluster available for this PR", "the nightly soak environment is provisioned"},
		{"release: Not provided - needs the soak environment. Revisit when: Q3 capacity lands.",
			"needs the soak environment", "Q3 capacity lands"},
		{"not provided", "", ""},
	}
	for _, tt := range tests {
		got := ParseTier(tt.text)
		if !got.NotProvided || got.Reason != tt.reason || got.Revisit != tt.revisit {
			t.Errorf("ParseTier(%q) = %+v, want NotProvided, reason %q, revisit %q", tt.text, got, tt.reason, tt.revisit)
		}
		if got.Stated() || got.StrongerThan(Tier{}) {
			t.Errorf("ParseTier(%q): a tier not provided states no dimension and is never stronger", tt.text)
		}
	}
}

func TestBudgetTier(t *testing.T) {
	b := Budget{
		Smoke:     "3 nodes, 60s, 2 faults, 1 seed",
		Hardening: "5 nodes, 10m, 6 faults, 5 seeds",
		Release:   "not provided — no soak cluster. Revisit when: the soak cluster exists",
	}
	if got := b.Tier("smoke"); got.Nodes != 3 || got.Duration != time.Minute || got.Faults != 2 || got.Seeds != 1 {
		t.Errorf("smoke = %+v", got)
	}
	if got := b.Tier("Hardening"); got.Nodes != 5 || got.Seeds != 5 {
		t.Errorf("hardening = %+v", got)
	}
	if got := b.Tier("release"); !got.NotProvided {
		t.Errorf("release = %+v, want NotProvided", got)
	}
	if got := b.Tier("soak"); got != (Tier{}) {
		t.Errorf("unknown tier = %+v, want zero", got)
	}
	if !b.Tier("hardening").StrongerThan(b.Tier("smoke")) {
		t.Error("hardening should be stronger than smoke")
	}
}

func TestTierStrongerThan(t *testing.T) {
	smoke := ParseTier("3 nodes, 2m, 0 faults, 1 seed")
	tests := []struct {
		hard string
		want bool
		weak []string
	}{
		{"5 nodes, 15m, 3 faults, 3 seeds", true, nil},
		{"3 nodes, 15m, 3 faults, 3 seeds", false, []string{"nodes 3 ≤ 3"}},
		{"5 nodes, 2m, 3 faults, 3 seeds", false, []string{"duration 2m0s ≤ 2m0s"}},
		{"5 nodes, 15m, no faults, 3 seeds", false, []string{"faults 0 ≤ 0"}},
		{"5 nodes, 15m, 3 faults, 1 seed", false, []string{"seeds 1 ≤ 1"}},
		{"5 nodes, 15m, 3 faults", false, []string{"seeds 0 ≤ 1"}},
		{"2 nodes, 1m, 0 faults, 1 seed", false, []string{"nodes 2 ≤ 3", "duration 1m0s ≤ 2m0s", "faults 0 ≤ 0", "seeds 1 ≤ 1"}},
	}
	for _, tt := range tests {
		h := ParseTier(tt.hard)
		if got := h.StrongerThan(smoke); got != tt.want {
			t.Errorf("%q StrongerThan smoke = %v, want %v", tt.hard, got, tt.want)
		}
		if got := h.NotStrongerIn(smoke); !slices.Equal(got, tt.weak) {
			t.Errorf("%q NotStrongerIn smoke = %q, want %q", tt.hard, got, tt.weak)
		}
	}
}

func TestTierUnmet(t *testing.T) {
	declared := ParseTier("3 nodes, 10m, 6 faults, 5 seeds")
	tests := []struct {
		achieved Tier
		want     []string
	}{
		{Tier{Nodes: 3, Duration: 10 * time.Minute, Faults: 6, Seeds: 5}, nil},
		{Tier{Nodes: 5, Duration: time.Hour, Faults: 9, Seeds: 7}, nil},
		{Tier{Nodes: 3, Duration: 10 * time.Minute, Faults: 2, Seeds: 5}, []string{"faults 2 < 6"}},
		{Tier{Nodes: 3, Duration: 9 * time.Minute, Faults: 6, Seeds: 1}, []string{"duration 9m0s < 10m0s", "seeds 1 < 5"}},
	}
	for _, tt := range tests {
		if got := declared.Unmet(tt.achieved); !slices.Equal(got, tt.want) {
			t.Errorf("Unmet(%+v) = %q, want %q", tt.achieved, got, tt.want)
		}
	}
}

func TestHardeningSeeds(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"3 nodes, 10m, 6 faults, 5 seeds", 5},
		{"3 nodes, 10m, 6 faults, 3 seeds", 3},
		{"3 nodes, 10m, 6 faults, 1 seed", 3},
		{"3 nodes, 10m, 6 faults", 3},
		{"not provided — no cluster. Revisit when: later", 3},
	}
	for _, tt := range tests {
		if got := HardeningSeeds(ParseTier(tt.text)); got != tt.want {
			t.Errorf("HardeningSeeds(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}
