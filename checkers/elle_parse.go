package checkers

// A fast path for reading micro-ops in their common shape —
// [["append", 12, 3], ["r", 12, [1, 2, 3]]] with plain strings and
// integers — producing exactly the values [canonical] would. Anything
// else (escapes, fractions, objects, odd spacing is fine) makes it give
// up, and the caller falls back to encoding/json.

// elleMopScanner reads one transaction's micro-ops.
type elleMopScanner struct {
	b      []byte
	i      int
	intern map[string]string
}

// elleMaxInterned caps the interning table: past it, strings are no longer
// shared (correct, just more allocation).
const elleMaxInterned = 1 << 20

func (s *elleMopScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c; it reports whether c was there.
func (s *elleMopScanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str interns b as a string.
func (s *elleMopScanner) str(b []byte) string {
	if v, ok := s.intern[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(s.intern) < elleMaxInterned {
		s.intern[v] = v
	}
	return v
}

// scalar reads null, a plain string or an integer.
func (s *elleMopScanner) scalar() (value, bool) {
	s.ws()
	if s.i >= len(s.b) {
		return value{}, false
	}
	switch c := s.b[s.i]; {
	case c == 'n':
		if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
			s.i += 4
			return value{}, true
		}
	case c == '"':
		j := s.i + 1
		for j < len(s.b) && s.b[j] != '"' {
			if s.b[j] == '\\' || s.b[j] < 0x20 || s.b[j] >= 0x80 {
				return value{}, false
			}
			j++
		}
		if j >= len(s.b) {
			return value{}, false
		}
		v := value{kind: kindString, s: s.str(s.b[s.i+1 : j])}
		s.i = j + 1
		return v, true
	case c == '-' || c >= '0' && c <= '9':
		j := s.i
		if c == '-' {
			j++
		}
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		if j < len(s.b) && (s.b[j] == '.' || s.b[j] == 'e' || s.b[j] == 'E') {
			return value{}, false
		}
		lit, ok := plainInteger(s.b[s.i:j])
		if !ok {
			return value{}, false
		}
		s.i = j
		if lit == "0" {
			return value{kind: kindOther, s: "0"}, true
		}
		return value{kind: kindOther, s: s.str(s.b[s.i-len(lit) : s.i])}, true
	}
	return value{}, false
}

// parseElleMopsFast reads micro-ops in the common shape; ok is false when the
// text is in any other shape (not necessarily invalid).
func parseElleMopsFast(raw []byte, readsKnown, lists bool, intern map[string]string) (mops []elleMop, ok bool) {
	s := &elleMopScanner{b: raw, intern: intern}
	if !s.consume('[') {
		return nil, false
	}
	if s.consume(']') {
		s.ws()
		return nil, s.i == len(s.b)
	}
	for {
		if !s.consume('[') {
			return nil, false
		}
		f, ok := s.scalar()
		if !ok || f.kind != kindString || !s.consume(',') {
			return nil, false
		}
		var x elleMop
		switch f.s {
		case "append":
			x.f = mopAppend
		case "r", "read":
			x.f = mopRead
		case "w", "write":
			x.f = mopWrite
		default:
			return nil, false
		}
		if x.key, ok = s.scalar(); !ok || !s.consume(',') {
			return nil, false
		}
		s.ws()
		switch {
		case x.f == mopRead && lists && s.i < len(s.b) && s.b[s.i] == '[':
			s.i++
			if !s.consume(']') {
				for {
					v, ok := s.scalar()
					if !ok {
						return nil, false
					}
					x.list = append(x.list, v)
					if s.consume(']') {
						break
					}
					if !s.consume(',') {
						return nil, false
					}
				}
			}
			if x.list == nil {
				x.list = []value{}
			}
		default:
			if x.v, ok = s.scalar(); !ok {
				return nil, false
			}
			if x.f == mopRead && lists && x.v.kind != kindNull {
				return nil, false // not a list: let the slow path say so
			}
		}
		if x.f == mopRead {
			x.known = readsKnown
			if !readsKnown {
				x.v, x.list = value{}, nil
			}
		}
		if !s.consume(']') {
			return nil, false
		}
		mops = append(mops, x)
		if s.consume(']') {
			s.ws()
			return mops, s.i == len(s.b)
		}
		if !s.consume(',') {
			return nil, false
		}
	}
}
