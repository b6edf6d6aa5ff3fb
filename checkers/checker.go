// Package checkers holds falsify's history checkers (SPEC §4): each takes a
// run's operation history (and, for some, recorded states) and decides
// whether the claimed property held, saying what it consumed and what it
// cannot detect.
//
// A checker is looked up by name; its result is a verdict ("ok",
// "violation" or "unknown"), the anomalies found with their witnesses, and
// the execution evidence SPEC §4.2 requires ("Porcupine checked 4,217 ops
// over 12 keys: 0 anomalies", never a bare ok).
//
// The checkers and their options (values as decoded from JSON):
//
//   - linearizability (Porcupine), models register, cas-register, kv / map
//     (per key), multi-register (Knossos' txn register) and mutex.
//     "timeout": budget, seconds or a duration string (default 60 s); on
//     running out the status is unknown, never ok. "initial": the initial
//     value of the register / of every key (default null). On a violation
//     it writes linearizability.html (Porcupine's visualization) to
//     ArtifactDir.
//
//   - no-lost-ack, models kv, log, map, queue, register, set: needs a
//     final-state State and "quiescent": true (otherwise unknown).
//
//   - serializability (Elle-style, elle*.go), models list-append,
//     rw-register and map: dependency cycles G0…G2-item with -process and
//     -realtime variants, G1a, G1b, internal, lost and dirty updates;
//     "consistency" names the model whose proscribed anomalies fail the run.
//
//   - exactly-once, monotonic-read, session-consistency, prefix-order,
//     final-state-invariant (CEL), reconciliation, replay-equivalence,
//     mutual-exclusion, counter, set, set-full, fairness, slo-threshold and
//     baseline-comparison: each file's doc comment lists its options and
//     the SPEC §4.2 trap it refuses.
//
// Reduce (reduce.go) is the delta-debugging core of reduce_history.
//
// Linearizability and no-lost-ack accept "per_replica" (true: node_seen is needed) and "fault_window"
// (true, [start, end] in ns, or a list of them: fault_epoch is needed on the
// ops a fault overlapped); a history lacking a needed field is reported in
// Result.Missing (SPEC §3.3), which the verdict must treat as weak.
package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/falsify-dev/falsify/history"
)

// Result statuses.
const (
	StatusOK        = "ok"        // the property held on everything consumed
	StatusViolation = "violation" // at least one anomaly was found
	StatusUnknown   = "unknown"   // the checker could not decide
)

// State kinds a recorder stores next to the history (record_state).
const (
	StateFinal        = "final-state"
	StateReplica      = "replica-state"
	StateMetricSeries = "metric-series"
	StateSnapshot     = "snapshot"
)

// History fields a checker may need (SPEC §3.1 names), as used by
// [Checker.Needs] and [MissingFields].
const (
	FieldInvokeTS      = "invoke_ts"
	FieldCompleteTS    = "complete_ts"
	FieldTimeoutMarker = "timeout_marker"
	FieldProcessID     = "process_id"
	FieldKey           = "key"
	FieldNodeSeen      = "node_seen"
	FieldFaultEpoch    = "fault_epoch"
)

// A Checker is one named history checker.
type Checker struct {
	Name   string   // "linearizability", "no-lost-ack", …
	Models []string // the models it accepts, as plan §7.M names them
	// Needs returns the history fields (SPEC §3.3) the checker needs for
	// the model, beyond op_id / op_type / input / output / error. A history
	// lacking one of them is weak for this checker.
	Needs func(model string) []string
	// Check runs the checker. Its error is for caller mistakes (an unknown
	// model, a malformed option); violations and undecidable runs are
	// reported in the Result.
	Check func(ctx context.Context, in Input) (*Result, error)
}

// State is one recorded state (record_state): a final-state dump, a
// replica's state, a metric series or a snapshot.
type State struct {
	Kind string          // StateFinal, StateReplica, StateMetricSeries, StateSnapshot
	Name string          // e.g. the node or the snapshot label
	Data json.RawMessage // the state as recorded
}

// Input is what a checker runs on.
type Input struct {
	Ops         []history.Op
	Model       string
	States      []State
	Options     map[string]any // checker-specific; values as decoded from JSON
	ArtifactDir string         // where to write artifacts; "" writes none
	// Progress, when set, is called with the work done so far out of the
	// total (in the checker's own unit, usually ops). It is called from the
	// goroutine that called Check.
	Progress func(done, total int)
}

