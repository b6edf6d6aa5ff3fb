package session

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/plan"
)

// Verdict is one of the ten verdict states of SPEC §6.1.
type Verdict string

// The ten verdict states (SPEC §6.1).
const (
	PassSmoke                  Verdict = "PASS-smoke"
	PassHardening              Verdict = "PASS-hardening"
	FailReproducible           Verdict = "FAIL-reproducible"
	FailNondeterministic       Verdict = "FAIL-nondeterministic"
	InconclusiveEnv            Verdict = "INCONCLUSIVE-env"
	InconclusiveOracleTooWeak  Verdict = "INCONCLUSIVE-oracle-too-weak"
	InconclusiveFaultNotProven Verdict = "INCONCLUSIVE-fault-not-proven"
	PartialSurface             Verdict = "PARTIAL-surface"
	PartialModel               Verdict = "PARTIAL-model"
	NotRun                     Verdict = "NOT-RUN"
)

// Verdicts returns the ten verdict states in SPEC §6.1 order.
func Verdicts() []Verdict {
	return []Verdict{PassSmoke, PassHardening, FailReproducible, FailNondeterministic,
		InconclusiveEnv, InconclusiveOracleTooWeak, InconclusiveFaultNotProven,
		PartialSurface, PartialModel, NotRun}
}

// IsPass reports whether v is PASS-smoke or PASS-hardening.
func (v Verdict) IsPass() bool { return v == PassSmoke || v == PassHardening }

// IsFail reports whether v is FAIL-reproducible or FAIL-nondeterministic.
func (v Verdict) IsFail() bool { return v == FailReproducible || v == FailNondeterministic }

// IsInconclusive reports whether v is one of the INCONCLUSIVE states.
func (v Verdict) IsInconclusive() bool {
	return v == InconclusiveEnv || v == InconclusiveOracleTooWeak || v == InconclusiveFaultNotProven
}

// IsPartial reports whether v is PARTIAL-surface or PARTIAL-model.
func (v Verdict) IsPartial() bool { return v == PartialSurface || v == PartialModel }

// Valid reports whether v is one of the ten states.
func (v Verdict) Valid() bool {
	for _, w := range Verdicts() {
		if v == w {
			return true
		}
	}
	return false
}

// passRank orders the verdicts a gate can cap: a gate lowers a verdict to
// its cap when the cap ranks lower. Other verdicts rank 0 and are never
// raised or lowered by a gate.
func passRank(v Verdict) int {
	switch v {
	case PassHardening:
		return 4
	case PassSmoke:
		return 3
	case PartialModel:
		return 2
	case PartialSurface:
		return 1
	}
	return 0
}

// Facts is everything the verdict engine reads about one scenario (or arm)
// within a session. The caller builds it from falsify's own records (the
// journal); the agent supplies only the audit answers and finding facts.
type Facts struct {
	Scenario        string // "S3" or "S5/api"
	Name            string // the claim-shaped scenario name, for the findings headline
	Serious         bool   // the scenario falsifies a gated claim category (SPEC §2.3)
	DeclaredChecker string // §7.M Checker of the scenario (or arm); "" or "none …" when none is declared
	FaultPlanned    bool   // the scenario's Faults field declares a fault
	Statistical     bool   // the claim is statistical (performance-SLO, fairness)
	EnvMissing      []string
	Smoke           plan.Tier // declared smoke budget
	Hardening       plan.Tier // declared hardening budget
	Runs            []RunFacts
	Audit           Audit         // the caller's §8.1 and §8.2 answers
	Arms            []ArmOutcome  // each arm's own decision, for a split scenario
	Finding         *FindingFacts // §6.4 facts for a FAIL
}

// RunFacts are the recorded facts of one run.
type RunFacts struct {
	ID   string
	Seed string
	Tier string // smoke / hardening / release
	// FaultSchedule is the canonical signature of the run's fault sequence
	// (kinds, targets, offsets); two runs with the same seed and the same
	// signature are re-runs of each other.
	FaultSchedule  string
	Nodes          int
	StartNS, EndNS int64 // monotonic start and end of the workload
	Ops            int   // ops the run recorded
	Checks         []CheckFacts
	Faults         []FaultFacts
	MonotonicTS    bool // every timestamp came from a monotonic source
	TimedOut       int  // ops with an unknown outcome
	// OpsInFaults counts the ops recorded inside a fault window (fault_epoch
	// set); nil when not counted. Zero with a landed fault means the
	// history does not cover the fault.
	OpsInFaults *int
}

// Duration returns the run's workload duration, or 0 when its timestamps
// do not give one.
func (r RunFacts) Duration() time.Duration {
	if r.EndNS <= r.StartNS || r.StartNS < 0 {
		return 0
	}
	return time.Duration(r.EndNS - r.StartNS)
}

// violated reports whether any checker found a violation in the run.
func (r RunFacts) violated() bool {
	for _, c := range r.Checks {
		if c.Status == StatusViolation {
			return true
		}
	}
	return false
}

// clean reports whether the run has checks and every one of them is ok.
func (r RunFacts) clean() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if c.Status != StatusOK {
			return false
		}
	}
	return true
}

// landed returns the number of faults of the run with landing evidence.
func (r RunFacts) landed() int {
	n := 0
	for _, f := range r.Faults {
		if f.Landed {
			n++
		}
	}
	return n
}

// Checker statuses (SPEC §4.2), as package checkers reports them.
const (
	StatusOK        = checkers.StatusOK
	StatusViolation = checkers.StatusViolation
	StatusUnknown   = checkers.StatusUnknown
)

