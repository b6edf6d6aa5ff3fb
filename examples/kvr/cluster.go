package kvr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// NodeNames returns the cluster's node names in succession order: n1 is
// the first primary, n2 its successor, n3 the other backup.
func NodeNames() []string { return []string{"n1", "n2", "n3"} }

// ClusterConfig configures a three-node cluster.
type ClusterConfig struct {
	Mode Mode
	// Listen holds the listen address of n1, n2, n3; a missing or empty
	// one picks a free port on 127.0.0.1.
	Listen []string
	// Front, when not nil, is called with each node's name and listen
	// address before the nodes start; it returns the address the other
	// nodes and the clients use to reach that node (a proxy in front of
	// it), or the address itself.
	Front func(name, addr string) (string, error)
	// Durations for the nodes; zero means the NodeConfig default.
	HeartbeatTimeout, ApplyDelay, ReplicationDelay time.Duration
	// Command, when not empty, runs each node as a separate process:
	// Command followed by "node" and the node's flags (see [Main]), e.g.
	// {"/usr/local/bin/falsify", "demo-sut"}. Otherwise the nodes run in
	// this process.
	Command []string
	// Stderr receives the node processes' standard error (discarded when
	// nil); in-process nodes log their role changes there.
	Stderr io.Writer
}

// Cluster is a running three-node cluster.
type Cluster struct {
	cfg    ClusterConfig
	names  []string
	listen []string // bound listen addresses
	front  []string // addresses peers and clients use

	done      chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	nodes  map[string]*Node
	procs  map[string]*exec.Cmd
	exited map[string]chan struct{}
	killed map[string]bool
}

// StartCluster starts n1, n2 and n3 in this process in the given mode,
// listening on addrs (empty: free loopback ports), and waits until n1 is
// primary with both backups.
func StartCluster(ctx context.Context, mode Mode, addrs []string) (*Cluster, error) {
	return ClusterConfig{Mode: mode, Listen: addrs}.Start(ctx)
}

// Start starts the cluster and waits until it is stable: one primary
// followed by both backups. The cluster stops when ctx is done or on
// Close.
func (cfg ClusterConfig) Start(ctx context.Context) (*Cluster, error) {
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeNone
	}
	c := &Cluster{cfg: cfg, names: NodeNames(), done: make(chan struct{}), nodes: map[string]*Node{}, procs: map[string]*exec.Cmd{},
		exited: map[string]chan struct{}{}, killed: map[string]bool{}}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for i, name := range c.names {
		addr := "127.0.0.1:0"
		if i < len(cfg.Listen) && cfg.Listen[i] != "" {
			addr = cfg.Listen[i]
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("kvr cluster: %s: %w", name, err)
		}
		lns = append(lns, ln)
		c.listen = append(c.listen, ln.Addr().String())
	}
	for i, name := range c.names {
		f := c.listen[i]
		if cfg.Front != nil {
			var err error
			if f, err = cfg.Front(name, c.listen[i]); err != nil {
				closeAll()
				return nil, fmt.Errorf("kvr cluster: front of %s: %w", name, err)
			}
		}
		c.front = append(c.front, f)
	}
	peers := make([]Peer, len(c.names))
	for i, name := range c.names {
		peers[i] = Peer{Name: name, Addr: c.front[i]}
	}
	if len(cfg.Command) > 0 {
		closeAll() // the processes listen themselves
		for i, name := range c.names {
			if err := c.spawn(name, c.listen[i], peers); err != nil {
				c.Close()
				return nil, err
			}
		}
	} else {
		for i, name := range c.names {
			nc := NodeConfig{Name: name, Listener: lns[i], Peers: peers, Mode: cfg.Mode,
				HeartbeatTimeout: cfg.HeartbeatTimeout, ApplyDelay: cfg.ApplyDelay, ReplicationDelay: cfg.ReplicationDelay}
			if cfg.Stderr != nil {
				w := cfg.Stderr
				var wmu sync.Mutex
				nc.Logf = func(format string, args ...any) {
					wmu.Lock()
					fmt.Fprintf(w, format+"\n", args...)
					wmu.Unlock()
				}
			}
			n, err := Start(nc)
			if err != nil {
				lns[i].Close()
				c.Close()
				return nil, err
			}
			c.nodes[name] = n
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			c.Close()
		case <-c.done:
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.WaitStable(wctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// spawn starts one node process and waits until it listens.
func (c *Cluster) spawn(name, listen string, peers []Peer) error {
	args := append(slices.Clone(c.cfg.Command[1:]), "node", "--exit-on-stdin-eof",
		"--name", name, "--listen", listen, "--peers", formatPeers(peers), "--mode", string(c.cfg.Mode))
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--heartbeat-timeout", c.cfg.HeartbeatTimeout}, {"--apply-delay", c.cfg.ApplyDelay}, {"--replication-delay", c.cfg.ReplicationDelay}} {
		if d.v > 0 {
			args = append(args, d.flag, d.v.String())
		}
	}
	cmd := exec.Command(c.cfg.Command[0], args...)
	cmd.Stderr = c.cfg.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("kvr cluster: %s: %w", name, err)
	}
	// The node stops when this pipe closes: when this process exits,
	// even by a crash, it leaves no node behind.
	if _, err := cmd.StdinPipe(); err != nil {
		return fmt.Errorf("kvr cluster: %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kvr cluster: starting %s: %w", name, err)
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.procs[name] = cmd
	c.exited[name] = exited
	c.mu.Unlock()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "listening on") {
				ready <- nil
				signalled = true
			}
		}
		if !signalled {
			ready <- fmt.Errorf("kvr cluster: %s exited before listening", name)
		}
		cmd.Wait()
		close(exited)
	}()
	select {
	case err := <-ready:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("kvr cluster: %s did not start listening within 10s", name)
	}
}

