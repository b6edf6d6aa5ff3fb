package nemesis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Kernel network faults: nftables rules (pure netlink) in the owner's table
// falsify_<owner>, one input and/or output chain per fault, a counter on
// every rule. Evidence: the counters going from 0 to N while falsify sends
// traffic that crosses the rule, and a victim-side TCP connect from the
// same namespace that succeeded (or was refused) before and times out
// after.
func init() {
	for _, k := range []*Kind{
		{Name: "drop", Doc: "drop every packet to and from the target host (params.port / proto narrow it); evidence: nft counters 0→N, a TCP connect that reached the host before times out after"},
		{Name: "drop-oneway", Doc: "drop one direction only (params.direction: out = to the target, in = from the target): the asymmetric partition; evidence as drop"},
		{Name: "loss", Doc: "drop params.probability (0..1] of the packets (numgen random match), params.direction both|out|in; evidence: nft counters 0→N under a burst of probe packets"},
	} {
		k.Params = map[string]string{
			"port":       "narrow to this port of the target (default: an address target's port, none for a node)",
			"proto":      "tcp or udp (default tcp when a port is given)",
			"probe_port": "port the victim-side connect uses (default: port, else 9; a closed port answers RST, which proves reachability)",
			"netns":      "network namespace to install the rules in (default: the target's)",
		}
		switch k.Name {
		case "drop-oneway":
			k.Params["direction"] = "required: out (packets to the target dropped) or in (packets from it)"
		case "loss":
			k.Params["probability"] = "required: fraction of packets dropped, (0, 1]"
			k.Params["direction"] = "both (default), out or in"
		}
		k.Family = "network-kernel"
		k.Needs = []string{CapRoot, CapNFTables}
		k.Targets = []string{TargetNode, TargetAddress}
		k.Check = checkNFT
		k.Baseline = baselineNFT
		k.Apply = applyNFT
		k.Probe = probeNFT
		k.Heal = healNFT
		k.HealProbe = healProbeNFT
		k.Orphan = orphanNFT
		register(k)
	}
}

type nftFault struct {
	peer      net.IP
	port      uint16
	proto     string // "", tcp, udp
	dirs      []string
	prob      float64 // loss; 0 = drop all
	probePort uint16
	before    probeResult
}

func checkNFT(_ context.Context, env *Env, a *Applied) error {
	if len(a.targets) != 1 {
		return fmt.Errorf("targets: %s takes one node or address target per fault", a.Record.Kind)
	}
	t := a.targets[0].snapshot()
	p := a.params()
	f := &nftFault{}
	var portDefault int
	switch t.Kind {
	case TargetNode:
		f.peer = net.ParseIP(t.Node)
	case TargetAddress:
		host, port, _ := net.SplitHostPort(t.Address)
		ip := net.ParseIP(host)
		if ip == nil {
			ips, err := net.LookupIP(host)
			if err != nil || len(ips) == 0 {
				return fmt.Errorf("target %q: cannot resolve %s: %v", t.Name, host, err)
			}
			ip = ips[0]
		}
		f.peer = ip
		portDefault, _ = strconv.Atoi(port)
	}
	if f.peer == nil {
		return fmt.Errorf("target %q: no IP address", t.Name)
	}
	if f.peer.IsLoopback() {
		return &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("target %q is a loopback address: dropping %s would cut falsify off from itself; use a proxy fault, or a node in a network namespace", t.Name, f.peer)}
	}
	port, err := p.int("port", portDefault)
	if err != nil {
		return err
	}
	if port < 0 || port > 65535 {
		return fmt.Errorf("params.port %d: out of range", port)
	}
	f.port = uint16(port)
	def := ""
	if port != 0 {
		def = "tcp"
	}
	if f.proto, err = p.oneOf("proto", def, "", "tcp", "udp"); err != nil {
		return err
	}
	switch a.Record.Kind {
	case "drop":
		f.dirs = []string{"out", "in"}
	case "drop-oneway":
		d, err := p.oneOf("direction", "", "out", "in")
		if err != nil {
			return fmt.Errorf("%w (out = packets to the target dropped, in = packets from it dropped)", err)
		}
		f.dirs = []string{d}
	case "loss":
		d, err := p.oneOf("direction", "both", "both", "out", "in")
		if err != nil {
			return err
		}
		f.dirs = []string{d}
		if d == "both" {
			f.dirs = []string{"out", "in"}
		}
		if f.prob, err = p.float("probability", 0); err != nil {
			return err
		}
		if f.prob <= 0 || f.prob > 1 {
			return fmt.Errorf("params.probability %v: give a fraction in (0, 1]", f.prob)
		}
	}
	pp, err := p.int("probe_port", int(f.port))
	if err != nil {
		return err
	}
	if pp == 0 {
		pp = 9 // discard: a closed port answers with a RST, which is reachability too
	}
	f.probePort = uint16(pp)
	ns, err := p.str("netns", t.Netns)
	if err != nil {
		return err
	}
	if ns != "" {
		if _, err := netnsPath(ns); err != nil {
			return fmt.Errorf("params.netns: %w", err)
		}
	}
	a.Record.Netns = ns
	a.Record.Table = env.n.Table()
	for _, d := range f.dirs {
		a.Record.Chains = append(a.Record.Chains, env.n.objName(a.Record.ID)+"_"+d)
	}
	a.state = f
	return nil
}

