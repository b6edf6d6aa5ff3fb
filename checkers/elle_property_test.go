package checkers

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// elleSmallTxn is one transaction of a random small history.
type elleSmallTxn struct {
	mops             [][3]any // ["append", k, v], ["w", k, v] or ["r", k, value]
	invoke, complete int64
	commit           int64 // when it took effect, within [invoke, complete]
	outcome          txnOutcome
	applied          bool // whether it took effect (indeterminate ones at random)
}

// txnOutcome is what the client saw of a transaction.
type txnOutcome uint8

const (
	outcomeOK txnOutcome = iota
	outcomeFailed
	outcomeInfo
)

// randomElleHistory builds a few transactions over two keys (see
// setOutcome), executed in commit order; each read then, with probability
// noise, shows a wrong state (elements dropped, or a state another read
// of the key showed), so some histories are serializable and some are not.
func randomElleHistory(rng *rand.Rand, n int, noise float64) []elleSmallTxn {
	txns := make([]elleSmallTxn, n)
	next := map[int]int{}
	order := make([]int, n)
	for i := range txns {
		order[i] = i
		setOutcome(rng, &txns[i])
		for range 1 + rng.IntN(3) {
			k := rng.IntN(2)
			if rng.IntN(2) == 0 {
				next[k]++
				txns[i].mops = append(txns[i].mops, [3]any{"append", k, next[k]})
			} else {
				txns[i].mops = append(txns[i].mops, [3]any{"r", k, nil})
			}
		}
	}
	state := map[int][]int{}
	seen := map[int][][]int{} // states read per key
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(txns[a].commit, txns[b].commit) })
	for _, i := range order {
		if !txns[i].applied {
			continue
		}
		for j, m := range txns[i].mops {
			k := m[1].(int)
			if m[0] == "append" {
				state[k] = append(append([]int(nil), state[k]...), m[2].(int))
				continue
			}
			if txns[i].outcome != outcomeOK {
				continue // nobody saw what it read
			}
			read := append([]int{}, state[k]...)
			if rng.Float64() < noise {
				switch {
				case len(read) > 0 && rng.IntN(2) == 0:
					read = read[:rng.IntN(len(read))]
				case len(seen[k]) > 0:
					read = append([]int{}, seen[k][rng.IntN(len(seen[k]))]...)
				}
			}
			seen[k] = append(seen[k], read)
			txns[i].mops[j][2] = read
		}
	}
	return txns
}

// elleSerialOrderExists reports whether some serial order of the
// committed transactions, plus any subset of the indeterminate ones,
// reproduces every acknowledged read (brute force); with realtime, the
// order must also put a transaction that completed before another was
// invoked first. Aborted transactions never take effect.
func elleSerialOrderExists(txns []elleSmallTxn, realtime bool) bool {
	return bruteForceSerial(txns, realtime, func(order []int) bool {
		state := map[int][]int{}
		for _, t := range order {
			for _, m := range txns[t].mops {
				k := m[1].(int)
				if m[0] == "append" {
					state[k] = append(state[k], m[2].(int))
					continue
				}
				if txns[t].outcome == outcomeOK && fmt.Sprint(state[k]) != fmt.Sprint(m[2].([]int)) {
					return false
				}
			}
		}
		return true
	})
}

// setOutcome draws a transaction's interval and outcome: 80% acknowledged,
// 10% aborted, 10% indeterminate (taking effect half the time).
func setOutcome(rng *rand.Rand, t *elleSmallTxn) {
	t.invoke = rng.Int64N(100)
	t.complete = t.invoke + 1 + rng.Int64N(40)
	t.commit = t.invoke + rng.Int64N(t.complete-t.invoke+1)
	switch r := rng.IntN(10); {
	case r == 0:
		t.outcome = outcomeFailed
	case r == 1:
		t.outcome, t.applied = outcomeInfo, rng.IntN(2) == 0
	default:
		t.outcome, t.applied = outcomeOK, true
	}
}

