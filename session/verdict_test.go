package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/plan"
)

const minuteNS = int64(time.Minute)

// hardRun is a clean hardening run: 5 nodes for 10 minutes, 1000 ops fully
// checked by linearizability, one asymmetric partition that landed (with
// injector and victim evidence) and healed.
func hardRun(id, seed string) RunFacts {
	start := int64(1_000_000_000)
	return RunFacts{
		ID: id, Seed: seed, Tier: "hardening", FaultSchedule: "partition-asym@30s+60s",
		Nodes: 5, StartNS: start, EndNS: start + 10*minuteNS, Ops: 1000,
		Checks: []CheckFacts{{Checker: "linearizability", Status: "ok", OpsConsumed: 1000, OpsTotal: 1000,
			Evidence: "Porcupine checked 1000 ops over 8 keys: 0 anomalies"}},
		Faults: []FaultFacts{{Epoch: "F1", Kind: "partition", Landed: true, Healed: true, Asymmetric: true,
			Evidence: "iptables DROP counter 0 → 4,112 packets", VictimEvidence: "client RPC timeouts 0 → 37"}},
		MonotonicTS: true,
	}
}

// smokeRun is a clean fault-free smoke run: 3 nodes for 2 minutes.
func smokeRun(id, seed string) RunFacts {
	r := hardRun(id, seed)
	r.Tier, r.Nodes, r.EndNS, r.Faults, r.FaultSchedule = "smoke", 3, r.StartNS+2*minuteNS, nil, ""
	return r
}

func holdsTrue() *bool  { t := true; return &t }
func holdsFalse() *bool { f := false; return &f }

// fullAudit answers every §8 item for a serious hardening scenario.
func fullAudit() Audit {
	a := Audit{}
	for _, q := range AuditQuestions() {
		a[q.Key] = Answer{Holds: holdsTrue(), Evidence: "checked: " + q.Question}
	}
	a[AuditOracleEveryCycle] = Answer{Holds: holdsTrue(), Evidence: "linearizability consumed 1000 of 1000 ops per run"}
	a[AuditThreeSeeds] = Answer{Holds: holdsTrue(), Evidence: "3 distinct seeds: 1, 2, 3"}
	a[AuditStatsReplicated] = Answer{NotApplicable: true, Evidence: "safety claim, not statistical"}
	a[AuditFairBaseline] = Answer{NotApplicable: true, Evidence: "no baseline comparison"}
	a[AuditMultipleFailovers] = Answer{NotApplicable: true, Evidence: "partition-based, not failover-based"}
	return a
}

// hardFacts is a serious scenario that earns PASS-hardening.
func hardFacts() Facts {
	return Facts{
		Scenario: "S1", Name: "linearizable_register_under_partition", Serious: true,
		DeclaredChecker: "linearizability (Porcupine)", FaultPlanned: true,
		Smoke:     plan.Tier{Text: "3 nodes, 1m, 1 seed", Nodes: 3, Duration: time.Minute, Seeds: 1},
		Hardening: plan.Tier{Text: "5 nodes, 10m, 1 fault, 3 seeds", Nodes: 5, Duration: 10 * time.Minute, Faults: 1, Seeds: 3},
		Runs:      []RunFacts{hardRun("R1", "1"), hardRun("R2", "2"), hardRun("R3", "3")},
		Audit:     fullAudit(),
	}
}

// smokeFacts is a non-serious fault-free scenario that earns PASS-smoke.
func smokeFacts() Facts {
	f := hardFacts()
	f.Serious, f.FaultPlanned = false, false
	f.Runs = []RunFacts{smokeRun("R1", "1")}
	a := fullAudit()
	for _, k := range []string{AuditFaultEvidence, AuditFaultNotNoop, AuditRecoveryNominal, AuditAsymmetricFault} {
		a[k] = Answer{NotApplicable: true, Evidence: "fault-free baseline"}
	}
	delete(a, AuditThreeSeeds)
	f.Audit = a
	return f
}

func violate(r *RunFacts, evidence string) {
	r.Checks[0].Status = "violation"
	r.Checks[0].Evidence = evidence
}