// formatPeers renders peers as the --peers flag: n1=addr,n2=addr,….
func formatPeers(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = p.Name + "=" + p.Addr
	}
	return strings.Join(parts, ",")
}

// parsePeers reads the --peers flag.
func parsePeers(s string) ([]Peer, error) {
	var peers []Peer
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, addr, ok := strings.Cut(part, "=")
		if !ok || name == "" || addr == "" {
			return nil, fmt.Errorf("peer %q: want name=host:port", part)
		}
		peers = append(peers, Peer{Name: name, Addr: addr})
	}
	if len(peers) == 0 {
		return nil, errors.New("no peers")
	}
	return peers, nil
}

// Names returns the node names, in succession order.
func (c *Cluster) Names() []string { return slices.Clone(c.names) }

// Addr returns the address node name listens on ("" if unknown).
func (c *Cluster) Addr(name string) string {
	if i := slices.Index(c.names, name); i >= 0 {
		return c.listen[i]
	}
	return ""
}

// ClientAddrs returns the addresses clients should use, in failover
// order: the fronts when ClusterConfig.Front is set, else the listen
// addresses.
func (c *Cluster) ClientAddrs() []string { return slices.Clone(c.front) }

// Node returns the in-process node name (nil for a node process).
func (c *Cluster) Node(name string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name]
}

// PID returns the process id of node process name (0 in-process).
func (c *Cluster) PID(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd := c.procs[name]; cmd != nil && cmd.Process != nil {
		return cmd.Process.Pid
	}
	return 0
}

// Kill crashes node name: an in-process node closes at once, a process
// gets SIGKILL. Writes it had not replicated are lost.
func (c *Cluster) Kill(name string) error {
	c.mu.Lock()
	n, cmd, exited := c.nodes[name], c.procs[name], c.exited[name]
	if n == nil && cmd == nil {
		c.mu.Unlock()
		return fmt.Errorf("kvr cluster: no node %q", name)
	}
	c.killed[name] = true
	c.mu.Unlock()
	if n != nil {
		return n.Close()
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		select {
		case <-exited:
			return nil
		default:
			return fmt.Errorf("kvr cluster: killing %s: %w", name, err)
		}
	}
	<-exited
	return nil
}

// Status asks node name for its status over the protocol.
func (c *Cluster) Status(ctx context.Context, name string) (Status, error) {
	return QueryStatus(ctx, c.Addr(name))
}

// WaitStable waits until one live node is primary, every other live node
// follows it and it counts them all as backups; it returns the primary.
func (c *Cluster) WaitStable(ctx context.Context) (string, error) {
	var last string
	for {
		c.mu.Lock()
		var live []string
		for _, n := range c.names {
			if !c.killed[n] {
				live = append(live, n)
			}
		}
		c.mu.Unlock()
		primary, why := "", ""
		statuses := map[string]Status{}
		for _, n := range live {
			st, err := c.Status(ctx, n)
			if err != nil {
				why = err.Error()
				break
			}
			statuses[n] = st
			if st.Role == rolePrimary {
				primary = n
			}
		}
		if why == "" && primary != "" {
			why = checkStable(statuses, primary, live)
			if why == "" {
				return primary, nil
			}
		} else if why == "" {
			why = "no primary"
		}
		last = why
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("kvr cluster: not stable (%s): %w", last, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func checkStable(statuses map[string]Status, primary string, live []string) string {
	p := statuses[primary]
	for _, n := range live {
		if n == primary {
			continue
		}
		if st := statuses[n]; st.Role != roleBackup || st.Primary != primary || st.Term != p.Term {
			return fmt.Sprintf("%s is %s of %q in term %d", n, st.Role, st.Primary, st.Term)
		}
		if !slices.Contains(p.Followers, n) {
			return fmt.Sprintf("%s not yet a backup of %s", n, primary)
		}
	}
	return ""
}

// Close stops every node.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	c.mu.Lock()
	nodes := make([]*Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	procs := map[string]*exec.Cmd{}
	for name, cmd := range c.procs {
		procs[name] = cmd
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.Close()
	}
	for name, cmd := range procs {
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
		<-c.exited[name]
	}
	return nil
}

// QueryStatus asks the node at addr for its [Status].
func QueryStatus(ctx context.Context, addr string) (Status, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if err := writeLine(conn, Request{Op: OpStatus}, time.Second); err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	line, err := readLine(bufio.NewReader(conn))
	if err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	var rep Reply
	var st Status
	if err := json.Unmarshal(line, &rep); err != nil || rep.Error != "" {
		return Status{}, fmt.Errorf("status of %s: bad reply %.100q", addr, line)
	}
	if err := json.Unmarshal(rep.Value, &st); err != nil {
		return Status{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	return st, nil
}
