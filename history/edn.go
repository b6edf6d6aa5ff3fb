package history

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a small EDN reader, enough for Jepsen histories: maps,
// vectors, lists, sets, keywords, symbols, strings, characters, integers
// (arbitrary size), floats, nil, booleans, comments, commas as whitespace,
// #_ discards, metadata, and tagged literals (#inst "…", record literals
// such as #jepsen.history.Op{…}), which read as the value they tag.

// ednKeyword is an EDN keyword without its leading colon (:f → "f").
type ednKeyword string

// ednSymbol is an EDN symbol other than nil, true and false.
type ednSymbol string

// ednBigInt is an integer that does not fit an int64, kept as its digits.
type ednBigInt string

// ednSet is an EDN set, #{…}, in the order written.
type ednSet []any

// ednMap is an EDN map with its entries in the order written.
type ednMap struct {
	keys []any
	vals []any
}

// get returns the value under the keyword (or string) name and whether the
// map holds it.
func (m *ednMap) get(name string) (any, bool) {
	for i, k := range m.keys {
		switch k := k.(type) {
		case ednKeyword:
			if string(k) == name {
				return m.vals[i], true
			}
		case string:
			if k == name {
				return m.vals[i], true
			}
		}
	}
	return nil, false
}

// ednDiscard is what a #_ form reads as; collections drop it.
type ednDiscard struct{}

// ednMaxDepth bounds nesting so hostile input cannot exhaust the stack.
const ednMaxDepth = 1000

// errEDNEnd reports that the input holds no further form.
var errEDNEnd = errors.New("edn: end of input")

// ednReader reads EDN forms from a byte slice.
type ednReader struct {
	src    []byte
	pos    int
	line   int               // 1-based line of pos
	intern map[string]string // keywords and symbols seen, shared
}

func newEDNReader(src []byte) *ednReader {
	return &ednReader{src: src, line: 1}
}

// errorf returns a syntax error located at the current line.
func (r *ednReader) errorf(format string, args ...any) error {
	return fmt.Errorf("edn: line %d: %s", r.line, fmt.Sprintf(format, args...))
}

