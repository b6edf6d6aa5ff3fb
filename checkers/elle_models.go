package checkers

import (
	"fmt"
	"slices"
	"strings"
)

// Consistency models and the anomalies they proscribe, after Adya's
// isolation levels (PL-1 … PL-SS), Cerone et al.'s axioms and Elle's
// session and real-time variants. A model proscribes an anomaly when the
// anomaly, or one it implies, is directly proscribed by the model or by a
// weaker model the model implies.

// DefaultConsistency is the consistency model the serializability checker
// judges against when Options["consistency"] is not set.
const DefaultConsistency = "serializable"

// Anomaly kinds the serializability checker reports.
const (
	AnomalyG0                = "G0"
	AnomalyG1a               = "G1a"
	AnomalyG1b               = "G1b"
	AnomalyG1c               = "G1c"
	AnomalyGSingle           = "G-single"
	AnomalyGNonadjacent      = "G-nonadjacent"
	AnomalyG2Item            = "G2-item"
	AnomalyInternal          = "internal"
	AnomalyFutureRead        = "future-read"
	AnomalyDirtyUpdate       = "dirty-update"
	AnomalyLostUpdate        = "lost-update"
	AnomalyDuplicateElements = "duplicate-elements"
	AnomalyIncompatibleOrder = "incompatible-order"
	AnomalyCyclicVersions    = "cyclic-versions"
	// AnomalyCycleExists is a dependency cycle whose class the search
	// budget did not allow to establish; it makes the verdict unknown
	// unless a proscribed anomaly was found elsewhere.
	AnomalyCycleExists = "cycle-exists"
)

// Suffixes of the cycle classes that need a process-order or a real-time
// edge to close.
const (
	elleSuffixProcess  = "-process"
	elleSuffixRealtime = "-realtime"
)

// elleModelAliases maps other names of a model to the one used here.
var elleModelAliases = map[string]string{
	"PL-1":                  "read-uncommitted",
	"PL-2":                  "read-committed",
	"PL-2.99":               "repeatable-read",
	"PL-SI":                 "snapshot-isolation",
	"PL-3":                  "serializable",
	"conflict-serializable": "serializable",
	"PL-SS":                 "strict-serializable",
	"strong-serializable":   "strict-serializable",
	"PL-CS":                 "cursor-stability",
	"PL-2+":                 "consistent-view",
	"PL-FCV":                "forward-consistent-view",
	"PL-MSR":                "monotonic-snapshot-read",
	"PL-2L":                 "monotonic-view",
	"PL-3U":                 "update-serializable",
	"SI":                    "snapshot-isolation",
	"RC":                    "read-committed",
	"RR":                    "repeatable-read",
	"RU":                    "read-uncommitted",
}

// elleModelImplies relates a model to the weaker models every history
// satisfying it also satisfies.
var elleModelImplies = map[string][]string{
	"strict-serializable":               {"serializable", "snapshot-isolation", "strong-snapshot-isolation", "strong-session-serializable"},
	"strong-session-serializable":       {"serializable", "strong-session-snapshot-isolation"},
	"serializable":                      {"repeatable-read", "snapshot-isolation", "update-serializable"},
	"update-serializable":               {"forward-consistent-view"},
	"strong-snapshot-isolation":         {"strong-session-snapshot-isolation", "strong-read-committed"},
	"strong-session-snapshot-isolation": {"snapshot-isolation", "strong-session-read-committed"},
	"snapshot-isolation":                {"forward-consistent-view", "monotonic-atomic-view", "monotonic-snapshot-read", "parallel-snapshot-isolation", "prefix"},
	"repeatable-read":                   {"cursor-stability", "monotonic-atomic-view"},
	"forward-consistent-view":           {"consistent-view"},
	"consistent-view":                   {"cursor-stability", "monotonic-view"},
	"parallel-snapshot-isolation":       {"causal-cerone", "ROLA"},
	"prefix":                            {"causal-cerone"},
	"causal-cerone":                     {"read-atomic"},
	"ROLA":                              {"read-atomic"},
	"read-atomic":                       {"monotonic-atomic-view"},
	"monotonic-atomic-view":             {"read-committed"},
	"cursor-stability":                  {"read-committed"},
	"monotonic-view":                    {"read-committed"},
	"monotonic-snapshot-read":           {"read-committed"},
	"strong-read-committed":             {"strong-session-read-committed", "strong-read-uncommitted"},
	"strong-session-read-committed":     {"read-committed", "strong-session-read-uncommitted"},
	"strong-read-uncommitted":           {"strong-session-read-uncommitted"},
	"strong-session-read-uncommitted":   {"read-uncommitted"},
	"read-committed":                    {"read-uncommitted"},
	"read-uncommitted":                  nil,
}

