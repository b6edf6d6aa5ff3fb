package tools

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/history"
)

// MaxRecordOps is the most history rows one record_op call takes.
const MaxRecordOps = 10000

// RecordOpArgs are record_op's arguments.
type RecordOpArgs struct {
	Run string `json:"run" jsonschema_description:"Run id from start_run."`
	Ops []Op   `json:"ops" jsonschema_description:"A batch of history rows (SPEC §3.1), in any order. Bad rows are rejected one by one with their reason; the rest of the batch is kept."`
}

// Op is one history row as a tool argument (SPEC §3.1). A field left out
// (or null) is unused.
type Op struct {
	OpID          string  `json:"op_id" jsonschema_description:"Unique id of the operation within the run."`
	ProcessID     *string `json:"process_id,omitempty" jsonschema_description:"Client / process / thread that issued it."`
	InvokeTS      *int64  `json:"invoke_ts,omitempty" jsonschema_description:"Invocation time, nanoseconds, from a monotonic (or the run's wall) clock."`
	CompleteTS    *int64  `json:"complete_ts,omitempty" jsonschema_description:"Completion time in ns; leave out for an op that timed out."`
	OpType        string  `json:"op_type" jsonschema_description:"read, write, cas, append, … as the model names it."`
	Key           *string `json:"key,omitempty"`
	Input         any     `json:"input,omitempty" jsonschema_description:"The op's argument (any JSON value)."`
	Output        any     `json:"output,omitempty" jsonschema_description:"The value returned (any JSON value); leave out on a timeout or an error."`
	Error         *string `json:"error,omitempty" jsonschema_description:"The error returned; an error with no timeout marker means the op definitely did not take effect."`
	TimeoutMarker *bool   `json:"timeout_marker,omitempty" jsonschema_description:"True when the outcome is unknown (timeout, unknown commit): it may or may not have taken effect."`
	NodeSeen      *string `json:"node_seen,omitempty" jsonschema_description:"The node that served it."`
	FaultEpoch    *string `json:"fault_epoch,omitempty" jsonschema_description:"Fault epoch (F1…) active during the op; leave out and falsify fills it from its own fault ledger."`
}

// history converts the argument row to a history.Op.
func (o Op) history() (history.Op, error) {
	h := history.Op{
		OpID: o.OpID, ProcessID: o.ProcessID, InvokeTS: o.InvokeTS, CompleteTS: o.CompleteTS,
		OpType: o.OpType, Key: o.Key, Error: o.Error, TimeoutMarker: o.TimeoutMarker,
		NodeSeen: o.NodeSeen, FaultEpoch: o.FaultEpoch,
	}
	var err error
	if o.Input != nil {
		if h.Input, err = json.Marshal(o.Input); err != nil {
			return h, fmt.Errorf("input: %w", err)
		}
	}
	if o.Output != nil {
		if h.Output, err = json.Marshal(o.Output); err != nil {
			return h, fmt.Errorf("output: %w", err)
		}
	}
	return h, nil
}

// RecordOpResult is record_op's result.
type RecordOpResult struct {
	Accepted int                 `json:"accepted" jsonschema_description:"Rows appended to the run's history (durable before this answer)."`
	Rejected []history.Rejection `json:"rejected" jsonschema_description:"Rows refused, each with its index in the batch, op_id, the field at fault and the reason."`
}

func (e *Env) recordOp() server.ServerTool {
	tool := mcp.NewTool("record_op",
		mcp.WithDescription("Append a batch of operations to a run's history (SPEC §3): invoke/complete times, op type, key, input, output, error, timeout marker, node, fault epoch. "+
			"Call it while (or after) the workload runs, in batches of up to a few thousand rows; the history is what run_checker checks. "+
			"Each row is validated (duplicate op_id, output on a timed-out op, error and output both set, complete before invoke, unknown or contradicted fault epoch): bad rows are rejected with their reason, the rest are kept, fsync'd before the answer."),
		mcp.WithInputSchema[RecordOpArgs](),
		mcp.WithOutputSchema[RecordOpResult](),
		annotations("Record history operations", false, false, false, false),
	)
	return register(e, tool, e.doRecordOp)
}

func (e *Env) doRecordOp(ctx context.Context, _ mcp.CallToolRequest, args RecordOpArgs) (RecordOpResult, error) {
	if len(args.Ops) == 0 {
		return RecordOpResult{}, argErr("ops", "pass at least one history row", "is empty")
	}
	if len(args.Ops) > MaxRecordOps {
		return RecordOpResult{}, argErr("ops", fmt.Sprintf("split the batch into calls of at most %d ops each (or write a JSONL file and import_history it)", MaxRecordOps),
			"holds %d ops, over the limit of %d per record_op call", len(args.Ops), MaxRecordOps)
	}
	ops := make([]history.Op, len(args.Ops))
	for i, o := range args.Ops {
		h, err := o.history()
		if err != nil {
			return RecordOpResult{}, argErr("ops", "pass JSON values for input and output", "ops[%d]: %v", i, err)
		}
		ops[i] = h
	}
	accepted, rejected, err := e.sessions.RecordOps(ctx, args.Run, ops)
	if err != nil {
		return RecordOpResult{}, err
	}
	return RecordOpResult{Accepted: accepted, Rejected: rejected}, nil
}
