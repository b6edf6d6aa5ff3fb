package plan

import (
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
)

var (
	scenarioRE = regexp.MustCompile(`(?i)^(?:scenario\s+)?(S\d+)(?:\s*[:.—–-]+\s*|\s+|$)(.*)$`)
	armRE      = regexp.MustCompile(`(?i)^arm\s+([^\s:]+)`)
	tierRE     = regexp.MustCompile(`(?i)\b(smoke|hardening|release)\s*:`)
)

// isScenarioHeading reports whether a heading text opens a scenario block
// and returns its id and name.
func isScenarioHeading(title string) (id, name string, ok bool) {
	t := strings.TrimSpace(title)
	if !strings.HasPrefix(strings.ToLower(t), "scenario") {
		return "", "", false
	}
	m := scenarioRE.FindStringSubmatch(t)
	if m == nil {
		return "", "", false
	}
	name = strings.TrimSpace(m[2])
	if len(name) > 1 && name[0] == '`' && name[len(name)-1] == '`' {
		name = strings.Trim(name, "`")
	}
	return strings.ToUpper(m[1]), name, true
}

// subheading kinds inside a scenario block.
const (
	subNone = iota
	subDiscipline
	subSurfaces
	subArm
)

func subheadingKind(title string) int {
	n := normLabel(title)
	switch {
	case strings.HasPrefix(n, "arm "):
		return subArm
	case strings.Contains(n, "7.m.s") || strings.Contains(n, "surface decomposition"):
		return subSurfaces
	case strings.Contains(n, "7.m") || strings.Contains(n, "model / history") || strings.Contains(n, "checker discipline"):
		return subDiscipline
	}
	return subNone
}

// isNALine reports whether a paragraph is the exact §7.M not-applicable
// line (surrounding emphasis, code marks or a bullet are tolerated).
func isNALine(s string) bool {
	t := strings.TrimSpace(s)
	t = strings.TrimSpace(strings.TrimPrefix(t, "- "))
	t = strings.Trim(t, "*_` ")
	return t == NotApplicableLine
}

// Field label sets (normalised with normLabel).
var (
	scenarioKeys = map[string]string{
		"falsifies if it fails": "falsifies", "falsifies": "falsifies", "falsifies if it fails claims": "falsifies",
		"closes": "closes", "closes hypotheses": "closes",
		"technique": "technique", "workload": "workload",
		"faults": "faults", "fault schedule": "faults", "faults schedule": "faults",
		"oracle": "oracle", "observability required": "observability", "observability": "observability",
		"exit criteria": "exit", "budget tiers": "budget", "budget": "budget",
		"target test file": "target", "skeleton language": "language", "skeleton": "skeleton",
	}
	disciplineKeys = map[string]string{
		"model under test": "model", "model": "model",
		"operation history": "history", "history": "history",
		"checker":                    "checker",
		"nemesis + landing evidence": "nemesis", "nemesis and landing evidence": "nemesis",
		"nemesis landing evidence": "nemesis", "nemesis": "nemesis",
		"ambiguous outcomes": "ambiguous", "reduction plan": "reduction",
	}
	surfaceKeys = map[string]string{
		"boundary claim": "claim", "boundary keys": "keys", "surfaces": "surfaces",
		"operations": "operations", "operations per surface": "operations",
		"positive controls": "positive", "negative controls": "negative",
		"confusable identifiers": "confusable", "delayed paths": "delayed",
		"delayed / async paths": "delayed", "delayed/async paths": "delayed", "delayed async paths": "delayed",
		"background paths": "background", "observability paths": "observability",
		"oracle": "oracle", "minimum smoke budget": "smoke", "minimum hardening budget": "hardening",
	}
)

