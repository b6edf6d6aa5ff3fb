package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The tools a whole session needs; falsify may serve more (each is checked
// for schemas and annotations all the same).
var toolNames = []string{
	"assign_verdict", "extract_claims", "heal_fault", "import_history", "inject_fault",
	"lint_plan", "measure_fault", "record_op", "record_state", "run_checker", "start_run",
	"start_session", "write_plan_section",
}

// protocolVersions are the MCP protocol versions the Go SDK sessions
// negotiate: its latest ("" — 2026-07-28 in go-sdk v1.8.0, no standalone
// SSE stream) and older ones deployed clients still speak (session ids and
// the standalone GET stream over HTTP).
var protocolVersions = []string{"", "2025-11-25", "2025-06-18"}

// TestGoSDKStdio drives a whole session through the official Go MCP SDK
// over stdio: the SDK starts "falsify serve" itself (CommandTransport).
func TestGoSDKStdio(t *testing.T) {
	bin := falsify(t)
	for _, version := range protocolVersions {
		t.Run(versionName(version), func(t *testing.T) {
			ws := t.TempDir()
			stderr := new(lockedBuffer)
			cmd := exec.Command(bin, "serve", "--root", ws)
			cmd.Stderr = stderr
			wire := new(wireLog)
			transport := &recordingTransport{
				Transport: &mcp.CommandTransport{Command: cmd, TerminateDuration: 30 * time.Second},
				log:       wire,
			}
			s := connect(t, transport, version, ws, stderr)
			t.Cleanup(func() {
				// Closing stdin is how a stdio client ends the session:
				// the server must exit 0 on its own.
				if err := s.cs.Close(); err != nil {
					t.Errorf("falsify serve (stdio) did not exit cleanly on EOF: %v\n%s", err, stderr)
				}
			})
			s.listTools()
			checkRawToolsList(t, wire.result("tools/list"))
			s.session()
		})
	}
}

// TestGoSDKStreamableHTTP drives the same session through the Go MCP SDK's
// streamable HTTP client against "falsify serve --http" as a real process.
func TestGoSDKStreamableHTTP(t *testing.T) {
	for _, version := range protocolVersions {
		t.Run(versionName(version), func(t *testing.T) {
			ws := t.TempDir()
			srv := startHTTP(t, ws)
			transport := &mcp.StreamableClientTransport{Endpoint: srv.URL}
			s := connect(t, transport, version, ws, srv.stderr)
			t.Cleanup(func() {
				if err := s.cs.Close(); err != nil {
					t.Errorf("closing the HTTP session: %v", err)
				}
			})
			s.listTools()
			s.session()
			if got := logLines(srv.stderr.String(), "tool call"); len(got) == 0 {
				t.Errorf("falsify logged no tool call on stderr:\n%s", srv.stderr)
			}
		})
	}
}

func versionName(v string) string {
	if v == "" {
		return "latest"
	}
	return v
}

// sdkSession is a Go SDK client session on a falsify process whose
// workspace is ws.
type sdkSession struct {
	t      *testing.T
	cs     *mcp.ClientSession
	ws     string
	stderr *lockedBuffer     // the server's log, shown when a call fails
	runDir map[string]string // run id → its workspace-relative directory

	mu       sync.Mutex
	progress []*mcp.ProgressNotificationParams
}

// connect opens a client session over transport, asking for protocol
// version ("" for the SDK's latest), and checks the handshake.
func connect(t *testing.T, transport mcp.Transport, version, ws string, stderr *lockedBuffer) *sdkSession {
	t.Helper()
	s := &sdkSession{t: t, ws: ws, stderr: stderr, runDir: map[string]string{}}
	client := mcp.NewClient(&mcp.Implementation{Name: "falsify-e2e-go-sdk", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			s.mu.Lock()
			s.progress = append(s.progress, req.Params)
			s.mu.Unlock()
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cs, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect: %v\nserver log:\n%s", err, stderr)
	}
	s.cs = cs
	init := cs.InitializeResult()
	if init == nil || init.ServerInfo == nil || init.ServerInfo.Name != "falsify" {
		t.Fatalf("initialize: %+v", init)
	}
	if version != "" && init.ProtocolVersion != version {
		t.Errorf("negotiated protocol %s, asked for %s", init.ProtocolVersion, version)
	}
	if init.Capabilities == nil || init.Capabilities.Tools == nil || init.Capabilities.Resources == nil || init.Capabilities.Prompts == nil {
		t.Errorf("capabilities lack tools, resources or prompts: %+v", init.Capabilities)
	}
	if !strings.Contains(init.Instructions, "assign_verdict") {
		t.Errorf("instructions do not describe the workflow: %q", init.Instructions)
	}
	t.Logf("negotiated protocol %s with %s %s", init.ProtocolVersion, init.ServerInfo.Name, init.ServerInfo.Version)
	return s
}

// listTools checks tools/list as the SDK decodes it: every tool with an
// object input schema and an output schema, no "type" array anywhere in
// them, a title and the destructive and open-world hints (the SDK decodes
// readOnly and idempotent into plain bools, so their presence is checked
// on the wire by checkRawToolsList).
func (s *sdkSession) listTools() {
	t := s.t
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res, err := s.cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		in, ok := tool.InputSchema.(map[string]any)
		if !ok || in["type"] != "object" {
			t.Errorf("%s: input schema %v, want an object schema", tool.Name, tool.InputSchema)
		}
		out, ok := tool.OutputSchema.(map[string]any)
		if !ok || out["type"] != "object" {
			t.Errorf("%s: output schema %v, want an object schema", tool.Name, tool.OutputSchema)
		}
		for _, p := range typeArrays(tool.InputSchema, tool.Name+".inputSchema") {
			t.Errorf("type array at %s", p)
		}
		for _, p := range typeArrays(tool.OutputSchema, tool.Name+".outputSchema") {
			t.Errorf("type array at %s", p)
		}
		a := tool.Annotations
		if a == nil || a.Title == "" || a.DestructiveHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: annotations %+v, want a title and every hint", tool.Name, a)
		}
	}
	for _, want := range toolNames {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list %v lacks %s", names, want)
		}
	}
}

