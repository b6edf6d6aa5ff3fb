package checkers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

func reconciliation() *Checker {
	return &Checker{
		Name:   "reconciliation",
		Models: slices.Clone(anyModel),
		Needs:  needsFor(anyModel),
		Check:  checkReconciliation,
	}
}

const reconciliationScope = "per-replica final dumps compared pairwise after declared convergence, key by key " +
	"(top-level fields of an object, elements of a list — by id_field when given — or the whole value), strictly " +
	"except declared ignore_fields; cannot detect replicas that agree on a wrong state (use no-lost-ack or " +
	"invariant), divergence that existed only before the dumps, or replicas that were not dumped"

// reconciliationWitness is the evidence for one differing key.
type reconciliationWitness struct {
	Key      string         `json:"key"`
	Replicas map[string]any `json:"replicas"` // replica → its value ("<absent>" when it lacks the key)
	Pairs    [][2]string    `json:"differing_pairs"`
}

// checkReconciliation checks that replica dumps agree once converged.
//
// Options: "converged" or "quiescent" (one must be true, or a State named
// "quiescence" recorded: comparing before convergence reports
// in-flight replication as divergence), "id_field" (for dumps that are
// lists of objects: the field identifying an element, e.g. "node"; by
// default a list is compared as a set of elements), "ordered" (true:
// compare lists in order, e.g. a log), "ignore_fields" (JSON paths, as
// for replay-equivalence).
func checkReconciliation(ctx context.Context, in Input) (*Result, error) {
	const name = "reconciliation"
	if err := checkModel(name, anyModel, in.Model); err != nil {
		return nil, err
	}
	converged, err := boolOption(in.Options, "converged")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !converged {
		if converged, err = quiescence(in); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	idField, err := stringOption(in.Options, "id_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ordered, err := boolOption(in.Options, "ordered")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ignore, err := ignorePatterns(in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, reconciliationScope)
	replicas := statesOf(in.States, StateReplica)
	if len(replicas) < 2 {
		res.Missing = []string{StateReplica}
		return undecided(res, fmt.Sprintf("reconciliation needs at least 2 replica dumps (record_state kind replica-state), got %d", len(replicas))), nil
	}
	if !converged {
		return undecided(res, "convergence was not declared (option converged or quiescent true, or a State named \"quiescence\"): replicas compared before convergence differ by what is still replicating"), nil
	}

	// Each replica as key → value.
	dumps := make([]map[string]any, len(replicas))
	names := make([]string, len(replicas))
	for i, st := range replicas {
		v, err := decodeJSON(st.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: replica %q: %w", name, st.Name, err)
		}
		names[i] = st.Name
		if names[i] == "" {
			names[i] = fmt.Sprintf("replica %d", i+1)
		}
		if dumps[i], err = replicaKeys(v, idField, ordered); err != nil {
			return nil, fmt.Errorf("%s: replica %q: %w", name, st.Name, err)
		}
	}
	keySet := map[string]bool{}
	for _, d := range dumps {
		for k := range d {
			keySet[k] = true
		}
	}
	keys := slices.Sorted(maps.Keys(keySet))
	pairDiffs := map[[2]int]int{}
	compared, ignored := 0, 0
	for n, k := range keys {
		if cancelled(ctx, n) {
			return halted(res, ctx), nil
		}
		loc := []string{k}
		if k == "" {
			loc = nil
		}
		var pairs [][2]string
		for i := range dumps {
			for j := i + 1; j < len(dumps); j++ {
				d := jsonDiffer{ignore: ignore}
				va, inA := dumps[i][k]
				vb, inB := dumps[j][k]
				switch {
				case d.isIgnored(loc):
					d.ignored++
				case inA && inB:
					d.diff(va, vb, loc)
				default:
					d.compared++
					d.found = append(d.found, jsonDifference{})
				}
				compared, ignored = compared+d.compared, ignored+d.ignored
				if len(d.found) > 0 {
					pairs = append(pairs, [2]string{names[i], names[j]})
					pairDiffs[[2]int{i, j}]++
				}
			}
		}
		if len(pairs) == 0 {
			continue
		}
		w := reconciliationWitness{Key: k, Replicas: map[string]any{}, Pairs: pairs}
		var parts []string
		for i, d := range dumps {
			v, ok := d[k]
			if !ok {
				v = absentMarker
			}
			w.Replicas[names[i]] = v
			parts = append(parts, names[i]+" "+truncateJSON(v, 80))
		}
		label := fmt.Sprintf("key %q", k)
		if k == "" {
			label = "the whole state"
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: "replica-divergence", Key: k,
			Description: fmt.Sprintf("replicas differ on %s after convergence: %s", label, strings.Join(parts, "; ")),
			Witness:     w})
	}
	decideByAnomalies(res)
	res.Keys = len(keys)
	var pairNotes []string
	for i := range dumps {
		for j := i + 1; j < len(dumps); j++ {
			if n := pairDiffs[[2]int{i, j}]; n > 0 {
				pairNotes = append(pairNotes, fmt.Sprintf("%s/%s %s", names[i], names[j], plural(n, "key")))
			}
		}
	}
	detail := ""
	if len(pairNotes) > 0 {
		detail = " (" + preview(pairNotes, 6) + ")"
	}
	res.Evidence = fmt.Sprintf("reconciliation compared %s (%s) pairwise over %s after declared convergence (%s ignored by declaration): %s%s",
		plural(len(dumps), "replica dump"), preview(names, 6), plural(len(keys), "key"), thousands(ignored),
		keysDiffer(len(res.Anomalies)), detail)
	return res, nil
}

// keysDiffer says how many keys differ.
func keysDiffer(n int) string {
	if n == 1 {
		return "1 key differs"
	}
	return plural(n, "key") + " differ"
}

// replicaKeys turns a replica dump into key → value: an object's fields, a
// list's elements (by idField, by position when ordered, else by their
// own canonical JSON, the value being true), or the whole value under "".
func replicaKeys(v any, idField string, ordered bool) (map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return t, nil
	case []any:
		out := make(map[string]any, len(t))
		for i, e := range t {
			switch {
			case idField != "":
				obj, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("element %d is not an object with %q", i, idField)
				}
				id, ok := obj[idField]
				if !ok {
					return nil, fmt.Errorf("element %d has no %q", i, idField)
				}
				cv, err := canonicalAny(id)
				if err != nil {
					return nil, err
				}
				out[keyString(cv)] = e
			case ordered:
				out[fmt.Sprintf("[%06d]", i)] = e
			default:
				cv, err := canonicalAny(e)
				if err != nil {
					return nil, err
				}
				out[cv.JSON()] = true
			}
		}
		return out, nil
	}
	return map[string]any{"": v}, nil
}
