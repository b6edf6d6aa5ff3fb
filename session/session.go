package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

// Layout of a session directory (SPEC §7).
const (
	sessionsDir    = "test-sessions"
	plansDir       = "testing-plans"
	journalName    = "journal.jsonl"
	sessionLogName = "session-log.md"
	historyName    = "history.jsonl"
	stampLayout    = "20060102T150405Z"
)

// Journal fact types.
const (
	factSessionStarted = "session-started"
	factJournalRepair  = "journal-repaired"
	factRunStarted     = "run-started"
	factOpsRecorded    = "ops-recorded"
	factFaultApplying  = "fault-applying"
	factFaultUpdated   = "fault-updated"
	factStateRecorded  = "state-recorded"
	factCheckRecorded  = "check-recorded"
	factVerdict        = "verdict-assigned"
)

// Manager runs the sessions of one workspace. A server holds one; every
// session has its own lock, so calls on different sessions do not wait
// for each other.
type Manager struct {
	ws    *Workspace
	probe *prober
	now   func() time.Time

	mu       sync.Mutex
	sessions map[string]*session

	nem nemeses // built-in fault injection, one Nemesis per session (nemesis.go)
}

// NewManager returns a manager for the sessions under ws.
func NewManager(ws *Workspace) *Manager {
	return &Manager{ws: ws, probe: newProber(ws), now: time.Now, sessions: map[string]*session{}}
}

// Workspace returns the manager's workspace.
func (m *Manager) Workspace() *Workspace { return m.ws }

// SessionInfo describes a session.
type SessionInfo struct {
	ID         string    `json:"id"`   // "<slug>/<UTC timestamp>"; reopens the session
	Slug       string    `json:"slug"` // the plan's slug
	Dir        string    `json:"dir"`  // workspace-relative session directory
	Plan       string    `json:"plan"` // workspace-relative plan path
	PlanSHA256 string    `json:"plan_sha256"`
	SUT        string    `json:"sut"`
	Commit     string    `json:"commit"` // commit under test, from the workspace's .git
	Started    time.Time `json:"started"`
	Runs       []string  `json:"runs"`              // run ids in start order
	Repairs    []Repair  `json:"repairs,omitempty"` // torn journal lines removed on reopen
}

// session is one open session. mu guards everything below it.
type session struct {
	mu     sync.Mutex
	m      *Manager
	info   SessionInfo
	j      *Journal
	runs   []*run
	byName map[string]*run
	hist   map[string]*os.File // open history.jsonl per run name
	// verdicts holds the latest verdict fact per scenario or arm.
	verdicts map[string]json.RawMessage
	timeline []logEntry
}

// logEntry is one line of the session-log timeline.
type logEntry struct {
	At   time.Time
	Text string
}

type factSession struct {
	ID         string    `json:"id"`
	Slug       string    `json:"slug"`
	Plan       string    `json:"plan"`
	PlanSHA256 string    `json:"plan_sha256"`
	SUT        string    `json:"sut"`
	Commit     string    `json:"commit"`
	Started    time.Time `json:"started"`
}

// StartSession starts a session for a plan: planRef is a plan slug (read
// from testing-plans/<slug>.md) or a workspace path to the plan. It
// creates test-sessions/<slug>/<UTC timestamp>/ with session-log.md,
// logs/, metrics/, artifacts/, findings/ and the journal.
func (m *Manager) StartSession(ctx context.Context, planRef string) (*SessionInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	planPath, p, src, err := m.loadPlan(planRef)
	if err != nil {
		return nil, err
	}
	slug := p.Header.Slug
	if slug == "" || !slugRE.MatchString(slug) {
		base := strings.TrimSuffix(path.Base(planPath), path.Ext(planPath))
		if !slugRE.MatchString(base) {
			return nil, fmt.Errorf("plan %s: the title has no usable slug (%q); write the title as \"# Test Plan: <slug>\" with letters, digits, '.', '_' or '-'", planPath, p.Header.Slug)
		}
		slug = base
	}
	info, err := m.createSession(slug, planPath, p.Header.SUT, src)
	if err != nil {
		return nil, err
	}
	// Toolbox discovery and the capability matrix are recorded before any
	// run may start (SPEC §7).
	if _, err := m.DiscoverEnvironment(ctx, info.ID); err != nil {
		return nil, fmt.Errorf("session %s: environment discovery: %w", info.ID, err)
	}
	return info, nil
}

