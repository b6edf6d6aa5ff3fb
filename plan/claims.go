package plan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// ClaimOptions tunes ExtractClaims.
type ClaimOptions struct {
	// Paths restricts claim extraction to these paths, relative to the
	// root (files or directories, slash- or OS-separated). Empty means the
	// whole root. Documentation outside Paths is still read to decide
	// which behaviours no document backs.
	Paths []string
	// Limit caps the number of candidate claims (the most confident are
	// kept) and of candidate missing claims; 0 means 200.
	Limit int
	// Budget caps the wall-clock time of the scan; 0 means 10 seconds.
	Budget time.Duration
}

// CandidateClaim is a guarantee the system under test appears to promise,
// found in its docs, comments, error names or test names.
type CandidateClaim struct {
	Text     string
	Category string // one of Categories
	Source   string // path:line, path relative to the root, slash-separated
	// Inferred is true when the claim was derived from a name (an error
	// type or a test) rather than stated in prose.
	Inferred   bool
	Confidence float64  // 0..1
	Kind       string   // "doc", "comment", "error-name" or "test-name"
	Keywords   []string // lexicon phrases that decided category and confidence
}

// CandidateMissing is a behaviour the code relies on that no document
// states (SPEC §1 "missing claim").
type CandidateMissing struct {
	Behavior string
	Source   string // path:line
	Evidence string
	Kind     string // "error-type", "timeout-constant", "retry-constant" or "ttl-constant"
}

// ClaimReport is the result of ExtractClaims.
type ClaimReport struct {
	Claims  []CandidateClaim
	Missing []CandidateMissing
	// FilesScanned counts the files read for claims: in scope, of a known
	// language, and not skipped as generated, binary or too large.
	FilesScanned int
	// Truncated is true when the scan stopped early (budget, cancellation)
	// or results were cut to the limit; Reason says which.
	Truncated bool
	Reason    string
}

// Claim kinds.
const (
	ClaimKindDoc       = "doc"
	ClaimKindComment   = "comment"
	ClaimKindErrorName = "error-name"
	ClaimKindTestName  = "test-name"
)

// Missing-claim kinds.
const (
	MissingKindErrorType = "error-type"
	MissingKindTimeout   = "timeout-constant"
	MissingKindRetry     = "retry-constant"
	MissingKindTTL       = "ttl-constant"
)

const (
	defaultClaimLimit  = 200
	defaultClaimBudget = 10 * time.Second
	maxClaimFileSize   = 1 << 20
	binarySniffSize    = 8 << 10
	maxClaimTextLen    = 300
)

// skippedFiles are community and agent-instruction files whose rules are
// addressed to contributors, not promises of the system (matched on the
// upper-cased name without extension).
var skippedFiles = map[string]bool{
	"CODE_OF_CONDUCT": true, "CONTRIBUTING": true, "LICENSE": true, "LICENCE": true,
	"COPYING": true, "AUTHORS": true, "CODEOWNERS": true, "AGENTS": true, "CLAUDE": true,
	"GEMINI": true, "PULL_REQUEST_TEMPLATE": true, "ISSUE_TEMPLATE": true, "NOTICE": true,
}

// skippedDirs are directory names never descended into: dependencies,
// VCS metadata and build output. Hidden directories (".github", ".idea")
// are skipped as well.
var skippedDirs = map[string]bool{
	"vendor": true, "node_modules": true, "third_party": true, ".git": true,
	".hg": true, ".svn": true, "target": true, "dist": true, "build": true,
	"out": true, "bin": true, "__pycache__": true, ".venv": true, "venv": true,
	".tox": true, ".idea": true, ".vscode": true,
}

// sourceLang describes how to find comments in one language family.
type sourceLang struct {
	name         string
	lineComments []string // "//", "#"
	block        bool     // /* … */
	backtickRaw  bool     // Go raw strings, JS template literals
	triple       bool     // Python / Java text-block triple quotes
	rustRaw      bool     // r"…", r#"…"#
	docstrings   bool     // Python docstrings count as comments
	docAttrs     bool     // Elixir @doc / @moduledoc heredocs count as comments
	charHeur     bool     // ' starts a string only when it closes within a rune (Rust lifetimes)
}

var (
	langGo     = &sourceLang{name: "go", lineComments: []string{"//"}, block: true, backtickRaw: true}
	langRust   = &sourceLang{name: "rust", lineComments: []string{"//"}, block: true, rustRaw: true, charHeur: true}
	langJava   = &sourceLang{name: "java", lineComments: []string{"//"}, block: true, triple: true}
	langPython = &sourceLang{name: "python", lineComments: []string{"#"}, triple: true, docstrings: true}
	langJS     = &sourceLang{name: "js", lineComments: []string{"//"}, block: true, backtickRaw: true}
	langC      = &sourceLang{name: "c", lineComments: []string{"//"}, block: true, charHeur: true}
	langErlang = &sourceLang{name: "erlang", lineComments: []string{"%"}}
	langElixir = &sourceLang{name: "elixir", lineComments: []string{"#"}, triple: true, docAttrs: true}
	langClj    = &sourceLang{name: "clojure", lineComments: []string{";"}, charHeur: true}
)

// langByExt maps a file extension to its language; "md" marks Markdown.
var langByExt = map[string]*sourceLang{
	".go": langGo, ".rs": langRust,
	".java": langJava, ".kt": langJava, ".kts": langJava, ".scala": langJava, ".groovy": langJava,
	".py": langPython, ".pyi": langPython,
	".ts": langJS, ".tsx": langJS, ".js": langJS, ".jsx": langJS, ".mjs": langJS, ".cjs": langJS,
	".c": langC, ".h": langC, ".cc": langC, ".cpp": langC, ".cxx": langC, ".hpp": langC,
	".hh": langC, ".hxx": langC, ".cs": langC, ".swift": langC, ".proto": langC,
	".erl": langErlang, ".hrl": langErlang, ".ex": langElixir, ".exs": langElixir,
	".clj": langClj, ".cljs": langClj, ".cljc": langClj,
}

var markdownExts = map[string]bool{".md": true, ".markdown": true, ".mdx": true}

// plainDocExts are prose formats read line by line (reStructuredText,
// AsciiDoc) with their block markup skipped.
var plainDocExts = map[string]bool{".rst": true, ".adoc": true, ".asciidoc": true}

