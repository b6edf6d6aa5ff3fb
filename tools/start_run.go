package tools

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// StartRunArgs are start_run's arguments.
type StartRunArgs struct {
	Session  string `json:"session" jsonschema_description:"Session id from start_session (<slug>/<UTC>)."`
	Scenario string `json:"scenario" jsonschema_description:"Scenario (S2) or arm (S5/api) of the plan to run."`
	Seed     string `json:"seed" jsonschema_description:"The seed the harness runs with. A re-run with the same seed is what confirms a failure as reproducible."`
	Tier     string `json:"tier" jsonschema:"enum=smoke,enum=hardening,enum=release" jsonschema_description:"Budget tier the run is sized for: smoke, hardening or release (plan §7 Budget tiers)."`
}

// StartRunResult is start_run's result.
type StartRunResult struct {
	Run session.RunInfo `json:"run" jsonschema_description:"The run: its id (every run tool takes it), the scenario's oracle, model and checker as the plan declares them, the budget of the tier, and the same-seed runs it is linked to."`
}

func (e *Env) startRun() server.ServerTool {
	tool := mcp.NewTool("start_run",
		mcp.WithDescription("Start one execution of a scenario or arm with a seed at a budget tier. "+
			"Call it before running the workload, once per seed; then record_op or import_history, inject_fault/heal_fault around your faults, run_checker, and assign_verdict. "+
			"Refused, pointing back to design, when the scenario fails lint or its oracle is not machine-checkable."),
		mcp.WithInputSchema[StartRunArgs](),
		mcp.WithOutputSchema[StartRunResult](),
		annotations("Start a run", false, false, false, false),
	)
	return register(e, tool, e.doStartRun)
}

func (e *Env) doStartRun(ctx context.Context, _ mcp.CallToolRequest, args StartRunArgs) (StartRunResult, error) {
	info, err := e.sessions.StartRun(ctx, args.Session, args.Scenario, args.Seed, args.Tier)
	if err != nil {
		var refused *session.RefusedError
		if errors.As(err, &refused) {
			return StartRunResult{}, fmt.Errorf("refused — back to design: %w", err)
		}
		return StartRunResult{}, err
	}
	return StartRunResult{Run: *info}, nil
}
