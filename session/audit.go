package session

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/falsify-dev/falsify/plan"
)

// Audit holds the caller's answers to the audits of SPEC §8, keyed by the
// stable item keys of AuditQuestions ("8.1.1-rate-duration",
// "8.2.8-three-seeds"…). A missing key is an unanswered item.
type Audit map[string]Answer

// Answer is the caller's answer to one audit item. Holds is nil when the
// caller did not say; an answer without evidence text counts as
// unanswered whatever Holds says. NotApplicable marks an item that does
// not apply to the scenario; Evidence then says why, and only items whose
// question allows it accept it.
type Answer struct {
	Holds         *bool  `json:"holds"`
	Evidence      string `json:"evidence"`
	NotApplicable bool   `json:"not_applicable,omitempty"`
}

// AuditStatus is the outcome of one audit item once falsify has read the
// answer against its own records.
type AuditStatus string

// Audit item statuses.
const (
	// AuditUnanswered: no answer, or an answer without evidence text.
	AuditUnanswered AuditStatus = "unanswered"
	// AuditAnswered: the caller says it holds, with evidence falsify
	// cannot check itself.
	AuditAnswered AuditStatus = "answered"
	// AuditVerified: the caller says it holds and falsify's records agree.
	AuditVerified AuditStatus = "verified"
	// AuditContradicted: the caller says it holds (or does not apply) and
	// falsify's records say otherwise. Counts as failed.
	AuditContradicted AuditStatus = "contradicted"
	// AuditFailed: the caller says it does not hold.
	AuditFailed AuditStatus = "failed"
	// AuditNotApplicable: the item does not apply, with a reason.
	AuditNotApplicable AuditStatus = "not-applicable"
)

// Holds reports whether the status lets the item pass: answered,
// verified or not applicable.
func (s AuditStatus) Holds() bool {
	return s == AuditAnswered || s == AuditVerified || s == AuditNotApplicable
}

// AuditQuestion is one item of SPEC §8.1 or §8.2.
type AuditQuestion struct {
	Key      string // stable key, e.g. "8.2.3-not-health-only"
	Question string // the item as SPEC §8 states it
	// MayNotApply is true when the item can legitimately be marked not
	// applicable (a failover item for a scenario without failover).
	MayNotApply bool
}

// Audit item keys of SPEC §8.1 (green-but-broken checks).
const (
	AuditRateDuration     = "8.1.1-rate-duration"
	AuditOracleEveryCycle = "8.1.2-oracle-every-cycle"
	AuditFaultEvidence    = "8.1.3-fault-evidence"
	AuditFaultNotNoop     = "8.1.4-fault-not-noop"
	AuditMonotonicTiming  = "8.1.5-monotonic-timing"
	AuditDurationExit     = "8.1.6-duration-exit"
	AuditNoSwallowedErrs  = "8.1.7-no-swallowed-errors"
	AuditRecoveryNominal  = "8.1.8-recovery-nominal"
	AuditFairBaseline     = "8.1.9-fair-baseline"
	AuditStatsReplicated  = "8.1.10-statistical-replicated"
)

// Audit item keys of SPEC §8.2 (weak-oracle audit).
const (
	AuditNotFinalStateOnly = "8.2.1-not-final-state-only"
	AuditNotLogsOnly       = "8.2.2-not-logs-only"
	AuditNotHealthOnly     = "8.2.3-not-health-only"
	AuditMultipleFailovers = "8.2.4-multiple-failovers"
	AuditHiddenRetries     = "8.2.5-hidden-retries"
	AuditMonotonicTS       = "8.2.6-monotonic-timestamps"
	AuditAsymmetricFault   = "8.2.7-asymmetric-fault"
	AuditThreeSeeds        = "8.2.8-three-seeds"
)

