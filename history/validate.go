package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Window is one fault epoch from the fault ledger: the fault with id ID
// (F1, F2…) of kind Kind was in effect from Start to End (ns, on the same
// clock as the ops' timestamps). A nil End means the window is still open.
type Window struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Start int64  `json:"start"`
	End   *int64 `json:"end"`
}

// Rejection says why a row was refused. Index is the row's position: its
// index in the batch for Validate, its 1-based line in the source for
// Import. Field names the offending field and Reason says what is wrong and
// how to fix it.
type Rejection struct {
	Index  int    `json:"index"`
	OpID   string `json:"op_id"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// String renders the rejection for a human.
func (r Rejection) String() string {
	id := r.OpID
	if id == "" {
		id = "(no op_id)"
	}
	return fmt.Sprintf("row %d op %s: %s: %s", r.Index, id, r.Field, r.Reason)
}

// Validate checks a batch of history rows against the rules of SPEC
// §3.1–3.2 and returns the rows it accepts, normalised, and one Rejection
// per refused row; a bad row never spoils the rest of the batch.
//
// A row is refused when its op_id is missing or already used (in seen or
// earlier in the batch), when it carries an output although it timed out
// (timeout_marker true or complete_ts null), when it carries both an error
// and an output, when complete_ts precedes invoke_ts, or when its
// fault_epoch is not in the ledger or names a window the op does not
// overlap. Accepted rows get timeout_marker true when complete_ts is null
// and timeout_marker was null, and a null fault_epoch is filled with the
// latest-starting ledger window that overlaps the op's
// [invoke_ts, complete_ts or +∞]. Validate adds the op_id of every accepted
// row to seen (when seen is not nil).
func Validate(ops []Op, seen map[string]bool, ledger []Window) (accepted []Op, rejected []Rejection) {
	return validate(ops, seen, ledger, true)
}

// validate is Validate with the ledger checks optional: importers of
// formats that carry no fault windows check structure only and leave
// fault_epoch to the caller's ledger.
func validate(ops []Op, seen map[string]bool, ledger []Window, checkEpochs bool) ([]Op, []Rejection) {
	if seen == nil {
		seen = make(map[string]bool)
	}
	byID := make(map[string]*Window, len(ledger))
	for i := range ledger {
		byID[ledger[i].ID] = &ledger[i]
	}
	accepted := make([]Op, 0, len(ops))
	var rejected []Rejection
	for i := range ops {
		op := ops[i]
		normalize(&op)
		field, reason := check(&op, seen)
		if field == "" && checkEpochs {
			field, reason = checkEpoch(&op, ledger, byID)
		}
		if field != "" {
			rejected = append(rejected, Rejection{Index: i, OpID: op.OpID, Field: field, Reason: reason})
			continue
		}
		seen[op.OpID] = true
		accepted = append(accepted, op)
	}
	return accepted, rejected
}

// normalize rewrites equivalent spellings to one form: JSON null in Input
// or Output becomes nil, and a row with no response (complete_ts null) and
// no timeout_marker gets timeout_marker true.
func normalize(op *Op) {
	if isNull(op.Input) {
		op.Input = nil
	}
	if isNull(op.Output) {
		op.Output = nil
	}
	if op.CompleteTS == nil && op.TimeoutMarker == nil {
		t := true
		op.TimeoutMarker = &t
	}
}

// isNull reports whether raw is absent or the JSON literal null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// check applies the rules that need no ledger and returns the offending
// field and the reason, or "" when the row is sound.
func check(op *Op, seen map[string]bool) (field, reason string) {
	switch {
	case strings.TrimSpace(op.OpID) == "":
		return "op_id", "missing op_id: give every row an op_id unique within the run"
	case seen[op.OpID]:
		return "op_id", fmt.Sprintf("duplicate op_id %q: it is already in the history (a recorder bug); a retry is a separate op with its own op_id", op.OpID)
	case op.Indeterminate() && op.Output != nil:
		return "output", "output on a timed-out op (timeout_marker true or complete_ts null, a recorder bug): set output null, or record complete_ts and timeout_marker false if a response arrived"
	case op.Error != nil && op.Output != nil:
		return "error", "error and output both set: an error response carries no output; keep the error and set output null, or drop the error if the op succeeded"
	case op.InvokeTS != nil && op.CompleteTS != nil && *op.CompleteTS < *op.InvokeTS:
		return "complete_ts", fmt.Sprintf("complete_ts %d precedes invoke_ts %d: record both from the same monotonic clock", *op.CompleteTS, *op.InvokeTS)
	}
	return "", ""
}

// checkEpoch checks a caller's fault_epoch against the ledger, or fills a
// null one from it.
func checkEpoch(op *Op, ledger []Window, byID map[string]*Window) (field, reason string) {
	if op.FaultEpoch != nil {
		w, ok := byID[*op.FaultEpoch]
		if !ok {
			return "fault_epoch", fmt.Sprintf("fault_epoch %q is not in the fault ledger (known: %s): use an epoch id returned by inject_fault, or null", *op.FaultEpoch, knownEpochs(ledger))
		}
		if op.InvokeTS != nil && !overlaps(op, w) {
			return "fault_epoch", fmt.Sprintf("fault_epoch %q contradicts the ledger: %s spans %s but the op spans %s; set fault_epoch null to let falsify fill it, or to the window the op overlaps", w.ID, w.ID, span(w.Start, w.End), span(*op.InvokeTS, op.CompleteTS))
		}
		return "", ""
	}
	if op.InvokeTS == nil {
		return "", ""
	}
	var best *Window
	for i := range ledger {
		w := &ledger[i]
		if overlaps(op, w) && (best == nil || w.Start >= best.Start) {
			best = w
		}
	}
	if best != nil {
		id := best.ID
		op.FaultEpoch = &id
	}
	return "", ""
}

// overlaps reports whether the op's [invoke_ts, complete_ts or +∞] meets
// the window's [Start, End or +∞]. The op must have an invoke_ts.
func overlaps(op *Op, w *Window) bool {
	if w.End != nil && *op.InvokeTS > *w.End {
		return false
	}
	if op.CompleteTS != nil && *op.CompleteTS < w.Start {
		return false
	}
	return true
}

// span renders a closed interval whose end may be open.
func span(start int64, end *int64) string {
	if end == nil {
		return fmt.Sprintf("[%d, open)", start)
	}
	return fmt.Sprintf("[%d, %d]", start, *end)
}

// knownEpochs lists the ledger's ids for a rejection message.
func knownEpochs(ledger []Window) string {
	if len(ledger) == 0 {
		return "none; the ledger is empty"
	}
	const most = 20
	ids := make([]string, 0, most+1)
	for i, w := range ledger {
		if i == most {
			ids = append(ids, fmt.Sprintf("… %d more", len(ledger)-most))
			break
		}
		ids = append(ids, w.ID)
	}
	return strings.Join(ids, ", ")
}
