package plan

import (
	"slices"
	"strings"
	"unicode"
)

// This file holds the keyword lexicon claim extraction uses to decide
// whether a sentence states a guarantee and which SPEC §2.3 category it
// falls in. Phrases are written as space-separated words, matched against a
// lower-cased word sequence in which hyphens, underscores and punctuation
// are word breaks. A word ending in "*" matches any word with that prefix;
// the word "#" matches a number ("10", "ten").

// lexPhrase is one lexicon entry.
type lexPhrase struct {
	text     string   // as written in the table, reported as a keyword
	words    []string // text split into words
	category string   // "" for guarantee words
	weight   int      // 4 decisive, 3 strong, 2 medium, 1 weak
}

// categoryPhrases lists the category keywords with their weights. The same
// word may appear under two categories only inside a longer phrase
// ("snapshot isolation" vs "isolation"): the longest match wins.
var categoryPhrases = map[string]map[int][]string{
	CategorySafety: {
		3: {"linearizable", "linearizability", "linearizably", "strongly consistent",
			"strong consistency", "sequentially consistent", "sequential consistency",
			"stale read", "stale reads", "read your writes", "read your own writes",
			"monotonic read", "monotonic reads", "mutual exclusion", "split brain",
			"at most one", "latest write", "most recent write", "fencing token*",
			"compare and set", "compare and swap", "double spend*", "no two",
			"fenced", "fenced off", "fencing", "own writes", "its own writes"},
		2: {"stale", "consistent", "consistency", "corrupt*", "invariant", "invariants",
			"lease holder", "lease holders", "lease", "leases"},
		1: {"lock", "locks", "session", "sessions", "register"},
	},
	CategoryIsolation: {
		3: {"serializable", "serializability", "strict serializable", "strictly serializable",
			"snapshot isolation", "read committed", "repeatable read", "write skew",
			"dirty read", "dirty reads", "dirty write", "dirty writes", "lost update",
			"lost updates", "g2 item", "g single", "isolation level", "isolation levels",
			"read only transaction*"},
		2: {"transactional", "phantom*", "atomically", "multi key transaction*",
			"g0", "g1a", "g1b", "g1c"},
		1: {"transaction", "transactions", "atomic", "anomaly", "anomalies"},
	},
	CategoryDurability: {
		3: {"durable", "durably", "durability", "fsync*", "power loss", "power failure",
			"never lost", "never loses", "never lose", "without losing", "lost write", "lost writes",
			"acknowledged write", "acknowledged writes", "write ahead log", "data loss",
			"survive* crash*", "survive* restart*", "no acknowledged", "torn write*",
			"replicated to a majority", "survive* the loss", "survive* the failure",
			"never rolled back"},
		2: {"crash", "crashes", "crashed", "survive*", "persist*", "lose", "loses", "losing", "lost", "loss",
			"on disk", "flushed", "wal"},
		1: {"restart", "restarts", "acked", "acknowledged"},
	},
	CategoryIdempotency: {
		3: {"idempotent", "idempotency", "idempotently", "exactly once", "at most once",
			"at least once", "dedup*", "safe to retry", "applied once", "applied twice",
			"double charge*", "charged twice", "charged once"},
		2: {"duplicate", "duplicates", "duplicated", "retried"},
		1: {"retry", "retries", "replay", "replayed"},
	},
	CategoryOrdering: {
		3: {"fifo", "first in first out", "total order", "totally ordered", "out of order",
			"reorder*", "monotonically increasing", "happens before", "in the order",
			"same order", "causally ordered", "causal order", "in order", "ordering",
			"strictly increasing", "strictly monotonic"},
		2: {"ordered", "monotonic", "monotonically", "sequence number",
			"sequence numbers", "causal*", "prefix"},
		1: {"order"},
	},
	CategoryMembership: {
		3: {"membership", "quorum", "quorums", "leader election", "decommission*",
			"reconfigur*", "failure detector", "view change", "joins the cluster",
			"join the cluster", "leaves the cluster", "removed node", "removed nodes"},
		2: {"join", "joins", "joined", "joining", "leader", "leaders", "election",
			"elected", "majority", "rebalanc*", "gossip", "add a node", "remove a node"},
		1: {"leave", "leaves", "follower", "followers"},
	},
	CategoryBoundary: {
		3: {"tenant isolation", "cross tenant", "multi tenant", "authorized", "unauthorized",
			"unauthorised", "authorised", "access control", "multi protocol"},
		2: {"namespace", "namespaces", "authoriz*", "authoris*", "unauthoriz*", "authenticat*",
			"permission", "permissions", "acl",
			"acls", "rbac", "other tenant", "other tenants", "another tenant", "another tenants"},
		// Tenants are also the groups of fairness claims: alone they are weak.
		1: {"tenant", "tenants", "isolation", "isolated", "routing", "routed"},
	},
	CategoryFairness: {
		3: {"fair", "fairness", "noisy neighbour", "noisy neighbours", "noisy neighbor",
			"noisy neighbors", "starv*", "fair share", "treated fairly", "served fairly",
			"scheduled fairly", "shared fairly"},
		2: {"quota", "quotas", "rate limit*", "throttl*"},
		1: {"weighted"},
	},
	CategoryPerformance: {
		// A numeric time bound decides the oracle (an SLO threshold), so it
		// outweighs the subject it bounds ("leader election completes
		// within 5 s" is checked as an SLO, not by reconciliation).
		4: {"within # ms", "within # millisecond*", "within # s", "within # sec",
			"within # second*", "within # minute*", "within # min"},
		3: {"p99", "p999", "p95", "p9999", "99th percentile", "slo", "slos", "sla",
			"under # ms", "under # millisecond*", "under # second*"},
		2: {"latency", "latencies", "throughput", "p50", "percentile", "percentiles",
			"ops per second", "requests per second", "less than # ms",
			"less than # millisecond*", "less than # second*"},
	},
	CategoryLiveness: {
		3: {"eventually", "highly available", "remains available", "remain available",
			"makes progress", "make progress", "deadlock*", "livelock*", "eventually consistent",
			"keep* accepting", "continue* to accept", "continue* accepting", "remain* writable"},
		2: {"available", "availability", "unavailable", "progress", "converge*", "writable",
			"recover*", "failover", "terminate*"},
		1: {"timeout", "timeouts", "heals", "responds"},
	},
	CategoryOperational: {
		3: {"upgrade*", "rolling upgrade*", "downgrade*", "backward compatible",
			"backwards compatible", "hot reload", "graceful shutdown", "zero downtime",
			"mixed version*"},
		2: {"rollback", "roll back", "backup*", "restore*", "migration*", "compatib*",
			"reload*", "drain*"},
		1: {"config*", "metrics", "observability", "snapshot"},
	},
}

