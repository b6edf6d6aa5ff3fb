package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Chaos Mesh is the fault engine for users on Kubernetes. falsify builds
// a NetworkChaos or PodChaos manifest from a Spec, applies it with
// kubectl, waits for Chaos Mesh's status and records it — but Chaos
// Mesh's AllInjected only says its controller thinks it is done, so
// whether the fault landed is decided by falsify's own probe, read before
// and after. Heal deletes the object, waits until it is gone and probes
// again.

// Chaos Mesh fault kinds and the resource each is built as.
var chaosKinds = map[string]string{
	"partition":   "NetworkChaos",
	"delay":       "NetworkChaos",
	"loss":        "NetworkChaos",
	"pod-kill":    "PodChaos",
	"pod-failure": "PodChaos",
}

// ChaosKindNames returns the fault kinds the Chaos Mesh adapter builds.
func ChaosKindNames() []string {
	out := make([]string, 0, len(chaosKinds))
	for k := range chaosKinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ChaosMesh applies Chaos Mesh experiments with kubectl through an
// Executor and measures them with falsify's own probe.
type ChaosMesh struct {
	// Exec runs kubectl; nil means this host (LocalExecutor). The
	// manifest goes to kubectl apply -f - on stdin when Exec is a
	// StdinRunner, else through a temporary file on this host.
	Exec    Executor
	Kubectl string   // the kubectl program; default "kubectl"
	Flags   []string // global kubectl flags, e.g. --context, --kubeconfig
	// Namespace holds the chaos objects and is the default selector
	// namespace; default "default".
	Namespace string
	Owner     string // sanitized by SanitizeOwner; names and labels every object
	// WaitTimeout bounds the wait for Chaos Mesh's status and for a
	// deleted object to be gone; 0 means 60 s.
	WaitTimeout time.Duration
	// Settle is how long the probe is retried for the change (after
	// apply) or the recovery (after heal); 0 means 10 s.
	Settle time.Duration
	// Poll is the interval between status reads and probes; 0 means 1 s.
	Poll time.Duration
}

// ProbeReading is one reading of falsify's own probe.
type ProbeReading struct {
	// State is the comparable outcome: "ok", "timeout", "refused",
	// "error", or a caller probe's own word. A change of State is a
	// change of the system.
	State string `json:"state"`
	// RTT is the round trip of a successful probe (delay faults compare
	// it against the latency asked for).
	RTT time.Duration `json:"rtt_ns,omitempty"`
	// Failures of Attempts (loss faults compare the failure rates).
	Failures int    `json:"failures,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// String renders the reading for evidence: state, failures, round trip.
func (r ProbeReading) String() string {
	s := r.State
	if r.Attempts > 1 {
		s += fmt.Sprintf(" (%d/%d failed)", r.Failures, r.Attempts)
	}
	if r.RTT > 0 {
		s += fmt.Sprintf(" rtt %s", r.RTT.Round(time.Microsecond))
	}
	if r.Detail != "" {
		s += ": " + r.Detail
	}
	return s
}

// ChaosProbe measures the system a Chaos Mesh fault is aimed at. It is
// read before the fault, after it is injected and after it is healed.
type ChaosProbe func(ctx context.Context) (ProbeReading, error)

// TCPConnectProbe returns a probe that makes attempts TCP connects to
// addr, each bounded by timeout. State is "ok" when every connect
// succeeded, else the first failure's kind (timeout, refused, reset,
// error); RTT is the slowest successful connect.
func TCPConnectProbe(addr string, attempts int, timeout time.Duration) ChaosProbe {
	if attempts <= 0 {
		attempts = 1
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	return func(ctx context.Context) (ProbeReading, error) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return ProbeReading{}, fmt.Errorf("probe address %q: %w", addr, err)
		}
		r := ProbeReading{State: "ok", Attempts: attempts, Detail: "tcp connect " + addr}
		for range attempts {
			d := net.Dialer{Timeout: timeout}
			start := time.Now()
			c, err := d.DialContext(ctx, "tcp", addr)
			took := time.Since(start)
			if err != nil {
				if ctx.Err() != nil {
					return r, ctx.Err()
				}
				if r.Failures == 0 {
					r.State = classify(err, took).Outcome
				}
				r.Failures++
				continue
			}
			c.Close()
			r.RTT = max(r.RTT, took)
		}
		return r, nil
	}
}

// ChaosFault is one Chaos Mesh experiment falsify applied and what it
// measured. Status is Chaos Mesh's own report, kept as evidence only.
type ChaosFault struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`     // partition, delay, loss, pod-kill, pod-failure
	Resource  string          `json:"resource"` // NetworkChaos or PodChaos
	Name      string          `json:"name"`     // falsify-<owner>-<id>
	Namespace string          `json:"namespace"`
	Spec      Spec            `json:"spec"`
	Manifest  json.RawMessage `json:"manifest"`
	Status    *ChaosStatus    `json:"status,omitempty"`
	Before    ProbeReading    `json:"before"`
	Landing   Outcome         `json:"landing"`
	Heal      *Outcome        `json:"heal,omitempty"`
	HealedBy  string          `json:"healed_by,omitempty"` // "heal" or "rollback"
	// Log holds every kubectl run: argv, the manifest fed, raw output.
	Log []CommandRun `json:"log"`

	latency time.Duration
	probe   ChaosProbe
}

// ChaosStatus is what Chaos Mesh reported about an experiment.
type ChaosStatus struct {
	Conditions []ChaosCondition `json:"conditions"`
	// Records are the per-target records (status.experiment.containerRecords).
	Records      []map[string]any `json:"records,omitempty"`
	DesiredPhase string           `json:"desired_phase,omitempty"`
}

// ChaosCondition is one of Chaos Mesh's status conditions (Selected,
// AllInjected, AllRecovered, Paused).
type ChaosCondition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Is reports whether condition typ has status "True".
func (s *ChaosStatus) Is(typ string) bool {
	if s == nil {
		return false
	}
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c.Status == "True"
		}
	}
	return false
}

