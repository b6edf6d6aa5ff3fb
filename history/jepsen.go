package history

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// jepsenRow is one Jepsen op map, read from EDN or from a jepsen.log line.
type jepsenRow struct {
	pos     int // 0-based position among the source's rows
	line    int // 1-based source line
	process any
	typ     string // invoke, ok, fail or info
	f       any
	value   any
	time    *int64
	index   *int64
	key     any
	hasKey  bool
	node    any
	err     any
	hasErr  bool
}

// jepsenTypes are the values of :type an op map may carry.
var jepsenTypes = map[string]bool{"invoke": true, "ok": true, "fail": true, "info": true}

// jepsenRowFromEDN reads an op map. It returns the field and the reason
// when v is not one.
func jepsenRowFromEDN(v any, pos, line int) (row jepsenRow, field, reason string) {
	row = jepsenRow{pos: pos, line: line}
	m, ok := v.(*ednMap)
	if !ok {
		return row, "row", fmt.Sprintf("not an op map but %s: a Jepsen history is a vector of maps {:type … :process … :f …}", ednKind(v))
	}
	t, _ := m.get("type")
	kw, ok := t.(ednKeyword)
	if !ok || !jepsenTypes[string(kw)] {
		return row, "type", fmt.Sprintf(":type is %s, want one of :invoke, :ok, :fail, :info", ednString(t))
	}
	row.typ = string(kw)
	var has bool
	if row.process, has = m.get("process"); !has || row.process == nil {
		return row, "process_id", "no :process: every Jepsen op names the process that issued it"
	}
	if row.f, has = m.get("f"); !has || row.f == nil {
		return row, "op_type", "no :f: every Jepsen op names its function (:read, :write, …)"
	}
	row.value, _ = m.get("value")
	if tv, has := m.get("time"); has && tv != nil {
		n, ok := tv.(int64)
		if !ok {
			return row, "invoke_ts", fmt.Sprintf(":time is %s, want an integer (ns)", ednString(tv))
		}
		row.time = &n
	}
	if iv, has := m.get("index"); has && iv != nil {
		n, ok := iv.(int64)
		if !ok {
			return row, "op_id", fmt.Sprintf(":index is %s, want an integer", ednString(iv))
		}
		row.index = &n
	}
	row.key, row.hasKey = m.get("key")
	row.node, _ = m.get("node")
	row.err, row.hasErr = m.get("error")
	return row, "", ""
}

// ednKind names the sort of an EDN value for messages.
func ednKind(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case []any:
		return "a vector"
	case ednSet:
		return "a set"
	case *ednMap:
		return "a map"
	case ednKeyword:
		return "a keyword"
	case string:
		return "a string"
	}
	return "a scalar"
}

// isNemesis reports whether a :process value is Jepsen's nemesis.
func isNemesis(p any) bool {
	switch p := p.(type) {
	case ednKeyword:
		return p == "nemesis"
	case string:
		return p == "nemesis"
	}
	return false
}

// readLike reports whether an :f names an op whose :ok value is its result.
func readLike(f string) bool {
	switch f {
	case "read", "get", "r", "txn", "dequeue", "poll", "view", "balance", "fetch", "scan":
		return true
	}
	return strings.HasPrefix(f, "read")
}

// nemesisEvent is one nemesis operation: its invocation and completion rows
// paired.
type nemesisEvent struct {
	f          string
	value      any
	start, end int64
}

// jepsenStats counts what the mapping did, for Imported.Mapping.
type jepsenStats struct {
	rows, nemesisRows, ok, fail, info, open, reinvoked int
	useTime                                            bool
	hasIndex                                           bool
}

