package nemesis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Proxy fault kinds work on address targets through the embedded Toxiproxy
// proxy; no root needed. Toxiproxy's byte counters move only when a
// connection closes, so landing is measured with an active probe through
// the proxy: a connect + write + read, before and after.
func init() {
	for _, k := range []*Kind{
		{Name: "partition", Doc: "black-hole both directions through the proxy (timeout toxic, timeout 0, upstream and downstream); evidence: the active probe's round trip succeeds before and times out after"},
		{Name: "partition-oneway", Doc: "black-hole one direction (params.direction: upstream = client→server, downstream = server→client); evidence: the active probe's round trip times out"},
		{Name: "latency", Doc: "add params.latency (ms or duration) ± params.jitter to params.direction (default downstream); evidence: the probe's round trip grows by at least latency − jitter"},
		{Name: "bandwidth", Doc: "cap params.rate KB/s on params.direction (default downstream); evidence: the time to echo a probe payload grows to what the rate allows (needs an echoing server)"},
		{Name: "reset", Doc: "reset connections (reset_peer toxic, params.timeout ms, default 0) on params.direction (default upstream); evidence: the probe connection is reset or closed without a reply"},
		{Name: "down", Doc: "disable the proxy (stop listening, close connections); evidence: the probe's connect is refused"},
	} {
		k.Params = map[string]string{
			"probe_send":    "bytes the active probe writes (default \"falsify-probe\\n\"); the upstream must answer them",
			"probe_expect":  "substring the reply must hold (default: any byte)",
			"probe_timeout": "how long the probe waits (default 1s)",
		}
		switch k.Name {
		case "partition-oneway":
			k.Params["direction"] = "required: upstream (client→server black-holed) or downstream (server→client)"
		case "latency":
			k.Params["latency"] = "required: added delay (ms or \"250ms\")"
			k.Params["jitter"] = "± variation, ≤ latency (default 0)"
			k.Params["direction"] = "upstream or downstream (default)"
		case "bandwidth":
			k.Params["rate"] = "required: cap in KB/s"
			k.Params["direction"] = "upstream or downstream (default)"
		case "reset":
			k.Params["timeout"] = "ms before the reset (default 0)"
			k.Params["direction"] = "upstream (default) or downstream"
		}
		k.Family = "network-proxy"
		k.Targets = []string{TargetAddress}
		k.Check = checkProxy
		k.Baseline = baselineProxy
		k.Apply = applyProxy
		k.Probe = probeProxy
		k.Heal = healProxy
		k.HealProbe = healProbeProxy
		k.Orphan = orphanProxy
		register(k)
	}
}

// proxyFault is the state a proxy fault keeps.
type proxyFault struct {
	toxics  []toxicSpec
	probe   probeSpec
	latency time.Duration
	jitter  time.Duration
	rate    int64
	before  []probeResult // per target
}

type toxicSpec struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// probeSpec is an active probe through a proxy.
type probeSpec struct {
	send    []byte
	expect  string // substring the reply must hold; "" = any byte
	echo    bool   // read back len(send) bytes
	timeout time.Duration
}

// probeResult is one active probe.
type probeResult struct {
	OK      bool          `json:"ok"`
	Outcome string        `json:"outcome"` // ok, timeout, reset, eof, refused, error
	RTT     time.Duration `json:"rtt_ns"`
	Bytes   int           `json:"bytes"`
	Err     string        `json:"error,omitempty"`
}

func (r probeResult) String() string {
	if r.OK {
		return fmt.Sprintf("ok: %d bytes back in %s", r.Bytes, r.RTT.Round(time.Microsecond))
	}
	s := fmt.Sprintf("%s after %s", r.Outcome, r.RTT.Round(time.Millisecond))
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	return s
}

func (r probeResult) raw() map[string]any {
	m := map[string]any{"ok": r.OK, "outcome": r.Outcome, "rtt_ms": float64(r.RTT) / float64(time.Millisecond), "bytes": r.Bytes}
	if r.Err != "" {
		m["error"] = r.Err
	}
	return m
}

