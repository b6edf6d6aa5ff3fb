package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/examples/kvr"
	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
	"github.com/falsify-dev/falsify/tools"
)

// demoPlan is the test plan the demo writes, section by section, for the
// demo system under test (examples/kvr). {{DATE}} is today.
//
//go:embed demo_plan.md
var demoPlan string

// demoSlug is the demo plan's slug (testing-plans/kvr-demo.md).
const demoSlug = "kvr-demo"

// Demo timing: short runs, the partition from +0.8 s for 1 s.
const (
	demoClients     = 5
	demoKeys        = 5
	demoPause       = 10 * time.Millisecond
	demoOpTimeout   = 500 * time.Millisecond
	demoSmokeRun    = 2200 * time.Millisecond
	demoFaultRun    = 2500 * time.Millisecond
	demoFaultAt     = 800 * time.Millisecond
	demoFaultFor    = time.Second
	demoFaultTTL    = 5 * time.Second
	demoProbeWait   = "300ms"
	demoStableAfter = 3 * time.Second
)

func newDemoCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run falsify's whole job end to end on a demo replicated key-value store",
		Long: `Run falsify's main job end to end, through its real MCP tools (an in-process
client of the same server "falsify serve" runs), on kvr, a small replicated
key-value store shipped with falsify (a primary and two backups on loopback):

  1. write a test plan for kvr section by section and lint it clean;
  2. session on the correct build: a smoke scenario (S1, linearizability, no
     fault) and a partition of the primary through falsify's proxy nemesis
     (S2, three seeds) → PASS-smoke and PASS-hardening with landing evidence;
  3. session on the lost-ack build: S2 violates linearizability, a same-seed
     re-run violates again → FAIL-reproducible, with Porcupine's
     visualisation, reduce_history and the finding (blame, TaxDC, severity);
  4. session on the stale-read build: S1 → FAIL-reproducible;
  5. finish_session on each → findings/report.md, JUnit XML, JSON summary.

It prints a verdict table and the paths, and exits 0 only when every verdict is
the expected one (1 otherwise, saying what differed). --dir chooses the
workspace (default: a fresh temporary directory, kept and printed).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := runDemo(c.Context(), demoOptions{Dir: dir, Out: c.OutOrStdout()})
			if err != nil {
				return &exitError{code: exitFindings, err: fmt.Errorf("demo: %w", err)}
			}
			if len(res.Mismatches) > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("demo: %d verdict(s) differ from the expected ones:\n  %s", len(res.Mismatches), strings.Join(res.Mismatches, "\n  "))}
			}
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "workspace to write the plan and sessions in (default: a fresh temporary directory)")
	return c
}

// demoOptions configure runDemo.
type demoOptions struct {
	Dir string    // workspace; "" = a fresh temporary directory
	Out io.Writer // progress, the verdict table and the paths
}

// demoRow is one scenario verdict of the demo.
type demoRow struct {
	Build    string // kvr mode: none, lost-ack, stale-read
	Session  string
	Scenario string
	Expected string
	Verdict  string
	Evidence string // one line
}

// demoSession is one finished session of the demo.
type demoSession struct {
	Build    string
	ID       string
	Expected string // expected session verdict
	Verdict  string
	Report   string // absolute path of findings/report.md
	JUnit    string
	Summary  string
}

// demoResult is what the demo did.
type demoResult struct {
	Workspace      string
	Plan           string // absolute path
	Rows           []demoRow
	Sessions       []demoSession
	Visualisations []string // absolute paths of linearizability.html
	Reductions     []string // absolute paths of reduced-history.jsonl and reduction.json
	ReductionNotes []string // reduction records
	Mismatches     []string // what differed from the expected verdicts
}

// demo drives falsify's MCP tools through an in-process client.
type demo struct {
	c    *client.Client
	root string
	out  io.Writer
	res  *demoResult
}

// runDemo runs the demo end to end. An error means the demo could not run
// (a tool refused a call it should accept, the cluster did not start);
// verdicts that differ from the expected ones are listed in
// demoResult.Mismatches.
func runDemo(ctx context.Context, opts demoOptions) (*demoResult, error) {
	started := time.Now()
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "falsify-demo-"); err != nil {
			return nil, fmt.Errorf("workspace: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	ws, err := session.OpenWorkspace(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	fmt.Fprintf(out, "falsify demo — workspace %s\n\n", ws.Root())
	sessions := session.NewManager(ws)
	defer sessions.Close()
	srv, err := server.New(server.Options{Workspace: ws, Sessions: sessions, Log: zerolog.Nop(), Version: buildVersion()})
	if err != nil {
		return nil, err
	}
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		return nil, err
	}
	// Start's context scopes the client's stream: it must outlive the calls.
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("mcp client: %w", err)
	}
	defer c.Close()
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "falsify-demo", Version: buildVersion()}
	if _, err := c.Initialize(ctx, init); err != nil {
		return nil, fmt.Errorf("mcp initialize: %w", err)
	}
	d := &demo{c: c, root: ws.Root(), out: out, res: &demoResult{Workspace: ws.Root()}}

	if err := d.writePlan(ctx); err != nil {
		return d.res, err
	}
	builds := []struct {
		mode     kvr.Mode
		expected string
		run      func(context.Context, *demoCluster) error
	}{
		{kvr.ModeNone, string(session.SessionDone), d.correctBuild},
		{kvr.ModeLostAck, string(session.SessionFail), d.lostAckBuild},
		{kvr.ModeStaleRead, string(session.SessionFail), d.staleReadBuild},
	}
	for _, b := range builds {
		if err := d.session(ctx, b.mode, b.expected, b.run); err != nil {
			return d.res, err
		}
	}
	d.printSummary(time.Since(started))
	return d.res, nil
}

// call invokes a tool with args (any JSON-encodable value) and decodes its
// structured result into out (when not nil). An isError result is an
// error carrying the tool's message.
func (d *demo) call(ctx context.Context, name string, args, out any) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = m
	res, err := d.c.CallTool(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if res.IsError {
		return fmt.Errorf("%s refused: %s", name, resultText(res))
	}
	if out == nil {
		return nil
	}
	body, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: result %s: %w", name, body, err)
	}
	return nil
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// planSection is one write_plan_section call.
type planSection struct {
	id, scenario, content string
}

var sectionHeading = regexp.MustCompile(`^## ([0-9]+[a-z]?)\. `)
var scenarioHeading = regexp.MustCompile(`^### Scenario (S[0-9]+):`)