// scenarioParser reads one §7 body.
type scenarioParser struct {
	p   *Plan
	src []byte
	cur *Scenario
	ctx int // subNone (main list), subDiscipline, subSurfaces, subArm
	arm *Arm
	// armLevel is the heading level of the current arm; a §7.M heading
	// deeper than it belongs to the arm.
	armLevel    int
	armDisc     bool // inside the arm's own §7.M subheading
	discHeading bool // scenario has a §7.M heading without the NA line
	naInDisc    bool
	armDiscHead bool
	armNAInDisc bool
	// pendingSkeleton is set when a Skeleton label had no code block, so
	// that an unindented fence right after the list is taken as the
	// skeleton.
	pendingSkeleton bool
	notes           []string // current scenario's notes
	armNotes        []string
	pre             []string // §7 prose before the first scenario
}

func parseScenarios(p *Plan, body []block, src []byte) {
	sp := &scenarioParser{p: p, src: src}
	for _, b := range body {
		sp.block(b)
	}
	sp.flush()
	p.ScenariosNotes = joinNotes(p.ScenariosNotes, joinNotes(sp.pre...))
}

func (sp *scenarioParser) note(s string) {
	switch {
	case sp.cur == nil:
		sp.pre = append(sp.pre, s)
	case sp.arm != nil:
		sp.armNotes = append(sp.armNotes, s)
	default:
		sp.notes = append(sp.notes, s)
	}
}

func (sp *scenarioParser) flushArm() {
	if sp.arm == nil {
		return
	}
	if sp.arm.Discipline == nil && sp.armDiscHead && !sp.armNAInDisc {
		sp.arm.Discipline = &Discipline{}
	}
	sp.arm.Notes = joinNotes(sp.armNotes...)
	sp.cur.Arms = append(sp.cur.Arms, *sp.arm)
	sp.arm, sp.armNotes, sp.armDisc, sp.armDiscHead, sp.armNAInDisc = nil, nil, false, false, false
}

func (sp *scenarioParser) flush() {
	if sp.cur == nil {
		return
	}
	sp.flushArm()
	if sp.cur.Discipline == nil && sp.discHeading && !sp.naInDisc {
		sp.cur.Discipline = &Discipline{}
	}
	sp.cur.Notes = joinNotes(sp.notes...)
	sp.p.Scenarios = append(sp.p.Scenarios, *sp.cur)
	sp.cur, sp.notes, sp.ctx = nil, nil, subNone
	sp.discHeading, sp.naInDisc, sp.pendingSkeleton = false, false, false
}

func (sp *scenarioParser) block(b block) {
	src := sp.src
	if b.level >= 3 {
		if id, name, ok := isScenarioHeading(b.title); ok {
			sp.flush()
			sp.cur = &Scenario{ID: id, Name: name}
			return
		}
		if sp.cur != nil {
			switch subheadingKind(b.title) {
			case subArm:
				sp.flushArm()
				id := ""
				if m := armRE.FindStringSubmatch(strings.TrimSpace(b.title)); m != nil {
					id = strings.Trim(m[1], "`*")
					if !strings.Contains(id, "/") {
						id = sp.cur.ID + "/" + id
					}
				}
				sp.arm = &Arm{ID: id}
				sp.armLevel = b.level
				sp.ctx = subArm
				return
			case subDiscipline:
				if sp.arm != nil && b.level > sp.armLevel {
					sp.armDisc, sp.armDiscHead = true, true
					return
				}
				sp.flushArm()
				sp.ctx = subDiscipline
				sp.discHeading = true
				return
			case subSurfaces:
				sp.flushArm()
				sp.ctx = subSurfaces
				if sp.cur.Surfaces == nil {
					sp.cur.Surfaces = &Surfaces{}
				}
				return
			}
		}
		sp.note(b.raw(src))
		return
	}
	switch n := b.node.(type) {
	case *ast.Paragraph:
		if sp.cur != nil && isNALine(joinLines(n, src)) {
			if sp.arm != nil {
				sp.arm.ModelNA = true
				if sp.armDisc {
					sp.armNAInDisc = true
				}
			} else {
				sp.cur.ModelNA = true
				if sp.ctx == subDiscipline {
					sp.naInDisc = true
				}
			}
			return
		}
	case *ast.List:
		if sp.cur != nil {
			for _, it := range listItems(b, src) {
				sp.item(it)
			}
			return
		}
	case *ast.FencedCodeBlock:
		if sp.cur != nil && sp.pendingSkeleton && sp.cur.Skeleton == "" {
			sp.cur.Skeleton = codeText(n, src)
			sp.pendingSkeleton = false
			return
		}
	}
	sp.note(b.raw(src))
}

