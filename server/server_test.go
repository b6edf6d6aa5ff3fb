package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
)

func newServer(t *testing.T, root string) *mcpserver.MCPServer {
	t.Helper()
	ws, err := session.OpenWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Workspace: ws, Log: zerolog.Nop(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(t *testing.T, c *client.Client) *mcp.InitializeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Start's context scopes the SSE stream: it must outlive the test.
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "falsify-test", Version: "0"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func inProcess(t *testing.T, root string) (*client.Client, *mcp.InitializeResult) {
	t.Helper()
	c, err := client.NewInProcessClient(newServer(t, root))
	if err != nil {
		t.Fatal(err)
	}
	return c, start(t, c)
}

func TestNewRequiresWorkspace(t *testing.T) {
	if _, err := server.New(server.Options{}); err == nil {
		t.Fatal("New without a workspace succeeded")
	}
}

func TestInstructionsStateTheWorkflow(t *testing.T) {
	_, init := inProcess(t, t.TempDir())
	order := []string{"extract_claims", "write_plan_section", "lint_plan", "start_session", "start_run", "record_op", "inject_fault", "run_checker", "assign_verdict", "falsify://sessions/"}
	last := -1
	for _, step := range order {
		i := strings.Index(init.Instructions, step)
		if i < 0 {
			t.Errorf("instructions do not mention %s", step)
			continue
		}
		if i < last {
			t.Errorf("instructions mention %s out of workflow order", step)
		}
		last = i
	}
	if init.ServerInfo.Name != "falsify" {
		t.Errorf("server name %q", init.ServerInfo.Name)
	}
}

func TestPlanResources(t *testing.T) {
	root := t.TempDir()
	plan := "# Test Plan: alpha\n\n**Plan mode:** change-scoped\n"
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testing-plans", "alpha.md"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := inProcess(t, root)
	ctx := context.Background()

	list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Resources) != 1 || list.Resources[0].URI != "falsify://plans/alpha" || list.Resources[0].MIMEType != "text/markdown" {
		t.Errorf("resources = %+v", list.Resources)
	}
	tmpl, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rt := range tmpl.ResourceTemplates {
		if rt.URITemplate != nil && rt.URITemplate.Raw() == "falsify://plans/{slug}" && rt.MIMEType == "text/markdown" {
			found = true
		}
	}
	if !found {
		t.Errorf("no falsify://plans/{slug} template: %+v", tmpl.ResourceTemplates)
	}

	read := func(uri string) (*mcp.ReadResourceResult, error) {
		var req mcp.ReadResourceRequest
		req.Params.URI = uri
		return c.ReadResource(ctx, req)
	}
	res, err := read("falsify://plans/alpha")
	if err != nil {
		t.Fatal(err)
	}
	if tc, ok := res.Contents[0].(mcp.TextResourceContents); !ok || tc.Text != plan || tc.MIMEType != "text/markdown" {
		t.Errorf("read alpha = %+v", res.Contents)
	}
	// A plan written after start is readable through the template.
	if err := os.WriteFile(filepath.Join(root, "testing-plans", "beta.md"), []byte("# Test Plan: beta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := read("falsify://plans/beta"); err != nil {
		t.Errorf("read beta: %v", err)
	}
	for _, bad := range []string{"falsify://plans/nope", "falsify://plans/..%2Fetc", "falsify://plans/../../etc/passwd"} {
		if _, err := read(bad); err == nil {
			t.Errorf("read %s succeeded", bad)
		}
	}
}

func TestDesignPrompt(t *testing.T) {
	c, _ := inProcess(t, t.TempDir())
	ctx := context.Background()
	list, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range list.Prompts {
		names[p.Name] = true
	}
	if len(list.Prompts) != 2 || !names["design_test_plan"] || !names["execute_test_plan"] {
		t.Fatalf("prompts = %+v", list.Prompts)
	}
	get := func(args map[string]string) (string, error) {
		var req mcp.GetPromptRequest
		req.Params.Name = "design_test_plan"
		req.Params.Arguments = args
		res, err := c.GetPrompt(ctx, req)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, m := range res.Messages {
			if tc, ok := m.Content.(mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String(), nil
	}
	text, err := get(map[string]string{"sut": "kvr", "change": "PR #214"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Triage", "needs no plan", "log-line typo", "stop",
		"extract_claims", "write_plan_section", "lint_plan",
		"lost updates", "stale reads", "replica divergence", "clock skew", "lost acknowledgements",
		"membership-change races", "crash-recovery divergence", "id reuse", "change-feed loss or duplication", "non-atomicity",
		"§7.M", "§7.M.S", "not applicable (no gated claim category falsified)", "PR #214", "change-scoped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("design prompt lacks %q", want)
		}
	}
	if strings.Index(text, "Triage") > strings.Index(text, "extract_claims") {
		t.Error("triage does not come first")
	}
	pw, err := get(map[string]string{"sut": "kvr"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pw, "project-wide") || !strings.Contains(pw, "sections 3") {
		t.Error("project-wide prompt does not require §3 and §5")
	}
	if _, err := get(map[string]string{}); err == nil {
		t.Error("design_test_plan without sut succeeded")
	}
}

func TestLoopbackAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{":8080", "127.0.0.1:8080", true},
		{"127.0.0.1:9", "127.0.0.1:9", true},
		{"0.0.0.0:8080", "0.0.0.0:8080", true},
		{"localhost:80", "localhost:80", true},
		{"[::1]:7", "[::1]:7", true},
		{"8080", "", false},
		{"host:", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := server.LoopbackAddr(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("LoopbackAddr(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestHTTPTransports serves falsify over streamable HTTP and SSE on a
// loopback port and lists its tools through a real client.
func TestHTTPTransports(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(context.Context, *mcpserver.MCPServer, string, zerolog.Logger, func(net.Addr)) error
		dial  func(addr string) (*client.Client, error)
	}{
		{"streamable-http", server.ServeHTTP, func(a string) (*client.Client, error) {
			return client.NewStreamableHttpClient("http://" + a + "/mcp")
		}},
		{"sse", server.ServeSSE, func(a string) (*client.Client, error) {
			return client.NewSSEMCPClient("http://" + a + "/sse")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, t.TempDir())
			ctx, cancel := context.WithCancel(context.Background())
			addrc := make(chan net.Addr, 1)
			done := make(chan error, 1)
			go func() { done <- tc.serve(ctx, s, ":0", zerolog.Nop(), func(a net.Addr) { addrc <- a }) }()
			var addr net.Addr
			select {
			case addr = <-addrc:
			case err := <-done:
				t.Fatalf("serve: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("server did not start")
			}
			if !strings.HasPrefix(addr.String(), "127.0.0.1:") {
				t.Errorf("bound %s, want loopback", addr)
			}
			c, err := tc.dial(addr.String())
			if err != nil {
				t.Fatal(err)
			}
			start(t, c)
			tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(tools.Tools) < 3 {
				t.Errorf("%d tools over %s", len(tools.Tools), tc.name)
			}
			c.Close()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v after cancel", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("server did not stop on cancel")
			}
		})
	}
}

func TestSessionResources(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "test-sessions", "kv", "20261125T080000Z", "findings")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "S1.md"), []byte("# S1: FAIL-reproducible\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("outside test-sessions"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := inProcess(t, root)
	read := func(uri string) (*mcp.ReadResourceResult, error) {
		var req mcp.ReadResourceRequest
		req.Params.URI = uri
		return c.ReadResource(context.Background(), req)
	}
	res, err := read("falsify://sessions/kv/20261125T080000Z/findings/S1.md")
	if err != nil {
		t.Fatal(err)
	}
	if tc, ok := res.Contents[0].(mcp.TextResourceContents); !ok || !strings.Contains(tc.Text, "FAIL-reproducible") || tc.MIMEType != "text/markdown" {
		t.Errorf("findings resource: %+v", res.Contents)
	}
	for _, bad := range []string{
		"falsify://sessions/kv/20261125T080000Z/findings/S9.md",
		"falsify://sessions/kv/20261125T080000Z/findings",
		"falsify://sessions/../secret.txt",
		"falsify://sessions/kv/../../secret.txt",
	} {
		if res, err := read(bad); err == nil {
			t.Errorf("read %s succeeded: %+v", bad, res.Contents)
		}
	}
}

func TestExecutePrompt(t *testing.T) {
	c, _ := inProcess(t, t.TempDir())
	get := func(args map[string]string) (string, error) {
		var req mcp.GetPromptRequest
		req.Params.Name = "execute_test_plan"
		req.Params.Arguments = args
		res, err := c.GetPrompt(context.Background(), req)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, m := range res.Messages {
			if tc, ok := m.Content.(mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String(), nil
	}
	text, err := get(map[string]string{"plan": "kvr-replication", "scenario": "S1", "tier": "hardening"})
	if err != nil {
		t.Fatal(err)
	}
	steps := []string{"lint_plan", "start_session", "register_target", "start_run", "record_op", "inject_fault", "measure_fault", "heal_fault", "import_history", "record_state", "run_checker", "assign_verdict", "reduce_history", "finish_session"}
	last := -1
	for _, s := range steps {
		i := strings.Index(text, s)
		if i < 0 || i < last {
			t.Errorf("execute prompt: %s missing or out of order", s)
		}
		last = i
	}
	for _, want := range []string{"kvr-replication", "scenario S1", "hardening", "never a verdict", "ASK before installing", "not evidence", "timeout_marker", "same seed", "three distinct seeds", "never a pass"} {
		if !strings.Contains(text, want) {
			t.Errorf("execute prompt lacks %q", want)
		}
	}
	if _, err := get(map[string]string{}); err == nil {
		t.Error("execute_test_plan without plan succeeded")
	}
	if _, err := get(map[string]string{"plan": "x", "tier": "mega"}); err == nil {
		t.Error("execute_test_plan with a bad tier succeeded")
	}
}
