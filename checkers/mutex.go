package checkers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// mutexModels are the models mutual-exclusion accepts.
var mutexModels = []string{"lease", "lock", "mutex"}

// Lock op types.
var (
	acquireOpTypes = map[string]bool{"acquire": true, "lock": true}
	renewOpTypes   = map[string]bool{"renew": true, "refresh": true, "extend": true, "keepalive": true}
	releaseOpTypes = map[string]bool{"release": true, "unlock": true}
)

func mutualExclusion() *Checker {
	return &Checker{
		Name:   "mutual-exclusion",
		Models: slices.Clone(mutexModels),
		Needs:  needsFor(mutexModels, FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker, FieldProcessID),
		Check:  checkMutualExclusion,
	}
}

const mutexScope = "two processes definitely holding the same lock at once: a hold runs from its successful acquire's " +
	"completion to its release's invocation (or, with a ttl, the expiry counted from the acquire's or last renewal's " +
	"invocation); indeterminate acquires are maybe-held and never make a violation; a release refused as not held " +
	"ends the hold at its acquire; cannot detect overlaps that only the server's clock would show, or a lock " +
	"whose holder crashed without a ttl declared (its hold then never ends)"

// lockHold is one interval a process definitely held a lock.
type lockHold struct {
	proc       string
	start, end int64
	acquire    int // op index of the acquire (or renewal) that proved it
	ended      int // op index of the op that ended it, -1 when none
}

// mutexWitness is the evidence for two overlapping holders.
type mutexWitness struct {
	Lock         string   `json:"lock"`
	First        holdJSON `json:"first"`
	Second       holdJSON `json:"second"`
	OverlapStart int64    `json:"overlap_start"`
	OverlapEnd   *int64   `json:"overlap_end"` // null: the first hold never ended
}

type holdJSON struct {
	Process string `json:"process"`
	Acquire string `json:"acquire_op"`
	From    int64  `json:"from"`
	To      *int64 `json:"to"` // null: never released
	EndedBy string `json:"ended_by,omitempty"`
}

