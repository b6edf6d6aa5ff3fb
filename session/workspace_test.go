package session

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// newTestWorkspace returns a workspace on a fresh directory, plus a
// directory outside it that escapes can point at.
func newTestWorkspace(t *testing.T) (*Workspace, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := OpenWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	return w, outside
}

func TestWorkspaceResolve(t *testing.T) {
	w, outside := newTestWorkspace(t)
	root := w.Root()
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Symlinks: one out of the workspace, one staying inside, one
	// dangling towards the outside.
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "in")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../outside/secret", filepath.Join(root, "a", "rel-out")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		rel    string
		want   string // expected result relative to root, when allowed
		escape bool
	}{
		{"plain", "a/b/c.txt", "a/b/c.txt", false},
		{"empty is root", "", "", false},
		{"dot-dot inside", "a/b/../c", "a/c", false},
		{"dot-dot out", "../outside/secret", "", true},
		{"dot-dot deep out", "a/../../outside", "", true},
		{"bare dot-dot", "..", "", true},
		{"absolute outside", filepath.Join(outside, "secret"), "", true},
		{"absolute etc", "/etc/passwd", "", true},
		{"absolute inside", filepath.Join(root, "a", "x"), "a/x", false},
		{"symlink out", "out/secret", "", true},
		{"symlink out, missing leaf", "out/new/file", "", true},
		{"symlink itself out", "out", "", true},
		{"relative symlink out", "a/rel-out", "", true},
		{"symlink in", "in/b/x", "a/b/x", false},
		{"NUL byte", "a/\x00b", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.Resolve(tt.rel)
			if tt.escape {
				if !errors.Is(err, ErrEscape) {
					t.Fatalf("Resolve(%q) = %q, %v; want ErrEscape", tt.rel, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.rel, err)
			}
			want := filepath.Join(root, tt.want)
			if got != want {
				t.Fatalf("Resolve(%q) = %q, want %q", tt.rel, got, want)
			}
		})
	}
}

func TestWorkspaceWritesStayInside(t *testing.T) {
	w, outside := newTestWorkspace(t)
	if err := os.Symlink(outside, filepath.Join(w.Root(), "out")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"../outside/x", "out/x", filepath.Join(outside, "x"), "out/sub/x"} {
		if err := w.WriteFileAtomic(rel, []byte("pwned")); !errors.Is(err, ErrEscape) {
			t.Errorf("WriteFileAtomic(%q) = %v, want ErrEscape", rel, err)
		}
		if _, err := w.MkdirAll(rel); !errors.Is(err, ErrEscape) {
			t.Errorf("MkdirAll(%q) = %v, want ErrEscape", rel, err)
		}
		if _, err := w.ReadFile(rel); !errors.Is(err, ErrEscape) {
			t.Errorf("ReadFile(%q) = %v, want ErrEscape", rel, err)
		}
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "secret" {
			t.Errorf("a write escaped the workspace: %s", filepath.Join(outside, e.Name()))
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	w, _ := newTestWorkspace(t)
	rel := "deep/dir/file.json"
	if err := w.WriteFileAtomic(rel, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got, err := w.ReadFile(rel); err != nil || string(got) != "one" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}

	// Concurrent readers must see the old or the new content in full,
	// never a prefix or a mix.
	oldData := strings.Repeat("a", 1<<16)
	newData := strings.Repeat("b", 1<<17)
	if err := w.WriteFileAtomic(rel, []byte(oldData)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := w.ReadFile(rel)
			if err != nil {
				select {
				case bad <- err.Error():
				default:
				}
				return
			}
			if s := string(got); s != oldData && s != newData {
				select {
				case bad <- "torn read of " + strconv.Itoa(len(s)) + " bytes":
				default:
				}
				return
			}
		}
	}()
	for i := 0; i < 20; i++ {
		d := oldData
		if i%2 == 0 {
			d = newData
		}
		if err := w.WriteFileAtomic(rel, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-bad:
		t.Fatal(msg)
	default:
	}

	// No temporary files are left behind.
	ents, err := os.ReadDir(filepath.Join(w.Root(), "deep", "dir"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "file.json" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only file.json", names)
	}
}

func TestOpenWorkspaceErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing"), file} {
		if _, err := OpenWorkspace(p); err == nil {
			t.Errorf("OpenWorkspace(%q) succeeded, want an error", p)
		}
	}
}