// CheckFacts is one checker result on one run.
type CheckFacts struct {
	Checker     string
	Status      string // ok | violation | unknown
	OpsConsumed int
	OpsTotal    int
	Missing     []string // history fields the checker needed and did not find
	Partial     bool     // the checker ran on a subset of the ops
	Evidence    string   // the checker's execution-evidence sentence
}

// NewCheckFacts returns the verdict facts of a checker result. A nil
// result is a checker that could not decide.
func NewCheckFacts(r *checkers.Result) CheckFacts {
	if r == nil {
		return CheckFacts{Status: StatusUnknown, Evidence: "no checker result"}
	}
	return CheckFacts{
		Checker:     r.Checker,
		Status:      r.Status,
		OpsConsumed: r.OpsConsumed,
		OpsTotal:    r.OpsTotal,
		Missing:     append([]string(nil), r.Missing...),
		Partial:     r.Partial,
		Evidence:    r.Evidence,
	}
}

// FaultFacts is one fault epoch of a run, from the fault ledger.
type FaultFacts struct {
	Epoch  string // F1…
	Kind   string // partition, kill, pause…
	Landed bool   // a measured probe proved the fault took effect
	Healed bool
	// Evidence is what was measured before and after on the injecting side.
	Evidence string
	// VictimEvidence is what was measured on a victim side (client
	// timeouts, RPC errors), when the kind allows one.
	VictimEvidence string
	Asymmetric     bool // a one-direction or mixed variant
	External       bool // injected by the agent's own tools, probed by falsify
}

// ArmOutcome is the decision already taken for one arm of a split
// scenario.
type ArmOutcome struct {
	Arm      string // "S5/api"
	Decision Decision
}

// Decision is a verdict with the reasons it was derived.
type Decision struct {
	Scenario string  `json:"scenario"`
	Verdict  Verdict `json:"verdict"`
	// TierMet is the strongest budget tier the clean runs met: "hardening",
	// "smoke" or "" (none met or none measurable).
	TierMet string `json:"tier_met"`
	// Path lists the decision-tree nodes and gates taken, in order, each as
	// "node: outcome".
	Path []string `json:"path"`
	// Reasons states every rule that fired and the evidence it read.
	Reasons []string `json:"reasons"`
	// Blockers says exactly what stood between this verdict and
	// PASS-hardening (for a FAIL: what the finding still lacks).
	Blockers []string `json:"blockers"`
	// Audit is every §8 item as falsify judged it.
	Audit []AuditItem `json:"audit"`
}

// Decide derives the verdict of one scenario (or arm) from facts: the
// decision tree of SPEC §6.2, then the gates of SPEC §6.3. It is a pure
// function: same facts, same decision.
//
// The tree, in order:
//
//  1. INCONCLUSIVE-env when a required capability is missing. With no run
//     and no arm the verdict is NOT-RUN.
//  2. A violation reported by any checker on any run (or a FAIL arm) is a
//     FAIL. It is FAIL-reproducible when two violating runs share the same
//     non-empty seed, tier and fault schedule; otherwise
//     FAIL-nondeterministic, whether a same-seed re-run came back clean
//     (the reasons name it) or no such re-run exists yet (the blockers then
//     ask for one: an unconfirmed violation is still a FAIL, never dodged).
//     Runs with the same seed but a different fault schedule are not
//     re-runs of each other. Missing §6.4 finding fields are blockers, not
//     a way out of the FAIL.
//  3. INCONCLUSIVE-fault-not-proven when any fault injected in any run has
//     no landing evidence.
//  4. PARTIAL-surface when the declared §7.M checker (every component of
//     "a + b") did not run on every run; with no checker declared, any run
//     without a checker result.
//  5. INCONCLUSIVE-oracle-too-weak when any checker reported missing
//     history fields, returned unknown (the checker could not decide; an
//     unknown is never a pass) or consumed no ops, or when every op of a
//     run timed out (an all-indeterminate history is trivially consistent),
//     or when no op of a run with a landed fault fell inside a fault window.
//  6. PARTIAL-model when any checker is partial or consumed fewer ops than
//     the run recorded.
//  7. PASS-hardening when a fault with landing evidence was active in a
//     run, else PASS-smoke.
//
// Every node reads all runs together: one bad run decides the node, so
// that an agent cannot bury an unchecked or unproven run among good ones.
//
// Gates then cap a PASS:
//
//   - budget: PASS-hardening needs a clean run with landed faults that
//     meets every measurable dimension of the hardening tier (nodes,
//     duration from the run's timestamps, landed fault count); otherwise,
//     or when the hardening tier is not provided or measures nothing, the
//     verdict is at best PASS-smoke. A PASS-smoke needs a run meeting the
//     smoke tier's nodes and duration and its seed count, when declared,
//     else it is capped at PARTIAL-model.
//   - seeds: PASS-hardening needs at least three distinct seeds (or the
//     hardening tier's seed count, if higher) among the runs that met the
//     hardening budget, else PARTIAL-model. A statistical claim needs three
//     distinct clean seeds for any PASS.
//   - audit §8.1: an item answered false or contradicted by the records
//     caps any PASS at PARTIAL-model; an unanswered item caps
//     PASS-hardening at PARTIAL-model.
//   - audit §8.2: on a serious scenario, any item that does not hold caps
//     PASS-hardening at PARTIAL-model (PARTIAL-surface when the model
//     checker never ran). On other scenarios the items are reported only.
//   - arms: any FAIL arm makes the scenario FAIL (step 2); any NOT-RUN,
//     PARTIAL-* or INCONCLUSIVE-* arm caps it at PARTIAL-surface (that
//     surface went untested). A scenario with arms and no runs of its own
//     takes the weakest passing arm verdict, or, when no arm passed, the
//     first arm's INCONCLUSIVE verdict, or NOT-RUN when no arm ran.
func Decide(f Facts) Decision {
	d := &decider{f: f}
	d.dec.Scenario = f.Scenario
	d.dec.Audit = judgeAudit(f)
	d.decide()
	if d.dec.Path == nil {
		d.dec.Path = []string{}
	}
	if d.dec.Reasons == nil {
		d.dec.Reasons = []string{}
	}
	if d.dec.Blockers == nil {
		d.dec.Blockers = []string{}
	}
	return d.dec
}

