package plan

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Budget tier names (SPEC §2.2).
const (
	TierSmoke     = "smoke"
	TierHardening = "hardening"
	TierRelease   = "release"
)

// Tier is one budget tier parsed from its text: cluster size, duration,
// fault count and seed count. A dimension the text does not state is zero.
// A release tier written "not provided — <reason>. Revisit when: <…>" has
// NotProvided set, with its Reason and Revisit condition.
type Tier struct {
	Text        string
	NotProvided bool
	Nodes       int
	Duration    time.Duration
	Faults      int
	Seeds       int
	Reason      string // why the tier is not provided
	Revisit     string // when to revisit a tier that is not provided
}

// Tier returns the named tier ("smoke", "hardening" or "release", any
// case) parsed from the budget; the zero Tier for another name.
func (b Budget) Tier(name string) Tier {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case TierSmoke:
		return ParseTier(b.Smoke)
	case TierHardening:
		return ParseTier(b.Hardening)
	case TierRelease:
		return ParseTier(b.Release)
	}
	return Tier{}
}

var (
	tierLabel   = regexp.MustCompile(`(?i)^\s*(?:minimum\s+)?(?:smoke|hardening|release)(?:\s+budget)?\s*:\s*`)
	notProvided = regexp.MustCompile(`(?i)^\s*not\s+provided\b\s*(?:—|–|--|-|:|,)?\s*`)
	revisitWhen = regexp.MustCompile(`(?i)\brevisit\s+when\s*:?\s*`)
	numberWord  = regexp.MustCompile(`(?i)\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b`)

	nodesRe = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(\d+)\s*-?\s*(?:nodes?|replicas?|servers?|members?|brokers?|peers?|machines?|instances?)\b`),
		regexp.MustCompile(`(?i)\bcluster(?:\s+size)?\s*(?:of|:|=)?\s*(\d+)\b`),
		regexp.MustCompile(`(?i)\bnodes?\s*[:=]\s*(\d+)\b`),
	}
	singleNode = regexp.MustCompile(`(?i)\bsingle[- ]node\b`)
	faultsRe   = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(\d+)\s*(?:faults?|fault\s+epochs?|fault\s+windows?|fault\s+injections?|injections?|nemesis\s+(?:events?|rounds?|ops?))\b`),
		regexp.MustCompile(`(?i)\bfaults?\s*[:=]\s*(\d+)\b`),
	}
	noFaults = regexp.MustCompile(`(?i)\b(?:no|zero)\s+faults?\b|\bfault[- ]free\b`)
	seedsRe  = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(\d+)\s*(?:distinct\s+|different\s+)?seeds?\b`),
		regexp.MustCompile(`(?i)\bseeds?(?:\s+count)?\s*[:=]\s*(\d+)\b`),
	}
	singleSeed   = regexp.MustCompile(`(?i)\bsingle\s+seed\b`)
	compoundDur  = regexp.MustCompile(`(?i)\b((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)\b`)
	spacedDur    = regexp.MustCompile(`(?i)\b(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b`)
	durationUnit = map[string]time.Duration{
		"ms": time.Millisecond, "millisecond": time.Millisecond,
		"s": time.Second, "sec": time.Second, "second": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour,
	}
	wordNumbers = map[string]string{
		"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
		"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
	}
)

// ParseTier reads a budget tier written like "3 nodes, 10m, 6 faults,
// 5 seeds" (also "3-node cluster", "10 min", "1h30m", "no faults",
// "one seed"). A leading tier label ("hardening:") is ignored. Text starting
// "not provided" yields a Tier with NotProvided, Reason and Revisit set.
func ParseTier(text string) Tier {
	t := Tier{Text: strings.TrimSpace(text)}
	body := tierLabel.ReplaceAllString(t.Text, "")
	if loc := notProvided.FindStringIndex(body); loc != nil {
		t.NotProvided = true
		rest := body[loc[1]:]
		if r := revisitWhen.FindStringIndex(rest); r != nil {
			t.Revisit = strings.TrimRight(strings.TrimSpace(rest[r[1]:]), ".")
			rest = rest[:r[0]]
		}
		t.Reason = strings.TrimRight(strings.TrimSpace(rest), ".;, ")
		return t
	}
	body = numberWord.ReplaceAllStringFunc(body, func(w string) string {
		return wordNumbers[strings.ToLower(w)]
	})
	t.Nodes = firstInt(body, nodesRe)
	if t.Nodes == 0 && singleNode.MatchString(body) {
		t.Nodes = 1
	}
	if !noFaults.MatchString(body) {
		t.Faults = firstInt(body, faultsRe)
	}
	t.Seeds = firstInt(body, seedsRe)
	if t.Seeds == 0 && singleSeed.MatchString(body) {
		t.Seeds = 1
	}
	t.Duration = firstDuration(body)
	return t
}

// firstInt returns the number captured by the earliest match of any of the
// patterns, or 0.
func firstInt(s string, res []*regexp.Regexp) int {
	best, val := -1, 0
	for _, re := range res {
		m := re.FindStringSubmatchIndex(s)
		if m == nil || (best >= 0 && m[0] >= best) {
			continue
		}
		n, err := strconv.Atoi(s[m[2]:m[3]])
		if err != nil {
			continue
		}
		best, val = m[0], n
	}
	return val
}

// firstDuration returns the earliest duration written in s ("10m", "1h30m",
// "10 min", "90 seconds"), or 0.
func firstDuration(s string) time.Duration {
	var d time.Duration
	best := -1
	if m := compoundDur.FindStringSubmatchIndex(s); m != nil {
		if v, err := time.ParseDuration(strings.ToLower(s[m[2]:m[3]])); err == nil {
			best, d = m[0], v
		}
	}
	for _, m := range spacedDur.FindAllStringSubmatchIndex(s, -1) {
		if best >= 0 && m[0] >= best {
			break
		}
		n, err := strconv.ParseFloat(s[m[2]:m[3]], 64)
		if err != nil {
			continue
		}
		unit := strings.ToLower(s[m[4]:m[5]])
		if unit != "s" && unit != "ms" {
			unit = strings.TrimSuffix(unit, "s")
		}
		u, ok := durationUnit[unit]
		if !ok {
			continue
		}
		best, d = m[0], time.Duration(n*float64(u))
		break
	}
	return d
}

// MinHardeningSeeds is the fewest distinct seeds a PASS-hardening needs
// (SPEC §6.3: one seed is one interleaving).
const MinHardeningSeeds = 3

// HardeningSeeds returns how many distinct clean seeds PASS-hardening
// needs under a hardening tier: at least three, or the tier's declared
// seed count if higher (SPEC §6.3).
func HardeningSeeds(hardening Tier) int {
	return max(MinHardeningSeeds, hardening.Seeds)
}

// StrongerThan reports whether t is strictly greater than o on every
// dimension: nodes, duration, faults and seeds. A tier that is not
// provided is never stronger.
func (t Tier) StrongerThan(o Tier) bool {
	return !t.NotProvided && len(t.NotStrongerIn(o)) == 0
}

// NotStrongerIn lists the dimensions on which t is not strictly greater
// than o, each as "nodes 3 ≤ 3".
func (t Tier) NotStrongerIn(o Tier) []string {
	var out []string
	if t.Nodes <= o.Nodes {
		out = append(out, fmt.Sprintf("nodes %d ≤ %d", t.Nodes, o.Nodes))
	}
	if t.Duration <= o.Duration {
		out = append(out, fmt.Sprintf("duration %s ≤ %s", t.Duration, o.Duration))
	}
	if t.Faults <= o.Faults {
		out = append(out, fmt.Sprintf("faults %d ≤ %d", t.Faults, o.Faults))
	}
	if t.Seeds <= o.Seeds {
		out = append(out, fmt.Sprintf("seeds %d ≤ %d", t.Seeds, o.Seeds))
	}
	return out
}

// Unmet lists the dimensions that t declares and the achieved tier falls
// short of (SPEC §6.3: a run meets a tier only when it reaches the
// declared cluster size, duration, fault count and seed count), each as
// "faults 2 < 6". It is empty when the achieved tier meets t.
func (t Tier) Unmet(achieved Tier) []string {
	var out []string
	if achieved.Nodes < t.Nodes {
		out = append(out, fmt.Sprintf("nodes %d < %d", achieved.Nodes, t.Nodes))
	}
	if achieved.Duration < t.Duration {
		out = append(out, fmt.Sprintf("duration %s < %s", achieved.Duration, t.Duration))
	}
	if achieved.Faults < t.Faults {
		out = append(out, fmt.Sprintf("faults %d < %d", achieved.Faults, t.Faults))
	}
	if achieved.Seeds < t.Seeds {
		out = append(out, fmt.Sprintf("seeds %d < %d", achieved.Seeds, t.Seeds))
	}
	return out
}

// Stated reports whether the text stated any dimension at all.
func (t Tier) Stated() bool {
	return t.Nodes > 0 || t.Duration > 0 || t.Faults > 0 || t.Seeds > 0
}
