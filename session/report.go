package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/falsify-dev/falsify/plan"
)

// SessionVerdict is the verdict of a whole session (SPEC §7).
type SessionVerdict string

// The session verdicts (SPEC §7), strongest evidence first.
const (
	SessionFail             SessionVerdict = "FAIL"
	SessionDone             SessionVerdict = "DONE"
	SessionDoneWithConcerns SessionVerdict = "DONE_WITH_CONCERNS"
	SessionInconclusive     SessionVerdict = "INCONCLUSIVE"
	SessionBlocked          SessionVerdict = "BLOCKED"
)

// Files the report writes, under the session's findings/ folder.
const (
	reportName  = "report.md"
	junitName   = "junit.xml"
	summaryName = "summary.json"
)

// factSessionFinished journals a finish_session call.
const factSessionFinished = "session-finished"

// finishRecord is the journaled finish of a session; the latest one wins.
type finishRecord struct {
	Notes    string         `json:"notes"`
	Finished time.Time      `json:"finished"`
	Verdict  SessionVerdict `json:"verdict"`
}

// Outcome is the verdict of one scenario or arm as the session report
// reads it: the verdict assign_verdict journaled or, for a scenario no one
// assigned, the one falsify derives from its records at finish time.
type Outcome struct {
	ID       string  `json:"id"` // S1 or S4/api
	Name     string  `json:"name"`
	Verdict  Verdict `json:"verdict"`
	TierMet  string  `json:"tier_met"`
	Assigned bool    `json:"assigned"` // journaled by assign_verdict
	// AssignedAs is the verdict assign_verdict journaled when the records
	// now give another one (runs, faults or the environment changed after
	// it). Verdict is always what the records give at report time, read
	// with the latest audit answers and finding facts.
	AssignedAs Verdict `json:"assigned_as,omitempty"`
	// Reproducer is a FAIL's reproducer: the finding's, or the same-seed
	// re-run that reproduced it.
	Reproducer string      `json:"reproducer,omitempty"`
	Oracle     string      `json:"oracle"`
	Checker    string      `json:"checker"`
	Runs       int         `json:"runs"`
	Evidence   []string    `json:"evidence"`  // checker execution evidence, one per run and checker
	Landing    []string    `json:"landing"`   // landing evidence, one per fault
	Artifacts  []string    `json:"artifacts"` // session-relative paths
	Finding    string      `json:"finding,omitempty"`
	Reasons    []string    `json:"reasons"`
	Blockers   []string    `json:"blockers"`
	Audit      []AuditItem `json:"audit,omitempty"`
	// Faults are the fault epochs of the unit's runs, from the ledger.
	Faults []FaultFacts `json:"faults,omitempty"`
	// FindingFacts are the §6.4 facts assign_verdict was given for a FAIL.
	FindingFacts *FindingFacts `json:"finding_facts,omitempty"`
}

// ran reports whether the scenario or arm got as far as running: it is
// neither NOT-RUN nor INCONCLUSIVE-env (could not start).
func (o *Outcome) ran() bool {
	return o.Verdict != NotRun && o.Verdict != InconclusiveEnv && o.Verdict != ""
}

// hasReproducer reports whether a FAIL carries a reproducer.
func (o *Outcome) hasReproducer() bool {
	return o.Verdict == FailReproducible || o.Verdict.IsFail() && !noText(o.Reproducer)
}

// DecideSession derives a session's verdict from its scenario and arm
// outcomes, by the strongest evidence rather than by counting (SPEC §7):
//
//   - FAIL when any FAIL has a reproducer (FAIL-reproducible, or a FAIL
//     whose finding names one);
//   - BLOCKED when nothing ran: every outcome is NOT-RUN or
//     INCONCLUSIVE-env (could not start), or there is none;
//   - DONE when at least one PASS and no concern;
//   - DONE_WITH_CONCERNS when a PASS and some concern: an INCONCLUSIVE or
//     PARTIAL outcome, a scenario the session never reached (NOT-RUN), a
//     or a FAIL without a reproducer;
//   - INCONCLUSIVE when nothing passed.
//
// The reasons say which rule fired and name the outcomes it read.
func DecideSession(outs []Outcome) (SessionVerdict, []string) {
	var fails, passes, concerns []string
	ran := false
	for i := range outs {
		o := &outs[i]
		label := fmt.Sprintf("%s %s", o.ID, o.Verdict)
		if o.ran() {
			ran = true
		}
		switch {
		case o.hasReproducer():
			fails = append(fails, label)
		case o.Verdict.IsFail():
			concerns = append(concerns, label+" without a reproducer")
		case o.Verdict.IsPass():
			passes = append(passes, label)
		default:
			concerns = append(concerns, label)
		}
	}
	switch {
	case len(fails) > 0:
		return SessionFail, []string{"FAIL: a FAIL carries a reproducer: " + strings.Join(fails, ", ")}
	case !ran:
		if len(outs) == 0 {
			return SessionBlocked, []string{"BLOCKED: the plan has no scenario and nothing ran"}
		}
		return SessionBlocked, []string{"BLOCKED: nothing ran: " + strings.Join(concerns, ", ")}
	case len(passes) > 0 && len(concerns) == 0:
		return SessionDone, []string{"DONE: passed with checker evidence and nothing inconclusive: " + strings.Join(passes, ", ")}
	case len(passes) > 0:
		return SessionDoneWithConcerns, []string{"DONE_WITH_CONCERNS: passed: " + strings.Join(passes, ", "), "concerns: " + strings.Join(concerns, ", ")}
	}
	return SessionInconclusive, []string{"INCONCLUSIVE: no scenario passed: " + strings.Join(concerns, ", ")}
}

// HypothesisCoverage says whether a plan hypothesis was exercised: a
// scenario closing it ran.
type HypothesisCoverage struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Falsifies []string `json:"could_falsify"`
	ClosedBy  []string `json:"closed_by"` // "S1 PASS-hardening"
	Exercised bool     `json:"exercised"`
	Why       string   `json:"why"`
}

// Claim adequacy levels against the plan's §7b.
const (
	AdequacyMet     = "met"
	AdequacyPartial = "partial"
	AdequacyUnmet   = "unmet"
)

