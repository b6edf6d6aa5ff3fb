package session

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// writeWhenMeasured writes content to a workspace file once falsify has
// taken the before reading of epoch in run, as the agent's own fault tool
// would while inject_fault waits duration_ms.
func writeWhenMeasured(t *testing.T, m *Manager, runID, epoch, rel, content string) chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			l, err := m.Ledger(runID)
			if err != nil {
				t.Error(err)
				return
			}
			for _, e := range l {
				if e.ID == epoch && e.Before != nil {
					if err := os.WriteFile(filepath.Join(m.ws.Root(), rel), []byte(content), 0o644); err != nil {
						t.Error(err)
					}
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Errorf("epoch %s never got its before reading", epoch)
	}()
	return done
}

func writeNow(t *testing.T, m *Manager, rel, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(m.ws.Root(), rel), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInjectExternalFileProbe(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		initial    string
		during     string // written while falsify waits; "" = nothing happens
		probe      Probe
		wantLanded bool
		wantWhy    string
	}{
		{
			name:       "log line appears: landed",
			initial:    "n1 started\n",
			during:     "n1 started\nn1: iptables DROP from n2 installed\n",
			probe:      Probe{File: "sut.log", Pattern: `DROP from n2`, Expect: "increases"},
			wantLanded: true, wantWhy: "increased from 0 to 1",
		},
		{
			name:    "nothing happens: not landed",
			initial: "n1 started\n",
			probe:   Probe{File: "sut.log", Pattern: `DROP from n2`, Expect: "increases"},
			wantWhy: "did not increase",
		},
		{
			name:       "state appears: matches",
			initial:    "State: R (running)\n",
			during:     "State: T (stopped)\n",
			probe:      Probe{File: "sut.log", Pattern: `State:\s+T`, Expect: "matches"},
			wantLanded: true, wantWhy: "matches after the fault",
		},
		{
			name:    "state already there: not landed",
			initial: "State: T (stopped)\n",
			during:  "State: T (stopped)\n",
			probe:   Probe{File: "sut.log", Pattern: `State:\s+T`, Expect: "matches"},
			wantWhy: "already matched",
		},
		{
			name:       "captured number drops to zero",
			initial:    "healthy_replicas=3\n",
			during:     "healthy_replicas=3\nhealthy_replicas=0\n",
			probe:      Probe{File: "sut.log", Pattern: `healthy_replicas=(\d+)`, Expect: "becomes 0"},
			wantLanded: true, wantWhy: "became 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager(t)
			sess := newTestSession(t, m)
			run := newTestRun(t, m, sess.ID, "S1", "1", "register")
			writeNow(t, m, "sut.log", tt.initial)
			var done chan struct{}
			if tt.during != "" {
				done = writeWhenMeasured(t, m, run.ID, "F1", "sut.log", tt.during)
			}
			e, err := m.InjectExternal(ctx, run.ID, ExternalFault{Kind: "partition", Targets: []string{"n2"}, Probe: tt.probe, DurationMS: 400})
			if done != nil {
				<-done
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != "F1" || e.Origin != OriginExternal || e.State != FaultActive {
				t.Fatalf("epoch %+v", e)
			}
			if e.Landed != tt.wantLanded || !strings.Contains(e.Evidence, tt.wantWhy) {
				t.Fatalf("landed=%t evidence %q; want %t and %q", e.Landed, e.Evidence, tt.wantLanded, tt.wantWhy)
			}
			if e.Before == nil || e.After == nil || !e.After.At.After(e.Before.At) {
				t.Fatalf("readings not both recorded: %+v %+v", e.Before, e.After)
			}
			if d := e.After.At.Sub(e.Before.At); d < 400*time.Millisecond {
				t.Fatalf("after reading taken %v after the before reading, want ≥ duration_ms", d)
			}
			// The ledger entry is journaled: reopen and find it unchanged.
			m.Close()
			l, err := m.Ledger(run.ID)
			if err != nil || len(l) != 1 || l[0].Landed != tt.wantLanded || l[0].Evidence != e.Evidence {
				t.Fatalf("ledger after reopen: %+v, %v", l, err)
			}
		})
	}
}

