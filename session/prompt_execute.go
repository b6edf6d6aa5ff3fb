package session

import (
	"fmt"
	"strings"
)

// ExecutePromptName is the MCP prompt that walks the execute workflow.
const ExecutePromptName = "execute_test_plan"

// ExecutePrompt returns the text of the execute_test_plan prompt: the
// execution workflow in falsify's own words, for the plan planRef, one
// scenario or arm (every one when scenario is ""), at a budget tier
// (smoke when tier is "").
func ExecutePrompt(planRef, scenario, tier string) string {
	planRef = strings.TrimSpace(planRef)
	if planRef == "" {
		planRef = "<plan slug>"
	}
	which := "every scenario of the plan, in plan order (each arm of a split scenario on its own)"
	if s := strings.TrimSpace(scenario); s != "" {
		which = "scenario " + s + " only"
	}
	tier = strings.ToLower(strings.TrimSpace(tier))
	if tier == "" {
		tier = "smoke"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Execute the test plan %s with falsify: %s, at the %s budget tier.\n\n", planRef, which, tier)
	b.WriteString(executeRoles)
	b.WriteString(executeSteps)
	return b.String()
}

const executeRoles = `Who does what. You read the code, run the system under test (SUT), drive the workload and cause the faults with your own tools. falsify owns the rules: it keeps the journal, measures whether each fault landed, runs the checkers and derives every verdict from its own records. You supply facts — runs, operations, faults with probes, states, audit answers with evidence, finding facts — and never a verdict: you cannot set one, and you must not state one falsify did not derive.

`

const executeSteps = `1. Load the plan. Call lint_plan on it. On any error, stop and go back to design (prompt design_test_plan): falsify refuses to start a run of a scenario that fails lint or whose oracle is not machine-checkable ("the logs look fine" is not an oracle). Do not weaken an oracle to get past the refusal; fix the plan.

2. Start the session. Call start_session on the plan and keep the session id. falsify scans the SUT's repository for its toolbox (harness scripts under tools/, scripts/, bin/, hack/; integration, chaos, e2e and Jepsen test folders; runbooks; Makefile / justfile / Taskfile test targets; CI workflows and the fault tooling they already use) and probes the environment the plan's §6b and its fault kinds need (tools on PATH and their versions against the floors, service ports, root, nftables, tc netem, libfaketime, cgroup v2, /dev/fuse). Reuse the toolbox: prefer the SUT's own harness and runbooks to writing new ones.

3. Resolve the environment before running. For every capability reported missing or below its floor, show the user the requirement, what falsify measured and the install hint, and ASK before installing, upgrading or reconfiguring anything on their machine — never install silently. If the user declines, leave it missing: the scenarios that need it will be INCONCLUSIVE-env, which is the honest outcome. After the user provides a capability, start the session's discovery again so falsify re-probes. A requirement falsify could not probe ("unknown") must be confirmed with the user, not assumed.

4. Run the scenarios in plan order. For each one, read its workload, faults, oracle, §7.M (model, history fields, checker, nemesis and landing evidence, ambiguous outcomes, reduction plan), §7.M.S for boundary/fairness arms, and the budget tier. Register the processes, commands or addresses faults may touch (register_target): faults land only on registered targets. Then start_run with the scenario or arm, a seed and the tier. One run is one seed: PASS-hardening needs at least three distinct seeds (or the hardening tier's seed count, if higher) that meet the hardening budget — cluster size, duration, fault count.

5. Checkpoint long steps. Record operations in batches as they happen (record_op) rather than once at the end, so a crash loses nothing; a long fault window or a large checker run reports progress and can be cancelled. If falsify restarts, the session reopens from its journal: continue with the same session id.

6. Capture landing evidence for every fault. Before you cause a fault, call inject_fault with what you will do (kind, targets, params) and a probe falsify reads itself before and after: a command printing a number (iptables/nft DROP counters, a process count, ss -s resets), a workspace file and a pattern (a line the SUT logs), or a metrics URL and a metric — with the change you expect (increases, becomes 0, matches…). Add a victim-side probe when the fault kind allows one (client timeouts, RPC errors). "The injector said ok" and "waited 5 s" are not evidence. If the fault lands only after the call returns, call measure_fault once it is in place. Heal every fault (heal_fault) and let falsify measure the recovery.

7. Record the history. Every operation the clients issued goes in, with invoke and completion times from one monotonic clock: record_op, or import_history for a file your harness wrote (JSONL, Jepsen EDN, jepsen.log, Porcupine). A timeout or unknown commit is recorded with no complete_ts and timeout_marker true — never as a failure, never dropped; a retry is a separate op with the same input; leave fault_epoch empty and falsify fills it from its ledger. Read every rejected row and fix the recorder rather than ignoring it. After healing and quiescence, record_state the final state and per-replica dumps when the checker compares replicas.

8. Check. run_checker with the checker the scenario's §7.M declares, on the whole history. Read its execution evidence (ops consumed of ops total, keys, anomalies). "unknown" is never a pass: fix the history or give the checker more time. Missing history fields make the verdict INCONCLUSIVE-oracle-too-weak; fix the recorder and re-run.

9. Audit, then ask for the verdict. Call assign_verdict with an answer to every item of the green-but-broken audit (SPEC §8.1) and the weak-oracle audit (§8.2), each with its evidence: op counts, probe readings, seeds, log excerpts. An answer without evidence counts as unanswered; falsify checks what it can against its own records — rate and duration from the timestamps, oracle op counts, fault evidence from the ledger, seeds from the runs, asymmetric variants from the fault kinds, monotonic timestamps — and reports a contradicted answer as such. Do not answer what you did not measure. falsify returns the verdict, the rule path and the blockers between it and PASS-hardening: act on the blockers (more seeds, a landed fault, a stronger history) and run again, rather than arguing with the verdict.

10. Reduce and blame every failure. On a violation, keep its artifacts and re-run the same seed and fault schedule to tell FAIL-reproducible from FAIL-nondeterministic. Then reduce_history to a minimal failing sub-history: drop halves while the failure persists, then single events, keeping one event of each fault category the bug needs; record "reduced from N events to k over M re-runs" (or why it could not be reduced). Blame it — SUT (survives another workload generator, reproduces on the SUT's own harness), harness (vanishes with another generator), checker (explained by a relaxation the checker does not encode), environment (vanishes on another host, aligns with host events), or "unknown — pending re-run on alternative harness/host". Give assign_verdict the finding facts: reproducer, reduction, blame class, TaxDC type, severity (P0 = data loss, corruption or a safety violation), evidence links, hypothesised root cause, owner and next action.

11. Report. Call finish_session with your confidence notes. falsify derives the session verdict (FAIL, DONE, DONE_WITH_CONCERNS, INCONCLUSIVE or BLOCKED) and writes findings/report.md, the JUnit and JSON exports and a complete session-log.md. Tell the user the session verdict and every scenario's verdict exactly as falsify derived them, link the report and each FAIL's findings file, say which hypotheses were not exercised and why, and repeat the confidence delta against the plan's §7d. Never round an INCONCLUSIVE or PARTIAL result up to a pass.
`