// ClaimAdequacy is one claim's adequacy against its §7b row.
type ClaimAdequacy struct {
	Claim     string   `json:"claim"`
	Category  string   `json:"category"`
	Scenarios []string `json:"scenarios"` // as §7b names them
	Verdicts  []string `json:"verdicts"`  // "S1 PASS-hardening"
	Adequacy  string   `json:"adequacy"`
	Why       string   `json:"why"`
}

// SurfaceCoverage is one arm of a split scenario.
type SurfaceCoverage struct {
	Scenario string  `json:"scenario"`
	Arm      string  `json:"arm"`
	Surface  string  `json:"surface"`
	Verdict  Verdict `json:"verdict"`
	Tested   bool    `json:"tested"`
	// NamedIn7d is set for an untested surface: whether §7d names it, as
	// SPEC §2.5 requires.
	NamedIn7d *bool `json:"named_in_7d,omitempty"`
}

// ReleaseDisclosure is a scenario whose release tier the plan does not
// provide.
type ReleaseDisclosure struct {
	Scenario string `json:"scenario"`
	Text     string `json:"text"`
	Reason   string `json:"reason"`
	Revisit  string `json:"revisit"`
}

// Confidence deltas against §7d.
const (
	BelieveMore      = "believe more"
	BelieveLess      = "believe less"
	BelieveUnchanged = "unchanged"
)

// ConfidenceDelta is how this session moves the plan's §7d confidence.
type ConfidenceDelta struct {
	Statement string `json:"statement"` // §7d as written
	Delta     string `json:"delta"`
	Why       string `json:"why"`
}

// SessionReport is what finish_session produces (SPEC §7).
type SessionReport struct {
	Session     SessionInfo          `json:"session"`
	Verdict     SessionVerdict       `json:"verdict"`
	Headline    string               `json:"headline"`
	Rule        []string             `json:"rule"`
	Outcomes    []Outcome            `json:"outcomes"`
	Hypotheses  []HypothesisCoverage `json:"hypotheses"`
	Adequacy    []ClaimAdequacy      `json:"adequacy"`
	Surfaces    []SurfaceCoverage    `json:"surfaces"`
	Release     []ReleaseDisclosure  `json:"release"`
	ReleaseRuns []string             `json:"release_runs"` // runs at the release tier
	Confidence  ConfidenceDelta      `json:"confidence"`
	Notes       string               `json:"notes"`
	Finished    time.Time            `json:"finished"`
	// PlanNote is set when the plan on disk differs from the one the
	// session started on.
	PlanNote    string       `json:"plan_note,omitempty"`
	Environment *Environment `json:"environment,omitempty"`
	// Paths, workspace-relative.
	Report  string `json:"report"`
	Log     string `json:"log"`
	JUnit   string `json:"junit"`
	Summary string `json:"summary"`
}

