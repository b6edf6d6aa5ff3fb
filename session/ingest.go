package session

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/falsify-dev/falsify/history"
)

// factOps journals a batch of accepted history rows and the rows refused.
type factOps struct {
	Run      string              `json:"run"`
	Source   string              `json:"source"` // record_op or import:<format>
	Ops      []history.Op        `json:"ops"`
	Rejected []history.Rejection `json:"rejected,omitempty"`
}

// RecordOps validates a batch of history rows against the run's op ids and
// fault ledger (history.Validate fills a null fault_epoch from the
// ledger), journals the accepted rows, appends them to
// artifacts/<run>/history.jsonl and fsyncs both before returning. A bad
// row is rejected with its reason and never spoils the rest of the batch.
func (m *Manager) RecordOps(ctx context.Context, runID string, ops []history.Op) (accepted int, rejected []history.Rejection, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recordOps(r, "record_op", ops)
}

// recordOps is the one path by which rows enter a history; the caller
// holds s.mu.
func (s *session) recordOps(r *run, source string, ops []history.Op) (int, []history.Rejection, error) {
	if len(ops) == 0 {
		return 0, nil, nil
	}
	acc, rej := history.Validate(ops, r.seen, r.windows())
	if err := s.record(factOpsRecorded, &factOps{Run: r.Run, Source: source, Ops: acc, Rejected: rej}); err != nil {
		// Validate marked the accepted ids seen; they were not recorded.
		for _, op := range acc {
			delete(r.seen, op.OpID)
		}
		return 0, nil, err
	}
	if err := s.appendHistory(r, acc); err != nil {
		return len(acc), rej, fmt.Errorf("%d ops are recorded in the journal, but %s could not be written (it is rebuilt on reopen): %w", len(acc), historyName, err)
	}
	return len(acc), rej, nil
}

// historyPath is the workspace-relative path of a run's history.jsonl.
func (s *session) historyPath(r *run) string {
	return s.dir("artifacts", r.Run, historyName)
}

// appendHistory appends ops to the run's history.jsonl and fsyncs it; on
// failure it rewrites the file from the journal's state.
func (s *session) appendHistory(r *run, ops []history.Op) error {
	if len(ops) == 0 {
		return nil
	}
	if r.histLines != len(r.ops)-len(ops) {
		return s.rewriteHistory(r)
	}
	f := s.hist[r.Run]
	if f == nil {
		p, err := s.m.ws.Resolve(s.historyPath(r))
		if err != nil {
			return err
		}
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		s.hist[r.Run] = f
	}
	// The same rows history.WriteJSONL writes, without its large buffer:
	// this is the hot path of record_op.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			return fmt.Errorf("op %q: %w", ops[i].OpID, err)
		}
	}
	_, err := f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		delete(s.hist, r.Run)
		return s.rewriteHistory(r)
	}
	r.histLines = len(r.ops)
	return nil
}

// rewriteHistory writes the run's whole history.jsonl atomically from the
// in-memory (journal) state.
func (s *session) rewriteHistory(r *run) error {
	if f := s.hist[r.Run]; f != nil {
		f.Close()
		delete(s.hist, r.Run)
	}
	r.histLines = -1
	var b bytes.Buffer
	if err := history.WriteJSONL(&b, r.ops); err != nil {
		return err
	}
	if err := s.m.ws.WriteFileAtomic(s.historyPath(r), b.Bytes()); err != nil {
		return err
	}
	r.histLines = len(r.ops)
	return nil
}

// syncHistory checks, on reopen, that history.jsonl holds exactly the ops
// the journal recorded, and rebuilds it when it does not (a crash between
// the journal's fsync and the history's).
func (s *session) syncHistory(r *run) error {
	p, err := s.m.ws.Resolve(s.historyPath(r))
	if err != nil {
		return err
	}
	n, complete, err := countLines(p)
	if err == nil && complete && n == len(r.ops) {
		r.histLines = n
		return nil
	}
	if errors.Is(err, os.ErrNotExist) && len(r.ops) == 0 {
		r.histLines = 0
		return nil
	}
	s.log(s.m.now(), fmt.Sprintf("run %s: %s held %d rows, the journal %d: rebuilt from the journal", r.Run, historyName, n, len(r.ops)))
	return s.rewriteHistory(r)
}

// countLines counts newline-terminated lines; complete is false when the
// file ends in a partial line.
func countLines(p string) (n int, complete bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	complete = true
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if len(line) > 0 {
				complete = false
			}
			return n, complete, nil
		}
		n++
	}
}

// ImportHistory imports a history file (confined to the workspace) in one
// of history.Formats into a run: its nemesis windows become ledger entries
// of origin "imported" (ids renumbered into the run's F sequence), then
// its rows take the same validation path as RecordOps. Rows the importer
// could not read are returned as rejections with their line numbers.
func (m *Manager) ImportHistory(ctx context.Context, runID, file, format string) (*ImportResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, r, err := m.lookupRun(runID)
	if err != nil {
		return nil, err
	}
	abs, err := m.ws.Resolve(file)
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	imp, err := history.Import(f, format)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := &ImportResult{Mapping: imp.Mapping, Unreadable: imp.Rejected, Epochs: map[string]string{}}
	now := m.now().UTC()
	for _, w := range imp.Windows {
		e := &Epoch{
			ID: fmt.Sprintf("F%d", len(r.faults)+1), Kind: w.Kind, Origin: OriginImported,
			Start: w.Start, End: w.End, State: FaultActive,
			Description: fmt.Sprintf("window %s imported from %s (%s)", w.ID, file, format),
			Evidence:    fmt.Sprintf("imported from a %s history at %s: the nemesis records say so, falsify measured nothing", format, now.Format(time.RFC3339)),
		}
		if w.End != nil {
			e.State = FaultHealed
		}
		if err := s.record(factFaultUpdated, &factFault{Run: r.Run, Epoch: e}); err != nil {
			return nil, err
		}
		res.Epochs[w.ID] = e.ID
	}
	ops := imp.Ops
	for i := range ops {
		if ops[i].FaultEpoch != nil {
			if id, ok := res.Epochs[*ops[i].FaultEpoch]; ok {
				ops[i].FaultEpoch = &id
			}
		}
	}
	source := "import:" + strings.ToLower(strings.TrimSpace(format)) + ":" + file
	res.Accepted, res.Rejected, err = s.recordOps(r, source, ops)
	if err != nil {
		return nil, err
	}
	if len(imp.Windows) > 0 {
		if err := s.writeLog(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ImportResult is what ImportHistory did.
type ImportResult struct {
	Accepted   int                 `json:"accepted"`
	Rejected   []history.Rejection `json:"rejected"`   // refused by validation (index in the import's ops)
	Unreadable []history.Rejection `json:"unreadable"` // rows the importer could not read (line numbers)
	Mapping    string              `json:"mapping"`
	// Epochs maps the import's window ids to ledger epoch ids.
	Epochs map[string]string `json:"epochs"`
}
