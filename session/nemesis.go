package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/nemesis"
)

// OriginNemesis marks a ledger entry for a fault falsify injected itself
// with a built-in nemesis kind (pause, partition, drop, disk-full…).
const OriginNemesis = "nemesis"

// Journal fact types of the built-in nemesis.
const (
	factTargetRegistered = "target-registered" // a target the session registered
	factTargetRestored   = "target-restored"   // re-registered after a restart
	factTargetLost       = "target-lost"       // no longer usable (owned command died with its owner…)
	factFaultRefused     = "fault-refused"     // a kind refused for a missing capability
)

// Who healed a built-in fault (NemesisFault.HealedBy), besides the values
// package nemesis uses ("heal", "ttl", "close", "rollback", "instant").
const (
	HealedOnRestart = "healed-on-restart" // by HealOrphans, after falsify stopped without healing it
	HealedOrphan    = "orphan"            // by heal_fault, from the journaled record of an earlier process
)

// NemesisFault is the built-in side of a ledger entry (Epoch.Nemesis): the
// record journaled before the fault was applied, and the landing and heal
// probes' outcomes with every raw measurement.
type NemesisFault struct {
	Record  *nemesis.Record  `json:"record"`
	Landing *nemesis.Outcome `json:"landing,omitempty"`
	Heal    *nemesis.Outcome `json:"heal,omitempty"`
	// HealedBy says who healed it: heal, ttl, close, rollback, instant,
	// healed-on-restart or orphan.
	HealedBy string `json:"healed_by,omitempty"`
}

// TargetRecord is a registered target as the journal holds it.
type TargetRecord struct {
	// Target is the target as registered; its ID is the session's target
	// id (t1, t2…), stable across restarts.
	Target nemesis.Target     `json:"target"`
	Spec   nemesis.TargetSpec `json:"spec"`
	// Lost says why the target can no longer take faults ("" while it
	// can): an owned command stops with the falsify process that started
	// it; a pid may be reused.
	Lost string `json:"lost,omitempty"`
}

type factTargetLostRecord struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

type factTargetRestoredRecord struct {
	ID     string         `json:"id"`
	Target nemesis.Target `json:"target"` // as re-registered
}

// FaultRefusal is a built-in fault kind refused for a missing capability:
// the scenario could not run as planned on this host (INCONCLUSIVE-env).
type FaultRefusal struct {
	Run        string    `json:"run"`
	Scenario   string    `json:"scenario"`
	Kind       string    `json:"kind"`
	Capability string    `json:"capability"`
	Reason     string    `json:"reason"`
	Hint       string    `json:"hint,omitempty"`
	At         time.Time `json:"at"`
}

// line is the refusal as one EnvMissing entry.
func (r FaultRefusal) line() string {
	s := fmt.Sprintf("%s (fault %s refused: %s", r.Capability, r.Kind, r.Reason)
	if r.Hint != "" {
		s += "; " + r.Hint
	}
	return s + ")"
}

// nemeses holds one nemesis state per session; the zero value is ready.
type nemeses struct {
	mu sync.Mutex
	m  map[string]*nemState
}

// nemState is a session's nemesis: the live Nemesis (created on first
// use), its targets and its faults' places in the ledger.
type nemState struct {
	mu      sync.Mutex // guards everything below; taken before the session lock
	s       *session
	n       *nemesis.Nemesis
	loaded  bool
	targets []*TargetRecord
	live    map[string]string   // session target id → the live Nemesis's target id
	faults  map[string]faultRef // live Nemesis fault id → ledger entry
	refused []FaultRefusal
}

type faultRef struct{ run, epoch string }

// nemState returns the nemesis state of a session, loading its targets and
// refusals from the journal on first use.
func (m *Manager) nemState(s *session) (*nemState, error) {
	s.mu.Lock()
	id := s.info.ID
	s.mu.Unlock()
	m.nem.mu.Lock()
	if m.nem.m == nil {
		m.nem.m = map[string]*nemState{}
	}
	st := m.nem.m[id]
	if st == nil || st.s != s {
		st = &nemState{s: s, live: map[string]string{}, faults: map[string]faultRef{}}
		m.nem.m[id] = st
	}
	m.nem.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.loaded {
		if err := m.loadNemesis(s, st); err != nil {
			return nil, err
		}
		st.loaded = true
	}
	return st, nil
}

