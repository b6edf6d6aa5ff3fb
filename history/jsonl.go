package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Imported is the result of Import: the ops that passed the row checks,
// the fault windows the source declared (Jepsen nemesis rows), the rows
// refused and a human description of how the source's fields were mapped.
//
// Ops have passed the checks that need no fault ledger (op_id present and
// unique within the import, no output on a timed-out op, not both error and
// output, complete_ts not before invoke_ts). For Jepsen sources their
// fault_epoch is filled from Windows. Before recording them into a run,
// pass them through Validate with the run's seen set and fault ledger.
type Imported struct {
	Ops      []Op
	Windows  []Window
	Rejected []Rejection
	Mapping  string
}

// RenumberWindows renames the imported fault windows to F<next>,
// F<next+1>… in order, and the ops' fault_epoch with them, so that they can
// join a run's ledger that already holds F1…F<next-1>.
func (imp *Imported) RenumberWindows(next int) {
	names := make(map[string]string, len(imp.Windows))
	for i := range imp.Windows {
		id := "F" + strconv.Itoa(next+i)
		names[imp.Windows[i].ID] = id
		imp.Windows[i].ID = id
	}
	for i := range imp.Ops {
		if e := imp.Ops[i].FaultEpoch; e != nil {
			if id, ok := names[*e]; ok {
				imp.Ops[i].FaultEpoch = &id
			}
		}
	}
}

// Import formats.
const (
	FormatJSONL     = "jsonl"      // native rows, one JSON object per line
	FormatJepsenEDN = "jepsen-edn" // a Jepsen history: a vector of op maps, or one map per line
	FormatJepsenLog = "jepsen-log" // jepsen.util log lines: process, type, f, value
	FormatPorcupine = "porcupine"  // porcupine.Operation objects, as a JSON array or JSON Lines
)

// Formats lists the formats Import reads.
func Formats() []string {
	return []string{FormatJSONL, FormatJepsenEDN, FormatJepsenLog, FormatPorcupine}
}

// Import reads a history in one of the formats "jsonl", "jepsen-edn",
// "jepsen-log" or "porcupine" and maps it to Ops. A row that cannot be
// read or mapped becomes a Rejection naming its line; the rest of the
// history is kept. Import fails only on an unknown format, an unreadable
// stream, or (EDN, porcupine JSON array) a syntax error that leaves the
// rest of the document unreadable.
func Import(r io.Reader, format string) (*Imported, error) {
	r = skipBOM(r)
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatJSONL, "json-lines", "ndjson":
		return importJSONL(r)
	case FormatJepsenEDN, "edn", "jepsen":
		src, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("jepsen-edn: %w", err)
		}
		return readJepsenEDN(src)
	case FormatJepsenLog, "jepsen.log":
		return readJepsenLog(r)
	case FormatPorcupine, "porcupine-json":
		return readPorcupine(r)
	}
	return nil, fmt.Errorf("unknown history format %q: use one of %s", format, strings.Join(Formats(), ", "))
}

// skipBOM drops a leading UTF-8 byte order mark.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64*1024)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	return br
}

// lineReader reads lines of any length; the returned slice is valid until
// the next call.
type lineReader struct {
	br   *bufio.Reader
	buf  []byte
	line int
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 256*1024)}
}

// next returns the next line without its newline, or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.buf = append(lr.buf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = lr.br.ReadSlice('\n')
			lr.buf = append(lr.buf, line...)
		}
		line = lr.buf
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(line) == 0 && errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	lr.line++
	return bytes.TrimRight(line, "\r\n"), nil
}