// neutralPhrases contain category words in another sense ("in order to",
// "JSON serializable"); matching them first keeps those words from
// counting.
var neutralPhrases = []string{
	"in order to", "in order for", "order of magnitude", "orders of magnitude",
	"fair amount", "fair bit", "json serializable", "serializable to", "serializable as",
	"in the order of", "sort order", "byte order", "alphabetical order",
}

// guaranteeWords mark a sentence as a promise rather than a description.
// "within" counts only before a number ("within 5 s"), not in "within a
// region".
var guaranteeWords = []string{
	"must", "must not", "never", "always", "guarantee*", "ensure*", "at most",
	"within #", "will not", "cannot", "promise*", "is guaranteed",
}

// categoryPriority breaks ties between equally scored categories: the more
// specific (and more often gated) category wins.
var categoryPriority = []string{
	CategoryIsolation, CategoryIdempotency, CategoryDurability, CategoryOrdering,
	CategoryMembership, CategoryFairness, CategoryBoundary, CategoryPerformance,
	CategorySafety, CategoryLiveness, CategoryOperational,
}

// imperativeStarts are first words of an instruction to the reader
// (install steps, how-tos), which are not claims about the system.
var imperativeStarts = map[string]bool{
	"install": true, "run": true, "clone": true, "build": true, "download": true,
	"see": true, "click": true, "open": true, "copy": true, "paste": true,
	"add": true, "set": true, "edit": true, "create": true, "type": true,
	"execute": true, "visit": true, "refer": true, "follow": true, "navigate": true,
	"go": true, "cd": true, "make": true, "export": true, "pull": true, "push": true,
	"fork": true, "star": true, "contribute": true, "join": true, "check": true,
	"try": true, "enable": true, "disable": true, "configure": true, "use": true,
	"pass": true, "specify": true, "start": true, "stop": true, "deploy": true,
	"implement": true, "avoid": true, "prefer": true, "provide": true, "validate": true,
	"inspect": true, "mark": true, "tell": true, "remember": true,
	"consider": true, "do": true, "dont": true, "include": true,
	"upgrade": true, "ensure": true, "please": true, "note": true, "first": true, "then": true,
	"next": true, "finally": true, "call": true, "invoke": true, "import": true,
	"define": true, "register": true, "file": true, "report": true, "ask": true,
	// Descriptions of options and questions, not statements.
	"whether": true, "how": true, "why": true, "what": true,
}