// String lists the conditions as Type=Status (Reason).
func (s *ChaosStatus) String() string {
	if s == nil || len(s.Conditions) == 0 {
		return "no conditions"
	}
	var parts []string
	for _, c := range s.Conditions {
		p := c.Type + "=" + c.Status
		if c.Reason != "" {
			p += " (" + c.Reason + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// The manifest's shape: the subset of Chaos Mesh v1alpha1 falsify writes,
// in a fixed field order so that manifests are reproducible.
type chaosManifest struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   chaosMeta `json:"metadata"`
	Spec       chaosSpec `json:"spec"`
}

type chaosMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type chaosSpec struct {
	Action          string       `json:"action"`
	Mode            string       `json:"mode"`
	Value           string       `json:"value,omitempty"`
	Selector        podSelector  `json:"selector"`
	Direction       string       `json:"direction,omitempty"`
	Target          *chaosTarget `json:"target,omitempty"`
	ExternalTargets []string     `json:"externalTargets,omitempty"`
	Delay           *chaosDelay  `json:"delay,omitempty"`
	Loss            *chaosLoss   `json:"loss,omitempty"`
	GracePeriod     *int64       `json:"gracePeriod,omitempty"`
	Duration        string       `json:"duration,omitempty"`
}

type podSelector struct {
	Namespaces     []string          `json:"namespaces,omitempty"`
	LabelSelectors map[string]string `json:"labelSelectors,omitempty"`
}

type chaosTarget struct {
	Mode     string      `json:"mode"`
	Value    string      `json:"value,omitempty"`
	Selector podSelector `json:"selector"`
}

type chaosDelay struct {
	Latency     string `json:"latency"`
	Jitter      string `json:"jitter,omitempty"`
	Correlation string `json:"correlation,omitempty"`
}

type chaosLoss struct {
	Loss        string `json:"loss"`
	Correlation string `json:"correlation,omitempty"`
}

func (c *ChaosMesh) namespace() string {
	if c.Namespace == "" {
		return "default"
	}
	return c.Namespace
}

func (c *ChaosMesh) wait() time.Duration {
	if c.WaitTimeout <= 0 {
		return 60 * time.Second
	}
	return c.WaitTimeout
}

func (c *ChaosMesh) settle() time.Duration {
	if c.Settle <= 0 {
		return 10 * time.Second
	}
	return c.Settle
}

func (c *ChaosMesh) poll() time.Duration {
	if c.Poll <= 0 {
		return time.Second
	}
	return c.Poll
}

// ChaosName returns the object name of fault id: falsify-<owner>-<id>,
// as a Kubernetes name (lower case, '-' for '_', at most 63 characters).
func ChaosName(owner, id string) string {
	s := "falsify-" + strings.ReplaceAll(SanitizeOwner(owner), "_", "-") + "-" + strings.ToLower(strings.ReplaceAll(id, "_", "-"))
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRight(s, "-")
}

var chaosModes = []string{"one", "all", "fixed", "fixed-percent", "random-max-percent"}

// Manifest builds the Chaos Mesh object for fault id from spec, as JSON
// (valid YAML for kubectl). Params:
//
//	namespace / namespaces   selector namespace(s); default ChaosMesh.Namespace
//	labels                   selector labelSelectors (an object of strings); required
//	mode, value              one|all|fixed|fixed-percent|random-max-percent (default all; one for pod-kill)
//	direction                partition: both (default), to or from; delay/loss with a target: to (default), from, both
//	target_labels, target_namespace(s), target_mode, target_value   the other side of a partition (or of delay/loss); its namespaces default to the selector's
//	external_targets         partition/delay/loss: IPs or hosts outside the cluster, instead of or with a target
//	latency, jitter, correlation   delay ("100ms"); correlation a percentage
//	probability, correlation       loss: fraction of packets lost, (0, 1]
//	grace_period                   pod-kill: seconds (default 0)
//
// spec.Duration (or MaxTTL) becomes spec.duration, so Chaos Mesh ends the
// fault by itself even if falsify dies.
func (c *ChaosMesh) Manifest(id string, spec Spec) ([]byte, error) {
	m, err := c.manifest(id, spec)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (c *ChaosMesh) manifest(id string, spec Spec) (*chaosManifest, error) {
	kind := strings.TrimSpace(spec.Kind)
	res, ok := chaosKinds[kind]
	if !ok {
		return nil, fmt.Errorf("kind %q: Chaos Mesh faults are %s", spec.Kind, strings.Join(ChaosKindNames(), ", "))
	}
	if id == "" || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) >= 0 {
		return nil, fmt.Errorf("fault id %q: want letters, digits, _ or -", id)
	}
	if spec.Duration < 0 || spec.Duration > MaxTTL {
		return nil, fmt.Errorf("duration %s: give 0 (the %s cap) or a duration up to %s", spec.Duration, MaxTTL, MaxTTL)
	}
	p := params(spec.Params)
	sel, err := selectorParam(p, "", c.namespace())
	if err != nil {
		return nil, err
	}
	if len(sel.LabelSelectors) == 0 {
		return nil, errors.New("params.labels: give the label selector of the pods to fault (an unlabelled selector would take the whole namespace)")
	}
	defMode := "all"
	if kind == "pod-kill" {
		defMode = "one"
	}
	mode, value, err := modeParam(p, "", defMode)
	if err != nil {
		return nil, err
	}
	owner := SanitizeOwner(c.Owner)
	m := &chaosManifest{
		APIVersion: "chaos-mesh.org/v1alpha1",
		Kind:       res,
		Metadata: chaosMeta{Name: ChaosName(owner, id), Namespace: c.namespace(), Labels: map[string]string{
			"app.kubernetes.io/managed-by": "falsify",
			"falsify.dev/owner":            owner,
			"falsify.dev/fault":            id,
		}},
		Spec: chaosSpec{Action: kind, Mode: mode, Value: value, Selector: sel},
	}
	ttl := spec.Duration
	if ttl == 0 {
		ttl = MaxTTL
	}
	if kind != "pod-kill" {
		m.Spec.Duration = ttl.String()
	}
	switch kind {
	case "pod-kill":
		g, err := p.int("grace_period", 0)
		if err != nil {
			return nil, err
		}
		if g < 0 {
			return nil, fmt.Errorf("params.grace_period %d: want seconds ≥ 0", g)
		}
		g64 := int64(g)
		m.Spec.GracePeriod = &g64
	case "pod-failure":
	default: // network
		if err := networkSide(p, kind, &m.Spec); err != nil {
			return nil, err
		}
	}
	switch kind {
	case "delay":
		lat, err := p.duration("latency", 0)
		if err != nil {
			return nil, err
		}
		if lat <= 0 {
			return nil, errors.New("params.latency: give the added delay (\"100ms\")")
		}
		jit, err := p.duration("jitter", 0)
		if err != nil {
			return nil, err
		}
		if jit < 0 {
			return nil, fmt.Errorf("params.jitter %s: want ≥ 0", jit)
		}
		d := &chaosDelay{Latency: lat.String()}
		if jit > 0 {
			d.Jitter = jit.String()
		}
		if d.Correlation, err = percentParam(p, "correlation"); err != nil {
			return nil, err
		}
		m.Spec.Delay = d
	case "loss":
		prob, err := p.float("probability", 0)
		if err != nil {
			return nil, err
		}
		if prob <= 0 || prob > 1 {
			return nil, fmt.Errorf("params.probability %v: give the fraction of packets lost, in (0, 1]", prob)
		}
		l := &chaosLoss{Loss: strconv.FormatFloat(prob*100, 'f', -1, 64)}
		if l.Correlation, err = percentParam(p, "correlation"); err != nil {
			return nil, err
		}
		m.Spec.Loss = l
	}
	return m, nil
}

// networkSide fills direction, target and externalTargets. The target's
// namespaces default to the selector's.
func networkSide(p params, kind string, s *chaosSpec) error {
	ext, err := stringsParam(p, "external_targets")
	if err != nil {
		return err
	}
	s.ExternalTargets = ext
	hasTarget := p.has("target_labels") || p.has("target_namespace") || p.has("target_mode")
	if hasTarget {
		ts, err := selectorParam(p, "target_", s.Selector.Namespaces...)
		if err != nil {
			return err
		}
		if len(ts.LabelSelectors) == 0 {
			return errors.New("params.target_labels: give the label selector of the other side")
		}
		mode, value, err := modeParam(p, "target_", "all")
		if err != nil {
			return err
		}
		s.Target = &chaosTarget{Mode: mode, Value: value, Selector: ts}
	}
	if kind == "partition" && s.Target == nil && len(ext) == 0 {
		return errors.New("params.target_labels: a partition needs the other side: target_labels (pods) or external_targets")
	}
	def := "to"
	if kind == "partition" {
		def = "both"
	}
	dir, err := p.oneOf("direction", def, "both", "to", "from")
	if err != nil {
		return fmt.Errorf("%w (to: traffic from the selected pods to the target; from: the reverse)", err)
	}
	if s.Target != nil || len(ext) > 0 || p.has("direction") {
		s.Direction = dir
	}
	return nil
}

func selectorParam(p params, prefix string, defNS ...string) (podSelector, error) {
	var sel podSelector
	ns, err := stringsParam(p, prefix+"namespaces")
	if err != nil {
		return sel, err
	}
	one, err := p.str(prefix+"namespace", "")
	if err != nil {
		return sel, err
	}
	if one != "" {
		ns = append([]string{one}, ns...)
	}
	if len(ns) == 0 {
		ns = append([]string(nil), defNS...)
	}
	sel.Namespaces = ns
	if v, ok := p[prefix+"labels"]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			if sm, ok2 := v.(map[string]string); ok2 {
				m = map[string]any{}
				for k, x := range sm {
					m[k] = x
				}
			} else {
				return sel, fmt.Errorf("params.%slabels: want an object of label: value", prefix)
			}
		}
		sel.LabelSelectors = map[string]string{}
		for k, x := range m {
			s, ok := x.(string)
			if !ok || k == "" {
				return sel, fmt.Errorf("params.%slabels.%s: want a string value", prefix, k)
			}
			sel.LabelSelectors[k] = s
		}
	}
	return sel, nil
}

