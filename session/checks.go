package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

// StateKinds returns the kinds of state record_state stores.
func StateKinds() []string {
	return []string{checkers.StateFinal, checkers.StateReplica, checkers.StateMetricSeries, checkers.StateSnapshot}
}

// maxStateBytes bounds one recorded state.
const maxStateBytes = 256 << 20

// StateRecord is one stored state of a run.
type StateRecord struct {
	Kind   string    `json:"kind"`
	Name   string    `json:"name"`
	Path   string    `json:"path"` // workspace-relative artifact
	SHA256 string    `json:"sha256"`
	Bytes  int       `json:"bytes"`
	Source string    `json:"source"` // "data" or the workspace path it was copied from
	At     time.Time `json:"at"`
}

type factState struct {
	Run string `json:"run"`
	StateRecord
}

var stateNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// RecordState stores a state of a run under artifacts/<run>/state/<kind>/
// <name>.json: a final-state dump, a replica's state, a metric series or a
// snapshot. Give either data (JSON) or file, a workspace path to a JSON or
// JSON Lines file (JSON Lines is stored as an array). Recording the same
// kind and name again replaces the stored state.
func (m *Manager) RecordState(ctx context.Context, runID, kind, name string, data json.RawMessage, file string) (*StateRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kind = strings.ToLower(strings.TrimSpace(kind))
	if !contains(StateKinds(), kind) {
		return nil, fmt.Errorf("kind %q: use one of %s", kind, strings.Join(StateKinds(), ", "))
	}
	if !stateNameRE.MatchString(name) {
		return nil, fmt.Errorf("name %q: use 1-100 letters, digits, '.', '_' or '-' (e.g. the node name n1)", name)
	}
	hasData := len(bytes.TrimSpace(data)) > 0
	if hasData == (file != "") {
		return nil, errors.New("give exactly one of data (the state as JSON) or path (a workspace file holding it)")
	}
	source := "data"
	if file != "" {
		abs, err := m.ws.Resolve(file)
		if err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		if st.Size() > maxStateBytes {
			return nil, fmt.Errorf("path %s: %d bytes is over the %d-byte limit for one state", file, st.Size(), maxStateBytes)
		}
		if data, err = os.ReadFile(abs); err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		source = file
	}
	body, err := stateJSON(data)
	if err != nil {
		if file != "" {
			return nil, fmt.Errorf("path %s: %w", file, err)
		}
		return nil, fmt.Errorf("data: %w", err)
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := StateRecord{
		Kind: kind, Name: name, Path: s.dir("artifacts", r.Run, "state", kind, name+".json"),
		SHA256: sha256Hex(body), Bytes: len(body), Source: source, At: m.now().UTC(),
	}
	// The artifact is durable before the journal names it.
	if err := m.ws.WriteFileAtomic(rec.Path, body); err != nil {
		return nil, err
	}
	if err := s.record(factStateRecorded, &factState{Run: r.Run, StateRecord: rec}); err != nil {
		return nil, err
	}
	if err := s.writeLog(); err != nil {
		return nil, err
	}
	return &rec, nil
}

// stateJSON returns data as one JSON value: JSON as is, JSON Lines as an
// array.
func stateJSON(data []byte) ([]byte, error) {
	t := bytes.TrimSpace(data)
	if json.Valid(t) {
		return t, nil
	}
	var vals []json.RawMessage
	for i, line := range bytes.Split(t, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, fmt.Errorf("neither JSON nor JSON Lines (line %d is not JSON): record the state as JSON", i+1)
		}
		vals = append(vals, json.RawMessage(line))
	}
	return json.Marshal(vals)
}

// States returns the run's stored states (the latest per kind and name).
func (m *Manager) States(runID string) ([]StateRecord, error) {
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StateRecord(nil), r.states...), nil
}

// CheckRecord is one checker run on a run's history, as journaled.
type CheckRecord struct {
	Checker  string           `json:"checker"`
	Model    string           `json:"model"`
	Options  map[string]any   `json:"options,omitempty"`
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Result   *checkers.Result `json:"result"`
}

