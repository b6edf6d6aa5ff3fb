package nemesis

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// StdinRunner is an Executor that can also feed a command's standard
// input (a manifest for kubectl apply -f -, a ruleset for nft -f -).
type StdinRunner interface {
	Executor
	RunStdin(ctx context.Context, argv []string, stdin []byte) (stdout, stderr []byte, exit int, err error)
}

// CommandRun is one command run through an Executor, kept as evidence:
// the exact command (for ssh, the shell line the remote sshd received),
// the standard input fed to it and its raw, capped output.
type CommandRun struct {
	Host      string        `json:"host"`           // "local" or ssh://user@host:port
	Argv      []string      `json:"argv"`           // as the caller gave it
	Line      string        `json:"line,omitempty"` // the exact remote shell line (ssh)
	Stdin     string        `json:"stdin,omitempty"`
	Stdout    string        `json:"stdout"`
	Stderr    string        `json:"stderr"`
	Exit      int           `json:"exit"`             // -1 when it did not run to an exit status
	Signal    string        `json:"signal,omitempty"` // the signal that ended it, if the remote reported one
	Truncated bool          `json:"truncated,omitempty"`
	Err       string        `json:"error,omitempty"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration_ns"`
}

// String renders the run for logs and evidence: command, exit, output.
func (r CommandRun) String() string {
	cmd := r.Line
	if cmd == "" {
		cmd = ShellQuote(r.Argv)
	}
	s := fmt.Sprintf("%s$ %s → exit %d", r.Host, cmd, r.Exit)
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	if out := strings.TrimSpace(r.Stdout); out != "" {
		s += "; stdout: " + out
	}
	if e := strings.TrimSpace(r.Stderr); e != "" {
		s += "; stderr: " + e
	}
	return s
}

// runLogged runs argv through ex (feeding stdin when given) and records
// the run. A command that needs stdin on an executor without StdinRunner
// is an error. The returned error is the executor's; a non-zero exit is
// in the record, not an error.
func runLogged(ctx context.Context, ex Executor, argv []string, stdin []byte) (CommandRun, error) {
	if s, ok := ex.(*SSHExecutor); ok {
		r := s.Exec(ctx, argv, stdin) // the full record: line, signal, truncation
		if r.Err != "" {
			return r, errors.New(r.Err)
		}
		return r, nil
	}
	r := CommandRun{Host: hostName(ex), Argv: append([]string(nil), argv...), Start: time.Now().UTC(), Exit: -1}
	if ex == nil || len(argv) == 0 || argv[0] == "" {
		r.Err = "no executor, or an empty argv"
		return r, errors.New(r.Err)
	}
	if stdin != nil {
		r.Stdin = string(stdin)
	}
	var (
		stdout, stderr []byte
		err            error
	)
	switch {
	case stdin == nil:
		stdout, stderr, r.Exit, err = ex.Run(ctx, argv)
	default:
		sr, ok := ex.(StdinRunner)
		if !ok {
			err = fmt.Errorf("executor %s cannot feed standard input to %s", hostName(ex), argv[0])
			break
		}
		stdout, stderr, r.Exit, err = sr.RunStdin(ctx, argv, stdin)
	}
	r.Duration = time.Since(r.Start)
	r.Stdout, r.Stderr = string(stdout), string(stderr)
	if err != nil {
		r.Err = err.Error()
	}
	return r, err
}

// hostName names the host an executor runs on, for evidence.
func hostName(ex Executor) string {
	switch e := ex.(type) {
	case *SSHExecutor:
		return e.String()
	case nil:
		return ""
	}
	return executorName(ex)
}

// ShellQuote renders argv as one POSIX shell line in which every element
// is a single-quoted word: the shell splits it back into exactly argv and
// expands nothing ($, `, ;, globs, newlines stay literal).
func ShellQuote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// SSHConfig says how to reach a node over ssh. Host key checking is on:
// give KnownHostsFile, or set InsecureIgnoreHostKey to opt out explicitly.
type SSHConfig struct {
	Addr string `json:"addr"` // host:port; a bare host means port 22
	User string `json:"user"`
	// KeyFile is the private key (OpenSSH or PEM) to authenticate with;
	// Key holds the key bytes instead, when there is no file.
	KeyFile    string `json:"key_file,omitempty"`
	Key        []byte `json:"-"`
	Passphrase []byte `json:"-"` // for an encrypted key
	// KnownHostsFile is an OpenSSH known_hosts file the host's key must
	// be listed in.
	KnownHostsFile string `json:"known_hosts_file,omitempty"`
	// InsecureIgnoreHostKey accepts any host key (a man in the middle
	// would see every command). Only for throwaway test hosts.
	InsecureIgnoreHostKey bool `json:"insecure_ignore_host_key,omitempty"`
	// DialTimeout bounds connecting and the handshake; 0 means 10 s.
	DialTimeout time.Duration `json:"dial_timeout,omitempty"`
	// Timeout bounds one command when ctx has no earlier deadline; 0
	// means 30 s.
	Timeout time.Duration `json:"timeout,omitempty"`
	// OutputCap is the bytes kept of stdout and of stderr; 0 means 64 KiB.
	OutputCap int `json:"output_cap,omitempty"`
}

// SSHExecutor runs commands on a remote host over one reused ssh
// connection. Each argv element is single-quoted for the remote shell
// (ShellQuote), so caller text is never spliced into the command line.
type SSHExecutor struct {
	cfg    SSHConfig
	addr   string
	signer ssh.Signer
	hostCB ssh.HostKeyCallback
	algos  []string

	mu     sync.Mutex
	client *ssh.Client
	closed bool
}

// NewSSHExecutor checks cfg, loads the private key and the known_hosts
// file, and returns an executor that connects on first use.
func NewSSHExecutor(cfg SSHConfig) (*SSHExecutor, error) {
	if strings.TrimSpace(cfg.Addr) == "" {
		return nil, errors.New("ssh: addr: give the node's host:port")
	}
	addr := cfg.Addr
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "22")
	}
	if cfg.User == "" {
		return nil, errors.New("ssh: user: give the remote user name")
	}
	key := cfg.Key
	if cfg.KeyFile != "" {
		if len(key) > 0 {
			return nil, errors.New("ssh: give key_file or key bytes, not both")
		}
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh: key file: %w", err)
		}
		key = b
	}
	if len(key) == 0 {
		return nil, errors.New("ssh: no private key: give key_file (or the key bytes)")
	}
	var signer ssh.Signer
	var err error
	if len(cfg.Passphrase) > 0 {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(key, cfg.Passphrase)
	} else {
		signer, err = ssh.ParsePrivateKey(key)
	}
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, errors.New("ssh: the private key is encrypted: give its passphrase")
	}
	if err != nil {
		return nil, fmt.Errorf("ssh: private key: %w", err)
	}
	e := &SSHExecutor{cfg: cfg, addr: addr, signer: signer}
	switch {
	case cfg.KnownHostsFile != "" && cfg.InsecureIgnoreHostKey:
		return nil, errors.New("ssh: give known_hosts_file or insecure_ignore_host_key, not both")
	case cfg.KnownHostsFile != "":
		cb, err := knownhosts.New(cfg.KnownHostsFile)
		if err != nil {
			return nil, fmt.Errorf("ssh: known_hosts: %w", err)
		}
		e.hostCB = cb
		e.algos = knownAlgorithms(cb, addr)
	case cfg.InsecureIgnoreHostKey:
		e.hostCB = ssh.InsecureIgnoreHostKey()
	default:
		return nil, errors.New("ssh: host key checking is on: give known_hosts_file listing the node's key (ssh-keyscan), or set insecure_ignore_host_key for a throwaway host")
	}
	return e, nil
}

