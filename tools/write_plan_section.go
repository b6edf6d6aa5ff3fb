package tools

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/falsify-dev/falsify/plan"
)

// WritePlanSectionArgs are write_plan_section's arguments.
type WritePlanSectionArgs struct {
	Plan     string `json:"plan" jsonschema_description:"Plan slug: the file is testing-plans/<slug>.md in the workspace (created when absent)."`
	Section  string `json:"section" jsonschema:"enum=header,enum=0,enum=1,enum=1b,enum=1c,enum=2,enum=3,enum=4,enum=5,enum=6,enum=6b,enum=7,enum=7b,enum=7c,enum=7d,enum=8,enum=9" jsonschema_description:"Section id (SPEC §2.1): header, 0, 1, 1b, 1c, 2, 3, 4, 5, 6, 6b, 7, 7b, 7c, 7d, 8 or 9."`
	Scenario string `json:"scenario,omitempty" jsonschema_description:"For section 7 only: the scenario (S3) or arm (S5/api) this content replaces or adds. Omit to replace the whole of section 7."`
	Content  string `json:"content" jsonschema_description:"The section's Markdown in the shapes of SPEC §12, heading included (e.g. '## 1b. Claims under test' followed by the table; '### Scenario S3: <claim_shaped_name>' for a scenario)."`
	Mode     string `json:"mode,omitempty" jsonschema_description:"New plan only, when no header section was written first: change-scoped (default) or project-wide."`
	SUT      string `json:"sut,omitempty" jsonschema_description:"New plan only: the system under test."`
	Change   string `json:"change,omitempty" jsonschema_description:"New plan only: the change under test (PR / commit), or 'N/A — project-wide'."`
	Author   string `json:"author,omitempty" jsonschema_description:"New plan only: the plan author (agent or person)."`
}

// WritePlanSectionResult is write_plan_section's result.
type WritePlanSectionResult struct {
	Path    string `json:"path" jsonschema_description:"Workspace-relative plan file."`
	Written bool   `json:"written" jsonschema_description:"True when the file was written; false when blocking errors stopped the write (the file is unchanged)."`
	Created bool   `json:"created" jsonschema_description:"True when this call created the plan file."`
	// Errors block: when any is present nothing was written.
	Errors []Diagnostic `json:"errors" jsonschema_description:"Blocking errors this write would introduce; when present nothing was written."`
	// Pending are errors elsewhere in the plan that this write neither
	// caused nor could fix.
	Pending  []Diagnostic `json:"pending" jsonschema_description:"Errors elsewhere in the plan that this write neither caused nor fixes (sections not yet written, problems already in the file). They do not block this write; lint_plan reports them until they are fixed."`
	Warnings []Diagnostic `json:"warnings" jsonschema_description:"Warnings for the whole plan after this write."`
}