func checkProxy(_ context.Context, env *Env, a *Applied) error {
	p := a.params()
	pf := &proxyFault{}
	var err error
	send, err := p.str("probe_send", "falsify-probe\n")
	if err != nil {
		return err
	}
	pf.probe.send = []byte(send)
	if pf.probe.expect, err = p.str("probe_expect", ""); err != nil {
		return err
	}
	if pf.probe.timeout, err = p.duration("probe_timeout", time.Second); err != nil {
		return err
	}
	if pf.probe.timeout <= 0 || pf.probe.timeout > time.Minute {
		return fmt.Errorf("params.probe_timeout %s: give 1ms to 1m", pf.probe.timeout)
	}
	name := func(dir string) string { return fmt.Sprintf("falsify_%s_%s_%s", env.n.owner, a.Record.ID, dir) }
	tox := func(typ, stream string, attrs map[string]any) toxicSpec {
		return toxicSpec{Name: name(stream), Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs}
	}
	switch a.Record.Kind {
	case "partition":
		pf.toxics = []toxicSpec{tox("timeout", "upstream", map[string]any{"timeout": 0}), tox("timeout", "downstream", map[string]any{"timeout": 0})}
	case "partition-oneway":
		dir, err := p.oneOf("direction", "", "upstream", "downstream")
		if err != nil {
			return fmt.Errorf("%w (upstream = client→server black-holed, downstream = server→client)", err)
		}
		pf.toxics = []toxicSpec{tox("timeout", dir, map[string]any{"timeout": 0})}
	case "latency":
		if !p.has("latency") {
			return errors.New("params.latency: give the added delay (ms or \"250ms\")")
		}
		if pf.latency, err = p.duration("latency", 0); err != nil {
			return err
		}
		if pf.jitter, err = p.duration("jitter", 0); err != nil {
			return err
		}
		if pf.latency <= 0 || pf.jitter < 0 || pf.jitter > pf.latency {
			return fmt.Errorf("params.latency %s / jitter %s: latency must be > 0 and jitter ≤ latency", pf.latency, pf.jitter)
		}
		dir, err := p.oneOf("direction", "downstream", "upstream", "downstream")
		if err != nil {
			return err
		}
		pf.toxics = []toxicSpec{tox("latency", dir, map[string]any{"latency": pf.latency.Milliseconds(), "jitter": pf.jitter.Milliseconds()})}
		if !p.has("probe_timeout") {
			pf.probe.timeout = 2*(pf.latency+pf.jitter) + time.Second
		}
	case "bandwidth":
		rate, err := p.int("rate", 0)
		if err != nil {
			return err
		}
		if rate <= 0 {
			return errors.New("params.rate: give the cap in KB/s (> 0)")
		}
		pf.rate = int64(rate)
		dir, err := p.oneOf("direction", "downstream", "upstream", "downstream")
		if err != nil {
			return err
		}
		pf.toxics = []toxicSpec{tox("bandwidth", dir, map[string]any{"rate": rate})}
		// A payload that takes ≥ 300 ms at the capped rate, within 1 KB..256 KB.
		size := int(pf.rate * 1024 * 3 / 10)
		size = max(1024, min(size, 256<<10))
		pf.probe.send = bytes.Repeat([]byte("x"), size)
		pf.probe.echo = true
		if !p.has("probe_timeout") {
			pf.probe.timeout = time.Duration(float64(size)/float64(pf.rate*1024)*float64(time.Second))*3 + 2*time.Second
		}
	case "reset":
		ms, err := p.int("timeout", 0)
		if err != nil {
			return err
		}
		dir, err := p.oneOf("direction", "upstream", "upstream", "downstream")
		if err != nil {
			return err
		}
		pf.toxics = []toxicSpec{tox("reset_peer", dir, map[string]any{"timeout": ms})}
	case "down":
	}
	a.state = pf
	a.Record.Proxy = a.targets[0].proxy.Name
	a.Record.ProxyListen = a.targets[0].snapshot().ProxyListen
	for _, t := range pf.toxics {
		a.Record.Toxics = append(a.Record.Toxics, t.Name)
	}
	if len(a.targets) != 1 {
		return fmt.Errorf("targets: %s takes one address target per fault (inject one fault per proxy)", a.Record.Kind)
	}
	return nil
}