// elleDirectlyProscribed lists what each model forbids beyond the models it
// implies.
var elleDirectlyProscribed = map[string][]string{
	"read-uncommitted":                  {"G0", "duplicate-elements", "cyclic-versions"},
	"read-committed":                    {"G1"},
	"cursor-stability":                  {"G1", "G-cursor", "lost-update"},
	"monotonic-view":                    {"G1", "G-monotonic"},
	"monotonic-snapshot-read":           {"G1", "G-MSR"},
	"consistent-view":                   {"G1", "G-single"},
	"forward-consistent-view":           {"G1", "GSIb"},
	"read-atomic":                       {"internal", "G1a", "future-read"},
	"causal-cerone":                     {"internal", "G1a"},
	"parallel-snapshot-isolation":       {"internal", "G1a"},
	"prefix":                            {"internal", "G1a"},
	"ROLA":                              {"lost-update"},
	"repeatable-read":                   {"G1", "G2-item", "lost-update"},
	"snapshot-isolation":                {"internal", "G1", "GSI", "G-nonadjacent"},
	"serializable":                      {"internal", "G1", "G2"},
	"update-serializable":               {"G1", "G-update"},
	"strict-serializable":               {"G1", "G1c-realtime", "G2-realtime"},
	"strong-session-read-uncommitted":   {"G0-process"},
	"strong-session-read-committed":     {"G1c-process"},
	"strong-read-uncommitted":           {"G0-realtime"},
	"strong-read-committed":             {"G1c-realtime"},
	"strong-session-snapshot-isolation": {"internal", "G1-process", "G-nonadjacent-process"},
	"strong-snapshot-isolation":         {"internal", "G1-realtime", "G-nonadjacent-realtime"},
	"strong-session-serializable":       {"G1-process", "G2-process"},
}

// elleAnomalyImplies relates an anomaly to the more general anomalies its
// presence also establishes. Every rw edge this checker infers is on a
// single item (no predicates), so G-single and G-nonadjacent cycles are
// also G2-item cycles.
var elleAnomalyImplies = map[string][]string{
	"G0":                     {"G1c", "G0-process"},
	"G0-process":             {"G1c-process", "G0-realtime"},
	"G0-realtime":            {"G1c-realtime"},
	"G1a":                    {"G1"},
	"G1b":                    {"G1"},
	"G1c":                    {"G1", "G1c-process"},
	"G1c-process":            {"G1c-realtime", "G1-process"},
	"G1c-realtime":           {"G1-realtime"},
	"G1":                     {"G1-process"},
	"G1-process":             {"G1-realtime"},
	"G-single":               {"G-nonadjacent", "GSIb", "G-single-process", "G2-item"},
	"G-single-process":       {"G-nonadjacent-process", "G-single-realtime", "G2-item-process"},
	"G-single-realtime":      {"G-nonadjacent-realtime", "G2-item-realtime"},
	"G-nonadjacent":          {"G2-item", "G-nonadjacent-process"},
	"G-nonadjacent-process":  {"G2-item-process", "G-nonadjacent-realtime"},
	"G-nonadjacent-realtime": {"G2-item-realtime"},
	"G2-item":                {"G2", "G2-item-process"},
	"G2-item-process":        {"G2-process", "G2-item-realtime"},
	"G2-item-realtime":       {"G2-realtime"},
	"G2":                     {"G2-process"},
	"G2-process":             {"G2-realtime"},
	"GSIa":                   {"GSI"},
	"GSIb":                   {"GSI"},
	"incompatible-order":     {"G1a"},
	"future-read":            {"G1c"},
	"dirty-update":           {"G1a"},
	"lost-update":            {"write-skew", "G2-item"},
	"write-skew":             {"G2"},
}

