package session

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// junitDoc is the JUnit schema as a CI reader sees it, declared apart
// from the writer's types so that the test reads what was written.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, b []byte) junitDoc {
	t.Helper()
	var doc junitDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, b)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d test suites, want 1", len(doc.Suites))
	}
	return doc
}

func TestJUnitRoundTrip(t *testing.T) {
	tests := []struct {
		name                      string
		build                     func(*testing.T) (*Manager, *SessionInfo)
		verdict                   SessionVerdict
		tests, failures, skipped  int
		failType, passOut, skipIn string
	}{
		{"fail", buildFailing, SessionFail, 6, 1, 5, "FAIL-reproducible", "", "NOT-RUN: the session recorded no run of S2"},
		{"passing", buildPassing, SessionDone, 1, 0, 0, "", "Porcupine checked 3 ops over 1 register: 0 anomalies", ""},
		{"inconclusive", buildInconclusive, SessionInconclusive, 6, 0, 6, "", "", "INCONCLUSIVE-fault-not-proven: not PASS-hardening: fault F1"},
		{"blocked", buildBlocked, SessionBlocked, 6, 0, 6, "", "", "NOT-RUN: the session recorded no run of S1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, sess := tt.build(t)
			rep, err := m.FinishSession(context.Background(), sess.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(m.ws.Root(), rep.JUnit))
			if err != nil {
				t.Fatal(err)
			}
			doc := parseJUnit(t, b)
			st := doc.Suites[0]
			if doc.Tests != tt.tests || doc.Failures != tt.failures || doc.Skipped != tt.skipped ||
				st.Tests != tt.tests || st.Failures != tt.failures || st.Skipped != tt.skipped || len(st.Cases) != tt.tests {
				t.Fatalf("counts: suites %d/%d/%d, suite %d/%d/%d, %d cases; want %d/%d/%d", doc.Tests, doc.Failures, doc.Skipped,
					st.Tests, st.Failures, st.Skipped, len(st.Cases), tt.tests, tt.failures, tt.skipped)
			}
			props := map[string]string{}
			for _, p := range st.Properties {
				props[p.Name] = p.Value
			}
			if props["session_verdict"] != string(tt.verdict) || props["plan"] != "testing-plans/kvr-replication.md" {
				t.Errorf("properties %v", props)
			}
			failures, skipped := 0, 0
			foundSkip := tt.skipIn == ""
			for _, c := range st.Cases {
				switch {
				case c.Failure != nil && c.Skipped != nil:
					t.Errorf("case %s both failed and skipped", c.Name)
				case c.Failure != nil:
					failures++
					if c.Failure.Type != tt.failType || !strings.HasPrefix(c.Failure.Message, tt.failType+": violation in run") ||
						!strings.Contains(c.Failure.Body, "reproducer: ") {
						t.Errorf("failure of %s: %+v", c.Name, c.Failure)
					}
				case c.Skipped != nil:
					skipped++
					if strings.Contains(c.Skipped.Message, tt.skipIn) {
						foundSkip = true
					}
				default:
					if !strings.HasPrefix(c.SystemOut, "verdict: PASS-") || !strings.Contains(c.SystemOut, tt.passOut) {
						t.Errorf("passing case %s system-out:\n%s", c.Name, c.SystemOut)
					}
				}
			}
			if failures != tt.failures || skipped != tt.skipped {
				t.Errorf("cases: %d failures, %d skipped; want %d, %d", failures, skipped, tt.failures, tt.skipped)
			}
			if !foundSkip {
				t.Errorf("no skipped case says %q", tt.skipIn)
			}
		})
	}
}