func modeParam(p params, prefix, def string) (string, string, error) {
	mode, err := p.oneOf(prefix+"mode", def, chaosModes...)
	if err != nil {
		return "", "", err
	}
	var value string
	if v, ok := p[prefix+"value"]; ok && v != nil {
		value = strings.TrimSpace(fmt.Sprint(v))
	}
	switch mode {
	case "fixed", "fixed-percent", "random-max-percent":
		n, err := strconv.Atoi(value)
		if err != nil || n <= 0 || mode != "fixed" && n > 100 {
			return "", "", fmt.Errorf("params.%svalue %q: mode %s needs a positive whole number%s", prefix, value, mode, pick(mode == "fixed", "", " (a percentage)"))
		}
	default:
		if value != "" {
			return "", "", fmt.Errorf("params.%svalue: mode %s takes no value", prefix, mode)
		}
	}
	return mode, value, nil
}

func percentParam(p params, key string) (string, error) {
	if !p.has(key) {
		return "", nil
	}
	f, err := p.float(key, 0)
	if err != nil {
		return "", err
	}
	if f < 0 || f > 100 {
		return "", fmt.Errorf("params.%s %v: want a percentage 0..100", key, f)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

func stringsParam(p params, key string) ([]string, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []string:
		return append([]string(nil), x...), nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("params.%s[%d]: want a string", key, i)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("params.%s: want a string or a list of strings", key)
}

// chaosResource is the kubectl resource name of a Chaos Mesh kind.
func chaosResource(kind string) string { return strings.ToLower(kind) + ".chaos-mesh.org" }

func (c *ChaosMesh) kubectl(args ...string) []string {
	prog := c.Kubectl
	if prog == "" {
		prog = "kubectl"
	}
	return append(append([]string{prog}, c.Flags...), args...)
}

func (c *ChaosMesh) executor() Executor {
	if c.Exec == nil {
		return LocalExecutor{}
	}
	return c.Exec
}

// run runs kubectl and logs the run in f.
func (c *ChaosMesh) run(ctx context.Context, f *ChaosFault, argv []string, stdin []byte) CommandRun {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, _ := runLogged(ctx, c.executor(), argv, stdin)
	f.Log = append(f.Log, r)
	return r
}

// apply runs kubectl apply with the manifest on stdin, or from a
// temporary file when the executor (on this host) cannot feed stdin.
func (c *ChaosMesh) apply(ctx context.Context, f *ChaosFault) CommandRun {
	ex := c.executor()
	if _, ok := ex.(StdinRunner); ok {
		return c.run(ctx, f, c.kubectl("apply", "-f", "-"), f.Manifest)
	}
	switch ex.(type) {
	case LocalExecutor, *LocalExecutor:
	default:
		r := CommandRun{Host: hostName(ex), Argv: c.kubectl("apply", "-f", "-"), Exit: -1, Start: time.Now().UTC(),
			Err: fmt.Sprintf("executor %s can neither feed stdin nor read a file of this host", hostName(ex))}
		f.Log = append(f.Log, r)
		return r
	}
	tmp, err := os.CreateTemp("", "falsify-chaos-*.json")
	if err != nil {
		r := CommandRun{Host: hostName(ex), Exit: -1, Start: time.Now().UTC(), Err: "manifest file: " + err.Error()}
		f.Log = append(f.Log, r)
		return r
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(f.Manifest)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		r := CommandRun{Host: hostName(ex), Exit: -1, Start: time.Now().UTC(), Err: "manifest file: " + werr.Error()}
		f.Log = append(f.Log, r)
		return r
	}
	r := c.run(ctx, f, c.kubectl("apply", "-f", tmp.Name()), nil)
	r.Stdin = string(f.Manifest) // what the file held
	f.Log[len(f.Log)-1] = r
	return r
}

// get reads the object: its status, or gone (NotFound).
func (c *ChaosMesh) get(ctx context.Context, f *ChaosFault) (st *ChaosStatus, gone bool, r CommandRun, err error) {
	r = c.run(ctx, f, c.kubectl("get", chaosResource(f.Resource), f.Name, "-n", f.Namespace, "-o", "json"), nil)
	if r.Err != "" {
		return nil, false, r, errors.New(r.Err)
	}
	if r.Exit != 0 {
		if strings.Contains(r.Stderr, "NotFound") || strings.Contains(r.Stderr, "not found") {
			return nil, true, r, nil
		}
		return nil, false, r, fmt.Errorf("kubectl get: exit %d: %s", r.Exit, strings.TrimSpace(r.Stderr))
	}
	var obj struct {
		Status struct {
			Conditions []ChaosCondition `json:"conditions"`
			Experiment struct {
				Records      []map[string]any `json:"containerRecords"`
				DesiredPhase string           `json:"desiredPhase"`
			} `json:"experiment"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &obj); err != nil {
		return nil, false, r, fmt.Errorf("kubectl get -o json: %w", err)
	}
	return &ChaosStatus{Conditions: obj.Status.Conditions, Records: obj.Status.Experiment.Records, DesiredPhase: obj.Status.Experiment.DesiredPhase}, false, r, nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Apply builds the manifest for fault id, reads the probe's baseline,
// applies the manifest with kubectl, waits up to WaitTimeout for Chaos
// Mesh to report AllInjected (recorded as evidence, never as proof) and
// then probes for up to Settle: the fault landed only if the probe saw the
// change. A rejected apply is rolled back (kubectl delete) and reported
// not landed. The error is for bad input only; nothing was touched then.
func (c *ChaosMesh) Apply(ctx context.Context, id string, spec Spec, probe ChaosProbe) (*ChaosFault, error) {
	if probe == nil {
		return nil, errors.New("probe: give falsify's own probe (Chaos Mesh's status is not evidence that the fault landed)")
	}
	m, err := c.manifest(id, spec)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	f := &ChaosFault{ID: id, Kind: m.Spec.Action, Resource: m.Kind, Name: m.Metadata.Name, Namespace: m.Metadata.Namespace,
		Spec: spec, Manifest: append(b, '\n'), probe: probe}
	if m.Spec.Delay != nil {
		f.latency, _ = time.ParseDuration(m.Spec.Delay.Latency)
	}
	before, err := probe(ctx)
	if err != nil {
		f.Landing = Outcome{Reason: "not applied: the baseline probe failed: " + err.Error(), At: time.Now().UTC()}
		return f, nil
	}
	f.Before = before
	pe := Evidence{Probe: "falsify probe (baseline)", After: before.String(), Measured: true, Side: SideVictim, Raw: map[string]any{"reading": before}}

	ar := c.apply(ctx, f)
	if ar.Err != "" || ar.Exit != 0 {
		why := ar.Err
		if why == "" {
			why = fmt.Sprintf("exit %d: %s", ar.Exit, strings.TrimSpace(ar.Stderr))
		}
		out := c.remove(ctx, f)
		f.Heal, f.HealedBy = &out, "rollback"
		f.Landing = Outcome{Reason: "kubectl apply failed and was rolled back: " + why, At: time.Now().UTC(),
			Evidence: []Evidence{pe, cmdEvidence("kubectl apply", "", "failed: "+why, ar, SideInjector)}}
		return f, nil
	}
	evs := []Evidence{pe, cmdEvidence("kubectl apply", "absent", "applied", ar, SideInjector)}

	// Chaos Mesh's status: waited for, recorded, not trusted.
	deadline := time.Now().Add(c.wait())
	var st *ChaosStatus
	var sr CommandRun
	for {
		var gone bool
		st, gone, sr, err = c.get(ctx, f)
		if err == nil && !gone && (st.Is("AllInjected") || selectedFalse(st)) {
			break
		}
		if time.Now().After(deadline) || sleepCtx(ctx, c.poll()) != nil {
			break
		}
	}
	f.Status = st
	stev := cmdEvidence("Chaos Mesh status (kubectl get -o json): recorded, not proof", "absent", st.String(), sr, SideInjector)
	if err != nil {
		stev.After, stev.Measured = "unreadable: "+err.Error(), false
	}
	stev.Raw["status"] = st
	evs = append(evs, stev)
	injected := st.Is("AllInjected")

	// falsify's own probe decides.
	var after ProbeReading
	var perr error
	settle := time.Now().Add(c.settle())
	for {
		after, perr = probe(ctx)
		if perr == nil && c.changed(f, before, after) || time.Now().After(settle) || sleepCtx(ctx, c.poll()) != nil {
			break
		}
	}
	ev := Evidence{Probe: "falsify probe", Before: before.String(), After: after.String(), Measured: perr == nil, Side: SideVictim, Raw: map[string]any{"before": before, "after": after}}
	if perr != nil {
		ev.After = "probe failed: " + perr.Error()
	}
	evs = append(evs, ev)
	f.Landing = Outcome{Evidence: evs, At: time.Now().UTC()}
	changed := perr == nil && c.changed(f, before, after)
	f.Landing.Landed = changed
	switch {
	case perr != nil:
		f.Landing.Reason = "the probe failed after the apply, so nothing was measured: " + perr.Error()
	case changed && injected:
		f.Landing.Reason = fmt.Sprintf("the probe saw the change: %s before, %s after (Chaos Mesh also reported AllInjected)", before, after)
	case changed:
		f.Landing.Reason = fmt.Sprintf("the probe saw the change: %s before, %s after (Chaos Mesh reported %s)", before, after, st)
	case injected:
		f.Landing.Reason = fmt.Sprintf("Chaos Mesh reported AllInjected but the probe saw no change: %s before, %s after %s", before, after, c.settle())
	default:
		f.Landing.Reason = fmt.Sprintf("Chaos Mesh did not report AllInjected within %s (%s) and the probe saw no change: %s before, %s after", c.wait(), st, before, after)
	}
	return f, nil
}

func selectedFalse(st *ChaosStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == "Selected" && c.Status == "False" {
			return true
		}
	}
	return false
}

// changed reports whether the probe moved from before to after in the
// way the fault predicts: any change of State; for delay, a round trip
// at least half the latency longer; for loss, a higher failure rate.
func (c *ChaosMesh) changed(f *ChaosFault, before, after ProbeReading) bool {
	if after.State != before.State {
		return true
	}
	switch f.Kind {
	case "delay":
		return f.latency > 0 && after.RTT-before.RTT >= f.latency/2
	case "loss":
		return after.Attempts > 0 && before.Attempts > 0 && after.Failures*before.Attempts > before.Failures*after.Attempts
	}
	return false
}

// Heal deletes the experiment, waits until it is gone and probes until
// the reading is back to the baseline: healed when both hold.
func (c *ChaosMesh) Heal(ctx context.Context, f *ChaosFault) Outcome {
	if f == nil {
		return Outcome{Reason: "fault: nil", At: time.Now().UTC()}
	}
	if f.Heal != nil {
		return *f.Heal
	}
	out := c.remove(ctx, f)
	if f.probe != nil && !strings.HasPrefix(out.Reason, "kubectl delete failed") {
		var now ProbeReading
		var err error
		deadline := time.Now().Add(c.settle())
		for {
			now, err = f.probe(ctx)
			if err == nil && !c.changed(f, f.Before, now) || time.Now().After(deadline) || sleepCtx(ctx, c.poll()) != nil {
				break
			}
		}
		back := err == nil && !c.changed(f, f.Before, now)
		ev := Evidence{Probe: "falsify probe", Before: f.Before.String() + " (baseline)", After: now.String(), Measured: err == nil, Side: SideVictim, Raw: map[string]any{"baseline": f.Before, "after": now}}
		if err != nil {
			ev.After = "probe failed: " + err.Error()
		}
		out.Evidence = append(out.Evidence, ev)
		gone := out.Healed
		out.Healed = gone && back
		switch {
		case out.Healed:
			out.Reason = "the Chaos Mesh object is gone and the probe is back to its baseline: " + now.String()
		case gone:
			out.Reason = fmt.Sprintf("the Chaos Mesh object is gone but the probe is not back to its baseline (%s) after %s: %s", f.Before, c.settle(), ev.After)
		}
	}
	out.At = time.Now().UTC()
	f.Heal, f.HealedBy = &out, "heal"
	return out
}

// remove deletes the object and waits until kubectl get says NotFound.
func (c *ChaosMesh) remove(ctx context.Context, f *ChaosFault) Outcome {
	var out Outcome
	dr := c.run(ctx, f, c.kubectl("delete", chaosResource(f.Resource), f.Name, "-n", f.Namespace, "--ignore-not-found", "--wait=false"), nil)
	if dr.Err != "" || dr.Exit != 0 {
		why := dr.Err
		if why == "" {
			why = fmt.Sprintf("exit %d: %s", dr.Exit, strings.TrimSpace(dr.Stderr))
		}
		out.Evidence = append(out.Evidence, cmdEvidence("kubectl delete", "present", "failed: "+why, dr, SideInjector))
		out.Reason = "kubectl delete failed: " + why
		return out
	}
	out.Evidence = append(out.Evidence, cmdEvidence("kubectl delete", "present", "deleted", dr, SideInjector))
	deadline := time.Now().Add(c.wait())
	var gone bool
	var gr CommandRun
	var err error
	for {
		_, gone, gr, err = c.get(ctx, f)
		if gone || time.Now().After(deadline) || sleepCtx(ctx, c.poll()) != nil {
			break
		}
	}
	ev := cmdEvidence("kubectl get (until NotFound)", "present", pick(gone, "NotFound", "still present"), gr, SideInjector)
	if err != nil {
		ev.After = "unreadable: " + err.Error()
	}
	out.Evidence = append(out.Evidence, ev)
	out.Healed = gone
	out.Reason = pick(gone, fmt.Sprintf("%s %s/%s is gone", f.Resource, f.Namespace, f.Name),
		fmt.Sprintf("%s %s/%s is still there %s after kubectl delete", f.Resource, f.Namespace, f.Name, c.wait()))
	return out
}

// DeleteOwned deletes every Chaos Mesh object labelled with this owner,
// in every namespace: the heal of last resort after falsify crashed.
func (c *ChaosMesh) DeleteOwned(ctx context.Context) (CommandRun, error) {
	f := &ChaosFault{}
	r := c.run(ctx, f, c.kubectl("delete", "networkchaos.chaos-mesh.org,podchaos.chaos-mesh.org", "--all-namespaces",
		"-l", "falsify.dev/owner="+SanitizeOwner(c.Owner), "--ignore-not-found", "--wait=true"), nil)
	if r.Err != "" {
		return r, errors.New(r.Err)
	}
	if r.Exit != 0 {
		return r, fmt.Errorf("kubectl delete: exit %d: %s", r.Exit, strings.TrimSpace(r.Stderr))
	}
	return r, nil
}