// checkRawToolsList checks the tools/list result as it crossed the wire:
// all four annotation hints present as booleans on every tool, both
// schemas present, no "type" array.
func checkRawToolsList(t *testing.T, raw json.RawMessage) {
	t.Helper()
	if raw == nil {
		t.Fatal("no tools/list response recorded on the wire")
	}
	var res struct {
		Tools []map[string]any `json:"tools"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("tools/list result: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		name, _ := tool["name"].(string)
		names = append(names, name)
		for _, key := range []string{"inputSchema", "outputSchema"} {
			if _, ok := tool[key].(map[string]any); !ok {
				t.Errorf("%s: %s missing on the wire", name, key)
			}
			for _, p := range typeArrays(tool[key], name+"."+key) {
				t.Errorf("type array on the wire at %s", p)
			}
		}
		ann, _ := tool["annotations"].(map[string]any)
		for _, hint := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			if _, ok := ann[hint].(bool); !ok {
				t.Errorf("%s: annotation %s not set on the wire: %v", name, hint, ann)
			}
		}
	}
	for _, want := range toolNames {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list on the wire %v lacks %s", names, want)
		}
	}
}

// typeArrays returns the paths of every "type" member of a schema that is
// not a single type name.
func typeArrays(v any, path string) []string {
	var out []string
	switch n := v.(type) {
	case map[string]any:
		for k, child := range n {
			if k == "type" {
				if _, ok := child.(string); !ok {
					out = append(out, path+".type")
				}
				continue
			}
			out = append(out, typeArrays(child, path+"."+k)...)
		}
	case []any:
		for i, child := range n {
			out = append(out, typeArrays(child, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// The results this suite reads, as an independent client sees them on the
// wire (not falsify's Go types, which would follow any renamed field).
type (
	diagnostic struct {
		Severity, Rule, Section, ID, Message, Fix string
	}
	writeResult struct {
		Path     string       `json:"path"`
		Written  bool         `json:"written"`
		Created  bool         `json:"created"`
		Errors   []diagnostic `json:"errors"`
		Pending  []diagnostic `json:"pending"`
		Warnings []diagnostic `json:"warnings"`
	}
	lintResult struct {
		Path    string       `json:"path"`
		Clean   bool         `json:"clean"`
		Errors  []diagnostic `json:"errors"`
		Summary struct {
			Claims, Hypotheses, Scenarios, Arms int
		} `json:"summary"`
	}
	sessionResult struct {
		Session struct {
			ID, Slug, Dir, Plan string
			PlanSHA256          string `json:"plan_sha256"`
		} `json:"session"`
		Log string `json:"log"`
	}
	runResult struct {
		Run struct {
			ID, Session, Scenario, Seed, Tier, Model, Checker, Dir string
			Serious                                                bool
			SameSeed                                               []string `json:"same_seed"`
		} `json:"run"`
	}
	recordResult struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index  int    `json:"index"`
			OpID   string `json:"op_id"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"rejected"`
	}
	checkResult struct {
		Checker     string `json:"checker"`
		Model       string `json:"model"`
		Status      string `json:"status"`
		OpsConsumed int    `json:"ops_consumed"`
		OpsTotal    int    `json:"ops_total"`
		Keys        int    `json:"keys"`
		Anomalies   []struct {
			Kind  string   `json:"kind"`
			OpIDs []string `json:"op_ids"`
		} `json:"anomalies"`
		Evidence  string   `json:"evidence"`
		Missing   []string `json:"missing"`
		Artifacts []string `json:"artifacts"`
	}
	verdictResult struct {
		Verdict  string `json:"verdict"`
		Decision struct {
			Scenario string   `json:"scenario"`
			Verdict  string   `json:"verdict"`
			TierMet  string   `json:"tier_met"`
			Path     []string `json:"path"`
			Reasons  []string `json:"reasons"`
			Blockers []string `json:"blockers"`
		} `json:"decision"`
		Findings string `json:"findings"`
	}
)

// call invokes a tool; a protocol error fails the test.
func (s *sdkSession) call(name string, args map[string]any, progressToken any) *mcp.CallToolResult {
	s.t.Helper()
	params := &mcp.CallToolParams{Name: name, Arguments: args}
	if progressToken != nil {
		params.SetProgressToken(progressToken)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res, err := s.cs.CallTool(ctx, params)
	if err != nil {
		s.t.Fatalf("%s: protocol error: %v\nserver log:\n%s", name, err, s.stderr)
	}
	return res
}

// ok calls a tool that must succeed, checks that its structured content is
// present and equal to the JSON text copy, and decodes it into v.
func (s *sdkSession) ok(name string, args map[string]any, v any) *mcp.CallToolResult {
	s.t.Helper()
	res := s.call(name, args, nil)
	s.decode(name, res, v)
	return res
}

func (s *sdkSession) decode(name string, res *mcp.CallToolResult, v any) {
	t := s.t
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: isError: %s", name, text(res))
	}
	if res.StructuredContent == nil {
		t.Fatalf("%s: no structuredContent", name)
	}
	structured, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var fromStructured, fromText any
	if err := json.Unmarshal(structured, &fromStructured); err != nil {
		t.Fatal(err)
	}
	if len(res.Content) == 0 {
		t.Fatalf("%s: no content", name)
	}
	first, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("%s: first content is %T, want the JSON text copy", name, res.Content[0])
	}
	if err := json.Unmarshal([]byte(first.Text), &fromText); err != nil {
		t.Fatalf("%s: text copy is not JSON: %v: %s", name, err, first.Text)
	}
	if !reflect.DeepEqual(fromStructured, fromText) {
		t.Errorf("%s: structuredContent and its text copy differ:\n structured %s\n text       %s", name, structured, first.Text)
	}
	dec := json.NewDecoder(strings.NewReader(string(structured)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: structured content %s: %v", name, structured, err)
	}
}

// text concatenates a result's text content.
func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// links returns the URIs of a result's resource links.
func links(res *mcp.CallToolResult) []string {
	var out []string
	for _, c := range res.Content {
		if l, ok := c.(*mcp.ResourceLink); ok {
			out = append(out, l.URI)
		}
	}
	return out
}

// sessionURI is the resource URI of a workspace-relative session file.
func sessionURI(rel string) string {
	return "falsify://sessions/" + strings.TrimPrefix(rel, "test-sessions/")
}

// read reads a resource and returns its single text content.
func (s *sdkSession) read(uri string) *mcp.ResourceContents {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	res, err := s.cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		s.t.Fatalf("resources/read %s: %v", uri, err)
	}
	if len(res.Contents) != 1 || res.Contents[0].URI != uri {
		s.t.Fatalf("resources/read %s: %+v", uri, res.Contents)
	}
	return res.Contents[0]
}

// wsFile returns a workspace file's content.
func (s *sdkSession) wsFile(rel string) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.ws, filepath.FromSlash(rel)))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// registerHistory is a crafted single-register history on key k over 61 s
// and three nodes (the S1 smoke budget: 3 nodes, 60 s): write 1, read 1,
// write 2 concurrent with a read of 2, a write of 3 that times out
// (indeterminate), then two reads. stale=false reads 2 then 3 — the
// indeterminate write took effect between them: linearizable. stale=true
// reads 3 then 2 — 2 is read after 3 was observed and nothing wrote 2
// again: not linearizable, and o7 is the stale read.
func registerHistory(stale bool) []map[string]any {
	const t0, sec = int64(1_000_000_000), int64(1_000_000_000)
	op := func(id, proc, typ string, value int, start, end int64, node string) map[string]any {
		m := map[string]any{
			"op_id": id, "process_id": proc, "op_type": typ, "key": "k",
			"invoke_ts": t0 + start*sec, "node_seen": node,
		}
		if end >= 0 {
			m["complete_ts"] = t0 + end*sec
		} else {
			m["timeout_marker"] = true
		}
		switch {
		case typ == "write":
			m["input"] = value
		case end >= 0:
			m["output"] = value
		}
		return m
	}
	sixth, seventh := 2, 3
	if stale {
		sixth, seventh = 3, 2
	}
	return []map[string]any{
		op("o1", "p1", "write", 1, 0, 1, "n1"),
		op("o2", "p2", "read", 1, 2, 3, "n2"),
		op("o3", "p1", "write", 2, 10, 12, "n1"),
		op("o4", "p2", "read", 2, 11, 13, "n3"),
		op("o5", "p3", "write", 3, 20, -1, "n1"),
		op("o6", "p2", "read", sixth, 30, 31, "n2"),
		op("o7", "p4", "read", seventh, 60, 61, "n3"),
	}
}

// design writes the plan section by section through write_plan_section
// and lints it clean.
func (s *sdkSession) design() {
	t := s.t
	t.Helper()
	parts := planParts(t)
	if len(parts) < 18 {
		t.Fatalf("split %s into %d parts; want the header, every section and every scenario", planSource, len(parts))
	}
	var w writeResult
	for i, p := range parts {
		args := map[string]any{"plan": planSlug, "section": p.section, "content": p.content}
		if p.scenario != "" {
			args["scenario"] = p.scenario
		}
		s.ok("write_plan_section", args, &w)
		if !w.Written || len(w.Errors) != 0 || w.Path != planFile || w.Created != (i == 0) {
			t.Fatalf("write_plan_section %s %s: %+v", p.section, p.scenario, w)
		}
	}
	if len(w.Pending) != 0 {
		t.Errorf("errors still pending after the last section: %+v", w.Pending)
	}
	var lint lintResult
	s.ok("lint_plan", map[string]any{"plan": planSlug}, &lint)
	if !lint.Clean || len(lint.Errors) != 0 || lint.Path != planFile {
		t.Fatalf("lint_plan: %+v", lint)
	}
	if got := lint.Summary; got.Claims != 7 || got.Hypotheses != 7 || got.Scenarios != 5 || got.Arms != 2 {
		t.Errorf("lint_plan summary %+v, want 7 claims, 7 hypotheses, 5 scenarios, 2 arms", got)
	}
}

// session writes the plan section by section, lints it, and runs scenario
// S1 three times: a linearizable history (PASS-smoke), a stale read
// (FAIL-nondeterministic until re-run) and the same seed again
// (FAIL-reproducible); along the way it reads the plan, the checker's
// artifact and the findings as resources.
func (s *sdkSession) session() {
	t := s.t
	s.design()

	// The plan is a resource, listed since it was created, and reads back
	// as the file falsify wrote.
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	planURI := "falsify://plans/" + planSlug
	listed := false
	for r, err := range s.cs.Resources(ctx, nil) {
		if err != nil {
			t.Fatalf("resources/list: %v", err)
		}
		listed = listed || r.URI == planURI
	}
	if !listed {
		t.Errorf("resources/list does not list %s", planURI)
	}
	var templates []string
	for rt, err := range s.cs.ResourceTemplates(ctx, nil) {
		if err != nil {
			t.Fatalf("resources/templates/list: %v", err)
		}
		templates = append(templates, rt.URITemplate)
	}
	for _, want := range []string{"falsify://plans/{slug}", "falsify://sessions/{+path}"} {
		if !slices.Contains(templates, want) {
			t.Errorf("resource templates %v lack %s", templates, want)
		}
	}
	if c := s.read(planURI); c.MIMEType != "text/markdown" || c.Text != s.wsFile(planFile) || !strings.HasPrefix(c.Text, "# Test Plan: kvr-replication\n") {
		t.Errorf("%s: mime %q, %d bytes; want the plan file as text/markdown", planURI, c.MIMEType, len(c.Text))
	}

	// Execute.
	var ss sessionResult
	res := s.ok("start_session", map[string]any{"plan": planSlug}, &ss)
	if !strings.HasPrefix(ss.Session.ID, planSlug+"/") || ss.Session.Dir != "test-sessions/"+ss.Session.ID ||
		ss.Session.Plan != planFile || len(ss.Session.PlanSHA256) != 64 || ss.Log != ss.Session.Dir+"/session-log.md" {
		t.Fatalf("start_session: %+v", ss)
	}
	if !slices.Contains(links(res), sessionURI(ss.Log)) {
		t.Errorf("start_session links %v, want %s", links(res), sessionURI(ss.Log))
	}
	sessionID := ss.Session.ID

	// R1: a linearizable history → ok → PASS-smoke.
	r1 := s.startRun(sessionID, "1", nil)
	s.record(r1, registerHistory(false), 7, "")
	c1, _ := s.check(r1, "ok")
	if len(c1.Anomalies) != 0 {
		t.Errorf("R1: anomalies in a linearizable history: %+v", c1.Anomalies)
	}
	v := s.verdict(sessionID, nil)
	if v.Verdict != "PASS-smoke" || v.Decision.TierMet != "smoke" || len(v.Decision.Blockers) == 0 {
		t.Errorf("R1 verdict %s (tier met %q, blockers %v), want PASS-smoke below hardening; path %v; reasons %v",
			v.Verdict, v.Decision.TierMet, v.Decision.Blockers, v.Decision.Path, v.Decision.Reasons)
	}

	// R2: the stale read → violation → FAIL-nondeterministic (no same-seed
	// re-run yet). A bad row in the batch is rejected, the rest kept.
	r2 := s.startRun(sessionID, "2", nil)
	bad := map[string]any{"op_id": "o8", "process_id": "p5", "op_type": "read", "key": "k",
		"invoke_ts": int64(40_000_000_000), "timeout_marker": true, "output": 3, "node_seen": "n1"}
	s.record(r2, append(registerHistory(true), bad), 7, "output")
	c2, res := s.check(r2, "violation")
	if len(c2.Anomalies) != 1 || c2.Anomalies[0].Kind != "nonlinearizable" || !slices.Contains(c2.Anomalies[0].OpIDs, "o7") {
		t.Errorf("R2: anomalies %+v, want one nonlinearizable anomaly naming the stale read o7", c2.Anomalies)
	}
	s.artifacts(c2, res)
	finding := map[string]any{
		"reproducer": "seed 2, no faults: read o6 sees 3, then read o7 sees 2",
		"reduction":  "not reduced: 7 ops",
		"severity":   "high",
	}
	v = s.verdict(sessionID, finding)
	if v.Verdict != "FAIL-nondeterministic" || !anyContains(v.Decision.Blockers, "same seed") {
		t.Errorf("R2 verdict %s, blockers %v: want FAIL-nondeterministic asking for a same-seed re-run; path %v",
			v.Verdict, v.Decision.Blockers, v.Decision.Path)
	}

	// R3: the same seed again, the same stale read → FAIL-reproducible.
	r3 := s.startRun(sessionID, "2", []string{r2})
	s.record(r3, registerHistory(true), 7, "")
	s.check(r3, "violation")
	v = s.verdict(sessionID, finding)
	if v.Verdict != "FAIL-reproducible" {
		t.Errorf("R3 verdict %s, want FAIL-reproducible; path %v; reasons %v", v.Verdict, v.Decision.Path, v.Decision.Reasons)
	}

	// Reduce the failing run: the stale read needs its write and itself.
	var red struct {
		Record     string `json:"record"`
		From       int    `json:"from"`
		To         int    `json:"to"`
		Reproduced bool   `json:"reproduced"`
		History    string `json:"history"`
	}
	s.ok("reduce_history", map[string]any{"run": r3, "checker": "linearizability"}, &red)
	if !red.Reproduced || red.To == 0 || red.To >= red.From || !strings.Contains(red.Record, "reduced from") {
		t.Errorf("reduce_history: %+v", red)
	}

	// Finish: the session verdict is FAIL (a FAIL with a reproducer), and
	// the report names it.
	var fin struct {
		Verdict string `json:"verdict"`
		Report  string `json:"report"`
		JUnit   string `json:"junit"`
	}
	s.ok("finish_session", map[string]any{"session": sessionID, "notes": "e2e over the go-sdk"}, &fin)
	if fin.Verdict != "FAIL" {
		t.Errorf("finish_session verdict %q, want FAIL", fin.Verdict)
	}
	if report := s.wsFile(fin.Report); !strings.Contains(report, "FAIL-reproducible") {
		t.Errorf("report %s does not name the FAIL:\n%s", fin.Report, report)
	}
	if junit := s.wsFile(fin.JUnit); !strings.Contains(junit, "<failure") {
		t.Errorf("junit %s has no failure:\n%s", fin.JUnit, junit)
	}
}

// startRun starts a smoke run of S1 with seed and checks that it links the
// earlier runs with the same seed.
func (s *sdkSession) startRun(sessionID, seed string, sameSeed []string) string {
	t := s.t
	t.Helper()
	var sr runResult
	s.ok("start_run", map[string]any{"session": sessionID, "scenario": "S1", "seed": seed, "tier": "smoke"}, &sr)
	r := sr.Run
	if !strings.HasPrefix(r.ID, sessionID+"/R") || r.Session != sessionID || r.Scenario != "S1" || r.Seed != seed ||
		r.Tier != "smoke" || r.Model != "register" || r.Checker != "linearizability" || !r.Serious {
		t.Fatalf("start_run seed %s: %+v", seed, r)
	}
	if !slices.Equal(r.SameSeed, sameSeed) && !(len(r.SameSeed) == 0 && len(sameSeed) == 0) {
		t.Errorf("start_run seed %s: same_seed %v, want %v", seed, r.SameSeed, sameSeed)
	}
	if !strings.HasPrefix(r.Dir, "test-sessions/"+sessionID+"/") {
		t.Errorf("start_run seed %s: dir %q is not in the session", seed, r.Dir)
	}
	s.runDir[r.ID] = r.Dir
	return r.ID
}

// record sends ops and expects accepted rows and, when rejectedField is
// not empty, exactly one row rejected for that field.
func (s *sdkSession) record(run string, ops []map[string]any, accepted int, rejectedField string) {
	t := s.t
	t.Helper()
	var rec recordResult
	s.ok("record_op", map[string]any{"run": run, "ops": ops}, &rec)
	if rec.Accepted != accepted {
		t.Errorf("record_op %s: accepted %d, want %d (rejected %+v)", run, rec.Accepted, accepted, rec.Rejected)
	}
	switch {
	case rejectedField == "" && len(rec.Rejected) != 0:
		t.Errorf("record_op %s: rejected %+v", run, rec.Rejected)
	case rejectedField != "" && (len(rec.Rejected) != 1 || rec.Rejected[0].Field != rejectedField || rec.Rejected[0].Reason == ""):
		t.Errorf("record_op %s: rejected %+v, want one row rejected for %q", run, rec.Rejected, rejectedField)
	}
}

// check runs linearizability on run with a progress token and expects
// status over all 7 ops of one register, with an evidence sentence and
// progress notifications for the token.
func (s *sdkSession) check(run, status string) (checkResult, *mcp.CallToolResult) {
	t := s.t
	t.Helper()
	token := "check-" + run
	res := s.call("run_checker", map[string]any{"run": run, "checker": "linearizability"}, token)
	var c checkResult
	s.decode("run_checker", res, &c)
	if c.Status != status || c.Checker != "linearizability" || c.Model != "register" ||
		c.OpsTotal != 7 || c.OpsConsumed != 7 || c.Keys != 1 || len(c.Missing) != 0 {
		t.Errorf("run_checker %s: %+v, want %s over 7 ops of 1 key", run, c, status)
	}
	// The evidence sentence quotes what was checked.
	if !strings.Contains(c.Evidence, "7 ops") {
		t.Errorf("run_checker %s: evidence %q", run, c.Evidence)
	}
	s.waitProgress(token)
	return c, res
}

// waitProgress waits for a progress notification carrying token: over
// stdio and streamable HTTP alike it may be handled just after the
// response.
func (s *sdkSession) waitProgress(token string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		for _, p := range s.progress {
			if p.ProgressToken == token {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			s.t.Errorf("no progress notification for token %q within 30s", token)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// artifacts checks a violation's artifacts: each is linked from the result
// and reads back, as a resource, as the file in the session directory.
func (s *sdkSession) artifacts(c checkResult, res *mcp.CallToolResult) {
	t := s.t
	t.Helper()
	if len(c.Artifacts) == 0 {
		t.Fatal("violation without artifacts")
	}
	got := links(res)
	for _, a := range c.Artifacts {
		uri := sessionURI(a)
		if !strings.HasPrefix(a, "test-sessions/") || !slices.Contains(got, uri) {
			t.Errorf("artifact %s: links %v, want %s", a, got, uri)
			continue
		}
		content := s.read(uri)
		if content.Text == "" || content.Text != s.wsFile(a) || content.MIMEType == "" {
			t.Errorf("resource %s: mime %q, %d bytes, want the text of %s", uri, content.MIMEType, len(content.Text), a)
		}
	}
}

// verdict assigns S1's verdict and checks what every verdict carries: a
// rule path, reasons, and a findings file linked and readable as a
// resource that states the verdict.
func (s *sdkSession) verdict(sessionID string, finding map[string]any) verdictResult {
	t := s.t
	t.Helper()
	args := map[string]any{"session": sessionID, "scenario": "S1"}
	if finding != nil {
		args["finding"] = finding
	}
	var v verdictResult
	res := s.ok("assign_verdict", args, &v)
	if v.Decision.Verdict != v.Verdict || v.Decision.Scenario != "S1" || len(v.Decision.Path) == 0 || len(v.Decision.Reasons) == 0 {
		t.Errorf("assign_verdict: decision %+v for verdict %s, want the rule path and reasons", v.Decision, v.Verdict)
	}
	uri := sessionURI(v.Findings)
	if !strings.HasPrefix(v.Findings, "test-sessions/"+sessionID+"/findings/") || !slices.Contains(links(res), uri) {
		t.Errorf("assign_verdict: findings %s, links %v", v.Findings, links(res))
		return v
	}
	if c := s.read(uri); c.MIMEType != "text/markdown" || !strings.Contains(c.Text, v.Verdict) {
		t.Errorf("findings %s (%s) does not state %s", uri, c.MIMEType, v.Verdict)
	}
	return v
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// recordingTransport keeps the raw results of the responses it reads,
// by method, so that a test can check what crossed the wire rather than
// what the SDK decoded. Only for transports whose connections need no
// session updates from the client (stdio).
type recordingTransport struct {
	mcp.Transport
	log *wireLog
}

func (t *recordingTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Connection: c, log: t.log}, nil
}

// wireLog maps request ids to methods and keeps each method's last raw
// result.
type wireLog struct {
	mu      sync.Mutex
	methods map[string]string
	results map[string]json.RawMessage
}

func (w *wireLog) result(method string) json.RawMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.results[method]
}

type recordingConn struct {
	mcp.Connection
	log *wireLog
}

func (c *recordingConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if req, ok := msg.(*jsonrpc.Request); ok && req.ID.IsValid() {
		c.log.mu.Lock()
		if c.log.methods == nil {
			c.log.methods = map[string]string{}
		}
		c.log.methods[fmt.Sprint(req.ID.Raw())] = req.Method
		c.log.mu.Unlock()
	}
	return c.Connection.Write(ctx, msg)
}

func (c *recordingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if resp, ok := msg.(*jsonrpc.Response); ok && err == nil {
		c.log.mu.Lock()
		if method, ok := c.log.methods[fmt.Sprint(resp.ID.Raw())]; ok {
			if c.log.results == nil {
				c.log.results = map[string]json.RawMessage{}
			}
			c.log.results[method] = append(json.RawMessage(nil), resp.Result...)
		}
		c.log.mu.Unlock()
	}
	return msg, err
}

// faultResult is inject_fault's, measure_fault's and heal_fault's result.
type faultResult struct {
	Epoch  string `json:"epoch"`
	Landed bool   `json:"landed"`
	Healed bool   `json:"healed"`
	Fault  struct {
		ID       string `json:"id"`
		Kind     string `json:"kind"`
		Start    int64  `json:"start"`
		End      *int64 `json:"end"`
		Evidence string `json:"evidence"`
		Before   *struct {
			Matches *int `json:"matches"`
		} `json:"before"`
		After *struct {
			Matches *int `json:"matches"`
		} `json:"after"`
	} `json:"fault"`
}

// TestGoSDKExternalFault drives the fault tools through the Go SDK over
// stdio: an external kill declared with a file probe does not land until
// the kill shows in the file (measure_fault), heal_fault measures the
// restart, falsify stamps the ops inside the window with the epoch, and
// the checked run's verdict counts the landed fault.
func TestGoSDKExternalFault(t *testing.T) {
	bin := falsify(t)
	ws := t.TempDir()
	stderr := new(lockedBuffer)
	cmd := exec.Command(bin, "serve", "--root", ws)
	cmd.Stderr = stderr
	s := connect(t, &mcp.CommandTransport{Command: cmd, TerminateDuration: 30 * time.Second}, "", ws, stderr)
	t.Cleanup(func() {
		if err := s.cs.Close(); err != nil {
			t.Errorf("falsify serve (stdio) did not exit cleanly on EOF: %v\n%s", err, stderr)
		}
	})
	s.design()
	var ss sessionResult
	s.ok("start_session", map[string]any{"plan": planSlug}, &ss)
	run := s.startRun(ss.Session.ID, "7", nil)

	// The node's event log, which the probe counts "killed" lines in.
	events := filepath.Join(ws, "state", "events.log")
	writeEvents := func(line string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(events), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(events, []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeEvents("node n1 started")
	var f faultResult
	s.ok("inject_fault", map[string]any{
		"run": run, "kind": "external", "fault": "kill", "targets": []string{"n1"},
		"description": "SIGKILL the primary n1",
		"probe":       map[string]any{"file": "state/events.log", "pattern": "killed", "expect": "increases"},
	}, &f)
	if f.Epoch != "F1" || f.Landed || f.Fault.Before == nil || f.Fault.Before.Matches == nil || *f.Fault.Before.Matches != 0 {
		t.Fatalf("inject_fault before the kill: %+v; want epoch F1, not landed, 0 matches before", f)
	}
	writeEvents("node n1 killed")
	s.ok("measure_fault", map[string]any{"run": run, "epoch": "F1"}, &f)
	if !f.Landed || f.Fault.After == nil || f.Fault.After.Matches == nil || *f.Fault.After.Matches != 1 || f.Fault.Evidence == "" {
		t.Fatalf("measure_fault after the kill: %+v; want landed with 1 match after and evidence", f)
	}
	writeEvents("node n1 restarted")
	s.ok("heal_fault", map[string]any{"run": run, "epoch": "F1"}, &f)
	if !f.Healed || f.Fault.End == nil || *f.Fault.End < f.Fault.Start {
		t.Fatalf("heal_fault: %+v; want healed with the window closed", f)
	}

	// The history on the fault's clock: 60 s of ops before the kill and
	// the last read inside the fault window; fault_epoch left out.
	ops := registerHistory(false)
	shift := f.Fault.Start - ops[6]["invoke_ts"].(int64)
	for _, op := range ops {
		op["invoke_ts"] = op["invoke_ts"].(int64) + shift
		if c, ok := op["complete_ts"].(int64); ok {
			op["complete_ts"] = c + shift
		}
	}
	ops[6]["complete_ts"] = *f.Fault.End
	s.record(run, ops, 7, "")

	// The recorded history, read as a resource: falsify filled
	// fault_epoch from its ledger for the ops that overlap the window (the
	// last read, and the write that never returned) and for no other.
	uri := sessionURI(s.runDir[run] + "/history.jsonl")
	recorded := s.read(uri).Text
	epochs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(recorded), "\n") {
		var op struct {
			OpID       string  `json:"op_id"`
			FaultEpoch *string `json:"fault_epoch"`
		}
		if err := json.Unmarshal([]byte(line), &op); err != nil {
			t.Fatalf("%s: %v: %s", uri, err, line)
		}
		if op.FaultEpoch != nil {
			epochs[op.OpID] = *op.FaultEpoch
		}
	}
	if want := map[string]string{"o5": "F1", "o7": "F1"}; !reflect.DeepEqual(epochs, want) {
		t.Errorf("fault epochs in %s: %v, want %v", uri, epochs, want)
	}

	c, _ := s.check(run, "ok")
	if len(c.Anomalies) != 0 {
		t.Errorf("anomalies in a linearizable history: %+v", c.Anomalies)
	}
	// The landed fault takes the run to the PASS-hardening node; one run
	// of 61 s with one fault is capped at PASS-smoke by the hardening
	// budget (10 m, 6 faults, 5 seeds), and the reasons say so.
	v := s.verdict(ss.Session.ID, nil)
	if v.Verdict != "PASS-smoke" || !anyContains(v.Decision.Path, "fault-landing: proven") ||
		!anyContains(v.Decision.Reasons, "landed 1 fault") {
		t.Errorf("verdict %s; path %v; reasons %v: want PASS-smoke with the landed fault counted and the hardening budget unmet",
			v.Verdict, v.Decision.Path, v.Decision.Reasons)
	}
}

// TestGoSDKCancel cancels, from the Go SDK, a linearizability check that
// would search for its whole 120 s budget, over stdio and streamable HTTP
// in several protocol versions: the server must stop the search (its log
// shows the run_checker call ending within 60 s) and keep serving the run.
func TestGoSDKCancel(t *testing.T) {
	bin := falsify(t)
	for _, tc := range []struct{ transport, version string }{
		{"stdio", ""}, {"stdio", "2025-06-18"}, {"http", ""}, {"http", "2025-11-25"}, {"http", "2025-06-18"},
	} {
		transport, version := tc.transport, tc.version
		t.Run(transport+"/"+versionName(version), func(t *testing.T) {
			ws := t.TempDir()
			var s *sdkSession
			var srv *httpServer
			switch transport {
			case "stdio":
				stderr := new(lockedBuffer)
				cmd := exec.Command(bin, "serve", "--root", ws)
				cmd.Stderr = stderr
				s = connect(t, &mcp.CommandTransport{Command: cmd, TerminateDuration: 30 * time.Second}, version, ws, stderr)
			case "http":
				srv = startHTTP(t, ws)
				s = connect(t, &mcp.StreamableClientTransport{Endpoint: srv.URL}, version, ws, srv.stderr)
			}
			t.Cleanup(func() { s.cs.Close() })
			s.design()
			var ss sessionResult
			s.ok("start_session", map[string]any{"plan": planSlug}, &ss)
			run := s.startRun(ss.Session.ID, "5", nil)

			// 24 concurrent writes of distinct values, 24 concurrent reads
			// of distinct values, then a read of a value never written:
			// not linearizable, and the search covers every interleaving.
			const n = 24
			t0 := time.Now().UnixNano()
			var ops []map[string]any
			for i := 0; i < n; i++ {
				ops = append(ops,
					map[string]any{"op_id": fmt.Sprintf("w%d", i), "process_id": fmt.Sprintf("pw%d", i), "invoke_ts": t0 + int64(i), "complete_ts": t0 + 10_000 + int64(i), "op_type": "write", "key": "k", "input": i + 1},
					map[string]any{"op_id": fmt.Sprintf("r%d", i), "process_id": fmt.Sprintf("pr%d", i), "invoke_ts": t0 + int64(i), "complete_ts": t0 + 10_000 + int64(i), "op_type": "read", "key": "k", "output": n - i},
				)
			}
			ops = append(ops, map[string]any{"op_id": "last", "process_id": "pz", "invoke_ts": t0 + 20_000, "complete_ts": t0 + 20_001, "op_type": "read", "key": "k", "output": 999})
			s.record(run, ops, len(ops), "")

			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			// The search budget (120 s) is far beyond the wait below: only
			// the cancellation can end the call in time.
			res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_checker", Arguments: map[string]any{
				"run": run, "checker": "linearizability", "options": map[string]any{"timeout": 120},
			}})
			if err == nil && !res.IsError {
				var c checkResult
				s.decode("run_checker", res, &c)
				if c.Status == "ok" {
					t.Fatalf("a non-linearizable history checked ok: %+v", c)
				}
			}
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(s.stderr.String(), `"tool":"run_checker"`) {
				if time.Now().After(deadline) {
					t.Fatalf("run_checker still running 60s after the client cancelled it:\n%s", s.stderr)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// The server still serves, and the run still takes ops.
			after := []map[string]any{{"op_id": "after", "process_id": "pa", "invoke_ts": t0 + 30_000, "complete_ts": t0 + 30_001, "op_type": "read", "key": "k", "output": 1}}
			ctx2, cancel2 := context.WithTimeout(context.Background(), runTimeout)
			defer cancel2()
			res, err = s.cs.CallTool(ctx2, &mcp.CallToolParams{Name: "record_op", Arguments: map[string]any{"run": run, "ops": after}})
			if err != nil {
				t.Fatalf("record_op after the cancelled check: %v\n%s", err, s.stderr)
			}
			var rec recordResult
			s.decode("record_op", res, &rec)
			if rec.Accepted != 1 {
				t.Errorf("record_op after the cancelled check: %+v", rec)
			}
		})
	}
}