func baselineNFT(ctx context.Context, _ *Env, a *Applied) error {
	f := a.state.(*nftFault)
	r, err := reach(ctx, a.Record.Netns, f.peer, f.probePort, f.proto, time.Second)
	if err != nil {
		return err
	}
	f.before = r
	return nil
}

func applyNFT(_ context.Context, env *Env, a *Applied) error {
	f := a.state.(*nftFault)
	conn, done, err := nftConn(a.Record.Netns)
	if err != nil {
		return err
	}
	defer done()
	tbl := conn.AddTable(&nftables.Table{Name: a.Record.Table, Family: nftables.TableFamilyINet})
	env.n.noteTable(a.Record.Netns)
	accept := nftables.ChainPolicyAccept
	for i, d := range f.dirs {
		hook := nftables.ChainHookOutput
		if d == "in" {
			hook = nftables.ChainHookInput
		}
		ch := conn.AddChain(&nftables.Chain{Name: a.Record.Chains[i], Table: tbl, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		conn.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: ruleExprs(f, d == "out")})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: installing %s in table %s%s: %w", strings.Join(a.Record.Chains, ", "), a.Record.Table, nsSuffix(a.Record.Netns), err)
	}
	return nil
}

// ruleExprs builds: [nfproto + ip daddr/saddr] [l4proto [+ dport/sport]]
// [numgen random mod 10000 < p] counter drop.
func ruleExprs(f *nftFault, out bool) []expr.Any {
	var ex []expr.Any
	if v4 := f.peer.To4(); v4 != nil {
		off := uint32(12) // saddr
		if out {
			off = 16 // daddr
		}
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: v4})
	} else {
		off := uint32(8)
		if out {
			off = 24
		}
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 16},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: f.peer.To16()})
	}
	if f.proto != "" {
		proto := byte(unix.IPPROTO_TCP)
		if f.proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}})
		if f.port != 0 {
			off := uint32(0) // sport: packets from the target's port
			if out {
				off = 2 // dport
			}
			port := make([]byte, 2)
			binary.BigEndian.PutUint16(port, f.port)
			ex = append(ex,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: port})
		}
	}
	if f.prob > 0 && f.prob < 1 {
		lim := make([]byte, 4)
		binary.BigEndian.PutUint32(lim, uint32(f.prob*10000))
		ex = append(ex,
			&expr.Numgen{Register: 1, Modulus: 10000, Type: unix.NFT_NG_RANDOM},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: lim})
	}
	return append(ex, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// counters reads the packet and byte counters of the fault's rules.
func counters(a *Applied) (map[string][2]uint64, error) {
	conn, done, err := nftConn(a.Record.Netns)
	if err != nil {
		return nil, err
	}
	defer done()
	tbl := &nftables.Table{Name: a.Record.Table, Family: nftables.TableFamilyINet}
	out := map[string][2]uint64{}
	for _, name := range a.Record.Chains {
		rules, err := conn.GetRules(tbl, &nftables.Chain{Name: name, Table: tbl})
		if err != nil {
			return nil, fmt.Errorf("nftables: reading %s/%s: %w", a.Record.Table, name, err)
		}
		var c [2]uint64
		for _, r := range rules {
			for _, e := range r.Exprs {
				if ce, ok := e.(*expr.Counter); ok {
					c[0] += ce.Packets
					c[1] += ce.Bytes
				}
			}
		}
		out[name] = c
	}
	return out, nil
}

func probeNFT(ctx context.Context, _ *Env, a *Applied) Outcome {
	f := a.state.(*nftFault)
	var out Outcome
	c0, err := counters(a)
	if err != nil {
		out.Reason = "cannot read the rule counters: " + err.Error()
		return out
	}
	var after probeResult
	sent := 0
	if a.Record.Kind == "loss" {
		sent, err = burst(a.Record.Netns, f, 200)
		if err != nil {
			out.Reason = "cannot send probe packets: " + err.Error()
			return out
		}
	} else {
		after, err = reach(ctx, a.Record.Netns, f.peer, f.probePort, f.proto, time.Second)
		if err != nil {
			out.Reason = "cannot run the victim probe: " + err.Error()
			return out
		}
	}
	c1, err := counters(a)
	if err != nil {
		out.Reason = "cannot read the rule counters: " + err.Error()
		return out
	}
	var total uint64
	for _, ch := range a.Record.Chains {
		total += c1[ch][0]
		out.Evidence = append(out.Evidence, Evidence{
			Probe:  fmt.Sprintf("nft counter, table inet %s chain %s%s", a.Record.Table, ch, nsSuffix(a.Record.Netns)),
			Before: fmt.Sprintf("%d packets", c0[ch][0]), After: fmt.Sprintf("%d packets, %d bytes", c1[ch][0], c1[ch][1]),
			Raw: map[string]any{"packets_before": c0[ch][0], "packets_after": c1[ch][0], "bytes_after": c1[ch][1]}, Measured: true, Side: SideInjector})
	}
	target := net.JoinHostPort(f.peer.String(), strconv.Itoa(int(f.probePort)))
	if a.Record.Kind == "loss" {
		out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("burst of %d probe packets to %s", sent, target), Before: "0 sent", After: fmt.Sprintf("%d sent, %d dropped by the rule", sent, total), Measured: true, Side: SideInjector,
			Raw: map[string]any{"sent": sent, "dropped": total}})
		out.Landed = total > 0
		out.Reason = pick(out.Landed, fmt.Sprintf("the loss rule dropped %d of %d probe packets (counters 0→%d)", total, sent, total), "the loss rule's counters did not move under a burst of probe packets")
		return out
	}
	out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("%s connect to %s%s", strings.ToUpper(orTCP(f.proto)), target, nsSuffix(a.Record.Netns)), Before: f.before.String(), After: after.String(), Measured: true, Side: SideVictim,
		Raw: map[string]any{"before": f.before.raw(), "after": after.raw()}})
	reachedBefore := reachable(f.before)
	cut := !reachable(after)
	out.Landed = total > 0 && (cut || f.proto == "udp")
	switch {
	case out.Landed && reachedBefore:
		out.Reason = fmt.Sprintf("the drop rules counted %d packets (0 before) and the target, reachable before (%s), is cut off (%s)", total, f.before.Outcome, after.Outcome)
	case out.Landed:
		out.Reason = fmt.Sprintf("the drop rules counted %d packets (0 before); the victim probe was already failing before (%s), so only the counters prove it", total, f.before.Outcome)
	case total == 0:
		out.Reason = "no packet hit the drop rules: the counters stayed at 0"
	default:
		out.Reason = "the counters moved but the target is still reachable: " + after.String()
	}
	return out
}

