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

	"github.com/falsify-dev/falsify/history"
)

// Helpers shared by the oracle checkers (exactly-once, monotonic-read,
// session-consistency, prefix, invariant, reconciliation,
// replay-equivalence, mutual-exclusion, counter, set, set-full, fairness,
// slo-threshold, baseline-comparison).

// anyModel lists the plan §7.M models, for the checkers that judge
// recorded states or metrics whatever the model.
var anyModel = []string{
	"counter", "kv", "lease", "ledger", "lock", "log", "map", "membership-table",
	"other", "queue", "register", "session", "set",
}

// needsFor returns a Needs function asking for fields of every model in
// models and nil for any other model.
func needsFor(models []string, fields ...string) func(string) []string {
	return func(model string) []string {
		if !slices.Contains(models, model) {
			return nil
		}
		return append([]string{}, fields...)
	}
}

// checkModel refuses a model the checker does not know.
func checkModel(checker string, models []string, model string) error {
	if !slices.Contains(models, model) {
		return fmt.Errorf("%s: unknown model %q (supported: %s)", checker, model, strings.Join(models, ", "))
	}
	return nil
}

// newResult starts a result.
func newResult(checker string, in Input, scope string) *Result {
	return &Result{Checker: checker, Model: in.Model, OpsTotal: len(in.Ops), Scope: scope}
}

// undecided marks res unknown with the reason as its evidence.
func undecided(res *Result, reason string) *Result {
	res.Status = StatusUnknown
	res.Evidence = res.Checker + " gave no verdict: " + reason
	return res
}

// halted fills res for a check abandoned because ctx ended.
func halted(res *Result, ctx context.Context) *Result {
	res.Status = StatusUnknown
	res.Partial = true
	res.Anomalies = nil
	res.Evidence = fmt.Sprintf("%s was stopped (%v) before deciding", res.Checker, context.Cause(ctx))
	return res
}

// decideByAnomalies sets the status from the anomalies found.
func decideByAnomalies(res *Result) {
	res.Status = StatusOK
	if len(res.Anomalies) > 0 {
		res.Status = StatusViolation
	}
}

// progressFunc returns a progress reporter that tolerates a nil callback.
func progressFunc(in Input, total int) func(done int) {
	return func(done int) {
		if in.Progress != nil {
			in.Progress(done, total)
		}
	}
}

// stepper returns a function to call at each op of a pass over ops: every
// 65,536 ops it reports progress and tells whether ctx has ended.
func stepper(ctx context.Context, progress func(done int)) func(i int) bool {
	return func(i int) bool {
		if i&0xffff != 0 {
			return false
		}
		progress(i)
		return ctx.Err() != nil
	}
}

// cancelled reports, every 65,536 steps, whether ctx has ended.
func cancelled(ctx context.Context, i int) bool {
	return i&0xffff == 0 && ctx.Err() != nil
}

// stringOption reads a string option; absent is def.
func stringOption(opts map[string]any, name, def string) (string, error) {
	v, ok := opts[name]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("option %s: want a string, got %T %v", name, v, v)
	}
	return s, nil
}

// numberOption reads a number option (a JSON number or a numeric string);
// ok is false when it is absent.
func numberOption(opts map[string]any, name string) (f float64, ok bool, err error) {
	v, present := opts[name]
	if !present || v == nil {
		return 0, false, nil
	}
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case json.Number:
		f, err = n.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(n), 64)
	default:
		err = fmt.Errorf("want a number, got %T", v)
	}
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = fmt.Errorf("want a finite number, got %v", v)
	}
	if err != nil {
		return 0, false, fmt.Errorf("option %s: %w", name, err)
	}
	return f, true, nil
}

