package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

// Tiers returns the budget tiers a run can be started at.
func Tiers() []string { return []string{plan.TierSmoke, plan.TierHardening, plan.TierRelease} }

// run is one execution of a scenario or arm. Its fields are guarded by the
// session's lock.
type run struct {
	factRun
	started  time.Time
	ops      []history.Op
	seen     map[string]bool
	rejected int
	faults   []*Epoch
	states   []StateRecord
	checks   []CheckRecord
	// histLines is how many ops history.jsonl holds; -1 when unknown.
	histLines int
}

// factRun journals a run's start with what the plan said about its
// scenario at that moment, so later steps need not re-read the plan.
type factRun struct {
	Run        string `json:"run"`      // R1, R2…
	Scenario   string `json:"scenario"` // S2 or S5/api
	Seed       string `json:"seed"`
	Tier       string `json:"tier"`
	Budget     string `json:"budget"`      // the tier's budget text in the plan
	Oracle     string `json:"oracle"`      // as written
	OracleKind string `json:"oracle_kind"` // why it is machine-checkable
	Model      string `json:"model"`       // §7.M model, canonical when known
	Checker    string `json:"checker"`     // §7.M checker as written
	Faults     string `json:"faults"`      // the scenario's fault schedule as written
	Serious    bool   `json:"serious"`     // a gated claim category is falsified
	PlanSHA256 string `json:"plan_sha256"`
}

// RunInfo describes a run.
type RunInfo struct {
	ID       string `json:"id"` // "<session id>/R1"; every run tool takes it
	Session  string `json:"session"`
	Name     string `json:"name"`
	Scenario string `json:"scenario"`
	Seed     string `json:"seed"`
	Tier     string `json:"tier"`
	Budget   string `json:"budget"`
	Oracle   string `json:"oracle"`
	Model    string `json:"model"`
	Checker  string `json:"checker"`
	// FaultSchedule is the scenario's fault schedule as the plan wrote it.
	FaultSchedule string    `json:"fault_schedule"`
	Serious       bool      `json:"serious"`
	Started       time.Time `json:"started"`
	Dir           string    `json:"dir"` // workspace-relative artifacts directory
	// SameSeed lists the other runs of the same scenario with the same
	// seed: the re-runs that decide FAIL-reproducible.
	SameSeed []string `json:"same_seed"`
	Ops      int      `json:"ops"`
	Rejected int      `json:"rejected"`
	Epochs   []string `json:"epochs"`
	Checks   []string `json:"checks"`
}

// RefusedError is returned by StartRun for a scenario that must go back to
// design: it fails lint, or its oracle is not machine-checkable.
type RefusedError struct {
	Scenario    string
	Oracle      string            // the oracle as written
	Reason      string            // why the oracle is not machine-checkable; "" when it is
	Diagnostics []plan.Diagnostic // lint errors naming the scenario
}

func (e *RefusedError) Error() string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, fmt.Sprintf("scenario %s has no machine-checkable oracle (%s); fix the plan's §7 oracle and re-run lint_plan", e.Scenario, e.Reason))
	}
	if len(e.Diagnostics) > 0 {
		var msgs []string
		for _, d := range e.Diagnostics {
			msgs = append(msgs, d.Message+" Fix: "+d.Fix)
		}
		parts = append(parts, fmt.Sprintf("scenario %s fails lint (%s); fix the plan's §7 and re-run lint_plan", e.Scenario, strings.Join(msgs, "; ")))
	}
	return strings.Join(parts, "; ")
}