func orTCP(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

func reachable(r probeResult) bool { return r.OK || r.Outcome == "refused" }

func healNFT(_ context.Context, _ *Env, a *Applied) error {
	conn, done, err := nftConn(a.Record.Netns)
	if err != nil {
		if isNotExist(err) {
			return nil // the namespace is gone, and its rules with it
		}
		return err
	}
	defer done()
	tbl := &nftables.Table{Name: a.Record.Table, Family: nftables.TableFamilyINet}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("nftables: listing chains: %w", err)
	}
	left := 0
	for _, ch := range chains {
		if ch.Table.Name != a.Record.Table {
			continue
		}
		if contains(a.Record.Chains, ch.Name) {
			conn.FlushChain(ch)
			conn.DelChain(ch)
		} else {
			left++
		}
	}
	if left == 0 {
		conn.DelTable(tbl)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: deleting %s from %s: %w", strings.Join(a.Record.Chains, ", "), a.Record.Table, err)
	}
	return nil
}

func healProbeNFT(ctx context.Context, _ *Env, a *Applied) Outcome {
	f := a.state.(*nftFault)
	var out Outcome
	present, err := chainsPresent(a.Record.Netns, a.Record.Table, a.Record.Chains)
	gone := err == nil && len(present) == 0
	ev := Evidence{Probe: fmt.Sprintf("nft chains %s in table inet %s%s", strings.Join(a.Record.Chains, ", "), a.Record.Table, nsSuffix(a.Record.Netns)),
		Before: "present", After: pick(gone, "absent", "present: "+strings.Join(present, ", ")), Measured: err == nil, Side: SideInjector}
	if err != nil {
		ev.After = "unreadable: " + err.Error()
	}
	out.Evidence = append(out.Evidence, ev)
	recovered := true
	if a.Record.Kind != "loss" && reachable(f.before) {
		var r probeResult
		deadline := time.Now().Add(3 * time.Second)
		for {
			r, err = reach(ctx, a.Record.Netns, f.peer, f.probePort, f.proto, time.Second)
			if err != nil || reachable(r) || time.Now().After(deadline) {
				break
			}
		}
		recovered = err == nil && reachable(r)
		out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("TCP connect to %s", net.JoinHostPort(f.peer.String(), strconv.Itoa(int(f.probePort)))), Before: "cut off", After: r.String(), Measured: err == nil, Side: SideVictim, Raw: r.raw()})
	}
	out.Healed = gone && recovered
	out.Reason = pick(out.Healed, "the fault's rules are gone and the target is reachable again", "rules gone: "+strconv.FormatBool(gone)+"; reachable again: "+strconv.FormatBool(recovered))
	return out
}

