package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is a fault kind: a struct of functions, like a porcupine model.
// Check validates a fault and fills its Record without side effects;
// Baseline (optional) reads the state before; Apply injects; Probe measures
// landing against the baseline; Heal undoes; HealProbe measures recovery;
// Orphan heals from a Record alone, after the process that applied the
// fault crashed.
type Kind struct {
	Name    string
	Family  string   // process, network-proxy, network-kernel, storage, time
	Doc     string   // one line: what it does and what it measures
	Needs   []string // capabilities (see Probe); missing ones refuse the fault
	Targets []string // target kinds it accepts
	// Params documents the parameters it reads: name → what it means.
	Params map[string]string
	// Instant kinds (restart) are over once applied: the fault is healed
	// right after its landing probe (HealedBy "instant").
	Instant bool

	Check     func(ctx context.Context, env *Env, a *Applied) error
	Baseline  func(ctx context.Context, env *Env, a *Applied) error
	Apply     func(ctx context.Context, env *Env, a *Applied) error
	Probe     func(ctx context.Context, env *Env, a *Applied) Outcome
	Heal      func(ctx context.Context, env *Env, a *Applied) error
	HealProbe func(ctx context.Context, env *Env, a *Applied) Outcome
	Orphan    func(ctx context.Context, rec *Record) Outcome
}

// Env is what a kind's functions reach the Nemesis through.
type Env struct{ n *Nemesis }

// Applied is one fault in flight: its record, spec and resolved targets,
// plus the state its kind keeps between Baseline, Apply, Probe and Heal.
type Applied struct {
	Record   *Record
	Spec     Spec
	targets  []*target
	evidence []Evidence // readings taken before Probe (baselines)
	state    any        // the kind's own
}

// Record is the serialisable description of a fault, journaled by the
// caller before Apply. It holds everything HealOrphans needs to heal the
// fault after the process that applied it died.
type Record struct {
	ID        string        `json:"id"`
	Owner     string        `json:"owner"`
	OwnerPID  int           `json:"owner_pid"`
	OwnerTime uint64        `json:"owner_start_time"` // against pid reuse of the owner
	Kind      string        `json:"kind"`
	Family    string        `json:"family"`
	Spec      Spec          `json:"spec"`
	Targets   []TargetRef   `json:"targets"`
	Created   time.Time     `json:"created"`
	TTL       time.Duration `json:"ttl"`
	Deadline  time.Time     `json:"deadline,omitzero"`

	// Process faults: the processes signalled (group: the whole process
	// group of an owned command).
	Procs []ProcRef `json:"procs,omitempty"`
	// Proxy faults: the proxy and the toxics added to it.
	Proxy       string   `json:"proxy,omitempty"`
	ProxyListen string   `json:"proxy_listen,omitempty"`
	Toxics      []string `json:"toxics,omitempty"`
	// Kernel network faults: the nftables table, the fault's chains and
	// the network namespace they live in ("" = the host's).
	Table  string   `json:"table,omitempty"`
	Chains []string `json:"chains,omitempty"`
	Netns  string   `json:"netns,omitempty"`
	// Storage faults: the fill file.
	FillPath string `json:"fill_path,omitempty"`
}

// TargetRef is a target as it was when the fault was prepared.
type TargetRef struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	PID         int    `json:"pid,omitempty"`
	StartTime   uint64 `json:"start_time,omitempty"`
	Address     string `json:"address,omitempty"`
	ProxyListen string `json:"proxy_listen,omitempty"`
	Node        string `json:"node,omitempty"`
	Path        string `json:"path,omitempty"`
	Netns       string `json:"netns,omitempty"`
}

// ProcRef names a process by pid and start time, so that a reused pid is
// never signalled.
type ProcRef struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	Group     bool   `json:"group,omitempty"` // signal the process group
	// Node is set for a process on a node target, reached through an
	// executor; Exec names it ("local" can be rebuilt by HealOrphans).
	Node string   `json:"node,omitempty"`
	Exec string   `json:"exec,omitempty"`
	ex   Executor // the live executor, not serialised
}

var kinds = map[string]*Kind{}

func register(k *Kind) { kinds[k.Name] = k }

// LookupKind returns the fault kind named name.
func LookupKind(name string) (*Kind, error) {
	k := kinds[strings.TrimSpace(name)]
	if k == nil {
		return nil, fmt.Errorf("kind %q is unknown; use one of %s", name, strings.Join(KindNames(), ", "))
	}
	return k, nil
}

// KindNames returns the fault kind names, sorted.
func KindNames() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Kinds returns every fault kind, sorted by name.
func Kinds() []*Kind {
	var out []*Kind
	for _, name := range KindNames() {
		out = append(out, kinds[name])
	}
	return out
}

// params reads a fault's parameters with the field names in its errors.
type params map[string]any

func (p params) has(key string) bool { _, ok := p[key]; return ok }

func (p params) str(key, def string) (string, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("params.%s: want a string, got %v", key, v)
	}
	return s, nil
}

func (p params) float(key string, def float64) (float64, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("params.%s: %q is not a number", key, x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("params.%s: want a number, got %v", key, v)
}

func (p params) int(key string, def int) (int, error) {
	f, err := p.float(key, float64(def))
	if err != nil {
		return 0, err
	}
	if f != float64(int(f)) {
		return 0, fmt.Errorf("params.%s: want a whole number, got %v", key, f)
	}
	return int(f), nil
}

// duration reads a duration: a number is milliseconds, a string is a Go
// duration ("250ms", "2s").
func (p params) duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := p[key]
	if !ok || v == nil {
		return def, nil
	}
	if s, ok := v.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			if f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64); ferr == nil {
				return time.Duration(f * float64(time.Millisecond)), nil
			}
			return 0, fmt.Errorf("params.%s: %q is not a duration (\"250ms\", \"2s\", or a number of milliseconds)", key, s)
		}
		return d, nil
	}
	f, err := p.float(key, 0)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

func (p params) oneOf(key, def string, allowed ...string) (string, error) {
	s, err := p.str(key, def)
	if err != nil {
		return "", err
	}
	if !contains(allowed, s) {
		return "", fmt.Errorf("params.%s: %q is not one of %s", key, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

func (a *Applied) params() params { return params(a.Spec.Params) }

// note appends a baseline reading to the evidence later merged by Probe.
func (a *Applied) note(e Evidence) { a.evidence = append(a.evidence, e) }
