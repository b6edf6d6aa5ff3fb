package checkers

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// elleTx builds a committed transaction on its own process, concurrent with
// every other one built by tx (invoked at 0, completed at 1000), so only
// data dependencies order it. out is the micro-ops with reads filled in.
func elleTx(id, out string) history.Op {
	return op(id, "p-"+id, "txn", 0, 1000, elleBlankReads(out), out)
}

// elleTxAt builds a committed transaction on a given process and interval.
func elleTxAt(id, process string, invoke, complete int64, out string) history.Op {
	return op(id, process, "txn", invoke, complete, elleBlankReads(out), out)
}

// elleTxFailed builds an aborted transaction.
func elleTxFailed(id, in string) history.Op {
	return failed(op(id, "p-"+id, "txn", 0, 1000, in, ""))
}

// elleTxInfo builds an indeterminate transaction.
func elleTxInfo(id, in string) history.Op {
	return op(id, "p-"+id, "txn", 0, timeout, in, "")
}

// elleBlankReads turns a completed transaction's micro-ops into its
// invocation: every read's value becomes null.
func elleBlankReads(out string) string {
	var mops [][]json.RawMessage
	if err := json.Unmarshal([]byte(out), &mops); err != nil {
		panic("bad crafted txn " + out + ": " + err.Error())
	}
	for _, m := range mops {
		if string(m[0]) == `"r"` || string(m[0]) == `"read"` {
			m[2] = json.RawMessage("null")
		}
	}
	b, _ := json.Marshal(mops)
	return string(b)
}

// elleKinds returns the anomaly kinds of a result, sorted, with whether each
// is a violation.
func elleKinds(res *Result) []string {
	var out []string
	for _, a := range res.Anomalies {
		k := a.Kind
		if w, ok := a.Witness.(*elleWitness); ok && !w.Proscribed {
			k += " (allowed)"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// elleCase is a crafted history with its expected outcome.
type elleCase struct {
	name        string
	model       string
	consistency string
	ops         []history.Op
	status      string
	kinds       []string // sorted; "X (allowed)" for anomalies the model allows
}

func runElleCases(t *testing.T, cases []elleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := map[string]any{}
			if tc.consistency != "" {
				opts["consistency"] = tc.consistency
			}
			res := check(t, "serializability", Input{Ops: tc.ops, Model: tc.model, Options: opts, ArtifactDir: t.TempDir()})
			got := elleKinds(res)
			want := slices.Clone(tc.kinds)
			slices.Sort(want)
			if res.Status != tc.status || !slices.Equal(got, want) {
				t.Errorf("status %s, anomalies %v; want %s, %v", res.Status, got, tc.status, want)
				for _, a := range res.Anomalies {
					t.Logf("  %s", a.Description)
				}
			}
			if !strings.HasPrefix(res.Evidence, "Elle-style check of ") {
				t.Errorf("evidence %q", res.Evidence)
			}
		})
	}
}

