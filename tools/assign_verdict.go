package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// AssignVerdictArgs are assign_verdict's arguments. There is no argument
// that sets a verdict.
type AssignVerdictArgs struct {
	Session  string                    `json:"session,omitempty" jsonschema_description:"Session id. May be left out when run is given."`
	Scenario string                    `json:"scenario,omitempty" jsonschema_description:"Scenario (S2) or arm (S5/api) to judge. Give scenario or run."`
	Run      string                    `json:"run,omitempty" jsonschema_description:"A run id: judge that run's scenario."`
	Audit    map[string]session.Answer `json:"audit,omitempty"`
	Finding  *Finding                  `json:"finding,omitempty"`
}

// Finding are the facts of a FAIL (SPEC §6.4) as a tool argument.
type Finding struct {
	Reproducer    string   `json:"reproducer,omitempty" jsonschema_description:"How to re-trigger it: command, seed and fault schedule, or the reduced history."`
	Reduction     string   `json:"reduction,omitempty" jsonschema_description:"How the reproducer was minimised (reduced from 412 events to 9 over 23 re-runs), or why it was not."`
	BlameClass    string   `json:"blame_class,omitempty"`
	TaxDCType     string   `json:"taxdc_type,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	Severity      string   `json:"severity,omitempty"`
	EvidenceLinks []string `json:"evidence_links,omitempty" jsonschema_description:"Artifacts that show it: history, checker visualisation, logs."`
	RootCause     string   `json:"root_cause,omitempty"`
	Owner         string   `json:"owner,omitempty"`
	NextAction    string   `json:"next_action,omitempty"`
}

func (f *Finding) facts() *session.FindingFacts {
	if f == nil {
		return nil
	}
	return &session.FindingFacts{
		Reproducer: f.Reproducer, Reduction: f.Reduction, BlameClass: f.BlameClass, TaxDCType: f.TaxDCType,
		Tags: f.Tags, Severity: f.Severity, EvidenceLinks: f.EvidenceLinks, RootCause: f.RootCause,
		Owner: f.Owner, NextAction: f.NextAction,
	}
}

func findingDescription() string {
	return fmt.Sprintf("For a FAIL (SPEC §6.4): reproducer, reduction, blame_class (%s), taxdc_type (%s), tags, severity (%s), evidence_links, root_cause, owner, next_action. A field left out is reported as a blocker of the finding, never a way out of the FAIL.",
		strings.Join(session.BlameClasses(), ", "), strings.Join(session.TaxDCTypes(), ", "), strings.Join(session.Severities(), ", "))
}

// AssignVerdictResult is assign_verdict's result.
type AssignVerdictResult struct {
	Verdict  string           `json:"verdict" jsonschema_description:"The verdict falsify derived (SPEC §6.1)."`
	Decision session.Decision `json:"decision" jsonschema_description:"The rule path taken, the reasons, what stood between this verdict and PASS-hardening, and every audit item as falsify judged it."`
	Findings string           `json:"findings" jsonschema_description:"Workspace-relative findings file written for the scenario, also linked as a resource."`
}

func (r AssignVerdictResult) links() []mcp.ResourceLink {
	return links(map[string]string{r.Findings: "findings for " + r.Decision.Scenario})
}

func auditDescription() string {
	var b strings.Builder
	b.WriteString("Your answers to the audits of SPEC §8, keyed by item: {\"<key>\": {\"holds\": true|false, \"evidence\": \"…\", \"not_applicable\": false}}. An answer without evidence counts as unanswered; falsify checks what it can against its own records. Keys: ")
	for i, q := range session.AuditQuestions() {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", q.Key, q.Question)
	}
	b.WriteString(".")
	return b.String()
}

func (e *Env) assignVerdict() server.ServerTool {
	tool := mcp.NewTool("assign_verdict",
		mcp.WithDescription("Derive the verdict of a scenario or arm from falsify's own records — runs, seeds, tiers, checker results, the fault ledger with landing evidence — plus your audit answers (with evidence) and, for a FAIL, the finding facts. You cannot choose the verdict. "+
			"Call it after run_checker for every run of the scenario. Returns the verdict, the decision-tree path and reasons, and when below PASS-hardening exactly what stood in the way; writes findings/<scenario>.md."),
		mcp.WithInputSchema[AssignVerdictArgs](),
		mcp.WithOutputSchema[AssignVerdictResult](),
		annotations("Assign a verdict", false, false, true, false),
		withPropertyDescription("audit", auditDescription()),
		withPropertyDescription("finding", findingDescription()),
	)
	return register(e, tool, e.doAssignVerdict)
}

func (e *Env) doAssignVerdict(ctx context.Context, _ mcp.CallToolRequest, args AssignVerdictArgs) (AssignVerdictResult, error) {
	sessionID, target := strings.TrimSpace(args.Session), strings.TrimSpace(args.Scenario)
	if run := strings.TrimSpace(args.Run); run != "" {
		if target != "" {
			return AssignVerdictResult{}, argErr("run", "give scenario or run, not both", "both scenario %q and run %q given", target, run)
		}
		i := strings.LastIndex(run, "/")
		if i <= 0 {
			return AssignVerdictResult{}, argErr("run", "pass the run id start_run returned (<session>/R<n>)", "%q is not a run id", run)
		}
		if sessionID == "" {
			sessionID = run[:i]
		}
		target = run
	}
	if target == "" {
		return AssignVerdictResult{}, argErr("scenario", "pass the scenario (S2), arm (S5/api) or a run id", "neither scenario nor run given")
	}
	if sessionID == "" {
		return AssignVerdictResult{}, argErr("session", "pass the session id from start_session", "is empty")
	}
	d, findings, err := e.sessions.AssignVerdict(ctx, sessionID, target, session.Audit(args.Audit), args.Finding.facts())
	if err != nil {
		return AssignVerdictResult{}, err
	}
	return AssignVerdictResult{Verdict: string(d.Verdict), Decision: d, Findings: findings}, nil
}