// Anomaly is one thing a checker found wrong.
type Anomaly struct {
	Kind        string   // e.g. "nonlinearizable", "lost-ack"
	Key         string   // the key / partition it concerns, "" when global
	Description string   // one or two sentences a reader can act on
	OpIDs       []string // the ops involved
	Witness     any      // checker-specific evidence, JSON-encodable
}

// Result is a checker's verdict with its execution evidence (SPEC §4.2).
type Result struct {
	Checker string
	Model   string
	Status  string // StatusOK, StatusViolation or StatusUnknown
	// OpsConsumed is how many ops the checker took into account (including
	// ops it discarded because they cannot have taken effect), out of
	// OpsTotal in the history it was given.
	OpsConsumed, OpsTotal int
	Keys                  int // keys / partitions checked
	Anomalies             []Anomaly
	Evidence              string   // "Porcupine checked 4,217 ops over 12 keys: 0 anomalies"
	Scope                 string   // what the checker cannot detect
	Missing               []string // history fields it needed and lacked (weak history)
	Artifacts             []string // files written, full paths
	Partial               bool     // it ran on a subset of the ops
}

// all returns the registry, freshly built on every call so no caller can
// change what another one sees.
func all() []*Checker {
	return []*Checker{
		linearizability(),
		noLostAck(),
		exactlyOnce(),
		monotonicRead(),
		sessionConsistency(),
		prefixOrder(),
		invariant(),
		reconciliation(),
		replayEquivalence(),
		mutualExclusion(),
		counter(),
		setChecker(),
		setFull(),
		fairness(),
		sloThreshold(),
		baselineComparison(),
		serializability(),
	}
}