// decider accumulates one decision.
type decider struct {
	f   Facts
	dec Decision
}

func (d *decider) path(node, outcome string, args ...any) {
	d.dec.Path = append(d.dec.Path, node+": "+fmt.Sprintf(outcome, args...))
}

func (d *decider) reason(format string, args ...any) {
	d.dec.Reasons = append(d.dec.Reasons, fmt.Sprintf(format, args...))
}

func (d *decider) block(format string, args ...any) {
	d.dec.Blockers = append(d.dec.Blockers, fmt.Sprintf(format, args...))
}

// capAt lowers the verdict to c when c ranks lower.
func (d *decider) capAt(c Verdict) {
	if passRank(c) < passRank(d.dec.Verdict) {
		d.dec.Verdict = c
	}
}

func (d *decider) decide() {
	f := d.f
	if len(f.EnvMissing) > 0 {
		d.dec.Verdict = InconclusiveEnv
		d.path("env", "missing %s → %s", strings.Join(f.EnvMissing, ", "), InconclusiveEnv)
		d.reason("%s: %s could not start: required capability missing: %s", InconclusiveEnv, f.Scenario, strings.Join(f.EnvMissing, ", "))
		for _, c := range f.EnvMissing {
			d.block("provide capability %q (plan §6b) and start a new run", c)
		}
		return
	}
	d.path("env", "capabilities present")
	if len(f.Runs) == 0 && len(f.Arms) == 0 {
		d.dec.Verdict = NotRun
		d.path("runs", "none → %s", NotRun)
		d.reason("%s: the session recorded no run of %s", NotRun, f.Scenario)
		d.block("start a run of %s (start_run), record its history and run its checker", f.Scenario)
		return
	}
	if d.violation() {
		return
	}
	if len(f.Runs) == 0 {
		d.armsOnly()
		return
	}
	d.tree()
	d.gates()
	d.armsGate()
}

// violation applies the FAIL branch of the tree; it reports whether a
// violation decided the verdict.
func (d *decider) violation() bool {
	f := d.f
	var bad []RunFacts
	for _, r := range f.Runs {
		if r.violated() {
			bad = append(bad, r)
		}
	}
	var failArms []ArmOutcome
	for _, a := range f.Arms {
		if a.Decision.Verdict.IsFail() {
			failArms = append(failArms, a)
		}
	}
	if len(bad) == 0 && len(failArms) == 0 {
		d.path("violation", "none reported")
		return false
	}
	ids := make([]string, 0, len(bad))
	for _, r := range bad {
		ids = append(ids, r.ID)
		for _, c := range r.Checks {
			if c.Status == StatusViolation {
				d.reason("violation in run %s (seed %s, tier %s): %s: %s", r.ID, verdictText(r.Seed), verdictText(r.Tier), c.Checker, verdictText(c.Evidence))
			}
		}
	}
	for _, a := range failArms {
		ids = append(ids, a.Arm)
		d.reason("arm %s is %s: a FAIL arm makes the scenario FAIL", a.Arm, a.Decision.Verdict)
	}
	d.path("violation", "yes (%s)", strings.Join(ids, ", "))

	reproduced := false
	for _, a := range failArms {
		if a.Decision.Verdict == FailReproducible {
			reproduced = true
		}
	}
	for i := range bad {
		for j := i + 1; j < len(bad); j++ {
			if sameConfig(bad[i], bad[j]) {
				reproduced = true
				d.reason("reproduced: runs %s and %s share seed %s, tier %s and fault schedule %q and both violated", bad[i].ID, bad[j].ID, bad[i].Seed, verdictText(bad[i].Tier), bad[i].FaultSchedule)
			}
		}
	}
	if reproduced {
		d.dec.Verdict = FailReproducible
		d.path("reproduced", "yes → %s", FailReproducible)
	} else {
		d.dec.Verdict = FailNondeterministic
		d.path("reproduced", "no → %s", FailNondeterministic)
		for _, r := range bad {
			d.explainNotReproduced(r)
		}
	}
	for _, p := range f.Finding.Validate() {
		d.block("%s (SPEC §6.4: a FAIL must carry it)", p)
	}
	return true
}

