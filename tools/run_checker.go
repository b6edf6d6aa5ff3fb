package tools

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/checkers"
)

// RunCheckerArgs are run_checker's arguments.
type RunCheckerArgs struct {
	Run     string         `json:"run" jsonschema_description:"Run id from start_run."`
	Checker string         `json:"checker" jsonschema_description:"Checker name (linearizability, no-lost-ack…); the scenario's §7.M names it."`
	Options map[string]any `json:"options,omitempty" jsonschema_description:"Checker options, e.g. {\"model\": \"cas-register\"} to override the scenario's §7.M model, {\"timeout\": 120} (seconds) for linearizability's search budget."`
}

// RunCheckerResult is run_checker's result (SPEC §4.2's evidence).
type RunCheckerResult struct {
	Checker     string    `json:"checker"`
	Model       string    `json:"model"`
	Status      string    `json:"status" jsonschema:"enum=ok,enum=violation,enum=unknown" jsonschema_description:"ok, violation, or unknown (the checker could not decide: never a pass)."`
	OpsConsumed int       `json:"ops_consumed" jsonschema_description:"Ops the checker took into account…"`
	OpsTotal    int       `json:"ops_total" jsonschema_description:"…out of the ops in the history."`
	Keys        int       `json:"keys" jsonschema_description:"Keys / partitions checked."`
	Anomalies   []Anomaly `json:"anomalies" jsonschema_description:"Each anomaly with the ops involved and a witness."`
	Evidence    string    `json:"evidence" jsonschema_description:"One sentence a reviewer can quote."`
	Scope       string    `json:"scope" jsonschema_description:"What this checker cannot detect."`
	Missing     []string  `json:"missing" jsonschema_description:"History fields the checker needed and the history lacked (a weak history)."`
	Partial     bool      `json:"partial" jsonschema_description:"True when it ran on a subset of the ops."`
	Artifacts   []string  `json:"artifacts" jsonschema_description:"Workspace-relative files the checker wrote (e.g. Porcupine's visualisation), also linked as resources."`
}

// Anomaly is one anomaly a checker found.
type Anomaly struct {
	Kind        string   `json:"kind"`
	Key         string   `json:"key"`
	Description string   `json:"description"`
	OpIDs       []string `json:"op_ids"`
	Witness     any      `json:"witness,omitempty" jsonschema_description:"Checker-specific evidence (for linearizability: the longest linearizable prefix)."`
}

func (r RunCheckerResult) links() []mcp.ResourceLink {
	m := map[string]string{}
	for _, a := range r.Artifacts {
		m[a] = r.Checker + " artifact"
	}
	return links(m)
}

func (e *Env) runChecker() server.ServerTool {
	tool := mcp.NewTool("run_checker",
		mcp.WithDescription("Run a named checker over a run's recorded history (and recorded states): linearizability (Porcupine; models register, cas-register, kv) or no-lost-ack (history + final state). "+
			"Call it after the workload and its faults are recorded, with the checker the scenario's §7.M declares. Returns ok / violation / unknown with ops consumed of ops total, keys, anomalies with witnesses, an evidence sentence, artifact links and the history fields it lacked. "+
			"Long checks send progress notifications when the request carries a progress token, and stop when the request is cancelled."),
		mcp.WithInputSchema[RunCheckerArgs](),
		mcp.WithOutputSchema[RunCheckerResult](),
		annotations("Run a checker", false, false, true, false),
	)
	return register(e, tool, e.doRunChecker)
}

func (e *Env) doRunChecker(ctx context.Context, req mcp.CallToolRequest, args RunCheckerArgs) (RunCheckerResult, error) {
	progress := progressReporter(ctx, req, "checking "+args.Checker)
	res, err := e.sessions.RunChecker(ctx, args.Run, args.Checker, args.Options, progress)
	if err != nil {
		return RunCheckerResult{}, err
	}
	return CheckerResult(res, e.ws.Root()), nil
}

// CheckerResult converts a checker result, making artifact paths relative
// to root (slash-separated) when they lie inside it. The CLI's check
// command prints the same result.
func CheckerResult(r *checkers.Result, root string) RunCheckerResult {
	out := RunCheckerResult{
		Checker: r.Checker, Model: r.Model, Status: r.Status,
		OpsConsumed: r.OpsConsumed, OpsTotal: r.OpsTotal, Keys: r.Keys,
		Evidence: r.Evidence, Scope: r.Scope, Partial: r.Partial,
		Anomalies: make([]Anomaly, 0, len(r.Anomalies)),
		Missing:   append([]string{}, r.Missing...),
		Artifacts: make([]string, 0, len(r.Artifacts)),
	}
	for _, a := range r.Anomalies {
		ids := append([]string{}, a.OpIDs...)
		out.Anomalies = append(out.Anomalies, Anomaly{Kind: a.Kind, Key: a.Key, Description: a.Description, OpIDs: ids, Witness: a.Witness})
	}
	for _, a := range r.Artifacts {
		out.Artifacts = append(out.Artifacts, relativeTo(root, a))
	}
	return out
}

// relativeTo returns p relative to root (slash-separated) when it lies
// inside it, else p.
func relativeTo(root, p string) string {
	if !filepath.IsAbs(p) || root == "" {
		return filepath.ToSlash(p)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(rel)
}

// progressReporter returns a progress callback that sends MCP progress
// notifications for req when it carries a progress token, at most every
// 200 ms (and always for the last step); nil when there is no token.
func progressReporter(ctx context.Context, req mcp.CallToolRequest, what string) func(done, total int) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return nil
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return nil
	}
	token := req.Params.Meta.ProgressToken
	var (
		mu   sync.Mutex
		last time.Time
		sent = -1
	)
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if done == sent || (done < total && now.Sub(last) < 200*time.Millisecond) {
			return
		}
		last, sent = now, done
		params := map[string]any{
			"progressToken": token,
			"progress":      done,
			"message":       fmt.Sprintf("%s: %d of %d", what, done, total),
		}
		if total > 0 {
			params["total"] = total
		}
		_ = srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), params)
	}
}
