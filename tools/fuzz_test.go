package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/falsify-dev/falsify/server"
	"github.com/falsify-dev/falsify/session"
	"github.com/falsify-dev/falsify/tools"
)

// recordOpSeeds are "ops" arguments for record_op: sound rows, rows with
// each kind of mistake, and JSON that is not rows at all.
var recordOpSeeds = []string{
	`[{"op_id":"a1","op_type":"write","key":"k","input":1,"invoke_ts":1,"complete_ts":2}]`,
	`[{"op_id":"a2","op_type":"read","key":"k","output":1,"invoke_ts":3,"complete_ts":4,"process_id":"p1","node_seen":"n1"}]`,
	`[{"op_id":"a3","op_type":"write","input":{"nested":[1,{"x":null}]},"invoke_ts":5,"timeout_marker":true}]`,
	`[{"op_id":"a4","op_type":"read","output":1,"timeout_marker":true,"invoke_ts":6}]`,
	`[{"op_id":"a5","op_type":"write","error":"conflict","output":1,"invoke_ts":7,"complete_ts":8}]`,
	`[{"op_id":"a6","op_type":"write","invoke_ts":9,"complete_ts":1}]`,
	`[{"op_id":"a7","op_type":"write","fault_epoch":"F99","invoke_ts":10,"complete_ts":11}]`,
	`[{"op_id":"a1","op_type":"write","invoke_ts":1,"complete_ts":2},{"op_id":"a1","op_type":"write"}]`,
	`[{"op_id":"","op_type":""}]`,
	`[{"op_id":null,"op_type":null,"key":null,"input":null,"output":null,"error":null,"timeout_marker":null}]`,
	`[{"op_id":"b1","op_type":"cas","input":[1,2],"invoke_ts":-9223372036854775808,"complete_ts":9223372036854775807}]`,
	`[{"op_id":"b2","op_type":"read","invoke_ts":1e30}]`,
	`[{"op_id":"b3","op_type":"read","invoke_ts":"12"}]`,
	`[{"op_id":5,"op_type":"read"}]`,
	`[{"op_id":"b4","op_type":"read","extra":"field"}]`,
	`[{"op_id":"b5\u0000\ud800","op_type":"\u202eread"}]`,
	`[null]`, `[1,"x",[]]`, `[]`, `{}`, `null`, `"ops"`, `[{}]`, `[`, `[{"op_id":"c1"`,
	`[{"op_id":"c2","op_type":"read","input":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}]`,
}

// fuzzRun is a workspace with a server and a run of the kvstore plan,
// driven through the server's JSON-RPC entry point.
type fuzzRun struct {
	srv      *mcpserver.MCPServer
	sessions *session.Manager
	run      string
	id       int
}

