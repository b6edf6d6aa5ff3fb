package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/falsify-dev/falsify/history"
)

// sessionModels are the models session-consistency accepts.
var sessionModels = []string{"kv", "log", "map", "other", "register", "session", "set"}

func sessionConsistency() *Checker {
	return &Checker{
		Name:   "session-consistency",
		Models: slices.Clone(sessionModels),
		Needs:  needsFor(sessionModels, FieldProcessID, FieldTimeoutMarker),
		Check:  checkSessionConsistency,
	}
}

const sessionScope = "read-your-writes per session (a process, split into a new session at connect / reconnect ops and " +
	"when the session field changes): a read that misses the session's own prior acknowledged write, judged by the " +
	"SUT's version when version_field is given, else by value (a register read must return the session's last write " +
	"or a value another session may have written after it; a collection read must hold the session's added elements " +
	"unless someone may have removed them); cannot detect anomalies across sessions, monotonic-read violations " +
	"(use monotonic-read) or lost writes nobody read (use no-lost-ack)"

// sessionWitness is the evidence for a read that missed its session's
// write.
type sessionWitness struct {
	Session string `json:"session"`
	Write   string `json:"write_op"`
	Wrote   any    `json:"wrote"`
	Read    string `json:"read_op"`
	Saw     any    `json:"saw"`
}

// ownWrite is a session's last acknowledged write of a key.
type ownWrite struct {
	idx     int
	v       value   // the value written (register)
	version float64 // its version, NaN when unknown
}

// foreignWrite is a write that may have overwritten another session's.
type foreignWrite struct {
	session          string
	invoke, complete int64
}