// FinishSession ends a session: it derives every scenario's and arm's
// outcome (the journaled verdict, or the one falsify's records give for a
// scenario no one assigned), the session verdict (SPEC §7), journals the
// finish with the caller's confidence notes, and writes
// findings/report.md, findings/junit.xml, findings/summary.json and a
// complete session-log.md. It may be called again; the latest call wins.
func (m *Manager) FinishSession(ctx context.Context, sessionID, notes string) (*SessionReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := m.session(sessionID)
	if err != nil {
		return nil, err
	}
	fin := finishRecord{Notes: strings.TrimSpace(notes), Finished: m.now().UTC()}
	env, err := s.environment()
	if err != nil {
		return nil, err
	}
	rep, err := m.buildReport(ctx, s, env, &fin)
	if err != nil {
		return nil, err
	}
	fin.Verdict = rep.Verdict
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.j.Append(factSessionFinished, &fin)
	if err != nil {
		return nil, err
	}
	s.log(f.Time, finishLine(&fin))
	if err := s.writeReport(rep); err != nil {
		return nil, err
	}
	if err := s.writeLogWithExtras(env, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

func finishLine(fin *finishRecord) string {
	line := fmt.Sprintf("session finished: %s", fin.Verdict)
	if fin.Notes != "" {
		line += " — notes: " + findingLine(fin.Notes)
	}
	return line
}

// OpenSessionDir returns the workspace a session directory belongs to and
// the directory relative to it: the parent of the test-sessions folder
// that holds it. dir may be absolute or relative to the working directory.
func OpenSessionDir(dir string) (*Workspace, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("session dir %q: %w", dir, err)
	}
	abs = filepath.Clean(abs)
	sess := filepath.Dir(filepath.Dir(abs))
	if filepath.Base(sess) != sessionsDir {
		return nil, "", fmt.Errorf("session dir %q: not a %s/<plan-slug>/<UTC timestamp> directory", dir, sessionsDir)
	}
	ws, err := OpenWorkspace(filepath.Dir(sess))
	if err != nil {
		return nil, "", err
	}
	rel, err := filepath.Rel(ws.Root(), abs)
	if err != nil {
		return nil, "", err
	}
	return ws, filepath.ToSlash(rel), nil
}

// RegenerateReport rebuilds findings/report.md, findings/junit.xml,
// findings/summary.json, environment.json and session-log.md of a session
// from its journal alone (and the plan it names), without opening the
// session for writing: the journal is read, never repaired or appended
// to. sessionDir is the session's directory, relative to the workspace
// ("test-sessions/<slug>/<UTC timestamp>") or absolute inside it.
func RegenerateReport(ws *Workspace, sessionDir string) (*SessionReport, error) {
	abs, err := ws.Resolve(sessionDir)
	if err != nil {
		return nil, fmt.Errorf("session dir: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(abs, journalName))
	if err != nil {
		return nil, fmt.Errorf("session dir %s: %w", sessionDir, err)
	}
	facts, _, torn, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("session dir %s: journal: %w", sessionDir, err)
	}
	if len(facts) == 0 {
		return nil, fmt.Errorf("session dir %s: the journal holds no fact", sessionDir)
	}
	m := NewManager(ws)
	s := newSession(m, nil)
	var env *Environment
	var fin *finishRecord
	for _, f := range facts {
		switch f.Type {
		case factEnvironment:
			var e Environment
			if err := json.Unmarshal(f.Data, &e); err != nil {
				return nil, fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
			}
			env = &e
		case factSessionFinished:
			var fr finishRecord
			if err := json.Unmarshal(f.Data, &fr); err != nil {
				return nil, fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
			}
			fin = &fr
		}
		if err := s.replayAll(f); err != nil {
			return nil, fmt.Errorf("journal fact %d (%s): %w", f.Seq, f.Type, err)
		}
	}
	if torn != "" {
		s.log(facts[len(facts)-1].Time, "journal read for the report: a torn final line was ignored ("+torn+")")
	}
	if rel, err := filepath.Rel(ws.Root(), abs); err == nil && filepath.ToSlash(rel) != s.info.Dir {
		return nil, fmt.Errorf("session dir %s: its journal belongs to session %s (%s)", sessionDir, s.info.ID, s.info.Dir)
	}
	if fin == nil {
		fin = &finishRecord{Finished: facts[len(facts)-1].Time.UTC()}
	}
	rep, err := m.buildReport(context.Background(), s, env, fin)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if env != nil {
		if err := s.saveEnvironment(env); err != nil {
			return nil, err
		}
	}
	if err := s.writeReport(rep); err != nil {
		return nil, err
	}
	if err := s.writeLogWithExtras(env, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// replayAll applies any journal fact, including the report's own, to the
// in-memory state.
func (s *session) replayAll(f Fact) error {
	switch f.Type {
	case factEnvironment, factSessionFinished:
		return s.replayReportFact(f)
	}
	return s.replay(f)
}

// replayReportFact puts a discovery or finish fact back on the timeline
// when a session is reopened. session.replay calls it for the fact types
// this file journals.
func (s *session) replayReportFact(f Fact) error {
	switch f.Type {
	case factEnvironment:
		var env Environment
		if err := json.Unmarshal(f.Data, &env); err != nil {
			return err
		}
		if env.Toolbox == nil {
			env.Toolbox = &Toolbox{}
		}
		s.log(f.Time, environmentLine(&env))
	case factSessionFinished:
		var fin finishRecord
		if err := json.Unmarshal(f.Data, &fin); err != nil {
			return err
		}
		s.log(f.Time, finishLine(&fin))
	}
	return nil
}

// buildReport derives the report of a session from its state and plan.
func (m *Manager) buildReport(ctx context.Context, s *session, env *Environment, fin *finishRecord) (*SessionReport, error) {
	s.mu.Lock()
	info := *s.snapshot()
	s.mu.Unlock()
	_, p, src, err := m.loadPlan(info.Plan)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rep := &SessionReport{
		Session: info, Notes: fin.Notes, Finished: fin.Finished, Environment: env,
		Report: path.Join(info.Dir, "findings", reportName), Log: path.Join(info.Dir, sessionLogName),
		JUnit: path.Join(info.Dir, "findings", junitName), Summary: path.Join(info.Dir, "findings", summaryName),
	}
	if sha := sha256Hex(src); sha != info.PlanSHA256 {
		rep.PlanNote = fmt.Sprintf("the plan %s changed since the session started (sha256 %s then, %s now); scenario names, oracles and budgets below are read from the current plan", info.Plan, short(info.PlanSHA256), short(sha))
	}
	if orphans := orphanRuns(p, s); len(orphans) > 0 {
		note := "runs of scenarios the current plan no longer has are not reported: " + strings.Join(orphans, ", ")
		if rep.PlanNote != "" {
			note = rep.PlanNote + "; " + note
		}
		rep.PlanNote = note
	}
	for _, u := range reportUnits(p, s) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o, err := m.outcome(s, u)
		if err != nil {
			return nil, err
		}
		rep.Outcomes = append(rep.Outcomes, o)
	}
	rep.Verdict, rep.Rule = DecideSession(rep.Outcomes)
	rep.Headline = headline(rep)
	rep.Hypotheses = hypothesisCoverage(p, rep.Outcomes)
	rep.Adequacy = claimAdequacy(p, rep.Outcomes)
	rep.Surfaces = surfaceCoverage(p, rep.Outcomes)
	rep.Release, rep.ReleaseRuns = releaseDisclosures(p, s)
	rep.Confidence = confidenceDelta(p, rep.Outcomes)
	return rep, nil
}

// unit is one row of the scenario table: an arm, a scenario without arms,
// or a split scenario that has runs or a verdict of its own.
type unit struct {
	id       string
	scenario *plan.Scenario
	arm      *plan.Arm
}

// reportUnits lists the plan's scenarios and arms in plan order, one per
// row of the report (SPEC §7: one row per arm).
func reportUnits(p *plan.Plan, s *session) []unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []unit
	for i := range p.Scenarios {
		sc := &p.Scenarios[i]
		own := len(sc.Arms) == 0
		if !own {
			if _, ok := s.verdicts[sc.ID]; ok {
				own = true
			}
			for _, r := range s.runs {
				if strings.EqualFold(r.Scenario, sc.ID) {
					own = true
				}
			}
		}
		if own {
			out = append(out, unit{id: sc.ID, scenario: sc})
		}
		for j := range sc.Arms {
			out = append(out, unit{id: sc.Arms[j].ID, scenario: sc, arm: &sc.Arms[j]})
		}
	}
	return out
}

// orphanRuns lists the runs whose scenario or arm the plan no longer has.
func orphanRuns(p *plan.Plan, s *session) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.runs {
		if _, _, err := p.FindScenario(r.Scenario); err != nil {
			out = append(out, fmt.Sprintf("%s (%s)", r.Run, r.Scenario))
		}
	}
	return out
}

// outcome derives one unit's outcome from m.facts, whose EnvMissing holds
// what the session's discovered environment and fault refusals give.
func (m *Manager) outcome(s *session, u unit) (Outcome, error) {
	s.mu.Lock()
	raw, assigned := s.verdicts[u.id]
	s.mu.Unlock()
	var rec factVerdictRecord
	if assigned {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return Outcome{}, fmt.Errorf("verdict of %s: %w", u.id, err)
		}
	}
	f, err := m.facts(s, u.id, rec.Audit)
	if err != nil {
		return Outcome{}, err
	}
	f.Finding = rec.FindingFacts
	now := Decide(f)
	o := Outcome{ID: u.id, Name: u.scenario.Name, Assigned: assigned, Oracle: u.scenario.Oracle,
		FindingFacts: rec.FindingFacts, Runs: len(f.Runs)}
	for _, r := range f.Runs {
		o.Faults = append(o.Faults, r.Faults...)
	}
	if u.arm != nil && !noText(u.arm.Oracle) {
		o.Oracle = u.arm.Oracle
	}
	o.Checker = f.DeclaredChecker
	// The verdict is always what the records give now; a journaled one
	// that differs is reported, never trusted over the records.
	d := now
	if assigned {
		var jd Decision
		if err := json.Unmarshal(rec.Decision, &jd); err != nil {
			return Outcome{}, fmt.Errorf("verdict of %s: decision: %w", u.id, err)
		}
		if jd.Verdict != now.Verdict {
			o.AssignedAs = jd.Verdict
		}
		o.Finding = strings.TrimPrefix(rec.Finding, s.info.Dir+"/")
	}

	o.Verdict, o.TierMet = d.Verdict, d.TierMet
	o.Reasons, o.Blockers, o.Audit = d.Reasons, d.Blockers, d.Audit
	if !assigned && o.Runs > 0 {
		o.Reasons = append([]string{"derived at finish_session from the records: assign_verdict was never called, so every audit item is unanswered"}, o.Reasons...)
	}
	if o.AssignedAs != "" {
		o.Reasons = append([]string{fmt.Sprintf("assign_verdict gave %s, but runs, faults or the environment changed since: the records now give %s (findings/%s is out of date; call assign_verdict again)", o.AssignedAs, o.Verdict, path.Base(o.Finding))}, o.Reasons...)
	}
	if d.Verdict.IsFail() {
		if rec.FindingFacts != nil && !noText(rec.FindingFacts.Reproducer) {
			o.Reproducer = rec.FindingFacts.Reproducer
		} else if d.Verdict == FailReproducible {
			o.Reproducer = "same-seed re-run: " + reproducedBy(d)
		}
	}
	o.Evidence, o.Landing = runEvidence(s, f)
	o.Artifacts = artifactsOf(s, u.id)
	if o.Finding != "" {
		o.Artifacts = append(o.Artifacts, o.Finding)
	}
	return o, nil
}

