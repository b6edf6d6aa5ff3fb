package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Toolbox roles: what a discovered item is for.
const (
	RoleTestDriver   = "test-driver"   // a folder of integration / chaos / e2e / jepsen tests
	RoleHarness      = "harness"       // a script or tool under tools/, scripts/, bin/, hack/
	RoleRunbook      = "runbook"       // an operational document (failover, recovery, disaster…)
	RoleMakeTarget   = "make-target"   // a Makefile / justfile / Taskfile target that tests
	RoleCIWorkflow   = "ci-workflow"   // a CI pipeline definition
	RoleFaultTooling = "fault-tooling" // a file that already injects faults
)

// ToolboxItem is one test driver, harness, runbook, build target, CI
// workflow or fault tool found in the SUT's repository.
type ToolboxItem struct {
	Path   string `json:"path"` // workspace-relative; "Makefile:chaos" for a target
	Role   string `json:"role"`
	Detail string `json:"detail"`
	// Faults lists the fault-injection tools the item uses (tc netem,
	// iptables, toxiproxy, kill -9…), when any.
	Faults []string `json:"faults,omitempty"`
}

// Toolbox is what DiscoverToolbox found.
type Toolbox struct {
	Items []ToolboxItem `json:"items"`
	// Scanned counts the files looked at.
	Scanned int `json:"scanned"`
	// Truncated says why the scan stopped early ("" when it finished).
	Truncated string `json:"truncated,omitempty"`
	// ElapsedMS is how long the scan took.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// ToolboxOptions bound a toolbox scan. Zero values take the defaults.
type ToolboxOptions struct {
	Timeout  time.Duration // default 5 s
	MaxFiles int           // files visited; default 50,000
	MaxItems int           // items reported; default 400
}

const (
	toolboxTimeout  = 5 * time.Second
	toolboxMaxFiles = 50000
	toolboxMaxItems = 400
	toolboxReadCap  = 512 << 10 // bytes of a file searched for fault tooling
)

// toolboxSkipDirs are never descended into: dependencies, VCS metadata,
// build output and falsify's own sessions.
var toolboxSkipDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, "vendor": true, "node_modules": true,
	"test-sessions": true, ".venv": true, "venv": true, "__pycache__": true, ".tox": true,
	"target": true, ".idea": true, ".vscode": true, "third_party": true, ".cache": true,
}

// harnessDirs hold scripts and tools, one item per file.
var harnessDirs = map[string]bool{"tools": true, "scripts": true, "script": true, "bin": true, "hack": true}

// testDirRE matches the name of a folder of system-level tests, one item
// per folder.
var testDirRE = regexp.MustCompile(`(?i)^(integration|integration[-_]tests?|it|stability|chaos|chaos[-_]tests?|e2e|e2e[-_]tests?|end[-_]to[-_]end|jepsen|soak|stress|torture|nemesis|fault[-_]?injection|faults|system[-_]tests?|acceptance|smoke[-_]tests?|load[-_]tests?|perf|benchmarks?)$`)

// runbookRE matches a document name that reads like a runbook.
var runbookRE = regexp.MustCompile(`(?i)(runbook|playbook|disaster|recovery|failover|incident|on-?call|dr[-_]|backup[-_]restore)`)

// targetRE matches a build target name worth reporting.
var targetRE = regexp.MustCompile(`(?i)(test|chaos|bench|soak|integration|e2e|jepsen|stress|fuzz|torture|nemesis|fault)`)

// faultTool is a pattern that shows a file injects faults. The regexp
// runs only on a text that holds one of the hints (lowercase literals), so
// that a scan of a large repository stays cheap.
type faultTool struct {
	name  string
	hints []string
	re    *regexp.Regexp
}

