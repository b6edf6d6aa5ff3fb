package tools

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// FinishSessionArgs are finish_session's arguments.
type FinishSessionArgs struct {
	Session string `json:"session" jsonschema_description:"Session id from start_session."`
	Notes   string `json:"notes,omitempty" jsonschema_description:"Your confidence notes for the report: what this session makes you believe more or less, in conservative wording (\"we have not observed X under the tested faults\")."`
}

// FinishScenario is one scenario or arm of the finished session.
type FinishScenario struct {
	ID       string   `json:"id" jsonschema_description:"Scenario (S2) or arm (S5/api)."`
	Verdict  string   `json:"verdict"`
	TierMet  string   `json:"tier_met" jsonschema_description:"Budget tier met: smoke, hardening or empty."`
	Assigned bool     `json:"assigned" jsonschema_description:"False when no one called assign_verdict and falsify derived the verdict at finish time."`
	Evidence []string `json:"evidence" jsonschema_description:"Checker execution evidence, one per run and checker."`
	Landing  []string `json:"landing" jsonschema_description:"Landing evidence, one per fault."`
	Finding  string   `json:"finding,omitempty" jsonschema_description:"Session-relative findings file."`
}

// FinishSessionResult is finish_session's result.
type FinishSessionResult struct {
	Verdict   string           `json:"verdict" jsonschema:"enum=FAIL,enum=DONE,enum=DONE_WITH_CONCERNS,enum=INCONCLUSIVE,enum=BLOCKED" jsonschema_description:"The session verdict (SPEC §7), by the strongest evidence."`
	Headline  string           `json:"headline" jsonschema_description:"The report's first sentence."`
	Rule      []string         `json:"rule" jsonschema_description:"Which session rule fired and the outcomes it read."`
	Scenarios []FinishScenario `json:"scenarios" jsonschema_description:"One row per scenario or arm of the plan."`
	Report    string           `json:"report" jsonschema_description:"Workspace-relative findings/report.md, also linked as a resource."`
	Log       string           `json:"log" jsonschema_description:"Workspace-relative session-log.md."`
	JUnit     string           `json:"junit" jsonschema_description:"Workspace-relative JUnit XML for CI dashboards."`
	Summary   string           `json:"summary" jsonschema_description:"Workspace-relative JSON summary for CI dashboards."`
}

func (r FinishSessionResult) links() []mcp.ResourceLink {
	return links(map[string]string{r.Report: "findings report", r.Log: "session log", r.JUnit: "JUnit XML", r.Summary: "JSON summary"})
}

func (e *Env) finishSession() server.ServerTool {
	tool := mcp.NewTool("finish_session",
		mcp.WithDescription("End a test session: falsify derives every scenario's and arm's outcome from its records (the assigned verdict, or the one its records give when none was assigned), the session verdict (FAIL, DONE, DONE_WITH_CONCERNS, INCONCLUSIVE or BLOCKED, by the strongest evidence), and writes findings/report.md (headline, scenario table, findings, hypothesis coverage, claim adequacy, surfaces, release disclosures, confidence delta), findings/junit.xml, findings/summary.json and a complete session-log.md. "+
			"Call it once every scenario you ran has its verdict; it may be called again and the latest call wins. Your notes go into the report's confidence section; they cannot change a verdict."),
		mcp.WithInputSchema[FinishSessionArgs](),
		mcp.WithOutputSchema[FinishSessionResult](),
		annotations("Finish a session", false, false, true, false),
	)
	return register(e, tool, e.doFinishSession)
}

func (e *Env) doFinishSession(ctx context.Context, _ mcp.CallToolRequest, args FinishSessionArgs) (FinishSessionResult, error) {
	if strings.TrimSpace(args.Session) == "" {
		return FinishSessionResult{}, argErr("session", "pass the session id from start_session", "is empty")
	}
	rep, err := e.sessions.FinishSession(ctx, strings.TrimSpace(args.Session), args.Notes)
	if err != nil {
		return FinishSessionResult{}, err
	}
	return FinishResult(rep), nil
}

// FinishResult converts a session report to finish_session's result; the
// CLI's report command prints the same.
func FinishResult(rep *session.SessionReport) FinishSessionResult {
	out := FinishSessionResult{
		Verdict: string(rep.Verdict), Headline: rep.Headline, Rule: append([]string{}, rep.Rule...),
		Scenarios: make([]FinishScenario, 0, len(rep.Outcomes)),
		Report:    rep.Report, Log: rep.Log, JUnit: rep.JUnit, Summary: rep.Summary,
	}
	for _, o := range rep.Outcomes {
		out.Scenarios = append(out.Scenarios, FinishScenario{
			ID: o.ID, Verdict: string(o.Verdict), TierMet: o.TierMet, Assigned: o.Assigned,
			Evidence: append([]string{}, o.Evidence...), Landing: append([]string{}, o.Landing...), Finding: o.Finding,
		})
	}
	return out
}
