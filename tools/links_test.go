package tools_test

import (
	"testing"

	"github.com/falsify-dev/falsify/tools"
)

func TestSessionURI(t *testing.T) {
	tests := []struct{ rel, uri string }{
		{"test-sessions/kv/20261125T080000Z/findings/S1.md", "falsify://sessions/kv/20261125T080000Z/findings/S1.md"},
		{"./test-sessions/kv/20261125T080000Z/session-log.md", "falsify://sessions/kv/20261125T080000Z/session-log.md"},
		{"testing-plans/kv.md", ""},
		{"test-sessions/../etc/passwd", ""},
		{"test-sessions", ""},
	}
	for _, tc := range tests {
		if got := tools.SessionURI(tc.rel); got != tc.uri {
			t.Errorf("SessionURI(%q) = %q, want %q", tc.rel, got, tc.uri)
		}
		if tc.uri == "" {
			continue
		}
		back, ok := tools.SessionFile(tc.uri)
		if !ok || "test-sessions/"+tc.uri[len(tools.SessionURIPrefix):] != back {
			t.Errorf("SessionFile(%q) = %q, %v", tc.uri, back, ok)
		}
	}
	for _, bad := range []string{
		"falsify://sessions/",
		"falsify://sessions/../testing-plans/kv.md",
		"falsify://sessions/kv/../../../etc/passwd",
		"falsify://plans/kv",
		"file:///etc/passwd",
	} {
		if rel, ok := tools.SessionFile(bad); ok {
			t.Errorf("SessionFile(%q) = %q, accepted", bad, rel)
		}
	}
}

func TestPlanSlug(t *testing.T) {
	for _, tc := range []struct{ ref, slug string }{
		{"kvstore", "kvstore"},
		{"kvstore.md", "kvstore"},
		{"testing-plans/kvstore.md", "kvstore"},
		{"kvr-replication_2.0", "kvr-replication_2.0"},
		{"../x", ""},
		{"/etc/passwd", ""},
		{"docs/plan.md", ""},
		{"", ""},
		{"a..b", ""},
		{".hidden", ""},
	} {
		got, err := tools.PlanSlug(tc.ref)
		if (err == nil) != (tc.slug != "") || got != tc.slug {
			t.Errorf("PlanSlug(%q) = %q, %v; want %q", tc.ref, got, err, tc.slug)
		}
	}
}

func TestFormatFromPath(t *testing.T) {
	for name, want := range map[string]string{
		"h.jsonl": "jsonl", "h.EDN": "jepsen-edn", "jepsen.log": "jepsen-log", "ops.json": "porcupine", "h.txt": "",
	} {
		if got := tools.FormatFromPath(name); got != want {
			t.Errorf("FormatFromPath(%q) = %q, want %q", name, got, want)
		}
	}
}
