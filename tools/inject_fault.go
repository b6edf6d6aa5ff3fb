package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/nemesis"
	"github.com/falsify-dev/falsify/session"
)

// FaultKinds returns the kinds inject_fault takes: "external" (the agent
// causes the fault with its own tools and falsify measures it) and every
// built-in nemesis kind, which falsify applies, measures and heals itself.
func FaultKinds() []string { return append([]string{"external"}, nemesis.KindNames()...) }

// kindDescription documents inject_fault's kind argument.
func kindDescription() string {
	var b strings.Builder
	b.WriteString("external: you cause the fault with your own tools (iptables, kill, docker pause…) and falsify measures whether it landed with the probe. Any other kind is a built-in fault falsify applies to registered targets (register_target), proves with its own probes and heals (heal_fault, or its TTL = duration_ms): ")
	b.WriteString(strings.Join(nemesis.KindNames(), ", "))
	b.WriteString(". probe_env describes each kind (targets, parameters, evidence) and whether this host can run it.")
	return b.String()
}

// InjectFaultArgs are inject_fault's arguments.
type InjectFaultArgs struct {
	Run         string         `json:"run" jsonschema_description:"Run id from start_run."`
	Kind        string         `json:"kind" jsonschema_description:"external, or a built-in fault kind (see the tool description)."`
	Fault       string         `json:"fault,omitempty" jsonschema_description:"external only: what the fault is: partition, kill, pause, clock-skew, disk-full, …"`
	Targets     []string       `json:"targets,omitempty" jsonschema_description:"Built-in kinds: the registered targets (ids or names from register_target) the fault lands on; any other pid, address or path is refused. external: the nodes or components the fault hits, for the record."`
	Params      map[string]any `json:"params,omitempty" jsonschema_description:"Built-in kinds: the kind's parameters (e.g. {\"direction\": \"upstream\"} for partition-oneway, {\"latency\": \"250ms\"}). external: the parameters as you applied them (e.g. {\"direction\": \"inbound\"} for an asymmetric partition)."`
	Description string         `json:"description,omitempty" jsonschema_description:"What you did, for the record."`
	Probe       *session.Probe `json:"probe,omitempty" jsonschema_description:"external only (required): landing evidence falsify reads itself before and after: exactly one of command (argv, no shell; the first number of its output), file + pattern (a workspace file; number of matches or the captured number) or url + metric (a Prometheus text page), and expect: increases, decreases, becomes 0, becomes nonzero, matches, stops matching or changes. 'The injector reported success' is not evidence."`
	VictimProbe *session.Probe `json:"victim_probe,omitempty" jsonschema_description:"Optional probe measuring the fault from a victim's side (client timeouts, RPC errors), read before and after like probe."`
	HealProbe   *session.Probe `json:"heal_probe,omitempty" jsonschema_description:"Optional probe heal_fault reads to measure recovery; without it heal_fault re-reads probe and expects the inverse change."`
	DurationMS  int64          `json:"duration_ms,omitempty" jsonschema_description:"Built-in kinds: the fault's lifetime; a watchdog heals it after this long (0 = the 600000 ms cap; more is refused). external: how long falsify waits after the first reading before the second, so a fault you cause right after this call (or in the background) has time to land."`
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
		mcp.WithDescription("Open a fault epoch in a run's ledger and measure whether the fault landed. "+
			"A built-in kind (pause, kill, partition, latency, drop, disk-full, clock-skew…) is applied by falsify to registered targets (register_target): the ledger entry is journaled before anything is touched, the landing is measured from the kernel or an active probe (raw before and after, injector and victim side), and the fault is healed by heal_fault, by its TTL (duration_ms) or, after a crash, on the next start. A kind this host cannot run (missing capability) is refused with the reason and the scenario becomes INCONCLUSIVE-env; probe_env lists what is available. "+
			"With kind external you cause the fault yourself; declare a probe (command, file + pattern, or metrics URL + metric, with the expected change) and falsify reads it before and after (waiting duration_ms), keeping both readings raw. "+
			"Call it right before you cause the fault; if you cause it only after this call returns, call measure_fault once it is in place. landed is true only when falsify measured the expected change; a verdict never trusts a fault without it."),
		mcp.WithInputSchema[InjectFaultArgs](),
		withPropertyDescription("kind", kindDescription()),
		mcp.WithOutputSchema[FaultResult](),
		annotations("Inject a fault", false, true, false, false),
	)
	return register(e, tool, e.doInjectFault)
}

func (e *Env) doInjectFault(ctx context.Context, _ mcp.CallToolRequest, args InjectFaultArgs) (FaultResult, error) {
	kind := strings.ToLower(strings.TrimSpace(args.Kind))
	if args.DurationMS < 0 {
		return FaultResult{}, argErr("duration_ms", "pass 0 or a positive number of milliseconds", "%d is negative", args.DurationMS)
	}
	if kind != "external" {
		return e.injectBuiltin(ctx, kind, args)
	}
	if args.Probe == nil {
		return FaultResult{}, argErr("probe", "declare the landing probe falsify reads before and after: command, file + pattern, or url + metric, with expect", "is missing; an external fault needs one")
	}
	if strings.TrimSpace(args.Fault) == "" {
		return FaultResult{}, argErr("fault", "name the fault you cause: partition, kill, pause, clock-skew, disk-full, …", "is empty")
	}
	ep, err := e.sessions.InjectExternal(ctx, args.Run, session.ExternalFault{
		Kind: args.Fault, Targets: args.Targets, Params: args.Params, Description: args.Description,
		Probe: *args.Probe, VictimProbe: args.VictimProbe, HealProbe: args.HealProbe, DurationMS: args.DurationMS,
	})
	if err != nil {
		return FaultResult{}, err
	}
	return faultResult(ep), nil
}

// injectBuiltin injects a built-in nemesis kind.
func (e *Env) injectBuiltin(ctx context.Context, kind string, args InjectFaultArgs) (FaultResult, error) {
	if _, err := nemesis.LookupKind(kind); err != nil {
		return FaultResult{}, argErr("kind", "use external or one of "+oneOf(nemesis.KindNames()), "%q is not a fault kind", args.Kind)
	}
	if args.Probe != nil || args.VictimProbe != nil || args.HealProbe != nil {
		return FaultResult{}, argErr("probe", "leave probe, victim_probe and heal_probe out: a built-in kind measures landing and recovery with its own probes", "is set for built-in kind %q", kind)
	}
	if len(args.Targets) == 0 {
		return FaultResult{}, argErr("targets", "name the registered targets (register_target) the fault lands on", "is empty")
	}
	d := time.Duration(args.DurationMS) * time.Millisecond
	if d > nemesis.MaxTTL {
		return FaultResult{}, argErr("duration_ms", fmt.Sprintf("give at most %d (the %s cap); a fault is always healed by then", nemesis.MaxTTL.Milliseconds(), nemesis.MaxTTL), "%d is over the cap", args.DurationMS)
	}
	ep, err := e.sessions.InjectFault(ctx, args.Run, nemesis.Spec{Kind: kind, Targets: args.Targets, Params: args.Params, Duration: d})
	if err != nil {
		var re *nemesis.RefusalError
		if errors.As(err, &re) {
			return FaultResult{}, err
		}
		return FaultResult{}, fmt.Errorf("kind %s: %w", kind, err)
	}
	return faultResult(ep), nil
}