// stringsOption reads a list of strings (a single string is a list of
// one).
func stringsOption(opts map[string]any, name string) ([]string, error) {
	v, ok := opts[name]
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []string:
		return slices.Clone(t), nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("option %s: want a list of strings, found %T %v", name, e, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("option %s: want a string or a list of strings, got %T", name, v)
}

// quiescence reports whether quiescence was declared: Options["quiescent"]
// true or a recorded State named "quiescence".
func quiescence(in Input) (bool, error) {
	q, err := boolOption(in.Options, "quiescent")
	if err != nil || q {
		return q, err
	}
	return slices.ContainsFunc(in.States, func(s State) bool { return strings.EqualFold(s.Name, "quiescence") }), nil
}

// statesOf returns the states of a kind.
func statesOf(states []State, kind string) []State {
	var out []State
	for _, s := range states {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// jsonField returns the value at a dotted path ("a.b") in a JSON object.
func jsonField(raw json.RawMessage, path string) (json.RawMessage, bool) {
	cur := bytes.TrimSpace(raw)
	for part := range strings.SplitSeq(path, ".") {
		v, ok := jsonMember(cur, part)
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// jsonMember returns the value of a top-level member of a JSON object,
// scanning without decoding; keys with escapes fall back to
// encoding/json. The value is not validated.
func jsonMember(obj []byte, name string) (json.RawMessage, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil, false
		}
		end := skipValue(obj, i)
		if end < 0 {
			return nil, false
		}
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var m map[string]json.RawMessage
			if json.Unmarshal(obj, &m) != nil {
				return nil, false
			}
			v, ok := m[name]
			return bytes.TrimSpace(v), ok
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		start := skipSpace(obj, i+1)
		end = skipValue(obj, start)
		if end < 0 {
			return nil, false
		}
		if string(key) == name {
			return obj[start:end], true
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i++
	}
}

// scanList splits a JSON array into its elements without decoding them
// (they are not validated: canonical does that).
func scanList(raw []byte) ([]json.RawMessage, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	var out []json.RawMessage
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return nil, skipSpace(raw, i+1) == len(raw)
	}
	for {
		start := i
		end := skipValue(raw, start)
		if end < 0 {
			return nil, false
		}
		out = append(out, raw[start:end])
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ']':
			if skipSpace(raw, i+1) != len(raw) {
				return nil, false
			}
			return out, true
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i, or
// -1 when it is cut short.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := skipValue(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// jsonNumber reads a JSON number.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || !(t[0] == '-' || t[0] >= '0' && t[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(t), 64)
	return f, err == nil
}

// formatNumber writes a float without a needless fraction.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// processOf returns an op's process, "" when null.
func processOf(o *history.Op) string {
	if o.ProcessID == nil {
		return ""
	}
	return *o.ProcessID
}

// invokeOf and completeOf return an op's times, with the given defaults
// when null.
func invokeOf(o *history.Op, def int64) int64 {
	if o.InvokeTS == nil {
		return def
	}
	return *o.InvokeTS
}

func completeOf(o *history.Op, def int64) int64 {
	if o.CompleteTS == nil {
		return def
	}
	return *o.CompleteTS
}

// readOpTypes observe state without changing it.
var readOpTypes = map[string]bool{
	"read": true, "get": true, "view": true, "balance": true, "scan": true, "list": true, "r": true,
}

// sessionStartOpTypes open a new session on their process.
var sessionStartOpTypes = map[string]bool{"connect": true, "reconnect": true, "open": true, "session": true}

// sessionIDs assigns each op a session: its process, split into a new
// session at each connect / reconnect op and whenever the session field
// (looked up in the op's output, then its input) changes value. It
// returns one session id per op ("" for an op with no process).
func sessionIDs(ops []history.Op, sessionField string) []string {
	type state struct {
		n    int
		seen bool
		last string
	}
	per := map[string]*state{}
	out := make([]string, len(ops))
	for i := range ops {
		o := &ops[i]
		p := processOf(o)
		st := per[p]
		if st == nil {
			st = &state{}
			per[p] = st
		}
		if sessionStartOpTypes[o.OpType] && st.seen {
			st.n++
		}
		if sessionField != "" {
			v, ok := jsonField(o.Output, sessionField)
			if !ok || isNull(v) {
				v, ok = jsonField(o.Input, sessionField)
			}
			if ok && !isNull(v) {
				s := string(v)
				if st.seen && st.last != "" && s != st.last {
					st.n++
				}
				st.last = s
			}
		}
		st.seen = true
		out[i] = p + "#" + strconv.Itoa(st.n)
	}
	return out
}

// sessionLabel renders a session id for a reader: "process 3" or
// "process 3, session 2".
func sessionLabel(id string) string {
	p, n, _ := strings.Cut(id, "#")
	if n == "0" {
		return "process " + p
	}
	k, _ := strconv.Atoi(n)
	return fmt.Sprintf("process %s, session %d", p, k+1)
}

// sortedByInvoke returns the indexes of ops ordered by invoke time (ops
// without one keep their history position relative to each other and
// come first), ties broken by history position.
func sortedByInvoke(ops []history.Op, idx []int) []int {
	out := slices.Clone(idx)
	slices.SortStableFunc(out, func(a, b int) int {
		return compareInt64(invokeOf(&ops[a], math.MinInt64), invokeOf(&ops[b], math.MinInt64))
	})
	return out
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// truncateJSON renders v as JSON, cut to n bytes.
func truncateJSON(v any, n int) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
