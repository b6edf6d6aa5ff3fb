package tools

import (
	"context"
	"path"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// StartSessionArgs are start_session's arguments.
type StartSessionArgs struct {
	Plan string `json:"plan" jsonschema_description:"Plan slug (kvstore → testing-plans/kvstore.md) or a workspace-relative path to the plan."`
}

// StartSessionResult is start_session's result.
type StartSessionResult struct {
	Session session.SessionInfo `json:"session" jsonschema_description:"The session: its id (pass it to start_run and assign_verdict), directory, plan and the commit under test."`
	Log     string              `json:"log" jsonschema_description:"Workspace-relative session log (Markdown), also linked as a resource."`
	// Environment is what start_session discovered (SPEC §11).
	Environment *session.Environment `json:"environment" jsonschema_description:"Toolbox discovered in the SUT repo (tests, scripts, runbooks, fault tooling) and the capability matrix for the plan's §6b requirements, with install hints for what is missing. A scenario needing a missing capability ends INCONCLUSIVE-env."`
}

func (r StartSessionResult) links() []mcp.ResourceLink {
	return links(map[string]string{r.Log: "session log"})
}

func (e *Env) startSession() server.ServerTool {
	tool := mcp.NewTool("start_session",
		mcp.WithDescription("Start a test session on a plan that lints clean: creates test-sessions/<slug>/<UTC>/ with the session log, logs/, metrics/, artifacts/, findings/ and a durable journal, and records the plan's hash and the commit under test. "+
			"Call it once per test campaign, after lint_plan is clean and before start_run. Returns the session id every later call takes."),
		mcp.WithInputSchema[StartSessionArgs](),
		mcp.WithOutputSchema[StartSessionResult](),
		annotations("Start a test session", false, false, false, false),
	)
	return register(e, tool, e.doStartSession)
}

func (e *Env) doStartSession(ctx context.Context, _ mcp.CallToolRequest, args StartSessionArgs) (StartSessionResult, error) {
	info, err := e.sessions.StartSession(ctx, args.Plan)
	if err != nil {
		return StartSessionResult{}, err
	}
	env, err := e.sessions.Environment(info.ID)
	if err != nil {
		return StartSessionResult{}, err
	}
	return StartSessionResult{Session: *info, Log: path.Join(info.Dir, "session-log.md"), Environment: env}, nil
}
