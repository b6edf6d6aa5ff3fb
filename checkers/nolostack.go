package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/falsify-dev/falsify/history"
)

// Op types no-lost-ack reads.
var (
	// writeOpTypes add a value: once acknowledged it must survive.
	writeOpTypes = map[string]bool{
		"write": true, "put": true, "append": true, "add": true, "enqueue": true,
		"insert": true, "set": true, "credit": true, "debit": true,
	}
	// takeOpTypes remove the value they return (a queue's dequeue).
	takeOpTypes = map[string]bool{"dequeue": true, "pop": true, "take": true}
	// removeOpTypes remove the value they are given (a set's remove, a
	// map's delete).
	removeOpTypes = map[string]bool{"remove": true, "delete": true}
)

// noLostAckModels are the models no-lost-ack accepts.
var noLostAckModels = []string{"kv", "log", "map", "queue", "register", "set"}

func noLostAck() *Checker {
	return &Checker{
		Name:   "no-lost-ack",
		Models: slices.Clone(noLostAckModels),
		Needs:  noLostAckNeeds,
		Check:  checkNoLostAck,
	}
}

// noLostAckNeeds: telling an acknowledged write from a timed-out one needs
// the timeout marker; a register's last-write rule needs real-time order;
// per-key final states need the key.
func noLostAckNeeds(model string) []string {
	switch model {
	case "log", "set", "queue":
		return []string{FieldTimeoutMarker}
	case "register":
		return []string{FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker}
	case "map", "kv":
		return []string{FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker, FieldKey}
	}
	return nil
}

const noLostAckScope = "acknowledged writes present in the final state at quiescence " +
	"(for a register, the final value must come from a write not strictly followed by an " +
	"acknowledged one); timed-out writes may be absent or present; cannot detect a write " +
	"lost and later re-applied, duplicated effects (use exactly-once), values nobody wrote, " +
	"a failed write that took effect in a collection, or order anomalies (use prefix / order)"

// lostWrite is one acknowledged write absent from a final state.
type lostWrite struct {
	OpID  string `json:"op_id"`
	Value any    `json:"value"`
}

// lostAckWitness is the evidence for a lost-ack anomaly.
type lostAckWitness struct {
	State string      `json:"state"`           // the final state's name
	Final any         `json:"final,omitempty"` // the key's final value (register rule)
	Lost  []lostWrite `json:"lost"`
}

// writeOp is a write (or removal) as no-lost-ack sees it.
type writeOp struct {
	idx      int
	v        value
	acked    bool
	invoke   int64 // math.MinInt64 when unknown
	complete int64 // math.MaxInt64 when indeterminate or unknown
	remove   bool  // a removal: it excuses v's absence
	listArg  bool  // the written value is itself a list
}

