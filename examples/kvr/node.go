package kvr

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"
)

// Mode selects the node's replication behaviour: correct, or one of the
// bugs the demo must find.
type Mode string

// Modes.
const (
	ModeNone      Mode = "none"       // correct
	ModeStaleRead Mode = "stale-read" // backups answer reads before applying the latest write
	ModeLostAck   Mode = "lost-ack"   // the primary acknowledges before replicating
)

// Modes returns every mode, the correct one first.
func Modes() []Mode { return []Mode{ModeNone, ModeStaleRead, ModeLostAck} }

// ParseMode returns the mode named s ("" is ModeNone).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeNone, ModeStaleRead, ModeLostAck:
		return m, nil
	case "":
		return ModeNone, nil
	}
	return "", fmt.Errorf("unknown mode %q (want none, stale-read or lost-ack)", s)
}

// Defaults for the [NodeConfig] durations.
const (
	DefaultHeartbeatTimeout = 500 * time.Millisecond
	DefaultApplyDelay       = 50 * time.Millisecond
	DefaultReplicationDelay = 250 * time.Millisecond
)

// Peer is one node of the cluster as the others reach it.
type Peer struct {
	Name string
	Addr string // the address other nodes dial (a proxy may front the node)
}

// NodeConfig configures one node.
type NodeConfig struct {
	Name   string
	Listen string // address to listen on; "127.0.0.1:0" picks a port
	// Listener, when not nil, is used instead of listening on Listen.
	Listener net.Listener
	// Peers lists every node of the cluster, this one included, in
	// succession order: the first is the primary of term 1, the second
	// takes over from it, and so on cyclically.
	Peers []Peer
	Mode  Mode
	// HeartbeatTimeout is how long a backup waits without hearing from
	// its primary before failing over, and how long a primary waits for a
	// backup's acknowledgement before dropping it (or stepping down, for
	// its successor). Default DefaultHeartbeatTimeout.
	HeartbeatTimeout time.Duration
	// ApplyDelay is how long a stale-read backup holds a received entry
	// before applying it. Default DefaultApplyDelay.
	ApplyDelay time.Duration
	// ReplicationDelay is how long a lost-ack primary holds an
	// acknowledged write before sending it to the backups. Default
	// DefaultReplicationDelay.
	ReplicationDelay time.Duration
	// Logf, when not nil, receives one line per role change.
	Logf func(format string, args ...any)
}

// Status is a node's view of the cluster.
type Status struct {
	Node      string   `json:"node"`
	Mode      Mode     `json:"mode"`
	Role      string   `json:"role"` // primary, backup or seeking (looking for a primary)
	Term      int      `json:"term"`
	Primary   string   `json:"primary"` // the primary it follows (itself when primary); "" when seeking
	Applied   int64    `json:"applied"` // index of the last entry applied to its state
	Followers []string `json:"followers"`
}

// Roles.
const (
	rolePrimary = "primary"
	roleBackup  = "backup"
	roleSeeking = "seeking"
)

// Node is one running node.
type Node struct {
	cfg  NodeConfig
	self int
	ln   net.Listener
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	wake chan struct{} // wakes the stale-read applier

	fwdMu   sync.Mutex // serialises forwarded reads
	fwdConn net.Conn
	fwdTo   string
	fwdR    *bufio.Reader

	mu        sync.Mutex
	role      string
	term      int
	primary   string
	state     map[string]json.RawMessage
	applied   int64
	conns     map[net.Conn]struct{}
	lastHeard time.Time // backup: last message from a primary
	// primary
	last      int64   // last index assigned
	log       []entry // entries applied+1..last, awaiting commit
	waiters   map[int64]chan Reply
	followers map[string]*follower
	succSeen  time.Time // the successor was last a follower (or the grace after taking over)
	// stale-read backup
	received int64
	queue    []timedEntry
}

type timedEntry struct {
	due time.Time
	e   entry
}