// skipSpace skips whitespace, commas and ; comments.
func (r *ednReader) skipSpace() {
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch {
		case c == '\n':
			r.line++
			r.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == ',' || c == '\f' || c == '\v':
			r.pos++
		case c == ';':
			for r.pos < len(r.src) && r.src[r.pos] != '\n' {
				r.pos++
			}
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at end.
func (r *ednReader) peek() byte {
	r.skipSpace()
	if r.pos >= len(r.src) {
		return 0
	}
	return r.src[r.pos]
}

// next reads the next form that is not a discard. It returns errEDNEnd when
// only whitespace and comments remain.
func (r *ednReader) next() (any, error) {
	for {
		r.skipSpace()
		if r.pos >= len(r.src) {
			return nil, errEDNEnd
		}
		v, err := r.read(0)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(ednDiscard); !ok {
			return v, nil
		}
	}
}

// read reads one form starting at the next non-space byte.
func (r *ednReader) read(depth int) (any, error) {
	if depth > ednMaxDepth {
		return nil, r.errorf("nesting deeper than %d", ednMaxDepth)
	}
	r.skipSpace()
	if r.pos >= len(r.src) {
		return nil, r.errorf("unexpected end of input")
	}
	c := r.src[r.pos]
	switch c {
	case '[':
		r.pos++
		return r.readSeq(']', depth)
	case '(':
		r.pos++
		return r.readSeq(')', depth)
	case '{':
		r.pos++
		return r.readMap(depth)
	case ']', ')', '}':
		return nil, r.errorf("unexpected %q", c)
	case '"':
		r.pos++
		return r.readString()
	case '\\':
		r.pos++
		return r.readChar()
	case '^':
		// Metadata: read and drop the map, then the form it decorates.
		r.pos++
		if _, err := r.readForm(depth + 1); err != nil {
			return nil, err
		}
		return r.readForm(depth + 1)
	case '\'', '`', '@':
		r.pos++
		return r.readForm(depth + 1)
	case '~':
		r.pos++
		if r.pos < len(r.src) && r.src[r.pos] == '@' {
			r.pos++
		}
		return r.readForm(depth + 1)
	case '#':
		r.pos++
		return r.readDispatch(depth)
	}
	tok := r.tokenBytes()
	if len(tok) == 0 {
		// A byte that cannot start any form; consume it so callers progress.
		r.pos++
		return nil, r.errorf("unexpected %q", c)
	}
	return r.parseAtom(tok)
}

// readForm reads a form, skipping discards, as the operand of a prefix
// (metadata, quote, tag).
func (r *ednReader) readForm(depth int) (any, error) {
	for {
		v, err := r.read(depth)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(ednDiscard); !ok {
			return v, nil
		}
	}
}

// readDispatch reads the form after a '#'.
func (r *ednReader) readDispatch(depth int) (any, error) {
	if r.pos >= len(r.src) {
		return nil, r.errorf("unexpected end of input after #")
	}
	switch c := r.src[r.pos]; c {
	case '{':
		r.pos++
		items, err := r.readSeq('}', depth)
		if err != nil {
			return nil, err
		}
		return ednSet(items), nil
	case '_':
		r.pos++
		if _, err := r.readForm(depth + 1); err != nil {
			return nil, err
		}
		return ednDiscard{}, nil
	case '"':
		r.pos++
		return r.readString() // regex literal, kept as its source string
	case '#':
		r.pos++
		tok := r.token()
		switch tok {
		case "Inf":
			return math.Inf(1), nil
		case "-Inf":
			return math.Inf(-1), nil
		case "NaN":
			return math.NaN(), nil
		}
		return nil, r.errorf("unknown symbolic value ##%s", tok)
	case ':':
		// Namespaced map #:ns{…}: the namespace is dropped.
		r.pos++
		r.token()
		return r.readForm(depth + 1)
	default:
		tok := r.token()
		if tok == "" {
			return nil, r.errorf("unexpected %q after #", c)
		}
		// A tagged literal reads as the value it tags.
		return r.readForm(depth + 1)
	}
}

// readSeq reads forms up to the closing delimiter.
func (r *ednReader) readSeq(closer byte, depth int) ([]any, error) {
	start := r.line
	items := []any{}
	for {
		r.skipSpace()
		if r.pos >= len(r.src) {
			return nil, fmt.Errorf("edn: line %d: unclosed collection (expected %q)", start, closer)
		}
		if r.src[r.pos] == closer {
			r.pos++
			return items, nil
		}
		v, err := r.read(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(ednDiscard); ok {
			continue
		}
		items = append(items, v)
	}
}

// readMap reads key/value pairs up to '}'.
func (r *ednReader) readMap(depth int) (any, error) {
	start := r.line
	items, err := r.readSeq('}', depth)
	if err != nil {
		return nil, err
	}
	if len(items)%2 != 0 {
		return nil, fmt.Errorf("edn: line %d: map with an odd number of forms", start)
	}
	m := &ednMap{keys: make([]any, 0, len(items)/2), vals: make([]any, 0, len(items)/2)}
	for i := 0; i < len(items); i += 2 {
		m.keys = append(m.keys, items[i])
		m.vals = append(m.vals, items[i+1])
	}
	return m, nil
}

// readString reads a string body after the opening quote.
func (r *ednReader) readString() (any, error) {
	start := r.line
	var b strings.Builder
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		r.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\n':
			r.line++
			b.WriteByte(c)
		case '\\':
			if r.pos >= len(r.src) {
				return nil, fmt.Errorf("edn: line %d: unterminated string", start)
			}
			e := r.src[r.pos]
			r.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '"', '\\', '\'':
				b.WriteByte(e)
			case 'u':
				if r.pos+4 > len(r.src) {
					return nil, r.errorf("short \\u escape")
				}
				n, err := strconv.ParseUint(string(r.src[r.pos:r.pos+4]), 16, 32)
				if err != nil {
					return nil, r.errorf("bad \\u escape")
				}
				r.pos += 4
				b.WriteRune(rune(n))
			default:
				if e == '\n' {
					r.line++
				}
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return nil, fmt.Errorf("edn: line %d: unterminated string", start)
}

// readChar reads a character literal after the backslash; it reads as a
// one-character string.
func (r *ednReader) readChar() (any, error) {
	if r.pos >= len(r.src) {
		return nil, r.errorf("unexpected end of input after \\")
	}
	// The first character is always part of the literal, even a delimiter.
	_, size := utf8.DecodeRune(r.src[r.pos:])
	first := string(r.src[r.pos : r.pos+size])
	r.pos += size
	rest := r.token()
	name := first + rest
	switch name {
	case "newline":
		return "\n", nil
	case "space":
		return " ", nil
	case "tab":
		return "\t", nil
	case "return":
		return "\r", nil
	case "backspace":
		return "\b", nil
	case "formfeed":
		return "\f", nil
	}
	if len(name) == 5 && name[0] == 'u' {
		if n, err := strconv.ParseUint(name[1:], 16, 32); err == nil {
			return string(rune(n)), nil
		}
	}
	if rest != "" {
		return nil, r.errorf("unknown character literal \\%s", name)
	}
	return first, nil
}

// isDelimiter reports whether c ends a token.
func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ',', '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return false
}

// token consumes and returns the text up to the next delimiter.
func (r *ednReader) token() string {
	return string(r.tokenBytes())
}

// tokenBytes consumes and returns the bytes up to the next delimiter.
func (r *ednReader) tokenBytes() []byte {
	start := r.pos
	for r.pos < len(r.src) && !isDelimiter(r.src[r.pos]) {
		r.pos++
	}
	return r.src[start:r.pos]
}

// maxEDNInterned bounds the reader's table of shared names.
const maxEDNInterned = 1 << 12

// name returns b as a string, shared with earlier equal names.
func (r *ednReader) name(b []byte) string {
	if s, ok := r.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if r.intern == nil {
		r.intern = make(map[string]string)
	}
	if len(r.intern) < maxEDNInterned {
		r.intern[s] = s
	}
	return s
}

// parseAtom turns a token into nil, a boolean, a number, a keyword or a
// symbol.
func (r *ednReader) parseAtom(tok []byte) (any, error) {
	switch string(tok) {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	c := tok[0]
	if c == ':' {
		i := 0
		for i < len(tok) && tok[i] == ':' {
			i++
		}
		if i == len(tok) {
			return nil, r.errorf("empty keyword")
		}
		return ednKeyword(r.name(tok[i:])), nil
	}
	if c >= '0' && c <= '9' || (c == '+' || c == '-') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		if n, ok := smallInt(tok); ok {
			return n, nil
		}
		return parseNumber(string(tok), r)
	}
	return ednSymbol(r.name(tok)), nil
}

// smallInt parses a plain decimal integer of at most 18 digits.
func smallInt(tok []byte) (int64, bool) {
	neg := false
	switch tok[0] {
	case '-':
		neg = true
		tok = tok[1:]
	case '+':
		tok = tok[1:]
	}
	if len(tok) == 0 || len(tok) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseNumber reads an integer (N suffix allowed), a float (M suffix
// allowed) or a ratio, which reads as a float.
func parseNumber(tok string, r *ednReader) (any, error) {
	if i := strings.IndexByte(tok, '/'); i > 0 {
		n, err1 := strconv.ParseFloat(tok[:i], 64)
		d, err2 := strconv.ParseFloat(tok[i+1:], 64)
		if err1 != nil || err2 != nil || d == 0 {
			return nil, r.errorf("invalid ratio %q", tok)
		}
		return n / d, nil
	}
	s := tok
	if strings.HasSuffix(s, "M") {
		s = s[:len(s)-1]
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, r.errorf("invalid number %q", tok)
		}
		return f, nil
	}
	s = strings.TrimSuffix(s, "N")
	if !strings.ContainsAny(s, ".eExX") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		digits := strings.TrimPrefix(s, "+")
		body := strings.TrimPrefix(digits, "-")
		if body != "" && strings.Trim(body, "0123456789") == "" {
			return ednBigInt(strings.TrimLeft(body, "0")).withSign(strings.HasPrefix(digits, "-")), nil
		}
		return nil, r.errorf("invalid number %q", tok)
	}
	if strings.ContainsAny(s, "xX") {
		if n, err := strconv.ParseInt(s, 0, 64); err == nil {
			return n, nil
		}
		return nil, r.errorf("invalid number %q", tok)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, r.errorf("invalid number %q", tok)
	}
	return f, nil
}

// withSign returns the big integer with a leading minus when neg is set.
func (b ednBigInt) withSign(neg bool) ednBigInt {
	if b == "" {
		b = "0"
	}
	if neg && b != "0" {
		return "-" + b
	}
	return b
}

// ednJSON renders an EDN value as JSON: vectors, lists and sets become
// arrays, maps objects (keys as strings, in the order written), keywords and
// symbols strings without the colon, nil null. Non-finite floats become
// strings ("NaN", "Infinity", "-Infinity").
func ednJSON(v any) []byte {
	var b bytes.Buffer
	appendEDNJSON(&b, v)
	return b.Bytes()
}

func appendEDNJSON(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case ednBigInt:
		b.WriteString(string(v))
	case float64:
		switch {
		case math.IsNaN(v):
			b.WriteString(`"NaN"`)
		case math.IsInf(v, 1):
			b.WriteString(`"Infinity"`)
		case math.IsInf(v, -1):
			b.WriteString(`"-Infinity"`)
		default:
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	case string:
		appendJSONString(b, v)
	case ednKeyword:
		appendJSONString(b, string(v))
	case ednSymbol:
		appendJSONString(b, string(v))
	case []any:
		appendJSONArray(b, v)
	case ednSet:
		appendJSONArray(b, v)
	case *ednMap:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSONString(b, ednString(k))
			b.WriteByte(':')
			appendEDNJSON(b, v.vals[i])
		}
		b.WriteByte('}')
	default:
		appendJSONString(b, fmt.Sprint(v))
	}
}

func appendJSONArray(b *bytes.Buffer, items []any) {
	b.WriteByte('[')
	for i, x := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		appendEDNJSON(b, x)
	}
	b.WriteByte(']')
}

// ednString renders a scalar as plain text (keywords without the colon,
// strings unquoted) and anything else as its JSON form.
func ednString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case ednKeyword:
		return string(v)
	case ednSymbol:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case ednBigInt:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "nil"
	}
	return string(ednJSON(v))
}

// appendJSONString writes s as a JSON string, replacing invalid UTF-8.
func appendJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\ufffd`)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