// checkNoLostAck checks that every acknowledged write is present in each
// final state. Options: "quiescent" (must be true: the final state was
// read once the system had converged and nothing was in flight),
// "per_replica", "fault_window".
func checkNoLostAck(ctx context.Context, in Input) (*Result, error) {
	if !slices.Contains(noLostAckModels, in.Model) {
		return nil, fmt.Errorf("no-lost-ack: unknown model %q (supported: %s)", in.Model, strings.Join(noLostAckModels, ", "))
	}
	quiescent, err := boolOption(in.Options, "quiescent")
	if err != nil {
		return nil, fmt.Errorf("no-lost-ack: %w", err)
	}
	missing, err := weakFields(noLostAck(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("no-lost-ack: %w", err)
	}
	res := &Result{Checker: "no-lost-ack", Model: in.Model, OpsTotal: len(in.Ops), Scope: noLostAckScope, Missing: missing}
	progress := func(done int) {
		if in.Progress != nil {
			in.Progress(done, len(in.Ops))
		}
	}
	progress(0)
	var finals []State
	for _, s := range in.States {
		if s.Kind == StateFinal {
			finals = append(finals, s)
		}
	}
	if !quiescent {
		res.Status = StatusUnknown
		res.Evidence = "no-lost-ack gave no verdict: quiescence was not established (Options quiescent must be true: " +
			"the final state read after the system converged with no write in flight); a final state read earlier can miss writes still being applied"
		progress(len(in.Ops))
		return res, nil
	}
	if len(finals) == 0 {
		res.Status = StatusUnknown
		res.Missing = append(res.Missing, StateFinal)
		res.Evidence = "no-lost-ack gave no verdict: no final-state was recorded (record_state kind final-state)"
		progress(len(in.Ops))
		return res, nil
	}

	// Classify the ops once: writes by key, and what removals excuse.
	all := make([]writeOp, 0, len(in.Ops))
	var acked, maybe, failed, unkeyed int
	for i := range in.Ops {
		if i%65536 == 0 && ctx.Err() != nil {
			return stopped(res, ctx), nil
		}
		o := &in.Ops[i]
		w := writeOp{idx: i, invoke: math.MinInt64, complete: math.MaxInt64}
		var raw json.RawMessage
		switch {
		case writeOpTypes[o.OpType]:
			raw = o.Input
		case removeOpTypes[o.OpType]:
			raw, w.remove = o.Input, true
		case takeOpTypes[o.OpType] && o.OK():
			raw, w.remove = o.Output, true
		case takeOpTypes[o.OpType]:
			continue // an unknown dequeue: we cannot tell what it took
		default:
			continue
		}
		if o.Failed() {
			if !w.remove {
				failed++
			}
			continue
		}
		w.acked = o.OK()
		if !w.remove {
			if w.acked {
				acked++
			} else {
				maybe++
			}
		}
		if w.v, err = canonical(raw); err != nil {
			return nil, fmt.Errorf("no-lost-ack: op %s: %w", o.OpID, err)
		}
		w.listArg = w.v.kind == kindOther && strings.HasPrefix(w.v.s, "[")
		if o.InvokeTS != nil {
			w.invoke = *o.InvokeTS
		}
		if w.acked && o.CompleteTS != nil {
			w.complete = *o.CompleteTS
		}
		if o.Key == nil {
			unkeyed++
		}
		all = append(all, w)
	}

	keys := 0
	var byKey map[string][]writeOp // built when a final state is per key
	for _, st := range finals {
		if ctx.Err() != nil {
			return stopped(res, ctx), nil
		}
		final, err := decodeFinal(st.Data)
		if err != nil {
			return nil, fmt.Errorf("no-lost-ack: final state %q: %w", st.Name, err)
		}
		switch f := final.(type) {
		case []json.RawMessage:
			keys = max(keys, 1)
			a, err := checkCollection(in, st.Name, "", f, all)
			if err != nil {
				return nil, fmt.Errorf("no-lost-ack: final state %q: %w", st.Name, err)
			}
			res.Anomalies = append(res.Anomalies, a...)
		case map[string]json.RawMessage:
			if byKey == nil {
				byKey = map[string][]writeOp{}
				for _, w := range all {
					k := opKey(&in.Ops[w.idx])
					byKey[k] = append(byKey[k], w)
				}
			}
			if unkeyed > 0 && !slices.Contains(res.Missing, FieldKey) {
				res.Missing = append(res.Missing, FieldKey)
			}
			keys = max(keys, len(byKey))
			for _, k := range slices.Sorted(maps.Keys(byKey)) {
				writes := byKey[k]
				var a []Anomaly
				if list, ok := asList(f[k]); ok && !allListArgs(writes) {
					a, err = checkCollection(in, st.Name, k, list, writes)
				} else {
					a, err = checkRegister(in, st.Name, k, f[k], writes)
				}
				if err != nil {
					return nil, fmt.Errorf("no-lost-ack: final state %q, key %q: %w", st.Name, k, err)
				}
				res.Anomalies = append(res.Anomalies, a...)
			}
		case json.RawMessage:
			keys = max(keys, 1)
			a, err := checkRegister(in, st.Name, "", f, all)
			if err != nil {
				return nil, fmt.Errorf("no-lost-ack: final state %q: %w", st.Name, err)
			}
			res.Anomalies = append(res.Anomalies, a...)
		}
	}
	res.Keys = keys
	res.OpsConsumed = len(in.Ops)
	lost := 0
	for _, a := range res.Anomalies {
		lost += len(a.OpIDs)
	}
	res.Status = StatusOK
	if lost > 0 {
		res.Status = StatusViolation
	}
	res.Evidence = fmt.Sprintf("no-lost-ack checked %s (%s, %s indeterminate, %s failed) against %s over %s: %s lost",
		plural(len(in.Ops), "op"), plural(acked, "acknowledged write"), thousands(maybe), thousands(failed),
		plural(len(finals), "final state"), plural(keys, "key"), thousands(lost))
	progress(len(in.Ops))
	return res, nil
}

// decodeFinal reads a final state one level deep: a list
// ([]json.RawMessage), an object (map[string]json.RawMessage) or a scalar
// (json.RawMessage).
func decodeFinal(data json.RawMessage) (any, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, fmt.Errorf("empty")
	}
	switch t[0] {
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, err
		}
		return list, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(t, &obj); err != nil {
			return nil, err
		}
		return obj, nil
	}
	if !json.Valid(t) {
		return nil, fmt.Errorf("invalid JSON %.40q", t)
	}
	return json.RawMessage(t), nil
}

