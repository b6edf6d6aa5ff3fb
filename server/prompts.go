package server

import (
	"context"
	"fmt"
	"github.com/falsify-dev/falsify/session"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

// DesignPrompt is the name of the prompt that walks the design workflow.
const DesignPrompt = "design_test_plan"

func prompts() []mcpserver.ServerPrompt {
	return []mcpserver.ServerPrompt{{
		Prompt: mcp.NewPrompt(DesignPrompt,
			mcp.WithPromptTitle("Design a test plan"),
			mcp.WithPromptDescription("Walk the design workflow for a claim-driven test plan of a system under test: triage (does this change need a plan at all?), scope, claims, missing claims, hypotheses, techniques, environment, scenarios with their gates, adequacy and confidence — each section written with write_plan_section and the result checked with lint_plan."),
			mcp.WithArgument("sut", mcp.RequiredArgument(),
				mcp.ArgumentDescription("The system under test: its name and where its code lives in the workspace.")),
			mcp.WithArgument("change",
				mcp.ArgumentDescription("The change under test (PR, commit, feature). Omit for a project-wide plan.")),
		),
		Handler: designPrompt,
	}, {
		Prompt: mcp.NewPrompt(ExecutePrompt,
			mcp.WithPromptTitle("Execute a test plan"),
			mcp.WithPromptDescription("Walk the execute workflow for a plan that lints clean: session, runs per scenario and seed, faults with landing evidence, the history, checkers and a verdict falsify derives from its own records."),
			mcp.WithArgument("plan", mcp.RequiredArgument(),
				mcp.ArgumentDescription("The plan's slug (testing-plans/<slug>.md) or workspace path.")),
			mcp.WithArgument("scenario",
				mcp.ArgumentDescription("Run only this scenario or arm (S2, S5/api). Omit to run every scenario.")),
			mcp.WithArgument("tier",
				mcp.ArgumentDescription("Budget tier to run at: smoke (default), hardening or release.")),
		),
		Handler: executePrompt,
	}}
}

// ExecutePrompt is the name of the prompt that walks the execute workflow.
const ExecutePrompt = "execute_test_plan"

func executePrompt(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	planRef := strings.TrimSpace(req.Params.Arguments["plan"])
	if planRef == "" {
		return nil, fmt.Errorf("argument %q is required: the plan's slug or workspace path", "plan")
	}
	tier := strings.TrimSpace(req.Params.Arguments["tier"])
	switch tier {
	case "":
		tier = "smoke"
	case "smoke", "hardening", "release":
	default:
		return nil, fmt.Errorf("argument %q: %q is not a budget tier; use smoke, hardening or release", "tier", tier)
	}
	text := session.ExecutePrompt(planRef, strings.TrimSpace(req.Params.Arguments["scenario"]), tier)
	return mcp.NewGetPromptResult(
		"Execute test plan "+planRef,
		[]mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text))},
	), nil
}

func designPrompt(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	sut := strings.TrimSpace(req.Params.Arguments["sut"])
	if sut == "" {
		return nil, fmt.Errorf("argument %q is required: name the system under test and where its code lives", "sut")
	}
	change := strings.TrimSpace(req.Params.Arguments["change"])
	text := DesignWorkflow(sut, change)
	return mcp.NewGetPromptResult(
		"Design a claim-driven test plan for "+sut,
		[]mcp.PromptMessage{mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text))},
	), nil
}

// DesignWorkflow is the text of the design_test_plan prompt for a system
// under test and, when not empty, the change under test.
func DesignWorkflow(sut, change string) string {
	var b strings.Builder
	mode := "change-scoped"
	target := fmt.Sprintf("the change %q to %s", change, sut)
	if change == "" {
		mode = "project-wide"
		target = sut + " as a whole"
	}
	fmt.Fprintf(&b, "Design a %s test plan for %s with falsify. You read the code and talk to the user; falsify owns the plan rules and will refuse a section that breaks them. Work through these steps in order.\n\n", mode, target)
	b.WriteString(designSteps)
	if change == "" {
		b.WriteString("\nThis is a project-wide plan: header mode project-wide, \"Change under test: N/A — project-wide\", and sections 3 (existing test inventory) and 5 (coverage matrix) are required.\n")
	} else {
		b.WriteString("\nThis is a change-scoped plan: sections 3 and 5 are optional; scope every claim and hypothesis to what the change touches and what depends on it.\n")
	}
	return b.String()
}

