package plan

import (
	"regexp"
	"sort"
	"strings"

	"github.com/yuin/goldmark/ast"
)

var (
	scenarioRE = regexp.MustCompile(`(?i)^(?:scenario\s+)?(S\d+)(?:\s*[:.—–-]+\s*|\s+|$)(.*)$`)
	// bareScenarioRE matches a heading that omits the word "Scenario":
	// "### S3: name".
	bareScenarioRE = regexp.MustCompile(`^S\d+\s*[:.—–-]`)
	armRE          = regexp.MustCompile(`(?i)^arm\s+([^\s:]+)`)
	tierRE         = regexp.MustCompile(`(?i)\b(smoke|hardening|release)\s*:`)
)

// isScenarioHeading reports whether a heading text opens a scenario block
// and returns its id and name.
func isScenarioHeading(title string) (id, name string, ok bool) {
	t := strings.TrimSpace(title)
	if !strings.HasPrefix(strings.ToLower(t), "scenario") && !bareScenarioRE.MatchString(t) {
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
	case n == "arm" || strings.HasPrefix(n, "arm "):
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
		"target test file": "target", "test file": "target", "target file": "target",
		"skeleton language": "language", "language": "language", "skeleton": "skeleton",
	}
	disciplineKeys = map[string]string{
		"model under test": "model", "model": "model",
		"operation history": "history", "history": "history",
		"checker":                    "checker",
		"nemesis + landing evidence": "nemesis", "nemesis and landing evidence": "nemesis",
		"nemesis landing evidence": "nemesis", "nemesis": "nemesis",
		"ambiguous outcomes": "ambiguous", "reduction plan": "reduction", "reduction": "reduction",
	}
	surfaceKeys = map[string]string{
		"boundary claim": "claim", "boundary keys": "keys", "surfaces": "surfaces",
		"operations": "operations", "operations per surface": "operations",
		"positive controls": "positive", "negative controls": "negative",
		"confusable identifiers": "confusable", "confusable ids": "confusable", "delayed paths": "delayed",
		"delayed / async paths": "delayed", "delayed/async paths": "delayed", "delayed async paths": "delayed",
		"background paths": "background", "observability paths": "observability",
		"oracle": "oracle", "minimum smoke budget": "smoke", "minimum hardening budget": "hardening",
		"min smoke budget": "smoke", "min hardening budget": "hardening",
	}
)

// borrow is a field value read outside its home context.
type borrow struct {
	label string
	seq   int
}

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
	// borrowed records the fields filled from outside their home context.
	borrowed map[*string]borrow
	// seq numbers the items of the current scenario; extraSeq holds the
	// item number of each cur.Extra field, so that Extra is in reading
	// order even when a displaced value joins it late.
	seq      int
	extraSeq []int
	// pendingSkeleton is set when a Skeleton label had no code block, so
	// that an unindented fence right after the list is taken as the
	// skeleton.
	pendingSkeleton bool
	notes           noteSet // current scenario's notes
	armNotes        noteSet
	pre             noteSet // §7 prose before the first scenario
}

func parseScenarios(p *Plan, body []block, src []byte) {
	sp := &scenarioParser{p: p, src: src}
	for _, b := range body {
		sp.block(b)
	}
	sp.flush()
	p.ScenariosNotes = joinNotes(p.ScenariosNotes, sp.pre.String())
}

// notes returns where prose goes now: the arm, the scenario or §7.
func (sp *scenarioParser) notesHere() *noteSet {
	switch {
	case sp.cur == nil:
		return &sp.pre
	case sp.arm != nil:
		return &sp.armNotes
	}
	return &sp.notes
}

func (sp *scenarioParser) flushArm() {
	if sp.arm == nil {
		return
	}
	if sp.arm.Discipline == nil && sp.armDiscHead && !sp.armNAInDisc {
		sp.arm.Discipline = &Discipline{}
	}
	sp.arm.Notes = sp.armNotes.String()
	sp.cur.Arms = append(sp.cur.Arms, *sp.arm)
	sp.arm, sp.armNotes, sp.armDisc, sp.armDiscHead, sp.armNAInDisc = nil, noteSet{}, false, false, false
}

func (sp *scenarioParser) flush() {
	if sp.cur == nil {
		return
	}
	sp.flushArm()
	if sp.cur.Discipline == nil && sp.discHeading && !sp.naInDisc {
		sp.cur.Discipline = &Discipline{}
	}
	sp.cur.Notes = sp.notes.String()
	if !sort.IntsAreSorted(sp.extraSeq) {
		idx := make([]int, len(sp.extraSeq))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return sp.extraSeq[idx[a]] < sp.extraSeq[idx[b]] })
		sorted := make([]Field, len(idx))
		for i, k := range idx {
			sorted[i] = sp.cur.Extra[k]
		}
		sp.cur.Extra = sorted
	}
	sp.p.Scenarios = append(sp.p.Scenarios, *sp.cur)
	sp.cur, sp.notes, sp.ctx = nil, noteSet{}, subNone
	sp.discHeading, sp.naInDisc, sp.pendingSkeleton = false, false, false
	sp.borrowed, sp.seq, sp.extraSeq = nil, 0, nil
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
		sp.notesHere().block(b, src)
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
	sp.notesHere().block(b, src)
}