// reproducedBy returns the reason that names the reproducing runs.
func reproducedBy(d Decision) string {
	for _, r := range d.Reasons {
		if strings.HasPrefix(r, "reproduced: ") {
			return strings.TrimPrefix(r, "reproduced: ")
		}
	}
	return "see the rule path"
}

// runEvidence returns the checker execution evidence and the landing
// evidence of a unit's runs.
func runEvidence(s *session, f Facts) (evidence, landing []string) {
	for _, r := range f.Runs {
		id := strings.TrimPrefix(r.ID, s.info.ID+"/")
		if len(r.Checks) == 0 {
			evidence = append(evidence, fmt.Sprintf("%s: no checker ran (%d ops recorded)", id, r.Ops))
		}
		for _, c := range r.Checks {
			evidence = append(evidence, id+" "+c.summary())
		}
		for _, ft := range r.Faults {
			l := fmt.Sprintf("%s/%s %s: ", id, ft.Epoch, verdictText(ft.Kind))
			if ft.Landed {
				l += "landed"
			} else {
				l += "NOT proven"
			}
			if ft.Asymmetric {
				l += " (asymmetric)"
			}
			l += " — " + verdictText(ft.Evidence)
			if !noText(ft.VictimEvidence) {
				l += "; victim: " + ft.VictimEvidence
			}
			if !ft.Healed {
				l += "; NOT healed"
			}
			landing = append(landing, l)
		}
	}
	return evidence, landing
}

// artifactsOf lists the session-relative artifacts of a unit's runs: each
// history, stored state and checker output.
func artifactsOf(s *session, id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.runs {
		if !strings.EqualFold(r.Scenario, id) {
			continue
		}
		if len(r.ops) > 0 {
			out = append(out, path.Join("artifacts", r.Run, historyName))
		}
		for _, st := range r.states {
			out = append(out, strings.TrimPrefix(st.Path, s.info.Dir+"/"))
		}
		seen := map[string]bool{}
		for _, c := range r.checks {
			if c.Result == nil {
				continue
			}
			for _, a := range c.Result.Artifacts {
				if rel := sessionRelative(s.info.Dir, a); rel != "" && !seen[rel] {
					seen[rel] = true
					out = append(out, rel)
				}
			}
		}
	}
	return out
}

// sessionRelative maps an artifact path (absolute when the checker wrote
// it, possibly on another host) to a path relative to the session
// directory, or "" when it is not inside one.
func sessionRelative(dir, p string) string {
	p = filepath.ToSlash(p)
	if i := strings.LastIndex(p, "/"+dir+"/"); i >= 0 {
		return p[i+len(dir)+2:]
	}
	if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
		return rest
	}
	return ""
}

// headline is the report's one sentence after the session verdict.
func headline(rep *SessionReport) string {
	counts := verdictCounts(rep.Outcomes)
	switch rep.Verdict {
	case SessionFail:
		var ids []string
		for i := range rep.Outcomes {
			if rep.Outcomes[i].hasReproducer() {
				ids = append(ids, fmt.Sprintf("%s (%s)", rep.Outcomes[i].ID, rep.Outcomes[i].Verdict))
			}
		}
		return fmt.Sprintf("a claim under test was falsified with a reproducer by %s; across all %d scenario rows: %s.", strings.Join(ids, ", "), len(rep.Outcomes), counts)
	case SessionDone:
		return fmt.Sprintf("every scenario row ran and passed with checker evidence, none inconclusive: %s.", counts)
	case SessionDoneWithConcerns:
		return fmt.Sprintf("some scenarios passed, but not every row reached a conclusive PASS: %s.", counts)
	case SessionInconclusive:
		return fmt.Sprintf("no scenario passed, so this session supports no claim: %s.", counts)
	}
	return fmt.Sprintf("nothing ran: %s.", counts)
}