// loadNemesis reads the session's target and refusal facts from its
// journal; the caller holds st.mu.
func (m *Manager) loadNemesis(s *session, st *nemState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	facts, err := m.readJournal(s)
	if err != nil {
		return err
	}
	byID := map[string]*TargetRecord{}
	for _, f := range facts {
		switch f.Type {
		case factTargetRegistered:
			var tr TargetRecord
			if err := json.Unmarshal(f.Data, &tr); err != nil {
				return fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
			}
			st.targets = append(st.targets, &tr)
			byID[tr.Target.ID] = &tr
		case factTargetRestored:
			var r factTargetRestoredRecord
			if err := json.Unmarshal(f.Data, &r); err != nil {
				return fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
			}
			if tr := byID[r.ID]; tr != nil {
				r.Target.ID = tr.Target.ID
				tr.Target = r.Target
			}
		case factTargetLost:
			var l factTargetLostRecord
			if err := json.Unmarshal(f.Data, &l); err != nil {
				return fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
			}
			if tr := byID[l.ID]; tr != nil {
				tr.Lost = l.Reason
			}
		case factFaultRefused:
			var r FaultRefusal
			if err := json.Unmarshal(f.Data, &r); err != nil {
				return fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
			}
			st.refused = append(st.refused, r)
		}
	}
	return nil
}

// readJournal reads the session's journal from disk (read-only); the
// caller holds s.mu so that no append is half-written.
func (m *Manager) readJournal(s *session) ([]Fact, error) {
	abs, err := m.ws.Resolve(s.dir(journalName))
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.info.ID, err)
	}
	facts, _, _, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("session %s: journal: %w", s.info.ID, err)
	}
	return facts, nil
}

// appendFact journals a nemesis fact, which changes no state that
// session.apply keeps; the caller holds s.mu.
func (s *session) appendFact(typ string, payload any) error {
	_, err := s.j.Append(typ, payload)
	return err
}

// replayNemesisFact puts a nemesis fact back on the session-log timeline
// when a session is reopened; the targets and refusals themselves are read
// from the journal by loadNemesis.
func (s *session) replayNemesisFact(f Fact) {
	switch f.Type {
	case factTargetRegistered:
		var tr TargetRecord
		if json.Unmarshal(f.Data, &tr) == nil {
			s.log(f.Time, fmt.Sprintf("target %s (%s) registered: %s", tr.Target.ID, tr.Target.Name, describeTarget(tr.Target)))
		}
	case factTargetRestored:
		var r factTargetRestoredRecord
		if json.Unmarshal(f.Data, &r) == nil {
			s.log(f.Time, fmt.Sprintf("target %s (%s) registered again after a restart", r.ID, r.Target.Name))
		}
	case factTargetLost:
		var l factTargetLostRecord
		if json.Unmarshal(f.Data, &l) == nil {
			s.log(f.Time, fmt.Sprintf("target %s (%s) lost: %s", l.ID, l.Name, l.Reason))
		}
	case factFaultRefused:
		var r FaultRefusal
		if json.Unmarshal(f.Data, &r) == nil {
			s.log(f.Time, fmt.Sprintf("run %s: fault %s refused, capability %s missing: %s", r.Run, r.Kind, r.Capability, r.Reason))
		}
	}
}

// nemesisOwner names a session's nemesis objects: the sanitized plan slug
// and the session's timestamp (nft table falsify_<owner>, proxies…).
func nemesisOwner(sessionID string) string {
	slug, stamp, _ := strings.Cut(sessionID, "/")
	stamp = nemesis.SanitizeOwner(stamp)
	slug = nemesis.SanitizeOwner(slug)
	if max := 39 - len(stamp); len(slug) > max {
		slug = strings.TrimRight(slug[:max], "_")
	}
	return nemesis.SanitizeOwner(slug + "_" + stamp)
}

// live returns the session's live Nemesis, creating it on first use: the
// session's still-open built-in faults (left by a falsify that stopped
// without healing them) are healed first, then its targets are registered
// again — pids (when their start time still matches), addresses (on the
// same proxy address, so clients keep working), nodes and paths. Owned
// commands stopped with the process that started them; they are recorded
// as lost. Faults left open on remote nodes are healed last, through the
// nodes' executors. The caller holds st.mu.
func (m *Manager) live(ctx context.Context, st *nemState) (*nemesis.Nemesis, error) {
	if st.n != nil {
		return st.n, nil
	}
	_, err := m.startNemesis(ctx, st)
	return st.n, err
}

// startNemesis creates the session's live Nemesis (see live) and returns a
// line per fault it healed; the caller holds st.mu.
func (m *Manager) startNemesis(ctx context.Context, st *nemState) ([]string, error) {
	s := st.s
	lines, err := m.healOrphansIn(ctx, s)
	if err != nil {
		return lines, err
	}
	s.mu.Lock()
	sid := s.info.ID
	logDir, err := m.ws.Resolve(s.dir("logs"))
	s.mu.Unlock()
	if err != nil {
		return lines, err
	}
	n := nemesis.New(nemesisOwner(sid), logDir)
	n.OnAutoHeal(func(f nemesis.Fault) { m.recordAutoHeal(st, f) })
	st.n = n
	for _, tr := range st.targets {
		if tr.Lost != "" {
			continue
		}
		if err := m.restoreTarget(ctx, st, tr); err != nil {
			return lines, err
		}
	}
	// Faults on remote nodes are healed through the nodes' executors,
	// which exist again only now.
	got, err := m.healOpen(ctx, s, isNodeKind, n.HealNodeOrphans)
	return append(lines, got...), err
}

