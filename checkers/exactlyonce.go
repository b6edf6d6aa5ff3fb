package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// exactlyOnceModels are the models exactly-once accepts.
var exactlyOnceModels = []string{"kv", "ledger", "log", "map", "other", "queue", "set"}

func exactlyOnce() *Checker {
	return &Checker{
		Name:   "exactly-once",
		Models: slices.Clone(exactlyOnceModels),
		Needs:  needsFor(exactlyOnceModels, FieldTimeoutMarker),
		Check:  checkExactlyOnce,
	}
}

const exactlyOnceScope = "two committed effects for one business idempotency key (in a final ledger, in one read of " +
	"the effects, or two distinct effect ids acknowledged for one key); with quiescence, an acknowledged key with " +
	"no effect and an effect of a key whose every attempt failed; timed-out attempts may have one effect or none; " +
	"cannot detect duplicates the recorded effects do not show (an effect applied twice but recorded once), " +
	"nor effects whose entries lack the key"

// ledgerLists are the fields under which a final-state object may hold
// its list of effects.
var ledgerLists = []string{"effects", "entries", "ledger", "transactions", "items", "messages"}

// attempt outcomes of one idempotency key, best first.
const (
	keyAcked = iota
	keyMaybe
	keyFailed
)

// keyAttempts is what the history says about one idempotency key.
type keyAttempts struct {
	ops     []int
	outcome int
	effects map[string]bool // effect ids acknowledged (effect_field)
}

// exactlyOnceWitness is the evidence for one key.
type exactlyOnceWitness struct {
	IdempotencyKey string   `json:"idempotency_key"`
	Effects        int      `json:"effects"`
	Source         string   `json:"source"` // where the effects were seen
	Attempts       []string `json:"attempts"`
	EffectIDs      []string `json:"effect_ids,omitempty"`
}