// planSections splits a plan into its header, its sections and, for
// section 7, one block per scenario.
func planSections(src string) ([]planSection, error) {
	var out []planSection
	lines := strings.SplitAfter(src, "\n")
	cur := planSection{id: "header"}
	var b strings.Builder
	flush := func() {
		if strings.TrimSpace(b.String()) != "" {
			cur.content = b.String()
			out = append(out, cur)
		}
		b.Reset()
	}
	for _, line := range lines {
		if m := sectionHeading.FindStringSubmatch(line); m != nil {
			flush()
			cur = planSection{id: m[1]}
			if m[1] == "7" {
				continue // the scenarios carry section 7
			}
		} else if m := scenarioHeading.FindStringSubmatch(line); m != nil {
			flush()
			cur = planSection{id: "7", scenario: m[1]}
		}
		b.WriteString(line)
	}
	flush()
	if len(out) < 2 || out[0].id != "header" {
		return nil, errors.New("demo plan: no header or sections")
	}
	return out, nil
}

// writePlan writes the demo plan through write_plan_section, one section
// (and one scenario) at a time, then lints it.
func (d *demo) writePlan(ctx context.Context) error {
	src := strings.ReplaceAll(demoPlan, "{{DATE}}", time.Now().UTC().Format("2006-01-02"))
	sections, err := planSections(src)
	if err != nil {
		return err
	}
	var last tools.WritePlanSectionResult
	for _, s := range sections {
		args := tools.WritePlanSectionArgs{Plan: demoSlug, Section: s.id, Scenario: s.scenario, Content: s.content}
		if err := d.call(ctx, "write_plan_section", args, &last); err != nil {
			return err
		}
		if !last.Written {
			return fmt.Errorf("write_plan_section %s%s: not written: %s", s.id, s.scenario, diagText(last.Errors))
		}
	}
	var lint tools.LintPlanResult
	if err := d.call(ctx, "lint_plan", tools.LintPlanArgs{Plan: demoSlug}, &lint); err != nil {
		return err
	}
	if !lint.Clean {
		return fmt.Errorf("lint_plan: the demo plan is not clean: %s", diagText(lint.Errors))
	}
	d.res.Plan = filepath.Join(d.root, filepath.FromSlash(lint.Path))
	fmt.Fprintf(d.out, "plan     %s: %d sections written with write_plan_section; lint_plan clean (%d warnings)\n",
		lint.Path, len(sections), len(lint.Warnings))
	return nil
}

func diagText(ds []tools.Diagnostic) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("[%s §%s %s] %s", d.Rule, d.Section, d.ID, d.Message))
	}
	return strings.Join(parts, "; ")
}