// isNodeKind reports whether a fault kind runs on a remote node through
// its executor: its orphans are healed through a registered node.
func isNodeKind(kind string) bool { return strings.HasPrefix(kind, "node-") }

// restoreTarget registers a journaled target with a new Nemesis; the
// caller holds st.mu.
func (m *Manager) restoreTarget(ctx context.Context, st *nemState, tr *TargetRecord) error {
	spec := tr.Spec
	spec.Executor = nil
	lost := ""
	switch tr.Target.Kind {
	case nemesis.TargetCommand:
		lost = fmt.Sprintf("owned command %q (pid %d) stopped with the falsify process that started it; register it again", strings.Join(tr.Target.Command, " "), tr.Target.PID)
	case nemesis.TargetAddress:
		spec.Listen = tr.Target.ProxyListen
	case nemesis.TargetNode:
		switch {
		case spec.SSH != nil:
			// Register builds the ssh executor again from the journaled
			// config (key file, known_hosts; never key bytes).
		case tr.Target.Remote == "local":
			spec.Executor = nemesis.LocalExecutor{}
		case tr.Target.Remote != "":
			lost = fmt.Sprintf("node %s was reached through a %s executor, which is not journaled; register it again", tr.Target.Node, tr.Target.Remote)
		}
	}
	var t *nemesis.Target
	if lost == "" {
		var err error
		t, err = st.n.Register(ctx, spec)
		switch {
		case err != nil:
			lost = "could not be registered again after a restart: " + err.Error()
		case tr.Target.Kind == nemesis.TargetPID && t.StartTime != tr.Target.StartTime:
			lost = fmt.Sprintf("pid %d now belongs to another process (start time %d, registered %d)", t.PID, t.StartTime, tr.Target.StartTime)
		}
	}
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if lost != "" {
		tr.Lost = lost
		if err := s.appendFact(factTargetLost, &factTargetLostRecord{ID: tr.Target.ID, Name: tr.Target.Name, Reason: lost}); err != nil {
			return err
		}
		s.log(m.now(), fmt.Sprintf("target %s (%s) lost: %s", tr.Target.ID, tr.Target.Name, lost))
		return s.writeLog()
	}
	st.live[tr.Target.ID] = t.ID
	c := *t
	c.ID = tr.Target.ID
	tr.Target = c
	if err := s.appendFact(factTargetRestored, &factTargetRestoredRecord{ID: c.ID, Target: c}); err != nil {
		return err
	}
	s.log(m.now(), fmt.Sprintf("target %s (%s) registered again after a restart", c.ID, c.Name))
	return s.writeLog()
}

// RegisterTarget registers a fault target for a session's built-in
// faults: a pid (its start time recorded against pid reuse), a command
// falsify starts and owns (output to the session's logs/), an address
// fronted by a proxy (Target.ProxyListen is where the SUT's clients must
// connect), a node or a path. The target is journaled, so it is
// registered again when the session is used after a restart.
func (m *Manager) RegisterTarget(ctx context.Context, sessionID string, spec nemesis.TargetSpec) (*nemesis.Target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := m.session(sessionID)
	if err != nil {
		return nil, err
	}
	st, err := m.nemState(s)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	name := strings.TrimSpace(spec.Name)
	for _, tr := range st.targets {
		if tr.Lost == "" && tr.Target.Name == name {
			return nil, fmt.Errorf("name %q: target %s already has this name; pick another", name, tr.Target.ID)
		}
	}
	n, err := m.live(ctx, st)
	if err != nil {
		return nil, err
	}
	// A lost target's name is free: the live Nemesis never registered it.
	t, err := n.Register(ctx, spec)
	if err != nil {
		var re *nemesis.RefusalError
		if errors.As(err, &re) && re.Kind == "" {
			return nil, fmt.Errorf("target %q refused: %s", name, re.Reason)
		}
		return nil, err
	}
	rec := &TargetRecord{Target: *t, Spec: spec}
	rec.Spec.Executor = nil
	rec.Target.ID = fmt.Sprintf("t%d", len(st.targets)+1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.appendFact(factTargetRegistered, rec); err != nil {
		return nil, err
	}
	st.targets = append(st.targets, rec)
	st.live[rec.Target.ID] = t.ID
	s.log(m.now(), fmt.Sprintf("target %s (%s) registered: %s", rec.Target.ID, rec.Target.Name, describeTarget(rec.Target)))
	if err := s.writeLog(); err != nil {
		return nil, err
	}
	out := rec.Target
	return &out, nil
}

func describeTarget(t nemesis.Target) string {
	switch t.Kind {
	case nemesis.TargetPID:
		return fmt.Sprintf("pid %d (start time %d)", t.PID, t.StartTime)
	case nemesis.TargetCommand:
		return fmt.Sprintf("owned command %q, pid %d, log %s", strings.Join(t.Command, " "), t.PID, t.LogPath)
	case nemesis.TargetAddress:
		return fmt.Sprintf("address %s behind proxy %s", t.Address, t.ProxyListen)
	case nemesis.TargetNode:
		return "node " + t.Node
	case nemesis.TargetPath:
		return "path " + t.Path
	}
	return t.Kind
}

// Targets returns a session's registered targets, lost ones included.
func (m *Manager) Targets(sessionID string) ([]TargetRecord, error) {
	s, err := m.session(sessionID)
	if err != nil {
		return nil, err
	}
	st, err := m.nemState(s)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]TargetRecord, 0, len(st.targets))
	for _, tr := range st.targets {
		out = append(out, *tr)
	}
	return out, nil
}