// Start starts a node: it listens and begins its role (primary for the
// first peer, backup for the others) in the background.
func Start(cfg NodeConfig) (*Node, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeNone
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if cfg.ApplyDelay <= 0 {
		cfg.ApplyDelay = DefaultApplyDelay
	}
	if cfg.ReplicationDelay <= 0 {
		cfg.ReplicationDelay = DefaultReplicationDelay
	}
	self := slices.IndexFunc(cfg.Peers, func(p Peer) bool { return p.Name == cfg.Name })
	if cfg.Name == "" || self < 0 {
		return nil, fmt.Errorf("kvr: node %q is not in its peer list", cfg.Name)
	}
	seen := map[string]bool{}
	for i, p := range cfg.Peers {
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("kvr: peer %d: missing or duplicate name %q", i+1, p.Name)
		}
		seen[p.Name] = true
		if p.Addr == "" && i != self {
			return nil, fmt.Errorf("kvr: peer %s has no address", p.Name)
		}
	}
	ln := cfg.Listener
	if ln == nil {
		addr := cfg.Listen
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("kvr: node %s: %w", cfg.Name, err)
		}
	}
	n := &Node{
		cfg: cfg, self: self, ln: ln,
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		term:      1,
		state:     map[string]json.RawMessage{},
		conns:     map[net.Conn]struct{}{},
		waiters:   map[int64]chan Reply{},
		followers: map[string]*follower{},
		lastHeard: time.Now(),
		succSeen:  time.Now().Add(cfg.HeartbeatTimeout), // a grace for the backups to join
		role:      roleSeeking,
	}
	if self == 0 {
		n.role, n.primary = rolePrimary, cfg.Name
	}
	n.wg.Add(3)
	go n.acceptLoop()
	go n.control()
	go n.applier()
	return n, nil
}

// Run runs one node until ctx is done.
func Run(ctx context.Context, cfg NodeConfig) error {
	n, err := Start(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return n.Close()
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Addr is the address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Close stops the node at once, as a crash would: it closes its listener
// and every connection; entries not yet replicated are lost.
func (n *Node) Close() error {
	n.once.Do(func() {
		close(n.done)
		n.ln.Close()
		n.mu.Lock()
		for c := range n.conns {
			c.Close()
		}
		for _, f := range n.followers {
			f.close()
		}
		n.mu.Unlock()
		n.fwdMu.Lock()
		if n.fwdConn != nil {
			n.fwdConn.Close()
		}
		n.fwdMu.Unlock()
	})
	n.wg.Wait()
	return nil
}

func (n *Node) closed() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// Status returns the node's current view.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Status{Node: n.cfg.Name, Mode: n.cfg.Mode, Role: n.role, Term: n.term, Primary: n.primary, Applied: n.applied, Followers: []string{}}
	if n.role == rolePrimary {
		s.Followers = slices.Sorted(maps.Keys(n.followers))
	}
	return s
}

func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf("%s: "+format, append([]any{n.cfg.Name}, args...)...)
	}
}

// primaryOf is the primary of term t; successorOf the node that takes
// over from it.
func (n *Node) primaryOf(t int) string {
	return n.cfg.Peers[(t-1)%len(n.cfg.Peers)].Name
}

func (n *Node) successorOf(t int) string {
	return n.cfg.Peers[t%len(n.cfg.Peers)].Name
}

func (n *Node) peerAddr(name string) string {
	for i, p := range n.cfg.Peers {
		if p.Name == name {
			if p.Addr == "" && i == n.self {
				return n.Addr()
			}
			return p.Addr
		}
	}
	return ""
}

func (n *Node) track(c net.Conn) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed() {
		c.Close()
		return false
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Node) untrack(c net.Conn) {
	c.Close()
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			if n.closed() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !n.track(c) {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer n.untrack(c)
			n.serve(c)
		}()
	}
}

// maxLine bounds one protocol line.
const maxLine = 1 << 20

// serve handles one accepted connection: client requests, or a backup's
// replication connection when the first line is a join.
func (n *Node) serve(c net.Conn) {
	r := bufio.NewReaderSize(c, 64*1024)
	first := true
	for {
		line, err := readLine(r)
		if err != nil {
			return
		}
		var m message
		if err := json.Unmarshal(line, &m); err != nil {
			if writeLine(c, Reply{Node: n.cfg.Name, Error: ErrBadRequest}, n.cfg.HeartbeatTimeout*4) != nil {
				return
			}
			continue
		}
		if first && m.Join != "" {
			n.lead(c, r, m)
			return
		}
		first = false
		rep := n.handle(m.Request)
		rep.ID = m.ID
		if writeLine(c, rep, n.cfg.HeartbeatTimeout*4) != nil {
			return
		}
	}
}