// demoCluster is the kvr cluster of one session: every node behind a
// proxy registered as a fault target, started afresh for each run on the
// same addresses so that the targets stay valid.
type demoCluster struct {
	d       *demo
	session string
	dir     string // the session directory (absolute)
	mode    kvr.Mode
	listen  []string          // node listen addresses, n1…n3
	front   map[string]string // node name → proxy address
	log     syncBuffer        // the nodes' log lines
	cur     *kvr.Cluster
}

// start starts the cluster; the first start registers each node's address
// with register_target and fronts it with the returned proxy.
func (dc *demoCluster) start(ctx context.Context) error {
	cfg := kvr.ClusterConfig{Mode: dc.mode, Listen: dc.listen, Stderr: &dc.log}
	if dc.front == nil {
		dc.front = map[string]string{}
		cfg.Front = func(name, addr string) (string, error) {
			var res tools.RegisterTargetResult
			if err := dc.d.call(ctx, "register_target", tools.RegisterTargetArgs{Session: dc.session, Name: name, Address: addr}, &res); err != nil {
				return "", err
			}
			dc.listen = append(dc.listen, addr)
			dc.front[name] = res.ProxyListen
			return res.ProxyListen, nil
		}
	} else {
		cfg.Front = func(name, _ string) (string, error) { return dc.front[name], nil }
	}
	c, err := cfg.Start(ctx)
	if err != nil {
		return err
	}
	dc.cur = c
	return nil
}

// saveLog writes the nodes' own log to the session's logs/kvr-nodes.log,
// which the swallowed-errors audit answer cites.
func (dc *demoCluster) saveLog() error {
	if err := os.WriteFile(filepath.Join(dc.dir, "logs", "kvr-nodes.log"), []byte(dc.log.String()), 0o644); err != nil {
		return fmt.Errorf("node log: %w", err)
	}
	return nil
}