// knownAlgorithms returns the host key algorithms known_hosts lists for
// addr, so that the server is asked for a key it can be checked against
// (not one of a type the file does not hold).
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil
	}
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, tcp, probe.PublicKey()), &ke) {
		return nil
	}
	var out []string
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			out = append(out, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			out = append(out, t)
		}
	}
	return out
}

// String names the remote end: ssh://user@host:port.
func (e *SSHExecutor) String() string { return "ssh://" + e.cfg.User + "@" + e.addr }

// CommandLine returns the exact shell line Run sends for argv.
func (e *SSHExecutor) CommandLine(argv []string) string { return ShellQuote(argv) }

// Run runs argv on the remote host and returns its capped stdout and
// stderr and its exit status. err is set when the command could not be
// run, was cut off by ctx or the timeout, or ended without a status.
func (e *SSHExecutor) Run(ctx context.Context, argv []string) ([]byte, []byte, int, error) {
	return e.RunStdin(ctx, argv, nil)
}

// RunStdin is Run with stdin fed to the command's standard input.
func (e *SSHExecutor) RunStdin(ctx context.Context, argv []string, stdin []byte) ([]byte, []byte, int, error) {
	r := e.exec(ctx, argv, stdin)
	var err error
	if r.Err != "" {
		err = errors.New(r.Err)
	}
	return []byte(r.Stdout), []byte(r.Stderr), r.Exit, err
}

// Exec runs argv (stdin may be nil) and returns the whole record: the
// shell line sent, raw output, exit status, signal, truncation.
func (e *SSHExecutor) Exec(ctx context.Context, argv []string, stdin []byte) CommandRun {
	return e.exec(ctx, argv, stdin)
}

func (e *SSHExecutor) exec(ctx context.Context, argv []string, stdin []byte) (r CommandRun) {
	r = CommandRun{Host: e.String(), Argv: append([]string(nil), argv...), Exit: -1, Start: time.Now().UTC()}
	if stdin != nil {
		r.Stdin = string(stdin)
	}
	defer func() { r.Duration = time.Since(r.Start) }()
	if len(argv) == 0 || argv[0] == "" {
		r.Err = "argv: empty; give the program to run"
		return r
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			r.Err = fmt.Sprintf("argv[%d]: contains a NUL byte, which no remote command can receive", i)
			return r
		}
	}
	r.Line = ShellQuote(argv)
	timeout := e.cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	limit := e.cfg.OutputCap
	if limit <= 0 {
		limit = 64 << 10
	}

	sess, err := e.session(ctx)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer sess.Close()
	stdout, stderr := &lockedCap{c: capBuffer{n: limit}}, &lockedCap{c: capBuffer{n: limit}}
	sess.Stdout, sess.Stderr = stdout, stderr
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	if err := sess.Start(r.Line); err != nil {
		r.Err = fmt.Sprintf("%s: starting %s: %v", e, argv[0], err)
		return r
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Ask the remote end to kill it (recent OpenSSH honours signal
		// requests), then drop the channel: sshd closes the
		// command's pipes. An older sshd leaves a command that never
		// writes running: bound such commands with timeout(1) too.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		r.Stdout, r.Stderr = stdout.String(), stderr.String()
		r.Truncated = stdout.dropped() > 0 || stderr.dropped() > 0
		r.Err = fmt.Sprintf("%s: %s: %v after %s", e, argv[0], ctx.Err(), time.Since(r.Start).Round(time.Millisecond))
		return r
	}
	r.Stdout, r.Stderr = stdout.String(), stderr.String()
	r.Truncated = stdout.dropped() > 0 || stderr.dropped() > 0
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		r.Exit = 0
	case errors.As(err, &ee):
		if ee.Signal() != "" {
			r.Signal = ee.Signal()
			r.Exit = -1
		} else {
			r.Exit = ee.ExitStatus()
		}
	case errors.As(err, &missing):
		r.Err = fmt.Sprintf("%s: %s ended without an exit status (the connection dropped or sshd killed it)", e, argv[0])
	default:
		r.Err = fmt.Sprintf("%s: %s: %v", e, argv[0], err)
	}
	return r
}

// session opens a session on the shared connection, dialling (again)
// when there is none or the old one is dead. A connection that does not
// answer the session request before ctx ends is closed, so that the next
// call dials afresh.
func (e *SSHExecutor) session(ctx context.Context) (*ssh.Session, error) {
	c, fresh, err := e.conn(ctx)
	if err != nil {
		return nil, err
	}
	s, err := newSession(ctx, c)
	if err == nil {
		return s, nil
	}
	e.drop(c)
	if fresh || ctx.Err() != nil {
		return nil, fmt.Errorf("%s: opening a session: %w", e, err)
	}
	// The reused connection was dead: dial once more.
	if c, _, err = e.conn(ctx); err != nil {
		return nil, err
	}
	if s, err = newSession(ctx, c); err != nil {
		e.drop(c)
		return nil, fmt.Errorf("%s: opening a session: %w", e, err)
	}
	return s, nil
}

// conn returns the shared connection, dialling it when there is none;
// fresh says it was just dialled.
func (e *SSHExecutor) conn(ctx context.Context) (*ssh.Client, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false, fmt.Errorf("%s: executor is closed", e)
	}
	if e.client != nil {
		return e.client, false, nil
	}
	c, err := e.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	e.client = c
	return c, true, nil
}

// drop closes c and forgets it if it is still the shared connection.
func (e *SSHExecutor) drop(c *ssh.Client) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client == c {
		e.client = nil
	}
	c.Close()
}

func newSession(ctx context.Context, c *ssh.Client) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := c.NewSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func (e *SSHExecutor) dial(ctx context.Context) (*ssh.Client, error) {
	dt := e.cfg.DialTimeout
	if dt <= 0 {
		dt = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, dt)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: connecting: %w", e, err)
	}
	// The handshake has no context: bound it by the deadline.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	cfg := &ssh.ClientConfig{
		User:              e.cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(e.signer)},
		HostKeyCallback:   e.hostCB,
		HostKeyAlgorithms: e.algos,
		Timeout:           dt,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, e.addr, cfg)
	if err != nil {
		conn.Close()
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			if len(ke.Want) == 0 {
				return nil, fmt.Errorf("%s: host key refused: the host is not in %s (add it with ssh-keyscan after checking its fingerprint): %w", e, e.cfg.KnownHostsFile, err)
			}
			return nil, fmt.Errorf("%s: host key refused: it does not match the key in %s (a changed host or a man in the middle): %w", e, e.cfg.KnownHostsFile, err)
		}
		return nil, fmt.Errorf("%s: ssh handshake: %w", e, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// Close closes the connection; later calls to Run fail.
func (e *SSHExecutor) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.client == nil {
		return nil
	}
	err := e.client.Close()
	e.client = nil
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// lockedCap is a capBuffer safe for the ssh session's copy goroutines.
type lockedCap struct {
	mu sync.Mutex
	c  capBuffer
}

func (w *lockedCap) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c.Write(p)
}

func (w *lockedCap) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.c.b)
}

func (w *lockedCap) dropped() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c.dropped
}