// item assigns one list item of a scenario block.
func (sp *scenarioParser) item(it item) {
	sp.seq++
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
		sp.notesHere().text("- " + indentRest(it.text))
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
		if sp.disciplineField(&s.Discipline, n, label, fieldValue(value, it), true) || sp.scenarioField(n, label, value, it) || sp.surfaceField(n, label, fieldValue(value, it), false, false) {
			return
		}
	case subSurfaces:
		if sp.surfaceField(n, label, fieldValue(value, it), true, true) || sp.scenarioField(n, label, value, it) || sp.disciplineField(&s.Discipline, n, label, fieldValue(value, it), false) {
			return
		}
	default:
		if sp.scenarioField(n, label, value, it) || sp.disciplineField(&s.Discipline, n, label, fieldValue(value, it), false) || sp.surfaceField(n, label, fieldValue(value, it), false, false) {
			return
		}
	}
	sp.addExtra(Field{Label: label, Value: fieldValue(value, it)}, sp.seq)
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

// put stores v in *dst unless it already holds a value (a repeated label
// is kept as an Extra field by the caller). home says whether the label
// sits where the canonical shape puts it (a §7.M label under the §7.M
// heading, a scenario label in the main list): a value from home displaces
// one borrowed from elsewhere, which moves to Extra. Without this rule the
// winner of a repeated label would depend on where Render puts it.
func (sp *scenarioParser) put(dst *string, v, label string, home bool) bool {
	if *dst == "" {
		*dst = v
		if !home {
			if sp.borrowed == nil {
				sp.borrowed = map[*string]borrow{}
			}
			sp.borrowed[dst] = borrow{label: label, seq: sp.seq}
		}
		return true
	}
	old, wasBorrowed := sp.borrowed[dst]
	if !home || !wasBorrowed || sp.arm != nil {
		return false
	}
	// The displaced value keeps its place among the Extra fields: the
	// position of the item it was read from.
	sp.addExtra(Field{Label: old.label, Value: *dst}, old.seq)
	*dst = v
	delete(sp.borrowed, dst)
	return true
}

// addExtra records an unrecognised field of the current scenario read
// from item number seq.
func (sp *scenarioParser) addExtra(f Field, seq int) {
	sp.cur.Extra = append(sp.cur.Extra, f)
	sp.extraSeq = append(sp.extraSeq, seq)
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
		return sp.put(&s.Technique, fieldValue(value, it), label, sp.ctx == subNone)
	case "workload":
		return sp.put(&s.Workload, fieldValue(value, it), label, sp.ctx == subNone)
	case "faults":
		return sp.put(&s.Faults, fieldValue(value, it), label, sp.ctx == subNone)
	case "oracle":
		return sp.put(&s.Oracle, fieldValue(value, it), label, sp.ctx == subNone)
	case "observability":
		return sp.put(&s.Observability, fieldValue(value, it), label, sp.ctx == subNone)
	case "exit":
		return sp.put(&s.ExitCriteria, fieldValue(value, it), label, sp.ctx == subNone)
	case "target":
		return sp.put(&s.TargetTestFile, fieldValue(value, it), label, sp.ctx == subNone)
	case "language":
		return sp.put(&s.SkeletonLanguage, fieldValue(value, it), label, sp.ctx == subNone)
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
		sp.addExtra(Field{Label: label, Value: rest}, sp.seq)
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
		text := strings.Join(strings.Fields(strings.TrimRight(v[loc[1]:end], " \t\r\n;,*-")), " ")
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

func (sp *scenarioParser) disciplineField(dst **Discipline, n, label, v string, home bool) bool {
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
		return sp.put(&d.Model, v, label, home)
	case "history":
		return sp.put(&d.History, v, label, home)
	case "checker":
		return sp.put(&d.Checker, v, label, home)
	case "nemesis":
		return sp.put(&d.Nemesis, v, label, home)
	case "ambiguous":
		return sp.put(&d.AmbiguousOutcomes, v, label, home)
	case "reduction":
		return sp.put(&d.ReductionPlan, v, label, home)
	}
	return false
}

func (sp *scenarioParser) surfaceField(n, label, v string, oracle, home bool) bool {
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
		return sp.put(&s.BoundaryClaim, v, label, home)
	case "keys":
		return sp.put(&s.BoundaryKeys, v, label, home)
	case "surfaces":
		return sp.put(&s.Surfaces, v, label, home)
	case "operations":
		return sp.put(&s.Operations, v, label, home)
	case "positive":
		return sp.put(&s.PositiveControls, v, label, home)
	case "negative":
		return sp.put(&s.NegativeControls, v, label, home)
	case "confusable":
		return sp.put(&s.ConfusableIDs, v, label, home)
	case "delayed":
		return sp.put(&s.DelayedPaths, v, label, home)
	case "background":
		return sp.put(&s.BackgroundPaths, v, label, home)
	case "observability":
		return sp.put(&s.ObservabilityPaths, v, label, home)
	case "oracle":
		return sp.put(&s.Oracle, v, label, home)
	case "smoke":
		return sp.put(&s.MinSmokeBudget, v, label, home)
	case "hardening":
		return sp.put(&s.MinHardeningBudget, v, label, home)
	}
	return false
}

func (sp *scenarioParser) armField(n, label, value string, it item) bool {
	a := sp.arm
	v := fieldValue(value, it)
	switch n {
	case "surface":
		return sp.put(&a.Surface, v, label, true)
	case "oracle":
		return sp.put(&a.Oracle, v, label, true)
	}
	return sp.disciplineField(&a.Discipline, n, label, v, true)
}