func (dc *demoCluster) stop() {
	if dc.cur != nil {
		dc.cur.Close()
		dc.cur = nil
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// session runs one build's session: start_session, the build's runs and
// verdicts, finish_session.
func (d *demo) session(ctx context.Context, mode kvr.Mode, expected string, body func(context.Context, *demoCluster) error) error {
	var ss tools.StartSessionResult
	if err := d.call(ctx, "start_session", tools.StartSessionArgs{Plan: demoSlug}, &ss); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nsession  %s — kvr --mode %s\n", ss.Session.ID, mode)
	dc := &demoCluster{d: d, session: ss.Session.ID, dir: filepath.Join(d.root, filepath.FromSlash(ss.Session.Dir)), mode: mode}
	defer dc.stop()
	if err := body(ctx, dc); err != nil {
		return err
	}
	if err := dc.saveLog(); err != nil {
		return err
	}
	var fin tools.FinishSessionResult
	notes := fmt.Sprintf("kvr --mode %s, %d clients over %d keys on loopback, runs of about 2 s; these are demo budgets, not a soak.", mode, demoClients, demoKeys)
	if err := d.call(ctx, "finish_session", tools.FinishSessionArgs{Session: ss.Session.ID, Notes: notes}, &fin); err != nil {
		return err
	}
	abs := func(p string) string { return filepath.Join(d.root, filepath.FromSlash(p)) }
	d.res.Sessions = append(d.res.Sessions, demoSession{Build: string(mode), ID: ss.Session.ID, Expected: expected, Verdict: fin.Verdict,
		Report: abs(fin.Report), JUnit: abs(fin.JUnit), Summary: abs(fin.Summary)})
	if fin.Verdict != expected {
		d.res.Mismatches = append(d.res.Mismatches, fmt.Sprintf("session %s (kvr --mode %s): %s, expected %s: %s", ss.Session.ID, mode, fin.Verdict, expected, strings.Join(fin.Rule, "; ")))
	}
	fmt.Fprintf(d.out, "  finish_session → %s: %s\n", fin.Verdict, fin.Report)
	return nil
}

// demoFault is the fault a run injects: a nemesis kind on n1's target.
type demoFault struct {
	kind   string
	params map[string]any
}

// demoRun is what one run recorded and what falsify answered.
type demoRun struct {
	id, seed string
	ops      []history.Op
	span     time.Duration
	timeouts int
	inFault  int // indeterminate ops inside the fault window
	check    tools.RunCheckerResult
	fault    *tools.FaultResult
	heal     *tools.FaultResult
	primary  string // the primary once the cluster settled after the run
	stable   error  // why it did not settle
}

// run executes one run of a scenario: start_run, a fresh cluster, the
// seeded workload (with the fault from +0.8 s for 1 s when f is set),
// record_op, run_checker.
func (d *demo) run(ctx context.Context, dc *demoCluster, scenario, seed, tier string, dur time.Duration, f *demoFault) (*demoRun, error) {
	var sr tools.StartRunResult
	if err := d.call(ctx, "start_run", tools.StartRunArgs{Session: dc.session, Scenario: scenario, Seed: seed, Tier: tier}, &sr); err != nil {
		return nil, err
	}
	r := &demoRun{id: sr.Run.ID, seed: seed}
	if err := dc.start(ctx); err != nil {
		return nil, fmt.Errorf("run %s: kvr cluster: %w", r.id, err)
	}
	defer dc.stop()
	seedN, err := strconv.ParseInt(seed, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("run %s: seed %q: %w", r.id, seed, err)
	}
	t0 := time.Now()
	w := kvr.Workload{
		Seed: seedN, Clients: demoClients, Keys: demoKeys, Duration: dur,
		Nodes: dc.cur.ClientAddrs(), ReadFrom: kvr.ReadFromAny, Timeout: demoOpTimeout, Pause: demoPause,
		// Timestamps: wall-clock nanoseconds at t0 plus the monotonic time
		// since, so that they share the fault ledger's clock yet never
		// jump.
		Start: t0.Add(-time.Duration(t0.UnixNano())),
	}
	type result struct {
		ops []history.Op
		err error
	}
	done := make(chan result, 1)
	go func() {
		ops, err := w.Run(ctx)
		done <- result{ops, err}
	}()
	var faultErr error
	if f != nil {
		faultErr = d.fault(ctx, dc, r, f, t0)
	}
	res := <-done
	if faultErr != nil {
		return nil, faultErr
	}
	if res.err != nil {
		return nil, fmt.Errorf("run %s: workload: %w", r.id, res.err)
	}
	r.ops = res.ops
	if f != nil {
		sctx, cancel := context.WithTimeout(ctx, demoStableAfter)
		r.primary, r.stable = dc.cur.WaitStable(sctx)
		cancel()
	}
	var first, last int64
	for i, o := range r.ops {
		if o.Indeterminate() {
			r.timeouts++
		}
		if i == 0 || *o.InvokeTS < first {
			first = *o.InvokeTS
		}
		end := *o.InvokeTS
		if o.CompleteTS != nil {
			end = *o.CompleteTS
		}
		last = max(last, end)
	}
	r.span = time.Duration(last - first)
	if r.fault != nil && r.heal != nil {
		start, end := r.fault.Fault.Start, r.heal.Fault.End
		for _, o := range r.ops {
			if o.Indeterminate() && *o.InvokeTS >= start && (end == nil || *o.InvokeTS <= *end) {
				r.inFault++
			}
		}
	}
	if err := d.record(ctx, r); err != nil {
		return nil, err
	}
	if err := d.call(ctx, "run_checker", tools.RunCheckerArgs{Run: r.id, Checker: "linearizability", Options: map[string]any{"model": "kv"}}, &r.check); err != nil {
		return nil, err
	}
	for _, a := range r.check.Artifacts {
		if strings.HasSuffix(a, ".html") {
			d.res.Visualisations = append(d.res.Visualisations, filepath.Join(d.root, filepath.FromSlash(a)))
		}
	}
	line := fmt.Sprintf("  %s %s seed %s: %d ops (%d indeterminate) in %s", r.id[strings.LastIndex(r.id, "/")+1:], scenario, seed, len(r.ops), r.timeouts, r.span.Round(time.Millisecond))
	if r.fault != nil {
		line += fmt.Sprintf("; %s %s landed=%t healed=%t", r.fault.Epoch, r.fault.Fault.Kind, r.fault.Landed, r.heal != nil && r.heal.Healed)
	}
	fmt.Fprintf(d.out, "%s; %s: %s\n", line, r.check.Checker, r.check.Evidence)
	return r, nil
}

// fault injects f on n1's target at t0 + 0.8 s and heals it 1 s later.
func (d *demo) fault(ctx context.Context, dc *demoCluster, r *demoRun, f *demoFault, t0 time.Time) error {
	if err := sleepUntil(ctx, t0.Add(demoFaultAt)); err != nil {
		return err
	}
	params := map[string]any{"probe_send": "{\"op\":\"status\"}\n", "probe_expect": "\"node\"", "probe_timeout": demoProbeWait}
	for k, v := range f.params {
		params[k] = v
	}
	var inj tools.FaultResult
	if err := d.call(ctx, "inject_fault", tools.InjectFaultArgs{Run: r.id, Kind: f.kind, Targets: []string{"n1"}, Params: params, DurationMS: demoFaultTTL.Milliseconds()}, &inj); err != nil {
		return err
	}
	r.fault = &inj
	if err := sleepUntil(ctx, t0.Add(demoFaultAt+demoFaultFor)); err != nil {
		return err
	}
	var heal tools.FaultResult
	if err := d.call(ctx, "heal_fault", tools.HealFaultArgs{Run: r.id, Epoch: inj.Epoch}, &heal); err != nil {
		return err
	}
	r.heal = &heal
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(t)):
		return nil
	}
}