// ExtractClaims scans the repository at root for candidate claims: sentences
// in docs (Markdown, reStructuredText, AsciiDoc) and code comments (Go,
// Rust, Java/Kotlin/Scala, Python, TypeScript/JavaScript, C/C++/C#/Swift,
// Erlang, Elixir, Clojure) that state a guarantee, and guarantees implied
// by error type names and test names. A sentence counts when it carries a
// guarantee word ("never", "must", "at most", "within 5 s"…) or a strong
// category keyword ("linearizable", "exactly once", "fsync"…); the lexicon
// decides the SPEC §2.3 category. It also proposes missing claims:
// categorised error types and timeout, retry and TTL constants that no doc
// sentence backs.
//
// Dependency, VCS and build-output directories, generated files, binaries,
// symbolic links and files over 1 MB are skipped. Results are ordered by
// path, then line, and identical texts are reported once. When the budget
// runs out or ctx is cancelled, ExtractClaims returns what it found so far
// with Truncated set and a nil error; it returns an error only for a bad
// root or a bad Paths entry (absolute, or leaving the root).
func ExtractClaims(ctx context.Context, root string, opts ClaimOptions) (*ClaimReport, error) {
	if root == "" {
		return nil, errors.New("extract claims: root is empty")
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("extract claims: root %q: %w", root, err)
	}
	info, err := os.Stat(absRoot)
	if err != nil {
		return nil, fmt.Errorf("extract claims: root: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("extract claims: root %q is not a directory", root)
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return nil, fmt.Errorf("extract claims: root: %w", err)
	}
	scope, err := claimScope(realRoot, opts.Paths)
	if err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultClaimLimit
	}
	budget := opts.Budget
	if budget <= 0 {
		budget = defaultClaimBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	x := &claimExtractor{
		ctx:    ctx,
		scope:  scope,
		root:   realRoot,
		lex:    newClaimLexicons(),
		md:     newClaimMarkdown(),
		report: &ClaimReport{},
	}
	files, err := x.listFiles()
	if err != nil {
		return nil, err
	}
	listed := !x.stopped
	// Docs first: they are the claims that matter most, and every doc
	// sentence is needed to tell whether a behaviour is backed.
	sort.SliceStable(files, func(i, j int) bool {
		return files[i].markdown && !files[j].markdown
	})
	for _, f := range files {
		if x.stop() {
			break
		}
		inScope := scope.contains(f.rel)
		if !inScope && !f.markdown {
			continue
		}
		x.scanFile(f, inScope)
	}
	docsComplete := listed && x.docsRead == x.docsTotal
	x.finish(limit, budget, docsComplete)
	return x.report, nil
}

// newClaimMarkdown returns the Markdown parser claim extraction uses:
// CommonMark plus GitHub tables.
func newClaimMarkdown() goldmark.Markdown {
	return goldmark.New(goldmark.WithExtensions(extension.Table))
}

// claimPaths is the set of relative slash paths a scan is restricted to.
type claimPaths []string

func (s claimPaths) contains(rel string) bool {
	if len(s) == 0 {
		return true
	}
	for _, p := range s {
		if p == "." || rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// requests reports whether dir is a requested path or an ancestor of one,
// so that a path given explicitly is scanned even inside a directory that
// is normally skipped ("vendor/acme/raft").
func (s claimPaths) requests(dir string) bool {
	for _, p := range s {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// allows reports whether a file may be scanned: a file below a normally
// skipped directory only when a requested path inside that directory
// holds it.
func (s claimPaths) allows(rel string) bool {
	parts := strings.Split(rel, "/")
	for i, dir := range parts[:len(parts)-1] {
		if !skippedDir(dir) {
			continue
		}
		prefix := strings.Join(parts[:i+1], "/")
		ok := false
		for _, p := range s {
			if (p == prefix || strings.HasPrefix(p, prefix+"/")) && (rel == p || strings.HasPrefix(rel, p+"/")) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// skippedDir reports whether a directory name is skipped unless requested.
func skippedDir(name string) bool {
	return skippedDirs[name] || (strings.HasPrefix(name, ".") && name != "." && name != "..")
}

// claimScope validates opts.Paths: each entry must be relative, stay
// inside root after cleaning and after resolving symbolic links, and exist.
func claimScope(realRoot string, paths []string) (claimPaths, error) {
	var out claimPaths
	for i, p := range paths {
		field := fmt.Sprintf("paths[%d] %q", i, p)
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("extract claims: %s: empty path", field)
		}
		native := filepath.FromSlash(p)
		if filepath.IsAbs(native) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.VolumeName(native) != "" {
			return nil, fmt.Errorf("extract claims: %s: must be relative to the root", field)
		}
		clean := filepath.Clean(native)
		if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("extract claims: %s: leaves the root", field)
		}
		real, err := filepath.EvalSymlinks(filepath.Join(realRoot, clean))
		if err != nil {
			return nil, fmt.Errorf("extract claims: %s: %w", field, err)
		}
		rel, err := filepath.Rel(realRoot, real)
		if err != nil || !insideRoot(realRoot, real) {
			return nil, fmt.Errorf("extract claims: %s: resolves outside the root", field)
		}
		// The walk does not follow links, so scope by the resolved path.
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

func insideRoot(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel))
}

// claimFile is one file selected for scanning.
type claimFile struct {
	rel      string // slash-separated, relative to root
	path     string
	size     int64
	markdown bool // a prose doc: Markdown, or reStructuredText / AsciiDoc when plain
	plain    bool
	lang     *sourceLang
}

// docSentence is one Markdown sentence kept to decide backing.
type docSentence struct {
	norm string // " "-joined stemmed words, padded with spaces
}

// foundError is an error type or value declared in code.
type foundError struct {
	name   string
	core   []string // words of the name without Err/Error/Exception
	source string
	claim  bool // categorised, reported as an inferred claim
}

// foundConstant is a timeout, retry or TTL constant declared in code.
type foundConstant struct {
	name, value, decl, source, kind string
	words                           []string
}

// foundClaim is a claim before sorting.
type foundClaim struct {
	claim CandidateClaim
	path  string
	line  int
}

type claimExtractor struct {
	ctx       context.Context
	scope     claimPaths
	root      string
	lex       *claimLexicons
	md        goldmark.Markdown
	report    *ClaimReport
	claims    []foundClaim
	docs      []docSentence
	errs      []foundError
	consts    []foundConstant
	stopped   bool
	docsTotal int
	docsRead  int
}

// stop reports whether the scan must end (budget spent or cancelled).
func (x *claimExtractor) stop() bool {
	if x.stopped {
		return true
	}
	if x.ctx.Err() != nil {
		x.stopped = true
	}
	return x.stopped
}

// listFiles walks the root, skipping excluded directories and anything that
// is not a regular file of a known language, and returns the files sorted
// by path.
func (x *claimExtractor) listFiles() ([]claimFile, error) {
	var files []claimFile
	err := filepath.WalkDir(x.root, func(path string, d fs.DirEntry, err error) error {
		if x.stop() {
			return fs.SkipAll
		}
		if err != nil {
			if path == x.root {
				return err
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil // unreadable entry: skip it, keep going
		}
		rel, err := filepath.Rel(x.root, path)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path != x.root && skippedDir(d.Name()) && !x.scope.requests(rel) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // symbolic links, devices, sockets
		}
		ext := strings.ToLower(filepath.Ext(d.Name()))
		if skippedFiles[strings.ToUpper(strings.TrimSuffix(d.Name(), filepath.Ext(d.Name())))] {
			return nil
		}
		f := claimFile{path: path, markdown: markdownExts[ext] || plainDocExts[ext], plain: plainDocExts[ext], lang: langByExt[ext]}
		if !f.markdown && f.lang == nil {
			return nil
		}
		if !x.scope.allows(rel) {
			return nil
		}
		f.rel = rel
		if info, err := d.Info(); err == nil {
			f.size = info.Size()
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extract claims: walk %s: %w", x.root, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	for _, f := range files {
		if f.markdown {
			x.docsTotal++
		}
	}
	return files, nil
}

// readClaimFile loads a file unless it is too large, binary or generated.
func readClaimFile(f claimFile) ([]byte, bool) {
	if f.size > maxClaimFileSize {
		return nil, false
	}
	src, err := os.ReadFile(f.path)
	if err != nil || len(src) > maxClaimFileSize {
		return nil, false
	}
	sniff := src
	if len(sniff) > binarySniffSize {
		sniff = sniff[:binarySniffSize]
	}
	if bytes.IndexByte(sniff, 0) >= 0 {
		return nil, false
	}
	if isGenerated(src) {
		return nil, false
	}
	return src, true
}

// isGenerated reports whether the first lines carry a generated-code marker
// ("Code generated … DO NOT EDIT." or "@generated").
func isGenerated(src []byte) bool {
	head := src
	for i, n := 0, 0; i < len(head); i++ {
		if head[i] == '\n' {
			n++
			if n == 10 {
				head = head[:i]
				break
			}
		}
	}
	return bytes.Contains(head, []byte("Code generated")) || bytes.Contains(head, []byte("@generated")) ||
		bytes.Contains(head, []byte("DO NOT EDIT"))
}

// scanFile extracts from one file. Markdown outside the scope is read only
// for backing.
func (x *claimExtractor) scanFile(f claimFile, inScope bool) {
	src, ok := readClaimFile(f)
	if f.markdown {
		// A doc counts as read only if the scan was not cut short inside it.
		defer func() {
			if x.ctx.Err() == nil {
				x.docsRead++
			}
		}()
	}
	if !ok {
		return
	}
	if inScope {
		x.report.FilesScanned++
	}
	switch {
	case f.plain:
		x.scanPlainDoc(f, src, inScope)
		return
	case f.markdown:
		x.scanMarkdown(f, src, inScope)
		return
	}
	x.scanSource(f, src)
}

// ---- sentences -----------------------------------------------------------

// textAnchor ties a position in assembled text to a source position: an
// offset into the file (Markdown) or a line number (comments).
type textAnchor struct {
	pos int
	src int
}

// sentenceSpan is a sentence's [start, end) in assembled text.
type sentenceSpan struct{ start, end int }

// abbreviations never end a sentence.
var abbreviations = map[string]bool{
	"e.g": true, "i.e": true, "etc": true, "vs": true, "cf": true, "approx": true,
	"mr": true, "dr": true, "no": true, "fig": true, "eq": true, "al": true, "resp": true,
}

// sentenceSpans splits prose into sentences at '.', '!' or '?' followed by
// white space, except after abbreviations and single letters.
func sentenceSpans(s string) []sentenceSpan {
	var out []sentenceSpan
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		if i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t' && s[i+1] != '\n' {
			continue
		}
		if c == '.' {
			j := i
			for j > start && s[j-1] != ' ' && s[j-1] != '(' {
				j--
			}
			word := strings.ToLower(strings.TrimLeft(s[j:i], "(\"'`"))
			if abbreviations[word] || (len(word) == 1 && unicode.IsLetter(rune(word[0]))) {
				continue
			}
		}
		out = append(out, sentenceSpan{start, i + 1})
		start = i + 1
	}
	if start < len(s) {
		out = append(out, sentenceSpan{start, len(s)})
	}
	// Trim white space; drop empty spans.
	kept := out[:0]
	for _, sp := range out {
		for sp.start < sp.end && isSentenceSpace(s[sp.start]) {
			sp.start++
		}
		for sp.end > sp.start && isSentenceSpace(s[sp.end-1]) {
			sp.end--
		}
		if sp.end > sp.start {
			kept = append(kept, sp)
		}
	}
	return kept
}

func isSentenceSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// anchorAt maps a text position to its source position.
func anchorAt(anchors []textAnchor, pos int) int {
	i := sort.Search(len(anchors), func(i int) bool { return anchors[i].pos > pos }) - 1
	if i < 0 {
		return 0
	}
	return anchors[i].src
}

// cleanClaimText collapses white space and caps the length.
func cleanClaimText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxClaimTextLen {
		cut := maxClaimTextLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// ---- deciding what is a claim ----------------------------------------------

// proseContext is where a sentence sits.
type proseContext int

const (
	inParagraph proseContext = iota
	inHeading
	inList
	inTable
	inComment
)

var noteMarkers = regexp.MustCompile(`^(?i)(todo|fixme|xxx|hack|bug|deprecated)\b`)

// proseClaim decides whether a sentence states a claim and returns its
// category and confidence.
func (x *claimExtractor) proseClaim(sentence string, where proseContext) (cat string, conf float64, keywords []string, ok bool) {
	trimmed := strings.TrimSpace(sentence)
	if strings.HasSuffix(trimmed, "?") || noteMarkers.MatchString(trimmed) {
		return "", 0, nil, false
	}
	c := x.lex.classify(trimmed)
	minWords := 3
	if where == inTable {
		minWords = 2
	}
	if c.words < minWords || c.words > 80 || c.legal || c.instruction || (c.marketing && !c.guarantee) {
		return "", 0, nil, false
	}
	switch {
	case c.guarantee && where == inComment && c.score < 2:
		// In code, "must" and "never" without a subject from the lexicon
		// are almost always about the implementation.
		return "", 0, nil, false
	case c.guarantee && c.category != "":
		conf = 0.9
		if c.score < 2 {
			conf = 0.6 // only a weak keyword decided the category
		}
		if where == inHeading {
			conf -= 0.1
		}
		cat = c.category
	case c.guarantee:
		if where == inHeading || !c.declarative {
			return "", 0, nil, false
		}
		cat, conf = CategorySafety, 0.5
	case c.strong && (c.declarative || where == inList || (where != inHeading && where != inComment && c.words >= 6)):
		// A long sentence has a verb even when the declarative list
		// misses it; a short label ("Durable writes") does not.
		cat, conf = c.category, 0.65
		if c.declarative {
			conf = 0.75
		}
	case c.score >= 4 && c.declarative && where != inHeading:
		// Several medium keywords ("survives the loss of an
		// acknowledged…") together.
		cat, conf = c.category, 0.6
	case where == inTable && c.score >= 2:
		cat, conf = c.category, 0.65
		if c.declarative {
			conf = 0.75
		}
	default:
		return "", 0, nil, false
	}
	if where == inComment {
		conf *= 0.85
	}
	return cat, round2(conf), c.keywords, true
}

// nameClaim classifies words taken from an identifier; ok reports that
// they carry at least a medium category keyword.
func (x *claimExtractor) nameClaim(words string) (c classification, ok bool) {
	c = x.lex.classify(words)
	return c, c.score >= 2
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func (x *claimExtractor) addClaim(path string, line int, cl CandidateClaim) {
	cl.Source = fmt.Sprintf("%s:%d", path, line)
	x.claims = append(x.claims, foundClaim{claim: cl, path: path, line: line})
}

// ---- Markdown --------------------------------------------------------------

// scanMarkdown extracts sentences from paragraphs, headings, list items and
// table cells. Code blocks and raw HTML are ignored.
func (x *claimExtractor) scanMarkdown(f claimFile, src []byte, inScope bool) {
	doc := x.md.Parser().Parse(text.NewReader(src))
	lineStarts := []int{0}
	for i, c := range src {
		if c == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	lineOf := func(off int) int {
		return sort.Search(len(lineStarts), func(i int) bool { return lineStarts[i] > off })
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if x.ctx.Err() != nil {
			return ast.WalkStop, nil
		}
		where := inParagraph
		switch n.Kind() {
		case ast.KindFencedCodeBlock, ast.KindCodeBlock, ast.KindHTMLBlock:
			return ast.WalkSkipChildren, nil
		case ast.KindHeading:
			where = inHeading
		case extast.KindTableCell:
			// A cell in a "Guarantee" column is a claim even without a
			// verb; any other cell must read like a sentence.
			if guaranteeColumn(n, src) {
				where = inTable
			}
		case ast.KindParagraph, ast.KindTextBlock:
			for p := n.Parent(); p != nil; p = p.Parent() {
				if p.Kind() == ast.KindListItem {
					where = inList
					break
				}
			}
		default:
			return ast.WalkContinue, nil
		}
		var buf strings.Builder
		var anchors []textAnchor
		mdInlineText(n, src, &buf, &anchors)
		prose := buf.String()
		subject := ""
		if n.Kind() == extast.KindTableCell {
			subject = rowSubject(n, src)
		}
		for _, sp := range sentenceSpans(prose) {
			sentence := cleanClaimText(prose[sp.start:sp.end])
			line := lineOf(anchorAt(anchors, sp.start))
			x.docs = append(x.docs, docSentence{norm: backingNorm(sentence)})
			if !inScope {
				continue
			}
			claimText := sentence
			if subject != "" && len(lexWords(sentence)) < 4 {
				claimText = subject + ": " + sentence
				x.docs = append(x.docs, docSentence{norm: backingNorm(claimText)})
			}
			cat, conf, kws, ok := x.proseClaim(claimText, where)
			if !ok {
				continue
			}
			x.addClaim(f.rel, line, CandidateClaim{
				Text: claimText, Category: cat, Confidence: conf, Kind: ClaimKindDoc, Keywords: kws,
			})
		}
		return ast.WalkSkipChildren, nil
	})
}

// docSentences records the sentences of one prose block for backing and
// keeps the claims among them. Anchors map text positions to lines.
func (x *claimExtractor) docSentences(f claimFile, prose string, anchors []textAnchor, where proseContext, inScope bool) {
	for _, sp := range sentenceSpans(prose) {
		sentence := cleanClaimText(prose[sp.start:sp.end])
		x.docs = append(x.docs, docSentence{norm: backingNorm(sentence)})
		if !inScope {
			continue
		}
		cat, conf, kws, ok := x.proseClaim(sentence, where)
		if !ok {
			continue
		}
		x.addClaim(f.rel, anchorAt(anchors, sp.start), CandidateClaim{
			Text: sentence, Category: cat, Confidence: conf, Kind: ClaimKindDoc, Keywords: kws,
		})
	}
}

var (
	plainBullet = regexp.MustCompile(`^\s*(?:[-*+•]|#\.|\d+[.)]|\.+|\*+)\s+`)
	adocTitle   = regexp.MustCompile(`^=+\s+\S`)
	plainFence  = regexp.MustCompile("^(?:-{4,}|\\.{4,}|`{3,}|\\|===|\\+{4,}|_{4,}|/{4,})\\s*$")
)

// isUnderline reports a reStructuredText title adornment: three or more of
// one punctuation character.
func isUnderline(t string) bool {
	if len(t) < 3 || !strings.ContainsRune("=-~^\"'`#*+:._", rune(t[0])) {
		return false
	}
	return strings.Count(t, t[:1]) == len(t)
}

// scanPlainDoc reads reStructuredText or AsciiDoc prose: paragraphs split at
// blank lines, titles, list items; directives, literal and delimited
// blocks, tables and attribute lines are skipped.
func (x *claimExtractor) scanPlainDoc(f claimFile, src []byte, inScope bool) {
	lines := strings.Split(string(src), "\n")
	var buf strings.Builder
	var anchors []textAnchor
	where := inParagraph
	flush := func() {
		if buf.Len() > 0 {
			x.docSentences(f, buf.String(), anchors, where, inScope)
		}
		buf.Reset()
		anchors = anchors[:0]
		where = inParagraph
	}
	adoc := !strings.HasSuffix(f.rel, ".rst")
	fenced := false  // inside a delimited block (AsciiDoc ----, ...., |===)
	literal := false // inside an indented reStructuredText literal/directive body
	for i, raw := range lines {
		if x.ctx.Err() != nil {
			return
		}
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		switch {
		case adoc && plainFence.MatchString(trimmed):
			flush()
			fenced = !fenced
			continue
		case fenced:
			continue
		case literal && (indented || trimmed == ""):
			continue
		}
		literal = false
		switch {
		case trimmed == "":
			flush()
		case !adoc && isUnderline(trimmed):
			// The lines above were a title.
			where = inHeading
			flush()
		case strings.HasPrefix(trimmed, ".. ") || strings.HasPrefix(trimmed, "[") ||
			(strings.HasPrefix(trimmed, ":") && strings.Count(trimmed, ":") >= 2) ||
			strings.HasPrefix(trimmed, "//") || strings.HasPrefix(trimmed, "|") ||
			strings.HasPrefix(trimmed, "+-") || strings.HasPrefix(trimmed, "include::"):
			flush()
			literal = strings.HasPrefix(trimmed, ".. ")
		case adocTitle.MatchString(trimmed):
			flush()
			anchors = append(anchors, textAnchor{pos: 0, src: i + 1})
			buf.WriteString(strings.TrimLeft(trimmed, "= "))
			where = inHeading
			flush()
		default:
			if m := plainBullet.FindString(line); m != "" {
				flush()
				where = inList
				trimmed = strings.TrimSpace(line[len(m):])
			} else if indented && buf.Len() == 0 {
				continue // block quote or stray code
			}
			anchors = append(anchors, textAnchor{pos: buf.Len(), src: i + 1})
			buf.WriteString(strings.ReplaceAll(strings.ReplaceAll(trimmed, "``", ""), "*", ""))
			buf.WriteByte(' ')
			if strings.HasSuffix(trimmed, "::") {
				flush()
				literal = true
			}
		}
	}
	flush()
}

// mdInlineText appends the plain text of n's inline children to buf,
// recording where each piece of source text lands.
func mdInlineText(n ast.Node, src []byte, buf *strings.Builder, anchors *[]textAnchor) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch t := c.(type) {
		case *ast.Text:
			*anchors = append(*anchors, textAnchor{pos: buf.Len(), src: t.Segment.Start})
			buf.Write(t.Segment.Value(src))
			if t.SoftLineBreak() || t.HardLineBreak() {
				buf.WriteByte(' ')
			}
		case *ast.String:
			buf.Write(t.Value)
		case *ast.AutoLink:
			buf.Write(t.Label(src))
		case *ast.RawHTML, *ast.Image:
			// markup, not prose
		default:
			mdInlineText(c, src, buf, anchors)
		}
	}
}

// rowSubject returns the text of the first cell of the row holding cell,
// or "" when cell is that first cell or sits in the header row.
func rowSubject(cell ast.Node, src []byte) string {
	row := cell.Parent()
	if row == nil || row.Kind() == extast.KindTableHeader {
		return ""
	}
	first := row.FirstChild()
	if first == nil || first == cell {
		return ""
	}
	var buf strings.Builder
	var anchors []textAnchor
	mdInlineText(first, src, &buf, &anchors)
	return cleanClaimText(buf.String())
}

// guaranteeHeaders name a table column that lists guarantees.
var guaranteeHeaders = regexp.MustCompile(`(?i)\b(guarantees?|propert(y|ies)|semantics|promises?|consistency|behaviou?rs?|invariants?|claims?|contracts?)\b`)

// guaranteeColumn reports whether cell's column header names guarantees.
func guaranteeColumn(cell ast.Node, src []byte) bool {
	row := cell.Parent()
	if row == nil || row.Kind() == extast.KindTableHeader {
		return false
	}
	idx := 0
	for c := row.FirstChild(); c != nil && c != cell; c = c.NextSibling() {
		idx++
	}
	table := row.Parent()
	if table == nil {
		return false
	}
	for h := table.FirstChild(); h != nil; h = h.NextSibling() {
		if h.Kind() != extast.KindTableHeader {
			continue
		}
		hc := h.FirstChild()
		for i := 0; hc != nil && i < idx; i++ {
			hc = hc.NextSibling()
		}
		if hc == nil {
			return false
		}
		var buf strings.Builder
		var anchors []textAnchor
		mdInlineText(hc, src, &buf, &anchors)
		return guaranteeHeaders.MatchString(buf.String())
	}
	return false
}

// ---- source files ----------------------------------------------------------

// commentLine is one line of comment text.
type commentLine struct {
	line  int
	text  string
	group int // lines of one comment block share a group
}

// scanSource extracts comment claims, error names, test names and
// constants from a source file.
func (x *claimExtractor) scanSource(f claimFile, src []byte) {
	lines := commentLines(src, f.lang)
	x.commentClaims(f, lines)
	if x.ctx.Err() != nil {
		return
	}
	srcLines := strings.Split(string(src), "\n")
	x.errorNames(f, srcLines)
	x.testNames(f, srcLines)
	x.constants(f, srcLines)
}

// commentClaims joins comment lines into paragraphs (a block of comment
// lines, split at empty lines), splits them into sentences and keeps the
// claims.
func (x *claimExtractor) commentClaims(f claimFile, lines []commentLine) {
	var buf strings.Builder
	var anchors []textAnchor
	flush := func() {
		prose := buf.String()
		for _, sp := range sentenceSpans(prose) {
			sentence := cleanClaimText(prose[sp.start:sp.end])
			cat, conf, kws, ok := x.proseClaim(sentence, inComment)
			if !ok {
				continue
			}
			x.addClaim(f.rel, anchorAt(anchors, sp.start), CandidateClaim{
				Text: sentence, Category: cat, Confidence: conf, Kind: ClaimKindComment, Keywords: kws,
			})
		}
		buf.Reset()
		anchors = anchors[:0]
	}
	for i, l := range lines {
		if i > 0 && l.group != lines[i-1].group {
			flush()
		}
		if l.text == "" {
			flush()
			continue
		}
		anchors = append(anchors, textAnchor{pos: buf.Len(), src: l.line})
		buf.WriteString(l.text)
		buf.WriteByte(' ')
	}
	flush()
}

// commentLines lexes src and returns the text of its comments line by line,
// stripped of comment markers. String literals are skipped so that "//"
// inside a string is not a comment.
func commentLines(src []byte, lang *sourceLang) []commentLine {
	var out []commentLine
	line := 1
	group := 0
	lastLineCommentLine := -10
	lineHasCode := false
	n := len(src)
	emit := func(l int, t string, g int) {
		out = append(out, commentLine{line: l, text: t, group: g})
	}
	for i := 0; i < n; {
		c := src[i]
		if c == '\n' {
			line++
			lineHasCode = false
			i++
			continue
		}
		// Line comment.
		if lc := lineCommentAt(src, i, lang); lc > 0 {
			end := bytes.IndexByte(src[i:], '\n')
			if end < 0 {
				end = n - i
			}
			body := string(src[i+lc : i+end])
			if lineHasCode || lastLineCommentLine != line-1 {
				group++
			}
			if t, ok := cleanLineComment(body, lang); ok {
				emit(line, t, group)
			} else {
				group++ // a directive or code line breaks the block
			}
			if lineHasCode {
				group++ // a trailing comment stands alone
				lastLineCommentLine = -10
			} else {
				lastLineCommentLine = line
			}
			i += end
			continue
		}
		// Block comment.
		if lang.block && c == '/' && i+1 < n && src[i+1] == '*' {
			end := bytes.Index(src[i+2:], []byte("*/"))
			stop := n
			if end >= 0 {
				stop = i + 2 + end
			}
			group++
			body := string(src[i+2 : stop])
			for k, l := range strings.Split(body, "\n") {
				if t, ok := cleanBlockLine(l); ok {
					emit(line+k, t, group)
				} else {
					emit(line+k, "", group)
				}
			}
			line += strings.Count(body, "\n")
			group++
			lastLineCommentLine = -10
			i = stop + 2
			if i > n {
				i = n
			}
			continue
		}
		// Strings.
		if next, ok := skipString(src, i, lang); ok {
			startLine := line
			seg := src[i:next]
			if isTriple(seg) && ((lang.docstrings && !lineHasCode) || (lang.docAttrs && docAttrBefore(src, i))) {
				group++
				body := tripleBody(seg)
				for k, l := range strings.Split(body, "\n") {
					if t, ok := cleanBlockLine(l); ok {
						emit(startLine+k, t, group)
					} else {
						emit(startLine+k, "", group)
					}
				}
				group++
			}
			line += bytes.Count(seg, []byte("\n"))
			lineHasCode = true
			i = next
			continue
		}
		if c != ' ' && c != '\t' && c != '\r' {
			lineHasCode = true
		}
		i++
	}
	return out
}

var docAttr = regexp.MustCompile(`@(?:module|type)?doc\s*$`)

// docAttrBefore reports whether the text before i on its line is an Elixir
// documentation attribute (@doc, @moduledoc, @typedoc).
func docAttrBefore(src []byte, i int) bool {
	start := bytes.LastIndexByte(src[:i], '\n') + 1
	return docAttr.Match(src[start:i])
}

// lineCommentAt returns the length of the line-comment marker at i, or 0.
func lineCommentAt(src []byte, i int, lang *sourceLang) int {
	for _, m := range lang.lineComments {
		if bytes.HasPrefix(src[i:], []byte(m)) {
			return len(m)
		}
	}
	return 0
}

var commentDirective = regexp.MustCompile(`^(go:|\+build|nolint|eslint|prettier|tslint|noqa|type:\s*ignore|pylint:|-\*-|!|#region|#endregion|region\b|endregion\b|clang-format|NOLINT|@ts-|istanbul|c8 )`)

// cleanLineComment strips doc markers ("///", "//!", "#") and reports false
// for directives and commented-out code (text indented past the marker).
func cleanLineComment(body string, lang *sourceLang) (string, bool) {
	if lang.name == "rust" {
		body = strings.TrimPrefix(body, "/")
		body = strings.TrimPrefix(body, "!")
	}
	switch lang.name {
	case "python", "elixir":
		body = strings.TrimLeft(body, "#")
	case "erlang":
		body = strings.TrimLeft(body, "%")
	case "clojure":
		body = strings.TrimLeft(body, ";")
	}
	if strings.TrimSpace(body) == "" {
		return "", true
	}
	if commentDirective.MatchString(strings.TrimSpace(body)) && !strings.HasPrefix(body, " ") {
		return "", false
	}
	body = strings.TrimPrefix(body, " ")
	if strings.HasPrefix(body, "\t") || strings.HasPrefix(body, "  ") {
		return "", false // indented: code example
	}
	return stripDocTags(strings.TrimSpace(body)), true
}

var docTag = regexp.MustCompile(`^@(param|arg|argument|return|returns|throws|exception|raises|see|since|author|version|link)\b\s*`)

// stripDocTags removes Javadoc/JSDoc tags at the start of a line; "@param
// name" loses the name too.
func stripDocTags(t string) string {
	m := docTag.FindStringSubmatch(t)
	if m == nil {
		return t
	}
	rest := t[len(m[0]):]
	switch m[1] {
	case "param", "arg", "argument":
		if f := strings.Fields(rest); len(f) > 0 {
			rest = strings.TrimSpace(strings.TrimPrefix(rest, f[0]))
		}
	case "author", "version", "since", "see", "link":
		return ""
	}
	return rest
}

// cleanBlockLine strips a block comment line's leading "*" decoration.
func cleanBlockLine(l string) (string, bool) {
	t := strings.TrimSpace(l)
	t = strings.TrimPrefix(t, "*")
	t = strings.TrimPrefix(t, "*") // "/**" leaves one more
	t = strings.TrimPrefix(t, "!")
	t = strings.TrimSpace(t)
	if t == "" {
		return "", false
	}
	return stripDocTags(t), true
}

// skipString reports whether a string literal starts at i and returns the
// index after it.
func skipString(src []byte, i int, lang *sourceLang) (int, bool) {
	n := len(src)
	c := src[i]
	start := i
	if lang.name == "python" {
		// String prefixes: r, b, f, u and pairs.
		j := i
		for j < n && j-i < 2 && strings.IndexByte("rRbBfFuU", src[j]) >= 0 {
			j++
		}
		if j > i && j < n && (src[j] == '"' || src[j] == '\'') && (i == 0 || !isIdentByte(src[i-1])) {
			start = j
			c = src[j]
		}
	}
	if lang.rustRaw && c == 'r' && (i == 0 || !isIdentByte(src[i-1])) {
		j := i + 1
		for j < n && src[j] == '#' {
			j++
		}
		if j < n && src[j] == '"' {
			closer := "\"" + strings.Repeat("#", j-i-1)
			end := bytes.Index(src[j+1:], []byte(closer))
			if end < 0 {
				return n, true
			}
			return j + 1 + end + len(closer), true
		}
	}
	switch {
	case (c == '"' || c == '\'') && lang.triple && bytes.HasPrefix(src[start:], []byte{c, c, c}):
		closer := []byte{c, c, c}
		end := bytes.Index(src[start+3:], closer)
		if end < 0 {
			return n, true
		}
		return start + 3 + end + 3, true
	case c == '"' || (c == '\'' && !lang.charHeur):
		return skipQuoted(src, start, c), true
	case c == '\'' && lang.charHeur:
		// 'x', '\n', '\u{1F600}' are literals; 'a (a Rust lifetime) is not.
		if j := skipQuoted(src, start, c); j-start >= 3 && j-start <= 12 && src[j-1] == '\'' {
			return j, true
		}
		return 0, false
	case c == '`' && lang.backtickRaw:
		end := bytes.IndexByte(src[start+1:], '`')
		if end < 0 {
			return n, true
		}
		return start + 1 + end + 1, true
	}
	return 0, false
}

// skipQuoted skips a quote-delimited literal with backslash escapes; it
// ends at the closing quote or at the end of the line.
func skipQuoted(src []byte, i int, q byte) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return j + 1
		case '\n':
			return j
		}
	}
	return len(src)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isTriple(seg []byte) bool {
	s := strings.TrimLeft(string(seg), "rRbBfFuU")
	return strings.HasPrefix(s, `"""`) || strings.HasPrefix(s, `'''`)
}

func tripleBody(seg []byte) string {
	s := strings.TrimLeft(string(seg), "rRbBfFuU")
	s = s[3:]
	if len(s) >= 3 {
		s = s[:len(s)-3]
	}
	return s
}

// ---- names -----------------------------------------------------------------

var (
	goErrVar    = regexp.MustCompile(`^\s*(?:var\s+)?(Err[A-Z0-9]\w*)\s*(?:error\s*)?=[^=]`)
	goErrType   = regexp.MustCompile(`^\s*type\s+(\w+Error|Err[A-Z]\w*)\s+struct\b`)
	classErr    = regexp.MustCompile(`\b(?:class|struct|record|object)\s+(\w+(?:Exception|Error))\b`)
	classExtErr = regexp.MustCompile(`\bclass\s+(\w+)(?:\s*<[^>]*>)?\s*(?:extends|:)\s*(?:[\w.]*\.)?(\w*(?:Exception|Error))\b`)
	pyClassErr  = regexp.MustCompile(`^\s*class\s+(\w+)\s*\(([^)]*)\)`)
	rustErrEnum = regexp.MustCompile(`^\s*(?:pub(?:\([^)]*\))?\s+)?enum\s+(\w*Error\w*)\b`)
	rustVariant = regexp.MustCompile(`^\s*([A-Z][A-Za-z0-9]*)\s*(?:[,({]|$)`)
	rustErrType = regexp.MustCompile(`^\s*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+Error)\b`)
	exErrModule = regexp.MustCompile(`^\s*defmodule\s+(?:[\w]+\.)*(\w+(?:Error|Exception))\s+do\b`)
	cErrCode    = regexp.MustCompile(`^\s*(?:#\s*define\s+)?(ERR_[A-Z0-9_]+)\b\s*(?:=|,|\d|$)`)
)

// errorNames finds declared error types and values.
func (x *claimExtractor) errorNames(f claimFile, lines []string) {
	add := func(name string, line int) {
		core := errorCore(name)
		if len(core) == 0 {
			return
		}
		e := foundError{name: name, core: core, source: fmt.Sprintf("%s:%d", f.rel, line)}
		phrase := strings.Join(core, " ")
		if c, ok := x.nameClaim(phrase); ok {
			e.claim = true
			x.addClaim(f.rel, line, CandidateClaim{
				Text:     phrase + " is detected and reported as an error",
				Category: c.category, Inferred: true, Confidence: 0.45, Kind: ClaimKindErrorName, Keywords: c.keywords,
			})
		}
		x.errs = append(x.errs, e)
	}
	depth := -1       // brace depth inside a Rust error enum, -1 outside
	awaiting := false // a Rust error enum whose "{" is on a later line
	for i, l := range lines {
		ln := i + 1
		switch f.lang {
		case langGo:
			if m := goErrVar.FindStringSubmatch(l); m != nil {
				add(m[1], ln)
			} else if m := goErrType.FindStringSubmatch(l); m != nil {
				add(m[1], ln)
			}
		case langRust:
			if awaiting {
				if strings.Contains(l, "{") {
					awaiting = false
					if depth = strings.Count(l, "{") - strings.Count(l, "}"); depth <= 0 {
						depth = -1
					}
				}
				continue
			}
			if depth >= 0 {
				if depth == 1 {
					if m := rustVariant.FindStringSubmatch(l); m != nil {
						add(m[1], ln)
					}
				}
				depth += strings.Count(l, "{") - strings.Count(l, "}")
				if depth <= 0 {
					depth = -1
				}
				continue
			}
			if rustErrEnum.MatchString(l) {
				switch {
				case !strings.Contains(l, "{"):
					awaiting = true
				default:
					// A one-line enum ("{ A, B }") closes at once; its
					// variants are not read.
					if depth = strings.Count(l, "{") - strings.Count(l, "}"); depth <= 0 {
						depth = -1
					}
				}
				continue
			}
			if m := rustErrType.FindStringSubmatch(l); m != nil {
				add(m[1], ln)
			}
		case langElixir:
			if m := exErrModule.FindStringSubmatch(l); m != nil {
				add(m[1], ln)
			}
		case langErlang, langClj:
			// Errors are tagged tuples and ex-info maps: no declared names.
		case langPython:
			if m := pyClassErr.FindStringSubmatch(l); m != nil &&
				(strings.Contains(m[2], "Error") || strings.Contains(m[2], "Exception") ||
					strings.HasSuffix(m[1], "Error") || strings.HasSuffix(m[1], "Exception")) {
				add(m[1], ln)
			}
		default:
			if m := classExtErr.FindStringSubmatch(l); m != nil {
				add(m[1], ln)
			} else if m := classErr.FindStringSubmatch(l); m != nil {
				add(m[1], ln)
			} else if f.lang == langC {
				if m := cErrCode.FindStringSubmatch(l); m != nil {
					add(m[1], ln)
				}
			}
		}
	}
}

// negated reports whether words state an absence: "no", "without", "only".
func negated(words []string) bool {
	for _, w := range words {
		switch w {
		case "no", "without", "only", "exactly", "not", "none":
			return true
		}
	}
	return false
}

// errorCore returns the words of an error name without its Err / Error /
// Exception affixes: ErrStaleRead → [stale read].
func errorCore(name string) []string {
	w := identWords(name)
	for len(w) > 0 && (w[0] == "err" || w[0] == "error" || w[0] == "e") {
		w = w[1:]
	}
	for len(w) > 0 {
		last := w[len(w)-1]
		if last == "error" || last == "exception" || last == "err" || last == "exc" {
			w = w[:len(w)-1]
			continue
		}
		break
	}
	return w
}

var (
	goTestFunc  = regexp.MustCompile(`^func\s+(Test\w+)\s*\(\s*\w+\s+\*testing\.T\s*\)`)
	goSubtest   = regexp.MustCompile(`\bt\.Run\(\s*"([^"]+)"`)
	rustTestAtt = regexp.MustCompile(`^\s*#\[(?:[\w:]*::)?test\b[^\]]*\]`)
	rustFn      = regexp.MustCompile(`^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+(\w+)`)
	javaTestAtt = regexp.MustCompile(`^\s*@(?:Test|ParameterizedTest|RepeatedTest|Property)\b`)
	javaMethod  = regexp.MustCompile(`\b(?:void|fun)\s+(\w+)\s*\(`)
	javaDisplay = regexp.MustCompile(`@DisplayName\(\s*"([^"]+)"`)
	pyTest      = regexp.MustCompile(`^\s*(?:async\s+)?def\s+(test(?:_\w+|[A-Z]\w*))\s*\(`)
	jsTest      = regexp.MustCompile("\\b(?:it|test|specify)(?:\\.(?:only|skip|concurrent))?\\(\\s*(['\"`])(.+?)['\"`]\\s*,")
	cTest       = regexp.MustCompile(`\bTEST(?:_F|_P)?\(\s*\w+\s*,\s*(\w+)\s*\)`)
	exTest      = regexp.MustCompile(`^\s*test\s+"([^"]+)"`)
	cljTest     = regexp.MustCompile(`\(deftest\s+(?:\^\S+\s+)?([\w\-?!*]+)`)
	erlTest     = regexp.MustCompile(`^([a-z]\w*?)_test_?\(\)\s*->`)
)

// testNames turns test names into inferred claims.
func (x *claimExtractor) testNames(f claimFile, lines []string) {
	add := func(name string, line int, ident bool) {
		var words []string
		if ident {
			words = identWords(name)
			if len(words) > 0 && words[0] == "test" {
				words = words[1:]
			}
		} else {
			words = strings.Fields(name)
		}
		phrase := strings.Join(words, " ")
		if len(words) < 2 {
			return
		}
		c, ok := x.nameClaim(phrase)
		if !ok || !(c.strong || c.guarantee || c.score >= 4 || negated(words)) {
			// Test names are many: a claim needs a strong keyword, several
			// medium ones, or one with a promise ("no duplicates after
			// retry").
			return
		}
		conf := 0.4
		if c.guarantee {
			conf = 0.5
		}
		x.addClaim(f.rel, line, CandidateClaim{
			Text: phrase, Category: c.category, Inferred: true, Confidence: conf, Kind: ClaimKindTestName, Keywords: c.keywords,
		})
	}
	pendingAttr := -1 // line index of a test attribute awaiting its function
	for i, l := range lines {
		ln := i + 1
		switch f.lang {
		case langGo:
			if !strings.HasSuffix(f.rel, "_test.go") {
				return
			}
			if m := goTestFunc.FindStringSubmatch(l); m != nil {
				add(m[1], ln, true)
			}
			for _, m := range goSubtest.FindAllStringSubmatch(l, -1) {
				add(strings.ReplaceAll(m[1], "_", " "), ln, false)
			}
		case langRust:
			if rustTestAtt.MatchString(l) {
				pendingAttr = i
				continue
			}
			if pendingAttr >= 0 {
				if m := rustFn.FindStringSubmatch(l); m != nil {
					add(m[1], ln, true)
					pendingAttr = -1
				} else if i-pendingAttr > 5 {
					pendingAttr = -1
				}
			}
		case langJava:
			if m := javaDisplay.FindStringSubmatch(l); m != nil {
				add(m[1], ln, false)
			}
			if javaTestAtt.MatchString(l) {
				pendingAttr = i
			}
			if pendingAttr >= 0 {
				if m := javaMethod.FindStringSubmatch(l); m != nil {
					add(m[1], ln, true)
					pendingAttr = -1
				} else if i-pendingAttr > 5 {
					pendingAttr = -1
				}
			}
		case langPython:
			if m := pyTest.FindStringSubmatch(l); m != nil {
				add(m[1], ln, true)
			}
		case langJS:
			for _, m := range jsTest.FindAllStringSubmatch(l, -1) {
				add(m[2], ln, false)
			}
		case langC:
			for _, m := range cTest.FindAllStringSubmatch(l, -1) {
				add(m[1], ln, true)
			}
		case langElixir:
			if m := exTest.FindStringSubmatch(l); m != nil {
				add(m[1], ln, false)
			}
		case langClj:
			if m := cljTest.FindStringSubmatch(l); m != nil {
				add(m[1], ln, true)
			}
		case langErlang:
			if m := erlTest.FindStringSubmatch(l); m != nil {
				add(m[1], ln, true)
			}
		}
	}
}

var (
	goConstLine   = regexp.MustCompile(`^\s*const\s+(\w+)\s*(?:[\w.]+\s*)?=\s*(.+)$`)
	goConstOpen   = regexp.MustCompile(`^\s*const\s*\(\s*$`)
	goConstInner  = regexp.MustCompile(`^\s*(\w+)\s*(?:[\w.]+\s*)?=\s*(.+)$`)
	rustConst     = regexp.MustCompile(`^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const|static)\s+(\w+)\s*:\s*[^=]+=\s*(.+?);`)
	javaConst     = regexp.MustCompile(`\bstatic\s+final\s+[\w<>\[\].]+\s+(\w+)\s*=\s*(.+?);`)
	kotlinConst   = regexp.MustCompile(`\bconst\s+val\s+(\w+)\s*(?::\s*\w+\s*)?=\s*(.+)$`)
	pyConst       = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)\s*(?::\s*[\w\[\]]+\s*)?=\s*(.+)$`)
	jsConst       = regexp.MustCompile(`^\s*(?:export\s+)?const\s+(\w+)\s*(?::\s*\w+\s*)?=\s*(.+?);?\s*$`)
	cDefine       = regexp.MustCompile(`^\s*#\s*define\s+(\w+)\s+(.+)$`)
	cConst        = regexp.MustCompile(`\b(?:constexpr|const)\s+[\w:<>]+\s+(\w+)\s*=\s*(.+?);`)
	erlDefine     = regexp.MustCompile(`^-define\(\s*(\w+)\s*,\s*(.+?)\)\.`)
	exAttr        = regexp.MustCompile(`^\s*@(\w+)\s+(.+)$`)
	cljDef        = regexp.MustCompile(`^\(def\s+(?:\^\S+\s+)?([\w\-*]+)\s+([^\s()]+|\([^()]*\))\s*\)`)
	trailingNotes = regexp.MustCompile(`\s*(//|#|/\*|%|;).*$`)
)

// constants finds timeout, retry and TTL constants.
func (x *claimExtractor) constants(f claimFile, lines []string) {
	inBlock := false
	for i, l := range lines {
		var m []string
		switch f.lang {
		case langGo:
			switch {
			case goConstOpen.MatchString(l):
				inBlock = true
				continue
			case inBlock && strings.TrimSpace(l) == ")":
				inBlock = false
				continue
			case inBlock:
				m = goConstInner.FindStringSubmatch(l)
			default:
				m = goConstLine.FindStringSubmatch(l)
			}
		case langRust:
			m = rustConst.FindStringSubmatch(l)
		case langJava:
			if m = javaConst.FindStringSubmatch(l); m == nil {
				m = kotlinConst.FindStringSubmatch(l)
			}
		case langPython:
			m = pyConst.FindStringSubmatch(l)
		case langJS:
			m = jsConst.FindStringSubmatch(l)
		case langC:
			if m = cDefine.FindStringSubmatch(l); m == nil {
				m = cConst.FindStringSubmatch(l)
			}
		case langErlang:
			m = erlDefine.FindStringSubmatch(l)
		case langElixir:
			m = exAttr.FindStringSubmatch(l)
		case langClj:
			m = cljDef.FindStringSubmatch(l)
		}
		if m == nil {
			continue
		}
		name := m[1]
		value := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(trailingNotes.ReplaceAllString(m[2], "")), ";"))
		kind, ok := constantKind(name, value)
		if !ok {
			continue
		}
		x.consts = append(x.consts, foundConstant{
			name: name, value: value, decl: strings.TrimSpace(l),
			source: fmt.Sprintf("%s:%d", f.rel, i+1), kind: kind, words: identWords(name),
		})
	}
}

// constantKind classifies a constant by its name; the value must be
// numeric (a digit somewhere: 5, 10 * time.Second, Duration::from_secs(3)).
func constantKind(name, value string) (string, bool) {
	if !strings.ContainsAny(value, "0123456789") || strings.HasPrefix(value, `"`) || strings.HasPrefix(value, "'") {
		return "", false
	}
	for _, w := range identWords(name) {
		switch stemWord(w) {
		case "retry", "attempt", "backoff":
			return MissingKindRetry, true
		case "ttl", "lease", "expiry", "expire", "expiration":
			return MissingKindTTL, true
		case "timeout", "deadline", "heartbeat", "grace":
			return MissingKindTimeout, true
		}
	}
	return "", false
}

// ---- backing and results -------------------------------------------------

// backingStop are name words that say nothing about the behaviour.
var backingStop = map[string]bool{
	"max": true, "min": true, "default": true, "def": true, "k": true, "const": true,
	"num": true, "count": true, "ms": true, "millis": true, "sec": true, "secs": true,
	"second": true, "s": true, "duration": true, "dur": true, "value": true,
	"limit": true, "the": true, "of": true, "per": true, "total": true, "initial": true,
	"base": true, "n": true, "maximum": true, "minimum": true, "number": true, "in": true,
	"interval": true, "period": true, "delay": true, "wait": true, "millisecond": true,
	"us": true, "ns": true, "minute": true,
}

// backingSynonyms lists, per stemmed name word, the stemmed word sequences
// a doc may use instead.
var backingSynonyms = map[string][]string{
	"ttl":        {"ttl", "expire", "expiry", "expiration", "expired", "time to live"},
	"expiry":     {"expire", "expiry", "expiration", "expired", "ttl"},
	"expire":     {"expire", "expiry", "expiration", "expired", "ttl"},
	"timeout":    {"timeout", "time out", "timed out", "deadline"},
	"deadline":   {"deadline", "timeout", "time out", "timed out"},
	"retry":      {"retry", "retried", "try again", "attempt", "reattempt"},
	"attempt":    {"attempt", "retry", "retried"},
	"backoff":    {"backoff", "back off", "backs off", "backing off"},
	"heartbeat":  {"heartbeat"},
	"expiration": {"expire", "expiry", "expiration", "expired", "ttl"},
}

// stemWord folds plural and third-person endings: retries → retry, reads → read.
func stemWord(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss"):
		return w[:len(w)-1]
	}
	return w
}