// explainNotReproduced says why the violation of run r is not reproduced:
// a clean same-config re-run, a same-seed run with another configuration,
// or no re-run at all.
func (d *decider) explainNotReproduced(r RunFacts) {
	if noText(r.Seed) {
		d.reason("run %s has no seed: it cannot be re-run identically, so its violation cannot be confirmed as reproducible", r.ID)
		d.block("record the seed of run %s's configuration, then re-run it to confirm the violation", r.ID)
		return
	}
	rerun := false
	for _, o := range d.f.Runs {
		if o.ID == r.ID || o.Seed != r.Seed {
			continue
		}
		switch {
		case o.Tier != r.Tier:
			d.reason("run %s used seed %s at tier %s, not %s: a different configuration is not a re-run of %s", o.ID, o.Seed, verdictText(o.Tier), verdictText(r.Tier), r.ID)
		case o.FaultSchedule != r.FaultSchedule:
			d.reason("run %s used seed %s with fault schedule %q, not %q: a different fault schedule is not a re-run of %s", o.ID, o.Seed, o.FaultSchedule, r.FaultSchedule, r.ID)
		default:
			rerun = true
			d.reason("violation of run %s did not re-occur in run %s (same seed %s, tier and fault schedule)", r.ID, o.ID, r.Seed)
		}
	}
	if !rerun {
		d.reason("violation of run %s has not been re-run with seed %s and fault schedule %q", r.ID, r.Seed, r.FaultSchedule)
		d.block("re-run with the same seed to confirm: seed %s, tier %s, fault schedule %q (run %s)", r.Seed, verdictText(r.Tier), r.FaultSchedule, r.ID)
	}
}

// sameConfig reports whether a and b are re-runs of each other: the same
// non-empty seed, tier and fault schedule.
func sameConfig(a, b RunFacts) bool {
	return !noText(a.Seed) && a.Seed == b.Seed && a.Tier == b.Tier && a.FaultSchedule == b.FaultSchedule
}

// tree applies the no-violation branch of SPEC §6.2. Every node is
// evaluated so that the blockers list every obstacle; the first node that
// fails decides the verdict.
func (d *decider) tree() {
	decided := false
	leaf := func(v Verdict, node, outcome string) {
		if decided {
			d.path(node, "%s (also)", outcome)
			return
		}
		decided = true
		d.dec.Verdict = v
		d.path(node, "%s → %s", outcome, v)
	}

	// Fault landing.
	if bad := d.unprovenFaults(); len(bad) > 0 {
		leaf(InconclusiveFaultNotProven, "fault-landing", "not proven ("+strings.Join(bad, ", ")+")")
	} else if n := d.scheduledRuns(); n > 0 {
		d.path("fault-landing", "proven in %d run(s)", n)
	} else {
		d.path("fault-landing", "no fault scheduled")
	}

	// Declared checker ran.
	if bad := d.checkerMissing(); len(bad) > 0 {
		leaf(PartialSurface, "checker-ran", "no on "+strings.Join(bad, ", "))
	} else if !decided {
		d.path("checker-ran", "yes")
	}

	// History fields and decidability.
	if bad := d.weakOracle(); len(bad) > 0 {
		leaf(InconclusiveOracleTooWeak, "history-fields", "insufficient on "+strings.Join(bad, ", "))
	} else if !decided {
		d.path("history-fields", "complete")
	}

	// Coverage.
	if bad := d.partialCoverage(); len(bad) > 0 {
		leaf(PartialModel, "coverage", "partial on "+strings.Join(bad, ", "))
	} else if !decided {
		d.path("coverage", "every op")
	}

	// Fault active.
	var active []string
	for _, r := range d.f.Runs {
		if r.landed() > 0 {
			active = append(active, r.ID)
		}
	}
	if len(active) == 0 && d.f.FaultPlanned && d.scheduledRuns() == 0 {
		d.reason("not PASS-hardening: %s plans a fault but no run injected one", d.f.Scenario)
		d.block("inject the planned fault (inject_fault) in a hardening run and prove it landed")
	}
	if decided {
		return
	}
	if len(active) > 0 {
		d.dec.Verdict = PassHardening
		d.path("fault-active", "yes (%s) → %s", strings.Join(active, ", "), PassHardening)
	} else {
		d.dec.Verdict = PassSmoke
		d.path("fault-active", "no → %s", PassSmoke)
		if !d.f.FaultPlanned {
			d.reason("%s: no fault was active; a harness baseline, not hardening evidence", PassSmoke)
			d.block("inject a fault with landing evidence in a hardening run: a fault-free run is a baseline only")
		}
	}
}

// scheduledRuns counts the runs that injected at least one fault.
func (d *decider) scheduledRuns() int {
	n := 0
	for _, r := range d.f.Runs {
		if len(r.Faults) > 0 {
			n++
		}
	}
	return n
}

// unprovenFaults returns "run/epoch" for every fault without landing
// evidence, with a reason and a blocker each.
func (d *decider) unprovenFaults() []string {
	var bad []string
	for _, r := range d.f.Runs {
		for _, ft := range r.Faults {
			if ft.Landed {
				continue
			}
			bad = append(bad, r.ID+"/"+ft.Epoch)
			if noText(ft.Evidence) {
				d.reason("not PASS-hardening: fault %s (%s) in run %s has no landing evidence", ft.Epoch, verdictText(ft.Kind), r.ID)
			} else {
				d.reason("not PASS-hardening: fault %s (%s) in run %s did not land: its probe showed no effect (%s)", ft.Epoch, verdictText(ft.Kind), r.ID, ft.Evidence)
			}
			d.block("prove fault %s of run %s landed: a probe measured before and after (counter, kernel state, SUT log line) must change; the injector's ok is not evidence", ft.Epoch, r.ID)
		}
	}
	return bad
}

