package nemesis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// MaxTTL is the hard cap on a fault's lifetime: the watchdog heals every
// fault at the latest this long after it was applied.
const MaxTTL = 10 * time.Minute

// Target kinds.
const (
	TargetPID     = "pid"     // a process falsify did not start
	TargetCommand = "command" // a process falsify starts and owns
	TargetAddress = "address" // a TCP address fronted by an embedded proxy
	TargetNode    = "node"    // a host reached over the network
	TargetPath    = "path"    // a directory whose filesystem storage faults fill
)

// Sides of a measurement (SPEC §5: evidence from the injecting side and
// from at least one victim side).
const (
	SideInjector = "injector"
	SideVictim   = "victim"
)

// TargetSpec asks Register for a target. Give Name and exactly one of PID,
// Command, Address, Node or Path.
type TargetSpec struct {
	Name    string   `json:"name"`
	PID     int      `json:"pid,omitempty"`
	Command []string `json:"command,omitempty"` // argv, never a shell line
	Dir     string   `json:"dir,omitempty"`     // working directory of Command
	Env     []string `json:"env,omitempty"`     // extra KEY=VALUE for Command
	Address string   `json:"address,omitempty"` // host:port to front with a proxy
	// Listen is the proxy's listen address for an address target;
	// default 127.0.0.1:0 (a free port, reported in Target.ProxyListen).
	Listen string `json:"listen,omitempty"`
	Node   string `json:"node,omitempty"` // host name or IP
	Path   string `json:"path,omitempty"` // directory for storage faults
	// Netns is the network namespace (a name under /run/netns or a path)
	// that kernel network faults against this target are installed in.
	Netns string `json:"netns,omitempty"`
	// Executor runs commands on a node target, for process faults there
	// (params.pid); nil leaves the node to kernel network faults from
	// this host.
	Executor Executor `json:"-"`
	// SSH, for a node target without an Executor, is the ssh connection
	// to build one from (NewSSHExecutor; Addr defaults to Node, port 22).
	// It is serialisable, without key bytes, so a journaled target can be
	// registered again.
	SSH *SSHConfig `json:"ssh,omitempty"`
}

// Target is a registered target. Faults land only on registered targets.
type Target struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	PID       int      `json:"pid,omitempty"`
	StartTime uint64   `json:"start_time,omitempty"` // /proc/PID/stat field 22, against pid reuse
	Command   []string `json:"command,omitempty"`
	Dir       string   `json:"dir,omitempty"`
	Env       []string `json:"env,omitempty"`
	LogPath   string   `json:"log_path,omitempty"` // stdout+stderr of an owned command
	Address   string   `json:"address,omitempty"`
	// ProxyListen is the proxy's listen address: point clients at it so
	// that proxy faults reach them.
	ProxyListen string `json:"proxy_listen,omitempty"`
	Node        string `json:"node,omitempty"`
	Path        string `json:"path,omitempty"`
	Netns       string `json:"netns,omitempty"`
	// Remote names the node's executor ("local", or its type); "" when
	// the node has none.
	Remote string `json:"remote,omitempty"`
	// Exited is set when an owned command has exited, with its status.
	Exited string `json:"exited,omitempty"`
}

// Spec asks for one fault.
type Spec struct {
	Kind    string         `json:"kind"`
	Targets []string       `json:"targets"` // target IDs or names
	Params  map[string]any `json:"params,omitempty"`
	// Duration is the fault's TTL: the watchdog heals it after this long.
	// Zero means MaxTTL; more than MaxTTL is refused.
	Duration time.Duration `json:"duration,omitempty"`
}

// Evidence is one measurement, read before and after.
type Evidence struct {
	Probe    string         `json:"probe"` // what was measured, e.g. "/proc/123/stat state"
	Before   string         `json:"before"`
	After    string         `json:"after"`
	Raw      map[string]any `json:"raw,omitempty"`
	Measured bool           `json:"measured"` // false when the reading failed
	Side     string         `json:"side"`     // SideInjector or SideVictim
}

// Outcome is the verdict of a landing probe (Landed) or of a heal probe
// (Healed), with the measurements it read and the reason in words.
type Outcome struct {
	Landed   bool       `json:"landed,omitempty"`
	Healed   bool       `json:"healed,omitempty"`
	Evidence []Evidence `json:"evidence"`
	Reason   string     `json:"reason"`
	At       time.Time  `json:"at"`
}