// decodeRow decodes one native row strictly: unknown fields and trailing
// data are errors. Absent fields read as null.
func decodeRow(line []byte, op *Op) error {
	if p := skipJSONSpace(line, 0); p == len(line) || line[p] != '{' {
		return errors.New("a row is a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(op); err != nil {
		return err
	}
	if off := int(dec.InputOffset()); skipJSONSpace(line, off) != len(line) {
		return errors.New("data after the row's JSON object")
	}
	if isNull(op.Input) {
		op.Input = nil
	}
	if isNull(op.Output) {
		op.Output = nil
	}
	return nil
}

// ReadJSONL reads native history rows, one JSON object per line (blank
// lines skipped). It decodes only: an unreadable row or an unknown field is
// an error naming the line; use Import(r, "jsonl") to keep the good rows
// and Validate to check them.
func ReadJSONL(r io.Reader) ([]Op, error) {
	lr := newLineReader(r)
	var d rowDecoder
	// Rows go into fixed-size chunks joined once at the end, so a long
	// history is not copied again and again as one slice grows.
	const chunk = 1 << 14
	var full [][]Op
	cur := make([]Op, 0, 256)
	join := func() []Op {
		n := len(cur)
		for _, c := range full {
			n += len(c)
		}
		if len(full) == 0 {
			return cur
		}
		ops := make([]Op, 0, n)
		for _, c := range full {
			ops = append(ops, c...)
		}
		return append(ops, cur...)
	}
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return join(), nil
		}
		if err != nil {
			return join(), fmt.Errorf("jsonl: line %d: %w", lr.line+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(cur) == chunk {
			full = append(full, cur)
			cur = make([]Op, 0, chunk)
		}
		cur = append(cur, Op{})
		if err := d.decode(line, &cur[len(cur)-1]); err != nil {
			cur = cur[:len(cur)-1]
			return join(), fmt.Errorf("jsonl: line %d: %w", lr.line, err)
		}
	}
}

// WriteJSONL writes ops as native rows, one JSON object per line, with
// every field present (null when unused).
func WriteJSONL(w io.Writer, ops []Op) error {
	bw := bufio.NewWriterSize(w, 256*1024)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			return fmt.Errorf("jsonl: op %d (%q): %w", i, ops[i].OpID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// importJSONL reads native rows, refusing undecodable rows by line.
func importJSONL(r io.Reader) (*Imported, error) {
	lr := newLineReader(r)
	var d rowDecoder
	imp := &Imported{}
	var ops []Op
	var lines []int
	rows := 0
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("jsonl: line %d: %w", lr.line+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rows++
		var op Op
		if err := d.decode(line, &op); err != nil {
			imp.Rejected = append(imp.Rejected, Rejection{Index: lr.line, OpID: op.OpID, Field: jsonField(err),
				Reason: fmt.Sprintf("unreadable row: %v; a row is one JSON object with the fields of SPEC §3.1", err)})
			continue
		}
		ops = append(ops, op)
		lines = append(lines, lr.line)
	}
	accepted, rejected := validate(ops, nil, nil, false)
	for _, r := range rejected {
		r.Index = lines[r.Index]
		imp.Rejected = append(imp.Rejected, r)
	}
	sortRejections(imp.Rejected)
	imp.Ops = accepted
	imp.Mapping = fmt.Sprintf("jsonl: %d rows → %d ops; native fields as written (absent fields read as null, "+
		"timeout_marker set true where complete_ts is null); fault_epoch left for the run's ledger", rows, len(accepted))
	return imp, nil
}

// jsonField names the field a decoding error is about, or "row".
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		return strings.Trim(msg[i+len("unknown field "):], `"`)
	}
	return "row"
}

// sortRejections orders an import's rejections by source line.
func sortRejections(rs []Rejection) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Index < rs[j].Index })
}

// rowDecoder decodes native rows. Rows in the plain shape WriteJSONL
// produces (known keys, no escapes in strings, integer timestamps) take a
// fast path that allocates little: pointers come from slabs, repeated
// strings (process ids, op types, keys, nodes, epochs, errors) are shared,
// and JSON values are copied into an arena. Anything else goes through
// encoding/json, which also produces the errors, so both paths agree.
type rowDecoder struct {
	strs   []string
	ints   []int64
	bools  []bool
	arena  []byte
	intern map[string]string
}

// maxInterned bounds the shared-string table.
const maxInterned = 1 << 14

func (d *rowDecoder) decode(line []byte, op *Op) error {
	if d.fast(line, op) {
		return nil
	}
	*op = Op{}
	return decodeRow(line, op)
}

// fast decodes a plain row and reports whether it could.
func (d *rowDecoder) fast(b []byte, op *Op) bool {
	*op = Op{}
	p := skipJSONSpace(b, 0)
	if p >= len(b) || b[p] != '{' {
		return false
	}
	p = skipJSONSpace(b, p+1)
	if p < len(b) && b[p] == '}' {
		return skipJSONSpace(b, p+1) == len(b)
	}
	for {
		key, np, ok := plainString(b, p)
		if !ok {
			return false
		}
		p = skipJSONSpace(b, np)
		if p >= len(b) || b[p] != ':' {
			return false
		}
		p = skipJSONSpace(b, p+1)
		switch string(key) {
		case "op_id":
			s, null, np, ok := d.stringValue(b, p, false)
			if !ok {
				return false
			}
			if !null {
				op.OpID = s
			}
			p = np
		case "op_type":
			s, null, np, ok := d.stringValue(b, p, true)
			if !ok {
				return false
			}
			if !null {
				op.OpType = s
			}
			p = np
		case "process_id", "key", "error", "node_seen", "fault_epoch":
			s, null, np, ok := d.stringValue(b, p, true)
			if !ok {
				return false
			}
			var ps *string
			if !null {
				ps = d.newString(s)
			}
			switch string(key) {
			case "process_id":
				op.ProcessID = ps
			case "key":
				op.Key = ps
			case "error":
				op.Error = ps
			case "node_seen":
				op.NodeSeen = ps
			default:
				op.FaultEpoch = ps
			}
			p = np
		case "invoke_ts", "complete_ts":
			n, isNull, np, ok := intValue(b, p)
			if !ok {
				return false
			}
			var pn *int64
			if !isNull {
				pn = d.newInt(n)
			}
			if string(key) == "invoke_ts" {
				op.InvokeTS = pn
			} else {
				op.CompleteTS = pn
			}
			p = np
		case "timeout_marker":
			var pb *bool
			switch {
			case hasLiteral(b, p, "true"):
				pb, p = d.newBool(true), p+4
			case hasLiteral(b, p, "false"):
				pb, p = d.newBool(false), p+5
			case hasLiteral(b, p, "null"):
				p += 4
			default:
				return false
			}
			op.TimeoutMarker = pb
		case "input", "output":
			end, ok := skipJSONValue(b, p)
			if !ok || !json.Valid(b[p:end]) {
				return false
			}
			var raw json.RawMessage
			if !hasLiteral(b, p, "null") {
				raw = d.keep(b[p:end])
			}
			if string(key) == "input" {
				op.Input = raw
			} else {
				op.Output = raw
			}
			p = end
		default:
			return false
		}
		p = skipJSONSpace(b, p)
		if p >= len(b) {
			return false
		}
		switch b[p] {
		case ',':
			p = skipJSONSpace(b, p+1)
		case '}':
			return skipJSONSpace(b, p+1) == len(b)
		default:
			return false
		}
	}
}

