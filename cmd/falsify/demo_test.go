package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
)

// TestDemo runs `falsify demo` end to end (in-process) and asserts every
// verdict it must reach, the session verdicts, the reports, Porcupine's
// visualisations and the reductions; then regenerates the reports with
// `falsify report`.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := runDemo(ctx, demoOptions{Dir: dir, Out: &out})
	t.Logf("demo took %s; output:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}

	// Every scenario verdict, by build, as SPEC §6 must derive them.
	want := map[string]string{
		"none S1":       "PASS-smoke",
		"none S2":       "PASS-hardening",
		"lost-ack S2":   "FAIL-reproducible",
		"stale-read S1": "FAIL-reproducible",
	}
	got := map[string]string{}
	for _, r := range res.Rows {
		got[r.Build+" "+r.Scenario] = r.Verdict
		if r.Evidence == "" {
			t.Errorf("%s %s: no evidence line", r.Build, r.Scenario)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: verdict %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("verdicts %v, want exactly %v", got, want)
	}
	wantSession := map[string]string{"none": "DONE", "lost-ack": "FAIL", "stale-read": "FAIL"}
	if len(res.Sessions) != len(wantSession) {
		t.Fatalf("%d sessions, want %d", len(res.Sessions), len(wantSession))
	}
	for _, s := range res.Sessions {
		if s.Verdict != wantSession[s.Build] {
			t.Errorf("session %s (%s): %s, want %s", s.ID, s.Build, s.Verdict, wantSession[s.Build])
		}
		report, err := os.ReadFile(s.Report)
		if err != nil {
			t.Fatalf("report of %s: %v", s.Build, err)
		}
		if !strings.Contains(string(report), "**Session verdict: "+wantSession[s.Build]+"**") {
			t.Errorf("report of %s does not state the session verdict %s:\n%.400s", s.Build, wantSession[s.Build], report)
		}
		if wantSession[s.Build] == "FAIL" {
			for _, w := range []string{"FAIL-reproducible", "**Blame class:** SUT", "**Reduction:** reduced from", "**Severity:** P0"} {
				if !strings.Contains(string(report), w) {
					t.Errorf("FAIL report of %s lacks %q", s.Build, w)
				}
			}
		}
		for _, p := range []string{s.JUnit, s.Summary} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: %v", s.Build, err)
			}
		}
	}
	if len(res.Mismatches) > 0 {
		t.Errorf("mismatches: %v", res.Mismatches)
	}

	// Porcupine's visualisation of each violating run.
	if len(res.Visualisations) < 2 {
		t.Errorf("visualisations %v: want one per violating run (≥ 2)", res.Visualisations)
	}
	for _, v := range res.Visualisations {
		b, err := os.ReadFile(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(bytes.ToLower(b), []byte("<html")) {
			t.Errorf("%s is not HTML", v)
		}
		if !strings.Contains(out.String(), v) {
			t.Errorf("visualisation path %s not printed", v)
		}
	}

	// The reductions: small, still violating, each fault-free history
	// explained by its own writes.
	var reduced []string
	for _, p := range res.Reductions {
		if filepath.Base(p) == checkers.ReducedHistoryFile {
			reduced = append(reduced, p)
		}
	}
	if len(reduced) != 2 {
		t.Fatalf("reduced histories %v: want one per failing build", res.Reductions)
	}
	lz, err := checkers.Lookup("linearizability")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range reduced {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		ops, err := history.ReadJSONL(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) < 2 || len(ops) > 10 {
			t.Errorf("%s: %d ops; want a small reduction of at least a write and a read", p, len(ops))
		}
		r, err := lz.Check(ctx, checkers.Input{Ops: ops, Model: "kv"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != checkers.StatusViolation {
			t.Errorf("%s: the reduced history is %s, want a violation", p, r.Status)
		}
		var rec checkers.Reduction
		b, err := os.ReadFile(filepath.Join(filepath.Dir(p), checkers.ReductionFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if !rec.Reproduced || !rec.Minimal || rec.To != len(ops) || !strings.HasPrefix(rec.Record, "reduced from ") {
			t.Errorf("%s: reduction %+v", p, rec)
		}
	}

	// falsify report regenerates the exports from the journal; its exit
	// status follows the session verdict.
	for _, s := range res.Sessions {
		sessionDir := filepath.Dir(filepath.Dir(s.Report))
		if err := os.Remove(s.JUnit); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"report", sessionDir}, strings.NewReader(""), &stdout, &stderr)
		wantCode := exitOK
		if s.Verdict != "DONE" {
			wantCode = exitFindings
		}
		if code != wantCode || !strings.Contains(stdout.String(), s.ID+": "+s.Verdict) {
			t.Errorf("falsify report %s: exit %d (want %d), stdout %q, stderr %q", sessionDir, code, wantCode, stdout.String(), stderr.String())
		}
		b, err := os.ReadFile(s.JUnit)
		if err != nil {
			t.Fatalf("junit.xml not regenerated: %v", err)
		}
		var suites struct {
			Failures int `xml:"failures,attr"`
		}
		if err := xml.Unmarshal(b, &suites); err != nil {
			t.Fatalf("junit.xml: %v", err)
		}
		if (suites.Failures > 0) != (s.Verdict == "FAIL") {
			t.Errorf("%s: junit failures=%d for a %s session", s.Build, suites.Failures, s.Verdict)
		}
	}
}

// TestReportUsage checks falsify report's argument errors.
func TestReportUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "takes one argument"},
		{[]string{"report", t.TempDir()}, "not a test-sessions/<plan-slug>/<UTC timestamp> directory"},
		{[]string{"report", filepath.Join(t.TempDir(), "test-sessions", "x", "20260101T000000Z")}, "session dir"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", tc.args, code, stderr.String(), exitUsage, tc.want)
		}
	}
}
