package tools_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
	"github.com/falsify-dev/falsify/tools"
)

// TestServerInfo: server_info reports the handshake's version, the
// workspace root, the number of tools tools/list returns, the server's
// mode, and an uptime that grows.
func TestServerInfo(t *testing.T) {
	for _, tc := range []struct {
		name               string
		readOnly, noFaults bool
	}{
		{"default", false, false},
		{"read-only", true, false},
		{"no-faults", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ws, err := session.OpenWorkspace(root)
			if err != nil {
				t.Fatal(err)
			}
			sessions := session.NewManager(ws)
			t.Cleanup(func() { sessions.Close() })
			s, err := server.New(server.Options{Workspace: ws, Sessions: sessions, Log: zerolog.Nop(), Version: "v9.8.7",
				ReadOnly: tc.readOnly, NoFaults: tc.noFaults})
			if err != nil {
				t.Fatal(err)
			}
			c, err := client.NewInProcessClient(s)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ctx := context.Background()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			var init mcp.InitializeRequest
			init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
			init.Params.ClientInfo = mcp.Implementation{Name: "falsify-test", Version: "0"}
			hello, err := c.Initialize(ctx, init)
			if err != nil {
				t.Fatal(err)
			}
			list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}

			var first, second tools.ServerInfoResult
			decode(t, "server_info", call(t, c, "server_info", map[string]any{}), &first)
			time.Sleep(20 * time.Millisecond)
			decode(t, "server_info", call(t, c, "server_info", map[string]any{}), &second)

			wantRoot, err := filepath.EvalSymlinks(root)
			if err != nil {
				t.Fatal(err)
			}
			gotRoot, err := filepath.EvalSymlinks(first.Root)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case first.Version != "v9.8.7" || first.Version != hello.ServerInfo.Version:
				t.Errorf("version %q, want the handshake's %q", first.Version, hello.ServerInfo.Version)
			case gotRoot != wantRoot:
				t.Errorf("root %q, want %q", first.Root, root)
			case first.Tools != len(list.Tools) || first.Tools < 10:
				t.Errorf("tools %d, tools/list returns %d", first.Tools, len(list.Tools))
			case first.ReadOnly != tc.readOnly || first.NoFaults != tc.noFaults:
				t.Errorf("read_only %v no_faults %v, want %v %v", first.ReadOnly, first.NoFaults, tc.readOnly, tc.noFaults)
			case first.GoVersion == "" || first.GoVersion == "unknown":
				t.Errorf("go_version %q", first.GoVersion)
			case first.UptimeSeconds < 0 || second.UptimeSeconds < first.UptimeSeconds+0.015:
				t.Errorf("uptime %v then %v, want it to grow by the 20 ms slept", first.UptimeSeconds, second.UptimeSeconds)
			case first.Started != second.Started:
				t.Errorf("started moved: %s then %s", first.Started, second.Started)
			}
			if _, err := time.Parse(time.RFC3339, first.Started); err != nil {
				t.Errorf("started %q: %v", first.Started, err)
			}
		})
	}
}