// readLine reads one line, without its newline.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		part, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		buf = append(buf, part...)
		if len(buf) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return buf, nil
		}
	}
}

// writeLine writes v as one JSON line within timeout.
func writeLine(c net.Conn, v any, timeout time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(timeout))
	_, err = c.Write(append(b, '\n'))
	return err
}

// handle answers one client request.
func (n *Node) handle(req Request) Reply {
	if !validRequest(req) {
		return Reply{Node: n.cfg.Name, Error: ErrBadRequest}
	}
	if req.Op == OpStatus {
		b, err := json.Marshal(n.Status())
		if err != nil {
			return Reply{Node: n.cfg.Name, Error: ErrUnavailable}
		}
		return Reply{Node: n.cfg.Name, OK: true, Value: b}
	}
	e := entry{Op: req.Op, Key: req.Key, Value: req.Value, Expected: req.Expected}
	n.mu.Lock()
	role, primary := n.role, n.primary
	if role != rolePrimary {
		switch {
		case req.Op == OpRead && n.cfg.Mode == ModeStaleRead:
			v := orNull(n.state[req.Key])
			n.mu.Unlock()
			return Reply{Node: n.cfg.Name, OK: true, Value: v}
		case req.Op == OpRead && role == roleBackup:
			n.mu.Unlock()
			rep := n.forward(req, primary)
			rep.Node = n.cfg.Name
			return rep
		}
		n.mu.Unlock()
		return Reply{Node: n.cfg.Name, Error: ErrNotPrimary, Primary: primary}
	}
	if n.cfg.Mode == ModeLostAck {
		// The bug: apply and acknowledge now, replicate later.
		if req.Op == OpRead {
			v := orNull(n.state[req.Key])
			n.mu.Unlock()
			return Reply{Node: n.cfg.Name, OK: true, Value: v}
		}
		n.last++
		e.Index = n.last
		v, ok := apply(n.state, e)
		n.applied = n.last
		due := time.Now().Add(n.cfg.ReplicationDelay)
		for _, f := range n.followers {
			f.send(e.message(n.term), due)
		}
		n.mu.Unlock()
		return Reply{Node: n.cfg.Name, OK: ok, Value: v}
	}
	n.last++
	e.Index = n.last
	n.log = append(n.log, e)
	ch := make(chan Reply, 1)
	n.waiters[e.Index] = ch
	now := time.Now()
	for _, f := range n.followers {
		f.send(e.message(n.term), now)
	}
	n.advance()
	n.mu.Unlock()
	t := time.NewTimer(4 * n.cfg.HeartbeatTimeout)
	defer t.Stop()
	select {
	case rep := <-ch:
		return rep
	case <-t.C:
		n.mu.Lock()
		delete(n.waiters, e.Index)
		n.mu.Unlock()
	case <-n.done:
	}
	return Reply{Node: n.cfg.Name, Error: ErrUnknown}
}

// forward sends a read to the primary and returns its answer.
func (n *Node) forward(req Request, primary string) Reply {
	n.fwdMu.Lock()
	defer n.fwdMu.Unlock()
	addr := n.peerAddr(primary)
	fail := func() Reply {
		if n.fwdConn != nil {
			n.untrack(n.fwdConn)
			n.fwdConn = nil
		}
		return Reply{Error: ErrUnavailable, Primary: primary}
	}
	if n.fwdConn != nil && n.fwdTo != addr {
		fail()
	}
	timeout := n.cfg.HeartbeatTimeout
	if n.fwdConn == nil {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil || !n.track(c) {
			return fail()
		}
		n.fwdConn, n.fwdTo, n.fwdR = c, addr, bufio.NewReader(c)
	}
	req.ID = ""
	if writeLine(n.fwdConn, req, timeout) != nil {
		return fail()
	}
	n.fwdConn.SetReadDeadline(time.Now().Add(2 * timeout))
	line, err := readLine(n.fwdR)
	if err != nil {
		return fail()
	}
	var rep Reply
	if json.Unmarshal(line, &rep) != nil {
		return fail()
	}
	if rep.Error == ErrNotPrimary || rep.Error == ErrUnknown {
		// A read has no effect: whatever the primary could not do, the
		// read did not happen.
		rep.Error = ErrUnavailable
	}
	return rep
}