// orphanNFT deletes the crashed owner's whole table.
func orphanNFT(_ context.Context, rec *Record) Outcome {
	var out Outcome
	before := tableExists(rec.Netns, rec.Table)
	err := deleteTable(rec.Table, rec.Netns)
	after := tableExists(rec.Netns, rec.Table)
	ev := Evidence{Probe: fmt.Sprintf("nft table inet %s%s", rec.Table, nsSuffix(rec.Netns)), Before: before, After: after, Measured: true, Side: SideInjector}
	if err != nil && !isNotExist(err) {
		ev.Raw = map[string]any{"error": err.Error()}
	}
	out.Evidence = append(out.Evidence, ev)
	out.Healed = after == "absent" || after == "namespace gone"
	out.Reason = pick(out.Healed, "the owner's nftables table (all its rules) is gone", "the table is still there: "+after)
	return out
}

func tableExists(ns, name string) string {
	conn, done, err := nftConn(ns)
	if err != nil {
		if isNotExist(err) {
			return "namespace gone"
		}
		return "unreadable: " + err.Error()
	}
	defer done()
	if _, err := conn.ListTableOfFamily(name, nftables.TableFamilyINet); err != nil {
		if isNotExist(err) {
			return "absent"
		}
		return "unreadable: " + err.Error()
	}
	return "present"
}

// deleteTable deletes an nftables inet table, in namespace ns ("" = host).
func deleteTable(name, ns string) error {
	conn, done, err := nftConn(ns)
	if err != nil {
		return err
	}
	defer done()
	if _, err := conn.ListTableOfFamily(name, nftables.TableFamilyINet); err != nil {
		return err
	}
	conn.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyINet})
	return conn.Flush()
}

// OrphanTables lists the nftables tables named falsify_* in namespace ns
// ("" = the host's): what a crashed falsify may have left behind.
func OrphanTables(ns string) ([]string, error) {
	conn, done, err := nftConn(ns)
	if err != nil {
		return nil, err
	}
	defer done()
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tables {
		if strings.HasPrefix(t.Name, "falsify_") {
			out = append(out, t.Name)
		}
	}
	return out, nil
}

func chainsPresent(ns, table string, names []string) ([]string, error) {
	conn, done, err := nftConn(ns)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer done()
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name == table && contains(names, ch.Name) {
			out = append(out, ch.Name)
		}
	}
	return out, nil
}

func isNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT)
}

func nsSuffix(ns string) string {
	if ns == "" {
		return ""
	}
	return " (netns " + ns + ")"
}