// Fault is one injected fault (one epoch in the session's ledger).
type Fault struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Family   string    `json:"family"`
	Spec     Spec      `json:"spec"`
	Record   *Record   `json:"record"`
	Start    time.Time `json:"start"`
	Deadline time.Time `json:"deadline"`
	// Landing is the landing probe's outcome; Landing.Landed is false when
	// the apply failed (and was rolled back) or nothing was measured.
	Landing Outcome `json:"landing"`
	// Heal is set once the fault is healed (by Heal, HealAll, Close, the
	// TTL watchdog, or the rollback of a failed apply).
	Heal *Outcome `json:"heal,omitempty"`
	// HealedBy says who healed it: "heal", "ttl", "close", "rollback".
	HealedBy string     `json:"healed_by,omitempty"`
	End      *time.Time `json:"end,omitempty"`
}

// RefusalError reports a fault or target falsify will not touch: a missing
// capability (the verdict engine's INCONCLUSIVE-env), an unregistered or
// exited target, a binary a kind cannot affect.
type RefusalError struct {
	Kind       string `json:"kind"`
	Capability string `json:"capability,omitempty"` // the missing capability, if that is the reason
	Reason     string `json:"reason"`
	Hint       string `json:"hint,omitempty"`
}

func (e *RefusalError) Error() string {
	s := fmt.Sprintf("fault %q refused: %s", e.Kind, e.Reason)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Nemesis owns registered targets, their proxies, processes and the faults
// injected into them. It has no global state; several can coexist.
type Nemesis struct {
	owner    string
	logDir   string
	ownerPID int
	nonce    string // in object names, so that a restarted owner never reuses a crashed one's

	toxi *toxiproxy.ApiServer

	capsOnce sync.Once
	caps     Capabilities

	mu      sync.Mutex
	targets map[string]*target // by ID
	order   []string           // target IDs in registration order
	faults  map[string]*active // by fault ID
	nfault  int
	closed  bool
	onHeal  func(Fault)
	tables  map[string]bool // network namespaces holding our nft table
	spawn   *spawner
}

// active is a prepared or applied fault.
type active struct {
	mu      sync.Mutex // serialises apply and heal of one fault
	kind    *Kind
	a       *Applied
	fault   Fault
	applied bool
	healed  bool
	timer   *time.Timer
}

var ownerRE = regexp.MustCompile(`[^a-z0-9_]+`)

// SanitizeOwner maps a session-derived name to the characters falsify uses
// in object names (nft tables, proxies, files): [a-z0-9_], at most 40.
func SanitizeOwner(s string) string {
	s = ownerRE.ReplaceAllString(strings.ToLower(s), "_")
	s = strings.Trim(s, "_")
	if len(s) > 40 {
		s = s[:40]
	}
	if s == "" {
		s = "anon"
	}
	return s
}

// New returns a Nemesis whose objects are all named for owner (sanitized
// by SanitizeOwner): nft table falsify_<owner>, proxies falsify_<owner>_<target>,
// fill files .falsify_<owner>_<fault>.fill. Owned commands log to
// logDir/<name>.log.
func New(owner, logDir string) *Nemesis {
	logger := zerolog.Nop()
	return &Nemesis{
		owner:    SanitizeOwner(owner),
		logDir:   logDir,
		ownerPID: os.Getpid(),
		nonce:    newNonce(),
		toxi:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), logger),
		targets:  map[string]*target{},
		faults:   map[string]*active{},
		spawn:    newSpawner(),
	}
}

// Owner returns the sanitized owner name.
func (n *Nemesis) Owner() string { return n.owner }

// Table returns the name of the nftables table this Nemesis uses.
func (n *Nemesis) Table() string { return "falsify_" + n.owner }

// OnAutoHeal sets a function called (in its own goroutine) with the fault
// whenever a fault is healed without an explicit Heal call: by the TTL
// watchdog, HealAll or Close. The session records the heal from it.
func (n *Nemesis) OnAutoHeal(f func(Fault)) {
	n.mu.Lock()
	n.onHeal = f
	n.mu.Unlock()
}

