package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// HealFaultArgs are heal_fault's arguments.
type HealFaultArgs struct {
	Run   string         `json:"run" jsonschema_description:"Run id from start_run."`
	Epoch string         `json:"epoch" jsonschema_description:"Fault epoch id (F1…) from inject_fault."`
	Probe *session.Probe `json:"probe,omitempty" jsonschema_description:"External faults only: optional recovery probe; default: the fault's heal_probe, else its probe with the inverse expectation. A built-in fault uses its kind's heal probe."`
}

func (e *Env) healFault() server.ServerTool {
	tool := mcp.NewTool("heal_fault",
		mcp.WithDescription("Close a fault epoch and measure recovery. A built-in fault (inject_fault with a nemesis kind) is healed by falsify itself (SIGCONT, toxics removed, nft rules deleted, fill file removed…) and its heal probe proves recovery (state back, counters flat, the active probe succeeds again). "+
			"An external fault: call it after you healed the fault with your own tools; falsify reads the recovery probe itself and records the readings raw. "+
			"Call it right after healing, before the workload's final reads and record_state."),
		mcp.WithInputSchema[HealFaultArgs](),
		mcp.WithOutputSchema[FaultResult](),
		annotations("Heal a fault", false, false, false, false),
	)
	return register(e, tool, e.doHealFault)
}

func (e *Env) doHealFault(ctx context.Context, _ mcp.CallToolRequest, args HealFaultArgs) (FaultResult, error) {
	ep, err := e.sessions.HealFault(ctx, args.Run, args.Epoch, args.Probe)
	if err != nil {
		return FaultResult{}, err
	}
	return faultResult(ep), nil
}
