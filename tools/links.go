package tools

import (
	"path"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// SessionsDir is the workspace directory sessions live in (SPEC §7).
const SessionsDir = "test-sessions"

// SessionURIPrefix is the URI prefix of session artifacts: the file
// test-sessions/<slug>/<UTC>/<path> is falsify://sessions/<slug>/<UTC>/<path>.
const SessionURIPrefix = "falsify://sessions/"

// SessionURI returns the resource URI of a workspace-relative file under
// test-sessions/, or "" for a file elsewhere.
func SessionURI(rel string) string {
	rel = path.Clean(strings.TrimPrefix(rel, "./"))
	rest, ok := strings.CutPrefix(rel, SessionsDir+"/")
	if !ok || rest == "" || strings.HasPrefix(rest, "../") {
		return ""
	}
	return SessionURIPrefix + rest
}

// SessionFile maps a session artifact URI back to its workspace-relative
// path; ok is false for another URI.
func SessionFile(uri string) (rel string, ok bool) {
	rest, ok := strings.CutPrefix(uri, SessionURIPrefix)
	if !ok || rest == "" {
		return "", false
	}
	clean := path.Clean(rest)
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
		return "", false
	}
	return path.Join(SessionsDir, clean), true
}

// MIMEType guesses an artifact's MIME type from its name.
func MIMEType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".md":
		return "text/markdown"
	case ".json":
		return "application/json"
	case ".jsonl":
		return "application/jsonl"
	case ".html", ".htm":
		return "text/html"
	case ".edn", ".txt", ".log":
		return "text/plain"
	}
	return "application/octet-stream"
}

// linker is a tool result that points at files by resource link, rather
// than carrying their (possibly large) content.
type linker interface {
	links() []mcp.ResourceLink
}

// link returns a resource link to a workspace-relative session file, or
// false when the file is not under test-sessions/.
func link(rel, description string) (mcp.ResourceLink, bool) {
	uri := SessionURI(rel)
	if uri == "" {
		return mcp.ResourceLink{}, false
	}
	return mcp.NewResourceLink(uri, path.Base(rel), description, MIMEType(rel)), true
}

// links builds resource links for the given files, skipping any outside
// test-sessions/.
func links(files map[string]string) []mcp.ResourceLink {
	var out []mcp.ResourceLink
	for rel, desc := range files {
		if l, ok := link(rel, desc); ok {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URI < out[j].URI })
	return out
}
