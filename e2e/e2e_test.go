// Package e2e holds end-to-end tests: they build the real falsify binary
// and drive it as a separate process with MCP clients nobody on the falsify
// team wrote — the official Go MCP SDK (over stdio and streamable HTTP) and
// the MCP Inspector CLI.
package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the falsify binary TestMain built, or "" with buildErr set.
var (
	binary   string
	buildErr error
	noGo     bool // the go command is not available: tests skip

	trackOnce sync.Once
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "falsify-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	binary, buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// trackSources stats every file the binary and the scripts may be built
// from, so that go test's result cache, which only sees files the test
// process itself touches, is invalidated when the source of the binary
// these tests build changes. Test data, VCS and compiled test binaries are
// left out.
func trackSources(root string) {
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && !strings.HasSuffix(name, ".test") {
			os.Stat(path)
		}
		return nil
	})
}

// build compiles ./cmd/falsify into dir.
func build(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, serr := os.Stat(goTool); serr != nil {
			noGo = true
			return "", fmt.Errorf("no go command to build falsify with: %w", err)
		}
	}
	out := filepath.Join(dir, "falsify")
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	cmd := exec.Command(goTool, "build", "-o", out, "./cmd/falsify")
	cmd.Dir = ".."
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/falsify: %v\n%s", err, msg)
	}
	return out, nil
}

// falsify returns the built binary. It skips the test only when there is
// no go command; a build failure fails it.
func falsify(t testing.TB) string {
	t.Helper()
	// Here rather than in TestMain: go test records the files a test
	// touches only once m.Run has started.
	trackOnce.Do(func() { trackSources("..") })
	if noGo {
		t.Skipf("skipping: %v", buildErr)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// The plan every session writes: a copy of plan/testdata/kvstore.md, so
// that this suite's expectations do not move when that file does.
const (
	planSource = "testdata/kvstore.md"
	planSlug   = "kvr-replication"
	planFile   = "testing-plans/kvr-replication.md"
)

// planPart is one write_plan_section call's worth of the plan.
type planPart struct {
	section, scenario, content string
}

var (
	sectionHeading  = regexp.MustCompile(`^## ([0-9]+[a-z]?)\. `)
	scenarioHeading = regexp.MustCompile(`^### Scenario (S[0-9]+):`)
)

// planParts cuts the plan into its header, each section and, for §7, each
// scenario block; the bare "## 7. Scenarios" heading is left out (scenarios
// are written one by one).
func planParts(t testing.TB) []planPart {
	t.Helper()
	src, err := os.ReadFile(planSource)
	if err != nil {
		t.Fatal(err)
	}
	var parts []planPart
	cur := planPart{section: "header"}
	var b strings.Builder
	flush := func() {
		cur.content = b.String()
		if strings.TrimSpace(cur.content) != "" && (cur.section != "7" || cur.scenario != "") {
			parts = append(parts, cur)
		}
		b.Reset()
	}
	inFence := false
	for _, line := range strings.SplitAfter(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if !inFence {
			if m := sectionHeading.FindStringSubmatch(line); m != nil {
				flush()
				cur = planPart{section: m[1]}
			} else if m := scenarioHeading.FindStringSubmatch(line); m != nil && cur.section == "7" {
				flush()
				cur = planPart{section: "7", scenario: m[1]}
			}
		}
		b.WriteString(line)
	}
	flush()
	return parts
}

// lockedBuffer is a bytes.Buffer safe for a process's output copier and
// the test reading it at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// httpServer is a running "falsify serve --http" process.
type httpServer struct {
	URL    string // the MCP endpoint, http://127.0.0.1:<port>/mcp
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before done closes
}

// startHTTP starts "falsify serve --http 127.0.0.1:<free port> --root ws"
// and waits until it accepts connections. The port is picked free and the
// start retried on another port if it was taken in between.
func startHTTP(t testing.TB, ws string) *httpServer {
	t.Helper()
	bin := falsify(t)
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := launchHTTP(bin, ws, port)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("falsify serve --http: %v", last)
	return nil
}

func launchHTTP(bin, ws string, port int) (*httpServer, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &httpServer{URL: "http://" + addr + "/mcp", stderr: new(lockedBuffer), done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--http", addr, "--root", ws)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	// Poll for the listener; a process that exits first has failed.
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("exited before listening (%v):\n%s", s.err, s.stderr)
		case <-deadline:
			s.cmd.Process.Kill()
			<-s.done
			return nil, fmt.Errorf("not listening on %s after 60s:\n%s", addr, s.stderr)
		case <-tick.C:
		}
	}
}

// stop interrupts the server and expects it to exit cleanly, as it does on
// Ctrl-C.
func (s *httpServer) stop(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
		t.Errorf("falsify serve --http exited before the test ended (%v):\n%s", s.err, s.stderr)
		return
	default:
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Errorf("interrupt falsify serve: %v", err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("falsify serve --http exited with %v after an interrupt:\n%s", s.err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("falsify serve --http still running 30s after an interrupt:\n%s", s.stderr)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logLines returns the JSON log lines falsify wrote on stderr whose
// message is msg.
func logLines(stderr, msg string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"message":"`+msg+`"`) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// runTimeout bounds one MCP call or connection. Generous: the machine
// running the suite may be loaded.
const runTimeout = 2 * time.Minute

// exitCode returns a command's exit status, or -1 when it did not run to
// an exit.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