// checkerMissing returns the runs on which the declared checker did not
// run, with reasons and blockers.
func (d *decider) checkerMissing() []string {
	var bad []string
	for _, r := range d.f.Runs {
		ran := make([]string, 0, len(r.Checks))
		for _, c := range r.Checks {
			ran = append(ran, c.Checker)
		}
		missing := missingCheckers(d.f.DeclaredChecker, ran)
		if len(missing) == 0 {
			continue
		}
		bad = append(bad, r.ID)
		if len(ran) == 0 {
			d.reason("%s: no checker ran on run %s (declared: %s)", PartialSurface, r.ID, verdictText(d.f.DeclaredChecker))
		} else {
			d.reason("%s: declared checker %s did not run on run %s (ran: %s)", PartialSurface, strings.Join(missing, " + "), r.ID, strings.Join(ran, ", "))
		}
		d.block("run the declared checker %s on run %s (run_checker)", strings.Join(missing, " + "), r.ID)
	}
	return bad
}

// weakOracle returns the run/checker pairs whose history lacked fields,
// whose checker could not decide or consumed nothing.
func (d *decider) weakOracle() []string {
	var bad []string
	for _, r := range d.f.Runs {
		if r.OpsInFaults != nil && *r.OpsInFaults == 0 && r.landed() > 0 {
			bad = append(bad, r.ID)
			d.reason("%s: no op of run %s ran inside a fault window: the history does not cover the fault it is meant to test", InconclusiveOracleTooWeak, r.ID)
			d.block("keep the workload running through the fault windows of run %s and tag its ops with fault_epoch", r.ID)
		}
		if r.Ops > 0 && r.TimedOut >= r.Ops {
			bad = append(bad, r.ID)
			d.reason("%s: all %d ops of run %s timed out: an all-indeterminate history is trivially consistent and decides nothing", InconclusiveOracleTooWeak, r.Ops, r.ID)
			d.block("make the workload of run %s complete ops (check client timeouts and connectivity) and re-run", r.ID)
		}
		for _, c := range r.Checks {
			id := r.ID + "/" + c.Checker
			switch {
			case len(c.Missing) > 0:
				bad = append(bad, id)
				d.reason("%s: the history of run %s lacks %s, which %s needs", InconclusiveOracleTooWeak, r.ID, strings.Join(c.Missing, ", "), c.Checker)
				d.block("record %s in every op of run %s (SPEC §3.3) and re-run", strings.Join(c.Missing, ", "), r.ID)
			case c.Status == StatusUnknown:
				bad = append(bad, id)
				d.reason("%s: checker could not decide: %s returned unknown on run %s (%s)", InconclusiveOracleTooWeak, c.Checker, r.ID, verdictText(c.Evidence))
				d.block("get a decision from %s on run %s (a longer timeout, a smaller per-key partition); an unknown is never a pass", c.Checker, r.ID)
			case c.Status != StatusOK && c.Status != StatusViolation:
				bad = append(bad, id)
				d.reason("%s: checker %s on run %s reported status %q, not ok, violation or unknown; treated as undecided", InconclusiveOracleTooWeak, c.Checker, r.ID, c.Status)
				d.block("re-run checker %s on run %s", c.Checker, r.ID)
			case c.OpsConsumed <= 0 || c.OpsTotal <= 0:
				bad = append(bad, id)
				d.reason("%s: %s consumed %d of %d ops on run %s: an empty history decides nothing", InconclusiveOracleTooWeak, c.Checker, c.OpsConsumed, c.OpsTotal, r.ID)
				d.block("record the ops of run %s and run %s on them", r.ID, c.Checker)
			case c.OpsConsumed > c.OpsTotal:
				bad = append(bad, id)
				d.reason("%s: %s claims %d ops consumed of %d on run %s: inconsistent execution evidence", InconclusiveOracleTooWeak, c.Checker, c.OpsConsumed, c.OpsTotal, r.ID)
				d.block("re-run checker %s on run %s", c.Checker, r.ID)
			}
		}
	}
	return bad
}

// partialCoverage returns the run/checker pairs that did not cover every
// op of the run.
func (d *decider) partialCoverage() []string {
	var bad []string
	for _, r := range d.f.Runs {
		for _, c := range r.Checks {
			id := r.ID + "/" + c.Checker
			switch {
			case c.Partial:
				bad = append(bad, id)
				d.reason("%s: %s ran on a subset of run %s (%d of %d ops): %s", PartialModel, c.Checker, r.ID, c.OpsConsumed, c.OpsTotal, verdictText(c.Evidence))
				d.block("run %s on the whole history of run %s", c.Checker, r.ID)
			case c.OpsConsumed < c.OpsTotal:
				bad = append(bad, id)
				d.reason("%s: %s consumed %d of %d ops on run %s", PartialModel, c.Checker, c.OpsConsumed, c.OpsTotal, r.ID)
				d.block("run %s on every op of run %s", c.Checker, r.ID)
			case r.Ops > 0 && c.OpsTotal < r.Ops:
				bad = append(bad, id)
				d.reason("%s: %s checked %d ops but run %s recorded %d", PartialModel, c.Checker, c.OpsTotal, r.ID, r.Ops)
				d.block("run %s on all %d recorded ops of run %s", c.Checker, r.Ops, r.ID)
			}
		}
	}
	return bad
}