// instructionPhrases anywhere in the sentence make it an instruction.
var instructionPhrases = []string{
	"you need", "you must", "you should", "you will need", "make sure", "be sure",
	"to install", "read more", "read the", "pull request", "pull requests",
	// Sentences about the document itself.
	"this document", "this page", "this guide", "this section", "this chapter",
	// Preconditions on the caller are contracts of the code, not guarantees.
	"callers must", "caller must", "must be called", "must hold", "must not be called",
	// Assertion notes inside the code.
	"should never happen", "should not happen", "can never happen", "cannot happen",
	"must not happen", "will never happen",
}

// legalWords mark license and legal boilerplate.
var legalWords = []string{
	"warranty", "warranties", "liable", "liability", "copyright", "license*",
	"licence*", "all rights reserved", "merchantability", "spdx", "infringement",
}

// marketingWords mark promotional prose; such a sentence counts only when it
// also carries a guarantee word.
var marketingWords = []string{
	"blazing*", "best in class", "world class", "industry leading", "amazing",
	"revolutionary", "effortless*", "delightful", "cutting edge", "next generation",
	"enterprise grade", "awesome", "loved", "on the planet", "magical", "lightning fast",
	"incredibl*", "game changing", "beautiful*", "fastest", "simplest", "easiest",
	"most reliable", "most scalable", "most powerful", "rock solid", "battle tested",
}

// declarativeWords are verbs that make a category phrase a statement about
// the system ("writes are durable") rather than a label ("durable writes").
var declarativeWords = []string{
	"is", "are", "will", "remain*", "stay", "stays", "provide*", "offer*",
	"support*", "keep*", "preserve*", "survive*", "return*", "deliver*",
	"commit*", "apply", "applies", "applied", "complete*", "guarantee*", "ensure*",
	"has", "have", "get", "gets", "see", "sees", "observe*", "detects", "detected", "rejects", "rejected",
	"reaches", "reached", "elects", "elected", "recovers", "recovered", "converge*", "receive*", "lose", "loses",
	"can", "does", "do", "may",
}

// numberWords count as "#" in phrases.
var numberWords = map[string]bool{
	"one": true, "two": true, "three": true, "four": true, "five": true, "six": true,
	"seven": true, "eight": true, "nine": true, "ten": true, "fifteen": true,
	"twenty": true, "thirty": true, "sixty": true, "hundred": true,
}

// lexicon is a compiled phrase table: phrases indexed by their first word,
// with prefix-first-word phrases kept apart.
type lexicon struct {
	byFirst  map[string][]*lexPhrase
	byPrefix map[string][]*lexPhrase // keyed by the first prefixKey bytes of the prefix
	short    []*lexPhrase            // prefixes shorter than prefixKey
	numeric  []*lexPhrase            // phrases starting with "#"
}

// prefixKey is how many leading bytes index prefix phrases.
const prefixKey = 3

// newLexicon compiles phrases; each gets category and weight.
func newLexicon(entries []lexPhrase) *lexicon {
	lx := &lexicon{byFirst: make(map[string][]*lexPhrase), byPrefix: make(map[string][]*lexPhrase)}
	for i := range entries {
		p := &entries[i]
		p.words = strings.Fields(p.text)
		if len(p.words) == 0 {
			continue
		}
		first := p.words[0]
		switch {
		case first == "#":
			lx.numeric = append(lx.numeric, p)
		case strings.HasSuffix(first, "*"):
			stem := first[:len(first)-1]
			if len(stem) < prefixKey {
				lx.short = append(lx.short, p)
			} else {
				lx.byPrefix[stem[:prefixKey]] = append(lx.byPrefix[stem[:prefixKey]], p)
			}
		default:
			lx.byFirst[first] = append(lx.byFirst[first], p)
		}
	}
	return lx
}

