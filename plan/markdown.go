package plan

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// This file holds the Markdown plumbing shared by the parser and the
// splicer: goldmark parsing, the top-level block list with exact byte
// extents, and helpers that read list items and tables from source
// segments.

// block is one top-level Markdown block with its byte extent in the
// source. start is the start of its first line; end is just after its last
// non-blank line (trailing blank lines belong to no block).
type block struct {
	node  ast.Node
	start int
	end   int
	// level is the ATX heading level (1–6) when the block is an ATX
	// heading, 0 otherwise. Setext headings are treated as paragraphs so
	// that a "---" under the header fields never opens a section.
	level int
	title string // heading text, trimmed, when level > 0
}

var markdown = goldmark.New(goldmark.WithExtensions(extension.Table))

// MaxSize is the largest plan, in bytes, the parser accepts. Real plans are
// tens of kilobytes; the limit bounds the time goldmark may spend on
// pathological input (deeply nested lists are super-linear).
const MaxSize = 4 << 20

// parseBlocks parses src and returns its top-level blocks in file order.
// It recovers from any panic inside goldmark and reports it as an error,
// so that no input can crash the caller.
func parseBlocks(src []byte) (blocks []block, err error) {
	defer func() {
		if r := recover(); r != nil {
			blocks, err = nil, fmt.Errorf("markdown parser failed: %v", r)
		}
	}()
	if len(src) > MaxSize {
		return nil, fmt.Errorf("markdown is %d bytes, over the %d-byte limit", len(src), MaxSize)
	}
	root := markdown.Parser().Parse(text.NewReader(src))
	for n := root.FirstChild(); n != nil; n = n.NextSibling() {
		p := nodeStart(n, src)
		if p < 0 || p > len(src) {
			continue
		}
		b := block{node: n, start: lineStart(src, p)}
		if h, ok := n.(*ast.Heading); ok && isATX(src, b.start) {
			b.level = h.Level
			b.title = headingText(h, src)
		}
		blocks = append(blocks, b)
	}
	for i := range blocks {
		end := len(src)
		if i+1 < len(blocks) {
			end = blocks[i+1].start
		}
		if end < blocks[i].start {
			end = blocks[i].start
		}
		blocks[i].end = trimBlankTail(src, blocks[i].start, end)
	}
	return blocks, nil
}

// nodeStart returns the source offset where n begins, or -1.
func nodeStart(n ast.Node, src []byte) int {
	if t, ok := n.(*extast.Table); ok {
		// A table split off a paragraph shares the paragraph's position;
		// its first header cell tells where the table really starts.
		if hdr := t.FirstChild(); hdr != nil {
			if c := hdr.FirstChild(); c != nil && c.Lines().Len() > 0 {
				return c.Lines().At(0).Start
			}
			if hdr.Pos() >= 0 {
				return hdr.Pos()
			}
		}
	}
	return n.Pos()
}

// isATX reports whether the line starting at p is an ATX heading line.
func isATX(src []byte, p int) bool {
	i := p
	for i < len(src) && i-p < 3 && src[i] == ' ' {
		i++
	}
	return i < len(src) && src[i] == '#'
}

func headingText(h *ast.Heading, src []byte) string {
	var sb strings.Builder
	lines := h.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(src))
	}
	return strings.TrimSpace(sb.String())
}

// lineStart returns the offset of the start of the line holding p.
func lineStart(src []byte, p int) int {
	if p > len(src) {
		p = len(src)
	}
	if p <= 0 {
		return 0
	}
	i := bytes.LastIndexByte(src[:p], '\n')
	return i + 1
}

// lineEnd returns the offset just after the newline ending the line that
// holds p (or len(src)).
func lineEnd(src []byte, p int) int {
	if p >= len(src) {
		return len(src)
	}
	i := bytes.IndexByte(src[p:], '\n')
	if i < 0 {
		return len(src)
	}
	return p + i + 1
}

