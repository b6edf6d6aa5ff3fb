package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
)

// MaxReducedEvents is the most kept events reduce_history returns inline;
// a larger reduction is read from its artifact.
const MaxReducedEvents = 200

// ReduceHistoryArgs are reduce_history's arguments.
type ReduceHistoryArgs struct {
	Run     string         `json:"run" jsonschema_description:"Run id from start_run whose check found a violation."`
	Checker string         `json:"checker,omitempty" jsonschema_description:"The checker whose violation to reproduce while reducing (its latest check on the run must be a violation); default: the run's latest violating check."`
	Options map[string]any `json:"options,omitempty" jsonschema_description:"Overrides of the violating check's own options for each re-check, e.g. {\"timeout\": 10} (seconds) for linearizability; the model cannot be changed."`
}

// ReducedEvent is one kept event of a reduction: an op or a fault window.
type ReducedEvent struct {
	Op    *Op             `json:"op,omitempty" jsonschema_description:"A kept history row."`
	Fault *history.Window `json:"fault,omitempty" jsonschema_description:"A kept fault window: the failure needs a fault of its kind."`
}

// ReduceHistoryResult is reduce_history's result.
type ReduceHistoryResult struct {
	Record     string         `json:"record" jsonschema_description:"The reduction record for the finding: reduced from N events to k over M checks (or why nothing was reduced)."`
	From       int            `json:"from" jsonschema_description:"Events (ops and fault windows) in the run's log."`
	To         int            `json:"to" jsonschema_description:"Events kept."`
	Checks     int            `json:"checks" jsonschema_description:"Times the checker re-ran on a candidate sub-history."`
	Reproduced bool           `json:"reproduced" jsonschema_description:"False when the full history did not fail again: nothing was reduced (recorded as such, not forced)."`
	Minimal    bool           `json:"minimal" jsonschema_description:"True when every kept event was shown needed (1-minimal); false when the reduction was cancelled."`
	FaultKinds []string       `json:"fault_kinds" jsonschema_description:"Fault kinds the failure needs (one kept window of each)."`
	Events     []ReducedEvent `json:"events" jsonschema_description:"The kept events in log order; empty when more than 200 (read the history artifact)."`
	History    string         `json:"history" jsonschema_description:"Workspace-relative reduced history (JSON Lines, importable), also linked as a resource."`
	Reduction  string         `json:"reduction" jsonschema_description:"Workspace-relative reduction.json: events, counts and record."`
}

func (r ReduceHistoryResult) links() []mcp.ResourceLink {
	return links(map[string]string{r.History: "reduced history", r.Reduction: "reduction record"})
}

func (e *Env) reduceHistory() server.ServerTool {
	tool := mcp.NewTool("reduce_history",
		mcp.WithDescription("Minimise a failing run before filing it (SPEC §9): delta debugging over the run's ops and fault windows — halves, then ever smaller chunks, down to single events — re-running the same checker, with the model and options of the violating check, until every remaining event is needed. "+
			"The failure must keep its nature (same anomaly kind and key; for linearizability, no reduction to a read of a value nothing wrote). "+
			"Call it after run_checker reported a violation and before assign_verdict, and put its record in the finding's reduction. Stores reduced-history.jsonl and reduction.json under the run's artifacts/<run>/reduction/ and journals the record. "+
			"Sends progress notifications when the request carries a progress token; cancelling keeps the smallest failing history found so far."),
		mcp.WithInputSchema[ReduceHistoryArgs](),
		mcp.WithOutputSchema[ReduceHistoryResult](),
		annotations("Reduce a failing history", false, false, true, false),
	)
	return register(e, tool, e.doReduceHistory)
}

func (e *Env) doReduceHistory(ctx context.Context, req mcp.CallToolRequest, args ReduceHistoryArgs) (ReduceHistoryResult, error) {
	if strings.TrimSpace(args.Run) == "" {
		return ReduceHistoryResult{}, argErr("run", "pass the run id start_run returned (<session>/R<n>)", "is empty")
	}
	if _, ok := args.Options["model"]; ok {
		return ReduceHistoryResult{}, argErr("options", "leave model out: the reduction re-runs the violating check with its own model", "sets model")
	}
	progress := progressReporter(ctx, req, "reducing the history of "+args.Run)
	red, paths, err := e.sessions.ReduceHistory(ctx, args.Run, args.Checker, args.Options, progress)
	if red == nil {
		return ReduceHistoryResult{}, err
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return ReduceHistoryResult{}, err
	}
	out := ReduceHistoryResult{
		Record: red.Record, From: red.From, To: red.To, Checks: red.Checks,
		Reproduced: red.Reproduced, Minimal: red.Minimal,
		FaultKinds: append([]string{}, red.FaultKinds...),
		Events:     []ReducedEvent{},
	}
	for _, p := range paths {
		switch {
		case strings.HasSuffix(p, "/"+checkers.ReducedHistoryFile):
			out.History = p
		case strings.HasSuffix(p, "/"+checkers.ReductionFile):
			out.Reduction = p
		}
	}
	if len(red.Events) <= MaxReducedEvents {
		for _, ev := range red.Events {
			switch {
			case ev.Op != nil:
				o := toolOp(*ev.Op)
				out.Events = append(out.Events, ReducedEvent{Op: &o})
			case ev.Fault != nil:
				w := *ev.Fault
				out.Events = append(out.Events, ReducedEvent{Fault: &w})
			}
		}
	}
	return out, nil
}

// toolOp converts a history row to its tool form (input and output as
// JSON values).
func toolOp(h history.Op) Op {
	o := Op{
		OpID: h.OpID, ProcessID: h.ProcessID, InvokeTS: h.InvokeTS, CompleteTS: h.CompleteTS,
		OpType: h.OpType, Key: h.Key, Error: h.Error, TimeoutMarker: h.TimeoutMarker,
		NodeSeen: h.NodeSeen, FaultEpoch: h.FaultEpoch,
	}
	if len(h.Input) > 0 {
		var v any
		if json.Unmarshal(h.Input, &v) == nil {
			o.Input = v
		}
	}
	if len(h.Output) > 0 {
		var v any
		if json.Unmarshal(h.Output, &v) == nil {
			o.Output = v
		}
	}
	return o
}
