package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Fact is one line of a session journal: a typed, numbered, timestamped
// record of something that happened. The journal is the session's only
// source of truth; every other file in the session directory is derived
// from it.
type Fact struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// Repair describes a torn final line that OpenJournal removed: the tail a
// crash left behind in the middle of a write. The fact it held was never
// acknowledged, since an append returns only after its fsync.
type Repair struct {
	Offset  int64  `json:"offset"`  // file size after truncation
	Dropped int    `json:"dropped"` // bytes removed
	Reason  string `json:"reason"`
	Head    string `json:"head"` // the first bytes of the dropped tail
}

// Journal is an append-only JSON Lines file of facts. Each Append writes
// one whole line with O_APPEND and fsyncs it before returning.
type Journal struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	size   int64
	next   int64
	broken error // set when a failed append could not be rolled back
	now    func() time.Time
}

// CreateJournal creates a new, empty journal at path; the file must not
// exist yet.
func CreateJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	syncDir(filepath.Dir(path))
	return &Journal{f: f, path: path, next: 1, now: time.Now}, nil
}

// OpenJournal opens an existing journal and returns its facts. A torn
// final line (no trailing newline, or not valid JSON) is truncated away
// and reported as a Repair; damage anywhere else is an error, because
// dropping an acknowledged fact would lose recorded data.
func OpenJournal(path string) (*Journal, []Fact, *Repair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open journal: %w", err)
	}
	facts, good, reason, err := parseJournal(data)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open journal: %w", err)
	}
	var rep *Repair
	if good < int64(len(data)) {
		tail := data[good:]
		head := tail
		if len(head) > 200 {
			head = head[:200]
		}
		rep = &Repair{Offset: good, Dropped: len(tail), Reason: reason, Head: string(head)}
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, nil, nil, fmt.Errorf("journal %s: truncate torn line: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, nil, fmt.Errorf("journal %s: fsync after truncate: %w", path, err)
		}
	}
	j := &Journal{f: f, path: path, size: good, next: 1, now: time.Now}
	if n := len(facts); n > 0 {
		j.next = facts[n-1].Seq + 1
	}
	return j, facts, rep, nil
}

// parseJournal splits data into facts. It returns the offset just past the
// last good line and, when a torn tail follows it, why the tail is torn.
func parseJournal(data []byte) (facts []Fact, good int64, reason string, err error) {
	off := 0
	line := 0
	for off < len(data) {
		line++
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			return facts, int64(off), "final line has no trailing newline", nil
		}
		raw := data[off : off+nl]
		var f Fact
		if uerr := json.Unmarshal(raw, &f); uerr != nil || f.Type == "" || f.Seq == 0 {
			last := off+nl+1 == len(data)
			if !last {
				return nil, 0, "", fmt.Errorf("line %d is not a fact (%v) and is not the last line: the journal is damaged", line, describeBad(uerr))
			}
			return facts, int64(off), fmt.Sprintf("final line is not a fact: %v", describeBad(uerr)), nil
		}
		want := int64(1)
		if len(facts) > 0 {
			want = facts[len(facts)-1].Seq + 1
		}
		if f.Seq != want {
			return nil, 0, "", fmt.Errorf("line %d has seq %d, want %d: the journal is damaged", line, f.Seq, want)
		}
		facts = append(facts, f)
		off += nl + 1
	}
	return facts, int64(off), "", nil
}

func describeBad(err error) string {
	if err != nil {
		return err.Error()
	}
	return "missing seq or type"
}

// Append writes one fact of type typ with payload data, fsyncs it and
// returns it.
func (j *Journal) Append(typ string, data any) (Fact, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Fact{}, fmt.Errorf("journal %s fact: %w", typ, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.broken != nil {
		return Fact{}, fmt.Errorf("journal is unusable after an earlier failure: %w", j.broken)
	}
	f := Fact{Seq: j.next, Type: typ, Time: j.now().UTC(), Data: raw}
	line, err := json.Marshal(f)
	if err != nil {
		return Fact{}, fmt.Errorf("journal %s fact: %w", typ, err)
	}
	line = append(line, '\n')
	n, werr := j.f.Write(line)
	if werr == nil {
		werr = j.f.Sync()
	}
	if werr != nil {
		// Roll back a partial line so later appends do not follow
		// garbage; if that fails, refuse all further appends.
		if n > 0 {
			if terr := j.f.Truncate(j.size); terr != nil {
				j.broken = fmt.Errorf("append %s: %v; rollback: %v", typ, werr, terr)
			}
		}
		return Fact{}, fmt.Errorf("journal append %s: %w", typ, werr)
	}
	j.size += int64(n)
	j.next++
	return f, nil
}

// Path returns the journal's file path.
func (j *Journal) Path() string { return j.path }

// Close closes the journal file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if j.broken == nil {
		j.broken = errors.New("journal closed")
	}
	return err
}

// syncDir fsyncs a directory so that a file created in it survives a
// crash. Errors are ignored: some filesystems cannot sync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