// checkMutualExclusion checks that no two processes definitely held the
// same lock (the op's key; one lock when keys are null) at the same time.
//
// Options: "ttl" (the lease / lock-session time to live, seconds or a
// duration string; required for the lease model), "per_replica",
// "fault_window".
func checkMutualExclusion(ctx context.Context, in Input) (*Result, error) {
	const name = "mutual-exclusion"
	if err := checkModel(name, mutexModels, in.Model); err != nil {
		return nil, err
	}
	var ttl time.Duration
	if _, ok := in.Options["ttl"]; ok || in.Model == "lease" {
		var err error
		if ttl, err = durationOption(in.Options, "ttl", 0); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if ttl == 0 {
			return nil, fmt.Errorf("%s: the lease model needs option ttl: a lease is only held until it expires", name)
		}
	}
	missing, err := weakFields(mutualExclusion(), in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if ttl > 0 && coarseClock(in.Ops, int64(ttl)) {
		// SPEC §3.3: a lease history needs timestamps finer than the TTL.
		missing = append(missing, "timestamp precision finer than the ttl")
	}
	res := newResult(name, in, mutexScope)
	res.Missing = missing
	progress := progressFunc(in, len(in.Ops))
	progress(0)

	// Ops per (lock, process), in invoke order.
	type lp struct{ lock, proc string }
	per := map[lp][]int{}
	var order []lp
	for i := range in.Ops {
		o := &in.Ops[i]
		if !acquireOpTypes[o.OpType] && !renewOpTypes[o.OpType] && !releaseOpTypes[o.OpType] {
			continue
		}
		id := lp{opKey(o), processOf(o)}
		if _, ok := per[id]; !ok {
			order = append(order, id)
		}
		per[id] = append(per[id], i)
	}
	expiry := func(from int64) int64 {
		if ttl == 0 || from > math.MaxInt64-int64(ttl) {
			return math.MaxInt64
		}
		return from + int64(ttl)
	}
	holds := map[string][]lockHold{}
	var locks []string
	acquires, maybe := 0, 0
	for n, id := range order {
		if cancelled(ctx, n) {
			return halted(res, ctx), nil
		}
		if _, ok := holds[id.lock]; !ok {
			locks = append(locks, id.lock)
			holds[id.lock] = nil
		}
		var cur *lockHold
		exp := int64(math.MaxInt64)
		closeHold := func(end int64, by int) {
			cur.end, cur.ended = min(end, exp), by
			if exp < end {
				cur.ended = -1
			}
			holds[id.lock] = append(holds[id.lock], *cur)
			cur = nil
		}
		for _, i := range sortedByInvoke(in.Ops, per[id]) {
			o := &in.Ops[i]
			inv := invokeOf(o, math.MinInt64)
			if cur != nil && exp <= inv { // the lease expired before this op
				closeHold(exp, -1)
			}
			switch {
			case acquireOpTypes[o.OpType]:
				switch {
				case o.OK():
					acquires++
					if cur == nil {
						cur = &lockHold{proc: id.proc, start: completeOf(o, math.MaxInt64), acquire: i, ended: -1}
						exp = expiry(inv)
					} else {
						exp = max(exp, expiry(inv))
					}
				case o.Indeterminate():
					maybe++
				}
			case renewOpTypes[o.OpType] && o.OK():
				if cur == nil {
					cur = &lockHold{proc: id.proc, start: completeOf(o, math.MaxInt64), acquire: i, ended: -1}
					exp = expiry(inv)
				} else {
					exp = max(exp, expiry(inv))
				}
			case releaseOpTypes[o.OpType] && cur != nil:
				if o.Failed() && ttl == 0 {
					// Refused as not held: it was lost at some unknown
					// time after the acquire.
					closeHold(cur.start, i)
				} else {
					closeHold(inv, i)
				}
			}
		}
		if cur != nil {
			closeHold(math.MaxInt64, -1)
		}
	}

	definite := 0
	for _, lock := range locks {
		hs := holds[lock]
		definite += len(hs)
		slices.SortStableFunc(hs, func(a, b lockHold) int { return compareInt64(a.start, b.start) })
		// best and second: the earlier holds with the latest ends, of two
		// different processes.
		best, second := -1, -1
		for j, h := range hs {
			for _, c := range []int{best, second} {
				if c < 0 || hs[c].proc == h.proc {
					continue
				}
				if holdsOverlap(hs[c], h) {
					res.Anomalies = append(res.Anomalies, overlapAnomaly(in, lock, hs[c], h))
					break
				}
			}
			switch {
			case best < 0 || h.end > hs[best].end:
				if best >= 0 && hs[best].proc != h.proc {
					second = best
				}
				best = j
			case h.proc != hs[best].proc && (second < 0 || h.end > hs[second].end):
				second = j
			}
		}
	}
	decideByAnomalies(res)
	res.OpsConsumed = len(in.Ops)
	res.Keys = len(locks)
	ttlNote := "no ttl"
	if ttl > 0 {
		ttlNote = "ttl " + ttl.String()
	}
	res.Evidence = fmt.Sprintf("mutual-exclusion checked %s over %s (%s): %s, %s (maybe held, not judged), %s: %s",
		plural(len(in.Ops), "op"), plural(len(locks), "lock"), ttlNote, plural(acquires, "successful acquire"),
		plural(maybe, "indeterminate acquire"), plural(definite, "definite hold"), plural(len(res.Anomalies), "overlap"))
	progress(len(in.Ops))
	return res, nil
}

// coarseClock reports whether every timestamp of ops is a multiple of a
// unit at least ttl long (the clock cannot tell expiry from renewal).
func coarseClock(ops []history.Op, ttl int64) bool {
	g := int64(0)
	for i := range ops {
		for _, ts := range []*int64{ops[i].InvokeTS, ops[i].CompleteTS} {
			if ts != nil && *ts != 0 {
				g = gcd(g, *ts)
				if g != 0 && g < ttl {
					return false
				}
			}
		}
	}
	return g >= ttl
}

func gcd(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// holdsOverlap reports whether b, starting no earlier than a, overlaps it: a
// held when b's hold began (or b was proved held strictly inside a).
func holdsOverlap(a, b lockHold) bool {
	if a.start == a.end || b.start == b.end {
		return a.start < b.start && b.start < a.end || b.start < a.start && a.start < b.end
	}
	return b.start < a.end
}

func overlapAnomaly(in Input, lock string, a, b lockHold) Anomaly {
	js := func(h lockHold) holdJSON {
		j := holdJSON{Process: h.proc, Acquire: in.Ops[h.acquire].OpID, From: h.start}
		if h.end != math.MaxInt64 {
			e := h.end
			j.To = &e
		}
		if h.ended >= 0 {
			j.EndedBy = in.Ops[h.ended].OpID
		}
		return j
	}
	w := mutexWitness{Lock: lock, First: js(a), Second: js(b), OverlapStart: max(a.start, b.start)}
	end := min(a.end, b.end)
	if end != math.MaxInt64 {
		w.OverlapEnd = &end
	}
	until := "and had not released it"
	if a.end != math.MaxInt64 {
		until = fmt.Sprintf("until at least %d", a.end)
		if a.ended >= 0 {
			until += " (" + in.Ops[a.ended].OpID + ")"
		}
	}
	label := "the lock"
	if lock != "" {
		label = fmt.Sprintf("lock %q", lock)
	}
	ids := []string{in.Ops[a.acquire].OpID, in.Ops[b.acquire].OpID}
	if a.ended >= 0 {
		ids = append(ids, in.Ops[a.ended].OpID)
	}
	return Anomaly{
		Kind: "overlapping-holders",
		Key:  lock,
		Description: fmt.Sprintf("process %s held %s from %d (%s) %s, yet process %s's %s succeeded by %d",
			a.proc, label, a.start, in.Ops[a.acquire].OpID, until, b.proc, in.Ops[b.acquire].OpID, b.start),
		OpIDs:   ids,
		Witness: w,
	}
}
