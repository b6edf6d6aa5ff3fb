package session

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeTestJournal(t *testing.T, n int) (string, []Fact) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var facts []Fact
	for i := 0; i < n; i++ {
		f, err := j.Append("note", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, f)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path, facts
}

func TestJournalRoundTrip(t *testing.T) {
	path, facts := writeTestJournal(t, 5)
	j, got, rep, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if rep != nil {
		t.Fatalf("clean journal reported a repair: %+v", rep)
	}
	if !reflect.DeepEqual(got, facts) {
		t.Fatalf("facts differ:\n got %+v\nwant %+v", got, facts)
	}
	f, err := j.Append("note", "next")
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq != 6 {
		t.Fatalf("seq after reopen = %d, want 6", f.Seq)
	}
	if f.Time.Location().String() != "UTC" {
		t.Fatalf("fact time %v is not UTC", f.Time)
	}
}

func TestJournalTornFinalLine(t *testing.T) {
	full, err := json.Marshal(Fact{Seq: 4, Type: "note", Data: json.RawMessage(`{"i":3}`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tail string
	}{
		{"cut mid-line", string(full[:len(full)/2])},
		{"whole fact without newline", string(full)},
		{"garbage line with newline", `{"seq":4,"type":"no` + "\n"},
		{"zero bytes of a line", "\x00\x00\x00"},
		{"object that is not a fact", "{}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, facts := writeTestJournal(t, 3)
			before, _ := os.ReadFile(path)
			fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.WriteString(tt.tail)
			fh.Close()

			j, got, rep, err := OpenJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if rep == nil || rep.Dropped != len(tt.tail) || rep.Offset != int64(len(before)) {
				t.Fatalf("repair = %+v, want %d bytes dropped at %d", rep, len(tt.tail), len(before))
			}
			if !reflect.DeepEqual(got, facts) {
				t.Fatalf("facts after repair differ:\n got %+v\nwant %+v", got, facts)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(before) {
				t.Fatalf("file not truncated to the last good line")
			}
			if f, err := j.Append("note", "after"); err != nil || f.Seq != 4 {
				t.Fatalf("append after repair: %+v, %v", f, err)
			}
			j.Close()
			if _, got, rep, err := OpenJournal(path); err != nil || rep != nil || len(got) != 4 {
				t.Fatalf("second open: %d facts, repair %+v, %v", len(got), rep, err)
			}
		})
	}
}

func TestJournalDamageInMiddleIsAnError(t *testing.T) {
	tests := []struct {
		name, want string
		mangle     func(lines []string) []string
	}{
		{"garbage line", "line 2 is not a fact", func(l []string) []string {
			l[1] = `{"seq":2,"ty`
			return l
		}},
		{"missing fact", "has seq 3, want 2", func(l []string) []string {
			return append(l[:1], l[2:]...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := writeTestJournal(t, 4)
			data, _ := os.ReadFile(path)
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			lines = tt.mangle(lines)
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := OpenJournal(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenJournal = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCreateJournalRefusesExisting(t *testing.T) {
	path, _ := writeTestJournal(t, 1)
	if _, err := CreateJournal(path); err == nil {
		t.Fatal("CreateJournal over an existing journal succeeded")
	}
}