// trimBlankTail moves end back over blank lines so that [start,end) ends
// just after its last non-blank line.
func trimBlankTail(src []byte, start, end int) int {
	for end > start {
		ls := lineStart(src, end-1)
		if ls < start {
			ls = start
		}
		if len(bytes.TrimSpace(src[ls:end])) != 0 {
			break
		}
		end = ls
	}
	return end
}

// raw returns the block's source text with trailing whitespace removed. A
// paragraph loses the indentation of its first line, which Markdown
// ignores, so that the text reads the same wherever Render puts it.
func (b block) raw(src []byte) string {
	return rawText(b.node, string(src[b.start:b.end]))
}

func rawText(n ast.Node, s string) string {
	if _, ok := n.(*ast.Paragraph); ok {
		// Only the first line: a continuation line indented four spaces
		// may look like a list item once unindented.
		s = strings.TrimLeft(s, " \t")
	}
	return strings.TrimRight(s, " \t\r\n")
}

// item is one list item read from the source.
type item struct {
	node  *ast.ListItem
	start int
	end   int
	// head is the text of the item's first paragraph, its lines trimmed
	// and joined by one space ("" when the item does not start with a
	// paragraph).
	head string
	// rest holds the item's other child blocks, dedented, each trimmed.
	rest []restBlock
	// text is the whole item, dedented, without its marker.
	text string
}

// restBlock is a child block of a list item after its first paragraph.
type restBlock struct {
	node ast.Node
	text string
}

// listItems reads the items of the list block b.
func listItems(b block, src []byte) []item {
	var items []item
	for n := b.node.FirstChild(); n != nil; n = n.NextSibling() {
		li, ok := n.(*ast.ListItem)
		if !ok || li.Pos() < 0 {
			continue
		}
		items = append(items, item{node: li, start: lineStart(src, li.Pos())})
	}
	for i := range items {
		end := b.end
		if i+1 < len(items) {
			end = items[i+1].start
		}
		if end < items[i].start {
			end = items[i].start
		}
		items[i].end = trimBlankTail(src, items[i].start, end)
		fillItem(&items[i], src)
	}
	return items
}

func fillItem(it *item, src []byte) {
	li := it.node
	// The content column: where the first child starts when it is on the
	// marker's line, else the marker width.
	first := li.FirstChild()
	indent := li.Offset
	contentStart := -1
	if first != nil && first.Pos() >= 0 && lineStart(src, first.Pos()) == it.start {
		contentStart = first.Pos()
		indent = first.Pos() - it.start
	}
	if indent < 0 {
		indent = 0
	}
	// Whole text, dedented.
	body := string(src[it.start:it.end])
	lines := strings.Split(body, "\n")
	if contentStart >= 0 {
		lines[0] = string(src[contentStart:lineEnd(src, contentStart)])
		lines[0] = strings.TrimRight(lines[0], "\r\n")
	} else if m := li.Pos(); m >= it.start && m < len(src) && lineStart(src, m) == it.start {
		// From the item's own marker: on a line such as "- * x" the
		// inner item starts after the outer marker.
		lines[0] = stripMarker(strings.TrimRight(string(src[m:lineEnd(src, m)]), "\r\n"))
	} else {
		lines[0] = stripMarker(lines[0])
	}
	for i := 1; i < len(lines); i++ {
		lines[i] = dedent(lines[i], indent)
	}
	it.text = strings.TrimSpace(strings.Join(lines, "\n"))

	var kids []ast.Node
	for n := li.FirstChild(); n != nil; n = n.NextSibling() {
		kids = append(kids, n)
	}
	if len(kids) == 0 {
		return
	}
	k0 := 0
	switch kids[0].(type) {
	case *ast.Paragraph, *ast.TextBlock:
		it.head = joinLines(kids[0], src)
		k0 = 1
	}
	for k := k0; k < len(kids); k++ {
		if kids[k].Pos() < 0 {
			continue
		}
		s := lineStart(src, kids[k].Pos())
		e := it.end
		if k+1 < len(kids) && kids[k+1].Pos() >= 0 {
			e = lineStart(src, kids[k+1].Pos())
		}
		if s < it.start || e < s || e > len(src) {
			continue
		}
		e = trimBlankTail(src, s, e)
		// A block that starts on the marker line ("- * x": a list
		// inside the item) starts where goldmark puts it, after the
		// markers in front of it; its text must not take them along.
		skip := 0
		if p := kids[k].Pos(); p > s && p < e && len(bytes.TrimSpace(src[s:p])) > 0 {
			skip = p - s
		}
		ls := strings.Split(string(src[s+skip:e]), "\n")
		for i := range ls {
			if i > 0 || skip == 0 {
				ls[i] = dedent(ls[i], indent)
			}
		}
		it.rest = append(it.rest, restBlock{node: kids[k], text: rawText(kids[k], strings.Join(ls, "\n"))})
	}
}

