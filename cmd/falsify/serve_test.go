package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/falsify-dev/falsify/server"
)

const serveToken = "serve-test-token-0123456789abcdef"

// TestServeRefusals checks the serve flags that must stop falsify before
// it serves anything: exit code 2 and a message naming the fix.
func TestServeRefusals(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"non-loopback without token", nil, []string{"--http", "0.0.0.0:0"}, []string{"--http", "without a bearer token", "--token", server.TokenEnv}},
		{"sse non-loopback without token", nil, []string{"--sse", "[::]:0"}, []string{"--sse", "without a bearer token"}},
		{"short token flag", nil, []string{"--http", "0.0.0.0:0", "--token", "abc"}, []string{"shorter than 16"}},
		{"short token env", []string{server.TokenEnv + "=abc"}, []string{"--http", "0.0.0.0:0"}, []string{"shorter than 16"}},
		{"token on stdio", nil, []string{"--token", serveToken}, []string{"--token applies to --http or --sse"}},
		{"allowed host on stdio", nil, []string{"--allowed-host", "x"}, []string{"--allowed-host applies"}},
		{"bad max-body", nil, []string{"--http", ":0", "--max-body", "lots"}, []string{"--max-body", "16MiB"}},
		{"zero max-body", nil, []string{"--http", ":0", "--max-body", "0"}, []string{"--max-body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary(t), append([]string{"serve", "--root", root}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
				t.Fatalf("exit %v, want %d:\n%s", err, exitUsage, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), serveToken) {
				t.Errorf("the token is echoed:\n%s", out)
			}
		})
	}
}

// TestServeTokenFromEnv starts falsify on every interface with the token
// from FALSIFY_TOKEN and --read-only: requests need the token, and writing
// tools are refused.
func TestServeTokenFromEnv(t *testing.T) {
	root := t.TempDir()
	plan, err := os.ReadFile(filepath.Join("..", "..", "plan", "testdata", "kvstore.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testing-plans", "kvr-replication.md"), plan, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServerWith(t, []string{server.TokenEnv + "=" + serveToken}, "serve", "--http", "0.0.0.0:0", "--root", root, "--read-only")
	u, err := neturl.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	if h := u.Hostname(); h != "0.0.0.0" && h != "::" {
		t.Errorf("endpoint %s, want the bind on every interface", p.url)
	}
	u.Host = "127.0.0.1:" + u.Port()
	url := u.String()

	res, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("request without the token: %d %s", res.StatusCode, body)
	}

	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + serveToken}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	ir, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize with the token: %v", err)
	}
	if !strings.Contains(ir.Instructions, "READ-ONLY") {
		t.Errorf("instructions do not say read-only")
	}
	var v map[string]any
	if err := callJSON(ctx, c, "start_session", map[string]any{"plan": "kvr-replication"}, &v); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("start_session on --read-only: %v", err)
	}
	if err := callJSON(ctx, c, "lint_plan", map[string]any{"plan": "kvr-replication"}, &v); err != nil {
		t.Errorf("lint_plan on --read-only: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "test-sessions")); err == nil {
		t.Error("a read-only server created test-sessions/")
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"16MiB", 16 << 20, true},
		{"16 MiB", 16 << 20, true},
		{"512kib", 512 << 10, true},
		{"1G", 1 << 30, true},
		{"1048576", 1 << 20, true},
		{"100B", 100, true},
		{"0", 0, false},
		{"-5MiB", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"2000GiB", 0, false},
		{"9223372036854775807GiB", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