// importJepsen pairs each :invoke with the next completion of the same
// process and turns the pairs into Ops; nemesis rows become fault Windows
// and the ops' fault_epoch is filled from them. prior holds the rows the
// reader already refused.
func importJepsen(rows []jepsenRow, prior []Rejection, format string) *Imported {
	imp := &Imported{Rejected: prior}
	st := jepsenStats{rows: len(rows), useTime: len(rows) > 0, hasIndex: len(rows) > 0}
	for i := range rows {
		if rows[i].time == nil {
			st.useTime = false
		}
		if rows[i].index == nil {
			st.hasIndex = false
		}
	}
	ts := func(i int) int64 {
		if st.useTime {
			return *rows[i].time
		}
		return int64(i)
	}

	var ops []Op
	var lines []int             // source line of each op's invoke
	var invokeValues []any      // the :value of each op's invoke
	pending := map[string]int{} // process → index into ops
	var events []nemesisEvent
	var nemesisOpen *nemesisEvent

	for i := range rows {
		row := &rows[i]
		if isNemesis(row.process) {
			st.nemesisRows++
			f := ednString(row.f)
			if nemesisOpen != nil && nemesisOpen.f == f && row.typ != "invoke" {
				nemesisOpen.end = ts(i)
				if row.value != nil {
					nemesisOpen.value = row.value
				}
				events = append(events, *nemesisOpen)
				nemesisOpen = nil
				continue
			}
			if nemesisOpen != nil {
				events = append(events, *nemesisOpen)
			}
			nemesisOpen = &nemesisEvent{f: f, value: row.value, start: ts(i), end: ts(i)}
			continue
		}
		proc := ednString(row.process)
		f := ednString(row.f)
		if row.typ == "invoke" {
			if _, ok := pending[proc]; ok {
				st.reinvoked++ // the earlier op never completed: it stays indeterminate
			}
			id := strconv.Itoa(row.pos)
			if row.index != nil {
				id = strconv.FormatInt(*row.index, 10)
			}
			t := ts(i)
			timeout := true
			op := Op{
				OpID:          id,
				ProcessID:     &proc,
				InvokeTS:      &t,
				OpType:        f,
				TimeoutMarker: &timeout,
			}
			if row.hasKey && row.key != nil {
				k := ednString(row.key)
				op.Key = &k
			}
			if row.value != nil {
				op.Input = ednJSON(row.value)
			}
			if row.node != nil {
				n := ednString(row.node)
				op.NodeSeen = &n
			}
			pending[proc] = len(ops)
			ops = append(ops, op)
			lines = append(lines, row.line)
			invokeValues = append(invokeValues, row.value)
			continue
		}
		j, ok := pending[proc]
		if !ok {
			imp.Rejected = append(imp.Rejected, Rejection{Index: row.line, Field: "type",
				Reason: fmt.Sprintf(":%s for process %s with no pending :invoke: every completion follows an :invoke of the same process", row.typ, proc)})
			continue
		}
		op := &ops[j]
		if op.OpType != f {
			imp.Rejected = append(imp.Rejected, Rejection{Index: row.line, OpID: op.OpID, Field: "op_type",
				Reason: fmt.Sprintf(":%s :f %s does not match the pending :invoke :f %s of process %s", row.typ, f, op.OpType, proc)})
			continue
		}
		delete(pending, proc)
		if row.node != nil {
			n := ednString(row.node)
			op.NodeSeen = &n
		}
		switch row.typ {
		case "ok":
			st.ok++
			t := ts(i)
			op.CompleteTS = &t
			done := false
			op.TimeoutMarker = &done
			if row.value != nil {
				out := ednJSON(row.value)
				if readLike(f) || !bytes.Equal(out, ednJSON(invokeValues[j])) {
					op.Output = out
				}
			}
		case "fail":
			st.fail++
			t := ts(i)
			op.CompleteTS = &t
			done := false
			op.TimeoutMarker = &done
			e := completionError(row, invokeValues[j])
			if e == "" {
				e = "fail"
			}
			op.Error = &e
		case "info":
			st.info++
			if e := completionError(row, invokeValues[j]); e != "" {
				op.Error = &e
			}
		}
	}
	if nemesisOpen != nil {
		events = append(events, *nemesisOpen)
	}
	st.open = len(pending)
	imp.Windows = nemesisWindows(events)

	accepted, rejected := validate(ops, nil, imp.Windows, true)
	for _, r := range rejected {
		r.Index = lines[r.Index]
		imp.Rejected = append(imp.Rejected, r)
	}
	sortRejections(imp.Rejected)
	imp.Ops = accepted
	imp.Mapping = jepsenMapping(format, st, len(accepted), imp.Windows)
	return imp
}