// gates applies SPEC §6.3 (budget, seeds, audits) to a PASS. The gates are
// evaluated for every non-FAIL verdict so that the blockers are complete,
// but they lower only a PASS, and add reasons only when they do or when
// the verdict is a PASS.
func (d *decider) gates() {
	f := d.f
	// gateFail records a gate failure: a reason when the verdict is (still)
	// a PASS, always a blocker.
	gateFail := func(reason, blocker string) {
		if d.dec.Verdict.IsPass() {
			d.reason("%s", reason)
		}
		d.block("%s", blocker)
	}

	// Budget: hardening.
	hardRuns, why := d.hardeningRuns()
	if len(hardRuns) > 0 {
		d.dec.TierMet = plan.TierHardening
		d.path("gate-budget", "hardening met by %s", joinIDs(hardRuns))
	} else {
		if d.dec.Verdict == PassHardening {
			d.path("gate-budget", "hardening not met → at best %s", PassSmoke)
			d.capAt(PassSmoke)
		}
		gateFail("not PASS-hardening: "+why, "meet the hardening budget: "+why)
	}

	// Budget: smoke.
	smokeMet, smokeWhy := d.smokeMet()
	if smokeMet && d.dec.TierMet == "" && len(cleanRuns(f.Runs)) > 0 {
		d.dec.TierMet = plan.TierSmoke
	}
	if d.dec.Verdict == PassSmoke {
		if smokeMet {
			d.path("gate-budget", "smoke met")
		} else {
			d.path("gate-budget", "smoke not met → %s", PartialModel)
			d.reason("%s: %s", PartialModel, smokeWhy)
			d.capAt(PartialModel)
		}
	}
	if !smokeMet && len(hardRuns) == 0 {
		d.block("meet the smoke budget: %s", smokeWhy)
	}

	// Seeds.
	if len(hardRuns) > 0 {
		need := max(3, f.Hardening.Seeds)
		seeds := distinctSeeds(hardRuns)
		if len(seeds) >= need {
			d.path("gate-seeds", "%d distinct seeds ≥ %d", len(seeds), need)
		} else {
			if d.dec.Verdict == PassHardening {
				d.path("gate-seeds", "%d < %d → %s", len(seeds), need, PartialModel)
				d.capAt(PartialModel)
				d.reason("not PASS-hardening: only %d distinct seed(s) (%s) reached the clean hardening result; %d needed: one seed is one interleaving", len(seeds), strings.Join(seeds, ", "), need)
			}
			d.block("run %d more clean hardening run(s) with new seeds (%d distinct needed, have %d)", need-len(seeds), need, len(seeds))
		}
	}
	if f.Statistical {
		clean := distinctSeeds(cleanRuns(f.Runs))
		if len(clean) >= 3 {
			d.path("gate-statistical", "%d distinct seeds", len(clean))
		} else {
			if d.dec.Verdict.IsPass() {
				d.path("gate-statistical", "%d < 3 seeds → %s", len(clean), PartialModel)
				d.capAt(PartialModel)
				d.reason("%s: statistical claim replicated on %d distinct clean seed(s) (%s); at least 3 needed", PartialModel, len(clean), strings.Join(clean, ", "))
			}
			d.block("replicate the statistical claim: %d more clean run(s) with new seeds", 3-len(clean))
		}
	}

	// Audit §8.1.
	hardening := d.dec.Verdict == PassHardening
	var failed81, open81 []string
	for _, it := range d.dec.Audit {
		if isWeakOracle(it.Key) {
			continue
		}
		switch it.Status {
		case AuditFailed, AuditContradicted:
			failed81 = append(failed81, it.Key)
			d.reason("audit %s %s: %s", it.Key, it.Status, auditWhy(it))
			d.block("audit %s must hold: %s", it.Key, auditWhy(it))
		case AuditUnanswered:
			open81 = append(open81, it.Key)
			d.block("answer audit %s (%s) with evidence", it.Key, it.Question)
		}
	}
	switch {
	case len(failed81) > 0 && d.dec.Verdict.IsPass():
		d.path("gate-audit-8.1", "%s do not hold → %s", strings.Join(failed81, ", "), PartialModel)
		d.capAt(PartialModel)
	case len(open81) > 0 && hardening:
		d.path("gate-audit-8.1", "%s unanswered → %s", strings.Join(open81, ", "), PartialModel)
		d.reason("not PASS-hardening: audit items %s are unanswered (SPEC §8: audits before any PASS)", strings.Join(open81, ", "))
		d.capAt(PartialModel)
	case d.dec.Verdict.IsPass():
		d.path("gate-audit-8.1", "holds")
	}

	// Audit §8.2.
	hardening = d.dec.Verdict == PassHardening
	var failed82 []string
	for _, it := range d.dec.Audit {
		if !isWeakOracle(it.Key) || it.Status.Holds() {
			continue
		}
		failed82 = append(failed82, it.Key)
		switch {
		case !f.Serious:
			d.reason("weak-oracle audit %s is %s (not gating: %s is not serious): %s", it.Key, it.Status, f.Scenario, auditWhy(it))
		case hardening:
			d.reason("not PASS-hardening: weak-oracle audit %s is %s: %s", it.Key, it.Status, auditWhy(it))
			d.block("weak-oracle audit %s must hold: %s", it.Key, auditWhy(it))
		default:
			d.block("weak-oracle audit %s must hold: %s", it.Key, auditWhy(it))
		}
	}
	if hardening {
		switch {
		case len(failed82) == 0:
			d.path("gate-audit-8.2", "holds")
		case f.Serious:
			d.path("gate-audit-8.2", "%s do not hold → %s", strings.Join(failed82, ", "), PartialModel)
			d.capAt(PartialModel)
		default:
			d.path("gate-audit-8.2", "not gating (not serious)")
		}
	}
	for _, k := range f.Audit.UnknownKeys() {
		d.reason("audit answer %q names no §8 item and was ignored", k)
	}
}

