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
	res.Errors, res.Pending, res.Warnings = classify(before, plan.Lint(p), p, section, scenario)
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

// classify splits the diagnostics of the plan after a write into blocking
// errors (located in the section written, or introduced by this write),
// pending errors and warnings. Pending errors are about what is not yet
// written — a section still empty, a claim or hypothesis whose section is
// still empty, a scenario (§7 fills one call at a time) — or were already
// in the file before the write, elsewhere in the plan.
func classify(before, after []plan.Diagnostic, p *plan.Plan, section, scenario string) (blocking, pending, warnings []Diagnostic) {
	blocking, pending, warnings = []Diagnostic{}, []Diagnostic{}, []Diagnostic{}
	// A diagnostic's Fix may list the ids defined so far; identity is the
	// rest.
	key := func(d plan.Diagnostic) string {
		return d.Rule + "\x00" + d.Section + "\x00" + d.ID + "\x00" + d.Message
	}
	old := make(map[string]bool, len(before))
	for _, d := range before {
		old[key(d)] = true
	}
	absent := func(id string) bool { return !written(p, id) }
	for _, d := range after {
		if d.Severity != plan.SeverityError {
			warnings = append(warnings, diagnostic(d))
			continue
		}
		base, _, _ := strings.Cut(d.Section, ".")
		switch {
		case absent(base):
			pending = append(pending, diagnostic(d))
		case d.Rule == plan.RuleUnknownScenario:
			// Scenarios are written one call at a time, so §7 is only
			// complete at the end: a reference to a scenario not yet
			// written waits for lint_plan.
			pending = append(pending, diagnostic(d))
		case forwardRef(d.Rule) != "" && absent(forwardRef(d.Rule)):
			pending = append(pending, diagnostic(d))
		case gateRules[d.Rule] && undefinedClaims(p, d.ID):
			// Whether a gate applies depends on the categories of the
			// claims the scenario falsifies; until §1b defines them the
			// gate cannot be judged.
			pending = append(pending, diagnostic(d))
		case inScope(base, d.ID, section, scenario):
			blocking = append(blocking, diagnostic(d))
		case old[key(d)]:
			pending = append(pending, diagnostic(d))
		default:
			blocking = append(blocking, diagnostic(d))
		}
	}
	return blocking, pending, warnings
}

// written reports whether section id of p has any content yet. A new
// plan (plan.NewPlan) lists every section with an empty body; those are
// still to be written.
func written(p *plan.Plan, id string) bool {
	if id == "header" || id == "" {
		return true
	}
	if !slices.Contains(p.Present, id) {
		return false
	}
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	switch id {
	case "0":
		return !blank(p.Summary)
	case "1":
		return !blank(p.Scope)
	case "1b":
		return len(p.Claims) > 0 || !blank(p.ClaimsNotes)
	case "1c":
		return len(p.MissingClaims) > 0 || !blank(p.MissingNone)
	case "2":
		return !blank(p.SUTModel)
	case "3":
		return len(p.Inventory) > 0 || !blank(p.InventoryNote)
	case "4":
		return len(p.Hypotheses) > 0 || len(p.CategoryNA) > 0 || !blank(p.HypothesesNotes)
	case "5":
		return len(p.Coverage) > 0 || !blank(p.CoverageNotes)
	case "6":
		return len(p.Techniques) > 0 || !blank(p.TechniquesNotes)
	case "6b":
		return len(p.Environment) > 0 || !blank(p.EnvNotes)
	case "7":
		return len(p.Scenarios) > 0 || !blank(p.ScenariosNotes)
	case "7b":
		return len(p.Adequacy) > 0 || !blank(p.AdequacyNotes)
	case "7c":
		return len(p.Residual) > 0 || !blank(p.ResidualNone)
	case "7d":
		return !blank(p.Confidence)
	case "8":
		return len(p.NotCovered) > 0
	case "9":
		return len(p.OpenQuestions) > 0
	}
	return true
}

// gateRules are the lint rules whose outcome depends on the categories of
// the claims a scenario falsifies (the §7.M and §7.M.S gates).
var gateRules = map[string]bool{
	plan.RuleModelMissing: true, plan.RuleSeriousNA: true, plan.RuleModelInvented: true,
	plan.RuleNALineMissing: true, plan.RuleSurfacesIncomplete: true, plan.RuleNeedsSplit: true,
	plan.RuleCheckerMismatch: true, plan.RuleArmIncomplete: true,
}

// undefinedClaims reports whether the scenario (or arm) id names a claim
// that §1b does not define yet.
func undefinedClaims(p *plan.Plan, id string) bool {
	s, _, err := p.FindScenario(id)
	if err != nil {
		return false
	}
	for _, c := range s.Falsifies {
		if p.Claim(c) == nil {
			return true
		}
	}
	return false
}

// forwardRef returns the section that defines the ids a reference rule
// checks: an unknown claim is fixed in §1b, an unknown hypothesis in §4.
func forwardRef(rule string) string {
	switch rule {
	case plan.RuleUnknownClaim:
		return "1b"
	case plan.RuleUnknownHypothesis:
		return "4"
	}
	return ""
}

// inScope reports whether a diagnostic in section base about id concerns
// the section (or scenario) written.
func inScope(base, id, section, scenario string) bool {
	if base != section {
		return false
	}
	if section != "7" || scenario == "" || id == "" {
		return true
	}
	return id == scenario || strings.HasPrefix(id, scenario+"/") || strings.HasPrefix(scenario, id+"/")
}