// TestJUnitEscapes checks that text XML cannot carry (markup, control
// characters) still yields a document that parses back to the same
// message.
func TestJUnitEscapes(t *testing.T) {
	rep := &SessionReport{
		Session: SessionInfo{ID: "kv/20260101T000000Z", Slug: "kv", Plan: "testing-plans/kv.md"},
		Outcomes: []Outcome{
			{ID: "S1", Name: `a<b & "c"`, Verdict: FailNondeterministic, Reasons: []string{"violation: </failure><x>&amp; \x01 bell"}},
			{ID: "S2/api", Name: "arm", Verdict: PartialSurface, Reasons: []string{"PARTIAL-surface: no checker ran ]]>"}},
			{ID: "S3", Name: "ok", Verdict: PassSmoke, Evidence: []string{"R1 linearizability: ok, 3 of 3 ops"}},
		},
	}
	rep.Verdict, rep.Rule = DecideSession(rep.Outcomes)
	b, err := JUnitXML(rep)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseJUnit(t, b)
	cs := doc.Suites[0].Cases
	if len(cs) != 3 || cs[0].Name != `S1 a<b & "c"` || cs[0].Failure == nil ||
		cs[0].Failure.Message != "FAIL-nondeterministic: violation: </failure><x>&amp; \uFFFD bell" {
		t.Fatalf("case 1: %+v", cs[0])
	}
	if cs[1].Skipped == nil || cs[1].Skipped.Message != "PARTIAL-surface: no checker ran ]]>" {
		t.Fatalf("case 2: %+v", cs[1])
	}
	if cs[2].Failure != nil || cs[2].Skipped != nil || !strings.Contains(cs[2].SystemOut, "3 of 3 ops") {
		t.Fatalf("case 3: %+v", cs[2])
	}
	if doc.Failures != 1 || doc.Skipped != 1 || doc.Tests != 3 {
		t.Fatalf("counts %d/%d/%d", doc.Tests, doc.Failures, doc.Skipped)
	}
}

func TestSummaryJSON(t *testing.T) {
	m, sess := buildFailing(t)
	rep, err := m.FinishSession(context.Background(), sess.ID, "we believe less")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(m.ws.Root(), rep.Summary))
	if err != nil {
		t.Fatal(err)
	}
	var got Summary
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Verdict != SessionFail || got.Session != sess.ID || got.Notes != "we believe less" ||
		got.Counts[string(FailReproducible)] != 1 || got.Counts[string(NotRun)] != 5 || got.Confidence.Delta != BelieveLess {
		t.Fatalf("summary: %+v", got)
	}
	if len(got.Scenarios) != 6 {
		t.Fatalf("%d scenarios", len(got.Scenarios))
	}
	s1 := got.Scenarios[0]
	if s1.ID != "S1" || s1.Verdict != FailReproducible || !s1.Assigned || s1.Runs != 2 || len(s1.Evidence) != 2 ||
		!strings.Contains(s1.Reproducer, "seed 7") || s1.Finding != "findings/S1.md" ||
		s1.Audit[AuditThreeSeeds] != AuditContradicted || s1.Audit[AuditOracleEveryCycle] != AuditVerified {
		t.Fatalf("S1 summary: %+v", s1)
	}
	for _, a := range s1.Artifacts {
		if strings.HasPrefix(a, "/") || strings.Contains(a, "..") {
			t.Errorf("artifact %q is not session-relative", a)
		}
		if _, err := os.Stat(filepath.Join(m.ws.Root(), sess.Dir, a)); err != nil {
			t.Errorf("artifact %q: %v", a, err)
		}
	}
	if s5 := got.Scenarios[5]; s5.ID != "S5" || s5.Verdict != NotRun || s5.Assigned || s5.Runs != 0 || s5.Audit != nil {
		t.Fatalf("S5 summary: %+v", s5)
	}
}

// TestRenderReportFromJSON checks that a report is a pure function of the
// SessionReport a client receives: decoded from JSON, it renders the same.
func TestRenderReportFromJSON(t *testing.T) {
	for _, build := range []func(*testing.T) (*Manager, *SessionInfo){buildFailing, buildPassing} {
		m, sess := build(t)
		rep, err := m.FinishSession(context.Background(), sess.ID, "notes")
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back SessionReport
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got, want := string(RenderReport(&back)), string(RenderReport(rep)); got != want {
			t.Errorf("report rendered from JSON differs:\n%s", diffLines(want, got))
		}
		x1, _ := JUnitXML(rep)
		x2, _ := JUnitXML(&back)
		if string(x1) != string(x2) {
			t.Errorf("JUnit from JSON differs")
		}
	}
}