// RemoteNet is a kernel network fault on a remote Linux host (a node
// reached through an Executor, usually an SSHExecutor), installed with
// the host's own nft(8) in the owner's table falsify_<owner>: one chain
// per direction named <id>_out / <id>_in, a counter on every rule. With
// Tool "iptables" (hosts without nft) the rules go in chains
// fz<owner hash>_<id>_o / _i, jumped to from OUTPUT / INPUT by a rule
// commented "falsify_<owner> <id>". Evidence is read on the host: the
// rule counters going from 0 to N while a connect probe run on the host
// crosses the rules, and that probe reaching the peer before and timing
// out after. Every command and its raw output is kept in Log.
type RemoteNet struct {
	Exec  Executor `json:"-"`
	Owner string   `json:"owner"` // sanitized with SanitizeOwner
	ID    string   `json:"id"`    // the fault ID: [A-Za-z0-9_-]
	// Tool is nft (the default) or iptables (ip6tables for an IPv6 peer).
	Tool string `json:"tool,omitempty"`
	// Kind is drop (both directions), drop-oneway (Direction out or in)
	// or loss (Probability of the packets, Direction both, out or in).
	Kind        string  `json:"kind"`
	Peer        string  `json:"peer"`            // the IP whose traffic is cut, as seen from the node
	Port        int     `json:"port,omitempty"`  // narrow to this port of the peer
	Proto       string  `json:"proto,omitempty"` // tcp or udp; tcp when Port is set
	Direction   string  `json:"direction,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	// ProbePort is the peer port the node's connect probe dials: Port,
	// else 9 (a closed port answers RST, which proves reachability too).
	ProbePort int `json:"probe_port,omitempty"`

	// Before is the baseline connect outcome (ok, refused, timeout, …).
	Before string `json:"before,omitempty"`

	Log []CommandRun `json:"log"`
}

// Table returns the owner's table name, falsify_<owner>.
func (r *RemoteNet) Table() string { return "falsify_" + SanitizeOwner(r.Owner) }

// Chains returns the fault's chain names: in the nft table, or the
// iptables filter table.
func (r *RemoteNet) Chains() []string {
	var out []string
	for _, d := range r.dirs() {
		if r.Tool == "iptables" {
			out = append(out, r.iptChain(d))
		} else {
			out = append(out, r.ID+"_"+d)
		}
	}
	return out
}

// iptChainPrefix starts every iptables chain of the owner: fz plus 8 hex
// digits of a hash of the owner (chain names are at most 28 bytes).
func (r *RemoteNet) iptChainPrefix() string {
	sum := sha256.Sum256([]byte(SanitizeOwner(r.Owner)))
	return "fz" + hex.EncodeToString(sum[:4]) + "_"
}

func (r *RemoteNet) iptChain(dir string) string { return r.iptChainPrefix() + r.ID + "_" + dir[:1] }

// iptBin is iptables, or ip6tables for an IPv6 peer.
func (r *RemoteNet) iptBin() string {
	if ip := net.ParseIP(strings.TrimSpace(r.Peer)); ip != nil && ip.To4() == nil {
		return "ip6tables"
	}
	return "iptables"
}

func (r *RemoteNet) ipt(args ...string) []string {
	return append([]string{r.iptBin(), "-w", "5"}, args...)
}

// iptHook is the built-in chain a direction's chain is jumped to from.
func iptHook(chain string) string {
	if strings.HasSuffix(chain, "_i") {
		return "INPUT"
	}
	return "OUTPUT"
}

func (r *RemoteNet) dirs() []string {
	switch {
	case r.Kind == "drop", r.Kind == "loss" && (r.Direction == "" || r.Direction == "both"):
		return []string{"out", "in"}
	}
	return []string{r.Direction}
}

// check validates the fault; every value that reaches the ruleset is
// checked here, so the ruleset text cannot carry anything else.
func (r *RemoteNet) check() (net.IP, string, error) {
	if r.Exec == nil {
		return nil, "", errors.New("remote net fault: no executor for the node")
	}
	if r.ID == "" || strings.IndexFunc(r.ID, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')
	}) >= 0 {
		return nil, "", fmt.Errorf("id %q: want letters, digits, _ or -", r.ID)
	}
	switch r.Tool {
	case "", "nft":
	case "iptables":
		if n := len(r.iptChain("out")); n > 28 {
			return nil, "", fmt.Errorf("id %q: too long for an iptables chain name (%d bytes, at most 28)", r.ID, n)
		}
	default:
		return nil, "", fmt.Errorf("tool %q: want nft or iptables", r.Tool)
	}
	ip := net.ParseIP(strings.TrimSpace(r.Peer))
	if ip == nil {
		return nil, "", fmt.Errorf("peer %q: not an IP address", r.Peer)
	}
	if r.Port < 0 || r.Port > 65535 || r.ProbePort < 0 || r.ProbePort > 65535 {
		return nil, "", errors.New("port: out of range 0..65535")
	}
	proto := r.Proto
	if proto == "" && r.Port != 0 {
		proto = "tcp"
	}
	if proto != "" && proto != "tcp" && proto != "udp" {
		return nil, "", fmt.Errorf("proto %q: want tcp or udp", r.Proto)
	}
	switch r.Kind {
	case "drop":
	case "drop-oneway":
		if r.Direction != "out" && r.Direction != "in" {
			return nil, "", fmt.Errorf("direction %q: drop-oneway wants out (packets to the peer dropped) or in (packets from it)", r.Direction)
		}
	case "loss":
		if r.Direction != "" && r.Direction != "both" && r.Direction != "out" && r.Direction != "in" {
			return nil, "", fmt.Errorf("direction %q: want both, out or in", r.Direction)
		}
		if r.Probability <= 0 || r.Probability > 1 {
			return nil, "", fmt.Errorf("probability %v: give a fraction in (0, 1]", r.Probability)
		}
	default:
		return nil, "", fmt.Errorf("kind %q: a remote kernel network fault is drop, drop-oneway or loss", r.Kind)
	}
	return ip, proto, nil
}

// Ruleset returns the nft(8) ruleset that installs the fault, for
// nft -f - (it adds to the owner's table, creating it if absent).
func (r *RemoteNet) Ruleset() (string, error) {
	ip, proto, err := r.check()
	if err != nil {
		return "", err
	}
	fam := "ip"
	if ip.To4() == nil {
		fam = "ip6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", r.Table())
	for _, d := range r.dirs() {
		hook, addr, port := "output", "daddr", "dport"
		if d == "in" {
			hook, addr, port = "input", "saddr", "sport"
		}
		match := fmt.Sprintf("%s %s %s", fam, addr, ip)
		if proto != "" {
			if r.Port != 0 {
				match += fmt.Sprintf(" %s %s %d", proto, port, r.Port)
			} else {
				match += " meta l4proto " + proto
			}
		}
		if r.Kind == "loss" && r.Probability < 1 {
			match += fmt.Sprintf(" numgen random mod 10000 < %d", int(r.Probability*10000))
		}
		fmt.Fprintf(&b, "\tchain %s_%s {\n\t\ttype filter hook %s priority filter; policy accept;\n\t\t%s counter drop\n\t}\n", r.ID, d, hook, match)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// ApplyCommand returns the command that installs the fault: nft -f - with
// the ruleset on stdin, or, for an executor that cannot feed stdin, the
// ruleset as one nft argument (nft reads ; as a line break).
func (r *RemoteNet) ApplyCommand() (argv []string, stdin []byte, err error) {
	rs, err := r.Ruleset()
	if err != nil {
		return nil, nil, err
	}
	if _, ok := r.Exec.(StdinRunner); ok {
		return []string{"nft", "-f", "-"}, []byte(rs), nil
	}
	line := strings.NewReplacer("{\n", "{ ", "\n", "; ", "\t", "").Replace(rs)
	return []string{"nft", strings.TrimSuffix(strings.TrimSpace(line), ";")}, nil, nil
}

// IPTablesCommands returns the iptables commands that install the fault,
// in order: per direction, create the chain, add the counted DROP rule,
// and jump to it from OUTPUT / INPUT with a rule commented
// "falsify_<owner> <id>".
func (r *RemoteNet) IPTablesCommands() ([][]string, error) {
	ip, proto, err := r.check()
	if err != nil {
		return nil, err
	}
	var cmds [][]string
	for _, d := range r.dirs() {
		ch := r.iptChain(d)
		addr, port := "-d", "--dport"
		if d == "in" {
			addr, port = "-s", "--sport"
		}
		rule := r.ipt("-A", ch, addr, ip.String())
		if proto != "" {
			rule = append(rule, "-p", proto)
			if r.Port != 0 {
				rule = append(rule, port, strconv.Itoa(r.Port))
			}
		}
		if r.Kind == "loss" && r.Probability < 1 {
			rule = append(rule, "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(r.Probability, 'f', -1, 64))
		}
		rule = append(rule, "-j", "DROP")
		cmds = append(cmds, r.ipt("-N", ch), rule, r.ipt("-I", iptHook(ch), "-m", "comment", "--comment", r.Table()+" "+r.ID, "-j", ch))
	}
	return cmds, nil
}

// ListCommand reads the owner's table as JSON, counters included.
func (r *RemoteNet) ListCommand() []string {
	return []string{"nft", "-j", "list", "table", "inet", r.Table()}
}

// DeleteTableCommand deletes the owner's whole table (every fault of the
// owner on the node): the heal of last resort after a crash.
func (r *RemoteNet) DeleteTableCommand() []string {
	return []string{"nft", "delete", "table", "inet", r.Table()}
}

// ProbeCommand is the connect probe run on the node: a TCP connect (or,
// for udp, one datagram) to Peer:ProbePort with bash's /dev/tcp under
// timeout(1). Peer and port are passed as arguments, never spliced into
// the script. Exit 0 reached, 124 timed out, else failed (stderr says
// why: "Connection refused" is a reachable host).
func (r *RemoteNet) ProbeCommand() []string {
	port := r.ProbePort
	if port == 0 {
		port = r.Port
	}
	if port == 0 {
		port = 9
	}
	dev := "tcp"
	if r.Proto == "udp" {
		dev = "udp"
	}
	return []string{"timeout", "2", "bash", "-c", `exec 3<>"/dev/` + dev + `/$0/$1" && echo x >&3`, strings.TrimSpace(r.Peer), fmt.Sprint(port)}
}

// BurstCommand sends n probe packets across a loss rule from the node:
// n UDP datagrams, or up to 20 short TCP connects (SYNs).
func (r *RemoteNet) BurstCommand(n int) []string {
	p := r.ProbeCommand()
	if r.Proto == "udp" {
		return []string{"bash", "-c", `exec 3<>"/dev/udp/$0/$1" || exit 1; for i in $(seq "$2"); do echo x >&3 2>/dev/null; done; exit 0`, p[5], p[6], fmt.Sprint(n)}
	}
	n = min(n, 20) // each dropped SYN costs the 0.2 s connect timeout
	return []string{"bash", "-c", `for i in $(seq "$2"); do timeout 0.2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$0" "$1" 2>/dev/null; done; exit 0`, p[5], p[6], fmt.Sprint(n)}
}