// TestSerializabilityListAppend: each anomaly class in its smallest
// list-append form, caught with the right class, and its repaired twin.
func TestSerializabilityListAppend(t *testing.T) {
	la := "list-append"
	cases := []elleCase{
		// Adya's G0, write cycle: T1 and T2 both append to x and y, and
		// the orders disagree.
		{name: "G0 write cycle", model: la, status: StatusViolation, kinds: []string{"G0"}, ops: []history.Op{
			elleTx("t1", `[["append","x",1],["append","y",1]]`),
			elleTx("t2", `[["append","x",2],["append","y",2]]`),
			elleTx("t3", `[["r","x",[1,2]],["r","y",[2,1]]]`),
		}},
		{name: "G0 repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["append","x",1],["append","y",1]]`),
			elleTx("t2", `[["append","x",2],["append","y",2]]`),
			elleTx("t3", `[["r","x",[1,2]],["r","y",[1,2]]]`),
		}},
		// Adya's G1c, circular information flow: each reads the other's
		// write.
		{name: "G1c circular information flow", model: la, status: StatusViolation, kinds: []string{"G1c"}, ops: []history.Op{
			elleTx("t1", `[["append","x",1],["r","y",[1]]]`),
			elleTx("t2", `[["append","y",1],["r","x",[1]]]`),
		}},
		{name: "G1c repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["append","x",1],["r","y",[1]]]`),
			elleTx("t2", `[["append","y",1],["r","x",[]]]`),
		}},
		// Adya's G-single, read skew: t1 sees x before t2 and y after it.
		{name: "G-single read skew", model: la, status: StatusViolation, kinds: []string{"G-single"}, ops: []history.Op{
			elleTx("t0", `[["append","x",1],["append","y",1]]`),
			elleTx("t1", `[["r","x",[1]],["r","y",[1,2]]]`),
			elleTx("t2", `[["append","x",2],["append","y",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
		}},
		{name: "G-single repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t0", `[["append","x",1],["append","y",1]]`),
			elleTx("t1", `[["r","x",[1,2]],["r","y",[1,2]]]`),
			elleTx("t2", `[["append","x",2],["append","y",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
		}},
		// The example of the Elle paper (Kingsbury & Alvaro, VLDB 2020):
		// t2 read t1's append of 8 to key 255, t3 appended to 256 after
		// t2's append, and t3 read 255 without t1's 8: G-single.
		{name: "Elle paper example", model: la, status: StatusViolation, kinds: []string{"G-single"}, ops: []history.Op{
			elleTx("t0", `[["append",253,1],["append",253,3],["append",253,4],["append",255,2],["append",255,3],["append",255,4],["append",255,5],["append",256,1],["append",256,2]]`),
			elleTx("t1", `[["append",255,8],["r",253,[1,3,4]]]`),
			elleTx("t2", `[["append",256,4],["r",255,[2,3,4,5,8]],["r",256,[1,2,4]],["r",253,[1,3,4]]]`),
			elleTx("t3", `[["append",250,10],["r",253,[1,3,4]],["r",255,[2,3,4,5]],["append",256,3]]`),
		}},
		// Adya's G2-item, write skew: a violation of serializability...
		{name: "G2-item write skew", model: la, status: StatusViolation, kinds: []string{"G2-item"}, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
		}},
		// ... that snapshot isolation allows.
		{name: "G2-item write skew under snapshot isolation", model: la, consistency: "snapshot-isolation", status: StatusOK, kinds: []string{"G2-item (allowed)"}, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
		}},
		{name: "G2-item under repeatable read", model: la, consistency: "repeatable-read", status: StatusViolation, kinds: []string{"G2-item"}, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
		}},
		{name: "G2-item repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[1]],["r","y",[]],["append","y",1]]`),
		}},
		// G-nonadjacent: two rw edges separated by wr edges; snapshot
		// isolation forbids it.
		{name: "G-nonadjacent", model: la, consistency: "snapshot-isolation", status: StatusViolation, kinds: []string{"G-nonadjacent"}, ops: []history.Op{
			elleTx("t1", `[["r","a",[]],["r","d",[1]]]`),
			elleTx("t2", `[["append","a",1],["append","b",1]]`),
			elleTx("t3", `[["r","b",[1]],["r","c",[]]]`),
			elleTx("t4", `[["append","c",1],["append","d",1]]`),
		}},
		{name: "G-nonadjacent repaired", model: la, consistency: "snapshot-isolation", status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","a",[1]],["r","d",[1]]]`),
			elleTx("t2", `[["append","a",1],["append","b",1]]`),
			elleTx("t3", `[["r","b",[1]],["r","c",[]]]`),
			elleTx("t4", `[["append","c",1],["append","d",1]]`),
		}},
		// G1a: reading an aborted transaction's append.
		{name: "G1a aborted read", model: la, status: StatusViolation, kinds: []string{"G1a"}, ops: []history.Op{
			elleTxFailed("t1", `[["append","x",1]]`),
			elleTx("t2", `[["r","x",[1]]]`),
		}},
		{name: "G1a repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTxFailed("t1", `[["append","x",1]]`),
			elleTx("t2", `[["r","x",[]]]`),
		}},
		// An indeterminate transaction may have committed: reading it is
		// fine.
		{name: "indeterminate append read", model: la, status: StatusOK, ops: []history.Op{
			elleTxInfo("t1", `[["append","x",1]]`),
			elleTx("t2", `[["r","x",[1]]]`),
		}},
		// G1b: reading a transaction's intermediate append.
		// The reader saw part of t1 and not the rest: a G-single as well.
		{name: "G1b intermediate read", model: la, status: StatusViolation, kinds: []string{"G-single", "G1b"}, ops: []history.Op{
			elleTx("t1", `[["append","x",1],["append","x",2]]`),
			elleTx("t2", `[["r","x",[1]]]`),
		}},
		{name: "G1b repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["append","x",1],["append","x",2]]`),
			elleTx("t2", `[["r","x",[1,2]]]`),
		}},
		// Internal inconsistency: a read missing the transaction's own
		// append.
		{name: "internal", model: la, status: StatusViolation, kinds: []string{"internal"}, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["append","x",1],["r","x",[]]]`),
		}},
		{name: "internal repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["append","x",1],["r","x",[1]]]`),
		}},
		// Dirty update: a committed append on top of an aborted one (the
		// read of the aborted value is a G1a too).
		{name: "dirty update", model: la, status: StatusViolation, kinds: []string{"G1a", "dirty-update"}, ops: []history.Op{
			elleTxFailed("t1", `[["append","x",1]]`),
			elleTx("t2", `[["append","x",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
		}},
		{name: "dirty update repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTxFailed("t1", `[["append","x",1]]`),
			elleTx("t2", `[["append","x",2]]`),
			elleTx("t3", `[["r","x",[2]]]`),
		}},
		// Lost update: both read the empty list, both appended; t2's read
		// missed t1's append (a G-single as well).
		{name: "lost update", model: la, status: StatusViolation, kinds: []string{"G-single", "lost-update"}, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[]],["append","x",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
		}},
		{name: "lost update repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[1]],["append","x",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
		}},
		{name: "duplicate elements", model: la, status: StatusViolation, kinds: []string{"duplicate-elements"}, ops: []history.Op{
			elleTx("t1", `[["append","x",1]]`),
			elleTx("t2", `[["r","x",[1,1]]]`),
		}},
		{name: "duplicate elements repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["append","x",1]]`),
			elleTx("t2", `[["r","x",[1]]]`),
		}},
		// Incompatible order is a G1a-class anomaly: proscribed from read
		// committed up.
		{name: "incompatible order", model: la, status: StatusViolation, kinds: []string{"incompatible-order"}, ops: []history.Op{
			elleTx("t1", `[["append","x",1]]`),
			elleTx("t2", `[["append","x",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
			elleTx("t4", `[["r","x",[2,1]]]`),
		}},
		{name: "incompatible order repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["append","x",1]]`),
			elleTx("t2", `[["append","x",2]]`),
			elleTx("t3", `[["r","x",[1,2]]]`),
			elleTx("t4", `[["r","x",[1,2]]]`),
		}},
		// Future read: a transaction observing its own later append.
		{name: "future read", model: la, status: StatusViolation, kinds: []string{"future-read"}, ops: []history.Op{
			elleTx("t1", `[["r","x",[1]],["append","x",1]]`),
		}},
		{name: "future read repaired", model: la, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["append","x",1]]`),
		}},
	}
	runElleCases(t, cases)
}

// TestSerializabilityOrderVariants: cycles that need process or real-time
// order, judged by the session and strict models.
func TestSerializabilityOrderVariants(t *testing.T) {
	la := "list-append"
	// The same process appends, then reads without its own append.
	session := []history.Op{
		elleTxAt("t1", "p", 0, 10, `[["append","x",1]]`),
		elleTxAt("t2", "p", 20, 30, `[["r","x",[]]]`),
	}
	sessionRepaired := []history.Op{
		elleTxAt("t1", "p", 0, 10, `[["append","x",1]]`),
		elleTxAt("t2", "p", 20, 30, `[["r","x",[1]]]`),
	}
	// Two processes; t2 starts after t1 completed and misses its append.
	stale := []history.Op{
		elleTxAt("t1", "p", 0, 10, `[["append","x",1]]`),
		elleTxAt("t2", "q", 20, 30, `[["r","x",[]]]`),
	}
	// Overlapping in time: no real-time order, nothing wrong.
	concurrent := []history.Op{
		elleTxAt("t1", "p", 0, 30, `[["append","x",1]]`),
		elleTxAt("t2", "q", 10, 40, `[["r","x",[]]]`),
	}
	// t2 starts after t1 completed, yet the read of x puts t2's append
	// first: a write cycle closed by real time.
	writeCycleRealtime := []history.Op{
		elleTxAt("t1", "p", 0, 10, `[["append","x",1]]`),
		elleTxAt("t2", "q", 20, 30, `[["append","x",2]]`),
		elleTxAt("t3", "r", 40, 50, `[["r","x",[2,1]]]`),
	}
	// t1 reads what its own process appends only afterwards.
	futureSession := []history.Op{
		elleTxAt("t1", "p", 0, 10, `[["r","y",[1]]]`),
		elleTxAt("t2", "p", 20, 30, `[["append","y",1]]`),
	}
	cases := []elleCase{
		{name: "write cycle in real time under serializable", model: la, ops: writeCycleRealtime, status: StatusOK, kinds: []string{"G0-realtime (allowed)"}},
		{name: "write cycle in real time under strict serializable", model: la, consistency: "strict-serializable", ops: writeCycleRealtime, status: StatusViolation, kinds: []string{"G0-realtime"}},
		{name: "write cycle in real time under strong read committed", model: la, consistency: "strong-read-committed", ops: writeCycleRealtime, status: StatusViolation, kinds: []string{"G0-realtime"}},
		{name: "future session read under serializable", model: la, ops: futureSession, status: StatusOK, kinds: []string{"G1c-process (allowed)"}},
		{name: "future session read under strong session read committed", model: la, consistency: "strong-session-read-committed", ops: futureSession, status: StatusViolation, kinds: []string{"G1c-process"}},
		{name: "stale session read under serializable", model: la, ops: session, status: StatusOK, kinds: []string{"G-single-process (allowed)"}},
		{name: "stale session read under strong session serializable", model: la, consistency: "strong-session-serializable", ops: session, status: StatusViolation, kinds: []string{"G-single-process"}},
		{name: "stale session read under strong session SI", model: la, consistency: "strong-session-snapshot-isolation", ops: session, status: StatusViolation, kinds: []string{"G-single-process"}},
		{name: "stale session read under Jepsen's keyword spelling", model: la, consistency: ":strong-session-snapshot-isolation", ops: session, status: StatusViolation, kinds: []string{"G-single-process"}},
		{name: "stale session read under strict serializable", model: la, consistency: "strict-serializable", ops: session, status: StatusViolation, kinds: []string{"G-single-process"}},
		{name: "session repaired", model: la, consistency: "strict-serializable", ops: sessionRepaired, status: StatusOK},
		{name: "stale read under serializable", model: la, ops: stale, status: StatusOK, kinds: []string{"G-single-realtime (allowed)"}},
		{name: "stale read under strong session serializable", model: la, consistency: "strong-session-serializable", ops: stale, status: StatusOK, kinds: []string{"G-single-realtime (allowed)"}},
		{name: "stale read under strict serializable", model: la, consistency: "strict-serializable", ops: stale, status: StatusViolation, kinds: []string{"G-single-realtime"}},
		{name: "concurrent read under strict serializable", model: la, consistency: "strict-serializable", ops: concurrent, status: StatusOK},
	}
	runElleCases(t, cases)
}

// TestSerializabilityRWRegister: the rw-register workload's anomalies and
// their repaired twins.
func TestSerializabilityRWRegister(t *testing.T) {
	rw := "rw-register"
	cases := []elleCase{
		// Read skew: t2 read both keys at 1 before overwriting them; t1 saw
		// x before t2 and y after.
		{name: "G-single read skew", model: rw, status: StatusViolation, kinds: []string{"G-single"}, ops: []history.Op{
			elleTx("t0", `[["w","x",1],["w","y",1]]`),
			elleTx("t1", `[["r","x",1],["r","y",2]]`),
			elleTx("t2", `[["r","x",1],["w","x",2],["r","y",1],["w","y",2]]`),
		}},
		{name: "G-single repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t0", `[["w","x",1],["w","y",1]]`),
			elleTx("t1", `[["r","x",2],["r","y",2]]`),
			elleTx("t2", `[["r","x",1],["w","x",2],["r","y",1],["w","y",2]]`),
		}},
		{name: "G2-item write skew", model: rw, status: StatusViolation, kinds: []string{"G2-item"}, ops: []history.Op{
			elleTx("t1", `[["r","x",null],["r","y",null],["w","x",1]]`),
			elleTx("t2", `[["r","x",null],["r","y",null],["w","y",1]]`),
		}},
		{name: "G2-item write skew under snapshot isolation", model: rw, consistency: "snapshot-isolation", status: StatusOK, kinds: []string{"G2-item (allowed)"}, ops: []history.Op{
			elleTx("t1", `[["r","x",null],["r","y",null],["w","x",1]]`),
			elleTx("t2", `[["r","x",null],["r","y",null],["w","y",1]]`),
		}},
		{name: "G2-item repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",null],["r","y",null],["w","x",1]]`),
			elleTx("t2", `[["r","x",1],["r","y",null],["w","y",1]]`),
		}},
		{name: "G1c circular information flow", model: rw, status: StatusViolation, kinds: []string{"G1c"}, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["r","y",1]]`),
			elleTx("t2", `[["w","y",1],["r","x",1]]`),
		}},
		{name: "G1c repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["r","y",1]]`),
			elleTx("t2", `[["w","y",1],["r","x",null]]`),
		}},
		{name: "G1a aborted read", model: rw, status: StatusViolation, kinds: []string{"G1a"}, ops: []history.Op{
			elleTxFailed("t1", `[["w","x",1]]`),
			elleTx("t2", `[["r","x",1]]`),
		}},
		{name: "G1a repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTxFailed("t1", `[["w","x",1]]`),
			elleTx("t2", `[["r","x",null]]`),
		}},
		{name: "G1b intermediate read", model: rw, status: StatusViolation, kinds: []string{"G1b"}, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["w","x",2]]`),
			elleTx("t2", `[["r","x",1]]`),
		}},
		{name: "G1b repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["w","x",2]]`),
			elleTx("t2", `[["r","x",2]]`),
		}},
		{name: "internal", model: rw, status: StatusViolation, kinds: []string{"internal"}, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["r","x",2]]`),
			elleTx("t2", `[["w","x",2]]`),
		}},
		{name: "internal repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["r","x",1]]`),
			elleTx("t2", `[["w","x",2]]`),
		}},
		// Lost update: both read the initial state, both wrote.
		{name: "lost update", model: rw, status: StatusViolation, kinds: []string{"G2-item", "lost-update"}, ops: []history.Op{
			elleTx("t1", `[["r","x",null],["w","x",1]]`),
			elleTx("t2", `[["r","x",null],["w","x",2]]`),
		}},
		{name: "lost update repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",null],["w","x",1]]`),
			elleTx("t2", `[["r","x",1],["w","x",2]]`),
		}},
		// Cyclic versions: each transaction read the other's value and
		// then overwrote it.
		{name: "cyclic versions", model: rw, status: StatusViolation, kinds: []string{"G1c", "cyclic-versions"}, ops: []history.Op{
			elleTx("t1", `[["r","x",2],["w","x",1]]`),
			elleTx("t2", `[["r","x",1],["w","x",2]]`),
		}},
		{name: "cyclic versions repaired", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["r","x",null],["w","x",1]]`),
			elleTx("t2", `[["r","x",1],["w","x",2]]`),
		}},
		// An indeterminate transaction's write that was read committed.
		{name: "indeterminate write read", model: rw, status: StatusOK, ops: []history.Op{
			elleTxInfo("t1", `[["w","x",1]]`),
			elleTx("t2", `[["r","x",1]]`),
		}},
		// Values written twice cannot be attributed: no inference, no
		// false alarm.
		{name: "duplicate writes are not attributed", model: rw, status: StatusOK, ops: []history.Op{
			elleTx("t1", `[["w","x",1],["r","y",1]]`),
			elleTx("t2", `[["w","y",1],["r","x",1]]`),
			elleTx("t3", `[["w","x",1]]`),
			elleTx("t4", `[["w","y",1]]`),
		}},
	}
	runElleCases(t, cases)
}