// bruteForceSerial tries every subset of the indeterminate transactions
// and every order of those with the acknowledged ones, asking valid of
// each order that respects real time (when asked to).
func bruteForceSerial(txns []elleSmallTxn, realtime bool, valid func(order []int) bool) bool {
	var ok, info []int
	for i, t := range txns {
		switch t.outcome {
		case outcomeOK:
			ok = append(ok, i)
		case outcomeInfo:
			info = append(info, i)
		}
	}
	for subset := range 1 << len(info) {
		perm := slices.Clone(ok)
		for b, i := range info {
			if subset&(1<<b) != 0 {
				perm = append(perm, i)
			}
		}
		var try func(int) bool
		try = func(i int) bool {
			if i == len(perm) {
				return valid(perm)
			}
			for j := i; j < len(perm); j++ {
				perm[i], perm[j] = perm[j], perm[i]
				// Real time: nothing placed here may have to follow
				// (complete before the invoke of) one placed later.
				fits := true
				if realtime {
					for _, later := range perm[i+1:] {
						if txns[later].outcome == outcomeOK && txns[later].complete < txns[perm[i]].invoke {
							fits = false
							break
						}
					}
				}
				if fits && try(i+1) {
					return true
				}
				perm[i], perm[j] = perm[j], perm[i]
			}
			return false
		}
		if try(0) {
			return true
		}
	}
	return false
}

// ops returns the transaction as a history row.
func (t elleSmallTxn) ops(id int) history.Op {
	var parts []string
	for _, m := range t.mops {
		b, _ := json.Marshal([]any{m[0], m[1], m[2]})
		parts = append(parts, string(b))
	}
	out := "[" + strings.Join(parts, ",") + "]"
	name, process := "t"+strconv.Itoa(id), "p"+strconv.Itoa(id)
	switch t.outcome {
	case outcomeFailed:
		return failed(op(name, process, "txn", t.invoke, t.complete, elleBlankReads(out), ""))
	case outcomeInfo:
		return op(name, process, "txn", t.invoke, timeout, elleBlankReads(out), "")
	}
	return elleTxAt(name, process, t.invoke, t.complete, out)
}

// TestSerializabilitySoundness: on thousands of random small list-append
// histories (with aborted and indeterminate transactions), every
// violation the checker reports is real (no serial order of the committed
// transactions and some of the indeterminate ones explains the reads;
// under strict serializability, none that also respects real time), and
// it misses almost none of the others.
func TestSerializabilitySoundness(t *testing.T) {
	for _, consistency := range []string{"serializable", "strict-serializable"} {
		t.Run(consistency, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 11))
			var flagged, nonSerial, missed int
			for iter := range 2000 {
				txns := randomElleHistory(rng, 2+rng.IntN(4), 0.3)
				ops := make([]history.Op, len(txns))
				for i, st := range txns {
					ops[i] = st.ops(i)
				}
				res := check(t, "serializability", Input{Ops: ops, Model: "list-append", Options: map[string]any{"consistency": consistency}})
				serial := elleSerialOrderExists(txns, consistency == "strict-serializable")
				if !serial {
					nonSerial++
				}
				switch {
				case res.Status == StatusViolation && serial:
					t.Errorf("history %d has a valid serial order but was flagged %v", iter, elleKinds(res))
					for _, o := range ops {
						t.Logf("  %s invoked %d, completed %v, error %v: %s → %s", o.OpID, *o.InvokeTS, o.CompleteTS, o.Error, o.Input, o.Output)
					}
					for _, a := range res.Anomalies {
						t.Logf("  %s", a.Description)
					}
				case res.Status == StatusViolation:
					flagged++
				case res.Status == StatusUnknown:
					t.Errorf("history %d: unknown: %s", iter, res.Evidence)
				case !serial:
					missed++
				}
			}
			t.Logf("%d histories not serializable, %d flagged, %d missed", nonSerial, flagged, missed)
			if nonSerial < 200 || missed*50 > nonSerial {
				t.Errorf("%d of %d non-serializable histories missed", missed, nonSerial)
			}
		})
	}
}

