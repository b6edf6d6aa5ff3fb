package nemesis

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshServer is a real ssh server on loopback, built with x/crypto/ssh: an
// ed25519 host key, public-key auth for one client key, and "exec"
// requests run with /bin/sh -c on this machine (inside wrap, e.g. ip netns
// exec NS, when set), their exit status sent back.
type sshServer struct {
	Addr       string
	HostKey    ssh.PublicKey
	ClientKey  []byte // OpenSSH PEM of the authorised client key
	KnownHosts string // a known_hosts file listing HostKey for Addr
	conns      atomic.Int32

	mu   sync.Mutex
	open []net.Conn
}

// hangUp closes every connection the server holds, as a restarted sshd
// or a dropped network would.
func (s *sshServer) hangUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}

func newSSHServer(t *testing.T, wrap ...string) *sshServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	authorised, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "falsify test client")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(authorised.Marshal()) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("unknown client key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sshServer{Addr: ln.Addr().String(), HostKey: hostSigner.PublicKey(), ClientKey: pem.EncodeToMemory(block)}
	s.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
	if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.mu.Lock()
			s.open = append(s.open, nc)
			s.mu.Unlock()
			go serveSSH(nc, cfg, wrap)
		}
	}()
	return s
}

func serveSSH(nc net.Conn, cfg *ssh.ServerConfig, wrap []string) {
	defer nc.Close()
	sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go serveSession(ch, chReqs, wrap)
	}
}

// serveSession runs one exec request; when the client drops the channel
// before the command ends, the command's process group is killed (as
// sshd's hang-up does).
func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, wrap []string) {
	var cmd *exec.Cmd
	exited := make(chan struct{})
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if cmd != nil || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			argv := append(append([]string(nil), wrap...), "/bin/sh", "-c", p.Command)
			cmd = exec.Command(argv[0], argv[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.WaitDelay = time.Second
			if err := cmd.Start(); err != nil {
				req.Reply(false, nil)
				ch.Close()
				continue
			}
			req.Reply(true, nil)
			go func(cmd *exec.Cmd) {
				cmd.Wait()
				close(exited) // before the client can see the status and hang up
				ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
				if ws.Signaled() {
					ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
						Signal     string
						CoreDumped bool
						Error      string
						Lang       string
					}{Signal: strings.TrimPrefix(unixSignalName(ws.Signal()), "SIG")}))
				} else {
					ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(ws.ExitStatus())}))
				}
				ch.Close()
			}(cmd)
		case "signal":
			if cmd != nil {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	if cmd != nil {
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

func unixSignalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return "SIG" + strconv.Itoa(int(s))
}

func (s *sshServer) executor(t *testing.T, mod func(*SSHConfig)) *SSHExecutor {
	t.Helper()
	cfg := SSHConfig{Addr: s.Addr, User: "falsify", Key: s.ClientKey, KnownHostsFile: s.KnownHosts}
	if mod != nil {
		mod(&cfg)
	}
	ex, err := NewSSHExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return ex
}

func TestSSHShellQuote(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"echo", "hi"}, `'echo' 'hi'`},
		{[]string{"printf", "%s", ""}, `'printf' '%s' ''`},
		{[]string{"a'b"}, `'a'\''b'`},
		{[]string{"$(id)", "`id`", "x;y|z&", "*"}, `'$(id)' '` + "`id`" + `' 'x;y|z&' '*'`},
	} {
		if got := ShellQuote(tc.argv); got != tc.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tc.argv, got, tc.want)
		}
		// The shell splits the line back into exactly argv.
		var want strings.Builder
		for _, a := range tc.argv {
			fmt.Fprintf(&want, "[%s]", a)
		}
		got, err := exec.Command("/bin/sh", "-c", `set -- `+ShellQuote(tc.argv)+`; for a in "$@"; do printf '[%s]' "$a"; done`).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want.String() {
			t.Errorf("sh splits %s into %s, want %s", ShellQuote(tc.argv), got, want.String())
		}
	}
}