// stripMarker removes a list marker ("- ", "* ", "+ ", "1. ") from line.
func stripMarker(line string) string {
	t := strings.TrimLeft(line, " \t")
	if m := markerRE.FindString(t); m != "" {
		return strings.TrimSpace(t[len(m):])
	}
	return strings.TrimSpace(t)
}

var markerRE = regexp.MustCompile(`^(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)`)

// dedent removes up to n leading spaces (a tab counts as reaching the next
// multiple of four columns).
func dedent(line string, n int) string {
	col, i := 0, 0
	for i < len(line) && col < n {
		switch line[i] {
		case ' ':
			col++
		case '\t':
			col += 4 - col%4
		default:
			return line[i:]
		}
		i++
	}
	return line[i:]
}

// joinLines joins the trimmed source lines of a paragraph-like node.
func joinLines(n ast.Node, src []byte) string {
	var parts []string
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		if s := strings.TrimSpace(string(seg.Value(src))); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// codeText returns the content of a fenced or indented code block.
func codeText(n ast.Node, src []byte) string {
	var sb strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(src))
	}
	return strings.TrimRight(sb.String(), "\r\n")
}

// fenceInfo returns the info string of a fenced code block.
func fenceInfo(n ast.Node, src []byte) string {
	if f, ok := n.(*ast.FencedCodeBlock); ok && f.Info != nil {
		return strings.TrimSpace(string(f.Info.Segment.Value(src)))
	}
	return ""
}

// table is a GFM table read from the source: header cells and rows of
// cell texts (pipes unescaped).
type table struct {
	header []string
	rows   [][]string
}

func readTable(n ast.Node, src []byte) table {
	var t table
	for r := n.FirstChild(); r != nil; r = r.NextSibling() {
		var cells []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, cellText(c, src))
		}
		if _, ok := r.(*extast.TableHeader); ok {
			t.header = cells
			continue
		}
		empty := true
		for _, c := range cells {
			if c != "" {
				empty = false
			}
		}
		if !empty {
			t.rows = append(t.rows, cells)
		}
	}
	return t
}

func cellText(c ast.Node, src []byte) string {
	var sb strings.Builder
	lines := c.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(src))
	}
	// Runs of white space collapse to one space, as a Markdown reader
	// sees them (and as Render writes them).
	return strings.Join(strings.Fields(strings.ReplaceAll(sb.String(), `\|`, "|")), " ")
}

// columns maps each wanted field to a column index by header name. want
// lists, in priority order, each field's name and the substrings of a
// normalised header that select it; a key "=x" matches the whole header.
func (t table) columns(want [][]string) map[string]int {
	cols := map[string]int{}
	used := map[int]bool{}
	for _, w := range want {
		field := w[0]
		for i, h := range t.header {
			if used[i] {
				continue
			}
			nh := normLabel(h)
			hit := false
			for _, k := range w[1:] {
				if strings.HasPrefix(k, "=") {
					hit = hit || nh == k[1:]
				} else {
					hit = hit || strings.Contains(nh, k)
				}
			}
			if hit {
				cols[field] = i
				used[i] = true
				break
			}
		}
	}
	return cols
}

