package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
)

func newServeCmd() *cobra.Command {
	var (
		httpAddr, sseAddr, root, level string
		token, maxBody                 string
		allowedHosts, allowedOrigins   []string
		readOnly, noFaults             bool
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve falsify's MCP tools (stdio by default)",
		Long: `Serve falsify's MCP tools, prompts and resources.

By default the server speaks MCP over stdin/stdout (what Claude Code, Cursor,
Gemini CLI and Codex launch). --http serves streamable HTTP at /mcp and --sse
the legacy SSE transport; an address without a host binds 127.0.0.1.
Logs are JSON on stderr; stdout carries only the protocol.

HTTP security: a non-loopback address (e.g. --http 0.0.0.0:8080) needs a
bearer token, from $FALSIFY_TOKEN (preferred: argv is visible to other
users) or --token; every request must then send "Authorization: Bearer
<token>". Requests whose Host header is not a loopback name, the bound host
or an --allowed-host, and browser requests from an Origin that is not
loopback, on an allowed host or an --allowed-origin, are refused (DNS
rebinding protection). Request bodies are limited by --max-body.

--read-only refuses every tool that writes (plans, sessions, runs, history,
faults, checks, verdicts); --no-faults refuses fault injection only.
heal_fault is never refused.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if httpAddr != "" && sseAddr != "" {
				return usageErr("--http and --sse are exclusive: pick one transport")
			}
			if httpAddr == "" && sseAddr == "" {
				for _, name := range []string{"token", "allowed-host", "allowed-origin", "max-body"} {
					if c.Flags().Changed(name) {
						return usageErr("--%s applies to --http or --sse; stdio needs no network protection", name)
					}
				}
			}
			if !c.Flags().Changed("token") {
				token = os.Getenv(server.TokenEnv)
			}
			limit, err := parseSize(maxBody)
			if err != nil {
				return usageErr("--max-body %q: %v", maxBody, err)
			}
			opts := server.HTTPOptions{
				Addr: httpAddr, Token: token, AllowedHosts: allowedHosts, AllowedOrigins: allowedOrigins, MaxBody: limit,
			}
			transportFlag := "--http"
			if sseAddr != "" {
				transportFlag, opts.Addr = "--sse", sseAddr
			}
			if opts.Addr != "" {
				if err := opts.Validate(); err != nil {
					return usageErr("%s: %v", transportFlag, err)
				}
			}
			lvl, err := zerolog.ParseLevel(level)
			if err != nil {
				return usageErr("--log-level %q: %v", level, err)
			}
			log := zerolog.New(c.ErrOrStderr()).Level(lvl).With().Timestamp().Str("app", "falsify").Logger()
			if root == "" {
				if root, err = os.Getwd(); err != nil {
					return fmt.Errorf("working directory: %w", err)
				}
			}
			ws, err := session.OpenWorkspace(root)
			if err != nil {
				return usageErr("--root: %v", err)
			}
			if filepath.Dir(ws.Root()) == ws.Root() {
				return usageErr("--root: the workspace would be the filesystem root %s; pass --root DIR (the repository under test)", ws.Root())
			}
			sessions := session.NewManager(ws)
			defer sessions.Close()
			// Faults a previous falsify left open (it crashed or was
			// killed) are healed before anything else, in every mode.
			healed, herr := sessions.HealOrphans(c.Context())
			for _, line := range healed {
				log.Warn().Str("fault", line).Msg("healed a fault left open by a previous falsify")
			}
			if herr != nil {
				log.Error().Err(herr).Msg("healing faults left open by a previous falsify")
			}
			s, err := server.New(server.Options{
				Workspace: ws, Sessions: sessions, Log: log, Version: buildVersion(),
				ReadOnly: readOnly, NoFaults: noFaults,
			})
			if err != nil {
				return err
			}
			log.Info().Str("root", ws.Root()).Str("version", buildVersion()).
				Bool("read_only", readOnly).Bool("no_faults", noFaults).Msg("falsify starting")
			ctx := c.Context()
			announce := func(path string) func(net.Addr) {
				return func(a net.Addr) { log.Info().Str("url", "http://"+a.String()+path).Msg("MCP endpoint") }
			}
			opts.Log = log
			switch {
			case httpAddr != "":
				opts.Ready = announce(server.HTTPPath)
				err = server.ServeHTTPWith(ctx, s, opts)
			case sseAddr != "":
				opts.Ready = announce("/sse")
				err = server.ServeSSEWith(ctx, s, opts)
			default:
				err = server.ServeStdio(ctx, s, c.InOrStdin(), c.OutOrStdout(), log)
			}
			if err != nil {
				log.Error().Err(err).Msg("server stopped")
				return &exitError{code: 1, err: err}
			}
			log.Info().Msg("server stopped")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&httpAddr, "http", "", "serve streamable HTTP at /mcp on `ADDR` (\":8080\" binds 127.0.0.1:8080)")
	f.StringVar(&sseAddr, "sse", "", "serve the legacy SSE transport on `ADDR` (\":8080\" binds 127.0.0.1:8080)")
	f.StringVar(&root, "root", "", "workspace `DIR` falsify reads and writes in (default: the current directory)")
	f.StringVar(&level, "log-level", "info", "log `LEVEL` on stderr: debug, info, warn, error")
	f.StringVar(&token, "token", "", "bearer `TOKEN` HTTP clients must send (default $"+server.TokenEnv+"); required for a non-loopback address")
	f.StringSliceVar(&allowedHosts, "allowed-host", nil, "`HOST` name clients may use to reach the server besides loopback names and the bound host (repeatable)")
	f.StringSliceVar(&allowedOrigins, "allowed-origin", nil, "browser `ORIGIN` (scheme://host[:port]) allowed besides loopback origins (repeatable)")
	f.StringVar(&maxBody, "max-body", "16MiB", "largest HTTP request `SIZE` accepted (bytes, or with KiB/MiB/GiB)")
	f.BoolVar(&readOnly, "read-only", false, "refuse every tool that writes: plans, sessions, runs, history, faults, checks, verdicts")
	f.BoolVar(&noFaults, "no-faults", false, "refuse fault injection (heal_fault stays allowed)")
	return c
}

// parseSize parses a byte size: "1048576", "512KiB", "16MiB", "1GiB"
// (KB, MB, GB, K, M and G are read as binary units too).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 16MiB or 1048576")
	}
	if n > (1<<40)/mult {
		return 0, fmt.Errorf("%s is over 1 TiB", s)
	}
	return n * mult, nil
}