// advance commits and applies what every required follower has
// acknowledged: the successor must be among them. Called with mu held.
func (n *Node) advance() {
	if n.role != rolePrimary || n.cfg.Mode == ModeLostAck {
		return
	}
	target := n.last
	if succ := n.successorOf(n.term); succ != n.cfg.Name && n.followers[succ] == nil {
		return
	}
	for _, f := range n.followers {
		target = min(target, f.match)
	}
	for n.applied < target && len(n.log) > 0 {
		e := n.log[0]
		n.log = n.log[1:]
		v, ok := apply(n.state, e)
		n.applied = e.Index
		if ch := n.waiters[e.Index]; ch != nil {
			ch <- Reply{Node: n.cfg.Name, OK: ok, Value: v}
			delete(n.waiters, e.Index)
		}
	}
}

// stepDown makes a primary a backup looking for the new primary; every
// request in flight gets "unknown". Called with mu held.
func (n *Node) stepDown(why string) {
	if n.role != rolePrimary {
		return
	}
	n.logf("steps down from term %d: %s", n.term, why)
	n.role, n.primary = roleSeeking, ""
	for i, ch := range n.waiters {
		ch <- Reply{Node: n.cfg.Name, Error: ErrUnknown}
		delete(n.waiters, i)
	}
	for name, f := range n.followers {
		f.close()
		delete(n.followers, name)
	}
	n.log = nil
	n.last = n.applied
	n.received = n.applied
	n.lastHeard = time.Now()
}

// promote makes this node the primary of term: the next term when it is
// the successor of a lost primary, or its own term again when it was that
// term's primary and found no other (a successor that never joined it
// still refuses to follow a lower term, so nothing it held is lost).
// Called with mu held.
func (n *Node) promote(term int) {
	for _, te := range n.queue {
		apply(n.state, te.e)
		n.applied = te.e.Index
	}
	n.queue = nil
	n.term = term
	n.role, n.primary = rolePrimary, n.cfg.Name
	n.last = n.applied
	n.received = n.applied
	n.log = nil
	// The successor gets two heartbeat timeouts to join.
	n.succSeen = time.Now().Add(n.cfg.HeartbeatTimeout)
	n.logf("promoted: primary of term %d at index %d", n.term, n.applied)
}

// control runs the node's role: watching the backups while primary,
// following (or looking for) a primary otherwise.
func (n *Node) control() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.HeartbeatTimeout / 8)
	defer tick.Stop()
	for {
		select {
		case <-n.done:
			return
		case <-tick.C:
		}
		n.mu.Lock()
		role, term := n.role, n.term
		if role == rolePrimary {
			n.watch()
			n.mu.Unlock()
			continue
		}
		if n.successorOf(term) == n.cfg.Name && time.Since(n.lastHeard) > n.cfg.HeartbeatTimeout {
			n.promote(term + 1)
			n.mu.Unlock()
			continue
		}
		if n.primaryOf(term) == n.cfg.Name && time.Since(n.lastHeard) > 2*n.cfg.HeartbeatTimeout {
			n.promote(term)
			n.mu.Unlock()
			continue
		}
		n.mu.Unlock()
		n.seek(term)
	}
}

// watch drops backups that stopped acknowledging and steps down when the
// successor did. Called with mu held.
func (n *Node) watch() {
	now := time.Now()
	succ := n.successorOf(n.term)
	if _, ok := n.followers[succ]; (ok || succ == n.cfg.Name) && now.After(n.succSeen) {
		n.succSeen = now
	}
	for name, f := range n.followers {
		if now.Sub(f.lastAck) <= n.cfg.HeartbeatTimeout {
			continue
		}
		f.close()
		delete(n.followers, name)
		n.logf("drops backup %s (no ack for %s)", name, now.Sub(f.lastAck).Round(time.Millisecond))
	}
	if now.Sub(n.succSeen) > n.cfg.HeartbeatTimeout {
		n.stepDown(fmt.Sprintf("successor %s lost", succ))
		return
	}
	n.advance()
}

