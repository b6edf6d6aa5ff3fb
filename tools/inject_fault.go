package tools

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/session"
)

// FaultKinds are the kinds inject_fault takes. "external": the agent
// causes the fault with its own tools and falsify measures it.
var FaultKinds = []string{"external"}

// InjectFaultArgs are inject_fault's arguments.
type InjectFaultArgs struct {
	Run         string         `json:"run" jsonschema_description:"Run id from start_run."`
	Kind        string         `json:"kind" jsonschema:"enum=external" jsonschema_description:"external: you cause the fault with your own tools (iptables, kill, docker pause…) and falsify measures whether it landed with the probe."`
	Fault       string         `json:"fault" jsonschema_description:"What the fault is: partition, kill, pause, clock-skew, disk-full, …"`
	Targets     []string       `json:"targets,omitempty" jsonschema_description:"Nodes or components the fault hits."`
	Params      map[string]any `json:"params,omitempty" jsonschema_description:"Fault parameters as you applied them (e.g. {\"direction\": \"inbound\"} for an asymmetric partition)."`
	Description string         `json:"description,omitempty" jsonschema_description:"What you did, for the record."`
	Probe       session.Probe  `json:"probe" jsonschema_description:"Landing evidence falsify reads itself before and after: exactly one of command (argv, no shell; the first number of its output), file + pattern (a workspace file; number of matches or the captured number) or url + metric (a Prometheus text page), and expect: increases, decreases, becomes 0, becomes nonzero, matches, stops matching or changes. 'The injector reported success' is not evidence."`
	VictimProbe *session.Probe `json:"victim_probe,omitempty" jsonschema_description:"Optional probe measuring the fault from a victim's side (client timeouts, RPC errors), read before and after like probe."`
	HealProbe   *session.Probe `json:"heal_probe,omitempty" jsonschema_description:"Optional probe heal_fault reads to measure recovery; without it heal_fault re-reads probe and expects the inverse change."`
	DurationMS  int64          `json:"duration_ms,omitempty" jsonschema_description:"How long falsify waits after the first reading before the second, so a fault you cause right after this call (or in the background) has time to land."`
}

// FaultResult is inject_fault's, measure_fault's and heal_fault's result.
type FaultResult struct {
	Epoch  string        `json:"epoch" jsonschema_description:"The fault epoch id (F1…): record_op's fault_epoch, heal_fault's epoch."`
	Landed bool          `json:"landed" jsonschema_description:"True only when falsify measured the expected change."`
	Healed bool          `json:"healed" jsonschema_description:"True when the fault was healed and recovery was measured."`
	Fault  session.Epoch `json:"fault" jsonschema_description:"The ledger entry: readings before and after (raw), evidence, victim readings, heal record."`
}

func faultResult(e *session.Epoch) FaultResult {
	return FaultResult{Epoch: e.ID, Landed: e.Landed, Healed: e.Heal != nil && e.Heal.Recovered, Fault: *e}
}

func (e *Env) injectFault() server.ServerTool {
	tool := mcp.NewTool("inject_fault",
		mcp.WithDescription("Open a fault epoch in a run's ledger and measure whether the fault landed. With kind external you cause the fault yourself; declare a probe (command, file + pattern, or metrics URL + metric, with the expected change) and falsify reads it before and after (waiting duration_ms), keeping both readings raw. "+
			"Call it right before you cause the fault; if you cause it only after this call returns, call measure_fault once it is in place. landed is true only when falsify measured the expected change; a verdict never trusts a fault without it."),
		mcp.WithInputSchema[InjectFaultArgs](),
		mcp.WithOutputSchema[FaultResult](),
		annotations("Inject a fault", false, false, false, false),
	)
	return register(e, tool, e.doInjectFault)
}

func (e *Env) doInjectFault(ctx context.Context, _ mcp.CallToolRequest, args InjectFaultArgs) (FaultResult, error) {
	kind := strings.ToLower(strings.TrimSpace(args.Kind))
	if kind != "external" {
		return FaultResult{}, argErr("kind", `use "external": cause the fault with your own tools and declare a probe falsify measures (built-in nemeses are not available yet)`, "%q is not a fault kind falsify can inject", args.Kind)
	}
	if strings.TrimSpace(args.Fault) == "" {
		return FaultResult{}, argErr("fault", "name the fault you cause: partition, kill, pause, clock-skew, disk-full, …", "is empty")
	}
	if args.DurationMS < 0 {
		return FaultResult{}, argErr("duration_ms", "pass 0 or a positive number of milliseconds", "%d is negative", args.DurationMS)
	}
	ep, err := e.sessions.InjectExternal(ctx, args.Run, session.ExternalFault{
		Kind: args.Fault, Targets: args.Targets, Params: args.Params, Description: args.Description,
		Probe: args.Probe, VictimProbe: args.VictimProbe, HealProbe: args.HealProbe, DurationMS: args.DurationMS,
	})
	if err != nil {
		return FaultResult{}, err
	}
	return faultResult(ep), nil
}
