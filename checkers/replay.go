package checkers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

func replayEquivalence() *Checker {
	return &Checker{
		Name:   "replay-equivalence",
		Models: slices.Clone(anyModel),
		Needs:  needsFor(anyModel),
		Check:  checkReplay,
	}
}

const replayScope = "the replay of snapshot A against snapshot B, field by field and strictly (types, array order, " +
	"absent vs null; numbers by value), except the fields declared non-deterministic; cannot detect divergence " +
	"inside ignored fields, nor a replay that matches B for the wrong reason (A equal to B makes the check weak)"

// maxDifferences bounds the differences listed in a witness.
const maxDifferences = 50

// jsonDifference is one place two JSON documents differ.
type jsonDifference struct {
	Path  string `json:"path"`
	Left  any    `json:"left"`
	Right any    `json:"right"`
}

// absentMarker stands for a field one side lacks.
const absentMarker = "<absent>"

// replayWitness is the evidence for a replay that differs from B.
type replayWitness struct {
	B           string           `json:"b"`
	Replay      string           `json:"replay"`
	Differences []jsonDifference `json:"differences"` // left is B, right is the replay
	Total       int              `json:"total_differences"`
	Ignored     []string         `json:"ignored_fields,omitempty"`
}

// checkReplay checks that replaying snapshot A reproduces snapshot B.
//
// Options: "a", "b", "replay" (the names of the three snapshot States;
// default "A", "B", "replay"), "ignore_fields" (JSON paths of the fields
// that may legitimately differ, e.g. "$.meta.generated_at" or
// "items[*].updated_at"; "*" matches any key or index). Leniency beyond
// declared fields (ignore_order, tolerance) is refused.
func checkReplay(ctx context.Context, in Input) (*Result, error) {
	const name = "replay-equivalence"
	if err := checkModel(name, anyModel, in.Model); err != nil {
		return nil, err
	}
	for _, lenient := range []string{"ignore_order", "tolerance", "lenient", "ignore_types"} {
		if _, ok := in.Options[lenient]; ok {
			return nil, fmt.Errorf("%s: option %s makes the comparison too lenient: replay must reproduce B exactly except the fields declared in ignore_fields", name, lenient)
		}
	}
	names := map[string]string{}
	for opt, def := range map[string]string{"a": "A", "b": "B", "replay": "replay"} {
		v, err := stringOption(in.Options, opt, def)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		names[opt] = v
	}
	ignore, err := ignorePatterns(in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, replayScope)
	snaps := map[string]any{}
	for _, role := range []string{"a", "b", "replay"} {
		i := slices.IndexFunc(in.States, func(s State) bool { return s.Kind == StateSnapshot && s.Name == names[role] })
		if i < 0 {
			res.Missing = append(res.Missing, StateSnapshot+" "+names[role])
			continue
		}
		v, err := decodeJSON(in.States[i].Data)
		if err != nil {
			return nil, fmt.Errorf("%s: snapshot %q: %w", name, names[role], err)
		}
		snaps[role] = v
	}
	if len(res.Missing) > 0 {
		return undecided(res, fmt.Sprintf("snapshots A, B and the replay of A are all needed; not recorded: %s", strings.Join(res.Missing, ", "))), nil
	}
	if ctx.Err() != nil {
		return halted(res, ctx), nil
	}
	var d jsonDiffer
	d.ignore = ignore
	d.diff(snaps["b"], snaps["replay"], nil)
	var ab jsonDiffer
	ab.ignore = ignore
	ab.diff(snaps["a"], snaps["b"], nil)
	if len(d.found) > 0 {
		w := replayWitness{B: names["b"], Replay: names["replay"], Differences: d.found[:min(len(d.found), maxDifferences)],
			Total: len(d.found), Ignored: patternStrings(ignore)}
		var paths []string
		for _, x := range w.Differences {
			paths = append(paths, fmt.Sprintf("%s: %s vs %s", x.Path, truncateJSON(x.Left, 60), truncateJSON(x.Right, 60)))
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: "replay-divergence",
			Description: fmt.Sprintf("the replay of %q differs from %q in %s: %s", names["a"], names["b"], plural(len(d.found), "field"), preview(paths, 5)),
			Witness:     w})
	}
	decideByAnomalies(res)
	res.Keys = d.compared
	weak := ""
	if len(ab.found) == 0 {
		weak = fmt.Sprintf("; note %q equals %q, so replaying nothing would pass", names["a"], names["b"])
	}
	diffs := thousands(len(d.found)) + " differ"
	if len(d.found) == 1 {
		diffs = "1 differs"
	}
	res.Evidence = fmt.Sprintf("replay-equivalence compared %s of the replay %q with %q strictly (%s ignored by declaration): %s%s",
		plural(d.compared, "field"), names["replay"], names["b"], thousands(d.ignored), diffs, weak)
	return res, nil
}