type factCheck struct {
	Run string `json:"run"`
	CheckRecord
}

// RunChecker runs a named checker over the run's history and states,
// writing its artifacts under artifacts/<run>/<checker>/, journals the
// result (missing history fields included) and returns it. The model is
// options["model"] or the scenario's §7.M model. When the run's ledger has
// fault windows and options has no "fault_window", the windows are passed
// so the checker can tell whether ops lack fault_epoch. An unknown checker
// or a model the checker does not take is an error naming what exists.
func (m *Manager) RunChecker(ctx context.Context, runID, checker string, options map[string]any, progress func(done, total int)) (*checkers.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := checkers.Lookup(strings.TrimSpace(checker))
	if err != nil {
		if canon, ok := plan.CheckerByName(checker); ok {
			c, err = checkers.Lookup(canon)
		}
		if err != nil {
			return nil, fmt.Errorf("checker: %w", err)
		}
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	opts := make(map[string]any, len(options)+1)
	for k, v := range options {
		opts[k] = v
	}

	s.mu.Lock()
	model := r.Model
	if v, ok := opts["model"]; ok {
		str, isStr := v.(string)
		if !isStr || strings.TrimSpace(str) == "" {
			s.mu.Unlock()
			return nil, fmt.Errorf("options.model: want a model name (%s), got %v", strings.Join(c.Models, ", "), v)
		}
		model = str
		if name, ok := plan.ModelName(str); ok {
			model = name
		}
	}
	if _, ok := opts["fault_window"]; !ok && len(r.faults) > 0 {
		var ws []any
		for _, e := range r.faults {
			var end any
			if e.End != nil {
				end = *e.End
			}
			ws = append(ws, []any{e.Start, end})
		}
		opts["fault_window"] = ws
	}
	ops := r.opsOf()
	states := append([]StateRecord(nil), r.states...)
	artDir := s.dir("artifacts", r.Run, c.Name)
	planPath, scenario, declared, oracle := s.info.Plan, r.Scenario, r.Checker, r.Oracle
	s.mu.Unlock()

	if err := m.checkerAllowed(planPath, scenario, declared, oracle, model, c.Name); err != nil {
		return nil, err
	}

	if model == "" {
		return nil, fmt.Errorf("options.model: the scenario's §7.M declares no model; pass one of %s", strings.Join(c.Models, ", "))
	}
	if !contains(c.Models, model) {
		return nil, fmt.Errorf("options.model: checker %s does not take model %q (it takes %s)", c.Name, model, strings.Join(c.Models, ", "))
	}
	in := checkers.Input{Ops: ops, Model: model, Options: opts, Progress: progress}
	for _, st := range states {
		body, err := m.ws.ReadFile(st.Path)
		if err != nil {
			return nil, fmt.Errorf("state %s %s: %w", st.Kind, st.Name, err)
		}
		in.States = append(in.States, checkers.State{Kind: st.Kind, Name: st.Name, Data: body})
	}
	if in.ArtifactDir, err = m.ws.MkdirAll(artDir); err != nil {
		return nil, err
	}
	started := m.now().UTC()
	res, err := c.Check(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("checker %s: %w", c.Name, err)
	}
	rec := CheckRecord{Checker: c.Name, Model: model, Options: opts, Started: started, Finished: m.now().UTC(), Result: res}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.record(factCheckRecorded, &factCheck{Run: r.Run, CheckRecord: rec}); err != nil {
		return nil, err
	}
	if err := s.writeLog(); err != nil {
		return nil, err
	}
	return res, nil
}

// Checks returns the checker results journaled for a run, oldest first.
func (m *Manager) Checks(runID string) ([]CheckRecord, error) {
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CheckRecord(nil), r.checks...), nil
}