// lexMatch is one phrase found in a word sequence.
type lexMatch struct {
	phrase *lexPhrase
	start  int // word index
	end    int // exclusive
}

// wordMatches reports whether word w matches pattern pat.
func wordMatches(pat, w string) bool {
	switch {
	case pat == "#":
		return isNumberWord(w)
	case strings.HasSuffix(pat, "*"):
		return strings.HasPrefix(w, pat[:len(pat)-1])
	}
	return pat == w
}

func isNumberWord(w string) bool {
	if numberWords[w] {
		return true
	}
	if w == "" {
		return false
	}
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// phraseAt reports whether p matches words starting at i.
func phraseAt(p *lexPhrase, words []string, i int) bool {
	if i+len(p.words) > len(words) {
		return false
	}
	for k, pat := range p.words {
		if !wordMatches(pat, words[i+k]) {
			return false
		}
	}
	return true
}

// find returns the non-overlapping phrase matches in words, scanning left
// to right and preferring, at each position, the longest phrase and then
// the heaviest.
func (lx *lexicon) find(words []string) []lexMatch {
	var out []lexMatch
	for i := 0; i < len(words); {
		var best *lexPhrase
		consider := func(ps []*lexPhrase) {
			for _, p := range ps {
				if !phraseAt(p, words, i) {
					continue
				}
				if best == nil || len(p.words) > len(best.words) ||
					(len(p.words) == len(best.words) && p.weight > best.weight) {
					best = p
				}
			}
		}
		consider(lx.byFirst[words[i]])
		if len(words[i]) >= prefixKey {
			consider(lx.byPrefix[words[i][:prefixKey]])
		}
		consider(lx.short)
		if isNumberWord(words[i]) {
			consider(lx.numeric)
		}
		if best == nil {
			i++
			continue
		}
		out = append(out, lexMatch{phrase: best, start: i, end: i + len(best.words)})
		i += len(best.words)
	}
	return out
}

// has reports whether any phrase of lx occurs in words.
func (lx *lexicon) has(words []string) bool {
	return len(lx.find(words)) > 0
}

// claimLexicons bundles the compiled tables one extraction uses. It is
// built per ExtractClaims call so that the package holds no mutable state.
type claimLexicons struct {
	categories  *lexicon
	guarantees  *lexicon
	instruction *lexicon
	legal       *lexicon
	marketing   *lexicon
	declarative *lexicon
}

func phraseList(words []string) []lexPhrase {
	out := make([]lexPhrase, 0, len(words))
	for _, w := range words {
		out = append(out, lexPhrase{text: w, weight: 1})
	}
	return out
}

func newClaimLexicons() *claimLexicons {
	var cat []lexPhrase
	for _, t := range neutralPhrases {
		cat = append(cat, lexPhrase{text: t}) // category "", weight 0
	}
	for c, byWeight := range categoryPhrases {
		for w, phrases := range byWeight {
			for _, t := range phrases {
				cat = append(cat, lexPhrase{text: t, category: c, weight: w})
			}
		}
	}
	return &claimLexicons{
		categories:  newLexicon(cat),
		guarantees:  newLexicon(phraseList(guaranteeWords)),
		instruction: newLexicon(phraseList(instructionPhrases)),
		legal:       newLexicon(phraseList(legalWords)),
		marketing:   newLexicon(phraseList(marketingWords)),
		declarative: newLexicon(phraseList(declarativeWords)),
	}
}

// classification is what the lexicon says about one piece of text.
type classification struct {
	category    string
	score       int  // summed weight of distinct phrases of category
	strong      bool // a weight-3 phrase of category matched
	keywords    []string
	guarantee   bool
	declarative bool
	instruction bool
	legal       bool
	marketing   bool
	words       int
}

// classify scores text against every table.
func (lx *claimLexicons) classify(text string) classification {
	words := lexWords(text)
	c := classification{words: len(words)}
	// A category's rank is its heaviest phrase, then the summed weight of
	// its distinct phrases, then categoryPriority: one decisive phrase
	// ("starve", "within 5 s") beats several medium ones ("tenant",
	// "leader").
	sums := make(map[string]int)
	heaviest := make(map[string]int)
	seen := make(map[*lexPhrase]bool)
	matches := lx.categories.find(words)
	for _, m := range matches {
		if seen[m.phrase] || m.phrase.category == "" {
			continue
		}
		seen[m.phrase] = true
		sums[m.phrase.category] += m.phrase.weight
		heaviest[m.phrase.category] = max(heaviest[m.phrase.category], m.phrase.weight)
	}
	best := 0
	for _, cat := range categoryPriority {
		if h := heaviest[cat]; h > best || (h == best && h > 0 && sums[cat] > c.score) {
			best, c.category, c.score = h, cat, sums[cat]
		}
	}
	for _, m := range matches {
		if m.phrase.category == c.category && !slices.Contains(c.keywords, m.phrase.text) {
			c.keywords = append(c.keywords, m.phrase.text)
			c.strong = c.strong || m.phrase.weight >= 3
		}
	}
	for _, m := range lx.guarantees.find(words) {
		c.guarantee = true
		if !slices.Contains(c.keywords, m.phrase.text) {
			c.keywords = append(c.keywords, m.phrase.text)
		}
	}
	c.declarative = lx.declarative.has(words)
	c.instruction = lx.instruction.has(words) || imperativeStart(words)
	// "Graceful errors: always provide…" — a short label before a colon
	// does not hide an imperative.
	if i := strings.IndexByte(text, ':'); i > 0 && !c.instruction {
		if label := lexWords(text[:i]); len(label) <= 4 {
			c.instruction = imperativeStart(lexWords(text[i+1:]))
		}
	}
	c.legal = lx.legal.has(words)
	c.marketing = lx.marketing.has(words)
	return c
}

// imperativeStart reports whether words open with an instruction.
func imperativeStart(words []string) bool {
	return len(words) > 0 && imperativeStarts[words[0]] || imperativeAdverb(words)
}

// imperativeAdverb reports a sentence that tells the reader what to do:
// "Always validate input", "Never force-push" (but not "Always returns").
func imperativeAdverb(words []string) bool {
	if len(words) < 2 || (words[0] != "always" && words[0] != "never") {
		return false
	}
	w := words[1]
	return !strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ed")
}

// lexWords lower-cases text and splits it into words: letters and digits
// form words, everything else (hyphens, underscores, punctuation) breaks
// them; apostrophes are dropped ("can't" → "cant"); identifiers are split
// at case changes and a number glued to a unit is split ("10ms" → "10",
// "ms").
func lexWords(text string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			// identWords lower-cases and splits camelCase and number-unit
			// runs: ErrStaleRead → err stale read, 10ms → 10 ms.
			out = append(out, identWords(string(cur))...)
			cur = cur[:0]
		}
	}
	for _, r := range text {
		switch {
		case r == '\'' || r == '’':
			// dropped: "can't" → "cant"
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// identWords splits a code identifier into lower-case words:
// "TestLinearizableUnderPartition" → linearizable… "leaseTTL" → lease ttl,
// "MAX_RETRIES" → max retries, "HTTPServerError" → http server error.
func identWords(ident string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(ident, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		rs := []rune(part)
		start := 0
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			next := rune(0)
			if i+1 < len(rs) {
				next = rs[i+1]
			}
			boundary := (unicode.IsLower(prev) && unicode.IsUpper(cur)) ||
				(unicode.IsUpper(prev) && unicode.IsUpper(cur) && unicode.IsLower(next)) ||
				(unicode.IsLetter(prev) && unicode.IsDigit(cur) && !keepsDigits(rs[start:i])) ||
				(unicode.IsDigit(prev) && unicode.IsLetter(cur))
			if boundary {
				out = append(out, strings.ToLower(string(rs[start:i])))
				start = i
			}
		}
		out = append(out, strings.ToLower(string(rs[start:])))
	}
	return out
}

// keepsDigits reports whether a word so far is a one-letter prefix that
// belongs with the digits after it: "P99", "G2".
func keepsDigits(head []rune) bool {
	if len(head) != 1 {
		return false
	}
	switch unicode.ToLower(head[0]) {
	case 'p', 'g':
		return true
	}
	return false
}
