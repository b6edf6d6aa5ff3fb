package tools_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falsify-dev/falsify/tools"
)

// TestFinishSession finishes sessions through MCP: one where nothing ran
// (BLOCKED), one with a FAIL carrying a reproducer (FAIL) and its
// repaired twin, whose single short run misses the smoke budget
// (PARTIAL-model, so no PASS: INCONCLUSIVE). It checks the verdict, the
// per-scenario rows, the files and the links.
func TestFinishSession(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lastRead int // 0: no run
		verdict  string
		s1       string
	}{
		{"nothing ran", 0, "BLOCKED", ""},
		{"stale read", 1, "FAIL", "FAIL-nondeterministic"},
		{"repaired", 2, "INCONCLUSIVE", "PARTIAL-model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t)
			var sessionID string
			if tc.lastRead == 0 {
				var ss tools.StartSessionResult
				f.ok("start_session", map[string]any{"plan": "kvr-replication"}, &ss)
				sessionID = ss.Session.ID
			} else {
				var run string
				sessionID, run = f.startRun("3")
				var rec tools.RecordOpResult
				f.ok("record_op", map[string]any{"run": run, "ops": staleRegister(time.Now().UnixNano(), tc.lastRead)}, &rec)
				var cr tools.RunCheckerResult
				f.ok("run_checker", map[string]any{"run": run, "checker": "linearizability"}, &cr)
				args := map[string]any{"session": sessionID, "scenario": "S1"}
				if tc.lastRead == 1 {
					args["finding"] = map[string]any{"reproducer": "seed 3, the recorded history", "reduction": "not reduced", "blame_class": "SUT",
						"taxdc_type": "ordering", "severity": "P0", "evidence_links": []string{"artifacts/R1/history.jsonl"},
						"root_cause": "backup read before apply", "owner": "replication", "next_action": "re-run with the same seed"}
				}
				var av tools.AssignVerdictResult
				f.ok("assign_verdict", args, &av)
				if av.Verdict != tc.s1 {
					t.Fatalf("assign_verdict: %s, want %s: %v", av.Verdict, tc.s1, av.Decision.Reasons)
				}
			}
			res := call(t, f.c, "finish_session", map[string]any{"session": sessionID, "notes": "we have not observed a stale read on seed 3"})
			var fin tools.FinishSessionResult
			decode(t, "finish_session", res, &fin)
			if fin.Verdict != tc.verdict || fin.Headline == "" || len(fin.Rule) == 0 {
				t.Fatalf("finish_session: %+v", fin)
			}
			if len(fin.Scenarios) != 6 { // S1, S2, S3, S4/api, S4/export, S5
				t.Fatalf("scenario rows %+v: want one per scenario or arm of the plan", fin.Scenarios)
			}
			for _, sc := range fin.Scenarios {
				switch {
				case sc.ID == "S1" && tc.s1 != "":
					if sc.Verdict != tc.s1 || !sc.Assigned || len(sc.Evidence) == 0 {
						t.Errorf("S1 row %+v: want %s, assigned, with checker evidence", sc, tc.s1)
					}
				case sc.Verdict != "NOT-RUN" && sc.Verdict != "INCONCLUSIVE-env":
					t.Errorf("%s row %+v: nothing ran, want NOT-RUN or INCONCLUSIVE-env", sc.ID, sc)
				}
			}
			report, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(fin.Report)))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(report), "**Session verdict: "+tc.verdict+"**") || !strings.Contains(string(report), "we have not observed a stale read") {
				t.Errorf("report.md does not state the verdict and notes:\n%.600s", report)
			}
			for _, p := range []string{fin.Log, fin.JUnit, fin.Summary} {
				if _, err := os.Stat(filepath.Join(f.root, filepath.FromSlash(p))); err != nil {
					t.Errorf("%v", err)
				}
				if !hasLink(res, tools.SessionURI(p)) {
					t.Errorf("no resource link to %s", p)
				}
			}
		})
	}
}

// TestFinishSessionArgs checks finish_session's argument errors.
func TestFinishSessionArgs(t *testing.T) {
	f := newFlow(t)
	f.refused("finish_session", map[string]any{"session": " "}, "session")
	f.refused("finish_session", map[string]any{"session": "kvr-replication/20200101T000000Z"}, "kvr-replication/20200101T000000Z")
}