// randomElleRegisterHistory is randomElleHistory for registers: writes of
// values unique per key, reads that (with probability noise) show a value
// another read of the key showed instead of the current one.
func randomElleRegisterHistory(rng *rand.Rand, n int, noise float64) []elleSmallTxn {
	txns := make([]elleSmallTxn, n)
	next := map[int]int{}
	order := make([]int, n)
	for i := range txns {
		order[i] = i
		setOutcome(rng, &txns[i])
		for range 1 + rng.IntN(3) {
			k := rng.IntN(2)
			if rng.IntN(2) == 0 {
				next[k]++
				txns[i].mops = append(txns[i].mops, [3]any{"w", k, next[k]})
			} else {
				txns[i].mops = append(txns[i].mops, [3]any{"r", k, nil})
			}
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(txns[a].commit, txns[b].commit) })
	state := map[int]any{}
	seen := map[int][]any{}
	for _, i := range order {
		if !txns[i].applied {
			continue
		}
		for j, m := range txns[i].mops {
			k := m[1].(int)
			if m[0] == "w" {
				state[k] = m[2]
				continue
			}
			if txns[i].outcome != outcomeOK {
				continue
			}
			read := state[k]
			if rng.Float64() < noise && len(seen[k]) > 0 {
				read = seen[k][rng.IntN(len(seen[k]))]
			}
			seen[k] = append(seen[k], read)
			txns[i].mops[j][2] = read
		}
	}
	return txns
}

// elleRegisterSerialOrderExists is elleSerialOrderExists for registers.
func elleRegisterSerialOrderExists(txns []elleSmallTxn, realtime bool) bool {
	return bruteForceSerial(txns, realtime, func(order []int) bool {
		state := map[int]any{}
		for _, t := range order {
			for _, m := range txns[t].mops {
				k := m[1].(int)
				if m[0] == "w" {
					state[k] = m[2]
				} else if txns[t].outcome == outcomeOK && state[k] != m[2] {
					return false
				}
			}
		}
		return true
	})
}

// TestSerializabilityRegisterSoundness: the rw-register inference never
// reports a violation where a (real-time respecting, for strict
// serializability) serial order exists. Its version orders are partial by
// design, so it may miss some.
func TestSerializabilityRegisterSoundness(t *testing.T) {
	for _, consistency := range []string{"serializable", "strict-serializable"} {
		t.Run(consistency, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 5))
			var flagged, nonSerial int
			for iter := range 2000 {
				txns := randomElleRegisterHistory(rng, 2+rng.IntN(4), 0.3)
				ops := make([]history.Op, len(txns))
				for i, st := range txns {
					ops[i] = st.ops(i)
				}
				res := check(t, "serializability", Input{Ops: ops, Model: "rw-register", Options: map[string]any{"consistency": consistency}})
				serial := elleRegisterSerialOrderExists(txns, consistency == "strict-serializable")
				if !serial {
					nonSerial++
				}
				switch {
				case res.Status == StatusViolation && serial:
					t.Errorf("history %d has a valid serial order but was flagged %v", iter, elleKinds(res))
					for _, o := range ops {
						t.Logf("  %s invoked %d, completed %v, error %v: %s → %s", o.OpID, *o.InvokeTS, o.CompleteTS, o.Error, o.Input, o.Output)
					}
					for _, a := range res.Anomalies {
						t.Logf("  %s", a.Description)
					}
				case res.Status == StatusViolation:
					flagged++
				case res.Status == StatusUnknown:
					t.Errorf("history %d: unknown: %s", iter, res.Evidence)
				}
			}
			t.Logf("%d histories not serializable, %d flagged", nonSerial, flagged)
			if flagged*2 < nonSerial {
				t.Errorf("only %d of %d non-serializable histories flagged", flagged, nonSerial)
			}
		})
	}
}