// run runs one command on the node and logs it.
func (r *RemoteNet) run(ctx context.Context, argv []string, stdin []byte) (CommandRun, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout+5*time.Second)
	defer cancel()
	c, err := runLogged(ctx, r.Exec, argv, stdin)
	r.Log = append(r.Log, c)
	return c, err
}

// connect runs the node's connect probe: ok, refused, timeout or error.
func (r *RemoteNet) connect(ctx context.Context) (string, CommandRun) {
	c, err := r.run(ctx, r.ProbeCommand(), nil)
	switch {
	case err != nil:
		return "error: " + err.Error(), c
	case c.Exit == 0:
		return "ok", c
	case c.Exit == 124:
		return "timeout", c
	case c.Exit == 126 || c.Exit == 127:
		return "unmeasured (bash or timeout(1) missing on the node)", c
	case strings.Contains(c.Stderr, "refused"):
		return "refused", c
	}
	return fmt.Sprintf("failed (exit %d)", c.Exit), c
}

func reachedOutcome(s string) bool { return s == "ok" || s == "refused" }

// Counters reads the packet and byte counters of the fault's rules with
// nft -j list table (or iptables -L -v -x), by chain.
func (r *RemoteNet) Counters(ctx context.Context) (map[string][2]uint64, CommandRun, error) {
	if r.Tool == "iptables" {
		return r.iptCounters(ctx)
	}
	c, err := r.run(ctx, r.ListCommand(), nil)
	if err != nil {
		return nil, c, err
	}
	if c.Exit != 0 {
		return nil, c, fmt.Errorf("%s: exit %d: %s", strings.Join(c.Argv, " "), c.Exit, strings.TrimSpace(c.Stderr))
	}
	all, _, err := parseNFTJSON([]byte(c.Stdout))
	if err != nil {
		return nil, c, err
	}
	out := map[string][2]uint64{}
	for _, ch := range r.Chains() {
		out[ch] = all[ch]
	}
	return out, c, nil
}

func (r *RemoteNet) iptCounters(ctx context.Context) (map[string][2]uint64, CommandRun, error) {
	out := map[string][2]uint64{}
	var last CommandRun
	for _, ch := range r.Chains() {
		c, err := r.run(ctx, r.ipt("-L", ch, "-n", "-v", "-x"), nil)
		last = c
		if err != nil {
			return nil, c, err
		}
		if c.Exit != 0 {
			return nil, c, fmt.Errorf("%s: exit %d: %s", ShellQuote(c.Argv), c.Exit, strings.TrimSpace(c.Stderr))
		}
		out[ch] = parseIPTCounters(c.Stdout)
	}
	return out, last, nil
}

// parseIPTCounters sums the packets and bytes of the DROP rules in the
// output of iptables -L CHAIN -n -v -x.
func parseIPTCounters(s string) [2]uint64 {
	var c [2]uint64
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[2] != "DROP" {
			continue
		}
		p, err1 := strconv.ParseUint(f[0], 10, 64)
		b, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 == nil && err2 == nil {
			c[0] += p
			c[1] += b
		}
	}
	return c
}

// parseNFTJSON sums the rule counters of nft -j output by chain and lists
// the chains present.
func parseNFTJSON(b []byte) (map[string][2]uint64, []string, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("nft -j output: %w", err)
	}
	counts := map[string][2]uint64{}
	var chains []string
	for _, obj := range doc.Nftables {
		if raw, ok := obj["chain"]; ok {
			var ch struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(raw, &ch); err == nil {
				chains = append(chains, ch.Name)
			}
		}
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		var rule struct {
			Chain string                       `json:"chain"`
			Expr  []map[string]json.RawMessage `json:"expr"`
		}
		if err := json.Unmarshal(raw, &rule); err != nil {
			return nil, nil, fmt.Errorf("nft -j rule: %w", err)
		}
		for _, e := range rule.Expr {
			cr, ok := e["counter"]
			if !ok {
				continue
			}
			var ctr struct{ Packets, Bytes uint64 }
			if err := json.Unmarshal(cr, &ctr); err != nil {
				return nil, nil, fmt.Errorf("nft -j counter: %w", err)
			}
			c := counts[rule.Chain]
			c[0] += ctr.Packets
			c[1] += ctr.Bytes
			counts[rule.Chain] = c
		}
	}
	return counts, chains, nil
}

// Apply reads the baseline (a connect probe from the node), installs the
// rules and measures the landing: counters 0→N while the probe (or, for
// loss, a burst) crosses them, and the peer cut off where it was
// reachable. A failed install is rolled back (the fault's chains
// deleted) and reported not landed, with the error.
func (r *RemoteNet) Apply(ctx context.Context) Outcome {
	var out Outcome
	if _, _, err := r.check(); err != nil {
		out.Reason = "not applied: " + err.Error()
		return out
	}
	out.Evidence = append(out.Evidence, r.Baseline(ctx))
	ev, err := r.Install(ctx)
	out.Evidence = append(out.Evidence, ev)
	if err != nil {
		r.Remove(ctx)
		out.Reason = "apply failed and was rolled back: " + err.Error()
		return out
	}
	return r.probe(ctx, out)
}

// Baseline runs the connect probe from the node before the fault and
// keeps its outcome in Before.
func (r *RemoteNet) Baseline(ctx context.Context) Evidence {
	before, bc := r.connect(ctx)
	r.Before = before
	return cmdEvidence("connect probe on the node (baseline)", "", before, bc, SideVictim)
}