// faultTools are the fault-injection tools and idioms a toolbox scan
// recognises, in report order.
var faultTools = []faultTool{
	{"tc netem", []string{"qdisc", "netem"}, regexp.MustCompile(`\btc\s+qdisc\b|\bnetem\b`)},
	{"iptables", []string{"iptables"}, regexp.MustCompile(`\bip6?tables\b`)},
	{"nftables", []string{"nft "}, regexp.MustCompile(`\bnft\s+(add|insert|delete|flush|create|list)\b`)},
	{"toxiproxy", []string{"toxiproxy"}, regexp.MustCompile(`(?i)\btoxiproxy\b`)},
	{"chaos-mesh", []string{"chaos", "kind:"}, regexp.MustCompile(`(?i)chaos-?mesh|\bkind:\s*(NetworkChaos|PodChaos|IOChaos|TimeChaos|StressChaos)\b`)},
	{"litmus", []string{"litmus"}, regexp.MustCompile(`(?i)\blitmus(chaos)?\b`)},
	{"pumba", []string{"pumba"}, regexp.MustCompile(`(?i)\bpumba\b`)},
	{"blockade", []string{"blockade"}, regexp.MustCompile(`(?i)\bblockade\b`)},
	{"kill -9", []string{"kill", "sigkill"}, regexp.MustCompile(`\bkill\s+-(9|KILL|s\s+KILL)\b|\bSIGKILL\b|\bpkill\s+-9\b`)},
	{"SIGSTOP", []string{"stop"}, regexp.MustCompile(`\bkill\s+-(STOP|s\s+STOP)\b|\bSIGSTOP\b`)},
	{"faketime", []string{"faketime"}, regexp.MustCompile(`(?i)\b(lib)?faketime\b`)},
	{"docker pause/kill", []string{"docker"}, regexp.MustCompile(`\bdocker\s+(pause|kill|stop)\b|\bdocker-compose\s+(pause|kill|stop)\b|\bdocker\s+compose\s+(pause|kill|stop)\b`)},
	{"stress-ng", []string{"stress-ng"}, regexp.MustCompile(`\bstress-ng\b`)},
	{"dm-flakey", []string{"flakey", "dmsetup"}, regexp.MustCompile(`\bdm-?flakey\b|\bdmsetup\b`)},
}

// scriptExts are files whose text is searched for fault tooling anywhere
// in the repository.
var scriptExts = map[string]bool{
	".sh": true, ".bash": true, ".zsh": true, ".py": true, ".rb": true, ".pl": true,
	".ps1": true, ".clj": true, ".edn": true, ".yml": true, ".yaml": true, ".toml": true,
}