// checkExactlyOnce checks that every business idempotency key has at most
// one committed effect (and, at quiescence, that an acknowledged key has
// exactly one).
//
// Options: "key_field" (required: the JSON field of the op's input holding
// the idempotency key, a dotted path for nested fields; never op_id),
// "entry_key_field" (the field of a final-state ledger entry holding the
// key; default key_field), "effect_field" (a field of an acknowledged op's
// output naming the effect it committed, e.g. a transaction id),
// "quiescent".
//
// Committed effects come from final-state States (a list of effects, or
// an object holding one under effects / entries / ledger / transactions /
// items / messages), from read ops whose output is such a list, and from
// effect_field.
func checkExactlyOnce(ctx context.Context, in Input) (*Result, error) {
	const name = "exactly-once"
	if err := checkModel(name, exactlyOnceModels, in.Model); err != nil {
		return nil, err
	}
	keyField, err := stringOption(in.Options, "key_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if keyField == "" {
		return nil, fmt.Errorf("%s: option key_field is required: the input field holding the business idempotency key", name)
	}
	if k := strings.ToLower(strings.NewReplacer("-", "_", " ", "").Replace(keyField)); k == "op_id" || k == "opid" {
		return nil, fmt.Errorf("%s: key_field %q is the op id, unique per op by construction: every key would have one attempt and the check would be vacuous; use the business idempotency key the client sends", name, keyField)
	}
	entryField, err := stringOption(in.Options, "entry_key_field", keyField)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	effectField, err := stringOption(in.Options, "effect_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	quiescent, err := quiescence(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(exactlyOnce(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, exactlyOnceScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)
	step := stepper(ctx, progress)

	keys := make(map[string]*keyAttempts, len(in.Ops)/2)
	var order []string
	attempts, sameAsOpID := 0, 0
	readCounts := map[string]int{} // most effects of a key seen in one read
	readWhere := map[string]string{}
	for i := range in.Ops {
		if step(i) {
			return halted(res, ctx), nil
		}
		o := &in.Ops[i]
		if readOpTypes[o.OpType] {
			if o.OK() {
				if list, ok := effectList(o.Output); ok {
					counts := countEffects(list, entryField)
					for k, n := range counts {
						if n > readCounts[k] {
							readCounts[k], readWhere[k] = n, "read "+o.OpID
						}
					}
				}
			}
			continue
		}
		raw, ok := jsonField(o.Input, keyField)
		if !ok || isNull(raw) {
			continue
		}
		v, err := canonical(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: op %s: key: %w", name, o.OpID, err)
		}
		k := keyString(v)
		attempts++
		if k == o.OpID {
			sameAsOpID++
		}
		ka := keys[k]
		if ka == nil {
			ka = &keyAttempts{outcome: keyFailed}
			keys[k] = ka
			order = append(order, k)
		}
		ka.ops = append(ka.ops, i)
		switch {
		case o.OK():
			ka.outcome = keyAcked
			if effectField != "" {
				if e, ok := jsonField(o.Output, effectField); ok && !isNull(e) {
					if ka.effects == nil {
						ka.effects = map[string]bool{}
					}
					ka.effects[string(bytes.TrimSpace(e))] = true
				}
			}
		case o.Indeterminate():
			ka.outcome = min(ka.outcome, keyMaybe)
		}
	}
	switch {
	case attempts == 0:
		return nil, fmt.Errorf("%s: no op carries key_field %q in its input: the check would be vacuous", name, keyField)
	case len(keys) == 1 && attempts > 1:
		return nil, fmt.Errorf("%s: key_field %q holds the same value in all %s: a constant key cannot tell retries from distinct requests", name, keyField, plural(attempts, "attempt"))
	case sameAsOpID == attempts && attempts > 1:
		return nil, fmt.Errorf("%s: key_field %q equals the op id on every op: retries get new op ids, so every key would have one attempt and the check would be vacuous", name, keyField)
	}

	// Effects per key, from each final ledger.
	finals := statesOf(in.States, StateFinal)
	type ledger struct {
		name   string
		counts map[string]int
	}
	var ledgers []ledger
	effectsTotal := 0
	for _, st := range finals {
		list, ok := effectList(st.Data)
		if !ok {
			return nil, fmt.Errorf("%s: final state %q: want a list of effects or an object holding one under %s", name, st.Name, strings.Join(ledgerLists, " / "))
		}
		effectsTotal += len(list)
		ledgers = append(ledgers, ledger{st.Name, countEffects(list, entryField)})
	}
	if len(ledgers) == 0 && len(readCounts) == 0 && effectField == "" {
		res.Missing = append(res.Missing, StateFinal)
		progress(len(in.Ops))
		return undecided(res, "no committed effects were recorded: record a final-state ledger of effects, read the effects, or name the output field that identifies an effect (option effect_field)"), nil
	}

	counts := [3]int{}
	for _, k := range order {
		ka := keys[k]
		counts[ka.outcome]++
		if len(ka.effects) > 1 {
			res.Anomalies = append(res.Anomalies, effectAnomaly(in, "duplicate-effect", k, ka, len(ka.effects), "acknowledged effect ids",
				fmt.Sprintf("idempotency key %s has %s acknowledged", k, plural(len(ka.effects), "distinct effect"))))
			continue
		}
		if n := readCounts[k]; n > 1 {
			res.Anomalies = append(res.Anomalies, effectAnomaly(in, "duplicate-effect", k, ka, n, readWhere[k],
				fmt.Sprintf("idempotency key %s has %d effects in %s", k, n, readWhere[k])))
			continue
		}
		for _, l := range ledgers {
			n := l.counts[k]
			switch {
			case n > 1:
				res.Anomalies = append(res.Anomalies, effectAnomaly(in, "duplicate-effect", k, ka, n, "final state "+l.name,
					fmt.Sprintf("idempotency key %s has %d committed effects in final state %q", k, n, l.name)))
			case n == 1 && ka.outcome == keyFailed:
				res.Anomalies = append(res.Anomalies, effectAnomaly(in, "effect-of-failed-op", k, ka, n, "final state "+l.name,
					fmt.Sprintf("idempotency key %s has an effect in final state %q although every attempt was reported failed", k, l.name)))
			case n == 0 && ka.outcome == keyAcked && quiescent:
				res.Anomalies = append(res.Anomalies, effectAnomaly(in, "lost-effect", k, ka, n, "final state "+l.name,
					fmt.Sprintf("idempotency key %s was acknowledged but has no effect in final state %q at quiescence", k, l.name)))
			default:
				continue
			}
			break
		}
	}
	decideByAnomalies(res)
	res.OpsConsumed = len(in.Ops)
	res.Keys = len(keys)
	against := []string{}
	if len(ledgers) > 0 {
		against = append(against, fmt.Sprintf("%s (%s)", plural(len(ledgers), "final ledger"), plural(effectsTotal, "effect")))
	}
	if len(readCounts) > 0 {
		against = append(against, "the effects reads observed")
	}
	if effectField != "" {
		against = append(against, "acknowledged effect ids ("+effectField+")")
	}
	lostNote := ""
	if len(ledgers) > 0 && !quiescent {
		lostNote = " (lost effects not judged: quiescence not declared)"
	}
	res.Evidence = fmt.Sprintf("exactly-once checked %s: %s over %s (%s acknowledged, %s only indeterminate, %s only failed) against %s: %s%s",
		plural(len(in.Ops), "op"), plural(attempts, "attempt"), plural(len(keys), "idempotency key"),
		thousands(counts[keyAcked]), thousands(counts[keyMaybe]), thousands(counts[keyFailed]),
		strings.Join(against, " and "), plural(len(res.Anomalies), "anomaly"), lostNote)
	progress(len(in.Ops))
	return res, nil
}

// keyString renders an idempotency key: strings as themselves, other
// values as JSON.
func keyString(v value) string {
	if v.kind == kindString {
		return v.s
	}
	return v.JSON()
}

// effectList reads a list of effects: a JSON array, or an object holding
// one under one of ledgerLists.
func effectList(raw json.RawMessage) ([]json.RawMessage, bool) {
	if list, ok := scanList(raw); ok {
		return list, true
	}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(t, &obj) != nil {
		return nil, false
	}
	for _, f := range ledgerLists {
		if list, ok := scanList(obj[f]); ok {
			return list, true
		}
	}
	return nil, false
}

// countEffects counts the effects of each key in a list of entries: an
// entry is an object carrying the key field, or the key itself.
func countEffects(list []json.RawMessage, keyField string) map[string]int {
	counts := make(map[string]int, len(list))
	for _, e := range list {
		raw := e
		if t := bytes.TrimSpace(e); len(t) > 0 && t[0] == '{' {
			var ok bool
			if raw, ok = jsonField(t, keyField); !ok {
				continue
			}
		}
		v, err := canonical(raw)
		if err != nil || v.kind == kindNull {
			continue
		}
		counts[keyString(v)]++
	}
	return counts
}

func effectAnomaly(in Input, kind, key string, ka *keyAttempts, effects int, source, what string) Anomaly {
	w := exactlyOnceWitness{IdempotencyKey: key, Effects: effects, Source: source}
	var ids, descr []string
	for _, i := range ka.ops {
		o := &in.Ops[i]
		outcome := "ok"
		switch {
		case o.Indeterminate():
			outcome = "indeterminate"
		case o.Failed():
			outcome = "failed"
		}
		ids = append(ids, o.OpID)
		w.Attempts = append(w.Attempts, o.OpID+" "+outcome)
		descr = append(descr, fmt.Sprintf("%s %s (%s)", o.OpID, o.OpType, outcome))
	}
	w.EffectIDs = slices.Sorted(maps.Keys(ka.effects))
	return Anomaly{
		Kind:        kind,
		Key:         key,
		Description: what + "; attempts: " + preview(descr, 8),
		OpIDs:       ids,
		Witness:     w,
	}
}
