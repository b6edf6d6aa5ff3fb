package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/nemesis"
	"github.com/falsify-dev/falsify/session"
)

// ScheduleStep is one fault of inject_schedule.
type ScheduleStep struct {
	AtMS       int64          `json:"at_ms,omitempty" jsonschema_description:"When to inject it, in milliseconds after the schedule starts (default 0); steps in order of at_ms."`
	Kind       string         `json:"kind" jsonschema_description:"A built-in fault kind (probe_env lists them)."`
	Targets    []string       `json:"targets" jsonschema_description:"Registered targets (ids or names from register_target)."`
	Params     map[string]any `json:"params,omitempty" jsonschema_description:"The kind's parameters."`
	DurationMS int64          `json:"duration_ms,omitempty" jsonschema_description:"The fault's TTL: healed after this long (0 = the 600000 ms cap)."`
}

// InjectScheduleArgs are inject_schedule's arguments.
type InjectScheduleArgs struct {
	Run   string         `json:"run" jsonschema_description:"Run id from start_run."`
	Steps []ScheduleStep `json:"steps" jsonschema_description:"The faults, in order of at_ms (the last at most 600000 ms after the first)."`
}

// InjectScheduleResult is inject_schedule's result.
type InjectScheduleResult struct {
	Epochs []FaultResult `json:"epochs" jsonschema_description:"One fault epoch per injected step, in order, each with its own landing evidence."`
	Landed int           `json:"landed" jsonschema_description:"How many steps landed (measured)."`
	// Stopped is set when a step failed or was refused: the schedule
	// stopped there, and the epochs before it stay active until healed.
	Stopped string `json:"stopped,omitempty" jsonschema_description:"Why the schedule stopped before its end (the failed step and the reason); the faults injected before it stay active until heal_fault or their TTL."`
}

func (e *Env) injectSchedule() server.ServerTool {
	tool := mcp.NewTool("inject_schedule",
		mcp.WithDescription("Inject a composition of built-in faults into a run on a schedule (a cluster fault: partition the leader's node, then kill it; a rolling restart): each step is applied at_ms after the call starts, as its own fault epoch with its own landing evidence and TTL, exactly as inject_fault would. "+
			"The call returns once the last step is injected; a step that fails or is refused stops the schedule and is reported in stopped, with the epochs injected before it. "+
			"Call it instead of timed inject_fault calls when the order and spacing of faults is part of the scenario; heal each epoch with heal_fault."),
		mcp.WithInputSchema[InjectScheduleArgs](),
		mcp.WithOutputSchema[InjectScheduleResult](),
		annotations("Inject a fault schedule", false, true, false, false),
	)
	return register(e, tool, e.doInjectSchedule)
}

func (e *Env) doInjectSchedule(ctx context.Context, _ mcp.CallToolRequest, args InjectScheduleArgs) (InjectScheduleResult, error) {
	if len(args.Steps) == 0 {
		return InjectScheduleResult{}, argErr("steps", "give at least one step: {at_ms, kind, targets, params, duration_ms}", "is empty")
	}
	steps := make([]nemesis.Step, len(args.Steps))
	for i, st := range args.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		kind := strings.ToLower(strings.TrimSpace(st.Kind))
		if _, err := nemesis.LookupKind(kind); err != nil {
			return InjectScheduleResult{}, argErr(field+".kind", "use one of "+oneOf(nemesis.KindNames()), "%q is not a built-in fault kind", st.Kind)
		}
		if len(st.Targets) == 0 {
			return InjectScheduleResult{}, argErr(field+".targets", "name the registered targets (register_target) the fault lands on", "is empty")
		}
		if st.AtMS < 0 || time.Duration(st.AtMS)*time.Millisecond > session.MaxScheduleSpan {
			return InjectScheduleResult{}, argErr(field+".at_ms", fmt.Sprintf("give 0 to %d", session.MaxScheduleSpan.Milliseconds()), "%d is out of range", st.AtMS)
		}
		if i > 0 && st.AtMS < args.Steps[i-1].AtMS {
			return InjectScheduleResult{}, argErr(field+".at_ms", "list the steps in order of at_ms", "%d is before the previous step's %d", st.AtMS, args.Steps[i-1].AtMS)
		}
		if st.DurationMS < 0 || time.Duration(st.DurationMS)*time.Millisecond > nemesis.MaxTTL {
			return InjectScheduleResult{}, argErr(field+".duration_ms", fmt.Sprintf("give 0 (the cap) to %d", nemesis.MaxTTL.Milliseconds()), "%d is out of range", st.DurationMS)
		}
		steps[i] = nemesis.Step{At: time.Duration(st.AtMS) * time.Millisecond, Spec: nemesis.Spec{
			Kind: kind, Targets: st.Targets, Params: st.Params, Duration: time.Duration(st.DurationMS) * time.Millisecond,
		}}
	}
	eps, err := e.sessions.InjectSchedule(ctx, args.Run, steps)
	if err != nil && len(eps) == 0 {
		return InjectScheduleResult{}, err
	}
	res := InjectScheduleResult{Epochs: []FaultResult{}}
	for _, ep := range eps {
		res.Epochs = append(res.Epochs, faultResult(ep))
		if ep.Landed {
			res.Landed++
		}
	}
	if err != nil {
		res.Stopped = err.Error()
	}
	return res, nil
}