// hardeningRuns returns the clean runs with landed faults that meet every
// measurable dimension of the hardening tier, or why none did.
func (d *decider) hardeningRuns() ([]RunFacts, string) {
	t := d.f.Hardening
	switch {
	case t.NotProvided:
		return nil, fmt.Sprintf("the hardening budget is not provided (%q)", t.Text)
	case !tierMeasurable(t):
		return nil, fmt.Sprintf("the hardening budget %q declares no measurable cluster size, duration, fault count or seed count", t.Text)
	}
	var met []RunFacts
	var misses []string
	for _, r := range d.f.Runs {
		if !r.clean() || r.landed() == 0 {
			continue
		}
		if miss := tierMiss(t, r, true); miss != "" {
			misses = append(misses, fmt.Sprintf("run %s %s", r.ID, miss))
			continue
		}
		met = append(met, r)
	}
	if len(met) > 0 {
		return met, ""
	}
	why := fmt.Sprintf("no clean run with a landed fault met the hardening budget (%s)", tierText(t))
	if len(misses) > 0 {
		why += ": " + strings.Join(misses, "; ")
	}
	return nil, why
}

// smokeMet reports whether a clean run met the smoke tier's cluster size
// and duration and the runs its seed count. A tier that measures nothing
// is met.
func (d *decider) smokeMet() (bool, string) {
	t := d.f.Smoke
	if t.NotProvided || (t.Nodes == 0 && t.Duration == 0 && t.Seeds == 0) {
		return true, ""
	}
	clean := cleanRuns(d.f.Runs)
	var met []RunFacts
	var misses []string
	for _, r := range clean {
		if miss := tierMiss(t, r, false); miss != "" {
			misses = append(misses, fmt.Sprintf("run %s %s", r.ID, miss))
			continue
		}
		met = append(met, r)
	}
	if len(met) == 0 {
		why := fmt.Sprintf("no clean run met the smoke budget (%s)", tierText(t))
		if len(misses) > 0 {
			why += ": " + strings.Join(misses, "; ")
		}
		return false, why
	}
	if s := distinctSeeds(met); len(s) < t.Seeds {
		return false, fmt.Sprintf("the smoke budget declares %d seeds; the clean runs used %d (%s)", t.Seeds, len(s), strings.Join(s, ", "))
	}
	return true, ""
}

// tierMeasurable reports whether t declares any dimension falsify can
// check.
func tierMeasurable(t plan.Tier) bool {
	return t.Nodes > 0 || t.Duration > 0 || t.Faults > 0 || t.Seeds > 0
}

// tierMiss says how run r falls short of tier t's nodes, duration and
// (when faults is set) landed fault count, or "" when it meets them.
func tierMiss(t plan.Tier, r RunFacts, faults bool) string {
	var miss []string
	if t.Nodes > 0 && r.Nodes < t.Nodes {
		miss = append(miss, fmt.Sprintf("had %d nodes, not %d", r.Nodes, t.Nodes))
	}
	if t.Duration > 0 && r.Duration() < t.Duration {
		miss = append(miss, fmt.Sprintf("ran %s, not %s", r.Duration(), t.Duration))
	}
	if faults && t.Faults > 0 && r.landed() < t.Faults {
		miss = append(miss, fmt.Sprintf("landed %d fault(s), not %d", r.landed(), t.Faults))
	}
	return strings.Join(miss, ", ")
}

// tierText describes the measurable dimensions of t.
func tierText(t plan.Tier) string {
	var parts []string
	if t.Nodes > 0 {
		parts = append(parts, fmt.Sprintf("%d nodes", t.Nodes))
	}
	if t.Duration > 0 {
		parts = append(parts, t.Duration.String())
	}
	if t.Faults > 0 {
		parts = append(parts, fmt.Sprintf("%d faults", t.Faults))
	}
	if t.Seeds > 0 {
		parts = append(parts, fmt.Sprintf("%d seeds", t.Seeds))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%q", t.Text)
	}
	return strings.Join(parts, ", ")
}

// armsGate applies the arms gate to a scenario with runs of its own.
func (d *decider) armsGate() {
	if len(d.f.Arms) == 0 {
		return
	}
	var weak []string
	for _, a := range d.f.Arms {
		v := a.Decision.Verdict
		if v == PassSmoke {
			d.block("bring arm %s from %s to %s", a.Arm, v, PassHardening)
		}
		if v == NotRun || v.IsPartial() || v.IsInconclusive() || !v.Valid() {
			weak = append(weak, a.Arm+" "+string(v))
			d.reason("arm %s is %s: surface untested, the scenario is at best %s", a.Arm, verdictText(string(v)), PartialSurface)
			d.block("bring arm %s to a PASS (it is %s)", a.Arm, verdictText(string(v)))
		}
	}
	if len(weak) == 0 {
		d.path("gate-arms", "every arm passed")
		return
	}
	if passRank(d.dec.Verdict) > passRank(PartialSurface) {
		d.path("gate-arms", "%s → %s", strings.Join(weak, ", "), PartialSurface)
	} else {
		d.path("gate-arms", "%s", strings.Join(weak, ", "))
	}
	d.capAt(PartialSurface)
}