// DiscoverToolbox scans the SUT repository at root for what a tester can
// reuse (SPEC §7): harness scripts under tools/, scripts/, bin/ and hack/;
// folders of integration, stability, chaos, e2e or Jepsen tests; runbooks
// (runbook, playbook, disaster, recovery or failover in the name); build
// targets that test, bench or inject chaos (Makefile, justfile,
// Taskfile); CI workflow files; and, in all of these and in any script or
// config file, the fault-injection tools already used (tc netem, iptables,
// nft, toxiproxy, chaos-mesh, pumba, kill -9, SIGSTOP, faketime, docker
// pause…). Dependency, VCS and session folders are skipped. The scan is
// bounded by opts (a scan cut short says why in Truncated) and by ctx; it
// reads regular files only and never follows a symlink.
func DiscoverToolbox(ctx context.Context, root string, opts ToolboxOptions) (*Toolbox, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = toolboxTimeout
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = toolboxMaxFiles
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = toolboxMaxItems
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("toolbox: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("toolbox: %s is not a directory", root)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	sc := &toolboxScan{ctx: ctx, root: root, opts: opts, tb: &Toolbox{Items: []ToolboxItem{}}, testDirs: map[string]*testDir{}}
	err = filepath.WalkDir(root, sc.visit)
	switch {
	case errors.Is(err, errScanTimeout):
		sc.tb.Truncated = fmt.Sprintf("stopped after %s (%d files scanned): the listing is partial", opts.Timeout, sc.tb.Scanned)
	case errors.Is(err, errScanFiles):
		sc.tb.Truncated = fmt.Sprintf("stopped after %d files: the listing is partial", opts.MaxFiles)
	case err != nil:
		return nil, fmt.Errorf("toolbox: %w", err)
	}
	sc.flushTestDirs()
	sort.SliceStable(sc.tb.Items, func(i, j int) bool {
		a, b := sc.tb.Items[i], sc.tb.Items[j]
		if roleRank(a.Role) != roleRank(b.Role) {
			return roleRank(a.Role) < roleRank(b.Role)
		}
		return a.Path < b.Path
	})
	if len(sc.tb.Items) > opts.MaxItems {
		sc.tb.Truncated = joinNote(sc.tb.Truncated, fmt.Sprintf("%d items found, the first %d listed", len(sc.tb.Items), opts.MaxItems))
		sc.tb.Items = sc.tb.Items[:opts.MaxItems]
	}
	sc.tb.ElapsedMS = time.Since(start).Milliseconds()
	return sc.tb, nil
}

var (
	errScanTimeout = errors.New("toolbox scan timed out")
	errScanFiles   = errors.New("toolbox scan file limit")
)

// roleRank orders roles in the report: fault tooling first, since it
// shows what the SUT already tests under faults.
func roleRank(role string) int {
	switch role {
	case RoleFaultTooling:
		return 0
	case RoleTestDriver:
		return 1
	case RoleHarness:
		return 2
	case RoleMakeTarget:
		return 3
	case RoleCIWorkflow:
		return 4
	case RoleRunbook:
		return 5
	}
	return 6
}

// toolboxScan is one scan in progress.
type toolboxScan struct {
	root     string
	opts     ToolboxOptions
	ctx      context.Context
	tb       *Toolbox
	testDirs map[string]*testDir // by workspace-relative folder
}

// testDir accumulates the files of one test folder.
type testDir struct {
	files  int
	names  []string
	exts   map[string]int
	faults map[string]bool
}

func (sc *toolboxScan) visit(p string, d fs.DirEntry, err error) error {
	if err := sc.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errScanTimeout
		}
		return err
	}
	rel, rerr := filepath.Rel(sc.root, p)
	if rerr != nil {
		return nil
	}
	rel = filepath.ToSlash(rel)
	if err != nil {
		// An unreadable folder is skipped, not fatal.
		if d != nil && d.IsDir() && rel != "." {
			return fs.SkipDir
		}
		return nil
	}
	if d.IsDir() {
		if rel != "." && (toolboxSkipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".") && d.Name() != ".github" && d.Name() != ".circleci" && d.Name() != ".buildkite" && d.Name() != ".gitlab") {
			return fs.SkipDir
		}
		return nil
	}
	if !d.Type().IsRegular() {
		return nil // symlinks and devices are not followed
	}
	sc.tb.Scanned++
	if sc.tb.Scanned > sc.opts.MaxFiles {
		return errScanFiles
	}
	sc.classify(rel, p)
	return nil
}