// Lookup returns the checker with the given name.
func Lookup(name string) (*Checker, error) {
	for _, c := range all() {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("unknown checker %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names returns the names of every checker, sorted.
func Names() []string {
	var names []string
	for _, c := range all() {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// MissingFields returns the fields among needs that ops lack, in the order
// of needs (SPEC §3.3):
//
//   - invoke_ts: an op without an invocation time;
//   - complete_ts: an op that completed (it has an output, or an error
//     without a timeout marker) but has no completion time;
//   - timeout_marker: an op with no response whose timeout marker is not
//     set to true;
//   - process_id, key, node_seen: an op without one;
//   - fault_epoch: no op carries one (ask for it only when a fault
//     overlapped the workload).
//
// Unknown field names are reported missing: a checker cannot rely on a
// field falsify does not record.
func MissingFields(ops []history.Op, needs []string) []string {
	var missing []string
	for _, f := range needs {
		if slices.Contains(missing, f) {
			continue
		}
		if fieldMissing(ops, f) {
			missing = append(missing, f)
		}
	}
	return missing
}

func fieldMissing(ops []history.Op, field string) bool {
	switch field {
	case FieldInvokeTS:
		return slices.ContainsFunc(ops, func(o history.Op) bool { return o.InvokeTS == nil })
	case FieldCompleteTS:
		return slices.ContainsFunc(ops, func(o history.Op) bool {
			if o.CompleteTS != nil {
				return false
			}
			timedOut := o.TimeoutMarker != nil && *o.TimeoutMarker
			return !isNull(o.Output) || (o.Error != nil && !timedOut)
		})
	case FieldTimeoutMarker:
		return slices.ContainsFunc(ops, func(o history.Op) bool {
			return o.CompleteTS == nil && (o.TimeoutMarker == nil || !*o.TimeoutMarker)
		})
	case FieldProcessID:
		return slices.ContainsFunc(ops, func(o history.Op) bool { return o.ProcessID == nil })
	case FieldKey:
		return slices.ContainsFunc(ops, func(o history.Op) bool { return o.Key == nil })
	case FieldNodeSeen:
		return slices.ContainsFunc(ops, func(o history.Op) bool { return o.NodeSeen == nil })
	case FieldFaultEpoch:
		return len(ops) > 0 && !slices.ContainsFunc(ops, func(o history.Op) bool { return o.FaultEpoch != nil })
	}
	return true
}

// faultWindows reads Options["fault_window"]: true (a fault overlapped the
// workload, times unknown), false, a [start, end] pair of nanoseconds (end
// may be null: still open), or a list of such pairs. It returns whether a
// fault overlapped and, when times were given, the windows.
func faultWindows(opts map[string]any) (overlapped bool, windows [][2]int64, err error) {
	v, ok := opts["fault_window"]
	if !ok || v == nil {
		return false, nil, nil
	}
	if b, ok := v.(bool); ok {
		return b, nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return false, nil, fmt.Errorf("option fault_window: want true/false, [start, end] or a list of them, got %T", v)
	}
	if len(list) == 2 && !isList(list[0]) && !isList(list[1]) {
		list = []any{list}
	}
	for _, w := range list {
		pair, ok := w.([]any)
		if !ok || len(pair) != 2 {
			return false, nil, fmt.Errorf("option fault_window: want [start, end] pairs of nanoseconds, got %v", w)
		}
		start, ok := asInt64(pair[0])
		if !ok {
			return false, nil, fmt.Errorf("option fault_window: start %v is not a number", pair[0])
		}
		end := int64(math.MaxInt64)
		if pair[1] != nil {
			if end, ok = asInt64(pair[1]); !ok {
				return false, nil, fmt.Errorf("option fault_window: end %v is not a number", pair[1])
			}
		}
		windows = append(windows, [2]int64{start, end})
	}
	return len(windows) > 0, windows, nil
}

func isList(v any) bool { _, ok := v.([]any); return ok }

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// faultEpochMissing reports whether an op that overlaps one of windows
// lacks a fault_epoch. An op with no completion time lasts forever.
func faultEpochMissing(ops []history.Op, windows [][2]int64) bool {
	for _, o := range ops {
		if o.FaultEpoch != nil {
			continue
		}
		start, end := int64(math.MinInt64), int64(math.MaxInt64)
		if o.InvokeTS != nil {
			start = *o.InvokeTS
		}
		if o.CompleteTS != nil {
			end = *o.CompleteTS
		}
		for _, w := range windows {
			if start <= w[1] && w[0] <= end {
				return true
			}
		}
	}
	return false
}

// weakFields returns the fields the checker needs that ops lack, adding
// to c.Needs(model) what the options make necessary: node_seen when
// Options["per_replica"] is true, fault_epoch when Options["fault_window"]
// says a fault overlapped the workload.
func weakFields(c *Checker, model string, ops []history.Op, opts map[string]any) ([]string, error) {
	needs := slices.Clone(c.Needs(model))
	perReplica, err := boolOption(opts, "per_replica")
	if err != nil {
		return nil, err
	}
	if perReplica && !slices.Contains(needs, FieldNodeSeen) {
		needs = append(needs, FieldNodeSeen)
	}
	overlapped, windows, err := faultWindows(opts)
	if err != nil {
		return nil, err
	}
	if overlapped && windows == nil && !slices.Contains(needs, FieldFaultEpoch) {
		needs = append(needs, FieldFaultEpoch)
	}
	var fault []string
	if windows != nil {
		needs = slices.DeleteFunc(needs, func(f string) bool { return f == FieldFaultEpoch })
		if faultEpochMissing(ops, windows) {
			fault = []string{FieldFaultEpoch}
		}
	}
	return append(MissingFields(ops, needs), fault...), nil
}

// boolOption reads a boolean option; absent is false. "per_replica" is
// also accepted spelled "per-replica".
func boolOption(opts map[string]any, name string) (bool, error) {
	v, ok := opts[name]
	if !ok {
		v, ok = opts[strings.ReplaceAll(name, "_", "-")]
	}
	if !ok || v == nil {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("option %s: want true or false, got %T %v", name, v, v)
	}
	return b, nil
}

// durationOption reads a time budget: a number of seconds or a Go
// duration string ("90s", "2m"). It must be positive.
func durationOption(opts map[string]any, name string, def time.Duration) (time.Duration, error) {
	v, ok := opts[name]
	if !ok || v == nil {
		return def, nil
	}
	var d time.Duration
	switch t := v.(type) {
	case float64:
		d = time.Duration(t * float64(time.Second))
	case int:
		d = time.Duration(t) * time.Second
	case int64:
		d = time.Duration(t) * time.Second
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return 0, fmt.Errorf("option %s: %w", name, err)
		}
		d = time.Duration(f * float64(time.Second))
	case time.Duration:
		d = t
	case string:
		var err error
		if d, err = time.ParseDuration(t); err != nil {
			f, ferr := strconv.ParseFloat(t, 64)
			if ferr != nil {
				return 0, fmt.Errorf("option %s: %q is neither seconds nor a duration like \"90s\"", name, t)
			}
			d = time.Duration(f * float64(time.Second))
		}
	default:
		return 0, fmt.Errorf("option %s: want seconds or a duration string, got %T", name, v)
	}
	if d <= 0 {
		return 0, fmt.Errorf("option %s: must be positive, got %v", name, v)
	}
	return d, nil
}

// thousands formats n with comma thousands separators: 4217 → "4,217".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural returns "1 key" / "2 keys", "1 anomaly" / "0 anomalies".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") && !strings.HasSuffix(word, "ey") {
		return thousands(n) + " " + strings.TrimSuffix(word, "y") + "ies"
	}
	return thousands(n) + " " + word + "s"
}

// valueKind tells the three shapes a canonical value can have.
type valueKind uint8

const (
	kindNull   valueKind = iota
	kindString           // s is the Go string
	kindOther            // s is canonical JSON (number, bool, array, object)
)

// value is a JSON value in canonical form, comparable with ==: numbers
// compare as numbers (1, 1.0 and 1e0 are equal), objects regardless of key
// order.
type value struct {
	kind valueKind
	s    string
}

// JSON returns the value as JSON text.
func (v value) JSON() string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindString:
		b, _ := json.Marshal(v.s)
		return string(b)
	}
	return v.s
}