// backingNorm turns a sentence into space-padded stemmed words, splitting
// identifiers (`ErrStaleRead` → err stale read).
func backingNorm(s string) string {
	var words []string
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		for _, w := range identWords(tok) {
			words = append(words, stemWord(w))
		}
	}
	return " " + strings.Join(words, " ") + " "
}

// backed reports whether one doc sentence mentions every significant word
// (or a synonym of it).
func (x *claimExtractor) backed(words []string) bool {
	var need []string
	for _, w := range significantWords(words) {
		need = append(need, stemWord(w))
	}
	if len(need) == 0 {
		return true
	}
	for _, d := range x.docs {
		all := true
		for _, w := range need {
			alts := backingSynonyms[w]
			if alts == nil {
				alts = []string{w}
			}
			found := false
			for _, a := range alts {
				if strings.Contains(d.norm, " "+a+" ") {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// finish sorts, dedupes and limits claims and computes missing claims.
func (x *claimExtractor) finish(limit int, budget time.Duration, docsComplete bool) {
	r := x.report
	var reasons []string
	if x.stopped {
		r.Truncated = true
		if errors.Is(x.ctx.Err(), context.DeadlineExceeded) {
			reasons = append(reasons, fmt.Sprintf("time budget of %s spent after %d files", budget, r.FilesScanned))
		} else {
			reasons = append(reasons, fmt.Sprintf("cancelled after %d files", r.FilesScanned))
		}
	}
	sort.SliceStable(x.claims, func(i, j int) bool {
		a, b := x.claims[i], x.claims[j]
		if a.path != b.path {
			return a.path < b.path
		}
		return a.line < b.line
	})
	seen := make(map[string]bool)
	for _, fc := range x.claims {
		key := strings.ToLower(strings.TrimRight(fc.claim.Text, ".!;: "))
		if seen[key] {
			continue
		}
		seen[key] = true
		r.Claims = append(r.Claims, fc.claim)
	}
	if len(r.Claims) > limit {
		// Keep the most confident claims (earlier sources first among
		// equals), then restore path order.
		idx := make([]int, len(r.Claims))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return r.Claims[idx[a]].Confidence > r.Claims[idx[b]].Confidence })
		idx = idx[:limit]
		sort.Ints(idx)
		kept := make([]CandidateClaim, 0, limit)
		for _, i := range idx {
			kept = append(kept, r.Claims[i])
		}
		r.Claims = kept
		r.Truncated = true
		reasons = append(reasons, fmt.Sprintf("limit of %d claims reached: kept the most confident of %d; narrow with paths", limit, len(seen)))
	}
	if !docsComplete {
		reasons = append(reasons, "missing claims not computed: not every doc was read")
	} else {
		x.missing()
		if len(r.Missing) > limit {
			r.Missing = r.Missing[:limit]
			r.Truncated = true
			reasons = append(reasons, fmt.Sprintf("missing claims cut to the limit of %d", limit))
		}
	}
	r.Reason = strings.Join(reasons, "; ")
}

// missing proposes a missing claim for each categorised error type and each
// timeout, retry or TTL constant that no doc sentence backs.
func (x *claimExtractor) missing() {
	type item struct {
		m    CandidateMissing
		path string
		line int
	}
	var items []item
	add := func(m CandidateMissing) {
		path, line := splitSource(m.Source)
		items = append(items, item{m, path, line})
	}
	for _, e := range x.errs {
		if !e.claim || x.backed(e.core) {
			continue
		}
		phrase := strings.Join(e.core, " ")
		add(CandidateMissing{
			Behavior: fmt.Sprintf("%s is detected and reported as an error (%s)", phrase, e.name),
			Source:   e.source,
			Evidence: fmt.Sprintf("error type %s is declared at %s; no doc sentence mentions %q", e.name, e.source, phrase),
			Kind:     MissingKindErrorType,
		})
	}
	for _, c := range x.consts {
		if x.backed(c.words) {
			continue
		}
		add(CandidateMissing{
			Behavior: constantBehavior(c),
			Source:   c.source,
			Evidence: fmt.Sprintf("%s at %s; no doc sentence mentions %q", c.decl, c.source, strings.Join(significantWords(c.words), " ")),
			Kind:     c.kind,
		})
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].path != items[j].path {
			return items[i].path < items[j].path
		}
		return items[i].line < items[j].line
	})
	seen := make(map[string]bool)
	for _, it := range items {
		if seen[it.m.Behavior] {
			continue
		}
		seen[it.m.Behavior] = true
		x.report.Missing = append(x.report.Missing, it.m)
	}
}

func significantWords(words []string) []string {
	var out []string
	for _, w := range words {
		if !backingStop[w] && !backingStop[stemWord(w)] {
			out = append(out, w)
		}
	}
	return out
}

// constantBehavior words what the code relies on a constant for.
func constantBehavior(c foundConstant) string {
	var subject []string
	for _, w := range significantWords(c.words) {
		switch stemWord(w) {
		case "retry", "attempt", "timeout", "ttl", "deadline", "backoff", "expiry", "expire", "expiration":
		default:
			subject = append(subject, w)
		}
	}
	subj := strings.Join(subject, " ")
	switch c.kind {
	case MissingKindRetry:
		if slicesContainsStem(c.words, "backoff") {
			return fmt.Sprintf("retries back off by %s (%s)", c.value, c.name)
		}
		if subj == "" {
			subj = "a failed operation"
		}
		return fmt.Sprintf("%s is retried at most %s times (%s)", subj, c.value, c.name)
	case MissingKindTTL:
		if subj == "" {
			subj = "an entry"
		}
		return fmt.Sprintf("%s expires after %s (%s)", subj, c.value, c.name)
	default:
		if subj == "" {
			subj = "an operation"
		}
		return fmt.Sprintf("%s gives up after %s (%s)", subj, c.value, c.name)
	}
}

func slicesContainsStem(words []string, s string) bool {
	for _, w := range words {
		if stemWord(w) == s {
			return true
		}
	}
	return false
}

// splitSource splits "path:line".
func splitSource(src string) (string, int) {
	i := strings.LastIndexByte(src, ':')
	if i < 0 {
		return src, 0
	}
	n := 0
	for _, c := range src[i+1:] {
		if c < '0' || c > '9' {
			return src, 0
		}
		n = n*10 + int(c-'0')
	}
	return src[:i], n
}
