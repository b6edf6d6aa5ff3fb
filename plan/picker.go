package plan

import (
	"regexp"
	"slices"
	"strings"
)

// Models lists the §7.M model names besides other(<name>) (SPEC §2.4).
var Models = []string{
	"register", "map", "queue", "log", "lock", "lease", "session",
	"membership-table", "counter", "ledger",
}

// Canonical checker names (SPEC §4.2).
const (
	CheckerLinearizability  = "linearizability"
	CheckerSerializability  = "serializability"
	CheckerNoLostAck        = "no-lost-ack"
	CheckerExactlyOnce      = "exactly-once"
	CheckerMonotonicRead    = "monotonic-read"
	CheckerSession          = "session-consistency"
	CheckerPrefixOrder      = "prefix-order"
	CheckerFinalState       = "final-state-invariant"
	CheckerReconciliation   = "reconciliation"
	CheckerReplayEquivalent = "replay-equivalence"
	CheckerMutualExclusion  = "mutual-exclusion"
	CheckerFairness         = "fairness"
	CheckerSLOThreshold     = "slo-threshold"
	CheckerBaseline         = "baseline-comparison"
	CheckerCounter          = "counter"
	CheckerSet              = "set"
	CheckerSetFull          = "set-full"
)

// CheckerNames lists the canonical names of the §4.2 checkers.
var CheckerNames = []string{
	CheckerLinearizability, CheckerSerializability, CheckerNoLostAck,
	CheckerExactlyOnce, CheckerMonotonicRead, CheckerSession,
	CheckerPrefixOrder, CheckerFinalState, CheckerReconciliation,
	CheckerReplayEquivalent, CheckerMutualExclusion, CheckerFairness,
	CheckerSLOThreshold, CheckerBaseline, CheckerCounter, CheckerSet,
	CheckerSetFull,
}

// bareNames are canonical names that are also everyday words ("the set
// of…"): prose names them only through their aliases, or by being the
// whole text.
var bareNames = map[string]bool{CheckerCounter: true, CheckerSet: true}

// checkerAliases maps a canonical checker name to the phrases that name it
// in prose, in normalised form (see normPhrase). Longer phrases are tried
// first.
var checkerAliases = map[string][]string{
	CheckerLinearizability:  {"linearizability", "linearisability", "linearizable", "linearisable", "porcupine", "knossos"},
	CheckerSerializability:  {"serializability", "serialisability", "serializable", "serialisable", "elle", "list append", "rw register", "dependency cycle", "dependency cycles"},
	CheckerNoLostAck:        {"no lost ack", "no lost acks", "no lost acknowledged write", "no lost acknowledged writes", "lost ack", "no lost write", "no lost writes"},
	CheckerExactlyOnce:      {"exactly once", "exactly one committed effect"},
	CheckerMonotonicRead:    {"monotonic read", "monotonic reads"},
	CheckerSession:          {"session consistency", "read your writes", "read your own writes"},
	CheckerPrefixOrder:      {"prefix order", "prefix checker", "is a prefix", "order checker"},
	CheckerFinalState:       {"invariant over final state", "invariant over the final state", "final state invariant", "final state predicate", "invariant over final state per key"},
	CheckerReconciliation:   {"reconciliation", "replica reconciliation"},
	CheckerReplayEquivalent: {"replay equivalence", "replay equivalent", "replay equivalency"},
	CheckerMutualExclusion:  {"mutual exclusion", "mutex", "no two holders"},
	CheckerFairness:         {"fairness", "per group fairness", "worst group p99", "min group throughput", "error rate by group", "repeat spread"},
	CheckerSLOThreshold:     {"slo threshold", "slo"},
	CheckerBaseline:         {"baseline comparison", "compared against the baseline", "against a replicated baseline"},
	CheckerCounter:          {"counter checker", "maelstrom counter", "counter bounds"},
	CheckerSet:              {"set checker", "every acknowledged add is read"},
	CheckerSetFull:          {"set full", "set full checker"},
}

// PickerRow is one row of the SPEC §4.1 picker: for a model (or any model)
// and a claim category, the checkers that fit. A row whose Checkers are
// listed together with "+" in the SPEC lists each of them.
type PickerRow struct {
	Models   []string // empty means any model
	Category string
	Checkers []string
	Text     string // the checker column as the SPEC writes it
}