// verdictCounts summarises outcomes by verdict in SPEC §6.1 order.
func verdictCounts(outs []Outcome) string {
	n := map[Verdict]int{}
	for _, o := range outs {
		n[o.Verdict]++
	}
	var parts []string
	for _, v := range Verdicts() {
		if n[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[v], v))
		}
	}
	if len(parts) == 0 {
		return "no scenario"
	}
	return strings.Join(parts, ", ")
}

// outcomesOf returns the outcomes that belong to a scenario id ("S4" →
// S4 and its arms) or to one arm ("S4/api").
func outcomesOf(outs []Outcome, id string) []*Outcome {
	id = strings.TrimSpace(id)
	var res []*Outcome
	for i := range outs {
		o := &outs[i]
		if strings.EqualFold(o.ID, id) || !strings.Contains(id, "/") && strings.HasPrefix(strings.ToLower(o.ID), strings.ToLower(id)+"/") {
			res = append(res, o)
		}
	}
	return res
}

func labels(outs []*Outcome) []string {
	var l []string
	for _, o := range outs {
		l = append(l, fmt.Sprintf("%s %s", o.ID, o.Verdict))
	}
	return l
}

// hypothesisCoverage says, for every hypothesis of the plan, whether a
// scenario closing it ran, and why not.
func hypothesisCoverage(p *plan.Plan, outs []Outcome) []HypothesisCoverage {
	var rows []HypothesisCoverage
	for _, h := range p.Hypotheses {
		row := HypothesisCoverage{ID: h.ID, Title: h.Title, Falsifies: h.Falsifies, ClosedBy: []string{}}
		var closers []*Outcome
		var closerIDs []string
		for _, sc := range p.Scenarios {
			for _, c := range sc.Closes {
				if strings.EqualFold(strings.TrimSpace(c), h.ID) {
					closerIDs = append(closerIDs, sc.ID)
					closers = append(closers, outcomesOf(outs, sc.ID)...)
				}
			}
		}
		row.ClosedBy = labels(closers)
		var ran, notRan []string
		for _, o := range closers {
			if o.ran() {
				ran = append(ran, fmt.Sprintf("%s %s", o.ID, o.Verdict))
			} else {
				why := "was never run"
				if o.Verdict == InconclusiveEnv {
					why = "could not start (INCONCLUSIVE-env)"
				}
				notRan = append(notRan, o.ID+" "+why)
			}
		}
		switch {
		case len(closerIDs) == 0:
			row.Why = "no scenario of the plan closes it"
		case len(ran) > 0:
			row.Exercised = true
			row.Why = "ran: " + strings.Join(ran, ", ")
			if len(notRan) > 0 {
				row.Why += "; " + strings.Join(notRan, ", ")
			}
		default:
			row.Why = strings.Join(notRan, ", ")
		}
		rows = append(rows, row)
	}
	return rows
}

// claimAdequacy rates every claim against its §7b row: met when every
// scenario §7b names reached PASS-hardening, partial when some reached a
// PASS or PARTIAL result, unmet otherwise (none ran to a result, or one
// falsified the claim).
func claimAdequacy(p *plan.Plan, outs []Outcome) []ClaimAdequacy {
	var rows []ClaimAdequacy
	for _, c := range p.Claims {
		row := ClaimAdequacy{Claim: c.ID, Category: c.Category, Scenarios: []string{}, Verdicts: []string{}}
		var ad *plan.AdequacyRow
		for i := range p.Adequacy {
			if strings.EqualFold(strings.TrimSpace(p.Adequacy[i].Claim), c.ID) {
				ad = &p.Adequacy[i]
				break
			}
		}
		if ad == nil {
			row.Adequacy, row.Why = AdequacyUnmet, "§7b has no row for this claim"
			rows = append(rows, row)
			continue
		}
		row.Scenarios = append(row.Scenarios, ad.Scenarios...)
		var units []*Outcome
		var unknown []string
		for _, id := range ad.Scenarios {
			got := outcomesOf(outs, id)
			if len(got) == 0 {
				unknown = append(unknown, id)
			}
			units = append(units, got...)
		}
		row.Verdicts = labels(units)
		var fails, hard, weak, none []string
		for _, o := range units {
			l := fmt.Sprintf("%s %s", o.ID, o.Verdict)
			switch {
			case o.Verdict.IsFail():
				fails = append(fails, l)
			case o.Verdict == PassHardening:
				hard = append(hard, l)
			case o.Verdict == PassSmoke || o.Verdict.IsPartial():
				weak = append(weak, l)
			default:
				none = append(none, l)
			}
		}
		switch {
		case len(units) == 0 && len(unknown) > 0:
			row.Adequacy, row.Why = AdequacyUnmet, "§7b names scenarios the plan does not have: "+strings.Join(unknown, ", ")
			unknown = nil
		case len(units) == 0:
			row.Adequacy, row.Why = AdequacyUnmet, "§7b names no scenario"
		case len(fails) > 0:
			row.Adequacy, row.Why = AdequacyUnmet, "falsified: "+strings.Join(fails, ", ")
		case len(hard) == len(units):
			row.Adequacy, row.Why = AdequacyMet, "every §7b scenario reached PASS-hardening: "+strings.Join(hard, ", ")
		case len(hard)+len(weak) > 0:
			row.Adequacy = AdequacyPartial
			var why []string
			if len(hard) > 0 {
				why = append(why, "hardening evidence from "+strings.Join(hard, ", "))
			}
			if len(weak) > 0 {
				why = append(why, "short of PASS-hardening: "+strings.Join(weak, ", "))
			}
			if len(none) > 0 {
				why = append(why, "no result: "+strings.Join(none, ", "))
			}
			row.Why = strings.Join(why, "; ")
		default:
			row.Adequacy, row.Why = AdequacyUnmet, "no §7b scenario reached a result: "+strings.Join(none, ", ")
		}
		if len(unknown) > 0 {
			row.Why += "; §7b names scenarios the plan does not have: " + strings.Join(unknown, ", ")
		}
		rows = append(rows, row)
	}
	return rows
}

