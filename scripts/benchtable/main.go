// Command benchtable reads "go test -bench" output on stdin and prints one
// Markdown table: each falsify figure next to the reference measured in
// the same run, and their ratio.
//
// A benchmark named …/falsify is paired with its siblings (same name up
// to the last slash): …/porcupine, …/decode, …/import, …/server_info.
// A benchmark without siblings gets a row of its own. The figure shown
// depends on the metrics reported: latency (ms/call-p50, ms/call-p99),
// memory (peak-B/op), throughput (ops/s) or time per iteration.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// result is one benchmark line.
type result struct {
	name    string             // without the -GOMAXPROCS suffix
	oneCore bool               // run with GOMAXPROCS 1 (no suffix)
	metrics map[string]float64 // unit → value, "ns/op" included
}

// row is one line of the table.
type row struct {
	bench, falsify, reference, ratio string
}

// refNames says what each reference is.
var refNames = map[string]string{
	"porcupine":   "Porcupine called directly",
	"decode":      "history.ReadJSONL decode (floor)",
	"import":      "import alone (floor)",
	"server_info": "server_info no-op tool (floor)",
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	header, results, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on stdin")
		os.Exit(1)
	}
	if header != "" {
		fmt.Println(header)
		fmt.Println()
	}
	fmt.Println("| benchmark | falsify | reference | ratio |")
	fmt.Println("|---|---|---|---|")
	for _, r := range table(results) {
		fmt.Printf("| %s | %s | %s | %s |\n", r.bench, r.falsify, r.reference, r.ratio)
	}
}

// parse reads benchmark lines (name, iterations, value-unit pairs) and the
// cpu line.
func parse(r io.Reader) (string, []result, error) {
	var cpu string
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "cpu: "); ok && cpu == "" {
			cpu = "cpu: " + strings.TrimSpace(c)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		res := result{name: procSuffix.ReplaceAllString(f[0], ""), metrics: map[string]float64{}}
		res.oneCore = res.name == f[0] || strings.HasSuffix(f[0], "-1")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return "", nil, fmt.Errorf("%s: value %q: %v", f[0], f[i], err)
			}
			res.metrics[f[i+1]] = v
		}
		out = append(out, res)
	}
	return cpu, out, sc.Err()
}

// table pairs each …/falsify result with its siblings; rows follow the
// input order.
func table(results []result) []row {
	hasFalsify := map[string]bool{}
	for _, r := range results {
		if prefix, leaf := split(r.name); leaf == "falsify" {
			hasFalsify[prefix] = true
		}
	}
	var rows []row
	used := map[string]bool{}
	for _, r := range results {
		if used[r.name] {
			continue
		}
		prefix, leaf := split(r.name)
		if leaf != "falsify" && hasFalsify[prefix] {
			continue // paired when its …/falsify comes
		}
		used[r.name] = true
		if leaf != "falsify" {
			bench := strings.TrimPrefix(r.name, "Benchmark")
			if r.oneCore {
				bench += " (one core)"
			}
			rows = append(rows, row{bench: bench, falsify: figure(r), reference: "—", ratio: "—"})
			continue
		}
		paired := false
		for _, s := range results {
			sp, sl := split(s.name)
			if sp != prefix || sl == "falsify" || used[s.name] {
				continue
			}
			used[s.name] = true
			paired = true
			rows = append(rows, compare(prefix, sl, r, s))
		}
		if !paired {
			rows = append(rows, row{bench: prefix, falsify: figure(r), reference: "—", ratio: "—"})
		}
	}
	return rows
}

// split returns a benchmark name's prefix (without "Benchmark") and its
// last element.
func split(name string) (string, string) {
	name = strings.TrimPrefix(name, "Benchmark")
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}

// compare builds the row of f against its reference s.
func compare(bench, refLeaf string, f, s result) row {
	what := refNames[refLeaf]
	if what == "" {
		what = refLeaf
	}
	r := row{bench: bench, falsify: figure(f), reference: figure(s) + " — " + what}
	switch {
	case has(f, "ms/call-p50") && has(s, "ms/call-p50"):
		r.ratio = fmt.Sprintf("%.2f× p50, %.2f× p99", f.metrics["ms/call-p50"]/s.metrics["ms/call-p50"],
			f.metrics["ms/call-p99"]/s.metrics["ms/call-p99"])
	case has(f, "peak-B/op") && has(s, "peak-B/op"):
		r.ratio = fmt.Sprintf("%.2f×", f.metrics["peak-B/op"]/s.metrics["peak-B/op"])
	default:
		r.ratio = fmt.Sprintf("%.2f×", f.metrics["ns/op"]/s.metrics["ns/op"])
	}
	return r
}

func has(r result, unit string) bool {
	_, ok := r.metrics[unit]
	return ok
}

// figure is a result's headline number.
func figure(r result) string {
	m := r.metrics
	switch {
	case has(r, "ms/call-p50"):
		return fmt.Sprintf("p50 %s, p99 %s", ms(m["ms/call-p50"]), ms(m["ms/call-p99"]))
	case has(r, "peak-B/op"):
		return fmt.Sprintf("%.0f B/op peak RSS (history file %.0f B/op)", m["peak-B/op"], m["file-B/op"])
	case has(r, "ops/s"):
		return fmt.Sprintf("%s (%s ops/s)", duration(m["ns/op"]), si(m["ops/s"]))
	}
	return duration(m["ns/op"])
}

// duration formats nanoseconds.
func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// si formats a rate with k / M.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
