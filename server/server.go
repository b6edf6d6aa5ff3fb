// Package server assembles falsify's MCP server: the tools of package
// tools, the design and execute prompts, the plan and session resources,
// and the stdio, streamable-HTTP and SSE transports.
package server

import (
	"context"
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/falsify-dev/falsify/session"
	"github.com/falsify-dev/falsify/tools"
)

// Name is the server name falsify reports in its MCP handshake.
const Name = "falsify"

// Instructions tell a connecting agent the workflow falsify enforces.
const Instructions = `falsify turns claim-driven, Jepsen-style testing of a distributed or stateful system into a workflow you drive but cannot fake: you read the code, run the system and write prose; falsify owns the plan rules, the history, fault evidence, the checkers and the verdict.

Design (prompt design_test_plan walks it):
1. Triage: a trivial change (a log-line typo, unused imports in a stateless handler) needs no plan — say so and stop.
2. extract_claims on the repo → candidate claims and missing claims.
3. write_plan_section, one section at a time, in order: header, 0 (architecture), 1 (scope), 1b (claims), 1c (missing claims), 2 (SUT model), 3 (project-wide), 4 (hypotheses), 5 (project-wide), 6 (techniques), 6b (environment), 7 (one call per scenario: scenario=S1…; serious scenarios fill §7.M, boundary/fairness ones §7.M.S and arms), 7b (adequacy), 7c (residual uncertainty), 7d (confidence), 8, 9. A write with blocking errors writes nothing: fix the content and call again.
4. lint_plan until it reports no errors.

Execute (prompt execute_test_plan walks it):
5. start_session on the plan, start_run per scenario or arm with a seed and a budget tier.
6. Run the workload yourself; record_op (batches) or import_history; record_state for final or per-replica state.
7. Faults: inject_fault (kind external: you cause the fault, falsify measures a probe you declare before and after — landing evidence; measure_fault if it lands only after the call), heal_fault when you heal it.
8. run_checker on the run's history; then assign_verdict with the audit answers and their evidence. You never set a verdict: falsify derives it from what it recorded and says why.
9. Each verdict writes findings/<scenario>.md in the session directory. The session log, histories, checker artifacts and findings are resources under falsify://sessions/<slug>/<UTC>/…; tools link to them.

Every tool answers with structured content; a mistake in your arguments comes back as an error naming the argument and the fix. Plans are resources at falsify://plans/{slug}.`

// Options configure New.
type Options struct {
	// Workspace is the root every path is confined to (required).
	Workspace *session.Workspace
	// Log receives JSON logs; it must not be stdout when serving stdio.
	Log zerolog.Logger
	// Version is reported in the MCP handshake.
	Version string
	// Sessions runs the execution half (sessions, runs, faults, checkers,
	// verdicts). When nil, New creates one on Workspace; its owner closes it.
	Sessions *session.Manager
	// ReadOnly serves a read-only server (tools.Config.ReadOnly), and
	// says so in the instructions.
	ReadOnly bool
	// NoFaults refuses fault injection (tools.Config.NoFaults), and says
	// so in the instructions.
	NoFaults bool
}

// instructions returns Instructions headed by the server's mode.
func instructions(opts Options) string {
	var head string
	if opts.ReadOnly {
		head += "THIS SERVER IS READ-ONLY (--read-only): tools that write plans, start sessions or runs, record history or states, inject faults, run checkers or assign verdicts are refused; lint_plan, extract_claims, heal_fault and the resources work.\n\n"
	}
	if opts.NoFaults && !opts.ReadOnly {
		head += "FAULT INJECTION IS DISABLED (--no-faults): inject_fault is refused; heal_fault still works. Scenarios that need faults cannot pass here.\n\n"
	}
	return head + Instructions
}

// New builds falsify's MCP server with all its tools, prompts and
// resources. The same server can be served over any transport or driven
// in-process (client.NewInProcessClient) by tests.
func New(opts Options) (*mcpserver.MCPServer, error) {
	if opts.Workspace == nil {
		return nil, errors.New("server: Options.Workspace is required")
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	log := opts.Log
	hooks := &mcpserver.Hooks{}
	hooks.AddBeforeCallTool(func(_ context.Context, _ any, req *mcp.CallToolRequest) {
		req.Params.Arguments = dropNulls(req.Params.Arguments)
	})
	s := mcpserver.NewMCPServer(Name, opts.Version,
		mcpserver.WithHooks(hooks),
		mcpserver.WithInstructions(instructions(opts)),
		mcpserver.WithToolCapabilities(true),
		mcpserver.WithResourceCapabilities(false, true),
		mcpserver.WithPromptCapabilities(false),
		mcpserver.WithInputSchemaValidation(),
		mcpserver.WithOutputSchemaValidation(),
		mcpserver.WithToolHandlerMiddleware(logCalls(log)),
		// Last resort only: handlers do not panic on input by design.
		mcpserver.WithRecovery(),
		mcpserver.WithResourceRecovery(),
	)
	if opts.Sessions == nil {
		opts.Sessions = session.NewManager(opts.Workspace)
	}
	res := &resources{ws: opts.Workspace, srv: s}
	env, err := tools.New(tools.Config{
		Workspace:   opts.Workspace,
		Sessions:    opts.Sessions,
		Log:         log,
		PlanWritten: res.addPlan,
		ReadOnly:    opts.ReadOnly,
		NoFaults:    opts.NoFaults,
		Version:     opts.Version,
	})
	if err != nil {
		return nil, err
	}
	s.AddTools(env.Tools()...)
	s.AddPrompts(prompts()...)
	if err := res.register(); err != nil {
		return nil, err
	}
	return s, nil
}

// dropNulls removes null members from the objects of a tool call's
// arguments, so that a null (SPEC §3.1's "unused field") means the same as
// an absent member when the arguments are validated against schemas that
// have no nullable types (see tools.NormalizeSchema).
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if child == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(child)
		}
	case []any:
		for i := range x {
			x[i] = dropNulls(x[i])
		}
	}
	return v
}

// logCalls logs every tool call, its duration and whether it was an
// error result.
func logCalls(log zerolog.Logger) mcpserver.ToolHandlerMiddleware {
	return func(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			start := time.Now()
			res, err := next(ctx, req)
			ev := log.Info()
			if err != nil || (res != nil && res.IsError) {
				ev = log.Warn()
			}
			ev.Str("tool", req.Params.Name).Dur("took", time.Since(start)).
				Bool("is_error", res != nil && res.IsError).Err(err).Msg("tool call")
			return res, err
		}
	}
}