// cell returns row's cell for field, or "".
func cell(row []string, cols map[string]int, field string) string {
	i, ok := cols[field]
	if !ok || i >= len(row) {
		return ""
	}
	return row[i]
}

// normLabel lower-cases a label and keeps letters, digits, '+', '/', '?'
// and single spaces, so "**Nemesis + landing evidence:**" and
// "nemesis +  landing evidence" compare equal.
func normLabel(s string) string {
	var sb strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+', r == '/', r == '.', r > 127:
			if space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			space = false
			sb.WriteRune(r)
		default:
			space = true
		}
	}
	return strings.Trim(sb.String(), ". ")
}

// label splits a list item's first-paragraph text into a bold label and
// its value: "**Oracle:** x" → ("Oracle", "x", true). The colon may sit
// inside or outside the bold.
func boldLabel(s string) (label, value string, ok bool) {
	m := boldLabelRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	label = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[1]+m[2]), ":"))
	value = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(m[3]), ":"))
	if label == "" {
		return "", "", false
	}
	return label, value, true
}

var boldLabelRE = regexp.MustCompile(`^(?:\*\*([^*]+?)\*\*|__([^_]+?)__)(.*)$`)

// plainLabel splits "Could falsify: C1" into label and value.
func plainLabel(s string) (label, value string, ok bool) {
	m := plainLabelRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	return strings.TrimSpace(m[1]), strings.TrimSpace(m[2]), true
}

var plainLabelRE = regexp.MustCompile(`^([^\s:*_\-][^:*]{0,60}?)\s*:(?:\s+(.*)|$)`)

// parseIDs splits an id list such as "C1, C3 and C4" into its items. A
// piece that is not a run of ids is kept whole, so nothing is lost.
func parseIDs(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var out []string
	for _, piece := range splitIDList(s) {
		piece = strings.Trim(strings.TrimSpace(piece), "`*_")
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		fields := strings.Fields(piece)
		all := true
		for _, f := range fields {
			if !idRE.MatchString(strings.Trim(f, "`*_")) {
				all = false
				break
			}
		}
		if all {
			for _, f := range fields {
				out = append(out, strings.Trim(f, "`*_"))
			}
			continue
		}
		out = append(out, piece)
	}
	return out
}

// splitIDList splits s at commas, semicolons, "&" and the word "and",
// except inside parentheses: "C1 (partial, see H2), C3" is two pieces.
func splitIDList(s string) []string {
	var out []string
	depth, last := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(' || c == '[':
			depth++
		case (c == ')' || c == ']') && depth > 0:
			depth--
		case depth == 0 && (c == ',' || c == ';' || c == '&'):
			out = append(out, s[last:i])
			last = i + 1
		case depth == 0 && c == 'a' && strings.HasPrefix(s[i:], "and") &&
			(i == 0 || s[i-1] == ' ') && (i+3 == len(s) || s[i+3] == ' '):
			out = append(out, s[last:i])
			last = i + 3
			i += 2
		}
	}
	return append(out, s[last:])
}

var idRE = regexp.MustCompile(`^[A-Z]{1,3}\d+(?:/[A-Za-z0-9_.-]+)?$`)

// noteSet collects prose the parser did not recognise, in file order.
// Blocks that touch in the source (no blank line between) stay joined by
// one newline, as they were written; others are separated by a blank
// line.
type noteSet struct {
	parts []string
	end   int // source end of the last block added; -1 after text
}

func (n *noteSet) block(b block, src []byte) {
	n.add(b.raw(src), b.start, b.end)
}