// seek tries the other nodes, the primary of the next term first (the
// likeliest to have taken over), for a primary of term ≥ term to follow,
// and follows the first that accepts until it is lost.
func (n *Node) seek(term int) {
	first := term % len(n.cfg.Peers)
	for k := range n.cfg.Peers {
		i := (first + k) % len(n.cfg.Peers)
		if i == n.self || n.closed() {
			continue
		}
		if n.follow(n.cfg.Peers[i].Addr, term) {
			return
		}
	}
}

// follow joins the primary at addr and applies what it sends until the
// connection fails or stays silent for the heartbeat timeout. It reports
// whether the primary accepted.
func (n *Node) follow(addr string, term int) bool {
	timeout := n.cfg.HeartbeatTimeout
	c, err := net.DialTimeout("tcp", addr, timeout/2)
	if err != nil {
		return false
	}
	if !n.track(c) {
		return false
	}
	defer n.untrack(c)
	if writeLine(c, message{Join: n.cfg.Name, Term: term}, timeout) != nil {
		return false
	}
	r := bufio.NewReaderSize(c, 64*1024)
	c.SetReadDeadline(time.Now().Add(timeout / 2))
	line, err := readLine(r)
	if err != nil {
		return false
	}
	var m message
	if json.Unmarshal(line, &m) != nil || m.Type != msgSnapshot || m.Term < term {
		return false
	}
	n.mu.Lock()
	if n.role == rolePrimary || n.closed() {
		n.mu.Unlock()
		return false
	}
	n.role, n.term, n.primary = roleBackup, m.Term, m.Node
	n.state = m.State
	if n.state == nil {
		n.state = map[string]json.RawMessage{}
	}
	n.applied, n.received, n.queue = m.Index, m.Index, nil
	n.lastHeard = time.Now()
	n.logf("follows %s in term %d from index %d", m.Node, m.Term, m.Index)
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		if n.role == roleBackup {
			n.role, n.primary = roleSeeking, ""
			n.logf("lost primary %s", m.Node)
		}
		n.mu.Unlock()
	}()

	ack := m.Index
	for {
		if writeLine(c, message{Ack: &ack}, timeout) != nil {
			return true
		}
		c.SetReadDeadline(time.Now().Add(timeout))
		line, err := readLine(r)
		if err != nil {
			return true
		}
		var m message
		if json.Unmarshal(line, &m) != nil {
			return true
		}
		n.mu.Lock()
		n.lastHeard = time.Now()
		switch m.Type {
		case msgHeartbeat:
		case msgEntry:
			e := entry{Index: m.Index, Op: m.Op, Key: m.Key, Value: m.Value, Expected: m.Expected}
			if n.cfg.Mode == ModeStaleRead {
				if e.Index != n.received+1 {
					n.mu.Unlock()
					return true
				}
				n.received = e.Index
				n.queue = append(n.queue, timedEntry{due: time.Now().Add(n.cfg.ApplyDelay), e: e})
				select {
				case n.wake <- struct{}{}:
				default:
				}
			} else {
				if e.Index != n.applied+1 {
					n.mu.Unlock()
					return true
				}
				apply(n.state, e)
				n.applied = e.Index
			}
		default:
			n.mu.Unlock()
			return true
		}
		ack = n.applied
		if n.cfg.Mode == ModeStaleRead {
			ack = n.received
		}
		n.mu.Unlock()
	}
}

// applier applies a stale-read backup's received entries once their
// delay has passed.
func (n *Node) applier() {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		now := time.Now()
		for len(n.queue) > 0 && !n.queue[0].due.After(now) {
			e := n.queue[0].e
			n.queue = n.queue[1:]
			apply(n.state, e)
			n.applied = e.Index
		}
		wait := time.Duration(-1)
		if len(n.queue) > 0 {
			wait = time.Until(n.queue[0].due)
		}
		n.mu.Unlock()
		if wait < 0 {
			select {
			case <-n.wake:
			case <-n.done:
				return
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.wake:
			t.Stop()
		case <-n.done:
			t.Stop()
			return
		}
	}
}