// factVerdictRecord journals an assigned verdict.
type factVerdictRecord struct {
	Scenario string          `json:"scenario"`
	Verdict  string          `json:"verdict"`
	Tier     string          `json:"tier"`
	Summary  string          `json:"summary"`
	Decision json.RawMessage `json:"decision"`
	Finding  string          `json:"finding"` // workspace-relative findings file
	// What the caller supplied, kept for the record.
	Audit        Audit         `json:"audit,omitempty"`
	FindingFacts *FindingFacts `json:"finding_facts,omitempty"`
}

// Facts assembles the verdict engine's facts for a scenario or arm of a
// session from falsify's own records: the plan (as it reads now) for what
// the scenario declares, and the journal for every run of it — seeds,
// tiers, checker results (the latest per checker), the fault ledger, the
// fault schedule signature and the workload's time span from the history.
// scenario may also be a run id or run name, meaning that run's scenario.
// For a split scenario, each arm's outcome is its journaled verdict, or the
// verdict its own facts give.
func (m *Manager) Facts(sessionID, scenario string) (Facts, error) {
	s, err := m.session(sessionID)
	if err != nil {
		return Facts{}, err
	}
	return m.facts(s, scenario, nil)
}

func (m *Manager) facts(s *session, scenario string, audit Audit) (Facts, error) {
	s.mu.Lock()
	planPath := s.info.Plan
	scenario = s.scenarioOf(scenario)
	s.mu.Unlock()
	_, p, _, err := m.loadPlan(planPath)
	if err != nil {
		return Facts{}, err
	}
	sc, arm, err := p.FindScenario(scenario)
	if err != nil {
		return Facts{}, fmt.Errorf("scenario: %w", err)
	}
	f := Facts{
		Scenario: sc.ID, Name: sc.Name, Serious: plan.Serious(p, sc),
		FaultPlanned: faultPlanned(sc.Faults),
		Smoke:        sc.Budget.Tier(plan.TierSmoke), Hardening: sc.Budget.Tier(plan.TierHardening),
		Audit: audit,
	}
	for _, c := range plan.ScenarioCategories(p, sc) {
		if c == plan.CategoryPerformance || c == plan.CategoryFairness {
			f.Statistical = true
		}
	}
	disc := sc.Discipline
	if arm != nil {
		f.Scenario = arm.ID
		if arm.Discipline != nil {
			disc = arm.Discipline
		}
	}
	if disc != nil {
		f.DeclaredChecker = disc.Checker
	}

	s.mu.Lock()
	for _, r := range s.runs {
		if strings.EqualFold(r.Scenario, f.Scenario) {
			f.Runs = append(f.Runs, s.runFacts(r))
		}
	}
	armVerdicts := map[string]json.RawMessage{}
	if arm == nil {
		for _, a := range sc.Arms {
			if raw, ok := s.verdicts[a.ID]; ok {
				armVerdicts[a.ID] = raw
			}
		}
	}
	s.mu.Unlock()
	f.EnvMissing = m.envMissing(s, f)

	if arm == nil {
		for _, a := range sc.Arms {
			out := ArmOutcome{Arm: a.ID}
			if raw, ok := armVerdicts[a.ID]; ok {
				var v factVerdictRecord
				if err := json.Unmarshal(raw, &v); err == nil && json.Unmarshal(v.Decision, &out.Decision) == nil {
					f.Arms = append(f.Arms, out)
					continue
				}
			}
			af, err := m.facts(s, a.ID, audit)
			if err != nil {
				return Facts{}, err
			}
			out.Decision = Decide(af)
			f.Arms = append(f.Arms, out)
		}
	}
	return f, nil
}

// scenarioOf maps a run id or run name to its scenario; anything else is
// returned as given. The caller holds s.mu.
func (s *session) scenarioOf(ref string) string {
	ref = strings.TrimSpace(ref)
	name := strings.TrimPrefix(ref, s.info.ID+"/")
	if r, ok := s.byName[name]; ok {
		return r.Scenario
	}
	return ref
}