// AuditQuestions returns the ten items of SPEC §8.1 followed by the eight
// of §8.2, in SPEC order.
func AuditQuestions() []AuditQuestion {
	return []AuditQuestion{
		{AuditRateDuration, "the workload produced the intended rate for the intended duration", false},
		{AuditOracleEveryCycle, "the oracle ran on every intended cycle (cite its op count)", false},
		{AuditFaultEvidence, "faults injected, with evidence from injector and victim side", true},
		{AuditFaultNotNoop, "the fault did not silently no-op (wrong chain, wrong interface, restart undone by an orchestrator, mutation below the SUT's own key wrapper)", true},
		{AuditMonotonicTiming, "no clock-skew masking (monotonic timing)", false},
		{AuditDurationExit, "the run met its duration exit criterion", false},
		{AuditNoSwallowedErrs, "no swallowed errors (SUT log searched for panics / internal errors)", false},
		{AuditRecoveryNominal, "recovery completed to nominal, not degraded", true},
		{AuditFairBaseline, "the baseline comparison is fair (same harness)", true},
		{AuditStatsReplicated, "statistical claims replicated", true},
		{AuditNotFinalStateOnly, "oracle is not final-state only", false},
		{AuditNotLogsOnly, "oracle is not logs only", false},
		{AuditNotHealthOnly, "oracle is not health checks only", false},
		{AuditMultipleFailovers, "more than one failover if failover-based", true},
		{AuditHiddenRetries, "library-hidden retries caught (or n/a)", true},
		{AuditMonotonicTS, "monotonic timestamps", false},
		{AuditAsymmetricFault, "at least one asymmetric / mixed fault variant where applicable", true},
		{AuditThreeSeeds, "at least three seeds", false},
	}
}

