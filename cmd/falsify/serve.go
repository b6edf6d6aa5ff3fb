package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
)

func newServeCmd() *cobra.Command {
	var (
		httpAddr, sseAddr, root, level string
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve falsify's MCP tools (stdio by default)",
		Long: `Serve falsify's MCP tools, prompts and resources.

By default the server speaks MCP over stdin/stdout (what Claude Code, Cursor,
Gemini CLI and Codex launch). --http serves streamable HTTP at /mcp and --sse
the legacy SSE transport; an address without a host binds 127.0.0.1.
Logs are JSON on stderr; stdout carries only the protocol.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if httpAddr != "" && sseAddr != "" {
				return usageErr("--http and --sse are exclusive: pick one transport")
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
			s, err := server.New(server.Options{Workspace: ws, Sessions: sessions, Log: log, Version: buildVersion()})
			if err != nil {
				return err
			}
			log.Info().Str("root", ws.Root()).Str("version", buildVersion()).Msg("falsify starting")
			ctx := c.Context()
			announce := func(path string) func(net.Addr) {
				return func(a net.Addr) { log.Info().Str("url", "http://"+a.String()+path).Msg("MCP endpoint") }
			}
			switch {
			case httpAddr != "":
				if _, err := server.LoopbackAddr(httpAddr); err != nil {
					return usageErr("--http: %v", err)
				}
				err = server.ServeHTTP(ctx, s, httpAddr, log, announce(server.HTTPPath))
			case sseAddr != "":
				if _, err := server.LoopbackAddr(sseAddr); err != nil {
					return usageErr("--sse: %v", err)
				}
				err = server.ServeSSE(ctx, s, sseAddr, log, announce("/sse"))
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
	return c
}