// checkSessionConsistency checks read-your-writes per session.
//
// Options: "version_field" (a field of the output of writes and reads
// holding the SUT's version; when set, a read must return a version at
// least that of the session's last acknowledged write of the key),
// "value_field" (the field of a read's output holding the value; default
// the whole output), "session_field" (see monotonic-read).
func checkSessionConsistency(ctx context.Context, in Input) (*Result, error) {
	const name = "session-consistency"
	if err := checkModel(name, sessionModels, in.Model); err != nil {
		return nil, err
	}
	versionField, err := stringOption(in.Options, "version_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if slices.Contains(recorderClockFields, strings.ToLower(versionField)) {
		return nil, fmt.Errorf("%s: version_field %q is a clock, not the SUT's version", name, versionField)
	}
	valueField, err := stringOption(in.Options, "value_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sessionField, err := stringOption(in.Options, "session_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(sessionConsistency(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, sessionScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)
	step := stepper(ctx, progress)
	sess := sessionIDs(in.Ops, sessionField)

	readValue := func(o *history.Op) (value, error) {
		raw := o.Output
		if valueField != "" {
			raw, _ = jsonField(o.Output, valueField)
		}
		return canonical(raw)
	}

	// Pass 1: every non-failed write and removal, by key and value, with
	// the session that issued it.
	foreign := map[string]map[value][]foreignWrite{}
	removed := map[string]map[value]bool{}
	unknownTake := map[string]bool{}
	for i := range in.Ops {
		o := &in.Ops[i]
		if o.Failed() {
			continue
		}
		k := opKey(o)
		switch {
		case writeOpTypes[o.OpType] || o.OpType == "cas" || removeOpTypes[o.OpType]:
			v, err := writtenValue(o)
			if err != nil {
				return nil, fmt.Errorf("%s: op %s: %w", name, o.OpID, err)
			}
			if removeOpTypes[o.OpType] {
				if removed[k] == nil {
					removed[k] = map[value]bool{}
				}
				removed[k][v] = true
				v = value{} // the key reads as null afterwards
			}
			if foreign[k] == nil {
				foreign[k] = map[value][]foreignWrite{}
			}
			end := int64(math.MaxInt64)
			if o.OK() {
				end = completeOf(o, math.MaxInt64)
			}
			foreign[k][v] = append(foreign[k][v], foreignWrite{sess[i], invokeOf(o, math.MinInt64), end})
		case takeOpTypes[o.OpType]:
			if !o.OK() {
				unknownTake[k] = true
				continue
			}
			v, err := canonical(o.Output)
			if err != nil {
				return nil, fmt.Errorf("%s: op %s: %w", name, o.OpID, err)
			}
			if removed[k] == nil {
				removed[k] = map[value]bool{}
			}
			removed[k][v] = true
		}
	}

	// Pass 2: each session's reads against its own prior writes.
	type sk = [2]string
	last := map[sk]ownWrite{}
	added := map[sk][]int{} // acknowledged adds / appends, by op index
	keys := map[string]bool{}
	sessionSet := map[string]bool{}
	reads, checked := 0, 0
	for i := range in.Ops {
		if step(i) {
			return halted(res, ctx), nil
		}
		o := &in.Ops[i]
		k := opKey(o)
		id := sk{sess[i], k}
		switch {
		case (writeOpTypes[o.OpType] || o.OpType == "cas") && o.OK():
			keys[k] = true
			sessionSet[sess[i]] = true
			if collectionOpTypes[o.OpType] {
				added[id] = append(added[id], i)
				continue
			}
			v, _ := writtenValue(o)
			w := ownWrite{idx: i, v: v, version: math.NaN()}
			if versionField != "" {
				if raw, ok := jsonField(o.Output, versionField); ok {
					if f, ok := jsonNumber(raw); ok {
						w.version = f
					}
				}
			}
			last[id] = w
		case readOpTypes[o.OpType] && o.OK():
			reads++
			keys[k] = true
			sessionSet[sess[i]] = true
			w, hasWrite := last[id]
			if versionField != "" {
				if !hasWrite || math.IsNaN(w.version) {
					continue
				}
				raw, _ := jsonField(o.Output, versionField)
				ver, ok := jsonNumber(raw)
				if !ok {
					continue
				}
				checked++
				if ver < w.version {
					res.Anomalies = append(res.Anomalies, rywAnomaly(in, sess[i], k, w.idx, i, formatNumber(w.version), formatNumber(ver),
						fmt.Sprintf("read version %s, older than version %s of its own write %s", formatNumber(ver), formatNumber(w.version), in.Ops[w.idx].OpID)))
				}
				continue
			}
			got, err := readValue(o)
			if err != nil {
				return nil, fmt.Errorf("%s: op %s: %w", name, o.OpID, err)
			}
			if hasWrite {
				checked++
				if got != w.v && !overwritable(foreign[k][got], sess[i], invokeOf(&in.Ops[w.idx], math.MinInt64), completeOf(o, math.MaxInt64)) {
					res.Anomalies = append(res.Anomalies, rywAnomaly(in, sess[i], k, w.idx, i, w.v.any(), got.any(),
						fmt.Sprintf("read %s, not its own write %s of %s, and no other session's write of %s could have come after it",
							got.JSON(), in.Ops[w.idx].OpID, w.v.JSON(), got.JSON())))
				}
			}
			if adds := added[id]; len(adds) > 0 && !unknownTake[k] {
				list, ok := scanList(o.Output)
				if valueField != "" {
					raw, _ := jsonField(o.Output, valueField)
					list, ok = scanList(raw)
				}
				if !ok {
					continue
				}
				checked++
				present := make(map[value]bool, len(list))
				for _, e := range list {
					v, err := canonical(e)
					if err != nil {
						return nil, fmt.Errorf("%s: op %s: %w", name, o.OpID, err)
					}
					present[v] = true
				}
				for _, a := range adds {
					v, _ := writtenValue(&in.Ops[a])
					if !present[v] && !removed[k][v] {
						res.Anomalies = append(res.Anomalies, rywAnomaly(in, sess[i], k, a, i, v.any(), json.RawMessage(truncateJSON(list, 200)),
							fmt.Sprintf("read misses %s, added by its own acknowledged %s %s", v.JSON(), in.Ops[a].OpType, in.Ops[a].OpID)))
						break
					}
				}
			}
		}
	}
	res.OpsConsumed = len(in.Ops)
	res.Keys = len(keys)
	if checked == 0 {
		progress(len(in.Ops))
		if versionField != "" {
			res.Missing = append(res.Missing, "output."+versionField)
		}
		return undecided(res, fmt.Sprintf("no successful read followed an acknowledged write of the same session and key (%s, %s in %s)",
			plural(len(in.Ops), "op"), plural(reads, "successful read"), plural(len(sessionSet), "session"))), nil
	}
	decideByAnomalies(res)
	mode := "by value"
	if versionField != "" {
		mode = "by version (" + versionField + ")"
	}
	res.Evidence = fmt.Sprintf("session-consistency checked %s: %s after their session's own writes, %s, in %s over %s: %s",
		plural(len(in.Ops), "op"), plural(checked, "read"), mode, plural(len(sessionSet), "session"), plural(len(keys), "key"),
		plural(len(res.Anomalies), "anomaly"))
	progress(len(in.Ops))
	return res, nil
}

// collectionOpTypes add an element to a collection rather than replace a
// value.
var collectionOpTypes = map[string]bool{"append": true, "add": true, "enqueue": true, "insert": true}

// writtenValue returns the value a write leaves (a cas's new value).
func writtenValue(o *history.Op) (value, error) {
	if o.OpType == "cas" {
		_, next, err := casArgs(o.Input)
		return next, err
	}
	return canonical(o.Input)
}

// overwritable reports whether one of writes, by another session, may
// have taken effect after the session's own write (invoked at ownInvoke)
// and before the read completed.
func overwritable(writes []foreignWrite, session string, ownInvoke, readComplete int64) bool {
	for _, w := range writes {
		if w.session != session && w.invoke < readComplete && w.complete > ownInvoke {
			return true
		}
	}
	return false
}

func rywAnomaly(in Input, session, key string, write, read int, wrote, saw any, what string) Anomaly {
	where := sessionLabel(session)
	if key != "" {
		where += fmt.Sprintf(", key %q", key)
	}
	return Anomaly{
		Kind:        "read-your-writes",
		Key:         key,
		Description: fmt.Sprintf("%s: %s %s", where, in.Ops[read].OpID, what),
		OpIDs:       []string{in.Ops[write].OpID, in.Ops[read].OpID},
		Witness:     sessionWitness{Session: sessionLabel(session), Write: in.Ops[write].OpID, Wrote: wrote, Read: in.Ops[read].OpID, Saw: saw},
	}
}
