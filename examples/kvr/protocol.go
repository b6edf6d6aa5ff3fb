// Package kvr is falsify's demo system under test: a small replicated
// key-value store over TCP on loopback, one primary and two backups, with
// real replication messages and bug modes chosen by a flag.
//
// # Protocol
//
// Every connection carries line-delimited JSON. A client sends a [Request]
// ({"op":"read"|"write"|"cas","key":"k","value":…,"expected":…,"id":"…"})
// and gets one [Reply] per request, naming the node that answered. A
// line that is not a request gets a "bad-request" reply; the connection
// stays open (so an active probe through a proxy gets an answer).
//
// A backup replicates over a connection it opens to the primary's address
// (the address in its peer list, which may be a proxy): it sends
// {"join":"n2","term":t}; the primary answers with a snapshot of its
// state, then pushes every log entry, in sequence order, and a heartbeat
// every quarter of the heartbeat timeout; the backup acknowledges each
// entry with {"ack":index}. Because every replication connection to a
// node goes through that node's address, a proxy in front of a node cuts
// it off from clients and from the other nodes alike.
//
// # Replication and failover
//
// Nodes are ordered (n1, n2, n3): the primary of term t is the t-th node,
// cyclically, and its successor the next one. A backup that hears nothing
// from its primary for longer than the heartbeat timeout either promotes
// itself to the next term, when it is that primary's successor, or looks
// for a primary among the other nodes (the successor first) and follows
// the first one whose term is not lower than its own. A primary drops a
// backup that has not acknowledged for the heartbeat timeout and steps
// down when that backup is its successor; it then looks for the new
// primary like any backup, and rejoins it. A primary never commits
// without its successor's acknowledgement, so the successor holds every
// committed write when it takes over, and an isolated old primary cannot
// commit anything. A former primary that finds no primary for two
// heartbeat timeouts takes its own term again (its successor will only
// follow it if it has not moved on). The failure of the successor itself
// is not tolerated: the cluster then stays unavailable (never
// inconsistent) until it returns.
//
// # Modes
//
//   - [ModeNone] (correct): every operation, reads included, goes through
//     the replicated log; the primary answers only once every backup it
//     has (and always the successor) has applied the entry. Backups forward reads
//     to the primary. A write whose outcome the primary cannot know (it
//     stepped down while the entry was in flight) is answered "unknown".
//   - [ModeStaleRead]: backups acknowledge an entry on receipt but apply it
//     only after ApplyDelay, and answer reads from their local state: a
//     read at a backup can miss a write that was already acknowledged.
//   - [ModeLostAck]: the primary applies and acknowledges a write at once
//     and replicates it only after ReplicationDelay: when the primary
//     crashes or is partitioned away, its successor takes over without the
//     writes acknowledged in the last ReplicationDelay.
package kvr

import (
	"bytes"
	"encoding/json"
)

// Op types a client may send.
const (
	OpRead  = "read"
	OpWrite = "write"
	OpCAS   = "cas"
	// OpStatus asks a node for its [Status] (in Reply.Value); it is not a
	// data operation and never appears in a history.
	OpStatus = "status"
)

// Error codes a [Reply] may carry.
const (
	// ErrNotPrimary: the node cannot serve the request (it is not the
	// primary, or has none to forward to); the request had no effect.
	ErrNotPrimary = "not-primary"
	// ErrUnknown: the request may or may not have taken effect.
	ErrUnknown = "unknown"
	// ErrBadRequest: the line was not a valid request; it had no effect.
	ErrBadRequest = "bad-request"
	// ErrUnavailable: a backup could not reach the primary to forward a
	// read; the read had no effect.
	ErrUnavailable = "unavailable"
)

// Request is one client request.
type Request struct {
	Op       string          `json:"op"`
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value,omitempty"`    // write, cas: the new value
	Expected json.RawMessage `json:"expected,omitempty"` // cas: the value compared
	ID       string          `json:"id,omitempty"`       // echoed in the reply
}

// Reply answers one [Request].
type Reply struct {
	ID string `json:"id,omitempty"`
	// Node is the node that answered.
	Node string `json:"node"`
	// OK is the operation's outcome: true for a read or write that was
	// performed and for a cas that swapped; false for a cas whose
	// comparison failed and for any error.
	OK bool `json:"ok"`
	// Value is the value read (null when the key was never written).
	Value json.RawMessage `json:"value,omitempty"`
	// Error is one of the Err codes, empty on success.
	Error string `json:"error,omitempty"`
	// Primary names the node this node believes is primary, on a
	// not-primary refusal.
	Primary string `json:"primary,omitempty"`
}

// message is any line a node may receive: a client request, a join, an
// acknowledgement (backup → primary), or a replication message (primary
// → backup).
type message struct {
	Request
	Join string `json:"join,omitempty"`
	Term int    `json:"term,omitempty"`
	Ack  *int64 `json:"ack,omitempty"`

	Type  string                     `json:"type,omitempty"` // snapshot, entry, hb, refuse
	Index int64                      `json:"index,omitempty"`
	State map[string]json.RawMessage `json:"state,omitempty"`
	Node  string                     `json:"node,omitempty"`
}

// Replication message types.
const (
	msgSnapshot  = "snapshot"
	msgEntry     = "entry"
	msgHeartbeat = "hb"
	msgRefuse    = "refuse"
)

// entry is one log entry: a client operation at a sequence index.
type entry struct {
	Index    int64
	Op       string
	Key      string
	Value    json.RawMessage
	Expected json.RawMessage
}

func (e entry) message(term int) message {
	return message{
		Request: Request{Op: e.Op, Key: e.Key, Value: e.Value, Expected: e.Expected},
		Term:    term, Type: msgEntry, Index: e.Index,
	}
}

// apply performs e on state and returns what the client is told: the
// value read, and whether the op succeeded (false only for a cas whose
// comparison failed).
func apply(state map[string]json.RawMessage, e entry) (json.RawMessage, bool) {
	switch e.Op {
	case OpRead:
		return orNull(state[e.Key]), true
	case OpWrite:
		state[e.Key] = e.Value
		return nil, true
	case OpCAS:
		cur := orNull(state[e.Key])
		if !sameJSON(cur, orNull(e.Expected)) {
			return nil, false
		}
		state[e.Key] = e.Value
		return nil, true
	}
	return nil, false
}

var null = json.RawMessage("null")

func orNull(v json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(v)) == 0 {
		return null
	}
	return v
}

// sameJSON reports whether two JSON values are equal, ignoring layout.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// validRequest reports whether r names a known op with what it needs.
func validRequest(r Request) bool {
	switch r.Op {
	case OpRead, OpStatus:
		return true
	case OpWrite, OpCAS:
		return len(r.Value) > 0 && json.Valid(r.Value) && (len(r.Expected) == 0 || json.Valid(r.Expected))
	}
	return false
}