// classify records what one file is, if anything.
func (sc *toolboxScan) classify(rel, abs string) {
	name := path.Base(rel)
	lower := strings.ToLower(name)
	dirs := strings.Split(path.Dir(rel), "/")
	ext := strings.ToLower(path.Ext(name))

	// CI workflows.
	if kind := ciKind(rel); kind != "" {
		text := readCapped(abs)
		item := ToolboxItem{Path: rel, Role: RoleCIWorkflow, Detail: kind}
		if n := yamlName(text); n != "" {
			item.Detail += ": " + n
		}
		item.Faults = faultsIn(text)
		if jobs := ciTestJobs(text); len(jobs) > 0 {
			item.Detail += "; test jobs: " + strings.Join(jobs, ", ")
		}
		sc.add(withFaults(item))
		return
	}
	// Build targets.
	switch {
	case name == "Makefile" || name == "GNUmakefile" || name == "makefile" || ext == ".mk":
		sc.targets(rel, abs, makeTargets)
		return
	case lower == "justfile" || lower == ".justfile":
		sc.targets(rel, abs, justTargets)
		return
	case lower == "taskfile.yml" || lower == "taskfile.yaml":
		sc.targets(rel, abs, taskTargets)
		return
	}
	// A folder of system-level tests: one item per folder, the outermost
	// one when they nest (test/e2e/jepsen/ is part of test/e2e/).
	for i := 0; i < len(dirs); i++ {
		if dirs[i] != "." && testDirRE.MatchString(dirs[i]) {
			dir := strings.Join(dirs[:i+1], "/")
			td := sc.testDirs[dir]
			if td == nil {
				td = &testDir{exts: map[string]int{}, faults: map[string]bool{}}
				sc.testDirs[dir] = td
			}
			td.files++
			if len(td.names) < 4 {
				td.names = append(td.names, strings.TrimPrefix(rel, dir+"/"))
			}
			if ext != "" {
				td.exts[ext]++
			}
			if isText(ext) {
				for _, f := range faultsIn(readCapped(abs)) {
					td.faults[f] = true
				}
			}
			return
		}
	}
	// Harness scripts and tools.
	for _, dir := range dirs {
		if dataDirs[dir] {
			break
		}
		if harnessDirs[dir] {
			if !harnessFile(name, abs) {
				break
			}
			text := readCapped(abs)
			if looksBinary(text) {
				sc.add(ToolboxItem{Path: rel, Role: RoleHarness, Detail: "binary under " + dir + "/"})
				return
			}
			item := ToolboxItem{Path: rel, Role: RoleHarness, Detail: scriptKind(name, text)}
			if c := firstComment(text); c != "" {
				item.Detail += ": " + c
			}
			item.Faults = faultsIn(text)
			sc.add(withFaults(item))
			return
		}
	}
	// Runbooks.
	if isDoc(ext) && runbookRE.MatchString(name) {
		text := readCapped(abs)
		detail := "runbook"
		if h := firstHeading(text); h != "" {
			detail += ": " + h
		}
		sc.add(ToolboxItem{Path: rel, Role: RoleRunbook, Detail: detail})
		return
	}
	// Any other script or config that injects faults; Go, Rust, Java…
	// tests too, since a test that shells out to iptables is a harness.
	if scriptExts[ext] || lower == "dockerfile" || strings.HasPrefix(lower, "docker-compose") || isTestSource(name) {
		text := readCapped(abs)
		if fs := faultsIn(text); len(fs) > 0 {
			detail := scriptKind(name, text)
			if c := firstComment(text); c != "" && !isTestSource(name) {
				detail += ": " + c
			}
			sc.add(ToolboxItem{Path: rel, Role: RoleFaultTooling, Detail: detail + "; injects faults with " + strings.Join(fs, ", "), Faults: fs})
		}
	}
}

// withFaults promotes a harness that injects faults to fault tooling and
// notes the tools in the detail.
func withFaults(it ToolboxItem) ToolboxItem {
	if len(it.Faults) == 0 {
		return it
	}
	if it.Role == RoleHarness {
		it.Role = RoleFaultTooling
	}
	it.Detail += "; injects faults with " + strings.Join(it.Faults, ", ")
	return it
}

func (sc *toolboxScan) add(it ToolboxItem) {
	it.Detail = findingLine(it.Detail)
	sc.tb.Items = append(sc.tb.Items, it)
}

// flushTestDirs turns the accumulated test folders into items.
func (sc *toolboxScan) flushTestDirs() {
	dirs := make([]string, 0, len(sc.testDirs))
	for d := range sc.testDirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		td := sc.testDirs[d]
		var exts []string
		for e, n := range td.exts {
			exts = append(exts, fmt.Sprintf("%s×%d", e, n))
		}
		sort.Strings(exts)
		detail := fmt.Sprintf("%s test folder: %d file(s)", path.Base(d), td.files)
		if len(exts) > 0 {
			detail += " (" + strings.Join(exts, ", ") + ")"
		}
		detail += ", e.g. " + strings.Join(td.names, ", ")
		var faults []string
		for _, ft := range faultTools {
			if td.faults[ft.name] {
				faults = append(faults, ft.name)
			}
		}
		it := ToolboxItem{Path: d + "/", Role: RoleTestDriver, Detail: detail, Faults: faults}
		if len(faults) > 0 {
			it.Detail += "; injects faults with " + strings.Join(faults, ", ")
		}
		sc.add(it)
	}
}

