package checkers

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// The linear checkers at 1M ops (go test -bench Oracle -benchtime=1x).

const benchOps = 1_000_000

// benchOp builds a bare op quickly (no JSON validation).
func benchOp(i int, process, opType string, invoke, complete int64, input, output string) history.Op {
	return op(strconv.Itoa(i), process, opType, invoke, complete, input, output)
}

func runBench(b *testing.B, name string, in Input) {
	c, err := Lookup(name)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Check(context.Background(), in)
		if err != nil || res.Status != StatusOK || res.OpsConsumed != len(in.Ops) {
			b.Fatalf("%v %s %s", err, res.Status, res.Evidence)
		}
	}
}

func BenchmarkOracleExactlyOnce(b *testing.B) {
	ops := make([]history.Op, 0, benchOps)
	var ledger strings.Builder
	ledger.WriteString("[")
	for i := 0; len(ops) < benchOps; i++ {
		in := `{"idem":"k` + strconv.Itoa(i) + `","amount":1}`
		t := int64(i) * 100
		p := strconv.Itoa(i % 64)
		ops = append(ops, benchOp(len(ops), p, "debit", t, timeout, in, ""), benchOp(len(ops)+1, p, "debit", t+10, t+20, in, ""))
		if i > 0 {
			ledger.WriteString(",")
		}
		ledger.WriteString(`{"idem":"k` + strconv.Itoa(i) + `"}`)
	}
	ledger.WriteString("]")
	runBench(b, "exactly-once", Input{Ops: ops, Model: "ledger", Options: map[string]any{"key_field": "idem", "quiescent": true},
		States: []State{{Kind: StateFinal, Name: "ledger", Data: json.RawMessage(ledger.String())}}})
}

func BenchmarkOracleMonotonicRead(b *testing.B) {
	ops := make([]history.Op, benchOps)
	for i := range ops {
		ver := strconv.Itoa(i / 100)
		ops[i] = keyed("k"+strconv.Itoa(i%1000), benchOp(i, strconv.Itoa(i%100), "read", int64(i)*10, int64(i)*10+5, "", `{"value":1,"version":`+ver+`}`))
	}
	runBench(b, "monotonic-read", Input{Ops: ops, Model: "session"})
}

func BenchmarkOraclePrefix(b *testing.B) {
	ops := make([]history.Op, 0, benchOps)
	for i := range benchOps / 2 {
		ops = append(ops, benchOp(len(ops), "p"+strconv.Itoa(i%10), "enqueue", int64(i)*10, int64(i)*10+5, strconv.Itoa(i), ""))
	}
	for i := range benchOps / 2 {
		ops = append(ops, benchOp(len(ops), "c"+strconv.Itoa(i%10), "dequeue", int64(benchOps+i)*10, int64(benchOps+i)*10+5, "", strconv.Itoa(i)))
	}
	runBench(b, "prefix-order", Input{Ops: ops, Model: "queue"})
}

func BenchmarkOracleCounter(b *testing.B) {
	ops := make([]history.Op, 0, benchOps)
	sum := 0
	for i := range benchOps / 2 {
		t := int64(i) * 100
		ops = append(ops, benchOp(len(ops), strconv.Itoa(i%50), "inc", t, t+10, "1", ""))
		sum++
		ops = append(ops, benchOp(len(ops), "r"+strconv.Itoa(i%50), "read", t+20, t+30, "", strconv.Itoa(sum)))
	}
	runBench(b, "counter", Input{Ops: ops, Model: "counter"})
}

func BenchmarkOracleSet(b *testing.B) {
	ops := make([]history.Op, 0, benchOps)
	var all strings.Builder
	all.WriteString("[")
	for i := range benchOps - 1 {
		ops = append(ops, benchOp(i, strconv.Itoa(i%50), "add", int64(i)*10, int64(i)*10+5, strconv.Itoa(i), ""))
		if i > 0 {
			all.WriteString(",")
		}
		all.WriteString(strconv.Itoa(i))
	}
	all.WriteString("]")
	ops = append(ops, benchOp(benchOps, "r", "read", int64(benchOps)*10, int64(benchOps)*10+5, "", all.String()))
	runBench(b, "set", Input{Ops: ops, Model: "set"})
}
