// Package history holds the operation history of a run (SPEC §3): the Op
// row every recorder and importer produces, its validation rules and the
// importers for Jepsen EDN, jepsen.log lines, Porcupine's operation form and
// native JSON Lines.
package history

import "encoding/json"

// Op is one history row (SPEC §3.1). Every field is always present in
// JSON; unused ones are null. A nil pointer means null.
type Op struct {
	OpID       string  `json:"op_id"`
	ProcessID  *string `json:"process_id"`
	InvokeTS   *int64  `json:"invoke_ts"`   // ns, monotonic source
	CompleteTS *int64  `json:"complete_ts"` // ns; null for a timeout
	OpType     string  `json:"op_type"`
	Key        *string `json:"key"`
	// Input and Output are arbitrary JSON values; nil is null.
	Input         json.RawMessage `json:"input"`
	Output        json.RawMessage `json:"output"`
	Error         *string         `json:"error"`
	TimeoutMarker *bool           `json:"timeout_marker"`
	NodeSeen      *string         `json:"node_seen"`
	FaultEpoch    *string         `json:"fault_epoch"`
}

// Indeterminate reports whether the op's outcome is unknown (a timeout or
// an unknown commit, SPEC §3.2): it may or may not have taken effect.
func (o *Op) Indeterminate() bool {
	return (o.TimeoutMarker != nil && *o.TimeoutMarker) || o.CompleteTS == nil
}

// Failed reports whether the op definitely did not take effect: it
// completed with an error and no timeout marker (Jepsen's :fail).
func (o *Op) Failed() bool {
	return !o.Indeterminate() && o.Error != nil
}

// OK reports whether the op completed successfully (Jepsen's :ok).
func (o *Op) OK() bool {
	return !o.Indeterminate() && o.Error == nil
}
