package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// RecordStateArgs are record_state's arguments.
type RecordStateArgs struct {
	Run  string `json:"run" jsonschema_description:"Run id from start_run."`
	Kind string `json:"kind" jsonschema:"enum=final-state,enum=replica-state,enum=metric-series,enum=snapshot" jsonschema_description:"final-state (what the system holds at quiescence), replica-state (one replica's dump), metric-series or snapshot."`
	Name string `json:"name" jsonschema_description:"Name of this state within its kind, e.g. the node (n1) or the metric."`
	Data any    `json:"data,omitempty" jsonschema_description:"The state as a JSON value. Give data or path."`
	Path string `json:"path,omitempty" jsonschema_description:"Workspace-relative JSON or JSON Lines file holding the state. Give data or path."`
}

// RecordStateResult is record_state's result.
type RecordStateResult struct {
	State session.StateRecord `json:"state" jsonschema_description:"The stored artifact: its workspace path, size and SHA-256."`
}

func (r RecordStateResult) links() []mcp.ResourceLink {
	return links(map[string]string{r.State.Path: r.State.Kind + " " + r.State.Name})
}

func (e *Env) recordState() server.ServerTool {
	tool := mcp.NewTool("record_state",
		mcp.WithDescription("Store a state of a run for the checkers: the final state at quiescence, a replica's dump, a metric series or a snapshot. "+
			"Call it after the workload (and after healing faults) when a checker needs it — no-lost-ack compares acknowledged writes with the final state. Recording the same kind and name again replaces it."),
		mcp.WithInputSchema[RecordStateArgs](),
		mcp.WithOutputSchema[RecordStateResult](),
		annotations("Record a state", false, true, true, false),
	)
	return register(e, tool, e.doRecordState)
}

func (e *Env) doRecordState(ctx context.Context, _ mcp.CallToolRequest, args RecordStateArgs) (RecordStateResult, error) {
	var data json.RawMessage
	if args.Data != nil {
		raw, err := json.Marshal(args.Data)
		if err != nil {
			return RecordStateResult{}, argErr("data", "pass a JSON value", "%v", err)
		}
		data = raw
	}
	if data == nil && args.Path == "" {
		return RecordStateResult{}, argErr("data", "pass the state as data, or its workspace-relative file as path", "neither data nor path given")
	}
	if data != nil && args.Path != "" {
		return RecordStateResult{}, argErr("path", "pass data or path, not both", "both data and path given")
	}
	rec, err := e.sessions.RecordState(ctx, args.Run, args.Kind, args.Name, data, args.Path)
	if err != nil {
		return RecordStateResult{}, err
	}
	return RecordStateResult{State: *rec}, nil
}