// add appends text read from src[start:end].
func (n *noteSet) add(text string, start, end int) {
	if trimBlank(text) == "" {
		return
	}
	if len(n.parts) > 0 && n.end > 0 && start == n.end {
		n.parts[len(n.parts)-1] += "\n" + text
	} else {
		n.parts = append(n.parts, text)
	}
	n.end = end
}

func (n *noteSet) text(s string) {
	if trimBlank(s) != "" {
		n.parts = append(n.parts, s)
	}
	n.end = -1
}

func (n *noteSet) String() string { return joinNotes(n.parts...) }

// joinNotes joins the non-empty parts with one blank line.
func joinNotes(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = trimBlank(p); p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "\n\n")
}

// trimBlank removes leading blank lines and trailing white space, keeping
// the indentation of the first non-blank line.
func trimBlank(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			break
		}
		s = s[i+1:]
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// unclosed describes a construct of a Markdown text that runs to the end
// of its container because its closing line is missing: a code fence or an
// HTML block (a comment, <script>, <pre>, …) that only its end marker
// closes.
type unclosed struct {
	line   int    // 1-based line of the opening
	fence  string // the opening fence ("```", "~~~~"); "" for an HTML block
	opener string // the start of the opening line, for an HTML block
	start  int    // offset of the opening line
}

func (u unclosed) String() string {
	if u.fence != "" {
		return fmt.Sprintf("a %s code fence at line %d that is never closed", u.fence, u.line)
	}
	return fmt.Sprintf("an HTML block (%s) at line %d that is never closed", u.opener, u.line)
}

// findUnclosed reports the first construct of src, in goldmark's reading,
// that is never closed: a fenced code block, at any depth, without its
// closing fence, or a top-level block that would swallow whatever text
// came after src (an unclosed fence or HTML comment at the end). Such text
// cannot be spliced into a plan: the headings after it would become code.
func findUnclosed(src []byte) (u unclosed, found bool, err error) {
	root, doc, err := parseWithSentinel(src)
	if err != nil {
		return unclosed{}, false, err
	}
	var first *unclosed
	note := func(c unclosed) {
		if first == nil || c.line < first.line {
			first = &c
		}
	}
	_ = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if f, ok := n.(*ast.FencedCodeBlock); ok {
			if pos, fence, ok := fenceOpening(f, doc); ok && !fenceClosed(f, doc, pos, fence) {
				note(unclosed{fence: fence, line: lineNumber(src, pos)})
			}
		}
		return ast.WalkContinue, nil
	})
	if c, ok := swallower(root, doc, len(src)); ok {
		note(c)
	}
	if first == nil {
		return unclosed{}, false, nil
	}
	return *first, true, nil
}

// openTail reports the top-level block at the end of src that would
// swallow any text appended after it, however many blank lines apart: a
// code fence or an HTML block (comment, <script>, …) never closed. start
// is the offset of its opening line.
func openTail(src []byte) (u unclosed, start int, found bool, err error) {
	root, doc, err := parseWithSentinel(src)
	if err != nil {
		return unclosed{}, 0, false, err
	}
	u, found = swallower(root, doc, len(src))
	if !found {
		return unclosed{}, 0, false, nil
	}
	return u, u.start, true, nil
}

// sentinel is the heading parseWithSentinel appends.
const sentinel = "\n\n# sentinel\n"

// parseWithSentinel parses src followed by a level-1 heading: goldmark
// reads that heading as one unless a construct still open at the end of
// src swallows it.
func parseWithSentinel(src []byte) (root ast.Node, doc []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, doc, err = nil, nil, fmt.Errorf("markdown parser failed: %v", r)
		}
	}()
	if len(src) > MaxSize {
		return nil, nil, fmt.Errorf("markdown is %d bytes, over the %d-byte limit", len(src), MaxSize)
	}
	doc = make([]byte, 0, len(src)+len(sentinel))
	doc = append(append(doc, src...), sentinel...)
	return markdown.Parser().Parse(text.NewReader(doc)), doc, nil
}