func baselineProxy(ctx context.Context, _ *Env, a *Applied) error {
	pf := a.state.(*proxyFault)
	t := a.targets[0]
	if !t.proxy.Enabled {
		return fmt.Errorf("proxy %s is disabled (a down fault is active)", t.proxy.Name)
	}
	r := activeProbe(ctx, t.snapshot().ProxyListen, pf.probe)
	// A baseline must show the path works before the fault; a loaded host
	// can miss one round trip, so a failed baseline is retried twice
	// before it counts (and the fault then proves nothing).
	for attempt := 0; !r.OK && attempt < 2 && ctx.Err() == nil; attempt++ {
		r = activeProbe(ctx, t.snapshot().ProxyListen, pf.probe)
	}
	if a.Record.Kind == "latency" || a.Record.Kind == "bandwidth" {
		// The fastest of three is the baseline a slower "after" must beat.
		for range 2 {
			if r2 := activeProbe(ctx, t.snapshot().ProxyListen, pf.probe); r2.OK && (!r.OK || r2.RTT < r.RTT) {
				r = r2
			}
		}
	}
	pf.before = []probeResult{r}
	return nil
}

func applyProxy(ctx context.Context, _ *Env, a *Applied) error {
	pf := a.state.(*proxyFault)
	t := a.targets[0]
	if a.Record.Kind == "down" {
		t.proxy.Stop()
		return nil
	}
	for _, ts := range pf.toxics {
		b, err := json.Marshal(ts)
		if err != nil {
			return err
		}
		if _, err := t.proxy.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
			return fmt.Errorf("proxy %s: adding %s toxic %s: %w", t.proxy.Name, ts.Type, ts.Name, err)
		}
	}
	return nil
}

func probeProxy(ctx context.Context, _ *Env, a *Applied) Outcome {
	pf := a.state.(*proxyFault)
	t := a.targets[0]
	listen := t.snapshot().ProxyListen
	before := pf.before[0]
	after := activeProbe(ctx, listen, pf.probe)
	var out Outcome
	out.Evidence = append(out.Evidence, proxyToxicsEvidence(a, true))
	probeName := fmt.Sprintf("active probe through proxy %s → %s (connect, write %d bytes, read)", listen, t.Address, len(pf.probe.send))
	out.Evidence = append(out.Evidence, Evidence{Probe: probeName, Before: before.String(), After: after.String(), Measured: true, Side: SideVictim,
		Raw: map[string]any{"before": before.raw(), "after": after.raw()}})
	if !before.OK {
		out.Reason = "the active probe already failed before the fault (" + before.String() + "), so its failure after proves nothing; check that the upstream answers probe_send (params.probe_send / probe_expect)"
		return out
	}
	switch a.Record.Kind {
	case "partition", "partition-oneway":
		out.Landed = after.Outcome == "timeout"
		out.Reason = pick(out.Landed, "the round trip through the proxy succeeded before and times out after: traffic is black-holed",
			"the round trip did not time out after the fault: "+after.String())
	case "latency":
		floor := pf.latency - pf.jitter
		out.Landed = after.OK && after.RTT >= floor && after.RTT > before.RTT
		out.Reason = pick(out.Landed, fmt.Sprintf("round trip grew from %s to %s (≥ latency − jitter = %s)", before.RTT.Round(time.Microsecond), after.RTT.Round(time.Microsecond), floor),
			fmt.Sprintf("round trip %s is not ≥ latency − jitter = %s", after, floor))
	case "bandwidth":
		floor := time.Duration(float64(len(pf.probe.send)) / float64(pf.rate*1024) * float64(time.Second) / 2)
		out.Landed = after.OK && after.RTT >= floor && after.RTT > before.RTT
		out.Reason = pick(out.Landed, fmt.Sprintf("echoing %d bytes took %s, was %s (≥ half the %d KB/s budget, %s)", len(pf.probe.send), after.RTT.Round(time.Millisecond), before.RTT.Round(time.Microsecond), pf.rate, floor),
			fmt.Sprintf("echoing %d bytes: %s, not slowed to the %d KB/s cap (floor %s)", len(pf.probe.send), after, pf.rate, floor))
	case "reset":
		out.Landed = after.Outcome == "reset" || after.Outcome == "eof"
		out.Reason = pick(out.Landed, "the probe connection is "+after.Outcome+" without a reply", "the probe connection was not reset: "+after.String())
	case "down":
		out.Landed = after.Outcome == "refused"
		out.Reason = pick(out.Landed, "the proxy refuses connections", "the proxy still accepts connections: "+after.String())
	}
	return out
}

