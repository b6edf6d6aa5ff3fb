package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds falsify once per test run into a temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "falsify-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "falsify")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// runBin runs the falsify binary and returns its exit code, stdout and stderr.
func runBin(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func kvstorePlan(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "plan", "testdata", "kvstore.md"))
	if err != nil {
		t.Skipf("plan/testdata/kvstore.md: %v", err)
	}
	return raw
}

func TestLintExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := kvstorePlan(t)
	// Drop the §7b row of C2: an adequacy-missing error.
	bad := bytes.Replace(good, []byte("| C2 | crash between primary fsync"), []byte("| C9 | crash between primary fsync"), 1)
	if bytes.Equal(bad, good) {
		t.Fatal("mutation did not apply")
	}
	files := map[string][]byte{"good.md": good, "bad.md": bad, "notes.txt": []byte("hello\n")}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout
	}{
		{"clean plan", []string{"lint", "good.md"}, 0, "0 errors"},
		{"plan with errors", []string{"lint", "bad.md"}, 1, "adequacy-missing"},
		{"json report", []string{"lint", "--json", "bad.md"}, 1, `"clean": false`},
		{"no such file", []string{"lint", "missing.md"}, 2, ""},
		{"no argument", []string{"lint"}, 2, ""},
		{"two arguments", []string{"lint", "good.md", "bad.md"}, 2, ""},
		{"unknown flag", []string{"lint", "--frobnicate", "good.md"}, 2, ""},
		{"unknown command", []string{"frobnicate"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, dir, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
			if tc.code == 2 && stderr == "" {
				t.Error("usage error with nothing on stderr")
			}
		})
	}
	// The JSON report is the lint_plan result.
	_, stdout, _ := runBin(t, dir, "lint", "--json", "bad.md")
	var rep struct {
		Clean  bool
		Errors []struct{ Rule, Section, ID, Message, Fix string }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v", err)
	}
	found := false
	for _, d := range rep.Errors {
		if d.Rule == "adequacy-missing" && d.ID == "C2" && d.Section == "7b" {
			found = true
		}
	}
	if rep.Clean || !found {
		t.Errorf("--json report: %+v", rep)
	}
}

func TestClaims(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	files := map[string]string{
		"docs/consistency.md": "# Consistency\n\nReads and writes of a single key are linearizable, even across a leader failover.\n",
		"store/store.go":      "package store\n\nimport \"errors\"\n\n// ErrStaleRead is returned when a follower cannot prove its read is fresh.\nvar ErrStaleRead = errors.New(\"stale read\")\n",
	}
	for rel, body := range files {
		p := filepath.Join(repo, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runBin(t, dir, "claims", "repo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "docs/consistency.md:3\tsafety") {
		t.Errorf("claims output lacks the linearizability claim:\n%s", stdout)
	}
	code, stdout, _ = runBin(t, dir, "claims", "--json", "--limit", "1", "repo")
	var res struct {
		Claims    []struct{ Text, Category, Source string }
		Truncated bool
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || len(res.Claims) != 1 {
		t.Errorf("claims --json --limit 1: exit %d, %d claims:\n%s", code, len(res.Claims), stdout)
	}
	for _, args := range [][]string{{"claims"}, {"claims", "nope"}, {"claims", "--limit", "x", "repo"}, {"claims", "repo/docs/consistency.md"}} {
		if code, _, _ := runBin(t, dir, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runBin(t, t.TempDir(), "version")
	if code != 0 || !strings.HasPrefix(stdout, "falsify ") {
		t.Errorf("version: exit %d %q", code, stdout)
	}
}

// TestServeStdio starts "falsify serve" as a real process, speaks MCP on
// its stdin/stdout, and checks that stdout carries only JSON-RPC while
// the logs go to stderr as JSON.
func TestServeStdio(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(binary(t), "serve", "--root", root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdoutPipe)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	send := func(msg string) {
		if _, err := io.WriteString(stdin, msg+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() map[string]any {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("stdout closed; stderr:\n%s", stderr.String())
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil || m["jsonrpc"] != "2.0" {
				t.Fatalf("stdout line is not JSON-RPC: %q", line)
			}
			return m
		case <-time.After(20 * time.Second):
			t.Fatalf("no answer on stdout; stderr:\n%s", stderr.String())
		}
		return nil
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`)
	init := recv()
	result, _ := init["result"].(map[string]any)
	if instr, _ := result["instructions"].(string); !strings.Contains(instr, "write_plan_section") {
		t.Errorf("initialize result lacks the workflow instructions: %v", init)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	list := recv()
	tools, _ := list["result"].(map[string]any)["tools"].([]any)
	if len(tools) < 3 {
		t.Errorf("tools/list over stdio: %v", list)
	}
	send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"lint_plan","arguments":{"plan":"../etc/passwd"}}}`)
	call := recv()
	if res, _ := call["result"].(map[string]any); res["isError"] != true {
		t.Errorf("lint_plan escaping the root: %v", call)
	}
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v on EOF; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit on stdin EOF")
	}
	// Every stderr line is a JSON log record.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] == nil {
			t.Errorf("stderr line is not a zerolog JSON record: %q", line)
		}
	}
}

func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--http", ":1", "--sse", ":2"},
		{"serve", "--root", filepath.Join(dir, "missing")},
		{"serve", "--http", "8080"},
		{"serve", "--root", "/"},
		{"serve", "extra"},
	} {
		code, _, stderr := runBin(t, dir, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, code, stderr)
		}
	}
}

func TestCheckExitCodes(t *testing.T) {
	corpus := filepath.Join("..", "..", "..", "shared", "corpus", "knossos", "cas-register")
	if _, err := os.Stat(corpus); err != nil {
		corpus = "/work/shared/corpus/knossos/cas-register"
	}
	good := filepath.Join(corpus, "good", "memstress3-0.edn")
	bad := filepath.Join(corpus, "bad", "cas-failure.edn")
	if _, err := os.Stat(bad); err != nil {
		t.Skipf("corpus: %v", err)
	}
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	good, bad = abs(good), abs(bad)
	renamed := filepath.Join(dir, "history.txt")
	raw, _ := os.ReadFile(bad)
	if err := os.WriteFile(renamed, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	lz := []string{"check", "--checker", "linearizability", "--model", "cas-register"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"linearizable", append(lz, good), 0, ": ok (linearizability"},
		{"violation", append(lz, bad), 1, "nonlinearizable"},
		{"undecided within the budget", append(lz, "--timeout", "1ns", good), 3, "unknown"},
		{"format given for an unknown extension", append(lz, "--format", "jepsen-edn", renamed), 1, "violation"},
		{"json", append(lz, "--json", bad), 1, `"status": "violation"`},
		{"extension without a format", append(lz, renamed), 2, ""},
		{"unknown checker", []string{"check", "--checker", "vibes", "--model", "register", good}, 2, ""},
		{"model the checker does not take", []string{"check", "--checker", "linearizability", "--model", "queue", good}, 2, ""},
		{"no model", []string{"check", "--checker", "linearizability", good}, 2, ""},
		{"no history", lz, 2, ""},
		{"missing file", append(lz, filepath.Join(dir, "nope.edn")), 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBin(t, dir, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout)
			}
		})
	}
	// --artifacts keeps Porcupine's visualisation of the violation.
	art := filepath.Join(dir, "art")
	if code, _, stderr := runBin(t, dir, append(lz, "--artifacts", art, bad)...); code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	entries, err := os.ReadDir(art)
	if err != nil || len(entries) == 0 {
		t.Errorf("no artifact kept in %s: %v", art, err)
	}
}