// createSession creates the directory and journal of a new session.
func (m *Manager) createSession(slug, planPath, sut string, src []byte) (*SessionInfo, error) {
	now := m.now().UTC()
	var id, dir string
	for i := 0; ; i++ {
		stamp := now.Format(stampLayout)
		if i > 0 {
			stamp = fmt.Sprintf("%s-%d", stamp, i)
		}
		id = slug + "/" + stamp
		dir = path.Join(sessionsDir, id)
		abs, err := m.ws.Resolve(dir)
		if err != nil {
			return nil, err
		}
		if _, err := m.ws.MkdirAll(path.Dir(dir)); err != nil {
			return nil, err
		}
		err = os.Mkdir(abs, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return nil, fmt.Errorf("create session directory %s: %w", dir, err)
		}
	}
	for _, sub := range []string{"logs", "metrics", "artifacts", "findings"} {
		if _, err := m.ws.MkdirAll(path.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	jpath, err := m.ws.Resolve(path.Join(dir, journalName))
	if err != nil {
		return nil, err
	}
	j, err := CreateJournal(jpath)
	if err != nil {
		return nil, err
	}
	j.now = m.now
	s := newSession(m, j)
	fs := &factSession{
		ID: id, Slug: slug, Plan: planPath, PlanSHA256: sha256Hex(src),
		SUT: sut, Commit: gitHead(m.ws.Root()), Started: now,
	}
	s.mu.Lock()
	err = s.record(factSessionStarted, fs)
	if err == nil {
		err = s.writeLog()
	}
	info := s.snapshot()
	s.mu.Unlock()
	if err != nil {
		j.Close()
		return nil, err
	}
	m.mu.Lock()
	m.sessions[id] = s
	m.mu.Unlock()
	return info, nil
}

var (
	slugRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	sessionIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`)
)

// loadPlan reads and parses the plan a reference names.
func (m *Manager) loadPlan(ref string) (string, *plan.Plan, []byte, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", nil, nil, errors.New("plan: give a plan slug (testing-plans/<slug>.md) or a workspace path")
	}
	rel := ref
	if slugRE.MatchString(ref) && !strings.HasSuffix(ref, ".md") {
		rel = path.Join(plansDir, ref+".md")
	}
	abs, err := m.ws.Resolve(rel)
	if err != nil {
		return "", nil, nil, fmt.Errorf("plan %q: %w", ref, err)
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return "", nil, nil, fmt.Errorf("plan %q: %w", ref, err)
	}
	p, err := plan.Parse(src)
	if err != nil {
		return "", nil, nil, fmt.Errorf("plan %s: %w", rel, err)
	}
	r, err := filepath.Rel(m.ws.Root(), abs)
	if err != nil {
		return "", nil, nil, fmt.Errorf("plan %q: %w", ref, err)
	}
	return filepath.ToSlash(r), p, src, nil
}

func newSession(m *Manager, j *Journal) *session {
	return &session{
		m: m, j: j, byName: map[string]*run{}, hist: map[string]*os.File{},
		verdicts: map[string]json.RawMessage{},
	}
}

// OpenSession reopens a session after a restart (or returns it when it is
// already open): its state is rebuilt from the journal alone. A torn final
// journal line is truncated away and recorded as a journal-repaired fact;
// a history.jsonl shorter than the journal says is rebuilt; a fault that
// was being measured when falsify stopped is marked interrupted.
func (m *Manager) OpenSession(id string) (*SessionInfo, error) {
	s, err := m.session(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(), nil
}

// session returns an open session, opening it from disk when needed.
func (m *Manager) session(id string) (*session, error) {
	id = strings.Trim(strings.TrimSpace(id), "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		return s, nil
	}
	if !sessionIDRE.MatchString(id) {
		return nil, fmt.Errorf("session %q: not a session id; use the id start_session returned (<plan-slug>/<UTC timestamp>, e.g. kv-store/20260102T150405Z)", id)
	}
	dir := path.Join(sessionsDir, id)
	jpath, err := m.ws.Resolve(path.Join(dir, journalName))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(jpath); err != nil {
		return nil, fmt.Errorf("session %q: no journal at %s/%s: %w", id, dir, journalName, err)
	}
	j, facts, rep, err := OpenJournal(jpath)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	j.now = m.now
	s := newSession(m, j)
	for _, f := range facts {
		if err := s.replay(f); err != nil {
			j.Close()
			return nil, fmt.Errorf("session %s: journal fact %d (%s): %w", id, f.Seq, f.Type, err)
		}
	}
	if len(facts) == 0 {
		j.Close()
		return nil, fmt.Errorf("session %s: the journal holds no fact (falsify stopped while creating the session); start a new session", id)
	}
	if s.info.ID != id {
		j.Close()
		return nil, fmt.Errorf("session %s: journal belongs to session %q", id, s.info.ID)
	}
	if err := s.recover(rep); err != nil {
		j.Close()
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	m.sessions[id] = s
	return s, nil
}

// recover finishes a reopen: it records a journal repair, marks faults
// interrupted mid-measurement and rebuilds short history files.
func (s *session) recover(rep *Repair) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rep != nil {
		if err := s.record(factJournalRepair, rep); err != nil {
			return err
		}
	}
	for _, r := range s.runs {
		for _, e := range r.faults {
			if e.State == FaultActive && e.Origin == OriginExternal {
				s.log(s.m.now(), fmt.Sprintf("run %s: fault %s (%s) was still active when falsify stopped: heal it with your tools, then call heal_fault", r.Run, e.ID, e.Kind))
			}
			if e.State != FaultApplying {
				continue
			}
			c := e.clone()
			c.State = FaultInterrupted
			c.Landed = false
			c.Evidence = "not measured: falsify stopped while measuring this fault; inject it again"
			if err := s.record(factFaultUpdated, &factFault{Run: r.Run, Epoch: c}); err != nil {
				return err
			}
		}
		if err := s.syncHistory(r); err != nil {
			return err
		}
	}
	return s.writeLog()
}

// Close closes every open session's files. The manager stays usable:
// sessions reopen from disk on their next use.
func (m *Manager) Close() error {
	// Heal every built-in fault and journal it before the journals close.
	nemErr := m.closeNemeses()
	m.mu.Lock()
	defer m.mu.Unlock()
	errs := []error{nemErr}
	for id, s := range m.sessions {
		s.mu.Lock()
		for _, f := range s.hist {
			errs = append(errs, f.Close())
		}
		errs = append(errs, s.j.Close())
		s.mu.Unlock()
		delete(m.sessions, id)
	}
	return errors.Join(errs...)
}

// Sessions lists the ids of the sessions on disk, oldest first per plan.
func (m *Manager) Sessions() ([]string, error) {
	root, err := m.ws.Resolve(sessionsDir)
	if err != nil {
		return nil, err
	}
	var ids []string
	plans, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if !p.IsDir() {
			continue
		}
		stamps, err := os.ReadDir(filepath.Join(root, p.Name()))
		if err != nil {
			continue
		}
		for _, st := range stamps {
			id := p.Name() + "/" + st.Name()
			if sessionIDRE.MatchString(id) {
				if _, err := os.Stat(filepath.Join(root, p.Name(), st.Name(), journalName)); err == nil {
					ids = append(ids, id)
				}
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// record journals a fact and applies it to the in-memory state; the caller
// holds s.mu. The state changes only once the fact is durable.
func (s *session) record(typ string, payload any) error {
	f, err := s.j.Append(typ, payload)
	if err != nil {
		return err
	}
	return s.apply(f.Time, typ, payload)
}

// replay applies a fact read back from the journal.
func (s *session) replay(f Fact) error {
	var payload any
	switch f.Type {
	case factSessionStarted:
		payload = &factSession{}
	case factJournalRepair:
		payload = &Repair{}
	case factRunStarted:
		payload = &factRun{}
	case factOpsRecorded:
		payload = &factOps{}
	case factFaultApplying, factFaultUpdated:
		payload = &factFault{}
	case factStateRecorded:
		payload = &factState{}
	case factCheckRecorded:
		payload = &factCheck{}
	case factVerdict:
		payload = &factVerdictRecord{}
	case factTargetRegistered, factTargetRestored, factTargetLost, factFaultRefused:
		s.replayNemesisFact(f)
		return nil
	case factReduction:
		s.replayReduction(f)
		return nil
	case factEnvironment, factSessionFinished:
		return s.replayReportFact(f)
	default:
		// A fact type from a newer falsify: keep going, it is still in
		// the journal.
		return nil
	}
	if err := json.Unmarshal(f.Data, payload); err != nil {
		return err
	}
	return s.apply(f.Time, f.Type, payload)
}

// apply changes the in-memory state for one fact.
func (s *session) apply(at time.Time, typ string, payload any) error {
	switch p := payload.(type) {
	case *factSession:
		s.info = SessionInfo{
			ID: p.ID, Slug: p.Slug, Dir: path.Join(sessionsDir, p.ID), Plan: p.Plan,
			PlanSHA256: p.PlanSHA256, SUT: p.SUT, Commit: p.Commit, Started: p.Started,
		}
		s.log(at, fmt.Sprintf("session started for plan %s (SUT %s, commit %s)", p.Plan, unknownIfEmpty(p.SUT), unknownIfEmpty(p.Commit)))
	case *Repair:
		s.info.Repairs = append(s.info.Repairs, *p)
		s.log(at, fmt.Sprintf("journal repaired on reopen: %s; %d bytes of an unacknowledged write dropped", p.Reason, p.Dropped))
	case *factRun:
		if _, dup := s.byName[p.Run]; dup {
			return fmt.Errorf("run %s started twice", p.Run)
		}
		r := &run{factRun: *p, started: at, seen: map[string]bool{}}
		s.runs = append(s.runs, r)
		s.byName[p.Run] = r
		s.info.Runs = append(s.info.Runs, s.runID(p.Run))
		s.log(at, fmt.Sprintf("run %s started: %s seed %s tier %s", p.Run, p.Scenario, p.Seed, p.Tier))
	case *factOps:
		r, err := s.run(p.Run)
		if err != nil {
			return err
		}
		for _, op := range p.Ops {
			r.seen[op.OpID] = true
		}
		r.ops = append(r.ops, p.Ops...)
		r.rejected += len(p.Rejected)
	case *factFault:
		r, err := s.run(p.Run)
		if err != nil {
			return err
		}
		e := p.Epoch
		if e == nil {
			return errors.New("fault fact without an epoch")
		}
		replaced := false
		for i, old := range r.faults {
			if old.ID == e.ID {
				r.faults[i] = e.clone()
				replaced = true
			}
		}
		if !replaced {
			r.faults = append(r.faults, e.clone())
		}
		switch {
		case typ == factFaultApplying:
			s.log(at, fmt.Sprintf("run %s: fault %s (%s, %s) injected; measuring", p.Run, e.ID, e.Kind, e.Origin))
		case e.State == FaultActive && (e.After != nil || e.Nemesis != nil && e.Nemesis.Landing != nil) || e.State == FaultInterrupted:
			s.log(at, fmt.Sprintf("run %s: fault %s landed=%t: %s", p.Run, e.ID, e.Landed, e.Evidence))
		case e.State == FaultHealed && e.Heal != nil:
			s.log(at, fmt.Sprintf("run %s: fault %s healed, recovered=%t: %s", p.Run, e.ID, e.Heal.Recovered, e.Heal.Evidence))
		case e.Origin == OriginImported:
			s.log(at, fmt.Sprintf("run %s: fault window %s (%s) imported with the history", p.Run, e.ID, e.Kind))
		}
	case *factState:
		r, err := s.run(p.Run)
		if err != nil {
			return err
		}
		rec := p.StateRecord
		replaced := false
		for i, old := range r.states {
			if old.Kind == rec.Kind && old.Name == rec.Name {
				r.states[i] = rec
				replaced = true
			}
		}
		if !replaced {
			r.states = append(r.states, rec)
		}
		s.log(at, fmt.Sprintf("run %s: %s %q recorded (%d bytes)", p.Run, rec.Kind, rec.Name, rec.Bytes))
	case *factCheck:
		r, err := s.run(p.Run)
		if err != nil {
			return err
		}
		r.checks = append(r.checks, p.CheckRecord)
		res := p.Result
		s.log(at, fmt.Sprintf("run %s: checker %s: %s — %s", p.Run, res.Checker, res.Status, res.Evidence))
	case *factVerdictRecord:
		raw, err := json.Marshal(p)
		if err != nil {
			return err
		}
		s.verdicts[p.Scenario] = raw
		s.log(at, fmt.Sprintf("verdict %s for %s: %s", p.Verdict, p.Scenario, p.Summary))
	default:
		return fmt.Errorf("unknown fact payload %T", payload)
	}
	return nil
}

func (s *session) log(at time.Time, text string) {
	s.timeline = append(s.timeline, logEntry{At: at.UTC(), Text: text})
}

func unknownIfEmpty(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// snapshot copies the session's info; the caller holds s.mu.
func (s *session) snapshot() *SessionInfo {
	c := s.info
	c.Runs = append([]string(nil), s.info.Runs...)
	c.Repairs = append([]Repair(nil), s.info.Repairs...)
	return &c
}

// runID is the public id of a run: "<session id>/<run name>".
func (s *session) runID(name string) string { return s.info.ID + "/" + name }

// run finds a run by name; the caller holds s.mu.
func (s *session) run(name string) (*run, error) {
	r, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("run %s: not in session %s (runs: %s)", name, s.info.ID, strings.Join(s.info.Runs, ", "))
	}
	return r, nil
}

// lookupRun resolves a run id ("<session id>/R3").
func (m *Manager) lookupRun(id string) (*session, *run, error) {
	id = strings.Trim(strings.TrimSpace(id), "/")
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return nil, nil, fmt.Errorf("run %q: not a run id; use the id start_run returned (<session id>/R<n>)", id)
	}
	s, err := m.session(id[:i])
	if err != nil {
		return nil, nil, fmt.Errorf("run %q: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.run(id[i+1:])
	if err != nil {
		return nil, nil, err
	}
	return s, r, nil
}

// dir returns a workspace-relative path inside the session directory.
func (s *session) dir(parts ...string) string {
	return path.Join(append([]string{s.info.Dir}, parts...)...)
}

// writeLog renders session-log.md from the state; the caller holds s.mu.
func (s *session) writeLog() error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Session log: %s\n\n", s.info.ID)
	fmt.Fprintf(&b, "- **SUT:** %s\n", unknownIfEmpty(s.info.SUT))
	fmt.Fprintf(&b, "- **Plan:** %s (sha256 %s)\n", s.info.Plan, short(s.info.PlanSHA256))
	fmt.Fprintf(&b, "- **Commit under test:** %s\n", unknownIfEmpty(s.info.Commit))
	fmt.Fprintf(&b, "- **Started:** %s\n", s.info.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "- **Journal:** %s (the source of truth; this file is derived from it)\n\n", journalName)
	s.writeEnvironmentLog(&b)
	if len(s.runs) > 0 {
		b.WriteString("## Runs\n\n| run | scenario | seed | tier | ops | rejected | faults | checks |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range s.runs {
			var faults []string
			for _, e := range r.faults {
				faults = append(faults, fmt.Sprintf("%s %s landed=%t", e.ID, e.Kind, e.Landed))
			}
			var checks []string
			for _, c := range r.checks {
				checks = append(checks, c.Result.Checker+": "+c.Result.Status)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %s | %s |\n", r.Run, r.Scenario, r.Seed, r.Tier,
				len(r.ops), r.rejected, cell(strings.Join(faults, "; ")), cell(strings.Join(checks, "; ")))
		}
		b.WriteString("\n")
	}
	if len(s.verdicts) > 0 {
		b.WriteString("## Verdicts\n\n| scenario | verdict | tier | reasons |\n|---|---|---|---|\n")
		keys := make([]string, 0, len(s.verdicts))
		for k := range s.verdicts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var v factVerdictRecord
			if json.Unmarshal(s.verdicts[k], &v) == nil {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", k, v.Verdict, cell(v.Tier), cell(v.Summary))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## Timeline\n\n")
	for _, e := range s.timeline {
		fmt.Fprintf(&b, "- %s — %s\n", e.At.Format("2006-01-02T15:04:05.000Z"), e.Text)
	}
	return s.m.ws.WriteFileAtomic(s.dir(sessionLogName), b.Bytes())
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// gitHead returns the commit checked out in the workspace, read from .git
// without running git, or "" when there is none.
func gitHead(root string) string {
	gitDir := filepath.Join(root, ".git")
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return ""
	}
	h := strings.TrimSpace(string(head))
	ref, ok := strings.CutPrefix(h, "ref: ")
	if !ok {
		return h
	}
	if b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
		return strings.TrimSpace(string(b))
	}
	packed, err := os.ReadFile(filepath.Join(gitDir, "packed-refs"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(packed), "\n") {
		if sha, name, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == ref {
			return sha
		}
	}
	return ""
}

// opsOf returns the run's ops so far; the slice is safe to read without
// the lock because ops are only ever appended.
func (r *run) opsOf() []history.Op { return r.ops[:len(r.ops):len(r.ops)] }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