// Install runs the ApplyCommand (or the IPTablesCommands) on the node.
func (r *RemoteNet) Install(ctx context.Context) (Evidence, error) {
	if r.Tool == "iptables" {
		cmds, err := r.IPTablesCommands()
		if err != nil {
			return Evidence{Probe: "iptables install on the node", After: "not run: " + err.Error()}, err
		}
		var runs []CommandRun
		for _, argv := range cmds {
			c, err := r.run(ctx, argv, nil)
			runs = append(runs, c)
			if err == nil && c.Exit != 0 {
				err = fmt.Errorf("%s: exit %d: %s", ShellQuote(argv), c.Exit, strings.TrimSpace(c.Stderr))
			}
			if err != nil {
				return Evidence{Probe: "iptables install on the node", After: "failed: " + err.Error(), Measured: true, Side: SideInjector, Raw: map[string]any{"commands": runs}}, err
			}
		}
		return Evidence{Probe: "iptables install on the node", After: fmt.Sprintf("%d commands, exit 0", len(runs)), Measured: true, Side: SideInjector, Raw: map[string]any{"commands": runs}}, nil
	}
	argv, stdin, err := r.ApplyCommand()
	if err != nil {
		return Evidence{Probe: "nft install on the node", After: "not run: " + err.Error()}, err
	}
	c, err := r.run(ctx, argv, stdin)
	if err == nil && c.Exit != 0 {
		err = fmt.Errorf("exit %d: %s", c.Exit, strings.TrimSpace(c.Stderr))
	}
	if err != nil {
		return cmdEvidence("nft install on the node", "", "failed: "+err.Error(), c, SideInjector), err
	}
	return cmdEvidence("nft install on the node", "", "exit 0", c, SideInjector), nil
}

// Probe measures the landing of installed rules (see Apply).
func (r *RemoteNet) Probe(ctx context.Context) Outcome { return r.probe(ctx, Outcome{}) }

func (r *RemoteNet) probe(ctx context.Context, out Outcome) Outcome {
	c0, lc0, err := r.Counters(ctx)
	if err != nil {
		out.Reason = "cannot read the rule counters on the node: " + err.Error()
		return out
	}
	var after string
	var pc CommandRun
	if r.Kind == "loss" {
		pc, err = r.run(ctx, r.BurstCommand(50), nil)
		after = fmt.Sprintf("burst sent (exit %d)", pc.Exit)
		if err != nil || pc.Exit != 0 {
			out.Evidence = append(out.Evidence, cmdEvidence("probe burst on the node", "", "failed", pc, SideInjector))
			out.Reason = "cannot send the probe burst on the node: " + pick(err != nil, fmt.Sprint(err), pc.Stderr)
			return out
		}
	} else {
		after, pc = r.connect(ctx)
	}
	c1, lc1, err := r.Counters(ctx)
	if err != nil {
		out.Reason = "cannot read the rule counters on the node: " + err.Error()
		return out
	}
	var total uint64
	for _, ch := range r.Chains() {
		total += c1[ch][0] - min(c0[ch][0], c1[ch][0])
		out.Evidence = append(out.Evidence, Evidence{
			Probe:  r.counterProbe(ch),
			Before: fmt.Sprintf("%d packets", c0[ch][0]), After: fmt.Sprintf("%d packets, %d bytes", c1[ch][0], c1[ch][1]),
			Raw:      map[string]any{"packets_before": c0[ch][0], "packets_after": c1[ch][0], "bytes_after": c1[ch][1], "commands": []CommandRun{lc0, lc1}},
			Measured: true, Side: SideInjector})
	}
	if r.Kind == "loss" {
		out.Evidence = append(out.Evidence, cmdEvidence("probe burst on the node (50 packets)", "", after, pc, SideInjector))
		out.Landed = total > 0
		out.Reason = pick(out.Landed, fmt.Sprintf("the loss rules on the node counted %d dropped probe packets", total), "the loss rules' counters on the node did not move under a burst of probe packets")
		return out
	}
	out.Evidence = append(out.Evidence, cmdEvidence("connect probe on the node", r.Before, after, pc, SideVictim))
	cut := !reachedOutcome(after) && !strings.HasPrefix(after, "unmeasured")
	out.Landed = total > 0 && (cut || r.Proto == "udp")
	switch {
	case out.Landed && reachedOutcome(r.Before):
		out.Reason = fmt.Sprintf("the drop rules on the node counted %d packets and the peer, reachable before (%s), is cut off (%s)", total, r.Before, after)
	case out.Landed:
		out.Reason = fmt.Sprintf("the drop rules on the node counted %d packets; the connect probe was not reaching the peer before (%s), so only the counters prove it", total, r.Before)
	case total == 0:
		out.Reason = "no packet hit the drop rules on the node: the counters did not move"
	default:
		out.Reason = "the counters moved but the peer is still reachable from the node: " + after
	}
	return out
}

func (r *RemoteNet) counterProbe(ch string) string {
	if r.Tool == "iptables" {
		return fmt.Sprintf("%s -L %s -n -v -x on %s: DROP rule counter", r.iptBin(), ch, hostName(r.Exec))
	}
	return fmt.Sprintf("nft -j list table inet %s on %s: chain %s counter", r.Table(), hostName(r.Exec), ch)
}

// Remove deletes the fault's chains on the node, then the owner's table
// if no chain is left in it (iptables: the jump rules, then the chains).
// It returns the last error met.
func (r *RemoteNet) Remove(ctx context.Context) error {
	if r.Tool == "iptables" {
		return r.iptRemove(ctx, r.Chains())
	}
	var last error
	for _, ch := range r.Chains() {
		c, err := r.run(ctx, []string{"nft", "delete", "chain", "inet", r.Table(), ch}, nil)
		if err == nil && c.Exit != 0 && !strings.Contains(c.Stderr, "No such file") {
			err = fmt.Errorf("nft delete chain %s: exit %d: %s", ch, c.Exit, strings.TrimSpace(c.Stderr))
		}
		if err != nil {
			last = err
		}
	}
	c, err := r.run(ctx, r.ListCommand(), nil)
	if err != nil {
		return err
	}
	if c.Exit != 0 {
		return last // no table: nothing left
	}
	_, chains, err := parseNFTJSON([]byte(c.Stdout))
	if err != nil {
		return err
	}
	if len(chains) == 0 {
		d, err := r.run(ctx, r.DeleteTableCommand(), nil)
		if err == nil && d.Exit != 0 {
			err = fmt.Errorf("nft delete table %s: exit %d: %s", r.Table(), d.Exit, strings.TrimSpace(d.Stderr))
		}
		if err != nil {
			last = err
		}
	}
	return last
}

// iptRemove deletes the jump rules to chains, then the chains.
func (r *RemoteNet) iptRemove(ctx context.Context, chains []string) error {
	var last error
	for _, ch := range chains {
		id := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(ch, r.iptChainPrefix()), "_o"), "_i")
		for range 10 { // one jump per install; more if installed twice
			c, err := r.run(ctx, r.ipt("-D", iptHook(ch), "-m", "comment", "--comment", r.Table()+" "+id, "-j", ch), nil)
			if err != nil {
				last = err
			}
			if err != nil || c.Exit != 0 {
				break
			}
		}
		for _, op := range []string{"-F", "-X"} {
			c, err := r.run(ctx, r.ipt(op, ch), nil)
			if err == nil && c.Exit != 0 && !iptNoChain(c.Stderr) {
				err = fmt.Errorf("%s: exit %d: %s", ShellQuote(c.Argv), c.Exit, strings.TrimSpace(c.Stderr))
			}
			if err != nil {
				last = err
			}
		}
	}
	return last
}

// iptJumps reports whether iptables -S output holds a rule jumping to ch.
func iptJumps(rules, ch string) bool {
	for _, l := range strings.Split(rules, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "-j" && f[i+1] == ch {
				return true
			}
		}
	}
	return false
}