func completeFinding() *FindingFacts {
	return &FindingFacts{
		Reproducer: "falsify run S1 --seed 1 --tier hardening", Reduction: "reduced from 412 events to 9 over 23 re-runs",
		BlameClass: "SUT", TaxDCType: "partition", Tags: []string{"replication", "safety"}, Severity: "P0",
		EvidenceLinks: []string{"artifacts/R1/linearizability.html"}, RootCause: "stale leader serves reads after losing lease",
		Owner: "storage team", NextAction: "fix lease check in read path; re-run S1",
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name        string
		facts       func() Facts
		want        Verdict
		reason      string // substring of some reason
		blocker     string // substring of some blocker
		path        string // substring of some path node
		noBlockers  bool
		notInReason string // must not appear in any reason
	}{
		{
			name: "pass-hardening", facts: hardFacts, want: PassHardening,
			path: "fault-active: yes (R1, R2, R3) → PASS-hardening", noBlockers: true,
		},
		{
			name: "env missing", want: InconclusiveEnv,
			facts:  func() Facts { f := hardFacts(); f.EnvMissing = []string{"tc netem"}; return f },
			reason: "required capability missing: tc netem", blocker: `provide capability "tc netem"`,
		},
		{
			name: "env beats a violation", want: InconclusiveEnv,
			facts: func() Facts {
				f := hardFacts()
				f.EnvMissing = []string{"iptables"}
				violate(&f.Runs[0], "no linear order")
				return f
			},
			reason: "required capability missing: iptables",
		},
		{
			name: "no run is NOT-RUN", want: NotRun,
			facts:  func() Facts { f := hardFacts(); f.Runs = nil; return f },
			reason: "recorded no run of S1", blocker: "start a run of S1",
		},
		{
			name: "single violation without re-run", want: FailNondeterministic,
			facts:   func() Facts { f := hardFacts(); violate(&f.Runs[0], "no linear order at op 17"); return f },
			reason:  "violation in run R1 (seed 1, tier hardening): linearizability: no linear order at op 17",
			blocker: "re-run with the same seed to confirm: seed 1",
		},
		{
			name: "violation reproduced by a same-seed same-schedule re-run", want: FailReproducible,
			facts: func() Facts {
				f := hardFacts()
				r := hardRun("R4", "1")
				violate(&f.Runs[0], "no linear order")
				violate(&r, "no linear order")
				f.Runs = append(f.Runs, r)
				return f
			},
			reason: "reproduced: runs R1 and R4 share seed 1",
		},
		{
			name: "violation not reproduced by a clean re-run", want: FailNondeterministic,
			facts: func() Facts {
				f := hardFacts()
				violate(&f.Runs[0], "no linear order")
				f.Runs = append(f.Runs, hardRun("R4", "1"))
				return f
			},
			reason: "violation of run R1 did not re-occur in run R4", notInReason: "has not been re-run",
		},
		{
			name: "same seed but different fault schedule is no reproduction", want: FailNondeterministic,
			facts: func() Facts {
				f := hardFacts()
				r := hardRun("R4", "1")
				r.FaultSchedule = "kill-leader@30s"
				violate(&f.Runs[0], "no linear order")
				violate(&r, "no linear order")
				f.Runs = append(f.Runs, r)
				return f
			},
			reason:  "a different fault schedule is not a re-run of R1",
			blocker: "re-run with the same seed to confirm",
		},
		{
			name: "same seed at another tier is no reproduction", want: FailNondeterministic,
			facts: func() Facts {
				f := hardFacts()
				r := hardRun("R4", "1")
				r.Tier = "smoke"
				violate(&f.Runs[0], "x")
				violate(&r, "x")
				f.Runs = append(f.Runs, r)
				return f
			},
			reason: "a different configuration is not a re-run of R1",
		},
		{
			name: "violation in one of five runs beats every other defect", want: FailNondeterministic,
			facts: func() Facts {
				f := hardFacts()
				f.Runs = append(f.Runs, hardRun("R4", "4"), hardRun("R5", "5"))
				violate(&f.Runs[2], "lost ack of write 812")
				f.Runs[1].Faults[0].Landed = false   // would be fault-not-proven
				f.Runs[3].Checks[0].OpsConsumed = 10 // would be partial
				f.Audit = nil                        // would cap at PARTIAL-model
				return f
			},
			reason: "violation in run R3 (seed 3, tier hardening): linearizability: lost ack of write 812",
			path:   "violation: yes (R3)",
		},
		{
			name: "unseeded violation cannot be confirmed", want: FailNondeterministic,
			facts:   func() Facts { f := hardFacts(); f.Runs[0].Seed = ""; violate(&f.Runs[0], "x"); return f },
			reason:  "run R1 has no seed",
			blocker: "record the seed of run R1",
		},
		{
			name: "FAIL without finding facts stays FAIL and lists the missing fields", want: FailNondeterministic,
			facts:   func() Facts { f := hardFacts(); violate(&f.Runs[0], "x"); return f },
			blocker: "finding.blame_class is missing",
		},
		{
			name: "FAIL arm makes the scenario FAIL", want: FailReproducible,
			facts: func() Facts {
				f := hardFacts()
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: PassHardening}}, {Arm: "S1/export", Decision: Decision{Verdict: FailReproducible}}}
				return f
			},
			reason: "arm S1/export is FAIL-reproducible",
		},
		{
			name: "PASS claimed with no fault evidence", want: InconclusiveFaultNotProven,
			facts: func() Facts {
				f := hardFacts()
				for i := range f.Runs {
					f.Runs[i].Faults[0].Landed = false
					f.Runs[i].Faults[0].Evidence = ""
				}
				return f
			},
			reason:  "not PASS-hardening: fault F1 (partition) in run R1 has no landing evidence",
			blocker: "prove fault F1 of run R1 landed",
		},
		{
			name: "fault whose probe did not change", want: InconclusiveFaultNotProven,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[1].Faults[0].Landed = false
				f.Runs[1].Faults[0].Evidence = "iptables DROP counter 0 → 0"
				return f
			},
			reason: "fault F1 (partition) in run R2 did not land: its probe showed no effect (iptables DROP counter 0 → 0)",
			path:   "fault-landing: not proven (R2/F1) → INCONCLUSIVE-fault-not-proven",
		},
		{
			name: "declared checker never ran", want: PartialSurface,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[0].Checks[0].Checker = "slo-threshold"
				return f
			},
			reason: "declared checker linearizability (Porcupine) did not run on run R1 (ran: slo-threshold)",
		},
		{
			name: "a run with no checker at all", want: PartialSurface,
			facts:   func() Facts { f := hardFacts(); f.Runs[2].Checks = nil; return f },
			reason:  "no checker ran on run R3",
			blocker: "run the declared checker",
		},
		{
			name: "both parts of a compound checker are required", want: PartialSurface,
			facts: func() Facts {
				f := hardFacts()
				f.DeclaredChecker = "no-lost-ack + replay-equivalence"
				for i := range f.Runs {
					f.Runs[i].Checks[0].Checker = "no-lost-ack"
				}
				return f
			},
			reason: "declared checker replay-equivalence did not run",
		},
		{
			name: "history missing fault_epoch", want: InconclusiveOracleTooWeak,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[0].Checks[0].Missing = []string{"fault_epoch"}
				return f
			},
			reason:  "the history of run R1 lacks fault_epoch, which linearizability needs",
			blocker: "record fault_epoch in every op of run R1",
		},
		{
			name: "unknown checker status is never a pass", want: InconclusiveOracleTooWeak,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[1].Checks[0].Status = "unknown"
				f.Runs[1].Checks[0].Evidence = "search timed out after 60s"
				return f
			},
			reason: "checker could not decide: linearizability returned unknown on run R2 (search timed out after 60s)",
		},
		{
			name: "undefined checker status", want: InconclusiveOracleTooWeak,
			facts:  func() Facts { f := hardFacts(); f.Runs[0].Checks[0].Status = "green"; return f },
			reason: `reported status "green"`,
		},
		{
			name: "checker on an empty history", want: InconclusiveOracleTooWeak,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[0].Checks[0].OpsConsumed, f.Runs[0].Checks[0].OpsTotal = 0, 0
				return f
			},
			reason: "consumed 0 of 0 ops on run R1",
		},
		{
			name: "every op timed out", want: InconclusiveOracleTooWeak,
			facts:  func() Facts { f := hardFacts(); f.Runs[1].TimedOut = 1000; return f },
			reason: "all 1000 ops of run R2 timed out",
		},
		{
			name: "history does not cover the fault window", want: InconclusiveOracleTooWeak,
			facts: func() Facts {
				f := hardFacts()
				zero, some := 0, 120
				f.Runs[0].OpsInFaults = &some
				f.Runs[2].OpsInFaults = &zero
				return f
			},
			reason: "no op of run R3 ran inside a fault window",
		},
		{
			name: "some ops timed out is fine", want: PassHardening,
			facts: func() Facts { f := hardFacts(); f.Runs[1].TimedOut = 40; return f },
		},
		{
			name: "checker claims more ops than it was given", want: InconclusiveOracleTooWeak,
			facts:  func() Facts { f := hardFacts(); f.Runs[0].Checks[0].OpsConsumed = 1200; return f },
			reason: "claims 1200 ops consumed of 1000 on run R1: inconsistent execution evidence",
		},
		{
			name: "timestamps relative to the test start", want: PassHardening,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[0].StartNS, f.Runs[0].EndNS = 0, 10*minuteNS
				return f
			},
		},
		{
			name: "rate answer contradicted by a run without timestamps", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				r := hardRun("R4", "4")
				r.StartNS, r.EndNS = 0, 0
				f.Runs = append(f.Runs, r)
				return f
			},
			reason: "audit 8.1.1-rate-duration contradicted: run R4 has no start/end timestamps",
			path:   "gate-budget: hardening met by R1, R2, R3",
		},
		{
			name: "checker on a subset of the ops", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); f.Runs[0].Checks[0].OpsConsumed = 800; return f },
			reason: "linearizability consumed 800 of 1000 ops on run R1",
		},
		{
			name: "checker marked partial", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); f.Runs[0].Checks[0].Partial = true; return f },
			reason: "ran on a subset of run R1",
		},
		{
			name: "checker saw fewer ops than the run recorded", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[0].Checks[0].OpsConsumed, f.Runs[0].Checks[0].OpsTotal = 900, 900
				return f
			},
			reason: "checked 900 ops but run R1 recorded 1000",
		},
		{
			name: "no fault active is PASS-smoke", facts: smokeFacts, want: PassSmoke,
			reason: "no fault was active", path: "fault-active: no → PASS-smoke",
			blocker: "inject a fault with landing evidence",
		},
		{
			name: "fault planned but never injected", want: PassSmoke,
			facts:  func() Facts { f := smokeFacts(); f.FaultPlanned = true; return f },
			reason: "S1 plans a fault but no run injected one",
		},
		{
			name: "smoke budget not met", want: PartialModel,
			facts:  func() Facts { f := smokeFacts(); f.Runs[0].Nodes = 1; return f },
			reason: "no clean run met the smoke budget (3 nodes, 1m0s, 1 seeds): run R1 had 1 nodes, not 3",
			path:   "gate-budget: smoke not met → PARTIAL-model",
		},
		{
			name: "smoke budget seed count not met", want: PartialModel,
			facts:  func() Facts { f := smokeFacts(); f.Smoke.Seeds = 2; return f },
			reason: "the smoke budget declares 2 seeds; the clean runs used 1 (1)",
		},
		{
			name: "hardening budget not met: cluster too small", want: PassSmoke,
			facts: func() Facts {
				f := hardFacts()
				for i := range f.Runs {
					f.Runs[i].Nodes = 3
				}
				return f
			},
			reason: "no clean run with a landed fault met the hardening budget (5 nodes, 10m0s, 1 faults, 3 seeds): run R1 had 3 nodes, not 5",
			path:   "gate-budget: hardening not met → at best PASS-smoke",
		},
		{
			name: "only the smoke budget met: too short", want: PassSmoke,
			facts: func() Facts {
				f := hardFacts()
				for i := range f.Runs {
					f.Runs[i].Tier = "smoke"
					f.Runs[i].EndNS = f.Runs[i].StartNS + 2*minuteNS
				}
				return f
			},
			reason: "ran 2m0s, not 10m0s",
		},
		{
			name: "hardening budget not provided", want: PassSmoke,
			facts: func() Facts {
				f := hardFacts()
				f.Hardening = plan.Tier{Text: "not provided — no lab", NotProvided: true}
				return f
			},
			reason: "the hardening budget is not provided",
		},
		{
			name: "hardening budget that measures nothing", want: PassSmoke,
			facts:  func() Facts { f := hardFacts(); f.Hardening = plan.Tier{Text: "as long as possible"}; return f },
			reason: `declares no measurable cluster size`,
		},
		{
			name: "two seeds are not enough", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Runs[2].Seed = "2"
				f.Audit[AuditThreeSeeds] = Answer{Holds: holdsTrue(), Evidence: "2 seeds"}
				return f
			},
			reason: "only 2 distinct seed(s) (1, 2) reached the clean hardening result; 3 needed",
			path:   "gate-seeds: 2 < 3 → PARTIAL-model",
		},
		{
			name: "declared seed count above three", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); f.Hardening.Seeds = 5; return f },
			reason: "only 3 distinct seed(s) (1, 2, 3) reached the clean hardening result; 5 needed",
		},
		{
			name: "one seed on a statistical claim", want: PartialModel,
			facts: func() Facts {
				f := smokeFacts()
				f.Statistical = true
				f.Audit[AuditStatsReplicated] = Answer{Holds: holdsTrue(), Evidence: "p99 under 20ms"}
				return f
			},
			reason: "statistical claim replicated on 1 distinct clean seed(s) (1); at least 3 needed",
		},
		{
			name: "statistical claim on three seeds", want: PassSmoke,
			facts: func() Facts {
				f := smokeFacts()
				f.Statistical = true
				f.Runs = append(f.Runs, smokeRun("R2", "2"), smokeRun("R3", "3"))
				f.Audit[AuditStatsReplicated] = Answer{Holds: holdsTrue(), Evidence: "p99 under 20ms on 3 seeds"}
				return f
			},
			path: "gate-statistical: 3 distinct seeds",
		},
		{
			name: "audit answer contradicted: says 3 seeds, runs say 1", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Runs = f.Runs[:1]
				return f
			},
			blocker: "answer says 3 seeds; the runs say 1 (1)",
		},
		{
			name: "contradicted §8.1 answer caps a PASS", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); f.Runs[1].MonotonicTS = false; return f },
			reason: "audit 8.1.5-monotonic-timing contradicted",
			path:   "gate-audit-8.1: 8.1.5-monotonic-timing do not hold → PARTIAL-model",
		},
		{
			name: "§8.1 answered false caps even PASS-smoke", want: PartialModel,
			facts: func() Facts {
				f := smokeFacts()
				f.Audit[AuditNoSwallowedErrs] = Answer{Holds: holdsFalse(), Evidence: "panic in raft.go:212 in node-2 log"}
				return f
			},
			reason: "audit 8.1.7-no-swallowed-errors failed: the answer says it does not hold: panic in raft.go:212",
		},
		{
			name: "unhealed fault contradicts recovery", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); f.Runs[0].Faults[0].Healed = false; return f },
			reason: "fault F1 (partition) in run R1 was never healed",
		},
		{
			name: "answer citing an op count the checker never saw", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Audit[AuditOracleEveryCycle] = Answer{Holds: holdsTrue(), Evidence: "Porcupine checked 4,217 ops"}
				return f
			},
			reason: "answer cites 4217 ops",
		},
		{
			name: "§8.1 unanswered caps PASS-hardening", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); delete(f.Audit, AuditNoSwallowedErrs); return f },
			reason: "audit items 8.1.7-no-swallowed-errors are unanswered",
		},
		{
			name: "answer without evidence counts as unanswered", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Audit[AuditNotHealthOnly] = Answer{Holds: holdsTrue()}
				return f
			},
			reason: "weak-oracle audit 8.2.3-not-health-only is unanswered",
		},
		{
			name: "not-applicable on an item that always applies", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Audit[AuditNotLogsOnly] = Answer{NotApplicable: true, Evidence: "n/a"}
				return f
			},
			reason: "8.2.2-not-logs-only is unanswered: no usable answer (this item always applies",
		},
		{
			name: "not-applicable contradicted by landed faults", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.Audit[AuditFaultEvidence] = Answer{NotApplicable: true, Evidence: "no faults"}
				return f
			},
			reason: "audit 8.1.3-fault-evidence contradicted: answer says not applicable; the records say it applies",
		},
		{
			name: "missing injector-side evidence contradicts 8.1.3", want: PartialModel,
			facts:  func() Facts { f := hardFacts(); f.Runs[2].Faults[0].Evidence = ""; return f },
			reason: "fault F1 (partition) in run R3 has no injector-side evidence",
		},
		{
			name: "no asymmetric variant on a partition scenario", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				for i := range f.Runs {
					f.Runs[i].Faults[0].Asymmetric = false
				}
				return f
			},
			reason: "weak-oracle audit 8.2.7-asymmetric-fault is contradicted",
		},
		{
			name: "one failover on a failover-based scenario", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				for i := range f.Runs {
					f.Runs[i].Faults = append(f.Runs[i].Faults, FaultFacts{Epoch: "F2", Kind: "kill-leader", Landed: true, Healed: true,
						Evidence: "leader term 3 → 4", VictimEvidence: "client errors 0 → 12"})
				}
				return f
			},
			reason: "audit 8.2.4-multiple-failovers is contradicted: answer says not applicable; the records say it applies: failover-based: at most 1 landed failover fault(s) in one run (R1)",
		},
		{
			name: "two failovers per run", want: PassHardening,
			facts: func() Facts {
				f := hardFacts()
				for i := range f.Runs {
					for _, e := range []string{"F2", "F3"} {
						f.Runs[i].Faults = append(f.Runs[i].Faults, FaultFacts{Epoch: e, Kind: "kill-leader", Landed: true, Healed: true,
							Evidence: "leader term changed", VictimEvidence: "client errors rose"})
					}
				}
				f.Audit[AuditMultipleFailovers] = Answer{Holds: holdsTrue(), Evidence: "two leader kills per run"}
				return f
			},
		},
		{
			name: "final-state-only oracle", want: PartialModel,
			facts: func() Facts {
				f := hardFacts()
				f.DeclaredChecker = "invariant over final state"
				for i := range f.Runs {
					f.Runs[i].Checks[0].Checker = "invariant"
				}
				return f
			},
			reason: "every checker that ran is final-state only: invariant",
		},
		{
			name: "weak-oracle audit does not gate a non-serious scenario", want: PassHardening,
			facts: func() Facts {
				f := hardFacts()
				f.Serious = false
				delete(f.Audit, AuditHiddenRetries)
				return f
			},
			reason: "not gating: S1 is not serious",
			path:   "gate-audit-8.2: not gating (not serious)",
		},
		{
			name: "NOT-RUN arm caps at PARTIAL-surface", want: PartialSurface,
			facts: func() Facts {
				f := hardFacts()
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: PassHardening}}, {Arm: "S1/export", Decision: Decision{Verdict: NotRun}}}
				return f
			},
			reason:  "arm S1/export is NOT-RUN: surface untested",
			blocker: "bring arm S1/export to a PASS",
		},
		{
			name: "arms only: weakest passing arm", want: PassSmoke,
			facts: func() Facts {
				f := hardFacts()
				f.Runs = nil
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: PassHardening}}, {Arm: "S1/sdk", Decision: Decision{Verdict: PassSmoke}}}
				return f
			},
			path: "arms: weakest passing arm → PASS-smoke",
		},
		{
			name: "arms only: an inconclusive arm leaves a surface untested", want: PartialSurface,
			facts: func() Facts {
				f := hardFacts()
				f.Runs = nil
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: PassHardening}}, {Arm: "S1/sdk", Decision: Decision{Verdict: InconclusiveEnv}}}
				return f
			},
			reason: "arm S1/sdk is INCONCLUSIVE-env",
		},
		{
			name: "arms only: none passed", want: InconclusiveFaultNotProven,
			facts: func() Facts {
				f := hardFacts()
				f.Runs = nil
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: NotRun}}, {Arm: "S1/sdk", Decision: Decision{Verdict: InconclusiveFaultNotProven}}}
				return f
			},
			reason: "no arm of S1 reached a PASS or PARTIAL result",
		},
		{
			name: "arms only: none ran", want: NotRun,
			facts: func() Facts {
				f := hardFacts()
				f.Runs = nil
				f.Arms = []ArmOutcome{{Arm: "S1/api", Decision: Decision{Verdict: NotRun}}}
				return f
			},
			blocker: "run arm S1/api",
		},
		{
			name: "unknown audit key is reported", want: PassHardening,
			facts: func() Facts {
				f := hardFacts()
				f.Audit["8.3.1-vibes"] = Answer{Holds: holdsTrue(), Evidence: "looks fine"}
				return f
			},
			reason: `audit answer "8.3.1-vibes" names no §8 item`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.facts())
			if d.Verdict != tt.want {
				t.Fatalf("verdict = %s, want %s\npath: %q\nreasons: %q\nblockers: %q", d.Verdict, tt.want, d.Path, d.Reasons, d.Blockers)
			}
			if tt.reason != "" && !anyContains(d.Reasons, tt.reason) {
				t.Errorf("no reason contains %q; reasons:\n%s", tt.reason, strings.Join(d.Reasons, "\n"))
			}
			if tt.notInReason != "" && anyContains(d.Reasons, tt.notInReason) {
				t.Errorf("a reason contains %q; reasons:\n%s", tt.notInReason, strings.Join(d.Reasons, "\n"))
			}
			if tt.blocker != "" && !anyContains(d.Blockers, tt.blocker) {
				t.Errorf("no blocker contains %q; blockers:\n%s", tt.blocker, strings.Join(d.Blockers, "\n"))
			}
			if tt.path != "" && !anyContains(d.Path, tt.path) {
				t.Errorf("no path node contains %q; path:\n%s", tt.path, strings.Join(d.Path, "\n"))
			}
			if tt.noBlockers && len(d.Blockers) > 0 {
				t.Errorf("blockers = %q, want none", d.Blockers)
			}
			if d.Verdict != PassHardening && !d.Verdict.IsFail() && len(d.Blockers) == 0 {
				t.Errorf("verdict %s below PASS-hardening with no blocker", d.Verdict)
			}
			if len(d.Reasons) == 0 && d.Verdict != PassHardening {
				t.Errorf("verdict %s carries no reason", d.Verdict)
			}
		})
	}
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestDecidePathPassHardening(t *testing.T) {
	d := Decide(hardFacts())
	want := []string{
		"env: capabilities present",
		"violation: none reported",
		"fault-landing: proven in 3 run(s)",
		"checker-ran: yes",
		"history-fields: complete",
		"coverage: every op",
		"fault-active: yes (R1, R2, R3) → PASS-hardening",
		"gate-budget: hardening met by R1, R2, R3",
		"gate-seeds: 3 distinct seeds ≥ 3",
		"gate-audit-8.1: holds",
		"gate-audit-8.2: holds",
	}
	if !reflect.DeepEqual(d.Path, want) {
		t.Errorf("path:\n%s\nwant:\n%s", strings.Join(d.Path, "\n"), strings.Join(want, "\n"))
	}
	if d.TierMet != "hardening" {
		t.Errorf("tier met = %q, want hardening", d.TierMet)
	}
}

