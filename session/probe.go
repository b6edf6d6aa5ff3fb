package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Probe limits.
const (
	probeTimeout   = 10 * time.Second
	probeOutputCap = 64 << 10 // bytes kept of a command's output
	probeBodyCap   = 8 << 20  // bytes read of a metrics page
	rawCap         = 4 << 10  // bytes of a file line or metric samples kept raw
)

// Expectations a probe can declare: how its reading must move between
// the reading before the fault and the one after it.
const (
	ExpectIncreases      = "increases"
	ExpectDecreases      = "decreases"
	ExpectBecomesZero    = "becomes 0"
	ExpectBecomesNonzero = "becomes nonzero"
	ExpectMatches        = "matches"
	ExpectStopsMatching  = "stops matching"
	ExpectChanges        = "changes"
)

// Expectations returns the accepted expectations.
func Expectations() []string {
	return []string{
		ExpectIncreases, ExpectDecreases, ExpectBecomesZero, ExpectBecomesNonzero,
		ExpectMatches, ExpectStopsMatching, ExpectChanges,
	}
}

// Probe is an evidence probe falsify runs itself, before and after a fault,
// to measure whether the fault landed. Exactly one of Command, File or URL
// is set.
//
//   - Command: an argv run directly (never through a shell) with a 10 s
//     timeout; its output (stdout and stderr, first 64 KB) is the reading.
//     Without Pattern the reading's value is the first number in the
//     output; with Pattern it is as for File.
//   - File + Pattern: a workspace file scanned line by line; the value is
//     the number of matches, or, when Pattern has a capture group, the
//     number captured by the last match. A missing file has 0 matches.
//   - URL + Metric: a Prometheus text-format page fetched over HTTP; the
//     value is the sum of the samples of Metric, which may carry label
//     matchers (`errors_total{code="500"}`). A metric absent from the page
//     reads 0.
type Probe struct {
	Command []string `json:"command,omitempty"`
	File    string   `json:"file,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
	URL     string   `json:"url,omitempty"`
	Metric  string   `json:"metric,omitempty"`
	// Expect is one of Expectations.
	Expect string `json:"expect"`
}

// Reading is one measurement by a probe, kept raw.
type Reading struct {
	At       time.Time `json:"at"`
	Value    *float64  `json:"value"`             // nil when the output held no number
	Matches  *int      `json:"matches,omitempty"` // for pattern probes
	Raw      string    `json:"raw"`               // output, matched line or samples, capped
	ExitCode *int      `json:"exit_code,omitempty"`
	Note     string    `json:"note,omitempty"`
	Error    string    `json:"error,omitempty"` // the probe could not be read
}

// String renders a reading as evidence text.
func (r *Reading) String() string {
	if r == nil {
		return "no reading"
	}
	if r.Error != "" {
		return "error: " + r.Error
	}
	var parts []string
	if r.Value != nil {
		parts = append(parts, "value "+strconv.FormatFloat(*r.Value, 'g', -1, 64))
	}
	if r.Matches != nil {
		parts = append(parts, fmt.Sprintf("%d matches", *r.Matches))
	}
	if r.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit %d", *r.ExitCode))
	}
	if len(parts) == 0 {
		parts = append(parts, "no number")
	}
	return strings.Join(parts, ", ")
}

// normalizeExpect maps spellings of an expectation to its canonical form.
func normalizeExpect(s string) (string, error) {
	k := strings.Join(strings.Fields(strings.ToLower(strings.NewReplacer("_", " ", "-", " ").Replace(s))), " ")
	switch k {
	case "increases", "increase":
		return ExpectIncreases, nil
	case "decreases", "decrease":
		return ExpectDecreases, nil
	case "becomes 0", "becomes zero":
		return ExpectBecomesZero, nil
	case "becomes nonzero", "becomes non zero":
		return ExpectBecomesNonzero, nil
	case "matches", "match":
		return ExpectMatches, nil
	case "stops matching":
		return ExpectStopsMatching, nil
	case "changes", "change":
		return ExpectChanges, nil
	}
	return "", fmt.Errorf("expect %q is not one of %s", s, strings.Join(quoteAll(Expectations()), ", "))
}

// inverseExpect is the expectation a recovery shows on the same probe.
func inverseExpect(e string) string {
	switch e {
	case ExpectIncreases:
		return ExpectDecreases
	case ExpectDecreases:
		return ExpectIncreases
	case ExpectBecomesZero:
		return ExpectBecomesNonzero
	case ExpectBecomesNonzero:
		return ExpectBecomesZero
	case ExpectMatches:
		return ExpectStopsMatching
	case ExpectStopsMatching:
		return ExpectMatches
	}
	return ExpectChanges
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// validate checks a probe's shape and normalizes its expectation.
func (p *Probe) validate() error {
	n := 0
	if len(p.Command) > 0 {
		n++
		if p.Command[0] == "" {
			return errors.New("probe.command: argv[0] is empty; give the program to run")
		}
	}
	if p.File != "" {
		n++
		if p.Pattern == "" {
			return errors.New("probe.pattern: a file probe needs a regexp to count or capture")
		}
	}
	if p.URL != "" {
		n++
		if p.Metric == "" {
			return errors.New("probe.metric: a URL probe needs a Prometheus metric name")
		}
		if !strings.HasPrefix(p.URL, "http://") && !strings.HasPrefix(p.URL, "https://") {
			return fmt.Errorf("probe.url %q: only http:// and https:// are supported", p.URL)
		}
		if _, _, err := parseMetricSelector(p.Metric); err != nil {
			return fmt.Errorf("probe.metric: %w", err)
		}
	}
	if n != 1 {
		return errors.New("probe: give exactly one of command (argv), file + pattern, or url + metric")
	}
	if p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return fmt.Errorf("probe.pattern: %w", err)
		}
		if re.NumSubexp() > 1 {
			return errors.New("probe.pattern: use at most one capture group (the number to read)")
		}
	}
	e, err := normalizeExpect(p.Expect)
	if err != nil {
		return fmt.Errorf("probe.expect: %w", err)
	}
	if (e == ExpectMatches || e == ExpectStopsMatching) && p.Pattern == "" {
		return fmt.Errorf("probe.expect %q needs probe.pattern", e)
	}
	p.Expect = e
	return nil
}

// prober takes readings; file probes are confined to the workspace.
type prober struct {
	ws     *Workspace
	client *http.Client
}

func newProber(ws *Workspace) *prober {
	return &prober{ws: ws, client: &http.Client{Timeout: probeTimeout}}
}

// read takes one reading. Failures are recorded in the reading, never
// returned: a failed reading is evidence too.
func (pr *prober) read(ctx context.Context, p Probe) *Reading {
	r := &Reading{At: time.Now().UTC()}
	var err error
	switch {
	case len(p.Command) > 0:
		err = pr.readCommand(ctx, p, r)
	case p.File != "":
		err = pr.readFile(p, r)
	case p.URL != "":
		err = pr.readMetric(ctx, p, r)
	default:
		err = errors.New("probe has no command, file or url")
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// capWriter keeps the first n bytes written to it.
type capWriter struct {
	buf     bytes.Buffer
	n       int
	dropped int
}

func (w *capWriter) Write(p []byte) (int, error) {
	room := w.n - w.buf.Len()
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		w.buf.Write(p[:room])
	}
	w.dropped += len(p) - room
	return len(p), nil
}

func (pr *prober) readCommand(ctx context.Context, p Probe, r *Reading) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Command[0], p.Command[1:]...)
	cmd.Dir = pr.ws.Root()
	cmd.WaitDelay = time.Second
	out := &capWriter{n: probeOutputCap}
	cmd.Stdout = out
	cmd.Stderr = out
	runErr := cmd.Run()
	r.Raw = out.buf.String()
	if out.dropped > 0 {
		r.Note = fmt.Sprintf("output capped at %d bytes (%d dropped)", probeOutputCap, out.dropped)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("command %q: %w after %s", p.Command[0], ctx.Err(), probeTimeout)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		code := exit.ExitCode()
		r.ExitCode = &code
	case runErr != nil:
		return fmt.Errorf("command %q: %w", p.Command[0], runErr)
	default:
		code := 0
		r.ExitCode = &code
	}
	if p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return fmt.Errorf("probe.pattern: %w", err)
		}
		m := &matchCounter{re: re}
		m.line(r.Raw)
		m.finish(r)
		return nil
	}
	if v, ok := firstNumber(r.Raw); ok {
		r.Value = &v
	} else {
		r.Note = joinNote(r.Note, "output holds no number")
	}
	return nil
}

var numberRE = regexp.MustCompile(`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`)

func firstNumber(s string) (float64, bool) {
	m := numberRE.FindString(s)
	if m == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(m, 64)
	return v, err == nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// matchCounter counts regexp matches over lines and keeps the last match.
type matchCounter struct {
	re       *regexp.Regexp
	count    int
	last     string
	captured string
}

func (m *matchCounter) line(s string) {
	all := m.re.FindAllStringSubmatch(s, -1)
	if len(all) == 0 {
		return
	}
	m.count += len(all)
	m.last = s
	if len(all[len(all)-1]) > 1 {
		m.captured = all[len(all)-1][1]
	}
}

func (m *matchCounter) finish(r *Reading) {
	c := m.count
	r.Matches = &c
	if len(m.last) > rawCap {
		m.last = m.last[:rawCap]
	}
	if r.Raw == "" || len(r.Raw) > rawCap {
		r.Raw = fmt.Sprintf("%d matches of %q; last: %s", m.count, m.re.String(), m.last)
	}
	if m.re.NumSubexp() == 0 {
		v := float64(m.count)
		r.Value = &v
		return
	}
	if m.count == 0 {
		r.Note = joinNote(r.Note, "no match to capture a number from")
		return
	}
	if v, ok := firstNumber(m.captured); ok {
		r.Value = &v
	} else {
		r.Note = joinNote(r.Note, fmt.Sprintf("captured %q is not a number", m.captured))
	}
}

func (pr *prober) readFile(p Probe, r *Reading) error {
	path, err := pr.ws.Resolve(p.File)
	if err != nil {
		return fmt.Errorf("probe.file: %w", err)
	}
	re, err := regexp.Compile(p.Pattern)
	if err != nil {
		return fmt.Errorf("probe.pattern: %w", err)
	}
	m := &matchCounter{re: re}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		r.Note = "file does not exist (0 matches)"
		m.finish(r)
		return nil
	}
	if err != nil {
		return fmt.Errorf("probe.file: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			m.line(strings.TrimRight(line, "\r\n"))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("probe.file %s: %w", p.File, err)
		}
	}
	m.finish(r)
	return nil
}

func (pr *prober) readMetric(ctx context.Context, p Probe, r *Reading) error {
	name, labels, err := parseMetricSelector(p.Metric)
	if err != nil {
		return fmt.Errorf("probe.metric: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return fmt.Errorf("probe.url: %w", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := pr.client.Do(req)
	if err != nil {
		return fmt.Errorf("probe.url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe.url %s: HTTP %s", p.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, probeBodyCap))
	if err != nil {
		return fmt.Errorf("probe.url %s: %w", p.URL, err)
	}
	sum, n := 0.0, 0
	var raw strings.Builder
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s, ok := parseSample(line)
		if !ok || s.name != name || !labelsMatch(s.labels, labels) {
			continue
		}
		sum += s.value
		n++
		if raw.Len() < rawCap {
			raw.WriteString(line)
			raw.WriteByte('\n')
		}
	}
	r.Raw = raw.String()
	if n == 0 {
		r.Note = fmt.Sprintf("no sample of %s on the page (read as 0)", p.Metric)
	}
	r.Value = &sum
	return nil
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetricSelector parses `name` or `name{k="v",…}`.
func parseMetricSelector(s string) (string, map[string]string, error) {
	s = strings.TrimSpace(s)
	name, rest := splitName(s)
	if name == "" {
		return "", nil, fmt.Errorf("%q does not start with a metric name", s)
	}
	if rest == "" {
		return name, nil, nil
	}
	labels, rest, err := parseLabels(rest)
	if err != nil {
		return "", nil, fmt.Errorf("%q: %w", s, err)
	}
	if strings.TrimSpace(rest) != "" {
		return "", nil, fmt.Errorf("%q: unexpected %q after the labels", s, rest)
	}
	return name, labels, nil
}

func splitName(s string) (name, rest string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			i++
			continue
		}
		break
	}
	return s[:i], s[i:]
}

// parseLabels parses `{k="v",…}` at the start of s and returns the rest.
func parseLabels(s string) (map[string]string, string, error) {
	if s == "" || s[0] != '{' {
		return nil, s, nil
	}
	labels := map[string]string{}
	i := 1
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == ',') {
			i++
		}
		if i < len(s) && s[i] == '}' {
			return labels, s[i+1:], nil
		}
		key, rest := splitName(s[i:])
		if key == "" {
			return nil, "", errors.New("bad label name")
		}
		rest = strings.TrimLeft(rest, " ")
		i = len(s) - len(rest)
		if !strings.HasPrefix(rest, `="`) {
			return nil, "", fmt.Errorf("label %s: want =\"value\"", key)
		}
		i += 2
		var val strings.Builder
		for {
			if i >= len(s) {
				return nil, "", fmt.Errorf("label %s: unterminated value", key)
			}
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				switch s[i+1] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i+1])
				}
				i += 2
				continue
			}
			if c == '"' {
				i++
				break
			}
			val.WriteByte(c)
			i++
		}
		labels[key] = val.String()
	}
}

