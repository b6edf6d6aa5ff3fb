package tools

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/plan"
)

// LintPlanArgs are lint_plan's arguments.
type LintPlanArgs struct {
	Plan string `json:"plan" jsonschema_description:"Plan slug (kvstore → testing-plans/kvstore.md) or a workspace-relative path to a plan Markdown file."`
}

// LintPlanResult is lint_plan's result.
type LintPlanResult struct {
	Path     string       `json:"path" jsonschema_description:"Workspace-relative plan file linted."`
	Clean    bool         `json:"clean" jsonschema_description:"True when the plan has no errors (warnings allowed)."`
	Errors   []Diagnostic `json:"errors" jsonschema_description:"Blocking problems (SPEC §2.6), each naming the section, the id and the fix."`
	Warnings []Diagnostic `json:"warnings"`
	Summary  plan.Summary `json:"summary" jsonschema_description:"Claims, hypotheses and scenarios in the plan and which gates (§7.M, §7.M.S) apply."`
}

func (e *Env) lintPlan() server.ServerTool {
	tool := mcp.NewTool("lint_plan",
		mcp.WithDescription("Validate a whole test plan against every rule of SPEC §2.6 (section order, claim/hypothesis/scenario references, the §7.M and §7.M.S gates, checker fit, machine-checkable oracles, §7b adequacy rows…). "+
			"Call it after the last write_plan_section, after a person edits the plan, and before start_session. "+
			"Returns errors and warnings (each naming the section, the id and the fix) and a summary of the claims, hypotheses and scenarios and which gates apply. Reads only."),
		mcp.WithInputSchema[LintPlanArgs](),
		mcp.WithOutputSchema[LintPlanResult](),
		annotations("Lint a test plan", true, false, true, false),
	)
	return register(e, tool, e.doLintPlan)
}

func (e *Env) doLintPlan(_ context.Context, _ mcp.CallToolRequest, args LintPlanArgs) (LintPlanResult, error) {
	rel, err := resolvePlanRef(e.ws, args.Plan)
	if err != nil {
		return LintPlanResult{}, err
	}
	src, err := e.ws.ReadFile(rel)
	if errors.Is(err, os.ErrNotExist) {
		return LintPlanResult{}, argErr("plan", "write the plan first with write_plan_section, or pass the path of an existing plan", "%s does not exist", rel)
	}
	if err != nil {
		return LintPlanResult{}, fmt.Errorf("read %s: %w", rel, err)
	}
	p, err := plan.Parse(src)
	if err != nil {
		return LintPlanResult{}, argErr("plan", "pass a test plan in the shapes of SPEC §12 (it starts with '# Test Plan: <slug>')", "%s is not a test plan: %v", rel, err)
	}
	return LintReport(rel, p), nil
}

// LintReport lints p (read from path) and splits the diagnostics into
// errors and warnings, with the plan's summary. The CLI's lint command
// prints the same report.
func LintReport(path string, p *plan.Plan) LintPlanResult {
	res := LintPlanResult{Path: path, Errors: []Diagnostic{}, Warnings: []Diagnostic{}, Summary: plan.Summarize(p)}
	for _, d := range plan.Lint(p) {
		if d.Severity == plan.SeverityError {
			res.Errors = append(res.Errors, diagnostic(d))
		} else {
			res.Warnings = append(res.Warnings, diagnostic(d))
		}
	}
	res.Clean = len(res.Errors) == 0
	return res
}