// Diagnostic is one lint finding (SPEC §2.6): where it is, what is wrong
// and how to fix it.
type Diagnostic struct {
	Severity string `json:"severity" jsonschema_description:"error or warning"`
	Rule     string `json:"rule" jsonschema_description:"The lint rule that fired."`
	Section  string `json:"section" jsonschema_description:"Plan section id (e.g. 1b, 7)."`
	ID       string `json:"id" jsonschema_description:"The claim, hypothesis, scenario or arm id concerned, when there is one."`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func diagnostic(d plan.Diagnostic) Diagnostic {
	return Diagnostic{Severity: d.Severity, Rule: d.Rule, Section: d.Section, ID: d.ID, Message: d.Message, Fix: d.Fix}
}

// diagnostics converts a list, never returning nil.
func diagnostics(ds []plan.Diagnostic) []Diagnostic {
	out := make([]Diagnostic, 0, len(ds))
	for _, d := range ds {
		out = append(out, diagnostic(d))
	}
	return out
}

// scenarioPattern matches a scenario id (S3) or an arm id (S5/api).
var scenarioPattern = regexp.MustCompile(`^S[1-9][0-9]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$`)

func (e *Env) writePlanSection() server.ServerTool {
	tool := mcp.NewTool("write_plan_section",
		mcp.WithDescription("Write one section of a test plan (testing-plans/<slug>.md). "+
			"Call it once per section while designing a plan, in order: header, 0, 1, 1b, 1c, 2, (3), 4, (5), 6, 6b, 7 (once per scenario, with scenario=S1, S2…), 7b, 7c, 7d, 8, 9. "+
			"falsify parses the Markdown, splices it into the plan without touching any other section, lints the whole result (SPEC §2.6) and writes the file atomically only when the write introduces no error. "+
			"Returns the path, blocking errors (nothing written), pending errors about sections not yet written, and warnings. "+
			"Creates the plan when it does not exist (header fields from a header section or from the mode/sut/change/author arguments)."),
		mcp.WithInputSchema[WritePlanSectionArgs](),
		mcp.WithOutputSchema[WritePlanSectionResult](),
		annotations("Write a plan section", false, true, true, false),
	)
	return register(e, tool, e.doWritePlanSection)
}

func (e *Env) doWritePlanSection(ctx context.Context, _ mcp.CallToolRequest, args WritePlanSectionArgs) (WritePlanSectionResult, error) {
	slug, err := PlanSlug(args.Plan)
	if err != nil {
		return WritePlanSectionResult{}, err
	}
	section := strings.TrimSpace(args.Section)
	section = strings.TrimPrefix(strings.TrimPrefix(section, "§"), "section ")
	ids := append([]string{"header"}, plan.SectionOrder...)
	if !slices.Contains(ids, section) {
		return WritePlanSectionResult{}, argErr("section", "use one of "+oneOf(ids), "%q is not a plan section", args.Section)
	}
	scenario := strings.TrimSpace(args.Scenario)
	switch {
	case scenario != "" && section != "7":
		return WritePlanSectionResult{}, argErr("scenario", `omit scenario, or write section "7"`, "only section 7 takes a scenario, got section %q", section)
	case scenario != "" && !scenarioPattern.MatchString(scenario):
		return WritePlanSectionResult{}, argErr("scenario", `use a scenario id like "S3" or an arm id like "S5/api"`, "%q is not a scenario id", scenario)
	}
	if strings.TrimSpace(args.Content) == "" {
		return WritePlanSectionResult{}, argErr("content", "pass the section's Markdown, heading included", "is empty")
	}
	content := []byte(args.Content)
	target := section
	if scenario != "" {
		target = scenario
	}
	fragment, err := plan.ParseSection(target, content)
	if err != nil {
		return WritePlanSectionResult{}, argErr("content", fixFor(section, scenario), "not Markdown for section %s: %v", sectionLabel(section, scenario), err)
	}
	if args.Mode != "" && args.Mode != plan.ModeChangeScoped && args.Mode != plan.ModeProjectWide {
		return WritePlanSectionResult{}, argErr("mode", "use change-scoped or project-wide", "%q is not a plan mode", args.Mode)
	}

	rel := PlanFile(slug)
	abs, err := e.ws.Resolve(rel)
	if err != nil {
		return WritePlanSectionResult{}, argErr("plan", "pass a slug whose file lies inside the workspace", "%v", err)
	}
	if err := ctx.Err(); err != nil {
		return WritePlanSectionResult{}, err
	}
	unlock := e.locks.lock(abs)
	defer unlock()

	res := WritePlanSectionResult{Path: rel, Errors: []Diagnostic{}, Pending: []Diagnostic{}, Warnings: []Diagnostic{}}
	src, err := e.ws.ReadFile(rel)
	var before []plan.Diagnostic
	switch {
	case errors.Is(err, os.ErrNotExist):
		res.Created = true
		h := e.newHeader(slug, args, fragment, section)
		src = plan.Render(plan.NewPlan(h))
	case err != nil:
		return res, fmt.Errorf("read %s: %w", rel, err)
	default:
		old, perr := plan.Parse(src)
		if perr != nil {
			return res, argErr("plan", "repair "+rel+" by hand (it must start with '# Test Plan: <slug>'), or write to another slug", "%s exists but is not a test plan: %v", rel, perr)
		}
		before = plan.Lint(old)
	}

	out, err := plan.ReplaceSection(src, section, scenario, content)
	if err != nil {
		return res, argErr("content", fixFor(section, scenario), "cannot splice section %s into %s: %v", sectionLabel(section, scenario), rel, err)
	}
	p, err := plan.Parse(out)
	if err != nil {
		return res, argErr("content", fixFor(section, scenario), "the plan would no longer parse after this write: %v", err)
	}
	blocking, pending, warnings := plan.ClassifyWrite(before, plan.Lint(p), p, section, scenario)
	res.Errors, res.Pending, res.Warnings = diagnostics(blocking), diagnostics(pending), diagnostics(warnings)
	if len(res.Errors) > 0 {
		return res, nil
	}
	if err := e.ws.WriteFileAtomic(rel, out); err != nil {
		return res, fmt.Errorf("write %s: %w", rel, err)
	}
	res.Written = true
	e.log.Info().Str("plan", rel).Str("section", sectionLabel(section, scenario)).Bool("created", res.Created).Msg("plan section written")
	if res.Created && e.planWritten != nil {
		e.planWritten(slug)
	}
	return res, nil
}

// newHeader builds the header of a plan created by this write: from the
// content when it is the header section, else from the arguments.
func (e *Env) newHeader(slug string, args WritePlanSectionArgs, fragment *plan.Plan, section string) plan.Header {
	if section == "header" {
		h := fragment.Header
		if h.Slug == "" {
			h.Slug = slug
		}
		return h
	}
	h := plan.Header{
		Slug:   slug,
		Date:   time.Now().UTC().Format("2006-01-02"),
		Mode:   args.Mode,
		SUT:    args.SUT,
		Change: args.Change,
		Author: args.Author,
		Status: "draft",
	}
	if h.Mode == "" {
		h.Mode = plan.ModeChangeScoped
	}
	if h.Change == "" && h.Mode == plan.ModeProjectWide {
		h.Change = "N/A — project-wide"
	}
	return h
}

func sectionLabel(section, scenario string) string {
	if scenario != "" {
		return section + " (" + scenario + ")"
	}
	return section
}

// fixFor says what content a section expects.
func fixFor(section, scenario string) string {
	switch {
	case section == "header":
		return "start with '# Test Plan: <slug>' followed by **Date:**, **Plan mode:**, **SUT:**, **Change under test:**, **Plan author:**, **Status:** lines (SPEC §12)"
	case section == "7" && strings.Contains(scenario, "/"):
		return fmt.Sprintf("start with '#### Arm %s' followed by its **Surface:**, **Oracle:** and §7.M bullets (SPEC §12)", scenario)
	case section == "7" && scenario != "":
		return fmt.Sprintf("start with '### Scenario %s: <claim_shaped_name>' followed by its bold-label bullets (SPEC §2.2, §12)", scenario)
	default:
		return fmt.Sprintf("start with the heading '## %s. %s' followed by the section body (SPEC §2.1, §12)", section, plan.SectionTitles[section])
	}
}
