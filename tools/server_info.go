package tools

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// ServerInfoArgs are server_info's arguments (none).
type ServerInfoArgs struct{}

// ServerInfoResult is server_info's result.
type ServerInfoResult struct {
	Version       string  `json:"version" jsonschema_description:"falsify's version (release tag, module version or (devel))."`
	GoVersion     string  `json:"go_version" jsonschema_description:"Go toolchain the server was built with."`
	Root          string  `json:"root" jsonschema_description:"Absolute path of the workspace every tool is confined to (--root)."`
	Started       string  `json:"started" jsonschema_description:"When the server started, RFC 3339 UTC."`
	UptimeSeconds float64 `json:"uptime_seconds" jsonschema_description:"Seconds since the server started."`
	Tools         int     `json:"tools" jsonschema_description:"Number of tools this server serves (refused ones included)."`
	ReadOnly      bool    `json:"read_only" jsonschema_description:"True when the server refuses every tool that writes (--read-only)."`
	NoFaults      bool    `json:"no_faults" jsonschema_description:"True when fault injection is refused (--no-faults)."`
}

func (e *Env) serverInfo() server.ServerTool {
	tool := mcp.NewTool("server_info",
		mcp.WithDescription("Report this falsify server's version, the workspace root it is confined to, its uptime, how many tools it serves and whether it runs --read-only or --no-faults. "+
			"Call it to check which falsify and which workspace you are talking to (e.g. before writing a plan, or when paths resolve unexpectedly); it reads nothing on disk and changes nothing."),
		mcp.WithInputSchema[ServerInfoArgs](),
		mcp.WithOutputSchema[ServerInfoResult](),
		annotations("Describe this falsify server", true, false, true, false),
	)
	return register(e, tool, e.doServerInfo)
}

func (e *Env) doServerInfo(ctx context.Context, _ mcp.CallToolRequest, _ ServerInfoArgs) (ServerInfoResult, error) {
	res := ServerInfoResult{
		Version:       e.version,
		GoVersion:     "unknown",
		Root:          e.ws.Root(),
		Started:       e.started.UTC().Format(time.RFC3339),
		UptimeSeconds: time.Since(e.started).Seconds(),
		ReadOnly:      e.readOnly,
		NoFaults:      e.noFaults,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		res.GoVersion = bi.GoVersion
		if res.Version == "" && bi.Main.Version != "" {
			res.Version = bi.Main.Version
		}
	}
	if res.Version == "" {
		res.Version = "(devel)"
	}
	if s := server.ServerFromContext(ctx); s != nil {
		res.Tools = len(s.ListTools())
	} else {
		res.Tools = len(e.Tools())
	}
	return res, nil
}