// ConsistencyModels returns the consistency model names the
// serializability checker accepts in Options["consistency"], sorted
// (aliases such as "PL-3" are accepted too).
func ConsistencyModels() []string {
	var names []string
	for m := range elleModelImplies {
		names = append(names, m)
	}
	slices.Sort(names)
	return names
}

// elleCanonicalModel returns the name used here for a consistency model, or
// an error naming the known ones.
func elleCanonicalModel(name string) (string, error) {
	n := strings.TrimSpace(name)
	if a, ok := elleModelAliases[n]; ok {
		n = a
	}
	n = strings.ReplaceAll(n, "_", "-")
	if a, ok := elleModelAliases[n]; ok {
		n = a
	}
	if _, ok := elleModelImplies[n]; !ok {
		return "", fmt.Errorf("unknown consistency model %q (known: %s)", name, strings.Join(ConsistencyModels(), ", "))
	}
	return n, nil
}

// elleClosure walks graph from the starting names and returns every name
// reached, the starting ones included.
func elleClosure(graph map[string][]string, start ...string) map[string]bool {
	seen := make(map[string]bool)
	stack := slices.Clone(start)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, graph[n]...)
	}
	return seen
}

// ProscribedAnomalies returns the set of anomaly kinds the consistency
// model forbids, including every anomaly that implies a forbidden one
// (G0 is forbidden wherever G1c is). Unknown models are an error.
func ProscribedAnomalies(model string) (map[string]bool, error) {
	m, err := elleCanonicalModel(model)
	if err != nil {
		return nil, err
	}
	direct := make(map[string]bool)
	for weaker := range elleClosure(elleModelImplies, m) {
		for _, a := range elleDirectlyProscribed[weaker] {
			direct[a] = true
		}
	}
	out := make(map[string]bool)
	for a := range elleAnomalyNames() {
		for implied := range elleClosure(elleAnomalyImplies, a) {
			if direct[implied] {
				out[a] = true
				break
			}
		}
	}
	return out, nil
}

// Proscribes reports whether the consistency model forbids the anomaly.
func Proscribes(model, anomaly string) (bool, error) {
	p, err := ProscribedAnomalies(model)
	if err != nil {
		return false, err
	}
	return p[anomaly], nil
}

// elleAnomalyNames is every anomaly named in the tables.
func elleAnomalyNames() map[string]bool {
	names := make(map[string]bool)
	for a, implied := range elleAnomalyImplies {
		names[a] = true
		for _, b := range implied {
			names[b] = true
		}
	}
	for _, as := range elleDirectlyProscribed {
		for _, a := range as {
			names[a] = true
		}
	}
	for _, a := range []string{AnomalyInternal, AnomalyDuplicateElements, AnomalyCyclicVersions} {
		names[a] = true
	}
	return names
}

// modelNeedsProcess reports whether the model constrains process
// (session) order, and modelNeedsRealtime whether it constrains real time.
func elleNeedsProcess(p map[string]bool) bool  { return p["G0-process"] || p["G1c-process"] }
func elleNeedsRealtime(p map[string]bool) bool { return p["G0-realtime"] || p["G1c-realtime"] }