// stringValue reads a plain string or null at p; shared strings are
// interned.
func (d *rowDecoder) stringValue(b []byte, p int, shared bool) (s string, null bool, next int, ok bool) {
	if hasLiteral(b, p, "null") {
		return "", true, p + 4, true
	}
	raw, next, ok := plainString(b, p)
	if !ok {
		return "", false, 0, false
	}
	if shared {
		return d.internString(raw), false, next, true
	}
	return string(raw), false, next, true
}

func (d *rowDecoder) internString(raw []byte) string {
	if s, ok := d.intern[string(raw)]; ok {
		return s
	}
	s := string(raw)
	if d.intern == nil {
		d.intern = make(map[string]string)
	}
	if len(d.intern) < maxInterned {
		d.intern[s] = s
	}
	return s
}

const slabSize = 1024

func (d *rowDecoder) newString(s string) *string {
	if len(d.strs) == cap(d.strs) {
		d.strs = make([]string, 0, slabSize)
	}
	d.strs = append(d.strs, s)
	return &d.strs[len(d.strs)-1]
}

func (d *rowDecoder) newInt(n int64) *int64 {
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int64, 0, slabSize)
	}
	d.ints = append(d.ints, n)
	return &d.ints[len(d.ints)-1]
}

func (d *rowDecoder) newBool(v bool) *bool {
	if len(d.bools) == cap(d.bools) {
		d.bools = make([]bool, 0, slabSize)
	}
	d.bools = append(d.bools, v)
	return &d.bools[len(d.bools)-1]
}

// keep copies a JSON value into the arena; the result's capacity ends at
// its length so appending to it never overwrites a neighbour.
func (d *rowDecoder) keep(v []byte) json.RawMessage {
	const arenaSize = 64 * 1024
	if len(v) > arenaSize/16 {
		return append(json.RawMessage(nil), v...)
	}
	if cap(d.arena)-len(d.arena) < len(v) {
		d.arena = make([]byte, 0, arenaSize)
	}
	start := len(d.arena)
	d.arena = append(d.arena, v...)
	return d.arena[start:len(d.arena):len(d.arena)]
}

// skipJSONSpace returns the index of the first non-whitespace byte at or
// after p.
func skipJSONSpace(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// hasLiteral reports whether the literal lit stands at p, followed by a
// delimiter.
func hasLiteral(b []byte, p int, lit string) bool {
	end := p + len(lit)
	if end > len(b) || string(b[p:end]) != lit {
		return false
	}
	return end == len(b) || isJSONDelimiter(b[end])
}

func isJSONDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// plainString reads a string without escapes or control characters whose
// bytes are valid UTF-8; it returns the contents and the index after the
// closing quote.
func plainString(b []byte, p int) (s []byte, next int, ok bool) {
	if p >= len(b) || b[p] != '"' {
		return nil, 0, false
	}
	ascii := true
	for i := p + 1; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			s = b[p+1 : i]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, i + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// intValue reads a canonical JSON integer or null at p.
func intValue(b []byte, p int) (n int64, isNull bool, next int, ok bool) {
	if hasLiteral(b, p, "null") {
		return 0, true, p + 4, true
	}
	end := p
	if end < len(b) && b[end] == '-' {
		end++
	}
	digits := end
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	if end == digits || end-digits > 1 && b[digits] == '0' || end < len(b) && !isJSONDelimiter(b[end]) {
		return 0, false, 0, false
	}
	n, err := strconv.ParseInt(string(b[p:end]), 10, 64)
	if err != nil {
		return 0, false, 0, false
	}
	return n, false, end, true
}

// skipJSONValue returns the index just past the JSON value at p, judging
// its extent only (strings, nesting); the caller validates it.
func skipJSONValue(b []byte, p int) (int, bool) {
	depth := 0
	for i := p; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return 0, false
			}
			if depth == 0 {
				return i + 1, true
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return 0, false
			}
			if depth == 0 {
				return i + 1, true
			}
		default:
			if depth == 0 {
				if isJSONDelimiter(c) {
					if i == p {
						return 0, false
					}
					return i, true
				}
				if i+1 == len(b) {
					return i + 1, true
				}
			}
		}
	}
	return 0, false
}