// StartRun starts a run of a scenario ("S2") or an arm ("S5/api") with a
// seed at a budget tier (smoke, hardening or release). It re-reads the
// plan and refuses, with a *RefusedError, a scenario whose oracle is not
// machine-checkable or that any lint error names. Runs of the same
// scenario with the same seed are linked (RunInfo.SameSeed).
func (m *Manager) StartRun(ctx context.Context, sessionID, scenario, seed, tier string) (*RunInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tier = strings.ToLower(strings.TrimSpace(tier))
	if !contains(Tiers(), tier) {
		return nil, fmt.Errorf("tier %q: use smoke, hardening or release", tier)
	}
	seed = strings.TrimSpace(seed)
	if seed == "" {
		return nil, errors.New("seed: give the seed the harness runs with (a re-run with the same seed decides FAIL-reproducible)")
	}
	s, err := m.session(sessionID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	planPath := s.info.Plan
	s.mu.Unlock()
	_, p, src, err := m.loadPlan(planPath)
	if err != nil {
		return nil, err
	}
	sc, arm, err := p.FindScenario(scenario)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	id := sc.ID
	oracle := sc.Oracle
	disc := sc.Discipline
	if arm != nil {
		id = arm.ID
		if strings.TrimSpace(arm.Oracle) != "" {
			oracle = arm.Oracle
		}
		if arm.Discipline != nil {
			disc = arm.Discipline
		}
	}
	refused := &RefusedError{Scenario: id, Oracle: oracle}
	ok, reason := plan.MachineCheckable(oracle)
	if !ok {
		refused.Reason = reason
	}
	for _, d := range plan.Lint(p) {
		if d.Severity == plan.SeverityError && lintNames(d.ID, sc.ID, arm) {
			refused.Diagnostics = append(refused.Diagnostics, d)
		}
	}
	if refused.Reason != "" || len(refused.Diagnostics) > 0 {
		return nil, refused
	}
	fr := factRun{
		Scenario: id, Seed: seed, Tier: tier, Budget: sc.Budget.Tier(tier).Text,
		Oracle: oracle, OracleKind: reason, Faults: sc.Faults, Serious: plan.Serious(p, sc),
		PlanSHA256: sha256Hex(src),
	}
	if disc != nil {
		fr.Model = disc.Model
		if name, ok := plan.ModelName(disc.Model); ok {
			fr.Model = name
		}
		fr.Checker = disc.Checker
	}

	return m.createRun(s, fr)
}

// createRun journals a run's start; fr.Run is assigned here.
func (m *Manager) createRun(s *session, fr factRun) (*RunInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fr.Run = fmt.Sprintf("R%d", len(s.runs)+1)
	if _, err := m.ws.MkdirAll(s.dir("artifacts", fr.Run)); err != nil {
		return nil, err
	}
	if err := s.record(factRunStarted, &fr); err != nil {
		return nil, err
	}
	r := s.byName[fr.Run]
	r.histLines = 0
	if err := s.writeLog(); err != nil {
		return nil, err
	}
	return s.runInfo(r), nil
}

// lintNames reports whether a diagnostic id concerns the scenario or arm
// being started: the scenario itself, the arm, or (for a whole-scenario
// run) any of its arms.
func lintNames(diagID, scenarioID string, arm *plan.Arm) bool {
	if diagID == "" {
		return false
	}
	if strings.EqualFold(diagID, scenarioID) {
		return true
	}
	if arm != nil {
		return strings.EqualFold(diagID, arm.ID)
	}
	return len(diagID) > len(scenarioID) && strings.EqualFold(diagID[:len(scenarioID)+1], scenarioID+"/")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runInfo describes a run; the caller holds s.mu.
func (s *session) runInfo(r *run) *RunInfo {
	info := &RunInfo{
		ID: s.runID(r.Run), Session: s.info.ID, Name: r.Run, Scenario: r.Scenario,
		Seed: r.Seed, Tier: r.Tier, Budget: r.Budget, Oracle: r.Oracle, Model: r.Model,
		Checker: r.Checker, FaultSchedule: r.Faults, Serious: r.Serious, Started: r.started,
		Dir: s.dir("artifacts", r.Run), Ops: len(r.ops), Rejected: r.rejected,
		SameSeed: []string{}, Epochs: []string{}, Checks: []string{},
	}
	for _, o := range s.runs {
		if o != r && strings.EqualFold(o.Scenario, r.Scenario) && o.Seed == r.Seed {
			info.SameSeed = append(info.SameSeed, s.runID(o.Run))
		}
	}
	for _, e := range r.faults {
		info.Epochs = append(info.Epochs, e.ID)
	}
	for _, c := range r.checks {
		info.Checks = append(info.Checks, c.Result.Checker+": "+c.Result.Status)
	}
	return info
}

// Run describes a run.
func (m *Manager) Run(runID string) (*RunInfo, error) {
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runInfo(r), nil
}

// History returns the ops a run has recorded, in record order.
func (m *Manager) History(runID string) ([]history.Op, error) {
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]history.Op(nil), r.ops...), nil
}