func TestDecideFindingComplete(t *testing.T) {
	f := hardFacts()
	violate(&f.Runs[0], "x")
	f.Finding = completeFinding()
	d := Decide(f)
	if anyContains(d.Blockers, "finding.") {
		t.Errorf("complete finding still blocked: %q", d.Blockers)
	}
	f.Finding.Owner = ""
	d = Decide(f)
	if !d.Verdict.IsFail() || !anyContains(d.Blockers, "finding.owner is missing") {
		t.Errorf("verdict %s blockers %q: want FAIL with finding.owner missing", d.Verdict, d.Blockers)
	}
}

func TestDecideIsPure(t *testing.T) {
	for _, f := range []Facts{hardFacts(), smokeFacts(), {}} {
		a, b := Decide(f), Decide(f)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("Decide is not deterministic for %s", f.Scenario)
		}
	}
	if d := Decide(Facts{}); d.Verdict != NotRun {
		t.Errorf("zero facts: verdict %s, want NOT-RUN", d.Verdict)
	}
}

func TestAuditStatuses(t *testing.T) {
	f := hardFacts()
	f.Runs = f.Runs[:1]
	f.Audit[AuditNoSwallowedErrs] = Answer{Holds: holdsFalse(), Evidence: "panic found"}
	f.Audit[AuditHiddenRetries] = Answer{Holds: holdsTrue()} // no evidence
	delete(f.Audit, AuditNotLogsOnly)
	d := Decide(f)
	want := map[string]AuditStatus{
		AuditThreeSeeds:        AuditContradicted,
		AuditMonotonicTS:       AuditVerified,
		AuditAsymmetricFault:   AuditVerified,
		AuditNoSwallowedErrs:   AuditFailed,
		AuditHiddenRetries:     AuditUnanswered,
		AuditNotLogsOnly:       AuditUnanswered,
		AuditMultipleFailovers: AuditNotApplicable,
		AuditFairBaseline:      AuditNotApplicable,
		AuditNotHealthOnly:     AuditVerified,
		AuditRateDuration:      AuditVerified,
		AuditFaultEvidence:     AuditVerified,
	}
	f.Runs[0].Faults[0].VictimEvidence = ""
	for _, it := range Decide(f).Audit {
		if it.Key == AuditFaultEvidence && (it.Status != AuditAnswered || !strings.Contains(it.Check, "no victim-side evidence recorded for R1/F1")) {
			t.Errorf("no victim evidence: 8.1.3 status %s check %q, want answered with a note", it.Status, it.Check)
		}
	}
	f.Runs[0].Faults[0].VictimEvidence = "client timeouts 0 → 37"
	if len(d.Audit) != 18 {
		t.Fatalf("audit has %d items, want 18", len(d.Audit))
	}
	for _, it := range d.Audit {
		if w, ok := want[it.Key]; ok && it.Status != w {
			t.Errorf("%s: status %s, want %s (check %q)", it.Key, it.Status, w, it.Check)
		}
	}
	for _, it := range d.Audit {
		if it.Key == AuditThreeSeeds && !strings.Contains(it.Check, "answer says 3 seeds; the runs say 1") {
			t.Errorf("8.2.8 check = %q", it.Check)
		}
	}
}