// decodeJSON decodes a state keeping numbers exact.
func decodeJSON(data json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: trailing data")
	}
	return v, nil
}

// jsonPath is a parsed JSON path: object keys, "[n]" indexes, "*" for
// any key or index.
type jsonPath []string

// ignorePatterns reads Options["ignore_fields"].
func ignorePatterns(opts map[string]any) ([]jsonPath, error) {
	list, err := stringsOption(opts, "ignore_fields")
	if err != nil {
		return nil, err
	}
	var out []jsonPath
	for _, s := range list {
		p, err := parsePath(s)
		if err != nil {
			return nil, fmt.Errorf("option ignore_fields: %w", err)
		}
		if len(p) == 0 || len(p) == 1 && p[0] == "*" {
			return nil, fmt.Errorf("option ignore_fields: %q ignores the whole document: the comparison would be vacuous", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePath parses "$.a.b[2].c", "a.b[*].c" or "a.*.c".
func parsePath(s string) (jsonPath, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "$")
	var p jsonPath
	for len(t) > 0 {
		switch t[0] {
		case '.':
			t = t[1:]
		case '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", s)
			}
			in := strings.Trim(t[1:end], `'"`)
			if in == "*" {
				p = append(p, "*")
			} else if _, err := strconv.Atoi(in); err == nil {
				p = append(p, "["+in+"]")
			} else {
				p = append(p, in)
			}
			t = t[end+1:]
		default:
			end := strings.IndexAny(t, ".[")
			if end < 0 {
				end = len(t)
			}
			p = append(p, t[:end])
			t = t[end:]
		}
	}
	return p, nil
}

func patternStrings(ps []jsonPath) []string {
	var out []string
	for _, p := range ps {
		out = append(out, renderPath(p))
	}
	return out
}

// renderPath writes a location as "$.a[2].b".
func renderPath(p []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range p {
		if strings.HasPrefix(s, "[") {
			b.WriteString(s)
		} else {
			b.WriteString(".")
			b.WriteString(s)
		}
	}
	return b.String()
}

// jsonDiffer compares two decoded JSON documents.
type jsonDiffer struct {
	ignore            []jsonPath
	found             []jsonDifference
	compared, ignored int
}

// ignored reports whether a location is declared non-deterministic.
func (d *jsonDiffer) isIgnored(loc []string) bool {
	for _, p := range d.ignore {
		if len(p) != len(loc) {
			continue
		}
		match := true
		for i := range p {
			if p[i] != "*" && p[i] != loc[i] && !(p[i] == "[*]" && strings.HasPrefix(loc[i], "[")) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// diff records where a and b differ below loc.
func (d *jsonDiffer) diff(a, b any, loc []string) {
	if d.isIgnored(loc) {
		d.ignored++
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(x))
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			sub := append(slices.Clip(loc), k)
			va, inA := x[k]
			vb, inB := y[k]
			switch {
			case inA && inB:
				d.diff(va, vb, sub)
			case d.isIgnored(sub):
				d.ignored++
			case inA:
				d.compared++
				d.found = append(d.found, jsonDifference{renderPath(sub), va, absentMarker})
			default:
				d.compared++
				d.found = append(d.found, jsonDifference{renderPath(sub), absentMarker, vb})
			}
		}
		return
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		for i := range max(len(x), len(y)) {
			sub := append(slices.Clip(loc), "["+strconv.Itoa(i)+"]")
			switch {
			case i < len(x) && i < len(y):
				d.diff(x[i], y[i], sub)
			case d.isIgnored(sub):
				d.ignored++
			case i < len(x):
				d.compared++
				d.found = append(d.found, jsonDifference{renderPath(sub), x[i], absentMarker})
			default:
				d.compared++
				d.found = append(d.found, jsonDifference{renderPath(sub), absentMarker, y[i]})
			}
		}
		return
	}
	d.compared++
	if !sameScalar(a, b) {
		d.found = append(d.found, jsonDifference{renderPath(loc), a, b})
	}
}

// sameScalar compares two decoded JSON values strictly: same type, and
// numbers by value.
func sameScalar(a, b any) bool {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	if aNum || bNum {
		return aNum && bNum && canonicalNumber(string(na)) == canonicalNumber(string(nb))
	}
	switch a.(type) {
	case map[string]any, []any:
		return false // b is not of the same kind (diff recurses otherwise)
	}
	return a == b
}