// resolveTargets maps target references (session ids or names) to the
// live Nemesis's ids and the targets' names; the caller holds st.mu. An
// unknown reference is passed through for the Nemesis to refuse.
func (st *nemState) resolveTargets(kind string, refs []string) (ids, names []string, err error) {
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		var found *TargetRecord
		for i := len(st.targets) - 1; i >= 0; i-- {
			tr := st.targets[i]
			if tr.Target.ID == ref || tr.Target.Name == ref {
				found = tr
				break
			}
		}
		if found == nil {
			ids, names = append(ids, ref), append(names, ref)
			continue
		}
		if found.Lost != "" {
			return nil, nil, &nemesis.RefusalError{Kind: kind, Reason: fmt.Sprintf("target %q (%s) can no longer take faults: %s", found.Target.Name, found.Target.ID, found.Lost)}
		}
		ids, names = append(ids, st.live[found.Target.ID]), append(names, found.Target.Name)
	}
	return ids, names, nil
}

// InjectFault injects a built-in fault into a run's registered targets
// and measures whether it landed. The nemesis Record is journaled as the
// ledger entry (state "applying") before anything is touched, so that a
// falsify that dies mid-fault heals it on its next start; then the fault
// is applied, its landing probe read (injector side and, where the kind
// allows, victim side, raw before and after) and the entry journaled
// again as active — or healed, when the apply failed and was rolled back
// or the kind is instant. The entry shares the run's ledger with external
// faults (F1, F2…, wall-clock nanosecond windows). A kind refused for a
// missing capability is journaled as a refusal (the scenario's verdict
// becomes INCONCLUSIVE-env) and returned as the error.
func (m *Manager) InjectFault(ctx context.Context, runID string, spec nemesis.Spec) (*Epoch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := nemesis.LookupKind(spec.Kind); err != nil {
		return nil, err
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	st, err := m.nemState(s)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	n, err := m.live(ctx, st)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	ids, names, err := st.resolveTargets(spec.Kind, spec.Targets)
	if err != nil {
		st.mu.Unlock()
		return nil, err
	}
	st.mu.Unlock()
	nspec := spec
	nspec.Targets = ids
	rec, err := n.Prepare(ctx, nspec)
	if err != nil {
		var re *nemesis.RefusalError
		if errors.As(err, &re) && re.Capability != "" {
			if jerr := m.recordRefusal(st, r, re); jerr != nil {
				return nil, errors.Join(err, jerr)
			}
		}
		return nil, err
	}
	e := &Epoch{
		Kind: rec.Kind, Origin: OriginNemesis, Targets: names, Params: spec.Params,
		Description: fmt.Sprintf("built-in %s fault (%s)", rec.Kind, rec.Family),
		State:       FaultApplying, DurationMS: spec.Duration.Milliseconds(),
		Evidence: "applying", Nemesis: &NemesisFault{Record: rec},
	}
	s.mu.Lock()
	e.ID = fmt.Sprintf("F%d", len(r.faults)+1)
	e.Start = m.now().UnixNano()
	err = s.record(factFaultApplying, &factFault{Run: r.Run, Epoch: e.clone()})
	s.mu.Unlock()
	if err != nil {
		n.Discard(rec)
		return nil, err
	}
	st.mu.Lock()
	st.faults[rec.ID] = faultRef{run: r.Run, epoch: e.ID}
	st.mu.Unlock()

	f, err := n.Apply(ctx, rec)
	if err != nil {
		e.State = FaultInterrupted
		e.Evidence = "not applied: " + err.Error()
		if serr := m.saveEpoch(s, r, e); serr != nil {
			return nil, errors.Join(err, serr)
		}
		return nil, err
	}
	landing := f.Landing
	e.Nemesis = &NemesisFault{Record: f.Record, Landing: &landing}
	if !f.Start.IsZero() {
		e.Start = f.Start.UnixNano()
	}
	e.Landed = landing.Landed
	e.Evidence = outcomeText(landing, "")
	e.State = FaultActive
	if f.Heal != nil {
		healEpoch(e, *f.Heal, f.HealedBy, f.End)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A short TTL may have healed the fault, and journaled the heal,
	// while the landing was being measured: keep that heal.
	if cur, err := r.epoch(e.ID); err == nil && cur.State == FaultHealed && e.State != FaultHealed {
		e.State, e.End, e.Heal = cur.State, cur.End, cur.Heal
		if cur.Nemesis != nil {
			e.Nemesis.Heal, e.Nemesis.HealedBy = cur.Nemesis.Heal, cur.Nemesis.HealedBy
		}
	}
	if err := s.record(factFaultUpdated, &factFault{Run: r.Run, Epoch: e.clone()}); err != nil {
		return nil, err
	}
	if err := s.writeLog(); err != nil {
		return nil, err
	}
	return e.clone(), nil
}

// healEpoch records a built-in heal outcome in a ledger entry.
func healEpoch(e *Epoch, out nemesis.Outcome, by string, end *time.Time) {
	nf := NemesisFault{}
	if e.Nemesis != nil {
		nf = *e.Nemesis
	}
	nf.Heal = &out
	nf.HealedBy = by
	e.Nemesis = &nf
	at := out.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	if end == nil || end.IsZero() {
		end = &at
	}
	ns := end.UnixNano()
	if ns < e.Start {
		ns = e.Start
	}
	e.End = &ns
	e.State = FaultHealed
	e.Heal = &Heal{At: at, Recovered: out.Healed, Evidence: fmt.Sprintf("healed by %s: %s", by, outcomeText(out, ""))}
}

// outcomeText renders a probe outcome as one evidence string: the reason,
// then each measurement of the given side ("" = all) before and after.
func outcomeText(o nemesis.Outcome, side string) string {
	var b strings.Builder
	b.WriteString(o.Reason)
	for _, ev := range o.Evidence {
		if side != "" && ev.Side != side {
			continue
		}
		fmt.Fprintf(&b, "; %s [%s]: before %s, after %s", ev.Probe, ev.Side, orDash(ev.Before), orDash(ev.After))
		if !ev.Measured {
			b.WriteString(" (not measured)")
		}
	}
	return b.String()
}

// hasSide reports whether any measured evidence is of the given side.
func hasSide(evs []nemesis.Evidence, side string) bool {
	for _, ev := range evs {
		if ev.Side == side && ev.Measured {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// recordRefusal journals a kind refused for a missing capability.
func (m *Manager) recordRefusal(st *nemState, r *run, re *nemesis.RefusalError) error {
	s := st.s
	st.mu.Lock()
	defer st.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	fr := FaultRefusal{Run: r.Run, Scenario: r.Scenario, Kind: re.Kind, Capability: re.Capability, Reason: re.Reason, Hint: re.Hint, At: m.now().UTC()}
	if err := s.appendFact(factFaultRefused, &fr); err != nil {
		return err
	}
	st.refused = append(st.refused, fr)
	s.log(fr.At, fmt.Sprintf("run %s: fault %s refused, capability %s missing: %s", r.Run, fr.Kind, fr.Capability, fr.Reason))
	return s.writeLog()
}

// healBuiltin heals a built-in fault of a run (heal_fault) and journals
// the heal probe's evidence. A fault applied by an earlier falsify process
// is healed from its journaled record.
func (m *Manager) healBuiltin(ctx context.Context, s *session, r *run, epochID string) (*Epoch, error) {
	st, err := m.nemState(s)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s.mu.Lock()
	e, err := r.epoch(epochID)
	switch {
	case err != nil:
	case e.State == FaultHealed:
		err = fmt.Errorf("epoch %s was already healed (%s)", epochID, e.Heal.Evidence)
	case e.State == FaultApplying:
		err = fmt.Errorf("epoch %s is still being applied and measured; heal it after inject_fault returns", epochID)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e = e.clone()
	s.mu.Unlock()
	fid := ""
	for id, ref := range st.faults {
		if ref.run == r.Run && ref.epoch == e.ID {
			fid = id
		}
	}
	if fid == "" || st.n == nil {
		if e.Nemesis == nil || e.Nemesis.Record == nil {
			return nil, fmt.Errorf("epoch %s has no nemesis record to heal from", e.ID)
		}
		out := nemesis.HealOrphans(ctx, []nemesis.Record{*e.Nemesis.Record})[0]
		healEpoch(e, out, HealedOrphan, nil)
	} else {
		out, err := st.n.HealID(ctx, fid)
		if err != nil {
			return nil, err
		}
		f, _ := st.n.Fault(fid)
		by := f.HealedBy
		if by == "" {
			by = "heal"
		}
		healEpoch(e, *out, by, f.End)
	}
	if err := m.saveEpoch(s, r, e); err != nil {
		return nil, err
	}
	s.mu.Lock()
	err = s.writeLog()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return e.clone(), nil
}

// recordAutoHeal journals a heal the Nemesis did by itself (TTL watchdog,
// HealAll, Close). It is idempotent: a ledger entry already healed is left
// as it is.
func (m *Manager) recordAutoHeal(st *nemState, f nemesis.Fault) {
	st.mu.Lock()
	ref, ok := st.faults[f.ID]
	st.mu.Unlock()
	if !ok || f.Heal == nil {
		return
	}
	m.journalHeal(st.s, ref, f)
}

// journalHeal records a live fault's heal in its ledger entry unless the
// entry is healed already.
func (m *Manager) journalHeal(s *session, ref faultRef, f nemesis.Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.run(ref.run)
	if err != nil {
		return err
	}
	cur, err := r.epoch(ref.epoch)
	if err != nil {
		return err
	}
	if cur.State == FaultHealed {
		return nil
	}
	e := cur.clone()
	healEpoch(e, *f.Heal, f.HealedBy, f.End)
	if err := s.record(factFaultUpdated, &factFault{Run: r.Run, Epoch: e}); err != nil {
		return err
	}
	return s.writeLog()
}

// closeNemeses heals every live built-in fault (Nemesis.Close), journals
// each heal, stops the proxies and owned commands, and forgets the
// Nemeses: a session used again gets a new one.
func (m *Manager) closeNemeses() error {
	m.nem.mu.Lock()
	states := make([]*nemState, 0, len(m.nem.m))
	for _, st := range m.nem.m {
		states = append(states, st)
	}
	m.nem.m = nil
	m.nem.mu.Unlock()
	var errs []error
	for _, st := range states {
		st.mu.Lock()
		n := st.n
		st.n = nil
		refs := st.faults
		st.faults = map[string]faultRef{}
		st.mu.Unlock()
		if n == nil {
			continue
		}
		errs = append(errs, n.Close()...)
		for _, f := range n.Faults() {
			ref, ok := refs[f.ID]
			if !ok || f.Heal == nil {
				continue
			}
			if err := m.journalHeal(st.s, ref, f); err != nil {
				errs = append(errs, fmt.Errorf("journal heal of %s/%s: %w", ref.run, ref.epoch, err))
			}
		}
	}
	return errors.Join(errs...)
}

// HealOrphans heals, for every session of the workspace, the built-in
// faults a falsify process left open when it stopped without healing them
// (crash, SIGKILL): their journaled records are handed to
// nemesis.HealOrphans (SIGCONT to paused processes whose start time still
// matches, the session's nftables table deleted, fill files removed, dead
// proxies checked), and each heal is journaled (healed-on-restart, with
// its evidence). It returns one line per healed fault. Call it at server
// start, before any session injects a fault.
func (m *Manager) HealOrphans(ctx context.Context) ([]string, error) {
	ids, err := m.Sessions()
	if err != nil {
		return nil, err
	}
	var lines []string
	var errs []error
	for _, id := range ids {
		open, err := m.openRecords(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("session %s: %w", id, err))
			continue
		}
		if !open {
			continue
		}
		s, err := m.session(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := m.nemState(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.mu.Lock()
		if st.n != nil {
			// This process owns the session's faults: not orphans.
			st.mu.Unlock()
			continue
		}
		got, err := m.healOrphansIn(ctx, s)
		if err == nil && m.hasOpen(s, isNodeKind) {
			// Node faults heal through the nodes' executors: register
			// the session's targets again now.
			var more []string
			more, err = m.startNemesis(ctx, st)
			got = append(got, more...)
		}
		st.mu.Unlock()
		lines = append(lines, got...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return lines, errors.Join(errs...)
}

// hasOpen reports whether the session has an open built-in fault whose
// kind match selects.
func (m *Manager) hasOpen(s *session, match func(kind string) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		for _, e := range r.faults {
			if e.Nemesis != nil && e.State != FaultHealed && match(e.Kind) {
				return true
			}
		}
	}
	return false
}

// openRecords reports, from a session's journal on disk, whether it holds
// a built-in fault not yet healed.
func (m *Manager) openRecords(sessionID string) (bool, error) {
	abs, err := m.ws.Resolve(sessionsDir + "/" + sessionID + "/" + journalName)
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return false, err
	}
	facts, _, _, err := parseJournal(data)
	if err != nil {
		return false, err
	}
	state := map[string]bool{} // run/epoch → open
	for _, f := range facts {
		if f.Type != factFaultApplying && f.Type != factFaultUpdated {
			continue
		}
		var ff factFault
		if json.Unmarshal(f.Data, &ff) != nil || ff.Epoch == nil {
			continue
		}
		state[ff.Run+"/"+ff.Epoch.ID] = ff.Epoch.Nemesis != nil && ff.Epoch.State != FaultHealed
	}
	for _, open := range state {
		if open {
			return true, nil
		}
	}
	return false, nil
}

// healOrphansIn heals a session's open built-in faults from their
// journaled records, skipping those whose owner process still runs. The
// caller holds the session's nemesis lock and the session has no live
// Nemesis.
func (m *Manager) healOrphansIn(ctx context.Context, s *session) ([]string, error) {
	return m.healOpen(ctx, s, func(kind string) bool { return !isNodeKind(kind) }, func(ctx context.Context, recs []nemesis.Record) []nemesis.Outcome {
		return nemesis.HealOrphans(ctx, recs)
	})
}

// healOpen heals the session's open built-in faults whose kind match
// selects, with heal, and journals each heal (healed-on-restart).
func (m *Manager) healOpen(ctx context.Context, s *session, match func(kind string) bool, heal func(context.Context, []nemesis.Record) []nemesis.Outcome) ([]string, error) {
	type open struct {
		r *run
		e *Epoch
	}
	var opens []open
	var recs []nemesis.Record
	s.mu.Lock()
	sid := s.info.ID
	for _, r := range s.runs {
		for _, e := range r.faults {
			if e.Nemesis == nil || e.Nemesis.Record == nil || e.State == FaultHealed || !match(e.Kind) {
				continue
			}
			rec := *e.Nemesis.Record
			if rec.OwnerPID != os.Getpid() && ownerRuns(rec.OwnerPID, rec.OwnerTime) {
				continue
			}
			opens = append(opens, open{r: r, e: e.clone()})
			recs = append(recs, rec)
		}
	}
	s.mu.Unlock()
	if len(recs) == 0 {
		return nil, nil
	}
	outs := heal(ctx, recs)
	var lines []string
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range opens {
		e := o.e
		healEpoch(e, outs[i], HealedOnRestart, nil)
		e.Heal.Evidence = "falsify stopped without healing this fault; healed on restart: " + outcomeText(outs[i], "")
		if err := s.record(factFaultUpdated, &factFault{Run: o.r.Run, Epoch: e}); err != nil {
			return lines, err
		}
		lines = append(lines, fmt.Sprintf("%s/%s %s (%s): healed=%t: %s", sid, o.r.Run, e.ID, e.Kind, outs[i].Healed, outs[i].Reason))
	}
	return lines, s.writeLog()
}

// ownerRuns reports whether the process pid with the given start time
// (/proc/PID/stat field 22) still runs.
func ownerRuns(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return false
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is the state (field 3); the start time is field 22.
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return false
	}
	st, err := strconv.ParseUint(fields[19], 10, 64)
	return err == nil && (start == 0 || st == start)
}

// nemesisFacts fills a built-in fault's verdict facts from its measured
// outcomes: injector-side evidence, victim-side evidence, the heal as
// measured, and the asymmetric variants.
func nemesisFacts(e *Epoch, ops []history.Op, ff *FaultFacts) {
	nf := e.Nemesis
	ff.External = false
	ff.Landed = e.Landed
	if nf.Landing != nil {
		ff.Evidence = outcomeText(*nf.Landing, nemesis.SideInjector)
		if !hasSide(nf.Landing.Evidence, nemesis.SideInjector) {
			// Some kinds measure only where the fault lands (a process
			// state read from /proc): that reading is the evidence.
			ff.Evidence = outcomeText(*nf.Landing, "")
		}
		var victim []string
		for _, ev := range nf.Landing.Evidence {
			if ev.Side == nemesis.SideVictim && ev.Measured {
				victim = append(victim, fmt.Sprintf("%s: before %s, after %s", ev.Probe, orDash(ev.Before), orDash(ev.After)))
			}
		}
		if len(victim) > 0 && nf.Landing.Landed {
			ff.VictimEvidence = strings.Join(victim, "; ")
		}
	}
	if sig := historySignal(e, ops); sig != "" && e.Landed {
		if ff.VictimEvidence != "" {
			ff.VictimEvidence += "; "
		}
		ff.VictimEvidence += sig
	}
	ff.Healed = e.State == FaultHealed && nf.Heal != nil && nf.Heal.Healed
	switch e.Kind {
	case "partition-oneway", "drop-oneway":
		ff.Asymmetric = true
	case "loss":
		if d, _ := e.Params["direction"].(string); d == "in" || d == "out" {
			ff.Asymmetric = true
		}
	}
}

// historySignal is the victim-side signal of a fault in the run's history:
// the share of client ops with an unknown outcome (timeouts) inside the
// fault's window against outside it, when it rose. An op is inside when
// its fault_epoch names the epoch or it was invoked within the window.
func historySignal(e *Epoch, ops []history.Op) string {
	var in, inTO, out, outTO int
	for i := range ops {
		op := &ops[i]
		inside := op.FaultEpoch != nil && *op.FaultEpoch == e.ID
		if op.FaultEpoch == nil && op.InvokeTS != nil {
			inside = *op.InvokeTS >= e.Start && (e.End == nil || *op.InvokeTS <= *e.End)
		}
		if inside {
			in++
			if op.Indeterminate() {
				inTO++
			}
		} else {
			out++
			if op.Indeterminate() {
				outTO++
			}
		}
	}
	if in == 0 || inTO == 0 {
		return ""
	}
	rateIn := float64(inTO) / float64(in)
	if out > 0 && rateIn <= float64(outTO)/float64(out) {
		return ""
	}
	return fmt.Sprintf("history: %d of %d client ops in %s timed out (unknown outcome), against %d of %d outside it", inTO, in, e.ID, outTO, out)
}

// envMissing returns Facts.EnvMissing for a scenario from the session's
// records: the built-in fault kinds refused on this host for a missing
// capability (refusedKinds) and, while no run of the scenario has a
// checker result (one that has evidently could start), what the session's
// discovered environment lacks (missingFor). f holds the scenario's runs.
func (m *Manager) envMissing(s *session, f Facts) []string {
	for _, r := range f.Runs {
		if len(r.Checks) > 0 {
			return m.refusedKinds(s, f.Scenario, nil)
		}
	}
	return m.refusedKinds(s, f.Scenario, s.missingFor(f.Scenario))
}

// refusedKinds appends to have (without duplicates) one line per built-in
// fault kind refused for a missing capability in a run of the scenario,
// unless a later fault of the same kind landed in a run of it.
func (m *Manager) refusedKinds(s *session, scenario string, have []string) []string {
	out := have
	st, err := m.nemState(s)
	if err != nil {
		return append(out, "fault refusals unreadable: "+err.Error())
	}
	st.mu.Lock()
	refused := append([]FaultRefusal(nil), st.refused...)
	st.mu.Unlock()
	if len(refused) == 0 {
		return out
	}
	landed := map[string]bool{}
	s.mu.Lock()
	for _, r := range s.runs {
		if !strings.EqualFold(r.Scenario, scenario) {
			continue
		}
		for _, e := range r.faults {
			if e.Landed {
				landed[e.Kind] = true
			}
		}
	}
	s.mu.Unlock()
	seen := map[string]bool{}
	for _, x := range out {
		seen[x] = true
	}
	for _, fr := range refused {
		if !strings.EqualFold(fr.Scenario, scenario) || landed[fr.Kind] {
			continue
		}
		if l := fr.line(); !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// MaxScheduleSpan bounds a fault schedule: its last step starts at most
// this long after the first.
const MaxScheduleSpan = nemesis.MaxTTL

// InjectSchedule injects a composition of built-in faults into a run (a
// cluster fault: partition the leader's node, then kill it): each step is
// applied At after the schedule starts, by InjectFault, so each is its own
// ledger entry (F1, F2…) with its own landing evidence and TTL. A step that
// fails or is refused stops the schedule; the epochs injected so far are
// returned with the error (they stay active until healed or their TTL).
func (m *Manager) InjectSchedule(ctx context.Context, runID string, steps []nemesis.Step) ([]*Epoch, error) {
	if len(steps) == 0 {
		return nil, errors.New("steps: give at least one step")
	}
	for i, st := range steps {
		if _, err := nemesis.LookupKind(st.Spec.Kind); err != nil {
			return nil, fmt.Errorf("steps[%d]: %w", i, err)
		}
		if st.At < 0 || st.At > MaxScheduleSpan {
			return nil, fmt.Errorf("steps[%d].at %s: give 0 to %s after the schedule starts", i, st.At, MaxScheduleSpan)
		}
		if i > 0 && st.At < steps[i-1].At {
			return nil, fmt.Errorf("steps[%d].at %s: steps must be in order of at (step %d is at %s)", i, st.At, i-1, steps[i-1].At)
		}
		if st.Spec.Duration < 0 || st.Spec.Duration > nemesis.MaxTTL {
			return nil, fmt.Errorf("steps[%d].duration %s: give 0 (the %s cap) or up to %s", i, st.Spec.Duration, nemesis.MaxTTL, nemesis.MaxTTL)
		}
	}
	if _, _, err := m.lookupRun(runID); err != nil {
		return nil, err
	}
	start := time.Now()
	var out []*Epoch
	for i, st := range steps {
		if wait := time.Until(start.Add(st.At)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return out, fmt.Errorf("steps[%d] (%s): not injected: %w", i, st.Spec.Kind, ctx.Err())
			}
		}
		e, err := m.InjectFault(ctx, runID, st.Spec)
		if err != nil {
			return out, fmt.Errorf("steps[%d] (%s): %w", i, st.Spec.Kind, err)
		}
		out = append(out, e)
	}
	return out, nil
}