// faultPlanned reports whether a scenario's Faults field declares a fault.
func faultPlanned(text string) bool {
	t := strings.ToLower(strings.TrimSpace(text))
	t = strings.Trim(t, " .*_`")
	switch {
	case t == "", t == "-", t == "—", t == "n/a", t == "na":
		return false
	case strings.HasPrefix(t, "none"), strings.HasPrefix(t, "no fault"), strings.HasPrefix(t, "no nemesis"), strings.HasPrefix(t, "n/a"):
		return false
	}
	return true
}

// runFacts builds the verdict facts of one run; the caller holds s.mu.
func (s *session) runFacts(r *run) RunFacts {
	rf := RunFacts{ID: s.runID(r.Run), Seed: r.Seed, Tier: r.Tier, Ops: len(r.ops)}
	// Checks: the latest result per checker; the journal keeps them all.
	latest := map[string]int{}
	for _, c := range r.checks {
		if c.Result == nil {
			continue
		}
		cf := CheckFacts{
			Checker: c.Result.Checker, Status: c.Result.Status, OpsConsumed: c.Result.OpsConsumed,
			OpsTotal: c.Result.OpsTotal, Missing: c.Result.Missing, Partial: c.Result.Partial,
			Evidence: c.Result.Evidence,
		}
		if cf.Checker == "" {
			cf.Checker = c.Checker
		}
		if i, ok := latest[cf.Checker]; ok {
			rf.Checks[i] = cf
			continue
		}
		latest[cf.Checker] = len(rf.Checks)
		rf.Checks = append(rf.Checks, cf)
	}
	var sig []string
	nodes := map[string]bool{}
	for _, e := range r.faults {
		ff := FaultFacts{
			Epoch: e.ID, Kind: e.Kind, Landed: e.Landed, External: e.Origin == OriginExternal,
			Asymmetric: asymmetric(e),
		}
		if e.Before != nil || e.After != nil {
			ff.Evidence = fmt.Sprintf("%s (before: %s; after: %s)", e.Evidence, e.Before, e.After)
		} else {
			ff.Evidence = e.Evidence
		}
		switch e.Origin {
		case OriginImported:
			ff.Healed = e.End != nil
		default:
			ff.Healed = e.State == FaultHealed && e.Heal != nil && e.Heal.Recovered
		}
		if e.Victim != nil && e.Victim.Changed {
			ff.VictimEvidence = fmt.Sprintf("%s (before: %s; after: %s)", e.Victim.Evidence, e.Victim.Before, e.Victim.After)
		}
		if e.Nemesis != nil {
			nemesisFacts(e, r.ops, &ff)
		}
		rf.Faults = append(rf.Faults, ff)
		targets := append([]string(nil), e.Targets...)
		sort.Strings(targets)
		sig = append(sig, strings.ToLower(e.Kind)+"["+strings.Join(targets, ",")+"]")
		for _, t := range e.Targets {
			nodes[t] = true
		}
	}
	rf.FaultSchedule = strings.Join(sig, ";")
	if rf.FaultSchedule == "" {
		rf.FaultSchedule = "no faults"
	}

	// Timestamps: the workload's span, timeouts, and whether every
	// process's ops follow each other on its clock (a process issues one
	// op at a time, so an overlap means the clock jumped back).
	perProcess := map[string][]*history.Op{}
	rf.MonotonicTS = len(r.ops) > 0
	for i := range r.ops {
		op := &r.ops[i]
		if op.Indeterminate() {
			rf.TimedOut++
		}
		if op.NodeSeen != nil {
			nodes[*op.NodeSeen] = true
		}
		if op.InvokeTS == nil {
			rf.MonotonicTS = false
			continue
		}
		if rf.StartNS == 0 || *op.InvokeTS < rf.StartNS {
			rf.StartNS = *op.InvokeTS
		}
		end := *op.InvokeTS
		if op.CompleteTS != nil {
			end = *op.CompleteTS
		}
		if end > rf.EndNS {
			rf.EndNS = end
		}
		if op.ProcessID != nil {
			perProcess[*op.ProcessID] = append(perProcess[*op.ProcessID], op)
		}
	}
	for _, ops := range perProcess {
		sort.SliceStable(ops, func(i, j int) bool { return *ops[i].InvokeTS < *ops[j].InvokeTS })
		for i := 1; i < len(ops); i++ {
			prev := ops[i-1]
			if prev.CompleteTS != nil && *ops[i].InvokeTS < *prev.CompleteTS {
				rf.MonotonicTS = false
			}
		}
	}
	for _, st := range r.states {
		if st.Kind == checkers.StateReplica {
			nodes[st.Name] = true
		}
	}
	rf.Nodes = len(nodes)
	return rf
}