// proxyToxicsEvidence reads the proxy's toxic chain (the injector's side).
func proxyToxicsEvidence(a *Applied, applied bool) Evidence {
	t := a.targets[0]
	var names []string
	for _, tx := range t.proxy.Toxics.GetToxicArray() {
		b, _ := json.Marshal(tx)
		names = append(names, string(b))
	}
	ours := 0
	for _, want := range a.Record.Toxics {
		if t.proxy.Toxics.GetToxic(want) != nil {
			ours++
		}
	}
	state := fmt.Sprintf("enabled=%v, %d of the fault's %d toxics present", t.proxy.Enabled, ours, len(a.Record.Toxics))
	ev := Evidence{Probe: "proxy " + t.proxy.Name + " toxic chain", After: state, Measured: true, Side: SideInjector,
		Raw: map[string]any{"toxics": names, "enabled": t.proxy.Enabled}}
	if applied {
		ev.Before = fmt.Sprintf("enabled=true, 0 of the fault's %d toxics present", len(a.Record.Toxics))
	}
	return ev
}

func healProxy(ctx context.Context, _ *Env, a *Applied) error {
	t := a.targets[0]
	if a.Record.Kind == "down" {
		if !t.proxy.Enabled {
			if err := t.proxy.Start(); err != nil {
				return fmt.Errorf("proxy %s: restarting on %s: %w", t.proxy.Name, t.proxy.Listen, err)
			}
		}
		return nil
	}
	// Toxiproxy logs through the context's zerolog logger: keep it quiet.
	nop := zerolog.Nop()
	ctx = nop.WithContext(ctx)
	var errs []error
	for _, name := range a.Record.Toxics {
		if t.proxy.Toxics.GetToxic(name) == nil {
			continue
		}
		if err := t.proxy.Toxics.RemoveToxic(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("proxy %s: removing toxic %s: %w", t.proxy.Name, name, err))
		}
	}
	return errors.Join(errs...)
}

