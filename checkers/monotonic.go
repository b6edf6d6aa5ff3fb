package checkers

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// monotonicModels are the models monotonic-read accepts.
var monotonicModels = []string{"kv", "log", "map", "membership-table", "other", "register", "session"}

func monotonicRead() *Checker {
	return &Checker{
		Name:   "monotonic-read",
		Models: slices.Clone(monotonicModels),
		Needs:  needsFor(monotonicModels, FieldProcessID),
		Check:  checkMonotonicRead,
	}
}

const monotonicScope = "a session reading an older version of a key (by the SUT's own version field) after a newer one; " +
	"sessions are per process, split at connect / reconnect ops and when the session field changes; cannot detect " +
	"stale reads across sessions, reads of versions never written, or anomalies on reads without a version"

// recorderClockFields name the recorder's own clock: a version taken
// from them orders by when the recorder saw a response, not by what the
// SUT committed.
var recorderClockFields = []string{"invoke_ts", "complete_ts", "ts", "timestamp", "time", "wall_clock", "recorded_at"}

// monotonicWitness is the evidence for a non-monotonic read.
type monotonicWitness struct {
	Session       string  `json:"session"`
	Earlier       string  `json:"earlier_op"`
	EarlierVer    float64 `json:"earlier_version"`
	Later         string  `json:"later_op"`
	LaterVer      float64 `json:"later_version"`
	VersionField  string  `json:"version_field"`
	ReadsInStream int     `json:"reads_in_session"`
}

// checkMonotonicRead checks that, per session and key, the versions read
// never go backwards, in the session's own op order (history order within
// the process: its ops are sequential).
//
// Options: "version_field" (the field of a read's output holding the SUT's
// version of the value; dotted path; default "version"; never a recorder
// clock), "session_field" (a field of the op's output or input holding the
// session id: a change starts a new session).
func checkMonotonicRead(ctx context.Context, in Input) (*Result, error) {
	const name = "monotonic-read"
	if err := checkModel(name, monotonicModels, in.Model); err != nil {
		return nil, err
	}
	versionField, err := stringOption(in.Options, "version_field", "version")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if slices.Contains(recorderClockFields, strings.ToLower(versionField)) {
		return nil, fmt.Errorf("%s: version_field %q is a clock, not the SUT's version: ordering reads by when they were recorded says nothing about which version they saw", name, versionField)
	}
	sessionField, err := stringOption(in.Options, "session_field", "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	missing, err := weakFields(monotonicRead(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	res := newResult(name, in, monotonicScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)
	step := stepper(ctx, progress)

	sess := sessionIDs(in.Ops, sessionField)
	type stream struct {
		maxVer float64
		maxOp  int
		reads  int
	}
	streams := map[[2]string]*stream{}
	keys := map[string]bool{}
	sessionSet := map[string]bool{}
	reads, unversioned, clockLike := 0, 0, 0
	for i := range in.Ops {
		if step(i) {
			return halted(res, ctx), nil
		}
		o := &in.Ops[i]
		if !readOpTypes[o.OpType] || !o.OK() {
			continue
		}
		reads++
		raw, ok := jsonField(o.Output, versionField)
		ver, isNum := jsonNumber(raw)
		if !ok || !isNum {
			unversioned++
			continue
		}
		if o.InvokeTS != nil && ver == float64(*o.InvokeTS) || o.CompleteTS != nil && ver == float64(*o.CompleteTS) {
			clockLike++
		}
		k := opKey(o)
		keys[k] = true
		sessionSet[sess[i]] = true
		id := [2]string{sess[i], k}
		st := streams[id]
		if st == nil {
			streams[id] = &stream{maxVer: ver, maxOp: i, reads: 1}
			continue
		}
		st.reads++
		if ver < st.maxVer {
			e := &in.Ops[st.maxOp]
			where := sessionLabel(sess[i])
			if k != "" {
				where += fmt.Sprintf(", key %q", k)
			}
			res.Anomalies = append(res.Anomalies, Anomaly{
				Kind: "non-monotonic-read",
				Key:  k,
				Description: fmt.Sprintf("%s: %s read version %s after %s had read version %s",
					where, o.OpID, formatNumber(ver), e.OpID, formatNumber(st.maxVer)),
				OpIDs: []string{e.OpID, o.OpID},
				Witness: monotonicWitness{Session: sessionLabel(sess[i]), Earlier: e.OpID, EarlierVer: st.maxVer,
					Later: o.OpID, LaterVer: ver, VersionField: versionField, ReadsInStream: st.reads},
			})
			continue
		}
		if ver > st.maxVer {
			st.maxVer, st.maxOp = ver, i
		}
	}
	versioned := reads - unversioned
	if versioned > 1 && clockLike == versioned {
		return nil, fmt.Errorf("%s: version_field %q equals the recorder's invoke or complete time on every read: it is the recorder clock, not the SUT's version", name, versionField)
	}
	res.OpsConsumed = len(in.Ops)
	res.Keys = len(keys)
	if versioned == 0 {
		res.Missing = append(res.Missing, "output."+versionField)
		progress(len(in.Ops))
		if reads == 0 {
			return undecided(res, fmt.Sprintf("none of the %s is a successful read", plural(len(in.Ops), "op"))), nil
		}
		return undecided(res, fmt.Sprintf("none of the %s carries a numeric %q in its output: without the SUT's version a stale read cannot be told from a fresh one",
			plural(reads, "successful read"), versionField)), nil
	}
	if unversioned > 0 {
		res.Partial = true
	}
	decideByAnomalies(res)
	res.Evidence = fmt.Sprintf("monotonic-read checked %s: %s (%s without a version) in %s over %s: %s",
		plural(len(in.Ops), "op"), plural(reads, "successful read"), thousands(unversioned), plural(len(sessionSet), "session"),
		plural(len(keys), "key"), plural(len(res.Anomalies), "anomaly"))
	progress(len(in.Ops))
	return res, nil
}
