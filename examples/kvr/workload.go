package kvr

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// Read routing for [Workload.ReadFrom].
const (
	ReadFromPrimary = "primary" // reads go where writes go
	ReadFromAny     = "any"     // each read goes to a node picked at random
)

// Error codes a workload records besides the node's [Reply] codes.
const (
	ErrTimeout        = "timeout"         // no reply within the timeout (indeterminate)
	ErrConnectionLost = "connection-lost" // the connection broke after the request was sent (indeterminate)
)

// Workload drives concurrent clients against the cluster and records
// their history in falsify's format: one [history.Op] per operation,
// op_type read / write / cas on key "k<i>" (the "kv" model of the
// linearizability checker; each key is a register starting at null).
// A write's input is its value, unique in the run; a cas's input is
// [expected, new] and its output true or false; a read's output is the
// value read. An op without a reply is indeterminate (complete_ts null,
// timeout_marker true, output null) and its client continues as a new
// process, as Jepsen's do.
type Workload struct {
	// Seed fixes every client's sequence of op types, keys and values.
	Seed     int64
	Clients  int           // concurrent clients; default 5
	Duration time.Duration // how long clients start new ops; default 2 s
	Keys     int           // keys k0…k(Keys-1); default 5
	// Nodes are the addresses to talk to, in failover order (the first is
	// tried first); they may be proxies.
	Nodes    []string
	ReadFrom string        // ReadFromPrimary (default) or ReadFromAny
	Timeout  time.Duration // per op; default 1 s
	// Pause is how long a client waits between two ops; default none.
	Pause time.Duration
	// Start is the origin of invoke_ts / complete_ts (monotonic); the zero
	// time means when Run starts. Set it to share a clock with a fault
	// ledger.
	Start time.Time
}

// Run runs the workload until Duration has passed or ctx is done and
// returns the history, ordered by invoke_ts. Ops in flight when it stops
// complete or time out first.
func (w Workload) Run(ctx context.Context) ([]history.Op, error) {
	if len(w.Nodes) == 0 {
		return nil, errors.New("kvr workload: no nodes to talk to")
	}
	if w.Clients <= 0 {
		w.Clients = 5
	}
	if w.Duration <= 0 {
		w.Duration = 2 * time.Second
	}
	if w.Keys <= 0 {
		w.Keys = 5
	}
	if w.Timeout <= 0 {
		w.Timeout = time.Second
	}
	switch w.ReadFrom {
	case "":
		w.ReadFrom = ReadFromPrimary
	case ReadFromPrimary, ReadFromAny:
	default:
		return nil, fmt.Errorf("kvr workload: read-from %q: want primary or any", w.ReadFrom)
	}
	if w.Start.IsZero() {
		w.Start = time.Now()
	}
	ctx, cancel := context.WithTimeout(ctx, w.Duration)
	defer cancel()
	names := &nodeNames{byAddr: map[string]string{}}
	results := make([][]history.Op, w.Clients)
	var wg sync.WaitGroup
	for i := range w.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{w: &w, id: i, gen: NewGenerator(w.Seed, i, w.Keys), names: names,
				route: rand.New(rand.NewPCG(uint64(w.Seed), uint64(i)+1<<32)), conns: map[string]*clientConn{}}
			results[i] = c.run(ctx)
		}()
	}
	wg.Wait()
	var ops []history.Op
	for _, r := range results {
		ops = append(ops, r...)
	}
	slices.SortStableFunc(ops, func(a, b history.Op) int { return cmp.Compare(*a.InvokeTS, *b.InvokeTS) })
	return ops, nil
}

// Invocation is one op a client issues: what the seed decides.
type Invocation struct {
	Type     string          // read, write or cas
	Key      string          // k<i>
	Value    json.RawMessage // write, cas: the new value (unique in the run)
	Expected json.RawMessage // cas: the value compared (null or a value this client wrote)
}

// Generator yields one client's invocations: 60% reads, 20% writes, 20%
// cas, keys uniform. Written values are unique across clients: client c's
// n-th op writes (c+1)·10⁶ + n. A cas expects the last value this client
// wrote to the key (null before its first write there).
type Generator struct {
	client  int
	keys    int
	n       int
	rng     *rand.Rand
	written map[string]json.RawMessage
}