func healProbeProxy(ctx context.Context, _ *Env, a *Applied) Outcome {
	pf := a.state.(*proxyFault)
	t := a.targets[0]
	var out Outcome
	chain := proxyToxicsEvidence(a, false)
	chain.Before = "the fault's toxics present"
	if a.Record.Kind == "down" {
		chain.Before = "enabled=false"
	}
	out.Evidence = append(out.Evidence, chain)
	gone := t.proxy.Enabled
	for _, name := range a.Record.Toxics {
		if t.proxy.Toxics.GetToxic(name) != nil {
			gone = false
		}
	}
	// Retry briefly: removing a toxic closes the connections it held.
	var r probeResult
	deadline := time.Now().Add(3 * time.Second)
	for {
		r = activeProbe(ctx, t.snapshot().ProxyListen, pf.probe)
		if r.OK && (a.Record.Kind != "latency" || r.RTT < pf.latency-pf.jitter) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out.Evidence = append(out.Evidence, Evidence{Probe: "active probe through proxy " + t.snapshot().ProxyListen, Before: "failing or slow under the fault", After: r.String(), Measured: true, Side: SideVictim, Raw: r.raw()})
	recovered := r.OK
	if a.Record.Kind == "latency" {
		recovered = r.OK && r.RTT < pf.latency-pf.jitter
	}
	out.Healed = gone && recovered
	switch {
	case out.Healed:
		out.Reason = "the fault's toxics are gone and the active probe succeeds again (" + r.String() + ")"
	case gone:
		out.Reason = fmt.Sprintf("the fault's toxics are gone but the active probe through the proxy still fails (%s): is the upstream %s down?", r, t.Address)
	default:
		out.Reason = fmt.Sprintf("the fault's toxics are still installed; active probe: %s", r)
	}
	return out
}

// orphanProxy: the embedded proxy lived in the owner process; a crashed
// owner took its proxies (and toxics) with it. Healed when the owner is
// gone and the proxy address refuses connections.
func orphanProxy(ctx context.Context, rec *Record) Outcome {
	var out Outcome
	ownerState, ownerAlive := procState(ProcRef{PID: rec.OwnerPID, StartTime: rec.OwnerTime})
	out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("owner process /proc/%d", rec.OwnerPID), Before: "running (applied the fault)", After: ownerState, Measured: true, Side: SideInjector})
	if ownerAlive && rec.OwnerPID != os.Getpid() {
		out.Reason = "the owner process still runs; heal through it"
		return out
	}
	r := activeProbe(ctx, rec.ProxyListen, probeSpec{send: []byte("falsify-probe\n"), timeout: time.Second})
	out.Evidence = append(out.Evidence, Evidence{Probe: "connect to the proxy address " + rec.ProxyListen, Before: "proxy with toxics " + strings.Join(rec.Toxics, ", "), After: r.String(), Measured: true, Side: SideVictim, Raw: r.raw()})
	out.Healed = r.Outcome == "refused" || (rec.OwnerPID == os.Getpid() && !ownerAlive)
	out.Reason = pick(out.Healed, "the proxy died with its owner process: its toxics no longer exist and its address refuses connections",
		"something still listens on the proxy address "+rec.ProxyListen+": "+r.String())
	return out
}

// activeProbe connects to addr, writes spec.send and reads a reply, and
// classifies what happened.
func activeProbe(ctx context.Context, addr string, spec probeSpec) probeResult {
	start := time.Now()
	d := net.Dialer{Timeout: spec.timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return classify(err, time.Since(start))
	}
	defer conn.Close()
	deadline := start.Add(spec.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	go func() {
		// Writes proceed while the reply streams back (large echo payloads).
		conn.Write(spec.send)
	}()
	want := 1
	if spec.echo {
		want = len(spec.send)
	}
	var buf []byte
	got := 0
	tmp := make([]byte, 32<<10)
	for {
		k, err := conn.Read(tmp)
		got += k
		if k > 0 && !spec.echo && len(buf) < 64<<10 {
			buf = append(buf, tmp[:k]...)
		}
		if got >= want && (spec.echo || spec.expect == "" || strings.Contains(string(buf), spec.expect)) {
			return probeResult{OK: true, Outcome: "ok", RTT: time.Since(start), Bytes: got}
		}
		if err != nil {
			r := classify(err, time.Since(start))
			r.Bytes = got
			return r
		}
	}
}

func classify(err error, d time.Duration) probeResult {
	r := probeResult{RTT: d, Err: err.Error()}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		r.Outcome = "eof"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		r.Outcome = "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		r.Outcome = "refused"
	case errors.As(err, &ne) && ne.Timeout():
		r.Outcome = "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		r.Outcome = "timeout"
	default:
		r.Outcome = "error"
	}
	return r
}
