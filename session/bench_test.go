package session

import (
	"context"
	"fmt"
	"testing"

	"github.com/falsify-dev/falsify/history"
)

// BenchmarkRecordOps measures one durable record_op call (validation,
// journal append + fsync, history.jsonl append + fsync) for batches of 1
// and 1,000 ops.
func BenchmarkRecordOps(b *testing.B) {
	for _, size := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			w, err := OpenWorkspace(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			m := NewManager(w)
			defer m.Close()
			sess, err := m.createSession("bench", "testing-plans/bench.md", "", nil)
			if err != nil {
				b.Fatal(err)
			}
			s, _ := m.session(sess.ID)
			run, err := m.createRun(s, factRun{Scenario: "S1", Seed: "1", Tier: "smoke"})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			batches := make([][]history.Op, b.N)
			for n := range batches {
				batch := make([]history.Op, size)
				for i := range batch {
					ts := int64(n*size+i) * 10
					batch[i] = writeOp(fmt.Sprintf("%d-%d", n, i), ts, ts+5, i)
				}
				batches[n] = batch
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				acc, rej, err := m.RecordOps(ctx, run.ID, batches[n])
				if err != nil || acc != size || len(rej) != 0 {
					b.Fatalf("accepted %d of %d, rejected %v, %v", acc, size, rej, err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