// iptNoChain reports an iptables error for a chain that does not exist.
func iptNoChain(stderr string) bool {
	return strings.Contains(stderr, "No chain") || strings.Contains(stderr, "does not exist") || strings.Contains(stderr, "incompatible")
}

// iptChains lists the chains of the filter table (iptables -S) that
// start with prefix; ok is false when the listing failed.
func (r *RemoteNet) iptChains(ctx context.Context, prefix string) ([]string, CommandRun, error) {
	c, err := r.run(ctx, r.ipt("-S"), nil)
	if err != nil {
		return nil, c, err
	}
	if c.Exit != 0 {
		return nil, c, fmt.Errorf("%s: exit %d: %s", ShellQuote(c.Argv), c.Exit, strings.TrimSpace(c.Stderr))
	}
	var out []string
	for _, l := range strings.Split(c.Stdout, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "-N" && strings.HasPrefix(f[1], prefix) {
			out = append(out, f[1])
		}
	}
	return out, c, nil
}

// Heal deletes the fault's chains (and the owner's table once empty) and
// measures the recovery: the chains gone in nft -j list, and the peer
// reachable again from the node where it was before.
func (r *RemoteNet) Heal(ctx context.Context) Outcome {
	herr := r.Remove(ctx)
	out := r.Verify(ctx)
	if herr != nil && !out.Healed {
		out.Reason = fmt.Sprintf("heal failed: %v; %s", herr, out.Reason)
	}
	return out
}

// Verify is the heal probe: the fault's chains are gone from the node and
// the peer, reachable before, is reachable again.
func (r *RemoteNet) Verify(ctx context.Context) Outcome {
	var out Outcome
	var c CommandRun
	var err error
	gone := false
	var left []string
	switch {
	case r.Tool == "iptables":
		var chains []string
		chains, c, err = r.iptChains(ctx, r.iptChainPrefix())
		if err == nil {
			for _, ch := range chains {
				if contains(r.Chains(), ch) {
					left = append(left, ch)
				}
			}
			for _, ch := range r.Chains() {
				if iptJumps(c.Stdout, ch) && !contains(left, ch) {
					left = append(left, ch+" (jump)")
				}
			}
			gone = len(left) == 0
		}
	default:
		c, err = r.run(ctx, r.ListCommand(), nil)
	}
	switch {
	case r.Tool == "iptables":
	case err != nil:
	case c.Exit != 0 && strings.Contains(c.Stderr, "No such file"):
		gone = true
	case c.Exit == 0:
		_, chains, perr := parseNFTJSON([]byte(c.Stdout))
		if perr == nil {
			for _, ch := range chains {
				if contains(r.Chains(), ch) {
					left = append(left, ch)
				}
			}
			gone = len(left) == 0
		}
	}
	after := pick(gone, "absent", "present: "+strings.Join(left, ", "))
	if c.Exit != 0 && gone {
		after = "absent (table deleted)"
	}
	what := fmt.Sprintf("nft chains %s in table inet %s on the node", strings.Join(r.Chains(), ", "), r.Table())
	if r.Tool == "iptables" {
		what = fmt.Sprintf("%s chains %s on the node (%s -S)", r.iptBin(), strings.Join(r.Chains(), ", "), r.iptBin())
	}
	if err != nil {
		after = "unreadable: " + err.Error()
	}
	out.Evidence = append(out.Evidence, cmdEvidence(what, "present", after, c, SideInjector))
	recovered := true
	if r.Kind != "loss" && reachedOutcome(r.Before) {
		var now string
		var pc CommandRun
		deadline := time.Now().Add(5 * time.Second)
		for {
			now, pc = r.connect(ctx)
			if reachedOutcome(now) || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
		}
		recovered = reachedOutcome(now)
		out.Evidence = append(out.Evidence, cmdEvidence("connect probe on the node", "cut off", now, pc, SideVictim))
	}
	out.Healed = gone && recovered
	out.Reason = pick(out.Healed, "the fault's rules are gone from the node and the peer is reachable again",
		fmt.Sprintf("rules gone: %t; reachable again: %t", gone, recovered))
	return out
}

// cmdEvidence is an Evidence whose raw part is the command run.
func cmdEvidence(probe, before, after string, c CommandRun, side string) Evidence {
	return Evidence{Probe: probe, Before: before, After: after, Measured: c.Err == "" && c.Exit >= 0, Side: side,
		Raw: map[string]any{"command": c}}
}

// netemHandle marks the root qdisc falsify adds, so that heal deletes
// only its own (tc qdiscs carry no names).
const netemHandle = "fa15:"

