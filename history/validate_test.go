package history

import (
	"encoding/json"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// row builds a completed op with the given id and interval.
func row(id string, invoke, complete int64) Op {
	return Op{
		OpID:          id,
		ProcessID:     ptr("p1"),
		InvokeTS:      ptr(invoke),
		CompleteTS:    ptr(complete),
		OpType:        "write",
		Input:         json.RawMessage(`1`),
		TimeoutMarker: ptr(false),
	}
}

// timedOut builds an op with no response.
func timedOut(id string, invoke int64) Op {
	return Op{OpID: id, ProcessID: ptr("p2"), InvokeTS: ptr(invoke), OpType: "read"}
}

func TestValidate(t *testing.T) {
	ledger := []Window{
		{ID: "F1", Kind: "partition", Start: 100, End: ptr(int64(200))},
		{ID: "F2", Kind: "kill", Start: 150, End: ptr(int64(300))},
		{ID: "F3", Kind: "pause", Start: 1000}, // still open
	}
	tests := []struct {
		name      string
		seen      []string
		ops       []Op
		wantIDs   []string          // accepted, in order
		wantRej   map[int]string    // batch index → field
		reasonHas map[int]string    // batch index → substring of the reason
		wantEpoch map[string]string // op_id → fault_epoch after validation ("" = null)
	}{
		{
			name:    "clean batch accepted",
			ops:     []Op{row("a", 1, 2), row("b", 3, 4)},
			wantIDs: []string{"a", "b"},
		},
		{
			name:      "missing op_id",
			ops:       []Op{row("", 1, 2), row("b", 3, 4)},
			wantIDs:   []string{"b"},
			wantRej:   map[int]string{0: "op_id"},
			reasonHas: map[int]string{0: "missing op_id"},
		},
		{
			name:      "duplicate op_id within the batch",
			ops:       []Op{row("a", 1, 2), row("a", 3, 4)},
			wantIDs:   []string{"a"},
			wantRej:   map[int]string{1: "op_id"},
			reasonHas: map[int]string{1: "duplicate"},
		},
		{
			name:      "duplicate op_id against seen",
			seen:      []string{"a"},
			ops:       []Op{row("a", 1, 2), row("b", 3, 4)},
			wantIDs:   []string{"b"},
			wantRej:   map[int]string{0: "op_id"},
			reasonHas: map[int]string{0: "a retry is a separate op"},
		},
		{
			name: "output on a timed-out op (timeout_marker true)",
			ops: []Op{with(row("a", 1, 2), func(o *Op) {
				o.TimeoutMarker = ptr(true)
				o.Output = json.RawMessage(`5`)
			})},
			wantRej:   map[int]string{0: "output"},
			reasonHas: map[int]string{0: "timed-out"},
		},
		{
			name:      "output on a timed-out op (complete_ts null)",
			ops:       []Op{with(timedOut("a", 1), func(o *Op) { o.Output = json.RawMessage(`5`) })},
			wantRej:   map[int]string{0: "output"},
			reasonHas: map[int]string{0: "set output null"},
		},
		{
			name:    "timed-out op with output null is fine (its twin)",
			ops:     []Op{with(timedOut("a", 1), func(o *Op) { o.Output = json.RawMessage(`null`) })},
			wantIDs: []string{"a"},
		},
		{
			name: "error and output both set",
			ops: []Op{with(row("a", 1, 2), func(o *Op) {
				o.Error = ptr("not-found")
				o.Output = json.RawMessage(`{"v":1}`)
			})},
			wantRej:   map[int]string{0: "error"},
			reasonHas: map[int]string{0: "error and output both set"},
		},
		{
			name:      "complete_ts before invoke_ts",
			ops:       []Op{row("a", 10, 9)},
			wantRej:   map[int]string{0: "complete_ts"},
			reasonHas: map[int]string{0: "precedes invoke_ts"},
		},
		{
			name:    "complete_ts equal to invoke_ts is fine",
			ops:     []Op{row("a", 10, 10)},
			wantIDs: []string{"a"},
		},
		{
			name:      "fault_epoch not in the ledger",
			ops:       []Op{with(row("a", 110, 120), func(o *Op) { o.FaultEpoch = ptr("F9") })},
			wantRej:   map[int]string{0: "fault_epoch"},
			reasonHas: map[int]string{0: "not in the fault ledger (known: F1, F2, F3)"},
		},
		{
			name: "fault_epoch filled with the latest-starting overlapping window",
			ops: []Op{
				row("before", 10, 20),    // no window
				row("in-f1", 110, 120),   // F1 only
				row("both", 160, 170),    // F1 and F2: F2 starts later
				row("f2-end", 250, 300),  // F2, closed interval end
				row("edge", 90, 100),     // touches F1's start
				timedOut("open", 2000),   // F3, open window
				timedOut("runs-on", 250), // [250, +∞) meets F2 and F3; F3 starts latest
				row("gap", 400, 500),     // between F2 and F3
				row("at-end", 300, 350),  // starts the instant F2 ends
			},
			wantIDs: []string{"before", "in-f1", "both", "f2-end", "edge", "open", "runs-on", "gap", "at-end"},
			wantEpoch: map[string]string{"before": "", "in-f1": "F1", "both": "F2", "f2-end": "F2",
				"edge": "F1", "open": "F3", "runs-on": "F3", "gap": "", "at-end": "F2"},
		},
		{
			name: "caller's fault_epoch that agrees with the ledger is kept",
			ops:  []Op{with(row("a", 160, 170), func(o *Op) { o.FaultEpoch = ptr("F1") })},
			// F2 would be filled, but F1 also overlaps: the caller's value stands.
			wantIDs:   []string{"a"},
			wantEpoch: map[string]string{"a": "F1"},
		},
		{
			name:      "caller's fault_epoch contradicting the ledger",
			ops:       []Op{with(row("a", 400, 500), func(o *Op) { o.FaultEpoch = ptr("F1") })},
			wantRej:   map[int]string{0: "fault_epoch"},
			reasonHas: map[int]string{0: "contradicts the ledger: F1 spans [100, 200] but the op spans [400, 500]"},
		},
		{
			name: "batch partially kept",
			seen: []string{"old"},
			ops: []Op{
				row("a", 1, 2),
				row("old", 3, 4),
				with(timedOut("b", 5), func(o *Op) { o.Output = json.RawMessage(`"x"`) }),
				row("c", 7, 6),
				row("d", 8, 9),
				with(row("e", 10, 11), func(o *Op) { o.FaultEpoch = ptr("F7") }),
				timedOut("f", 12),
			},
			wantIDs: []string{"a", "d", "f"},
			wantRej: map[int]string{1: "op_id", 2: "output", 3: "complete_ts", 5: "fault_epoch"},
		},
		{
			name:      "a rejected row does not claim its op_id",
			ops:       []Op{row("a", 5, 4), row("a", 5, 6)},
			wantIDs:   []string{"a"},
			wantRej:   map[int]string{0: "complete_ts"},
			reasonHas: map[int]string{0: "precedes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, id := range tt.seen {
				seen[id] = true
			}
			accepted, rejected := Validate(tt.ops, seen, ledger)
			var ids []string
			for _, op := range accepted {
				ids = append(ids, op.OpID)
				if !seen[op.OpID] {
					t.Errorf("accepted op %q not added to seen", op.OpID)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("accepted %v, want %v", ids, tt.wantIDs)
			}
			if len(rejected) != len(tt.wantRej) {
				t.Errorf("rejected %v, want fields %v", rejected, tt.wantRej)
			}
			for _, r := range rejected {
				field, ok := tt.wantRej[r.Index]
				if !ok || field != r.Field {
					t.Errorf("unexpected rejection %v (want %v)", r, tt.wantRej)
				}
				if r.OpID != tt.ops[r.Index].OpID {
					t.Errorf("rejection %v names op %q, want %q", r, r.OpID, tt.ops[r.Index].OpID)
				}
				if want := tt.reasonHas[r.Index]; !strings.Contains(r.Reason, want) {
					t.Errorf("reason %q lacks %q", r.Reason, want)
				}
			}
			for _, op := range accepted {
				want, ok := tt.wantEpoch[op.OpID]
				if !ok {
					continue
				}
				got := ""
				if op.FaultEpoch != nil {
					got = *op.FaultEpoch
				}
				if got != want {
					t.Errorf("op %q fault_epoch %q, want %q", op.OpID, got, want)
				}
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	in := []Op{
		timedOut("t", 1), // timeout_marker null → true
		with(timedOut("f", 1), func(o *Op) { o.TimeoutMarker = ptr(false) }),
		with(row("n", 1, 2), func(o *Op) { o.Input = json.RawMessage(`null`); o.Output = json.RawMessage(` null `) }),
	}
	accepted, rejected := Validate(in, nil, nil)
	if len(rejected) != 0 || len(accepted) != 3 {
		t.Fatalf("accepted %d, rejected %v", len(accepted), rejected)
	}
	if tm := accepted[0].TimeoutMarker; tm == nil || !*tm {
		t.Errorf("complete_ts null and timeout_marker null: timeout_marker = %v, want true", tm)
	}
	if in[0].TimeoutMarker != nil {
		t.Errorf("Validate changed its input's timeout_marker")
	}
	if tm := accepted[1].TimeoutMarker; tm == nil || *tm {
		t.Errorf("an explicit timeout_marker false was rewritten to %v", tm)
	}
	if !accepted[1].Indeterminate() {
		t.Errorf("an op without complete_ts must stay indeterminate")
	}
	if accepted[2].Input != nil || accepted[2].Output != nil {
		t.Errorf("JSON null input/output not normalised to nil: %q %q", accepted[2].Input, accepted[2].Output)
	}
}

// with returns op changed by f.
func with(op Op, f func(*Op)) Op { f(&op); return op }

func TestValidateNoLedgerNoEpoch(t *testing.T) {
	// A fault_epoch with an empty ledger is unknown; a null one stays null.
	accepted, rejected := Validate([]Op{row("a", 1, 2), with(row("b", 1, 2), func(o *Op) { o.FaultEpoch = ptr("F1") })}, nil, nil)
	if len(accepted) != 1 || accepted[0].FaultEpoch != nil {
		t.Errorf("accepted %+v", accepted)
	}
	if len(rejected) != 1 || rejected[0].Field != "fault_epoch" || !strings.Contains(rejected[0].Reason, "ledger is empty") {
		t.Errorf("rejected %v", rejected)
	}
}
