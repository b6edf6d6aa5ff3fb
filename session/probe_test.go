package session

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func num(v float64) *float64 { return &v }
func cnt(n int) *int         { return &n }

func TestJudge(t *testing.T) {
	r := func(v *float64, m *int) *Reading { return &Reading{Value: v, Matches: m} }
	tests := []struct {
		expect        string
		before, after *Reading
		want          bool
	}{
		{ExpectIncreases, r(num(10), nil), r(num(11), nil), true},
		{ExpectIncreases, r(num(10), nil), r(num(10), nil), false},
		{ExpectIncreases, r(num(10), nil), r(num(9), nil), false},
		{ExpectIncreases, nil, r(num(9), nil), false},
		{ExpectIncreases, r(nil, nil), r(num(9), nil), false},
		{ExpectDecreases, r(num(3), nil), r(num(1), nil), true},
		{ExpectDecreases, r(num(3), nil), r(num(3), nil), false},
		{ExpectBecomesZero, r(num(3), nil), r(num(0), nil), true},
		{ExpectBecomesZero, r(num(0), nil), r(num(0), nil), false}, // already 0: no evidence
		{ExpectBecomesZero, r(num(3), nil), r(num(1), nil), false},
		{ExpectBecomesNonzero, r(num(0), nil), r(num(2), nil), true},
		{ExpectBecomesNonzero, r(num(1), nil), r(num(2), nil), false},
		{ExpectMatches, r(num(0), cnt(0)), r(num(1), cnt(1)), true},
		{ExpectMatches, r(num(1), cnt(1)), r(num(2), cnt(2)), false}, // matched already
		{ExpectMatches, r(num(0), cnt(0)), r(num(0), cnt(0)), false},
		{ExpectStopsMatching, r(num(1), cnt(1)), r(num(0), cnt(0)), true},
		{ExpectStopsMatching, r(num(1), cnt(1)), r(num(1), cnt(1)), false},
		{ExpectChanges, r(num(1), nil), r(num(2), nil), true},
		{ExpectChanges, r(num(1), nil), r(num(1), nil), false},
		{ExpectChanges, &Reading{Raw: "leader n1"}, &Reading{Raw: "leader n2"}, true},
		{ExpectChanges, &Reading{Raw: "leader n1"}, &Reading{Raw: "leader n1"}, false},
		{ExpectIncreases, &Reading{Error: "timeout"}, r(num(2), nil), false},
		{ExpectIncreases, r(num(1), nil), &Reading{Error: "timeout"}, false},
	}
	for _, tt := range tests {
		got, why := judge(tt.expect, tt.before, tt.after)
		if got != tt.want {
			t.Errorf("judge(%q, %v, %v) = %t (%s), want %t", tt.expect, tt.before, tt.after, got, why, tt.want)
		}
		if why == "" {
			t.Errorf("judge(%q) gave no reason", tt.expect)
		}
	}
}