const designSteps = `0. Triage first. Read the change. If it cannot affect any guarantee of the system — a log-line typo, unused imports removed from a stateless handler, a comment — it needs no plan: say so in one or two sentences, name what you checked (no state, no concurrency, no I/O, no error path touched), and stop here. Do not write a plan to look busy.

1. Scope (§0, §1). Write the header (write_plan_section section=header: '# Test Plan: <slug>' and the Date, Plan mode, SUT, Change under test, Plan author, Status lines), then §0, an architectural summary of at most 30 lines: components, data flow, where state is durable, where consensus runs, trust and tenancy boundaries, a text diagram. Then §1: what changed and the files touched (change-scoped), or in scope and explicitly out of scope (project-wide).

2. Claims (§1b). Call extract_claims on the repo (paths narrow it to the code the change touches). Keep the candidates that are guarantees a user relies on, reword them as testable sentences, cite the source path:line, mark inferred ones. Each claim gets one category: safety, liveness, durability, performance-SLO, operational, idempotency, isolation, ordering, membership, boundary or fairness. The claims table is the spine of the plan: every later section refers to its ids.

3. Missing claims (§1c). Behaviours the code relies on that no claim states: an error type or a timeout constant no doc backs, a TTL, a case-sensitivity rule. extract_claims lists candidates. If there are none, write a sentence saying none were found — never omit the section.

4. SUT model (§2): one paragraph each on tenancy/isolation, persistence, replication/consensus, ordering, network boundaries, the retry/idempotency contract and observability.

5. Hypotheses (§4). For each claim, ask how it could fail, walking the common pitfalls of distributed systems:
   - lost updates under a network partition (two primaries, last-writer-wins overwriting an acknowledged write);
   - stale reads from a follower or a deposed leader;
   - replica divergence after failover or repair;
   - clock skew breaking linearizability (leases, timestamps used for ordering);
   - lost acknowledgements: acked but not durable, or durable but reported as failed;
   - membership-change races (joining, leaving, reconfiguring while writing);
   - crash-recovery divergence (torn writes, fsync ordering, replaying a WAL twice);
   - id reuse (a recycled id after deletion, a retried request id);
   - change-feed loss or duplication (CDC, export streams, watchers);
   - cross-shard or cross-key non-atomicity (half-applied transactions);
   - retries that are not idempotent; timeouts treated as failures;
   - tenant boundaries leaking through confusable identifiers, metrics, logs or background jobs.
   Each hypothesis H<n> has a title, a one-sentence statement, the claim ids it could falsify, why you suspect it and the subsystem. Cover the categories correctness, durability, liveness, partial failure, idempotency/replay, upgrade/rollback, configuration and performance/fairness, or mark a category N/A with a reason.

6. Techniques (§6) from the catalog: jepsen-and-elle, deterministic-simulation, chaos-and-fault-injection, fuzzing, formal-methods-tla, property-and-metamorphic, performance-and-benchmarking, crash-recovery-and-upgrade, boundary-and-isolation — for each, the hypotheses it addresses, what it catches that the others miss, and its cost.

7. Environment (§6b): the requirements table (requirement, version floor, scenarios that use it, install hint).

8. Scenarios (§7), one write_plan_section call per scenario (section=7, scenario=S1, S2…). Name each after the claim it tries to falsify (linearizable_single_key_reads_under_failover), never after its setup. Give it the claims it falsifies, the hypotheses it closes, technique, workload, faults, a machine-checkable oracle (a property a checker decides, or an SLO with a threshold — "logs look fine" is not an oracle), observability, exit criteria, budget tiers (smoke / hardening / release; release may be "not provided — <reason>. Revisit when: <…>"), target test file, skeleton language and an AUTO-GENERATED skeleton.
   - §7.M gate: a scenario that falsifies a safety, durability, idempotency, isolation, ordering or membership claim is serious and must fill §7.M completely: model under test, operation history (fields captured and how they are recorded), a checker that fits the model and category, the nemesis and its landing evidence (an observable signal, not the injector's "ok"), how ambiguous outcomes are recorded, and the reduction plan. Any other scenario carries exactly the line '§7.M: not applicable (no gated claim category falsified)'.
   - §7.M.S gate: a scenario that falsifies a boundary or fairness claim fills all thirteen surface-decomposition fields, with positive and negative controls and confusable identifiers; if it spans more than three surfaces, more than three claim categories or needs more than one independent oracle, split it into arms (S5/api, S5/export), each with its own oracle and §7.M.

9. Adequacy (§7b): one row per claim — its threat model, the scenarios that exercise the threats, and why they are sufficient. Residual uncertainty (§7c): what stays uncovered, why, why that is acceptable today and when to revisit — or a sentence saying it is empty.

10. Confidence (§7d): four to eight sentences of conservative wording — "we have not observed lost acknowledged writes under single-node crashes in the tested budgets", never "writes cannot be lost". Then §8 (what the plan does not cover) and §9 (open questions).

11. Check. Each write_plan_section call answers with blocking errors (nothing was written — fix the content and call again), pending errors (sections you have not written yet) and warnings. When every section is written, call lint_plan and fix every error it reports; read its warnings and fix or justify them. The plan is ready when lint_plan is clean.
`