func TestSSHExecutorRun(t *testing.T) {
	srv := newSSHServer(t)
	ex := srv.executor(t, nil)
	ctx := context.Background()
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	splice := "$(touch " + pwned + "); echo `touch " + pwned + "` ; touch " + pwned + " && '\"" + "\n" + "touch " + pwned

	for _, tc := range []struct {
		name       string
		argv       []string
		stdin      []byte
		wantOut    string
		wantExit   int
		wantStderr string
	}{
		{"command substitution arrives literally", []string{"printf", "%s", "$(touch " + pwned + "); echo"}, nil, "$(touch " + pwned + "); echo", 0, ""},
		{"metacharacters arrive literally", []string{"printf", "%s", splice}, nil, splice, 0, ""},
		{"empty and quoted arguments", []string{"printf", "[%s]", "", "a'b", "x y", "*"}, nil, "[][a'b][x y][*]", 0, ""},
		{"exit code propagates", []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, nil, "out\n", 7, "err\n"},
		{"false", []string{"false"}, nil, "", 1, ""},
		{"missing program", []string{"/nonexistent/falsify-no-such-program"}, nil, "", 127, "not found"},
		{"stdin fed", []string{"cat"}, []byte("manifest\nbody"), "manifest\nbody", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code, err := ex.RunStdin(ctx, tc.argv, tc.stdin)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if string(out) != tc.wantOut || code != tc.wantExit || !strings.Contains(string(stderr), tc.wantStderr) {
				t.Errorf("got stdout %q exit %d stderr %q; want %q exit %d stderr ~%q", out, code, stderr, tc.wantOut, tc.wantExit, tc.wantStderr)
			}
		})
	}
	if _, err := os.Stat(pwned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("caller text was spliced into the remote shell line: %s exists (%v)", pwned, err)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential commands, want 1 reused", n)
	}

	// Concurrent commands share the connection.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _, code, err := ex.Run(ctx, []string{"echo", strconv.Itoa(i)})
			if err != nil || code != 0 || string(out) != strconv.Itoa(i)+"\n" {
				errs <- fmt.Errorf("concurrent run %d: %q exit %d err %v", i, out, code, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections after concurrent commands, want 1", n)
	}

	// The record names the exact line sent and the raw output.
	r := ex.Exec(ctx, []string{"echo", "a b"}, nil)
	if r.Line != `'echo' 'a b'` || r.Stdout != "a b\n" || r.Exit != 0 || r.Host != "ssh://falsify@"+srv.Addr || r.Duration <= 0 {
		t.Errorf("record %+v", r)
	}

	// A dropped connection is dialled again on the next command.
	srv.hangUp()
	time.Sleep(50 * time.Millisecond)
	if out, _, code, err := ex.Run(ctx, []string{"echo", "again"}); err != nil || code != 0 || string(out) != "again\n" {
		t.Fatalf("after the server hung up: %q exit %d err %v", out, code, err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections after a hang-up, want 2", n)
	}

	if err := ex.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, _, _, err := ex.Run(ctx, []string{"true"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("run after close: %v, want a closed error", err)
	}
	if _, _, code, err := ex.Run(ctx, nil); err == nil || code != -1 {
		t.Errorf("empty argv: exit %d err %v", code, err)
	}
}

func TestSSHExecutorOutputCap(t *testing.T) {
	srv := newSSHServer(t)
	for _, tc := range []struct {
		cap, n, want int
	}{
		{0, 200000, 64 << 10},
		{1000, 5000, 1000},
		{1000, 10, 10},
	} {
		ex := srv.executor(t, func(c *SSHConfig) { c.OutputCap = tc.cap })
		r := ex.Exec(context.Background(), []string{"sh", "-c", "head -c " + strconv.Itoa(tc.n) + " /dev/zero; head -c " + strconv.Itoa(tc.n) + " /dev/zero >&2"}, nil)
		if r.Err != "" || r.Exit != 0 {
			t.Fatalf("cap %d: %+v", tc.cap, r)
		}
		if len(r.Stdout) != tc.want || len(r.Stderr) != tc.want || r.Truncated != (tc.n > tc.want) {
			t.Errorf("cap %d, %d bytes: kept stdout %d stderr %d truncated %t; want %d each, truncated %t",
				tc.cap, tc.n, len(r.Stdout), len(r.Stderr), r.Truncated, tc.want, tc.n > tc.want)
		}
	}
}

func TestSSHExecutorTimeout(t *testing.T) {
	srv := newSSHServer(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	argv := []string{"sh", "-c", "echo $$ > " + pidFile + "; echo started; exec sleep 30"}
	for _, tc := range []struct {
		name string
		ctx  time.Duration // context deadline; 0 = none
		cfg  time.Duration // SSHConfig.Timeout
	}{
		{"context deadline", 400 * time.Millisecond, 0},
		{"configured timeout", 0, 400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(pidFile)
			ex := srv.executor(t, func(c *SSHConfig) { c.Timeout = tc.cfg })
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			start := time.Now()
			out, _, code, err := ex.Run(ctx, argv)
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "deadline exceeded") || code != -1 {
				t.Fatalf("err %v exit %d, want a deadline error and exit -1", err, code)
			}
			if took > 3*time.Second {
				t.Errorf("took %s, want the timeout honoured", took)
			}
			if string(out) != "started\n" {
				t.Errorf("stdout before the timeout %q, want it kept", out)
			}
			b, _ := os.ReadFile(pidFile)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if pid <= 0 {
				t.Fatalf("pid file %q", b)
			}
			deadline := time.Now().Add(3 * time.Second)
			for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if syscall.Kill(pid, 0) == nil {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("remote command pid %d still runs after the timeout", pid)
			}
		})
	}
}

func TestSSHExecutorHostKey(t *testing.T) {
	srv := newSSHServer(t)
	other := newSSHServer(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty_known_hosts")
	os.WriteFile(empty, nil, 0o600)
	// The right address with another host's key: a changed host.
	wrong := filepath.Join(dir, "wrong_known_hosts")
	os.WriteFile(wrong, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, other.HostKey)+"\n"), 0o600)

	for _, tc := range []struct {
		name    string
		cfg     func(*SSHConfig)
		newErr  string // NewSSHExecutor refuses
		runErr  string // Run refuses
		runsOK  bool
		connect bool // a TCP connection reached the server
	}{
		{"no known_hosts and no opt-out", func(c *SSHConfig) { c.KnownHostsFile = "" }, "host key checking is on", "", false, false},
		{"unknown host", func(c *SSHConfig) { c.KnownHostsFile = empty }, "", "not in", false, true},
		{"changed host key", func(c *SSHConfig) { c.KnownHostsFile = wrong }, "", "does not match", false, true},
		{"both known_hosts and opt-out", func(c *SSHConfig) { c.InsecureIgnoreHostKey = true }, "not both", "", false, false},
		{"explicit opt-out", func(c *SSHConfig) { c.KnownHostsFile = ""; c.InsecureIgnoreHostKey = true }, "", "", true, true},
		{"known host", nil, "", "", true, true},
		{"wrong client key", func(c *SSHConfig) { c.Key = other.ClientKey }, "", "unable to authenticate", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := SSHConfig{Addr: srv.Addr, User: "falsify", Key: srv.ClientKey, KnownHostsFile: srv.KnownHosts}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			ex, err := NewSSHExecutor(cfg)
			if tc.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.newErr) {
					t.Fatalf("NewSSHExecutor: %v, want an error with %q", err, tc.newErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ex.Close()
			out, _, code, err := ex.Run(context.Background(), []string{"echo", "ran"})
			if tc.runsOK {
				if err != nil || code != 0 || string(out) != "ran\n" {
					t.Fatalf("run: %q exit %d err %v", out, code, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.runErr) || len(out) != 0 {
				t.Fatalf("run: %q err %v, want refused with %q", out, err, tc.runErr)
			}
		})
	}
}

func TestSSHExecutorConfig(t *testing.T) {
	srv := newSSHServer(t)
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(keyFile, srv.ClientKey, 0o600)
	for _, tc := range []struct {
		name string
		cfg  SSHConfig
		err  string
	}{
		{"no addr", SSHConfig{User: "u", Key: srv.ClientKey, InsecureIgnoreHostKey: true}, "addr"},
		{"no user", SSHConfig{Addr: srv.Addr, Key: srv.ClientKey, InsecureIgnoreHostKey: true}, "user"},
		{"no key", SSHConfig{Addr: srv.Addr, User: "u", InsecureIgnoreHostKey: true}, "no private key"},
		{"garbage key", SSHConfig{Addr: srv.Addr, User: "u", Key: []byte("not a key"), InsecureIgnoreHostKey: true}, "private key"},
		{"missing key file", SSHConfig{Addr: srv.Addr, User: "u", KeyFile: "/nonexistent/key", InsecureIgnoreHostKey: true}, "key file"},
		{"missing known_hosts", SSHConfig{Addr: srv.Addr, User: "u", KeyFile: keyFile, KnownHostsFile: "/nonexistent/kh"}, "known_hosts"},
		{"key file", SSHConfig{Addr: srv.Addr, User: "u", KeyFile: keyFile, KnownHostsFile: srv.KnownHosts}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewSSHExecutor(tc.cfg)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer ex.Close()
				if out, _, _, err := ex.Run(context.Background(), []string{"echo", "ok"}); err != nil || string(out) != "ok\n" {
					t.Fatalf("run: %q %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

// TestSSHProcessFaults pauses and kills a process started on the "remote"
// node through the ssh executor: evidence read with cat /proc over ssh.
func TestSSHProcessFaults(t *testing.T) {
	srv := newSSHServer(t)
	ex := srv.executor(t, nil)
	ctx := context.Background()
	n := newNemesis(t)
	if _, err := n.Register(ctx, TargetSpec{Name: "node1", Node: "127.0.0.1", Executor: ex}); err != nil {
		t.Fatal(err)
	}
	start := func() int {
		out, _, code, err := ex.Run(ctx, []string{"sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $!"})
		if err != nil || code != 0 {
			t.Fatalf("starting sleep on the node: exit %d %v", code, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("pid %q: %v", out, err)
		}
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT); syscall.Kill(pid, syscall.SIGKILL) })
		return pid
	}

	pid := start()
	f, err := n.Inject(ctx, Spec{Kind: "pause", Targets: []string{"node1"}, Params: map[string]any{"pid": pid}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed {
		t.Fatalf("pause over ssh did not land: %s %+v", f.Landing.Reason, f.Landing.Evidence)
	}
	ev := f.Landing.Evidence[0]
	if !strings.HasPrefix(ev.After, "T ") || !strings.Contains(ev.Probe, "cat /proc/"+strconv.Itoa(pid)+"/stat on node 127.0.0.1") {
		t.Errorf("landing evidence %+v, want state T read by cat over the executor", ev)
	}
	if st := localState(t, pid); st != "T" {
		t.Errorf("the process is in state %q on the host, want T", st)
	}
	out, err := n.Heal(ctx, f)
	if err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
	if st := localState(t, pid); st == "T" {
		t.Errorf("still stopped after heal")
	}

	pid = start()
	f, err = n.Inject(ctx, Spec{Kind: "kill", Targets: []string{"node1"}, Params: map[string]any{"pid": pid, "restart": false}})
	if err != nil {
		t.Fatal(err)
	}
	// Gone, or a zombie its reaper has not collected yet.
	if after := f.Landing.Evidence[0].After; !f.Landing.Landed || !strings.Contains(after, "gone") && !strings.HasPrefix(after, "Z ") {
		t.Fatalf("kill over ssh: landed %t %s %+v", f.Landing.Landed, f.Landing.Reason, f.Landing.Evidence)
	}

	// A pid that is not there on the node is refused.
	if _, err := n.Inject(ctx, Spec{Kind: "pause", Targets: []string{"node1"}, Params: map[string]any{"pid": pid}}); err == nil {
		t.Error("pause of a dead pid on the node was accepted")
	}
}

// argvOnly hides an executor's stdin support.
type argvOnly struct{ ex Executor }

func (a argvOnly) Run(ctx context.Context, argv []string) ([]byte, []byte, int, error) {
	return a.ex.Run(ctx, argv)
}

func localState(t *testing.T, pid int) string {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		return "gone"
	}
	return st.State
}

func TestSSHRemoteNetRuleset(t *testing.T) {
	ex := LocalExecutor{}
	for _, tc := range []struct {
		name string
		f    RemoteNet
		want string
		err  string
	}{
		{"drop both", RemoteNet{Exec: ex, Owner: "S-1", ID: "f1", Kind: "drop", Peer: "10.0.0.2"},
			"table inet falsify_s_1 {\n\tchain f1_out {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tip daddr 10.0.0.2 counter drop\n\t}\n\tchain f1_in {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip saddr 10.0.0.2 counter drop\n\t}\n}\n", ""},
		{"oneway in with port", RemoteNet{Exec: ex, Owner: "s", ID: "f2", Kind: "drop-oneway", Direction: "in", Peer: "fd00::2", Port: 5432},
			"table inet falsify_s {\n\tchain f2_in {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip6 saddr fd00::2 tcp sport 5432 counter drop\n\t}\n}\n", ""},
		{"loss udp out", RemoteNet{Exec: ex, Owner: "s", ID: "f3", Kind: "loss", Direction: "out", Peer: "10.0.0.2", Proto: "udp", Probability: 0.25},
			"table inet falsify_s {\n\tchain f3_out {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tip daddr 10.0.0.2 meta l4proto udp numgen random mod 10000 < 2500 counter drop\n\t}\n}\n", ""},
		{"peer not an IP", RemoteNet{Exec: ex, Owner: "s", ID: "f4", Kind: "drop", Peer: "10.0.0.2; flush ruleset"}, "", "not an IP"},
		{"id with spaces", RemoteNet{Exec: ex, Owner: "s", ID: "f 5", Kind: "drop", Peer: "10.0.0.2"}, "", "id"},
		{"oneway without direction", RemoteNet{Exec: ex, Owner: "s", ID: "f6", Kind: "drop-oneway", Peer: "10.0.0.2"}, "", "direction"},
		{"loss without probability", RemoteNet{Exec: ex, Owner: "s", ID: "f7", Kind: "loss", Peer: "10.0.0.2"}, "", "probability"},
		{"unknown kind", RemoteNet{Exec: ex, Owner: "s", ID: "f8", Kind: "delay", Peer: "10.0.0.2"}, "", "kind"},
		{"bad proto", RemoteNet{Exec: ex, Owner: "s", ID: "f9", Kind: "drop", Peer: "10.0.0.2", Proto: "sctp"}, "", "proto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.Ruleset()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ruleset\n%s\nwant\n%s", got, tc.want)
			}
			// LocalExecutor feeds no stdin: the argv form carries the
			// same ruleset as one nft argument.
			argv, stdin, err := tc.f.ApplyCommand()
			if err != nil || stdin != nil || len(argv) != 2 || argv[0] != "nft" || strings.Contains(argv[1], "\n") {
				t.Errorf("argv form %q stdin %q err %v", argv, stdin, err)
			}
		})
	}
}

func TestSSHIPTablesCommands(t *testing.T) {
	ex := LocalExecutor{}
	pre := (&RemoteNet{Owner: "s"}).iptChainPrefix()
	if !regexp.MustCompile(`^fz[0-9a-f]{8}_$`).MatchString(pre) {
		t.Fatalf("chain prefix %q", pre)
	}
	for _, tc := range []struct {
		name string
		f    RemoteNet
		want []string
		err  string
	}{
		{"drop both", RemoteNet{Exec: ex, Tool: "iptables", Owner: "s", ID: "f1", Kind: "drop", Peer: "10.0.0.2"}, []string{
			"iptables -w 5 -N " + pre + "f1_o",
			"iptables -w 5 -A " + pre + "f1_o -d 10.0.0.2 -j DROP",
			"iptables -w 5 -I OUTPUT -m comment --comment falsify_s f1 -j " + pre + "f1_o",
			"iptables -w 5 -N " + pre + "f1_i",
			"iptables -w 5 -A " + pre + "f1_i -s 10.0.0.2 -j DROP",
			"iptables -w 5 -I INPUT -m comment --comment falsify_s f1 -j " + pre + "f1_i"}, ""},
		{"loss in, ipv6, port", RemoteNet{Exec: ex, Tool: "iptables", Owner: "s", ID: "f2", Kind: "loss", Direction: "in", Peer: "fd00::2", Port: 5432, Probability: 0.25}, []string{
			"ip6tables -w 5 -N " + pre + "f2_i",
			"ip6tables -w 5 -A " + pre + "f2_i -s fd00::2 -p tcp --sport 5432 -m statistic --mode random --probability 0.25 -j DROP",
			"ip6tables -w 5 -I INPUT -m comment --comment falsify_s f2 -j " + pre + "f2_i"}, ""},
		{"id too long", RemoteNet{Exec: ex, Tool: "iptables", Owner: "s", ID: "f1_0123456789abcdef", Kind: "drop", Peer: "10.0.0.2"}, nil, "too long"},
		{"unknown tool", RemoteNet{Exec: ex, Tool: "pf", Owner: "s", ID: "f1", Kind: "drop", Peer: "10.0.0.2"}, nil, "tool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds, err := tc.f.IPTablesCommands()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cmds {
				got = append(got, strings.Join(c, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("commands\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	// The shape of iptables -L CHAIN -n -v -x (iptables 1.8.9).
	out := `Chain fz0011aabb_f1_o (1 references)
    pkts      bytes target     prot opt in     out     source               destination
       7      420 DROP       6    --  *      *       0.0.0.0/0            10.1.1.1             tcp dpt:9 statistic mode random probability 0.50000000000
       2      120 DROP       0    --  *      *       0.0.0.0/0            10.1.1.2
       5      300 ACCEPT     0    --  *      *       0.0.0.0/0            10.1.1.3
`
	if got := parseIPTCounters(out); got != [2]uint64{9, 540} {
		t.Errorf("counters %v, want [9 540]", got)
	}
}

func TestSSHParseNFTJSON(t *testing.T) {
	// The shape of nft -j list table (nftables 1.0.6).
	doc := `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
	{"table": {"family": "inet", "name": "falsify_s", "handle": 1}},
	{"chain": {"family": "inet", "table": "falsify_s", "name": "f1_out", "handle": 1, "type": "filter", "hook": "output", "prio": 0, "policy": "accept"}},
	{"rule": {"family": "inet", "table": "falsify_s", "chain": "f1_out", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.213.41.2"}}, {"counter": {"packets": 4, "bytes": 240}}, {"drop": null}]}},
	{"chain": {"family": "inet", "table": "falsify_s", "name": "f1_in", "handle": 2, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
	{"rule": {"family": "inet", "table": "falsify_s", "chain": "f1_in", "handle": 4, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}]}`
	counts, chains, err := parseNFTJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if counts["f1_out"] != [2]uint64{4, 240} || counts["f1_in"] != [2]uint64{0, 0} || strings.Join(chains, ",") != "f1_out,f1_in" {
		t.Errorf("counts %v chains %v", counts, chains)
	}
	if _, _, err := parseNFTJSON([]byte("Error: No such file or directory")); err == nil {
		t.Error("nft's error text parsed as JSON")
	}
}

// TestSSHRemoteNetFaults installs drop, one-way drop and loss rules built
// by RemoteNet on a "remote" host — a network namespace the in-process
// sshd runs its commands in — through the ssh executor, reads the
// counters back with nft -j, and heals (table gone).
func TestSSHRemoteNetFaults(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft(8) (Debian package nftables) to play the remote host's nft")
	}
	nsA, _, _, ipB := netnsPair(t, 41)
	srv := newSSHServer(t, "ip", "netns", "exec", nsA)
	ex := srv.executor(t, nil)
	ctx := context.Background()
	owner := "sshtest_" + strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		f       RemoteNet
		noStdin bool // the executor cannot feed stdin: the argv form
	}{
		{RemoteNet{Kind: "drop", ID: "f1"}, false},
		{RemoteNet{Kind: "drop-oneway", ID: "f2", Direction: "in"}, false},
		{RemoteNet{Kind: "drop-oneway", ID: "f3", Direction: "out", Port: 7}, false},
		{RemoteNet{Kind: "loss", ID: "f4", Proto: "udp", Probability: 1}, false},
		{RemoteNet{Kind: "loss", ID: "f5", Direction: "out", Probability: 0.5}, false},
		{RemoteNet{Kind: "drop", ID: "f6", Port: 9}, true},
		{RemoteNet{Kind: "drop", ID: "f7", Tool: "iptables"}, false},
		{RemoteNet{Kind: "drop-oneway", ID: "f8", Direction: "out", Port: 7, Tool: "iptables"}, false},
		{RemoteNet{Kind: "loss", ID: "f9", Proto: "udp", Probability: 0.5, Tool: "iptables"}, false},
	} {
		t.Run(tc.f.Kind+"_"+tc.f.ID, func(t *testing.T) {
			f := tc.f
			if f.Tool == "iptables" {
				if _, err := exec.LookPath("iptables"); err != nil {
					t.Skip("needs iptables(8) (Debian package iptables) to play a node without nft")
				}
			}
			f.Exec, f.Owner, f.Peer = ex, owner, ipB
			applyLine := `'nft' '-f' '-'`
			if tc.noStdin {
				f.Exec = argvOnly{ex}
				rs, _ := f.Ruleset()
				applyLine = "'nft' '" + strings.NewReplacer("{\n", "{ ", "\n", "; ", "\t", "").Replace(strings.TrimSuffix(rs, "\n"))
			}
			t.Cleanup(func() {
				exec.Command("ip", "netns", "exec", nsA, "nft", "delete", "table", "inet", f.Table()).Run()
			})
			out := f.Apply(ctx)
			if !out.Landed {
				t.Fatalf("did not land: %s\n%+v", out.Reason, f.Log)
			}
			var counted bool
			for _, e := range out.Evidence {
				if strings.Contains(e.Probe, "counter") && e.Before == "0 packets" && !strings.HasPrefix(e.After, "0 packets") {
					counted = true
				}
			}
			if !counted {
				t.Errorf("no counter went 0→N in the evidence: %+v", out.Evidence)
			}
			if f.Tool == "iptables" {
				b, err := exec.Command("ip", "netns", "exec", nsA, "iptables", "-S").Output()
				if err != nil {
					t.Fatal(err)
				}
				for _, ch := range f.Chains() {
					if !strings.Contains(string(b), "-N "+ch+"\n") || !iptJumps(string(b), ch) {
						t.Errorf("chain %s (and its jump) not on the node:\n%s", ch, b)
					}
				}
				if h := f.Heal(ctx); !h.Healed {
					t.Fatalf("not healed: %s %+v", h.Reason, h.Evidence)
				}
				b, _ = exec.Command("ip", "netns", "exec", nsA, "iptables", "-S").Output()
				if strings.Contains(string(b), f.iptChainPrefix()) {
					t.Errorf("chains left on the node after heal:\n%s", b)
				}
				return
			}
			// The ruleset went in over ssh with stdin; the exact line is logged.
			var applied bool
			for _, c := range f.Log {
				if c.Argv[0] == "nft" && c.Exit == 0 && (strings.HasPrefix(ShellQuote(c.Argv), applyLine) && tc.noStdin ||
					ShellQuote(c.Argv) == applyLine && strings.Contains(c.Stdin, "chain "+f.ID+"_")) {
					applied = true
				}
			}
			if !applied {
				t.Errorf("no logged nft -f - run with the ruleset: %+v", f.Log)
			}
			// The table really exists on the "remote" host, with our chains.
			b, err := exec.Command("ip", "netns", "exec", nsA, "nft", "-j", "list", "table", "inet", f.Table()).Output()
			if err != nil {
				t.Fatalf("table not on the node: %v", err)
			}
			if _, chains, _ := parseNFTJSON(b); strings.Join(chains, ",") != strings.Join(f.Chains(), ",") {
				t.Errorf("chains on the node %v, want %v", chains, f.Chains())
			}
			h := f.Heal(ctx)
			if !h.Healed {
				t.Fatalf("not healed: %s %+v", h.Reason, h.Evidence)
			}
			if err := exec.Command("ip", "netns", "exec", nsA, "nft", "list", "table", "inet", f.Table()).Run(); err == nil {
				t.Errorf("table %s still on the node after heal", f.Table())
			}
		})
	}

	// A node without nft(8): the install fails and is reported not
	// landed and rolled back.
	bad := RemoteNet{Exec: ex, Owner: owner, ID: "f9", Kind: "drop", Peer: ipB}
	srvNoNft := newSSHServer(t, "env", "PATH=/nonexistent", "/usr/bin/ip", "netns", "exec", nsA)
	bad.Exec = srvNoNft.executor(t, nil)
	out := bad.Apply(ctx)
	if out.Landed || !strings.Contains(out.Reason, "rolled back") {
		t.Errorf("apply without nft: landed %t reason %q", out.Landed, out.Reason)
	}
}

func TestSSHRemoteNetemCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    RemoteNetem
		want string
		err  string
	}{
		{"delay and jitter", RemoteNetem{Dev: "eth0", Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond},
			"tc qdisc add dev eth0 root handle fa15: netem delay 100000us 10000us", ""},
		{"loss", RemoteNetem{Dev: "ens3", Loss: 0.05}, "tc qdisc add dev ens3 root handle fa15: netem loss 5%", ""},
		{"both", RemoteNetem{Dev: "lo", Delay: 1500 * time.Microsecond, Loss: 1}, "tc qdisc add dev lo root handle fa15: netem delay 1500us loss 100%", ""},
		{"bad device", RemoteNetem{Dev: "eth0; reboot", Loss: 0.1}, "", "not a network device"},
		{"nothing asked", RemoteNetem{Dev: "eth0"}, "", "give a delay, a loss"},
		{"jitter alone", RemoteNetem{Dev: "eth0", Jitter: time.Millisecond}, "", "jitter"},
		{"loss over 1", RemoteNetem{Dev: "eth0", Loss: 2}, "", "loss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := tc.f.ApplyCommand()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(argv, " ") != tc.want {
				t.Errorf("argv %q err %v, want %s", argv, err, tc.want)
			}
		})
	}
}

// TestSSHRemoteNetem runs tc on the "remote" host (a network namespace)
// over ssh: where the kernel has netem the qdisc is installed, measured
// and removed; where it has not (these machines), the fault is refused
// with capability netem. A root qdisc that is not falsify's is never
// deleted.
func TestSSHRemoteNetem(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("needs tc(8) from iproute2")
	}
	nsA, _, _, ipB := netnsPair(t, 42)
	srv := newSSHServer(t, "ip", "netns", "exec", nsA)
	ex := srv.executor(t, nil)
	ctx := context.Background()
	dev := fmt.Sprintf("fz%d_%da", os.Getpid()%100000, 42)

	f := RemoteNetem{Exec: ex, Dev: dev, Delay: 50 * time.Millisecond, Peer: ipB}
	out, err := f.Apply(ctx)
	var re *RefusalError
	switch {
	case errors.As(err, &re):
		if re.Capability != CapNetem || !strings.Contains(re.Reason, "no netem qdisc") {
			t.Errorf("refusal %+v, want capability netem", re)
		}
		if len(f.Log) != 1 || f.Log[0].Exit == 0 {
			t.Errorf("log %+v, want the failed tc run", f.Log)
		}
	case err != nil:
		t.Fatal(err)
	default:
		if !out.Landed {
			t.Fatalf("netem did not land: %s %+v", out.Reason, out.Evidence)
		}
		h := f.Heal(ctx)
		if !h.Healed {
			t.Fatalf("netem not healed: %s", h.Reason)
		}
	}

	// A root qdisc someone else installed is left alone.
	if b, err := exec.Command("ip", "netns", "exec", nsA, "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms").CombinedOutput(); err != nil {
		t.Fatalf("tbf: %v %s", err, b)
	}
	g := RemoteNetem{Exec: ex, Dev: dev, Loss: 0.1}
	if h := g.Heal(ctx); !h.Healed {
		t.Errorf("heal with a foreign root qdisc: %s", h.Reason)
	}
	b, _ := exec.Command("ip", "netns", "exec", nsA, "tc", "qdisc", "show", "dev", dev).Output()
	if !strings.Contains(string(b), "qdisc tbf 1: root") {
		t.Errorf("the foreign tbf qdisc was touched: %s", b)
	}
	for _, c := range g.Log {
		if c.Argv[2] == "del" {
			t.Errorf("heal ran %s on a qdisc that is not falsify's", ShellQuote(c.Argv))
		}
	}
}

// TestSSHNodeKinds injects node-drop, node-drop-oneway and node-loss on a
// node target registered with an ssh config: the rules go in on the node
// (a network namespace the in-process sshd runs its commands in), land
// with the node's counters as evidence and are healed.
func TestSSHNodeKinds(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft(8) (Debian package nftables) to play the remote host's nft")
	}
	nsA, _, _, ipB := netnsPair(t, 43)
	srv := newSSHServer(t, "ip", "netns", "exec", nsA)
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, srv.ClientKey, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := newNemesis(t)
	if _, err := n.Register(ctx, TargetSpec{Name: "bad", Node: "127.0.0.1", SSH: &SSHConfig{Addr: srv.Addr, User: "root", KeyFile: keyFile}}); err == nil || !strings.Contains(err.Error(), "host key checking") {
		t.Errorf("node with ssh but no known_hosts: %v", err)
	}
	tg, err := n.Register(ctx, TargetSpec{Name: "node-a", Node: "127.0.0.1", SSH: &SSHConfig{Addr: srv.Addr, User: "root", KeyFile: keyFile, KnownHostsFile: srv.KnownHosts}})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Remote == "" {
		t.Errorf("target %+v names no executor", tg)
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "bare", Node: "127.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	table := "falsify_" + n.Owner()
	onNode := func() string {
		b, _ := exec.Command("ip", "netns", "exec", nsA, "nft", "list", "table", "inet", table).CombinedOutput()
		return string(b)
	}

	for _, tc := range []struct {
		kind   string
		params map[string]any
	}{
		{"node-drop", map[string]any{"peer": ipB}},
		{"node-drop-oneway", map[string]any{"peer": ipB, "direction": "in"}},
		{"node-loss", map[string]any{"peer": ipB, "proto": "udp", "probability": 1.0}},
		{"node-drop", map[string]any{"peer": ipB, "tool": "iptables"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if tc.params["tool"] == "iptables" {
				if _, err := exec.LookPath("iptables"); err != nil {
					t.Skip("needs iptables(8) (Debian package iptables)")
				}
			}
			f, err := n.Inject(ctx, Spec{Kind: tc.kind, Targets: []string{"node-a"}, Params: tc.params, Duration: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if !f.Landing.Landed {
				t.Fatalf("%s did not land: %s %+v", tc.kind, f.Landing.Reason, f.Landing.Evidence)
			}
			if tc.params["tool"] == nil && !strings.Contains(onNode(), "counter packets") {
				t.Errorf("no counted rule in %s on the node:\n%s", table, onNode())
			}
			out, err := n.Heal(ctx, f)
			if err != nil || !out.Healed {
				t.Fatalf("heal: %v %+v", err, out)
			}
			if s := onNode(); !strings.Contains(s, "No such file") {
				t.Errorf("table still on the node after heal:\n%s", s)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		target string
		kind   string
		params map[string]any
		refuse bool
		want   string
	}{
		{"no executor", "bare", "node-drop", map[string]any{"peer": ipB}, true, "no executor"},
		{"no peer", "node-a", "node-drop", nil, false, "params.peer"},
		{"peer not an IP", "node-a", "node-drop", map[string]any{"peer": "$(reboot)"}, false, "not an IP"},
		{"oneway without direction", "node-a", "node-drop-oneway", map[string]any{"peer": ipB}, false, "direction"},
		{"loss without probability", "node-a", "node-loss", map[string]any{"peer": ipB}, false, "probability"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.Prepare(ctx, Spec{Kind: tc.kind, Targets: []string{tc.target}, Params: tc.params})
			var re *RefusalError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &re) != tc.refuse {
				t.Errorf("err %v (refusal %t), want %q (refusal %t)", err, errors.As(err, &re), tc.want, tc.refuse)
			}
		})
	}

	// A crashed owner's rules on the node: HealOrphans cannot reach the
	// node and says so; HealNodeOrphans does through the registered node.
	crashed := RemoteNet{Exec: srv.executor(t, nil), Owner: "crashed_" + strconv.Itoa(os.Getpid()), ID: "f1_dead", Kind: "drop", Peer: ipB, Port: 9}
	if out := crashed.Apply(ctx); !out.Landed {
		t.Fatalf("crashed owner's fault: %s", out.Reason)
	}
	_, iptErr := exec.LookPath("iptables")
	crashedIPT := crashed
	// Another port: the nft rule above would drop its probe first.
	crashedIPT.ID, crashedIPT.Tool, crashedIPT.Kind, crashedIPT.Direction, crashedIPT.Port = "f2_dead", "iptables", "drop-oneway", "out", 7
	if iptErr == nil {
		if out := crashedIPT.Apply(ctx); !out.Landed {
			t.Fatalf("crashed owner's iptables fault: %s", out.Reason)
		}
	}
	recs := []Record{{ID: "f1", Kind: "node-drop", Owner: crashed.Owner, OwnerPID: 1 << 22, Targets: []TargetRef{{Kind: TargetNode, Node: "127.0.0.1"}}},
		{ID: "f2", Kind: "node-loss", Owner: crashed.Owner, OwnerPID: 1 << 22, Targets: []TargetRef{{Kind: TargetNode, Node: "127.0.0.1"}}}}
	if o := HealOrphans(ctx, recs[:1]); o[0].Healed || !strings.Contains(o[0].Reason, "HealNodeOrphans") {
		t.Errorf("HealOrphans on a node fault: %+v", o[0])
	}
	for i, o := range n.HealNodeOrphans(ctx, recs) {
		if !o.Healed {
			t.Errorf("record %d not healed: %s %+v", i, o.Reason, o.Evidence)
		}
	}
	b, _ := exec.Command("ip", "netns", "exec", nsA, "nft", "list", "table", "inet", crashed.Table()).CombinedOutput()
	if !strings.Contains(string(b), "No such file") {
		t.Errorf("crashed owner's table still on the node: %s", b)
	}
	if iptErr == nil {
		b, _ := exec.Command("ip", "netns", "exec", nsA, "iptables", "-S").CombinedOutput()
		if strings.Contains(string(b), crashedIPT.iptChainPrefix()) {
			t.Errorf("crashed owner's iptables chains still on the node:\n%s", b)
		}
	}

	// The executor built from the ssh config is closed with the Nemesis.
	n.mu.Lock()
	ex := n.targets[tg.ID].exec.(*SSHExecutor)
	n.mu.Unlock()
	n.Close()
	if _, _, _, err := ex.Run(ctx, []string{"true"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("executor still open after Close: %v", err)
	}
}
