package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInspectorCLI runs scripts/inspector-check.sh — the MCP Inspector CLI
// against the built binary over stdio and streamable HTTP: tools/list
// --strict with no schema portability error, tools/call lint_plan clean,
// an isError call, resources/read — the same check .ci/run runs. It skips
// when npx (and node) are not installed, or when npx cannot fetch the
// pinned Inspector (offline; the script exits 3).
func TestInspectorCLI(t *testing.T) {
	bin := falsify(t)
	for _, tool := range []string{"bash", "npx", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping the MCP Inspector check: %s is not installed (%v); install Node.js and npm to run it", tool, err)
		}
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "inspector-check.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "FALSIFY_BIN="+bin)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start).Round(100 * time.Millisecond)
	switch code := exitCode(err); code {
	case 0:
	case 3:
		t.Skipf("skipping the MCP Inspector check: npx could not fetch the Inspector (offline?):\n%s", relevant(out.String()))
	default:
		t.Fatalf("inspector-check.sh exited %d (%v) after %v:\n%s", code, err, took, relevant(out.String()))
	}
	// Every check printed its "ok" line, and the run ended with OK.
	oks := 0
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "  ok: ") {
			oks++
			t.Log(strings.TrimSpace(line))
		}
	}
	if oks != 6 || !strings.Contains(out.String(), "inspector-check: OK") {
		t.Errorf("inspector-check.sh passed %d checks, want 6, and OK:\n%s", oks, relevant(out.String()))
	}
	t.Logf("MCP Inspector check took %v", took)
}

// relevant drops npm's engine warnings (the Inspector declares node >= 22
// and works on 20) from a script's output.
func relevant(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "npm warn") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
