package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
	"github.com/falsify-dev/falsify/tools"
)

const testToken = "s3cret-token-0123456789abcdef"

// serveWith starts falsify over HTTP (streamable or SSE) with o on a free
// loopback port unless o.Addr is set, and returns its address. The server
// stops when the test ends.
func serveWith(t *testing.T, root string, sse bool, o server.HTTPOptions) string {
	t.Helper()
	s := newServer(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	o.Log = zerolog.Nop()
	o.Ready = func(a net.Addr) { addrc <- a }
	serve := server.ServeHTTPWith
	if sse {
		serve = server.ServeSSEWith
	}
	go func() { done <- serve(ctx, s, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	select {
	case a := <-addrc:
		_, port, _ := net.SplitHostPort(a.String())
		return "127.0.0.1:" + port
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

// initBody is an MCP initialize request.
const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`

// post sends body to url with headers and returns the status, the
// headers and the body of the answer.
func post(t *testing.T, url, host string, headers map[string]string, body io.Reader, length int64) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, res.Header, string(raw)
}

// TestHTTPGuard sends raw requests to a token-protected streamable-HTTP
// server and checks each protection's answer.
func TestHTTPGuard(t *testing.T) {
	addr := serveWith(t, t.TempDir(), false, server.HTTPOptions{
		Token:          testToken,
		AllowedHosts:   []string{"falsify.internal"},
		AllowedOrigins: []string{"https://console.example.com"},
		MaxBody:        4096,
	})
	url := "http://" + addr + server.HTTPPath
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range auth {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"record_op","arguments":{"run":"x","ops":[` +
		strings.Repeat(`{"op_id":"o","op_type":"read"},`, 200) + `{"op_id":"z","op_type":"read"}]}}}`
	for _, tc := range []struct {
		name    string
		host    string
		headers map[string]string
		body    string
		chunked bool
		status  int
		want    []string // in the body
	}{
		{"no token", "", nil, initBody, false, http.StatusUnauthorized, []string{"Authorization: Bearer"}},
		{"wrong token", "", map[string]string{"Authorization": "Bearer " + testToken + "x"}, initBody, false, http.StatusUnauthorized, nil},
		{"token prefix", "", map[string]string{"Authorization": "Bearer " + testToken[:10]}, initBody, false, http.StatusUnauthorized, nil},
		{"basic scheme", "", map[string]string{"Authorization": "Basic " + testToken}, initBody, false, http.StatusUnauthorized, nil},
		{"token", "", auth, initBody, false, http.StatusOK, []string{`"serverInfo"`, `"falsify"`}},
		{"bearer lower case", "", map[string]string{"Authorization": "bearer " + testToken}, initBody, false, http.StatusOK, []string{`"falsify"`}},
		{"localhost host", "localhost:9", auth, initBody, false, http.StatusOK, nil},
		{"allowed host", "falsify.internal:8080", auth, initBody, false, http.StatusOK, nil},
		{"rebinding host", "evil.example.com:8080", auth, initBody, false, http.StatusForbidden, []string{"evil.example.com", "--allowed-host"}},
		{"rebinding host without token", "evil.example.com", nil, initBody, false, http.StatusForbidden, nil},
		{"foreign origin", "", with(map[string]string{"Origin": "http://evil.example.com"}), initBody, false, http.StatusForbidden, []string{"Origin", "--allowed-origin"}},
		{"null origin", "", with(map[string]string{"Origin": "null"}), initBody, false, http.StatusForbidden, nil},
		{"loopback origin", "", with(map[string]string{"Origin": "http://localhost:6274"}), initBody, false, http.StatusOK, nil},
		{"listed origin", "", with(map[string]string{"Origin": "https://console.example.com"}), initBody, false, http.StatusOK, nil},
		{"origin on allowed host", "", with(map[string]string{"Origin": "https://falsify.internal"}), initBody, false, http.StatusOK, nil},
		{"body over limit", "", auth, big, false, http.StatusRequestEntityTooLarge, []string{"4 KiB", "--max-body", "split the batch", `"code":-32600`}},
		{"chunked body over limit", "", auth, big, true, http.StatusRequestEntityTooLarge, []string{"4 KiB", "--max-body", "split the batch"}},
		{"json-rpc batch", "", auth, "[" + initBody + "," + initBody + "]", false, http.StatusBadRequest, []string{"batch", "one JSON-RPC message per request", fmt.Sprint(tools.MaxRecordOps)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			length := int64(len(tc.body))
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				length = -1
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			status, hdr, got := post(t, url, tc.host, tc.headers, body, length)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer lacks %q: %s", w, got)
				}
			}
			if status == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer WWW-Authenticate header: %v", hdr)
			}
			if status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest {
				var rpc struct {
					JSONRPC string `json:"jsonrpc"`
					Error   struct {
						Code    int    `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(got), &rpc); err != nil || rpc.JSONRPC != "2.0" || rpc.Error.Message == "" {
					t.Errorf("not a JSON-RPC error (%v): %s", err, got)
				}
			}
		})
	}
}

// TestHTTPGuardClients drives the guarded transports with mcp-go's own
// clients: with the token they work, without it they are refused.
func TestHTTPGuardClients(t *testing.T) {
	for _, sse := range []bool{false, true} {
		name := "streamable-http"
		if sse {
			name = "sse"
		}
		t.Run(name, func(t *testing.T) {
			addr := serveWith(t, t.TempDir(), sse, server.HTTPOptions{Token: testToken})
			dial := func(headers map[string]string) (*client.Client, error) {
				if sse {
					return client.NewSSEMCPClient("http://"+addr+"/sse", transport.WithHeaders(headers))
				}
				return client.NewStreamableHttpClient("http://"+addr+server.HTTPPath, transport.WithHTTPHeaders(headers))
			}
			c, err := dial(map[string]string{"Authorization": "Bearer " + testToken})
			if err != nil {
				t.Fatal(err)
			}
			start(t, c)
			list, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil || len(list.Tools) < 3 {
				t.Fatalf("list tools with the token: %v", err)
			}

			bad, err := dial(map[string]string{"Authorization": "Bearer wrong-token-0123456789"})
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = bad.Start(ctx)
			if err == nil {
				var init mcp.InitializeRequest
				init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
				_, err = bad.Initialize(ctx, init)
			}
			if err == nil {
				t.Fatal("a client with the wrong token initialised")
			}
		})
	}
}

// TestNonLoopbackNeedsToken checks that the HTTP transports refuse a
// non-loopback bind without a token (or with a weak one), and that with a
// token the bound host is an allowed Host while other names are not.
func TestNonLoopbackNeedsToken(t *testing.T) {
	s := newServer(t, t.TempDir())
	for _, tc := range []struct {
		addr, token string
		want        []string
	}{
		{"0.0.0.0:0", "", []string{"without a bearer token", "--token", server.TokenEnv}},
		{"[::]:0", "", []string{"without a bearer token"}},
		{"192.0.2.1:0", "", []string{"without a bearer token"}},
		{"0.0.0.0:0", "short", []string{"shorter than 16"}},
		{"127.0.0.1:0", "short", []string{"shorter than 16"}},
	} {
		for _, serve := range []func(context.Context, *mcpserver.MCPServer, server.HTTPOptions) error{server.ServeHTTPWith, server.ServeSSEWith} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			started := false
			err := serve(ctx, s, server.HTTPOptions{Addr: tc.addr, Token: tc.token, Log: zerolog.Nop(), Ready: func(net.Addr) { started = true }})
			cancel()
			if err == nil || started {
				t.Errorf("serve %s token %q started (err %v)", tc.addr, tc.token, err)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("serve %s: error %q lacks %q", tc.addr, err, w)
				}
			}
		}
	}

	// With a token, binding every interface works; the loopback and
	// allowed names pass the Host check, other names do not.
	addr := serveWith(t, t.TempDir(), false, server.HTTPOptions{Addr: "0.0.0.0:0", Token: testToken, AllowedHosts: []string{"ci-runner"}})
	url := "http://" + addr + server.HTTPPath
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	for host, want := range map[string]int{
		"":                   http.StatusOK,
		"ci-runner:1234":     http.StatusOK,
		"CI-RUNNER.":         http.StatusOK,
		"0.0.0.0":            http.StatusForbidden,
		"attacker.example":   http.StatusForbidden,
		"ci-runner.attacker": http.StatusForbidden,
	} {
		if status, _, body := post(t, url, host, auth, strings.NewReader(initBody), int64(len(initBody))); status != want {
			t.Errorf("Host %q: status %d, want %d: %s", host, status, want, body)
		}
	}
}

// kvWorkspace returns a workspace holding the kvstore plan as
// testing-plans/kvr-replication.md.
func kvWorkspace(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "plan", "testdata", "kvstore.md"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "testing-plans", "kvr-replication.md"), string(src))
	return root
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// modeClient returns an in-process client on a server built with opts
// (Workspace and Log are filled in).
func modeClient(t *testing.T, root string, opts server.Options) (*client.Client, *mcp.InitializeResult) {
	t.Helper()
	ws, err := session.OpenWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	opts.Workspace, opts.Log, opts.Version = ws, zerolog.Nop(), "test"
	opts.Sessions = session.NewManager(ws)
	t.Cleanup(func() { opts.Sessions.Close() })
	s, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	return c, start(t, c)
}

// callTool calls a tool; a protocol error fails the test.
func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	return res
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

// okTool calls a tool that must succeed and decodes its structured result.
func okTool(t *testing.T, c *client.Client, name string, args map[string]any, v any) {
	t.Helper()
	res := callTool(t, c, name, args)
	if res.IsError {
		t.Fatalf("%s: %s", name, resultText(res))
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// startRun starts a session and a run of S1 on the kvstore plan.
func startRun(t *testing.T, c *client.Client) (sessionID, runID string) {
	t.Helper()
	var ss tools.StartSessionResult
	okTool(t, c, "start_session", map[string]any{"plan": "kvr-replication"}, &ss)
	var sr tools.StartRunResult
	okTool(t, c, "start_run", map[string]any{"session": ss.Session.ID, "scenario": "S1", "seed": "1", "tier": "smoke"}, &sr)
	return ss.Session.ID, sr.Run.ID
}

// tree lists the files under root with their contents.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = string(raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestReadOnlyMode checks that --read-only refuses every writing tool
// with an isError saying so and leaves the workspace untouched, while the
// read-only tools, heal_fault and the resources still work.
func TestReadOnlyMode(t *testing.T) {
	root := kvWorkspace(t)
	// A session recorded earlier by a writable server.
	w, _ := modeClient(t, root, server.Options{})
	_, runID := startRun(t, w)
	before := tree(t, root)

	c, init := modeClient(t, root, server.Options{ReadOnly: true})
	if !strings.Contains(init.Instructions, "READ-ONLY") {
		t.Errorf("instructions do not say the server is read-only: %.200s", init.Instructions)
	}
	list, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]mcp.Tool{}
	for _, tool := range list.Tools {
		listed[tool.Name] = tool
	}
	op := map[string]any{"op_id": "o1", "op_type": "read", "invoke_ts": 1, "complete_ts": 2}
	probe := map[string]any{"command": []string{"echo", "1"}, "expect": "increases"}
	refused := map[string]map[string]any{
		"write_plan_section": {"plan": "kvr-replication", "section": "9", "content": "## 9. Open questions / followups\n\n- none\n"},
		"start_session":      {"plan": "kvr-replication"},
		"start_run":          {"session": "kvr-replication/20260101T000000Z", "scenario": "S1", "seed": "1", "tier": "smoke"},
		"record_op":          {"run": runID, "ops": []any{op}},
		"import_history":     {"run": runID, "path": "h.jsonl"},
		"record_state":       {"run": runID, "kind": "final-state", "name": "n1", "data": map[string]any{"k": 1}},
		"inject_fault":       {"run": runID, "kind": "external", "fault": "kill", "probe": probe},
		"measure_fault":      {"run": runID, "epoch": "F1"},
		"run_checker":        {"run": runID, "checker": "linearizable"},
		"assign_verdict":     {"session": "x", "scenario": "S1"},
	}
	for name, args := range refused {
		tool, ok := listed[name]
		if !ok {
			t.Errorf("%s is not listed", name)
			continue
		}
		if !strings.Contains(tool.Description, "read-only") {
			t.Errorf("%s: description does not say it is refused: %.120s", name, tool.Description)
		}
		res := callTool(t, c, name, args)
		if !res.IsError || !strings.Contains(resultText(res), "read-only") {
			t.Errorf("%s on a read-only server: isError=%v %s", name, res.IsError, resultText(res))
		}
	}
	// Every tool that may write, including ones added later, is marked.
	for name, tool := range listed {
		ro := tool.Annotations.ReadOnlyHint != nil && *tool.Annotations.ReadOnlyHint
		marked := strings.HasPrefix(tool.Description, "REFUSED")
		if marked == (ro || strings.HasPrefix(name, "heal_")) {
			t.Errorf("%s (readOnlyHint %v): refused marker %v", name, ro, marked)
		}
	}
	var lint tools.LintPlanResult
	okTool(t, c, "lint_plan", map[string]any{"plan": "kvr-replication"}, &lint)
	if lint.Path != "testing-plans/kvr-replication.md" {
		t.Errorf("lint_plan on a read-only server: %+v", lint)
	}
	var claims tools.ExtractClaimsResult
	okTool(t, c, "extract_claims", map[string]any{}, &claims)
	// heal_fault is not refused: it fails on the unknown epoch instead.
	if res := callTool(t, c, "heal_fault", map[string]any{"run": runID, "epoch": "F9"}); strings.Contains(resultText(res), "read-only") {
		t.Errorf("heal_fault refused on a read-only server: %s", resultText(res))
	}
	var req mcp.ReadResourceRequest
	req.Params.URI = server.PlanURI("kvr-replication")
	if _, err := c.ReadResource(context.Background(), req); err != nil {
		t.Errorf("plan resource on a read-only server: %v", err)
	}
	if after := tree(t, root); !sameTree(before, after) {
		t.Errorf("the read-only server changed the workspace: %d files before, %d after", len(before), len(after))
	}
}

// TestNoFaultsMode checks that --no-faults refuses fault injection only.
func TestNoFaultsMode(t *testing.T) {
	root := kvWorkspace(t)
	c, init := modeClient(t, root, server.Options{NoFaults: true})
	if !strings.Contains(init.Instructions, "--no-faults") {
		t.Errorf("instructions do not say faults are disabled")
	}
	_, runID := startRun(t, c)
	probe := map[string]any{"command": []string{"echo", "1"}, "expect": "increases"}
	res := callTool(t, c, "inject_fault", map[string]any{"run": runID, "kind": "external", "fault": "kill", "probe": probe})
	if !res.IsError || !strings.Contains(resultText(res), "--no-faults") {
		t.Errorf("inject_fault with --no-faults: isError=%v %s", res.IsError, resultText(res))
	}
	if res := callTool(t, c, "heal_fault", map[string]any{"run": runID, "epoch": "F1"}); strings.Contains(resultText(res), "--no-faults") {
		t.Errorf("heal_fault refused with --no-faults: %s", resultText(res))
	}
	var rec tools.RecordOpResult
	okTool(t, c, "record_op", map[string]any{"run": runID, "ops": []any{map[string]any{"op_id": "o1", "op_type": "read", "invoke_ts": 1, "complete_ts": 2, "key": "k", "output": 0}}}, &rec)
	if rec.Accepted != 1 {
		t.Errorf("record_op with --no-faults: %+v", rec)
	}
}

// TestRecordOpBatchLimit checks that a record_op batch over MaxRecordOps
// is refused whole, naming ops and the limit, and records nothing.
func TestRecordOpBatchLimit(t *testing.T) {
	c, _ := modeClient(t, kvWorkspace(t), server.Options{})
	_, runID := startRun(t, c)
	batch := func(n int) []any {
		ops := make([]any, n)
		for i := range ops {
			ops[i] = map[string]any{"op_id": fmt.Sprintf("o%d", i), "op_type": "write", "key": "k", "input": i, "invoke_ts": 2 * i, "complete_ts": 2*i + 1}
		}
		return ops
	}
	res := callTool(t, c, "record_op", map[string]any{"run": runID, "ops": batch(tools.MaxRecordOps + 1)})
	msg := resultText(res)
	if !res.IsError || !strings.Contains(msg, `"ops"`) || !strings.Contains(msg, fmt.Sprint(tools.MaxRecordOps)) || !strings.Contains(msg, "split the batch") {
		t.Fatalf("record_op over the limit: isError=%v %s", res.IsError, msg)
	}
	var rec tools.RecordOpResult
	okTool(t, c, "record_op", map[string]any{"run": runID, "ops": batch(tools.MaxRecordOps)}, &rec)
	if rec.Accepted != tools.MaxRecordOps {
		t.Errorf("record_op at the limit accepted %d", rec.Accepted)
	}
}

// TestBodyLimitThroughClient sends a record_op call over the body limit
// through mcp-go's streamable-HTTP client: the error names the limit and
// the fix, and nothing is recorded.
func TestBodyLimitThroughClient(t *testing.T) {
	root := kvWorkspace(t)
	addr := serveWith(t, root, false, server.HTTPOptions{MaxBody: 64 << 10})
	c, err := client.NewStreamableHttpClient("http://" + addr + server.HTTPPath)
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	_, runID := startRun(t, c)
	ops := make([]any, 2000)
	for i := range ops {
		ops[i] = map[string]any{"op_id": fmt.Sprintf("o%d", i), "op_type": "write", "key": "k", "input": i, "invoke_ts": 2 * i, "complete_ts": 2*i + 1}
	}
	var req mcp.CallToolRequest
	req.Params.Name = "record_op"
	req.Params.Arguments = map[string]any{"run": runID, "ops": ops}
	_, err = c.CallTool(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "--max-body") || !strings.Contains(err.Error(), "64 KiB") {
		t.Fatalf("record_op over the body limit: %v", err)
	}
	var rec tools.RecordOpResult
	okTool(t, c, "record_op", map[string]any{"run": runID, "ops": ops[:100]}, &rec)
	if rec.Accepted != 100 {
		t.Errorf("after the refused call: %+v", rec)
	}
}

// TestPathConfinement calls every path-taking tool and resource with
// paths that climb out of the workspace with "..", absolute paths outside
// it and symlinks escaping it: each is refused, nothing outside is read
// into a result or written.
func TestPathConfinement(t *testing.T) {
	root := kvWorkspace(t)
	outside := t.TempDir()
	secret := "# Test Plan: secret\n\nSECRET-CONTENT the system is always available\n"
	writeFile(t, filepath.Join(outside, "secret.md"), secret)
	writeFile(t, filepath.Join(outside, "h.jsonl"), `{"op_id":"x1","op_type":"read","invoke_ts":1,"complete_ts":2,"output":"SECRET-CONTENT"}`+"\n")
	writeFile(t, filepath.Join(outside, "state.json"), `{"SECRET-CONTENT": 1}`)
	writeFile(t, filepath.Join(outside, "repo", "README.md"), "SECRET-CONTENT: writes are durable and always linearizable once acknowledged.\n")
	// Symlinks from inside the workspace to the outside.
	for link, target := range map[string]string{
		"link":                        outside,
		"testing-plans/evil.md":       filepath.Join(outside, "secret.md"),
		"testing-plans/dangling.md":   filepath.Join(outside, "absent.md"),
		"testing-plans/linkdir":       outside,
		"data/h.jsonl":                filepath.Join(outside, "h.jsonl"),
		"data/state.json":             filepath.Join(outside, "state.json"),
		"testing-plans/loop.md":       filepath.Join(root, "testing-plans", "loop.md"),
		"repo-link":                   filepath.Join(outside, "repo"),
		"testing-plans/up.md":         "../../" + filepath.Base(outside) + "/secret.md",
		"testing-plans/relescape.md":  "../link/secret.md",
		"testing-plans/newplan-dir":   outside,
		"test-sessions-link":          outside,
		"testing-plans/absent-target": filepath.Join(outside, "new-dir", "x.md"),
	} {
		p := filepath.Join(root, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := modeClient(t, root, server.Options{})
	_, runID := startRun(t, c)
	outsideBefore := tree(t, outside)

	rel := "../" + filepath.Base(outside)
	content := "## 9. Open questions / followups\n\n- none\n"
	calls := []struct {
		tool  string
		field string
		args  map[string]any
	}{
		{"write_plan_section", "plan", map[string]any{"plan": "../escape", "section": "9", "content": content}},
		{"write_plan_section", "plan", map[string]any{"plan": filepath.Join(outside, "secret"), "section": "9", "content": content}},
		{"write_plan_section", "plan", map[string]any{"plan": "evil", "section": "9", "content": content}},
		{"write_plan_section", "plan", map[string]any{"plan": "dangling", "section": "9", "content": content}},
		{"write_plan_section", "plan", map[string]any{"plan": "up", "section": "9", "content": content}},
		{"write_plan_section", "plan", map[string]any{"plan": "relescape", "section": "9", "content": content}},
		{"lint_plan", "plan", map[string]any{"plan": rel + "/secret.md"}},
		{"lint_plan", "plan", map[string]any{"plan": "../../../../../../../../" + filepath.Join(outside, "secret.md")}},
		{"lint_plan", "plan", map[string]any{"plan": filepath.Join(outside, "secret.md")}},
		{"lint_plan", "plan", map[string]any{"plan": "evil"}},
		{"lint_plan", "plan", map[string]any{"plan": "link/secret.md"}},
		{"lint_plan", "plan", map[string]any{"plan": "testing-plans/linkdir/secret.md"}},
		{"lint_plan", "plan", map[string]any{"plan": "up"}},
		{"start_session", "plan", map[string]any{"plan": "evil"}},
		{"start_session", "plan", map[string]any{"plan": "link/secret.md"}},
		{"start_session", "plan", map[string]any{"plan": filepath.Join(outside, "secret.md")}},
		{"import_history", "path", map[string]any{"run": runID, "path": rel + "/h.jsonl"}},
		{"import_history", "path", map[string]any{"run": runID, "path": filepath.Join(outside, "h.jsonl")}},
		{"import_history", "path", map[string]any{"run": runID, "path": "link/h.jsonl"}},
		{"import_history", "path", map[string]any{"run": runID, "path": "data/h.jsonl"}},
		{"record_state", "path", map[string]any{"run": runID, "kind": "final-state", "name": "n1", "path": rel + "/state.json"}},
		{"record_state", "path", map[string]any{"run": runID, "kind": "final-state", "name": "n2", "path": filepath.Join(outside, "state.json")}},
		{"record_state", "path", map[string]any{"run": runID, "kind": "final-state", "name": "n3", "path": "link/state.json"}},
		{"record_state", "path", map[string]any{"run": runID, "kind": "final-state", "name": "n4", "path": "data/state.json"}},
		{"extract_claims", "root", map[string]any{"root": ".."}},
		{"extract_claims", "root", map[string]any{"root": filepath.Join(outside, "repo")}},
		{"extract_claims", "root", map[string]any{"root": "repo-link"}},
		{"extract_claims", "root", map[string]any{"root": "link/repo"}},
		{"extract_claims", "paths", map[string]any{"paths": []string{"../" + filepath.Base(outside) + "/repo"}}},
		{"extract_claims", "paths", map[string]any{"paths": []string{filepath.Join(outside, "repo")}}},
		{"extract_claims", "paths", map[string]any{"paths": []string{"repo-link/README.md"}}},
		{"inject_fault", "probe", map[string]any{"run": runID, "kind": "external", "fault": "kill", "probe": map[string]any{"file": "link/secret.md", "pattern": "SECRET", "expect": "increases"}}},
	}
	for _, tc := range calls {
		res := callTool(t, c, tc.tool, tc.args)
		msg := resultText(res)
		if tc.tool == "inject_fault" {
			// The probe is read as evidence: a confined read fails, so the
			// fault does not land and the secret is not in the reading.
			if strings.Contains(msg, "SECRET-CONTENT") || strings.Contains(msg, `"landed":true`) {
				t.Errorf("inject_fault with a file probe through a symlink read outside the workspace: %s", msg)
			}
			continue
		}
		if !res.IsError {
			t.Errorf("%s %v: not refused: %.300s", tc.tool, tc.args, msg)
			continue
		}
		if !strings.Contains(msg, tc.field) {
			t.Errorf("%s %v: error does not name %q: %s", tc.tool, tc.args, tc.field, msg)
		}
		if strings.Contains(msg, "SECRET-CONTENT") {
			t.Errorf("%s %v: error leaks outside content: %s", tc.tool, tc.args, msg)
		}
	}

	// A scan of the whole workspace does not follow symlinks out of it.
	var claims tools.ExtractClaimsResult
	okTool(t, c, "extract_claims", map[string]any{}, &claims)
	if raw, _ := json.Marshal(claims); bytes.Contains(raw, []byte("SECRET-CONTENT")) {
		t.Errorf("extract_claims on the workspace read through a symlink: %s", raw)
	}

	for _, uri := range []string{
		"falsify://plans/../../" + filepath.Base(outside) + "/secret",
		"falsify://plans/..%2F..%2Fsecret",
		"falsify://plans/evil",
		"falsify://plans/up",
		"falsify://plans/linkdir/secret",
		"falsify://plans/" + filepath.Join(outside, "secret"),
		"falsify://sessions/../../" + filepath.Base(outside) + "/secret.md",
		"falsify://sessions/" + strings.TrimPrefix(filepath.Join(outside, "secret.md"), "/"),
		"falsify://sessions/../test-sessions-link/secret.md",
		"falsify://sessions/../link/secret.md",
	} {
		var req mcp.ReadResourceRequest
		req.Params.URI = uri
		res, err := c.ReadResource(context.Background(), req)
		if err == nil {
			t.Errorf("read %s succeeded: %+v", uri, res.Contents)
		} else if strings.Contains(err.Error(), "SECRET-CONTENT") {
			t.Errorf("read %s leaks outside content: %v", uri, err)
		}
	}

	if after := tree(t, outside); !sameTree(outsideBefore, after) {
		t.Errorf("files outside the workspace changed: before %v, after %v", keys(outsideBefore), keys(after))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape.md")); err == nil {
		t.Error("write_plan_section created ../escape.md")
	}
	// The ledger holds no fact read from outside.
	states, err := filepath.Glob(filepath.Join(root, "test-sessions", "*", "*", "journal.jsonl"))
	if err != nil || len(states) != 1 {
		t.Fatalf("journals: %v %v", states, err)
	}
	if raw, err := os.ReadFile(states[0]); err != nil || bytes.Contains(raw, []byte("SECRET-CONTENT")) {
		t.Errorf("the journal holds outside content (err %v)", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestProbeCommandIsNotShell checks that a probe command runs as argv:
// shell metacharacters in its arguments reach the program literally and
// nothing they would run in a shell happens.
func TestProbeCommandIsNotShell(t *testing.T) {
	root := kvWorkspace(t)
	c, _ := modeClient(t, root, server.Options{})
	_, runID := startRun(t, c)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"$(touch pwned1)", "`touch pwned2`", "; touch pwned3", "| touch pwned4", "&& touch pwned5", "$((6*7))", "*"}
	for _, argv := range [][]string{
		append([]string{"echo"}, args...),
		{"echo 1; touch pwned6"},
		{"sh -c 'touch pwned7'"},
	} {
		res := callTool(t, c, "inject_fault", map[string]any{
			"run": runID, "kind": "external", "fault": "kill",
			"probe": map[string]any{"command": argv, "expect": "changes"},
		})
		if res.IsError {
			t.Fatalf("inject_fault: %s", resultText(res))
		}
		var fr tools.FaultResult
		raw, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(raw, &fr); err != nil {
			t.Fatal(err)
		}
		if fr.Fault.Before == nil {
			t.Fatalf("no reading: %s", raw)
		}
		if argv[0] == "echo" {
			want := strings.Join(args, " ") + "\n"
			if fr.Fault.Before.Raw != want {
				t.Errorf("echo printed %q, want the arguments literally %q", fr.Fault.Before.Raw, want)
			}
		} else if fr.Fault.Before.Error == "" {
			// A whole command line as argv[0] is a program name that does
			// not exist, not a shell command.
			t.Errorf("argv[0] %q ran: %+v", argv[0], fr.Fault.Before)
		}
	}
	for i := 1; i <= 7; i++ {
		for _, dir := range []string{root, cwd, os.TempDir()} {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("pwned%d", i))); err == nil {
				t.Errorf("pwned%d exists in %s: the probe ran through a shell", i, dir)
			}
		}
	}
}

// TestSSEGuard checks that the legacy SSE transport's endpoints are
// guarded like streamable HTTP's.
func TestSSEGuard(t *testing.T) {
	addr := serveWith(t, t.TempDir(), true, server.HTTPOptions{Token: testToken, MaxBody: 1024})
	get := func(host string, headers map[string]string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/sse", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close() // an accepted stream stays open: read nothing
		return res.StatusCode
	}
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	if got := get("", nil); got != http.StatusUnauthorized {
		t.Errorf("GET /sse without the token: %d", got)
	}
	if got := get("rebind.example:80", auth); got != http.StatusForbidden {
		t.Errorf("GET /sse with a foreign Host: %d", got)
	}
	if got := get("", map[string]string{"Authorization": "Bearer " + testToken, "Origin": "https://evil.example"}); got != http.StatusForbidden {
		t.Errorf("GET /sse from a foreign Origin: %d", got)
	}
	if got := get("", auth); got != http.StatusOK {
		t.Errorf("GET /sse with the token: %d", got)
	}
	body := strings.Repeat(" ", 2048) + initBody
	status, _, got := post(t, "http://"+addr+"/message?sessionId=x", "", auth, strings.NewReader(body), int64(len(body)))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(got, "1 KiB") {
		t.Errorf("POST /message over the limit: %d %s", status, got)
	}
	status, _, _ = post(t, "http://"+addr+"/message?sessionId=x", "", nil, strings.NewReader(initBody), int64(len(initBody)))
	if status != http.StatusUnauthorized {
		t.Errorf("POST /message without the token: %d", status)
	}
}
