package history

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// registerOp is an imported etcd register op decoded once for the model.
type registerOp struct {
	f             string
	from, to      int
	read          *int // nil: the key did not exist
	failed        bool // a :fail cas: the comparison did not hold
	indeterminate bool
}

// registerNil is the state of a register that was never written.
const registerNil = math.MinInt64

// registerModel is porcupine's etcd register model over imported ops. An
// indeterminate op may or may not have taken effect.
var registerModel = porcupine.Model{
	Init: func() interface{} { return registerNil },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int)
		op := input.(registerOp)
		switch op.f {
		case "read":
			switch {
			case op.indeterminate:
				return true, st
			case op.read == nil:
				return st == registerNil, st
			}
			return *op.read == st, st
		case "write":
			return true, op.from
		}
		switch {
		case op.indeterminate && st == op.from:
			return true, op.to
		case op.indeterminate:
			return true, st
		case op.failed:
			return st != op.from, st
		}
		return st == op.from, op.to
	},
}

// TestImportJepsenLogLinearizability checks every imported etcd log with
// Porcupine against the verdicts porcupine_test.go expects. A wrong pairing,
// timestamp, or outcome (:info as a failure, a lost timeout) breaks it. It
// holds both with Jepsen's reading of :fail (no effect: the op is dropped)
// and with porcupine's own (a cas that returned false).
func TestImportJepsenLogLinearizability(t *testing.T) {
	dir := porcupineTestData(t)
	src, err := os.ReadFile(filepath.Join(dir, "..", "porcupine_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{}
	for _, m := range regexp.MustCompile(`checkJepsen\(t, (\d+), (true|false)\)`).FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[1])
		want[n] = m[2] == "true"
	}
	if len(want) != 102 {
		t.Fatalf("porcupine_test.go lists %d etcd verdicts, want 102", len(want))
	}
	for _, keepFailedCAS := range []bool{false, true} {
		for n, linearizable := range want {
			imp := importFile(t, filepath.Join(dir, "jepsen", fmt.Sprintf("etcd_%03d.log", n)), "jepsen-log")
			var ops []porcupine.Operation
			for _, op := range imp.Ops {
				if op.Failed() && !(keepFailedCAS && op.OpType == "cas") {
					continue
				}
				r := registerOp{f: op.OpType, failed: op.Failed(), indeterminate: op.Indeterminate()}
				switch op.OpType {
				case "write":
					err = json.Unmarshal(op.Input, &r.from)
				case "cas":
					var args [2]int
					err = json.Unmarshal(op.Input, &args)
					r.from, r.to = args[0], args[1]
				case "read":
					if op.Output != nil {
						r.read = new(int)
						err = json.Unmarshal(op.Output, r.read)
					}
				}
				if err != nil {
					t.Fatalf("etcd_%03d op %s: %v", n, op.OpID, err)
				}
				ret := int64(math.MaxInt64)
				if op.CompleteTS != nil {
					ret = *op.CompleteTS
				}
				client, _ := strconv.Atoi(*op.ProcessID)
				ops = append(ops, porcupine.Operation{ClientId: client, Input: r, Call: *op.InvokeTS, Return: ret})
			}
			res := porcupine.CheckOperationsTimeout(registerModel, ops, time.Minute)
			if (res == porcupine.Ok) != linearizable || res == porcupine.Unknown {
				t.Errorf("etcd_%03d (failed cas kept: %v): porcupine says %v, porcupine_test.go expects linearizable=%v",
					n, keepFailedCAS, res, linearizable)
			}
		}
	}
}
