package session

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// JUnit XML elements (the de-facto schema CI dashboards read: Jenkins,
// GitLab, GitHub test reporters).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure"`
	Skipped   *junitMessage `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// JUnitXML renders a session report as JUnit XML: one test suite for the
// session, one test case per scenario or arm. A FAIL is a <failure> whose
// message is the verdict and first reason; INCONCLUSIVE-*, PARTIAL-* and
// NOT-RUN are <skipped> with the reason; a PASS passes, with its checker
// and landing evidence in <system-out>. The session verdict is a suite
// property.
func JUnitXML(rep *SessionReport) ([]byte, error) {
	suite := junitSuite{
		Name: "falsify " + rep.Session.ID, Time: "0",
		Properties: []junitProperty{
			{"session_verdict", string(rep.Verdict)},
			{"headline", rep.Headline},
			{"plan", rep.Session.Plan},
			{"plan_sha256", rep.Session.PlanSHA256},
			{"sut", rep.Session.SUT},
			{"commit", rep.Session.Commit},
			{"confidence_delta", rep.Confidence.Delta},
		},
		SystemOut: strings.Join(rep.Rule, "\n"),
	}
	if !rep.Session.Started.IsZero() {
		suite.Timestamp = rep.Session.Started.UTC().Format("2006-01-02T15:04:05")
		if d := rep.Finished.Sub(rep.Session.Started); d > 0 {
			suite.Time = fmt.Sprintf("%.3f", d.Seconds())
		}
	}
	for _, o := range rep.Outcomes {
		c := junitCase{Name: o.ID, Classname: rep.Session.Slug, Time: "0"}
		if o.Name != "" {
			c.Name += " " + o.Name
		}
		reason := string(o.Verdict)
		if len(o.Reasons) > 0 {
			reason += ": " + strings.TrimPrefix(o.Reasons[0], string(o.Verdict)+": ")
		}
		detail := caseDetail(o)
		switch {
		case o.Verdict.IsFail():
			c.Failure = &junitMessage{Message: reason, Type: string(o.Verdict), Body: detail}
			suite.Failures++
		case o.Verdict.IsPass():
			c.SystemOut = detail
		default:
			c.Skipped = &junitMessage{Message: reason}
			c.SystemOut = detail
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "falsify", Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped, Suites: []junitSuite{suite}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// caseDetail is a test case's text: verdict, tier, reasons, blockers and
// the evidence.
func caseDetail(o Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\nbudget tier met: %s\n", o.Verdict, verdictText(o.TierMet))
	if o.Reproducer != "" {
		fmt.Fprintf(&b, "reproducer: %s\n", o.Reproducer)
	}
	section := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:\n", title)
		for _, it := range items {
			fmt.Fprintf(&b, "  - %s\n", findingLine(it))
		}
	}
	section("reasons", o.Reasons)
	section("blockers", o.Blockers)
	section("oracle execution evidence", o.Evidence)
	section("landing evidence", o.Landing)
	section("artifacts", o.Artifacts)
	return b.String()
}

// Summary is the JSON summary of a session for CI dashboards.
type Summary struct {
	Session    string               `json:"session"`
	Plan       string               `json:"plan"`
	PlanSHA256 string               `json:"plan_sha256"`
	SUT        string               `json:"sut"`
	Commit     string               `json:"commit"`
	Started    time.Time            `json:"started"`
	Finished   time.Time            `json:"finished"`
	Verdict    SessionVerdict       `json:"verdict"`
	Headline   string               `json:"headline"`
	Rule       []string             `json:"rule"`
	Counts     map[string]int       `json:"counts"` // verdict → rows
	Confidence ConfidenceDelta      `json:"confidence"`
	Notes      string               `json:"notes,omitempty"`
	Scenarios  []ScenarioSummary    `json:"scenarios"`
	Hypotheses []HypothesisCoverage `json:"hypotheses"`
	Adequacy   []ClaimAdequacy      `json:"adequacy"`
	Report     string               `json:"report"` // session-relative
	JUnit      string               `json:"junit"`
}

// ScenarioSummary is one scenario or arm in the JSON summary.
type ScenarioSummary struct {
	ID         string                 `json:"id"`
	Name       string                 `json:"name"`
	Verdict    Verdict                `json:"verdict"`
	TierMet    string                 `json:"tier_met"`
	Assigned   bool                   `json:"assigned"`
	AssignedAs Verdict                `json:"assigned_as,omitempty"`
	Reproducer string                 `json:"reproducer,omitempty"`
	Runs       int                    `json:"runs"`
	Reasons    []string               `json:"reasons"`
	Blockers   []string               `json:"blockers"`
	Evidence   []string               `json:"evidence"`
	Landing    []string               `json:"landing"`
	Artifacts  []string               `json:"artifacts"` // session-relative
	Finding    string                 `json:"finding,omitempty"`
	Audit      map[string]AuditStatus `json:"audit,omitempty"` // item key → status
}

// NewSummary returns the JSON summary of a report.
func NewSummary(rep *SessionReport) Summary {
	s := Summary{
		Session: rep.Session.ID, Plan: rep.Session.Plan, PlanSHA256: rep.Session.PlanSHA256,
		SUT: rep.Session.SUT, Commit: rep.Session.Commit, Started: rep.Session.Started, Finished: rep.Finished,
		Verdict: rep.Verdict, Headline: rep.Headline, Rule: nonNil(rep.Rule), Counts: map[string]int{},
		Confidence: rep.Confidence, Notes: rep.Notes, Scenarios: []ScenarioSummary{},
		Hypotheses: rep.Hypotheses, Adequacy: rep.Adequacy,
		Report: "findings/" + reportName, JUnit: "findings/" + junitName,
	}
	if s.Hypotheses == nil {
		s.Hypotheses = []HypothesisCoverage{}
	}
	if s.Adequacy == nil {
		s.Adequacy = []ClaimAdequacy{}
	}
	for _, o := range rep.Outcomes {
		s.Counts[string(o.Verdict)]++
		ss := ScenarioSummary{
			ID: o.ID, Name: o.Name, Verdict: o.Verdict, TierMet: o.TierMet, Assigned: o.Assigned, AssignedAs: o.AssignedAs,
			Reproducer: o.Reproducer, Runs: o.Runs, Reasons: nonNil(o.Reasons), Blockers: nonNil(o.Blockers),
			Evidence: nonNil(o.Evidence), Landing: nonNil(o.Landing), Artifacts: nonNil(o.Artifacts), Finding: o.Finding,
		}
		if o.Runs > 0 && len(o.Audit) > 0 {
			ss.Audit = map[string]AuditStatus{}
			for _, it := range o.Audit {
				ss.Audit[it.Key] = it.Status
			}
		}
		s.Scenarios = append(s.Scenarios, ss)
	}
	return s
}

// SummaryJSON renders the JSON summary of a report, indented.
func SummaryJSON(rep *SessionReport) ([]byte, error) {
	b, err := json.MarshalIndent(NewSummary(rep), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return append(b, '\n'), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