// lead serves a backup's replication connection: it sends a snapshot and
// the entries not yet committed, then every new entry and a heartbeat,
// and records the backup's acknowledgements.
func (n *Node) lead(c net.Conn, r *bufio.Reader, join message) {
	timeout := n.cfg.HeartbeatTimeout
	n.mu.Lock()
	if n.role != rolePrimary || join.Term > n.term || join.Join == n.cfg.Name ||
		n.peerAddr(join.Join) == "" {
		if n.role == rolePrimary && join.Term > n.term {
			n.stepDown(fmt.Sprintf("%s is in term %d", join.Join, join.Term))
		}
		refuse := message{Type: msgRefuse, Term: n.term, Node: n.primary}
		n.mu.Unlock()
		writeLine(c, refuse, timeout)
		return
	}
	f := newFollower(join.Join, c, timeout)
	if old := n.followers[f.name]; old != nil {
		old.close()
	}
	f.send(message{Type: msgSnapshot, Term: n.term, Node: n.cfg.Name, Index: n.applied, State: maps.Clone(n.state)}, time.Time{})
	for _, e := range n.log {
		f.send(e.message(n.term), time.Time{})
	}
	n.followers[f.name] = f
	n.logf("backup %s joins term %d at index %d", f.name, n.term, n.applied)
	n.mu.Unlock()

	n.wg.Add(2)
	go func() { defer n.wg.Done(); f.write() }()
	go func() { defer n.wg.Done(); f.heartbeat(message{Type: msgHeartbeat, Term: n.term}) }()
	defer func() {
		f.close()
		n.mu.Lock()
		if n.followers[f.name] == f {
			delete(n.followers, f.name)
			n.advance()
		}
		n.mu.Unlock()
	}()
	for {
		c.SetReadDeadline(time.Now().Add(2 * timeout))
		line, err := readLine(r)
		if err != nil {
			return
		}
		var m message
		if json.Unmarshal(line, &m) != nil || m.Ack == nil {
			return
		}
		n.mu.Lock()
		if n.followers[f.name] != f {
			n.mu.Unlock()
			return
		}
		f.match = max(f.match, *m.Ack)
		f.lastAck = time.Now()
		n.advance()
		n.mu.Unlock()
	}
}

// follower is a primary's end of one backup's replication connection.
type follower struct {
	name    string
	conn    net.Conn
	timeout time.Duration
	out     chan outLine
	stop    chan struct{}
	once    sync.Once
	wmu     sync.Mutex
	match   int64     // guarded by Node.mu
	lastAck time.Time // guarded by Node.mu
}

type outLine struct {
	due  time.Time
	line []byte
}

// followerQueue bounds the lines waiting for one backup; a backup that
// falls this far behind is dropped.
const followerQueue = 1 << 15

func newFollower(name string, c net.Conn, timeout time.Duration) *follower {
	return &follower{name: name, conn: c, timeout: timeout, out: make(chan outLine, followerQueue),
		stop: make(chan struct{}), lastAck: time.Now()}
}

func (f *follower) close() {
	f.once.Do(func() {
		close(f.stop)
		f.conn.Close()
	})
}

// send queues m to be written at due (at once for the zero time).
func (f *follower) send(m message, due time.Time) {
	b, err := json.Marshal(m)
	if err != nil {
		f.close()
		return
	}
	select {
	case f.out <- outLine{due: due, line: append(b, '\n')}:
	default:
		f.close()
	}
}

func (f *follower) writeRaw(b []byte) bool {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.conn.SetWriteDeadline(time.Now().Add(f.timeout))
	if _, err := f.conn.Write(b); err != nil {
		f.close()
		return false
	}
	return true
}

// write sends the queued lines in order, each no earlier than its due
// time.
func (f *follower) write() {
	for {
		select {
		case <-f.stop:
			return
		case o := <-f.out:
			if d := time.Until(o.due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-f.stop:
					t.Stop()
					return
				}
			}
			if !f.writeRaw(o.line) {
				return
			}
		}
	}
}

// heartbeat sends hb every quarter of the timeout.
func (f *follower) heartbeat(hb message) {
	b, err := json.Marshal(hb)
	if err != nil {
		f.close()
		return
	}
	b = append(b, '\n')
	t := time.NewTicker(f.timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			if !f.writeRaw(b) {
				return
			}
		}
	}
}
