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

// HTTPOptions configure the HTTP transports (streamable HTTP and SSE).
type HTTPOptions struct {
	// Addr is host:port; without a host it binds 127.0.0.1 (LoopbackAddr).
	Addr string
	// Token is the bearer token every request must carry ("Authorization:
	// Bearer <token>"), compared in constant time. Required when Addr is
	// not a loopback address; at least MinTokenLen characters.
	Token string
	// AllowedHosts are host names or IPs (a port is ignored) accepted in
	// the Host header besides loopback names and the bound host: the
	// names clients use to reach a non-loopback bind.
	AllowedHosts []string
	// AllowedOrigins are browser origins (scheme://host[:port]) accepted
	// besides loopback origins and origins on an allowed host. A request
	// with any other Origin header is refused (403).
	AllowedOrigins []string
	// MaxBody is the largest request body accepted; 0 means
	// DefaultMaxBody.
	MaxBody int64
	// Log receives transport logs.
	Log zerolog.Logger
	// Ready, when not nil, is called with the bound address once the
	// listener is open.
	Ready func(net.Addr)
}

// ServeHTTP serves s over streamable HTTP at HTTPPath on addr (defaulting
// to loopback, see LoopbackAddr) until ctx is done, with the default
// protections of HTTPOptions and no token: a non-loopback addr is refused.
// When ready is not nil it is called with the bound address once the
// listener is open.
func ServeHTTP(ctx context.Context, s *mcpserver.MCPServer, addr string, log zerolog.Logger, ready func(net.Addr)) error {
	return ServeHTTPWith(ctx, s, HTTPOptions{Addr: addr, Log: log, Ready: ready})
}

// ServeSSE serves s over the legacy SSE transport (/sse and /message) on
// addr (defaulting to loopback) until ctx is done, like ServeHTTP.
func ServeSSE(ctx context.Context, s *mcpserver.MCPServer, addr string, log zerolog.Logger, ready func(net.Addr)) error {
	return ServeSSEWith(ctx, s, HTTPOptions{Addr: addr, Log: log, Ready: ready})
}

// ServeHTTPWith serves s over streamable HTTP at HTTPPath as o configures
// until ctx is done. It refuses to start on a non-loopback address without
// a token. Every request passes DNS rebinding protection (Host and Origin
// checks, 403), the token check when a token is set (401), and the body
// limit (413); a JSON-RPC batch is refused (400).
func ServeHTTPWith(ctx context.Context, s *mcpserver.MCPServer, o HTTPOptions) error {
	h := mcpserver.NewStreamableHTTPServer(s,
		mcpserver.WithEndpointPath(HTTPPath),
		mcpserver.WithStreamableHTTPLogger(slog.New(zerolog.NewSlogHandler(o.Log))),
		// The guard's Host and Origin checks replace mcp-go's, which
		// would refuse the --allowed-host names.
		mcpserver.WithDisableLocalhostProtection(true),
	)
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, h)
	return serve(ctx, "http", o, mux, h.Shutdown)
}

// ServeSSEWith serves s over the legacy SSE transport (/sse and /message)
// as o configures until ctx is done, with the protections of
// ServeHTTPWith.
func ServeSSEWith(ctx context.Context, s *mcpserver.MCPServer, o HTTPOptions) error {
	sse := mcpserver.NewSSEServer(s, mcpserver.WithKeepAlive(true), mcpserver.WithSSEDisableLocalhostProtection(true))
	return serve(ctx, "sse", o, sse, sse.Shutdown)
}

// Validate reports whether o can be served: a valid address, a token when
// the address is not loopback, and no token shorter than MinTokenLen.
func (o HTTPOptions) Validate() error {
	full, err := LoopbackAddr(o.Addr)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(full)
	return checkBind(host, o.Token)
}

func serve(ctx context.Context, transport string, o HTTPOptions, h http.Handler, shutdown func(context.Context) error) error {
	log := o.Log
	if err := o.Validate(); err != nil {
		return err
	}
	full, _ := LoopbackAddr(o.Addr)
	host, _, _ := net.SplitHostPort(full)
	ln, err := net.Listen("tcp", full)
	if err != nil {
		return fmt.Errorf("listen %s: %w", full, err)
	}
	srv := &http.Server{
		Handler:           newGuard(o, host, h),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(log, "", 0),
	}
	log.Info().Str("transport", transport).Str("addr", ln.Addr().String()).
		Bool("token", o.Token != "").Msg("serving")
	if o.Ready != nil {
		o.Ready(ln.Addr())
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
		// A client holding a long-lived stream (a legacy session's GET
		// stream, an SSE connection) keeps its connection active past
		// the grace period: cut it. The stop was asked for; it is not an
		// error.
		log.Warn().Err(err).Msg("streams still open after the grace period; closing them")
		if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}