// record sends a run's history with record_op, in batches.
func (d *demo) record(ctx context.Context, r *demoRun) error {
	const batch = 5000
	accepted := 0
	for i := 0; i < len(r.ops); i += batch {
		raw, err := json.Marshal(r.ops[i:min(i+batch, len(r.ops))])
		if err != nil {
			return err
		}
		var rows []any
		if err := json.Unmarshal(raw, &rows); err != nil {
			return err
		}
		var res tools.RecordOpResult
		if err := d.call(ctx, "record_op", map[string]any{"run": r.id, "ops": rows}, &res); err != nil {
			return err
		}
		if len(res.Rejected) > 0 {
			rj := res.Rejected[0]
			return fmt.Errorf("record_op %s: %d rows rejected, first: op %s field %s: %s", r.id, len(res.Rejected), rj.OpID, rj.Field, rj.Reason)
		}
		accepted += res.Accepted
	}
	if accepted != len(r.ops) {
		return fmt.Errorf("record_op %s: %d of %d ops accepted", r.id, accepted, len(r.ops))
	}
	return nil
}

// correctBuild runs S1 (smoke) and S2 (partition of the primary, three
// seeds, one of them one-way) against the correct build.
func (d *demo) correctBuild(ctx context.Context, dc *demoCluster) error {
	s1, err := d.run(ctx, dc, "S1", "1", "smoke", demoSmokeRun, nil)
	if err != nil {
		return err
	}
	if err := d.verdict(ctx, dc, "S1", string(session.PassSmoke), []*demoRun{s1}, nil); err != nil {
		return err
	}
	var runs []*demoRun
	for _, f := range []struct {
		seed  string
		fault demoFault
	}{
		{"1", demoFault{kind: "partition"}},
		{"2", demoFault{kind: "partition"}},
		{"3", demoFault{kind: "partition-oneway", params: map[string]any{"direction": "upstream"}}},
	} {
		r, err := d.run(ctx, dc, "S2", f.seed, "hardening", demoFaultRun, &f.fault)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	return d.verdict(ctx, dc, "S2", string(session.PassHardening), runs, nil)
}

// lostAckBuild partitions the primary of the lost-ack build twice with the
// same seed and schedule, reduces the failing history and files the
// finding.
func (d *demo) lostAckBuild(ctx context.Context, dc *demoCluster) error {
	f := demoFault{kind: "partition"}
	return d.failing(ctx, dc, "S2", "hardening", demoFaultRun, &f, session.FindingFacts{
		BlameClass: session.BlameSUT, TaxDCType: "partition", Tags: []string{"replication", "durability", "safety"}, Severity: "P0",
		RootCause:  "in lost-ack mode the primary acknowledges a write before replicating it (replication follows 250 ms later); when the primary is partitioned away, n2 takes over without the writes n1 acknowledged last, and later reads miss them",
		Owner:      "kvr maintainers (examples/kvr/node.go, the primary's write path)",
		NextAction: "acknowledge a write only after every live backup applied it (the none mode's path), then re-run S2 on three seeds",
	})
}

// staleReadBuild runs S1 against the stale-read build twice with the
// same seed, reduces and files the finding.
func (d *demo) staleReadBuild(ctx context.Context, dc *demoCluster) error {
	return d.failing(ctx, dc, "S1", "smoke", demoSmokeRun, nil, session.FindingFacts{
		BlameClass: session.BlameSUT, TaxDCType: "timing", Tags: []string{"replication", "safety"}, Severity: "P0",
		RootCause:  "in stale-read mode a backup acknowledges replication on receipt, applies 50 ms later and answers reads from its local map, so a read at a backup can miss a write the primary already acknowledged",
		Owner:      "kvr maintainers (examples/kvr/node.go, the backup's read path)",
		NextAction: "serve reads at backups only once they applied the primary's commit index, or forward them to the primary; re-run S1",
	})
}

// demoMaxReruns bounds the same-seed runs of a failing scenario: a
// violation is confirmed by a second violating run with the same seed and
// schedule; a starved host may need another try. falsify sees every run.
const demoMaxReruns = 4

// failing runs a scenario with seed 1 (same schedule) until two runs
// violate (at most demoMaxReruns runs), reduces the first failing history
// with reduce_history and assigns the verdict with the finding.
func (d *demo) failing(ctx context.Context, dc *demoCluster, scenario, tier string, dur time.Duration, f *demoFault, ff session.FindingFacts) error {
	var runs []*demoRun
	violations := 0
	for len(runs) < 2 || violations < 2 && len(runs) < demoMaxReruns {
		r, err := d.run(ctx, dc, scenario, "1", tier, dur, f)
		if err != nil {
			return err
		}
		runs = append(runs, r)
		if r.check.Status == "violation" {
			violations++
		}
	}
	failed := runs[0]
	for _, r := range runs {
		if r.check.Status == "violation" {
			failed = r
			break
		}
	}
	var links []string
	rel := func(p string) string { // session-relative, as the report links them
		if i := strings.Index(p, "/artifacts/"); i >= 0 {
			return p[i+1:]
		}
		return p
	}
	for _, a := range failed.check.Artifacts {
		links = append(links, rel(a))
	}
	runName := failed.id[strings.LastIndex(failed.id, "/")+1:]
	links = append(links, path.Join("artifacts", runName, "history.jsonl"))
	ff.Reduction = "not reduced: the run did not violate"
	if failed.check.Status == "violation" {
		var red tools.ReduceHistoryResult
		if err := d.call(ctx, "reduce_history", tools.ReduceHistoryArgs{Run: failed.id, Checker: "linearizability"}, &red); err != nil {
			return err
		}
		ff.Reduction = red.Record + " (reduce_history: delta debugging over ops and fault windows, linearizability re-run on each candidate)"
		for _, p := range []string{red.History, red.Reduction} {
			if p != "" {
				d.res.Reductions = append(d.res.Reductions, filepath.Join(d.root, filepath.FromSlash(p)))
				links = append(links, rel(p))
			}
		}
		d.res.ReductionNotes = append(d.res.ReductionNotes, fmt.Sprintf("%s: %s", failed.id, red.Record))
		fmt.Fprintf(d.out, "  reduce_history %s: %s\n", runName, red.Record)
	}
	schedule := "no fault"
	if f != nil {
		schedule = fmt.Sprintf("%s of n1 through its proxy from +%s for %s", f.kind, demoFaultAt, demoFaultFor)
	}
	ff.Reproducer = fmt.Sprintf("falsify demo (kvr --mode %s): scenario %s, seed 1, %d clients over %d keys reading from any node, %s, %s; same-seed runs: %s. Minimal history: %s",
		dc.mode, scenario, demoClients, demoKeys, dur, schedule, runIDs(runs), path.Join("artifacts", runName, "reduction", "reduced-history.jsonl"))
	ff.EvidenceLinks = links
	return d.verdict(ctx, dc, scenario, string(session.FailReproducible), runs, &ff)
}

// verdict calls assign_verdict and records the row.
func (d *demo) verdict(ctx context.Context, dc *demoCluster, scenario, expected string, runs []*demoRun, ff *session.FindingFacts) error {
	if err := dc.saveLog(); err != nil {
		return err
	}
	audit := d.audit(dc, runs)
	args := tools.AssignVerdictArgs{Session: dc.session, Scenario: scenario, Audit: audit}
	if ff != nil {
		args.Finding = &tools.Finding{
			Reproducer: ff.Reproducer, Reduction: ff.Reduction, BlameClass: ff.BlameClass, TaxDCType: ff.TaxDCType,
			Tags: ff.Tags, Severity: ff.Severity, EvidenceLinks: ff.EvidenceLinks, RootCause: ff.RootCause,
			Owner: ff.Owner, NextAction: ff.NextAction,
		}
	}
	var res tools.AssignVerdictResult
	if err := d.call(ctx, "assign_verdict", args, &res); err != nil {
		return err
	}
	row := demoRow{Build: string(dc.mode), Session: dc.session, Scenario: scenario, Expected: expected, Verdict: res.Verdict, Evidence: evidenceLine(res, runs, ff)}
	d.res.Rows = append(d.res.Rows, row)
	fmt.Fprintf(d.out, "  assign_verdict %s → %s\n", scenario, res.Verdict)
	if res.Verdict != expected {
		why := res.Decision.Reasons
		if len(res.Decision.Blockers) > 0 {
			why = append(why, "blockers: "+strings.Join(res.Decision.Blockers, "; "))
		}
		d.res.Mismatches = append(d.res.Mismatches, fmt.Sprintf("kvr --mode %s %s: %s, expected %s: %s", dc.mode, scenario, res.Verdict, expected, strings.Join(why, "; ")))
	}
	return nil
}

// evidenceLine is a verdict's one-line evidence for the table.
func evidenceLine(res tools.AssignVerdictResult, runs []*demoRun, ff *session.FindingFacts) string {
	ops, anomalies, landed, faults := 0, 0, 0, 0
	var seeds []string
	for _, r := range runs {
		ops += r.check.OpsConsumed
		anomalies += len(r.check.Anomalies)
		if !slices.Contains(seeds, r.seed) {
			seeds = append(seeds, r.seed)
		}
		if r.fault != nil {
			faults++
			if r.fault.Landed {
				landed++
			}
		}
	}
	line := fmt.Sprintf("%d run(s), seed(s) %s; linearizability over %d ops: %d anomalies", len(runs), strings.Join(seeds, ","), ops, anomalies)
	if faults > 0 {
		line += fmt.Sprintf("; %d/%d faults landed", landed, faults)
	}
	if ff != nil && strings.HasPrefix(ff.Reduction, "reduced") {
		head, _, _ := strings.Cut(ff.Reduction, " (")
		line += "; " + head
	}
	if res.Verdict == string(session.FailReproducible) {
		line += "; same-seed re-run reproduced it"
	}
	return line
}

// audit answers SPEC §8's items for a scenario's runs from what the demo
// measured itself; falsify checks the answers against its own records.
func (d *demo) audit(dc *demoCluster, runs []*demoRun) session.Audit {
	yes, no := true, false
	holds := func(ok bool, format string, a ...any) session.Answer {
		v := &yes
		if !ok {
			v = &no
		}
		return session.Answer{Holds: v, Evidence: fmt.Sprintf(format, a...)}
	}
	na := func(why string) session.Answer { return session.Answer{NotApplicable: true, Evidence: why} }
	var rates, counts, spans, faults, recovery, stable []string
	faulted, asym := 0, 0
	seeds := map[string]bool{}
	allStable, allHealed, allLanded := true, true, true
	for _, r := range runs {
		seeds[r.seed] = true
		rates = append(rates, fmt.Sprintf("%s: %d ops in %s (%.0f per second, %d indeterminate)", r.id, len(r.ops), r.span.Round(time.Millisecond), float64(len(r.ops))/r.span.Seconds(), r.timeouts))
		counts = append(counts, fmt.Sprintf("%s consumed %d of %d ops on %s", r.check.Checker, r.check.OpsConsumed, r.check.OpsTotal, r.id))
		spans = append(spans, fmt.Sprintf("%s ran %s", r.id, r.span.Round(time.Millisecond)))
		if r.fault == nil {
			continue
		}
		faulted++
		if r.fault.Fault.Kind == "partition-oneway" {
			asym++
		}
		allLanded = allLanded && r.fault.Landed
		allHealed = allHealed && r.heal != nil && r.heal.Healed
		faults = append(faults, fmt.Sprintf("%s %s %s: injector side %s; victim side: %d client ops timed out inside the window", r.id, r.fault.Epoch, r.fault.Fault.Kind, oneLine(r.fault.Fault.Evidence), r.inFault))
		if r.heal != nil {
			recovery = append(recovery, fmt.Sprintf("%s %s healed=%t", r.id, r.fault.Epoch, r.heal.Healed))
		}
		if r.stable != nil {
			allStable = false
			stable = append(stable, fmt.Sprintf("%s: the cluster did not settle after the heal: %v", r.id, r.stable))
		} else {
			stable = append(stable, fmt.Sprintf("%s: primary %s with both backups after the heal", r.id, r.primary))
		}
	}
	logText := dc.log.String()
	lines := strings.Count(logText, "\n")
	swallowed := strings.Contains(strings.ToLower(logText), "panic") || strings.Contains(strings.ToLower(logText), "internal error")
	a := session.Audit{
		session.AuditRateDuration:      holds(true, "%s", strings.Join(rates, "; ")),
		session.AuditOracleEveryCycle:  holds(true, "%s", strings.Join(counts, "; ")),
		session.AuditMonotonicTiming:   holds(true, "every timestamp comes from one process: wall-clock nanoseconds at the run's start plus Go's monotonic clock since, so no clock of another host is compared and none can jump"),
		session.AuditDurationExit:      holds(true, "%s", strings.Join(spans, "; ")),
		session.AuditNoSwallowedErrs:   holds(!swallowed, "searched the nodes' log (%d lines, logs/kvr-nodes.log) for panic and internal error: found=%t; the workload records every error reply in the history", lines, swallowed),
		session.AuditFairBaseline:      na("no baseline comparison: the oracle is linearizability, not a performance comparison"),
		session.AuditStatsReplicated:   na("no statistical claim: C1 and C2 are safety and durability claims"),
		session.AuditNotFinalStateOnly: holds(true, "linearizability reads every op of the history with its real-time bounds, not a final state"),
		session.AuditNotLogsOnly:       holds(true, "the oracle is Porcupine over the recorded history, not the nodes' logs"),
		session.AuditNotHealthOnly:     holds(true, "every read's value is checked against every write, cas and timeout, not a health check"),
		session.AuditHiddenRetries:     holds(true, "the workload client never retries: an op without a reply is recorded indeterminate and the client continues as a new process"),
		session.AuditMonotonicTS:       holds(true, "one process, wall clock at the run's start plus the monotonic clock since; falsify verified every process's ops are in order"),
		session.AuditThreeSeeds:        holds(len(seeds) >= 3, "%d distinct seeds", len(seeds)),
	}
	if faulted == 0 {
		a[session.AuditFaultEvidence] = na("no fault: this scenario is the fault-free baseline")
		a[session.AuditFaultNotNoop] = na("no fault: this scenario is the fault-free baseline")
		a[session.AuditRecoveryNominal] = na("no fault: nothing to recover from")
		a[session.AuditMultipleFailovers] = na("not failover-based: no fault in this scenario")
		a[session.AuditAsymmetricFault] = na("no fault in this scenario")
		return a
	}
	a[session.AuditFaultEvidence] = holds(allLanded, "%s", strings.Join(faults, "; "))
	a[session.AuditFaultNotNoop] = holds(allLanded, "the proxy in front of n1 is the only way clients and peers reach it; the active probe through it answered before and timed out after: %s", strings.Join(faults, "; "))
	a[session.AuditRecoveryNominal] = holds(allHealed && allStable, "%s; %s", strings.Join(recovery, "; "), strings.Join(stable, "; "))
	a[session.AuditMultipleFailovers] = holds(faulted > 1, "every one of the %d faulted runs cut the primary n1 off, forcing a failover to n2 (%d failovers across the scenario's runs)", faulted, faulted)
	if asym > 0 {
		a[session.AuditAsymmetricFault] = holds(true, "%d run(s) used partition-oneway (upstream black-holed only)", asym)
	} else {
		a[session.AuditAsymmetricFault] = holds(false, "only symmetric partitions in these runs")
	}
	return a
}

func runIDs(runs []*demoRun) string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, fmt.Sprintf("%s (%s)", r.id[strings.LastIndex(r.id, "/")+1:], r.check.Status))
	}
	return strings.Join(ids, ", ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// printSummary prints the verdict table and the paths.
func (d *demo) printSummary(took time.Duration) {
	fmt.Fprintf(d.out, "\nVerdicts (%s):\n\n", took.Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "build\tscenario\tverdict\texpected\tevidence")
	for _, r := range d.res.Rows {
		mark := "ok"
		if r.Verdict != r.Expected {
			mark = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Build, r.Scenario, r.Verdict, mark, r.Evidence)
	}
	for _, s := range d.res.Sessions {
		mark := "ok"
		if s.Verdict != s.Expected {
			mark = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\tsession\t%s\t%s\t%s\n", s.Build, s.Verdict, mark, s.ID)
	}
	tw.Flush()
	fmt.Fprintf(d.out, "\nPaths:\n  workspace      %s\n  plan           %s\n", d.res.Workspace, d.res.Plan)
	for _, s := range d.res.Sessions {
		fmt.Fprintf(d.out, "  report (%s)%s%s\n", s.Build, strings.Repeat(" ", max(1, 11-len(s.Build))), s.Report)
	}
	for _, v := range d.res.Visualisations {
		fmt.Fprintf(d.out, "  visualisation  %s\n", v)
	}
	for _, r := range d.res.Reductions {
		fmt.Fprintf(d.out, "  reduction      %s\n", r)
	}
	if len(d.res.Mismatches) == 0 {
		fmt.Fprintf(d.out, "\nEvery verdict is the expected one.\n")
	}
}