// RemoteNetem is a delay and/or loss fault with tc netem on a network
// device of a remote Linux host, through an Executor. It never replaces
// an existing root qdisc (tc qdisc add refuses), and heal deletes the
// root qdisc only while it is falsify's (handle fa15:). A kernel without
// sch_netem refuses the fault with that reason (capability netem).
type RemoteNetem struct {
	Exec   Executor      `json:"-"`
	Dev    string        `json:"dev"` // e.g. eth0
	Delay  time.Duration `json:"delay,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	Loss   float64       `json:"loss,omitempty"` // fraction (0, 1]
	// Peer and ProbePort, when set, are dialled from the node (as
	// RemoteNet's probe) so that packets cross the qdisc while it is
	// measured.
	Peer      string `json:"peer,omitempty"`
	ProbePort int    `json:"probe_port,omitempty"`

	Log []CommandRun `json:"log"`
}

var devRE = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// ApplyCommand returns the tc command that installs the qdisc.
func (r *RemoteNetem) ApplyCommand() ([]string, error) {
	if !devRE.MatchString(r.Dev) {
		return nil, fmt.Errorf("dev %q: not a network device name", r.Dev)
	}
	if r.Delay < 0 || r.Jitter < 0 || r.Jitter > 0 && r.Delay == 0 {
		return nil, errors.New("delay, jitter: give a delay ≥ 0, and a jitter only with a delay")
	}
	if r.Loss < 0 || r.Loss > 1 {
		return nil, fmt.Errorf("loss %v: give a fraction in (0, 1]", r.Loss)
	}
	if r.Delay == 0 && r.Loss == 0 {
		return nil, errors.New("netem: give a delay, a loss, or both")
	}
	argv := []string{"tc", "qdisc", "add", "dev", r.Dev, "root", "handle", netemHandle, "netem"}
	if r.Delay > 0 {
		argv = append(argv, "delay", tcTime(r.Delay))
		if r.Jitter > 0 {
			argv = append(argv, tcTime(r.Jitter))
		}
	}
	if r.Loss > 0 {
		argv = append(argv, "loss", strconv.FormatFloat(r.Loss*100, 'f', -1, 64)+"%")
	}
	return argv, nil
}

func tcTime(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "us" }

// ShowCommand reads the device's qdiscs with their statistics.
func (r *RemoteNetem) ShowCommand() []string {
	return []string{"tc", "-s", "qdisc", "show", "dev", r.Dev}
}

// HealCommand deletes the root qdisc (run only while it is falsify's).
func (r *RemoteNetem) HealCommand() []string {
	return []string{"tc", "qdisc", "del", "dev", r.Dev, "root", "handle", netemHandle}
}

func (r *RemoteNetem) run(ctx context.Context, argv []string) (CommandRun, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	c, err := runLogged(ctx, r.Exec, argv, nil)
	r.Log = append(r.Log, c)
	return c, err
}

var sentRE = regexp.MustCompile(`Sent (\d+) bytes (\d+) pkt \(dropped (\d+)`)

// show reads falsify's netem qdisc: its line, sent packets and drops;
// ok is false when the root qdisc is not falsify's.
func (r *RemoteNetem) show(ctx context.Context) (line string, sent, dropped uint64, ok bool, c CommandRun, err error) {
	c, err = r.run(ctx, r.ShowCommand())
	if err != nil {
		return "", 0, 0, false, c, err
	}
	if c.Exit != 0 {
		return "", 0, 0, false, c, fmt.Errorf("%s: exit %d: %s", strings.Join(c.Argv, " "), c.Exit, strings.TrimSpace(c.Stderr))
	}
	lines := strings.Split(c.Stdout, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "qdisc netem "+netemHandle+" root") {
			continue
		}
		if i+1 < len(lines) {
			if m := sentRE.FindStringSubmatch(lines[i+1]); m != nil {
				sent, _ = strconv.ParseUint(m[2], 10, 64)
				dropped, _ = strconv.ParseUint(m[3], 10, 64)
			}
		}
		return strings.TrimSpace(l), sent, dropped, true, c, nil
	}
	return "", 0, 0, false, c, nil
}

// Apply installs the qdisc and measures it: the kernel lists falsify's
// netem qdisc with the parameters asked for, and, with a Peer, the
// qdisc's packet counter moves while the node dials it. A kernel without
// netem is a *RefusalError; other failures are reported not landed.
func (r *RemoteNetem) Apply(ctx context.Context) (Outcome, error) {
	var out Outcome
	if r.Exec == nil {
		return out, errors.New("netem: no executor for the node")
	}
	argv, err := r.ApplyCommand()
	if err != nil {
		return out, err
	}
	c, err := r.run(ctx, argv)
	if err != nil {
		out.Reason = "not applied: " + err.Error()
		return out, nil
	}
	if c.Exit != 0 {
		msg := strings.TrimSpace(c.Stderr)
		if strings.Contains(msg, "qdisc kind is unknown") {
			return out, &RefusalError{Kind: "netem", Capability: CapNetem, Reason: fmt.Sprintf("the node's kernel has no netem qdisc (%s: %s)", ShellQuote(argv), msg),
				Hint: "use loss through nft (RemoteNet kind loss), or a node whose kernel has sch_netem"}
		}
		out.Evidence = append(out.Evidence, cmdEvidence("tc qdisc add on the node", "", "failed", c, SideInjector))
		out.Reason = fmt.Sprintf("not applied: %s: exit %d: %s", ShellQuote(argv), c.Exit, msg)
		return out, nil
	}
	out.Evidence = append(out.Evidence, cmdEvidence("tc qdisc add on the node", "", "exit 0", c, SideInjector))
	line, sent0, _, ok, sc0, err := r.show(ctx)
	if err != nil || !ok {
		out.Evidence = append(out.Evidence, cmdEvidence("tc -s qdisc show on the node", "", pick(err != nil, fmt.Sprint(err), "no falsify netem qdisc"), sc0, SideInjector))
		out.Reason = "the node does not list falsify's netem qdisc after tc qdisc add"
		return out, nil
	}
	out.Evidence = append(out.Evidence, cmdEvidence("tc -s qdisc show on the node", "", line, sc0, SideInjector))
	out.Landed = true
	out.Reason = "the node's kernel lists falsify's netem qdisc: " + line
	if r.Peer != "" {
		probe := (&RemoteNet{Peer: r.Peer, ProbePort: r.ProbePort}).ProbeCommand()
		pc, _ := r.run(ctx, probe)
		_, sent1, dropped, _, sc1, err := r.show(ctx)
		moved := err == nil && sent1 > sent0
		out.Evidence = append(out.Evidence, cmdEvidence("netem packet counter under a connect probe from the node", fmt.Sprintf("%d pkt", sent0), fmt.Sprintf("%d pkt (%d dropped)", sent1, dropped), sc1, SideInjector))
		out.Evidence[len(out.Evidence)-1].Raw["probe"] = pc
		out.Landed = moved
		out.Reason = pick(moved, fmt.Sprintf("falsify's netem qdisc is installed (%s) and %d probe packets crossed it", line, sent1-sent0),
			"falsify's netem qdisc is installed but no probe packet crossed it: the peer is not routed through "+r.Dev)
	}
	return out, nil
}

// Heal deletes falsify's root qdisc (only while it is falsify's) and
// checks that the node no longer lists it.
func (r *RemoteNetem) Heal(ctx context.Context) Outcome {
	var out Outcome
	_, _, _, ours, c0, err := r.show(ctx)
	if err != nil {
		out.Evidence = append(out.Evidence, cmdEvidence("tc -s qdisc show on the node", "", "unreadable", c0, SideInjector))
		out.Reason = "cannot read the node's qdiscs: " + err.Error()
		return out
	}
	if ours {
		if c, err := r.run(ctx, r.HealCommand()); err != nil || c.Exit != 0 {
			out.Evidence = append(out.Evidence, cmdEvidence("tc qdisc del on the node", "present", "failed", c, SideInjector))
		}
	}
	_, _, _, still, c1, err := r.show(ctx)
	out.Evidence = append(out.Evidence, cmdEvidence("tc -s qdisc show on the node", pick(ours, "falsify netem present", "absent"), pick(still, "falsify netem present", "absent"), c1, SideInjector))
	out.Healed = err == nil && !still
	out.Reason = pick(out.Healed, "falsify's netem qdisc is gone from "+r.Dev, "falsify's netem qdisc is still on "+r.Dev)
	return out
}

// Kernel network faults run on a node target through its executor (ssh):
// the node's own nft(8) cuts its traffic with a peer, in the owner's table
// falsify_<owner> on the node. The local kinds drop, drop-oneway and loss
// cut this host's traffic to the node instead.
func init() {
	for _, k := range []*Kind{
		{Name: "node-drop", Doc: "on the node, through its executor (ssh): drop every packet between the node and params.peer with the node's nft; evidence: the node's nft counters 0→N, a connect from the node to the peer that reached it before times out after"},
		{Name: "node-drop-oneway", Doc: "on the node, through its executor: drop one direction only (params.direction out = node to peer, in = peer to node), the asymmetric partition; evidence as node-drop"},
		{Name: "node-loss", Doc: "on the node, through its executor: drop params.probability of the packets between the node and params.peer (nft numgen); evidence: the node's nft counters 0→N under a probe burst from the node"},
	} {
		k.Params = map[string]string{
			"peer":       "required: the IP address whose traffic the node loses, as the node sees it",
			"port":       "narrow to this port of the peer",
			"proto":      "tcp or udp (default tcp when a port is given)",
			"probe_port": "peer port the node's connect probe dials (default: port, else 9)",
			"tool":       "nft or iptables (default: nft when the node has it, else iptables)",
		}
		switch k.Name {
		case "node-drop-oneway":
			k.Params["direction"] = "required: out (node to peer dropped) or in (peer to node dropped)"
		case "node-loss":
			k.Params["probability"] = "required: fraction of packets dropped, (0, 1]"
			k.Params["direction"] = "both (default), out or in"
		}
		k.Family = "network-kernel"
		k.Targets = []string{TargetNode}
		k.Check = checkNodeNet
		k.Baseline = func(ctx context.Context, _ *Env, a *Applied) error {
			a.state.(*RemoteNet).Baseline(ctx)
			return nil
		}
		k.Apply = func(ctx context.Context, _ *Env, a *Applied) error {
			_, err := a.state.(*RemoteNet).Install(ctx)
			return err
		}
		k.Probe = func(ctx context.Context, _ *Env, a *Applied) Outcome { return a.state.(*RemoteNet).Probe(ctx) }
		k.Heal = func(ctx context.Context, _ *Env, a *Applied) error { return a.state.(*RemoteNet).Remove(ctx) }
		k.HealProbe = func(ctx context.Context, _ *Env, a *Applied) Outcome { return a.state.(*RemoteNet).Verify(ctx) }
		k.Orphan = orphanNodeNet
		register(k)
	}
}

// checkNodeNet builds the node fault from its parameters and checks that
// the node has nft(8), without changing anything.
func checkNodeNet(ctx context.Context, env *Env, a *Applied) error {
	if len(a.targets) != 1 {
		return fmt.Errorf("targets: %s takes one node target per fault", a.Record.Kind)
	}
	t := a.targets[0]
	s := t.snapshot()
	if t.exec == nil {
		return &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("node target %q has no executor: %s runs the node's own nft through one", s.Name, a.Record.Kind),
			Hint: "register the node with ssh (TargetSpec.SSH), or use drop/drop-oneway/loss to cut this host's traffic to it"}
	}
	p := a.params()
	r := &RemoteNet{Exec: t.exec, Owner: env.n.owner, ID: env.n.objName(a.Record.ID), Kind: strings.TrimPrefix(a.Record.Kind, "node-")}
	var err error
	if r.Peer, err = p.str("peer", ""); err != nil {
		return err
	}
	if r.Peer == "" {
		return errors.New("params.peer: give the IP address whose traffic the node loses")
	}
	if r.Port, err = p.int("port", 0); err != nil {
		return err
	}
	if r.ProbePort, err = p.int("probe_port", 0); err != nil {
		return err
	}
	if r.Proto, err = p.str("proto", ""); err != nil {
		return err
	}
	if r.Direction, err = p.str("direction", ""); err != nil {
		return err
	}
	if r.Probability, err = p.float("probability", 0); err != nil {
		return err
	}
	tool, err := p.oneOf("tool", "", "", "nft", "iptables")
	if err != nil {
		return err
	}
	r.Tool = tool
	if _, _, err := r.check(); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	// The tool: the one asked for, else nft, else iptables — each checked
	// to run on the node.
	tools := []string{"nft", "iptables"}
	if tool != "" {
		tools = []string{tool}
	}
	var tried []string
	for _, tl := range tools {
		r.Tool = tl
		bin := "nft"
		if tl == "iptables" {
			bin = r.iptBin()
		}
		vctx, cancel := context.WithTimeout(ctx, remoteTimeout)
		c, err := runLogged(vctx, t.exec, []string{bin, "--version"}, nil)
		cancel()
		r.Log = append(r.Log, c)
		if err != nil && !missingTool(c) {
			return &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("node %s unreachable through its executor: %v", s.Node, err)}
		}
		if c.Exit == 0 {
			if _, _, err := r.check(); err != nil {
				return fmt.Errorf("params: %w", err)
			}
			a.state = r
			return nil
		}
		tried = append(tried, fmt.Sprintf("%s --version: exit %d %s", bin, c.Exit, strings.TrimSpace(c.Stderr)))
	}
	return &RefusalError{Kind: a.Record.Kind, Capability: CapNFTables, Reason: fmt.Sprintf("node %s has neither tool to install the rules with (%s)", s.Node, strings.Join(tried, "; ")),
		Hint: "install nftables (or iptables) on the node, and connect as root (or a user allowed CAP_NET_ADMIN)"}
}

// orphanNodeNet: a crashed owner's record holds no executor for the node,
// so the table is deleted by HealNodeOrphans once the node is registered
// again; here the outcome says so and what to run by hand.
func orphanNodeNet(_ context.Context, rec *Record) Outcome {
	node := ""
	if len(rec.Targets) > 0 {
		node = rec.Targets[0].Node
	}
	return Outcome{Reason: fmt.Sprintf("%s ran on node %s through its executor, which the record does not hold: register the node again and call HealNodeOrphans, or run %s on it (iptables: delete the chains %s*)",
		rec.Kind, node, ShellQuote((&RemoteNet{Owner: rec.Owner}).DeleteTableCommand()), (&RemoteNet{Owner: rec.Owner}).iptChainPrefix())}
}

// missingTool reports a command whose program is not on the host: exit
// 127 from a shell, or exec's not-found error.
func missingTool(c CommandRun) bool {
	return c.Exit == 127 || strings.Contains(c.Err, "executable file not found") || strings.Contains(c.Err, "no such file or directory")
}

// sweepNode deletes every rule r's owner has on the node: the nft table
// falsify_<owner> and the iptables chains fz<owner hash>_*, with the
// tools the node has, and checks that none is left.
func sweepNode(ctx context.Context, r *RemoteNet, node string) Outcome {
	o := Outcome{At: time.Now().UTC()}
	clean := true
	d, err := r.run(ctx, r.DeleteTableCommand(), nil)
	switch {
	case missingTool(d):
		o.Evidence = append(o.Evidence, cmdEvidence("nft delete table on node "+node, "", "no nft on the node", d, SideInjector))
	case err != nil:
		clean = false
		o.Evidence = append(o.Evidence, cmdEvidence("nft delete table on node "+node, "", "failed: "+err.Error(), d, SideInjector))
	default:
		l, lerr := r.run(ctx, r.ListCommand(), nil)
		gone := lerr == nil && l.Exit != 0 && strings.Contains(l.Stderr, "No such file")
		clean = clean && gone
		o.Evidence = append(o.Evidence, cmdEvidence("nft list table inet "+r.Table()+" on node "+node, "", pick(gone, "absent", "present or unreadable"), l, SideInjector))
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		peer := "0.0.0.0"
		if bin == "ip6tables" {
			peer = "::"
		}
		ir := &RemoteNet{Exec: r.Exec, Owner: r.Owner, Tool: "iptables", Peer: peer}
		chains, c, err := ir.iptChains(ctx, ir.iptChainPrefix())
		if missingTool(c) {
			continue // no such tool on the node
		}
		if err == nil && len(chains) > 0 {
			ir.iptRemove(ctx, chains)
			chains, c, err = ir.iptChains(ctx, ir.iptChainPrefix())
		}
		gone := err == nil && len(chains) == 0
		clean = clean && gone
		o.Evidence = append(o.Evidence, cmdEvidence(bin+" chains "+ir.iptChainPrefix()+"* on node "+node, "", pick(gone, "absent", "present or unreadable: "+strings.Join(chains, ", ")), c, SideInjector))
		r.Log = append(r.Log, ir.Log...)
	}
	o.Healed = clean
	o.Reason = pick(clean, fmt.Sprintf("the crashed owner's rules (nft table %s, iptables chains %s*) are gone from node %s", r.Table(), r.iptChainPrefix(), node),
		fmt.Sprintf("the crashed owner's rules are still on node %s (or unreadable)", node))
	return o
}

// HealNodeOrphans heals the node-* faults of records (journaled by a
// falsify that crashed) through the executors of this Nemesis's node
// targets, matched by the node's address: it deletes the crashed owner's
// nft table falsify_<owner> and iptables chains fz<owner hash>_* on the
// node and checks that none is left. Records of
// other kinds, and nodes not registered here with an executor, get an
// outcome saying so (Healed false for the latter).
func (n *Nemesis) HealNodeOrphans(ctx context.Context, records []Record) []Outcome {
	out := make([]Outcome, len(records))
	done := map[string]Outcome{}
	for i := range records {
		rec := &records[i]
		if !strings.HasPrefix(rec.Kind, "node-") || len(rec.Targets) == 0 {
			out[i] = Outcome{Healed: true, Reason: "not a node fault: " + rec.Kind, At: time.Now().UTC()}
			continue
		}
		node := rec.Targets[0].Node
		var ex Executor
		n.mu.Lock()
		for _, id := range n.order {
			t := n.targets[id]
			if s := t.snapshot(); s.Kind == TargetNode && s.Node == node && t.exec != nil {
				ex = t.exec
				break
			}
		}
		n.mu.Unlock()
		if ex == nil {
			out[i] = orphanNodeNet(ctx, rec)
			out[i].At = time.Now().UTC()
			continue
		}
		key := node + "\x00" + rec.Owner
		if o, ok := done[key]; ok {
			out[i] = o
			continue
		}
		o := sweepNode(ctx, &RemoteNet{Exec: ex, Owner: rec.Owner}, node)
		done[key] = o
		out[i] = o
	}
	return out
}