// asymmetric reports whether a fault is a one-direction or mixed variant,
// from its kind, description or params.
func asymmetric(e *Epoch) bool {
	text := strings.ToLower(e.Kind + " " + e.Description)
	for _, w := range []string{"asym", "one-way", "one way", "one direction", "one-direction", "unidirectional", "mixed"} {
		if strings.Contains(text, w) {
			return true
		}
	}
	if v, ok := e.Params["asymmetric"].(bool); ok {
		return v
	}
	if d, ok := e.Params["direction"].(string); ok {
		d = strings.ToLower(d)
		return d == "in" || d == "out" || d == "inbound" || d == "outbound" || d == "one-way"
	}
	return false
}

// AssignVerdict derives the verdict of a scenario or arm (or of the
// scenario of a run id) from the journal, the caller's audit answers and,
// for a FAIL, the finding facts; journals it and writes
// findings/<scenario>.md. The caller cannot choose the verdict. A
// scenario with no run, or whose runs have no checker result yet, is an
// error naming the missing step.
func (m *Manager) AssignVerdict(ctx context.Context, sessionID, scenario string, audit Audit, finding *FindingFacts) (Decision, string, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, "", err
	}
	s, err := m.session(sessionID)
	if err != nil {
		return Decision{}, "", err
	}
	f, err := m.facts(s, scenario, audit)
	if err != nil {
		return Decision{}, "", err
	}
	f.Finding = finding
	if err := missingStep(f); err != nil {
		return Decision{}, "", err
	}
	d := Decide(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	rel := s.dir("findings", strings.ReplaceAll(f.Scenario, "/", "-")+".md")
	if err := m.ws.WriteFileAtomic(rel, RenderFinding(d, f)); err != nil {
		return Decision{}, "", err
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return Decision{}, "", err
	}
	summary := ""
	if len(d.Reasons) > 0 {
		summary = d.Reasons[0]
	}
	rec := &factVerdictRecord{
		Scenario: f.Scenario, Verdict: string(d.Verdict), Tier: d.TierMet, Summary: summary,
		Decision: raw, Finding: rel, Audit: audit, FindingFacts: finding,
	}
	if err := s.record(factVerdict, rec); err != nil {
		return Decision{}, "", err
	}
	if err := s.writeLog(); err != nil {
		return Decision{}, "", err
	}
	return d, rel, nil
}

// missingStep names what must happen before a verdict can be derived: a
// scenario (without arms) needs a run, and at least one run with a
// checker result.
func missingStep(f Facts) error {
	if len(f.Arms) > 0 {
		return nil
	}
	if len(f.Runs) == 0 {
		return fmt.Errorf("scenario %s has no run in this session: start_run, then record_op (or import_history) and run_checker before assign_verdict", f.Scenario)
	}
	var steps []string
	for _, r := range f.Runs {
		if len(r.Checks) > 0 {
			return nil
		}
		checker := f.DeclaredChecker
		if checker == "" {
			checker = "the scenario's checker"
		}
		if r.Ops == 0 {
			steps = append(steps, fmt.Sprintf("run %s has no history: record_op or import_history, then run_checker %s", r.ID, checker))
		} else {
			steps = append(steps, fmt.Sprintf("run %s has %d ops and no checker result: run_checker %s", r.ID, r.Ops, checker))
		}
	}
	return fmt.Errorf("scenario %s has no checker result yet: %s; then assign_verdict", f.Scenario, strings.Join(steps, "; "))
}
