package history

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// readJepsenLog reads Jepsen's log-line history form, as in
//
//	INFO  jepsen.util - 3	:invoke	:read	nil
//	INFO  jepsen.util - 3	:ok	:cas	[1 4]
//	INFO  jepsen.util - :nemesis	:info	:start	"Cut off …"
//
// that is, after "jepsen.util - " the process, the :type, the :f, the
// :value and optionally an :error, as EDN. Lines that are not op lines are
// ignored; the file order is the real-time order.
func readJepsenLog(r io.Reader) (*Imported, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	var rows []jepsenRow
	ignored := 0
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if row, ok := parseJepsenLogLine(line, len(rows), lineNo); ok {
				rows = append(rows, row)
			} else if len(bytes.TrimSpace(line)) > 0 {
				ignored++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("jepsen-log: line %d: %w", lineNo, err)
		}
	}
	imp := importJepsen(rows, nil, "jepsen-log")
	if ignored > 0 {
		imp.Mapping += fmt.Sprintf("; %d non-op lines ignored", ignored)
	}
	return imp, nil
}

// jepsenLogMarker precedes the op fields on a jepsen.util log line.
var jepsenLogMarker = []byte("jepsen.util - ")

// parseJepsenLogLine reads one op line; ok is false for any other line.
func parseJepsenLogLine(line []byte, pos, lineNo int) (row jepsenRow, ok bool) {
	i := bytes.Index(line, jepsenLogMarker)
	if i < 0 {
		return row, false
	}
	r := newEDNReader(line[i+len(jepsenLogMarker):])
	var forms []any
	for len(forms) < 5 {
		v, err := r.next()
		if err != nil {
			break // end of line, or trailing text that is not EDN
		}
		forms = append(forms, v)
	}
	if len(forms) < 3 {
		return row, false
	}
	typ, isKw := forms[1].(ednKeyword)
	if !isKw || !jepsenTypes[string(typ)] {
		return row, false
	}
	if _, isKw := forms[2].(ednKeyword); !isKw {
		return row, false
	}
	switch forms[0].(type) {
	case int64, ednKeyword:
	default:
		return row, false
	}
	row = jepsenRow{pos: pos, line: lineNo, process: forms[0], typ: string(typ), f: forms[2]}
	if len(forms) > 3 {
		row.value = forms[3]
	}
	if len(forms) > 4 {
		row.err, row.hasErr = forms[4], true
	}
	return row, true
}