// NewGenerator returns client's generator for the seed.
func NewGenerator(seed int64, client, keys int) *Generator {
	return &Generator{client: client, keys: max(keys, 1),
		rng:     rand.New(rand.NewPCG(uint64(seed), uint64(client))),
		written: map[string]json.RawMessage{}}
}

// Next returns the next invocation.
func (g *Generator) Next() Invocation {
	g.n++
	p := g.rng.IntN(10)
	key := "k" + strconv.Itoa(g.rng.IntN(g.keys))
	value := json.RawMessage(strconv.Itoa((g.client+1)*1_000_000 + g.n))
	switch {
	case p < 6:
		return Invocation{Type: OpRead, Key: key}
	case p < 8:
		g.written[key] = value
		return Invocation{Type: OpWrite, Key: key, Value: value}
	}
	expected := orNull(g.written[key])
	g.written[key] = value
	return Invocation{Type: OpCAS, Key: key, Value: value, Expected: expected}
}

// nodeNames maps the addresses the clients dial to the node names that
// answer there, for node_seen on ops without a reply.
type nodeNames struct {
	mu     sync.Mutex
	byAddr map[string]string
}

func (m *nodeNames) learn(addr, name string) {
	if name == "" {
		return
	}
	m.mu.Lock()
	m.byAddr[addr] = name
	m.mu.Unlock()
}

func (m *nodeNames) name(addr string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.byAddr[addr]; ok {
		return n
	}
	return addr
}

func (m *nodeNames) addr(name string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, n := range m.byAddr {
		if n == name {
			return a, true
		}
	}
	return "", false
}

// client is one workload client; its process id changes after every
// indeterminate op.
type client struct {
	w     *Workload
	id    int
	gen   *Generator
	names *nodeNames
	route *rand.Rand
	cur   int // index in Nodes where writes go
	proc  int // process generation
	conns map[string]*clientConn
}

type clientConn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *client) run(ctx context.Context) []history.Op {
	var ops []history.Op
	defer c.closeAll()
	for n := 1; ctx.Err() == nil; n++ {
		inv := c.gen.Next()
		ops = append(ops, c.do(ctx, fmt.Sprintf("c%d-%d", c.id, n), inv))
		if c.w.Pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.w.Pause):
			}
		}
	}
	return ops
}

func (c *client) closeAll() {
	for a, cc := range c.conns {
		cc.c.Close()
		delete(c.conns, a)
	}
}

func (c *client) now() int64 { return int64(time.Since(c.w.Start)) }

// target picks the node for the attempt'th try of inv.
func (c *client) target(inv Invocation, attempt int) string {
	if inv.Type == OpRead && c.w.ReadFrom == ReadFromAny {
		if attempt == 0 {
			return c.w.Nodes[c.route.IntN(len(c.w.Nodes))]
		}
		return c.w.Nodes[(c.route.IntN(len(c.w.Nodes))+attempt)%len(c.w.Nodes)]
	}
	return c.w.Nodes[c.cur]
}

// rotate moves writes to the next node, or to the one a refusal names.
func (c *client) rotate(from string, hint string) {
	if a, ok := c.names.addr(hint); ok && hint != "" {
		if i := slices.Index(c.w.Nodes, a); i >= 0 && a != from {
			c.cur = i
			return
		}
	}
	if c.w.Nodes[c.cur] == from {
		c.cur = (c.cur + 1) % len(c.w.Nodes)
	}
}

