package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// Fault origins.
const (
	OriginExternal = "external" // the agent caused it with its own tools
	OriginImported = "imported" // a nemesis window read from an imported history
)

// Fault states in the ledger.
const (
	FaultApplying    = "applying"    // journaled, probe not yet finished
	FaultActive      = "active"      // measured, not healed
	FaultHealed      = "healed"      // heal recorded
	FaultInterrupted = "interrupted" // falsify stopped while measuring it
)

// maxFaultWait bounds duration_ms.
const maxFaultWait = time.Hour

// ExternalFault declares a fault the agent causes with its own tools. The
// agent cannot say that it landed: falsify runs Probe itself before and
// after and decides from the two readings.
type ExternalFault struct {
	Kind        string         `json:"kind"` // partition, kill, pause, disk-full…
	Targets     []string       `json:"targets,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
	Description string         `json:"description,omitempty"`
	// Probe measures landing evidence.
	Probe Probe `json:"probe"`
	// HealProbe, when set, measures recovery at heal time; it is read once
	// after landing to give the heal a baseline. Without it the heal
	// re-reads Probe and expects the inverse change.
	HealProbe *Probe `json:"heal_probe,omitempty"`
	// VictimProbe, when set, measures the fault from a victim's side
	// (client timeouts, RPC errors), read before and after like Probe.
	VictimProbe *Probe `json:"victim_probe,omitempty"`
	// DurationMS delays the after reading, so that a fault caused in the
	// background (or by a scheduled tool) has time to land.
	DurationMS int64 `json:"duration_ms,omitempty"`
}

// Epoch is one fault window in a run's ledger (F1, F2…). Start and End are
// nanoseconds since the Unix epoch (UTC wall clock) for external faults, so
// a recorder whose invoke_ts / complete_ts use the same clock gets its ops'
// fault_epoch filled from the ledger; imported windows keep the imported
// history's clock.
type Epoch struct {
	ID          string         `json:"id"`
	Kind        string         `json:"kind"`
	Origin      string         `json:"origin"` // OriginExternal or OriginImported
	Targets     []string       `json:"targets,omitempty"`
	Params      map[string]any `json:"params,omitempty"`
	Description string         `json:"description,omitempty"`
	State       string         `json:"state"`
	Start       int64          `json:"start"`
	End         *int64         `json:"end"`
	DurationMS  int64          `json:"duration_ms,omitempty"`

	Probe  *Probe   `json:"probe,omitempty"`
	Before *Reading `json:"before,omitempty"`
	After  *Reading `json:"after,omitempty"`
	// Landed is true only when falsify measured the expected change.
	Landed   bool   `json:"landed"`
	Evidence string `json:"evidence"` // why Landed is what it is

	// Victim is the victim-side measurement, when a victim probe was
	// declared.
	Victim *VictimReading `json:"victim,omitempty"`

	HealProbe    *Probe   `json:"heal_probe,omitempty"`
	HealBaseline *Reading `json:"heal_baseline,omitempty"`
	Heal         *Heal    `json:"heal,omitempty"`

	// Nemesis is set for a built-in fault (Origin OriginNemesis): its
	// journaled record and the landing and heal probes' raw outcomes.
	Nemesis *NemesisFault `json:"nemesis,omitempty"`
}

// VictimReading is a victim-side measurement of a fault.
type VictimReading struct {
	Probe    Probe    `json:"probe"`
	Before   *Reading `json:"before,omitempty"`
	After    *Reading `json:"after,omitempty"`
	Changed  bool     `json:"changed"` // the expected change was measured
	Evidence string   `json:"evidence"`
}

// Heal is the recovery record of a fault.
type Heal struct {
	At        time.Time `json:"at"`
	Probe     Probe     `json:"probe"`
	Before    *Reading  `json:"before,omitempty"`
	After     *Reading  `json:"after,omitempty"`
	Recovered bool      `json:"recovered"`
	Evidence  string    `json:"evidence"`
}

// window returns the epoch as a history window.
func (e *Epoch) window() history.Window {
	return history.Window{ID: e.ID, Kind: e.Kind, Start: e.Start, End: e.End}
}

func (e *Epoch) clone() *Epoch {
	c := *e
	c.Targets = append([]string(nil), e.Targets...)
	if e.Victim != nil {
		v := *e.Victim
		c.Victim = &v
	}
	if e.Nemesis != nil {
		n := *e.Nemesis
		c.Nemesis = &n
	}
	return &c
}

// factFault journals a whole ledger entry; a later fact for the same id
// replaces it.
type factFault struct {
	Run   string `json:"run"`
	Epoch *Epoch `json:"epoch"`
}

func (f ExternalFault) validate() (ExternalFault, error) {
	if strings.TrimSpace(f.Kind) == "" {
		return f, errors.New("kind: name the fault (partition, kill, pause, disk-full…)")
	}
	if err := f.Probe.validate(); err != nil {
		return f, err
	}
	if f.HealProbe != nil {
		hp := *f.HealProbe
		if err := hp.validate(); err != nil {
			return f, fmt.Errorf("heal_%w", err)
		}
		f.HealProbe = &hp
	}
	if f.VictimProbe != nil {
		vp := *f.VictimProbe
		if err := vp.validate(); err != nil {
			return f, fmt.Errorf("victim_%w", err)
		}
		f.VictimProbe = &vp
	}
	if f.DurationMS < 0 || time.Duration(f.DurationMS)*time.Millisecond > maxFaultWait {
		return f, fmt.Errorf("duration_ms %d: give 0 to measure at once, or up to %d", f.DurationMS, maxFaultWait.Milliseconds())
	}
	return f, nil
}

// InjectExternal registers a fault the agent causes with its own tools and
// measures whether it landed. The ledger entry is journaled (state
// "applying") before the probe runs; falsify then reads the probe, waits
// DurationMS (honouring ctx), reads it again and records both readings raw.
// Landed is true only when the measured change is the expected one.
//
// Call it before causing the fault, with a DurationMS long enough for a
// fault caused in the background to land; a probe read after the fault
// already landed shows no change for "becomes …" expectations.
func (m *Manager) InjectExternal(ctx context.Context, runID string, spec ExternalFault) (*Epoch, error) {
	spec, err := spec.validate()
	if err != nil {
		return nil, err
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	probe := spec.Probe
	e := &Epoch{
		Kind:        strings.TrimSpace(spec.Kind),
		Origin:      OriginExternal,
		Targets:     spec.Targets,
		Params:      spec.Params,
		Description: spec.Description,
		State:       FaultApplying,
		DurationMS:  spec.DurationMS,
		Probe:       &probe,
		HealProbe:   spec.HealProbe,
		Evidence:    "measuring",
	}
	s.mu.Lock()
	e.ID = fmt.Sprintf("F%d", len(r.faults)+1)
	e.Start = m.now().UnixNano()
	err = s.record(factFaultApplying, &factFault{Run: r.Run, Epoch: e.clone()})
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}

	e.Before = m.probe.read(ctx, probe)
	if spec.VictimProbe != nil {
		e.Victim = &VictimReading{Probe: *spec.VictimProbe, Before: m.probe.read(ctx, *spec.VictimProbe)}
	}
	if err := m.saveEpoch(s, r, e); err != nil {
		return nil, err
	}
	if spec.DurationMS > 0 {
		t := time.NewTimer(time.Duration(spec.DurationMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			e.State = FaultActive
			e.Evidence = "not measured: cancelled while waiting duration_ms before the after reading (" + ctx.Err().Error() + ")"
			if err := m.saveEpoch(s, r, e); err != nil {
				return nil, err
			}
			return e.clone(), nil
		}
	}
	e.After = m.probe.read(ctx, probe)
	e.Landed, e.Evidence = judge(probe.Expect, e.Before, e.After)
	e.Evidence = fmt.Sprintf("%s %q: %s", probeName(probe), probe.Expect, e.Evidence)
	m.readVictim(ctx, e)
	if spec.HealProbe != nil {
		e.HealBaseline = m.probe.read(ctx, *spec.HealProbe)
	}
	e.State = FaultActive
	if err := m.saveEpoch(s, r, e); err != nil {
		return nil, err
	}
	return e.clone(), nil
}

// MeasureFault reads an active external fault's probe again and judges it
// against the reading taken before the fault: the second step for a fault
// the agent causes after inject_fault returned. Every reading is kept, so
// a reviewer sees how many measurements it took.
func (m *Manager) MeasureFault(ctx context.Context, runID, epochID string) (*Epoch, error) {
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	e, err := r.epoch(epochID)
	if err == nil && (e.Origin != OriginExternal || e.State != FaultActive) {
		err = fmt.Errorf("epoch %s is %s %s: only an active external fault can be measured again", epochID, e.State, e.Origin)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e = e.clone()
	s.mu.Unlock()
	after := m.probe.read(ctx, *e.Probe)
	e.After = after
	landed, why := judge(e.Probe.Expect, e.Before, after)
	e.Landed = landed
	e.Evidence = fmt.Sprintf("%s %q: %s", probeName(*e.Probe), e.Probe.Expect, why)
	m.readVictim(ctx, e)
	if e.HealProbe != nil {
		e.HealBaseline = m.probe.read(ctx, *e.HealProbe)
	}
	if err := m.saveEpoch(s, r, e); err != nil {
		return nil, err
	}
	return e.clone(), nil
}

// HealFault records the end of a fault the agent healed with its own
// tools, and falsify's measurement of recovery: probe when given, else the
// fault's heal probe, else the fault's own probe with the inverse
// expectation (compared with the reading that proved landing). A built-in
// fault (OriginNemesis) is healed by falsify itself and its recovery
// measured by the kind's heal probe; probe is not used for it.
func (m *Manager) HealFault(ctx context.Context, runID, epochID string, probe *Probe) (*Epoch, error) {
	if probe != nil {
		p := *probe
		if err := p.validate(); err != nil {
			return nil, err
		}
		probe = &p
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	e, err := r.epoch(epochID)
	if err == nil && e.Origin == OriginNemesis {
		s.mu.Unlock()
		return m.healBuiltin(ctx, s, r, epochID)
	}
	if err == nil {
		switch {
		case e.State == FaultHealed:
			err = fmt.Errorf("epoch %s was already healed at %s", epochID, e.Heal.At.Format(time.RFC3339Nano))
		case e.State == FaultApplying:
			err = fmt.Errorf("epoch %s is still being measured; heal it after inject_fault returns", epochID)
		case e.Origin != OriginExternal:
			err = fmt.Errorf("epoch %s was imported with the history; its end comes from the import", epochID)
		}
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e = e.clone()
	s.mu.Unlock()

	h := &Heal{}
	switch {
	case probe != nil:
		h.Probe = *probe
		if e.HealProbe != nil && sameTarget(*probe, *e.HealProbe) {
			h.Before = e.HealBaseline
		} else if e.Probe != nil && sameTarget(*probe, *e.Probe) {
			h.Before = e.After
		}
	case e.HealProbe != nil:
		h.Probe = *e.HealProbe
		h.Before = e.HealBaseline
	case e.Probe != nil:
		h.Probe = *e.Probe
		h.Probe.Expect = inverseExpect(e.Probe.Expect)
		h.Before = e.After
	}
	end := m.now().UnixNano()
	e.End = &end
	h.After = m.probe.read(ctx, h.Probe)
	h.At = h.After.At
	var why string
	h.Recovered, why = judge(h.Probe.Expect, h.Before, h.After)
	h.Evidence = fmt.Sprintf("%s %q: %s", probeName(h.Probe), h.Probe.Expect, why)
	e.Heal = h
	e.State = FaultHealed
	if err := m.saveEpoch(s, r, e); err != nil {
		return nil, err
	}
	return e.clone(), nil
}

// readVictim takes the victim probe's after reading and judges it.
func (m *Manager) readVictim(ctx context.Context, e *Epoch) {
	if e.Victim == nil {
		return
	}
	v := *e.Victim
	v.After = m.probe.read(ctx, v.Probe)
	var why string
	v.Changed, why = judge(v.Probe.Expect, v.Before, v.After)
	v.Evidence = fmt.Sprintf("%s %q: %s", probeName(v.Probe), v.Probe.Expect, why)
	e.Victim = &v
}

// saveEpoch journals the current form of a ledger entry.
func (m *Manager) saveEpoch(s *session, r *run, e *Epoch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.record(factFaultUpdated, &factFault{Run: r.Run, Epoch: e.clone()})
}

// sameTarget reports whether two probes read the same thing.
func sameTarget(a, b Probe) bool {
	return strings.Join(a.Command, "\x00") == strings.Join(b.Command, "\x00") &&
		a.File == b.File && a.Pattern == b.Pattern && a.URL == b.URL && a.Metric == b.Metric
}

// probeName names a probe in evidence text.
func probeName(p Probe) string {
	switch {
	case len(p.Command) > 0:
		return "command " + strings.Join(p.Command, " ")
	case p.File != "":
		return fmt.Sprintf("file %s /%s/", p.File, p.Pattern)
	case p.URL != "":
		return fmt.Sprintf("metric %s at %s", p.Metric, p.URL)
	}
	return "probe"
}

// epoch finds a ledger entry; the caller holds the session lock.
func (r *run) epoch(id string) (*Epoch, error) {
	for _, e := range r.faults {
		if strings.EqualFold(e.ID, id) {
			return e, nil
		}
	}
	var ids []string
	for _, e := range r.faults {
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("epoch %q: run %s has no faults in its ledger", id, r.Run)
	}
	return nil, fmt.Errorf("epoch %q: not in run %s's ledger (have %s)", id, r.Run, strings.Join(ids, ", "))
}

// windows returns the run's ledger as history windows; the caller holds
// the session lock.
func (r *run) windows() []history.Window {
	w := make([]history.Window, 0, len(r.faults))
	for _, e := range r.faults {
		w = append(w, e.window())
	}
	return w
}

// Ledger returns a run's fault ledger.
func (m *Manager) Ledger(runID string) ([]Epoch, error) {
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Epoch, 0, len(r.faults))
	for _, e := range r.faults {
		out = append(out, *e.clone())
	}
	return out, nil
}