// armsOnly decides a split scenario with no runs of its own from its
// arms (none of which failed: violation handled that).
func (d *decider) armsOnly() {
	var best, firstInconclusive Verdict
	ran := false
	for _, a := range d.f.Arms {
		v := a.Decision.Verdict
		if v != NotRun {
			ran = true
		}
		if v.IsInconclusive() && firstInconclusive == "" {
			firstInconclusive = v
		}
		if passRank(v) > 0 && (best == "" || passRank(v) < passRank(best)) {
			best = v
		}
		if t := a.Decision.TierMet; t != "" && d.dec.TierMet != "smoke" {
			d.dec.TierMet = t
		}
	}
	switch {
	case !ran:
		d.dec.Verdict = NotRun
		d.path("arms", "none ran → %s", NotRun)
		d.reason("%s: no arm of %s was reached", NotRun, d.f.Scenario)
		for _, a := range d.f.Arms {
			d.block("run arm %s", a.Arm)
		}
		return
	case best == "" && firstInconclusive != "":
		d.dec.Verdict = firstInconclusive
		d.path("arms", "no arm passed → %s", d.dec.Verdict)
		d.reason("%s: no arm of %s reached a PASS or PARTIAL result", d.dec.Verdict, d.f.Scenario)
	case best == "":
		d.dec.Verdict = NotRun
		d.path("arms", "no arm reached a result → %s", NotRun)
		d.reason("%s: no arm of %s reached a known verdict", NotRun, d.f.Scenario)
	default:
		d.dec.Verdict = best
		d.path("arms", "weakest passing arm → %s", best)
	}
	for _, a := range d.f.Arms {
		d.reason("arm %s: %s", a.Arm, verdictText(string(a.Decision.Verdict)))
	}
	d.armsGate()
}

// cleanRuns returns the runs whose every check is ok.
func cleanRuns(runs []RunFacts) []RunFacts {
	var out []RunFacts
	for _, r := range runs {
		if r.clean() {
			out = append(out, r)
		}
	}
	return out
}

// distinctSeeds returns the distinct non-empty seeds of runs, sorted.
func distinctSeeds(runs []RunFacts) []string {
	seen := make(map[string]bool)
	var out []string
	for _, r := range runs {
		if noText(r.Seed) || seen[r.Seed] {
			continue
		}
		seen[r.Seed] = true
		out = append(out, r.Seed)
	}
	sort.Strings(out)
	return out
}

func joinIDs(runs []RunFacts) string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return strings.Join(ids, ", ")
}

// verdictText returns s, or "(none)" when s is blank.
func verdictText(s string) string {
	if noText(s) {
		return "(none)"
	}
	return s
}

// missingCheckers returns the components of the declared checker that no
// result in ran matches. A declaration "a + b" needs both; "a or b" needs
// one; "" or "none …" needs any checker at all.
func missingCheckers(declared string, ran []string) []string {
	norm := normalizeChecker(declared)
	if norm == "" || norm == "none" || strings.HasPrefix(norm, "none ") {
		if len(ran) == 0 {
			return []string{"(any checker)"}
		}
		return nil
	}
	var missing []string
	for _, comp := range splitAny(checkerHead(declared), "+", " and ", ";") {
		alts := splitAny(comp, " or ", ",")
		found := false
		for _, alt := range alts {
			for _, r := range ran {
				if checkerMatch(alt, r) {
					found = true
				}
			}
		}
		if !found {
			missing = append(missing, strings.TrimSpace(comp))
		}
	}
	return missing
}

// checkerHead returns the part of a declared §7.M checker that names
// checkers: a written justification after a dash or "justification:"
// ("linearizability — justification: the picker has no map + durability
// row; …") argues for the choice and names nothing that must run.
func checkerHead(declared string) string {
	cut := len(declared)
	for _, sep := range []string{" — ", " – ", " -- ", " - "} {
		if i := strings.Index(declared, sep); i >= 0 && i < cut {
			cut = i
		}
	}
	if i := strings.Index(strings.ToLower(declared), "justification:"); i >= 0 && i < cut {
		cut = i
	}
	return declared[:cut]
}

// splitAny splits s on every separator in seps and drops blank parts.
func splitAny(s string, seps ...string) []string {
	parts := []string{s}
	for _, sep := range seps {
		var next []string
		for _, p := range parts {
			next = append(next, strings.Split(p, sep)...)
		}
		parts = next
	}
	var out []string
	for _, p := range parts {
		if !noText(p) {
			out = append(out, p)
		}
	}
	return out
}

// checkerMatch reports whether a declared checker name and a checker that
// ran are the same: equal once normalised, or one contains the other as
// whole words ("linearizability" ran for "linearizability per key").
func checkerMatch(declared, ran string) bool {
	// The plan's picker vocabulary names checkers by alias ("invariant
	// over final state" is final-state-invariant).
	if slices.Contains(plan.CheckersIn(declared), ran) {
		return true
	}
	a, b := normalizeChecker(declared), normalizeChecker(ran)
	if a == "" || b == "" {
		return false
	}
	return a == b || strings.Contains(" "+a+" ", " "+b+" ") || strings.Contains(" "+b+" ", " "+a+" ")
}

// normalizeChecker lowercases a checker name, drops parenthesised text and
// turns every run of non-alphanumerics into one space.
func normalizeChecker(s string) string {
	var b strings.Builder
	depth := 0
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '(':
			depth++
			space = true
		case r == ')':
			if depth > 0 {
				depth--
			}
			space = true
		case depth > 0:
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}