// any returns the value as a Go value for JSON encoding in witnesses.
func (v value) any() any {
	switch v.kind {
	case kindNull:
		return nil
	case kindString:
		return v.s
	}
	return json.RawMessage(v.s)
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// canonical parses raw JSON into its canonical value.
func canonical(raw json.RawMessage) (value, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return value{}, nil
	}
	// Fast paths: plain strings and integers, the common case.
	if t[0] == '"' && len(t) >= 2 && t[len(t)-1] == '"' && plainString(t[1:len(t)-1]) {
		return value{kind: kindString, s: string(t[1 : len(t)-1])}, nil
	}
	if s, ok := plainInteger(t); ok {
		return value{kind: kindOther, s: s}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return value{}, fmt.Errorf("invalid JSON value %.40q: %w", t, err)
	}
	if dec.More() {
		return value{}, fmt.Errorf("invalid JSON value %.40q: trailing data", t)
	}
	return canonicalAny(v)
}

// canonicalAny turns a decoded JSON value (from encoding/json, numbers as
// float64 or json.Number) into its canonical value.
func canonicalAny(v any) (value, error) {
	switch t := v.(type) {
	case nil:
		return value{}, nil
	case string:
		return value{kind: kindString, s: t}, nil
	case bool:
		return value{kind: kindOther, s: strconv.FormatBool(t)}, nil
	case json.Number:
		return value{kind: kindOther, s: string(canonicalNumber(string(t)))}, nil
	case json.RawMessage:
		return canonical(t)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalize(v)); err != nil {
		return value{}, fmt.Errorf("encoding value: %w", err)
	}
	return value{kind: kindOther, s: strings.TrimSuffix(b.String(), "\n")}, nil
}

// normalize rewrites the numbers in a decoded JSON value into canonical
// json.Number literals.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		return canonicalNumber(string(t))
	case float64:
		return canonicalNumber(strconv.FormatFloat(t, 'g', -1, 64))
	case int:
		return json.Number(strconv.Itoa(t))
	case int64:
		return json.Number(strconv.FormatInt(t, 10))
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// canonicalNumber writes a JSON number literal so equal numbers read the
// same: integers in plain digits, everything else in Go's shortest 'g'.
func canonicalNumber(lit string) json.Number {
	if s, ok := plainInteger([]byte(lit)); ok {
		return json.Number(s)
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil { // out of range: keep the literal
		return json.Number(lit)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return json.Number(strconv.FormatInt(int64(f), 10))
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// plainInteger recognises an integer literal (no fraction, no exponent)
// and returns it without a leading minus on zero.
func plainInteger(t []byte) (string, bool) {
	d := t
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 1 && d[0] == '0' {
		return "", false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	if string(d) == "0" {
		return "0", true
	}
	return string(t), true
}

// plainString reports whether a JSON string body needs no unescaping.
func plainString(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}