// targets reports the interesting targets of a build file.
func (sc *toolboxScan) targets(rel, abs string, parse func(string) []buildTarget) {
	text := readCapped(abs)
	for _, t := range parse(text) {
		if !targetRE.MatchString(t.name) {
			continue
		}
		it := ToolboxItem{Path: rel + ":" + t.name, Role: RoleMakeTarget, Detail: t.recipe}
		if it.Detail == "" {
			it.Detail = "target " + t.name
		}
		it.Faults = faultsIn(t.body)
		if len(it.Faults) > 0 {
			it.Detail += "; injects faults with " + strings.Join(it.Faults, ", ")
		}
		sc.add(it)
	}
}

// buildTarget is one target of a Makefile, justfile or Taskfile.
type buildTarget struct {
	name   string
	recipe string // its first command, or its description
	body   string // every command line
}

var (
	makeTargetRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.\-/]*)\s*:([^=]|$)`)
	justRecipeRE = regexp.MustCompile(`^@?([A-Za-z0-9][A-Za-z0-9_-]*)(\s+[^:]*)?:([^=]|$)`)
)

// makeTargets parses the rules of a Makefile.
func makeTargets(text string) []buildTarget {
	return indentedTargets(text, func(line string) string {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ") || strings.HasPrefix(line, ".") {
			return ""
		}
		if m := makeTargetRE.FindStringSubmatch(line); m != nil {
			return m[1]
		}
		return ""
	})
}

// justTargets parses the recipes of a justfile.
func justTargets(text string) []buildTarget {
	return indentedTargets(text, func(line string) string {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "set ") {
			return ""
		}
		if m := justRecipeRE.FindStringSubmatch(line); m != nil {
			return m[1]
		}
		return ""
	})
}

// indentedTargets splits a Makefile-like text into targets and their
// indented command lines.
func indentedTargets(text string, head func(string) string) []buildTarget {
	var out []buildTarget
	var cur *buildTarget
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name := head(line); name != "" {
			out = append(out, buildTarget{name: name})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		cmd := strings.TrimSpace(line)
		switch {
		case cmd == "" || strings.HasPrefix(cmd, "#"):
			continue
		case strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "  "):
			cmd = strings.TrimLeft(cmd, "@-+")
			if cur.recipe == "" {
				cur.recipe = cmd
			}
			cur.body += cmd + "\n"
		default:
			cur = nil
		}
	}
	return out
}

// taskTargets parses the tasks of a Taskfile.yml: the keys indented under
// "tasks:".
func taskTargets(text string) []buildTarget {
	var out []buildTarget
	in := false
	indent := -1
	var cur *buildTarget
	for _, line := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		lead := len(line) - len(strings.TrimLeft(line, " "))
		if lead == 0 {
			in = trim == "tasks:"
			cur = nil
			continue
		}
		if !in {
			continue
		}
		if indent < 0 {
			indent = lead
		}
		if lead == indent && strings.HasSuffix(trim, ":") {
			out = append(out, buildTarget{name: strings.Trim(strings.TrimSuffix(trim, ":"), `"'`)})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if v, ok := strings.CutPrefix(trim, "desc:"); ok && cur.recipe == "" {
			cur.recipe = strings.Trim(strings.TrimSpace(v), `"'`)
		}
		if v, ok := strings.CutPrefix(trim, "- "); ok {
			v = strings.TrimPrefix(strings.TrimSpace(v), "cmd:")
			if cur.recipe == "" {
				cur.recipe = strings.TrimSpace(v)
			}
			cur.body += v + "\n"
		}
	}
	return out
}