// surfaceCoverage lists the arms of every split scenario with their
// verdicts, and whether §7d names each untested surface.
func surfaceCoverage(p *plan.Plan, outs []Outcome) []SurfaceCoverage {
	var rows []SurfaceCoverage
	conf := strings.ToLower(p.Confidence)
	for _, sc := range p.Scenarios {
		for _, a := range sc.Arms {
			row := SurfaceCoverage{Scenario: sc.ID, Arm: a.ID, Surface: a.Surface, Verdict: NotRun}
			if got := outcomesOf(outs, a.ID); len(got) > 0 {
				row.Verdict = got[0].Verdict
			}
			row.Tested = row.Verdict.IsPass() || row.Verdict.IsFail() || row.Verdict == PartialModel
			if !row.Tested {
				named := surfaceNamed(conf, a.Surface)
				row.NamedIn7d = &named
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// surfaceNamed reports whether the confidence statement names a surface:
// the surface's words before any parenthesis, or its first two words.
func surfaceNamed(conf, surface string) bool {
	s := strings.ToLower(surface)
	if i := strings.IndexAny(s, "(`"); i > 0 {
		s = s[:i]
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return false
	}
	if strings.Contains(conf, s) {
		return true
	}
	words := strings.Fields(s)
	if len(words) > 2 {
		return strings.Contains(conf, strings.Join(words[:2], " "))
	}
	return false
}

// releaseDisclosures lifts the scenarios whose release tier is not
// provided, and lists the runs made at the release tier.
func releaseDisclosures(p *plan.Plan, s *session) ([]ReleaseDisclosure, []string) {
	var rows []ReleaseDisclosure
	for _, sc := range p.Scenarios {
		t := sc.Budget.Tier(plan.TierRelease)
		if t.NotProvided {
			rows = append(rows, ReleaseDisclosure{Scenario: sc.ID, Text: t.Text, Reason: t.Reason, Revisit: t.Revisit})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var runs []string
	for _, r := range s.runs {
		if r.Tier == plan.TierRelease {
			runs = append(runs, fmt.Sprintf("%s (%s, seed %s)", r.Run, r.Scenario, r.Seed))
		}
	}
	return rows, runs
}

// confidenceDelta derives how the session moves §7d, by rule: any FAIL →
// believe less; every row PASS-hardening → believe more; else unchanged.
func confidenceDelta(p *plan.Plan, outs []Outcome) ConfidenceDelta {
	cd := ConfidenceDelta{Statement: strings.TrimSpace(p.Confidence)}
	var fails, hard, short []string
	for _, o := range outs {
		l := fmt.Sprintf("%s %s", o.ID, o.Verdict)
		switch {
		case o.Verdict.IsFail():
			fails = append(fails, l)
		case o.Verdict == PassHardening:
			hard = append(hard, l)
		default:
			short = append(short, l)
		}
	}
	switch {
	case len(fails) > 0:
		cd.Delta = BelieveLess
		cd.Why = "a checker found a violation the statement's wording does not allow: " + strings.Join(fails, ", ")
	case len(outs) > 0 && len(short) == 0:
		cd.Delta = BelieveMore
		cd.Why = "every scenario row reached PASS-hardening under its declared faults, budget and seeds: " + strings.Join(hard, ", ")
	default:
		cd.Delta = BelieveUnchanged
		cd.Why = "not every scenario row reached PASS-hardening (" + strings.Join(short, ", ") + ")"
		if len(hard) > 0 {
			cd.Why += "; hardening evidence only from " + strings.Join(hard, ", ")
		}
		if len(outs) == 0 {
			cd.Why = "the plan has no scenario"
		}
	}
	return cd
}

// writeReport writes report.md and the exports; the caller holds s.mu.
func (s *session) writeReport(rep *SessionReport) error {
	if err := s.m.ws.WriteFileAtomic(rep.Report, RenderReport(rep)); err != nil {
		return err
	}
	x, err := JUnitXML(rep)
	if err != nil {
		return err
	}
	if err := s.m.ws.WriteFileAtomic(rep.JUnit, x); err != nil {
		return err
	}
	j, err := SummaryJSON(rep)
	if err != nil {
		return err
	}
	return s.m.ws.WriteFileAtomic(rep.Summary, j)
}

// writeLogWithExtras writes session-log.md and makes sure it holds the
// environment sections and, when rep is set, the session verdict with
// every row's verdict and budget tier met; the caller holds s.mu.
func (s *session) writeLogWithExtras(env *Environment, rep *SessionReport) error {
	if err := s.writeLog(); err != nil {
		return err
	}
	logPath := s.dir(sessionLogName)
	body, err := s.m.ws.ReadFile(logPath)
	if err != nil {
		return err
	}
	var extra bytes.Buffer
	if !bytes.Contains(body, []byte("\n"+toolboxHeading)) {
		writeEnvironmentSections(&extra, env)
	}
	if rep != nil {
		writeSessionVerdictLog(&extra, rep)
	}
	if extra.Len() == 0 {
		return nil
	}
	// Insert after the header block: before the first section heading.
	i := bytes.Index(body, []byte("\n## "))
	if i < 0 {
		i = len(body) - 1
	}
	out := make([]byte, 0, len(body)+extra.Len())
	out = append(out, body[:i+1]...)
	out = append(out, extra.Bytes()...)
	out = append(out, body[i+1:]...)
	return s.m.ws.WriteFileAtomic(logPath, out)
}

// writeSessionVerdictLog writes the session verdict section of
// session-log.md.
func writeSessionVerdictLog(b *bytes.Buffer, rep *SessionReport) {
	fmt.Fprintf(b, "## Session verdict\n\n**%s** — %s\n\n", rep.Verdict, findingLine(rep.Headline))
	fmt.Fprintf(b, "Finished %s. Report: findings/%s (exports: findings/%s, findings/%s).\n\n", rep.Finished.UTC().Format(time.RFC3339), reportName, junitName, summaryName)
	if rep.Notes != "" {
		fmt.Fprintf(b, "Confidence notes: %s\n\n", findingLine(rep.Notes))
	}
	b.WriteString("| Scenario | Verdict | Budget tier met | Runs | Assigned |\n|---|---|---|---|---|\n")
	for _, o := range rep.Outcomes {
		assigned := "assign_verdict"
		if !o.Assigned {
			assigned = "derived at finish"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %d | %s |\n", findingCell(o.ID), o.Verdict, findingCell(verdictText(o.TierMet)), o.Runs, assigned)
	}
	b.WriteString("\n")
}

// RenderReport renders findings/report.md (SPEC §7) from the report alone: the headline first,
// then the scenario table (one row per arm), the findings of every FAIL,
// hypothesis coverage, claim adequacy against §7b, surface coverage of
// the arms, release-budget disclosures, the confidence delta against §7d
// and the §8 audits of every scenario. Links are relative to findings/.
func RenderReport(rep *SessionReport) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Findings report: %s\n\n", findingLine(rep.Session.Slug))
	fmt.Fprintf(&b, "**Session verdict: %s** — %s\n\n", rep.Verdict, findingLine(rep.Headline))
	for _, r := range rep.Rule {
		fmt.Fprintf(&b, "- %s\n", findingLine(r))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- **Session:** %s\n", rep.Session.ID)
	fmt.Fprintf(&b, "- **Plan:** %s (sha256 %s)\n", rep.Session.Plan, short(rep.Session.PlanSHA256))
	fmt.Fprintf(&b, "- **SUT:** %s\n", findingLine(unknownIfEmpty(rep.Session.SUT)))
	fmt.Fprintf(&b, "- **Commit under test:** %s\n", unknownIfEmpty(rep.Session.Commit))
	fmt.Fprintf(&b, "- **Started:** %s · **Finished:** %s\n", rep.Session.Started.UTC().Format(time.RFC3339), rep.Finished.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- **Session log:** [session-log.md](../%s) · **Exports:** [JUnit](%s), [JSON summary](%s)\n", sessionLogName, junitName, summaryName)
	if rep.Notes != "" {
		fmt.Fprintf(&b, "- **Confidence notes:** %s\n", findingLine(rep.Notes))
	}
	if rep.PlanNote != "" {
		fmt.Fprintf(&b, "- **Plan changed:** %s\n", findingLine(rep.PlanNote))
	}
	b.WriteString("\nVerdicts are derived by falsify from its own records (SPEC §6); the agent supplied facts, never verdicts. Run ids (R1, R2…) are the runs of session " + rep.Session.ID + ".\n\n")

	b.WriteString("## Scenarios\n\n")
	if len(rep.Outcomes) == 0 {
		b.WriteString("The plan has no scenario.\n\n")
	} else {
		b.WriteString("| ID | Scenario | Verdict | Budget tier met | Oracle | Oracle execution evidence | Landing evidence | Artifacts |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		for _, o := range rep.Outcomes {
			v := string(o.Verdict)
			if !o.Assigned && o.Runs > 0 {
				v += " (derived at finish)"
			}
			if o.AssignedAs != "" {
				v += fmt.Sprintf(" (assigned as %s before the records changed)", o.AssignedAs)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				findingCell(o.ID), findingCell(o.Name), findingCell(v), findingCell(verdictText(o.TierMet)),
				findingCell(o.Oracle), findingCell(listOr(o.Evidence, "no run")), findingCell(landingCell(o)),
				findingCell(artifactLinks(o.Artifacts)))
		}
		b.WriteString("\n")
		n := 0
		for _, o := range rep.Outcomes {
			if o.Verdict.IsPass() || len(o.Reasons) == 0 {
				continue
			}
			n++
			why := strings.TrimPrefix(o.Reasons[0], string(o.Verdict)+": ")
			fmt.Fprintf(&b, "- **%s %s:** %s\n", findingLine(o.ID), o.Verdict, findingLine(why))
		}
		if n > 0 {
			b.WriteString("\n")
		}
	}

	b.WriteString("## Findings\n\n")
	nf := 0
	for _, o := range rep.Outcomes {
		if !o.Verdict.IsFail() {
			continue
		}
		nf++
		fmt.Fprintf(&b, "### %s %s — %s\n\n", findingLine(o.ID), findingLine(o.Name), o.Verdict)
		if o.Finding != "" {
			fmt.Fprintf(&b, "Findings file: [%s](%s).\n\n", path.Base(o.Finding), relFromFindings(o.Finding))
		}
		for _, r := range o.Reasons {
			fmt.Fprintf(&b, "- %s\n", findingLine(r))
		}
		b.WriteString("\n")
		var fb strings.Builder
		writeFindingBlock(&fb, o.FindingFacts)
		block := fb.String()
		// Drop the block's own heading: it sits under this one.
		if strings.HasPrefix(block, "#") {
			if i := strings.Index(block, "\n\n"); i >= 0 {
				block = block[i+2:]
			}
		}
		b.WriteString(block)
	}
	if nf == 0 {
		b.WriteString("No FAIL: no finding to report.\n\n")
	}

	b.WriteString("## Hypothesis coverage\n\n")
	if len(rep.Hypotheses) == 0 {
		b.WriteString("The plan states no hypothesis.\n\n")
	} else {
		b.WriteString("| Hypothesis | Title | Could falsify | Closed by | Exercised | Why |\n|---|---|---|---|---|---|\n")
		for _, h := range rep.Hypotheses {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", findingCell(h.ID), findingCell(h.Title),
				findingCell(verdictText(strings.Join(h.Falsifies, ", "))), findingCell(verdictText(strings.Join(h.ClosedBy, ", "))),
				findingYesNo(h.Exercised), findingCell(h.Why))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Claim adequacy (§7b)\n\n")
	if len(rep.Adequacy) == 0 {
		b.WriteString("The plan states no claim.\n\n")
	} else {
		b.WriteString("| Claim | Category | §7b scenarios | Verdicts | Adequacy | Why |\n|---|---|---|---|---|---|\n")
		for _, a := range rep.Adequacy {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", findingCell(a.Claim), findingCell(verdictText(a.Category)),
				findingCell(verdictText(strings.Join(a.Scenarios, ", "))), findingCell(verdictText(strings.Join(a.Verdicts, ", "))),
				a.Adequacy, findingCell(a.Why))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Surface coverage (arms)\n\n")
	if len(rep.Surfaces) == 0 {
		b.WriteString("No scenario of the plan is split into arms.\n\n")
	} else {
		b.WriteString("| Scenario | Arm | Surface | Verdict | Tested | Untested surface named in §7d |\n|---|---|---|---|---|---|\n")
		for _, sv := range rep.Surfaces {
			named := "n/a (tested)"
			if sv.NamedIn7d != nil {
				named = findingYesNo(*sv.NamedIn7d)
				if !*sv.NamedIn7d {
					named = "**no**: SPEC §2.5 requires §7d to name it"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", findingCell(sv.Scenario), findingCell(sv.Arm),
				findingCell(verdictText(sv.Surface)), sv.Verdict, findingYesNo(sv.Tested), named)
		}
		b.WriteString("\n")
	}

	b.WriteString("## Release-budget disclosures\n\n")
	if len(rep.Release) == 0 {
		b.WriteString("Every scenario declares a release tier.\n\n")
	} else {
		b.WriteString("The plan does not provide the release tier of these scenarios; their results hold for the smoke and hardening budgets only.\n\n")
		b.WriteString("| Scenario | Release tier as written | Reason | Revisit when |\n|---|---|---|---|\n")
		for _, r := range rep.Release {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", findingCell(r.Scenario), findingCell(r.Text), findingCell(verdictText(r.Reason)), findingCell(verdictText(r.Revisit)))
		}
		b.WriteString("\n")
	}
	if len(rep.ReleaseRuns) == 0 {
		b.WriteString("No run of this session used the release tier.\n\n")
	} else {
		fmt.Fprintf(&b, "Runs at the release tier: %s.\n\n", strings.Join(rep.ReleaseRuns, "; "))
	}

	b.WriteString("## Confidence delta (§7d)\n\n")
	if rep.Confidence.Statement == "" {
		b.WriteString("The plan's §7d is empty.\n\n")
	} else {
		for _, line := range strings.Split(rep.Confidence.Statement, "\n") {
			fmt.Fprintf(&b, "> %s\n", strings.TrimRight(line, " "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "**Delta: %s.** %s.\n\n", rep.Confidence.Delta, upperFirst(findingLine(rep.Confidence.Why)))

	b.WriteString("## Audits (SPEC §8)\n\n")
	for _, o := range rep.Outcomes {
		fmt.Fprintf(&b, "### %s — %s\n\n", findingLine(o.ID), o.Verdict)
		if o.Runs == 0 {
			b.WriteString("No run: nothing to audit.\n\n")
			continue
		}
		n := map[AuditStatus]int{}
		for _, it := range o.Audit {
			n[it.Status]++
		}
		fmt.Fprintf(&b, "%d verified, %d answered, %d contradicted, %d failed, %d not applicable, %d unanswered.\n\n",
			n[AuditVerified], n[AuditAnswered], n[AuditContradicted], n[AuditFailed], n[AuditNotApplicable], n[AuditUnanswered])
		b.WriteString("| Item | Status | Answer evidence | falsify measured |\n|---|---|---|---|\n")
		for _, it := range o.Audit {
			st := string(it.Status)
			if it.Status == AuditContradicted || it.Status == AuditFailed {
				st = "**" + st + "**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", findingCell(it.Key), st, findingCell(verdictText(it.Evidence)), findingCell(verdictText(it.Check)))
		}
		b.WriteString("\n")
	}
	// Run ids read as R1, not <session id>/R1: the session is named once,
	// at the top.
	return bytes.ReplaceAll(b.Bytes(), []byte(rep.Session.ID+"/"), nil)
}

// landingCell summarises a unit's landing evidence for the scenario
// table: every fault when there are few, else the counts, the faults that
// did not land or heal, and one example. The findings file has them all.
func landingCell(o Outcome) string {
	const few = 3
	if len(o.Landing) == 0 {
		return "no fault injected"
	}
	if len(o.Landing) <= few {
		return strings.Join(o.Landing, "; ")
	}
	landed, healed, asym := 0, 0, 0
	kinds := map[string]int{}
	var bad []string
	for _, ft := range o.Faults {
		kinds[verdictText(ft.Kind)]++
		if ft.Landed {
			landed++
		}
		if ft.Healed {
			healed++
		}
		if ft.Asymmetric {
			asym++
		}
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(ks)
	for _, l := range o.Landing {
		if strings.Contains(l, "NOT proven") || strings.Contains(l, "NOT healed") {
			bad = append(bad, l)
		}
	}
	out := fmt.Sprintf("%d of %d faults landed, %d healed, %d asymmetric (%s)", landed, len(o.Landing), healed, asym, strings.Join(ks, ", "))
	switch {
	case len(bad) > few:
		out += "; not landed or not healed: " + strings.Join(bad[:few], "; ") + fmt.Sprintf("; and %d more (see the findings file)", len(bad)-few)
	case len(bad) > 0:
		out += "; not landed or not healed: " + strings.Join(bad, "; ")
	default:
		out += "; e.g. " + o.Landing[0]
	}
	return out
}

// listOr joins items with "; ", or returns empty when there are none.
func listOr(items []string, empty string) string {
	if len(items) == 0 {
		return empty
	}
	return strings.Join(items, "; ")
}

// artifactLinks renders session-relative artifacts as links relative to
// findings/.
func artifactLinks(arts []string) string {
	if len(arts) == 0 {
		return "none"
	}
	var out []string
	for _, a := range arts {
		label := a
		if strings.HasPrefix(a, "artifacts/") {
			label = strings.TrimPrefix(a, "artifacts/")
		} else if strings.HasPrefix(a, "findings/") {
			label = "finding " + path.Base(a)
		}
		out = append(out, fmt.Sprintf("[%s](%s)", strings.NewReplacer("[", "(", "]", ")").Replace(label), relFromFindings(a)))
	}
	return strings.Join(out, ", ")
}

// relFromFindings turns a session-relative path into a link from
// findings/report.md.
func relFromFindings(p string) string {
	if rest, ok := strings.CutPrefix(p, "findings/"); ok {
		return rest
	}
	return "../" + p
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
