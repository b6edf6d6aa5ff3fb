// Package plan holds falsify's test-plan model: the Go types of a plan
// (SPEC §2), its Markdown parser and renderer, the lint rules of SPEC §2.6,
// the checker picker of SPEC §4.1 and claim extraction from a SUT repo.
package plan

// Section ids in the order SPEC §2.1 requires them.
var SectionOrder = []string{"0", "1", "1b", "1c", "2", "3", "4", "5", "6", "6b", "7", "7b", "7c", "7d", "8", "9"}

// SectionTitles maps each section id to its canonical title.
var SectionTitles = map[string]string{
	"0":  "Architectural summary",
	"1":  "Scope",
	"1b": "Claims under test",
	"1c": "Missing claims discovered",
	"2":  "SUT model",
	"3":  "Existing test inventory",
	"4":  "Failure-mode hypotheses",
	"5":  "Coverage matrix",
	"6":  "Technique selection",
	"6b": "Environment requirements",
	"7":  "Scenarios",
	"7b": "Coverage adequacy argument",
	"7c": "Residual uncertainty",
	"7d": "Confidence statement",
	"8":  "What this plan does NOT cover",
	"9":  "Open questions / followups",
}

// Plan modes (SPEC §2).
const (
	ModeChangeScoped = "change-scoped"
	ModeProjectWide  = "project-wide"
)

// Plan is a whole test plan. Structured fields are what the parser
// understood; Notes fields keep prose it did not recognise, verbatim, so
// that rendering never drops what a person wrote.
type Plan struct {
	Header Header

	Summary     string // §0 body
	Scope       string // §1 body
	Claims      []Claim
	ClaimsNotes string
	// Missing claims (§1c). MissingNone is the explicit "none found"
	// sentence when the table is empty.
	MissingClaims []MissingClaim
	MissingNone   string
	MissingNotes  string // prose in §1c besides a non-empty table
	SUTModel      string // §2 body
	Inventory     []InventoryRow
	InventoryNote string
	Hypotheses    []Hypothesis
	// CategoryCoverage records §4's hypothesis categories marked N/A with a
	// reason: category name → reason.
	CategoryNA      map[string]string
	HypothesesNotes string
	Coverage        []CoverageRow
	CoverageNotes   string
	Techniques      []Technique
	TechniquesNotes string
	Environment     []Requirement
	EnvNotes        string
	Scenarios       []Scenario
	ScenariosNotes  string // prose in §7 before the first scenario
	Adequacy        []AdequacyRow
	AdequacyNotes   string
	Residual        []UncertaintyRow
	ResidualNone    string // explicit "empty" statement for §7c
	ResidualNotes   string // prose in §7c besides a non-empty table
	Confidence      string // §7d body
	NotCovered      []string
	NotCoveredNotes string // prose in §8 that is not a bullet
	OpenQuestions   []string
	QuestionsNotes  string // prose in §9 that is not a bullet

	// Present lists the section ids found in the file, in file order
	// (unknown headings are kept as "?<title>").
	Present []string
	// Extra holds sections with headings the parser does not know,
	// keyed by heading text, rendered verbatim after the known ones.
	Extra []RawSection
}

// RawSection is a section kept verbatim.
type RawSection struct {
	Heading string // full heading line, e.g. "## 10. Appendix"
	Body    string
}

// Header holds the title and the bold-label fields under it.
type Header struct {
	Slug   string // from "# Test Plan: <slug>"
	Date   string
	Mode   string // ModeChangeScoped or ModeProjectWide
	SUT    string
	Change string // "N/A — project-wide" for project-wide plans
	Author string
	Status string // draft / reviewed / executed
	Notes  string // unrecognised lines between the header and §0
}

// Claim categories (SPEC §2.3).
const (
	CategorySafety      = "safety"
	CategoryLiveness    = "liveness"
	CategoryDurability  = "durability"
	CategoryPerformance = "performance-SLO"
	CategoryOperational = "operational"
	CategoryIdempotency = "idempotency"
	CategoryIsolation   = "isolation"
	CategoryOrdering    = "ordering"
	CategoryMembership  = "membership"
	CategoryBoundary    = "boundary"
	CategoryFairness    = "fairness"
)

// Categories lists every claim category of SPEC §2.3.
var Categories = []string{
	CategorySafety, CategoryLiveness, CategoryDurability, CategoryPerformance,
	CategoryOperational, CategoryIdempotency, CategoryIsolation,
	CategoryOrdering, CategoryMembership, CategoryBoundary, CategoryFairness,
}

