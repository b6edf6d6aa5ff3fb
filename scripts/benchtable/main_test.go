package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
cpu: AMD EPYC
BenchmarkLinearCheckers/set/decode-2     	       1	 500000000 ns/op	 308.55 MB/s	   2000000 ops/s	390845936 B/op	 1004142 allocs/op
BenchmarkLinearCheckers/set/falsify-2    	       1	1000000000 ns/op	   1000000 ops/s	416562088 B/op	 4004191 allocs/op
BenchmarkSerializability100k 	       1	1700000000 ns/op	449922240 B/op	 1609617 allocs/op
BenchmarkPeakRSS/falsify-2         	       1	3638731618 ns/op	       207.9 file-B/op	       900 peak-B/op
BenchmarkPeakRSS/import-2          	       1	2616979057 ns/op	       207.9 file-B/op	       600 peak-B/op
BenchmarkStdio/record_op-1/falsify-2     	     200	   1136459 ns/op	         1.0 ms/call-p50	         5.0 ms/call-p99	       880.4 ops/s
BenchmarkStdio/record_op-1/server_info-2 	     200	    372520 ns/op	         0.25 ms/call-p50	         2.5 ms/call-p99
BenchmarkOrphan/falsify-2 	     1	    1000 ns/op
--- FAIL: BenchmarkBroken
ok  	github.com/falsify-dev/falsify/checkers	7.295s
`

func TestTable(t *testing.T) {
	cpu, results, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != "cpu: AMD EPYC" || len(results) != 8 {
		t.Fatalf("cpu %q, %d results", cpu, len(results))
	}
	want := []row{
		{"LinearCheckers/set", "1.00 s (1.00 M ops/s)", "500.0 ms (2.00 M ops/s) — history.ReadJSONL decode (floor)", "2.00×"},
		{"Serializability100k (one core)", "1.70 s", "—", "—"},
		{"PeakRSS", "900 B/op peak RSS (history file 208 B/op)", "600 B/op peak RSS (history file 208 B/op) — import alone (floor)", "1.50×"},
		{"Stdio/record_op-1", "p50 1.00 ms, p99 5.00 ms", "p50 0.25 ms, p99 2.50 ms — server_info no-op tool (floor)", "4.00× p50, 2.00× p99"},
		{"Orphan", "1 µs", "—", "—"},
	}
	got := table(results)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestParseRejectsBadValue(t *testing.T) {
	if _, _, err := parse(strings.NewReader("BenchmarkX-2 1 abc ns/op\n")); err == nil {
		t.Error("parse accepted a value that is not a number")
	}
}
