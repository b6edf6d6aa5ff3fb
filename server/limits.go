package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/falsify-dev/falsify/tools"
)

// DefaultMaxBody is the default limit on the size of one HTTP request
// body: one JSON-RPC message.
const DefaultMaxBody int64 = 16 << 20

// limitBody reads a POST body up to the limit and hands it on buffered. A
// body over the limit is answered 413 and a JSON-RPC batch 400, each with
// a JSON-RPC error naming the limit and the fix; it reports whether the
// request may proceed.
func (g *guard) limitBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost || r.Body == nil {
		return true
	}
	if r.ContentLength > g.maxBody {
		writeRPCError(w, http.StatusRequestEntityTooLarge, mcp.INVALID_REQUEST, tooLarge(r.ContentLength, g.maxBody))
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRPCError(w, http.StatusRequestEntityTooLarge, mcp.INVALID_REQUEST, tooLarge(-1, g.maxBody))
			return false
		}
		writeRPCError(w, http.StatusBadRequest, mcp.PARSE_ERROR, fmt.Sprintf("reading the request body: %v", err))
		return false
	}
	if first := bytes.TrimLeft(body, " \t\r\n"); len(first) > 0 && first[0] == '[' {
		writeRPCError(w, http.StatusBadRequest, mcp.INVALID_REQUEST, fmt.Sprintf(
			"JSON-RPC batches are not accepted (MCP removed batching in protocol 2025-06-18): send one JSON-RPC message per request. To record many operations, pass them in one record_op call (up to %d ops per call).", tools.MaxRecordOps))
		return false
	}
	if modernCancel(r, body) {
		// In protocol 2026-07-28 each request travels on its own HTTP
		// stream and closing that stream is the cancellation; a
		// notifications/cancelled sent besides it carries nothing, and
		// some clients (go-sdk v1.8.0) send it without the _meta that
		// mcp-go insists on, then drop their session on the 400.
		w.WriteHeader(http.StatusAccepted)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

// modernCancel reports whether body is a notifications/cancelled sent
// under protocol 2026-07-28 or later.
func modernCancel(r *http.Request, body []byte) bool {
	v := r.Header.Get(mcp.HeaderProtocolVersion)
	if v == "" || v < mcp.ProtocolVersion20260728 {
		return false
	}
	var msg struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	return json.Unmarshal(body, &msg) == nil && msg.Method == "notifications/cancelled" && len(msg.ID) == 0
}

func tooLarge(size, limit int64) string {
	what := "the request body is over"
	if size >= 0 {
		what = "the request body is " + strconv.FormatInt(size, 10) + " bytes, over"
	}
	return fmt.Sprintf("%s the %s limit of one request (--max-body): split the batch, e.g. send fewer ops per record_op call (or import_history a file), or restart falsify with a larger --max-body", what, byteSize(limit))
}

// byteSize formats n bytes for a message: "16 MiB", "1500 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// writeRPCError answers with a JSON-RPC error response (id null) and an
// HTTP status.
func writeRPCError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(mcp.NewJSONRPCError(mcp.NewRequestId(nil), code, message, nil))
}
