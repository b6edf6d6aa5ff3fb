package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// BenchmarkStdio drives a real "falsify serve" child process over stdio
// with mcp-go's stdio client, as an agent does, and reports the median
// and p99 latency of one tools/call: record_op with batches of 1 and 1,000
// ops (…/falsify: validation, journal append and fsync, history append
// and fsync), each next to server_info on the same server (…/server_info:
// a tool that does no work, the protocol floor).
func BenchmarkStdio(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "falsify")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	root := b.TempDir()
	plan, err := os.ReadFile(filepath.Join("..", "..", "plan", "testdata", "kvstore.md"))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "testing-plans"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testing-plans", "kvr-replication.md"), plan, 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := client.NewStdioMCPClient(bin, nil, "serve", "--root", root, "--log-level", "warn")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "falsify-bench", Version: "0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		b.Fatal(err)
	}
	var sess struct {
		Session struct{ ID string } `json:"session"`
	}
	callTool(b, c, "start_session", map[string]any{"plan": "kvr-replication"}, &sess)
	var run struct {
		Run struct{ ID string } `json:"run"`
	}
	callTool(b, c, "start_run", map[string]any{"session": sess.Session.ID, "scenario": "S1", "seed": "1", "tier": "smoke"}, &run)
	if run.Run.ID == "" {
		b.Fatal("start_run returned no run id")
	}

	next := 0 // op ids are unique across the run
	batch := func(n int) []map[string]any {
		ops := make([]map[string]any, n)
		for i := range ops {
			ts := int64(next) * 1000
			ops[i] = map[string]any{
				"op_id": fmt.Sprintf("o%d", next), "process_id": fmt.Sprintf("p%d", next%8), "invoke_ts": ts, "complete_ts": ts + 500,
				"op_type": "write", "key": fmt.Sprintf("k%d", next%16), "input": next,
			}
			next++
		}
		return ops
	}
	for _, size := range []int{1, 1000} {
		name := fmt.Sprintf("record_op-%d", size)
		b.Run(name+"/falsify", func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				b.StopTimer()
				args := map[string]any{"run": run.Run.ID, "ops": batch(size)}
				b.StartTimer()
				start := time.Now()
				var rec struct{ Accepted int }
				callTool(b, c, "record_op", args, &rec)
				lat = append(lat, time.Since(start))
				if rec.Accepted != size {
					b.Fatalf("accepted %d of %d", rec.Accepted, size)
				}
			}
			reportLatency(b, lat)
			b.ReportMetric(float64(size*len(lat))/total(lat).Seconds(), "ops/s")
		})
		b.Run(name+"/server_info", func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				var info struct{ Tools int }
				callTool(b, c, "server_info", map[string]any{}, &info)
				lat = append(lat, time.Since(start))
				if info.Tools == 0 {
					b.Fatal("server_info: no tools")
				}
			}
			reportLatency(b, lat)
		})
	}
}

// callTool calls a tool and decodes its structured content into v,
// failing the benchmark on a protocol error or an isError result.
func callTool(b *testing.B, c *client.Client, name string, args map[string]any, v any) {
	b.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		b.Fatalf("%s: isError: %+v", name, res.Content)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.Fatalf("%s: %s: %v", name, raw, err)
	}
}

// reportLatency reports the median and 99th percentile of lat in ms.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(q float64) float64 { // nearest rank
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return float64(s[max(0, i)]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), "ms/call-p50")
	b.ReportMetric(at(0.99), "ms/call-p99")
}

// total returns the sum of ds.
func total(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}