func TestAuditUnknownKeys(t *testing.T) {
	a := Audit{AuditThreeSeeds: {}, "9.9": {}, "8.1.0-x": {}}
	if got, want := a.UnknownKeys(), []string{"8.1.0-x", "9.9"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownKeys = %q, want %q", got, want)
	}
	keys := map[string]bool{}
	for _, q := range AuditQuestions() {
		if keys[q.Key] {
			t.Errorf("duplicate audit key %s", q.Key)
		}
		keys[q.Key] = true
	}
	if len(keys) != 18 {
		t.Errorf("%d audit keys, want 18 (10 of §8.1, 8 of §8.2)", len(keys))
	}
}

func TestCheckerMatch(t *testing.T) {
	tests := []struct {
		declared string
		ran      []string
		missing  int
	}{
		{"linearizability (Porcupine)", []string{"linearizability"}, 0},
		{"linearizability per key", []string{"linearizability"}, 0},
		{"Linearizability", []string{"linearizability-per-key"}, 0},
		{"no-lost-ack + replay-equivalence", []string{"no-lost-ack", "replay-equivalence"}, 0},
		{"no-lost-ack + replay-equivalence", []string{"no-lost-ack"}, 1},
		{"linearizability, or invariant over final state per key", []string{"invariant"}, 0},
		{"prefix / order", []string{"prefix-order"}, 0},
		{"serializability", []string{"linearizability"}, 1},
		{"none — SLO threshold on p99 is the oracle", []string{"slo-threshold"}, 0},
		{"", nil, 1},
		{"linearizability", nil, 1},
		// A justification after the checker names nothing that must run.
		{"linearizability — justification: the picker has no map + durability row; per-key linearizability covers it", []string{"linearizability"}, 0},
		{"invariant over final state — the picker has no map + boundary row", []string{"final-state-invariant"}, 0},
		{"no-lost-ack + replay-equivalence — both, because the WAL is replayed", []string{"no-lost-ack"}, 1},
	}
	for _, tt := range tests {
		if got := missingCheckers(tt.declared, tt.ran); len(got) != tt.missing {
			t.Errorf("missingCheckers(%q, %q) = %q, want %d missing", tt.declared, tt.ran, got, tt.missing)
		}
	}
}