// Claim is one row of §1b.
type Claim struct {
	ID       string // C1, C2…
	Text     string
	Category string
	Source   string
	Inferred string // "yes" / "no" as written
}

// MissingClaim is one row of §1c.
type MissingClaim struct {
	ID       string // M1…
	Behavior string
	Evidence string
	Action   string
}

// InventoryRow is one row of §3 (project-wide plans).
type InventoryRow struct {
	Test, Subsystem, Invariant, FailureModes string
}

// HypothesisCategories are the §4 categories each plan covers or marks N/A.
var HypothesisCategories = []string{
	"correctness", "durability", "liveness", "partial failure",
	"idempotency/replay", "upgrade/rollback", "configuration", "performance/fairness",
}

// Hypothesis is one numbered H entry of §4.
type Hypothesis struct {
	ID               string // H1…
	Title            string
	Statement        string
	Falsifies        []string // claim ids
	SuspectedBecause string
	Subsystem        string
	Category         string // one of HypothesisCategories, when given
	Extra            []Field
}

// CoverageRow is one row of §5 (project-wide plans).
type CoverageRow struct {
	Claim, Hypothesis, ExistingTests, Verdict, GapKind, Recommended string
}

// Technique is one technique entry of §6.
type Technique struct {
	Name       string // from the techniques catalog
	Hypotheses []string
	Catches    string
	Cost       string
}

// TechniqueCatalog is the catalog of technique names a plan may pick in §6.
var TechniqueCatalog = []string{
	"jepsen-and-elle", "deterministic-simulation", "chaos-and-fault-injection",
	"fuzzing", "formal-methods-tla", "property-and-metamorphic",
	"performance-and-benchmarking", "crash-recovery-and-upgrade", "boundary-and-isolation",
}

// Requirement is one row of §6b.
type Requirement struct {
	Requirement, VersionFloor string
	UsedBy                    []string // scenario ids
	InstallHint               string
}

// Field is a bold-label bullet the parser did not recognise, kept verbatim.
type Field struct {
	Label string
	Value string
}

// Scenario is one §7 block.
type Scenario struct {
	ID               string // S1…
	Name             string // claim-shaped name
	Falsifies        []string
	Closes           []string
	Technique        string
	Workload         string
	Faults           string
	Oracle           string
	Observability    string
	ExitCriteria     string
	Budget           Budget
	TargetTestFile   string
	SkeletonLanguage string
	Skeleton         string // the code inside the fenced block

	// Discipline is §7.M when filled (nil when absent). ModelNA is true
	// when the scenario carries the exact not-applicable line instead.
	Discipline *Discipline
	ModelNA    bool
	// Surfaces is §7.M.S (nil when absent).
	Surfaces *Surfaces
	Arms     []Arm

	Extra []Field // unrecognised bold-label bullets
	Notes string  // unrecognised prose inside the block
}

// NotApplicableLine is the exact line a non-serious scenario carries.
const NotApplicableLine = "§7.M: not applicable (no gated claim category falsified)"

// Budget holds the three budget tiers as written.
type Budget struct {
	Smoke     string
	Hardening string
	Release   string
}

// Discipline is §7.M: model, history and checker.
type Discipline struct {
	Model             string // register, map, queue… or other(<name>)
	History           string
	Checker           string
	Nemesis           string
	AmbiguousOutcomes string
	ReductionPlan     string
}

// Surfaces is §7.M.S: the thirteen surface-decomposition fields.
type Surfaces struct {
	BoundaryClaim      string
	BoundaryKeys       string
	Surfaces           string
	Operations         string
	PositiveControls   string
	NegativeControls   string
	ConfusableIDs      string
	DelayedPaths       string
	BackgroundPaths    string
	ObservabilityPaths string
	Oracle             string
	MinSmokeBudget     string
	MinHardeningBudget string
}

// Arm is one slice of a boundary/fairness scenario (S5/api).
type Arm struct {
	ID         string // S5/api
	Surface    string
	Oracle     string
	Discipline *Discipline
	ModelNA    bool
	Extra      []Field
	Notes      string // unrecognised prose inside the arm block
}

// AdequacyRow is one row of §7b.
type AdequacyRow struct {
	Claim      string
	Threat     string
	Scenarios  []string
	Sufficient string
}

// UncertaintyRow is one row of §7c.
type UncertaintyRow struct {
	Uncertainty, WhyUncovered, WhyAcceptable, Revisit string
}