// Picker is the SPEC §4.1 table as data.
var Picker = []PickerRow{
	{[]string{"register"}, CategorySafety, []string{CheckerLinearizability}, "linearizability (Porcupine)"},
	{[]string{"map"}, CategorySafety, []string{CheckerLinearizability}, "linearizability per key"},
	{[]string{"log"}, CategoryDurability, []string{CheckerNoLostAck, CheckerReplayEquivalent}, "no-lost-ack + replay-equivalence"},
	{[]string{"map"}, CategoryIsolation, []string{CheckerSerializability}, "serializability per key and cross key (Elle-style dependency cycles)"},
	{[]string{"session"}, CategorySafety, []string{CheckerSession, CheckerMonotonicRead}, "session-consistency / monotonic-read"},
	{[]string{"ledger"}, CategoryIdempotency, []string{CheckerExactlyOnce}, "exactly-once on the business idempotency key"},
	{[]string{"membership-table"}, CategoryMembership, []string{CheckerReconciliation}, "reconciliation across replicas at quiescence"},
	{[]string{"queue"}, CategoryOrdering, []string{CheckerPrefixOrder}, "prefix / order"},
	{[]string{"counter"}, CategorySafety, []string{CheckerLinearizability, CheckerFinalState, CheckerCounter}, "linearizability, or invariant over final state per key"},
	{[]string{"lock", "lease"}, CategorySafety, []string{CheckerMutualExclusion, CheckerFinalState}, "mutual exclusion + invariant over final state"},
	{nil, CategoryFairness, []string{CheckerFairness}, "per-group fairness formulas"},
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// normPhrase lower-cases s and turns every run of non-alphanumerics into a
// single space, padded with spaces so that " phrase " matches whole words.
func normPhrase(s string) string {
	return " " + strings.TrimSpace(nonAlnum.ReplaceAllString(strings.ToLower(s), " ")) + " "
}

// CheckersIn returns the canonical names of the §4.2 checkers that text
// names (by canonical name or alias), in CheckerNames order.
func CheckersIn(text string) []string {
	n := normPhrase(text)
	var out []string
	for _, name := range CheckerNames {
		names := checkerAliases[name]
		if !bareNames[name] {
			names = append([]string{name}, names...)
		} else if n == normPhrase(name) {
			out = append(out, name)
			continue
		}
		for _, a := range names {
			if strings.Contains(n, normPhrase(a)) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// CanonicalChecker returns the canonical §4.2 name of a checker written as
// a name or alias ("Porcupine" → "linearizability"), and whether it is one.
// When text names several checkers the first in CheckerNames order wins.
func CanonicalChecker(text string) (string, bool) {
	cs := CheckersIn(text)
	if len(cs) == 0 {
		return "", false
	}
	return cs[0], true
}

// CheckerByName returns the canonical checker a caller's name stands for:
// a canonical name or exactly one of its aliases ("Porcupine", "Elle",
// "prefix / order"), never a phrase that merely contains one.
func CheckerByName(name string) (string, bool) {
	n := normPhrase(name)
	for _, c := range CheckerNames {
		if n == normPhrase(c) {
			return c, true
		}
		for _, a := range checkerAliases[c] {
			if n == normPhrase(a) {
				return c, true
			}
		}
	}
	return "", false
}

var otherModel = regexp.MustCompile(`^other\s*\(\s*([^()]*\S)\s*\)`)

// ModelName returns the canonical model a §7.M "Model under test" value
// names ("register", "other(ring-buffer)"), and whether it is one of the
// SPEC §2.4 models. Words after the model ("map (per key)") are ignored.
func ModelName(text string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(text))
	t = strings.Trim(t, "`*_ ")
	if m := otherModel.FindStringSubmatch(t); m != nil {
		return "other(" + m[1] + ")", true
	}
	t = strings.ReplaceAll(t, "membership table", "membership-table")
	word := t
	if i := strings.IndexFunc(t, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r == '-')
	}); i >= 0 {
		word = t[:i]
	}
	if slices.Contains(Models, word) {
		return word, true
	}
	return "", false
}

// PickerFor returns the picker rows for a model and claim category; none
// when the pair is outside the SPEC §4.1 table.
func PickerFor(model, category string) []PickerRow {
	m, _ := ModelName(model)
	c := canonCategory(category)
	var out []PickerRow
	for _, r := range Picker {
		if r.Category != c {
			continue
		}
		if len(r.Models) == 0 || (m != "" && slices.Contains(r.Models, m)) {
			out = append(out, r)
		}
	}
	return out
}

// CheckerFits reports whether the checker text names a checker that the
// SPEC §4.1 picker gives for the model and claim category. Aliases count
// ("linearizability (Porcupine)", "porcupine", "Elle"); a pair outside the
// table fits nothing and needs a written justification in the plan.
func CheckerFits(model, category, checker string) bool {
	named := CheckersIn(checker)
	for _, r := range PickerFor(model, category) {
		for _, c := range named {
			if slices.Contains(r.Checkers, c) {
				return true
			}
		}
	}
	return false
}

// SuggestCheckers returns the SPEC §4.1 checker text for a model and
// category, or "" when the pair is outside the table.
func SuggestCheckers(model, category string) string {
	var parts []string
	for _, r := range PickerFor(model, category) {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, "; ")
}

var (
	justificationSep = regexp.MustCompile(`\s(?:—|–|--|-)\s|:\s|;\s`)
	// reasoningWords mark a dash-separated tail as a justification of the
	// choice rather than a description of the checker.
	reasoningWords = regexp.MustCompile(`(?i)\bpicker\b|\bno\s+(?:\S+\s+){0,4}row\b|\boutside\s+the\s+(?:table|picker)|\bnot\s+in\s+the\s+(?:table|picker)|\balternative\b|\binstead\b|\bsince\b|\bjustif|\bbecause\b`)
)

// checkerJustified reports whether a §7.M Checker value carries a written
// justification: "none — <alternative oracle>", text containing
// "justification:" or "because", or a checker name followed by a dash (or
// colon) and at least five words explaining the choice ("— the picker has
// no map + boundary row; …").
func checkerJustified(checker string) bool {
	t := strings.ToLower(strings.TrimSpace(checker))
	if strings.Contains(t, "justification:") || strings.Contains(t, "because") {
		return true
	}
	loc := justificationSep.FindStringIndex(t)
	if loc == nil {
		return false
	}
	tail := t[loc[1]:]
	if len(strings.Fields(tail)) < 5 {
		return false
	}
	return checkerNone(t) || reasoningWords.MatchString(tail)
}

// checkerNone reports whether a Checker value declares no picker checker.
func checkerNone(checker string) bool {
	f := strings.Fields(strings.ToLower(checker))
	return len(f) > 0 && strings.Trim(f[0], ".,;:—–-") == "none"
}