// ciKind names the CI system of a workflow file, or "" when rel is not
// one.
func ciKind(rel string) string {
	lower := strings.ToLower(rel)
	ext := path.Ext(lower)
	yml := ext == ".yml" || ext == ".yaml"
	switch {
	case strings.HasPrefix(lower, ".github/workflows/") && yml:
		return "GitHub Actions workflow"
	case lower == ".gitlab-ci.yml" || strings.HasPrefix(lower, ".gitlab/") && yml:
		return "GitLab CI pipeline"
	case lower == ".circleci/config.yml":
		return "CircleCI config"
	case strings.HasPrefix(lower, ".buildkite/") && yml:
		return "Buildkite pipeline"
	case lower == ".travis.yml":
		return "Travis CI config"
	case lower == "azure-pipelines.yml":
		return "Azure Pipelines"
	case path.Base(rel) == "Jenkinsfile":
		return "Jenkins pipeline"
	case lower == ".drone.yml":
		return "Drone pipeline"
	}
	return ""
}

var yamlNameRE = regexp.MustCompile(`(?m)^name:\s*(.+)$`)

// yamlName returns a workflow's top-level name.
func yamlName(text string) string {
	m := yamlNameRE.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(m[1]), `"'`)
}

var ciJobRE = regexp.MustCompile(`(?m)^ {2}([A-Za-z0-9][A-Za-z0-9_.-]*):\s*$`)

// ciTestJobs returns the job names of a workflow that look like tests.
func ciTestJobs(text string) []string {
	var out []string
	for _, m := range ciJobRE.FindAllStringSubmatch(text, -1) {
		if targetRE.MatchString(m[1]) && len(out) < 8 {
			out = append(out, m[1])
		}
	}
	return out
}

// faultsIn names the fault tools text uses.
func faultsIn(text string) []string {
	if text == "" {
		return nil
	}
	lower := strings.ToLower(text)
	var out []string
	for _, ft := range faultTools {
		hinted := false
		for _, h := range ft.hints {
			if strings.Contains(lower, h) {
				hinted = true
				break
			}
		}
		if hinted && ft.re.MatchString(text) {
			out = append(out, ft.name)
		}
	}
	return out
}

// readCapped reads the first toolboxReadCap bytes of a file; "" when it
// cannot be read.
func readCapped(abs string) string {
	f, err := os.Open(abs)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, toolboxReadCap))
	return string(b)
}

func looksBinary(text string) bool {
	head := text
	if len(head) > 8000 {
		head = head[:8000]
	}
	return strings.IndexByte(head, 0) >= 0
}

func isText(ext string) bool {
	switch ext {
	case ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".zip", ".gz", ".tar", ".bin", ".so", ".a", ".o", ".jar", ".class", ".wasm":
		return false
	}
	return true
}

func isDoc(ext string) bool {
	switch ext {
	case ".md", ".markdown", ".rst", ".txt", ".adoc", ".org", "":
		return true
	}
	return false
}

// isTestSource reports whether a file name is a test in a common
// language's convention.
func isTestSource(name string) bool {
	l := strings.ToLower(name)
	return strings.HasSuffix(l, "_test.go") || strings.HasPrefix(l, "test_") && strings.HasSuffix(l, ".py") ||
		strings.HasSuffix(l, "_test.py") || strings.HasSuffix(l, "_test.clj") || strings.HasSuffix(l, ".test.ts") ||
		strings.HasSuffix(l, ".test.js") || strings.HasSuffix(l, "test.java") || strings.HasSuffix(l, "_test.rs")
}

// scriptKind names what a script is from its name and shebang.
func scriptKind(name, text string) string {
	if strings.HasPrefix(text, "#!") {
		line, _, _ := strings.Cut(text, "\n")
		fields := strings.Fields(strings.TrimPrefix(line, "#!"))
		if len(fields) > 0 {
			interp := path.Base(fields[0])
			if interp == "env" && len(fields) > 1 {
				interp = fields[len(fields)-1]
			}
			return interp + " script"
		}
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".sh", ".bash", ".zsh":
		return "shell script"
	case ".py":
		return "Python script"
	case ".rb":
		return "Ruby script"
	case ".go":
		if isTestSource(name) {
			return "Go test"
		}
		return "Go program"
	case ".clj":
		return "Clojure (Jepsen) source"
	case ".yml", ".yaml":
		return "YAML config"
	case ".toml":
		return "TOML config"
	}
	if strings.EqualFold(name, "dockerfile") {
		return "Dockerfile"
	}
	if isTestSource(name) {
		return "test source"
	}
	return "file"
}

