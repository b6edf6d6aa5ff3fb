package plan

import (
	"regexp"
	"strings"
)

var (
	// manualOracle matches oracles that need a person: never machine-checkable.
	manualOracle = regexp.MustCompile(`(?i)\bmanual(?:ly)?\b|\beyeball|\bby hand\b|\bvisual(?:ly)? inspect|\bhuman review|\bspot[- ]check`)
	// vagueOracle matches judgements with no property behind them.
	vagueOracle = regexp.MustCompile(`(?i)\b(?:looks?|seems?|appears?)\s+(?:to\s+be\s+)?(?:fine|ok|okay|good|correct|right|healthy|normal|clean|reasonable|sane)\b` +
		`|\bno\s+(?:errors?|exceptions?|panics?|warnings?)\s+(?:in|from)\s+(?:the\s+)?logs?\b` +
		`|\b(?:check|inspect|read|review|grep)\s+(?:the\s+)?logs?\b` +
		`|\bhealth\s*checks?\s+(?:pass|passes|passing|green|ok)\b` +
		`|\b(?:works|behaves|functions)\s+(?:correctly|as\s+expected|properly|fine)\b` +
		`|\bnothing\s+(?:bad|breaks|goes\s+wrong)\b|\bas\s+expected\b|\bno\s+(?:obvious\s+)?problems?\b`)
	// comparison matches a property or threshold written as a comparison
	// between two operands ("p99 < 200ms", "gap <= 10 s", "count == 0").
	comparison = regexp.MustCompile(`[\w)\]}'"]\s*(?:<=|>=|==|!=|≤|≥|≠|<|>|=)\s*[\w(\[{'"$.-]`)
	// thresholdWords matches a threshold written in words with a number.
	thresholdWords = regexp.MustCompile(`(?i)\b(?:at\s+most|at\s+least|no\s+more\s+than|no\s+less\s+than|fewer\s+than|less\s+than|more\s+than|greater\s+than|below|above|under|within|exceeds?|does\s+not\s+exceed|stays?\s+(?:at\s+or\s+)?(?:below|under|above))\s+~?\d`)
	// quantified matches a universally or negatively quantified property
	// over the history or state ("every acknowledged write is read",
	// "no two holders", "each key has exactly one effect").
	quantified = regexp.MustCompile(`(?i)\b(?:every|each|all|for\s+all|for\s+every|for\s+each)\s+(?:\w+[\s-]+){0,3}?(?:ack(?:nowledged)?|committed|write|writes|read|reads|op|ops|operation|operations|key|keys|request|requests|response|responses|line|lines|message|messages|entry|entries|record|records|append|appends|txn|transaction|transactions|replica|replicas|node|nodes|holder|holders|session|sessions|tenant|tenants|group|groups|value|values|account|accounts|event|events|item|items|access|accesses)\b` +
		`|\bno\s+two\b|\bno\s+(?:[\w'/-]+\s+){0,4}?(?:appears?|exists?|occurs?|leaks?|overlaps?|is\s+(?:lost|missing|duplicated|returned|visible|observed|read|applied|skipped|reordered)|are\s+(?:lost|missing|duplicated|returned|visible|observed|read|applied|skipped|reordered))\b` +
		`|\breturns?\s+(?:exactly|only)\b|\b(?:returns?|answers?|responds?\s+with|fails?\s+with)\s+(?:a\s+|an\s+|http\s+)?(?:[1-5]\d\d|error|empty|nothing|null|not\s+found|forbidden|denied|permission\s+denied)\b` +
		`|\b(?:shows?|returns?|contains?|has|have|finds?|sees?|reads?|observes?|yields?|reports?|leaves?)\s+no\s+\w+|\bequals?\s+(?:the\s+)?(?:sum|count|number|set|value|expected)\b` +
		`|\bexactly\s+(?:one|once)\b|\bnever\s+(?:reads?|returns?|loses?|observes?|overlaps?|appears?|exceeds?|contains?)\b|\bis\s+a\s+prefix\b`)
)

var clauseSep = regexp.MustCompile(`[;.]\s+|,\s+|\s+(?:and|but)\s+`)

// MachineCheckable reports whether an oracle, as written in a plan, is
// something a machine can decide: a named checker of SPEC §4.2, a property
// over the history or final state ("every acknowledged write is read", "no
// two holders"), or an SLO with a threshold ("p99 < 200ms"). Vague or manual
// oracles ("logs look fine", "manually verify") are refused. The reason says
// which kind was recognised, or why the oracle was refused.
func MachineCheckable(oracle string) (bool, string) {
	t := strings.TrimSpace(oracle)
	switch {
	case t == "" || t == "…" || t == "..." || strings.EqualFold(t, "tbd") || strings.EqualFold(t, "todo"):
		return false, "the oracle is empty: state a named checker (SPEC §4.2), a property over the history or final state, or an SLO with a threshold"
	case manualOracle.MatchString(t):
		return false, "the oracle needs a person (" + manualOracle.FindString(t) + "): a machine must be able to decide it; state a named checker, a property or a threshold"
	}
	if cs := CheckersIn(t); len(cs) > 0 {
		return true, "names checker " + strings.Join(cs, ", ")
	}
	if m := comparison.FindString(t); m != "" {
		return true, "states a property or threshold as a comparison (" + strings.TrimSpace(m) + ")"
	}
	if m := thresholdWords.FindString(t); m != "" {
		return true, "states a threshold (" + m + ")"
	}
	// A quantified clause counts only when it is not itself a judgement:
	// "every request looks fine" is no property.
	for _, c := range clauseSep.Split(t, -1) {
		if m := quantified.FindString(c); m != "" && !vagueOracle.MatchString(c) {
			return true, "states a property over the history or state (" + m + ")"
		}
	}
	if m := vagueOracle.FindString(t); m != "" {
		return false, "\"" + m + "\" is a judgement, not an oracle: state a named checker, a property over the history or final state, or an SLO with a threshold"
	}
	return false, "names no checker, property or threshold a machine can decide: state a named checker (SPEC §4.2), a property (\"every acknowledged write is read\") or an SLO with a threshold (\"p99 < 200ms\")"
}