// UnknownKeys returns the answer keys that name no audit item, sorted.
func (a Audit) UnknownKeys() []string {
	known := make(map[string]bool)
	for _, q := range AuditQuestions() {
		known[q.Key] = true
	}
	var out []string
	for k := range a {
		if !known[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// AuditItem is one audit item as falsify judged it.
type AuditItem struct {
	Key      string      `json:"key"`
	Question string      `json:"question"`
	Status   AuditStatus `json:"status"`
	Holds    *bool       `json:"holds"`
	Evidence string      `json:"evidence"` // the caller's evidence text
	// Check is what falsify measured itself, when it could ("runs used 1
	// distinct seed: 7"); empty when the item is beyond its records.
	Check string `json:"check,omitempty"`
}

// isWeakOracle reports whether key is a §8.2 item.
func isWeakOracle(key string) bool { return strings.HasPrefix(key, "8.2.") }

// judgeAudit reads every §8 answer in f.Audit against falsify's records.
// An answer whose claim the records disprove is contradicted; one they
// confirm is verified; the rest keep the caller's word (answered, failed,
// not applicable) or are unanswered.
func judgeAudit(f Facts) []AuditItem {
	qs := AuditQuestions()
	items := make([]AuditItem, 0, len(qs))
	for _, q := range qs {
		ans, given := f.Audit[q.Key]
		it := AuditItem{Key: q.Key, Question: q.Question, Holds: ans.Holds, Evidence: ans.Evidence}
		m := measure(q.Key, f, ans)
		it.Check = m.text
		switch {
		case !given || noText(ans.Evidence):
			it.Status = AuditUnanswered
		case ans.NotApplicable && !q.MayNotApply:
			it.Status = AuditUnanswered
			it.Check = joinCheck("this item always applies: answer whether it holds, with evidence", m.text)
		case ans.NotApplicable && m.appliesKnown && m.applies:
			it.Status = AuditContradicted
			it.Check = joinCheck("answer says not applicable; the records say it applies", m.text)
		case ans.NotApplicable:
			it.Status = AuditNotApplicable
		case ans.Holds == nil:
			it.Status = AuditUnanswered
			it.Check = joinCheck("the answer does not say whether the item holds", m.text)
		case !*ans.Holds:
			it.Status = AuditFailed
		case m.checked && m.holds:
			it.Status = AuditVerified
		case m.checked:
			it.Status = AuditContradicted
		default:
			it.Status = AuditAnswered
		}
		items = append(items, it)
	}
	return items
}

// auditWhy explains an audit item that does not hold.
func auditWhy(it AuditItem) string {
	switch it.Status {
	case AuditUnanswered:
		if it.Check != "" {
			return "no usable answer (" + it.Check + ")"
		}
		return "no answer with evidence"
	case AuditFailed:
		return "the answer says it does not hold: " + verdictText(it.Evidence)
	}
	if it.Check != "" {
		return it.Check
	}
	return verdictText(it.Evidence)
}

func joinCheck(head, detail string) string {
	if detail == "" {
		return head
	}
	return head + ": " + detail
}

// measurement is what falsify's records say about one audit item.
type measurement struct {
	checked      bool // the records decide whether the item holds
	holds        bool
	appliesKnown bool // the records decide whether the item applies
	applies      bool
	text         string // what was measured
}

// measure checks one audit item against the records, as far as they
// reach.
func measure(key string, f Facts, ans Answer) measurement {
	var faults []faultAt
	for _, r := range f.Runs {
		for _, ft := range r.Faults {
			faults = append(faults, faultAt{run: r.ID, FaultFacts: ft})
		}
	}
	noFault := measurement{checked: true, appliesKnown: true, text: "no run injected a fault"}
	switch key {
	case AuditRateDuration:
		return measureRuns(f.Runs, func(r RunFacts) (string, string) {
			d := r.Duration()
			switch {
			case r.Ops <= 0:
				return "", fmt.Sprintf("run %s recorded 0 ops", r.ID)
			case d == 0:
				return "", fmt.Sprintf("run %s has no start/end timestamps", r.ID)
			}
			ok := fmt.Sprintf("run %s: %d ops in %s (%.1f ops/s, %d timed out)", r.ID, r.Ops, d, float64(r.Ops)/d.Seconds(), r.TimedOut)
			if t := tierFor(f, r.Tier); t.Duration > 0 && d < t.Duration {
				return "", ok + fmt.Sprintf(", short of the %s tier's %s", r.Tier, t.Duration)
			}
			return ok, ""
		})
	case AuditOracleEveryCycle:
		m := measureRuns(f.Runs, func(r RunFacts) (string, string) {
			if len(r.Checks) == 0 {
				return "", fmt.Sprintf("no checker ran on run %s", r.ID)
			}
			var good, bad []string
			for _, c := range r.Checks {
				s := fmt.Sprintf("%s consumed %d of %d ops on run %s", c.Checker, c.OpsConsumed, c.OpsTotal, r.ID)
				switch {
				case c.Partial || c.OpsConsumed < c.OpsTotal || c.OpsTotal <= 0:
					bad = append(bad, s)
				case r.Ops > c.OpsTotal:
					bad = append(bad, s+fmt.Sprintf(" (the run recorded %d)", r.Ops))
				default:
					good = append(good, s)
				}
			}
			return strings.Join(good, "; "), strings.Join(bad, "; ")
		})
		if cited := citedCounts(ans.Evidence, opsCited); m.checked && len(cited) > 0 {
			counts := make(map[int]bool)
			for _, r := range f.Runs {
				counts[r.Ops] = true
				for _, c := range r.Checks {
					counts[c.OpsConsumed] = true
					counts[c.OpsTotal] = true
					for _, n := range citedCounts(c.Evidence, opsCited) {
						counts[n] = true // the checker's own sentence
					}
				}
			}
			for _, n := range cited {
				if !counts[n] {
					m.holds = false
					m.text = fmt.Sprintf("answer cites %d ops; the records say: %s", n, m.text)
					break
				}
			}
		}
		return m
	case AuditFaultEvidence:
		if len(faults) == 0 {
			return noFault
		}
		m := measureFaults(faults, func(ft faultAt) string {
			switch {
			case !ft.Landed:
				return "has no landing evidence"
			case noText(ft.Evidence):
				return "has no injector-side evidence"
			}
			return ""
		})
		if !m.holds {
			return m
		}
		// Victim-side evidence is required "when the kind allows" (SPEC
		// §5); falsify cannot tell, so a missing one leaves the item to
		// the caller's evidence instead of contradicting it.
		var noVictim []string
		for _, ft := range faults {
			if noText(ft.VictimEvidence) {
				noVictim = append(noVictim, ft.run+"/"+ft.Epoch)
			}
		}
		if len(noVictim) > 0 {
			m.checked = false
			m.text = "no victim-side evidence recorded for " + strings.Join(noVictim, ", ") + ": the answer must cite it"
		}
		return m
	case AuditFaultNotNoop:
		if len(faults) == 0 {
			return noFault
		}
		return measureFaults(faults, func(ft faultAt) string {
			if !ft.Landed {
				return "did not land (its probe did not change)"
			}
			return ""
		})
	case AuditRecoveryNominal:
		if len(faults) == 0 {
			return noFault
		}
		return measureFaults(faults, func(ft faultAt) string {
			if !ft.Healed {
				return "was never healed"
			}
			return ""
		})
	case AuditMonotonicTiming, AuditMonotonicTS:
		return measureRuns(f.Runs, func(r RunFacts) (string, string) {
			if !r.MonotonicTS {
				return "", fmt.Sprintf("run %s has timestamps from a non-monotonic source", r.ID)
			}
			return fmt.Sprintf("run %s monotonic", r.ID), ""
		})
	case AuditDurationExit:
		m := measureRuns(f.Runs, func(r RunFacts) (string, string) {
			t := tierFor(f, r.Tier)
			if t.Duration == 0 {
				return "", ""
			}
			if r.Duration() < t.Duration {
				return "", fmt.Sprintf("run %s ran %s; its %s tier declares %s", r.ID, r.Duration(), r.Tier, t.Duration)
			}
			return fmt.Sprintf("run %s ran %s ≥ %s", r.ID, r.Duration(), t.Duration), ""
		})
		if m.text == "" {
			m.checked = false
		}
		return m
	case AuditStatsReplicated:
		if !f.Statistical {
			return measurement{appliesKnown: true}
		}
		seeds := distinctSeeds(cleanRuns(f.Runs))
		return measurement{checked: true, holds: len(seeds) >= 3, appliesKnown: true, applies: true,
			text: fmt.Sprintf("statistical claim: %d distinct clean seed(s) (%s)", len(seeds), strings.Join(seeds, ", "))}
	case AuditNotFinalStateOnly:
		return measureOracleKinds(f.Runs, isFinalStateChecker, "final-state")
	case AuditNotHealthOnly:
		return measureOracleKinds(f.Runs, func(n string) bool { return strings.Contains(normalizeChecker(n), "health") }, "health-check")
	case AuditAsymmetricFault:
		var landed, asym []string
		network := false
		for _, ft := range faults {
			if !ft.Landed {
				continue
			}
			landed = append(landed, ft.Kind)
			if ft.Asymmetric {
				asym = append(asym, ft.run+"/"+ft.Epoch)
			}
			if isNetworkFault(ft.Kind) {
				network = true
			}
		}
		if len(landed) == 0 {
			return measurement{checked: true, appliesKnown: true, text: "no landed fault"}
		}
		if len(asym) > 0 {
			return measurement{checked: true, holds: true, appliesKnown: true, applies: true, text: "asymmetric variant landed: " + strings.Join(asym, ", ")}
		}
		return measurement{checked: true, appliesKnown: network, applies: network,
			text: "no landed fault is asymmetric (kinds: " + strings.Join(landed, ", ") + ")"}
	case AuditMultipleFailovers:
		// Failover-based when a landed fault targets leadership; then some
		// run must have landed more than one.
		best, bestRun := 0, ""
		for _, r := range f.Runs {
			n := 0
			for _, ft := range r.Faults {
				if ft.Landed && isFailoverFault(ft.Kind) {
					n++
				}
			}
			if n > best {
				best, bestRun = n, r.ID
			}
		}
		if best == 0 {
			return measurement{}
		}
		return measurement{checked: true, holds: best > 1, appliesKnown: true, applies: true,
			text: fmt.Sprintf("failover-based: at most %d landed failover fault(s) in one run (%s)", best, bestRun)}
	case AuditThreeSeeds:
		seeds := distinctSeeds(seedRuns(f.Runs))
		m := measurement{checked: true, holds: len(seeds) >= 3, appliesKnown: true, applies: true,
			text: fmt.Sprintf("the clean runs used %d distinct seed(s) (%s)", len(seeds), strings.Join(seeds, ", "))}
		for _, n := range citedCounts(ans.Evidence, seedsCited) {
			if n > len(seeds) {
				m.holds = false
				m.text = fmt.Sprintf("answer says %d seeds; the runs say %d (%s)", n, len(seeds), strings.Join(seeds, ", "))
				break
			}
		}
		return m
	}
	return measurement{}
}

// faultAt is a fault with the run it belongs to.
type faultAt struct {
	run string
	FaultFacts
}

// measureRuns applies check to every run: check returns what it saw when
// the run passes, or why it does not. No run: nothing is checked.
func measureRuns(runs []RunFacts, check func(RunFacts) (ok, bad string)) measurement {
	if len(runs) == 0 {
		return measurement{}
	}
	var good, bad []string
	for _, r := range runs {
		g, b := check(r)
		if g != "" {
			good = append(good, g)
		}
		if b != "" {
			bad = append(bad, b)
		}
	}
	if len(bad) > 0 {
		return measurement{checked: true, text: strings.Join(bad, "; ")}
	}
	return measurement{checked: true, holds: true, text: strings.Join(good, "; ")}
}

// measureFaults applies problem to every fault; a fault with a problem
// makes the item fail.
func measureFaults(faults []faultAt, problem func(faultAt) string) measurement {
	var bad, good []string
	for _, ft := range faults {
		if p := problem(ft); p != "" {
			bad = append(bad, fmt.Sprintf("fault %s (%s) in run %s %s", ft.Epoch, verdictText(ft.Kind), ft.run, p))
		} else {
			good = append(good, ft.run+"/"+ft.Epoch)
		}
	}
	m := measurement{checked: true, appliesKnown: true, applies: true}
	if len(bad) > 0 {
		m.text = strings.Join(bad, "; ")
		return m
	}
	m.holds = true
	m.text = "faults " + strings.Join(good, ", ") + " hold"
	return m
}

// measureOracleKinds fails when every checker that ran is of the kind
// narrow reports (final-state only, health checks only).
func measureOracleKinds(runs []RunFacts, narrow func(string) bool, kind string) measurement {
	var names []string
	seen := make(map[string]bool)
	all := true
	for _, r := range runs {
		for _, c := range r.Checks {
			if !seen[c.Checker] {
				seen[c.Checker] = true
				names = append(names, c.Checker)
			}
			if !narrow(c.Checker) {
				all = false
			}
		}
	}
	if len(names) == 0 {
		return measurement{}
	}
	if all {
		return measurement{checked: true, text: fmt.Sprintf("every checker that ran is %s only: %s", kind, strings.Join(names, ", "))}
	}
	return measurement{checked: true, holds: true, text: "checkers that ran: " + strings.Join(names, ", ")}
}

// isFinalStateChecker reports whether a checker reads only a final or
// replica state, not the history.
func isFinalStateChecker(name string) bool {
	n := normalizeChecker(name)
	for _, k := range []string{"invariant", "final state", "reconciliation", "replay equivalence"} {
		if strings.Contains(n, k) {
			return true
		}
	}
	return false
}

// isNetworkFault reports whether a fault kind is of the network family,
// for which an asymmetric variant applies.
func isNetworkFault(kind string) bool {
	k := strings.ToLower(kind)
	for _, w := range []string{"partition", "net", "loss", "latency", "delay", "drop", "reset", "bandwidth", "split"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// isFailoverFault reports whether a fault kind forces a leadership
// change.
func isFailoverFault(kind string) bool {
	k := strings.ToLower(kind)
	return strings.Contains(k, "failover") || strings.Contains(k, "leader")
}

// tierFor returns the declared tier a run was started at.
func tierFor(f Facts, name string) plan.Tier {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case plan.TierSmoke:
		return f.Smoke
	case plan.TierHardening:
		return f.Hardening
	}
	return plan.Tier{}
}

var (
	opsCited   = regexp.MustCompile(`(?i)\b(\d[\d,_]*)\s*(?:ops|operations)\b`)
	seedsCited = regexp.MustCompile(`(?i)\b(\d+)\s*(?:distinct\s+|different\s+)?seeds?\b`)
)

// citedCounts returns the numbers the evidence text cites with re.
func citedCounts(evidence string, re *regexp.Regexp) []int {
	var out []int
	for _, m := range re.FindAllStringSubmatch(evidence, -1) {
		n, err := strconv.Atoi(strings.NewReplacer(",", "", "_", "").Replace(m[1]))
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}

// seedRuns returns the runs whose seeds count for the three-seed item: the
// clean runs with a landed fault when any run landed one, else every
// clean run.
func seedRuns(runs []RunFacts) []RunFacts {
	clean := cleanRuns(runs)
	var faulted []RunFacts
	for _, r := range clean {
		if r.landed() > 0 {
			faulted = append(faulted, r)
		}
	}
	if len(faulted) > 0 {
		return faulted
	}
	return clean
}