func TestVerdictClasses(t *testing.T) {
	var pass, fail, inc, part int
	for _, v := range Verdicts() {
		if !v.Valid() {
			t.Errorf("%s not valid", v)
		}
		n := 0
		for _, is := range []bool{v.IsPass(), v.IsFail(), v.IsInconclusive(), v.IsPartial()} {
			if is {
				n++
			}
		}
		if n > 1 || (n == 0 && v != NotRun) {
			t.Errorf("%s is in %d classes", v, n)
		}
		pass += b2i(v.IsPass())
		fail += b2i(v.IsFail())
		inc += b2i(v.IsInconclusive())
		part += b2i(v.IsPartial())
	}
	if got := fmt.Sprint(len(Verdicts()), pass, fail, inc, part); got != "10 2 2 3 2" {
		t.Errorf("counts (all pass fail inconclusive partial) = %s, want 10 2 2 3 2", got)
	}
	if Verdict("PASS").Valid() {
		t.Error(`"PASS" is valid`)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// corpusCheck runs the linearizability checker on a Knossos corpus
// history and returns its verdict facts.
func corpusCheck(t *testing.T, rel string) (CheckFacts, int) {
	t.Helper()
	fh, err := os.Open(filepath.Join("../testdata/corpus/knossos", rel))
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	defer fh.Close()
	imp, err := history.Import(fh, "jepsen-edn")
	if err != nil {
		t.Fatalf("import %s: %v", rel, err)
	}
	c, err := checkers.Lookup("linearizability")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Check(context.Background(), checkers.Input{Ops: imp.Ops, Model: "cas-register", Options: map[string]any{"timeout": "20s"}})
	if err != nil {
		t.Fatalf("check %s: %v", rel, err)
	}
	return NewCheckFacts(res), len(imp.Ops)
}

// TestDecideOnCorpus feeds real checker results on Knossos histories (a
// known anomaly and a linearizable history) through the verdict engine.
func TestDecideOnCorpus(t *testing.T) {
	bad, badOps := corpusCheck(t, "cas-register/bad/rethink-fail-minimal.edn")
	good, goodOps := corpusCheck(t, "cas-register/good/memstress3-0.edn")
	if bad.Status != StatusViolation || good.Status != StatusOK {
		t.Fatalf("checker: bad %s, good %s; want violation and ok", bad.Status, good.Status)
	}
	withCheck := func(r RunFacts, c CheckFacts, ops int) RunFacts {
		r.Checks, r.Ops = []CheckFacts{c}, ops
		return r
	}
	tests := []struct {
		name   string
		runs   []RunFacts
		want   Verdict
		reason string
	}{
		{"anomaly in one of three runs",
			[]RunFacts{withCheck(hardRun("R1", "1"), good, goodOps), withCheck(hardRun("R2", "2"), bad, badOps), withCheck(hardRun("R3", "3"), good, goodOps)},
			FailNondeterministic, "violation in run R2 (seed 2, tier hardening): linearizability: "},
		{"anomaly re-occurs on the same seed",
			[]RunFacts{withCheck(hardRun("R1", "1"), bad, badOps), withCheck(hardRun("R2", "1"), bad, badOps)},
			FailReproducible, "reproduced: runs R1 and R2 share seed 1"},
		{"repaired twin on three seeds",
			[]RunFacts{withCheck(hardRun("R1", "1"), good, goodOps), withCheck(hardRun("R2", "2"), good, goodOps), withCheck(hardRun("R3", "3"), good, goodOps)},
			PassHardening, ""},
		{"repaired twin, run recorded more ops than were checked",
			[]RunFacts{withCheck(hardRun("R1", "1"), good, goodOps+5), withCheck(hardRun("R2", "2"), good, goodOps), withCheck(hardRun("R3", "3"), good, goodOps)},
			PartialModel, fmt.Sprintf("checked %d ops but run R1 recorded %d", good.OpsTotal, goodOps+5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hardFacts()
			f.DeclaredChecker = "linearizability"
			f.Runs = tt.runs
			f.Audit[AuditOracleEveryCycle] = Answer{Holds: holdsTrue(), Evidence: good.Evidence}
			d := Decide(f)
			if d.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s\nreasons: %q", d.Verdict, tt.want, d.Reasons)
			}
			if tt.reason != "" && !anyContains(d.Reasons, tt.reason) {
				t.Errorf("no reason contains %q: %q", tt.reason, d.Reasons)
			}
		})
	}
}

// TestDecideProperties checks invariants of the engine over random facts:
// it never panics, always returns a valid verdict, and never lets a
// violation, a missing capability or an unproven fault end in a PASS.
func TestDecideProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	for i := range 1500 {
		f := hardFacts()
		f.Serious = rng.IntN(2) == 0
		f.Statistical = rng.IntN(4) == 0
		if rng.IntN(20) == 0 {
			f.EnvMissing = []string{"netem"}
		}
		f.Runs = nil
		for j := range rng.IntN(6) {
			r := hardRun(fmt.Sprintf("R%d", j+1), pick("1", "2", "3", "4", ""))
			r.FaultSchedule = pick("a", "b")
			r.Tier = pick("smoke", "hardening")
			r.Nodes = rng.IntN(7)
			r.EndNS = r.StartNS + int64(rng.IntN(12))*minuteNS
			r.Checks[0].Status = pick("ok", "ok", "ok", "ok", "violation", "unknown", "")
			r.Checks[0].OpsConsumed = pick2(rng, 1000, 900)
			r.Checks[0].Partial = rng.IntN(10) == 0
			r.MonotonicTS = rng.IntN(8) != 0
			if rng.IntN(6) == 0 {
				r.Checks[0].Missing = []string{"fault_epoch"}
			}
			if rng.IntN(4) == 0 {
				r.Faults = nil
			} else {
				r.Faults[0].Landed = rng.IntN(6) != 0
				r.Faults[0].Healed = rng.IntN(6) != 0
				r.Faults[0].Asymmetric = rng.IntN(2) == 0
			}
			if rng.IntN(10) == 0 {
				r.Checks = nil
			}
			f.Runs = append(f.Runs, r)
		}
		for _, k := range []string{AuditThreeSeeds, AuditNoSwallowedErrs, AuditNotLogsOnly} {
			if rng.IntN(5) == 0 {
				delete(f.Audit, k)
			}
		}
		d := Decide(f)
		if !d.Verdict.Valid() {
			t.Fatalf("case %d: invalid verdict %q", i, d.Verdict)
		}
		violated, unproven := false, false
		for _, r := range f.Runs {
			violated = violated || r.violated()
			for _, ft := range r.Faults {
				unproven = unproven || !ft.Landed
			}
		}
		switch {
		case len(f.EnvMissing) > 0:
			if d.Verdict != InconclusiveEnv {
				t.Fatalf("case %d: env missing but %s", i, d.Verdict)
			}
		case violated:
			if !d.Verdict.IsFail() {
				t.Fatalf("case %d: violation but %s", i, d.Verdict)
			}
		case unproven && d.Verdict.IsPass():
			t.Fatalf("case %d: unproven fault but %s", i, d.Verdict)
		case len(f.Runs) == 0 && d.Verdict != NotRun:
			t.Fatalf("case %d: no run but %s", i, d.Verdict)
		}
		if d.Verdict == PassHardening {
			if s := distinctSeeds(f.Runs); len(s) < 3 {
				t.Fatalf("case %d: PASS-hardening on %d seeds", i, len(s))
			}
			if len(d.Blockers) > 0 {
				t.Fatalf("case %d: PASS-hardening with blockers %q", i, d.Blockers)
			}
		} else if len(d.Blockers) == 0 && !d.Verdict.IsFail() {
			t.Fatalf("case %d: %s without blockers; reasons %q", i, d.Verdict, d.Reasons)
		}
	}
}

func pick2(rng *rand.Rand, a, b int) int {
	if rng.IntN(8) == 0 {
		return b
	}
	return a
}
