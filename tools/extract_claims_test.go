package tools_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/tools"
)

func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExtractClaims runs extract_claims on a small SUT repo inside the
// workspace and checks that stated and inferred claims come back with
// workspace-relative sources and their categories.
func TestExtractClaims(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"svc/docs/consistency.md":      "# Consistency\n\nReads and writes of a single key are linearizable, even across a leader failover.\n\nAn acknowledged write is never lost when a single node crashes.\n",
		"svc/store/errors.go":          "package store\n\nimport \"errors\"\n\n// ErrStaleRead is returned when a follower cannot prove its read is fresh.\nvar ErrStaleRead = errors.New(\"stale read\")\n",
		"svc/store/store_test.go":      "package store\n\nimport \"testing\"\n\nfunc TestLinearizableUnderPartition(t *testing.T) {}\n",
		"svc/node_modules/x/README.md": "Writes are linearizable and never lost.\n",
	})
	c := newClient(t, root)

	var res tools.ExtractClaimsResult
	decode(t, "extract_claims", call(t, c, "extract_claims", map[string]any{"root": "svc"}), &res)
	if res.Root != "svc" {
		t.Errorf("root = %q", res.Root)
	}
	bySource := map[string]tools.CandidateClaim{}
	for _, cl := range res.Claims {
		if !strings.HasPrefix(cl.Source, "svc/") {
			t.Errorf("source %q is not workspace-relative", cl.Source)
		}
		if strings.Contains(cl.Source, "node_modules") {
			t.Errorf("claim from node_modules: %+v", cl)
		}
		bySource[cl.Source] = cl
	}
	want := []struct {
		source, category string
		inferred         bool
	}{
		{"svc/docs/consistency.md:3", "safety", false},
		{"svc/docs/consistency.md:5", "durability", false},
	}
	for _, w := range want {
		cl, ok := bySource[w.source]
		if !ok {
			t.Errorf("no claim at %s; got %+v", w.source, res.Claims)
			continue
		}
		if cl.Category != w.category || cl.Inferred != w.inferred {
			t.Errorf("%s: category %s inferred %v, want %s %v", w.source, cl.Category, cl.Inferred, w.category, w.inferred)
		}
		if cl.Confidence <= 0 || cl.Confidence > 1 {
			t.Errorf("%s: confidence %v outside (0,1]", w.source, cl.Confidence)
		}
	}
	inferred := 0
	for _, cl := range res.Claims {
		if cl.Inferred && strings.HasPrefix(cl.Source, "svc/store/") {
			inferred++
		}
	}
	if inferred == 0 {
		t.Errorf("no claim inferred from ErrStaleRead or TestLinearizableUnderPartition: %+v", res.Claims)
	}

	// limit caps the claims.
	decode(t, "extract_claims", call(t, c, "extract_claims", map[string]any{"root": "svc", "limit": 1}), &res)
	if len(res.Claims) != 1 || !res.Truncated {
		t.Errorf("limit 1: %d claims, truncated=%v", len(res.Claims), res.Truncated)
	}
}

func TestExtractClaimsRejects(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"svc/README.md": "Writes are durable.\n"})
	c := newClient(t, root)
	tests := []struct {
		name  string
		args  map[string]any
		field string
	}{
		{"root escapes", map[string]any{"root": "../"}, "root"},
		{"root absolute outside", map[string]any{"root": "/etc"}, "root"},
		{"root missing", map[string]any{"root": "nope"}, "root"},
		{"path escapes", map[string]any{"root": "svc", "paths": []string{"../../etc"}}, "paths"},
		{"path missing", map[string]any{"root": "svc", "paths": []string{"nope.go"}}, "paths"},
		{"negative limit", map[string]any{"limit": -1}, "limit"},
		{"limit of the wrong type", map[string]any{"limit": "ten"}, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, c, "extract_claims", tc.args)
			if !res.IsError {
				t.Fatalf("want isError, got %s", text(res))
			}
			if !strings.Contains(text(res), tc.field) {
				t.Errorf("message does not name %q: %s", tc.field, text(res))
			}
		})
	}
}
