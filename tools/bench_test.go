package tools_test

import (
	"fmt"
	"testing"

	"github.com/falsify-dev/falsify/tools"
)

// BenchmarkRecordOp measures history ingest through the MCP surface
// (in-process client → record_op → session journal, fsync'd per batch):
// ops/s is reported per batch size.
func BenchmarkRecordOp(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f := newFlow(b)
			_, run := f.startRun("1")
			next := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ops := make([]map[string]any, batch)
				for j := range ops {
					ts := int64(next) * 1000
					ops[j] = map[string]any{
						"op_id": fmt.Sprintf("o%d", next), "process_id": fmt.Sprintf("p%d", next%8),
						"invoke_ts": ts, "complete_ts": ts + 500, "op_type": "write", "key": fmt.Sprintf("k%d", next%16), "input": next,
					}
					next++
				}
				var rec tools.RecordOpResult
				f.ok("record_op", map[string]any{"run": run, "ops": ops}, &rec)
				if rec.Accepted != batch {
					b.Fatalf("accepted %d of %d: %+v", rec.Accepted, batch, rec.Rejected)
				}
			}
			b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
