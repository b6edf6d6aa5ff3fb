package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Porcupine's operation form is porcupine.Operation as JSON:
//
//	{"ClientId": 0, "Input": …, "Call": 10, "Output": …, "Return": 20, "Metadata": …}
//
// or the same with snake_case or camelCase keys (client_id, clientId…),
// either as one JSON array or one object per line. Porcupine has no
// timeout: an op whose Return is null, absent or math.MaxInt64 is read as
// indeterminate.

// porcupineFields maps a key, lowercased with underscores removed, to the
// field it carries.
var porcupineFields = map[string]string{
	"clientid": "ClientId", "input": "Input", "call": "Call", "output": "Output",
	"return": "Return", "metadata": "Metadata", "id": "Id", "opid": "Id",
}

// porcupineMeta is the Metadata WritePorcupine attaches so that the ops'
// own fields survive a round trip.
type porcupineMeta struct {
	OpID       string  `json:"op_id,omitempty"`
	OpType     string  `json:"op_type,omitempty"`
	Key        *string `json:"key,omitempty"`
	ProcessID  *string `json:"process_id,omitempty"`
	Error      *string `json:"error,omitempty"`
	NodeSeen   *string `json:"node_seen,omitempty"`
	FaultEpoch *string `json:"fault_epoch,omitempty"`
}

// porcupineStats counts what the mapping did, for Imported.Mapping.
type porcupineStats struct {
	rows, pending, droppedOutputs int
}

// readPorcupine reads Porcupine operations from a JSON array or JSON Lines.
func readPorcupine(r io.Reader) (*Imported, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("porcupine: %w", err)
	}
	var ops []Op
	var lines []int
	var rejected []Rejection
	var st porcupineStats
	add := func(raw []byte, line int) {
		op, field, reason := porcupineOp(raw, st.rows, &st)
		st.rows++
		if field != "" {
			rejected = append(rejected, Rejection{Index: line, OpID: op.OpID, Field: field, Reason: reason})
			return
		}
		ops = append(ops, op)
		lines = append(lines, line)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("porcupine: %w", err)
		}
		lc := lineCounter{data: data, line: 1}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("porcupine: line %d: %w", lc.at(int(dec.InputOffset())), err)
			}
			start := int(dec.InputOffset()) - len(raw)
			add(raw, lc.at(start))
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("porcupine: line %d: %w", lc.at(int(dec.InputOffset())), err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("porcupine: line %d: data after the array", lc.at(int(dec.InputOffset())))
		}
	} else {
		for i, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			add(line, i+1)
		}
	}
	accepted, rej := validate(ops, nil, nil, false)
	for _, r := range rej {
		r.Index = lines[r.Index]
		rejected = append(rejected, r)
	}
	sortRejections(rejected)
	return &Imported{
		Ops:      accepted,
		Rejected: rejected,
		Mapping: fmt.Sprintf("porcupine: %d operations → %d ops; process_id = ClientId; invoke_ts = Call; complete_ts = Return "+
			"(%d with Return null/absent/MaxInt64 read as indeterminate: complete_ts null, timeout_marker true, %d outputs dropped); "+
			"input = Input and output = Output as given; op_type = Metadata.op_type, else the \"op\" field of an object Input, else \"call\"; "+
			"key = Metadata.key, else the \"key\" field of an object Input; op_id = Id, else Metadata.op_id, else the position (0-based)",
			st.rows, len(accepted), st.pending, st.droppedOutputs),
	}, nil
}

// lineCounter maps increasing byte offsets to 1-based line numbers.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (c *lineCounter) at(off int) int {
	if off > len(c.data) {
		off = len(c.data)
	}
	if off > c.off {
		c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
		c.off = off
	}
	return c.line
}