func TestInjectExternalCommandProbeAndHeal(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	writeNow(t, m, "drops", "Chain INPUT: 0 packets dropped\n")
	done := writeWhenMeasured(t, m, run.ID, "F1", "drops", "Chain INPUT: 117 packets dropped\n")
	e, err := m.InjectExternal(ctx, run.ID, ExternalFault{
		Kind: "partition", Targets: []string{"n1", "n2"},
		Probe:      Probe{Command: []string{"cat", "drops"}, Expect: "becomes nonzero"},
		HealProbe:  &Probe{File: "sut.log", Pattern: "leader elected", Expect: "increases"},
		DurationMS: 400,
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if !e.Landed || *e.Before.Value != 0 || *e.After.Value != 117 || !strings.Contains(e.After.Raw, "117 packets") {
		t.Fatalf("command probe: landed=%t %s; before %+v after %+v", e.Landed, e.Evidence, e.Before, e.After)
	}
	if e.HealBaseline == nil || *e.HealBaseline.Value != 0 {
		t.Fatalf("heal baseline not read: %+v", e.HealBaseline)
	}
	// The agent heals with its own tools; falsify measures recovery.
	writeNow(t, m, "sut.log", "leader elected n3\n")
	h, err := m.HealFault(ctx, run.ID, "F1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.State != FaultHealed || h.End == nil || *h.End < h.Start || !h.Heal.Recovered {
		t.Fatalf("heal: %+v %+v", h, h.Heal)
	}
	if _, err := m.HealFault(ctx, run.ID, "F1", nil); err == nil || !strings.Contains(err.Error(), "already healed") {
		t.Fatalf("second heal: %v", err)
	}
	if _, err := m.HealFault(ctx, run.ID, "F7", nil); err == nil || !strings.Contains(err.Error(), "F1") {
		t.Fatalf("unknown epoch: %v", err)
	}

	// Heal without a heal probe: the same probe, inverse expectation.
	writeNow(t, m, "drops", "Chain INPUT: 0 packets dropped\n")
	done = writeWhenMeasured(t, m, run.ID, "F2", "drops", "Chain INPUT: 9 packets dropped\n")
	e2, err := m.InjectExternal(ctx, run.ID, ExternalFault{Kind: "partition", Probe: Probe{Command: []string{"cat", "drops"}, Expect: "becomes nonzero"}, DurationMS: 400})
	<-done
	if err != nil || e2.ID != "F2" || !e2.Landed {
		t.Fatalf("F2: %+v %v", e2, err)
	}
	// Not recovered: the counter is still nonzero.
	h2, err := m.HealFault(ctx, run.ID, "F2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Heal.Recovered || h2.Heal.Probe.Expect != ExpectBecomesZero || !strings.Contains(h2.Heal.Evidence, "not 0") {
		t.Fatalf("heal F2: %+v", h2.Heal)
	}
}

func TestMeasureFaultTwoStep(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	writeNow(t, m, "status", "State: S (sleeping)\n")
	e, err := m.InjectExternal(ctx, run.ID, ExternalFault{Kind: "pause", Probe: Probe{Command: []string{"cat", "status"}, Pattern: `State:\s+T`, Expect: "matches"}})
	if err != nil || e.Landed {
		t.Fatalf("inject before the fault was caused: %+v %v", e, err)
	}
	writeNow(t, m, "status", "State: T (stopped)\n")
	e, err = m.MeasureFault(ctx, run.ID, "F1")
	if err != nil || !e.Landed {
		t.Fatalf("measure after the fault: %+v %v", e, err)
	}
}

func TestInjectExternalRefusesBadSpecs(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	tests := []struct {
		spec ExternalFault
		want string
	}{
		{ExternalFault{Probe: Probe{File: "x", Pattern: "a", Expect: "increases"}}, "kind"},
		{ExternalFault{Kind: "kill", Probe: Probe{Expect: "increases"}}, "exactly one"},
		{ExternalFault{Kind: "kill", Probe: Probe{File: "x", Pattern: "a", Expect: "up"}}, "probe.expect"},
		{ExternalFault{Kind: "kill", Probe: Probe{File: "x", Pattern: "a", Expect: "increases"}, DurationMS: -1}, "duration_ms"},
		{ExternalFault{Kind: "kill", Probe: Probe{File: "x", Pattern: "a", Expect: "increases"}, HealProbe: &Probe{File: "x"}}, "heal_probe"},
	}
	for _, tt := range tests {
		if _, err := m.InjectExternal(ctx, run.ID, tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("InjectExternal(%+v) = %v, want an error containing %q", tt.spec, err, tt.want)
		}
	}
	if l, _ := m.Ledger(run.ID); len(l) != 0 {
		t.Fatalf("refused specs reached the ledger: %+v", l)
	}
}

func TestInjectExternalHonoursCancel(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	e, err := m.InjectExternal(ctx, run.ID, ExternalFault{Kind: "kill", Probe: Probe{File: "x", Pattern: "a", Expect: "increases"}, DurationMS: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second || e.Landed || !strings.Contains(e.Evidence, "cancelled") {
		t.Fatalf("cancel not honoured: %+v after %v", e, time.Since(start))
	}
}

func TestFaultEpochFilledFromLedger(t *testing.T) {
	ctx := context.Background()
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	writeNow(t, m, "sut.log", "")
	done := writeWhenMeasured(t, m, run.ID, "F1", "sut.log", "partition installed\n")
	e, err := m.InjectExternal(ctx, run.ID, ExternalFault{Kind: "partition", Probe: Probe{File: "sut.log", Pattern: "partition installed", Expect: "matches"}, DurationMS: 400})
	<-done
	if err != nil || !e.Landed {
		t.Fatalf("inject: %+v %v", e, err)
	}
	h, err := m.HealFault(ctx, run.ID, e.ID, &Probe{File: "sut.log", Pattern: "partition installed", Expect: "changes"})
	if err != nil {
		t.Fatal(err)
	}
	start, end := h.Start, *h.End
	before := writeOp("before", start-1000, start-500, 1)
	during := writeOp("during", start+1, start+2, 2)
	spanning := writeOp("spanning", start-10, end+10, 3)
	after := writeOp("after", end+100, end+200, 4)
	timeout := writeOp("timeout", start-5, 0, 5) // no response: open-ended, overlaps F1
	timeout.CompleteTS = nil
	timeout.TimeoutMarker = boolp(true)
	bogus := writeOp("bogus", start+1, start+2, 6)
	bogus.FaultEpoch = str("F9")
	contradicts := writeOp("contradicts", end+100, end+200, 7)
	contradicts.FaultEpoch = str("F1")
	acc, rej, err := m.RecordOps(ctx, run.ID, []history.Op{before, during, spanning, bogus, after, timeout, contradicts})
	if err != nil {
		t.Fatal(err)
	}
	if acc != 5 || len(rej) != 2 || rej[0].OpID != "bogus" || rej[1].OpID != "contradicts" {
		t.Fatalf("accepted %d, rejected %+v", acc, rej)
	}
	ops, _ := m.History(run.ID)
	want := map[string]string{"before": "", "during": "F1", "spanning": "F1", "after": "", "timeout": "F1"}
	for _, op := range ops {
		got := ""
		if op.FaultEpoch != nil {
			got = *op.FaultEpoch
		}
		if got != want[op.OpID] {
			t.Errorf("op %s fault_epoch = %q, want %q", op.OpID, got, want[op.OpID])
		}
	}
	// The filled epochs are what history.jsonl holds too.
	data, _ := os.ReadFile(filepath.Join(m.ws.Root(), run.Dir, historyName))
	if !strings.Contains(string(data), `"op_id":"during"`) || strings.Count(string(data), `"fault_epoch":"F1"`) != 3 {
		t.Fatalf("history.jsonl:\n%s", data)
	}
}

func TestInterruptedFaultOnReopen(t *testing.T) {
	m := newTestManager(t)
	sess := newTestSession(t, m)
	run := newTestRun(t, m, sess.ID, "S1", "1", "register")
	s, _ := m.session(sess.ID)
	// A crash after the applying fact, before the after reading.
	s.mu.Lock()
	err := s.record(factFaultApplying, &factFault{Run: run.Name, Epoch: &Epoch{ID: "F1", Kind: "kill", Origin: OriginExternal, State: FaultApplying, Start: 5}})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	l, err := m.Ledger(run.ID)
	if err != nil || len(l) != 1 || l[0].State != FaultInterrupted || l[0].Landed {
		t.Fatalf("ledger after reopen: %+v %v", l, err)
	}
	raw, _ := json.Marshal(l[0])
	if !strings.Contains(string(raw), "falsify stopped") {
		t.Fatalf("no reason given: %s", raw)
	}
}