// Capabilities returns the environment probe, run once per Nemesis.
func (n *Nemesis) Capabilities(ctx context.Context) Capabilities {
	n.capsOnce.Do(func() { n.caps = Probe(ctx) })
	return n.caps
}

// lookupTargets resolves target IDs or names; the caller holds n.mu.
func (n *Nemesis) lookupTargets(refs []string) ([]*target, error) {
	if len(refs) == 0 {
		return nil, errors.New("targets: name at least one registered target")
	}
	var out []*target
	seen := map[string]bool{}
	for _, ref := range refs {
		t := n.targets[ref]
		if t == nil {
			for _, id := range n.order {
				if n.targets[id].Name == ref {
					t = n.targets[id]
					break
				}
			}
		}
		if t == nil {
			return nil, &RefusalError{Reason: fmt.Sprintf("target %q is not registered; register it first (faults land only on registered targets)", ref)}
		}
		if !seen[t.ID] {
			seen[t.ID] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// Prepare validates a fault without touching anything and returns the
// Record to journal before applying it. Bad input (unknown kind, missing
// or malformed parameter, duration over the cap) is an error; a fault
// falsify will not inject (missing capability, unregistered or exited
// target) is a *RefusalError.
func (n *Nemesis) Prepare(ctx context.Context, spec Spec) (*Record, error) {
	k, err := LookupKind(spec.Kind)
	if err != nil {
		return nil, err
	}
	if spec.Duration < 0 || spec.Duration > MaxTTL {
		return nil, fmt.Errorf("duration %s: give 0 (the %s cap) or a duration up to %s", spec.Duration, MaxTTL, MaxTTL)
	}
	caps := n.Capabilities(ctx)
	for _, need := range k.Needs {
		if c, ok := caps.Get(need); !ok || !c.OK {
			return nil, &RefusalError{Kind: k.Name, Capability: need, Reason: fmt.Sprintf("needs capability %q: %s", need, c.Detail), Hint: c.Hint}
		}
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errors.New("nemesis is closed")
	}
	ts, err := n.lookupTargets(spec.Targets)
	if err != nil {
		n.mu.Unlock()
		if re, ok := err.(*RefusalError); ok {
			re.Kind = k.Name
		}
		return nil, err
	}
	n.nfault++
	id := fmt.Sprintf("f%d", n.nfault)
	n.mu.Unlock()

	for _, t := range ts {
		if !contains(k.Targets, t.Kind) {
			return nil, &RefusalError{Kind: k.Name, Reason: fmt.Sprintf("target %q is a %s target; %s applies to %s targets", t.Name, t.Kind, k.Name, strings.Join(k.Targets, ", "))}
		}
	}
	ttl := spec.Duration
	if ttl == 0 {
		ttl = MaxTTL
	}
	rec := &Record{
		ID:        id,
		Owner:     n.owner,
		OwnerPID:  n.ownerPID,
		OwnerTime: selfStartTime(),
		Kind:      k.Name,
		Family:    k.Family,
		Spec:      spec,
		Created:   time.Now().UTC(),
		TTL:       ttl,
	}
	for _, t := range ts {
		rec.Targets = append(rec.Targets, t.ref())
	}
	a := &Applied{Record: rec, Spec: spec, targets: ts}
	env := &Env{n: n}
	if k.Check != nil {
		if err := k.Check(ctx, env, a); err != nil {
			return nil, err
		}
	}
	n.mu.Lock()
	n.faults[id] = &active{kind: k, a: a, fault: Fault{ID: id, Kind: k.Name, Family: k.Family, Spec: spec, Record: rec}}
	n.mu.Unlock()
	c := *rec
	return &c, nil
}

// Apply applies a prepared fault (its Record, journaled by the caller) and
// runs the landing probe. The returned Fault says whether it landed; an
// apply that fails part-way is rolled back (Fault.Heal, HealedBy
// "rollback") and reported not landed, with the error as the reason. The
// error is non-nil only for a record this Nemesis did not prepare.
func (n *Nemesis) Apply(ctx context.Context, rec *Record) (*Fault, error) {
	if rec == nil {
		return nil, errors.New("record: nil")
	}
	n.mu.Lock()
	act := n.faults[rec.ID]
	n.mu.Unlock()
	if act == nil {
		return nil, fmt.Errorf("record %s: not prepared by this nemesis", rec.ID)
	}
	act.mu.Lock()
	defer act.mu.Unlock()
	if act.applied {
		f := act.fault
		return &f, fmt.Errorf("fault %s: already applied", rec.ID)
	}
	act.applied = true
	env := &Env{n: n}
	k, a := act.kind, act.a
	if k.Baseline != nil {
		if err := k.Baseline(ctx, env, a); err != nil {
			act.healed = true
			now := time.Now().UTC()
			act.fault.Start, act.fault.End = now, &now
			act.fault.Landing = Outcome{Reason: "not applied: the baseline reading failed: " + err.Error(), At: now, Evidence: a.evidence}
			f := act.fault
			return &f, nil
		}
	}
	start := time.Now().UTC()
	act.fault.Start = start
	act.fault.Deadline = start.Add(a.Record.TTL)
	a.Record.Deadline = act.fault.Deadline
	if err := k.Apply(ctx, env, a); err != nil {
		out := n.rollback(ctx, env, act)
		act.fault.Landing = Outcome{Reason: "apply failed and was rolled back: " + err.Error(), At: time.Now().UTC(), Evidence: a.evidence}
		act.fault.Heal = &out
		act.fault.HealedBy = "rollback"
		act.healed = true
		end := time.Now().UTC()
		act.fault.End = &end
		f := act.fault
		return &f, nil
	}
	act.fault.Landing = k.Probe(ctx, env, a)
	act.fault.Landing.At = time.Now().UTC()
	act.fault.Record = a.Record
	id := act.fault.ID
	if k.Instant {
		out := k.HealProbe(ctx, env, a)
		out.At = time.Now().UTC()
		act.healed = true
		act.fault.Heal = &out
		act.fault.HealedBy = "instant"
		act.fault.End = &out.At
		f := act.fault
		return &f, nil
	}
	act.timer = time.AfterFunc(time.Until(act.fault.Deadline), func() { n.autoHeal(id, "ttl") })
	f := act.fault
	return &f, nil
}

// rollback heals a fault whose apply failed part-way.
func (n *Nemesis) rollback(ctx context.Context, env *Env, act *active) Outcome {
	if act.kind.Heal == nil {
		return Outcome{Healed: true, Reason: "nothing to roll back", At: time.Now().UTC()}
	}
	if err := act.kind.Heal(ctx, env, act.a); err != nil {
		return Outcome{Reason: "rollback failed: " + err.Error(), At: time.Now().UTC()}
	}
	out := act.kind.HealProbe(ctx, env, act.a)
	out.At = time.Now().UTC()
	return out
}

// Inject prepares and applies a fault in one step, for callers that
// journal nothing (Prepare + Apply is the crash-safe path).
func (n *Nemesis) Inject(ctx context.Context, spec Spec) (*Fault, error) {
	rec, err := n.Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	return n.Apply(ctx, rec)
}

// Heal heals a fault and measures the recovery. Healing a healed fault
// returns the recorded outcome.
func (n *Nemesis) Heal(ctx context.Context, f *Fault) (*Outcome, error) {
	if f == nil {
		return nil, errors.New("fault: nil")
	}
	return n.heal(ctx, f.ID, "heal")
}

// HealID heals the fault with the given ID.
func (n *Nemesis) HealID(ctx context.Context, id string) (*Outcome, error) {
	return n.heal(ctx, id, "heal")
}

func (n *Nemesis) heal(ctx context.Context, id, by string) (*Outcome, error) {
	n.mu.Lock()
	act := n.faults[id]
	n.mu.Unlock()
	if act == nil {
		return nil, fmt.Errorf("fault %s: unknown", id)
	}
	act.mu.Lock()
	defer act.mu.Unlock()
	if !act.applied {
		n.mu.Lock()
		delete(n.faults, id)
		n.mu.Unlock()
		return &Outcome{Healed: true, Reason: "never applied", At: time.Now().UTC()}, nil
	}
	if act.healed {
		if act.fault.Heal == nil {
			return &Outcome{Healed: true, Reason: "not active: " + act.fault.Landing.Reason, At: time.Now().UTC()}, nil
		}
		o := *act.fault.Heal
		return &o, nil
	}
	if act.timer != nil {
		act.timer.Stop()
	}
	env := &Env{n: n}
	var out Outcome
	if act.kind.Heal != nil {
		if err := act.kind.Heal(ctx, env, act.a); err != nil {
			out = Outcome{Reason: "heal failed: " + err.Error()}
			// Still measure: a failed heal step may have left the state
			// recovered, and the evidence says which.
			probe := act.kind.HealProbe(ctx, env, act.a)
			out.Evidence = probe.Evidence
			out.Healed = probe.Healed
			out.Reason += "; " + probe.Reason
		} else {
			out = act.kind.HealProbe(ctx, env, act.a)
		}
	} else {
		out = act.kind.HealProbe(ctx, env, act.a)
	}
	out.At = time.Now().UTC()
	act.healed = true
	act.fault.Heal = &out
	act.fault.HealedBy = by
	end := out.At
	act.fault.End = &end
	o := out
	return &o, nil
}

func (n *Nemesis) autoHeal(id, by string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n.mu.Lock()
	act := n.faults[id]
	n.mu.Unlock()
	if act == nil {
		return
	}
	act.mu.Lock()
	already := act.healed || !act.applied
	act.mu.Unlock()
	if already {
		return
	}
	if _, err := n.heal(ctx, id, by); err != nil {
		return
	}
	n.mu.Lock()
	cb := n.onHeal
	n.mu.Unlock()
	if cb != nil {
		f, _ := n.Fault(id)
		go cb(f)
	}
}

// Fault returns a snapshot of the fault with the given ID.
func (n *Nemesis) Fault(id string) (Fault, bool) {
	n.mu.Lock()
	act := n.faults[id]
	n.mu.Unlock()
	if act == nil {
		return Fault{}, false
	}
	act.mu.Lock()
	defer act.mu.Unlock()
	return act.fault, true
}

// Faults returns snapshots of every prepared or applied fault, by ID order.
func (n *Nemesis) Faults() []Fault {
	n.mu.Lock()
	ids := make([]string, 0, len(n.faults))
	for id := range n.faults {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return faultNum(ids[i]) < faultNum(ids[j]) })
	var out []Fault
	for _, id := range ids {
		if f, ok := n.Fault(id); ok {
			out = append(out, f)
		}
	}
	return out
}

func faultNum(id string) int {
	var k int
	fmt.Sscanf(id, "f%d", &k)
	return k
}

// HealAll heals every active fault, newest first, and returns the errors
// of the heals that failed to run or did not measure a recovery.
func (n *Nemesis) HealAll(ctx context.Context) []error {
	return n.healAll(ctx, "heal-all")
}

func (n *Nemesis) healAll(ctx context.Context, by string) []error {
	fs := n.Faults()
	var errs []error
	for i := len(fs) - 1; i >= 0; i-- {
		f := fs[i]
		if f.Heal != nil || f.Start.IsZero() {
			continue
		}
		out, err := n.heal(ctx, f.ID, by)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !out.Healed {
			errs = append(errs, fmt.Errorf("fault %s (%s): not healed: %s", f.ID, f.Kind, out.Reason))
		}
		n.mu.Lock()
		cb := n.onHeal
		n.mu.Unlock()
		if cb != nil {
			snap, _ := n.Fault(f.ID)
			go cb(snap)
		}
	}
	return errs
}

// Close heals every active fault, stops the proxies and kills the owned
// commands (their process groups). It returns the errors met.
func (n *Nemesis) Close() []error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := n.healAll(ctx, "close")
	n.mu.Lock()
	n.closed = true
	ts := make([]*target, 0, len(n.order))
	for _, id := range n.order {
		ts = append(ts, n.targets[id])
	}
	n.mu.Unlock()
	for _, t := range ts {
		if err := t.close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.spawn.close()
	n.mu.Lock()
	var nss []string
	for ns := range n.tables {
		nss = append(nss, ns)
	}
	n.mu.Unlock()
	for _, ns := range nss {
		if err := deleteTable(n.Table(), ns); err != nil && !isNotExist(err) {
			errs = append(errs, fmt.Errorf("nftables table %s%s: %w", n.Table(), nsSuffix(ns), err))
		}
	}
	return errs
}

func newNonce() string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff)
	}
	return hex.EncodeToString(b)
}

// objName names an object of fault id: unique across owner restarts.
func (n *Nemesis) objName(id string) string { return id + "_" + n.nonce }

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
