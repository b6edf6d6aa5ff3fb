package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// MeasureFaultArgs are measure_fault's arguments.
type MeasureFaultArgs struct {
	Run   string `json:"run" jsonschema_description:"Run id from start_run."`
	Epoch string `json:"epoch" jsonschema_description:"Fault epoch id (F1…) from inject_fault."`
}

func (e *Env) measureFault() server.ServerTool {
	tool := mcp.NewTool("measure_fault",
		mcp.WithDescription("Read an active external fault's probe again and judge it against the reading inject_fault took before the fault. "+
			"Call it after you caused the fault, when inject_fault returned before the fault was in place (landed false). Every reading is kept, so a reviewer sees how many it took."),
		mcp.WithInputSchema[MeasureFaultArgs](),
		mcp.WithOutputSchema[FaultResult](),
		annotations("Measure a fault", false, false, false, false),
	)
	return register(e, tool, e.doMeasureFault)
}

func (e *Env) doMeasureFault(ctx context.Context, _ mcp.CallToolRequest, args MeasureFaultArgs) (FaultResult, error) {
	ep, err := e.sessions.MeasureFault(ctx, args.Run, args.Epoch)
	if err != nil {
		return FaultResult{}, err
	}
	return faultResult(ep), nil
}