// swallower returns the top-level block of root, parsed from doc (src of
// length n and the sentinel), that swallowed the sentinel heading.
func swallower(root ast.Node, doc []byte, n int) (unclosed, bool) {
	if h, ok := root.LastChild().(*ast.Heading); ok && h.Level == 1 && nodeStart(h, doc) >= n {
		return unclosed{}, false
	}
	for b := root.LastChild(); b != nil; b = b.PreviousSibling() {
		p := nodeStart(b, doc)
		if p < 0 || p >= n {
			continue
		}
		p = lineStart(doc, p)
		if f, ok := b.(*ast.FencedCodeBlock); ok {
			if pos, fence, ok := fenceOpening(f, doc); ok {
				return unclosed{fence: fence, line: lineNumber(doc, pos), start: p}, true
			}
		}
		opener := string(bytes.TrimSpace(doc[p:lineEnd(doc, p)]))
		if r := []rune(opener); len(r) > 20 {
			opener = string(r[:20]) + "…"
		}
		return unclosed{opener: opener, line: lineNumber(doc, p), start: p}, true
	}
	return unclosed{}, false
}

// lineNumber returns the 1-based line number of offset p in src.
func lineNumber(src []byte, p int) int {
	p = min(max(p, 0), len(src))
	return bytes.Count(src[:p], []byte("\n")) + 1
}

// closer returns a line that closes u: the fence again, or the end
// marker of the HTML block's kind ("-->" for a comment).
func (u unclosed) closer() string {
	if u.fence != "" {
		return u.fence
	}
	o := strings.ToLower(u.opener)
	for _, tag := range []string{"script", "pre", "style", "textarea"} {
		if strings.HasPrefix(o, "<"+tag) {
			return "</" + tag + ">"
		}
	}
	switch {
	case strings.HasPrefix(o, "<!--"):
		return "-->"
	case strings.HasPrefix(o, "<?"):
		return "?>"
	case strings.HasPrefix(o, "<![cdata["):
		return "]]>"
	}
	return ">"
}

// closeOpen returns s followed by the line that closes the code fence or
// HTML block s ends in, if any, so that text written after s stays
// outside it.
func closeOpen(s string) string {
	if !strings.ContainsAny(s, "`~<") {
		return s
	}
	u, _, open, err := openTail([]byte(s))
	if err != nil || !open {
		return s
	}
	return strings.TrimRight(s, " \t\r\n") + "\n" + u.closer()
}

// fenceOpening returns the offset and the fence of f's opening line.
func fenceOpening(f *ast.FencedCodeBlock, src []byte) (pos int, fence string, ok bool) {
	p := f.Pos()
	if p < 0 || p >= len(src) {
		return 0, "", false
	}
	for p < len(src) && (src[p] == ' ' || src[p] == '\t') {
		p++
	}
	n := fenceRun(src[p:])
	if n < 3 {
		return 0, "", false
	}
	return p, string(src[p : p+n]), true
}

// fenceRun returns the length of the run of '`' or '~' that b starts with.
func fenceRun(b []byte) int {
	if len(b) == 0 || (b[0] != '`' && b[0] != '~') {
		return 0
	}
	n := 0
	for n < len(b) && b[n] == b[0] {
		n++
	}
	return n
}

// fenceClosed reports whether the line after f's last content line (or
// after its opening line) is a closing fence: the fence character at least
// as many times, behind nothing but indentation or quote marks.
func fenceClosed(f *ast.FencedCodeBlock, src []byte, open int, fence string) bool {
	next := lineEnd(src, open)
	if lines := f.Lines(); lines.Len() > 0 {
		next = lineEnd(src, lines.At(lines.Len()-1).Start)
	}
	if next >= len(src) {
		return false
	}
	l := bytes.TrimLeft(src[next:lineEnd(src, next)], " \t>")
	n := fenceRun(l)
	return n >= len(fence) && l[0] == fence[0] && len(bytes.TrimSpace(l[n:])) == 0
}