// do performs one op: refusals (the op had no effect) are retried on the
// next node until the timeout; the first reply or the loss of a sent
// request ends it.
func (c *client) do(ctx context.Context, id string, inv Invocation) history.Op {
	key := inv.Key
	op := history.Op{OpID: id, OpType: inv.Type, Key: &key, Input: inputOf(inv)}
	proc := strconv.Itoa(c.id + c.proc*c.w.Clients)
	op.ProcessID = &proc
	start := time.Now()
	invoke := c.now()
	op.InvokeTS = &invoke
	deadline := start.Add(c.w.Timeout)
	req := Request{Op: inv.Type, Key: inv.Key, Value: inv.Value, Expected: inv.Expected, ID: id}
	lastErr := ErrUnavailable
	for attempt := 0; ; attempt++ {
		addr := c.target(inv, attempt)
		rep, sent, err := c.send(addr, req, deadline)
		switch {
		case err != nil && sent:
			// The request may have been performed: indeterminate.
			code := ErrConnectionLost
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				code = ErrTimeout
			}
			return c.indeterminate(op, addr, code)
		case err == nil && rep.Error == ErrUnknown:
			return c.indeterminate(op, addr, ErrUnknown)
		case err == nil && rep.Error == "":
			c.names.learn(addr, rep.Node)
			done := max(c.now(), invoke)
			op.CompleteTS = &done
			node := rep.Node
			op.NodeSeen = &node
			switch inv.Type {
			case OpRead:
				op.Output = orNull(rep.Value)
			case OpCAS:
				op.Output = json.RawMessage(strconv.FormatBool(rep.OK))
			default:
				op.Output = nil
			}
			return op
		case err == nil && (rep.Error == ErrNotPrimary || rep.Error == ErrUnavailable):
			c.names.learn(addr, rep.Node)
			lastErr = rep.Error
			if inv.Type != OpRead || c.w.ReadFrom != ReadFromAny {
				c.rotate(addr, rep.Primary)
			}
		case err == nil:
			// bad-request and anything unforeseen: a definite failure.
			c.names.learn(addr, rep.Node)
			return c.failed(op, invoke, nodeOr(rep.Node, addr), rep.Error)
		default:
			// Nothing was sent (dial failed): no effect; try the next node.
			lastErr = ErrUnavailable
			if inv.Type != OpRead || c.w.ReadFrom != ReadFromAny {
				c.rotate(addr, "")
			}
		}
		backoff := time.Duration(min(attempt+1, 5)) * 10 * time.Millisecond
		if time.Until(deadline) <= backoff || ctx.Err() != nil && attempt >= len(c.w.Nodes) {
			return c.failed(op, invoke, c.names.name(addr), lastErr)
		}
		time.Sleep(backoff)
	}
}

func nodeOr(name, addr string) string {
	if name != "" {
		return name
	}
	return addr
}

func inputOf(inv Invocation) json.RawMessage {
	switch inv.Type {
	case OpWrite:
		return inv.Value
	case OpCAS:
		return json.RawMessage("[" + string(orNull(inv.Expected)) + "," + string(inv.Value) + "]")
	}
	return nil
}

// failed records a definite failure: the op had no effect.
func (c *client) failed(op history.Op, invoke int64, node, code string) history.Op {
	done := max(c.now(), invoke)
	op.CompleteTS = &done
	op.Error = &code
	op.NodeSeen = &node
	return op
}

// indeterminate records an op whose outcome is unknown; the client
// crashes (drops its connections) and continues as a new process, its
// writes going to the next node.
func (c *client) indeterminate(op history.Op, addr, code string) history.Op {
	t := true
	op.TimeoutMarker = &t
	op.Error = &code
	node := c.names.name(addr)
	op.NodeSeen = &node
	c.closeAll()
	c.proc++
	if c.w.Nodes[c.cur] == addr {
		c.cur = (c.cur + 1) % len(c.w.Nodes)
	}
	return op
}

// send sends req to addr and reads the reply before deadline. sent says
// whether the request may have reached the node.
func (c *client) send(addr string, req Request, deadline time.Time) (rep Reply, sent bool, err error) {
	cc := c.conns[addr]
	if cc == nil {
		conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
		if err != nil {
			return Reply{}, false, err
		}
		cc = &clientConn{c: conn, r: bufio.NewReader(conn)}
		c.conns[addr] = cc
	}
	drop := func() {
		cc.c.Close()
		delete(c.conns, addr)
	}
	cc.c.SetDeadline(deadline)
	if err := writeLine(cc.c, req, time.Until(deadline)); err != nil {
		drop()
		return Reply{}, true, err
	}
	for {
		line, err := readLine(cc.r)
		if err != nil {
			drop()
			return Reply{}, true, err
		}
		if err := json.Unmarshal(line, &rep); err != nil {
			drop()
			return Reply{}, true, fmt.Errorf("reply from %s: %w", addr, err)
		}
		if rep.ID == req.ID {
			return rep, true, nil
		}
		// A reply to an earlier request of this connection: skip it.
	}
}