// firstComment returns the first sentence of a script's first comment
// block after the shebang: usually what the script is for.
func firstComment(text string) string {
	var parts []string
	for i, line := range strings.Split(text, "\n") {
		if i > 40 {
			break
		}
		t := strings.TrimSpace(line)
		if len(parts) == 0 && (t == "" || strings.HasPrefix(t, "#!")) {
			continue
		}
		c, ok := commentText(t)
		if !ok || c == "" {
			if len(parts) > 0 {
				break
			}
			if ok || strings.HasPrefix(t, "set ") || strings.HasPrefix(t, "package ") {
				continue
			}
			return ""
		}
		lc := strings.ToLower(c)
		if len(parts) == 0 && (strings.HasPrefix(lc, "copyright") || strings.HasPrefix(c, "-*-") || strings.HasPrefix(lc, "shellcheck") || strings.HasPrefix(lc, "spdx-")) {
			continue
		}
		parts = append(parts, c)
		if strings.HasSuffix(c, ".") || len(parts) == 3 {
			break
		}
	}
	c := strings.Join(parts, " ")
	if i := strings.Index(c, ". "); i > 0 {
		c = c[:i+1]
	}
	if r := []rune(c); len(r) > 140 {
		c = string(r[:140]) + "…"
	}
	return c
}

// commentText returns the text of a comment line, and whether t is one.
func commentText(t string) (string, bool) {
	for _, p := range []string{"#", "//", "--", ";;", "REM "} {
		if c, ok := strings.CutPrefix(t, p); ok {
			return strings.TrimSpace(strings.TrimLeft(c, "#/-; ")), true
		}
	}
	return "", false
}

// dataDirs hold data, not tools, wherever they are.
var dataDirs = map[string]bool{"testdata": true, "fixtures": true, "golden": true}

// harnessFile reports whether a file in a harness folder is a tool: a
// script or source file, or an executable.
func harnessFile(name, abs string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".sh", ".bash", ".zsh", ".py", ".rb", ".pl", ".ps1", ".go", ".js", ".ts", ".mjs", ".clj", ".java", ".kt", ".rs", ".c", ".cc", ".cpp", ".lua", ".exs", ".ex":
		return true
	case "":
		return true // bin/kvrd, scripts/bench
	}
	st, err := os.Stat(abs)
	return err == nil && st.Mode()&0o111 != 0
}

// firstHeading returns a document's first Markdown heading (or first
// line).
func firstHeading(text string) string {
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t == "---" {
			continue
		}
		t = strings.TrimSpace(strings.TrimLeft(t, "#=*"))
		if len(t) > 120 {
			t = t[:120] + "…"
		}
		return t
	}
	return ""
}

// renderToolbox writes the toolbox as a Markdown section body.
func renderToolbox(b *bytes.Buffer, tb *Toolbox) {
	if tb == nil {
		b.WriteString("Toolbox discovery has not run for this session.\n\n")
		return
	}
	if len(tb.Items) == 0 {
		fmt.Fprintf(b, "Nothing found: no harness script, system-test folder, runbook, test target, CI workflow or fault tool in %d scanned files.\n\n", tb.Scanned)
	} else {
		fmt.Fprintf(b, "%d item(s) in %d scanned files.\n\n", len(tb.Items), tb.Scanned)
		b.WriteString("| Path | Role | Detail |\n|---|---|---|\n")
		for _, it := range tb.Items {
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", strings.ReplaceAll(findingLine(it.Path), "`", "'"), it.Role, findingCell(it.Detail))
		}
		b.WriteString("\n")
	}
	if tb.Truncated != "" {
		fmt.Fprintf(b, "Scan cut short: %s.\n\n", tb.Truncated)
	}
}