// completionError is the error a :fail or :info completion reports: its
// :error, else a keyword :value that replaced the invoke's (jepsen.log's
// ":info :write :timed-out"), else "".
func completionError(row *jepsenRow, invokeValue any) string {
	if row.hasErr && row.err != nil {
		return ednString(row.err)
	}
	if kw, ok := row.value.(ednKeyword); ok {
		if ikw, ok := invokeValue.(ednKeyword); !ok || ikw != kw {
			return string(kw)
		}
	}
	return ""
}

// Nemesis functions that end a fault, that inject nothing, and the stems of
// faults a "start" or "restart" ends (Jepsen's :kill / :start pairs).
var (
	nemesisHeals = map[string]bool{"stop": true, "heal": true, "recover": true, "resume": true,
		"unpause": true, "repair": true, "restore": true, "reset": true, "fix": true, "end": true,
		"clear": true, "cont": true, "continue": true}
	nemesisNeutral = map[string]bool{"check-offsets": true, "noop": true, "sleep": true,
		"log": true, "status": true, "wait": true}
	nemesisHealPrefixes = []string{"stop-", "heal-", "resume-", "end-", "restore-", "reset-",
		"repair-", "clear-", "unpause-", "recover-"}
	nemesisHealSuffixes = []string{"-stop", "-heal", "-end", "-resume", "-healed", "-stopped"}
	nemesisKills        = []string{"kill", "crash", "stop-node", "stop-process", "shutdown"}
)

// openWindow is a fault window whose end is not yet known.
type openWindow struct {
	f string
	i int // index into the windows slice
}

// nemesisWindows turns paired nemesis operations into fault windows: a
// fault-injecting operation opens a window (from its invocation), the
// healing operation that matches it closes it (at its completion). A heal
// names what it ends by its stem ("stop-partition" ends "start-partition",
// "resume" ends "pause", "start" after "kill" ends the kill); a bare heal
// (:stop, :heal, :recover…) ends every open window. Operations that are
// neither inject or heal nothing known and count as faults, so a fault is
// never lost; a window still open at the end of the history has End nil.
func nemesisWindows(events []nemesisEvent) []Window {
	var windows []Window
	var open []openWindow
	closeWhere := func(match func(f string) bool, end int64) bool {
		closed := false
		kept := open[:0]
		for _, o := range open {
			if match(o.f) {
				e := max(end, windows[o.i].Start) // :time may run backwards in a broken history
				windows[o.i].End = &e
				closed = true
				continue
			}
			kept = append(kept, o)
		}
		open = kept
		return closed
	}
	all := func(string) bool { return true }
	for _, e := range events {
		f := e.f
		if nemesisNeutral[f] {
			continue
		}
		if stem, heal := healStem(f); heal {
			switch {
			case stem == "pause":
				if !closeWhere(func(o string) bool { return strings.Contains(o, "pause") }, e.end) {
					closeWhere(all, e.end)
				}
			case stem != "":
				if !closeWhere(func(o string) bool { return strings.Contains(o, stem) }, e.end) {
					closeWhere(all, e.end)
				}
			default:
				closeWhere(all, e.end)
			}
			continue // a heal with nothing open is a precaution, not a fault
		}
		if f == "start" || f == "restart" || f == "start-node" || f == "start-process" {
			if closeWhere(func(o string) bool {
				for _, k := range nemesisKills {
					if strings.Contains(o, k) {
						return true
					}
				}
				return false
			}, e.end) {
				continue
			}
		}
		windows = append(windows, Window{
			ID:    "F" + strconv.Itoa(len(windows)+1),
			Kind:  nemesisKind(f, e.value),
			Start: e.start,
		})
		open = append(open, openWindow{f: f, i: len(windows) - 1})
	}
	return windows
}

// healStem reports whether f heals a fault and, when it names one, the
// stem of the fault it heals ("stop-partition" → "partition", "resume" →
// "pause", "stop" → "").
func healStem(f string) (stem string, heal bool) {
	if f == "resume" || f == "unpause" || f == "cont" || f == "continue" {
		return "pause", true
	}
	if nemesisHeals[f] {
		return "", true
	}
	for _, p := range nemesisHealPrefixes {
		if strings.HasPrefix(f, p) && len(f) > len(p) {
			return f[len(p):], true
		}
	}
	for _, s := range nemesisHealSuffixes {
		if strings.HasSuffix(f, s) && len(f) > len(s) {
			return f[:len(f)-len(s)], true
		}
	}
	return "", false
}