// asList reads raw as a JSON array, if it is one.
func asList(raw json.RawMessage) ([]json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	var list []json.RawMessage
	if err := json.Unmarshal(t, &list); err != nil {
		return nil, false
	}
	return list, true
}

// stopped fills res for a check abandoned because ctx ended.
func stopped(res *Result, ctx context.Context) *Result {
	res.Status = StatusUnknown
	res.Partial = true
	res.Evidence = fmt.Sprintf("no-lost-ack was stopped (%v) before deciding", context.Cause(ctx))
	return res
}

// allListArgs reports whether every write of a key writes a list (the key
// is then a register holding lists, not a collection).
func allListArgs(writes []writeOp) bool {
	for _, w := range writes {
		if !w.remove && !w.listArg {
			return false
		}
	}
	return len(writes) > 0
}

// checkCollection: every acknowledged write's value must be in the final
// collection, unless a removal (acknowledged or not) may have taken it.
func checkCollection(in Input, state, key string, final []json.RawMessage, writes []writeOp) ([]Anomaly, error) {
	present := make(map[value]bool, len(final))
	for _, e := range final {
		v, err := canonical(e)
		if err != nil {
			return nil, err
		}
		present[v] = true
	}
	for _, w := range writes {
		if w.remove {
			present[w.v] = true
		}
	}
	var lost []writeOp
	for _, w := range writes {
		if w.acked && !w.remove && !present[w.v] {
			lost = append(lost, w)
		}
	}
	if len(lost) == 0 {
		return nil, nil
	}
	where := "the final state"
	if key != "" {
		where = fmt.Sprintf("key %q of the final state", key)
	}
	return []Anomaly{lostAnomaly(in, state, key, lost, nil,
		fmt.Sprintf("%s absent from %s %q at quiescence", plural(len(lost), "acknowledged write"), where, state))}, nil
}

// checkRegister: the final value must come from a write (acknowledged or
// indeterminate) that could have been the last, i.e. is not strictly
// followed in real time by an acknowledged write. An acknowledged write is
// lost when every write of the final value completed before it was
// invoked (or none wrote it).
func checkRegister(in Input, state, key string, final json.RawMessage, writes []writeOp) ([]Anomaly, error) {
	fv, err := canonical(final)
	if err != nil {
		return nil, err
	}
	latest := int64(math.MinInt64) // when the last write of the final value completed
	for _, w := range writes {
		src := w.v
		if w.remove && removeOpTypes[in.Ops[w.idx].OpType] {
			src = value{} // a delete leaves the key absent
		} else if w.remove {
			continue
		}
		if src == fv {
			latest = max(latest, w.complete)
		}
	}
	var lost []writeOp
	for _, w := range writes {
		if w.acked && !w.remove && latest < w.invoke {
			lost = append(lost, w)
		}
	}
	if len(lost) == 0 {
		return nil, nil
	}
	why := "no write of it could have come after them"
	if latest == math.MinInt64 {
		why = "no acknowledged or indeterminate write wrote that value"
		for i := range in.Ops {
			o := &in.Ops[i]
			if o.Failed() && writeOpTypes[o.OpType] && (key == "" || opKey(o) == key) {
				if v, err := canonical(o.Input); err == nil && v == fv {
					why = fmt.Sprintf("only op %s wrote it, and it was reported failed", o.OpID)
					break
				}
			}
		}
	}
	where := "the register"
	if key != "" {
		where = fmt.Sprintf("key %q", key)
	}
	return []Anomaly{lostAnomaly(in, state, key, lost, fv.any(),
		fmt.Sprintf("%s to %s lost: final state %q holds %s at quiescence, and %s",
			plural(len(lost), "acknowledged write"), where, state, fv.JSON(), why))}, nil
}

func lostAnomaly(in Input, state, key string, lost []writeOp, final any, what string) Anomaly {
	w := lostAckWitness{State: state, Final: final}
	var ids, descr []string
	for _, l := range lost {
		id := in.Ops[l.idx].OpID
		ids = append(ids, id)
		w.Lost = append(w.Lost, lostWrite{OpID: id, Value: l.v.any()})
		descr = append(descr, fmt.Sprintf("%s %s(%s)", id, in.Ops[l.idx].OpType, l.v.JSON()))
	}
	return Anomaly{
		Kind:        "lost-ack",
		Key:         key,
		Description: what + ": " + preview(descr, 8),
		OpIDs:       ids,
		Witness:     w,
	}
}

// opKey returns an op's key, "" when null.
func opKey(o *history.Op) string {
	if o.Key == nil {
		return ""
	}
	return *o.Key
}