func parseSample(line string) (sample, bool) {
	name, rest := splitName(line)
	if name == "" {
		return sample{}, false
	}
	labels, rest, err := parseLabels(rest)
	if err != nil {
		return sample{}, false
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return sample{}, false
	}
	var v float64
	switch fields[0] {
	case "+Inf", "Inf":
		v = math.Inf(1)
	case "-Inf":
		v = math.Inf(-1)
	default:
		v, err = strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return sample{}, false
		}
	}
	return sample{name: name, labels: labels, value: v}, true
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// judge decides whether the change from before to after is the expected
// one, and says why in words that cite both readings.
func judge(expect string, before, after *Reading) (bool, string) {
	if after == nil {
		return false, "no reading after the fault"
	}
	if after.Error != "" {
		return false, "the reading after the fault failed: " + after.Error
	}
	if before != nil && before.Error != "" {
		return false, "the reading before the fault failed: " + before.Error
	}
	matched := func(r *Reading) bool { return r.Matches != nil && *r.Matches > 0 }
	switch expect {
	case ExpectMatches:
		if before != nil && matched(before) {
			return false, fmt.Sprintf("the pattern already matched before the fault (%s), so a match after it proves nothing", before)
		}
		if !matched(after) {
			return false, fmt.Sprintf("the pattern does not match after the fault (%s)", after)
		}
		return true, fmt.Sprintf("the pattern matches after the fault (%s) and did not before", after)
	case ExpectStopsMatching:
		if before == nil || !matched(before) {
			return false, "the pattern did not match before, so no longer matching proves nothing"
		}
		if matched(after) {
			return false, fmt.Sprintf("the pattern still matches (%s)", after)
		}
		return true, fmt.Sprintf("the pattern matched before (%s) and no longer does", before)
	case ExpectChanges:
		if before == nil {
			return false, "no reading before the fault to compare with"
		}
		if before.Value != nil && after.Value != nil {
			if *before.Value != *after.Value {
				return true, fmt.Sprintf("value changed from %s to %s", fnum(*before.Value), fnum(*after.Value))
			}
			return false, fmt.Sprintf("value unchanged at %s", fnum(*after.Value))
		}
		if before.Raw != after.Raw {
			return true, "output changed"
		}
		return false, "output unchanged"
	}
	if after.Value == nil {
		return false, "the reading after the fault holds no number: " + noteOr(after)
	}
	a := *after.Value
	switch expect {
	case ExpectBecomesZero:
		if a != 0 {
			return false, fmt.Sprintf("value is %s after the fault, not 0", fnum(a))
		}
		if before != nil && before.Value != nil && *before.Value == 0 {
			return false, "value was already 0 before the fault"
		}
		return true, fmt.Sprintf("value became 0 (before: %s)", before)
	case ExpectBecomesNonzero:
		if a == 0 {
			return false, "value is still 0 after the fault"
		}
		if before == nil || before.Value == nil {
			return false, "no number before the fault to compare with"
		}
		if *before.Value != 0 {
			return false, fmt.Sprintf("value was already nonzero (%s) before the fault", fnum(*before.Value))
		}
		return true, fmt.Sprintf("value became %s (was 0)", fnum(a))
	}
	if before == nil || before.Value == nil {
		return false, "no number before the fault to compare with"
	}
	b := *before.Value
	switch expect {
	case ExpectIncreases:
		if a > b {
			return true, fmt.Sprintf("value increased from %s to %s", fnum(b), fnum(a))
		}
		return false, fmt.Sprintf("value did not increase (%s before, %s after)", fnum(b), fnum(a))
	case ExpectDecreases:
		if a < b {
			return true, fmt.Sprintf("value decreased from %s to %s", fnum(b), fnum(a))
		}
		return false, fmt.Sprintf("value did not decrease (%s before, %s after)", fnum(b), fnum(a))
	}
	return false, fmt.Sprintf("unknown expectation %q", expect)
}

func noteOr(r *Reading) string {
	if r.Note != "" {
		return r.Note
	}
	return "no number found"
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