// porcupineOp maps one operation object; field and reason say why it was
// refused.
func porcupineOp(raw []byte, pos int, st *porcupineStats) (op Op, field, reason string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return op, "row", fmt.Sprintf("not a porcupine.Operation object: %s", jsonProblem(err))
	}
	f := map[string]json.RawMessage{}
	for k, v := range obj {
		name, ok := porcupineFields[strings.ReplaceAll(strings.ToLower(k), "_", "")]
		if !ok {
			return op, "row", fmt.Sprintf("unknown field %q: a porcupine.Operation has ClientId, Input, Call, Output, Return and Metadata", k)
		}
		f[name] = v
	}
	var meta porcupineMeta
	if m, ok := f["Metadata"]; ok && !isNull(m) {
		// Metadata is free-form; only the shape WritePorcupine writes is used.
		if json.Unmarshal(m, &meta) != nil {
			meta = porcupineMeta{}
		}
	}
	op.OpID = strconv.Itoa(pos)
	if meta.OpID != "" {
		op.OpID = meta.OpID
	}
	if id, ok := f["Id"]; ok && !isNull(id) {
		op.OpID = scalarText(id)
	}
	if c, ok := f["ClientId"]; ok && !isNull(c) {
		p := scalarText(c)
		op.ProcessID = &p
	}
	if meta.ProcessID != nil {
		op.ProcessID = meta.ProcessID
	}
	call, ok := f["Call"]
	if !ok || isNull(call) {
		return op, "invoke_ts", "no Call: every operation has an invocation timestamp"
	}
	var t int64
	if err := json.Unmarshal(call, &t); err != nil {
		return op, "invoke_ts", fmt.Sprintf("Call %s is not an integer timestamp", truncate(string(call)))
	}
	op.InvokeTS = &t
	timedOut := false
	if ret, ok := f["Return"]; ok && !isNull(ret) {
		var rt int64
		if err := json.Unmarshal(ret, &rt); err != nil {
			return op, "complete_ts", fmt.Sprintf("Return %s is not an integer timestamp", truncate(string(ret)))
		}
		if rt != math.MaxInt64 {
			op.CompleteTS = &rt
		}
	}
	if op.CompleteTS == nil {
		timedOut = true
		st.pending++
	}
	op.TimeoutMarker = &timedOut
	if in, ok := f["Input"]; ok && !isNull(in) {
		op.Input = compactJSON(in)
	}
	if out, ok := f["Output"]; ok && !isNull(out) {
		if op.CompleteTS == nil {
			st.droppedOutputs++
		} else {
			op.Output = compactJSON(out)
		}
	}
	op.OpType = "call"
	if meta.OpType != "" {
		op.OpType = meta.OpType
	} else if v, ok := objectField(op.Input, "op", "Op", "OP"); ok {
		op.OpType = scalarText(v)
	}
	if meta.Key != nil {
		op.Key = meta.Key
	} else if v, ok := objectField(op.Input, "key", "Key"); ok && !isNull(v) {
		k := scalarText(v)
		op.Key = &k
	}
	op.Error, op.NodeSeen, op.FaultEpoch = meta.Error, meta.NodeSeen, meta.FaultEpoch
	return op, "", ""
}

// objectField returns the value under the first of names present in a JSON
// object, or false when raw is not an object holding any of them.
func objectField(raw json.RawMessage, names ...string) (json.RawMessage, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	for _, n := range names {
		if v, ok := obj[n]; ok {
			return v, true
		}
	}
	return nil, false
}

// scalarText renders a JSON string unquoted and any other value as its
// compact JSON text.
func scalarText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(compactJSON(raw))
}

// compactJSON returns raw without insignificant whitespace.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// jsonProblem renders a decoding error, or says the value was not an
// object.
func jsonProblem(err error) string {
	if err == nil {
		return "the row is null"
	}
	return err.Error()
}

// truncate shortens s for a message.
func truncate(s string) string {
	const most = 60
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

// porcupineOperation is porcupine.Operation as WritePorcupine writes it.
type porcupineOperation struct {
	ClientID int             `json:"ClientId"`
	Input    json.RawMessage `json:"Input"`
	Call     int64           `json:"Call"`
	Output   json.RawMessage `json:"Output"`
	Return   int64           `json:"Return"`
	Metadata *porcupineMeta  `json:"Metadata,omitempty"`
}

// WritePorcupine writes ops as a JSON array of porcupine.Operation, one
// per line, for Porcupine and its visualizer. ClientId is the numeric
// process_id (other process ids get fresh numbers, kept in Metadata);
// indeterminate ops get Return math.MaxInt64 and Output null; failed ops
// (:fail, no effect) are left out, as Porcupine has no notion of them. The
// op's op_id, op_type, key, node_seen and fault_epoch travel in Metadata,
// so Import(…, "porcupine") restores them. An op without invoke_ts is an
// error.
func WritePorcupine(w io.Writer, ops []Op) error {
	next := 0
	for i := range ops {
		if ops[i].ProcessID != nil {
			if n, err := strconv.Atoi(*ops[i].ProcessID); err == nil && n >= next {
				next = n + 1
			}
		}
	}
	named := map[string]int{}
	var b bytes.Buffer
	b.WriteString("[")
	first := true
	for i := range ops {
		op := &ops[i]
		if op.Failed() {
			continue
		}
		if op.InvokeTS == nil {
			return fmt.Errorf("porcupine: op %q has no invoke_ts", op.OpID)
		}
		meta := &porcupineMeta{OpID: op.OpID, OpType: op.OpType, Key: op.Key, Error: op.Error,
			NodeSeen: op.NodeSeen, FaultEpoch: op.FaultEpoch}
		po := porcupineOperation{Input: op.Input, Call: *op.InvokeTS, Return: math.MaxInt64, Metadata: meta}
		switch {
		case op.ProcessID == nil:
			po.ClientID = next
			next++
		default:
			if n, err := strconv.Atoi(*op.ProcessID); err == nil && n >= 0 && strconv.Itoa(n) == *op.ProcessID {
				po.ClientID = n
				break
			}
			n, ok := named[*op.ProcessID]
			if !ok {
				n = next
				next++
				named[*op.ProcessID] = n
			}
			po.ClientID = n
			meta.ProcessID = op.ProcessID
		}
		if !op.Indeterminate() {
			po.Return = *op.CompleteTS
			po.Output = op.Output
		}
		line, err := json.Marshal(po)
		if err != nil {
			return fmt.Errorf("porcupine: op %q: %w", op.OpID, err)
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString("\n")
		b.Write(line)
		if b.Len() > 1<<20 {
			if _, err := w.Write(b.Bytes()); err != nil {
				return fmt.Errorf("porcupine: %w", err)
			}
			b.Reset()
		}
	}
	b.WriteString("\n]\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("porcupine: %w", err)
	}
	return nil
}