// item assigns one list item of a scenario block.
func (sp *scenarioParser) item(it item) {
	if it.head != "" && isNALine(it.head) && len(it.rest) == 0 {
		if sp.arm != nil {
			sp.arm.ModelNA = true
		} else {
			sp.cur.ModelNA = true
		}
		return
	}
	label, value, ok := boldLabel(it.head)
	if !ok {
		// Plain "Label: value" is accepted for labels this context knows.
		if l, v, ok2 := plainLabel(it.head); ok2 && sp.knows(normLabel(l)) {
			label, value, ok = l, v, true
		}
	}
	if !ok {
		sp.note("- " + indentRest(it.text))
		return
	}
	n := normLabel(label)
	s := sp.cur
	if sp.arm != nil {
		if sp.armField(n, label, value, it) {
			return
		}
		sp.arm.Extra = append(sp.arm.Extra, Field{Label: label, Value: fieldValue(value, it)})
		return
	}
	switch sp.ctx {
	case subDiscipline:
		if sp.disciplineField(&s.Discipline, n, fieldValue(value, it)) || sp.scenarioField(n, label, value, it) || sp.surfaceField(n, fieldValue(value, it), false) {
			return
		}
	case subSurfaces:
		if sp.surfaceField(n, fieldValue(value, it), true) || sp.scenarioField(n, label, value, it) || sp.disciplineField(&s.Discipline, n, fieldValue(value, it)) {
			return
		}
	default:
		if sp.scenarioField(n, label, value, it) || sp.disciplineField(&s.Discipline, n, fieldValue(value, it)) || sp.surfaceField(n, fieldValue(value, it), false) {
			return
		}
	}
	s.Extra = append(s.Extra, Field{Label: label, Value: fieldValue(value, it)})
}

func (sp *scenarioParser) knows(n string) bool {
	if sp.arm != nil && (n == "surface" || n == "oracle") {
		return true
	}
	_, a := scenarioKeys[n]
	_, b := disciplineKeys[n]
	_, c := surfaceKeys[n]
	return a || b || c
}

// fieldValue is the value of a labelled item including its nested
// blocks, each separated by a blank line.
func fieldValue(value string, it item) string {
	if len(it.rest) == 0 {
		return value
	}
	return joinNotes(value, restText(it))
}

// set stores v in *dst unless it already holds a value (a repeated label
// is kept as an Extra field by the caller).
func set(dst *string, v string) bool {
	if *dst != "" {
		return false
	}
	*dst = v
	return true
}

func setIDs(dst *[]string, v string) bool {
	if *dst != nil {
		return false
	}
	*dst = parseIDs(v)
	return true
}

func (sp *scenarioParser) scenarioField(n, label, value string, it item) bool {
	s := sp.cur
	switch scenarioKeys[n] {
	case "falsifies":
		return setIDs(&s.Falsifies, fieldValue(value, it))
	case "closes":
		return setIDs(&s.Closes, fieldValue(value, it))
	case "technique":
		return set(&s.Technique, fieldValue(value, it))
	case "workload":
		return set(&s.Workload, fieldValue(value, it))
	case "faults":
		return set(&s.Faults, fieldValue(value, it))
	case "oracle":
		return set(&s.Oracle, fieldValue(value, it))
	case "observability":
		return set(&s.Observability, fieldValue(value, it))
	case "exit":
		return set(&s.ExitCriteria, fieldValue(value, it))
	case "target":
		return set(&s.TargetTestFile, fieldValue(value, it))
	case "language":
		return set(&s.SkeletonLanguage, fieldValue(value, it))
	case "budget":
		if s.Budget != (Budget{}) {
			return false
		}
		b, ok := parseBudget(fieldValue(value, it))
		if !ok {
			return false // kept as an Extra field
		}
		s.Budget = b
		return true
	case "skeleton":
		return sp.skeletonField(label, value, it)
	}
	return false
}

