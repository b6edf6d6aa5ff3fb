package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// TokenEnv is the environment variable that holds the bearer token when
// --token is not given.
const TokenEnv = "FALSIFY_TOKEN"

// MinTokenLen is the shortest bearer token falsify accepts.
const MinTokenLen = 16

// guard protects the HTTP transports. It rejects, in this order:
// requests whose Host header is not an allowed host and browser requests
// whose Origin is not an allowed origin (403, DNS rebinding protection);
// requests without the bearer token when one is set (401); request bodies
// over the size limit (413) and JSON-RPC batches (400).
type guard struct {
	token    []byte          // empty: no authentication (loopback only)
	hosts    map[string]bool // lower-case host names and IPs, no port
	origins  map[string]bool // lower-case scheme://host[:port]
	maxBody  int64
	bindHost string
	next     http.Handler
}

// newGuard wraps next with the checks o asks for; bindHost is the host the
// listener is bound to.
func newGuard(o HTTPOptions, bindHost string, next http.Handler) *guard {
	g := &guard{
		token:    []byte(o.Token),
		hosts:    map[string]bool{},
		origins:  map[string]bool{},
		maxBody:  o.MaxBody,
		bindHost: bindHost,
		next:     next,
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBody
	}
	if h := normalizeHost(bindHost); h != "" && !unspecified(h) {
		g.hosts[h] = true
	}
	for _, h := range o.AllowedHosts {
		if h = normalizeHost(h); h != "" {
			g.hosts[h] = true
		}
	}
	for _, o := range o.AllowedOrigins {
		g.origins[strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))] = true
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hostAllowed(r.Host) {
		http.Error(w, fmt.Sprintf("Forbidden: Host %q is not allowed (DNS rebinding protection). Connect through a loopback address or the address falsify is bound to, or start falsify with --allowed-host %s", r.Host, hostOnly(r.Host)), http.StatusForbidden)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !g.originAllowed(origin) {
		http.Error(w, fmt.Sprintf("Forbidden: Origin %q is not allowed (DNS rebinding protection). Start falsify with --allowed-origin %s to let that web page connect", origin, origin), http.StatusForbidden)
		return
	}
	if len(g.token) > 0 && !g.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="falsify"`)
		http.Error(w, "Unauthorized: send the header \"Authorization: Bearer <token>\" with the token falsify was started with (--token or "+TokenEnv+")", http.StatusUnauthorized)
		return
	}
	if !g.limitBody(w, r) {
		return
	}
	g.next.ServeHTTP(w, r)
}

// authorized reports whether r carries the bearer token, compared in
// constant time.
func (g *guard) authorized(r *http.Request) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), g.token) == 1
}

// hostAllowed reports whether a Host header names a loopback host, the
// bound host or an allowed host.
func (g *guard) hostAllowed(host string) bool {
	h := normalizeHost(host)
	if h == "" {
		return false
	}
	return loopback(h) || g.hosts[h]
}

// originAllowed reports whether a browser Origin may talk to the server:
// a loopback origin, an origin on an allowed host, or one listed exactly.
func (g *guard) originAllowed(origin string) bool {
	o := strings.ToLower(strings.TrimRight(strings.TrimSpace(origin), "/"))
	if g.origins[o] {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false // "null", file://, chrome-extension://…
	}
	h := normalizeHost(u.Host)
	return h != "" && (loopback(h) || g.hosts[h])
}

// normalizeHost returns the lower-case host of a Host header or host:port,
// without brackets or port; "" when it is empty.
func normalizeHost(s string) string {
	return strings.ToLower(strings.TrimSuffix(hostOnly(strings.TrimSpace(s)), "."))
}

// hostOnly strips a port and IPv6 brackets from host[:port].
func hostOnly(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return strings.Trim(s, "[]")
}

// loopback reports whether a host (no port) is a loopback name or IP.
func loopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// unspecified reports whether a host is the any-address (0.0.0.0, ::).
func unspecified(h string) bool {
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsUnspecified()
}

// checkBind refuses to serve a non-loopback address without a bearer
// token, and a token too short to resist guessing.
func checkBind(host string, token string) error {
	if token != "" && len(token) < MinTokenLen {
		return fmt.Errorf("the bearer token is %d characters long, shorter than %d: use a random token (e.g. openssl rand -hex 32)", len(token), MinTokenLen)
	}
	if loopback(normalizeHost(host)) || token != "" {
		return nil
	}
	return errors.New("refusing to serve on " + host + " without a bearer token: a non-loopback address is reachable from other machines. Pass --token (or set " + TokenEnv + ") with a random token, or bind a loopback address such as 127.0.0.1")
}
