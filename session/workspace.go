package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Workspace is the directory tree falsify was started on (--root). Every
// path falsify reads or writes on a caller's behalf is resolved through it,
// and none may escape it: not by "..", not by an absolute path, not by a
// symlink that points outside.
type Workspace struct {
	root string // absolute, symlinks resolved
}

// ErrEscape is returned for a path that would leave the workspace.
var ErrEscape = errors.New("path escapes the workspace root")

// OpenWorkspace returns the workspace rooted at dir, which must exist.
func OpenWorkspace(dir string) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace root %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("workspace root %q: %w", dir, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("workspace root %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("workspace root %q is not a directory", dir)
	}
	return &Workspace{root: real}, nil
}

// Root returns the absolute workspace directory.
func (w *Workspace) Root() string { return w.root }

// Resolve maps a workspace-relative path to an absolute one inside the
// root. It rejects absolute paths, ".." components that climb out, and
// paths whose existing prefix is a symlink resolving outside the root.
func (w *Workspace) Resolve(rel string) (string, error) {
	if rel == "" {
		return w.root, nil
	}
	if strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("%q: %w (NUL byte)", rel, ErrEscape)
	}
	if filepath.IsAbs(rel) {
		// An absolute path is accepted only when it already names a
		// place inside the root.
		r, err := filepath.Rel(w.root, filepath.Clean(rel))
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%q: %w (absolute path outside %s)", rel, ErrEscape, w.root)
		}
		rel = r
	}
	clean := filepath.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q: %w (uses ..)", rel, ErrEscape)
	}
	full := filepath.Join(w.root, clean)
	// Walk up to the longest existing prefix and resolve its symlinks.
	existing := full
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", fmt.Errorf("%q: %w", rel, err)
	}
	if !w.inside(real) {
		return "", fmt.Errorf("%q: %w (symlink to %s)", rel, ErrEscape, real)
	}
	rest, _ := filepath.Rel(existing, full)
	return filepath.Join(real, rest), nil
}

func (w *Workspace) inside(p string) bool {
	if p == w.root {
		return true
	}
	return strings.HasPrefix(p, w.root+string(filepath.Separator))
}

// ReadFile reads a workspace-relative file.
func (w *Workspace) ReadFile(rel string) ([]byte, error) {
	p, err := w.Resolve(rel)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// MkdirAll creates a workspace-relative directory and its parents.
func (w *Workspace) MkdirAll(rel string) (string, error) {
	p, err := w.Resolve(rel)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("mkdir %s: %w", rel, err)
	}
	// Re-check: a component created concurrently could be a symlink.
	if _, err := w.Resolve(rel); err != nil {
		return "", err
	}
	return p, nil
}

// WriteFileAtomic writes data to a workspace-relative path by writing a
// temporary file in the same directory, fsyncing it and renaming it over
// the target, so readers see the old or the new content, never a mix.
func (w *Workspace) WriteFileAtomic(rel string, data []byte) error {
	p, err := w.Resolve(rel)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", filepath.Dir(rel), err)
	}
	if _, err := w.Resolve(rel); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync %s: %w", rel, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("rename %s: %w", rel, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