// skeletonField takes the fenced code block of a Skeleton item. Inline
// text and other nested blocks are kept as an Extra "Skeleton" field.
func (sp *scenarioParser) skeletonField(label, value string, it item) bool {
	s := sp.cur
	var other []string
	took := false
	for _, r := range it.rest {
		if _, ok := r.node.(*ast.FencedCodeBlock); ok && !took && s.Skeleton == "" {
			s.Skeleton = codeText(r.node, sp.src)
			took = true
			continue
		}
		other = append(other, r.text)
	}
	if !took && value == "" && len(other) == 0 {
		sp.pendingSkeleton = true
		return true
	}
	if rest := joinNotes(append([]string{value}, other...)...); rest != "" {
		s.Extra = append(s.Extra, Field{Label: label, Value: rest})
	}
	return true
}

// parseBudget splits "smoke: …; hardening: …; release: …" (one line or
// sub-bullets). ok is false when no tier keyword is present.
func parseBudget(v string) (Budget, bool) {
	locs := tierRE.FindAllStringSubmatchIndex(v, -1)
	if len(locs) == 0 {
		return Budget{}, false
	}
	if strings.Trim(v[:locs[0][0]], " \t\r\n-*;,") != "" {
		return Budget{}, false
	}
	var b Budget
	seen := map[string]bool{}
	for i, loc := range locs {
		name := strings.ToLower(v[loc[2]:loc[3]])
		end := len(v)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		text := strings.TrimSpace(strings.TrimRight(v[loc[1]:end], " \t\r\n;,*-"))
		if seen[name] {
			return Budget{}, false
		}
		seen[name] = true
		switch name {
		case "smoke":
			b.Smoke = text
		case "hardening":
			b.Hardening = text
		case "release":
			b.Release = text
		}
	}
	return b, true
}

func (sp *scenarioParser) disciplineField(dst **Discipline, n, v string) bool {
	key, ok := disciplineKeys[n]
	if !ok {
		return false
	}
	if *dst == nil {
		*dst = &Discipline{}
	}
	d := *dst
	switch key {
	case "model":
		return set(&d.Model, v)
	case "history":
		return set(&d.History, v)
	case "checker":
		return set(&d.Checker, v)
	case "nemesis":
		return set(&d.Nemesis, v)
	case "ambiguous":
		return set(&d.AmbiguousOutcomes, v)
	case "reduction":
		return set(&d.ReductionPlan, v)
	}
	return false
}

func (sp *scenarioParser) surfaceField(n, v string, oracle bool) bool {
	key, ok := surfaceKeys[n]
	if !ok || (key == "oracle" && !oracle) {
		return false
	}
	if sp.cur.Surfaces == nil {
		sp.cur.Surfaces = &Surfaces{}
	}
	s := sp.cur.Surfaces
	switch key {
	case "claim":
		return set(&s.BoundaryClaim, v)
	case "keys":
		return set(&s.BoundaryKeys, v)
	case "surfaces":
		return set(&s.Surfaces, v)
	case "operations":
		return set(&s.Operations, v)
	case "positive":
		return set(&s.PositiveControls, v)
	case "negative":
		return set(&s.NegativeControls, v)
	case "confusable":
		return set(&s.ConfusableIDs, v)
	case "delayed":
		return set(&s.DelayedPaths, v)
	case "background":
		return set(&s.BackgroundPaths, v)
	case "observability":
		return set(&s.ObservabilityPaths, v)
	case "oracle":
		return set(&s.Oracle, v)
	case "smoke":
		return set(&s.MinSmokeBudget, v)
	case "hardening":
		return set(&s.MinHardeningBudget, v)
	}
	return false
}

func (sp *scenarioParser) armField(n, label, value string, it item) bool {
	a := sp.arm
	v := fieldValue(value, it)
	switch n {
	case "surface":
		return set(&a.Surface, v)
	case "oracle":
		return set(&a.Oracle, v)
	}
	return sp.disciplineField(&a.Discipline, n, v)
}