func TestProbeValidate(t *testing.T) {
	tests := []struct {
		name  string
		probe Probe
		want  string // error substring; "" = valid
	}{
		{"command", Probe{Command: []string{"cat", "x"}, Expect: "increases"}, ""},
		{"file", Probe{File: "log", Pattern: "x", Expect: "becomes_nonzero"}, ""},
		{"url", Probe{URL: "http://127.0.0.1:9/metrics", Metric: `drops_total{dir="in"}`, Expect: "increases"}, ""},
		{"nothing", Probe{Expect: "increases"}, "exactly one"},
		{"two", Probe{Command: []string{"x"}, File: "f", Pattern: "p", Expect: "increases"}, "exactly one"},
		{"file without pattern", Probe{File: "f", Expect: "increases"}, "probe.pattern"},
		{"bad regexp", Probe{File: "f", Pattern: "(", Expect: "increases"}, "probe.pattern"},
		{"two groups", Probe{File: "f", Pattern: "(a)(b)", Expect: "increases"}, "capture group"},
		{"bad expect", Probe{File: "f", Pattern: "a", Expect: "goes up"}, "probe.expect"},
		{"matches needs pattern", Probe{Command: []string{"x"}, Expect: "matches"}, "needs probe.pattern"},
		{"url without metric", Probe{URL: "http://x/", Expect: "increases"}, "probe.metric"},
		{"file url", Probe{URL: "file:///etc/passwd", Metric: "x", Expect: "increases"}, "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.probe
			err := p.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if !contains(Expectations(), p.Expect) {
					t.Fatalf("expect not normalized: %q", p.Expect)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestProbeReadFile(t *testing.T) {
	w, outside := newTestWorkspace(t)
	log := "sut.log"
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(w.Root(), log), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pr := newProber(w)
	ctx := context.Background()

	got := pr.read(ctx, Probe{File: log, Pattern: "partitioned"})
	if got.Error != "" || got.Value == nil || *got.Value != 0 || *got.Matches != 0 {
		t.Fatalf("missing file: %+v", got)
	}
	write("ok\nnode n2 partitioned from n1\nok\npartitioned again partitioned\n")
	got = pr.read(ctx, Probe{File: log, Pattern: "partitioned"})
	if got.Error != "" || *got.Value != 3 || !strings.Contains(got.Raw, "again") {
		t.Fatalf("count: %+v", got)
	}
	write("term=3\nterm=4\nterm=17 leader=n2\n")
	got = pr.read(ctx, Probe{File: log, Pattern: `term=(\d+)`})
	if got.Error != "" || got.Value == nil || *got.Value != 17 || *got.Matches != 3 {
		t.Fatalf("capture: %+v", got)
	}
	got = pr.read(ctx, Probe{File: filepath.Join(outside, "secret"), Pattern: "s"})
	if !strings.Contains(got.Error, "escapes") {
		t.Fatalf("file outside the workspace was read: %+v", got)
	}
}

func TestProbeReadCommand(t *testing.T) {
	w, _ := newTestWorkspace(t)
	if err := os.WriteFile(filepath.Join(w.Root(), "n"), []byte("dropped packets: 1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pr := newProber(w)
	ctx := context.Background()
	got := pr.read(ctx, Probe{Command: []string{"cat", "n"}})
	if got.Error != "" || got.Value == nil || *got.Value != 1234 || *got.ExitCode != 0 {
		t.Fatalf("cat: %+v", got)
	}
	// Never through a shell: the metacharacters reach echo as text.
	got = pr.read(ctx, Probe{Command: []string{"echo", "$HOME;", "echo", "99"}})
	if got.Raw != "$HOME; echo 99\n" || *got.Value != 99 {
		t.Fatalf("argv went through a shell: %+v", got)
	}
	// A failing exit status is recorded, the output still read.
	got = pr.read(ctx, Probe{Command: []string{"cat", "missing-file"}})
	if got.Error != "" || got.ExitCode == nil || *got.ExitCode == 0 {
		t.Fatalf("exit status not recorded: %+v", got)
	}
	got = pr.read(ctx, Probe{Command: []string{"/no/such/program"}})
	if got.Error == "" {
		t.Fatalf("missing program: %+v", got)
	}
	// Output is capped.
	big := strings.Repeat("x", 3*probeOutputCap)
	if err := os.WriteFile(filepath.Join(w.Root(), "big"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	got = pr.read(ctx, Probe{Command: []string{"cat", "big"}})
	if len(got.Raw) != probeOutputCap || !strings.Contains(got.Note, "capped") {
		t.Fatalf("output not capped: %d bytes, note %q", len(got.Raw), got.Note)
	}
	// Cancellation ends a slow command.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	got = pr.read(cctx, Probe{Command: []string{"sleep", "5"}})
	if got.Error == "" || time.Since(start) > 3*time.Second {
		t.Fatalf("sleep not cancelled: %+v after %v", got, time.Since(start))
	}
}

func TestProbeReadMetric(t *testing.T) {
	var drops int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# HELP drops_total dropped packets\n# TYPE drops_total counter\n")
		fmt.Fprintf(w, "drops_total{dir=\"in\",iface=\"eth0\"} %d\n", drops)
		fmt.Fprintf(w, "drops_total{dir=\"out\",iface=\"eth0\"} 5 1700000000000\n")
		fmt.Fprintf(w, "drops_total_created 1.7e9\nup 1\n")
	}))
	defer srv.Close()
	w, _ := newTestWorkspace(t)
	pr := newProber(w)
	ctx := context.Background()
	tests := []struct {
		metric string
		want   float64
	}{
		{"drops_total", 5},
		{`drops_total{dir="in"}`, 0},
		{`drops_total{dir="out"}`, 5},
		{"absent_total", 0},
		{"up", 1},
	}
	for _, tt := range tests {
		got := pr.read(ctx, Probe{URL: srv.URL, Metric: tt.metric})
		if got.Error != "" || got.Value == nil || *got.Value != tt.want {
			t.Errorf("%s: %+v, want %v", tt.metric, got, tt.want)
		}
	}
	before := pr.read(ctx, Probe{URL: srv.URL, Metric: `drops_total{dir="in"}`})
	drops = 40
	after := pr.read(ctx, Probe{URL: srv.URL, Metric: `drops_total{dir="in"}`})
	if ok, why := judge(ExpectIncreases, before, after); !ok {
		t.Fatalf("increase not seen: %s", why)
	}
	srv.Close()
	got := pr.read(ctx, Probe{URL: srv.URL, Metric: "up"})
	if got.Error == "" {
		t.Fatalf("closed server read without error: %+v", got)
	}
}