// netnsPath maps a namespace name to its path: a name is looked up under
// /run/netns (ip netns add), a path is used as is.
func netnsPath(ns string) (string, error) {
	p := ns
	if !strings.Contains(ns, "/") {
		p = filepath.Join("/run/netns", ns)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("network namespace %q: %w", ns, err)
	}
	return p, nil
}

// nftConn opens an nftables connection in namespace ns ("" = current).
func nftConn(ns string) (*nftables.Conn, func(), error) {
	if ns == "" {
		c, err := nftables.New()
		if err != nil {
			return nil, nil, fmt.Errorf("nftables: %w", err)
		}
		return c, func() {}, nil
	}
	p, err := netnsPath(ns)
	if err != nil {
		return nil, nil, err
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("network namespace %q: %w", ns, err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("nftables in netns %q: %w", ns, err)
	}
	return c, func() { unix.Close(fd) }, nil
}

// inNetns runs f on an OS thread moved into namespace ns. The thread is
// never handed back to the scheduler (it exits with the goroutine), so no
// other goroutine ever runs in the namespace.
func inNetns(ns string, f func() error) error {
	if ns == "" {
		return f()
	}
	p, err := netnsPath(ns)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread dies with the goroutine
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("network namespace %q: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %q: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// reach tries a TCP connect (or, for proto udp, sends a datagram) to
// ip:port from namespace ns: ok or refused means the host is reachable.
func reach(ctx context.Context, ns string, ip net.IP, port uint16, proto string, timeout time.Duration) (probeResult, error) {
	var r probeResult
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
	err := inNetns(ns, func() error {
		start := time.Now()
		if proto == "udp" {
			c, err := net.Dial("udp", addr)
			if err != nil {
				r = classify(err, time.Since(start))
				return nil
			}
			defer c.Close()
			_, err = c.Write([]byte("falsify-probe"))
			r = probeResult{OK: err == nil, Outcome: pick(err == nil, "sent", "error"), RTT: time.Since(start)}
			return nil
		}
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			r = classify(err, time.Since(start))
			return nil
		}
		c.Close()
		r = probeResult{OK: true, Outcome: "ok", RTT: time.Since(start)}
		return nil
	})
	return r, err
}

// burst sends n probe packets that cross a loss rule: UDP datagrams, or
// TCP connects (SYNs) for a tcp rule. It returns how many it sent.
func burst(ns string, f *nftFault, n int) (int, error) {
	sent := 0
	err := inNetns(ns, func() error {
		if f.proto == "tcp" {
			// Non-blocking connects from this (namespaced) thread: each
			// sends a SYN at once; goroutines would run on other threads,
			// outside the namespace.
			n = min(n, 64)
			var fds []int
			defer func() {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}()
			for range n {
				fd, sa, err := tcpSocket(f.peer, f.probePort)
				if err != nil {
					return err
				}
				fds = append(fds, fd)
				if err := unix.Connect(fd, sa); err == nil || errors.Is(err, unix.EINPROGRESS) {
					sent++
				}
			}
			time.Sleep(200 * time.Millisecond)
			return nil
		}
		// An unconnected socket: ICMP errors from the target are not
		// reported back, so every write is a datagram on the wire.
		network := "udp4"
		if f.peer.To4() == nil {
			network = "udp6"
		}
		c, err := net.ListenPacket(network, ":0")
		if err != nil {
			return err
		}
		defer c.Close()
		dst := &net.UDPAddr{IP: f.peer, Port: int(f.probePort)}
		for range n {
			// A datagram dropped by an output rule fails with EPERM: it
			// crossed the rule all the same.
			if _, err := c.WriteTo([]byte("falsify-loss-probe"), dst); err == nil || errors.Is(err, unix.EPERM) {
				sent++
			}
		}
		return nil
	})
	return sent, err
}

func tcpSocket(ip net.IP, port uint16) (int, unix.Sockaddr, error) {
	if v4 := ip.To4(); v4 != nil {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		sa := &unix.SockaddrInet4{Port: int(port)}
		copy(sa.Addr[:], v4)
		return fd, sa, err
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	sa := &unix.SockaddrInet6{Port: int(port)}
	copy(sa.Addr[:], ip.To16())
	return fd, sa, err
}

func (n *Nemesis) noteTable(ns string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.tables == nil {
		n.tables = map[string]bool{}
	}
	n.tables[ns] = true
}
