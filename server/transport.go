package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"
)

// HTTPPath is where the streamable-HTTP transport serves MCP.
const HTTPPath = "/mcp"

// ServeStdio serves s over in and out (stdin and stdout) until ctx is done
// or in reaches EOF. Nothing but protocol messages is written to out.
func ServeStdio(ctx context.Context, s *mcpserver.MCPServer, in io.Reader, out io.Writer, log zerolog.Logger) error {
	st := mcpserver.NewStdioServer(s)
	st.SetErrorLogger(stdlog.New(log, "", 0))
	log.Info().Str("transport", "stdio").Msg("serving")
	err := st.Listen(ctx, in, out)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// LoopbackAddr returns addr with the host defaulted to 127.0.0.1 when it
// has none (":8080" → "127.0.0.1:8080"); an explicit host is kept.
func LoopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w (want host:port or :port)", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("listen address %q: no port (want host:port or :port)", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// ServeHTTP serves s over streamable HTTP at HTTPPath on addr (defaulting
// to loopback, see LoopbackAddr) until ctx is done. When ready is not nil
// it is called with the bound address once the listener is open.
func ServeHTTP(ctx context.Context, s *mcpserver.MCPServer, addr string, log zerolog.Logger, ready func(net.Addr)) error {
	h := mcpserver.NewStreamableHTTPServer(s,
		mcpserver.WithEndpointPath(HTTPPath),
		mcpserver.WithStreamableHTTPLogger(slog.New(zerolog.NewSlogHandler(log))),
	)
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, h)
	return serve(ctx, "http", addr, mux, log, ready, h.Shutdown)
}

// ServeSSE serves s over the legacy SSE transport (/sse and /message) on
// addr (defaulting to loopback) until ctx is done.
func ServeSSE(ctx context.Context, s *mcpserver.MCPServer, addr string, log zerolog.Logger, ready func(net.Addr)) error {
	sse := mcpserver.NewSSEServer(s, mcpserver.WithKeepAlive(true))
	return serve(ctx, "sse", addr, sse, log, ready, sse.Shutdown)
}

func serve(ctx context.Context, transport, addr string, h http.Handler, log zerolog.Logger, ready func(net.Addr), shutdown func(context.Context) error) error {
	full, err := LoopbackAddr(addr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", full)
	if err != nil {
		return fmt.Errorf("listen %s: %w", full, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          stdlog.New(log, "", 0),
	}
	log.Info().Str("transport", transport).Str("addr", ln.Addr().String()).Msg("serving")
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if shutdown != nil {
		shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