func newFuzzRun(tb testing.TB) *fuzzRun {
	tb.Helper()
	root := tb.TempDir()
	writeTree(tb, root, map[string]string{"testing-plans/kvr-replication.md": kvstore(tb)})
	ws, err := session.OpenWorkspace(root)
	if err != nil {
		tb.Fatal(err)
	}
	m := session.NewManager(ws)
	tb.Cleanup(func() { m.Close() })
	s, err := server.New(server.Options{Workspace: ws, Sessions: m, Log: zerolog.Nop(), Version: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	ss, err := m.StartSession(context.Background(), "kvr-replication")
	if err != nil {
		tb.Fatal(err)
	}
	ri, err := m.StartRun(context.Background(), ss.ID, "S1", "1", "smoke")
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzRun{srv: s, sessions: m, run: ri.ID}
}

// call sends one tools/call message for record_op with the raw
// arguments and returns the JSON of the answer.
func (f *fuzzRun) call(tb testing.TB, arguments []byte) []byte {
	f.id++
	msg := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"record_op","arguments":%s}}`, f.id, arguments)
	resp := f.srv.HandleMessage(context.Background(), msg)
	raw, err := json.Marshal(resp)
	if err != nil {
		tb.Fatalf("answer to %q does not serialise: %v", clipArgs(arguments), err)
	}
	return raw
}

// FuzzRecordOpArgs feeds arbitrary "ops" (and run ids) to record_op
// through the server's JSON-RPC handling, schema validation and the
// tool's own decoding. It must never panic; an answer is a JSON-RPC error
// or a tool result; a result that is not an error accounts for every row
// (accepted + rejected), and exactly the accepted rows join the run's
// history, each op_id once. Seeds: recordOpSeeds and
// testdata/fuzz/FuzzRecordOpArgs.
func FuzzRecordOpArgs(f *testing.F) {
	for _, s := range recordOpSeeds {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(recordOpSeeds[0]), "kvr-replication/20260101T000000Z/R1")
	f.Add([]byte(recordOpSeeds[0]), "../../etc/R1")
	fr := newFuzzRun(f)
	f.Fuzz(func(t *testing.T, ops []byte, run string) {
		if run == "" {
			run = fr.run
		}
		runJSON, _ := json.Marshal(run)
		args := fmt.Appendf(nil, `{"run":%s,"ops":%s}`, runJSON, ops)
		before, err := fr.sessions.History(fr.run)
		if err != nil {
			t.Fatal(err)
		}
		raw := fr.call(t, args)
		if strings.Contains(string(raw), "panic") {
			t.Fatalf("record_op %q: panicked: %s", clipArgs(args), raw)
		}
		var resp struct {
			Result *struct {
				IsError           bool                  `json:"isError"`
				Content           []mcp.TextContent     `json:"content"`
				StructuredContent *tools.RecordOpResult `json:"structuredContent"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil || (resp.Result == nil) == (resp.Error == nil) {
			t.Fatalf("record_op %q: answer is neither a result nor an error (%v): %s", clipArgs(args), err, raw)
		}
		after, err := fr.sessions.History(fr.run)
		if err != nil {
			t.Fatalf("history after record_op %q: %v", clipArgs(args), err)
		}
		if resp.Error != nil || resp.Result.IsError {
			if len(after) != len(before) {
				t.Fatalf("record_op %q failed (%s) but the history grew from %d to %d ops", clipArgs(args), raw, len(before), len(after))
			}
			if resp.Result != nil && (len(resp.Result.Content) == 0 || resp.Result.Content[0].Text == "") {
				t.Fatalf("record_op %q: isError without a message: %s", clipArgs(args), raw)
			}
			return
		}
		res := resp.Result.StructuredContent
		if res == nil {
			t.Fatalf("record_op %q: result without structured content: %s", clipArgs(args), raw)
		}
		var rows []json.RawMessage
		if err := json.Unmarshal(ops, &rows); err != nil {
			t.Fatalf("record_op accepted ops %q that are not a JSON array: %s", clipArgs(ops), raw)
		}
		if res.Accepted+len(res.Rejected) != len(rows) || res.Accepted < 0 {
			t.Fatalf("record_op %q: %d rows, accepted %d + rejected %d", clipArgs(args), len(rows), res.Accepted, len(res.Rejected))
		}
		if len(after) != len(before)+res.Accepted {
			t.Fatalf("record_op %q: accepted %d but the history grew from %d to %d", clipArgs(args), res.Accepted, len(before), len(after))
		}
		seen := map[string]bool{}
		for _, op := range after {
			if seen[op.OpID] || op.OpID == "" {
				t.Fatalf("record_op %q: op_id %q is empty or twice in the history", clipArgs(args), op.OpID)
			}
			seen[op.OpID] = true
			if op.Indeterminate() && op.Output != nil {
				t.Fatalf("record_op %q: timed-out op %q stored with an output", clipArgs(args), op.OpID)
			}
			for _, v := range []json.RawMessage{op.Input, op.Output} {
				if v != nil && !json.Valid(v) {
					t.Fatalf("record_op %q: op %q stored with invalid JSON %q", clipArgs(args), op.OpID, v)
				}
			}
		}
		for _, r := range res.Rejected {
			if r.Reason == "" || r.Index < 0 || r.Index >= len(rows) {
				t.Fatalf("record_op %q: rejection %+v", clipArgs(args), r)
			}
		}
	})
}

// TestRecordOpArgsHistoryFile checks that what the fuzz target's seeds
// record reaches history.jsonl as well as the journal.
func TestRecordOpArgsHistoryFile(t *testing.T) {
	fr := newFuzzRun(t)
	for _, s := range recordOpSeeds {
		runJSON, _ := json.Marshal(fr.run)
		fr.call(t, fmt.Appendf(nil, `{"run":%s,"ops":%s}`, runJSON, s))
	}
	ops, err := fr.sessions.History(fr.run)
	if err != nil {
		t.Fatal(err)
	}
	// a1, a2, a3, b1, b5 and c2 are sound; the rest are refused whole or
	// row by row.
	var ids []string
	for _, op := range ops {
		ids = append(ids, op.OpID)
	}
	if got := strings.Join(ids, " "); got != "a1 a2 a3 b1 b5\x00\ufffd c2" {
		t.Errorf("history holds %q, want a1 a2 a3 b1 b5 c2", got)
	}
	info, err := fr.sessions.Run(fr.run)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(fr.sessions.Workspace().Root(), filepath.FromSlash(info.Dir), "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n != len(ops) {
		t.Errorf("history.jsonl has %d rows, the run %d", n, len(ops))
	}
}

func clipArgs(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}