// TestSerializabilityExplanation: the description walks the cycle step by
// step, the witness carries the op ids and edges, and a DOT file is
// written per cycle.
func TestSerializabilityExplanation(t *testing.T) {
	dir := t.TempDir()
	// a2 read a1's append to key 9 but not its append to key 8: a
	// fractured read.
	ops := []history.Op{
		elleTx("a1", `[["append",9,3],["append",8,4]]`),
		elleTx("a2", `[["r",9,[3]],["r",8,[]]]`),
	}
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append", ArtifactDir: dir})
	if res.Status != StatusViolation || len(res.Anomalies) != 1 {
		t.Fatalf("status %s anomalies %v", res.Status, elleKinds(res))
	}
	a := res.Anomalies[0]
	for _, want := range []string{
		"G-single (proscribed by serializable)",
		"T1 = op a1", "T2 = op a2",
		"T1 < T2 because T2 read T1's append of 3 to key 9",
		"T2 < T1 because T2 read key 8 as empty and did not observe T1's append of 4",
		"(rw)", "(wr)",
	} {
		if !strings.Contains(a.Description, want) {
			t.Errorf("description lacks %q:\n%s", want, a.Description)
		}
	}
	w := a.Witness.(*elleWitness)
	if !slices.Equal(w.Txns, []string{"a1", "a2"}) || len(w.Edges) != 2 || !w.Proscribed {
		t.Errorf("witness %+v", w)
	}
	if !slices.Equal(a.OpIDs, []string{"a1", "a2"}) {
		t.Errorf("op ids %v", a.OpIDs)
	}
	if len(res.Artifacts) == 0 || w.DOT != res.Artifacts[0] {
		t.Fatalf("artifacts %v, witness dot %q", res.Artifacts, w.DOT)
	}
	dot, err := os.ReadFile(res.Artifacts[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"digraph", `"T1" -> "T2"`, `"T2" -> "T1"`, `label="rw"`, "op a1"} {
		if !strings.Contains(string(dot), want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	if filepath.Dir(res.Artifacts[0]) != dir {
		t.Errorf("artifact outside the artifact dir: %s", res.Artifacts[0])
	}
}

// TestSerializabilityBudget: when the search budget runs out before a
// cycle's class is settled, the cycle is reported as not classified and
// the verdict is unknown, never ok; a proscribed anomaly found anyway
// still makes it a violation.
func TestSerializabilityBudget(t *testing.T) {
	// Write skew plus two readers of t2: every cycle has adjacent rw
	// edges (G2-item only), but ruling out G-single takes a search of
	// more than one step.
	skewReaders := []history.Op{
		elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
		elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
		elleTx("t3", `[["r","y",[1]],["r","x",[]]]`),
		elleTx("t4", `[["r","y",[1]],["r","x",[]]]`),
	}
	// A lone G-nonadjacent cycle: the linear G2-item search finds it and
	// its shape names it, whatever the budget.
	nonadjacent := []history.Op{
		elleTx("t1", `[["r","a",[]],["r","d",[1]]]`),
		elleTx("t2", `[["append","a",1],["append","b",1]]`),
		elleTx("t3", `[["r","b",[1]],["r","c",[]]]`),
		elleTx("t4", `[["append","c",1],["append","d",1]]`),
	}
	for _, tc := range []struct {
		consistency string
		ops         []history.Op
		status      string
		kinds       []string
	}{
		// Snapshot isolation allows G2-item but forbids G-single, which
		// the budget could not rule out.
		{"snapshot-isolation", skewReaders, StatusUnknown, []string{"G2-item (allowed)", "cycle-exists (allowed)"}},
		// Serializability forbids the G2-item found in linear time.
		{"serializable", skewReaders, StatusViolation, []string{"G2-item", "cycle-exists (allowed)"}},
		{"snapshot-isolation", nonadjacent, StatusViolation, []string{"G-nonadjacent", "cycle-exists (allowed)"}},
	} {
		res := check(t, "serializability", Input{Ops: tc.ops, Model: "list-append",
			Options: map[string]any{"scc_budget": 1.0, "consistency": tc.consistency}})
		if got := elleKinds(res); res.Status != tc.status || !slices.Equal(got, tc.kinds) {
			t.Errorf("%s: status %s anomalies %v, want %s %v", tc.consistency, res.Status, got, tc.status, tc.kinds)
		}
		if !strings.Contains(res.Evidence, "not classified") {
			t.Errorf("evidence %q", res.Evidence)
		}
		for _, a := range res.Anomalies {
			if a.Kind == AnomalyCycleExists && (len(a.OpIDs) != len(tc.ops) || !strings.Contains(a.Description, "search budget of 1 steps")) {
				t.Errorf("cycle-exists anomaly: %+v", a)
			}
		}
		// With the default budget the class is settled.
		res = check(t, "serializability", Input{Ops: tc.ops, Model: "list-append", Options: map[string]any{"consistency": tc.consistency}})
		if slices.Contains(elleKinds(res), "cycle-exists (allowed)") || res.Status == StatusUnknown {
			t.Errorf("%s with the default budget: %s %v", tc.consistency, res.Status, elleKinds(res))
		}
	}
	// A proscribed anomaly found elsewhere makes it a violation.
	ops := append(slices.Clone(skewReaders), elleTxFailed("t3", `[["append","z",1]]`), elleTx("t4", `[["r","z",[1]]]`))
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append",
		Options: map[string]any{"scc_budget": 1, "consistency": "snapshot-isolation"}})
	if res.Status != StatusViolation {
		t.Errorf("status %s, want violation (G1a) despite the unclassified cycle", res.Status)
	}
}

// TestSerializabilityModelsTable: what each consistency model proscribes.
func TestSerializabilityModelsTable(t *testing.T) {
	type row struct {
		anomaly string
		// the models, weakest first, under which it is proscribed (true)
		ru, rc, rr, si, ser, sss, strict bool
	}
	models := []string{"read-uncommitted", "read-committed", "repeatable-read", "snapshot-isolation", "serializable", "strong-session-serializable", "strict-serializable"}
	rows := []row{
		{"G0", true, true, true, true, true, true, true},
		{"duplicate-elements", true, true, true, true, true, true, true},
		{"cyclic-versions", true, true, true, true, true, true, true},
		{"G1a", false, true, true, true, true, true, true},
		{"G1b", false, true, true, true, true, true, true},
		{"G1c", false, true, true, true, true, true, true},
		{"dirty-update", false, true, true, true, true, true, true},
		{"incompatible-order", false, true, true, true, true, true, true},
		{"internal", false, false, false, true, true, true, true},
		{"lost-update", false, false, true, true, true, true, true},
		{"G-single", false, false, true, true, true, true, true},
		{"G-nonadjacent", false, false, true, true, true, true, true},
		{"G2-item", false, false, true, false, true, true, true},
		{"G0-process", false, false, false, false, false, true, true},
		{"G1c-process", false, false, false, false, false, true, true},
		{"G-single-process", false, false, false, false, false, true, true},
		{"G2-item-process", false, false, false, false, false, true, true},
		{"G0-realtime", false, false, false, false, false, false, true},
		{"G1c-realtime", false, false, false, false, false, false, true},
		{"G-single-realtime", false, false, false, false, false, false, true},
		{"G2-item-realtime", false, false, false, false, false, false, true},
	}
	for _, r := range rows {
		want := []bool{r.ru, r.rc, r.rr, r.si, r.ser, r.sss, r.strict}
		for i, m := range models {
			got, err := Proscribes(m, r.anomaly)
			if err != nil {
				t.Fatal(err)
			}
			if got != want[i] {
				t.Errorf("Proscribes(%s, %s) = %v, want %v", m, r.anomaly, got, want[i])
			}
		}
	}
	// A list of models forbids what any of them forbids.
	res := check(t, "serializability", Input{Model: "list-append", Options: map[string]any{"consistency": []any{"snapshot-isolation", "repeatable-read"}},
		Ops: []history.Op{
			elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
			elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
		}})
	if res.Status != StatusViolation || !strings.Contains(res.Evidence, "proscribed by snapshot-isolation + repeatable-read") {
		t.Errorf("models list: %s %q", res.Status, res.Evidence)
	}
	// Session SI forbids a stale session read but allows write skew.
	for anomaly, want := range map[string]bool{"G-single-process": true, "G-nonadjacent-process": true, "G2-item": false, "G2-item-process": false} {
		if got, _ := Proscribes("strong-session-snapshot-isolation", anomaly); got != want {
			t.Errorf("strong-session-snapshot-isolation %s = %v, want %v", anomaly, got, want)
		}
	}
	for _, alias := range []string{"PL-3", "conflict-serializable", "PL-SS", "PL-SI", "PL-2", "strong_session_serializable"} {
		if _, err := ProscribedAnomalies(alias); err != nil {
			t.Errorf("%s: %v", alias, err)
		}
	}
	if _, err := ProscribedAnomalies("eventual-ish"); err == nil {
		t.Error("unknown model accepted")
	}
}

// TestSerializabilityErrors: caller mistakes are errors, not verdicts.
func TestSerializabilityErrors(t *testing.T) {
	c, err := Lookup("serializability")
	if err != nil {
		t.Fatal(err)
	}
	good := []history.Op{elleTx("t1", `[["append","x",1]]`)}
	for name, in := range map[string]Input{
		"unknown model":        {Ops: good, Model: "register"},
		"unknown consistency":  {Ops: good, Model: "list-append", Options: map[string]any{"consistency": "mostly-serializable"}},
		"bad budget":           {Ops: good, Model: "list-append", Options: map[string]any{"scc_budget": -3}},
		"consistency number":   {Ops: good, Model: "list-append", Options: map[string]any{"consistency": 3}},
		"empty model list":     {Ops: good, Model: "list-append", Options: map[string]any{"consistency": []any{}}},
		"unknown in list":      {Ops: good, Model: "list-append", Options: map[string]any{"consistency": []any{"serializable", "mostly"}}},
		"bad workload":         {Ops: good, Model: "map", Options: map[string]any{"workload": "set"}},
		"write in list-append": {Ops: []history.Op{elleTx("t1", `[["w","x",1]]`)}, Model: "list-append"},
		"malformed txn":        {Ops: []history.Op{op("t1", "p", "txn", 0, 1, `{"append":1}`, `{"append":1}`)}, Model: "list-append"},
	} {
		if _, err := c.Check(context.Background(), in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestSerializabilityMapModel: plan model "map" takes its workload from
// Options["workload"] or from the micro-ops.
func TestSerializabilityMapModel(t *testing.T) {
	skew := []history.Op{
		elleTx("t1", `[["r","x",null],["r","y",null],["w","x",1]]`),
		elleTx("t2", `[["r","x",null],["r","y",null],["w","y",1]]`),
	}
	appendSkew := []history.Op{
		elleTx("t0", `[["r","x",[]]]`),
		elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
		elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
	}
	for _, tc := range []struct {
		ops  []history.Op
		opts map[string]any
	}{
		{skew, map[string]any{"workload": "rw-register"}},
		{skew, map[string]any{}},
		{appendSkew, map[string]any{"workload": "list-append"}},
		{appendSkew, map[string]any{}},
	} {
		res := check(t, "serializability", Input{Ops: tc.ops, Model: "map", Options: tc.opts})
		if res.Status != StatusViolation || !slices.Equal(elleKinds(res), []string{"G2-item"}) {
			t.Errorf("options %v: status %s anomalies %v", tc.opts, res.Status, elleKinds(res))
		}
	}
	// Reads alone do not tell the workload.
	c, _ := Lookup("serializability")
	if _, err := c.Check(context.Background(), Input{Ops: []history.Op{elleTx("t1", `[["r","x",null]]`)}, Model: "map"}); err == nil {
		t.Error("workload inferred from reads alone")
	}
}

// TestSerializabilityCancel: a cancelled check stops and says unknown.
func TestSerializabilityCancel(t *testing.T) {
	ops := generateElleListAppend(20000, 8, 32, 7)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, _ := Lookup("serializability")
	res, err := c.Check(ctx, Input{Ops: ops, Model: "list-append"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusUnknown || !res.Partial {
		t.Errorf("status %s partial %v, want unknown partial", res.Status, res.Partial)
	}
	if !strings.Contains(res.Evidence, context.Canceled.Error()) {
		t.Errorf("evidence %q", res.Evidence)
	}
}

// TestSerializabilityGenerated: a 10,000-transaction anomaly-free
// history (with aborted and indeterminate transactions) passes under
// every model up to strict serializability; the same history with one
// stale read injected fails strict serializability.
func TestSerializabilityGenerated(t *testing.T) {
	ops := generateElleListAppend(10_000, 10, 32, 42)
	var calls, lastDone, lastTotal int
	monotonic := true
	record := func(done, total int) {
		monotonic = monotonic && done >= lastDone && done <= total
		calls, lastDone, lastTotal = calls+1, done, total
	}
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append",
		Options: map[string]any{"consistency": "strict-serializable"}, Progress: record})
	if res.Status != StatusOK || len(res.Anomalies) != 0 {
		t.Fatalf("status %s, anomalies %v", res.Status, elleKinds(res))
	}
	if !strings.HasPrefix(res.Evidence, "Elle-style check of 10,000 txns over ") || !strings.Contains(res.Evidence, ": 0 anomalies (strict-serializable)") {
		t.Errorf("evidence %q", res.Evidence)
	}
	if res.OpsConsumed != 10_000 || res.OpsTotal != 10_000 || res.Keys < 100 {
		t.Errorf("consumed %d of %d over %d keys", res.OpsConsumed, res.OpsTotal, res.Keys)
	}
	if calls < 4 || !monotonic || lastDone != lastTotal || lastTotal != len(ops) {
		t.Errorf("progress: %d calls, monotonic %v, last %d/%d", calls, monotonic, lastDone, lastTotal)
	}
	for _, m := range []string{"read-committed", "snapshot-isolation", "serializable", "strong-session-serializable"} {
		if r := check(t, "serializability", Input{Ops: ops, Model: "list-append", Options: map[string]any{"consistency": m}}); r.Status != StatusOK {
			t.Errorf("%s: %s %v", m, r.Status, elleKinds(r))
		}
	}

	// Inject a stale read: a read that drops the last element, appended
	// by a transaction that completed before the reader was invoked.
	stale := slices.Clone(ops)
	idx := elleInjectStaleRead(t, stale)
	calls, lastDone = 0, 0
	res = check(t, "serializability", Input{Ops: stale, Model: "list-append",
		Options: map[string]any{"consistency": "strict-serializable"}, Progress: record})
	if calls < 5 || !monotonic || lastDone != len(stale) {
		t.Errorf("progress with a cycle search: %d calls, monotonic %v, last %d", calls, monotonic, lastDone)
	}
	if res.Status != StatusViolation {
		t.Fatalf("stale read at op %s not caught: %s %v", stale[idx].OpID, res.Status, elleKinds(res))
	}
	caught := false
	for _, a := range res.Anomalies {
		if slices.Contains(a.OpIDs, stale[idx].OpID) && strings.HasPrefix(a.Kind, "G-single") {
			caught = true
		}
	}
	if !caught {
		t.Errorf("no G-single cycle through op %s: %v", stale[idx].OpID, elleKinds(res))
	}
}

// TestSerializabilityGeneratedRWRegister: a 10,000-transaction
// anomaly-free rw-register history passes up to strict serializability,
// with enough inferred dependencies to have checked something; with one
// read made stale it fails.
func TestSerializabilityGeneratedRWRegister(t *testing.T) {
	ops := generateElleRWRegister(10_000, 100, 9)
	res := check(t, "serializability", Input{Ops: ops, Model: "rw-register", Options: map[string]any{"consistency": "strict-serializable"}})
	if res.Status != StatusOK {
		t.Fatalf("status %s, anomalies %v", res.Status, elleKinds(res))
	}
	if res.Keys != 100 || !strings.Contains(res.Evidence, "10,000 txns over 100 keys: 0 anomalies (strict-serializable)") {
		t.Errorf("evidence %q", res.Evidence)
	}
	// Make one committed read of a key return the value before the one it
	// read (when that value was itself written by a read-then-write).
	stale := slices.Clone(ops)
	prev := map[string]string{} // "k/v" → the value v overwrote
	done := false
	for i := range stale {
		o := &stale[i]
		if !o.OK() {
			continue
		}
		var mops [][]json.RawMessage
		if err := json.Unmarshal(o.Output, &mops); err != nil {
			t.Fatal(err)
		}
		last := map[string]string{}
		for j, m := range mops {
			k := string(m[1])
			switch string(m[0]) {
			case `"r"`:
				if _, own := last[k]; !own && !done && i > 5000 {
					if p, ok := prev[k+"/"+string(m[2])]; ok && p != "null" {
						mops[j][2] = json.RawMessage(p)
						o.Output, _ = json.Marshal(mops)
						done = true
					}
				}
				last[k] = string(m[2])
			case `"w"`:
				if r, ok := last[k]; ok {
					prev[k+"/"+string(m[2])] = r
				}
				last[k] = string(m[2])
			}
		}
	}
	if !done {
		t.Fatal("no read to make stale")
	}
	res = check(t, "serializability", Input{Ops: stale, Model: "rw-register", Options: map[string]any{"consistency": "strict-serializable"}})
	if res.Status != StatusViolation {
		t.Errorf("stale read not caught: %s %v", res.Status, elleKinds(res))
	}
}

// elleInjectStaleRead rewrites, in place, the first committed read whose last
// element's writer completed before the reader was invoked, dropping that
// element. It returns the reader's index.
func elleInjectStaleRead(t *testing.T, ops []history.Op) int {
	t.Helper()
	completed := map[string]int64{} // "key/value" → when its appender completed
	for i := range ops {
		o := &ops[i]
		if !o.OK() {
			continue
		}
		var mops [][]json.RawMessage
		if err := json.Unmarshal(o.Output, &mops); err != nil {
			t.Fatal(err)
		}
		for _, m := range mops {
			if string(m[0]) == `"append"` {
				completed[string(m[1])+"/"+string(m[2])] = *o.CompleteTS
			}
		}
	}
	for i := 1000; i < len(ops); i++ {
		o := &ops[i]
		if !o.OK() {
			continue
		}
		var mops [][]json.RawMessage
		if err := json.Unmarshal(o.Output, &mops); err != nil {
			t.Fatal(err)
		}
		for _, m := range mops {
			if string(m[0]) != `"r"` {
				continue
			}
			var list []json.RawMessage
			if err := json.Unmarshal(m[2], &list); err != nil || len(list) == 0 {
				continue
			}
			at, ok := completed[string(m[1])+"/"+string(list[len(list)-1])]
			if !ok || at >= *o.InvokeTS {
				continue
			}
			m[2], _ = json.Marshal(list[:len(list)-1])
			out, _ := json.Marshal(mops)
			o.Output = out
			return i
		}
	}
	t.Fatal("no read to make stale")
	return -1
}

// TestSerializabilityKnossosMultiRegister: Knossos' multi-register
// history (:txn of [:read k v] / [:write k v], x and y starting at 0)
// imports through the Jepsen EDN importer as an rw-register history and
// passes.
func TestSerializabilityKnossosMultiRegister(t *testing.T) {
	path := filepath.Join(corpusDir(t), "knossos", "multi-register", "good", "multi-register.edn")
	ops := importFile(t, path, "jepsen-edn")
	if len(ops) == 0 || ops[0].OpType != "txn" || !strings.Contains(string(ops[0].Input), `["read","x",null]`) {
		t.Fatalf("unexpected mapping: %d ops, first %s %s", len(ops), ops[0].OpType, ops[0].Input)
	}
	for _, opts := range []map[string]any{
		{},
		{"initial": 0.0, "consistency": "strict-serializable"},
		{"workload": "rw-register", "initial": 0.0},
	} {
		model := "rw-register"
		if _, ok := opts["workload"]; ok {
			model = "map"
		}
		res := check(t, "serializability", Input{Ops: ops, Model: model, Options: opts})
		if res.Status != StatusOK {
			t.Errorf("options %v: %s %v", opts, res.Status, elleKinds(res))
			for _, a := range res.Anomalies {
				t.Log(a.Description)
			}
		}
		if res.OpsConsumed != len(ops) || res.Keys != 2 {
			t.Errorf("consumed %d of %d, %d keys", res.OpsConsumed, len(ops), res.Keys)
		}
	}
}

// TestSerializabilityWeakHistory: session and real-time models need
// process ids and times; their absence is reported.
func TestSerializabilityWeakHistory(t *testing.T) {
	o := elleTx("t1", `[["append","x",1]]`)
	o.ProcessID, o.InvokeTS = nil, nil
	ops := []history.Op{o}
	for consistency, want := range map[string][]string{
		"serializable":                nil,
		"strong-session-serializable": {FieldProcessID},
		"strict-serializable":         {FieldProcessID, FieldInvokeTS},
	} {
		res := check(t, "serializability", Input{Ops: ops, Model: "list-append", Options: map[string]any{"consistency": consistency}})
		if !slices.Equal(res.Missing, want) {
			t.Errorf("%s: missing %v, want %v", consistency, res.Missing, want)
		}
	}
}

// TestSerializabilityWitnessJSON: results encode as JSON (they travel
// over MCP).
func TestSerializabilityWitnessJSON(t *testing.T) {
	ops := []history.Op{
		elleTx("t1", `[["r","x",[]],["r","y",[]],["append","x",1]]`),
		elleTx("t2", `[["r","x",[]],["r","y",[]],["append","y",1]]`),
		elleTxFailed("t3", `[["append","z",1]]`),
		elleTx("t4", `[["r","z",[1]]]`),
	}
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append"})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"anomaly":"G2-item"`, `"kind":"rw"`, `"aborted_elements":["1"]`, `"proscribed":true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

// TestElleParseMopsFast: the fast micro-op reader agrees with encoding/json
// wherever it accepts, and declines what it cannot read exactly.
func TestElleParseMopsFast(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		lists bool
		fast  bool
	}{
		{`[["append",1,2],["r",1,[1,2]]]`, true, true},
		{` [ [ "append" , "k" , -3 ] , [ "r" , "k" , null ] ] `, true, true},
		{`[["r","k",[]]]`, true, true},
		{`[]`, true, true},
		{`[["w","x",1],["r","x",5],["read","y",null],["write","y","a"]]`, false, true},
		{`[["append",1,2.5]]`, true, false},
		{`[["append",1,1e3]]`, true, false},
		{`[["append","k\"",1]]`, true, false},
		{`[["append","ключ",1]]`, true, false},
		{`[["w","x",{"a":1}]]`, false, false},
		{`[["r","x",[1]]]`, false, false},
		{`[["append",1,007]]`, true, false},
		{`[["append",1,2]] x`, true, false},
		{`[["cas",1,2]]`, true, false},
	} {
		for _, known := range []bool{true, false} {
			fast, ok := parseElleMopsFast([]byte(tc.raw), known, tc.lists, map[string]string{})
			if ok != tc.fast {
				t.Errorf("%s: fast path ok=%v, want %v", tc.raw, ok, tc.fast)
				continue
			}
			if !ok {
				continue
			}
			slow, err := parseElleMops(json.RawMessage(tc.raw), known, tc.lists)
			if err != nil {
				t.Fatalf("%s: %v", tc.raw, err)
			}
			if len(fast) != len(slow) {
				t.Fatalf("%s: %d vs %d mops", tc.raw, len(fast), len(slow))
			}
			for i := range fast {
				f, s := fast[i], slow[i]
				if f.f != s.f || f.key != s.key || f.v != s.v || f.known != s.known || !elleEqual(f.list, s.list) {
					t.Errorf("%s (known %v) mop %d: fast %+v, slow %+v", tc.raw, known, i, f, s)
				}
			}
		}
	}
}

// TestSerializabilitySVG: with a dot binary on the PATH, each cycle's DOT
// file is also rendered to SVG. The binary is a stand-in (Graphviz is a
// boundary we do not own) that records its arguments and writes the
// output file.
func TestSerializabilitySVG(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\n" +
		"echo \"$@\" > \"${0%/*}/args\"\n" +
		"while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then shift; echo '<svg/>' > \"$1\"; fi; shift; done\n"
	if err := os.WriteFile(filepath.Join(bin, "dot"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	dir := t.TempDir()
	ops := []history.Op{
		elleTx("t1", `[["append","x",1],["r","y",[1]]]`),
		elleTx("t2", `[["append","y",1],["r","x",[1]]]`),
	}
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append", ArtifactDir: dir})
	if len(res.Artifacts) != 2 || !strings.HasSuffix(res.Artifacts[0], ".dot") || !strings.HasSuffix(res.Artifacts[1], ".svg") {
		t.Fatalf("artifacts %v", res.Artifacts)
	}
	if _, err := os.Stat(res.Artifacts[1]); err != nil {
		t.Fatal(err)
	}
	args, err := os.ReadFile(filepath.Join(bin, "args"))
	if err != nil || !strings.HasPrefix(string(args), "-Tsvg -o ") {
		t.Errorf("dot ran with %q (%v)", args, err)
	}
}

// TestSerializabilityNothingToCheck: a history without transactions
// proves nothing: unknown, not ok.
func TestSerializabilityNothingToCheck(t *testing.T) {
	ops := []history.Op{op("w1", "p", "write", 0, 1, "1", "")}
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append"})
	if res.Status != StatusUnknown || res.OpsConsumed != 0 || !strings.Contains(res.Evidence, "no transactions") {
		t.Errorf("%s %d %q", res.Status, res.OpsConsumed, res.Evidence)
	}
}

// TestSerializabilityEDN: Jepsen EDN histories (testdata/elle) imported
// through history.Import: keywords become strings, :fail ops aborted
// transactions, :info ops indeterminate ones.
func TestSerializabilityEDN(t *testing.T) {
	for _, tc := range []struct {
		file, model, consistency string
		status                   string
		kinds                    []string
	}{
		{"list-append-g-single.edn", "list-append", "", StatusViolation, []string{"G-single"}},
		{"list-append-ok.edn", "list-append", "strict-serializable", StatusOK, nil},
		{"rw-register-write-skew.edn", "rw-register", "", StatusViolation, []string{"G2-item"}},
		{"rw-register-write-skew.edn", "rw-register", "snapshot-isolation", StatusOK, []string{"G2-item (allowed)"}},
		{"rw-register-write-skew.edn", "map", "snapshot-isolation", StatusOK, []string{"G2-item (allowed)"}},
	} {
		ops := importFile(t, filepath.Join("testdata", "elle", tc.file), "jepsen-edn")
		opts := map[string]any{}
		if tc.consistency != "" {
			opts["consistency"] = tc.consistency
		}
		res := check(t, "serializability", Input{Ops: ops, Model: tc.model, Options: opts})
		if got := elleKinds(res); res.Status != tc.status || !slices.Equal(got, tc.kinds) {
			t.Errorf("%s (%s): %s %v, want %s %v", tc.file, tc.consistency, res.Status, got, tc.status, tc.kinds)
			for _, a := range res.Anomalies {
				t.Log(a.Description)
			}
		}
		if res.OpsConsumed != len(ops) {
			t.Errorf("%s: consumed %d of %d", tc.file, res.OpsConsumed, len(ops))
		}
	}
}

// TestElleClassify: a cycle's class follows from its relations.
func TestElleClassify(t *testing.T) {
	cyc := func(kinds ...elleEdgeMask) []elleStep {
		var steps []elleStep
		for i, k := range kinds {
			steps = append(steps, elleStep{from: int32(i), to: int32((i + 1) % len(kinds)), kind: k})
		}
		return steps
	}
	for _, tc := range []struct {
		steps []elleStep
		want  string
	}{
		{cyc(edgeWW, edgeWW), "G0"},
		{cyc(edgeWW, edgeWR), "G1c"},
		{cyc(edgeWR, edgeWR, edgeWR), "G1c"},
		{cyc(edgeRW, edgeWR), "G-single"},
		{cyc(edgeRW, edgeWW, edgeWR), "G-single"},
		{cyc(edgeRW, edgeWR, edgeRW, edgeWR), "G-nonadjacent"},
		{cyc(edgeRW, edgeRW), "G2-item"},
		{cyc(edgeRW, edgeWR, edgeRW), "G2-item"}, // the last rw wraps onto the first
		{cyc(edgeWW, edgeProcess), "G0-process"},
		{cyc(edgeWR, edgeProcess, edgeRealtime), "G1c-realtime"},
		{cyc(edgeRW, edgeRealtime), "G-single-realtime"},
		{cyc(edgeRW, edgeProcess, edgeRW, edgeWW), "G-nonadjacent-process"},
		{cyc(edgeProcess, edgeRealtime), ""},
	} {
		if got := elleClassify(tc.steps); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.steps, got, tc.want)
		}
	}
}

// TestElleOrderEdges: real-time order goes through a chain of barrier
// nodes, linear in size even when its transitive reduction is quadratic,
// and reaches from a to b exactly when a completed before b was invoked;
// process order is one edge per transaction.
func TestElleOrderEdges(t *testing.T) {
	// Two batches of 1,000: each of the first completes before any of the
	// second starts (a million pairs in real-time order).
	var txns []elleTxn
	for i := range 2000 {
		at := int64(0)
		if i >= 1000 {
			at = 100
		}
		txns = append(txns, elleTxn{op: i, process: strconv.Itoa(i % 1000), hasProc: true, invoke: at, complete: at + 10,
			hasInvoke: true, hasTimes: true, committed: true, state: txnOK})
	}
	edges, virtual := elleOrderEdges(txns)
	var process, realtime int
	for _, e := range edges {
		if e.mask == edgeProcess {
			process++
		} else {
			realtime++
		}
	}
	if process != 1000 || realtime > 3*len(txns) || virtual > len(txns) {
		t.Errorf("batches: %d process edges (want 1,000), %d real-time edges and %d barriers (want linear)", process, realtime, virtual)
	}

	// Random intervals: reachability over the real-time edges equals
	// real-time order.
	rng := rand.New(rand.NewPCG(1, 1))
	txns = txns[:0]
	for i := range 300 {
		inv := rng.Int64N(1000)
		t := elleTxn{op: i, invoke: inv, hasInvoke: true, committed: rng.IntN(10) > 0, state: txnOK}
		if rng.IntN(10) > 0 {
			t.complete, t.hasTimes = inv+rng.Int64N(60), true
		} else {
			t.state = txnInfo
		}
		txns = append(txns, t)
	}
	edges, virtual = elleOrderEdges(txns)
	g := buildElleGraph(len(txns)+virtual, edges)
	for a := range txns {
		reach := make([]bool, g.n)
		stack := []int32{int32(a)}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for e := g.start[v]; e < g.start[v+1]; e++ {
				if w := g.to[e]; !reach[w] {
					reach[w] = true
					stack = append(stack, w)
				}
			}
		}
		for b := range txns {
			ta, tb := &txns[a], &txns[b]
			want := ta.committed && tb.committed && ta.hasTimes && ta.complete < tb.invoke
			if reach[b] != want {
				t.Fatalf("%d [%d, %d] reaches %d [%d, %d]: %v, want %v", a, ta.invoke, ta.complete, b, tb.invoke, tb.complete, reach[b], want)
			}
		}
	}

	// Failed and unobserved indeterminate transactions are not ordered;
	// a process's next transaction follows its last acknowledged one.
	txns = []elleTxn{
		{op: 0, process: "p", hasProc: true, invoke: 0, complete: 5, hasInvoke: true, hasTimes: true, committed: true, state: txnOK},
		{op: 1, process: "p", hasProc: true, invoke: 10, hasInvoke: true, committed: true, state: txnInfo},
		{op: 2, process: "p", hasProc: true, invoke: 20, complete: 25, hasInvoke: true, hasTimes: true, state: txnFailed},
		{op: 3, process: "p", hasProc: true, invoke: 30, complete: 35, hasInvoke: true, hasTimes: true, committed: true, state: txnOK},
	}
	got, virtual := elleOrderEdges(txns)
	want := []elleRawEdge{{0, 1, edgeProcess}, {0, 3, edgeProcess}, {0, 4, edgeRealtime}, {4, 1, edgeRealtime}, {4, 3, edgeRealtime}}
	if !slices.Equal(got, want) || virtual != 1 {
		t.Errorf("edges %v (%d barriers), want %v", got, virtual, want)
	}
}

// TestElleContract: barrier hops fold into one real-time step.
func TestElleContract(t *testing.T) {
	// Real nodes 0-2 and barriers 3 and 4, in a cycle that starts at a
	// barrier: 3 → 4 → 1 (real time), 1 → 2 (rw), 2 → 0 (wr), 0 → 3
	// (real time).
	steps := []elleStep{{3, 4, edgeRealtime}, {4, 1, edgeRealtime}, {1, 2, edgeRW}, {2, 0, edgeWR}, {0, 3, edgeRealtime}}
	got := elleContract(steps, 3)
	want := []elleStep{{1, 2, edgeRW}, {2, 0, edgeWR}, {0, 1, edgeRealtime}}
	if !slices.Equal(got, want) {
		t.Errorf("contract = %v, want %v", got, want)
	}
}

// TestSerializabilityRegistered: the checker is in the registry under its
// name, for its models.
func TestSerializabilityRegistered(t *testing.T) {
	c, err := Lookup("serializability")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Models, []string{"list-append", "map", "rw-register"}) {
		t.Errorf("models %v", c.Models)
	}
	for _, m := range c.Models {
		if !slices.Equal(c.Needs(m), []string{FieldTimeoutMarker}) {
			t.Errorf("Needs(%s) = %v", m, c.Needs(m))
		}
	}
	if c.Needs("register") != nil {
		t.Errorf("Needs of a model it does not check: %v", c.Needs("register"))
	}
	if !slices.Contains(Names(), "serializability") {
		t.Errorf("Names() = %v", Names())
	}
}

// TestSerializabilityCancelMidway: cancellation during the graph work
// stops the check with an unknown verdict.
func TestSerializabilityCancelMidway(t *testing.T) {
	ops := generateElleListAppend(20000, 8, 32, 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := Lookup("serializability")
	res, err := c.Check(ctx, Input{Ops: ops, Model: "list-append", Progress: func(done, total int) {
		if done >= total/2+total/4 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusUnknown || !res.Partial || !strings.Contains(res.Evidence, "stopped") {
		t.Errorf("status %s partial %v evidence %q", res.Status, res.Partial, res.Evidence)
	}
}

// TestSerializabilityManyAnomalies: thousands of anomalies are all
// counted, a hundred of each kind listed.
func TestSerializabilityManyAnomalies(t *testing.T) {
	var ops []history.Op
	for i := range 300 {
		k := strconv.Itoa(i)
		ops = append(ops,
			elleTxFailed("a"+k, `[["append",`+k+`,1]]`),
			elleTx("r"+k, `[["r",`+k+`,[1]]]`))
	}
	res := check(t, "serializability", Input{Ops: ops, Model: "list-append"})
	if res.Status != StatusViolation || len(res.Anomalies) != 100 {
		t.Fatalf("%s, %d anomalies listed", res.Status, len(res.Anomalies))
	}
	for _, want := range []string{"300 anomalies (G1a ×300)", "300 proscribed by serializable", "the first 100 of each kind are listed"} {
		if !strings.Contains(res.Evidence, want) {
			t.Errorf("evidence lacks %q: %s", want, res.Evidence)
		}
	}
}