// nemesisKind describes a fault from its :f and the value the nemesis
// reported, shortened.
func nemesisKind(f string, value any) string {
	if value == nil {
		return f
	}
	var v string
	if s, ok := value.(string); ok {
		v = s
	} else {
		v = string(ednJSON(value))
	}
	const most = 120
	if len(v) > most {
		cut := most
		for cut > 0 && !utf8Start(v[cut]) {
			cut--
		}
		v = v[:cut] + "…"
	}
	return f + ": " + v
}

// utf8Start reports whether b begins a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// jepsenMapping describes the mapping for Imported.Mapping.
func jepsenMapping(format string, st jepsenStats, ops int, windows []Window) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rows (%d nemesis) → %d ops: %d :ok, %d :fail (error set), %d :info and %d never completed (indeterminate: complete_ts null, timeout_marker true, output null)",
		format, st.rows, st.nemesisRows, ops, st.ok, st.fail, st.info, st.open+st.reinvoked)
	b.WriteString("; each :invoke paired with the next completion of the same :process")
	if st.hasIndex {
		b.WriteString("; op_id = :index of the invoke")
	} else {
		b.WriteString("; op_id = position of the invoke row in the file (0-based)")
	}
	if st.useTime {
		b.WriteString("; invoke_ts/complete_ts = :time (ns)")
	} else {
		b.WriteString("; invoke_ts/complete_ts = row position in file order (no :time on every row; real-time order only)")
	}
	b.WriteString("; process_id = :process; op_type = :f; key = :key; node_seen = :node; input = the invoke's :value; output = the :ok :value for reads and txns, and wherever it differs from the invoke's; error = :error (else a keyword :value, else \"fail\" on :fail)")
	b.WriteString("; values as JSON (vectors/lists/sets → arrays, keywords → strings without the colon, nil → null)")
	if len(windows) == 0 {
		b.WriteString("; no nemesis fault windows")
	} else {
		fmt.Fprintf(&b, "; %d nemesis fault windows from paired :nemesis rows (", len(windows))
		for i, w := range windows {
			if i > 0 {
				b.WriteString(", ")
			}
			if i == 10 {
				fmt.Fprintf(&b, "… %d more", len(windows)-10)
				break
			}
			fmt.Fprintf(&b, "%s %s %s", w.ID, w.Kind, span(w.Start, w.End))
		}
		b.WriteString("), fault_epoch filled with the latest-starting window each op overlaps")
	}
	return b.String()
}

// readJepsenEDN reads a Jepsen history in EDN: one vector or list of op
// maps, or op maps one after another (one per line), with comments.
func readJepsenEDN(src []byte) (*Imported, error) {
	r := newEDNReader(src)
	var rows []jepsenRow
	var rejected []Rejection
	pos := 0
	add := func(v any, line int) {
		row, field, reason := jepsenRowFromEDN(v, pos, line)
		pos++
		if field != "" {
			rejected = append(rejected, Rejection{Index: line, Field: field, Reason: reason})
			return
		}
		rows = append(rows, row)
	}
	for {
		c := r.peek()
		if c == 0 {
			break
		}
		if c == '[' || c == '(' {
			closer := byte(']')
			if c == '(' {
				closer = ')'
			}
			r.pos++
			start := r.line
			for {
				c := r.peek()
				if c == 0 {
					return nil, fmt.Errorf("jepsen-edn: line %d: unclosed history (expected %q)", start, closer)
				}
				if c == closer {
					r.pos++
					break
				}
				line := r.line
				v, err := r.read(1)
				if err != nil {
					return nil, fmt.Errorf("jepsen-edn: %w", err)
				}
				if _, ok := v.(ednDiscard); ok {
					continue
				}
				add(v, line)
			}
			continue
		}
		line := r.line
		v, err := r.next()
		if errors.Is(err, errEDNEnd) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("jepsen-edn: %w", err)
		}
		add(v, line)
	}
	return importJepsen(rows, rejected, "jepsen-edn"), nil
}
