package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"

	"github.com/falsify-dev/falsify/plan"
)

// Capability statuses.
const (
	CapPresent    = "present"     // probed and usable
	CapMissing    = "missing"     // probed and absent
	CapBelowFloor = "below-floor" // present, but older than the plan's version floor
	CapUnknown    = "unknown"     // nothing falsify can probe was recognised; the agent must confirm
)

// CapabilityRow is one row of a session's environment capability matrix:
// a §6b requirement of the plan, or what a scenario's fault kinds need,
// probed for real on this host.
type CapabilityRow struct {
	Requirement  string   `json:"requirement"`
	VersionFloor string   `json:"version_floor,omitempty"`
	Status       string   `json:"status"`            // CapPresent, CapMissing, CapBelowFloor or CapUnknown
	Version      string   `json:"version,omitempty"` // the version found, when one was read
	Detected     string   `json:"detected"`          // how falsify probed it, with what it measured
	InstallHint  string   `json:"install_hint,omitempty"`
	UsedBy       []string `json:"used_by"`
	Source       string   `json:"source"` // "§6b" or "faults of S1, S2"
	// Optional marks a row that does not block its scenarios when missing
	// (an alternative exists, named in Detected).
	Optional bool `json:"optional,omitempty"`
	// Failed lists the probes that failed, for a missing row.
	Failed []string `json:"failed,omitempty"`
}

// Missing reports whether the row blocks the scenarios that use it.
func (r CapabilityRow) Missing() bool {
	return !r.Optional && (r.Status == CapMissing || r.Status == CapBelowFloor)
}

// Capability probe limits.
const (
	versionTimeout = 5 * time.Second
	dialTimeout    = 1500 * time.Millisecond
)

// knownTools maps a tool name that may appear in a requirement to the argv
// that prints its version. Only these (and backquoted `<tool> --version`
// commands) are ever executed: a requirement's other words are looked up
// on PATH, never run.
var knownTools = map[string][]string{
	"go": {"go", "version"}, "docker": {"docker", "--version"}, "podman": {"podman", "--version"},
	"iptables": {"iptables", "--version"}, "ip6tables": {"ip6tables", "--version"}, "nft": {"nft", "--version"},
	"tc": {"tc", "-V"}, "ip": {"ip", "-V"}, "java": {"java", "-version"}, "lein": {"lein", "--version"},
	"clojure": {"clojure", "--version"}, "python3": {"python3", "--version"}, "python": {"python", "--version"},
	"node": {"node", "--version"}, "cargo": {"cargo", "--version"}, "rustc": {"rustc", "--version"},
	"make": {"make", "--version"}, "git": {"git", "--version"}, "kubectl": {"kubectl", "version", "--client"},
	"helm": {"helm", "version"}, "etcd": {"etcd", "--version"}, "etcdctl": {"etcdctl", "version"},
	"prometheus": {"prometheus", "--version"}, "toxiproxy-server": {"toxiproxy-server", "--version"},
	"toxiproxy-cli": {"toxiproxy-cli", "--version"}, "faketime": {"faketime", "--version"},
	"stress-ng": {"stress-ng", "--version"}, "psql": {"psql", "--version"}, "postgres": {"postgres", "--version"},
	"redis-server": {"redis-server", "--version"}, "redis-cli": {"redis-cli", "--version"},
	"mysql": {"mysql", "--version"}, "curl": {"curl", "--version"}, "jq": {"jq", "--version"},
	"ssh": {"ssh", "-V"}, "sh": nil, "bash": {"bash", "--version"}, "pumba": {"pumba", "--version"},
	"terraform": {"terraform", "version"}, "ansible": {"ansible", "--version"}, "gcc": {"gcc", "--version"},
	"zookeeper": nil, "kafka": nil, "mongod": {"mongod", "--version"}, "cockroach": {"cockroach", "version"},
}

// toolAliases maps words of a requirement to the tool they mean.
var toolAliases = map[string]string{
	"golang": "go", "postgresql": "psql", "redis": "redis-server", "toxiproxy": "toxiproxy-server",
	"nftables": "nft", "leiningen": "lein", "jdk": "java", "jvm": "java", "kubernetes": "kubectl",
	"k8s": "kubectl", "rust": "cargo", "nodejs": "node", "python": "python3",
}

// defaultPorts are the ports of services a requirement may name without
// a port.
var defaultPorts = map[string]int{
	"postgresql": 5432, "postgres": 5432, "redis": 6379, "mysql": 3306, "etcd": 2379,
	"zookeeper": 2181, "kafka": 9092, "prometheus": 9090, "mongodb": 27017, "toxiproxy": 8474,
}

var (
	hostPortRE  = regexp.MustCompile(`(?i)(?:\b((?:[a-z0-9-]+\.)*[a-z0-9-]+|\[[0-9a-f:]+\]))?:(\d{2,5})\b`)
	portWordRE  = regexp.MustCompile(`(?i)\bport\s+(\d{2,5})\b`)
	backquoteRE = regexp.MustCompile("`([^`]+)`")
	versionRE   = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)
	wordRE      = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_+.-]*`)
	versionArgs = map[string]bool{"--version": true, "version": true, "-version": true, "-V": true}
)

// capProber probes capabilities; its fields are seams for tests that need
// a different PATH or workspace, never fakes of the probes themselves.
type capProber struct {
	root string // the workspace, searched for built binaries
}

// ProbeCapabilities builds the capability matrix of a plan on this host:
// one row per §6b requirement, probed for real — a tool on PATH (or built
// into the workspace's bin/, build/ or dist/) and its version compared with
// the floor, a service port answering a TCP dial, kernel features (root,
// nftables, tc netem, libfaketime, a writable cgroup v2, /dev/fuse, the
// kernel release) — plus a row per fault family the scenarios' Faults
// fields name that needs a host feature. A requirement naming nothing
// falsify can probe is CapUnknown, never assumed present or missing.
func ProbeCapabilities(ctx context.Context, p *plan.Plan, root string) []CapabilityRow {
	pr := &capProber{root: root}
	rows := make([]CapabilityRow, 0, len(p.Environment)+3)
	for _, req := range p.Environment {
		if err := ctx.Err(); err != nil {
			break
		}
		row := pr.requirement(ctx, req)
		rows = append(rows, row)
	}
	rows = append(rows, pr.faultRows(ctx, p)...)
	return rows
}

// check is one probe of a requirement.
type check struct {
	ok       bool
	decisive bool   // the requirement's status follows it
	version  string // version read, if any
	what     string // what was measured
}

// requirement probes one §6b row.
func (pr *capProber) requirement(ctx context.Context, req plan.Requirement) CapabilityRow {
	row := CapabilityRow{
		Requirement: strings.TrimSpace(req.Requirement), VersionFloor: cleanFloor(req.VersionFloor),
		InstallHint: strings.TrimSpace(req.InstallHint), UsedBy: append([]string{}, req.UsedBy...), Source: "§6b",
	}
	text := row.Requirement
	lower := strings.ToLower(text)
	floor := strings.ToLower(row.VersionFloor)

	var checks []check
	kernelFloor := strings.Contains(floor, "kernel") || strings.Contains(floor, "linux")
	// Service ports decide for a service requirement.
	for _, hp := range portsIn(text) {
		checks = append(checks, dialCheck(ctx, hp))
	}
	// Kernel features.
	checks = append(checks, kernelChecks(ctx, lower)...)
	if kernelFloor || strings.Contains(lower, "kernel") {
		checks = append(checks, kernelRelease())
	}
	// Tools: backquoted version commands, known tools, then a command-like
	// first word looked up on PATH only. For a service requirement ("Redis
	// on :6379") the port decides and the tool is reported only.
	hasPort := len(portsIn(text)) > 0
	for _, t := range pr.toolsIn(text, len(checks) > 0) {
		c := pr.toolCheck(ctx, t)
		if hasPort {
			c.decisive = false
			c.what += " (informational: the port decides)"
		}
		checks = append(checks, c)
	}

	var decisive []check
	for _, c := range checks {
		if c.decisive {
			decisive = append(decisive, c)
		}
	}
	var what []string
	for _, c := range checks {
		what = append(what, c.what)
	}
	row.Detected = strings.Join(what, "; ")
	switch {
	case len(decisive) == 0:
		row.Status = CapUnknown
		if row.Detected == "" {
			row.Detected = "nothing probeable recognised (no tool, port or kernel feature named): confirm it by hand"
		}
		return row
	default:
		row.Status = CapPresent
		for _, c := range decisive {
			if !c.ok {
				row.Status = CapMissing
				row.Failed = append(row.Failed, c.what)
			}
		}
	}
	// Version floor: the kernel release for a kernel floor, else the first
	// decisive check that read a version.
	if row.Status == CapPresent && row.VersionFloor != "" {
		want, isVersion := parseVersion(row.VersionFloor)
		var got string
		for _, c := range append(decisive, checks...) {
			if c.version != "" && (!kernelFloor || strings.HasPrefix(c.what, "kernel")) {
				got = c.version
				break
			}
		}
		row.Version = got
		switch {
		case !isVersion:
			row.Detected += fmt.Sprintf("; floor %q is not a version number: not compared", row.VersionFloor)
		case got == "":
			row.Detected += "; no version read: floor not compared"
		default:
			have, _ := parseVersion(got)
			if compareVersions(have, want) < 0 {
				row.Status = CapBelowFloor
				row.Failed = append(row.Failed, fmt.Sprintf("version %s is below the floor %s", got, row.VersionFloor))
				row.Detected += fmt.Sprintf("; version %s is below the floor %s", got, row.VersionFloor)
			} else {
				row.Detected += fmt.Sprintf("; version %s meets the floor %s", got, row.VersionFloor)
			}
		}
	} else {
		for _, c := range append(decisive, checks...) {
			if c.version != "" {
				row.Version = c.version
				break
			}
		}
	}
	return row
}

// cleanFloor blanks the placeholders a plan uses for "no floor".
func cleanFloor(s string) string {
	s = strings.TrimSpace(s)
	switch strings.ToLower(strings.Trim(s, "*_` ")) {
	case "", "-", "—", "–", "n/a", "na", "none", "any":
		return ""
	}
	return s
}

// hostPort is a service address named by a requirement.
type hostPort struct{ host, port string }

// portsIn returns the service addresses a requirement names: host:port,
// ":port", "port N", or a well-known service name with its default port.
func portsIn(text string) []hostPort {
	var out []hostPort
	seen := map[string]bool{}
	add := func(h, p string) {
		if h == "" {
			h = "localhost"
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 || seen[h+":"+p] {
			return
		}
		seen[h+":"+p] = true
		out = append(out, hostPort{h, p})
	}
	for _, m := range hostPortRE.FindAllStringSubmatchIndex(text, -1) {
		host := ""
		if m[2] >= 0 {
			host = text[m[2]:m[3]]
		}
		port := text[m[4]:m[5]]
		// "kernel 5.10" or "1.22:" are not ports; a host part must not be
		// a bare number or a URL scheme.
		if host != "" && (isDigits(host) || strings.EqualFold(host, "http") || strings.EqualFold(host, "https")) {
			continue
		}
		add(host, port)
	}
	for _, m := range portWordRE.FindAllStringSubmatch(text, -1) {
		add("", m[1])
	}
	if len(out) == 0 {
		lower := strings.ToLower(text)
		for _, w := range wordRE.FindAllString(lower, -1) {
			if p, ok := defaultPorts[w]; ok && strings.Contains(lower, " on ") {
				add("", strconv.Itoa(p))
			}
		}
	}
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// dialCheck reports whether a TCP service answers.
func dialCheck(ctx context.Context, hp hostPort) check {
	addr := net.JoinHostPort(strings.Trim(hp.host, "[]"), hp.port)
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return check{decisive: true, what: fmt.Sprintf("TCP dial %s: %s", addr, shortErr(err))}
	}
	c.Close()
	return check{ok: true, decisive: true, what: fmt.Sprintf("TCP dial %s answered", addr)}
}

func shortErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// kernelChecks probes the kernel features a requirement names.
func kernelChecks(ctx context.Context, lower string) []check {
	var out []check
	has := func(words ...string) bool {
		for _, w := range words {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(w) + `\b`).MatchString(lower) {
				return true
			}
		}
		return false
	}
	if has("root", "cap_net_admin", "privileged", "sudo") {
		out = append(out, rootCheck())
	}
	if has("nftables", "nft") {
		out = append(out, nftCheck(ctx))
	}
	if has("netem", "tc/netem", "sch_netem") {
		out = append(out, moduleCheck("sch_netem", "tc netem"))
	}
	if has("faketime", "libfaketime") {
		out = append(out, faketimeCheck())
	}
	if has("cgroup", "cgroups", "cgroup v2", "cgroupv2") {
		out = append(out, cgroupCheck())
	}
	if has("fuse", "/dev/fuse") {
		out = append(out, fuseCheck())
	}
	return out
}

func rootCheck() check {
	uid := os.Geteuid()
	return check{ok: uid == 0, decisive: true, what: fmt.Sprintf("effective uid %d (root needed)", uid)}
}

// nftCheck lists nftables tables with the nft tool, or over netlink when
// the tool is absent (falsify's own nemesis speaks netlink): either needs
// the nf_tables module and CAP_NET_ADMIN.
func nftCheck(ctx context.Context) check {
	bin, err := exec.LookPath("nft")
	if err != nil {
		conn, err := nftables.New()
		if err == nil {
			_, err = conn.ListTablesOfFamily(nftables.TableFamilyINet)
		}
		if err != nil {
			return check{decisive: true, what: "nft not on PATH, and listing nftables tables over netlink failed: " + err.Error()}
		}
		return check{ok: true, decisive: true, what: "nft not on PATH; listed nftables tables over netlink"}
	}
	out, err := runCapped(ctx, []string{bin, "list", "tables"})
	if err != nil {
		return check{decisive: true, what: fmt.Sprintf("`nft list tables` failed: %s", firstLine(out, err))}
	}
	return check{ok: true, decisive: true, what: "`nft list tables` succeeded"}
}

// moduleCheck reports whether a kernel module is loaded, built in, or
// installed for the running kernel.
func moduleCheck(mod, what string) check {
	if _, err := os.Stat("/sys/module/" + mod); err == nil {
		return check{ok: true, decisive: true, what: fmt.Sprintf("%s: module %s loaded (/sys/module/%s)", what, mod, mod)}
	}
	rel := kernelReleaseString()
	if rel != "" {
		if b, err := os.ReadFile("/lib/modules/" + rel + "/modules.builtin"); err == nil && bytes.Contains(b, []byte("/"+mod+".ko")) {
			return check{ok: true, decisive: true, what: fmt.Sprintf("%s: %s built into kernel %s", what, mod, rel)}
		}
		if b, err := os.ReadFile("/lib/modules/" + rel + "/modules.dep"); err == nil && bytes.Contains(b, []byte("/"+mod+".ko")) {
			return check{ok: true, decisive: true, what: fmt.Sprintf("%s: module %s installed for kernel %s (not loaded)", what, mod, rel)}
		}
	}
	return check{decisive: true, what: fmt.Sprintf("%s: module %s neither loaded nor listed for kernel %s", what, mod, unknownIfEmpty(rel))}
}

// faketimeLibs are where libfaketime is commonly installed.
var faketimeLibs = []string{
	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/faketime/libfaketime.so.1", "/usr/local/lib/faketime/libfaketime.so.1",
	"/usr/lib64/faketime/libfaketime.so.1", "/usr/local/lib/libfaketime.so.1",
}

func faketimeCheck() check {
	for _, p := range faketimeLibs {
		if _, err := os.Stat(p); err == nil {
			return check{ok: true, decisive: true, what: "libfaketime at " + p}
		}
	}
	return check{decisive: true, what: "libfaketime.so.1 not found in the usual library paths"}
}

// cgroupCheck reports whether a cgroup v2 hierarchy is mounted and
// writable.
func cgroupCheck() check {
	const root = "/sys/fs/cgroup"
	b, err := os.ReadFile(root + "/cgroup.controllers")
	if err != nil {
		return check{decisive: true, what: "no cgroup v2 hierarchy at " + root}
	}
	if syscall.Access(root, 2 /* W_OK */) != nil {
		return check{decisive: true, what: fmt.Sprintf("cgroup v2 at %s (controllers: %s) is not writable", root, strings.TrimSpace(string(b)))}
	}
	return check{ok: true, decisive: true, what: fmt.Sprintf("cgroup v2 at %s writable (controllers: %s)", root, strings.TrimSpace(string(b)))}
}

func fuseCheck() check {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return check{decisive: true, what: "/dev/fuse: " + shortPathErr(err)}
	}
	f.Close()
	return check{ok: true, decisive: true, what: "/dev/fuse opened read-write"}
}

func shortPathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func kernelReleaseString() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// kernelRelease reads the running kernel's release.
func kernelRelease() check {
	rel := kernelReleaseString()
	if rel == "" {
		return check{decisive: true, what: "kernel release unreadable (/proc/sys/kernel/osrelease): not Linux?"}
	}
	v := versionRE.FindString(rel)
	return check{ok: true, decisive: true, version: v, what: "kernel " + rel}
}

// tool is a tool a requirement names.
type tool struct {
	name    string
	argv    []string // version command; nil when the tool must not be run
	guessed bool     // a command-like word, not a known tool: presence only
}

// toolsIn returns the tools a requirement names. A backquoted
// "<tool> --version" is run as written; known tools are run with their
// version argv; when nothing else is recognised the first command-like
// word is looked up on PATH (never run).
func (pr *capProber) toolsIn(text string, hasOther bool) []tool {
	var out []tool
	seen := map[string]bool{}
	for _, m := range backquoteRE.FindAllStringSubmatch(text, -1) {
		f := strings.Fields(m[1])
		if len(f) == 0 || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		switch {
		case len(f) >= 2 && versionArgs[f[1]]:
			out = append(out, tool{name: f[0], argv: f})
		case knownTools[f[0]] != nil:
			out = append(out, tool{name: f[0], argv: knownTools[f[0]]})
		default:
			out = append(out, tool{name: f[0], guessed: true})
		}
	}
	for _, w := range wordRE.FindAllString(strings.ToLower(strings.ReplaceAll(text, "/", " ")), -1) {
		w = strings.TrimRight(w, ".")
		name := w
		if a, ok := toolAliases[w]; ok {
			name = a
		}
		argv, known := knownTools[name]
		if !known || seen[name] {
			continue
		}
		// "Linux with iptables and tc/netem": tc is the netem tool.
		seen[name] = true
		out = append(out, tool{name: name, argv: argv})
	}
	if len(out) == 0 && !hasOther {
		words := wordRE.FindAllString(text, -1)
		if len(words) > 0 {
			w := words[0]
			if w == strings.ToLower(w) || strings.Contains(strings.ToLower(text), strings.ToLower(w)+" binar") {
				out = append(out, tool{name: strings.ToLower(w), guessed: true})
			}
		}
	}
	return out
}

// toolCheck looks a tool up (PATH, then the workspace's build folders) and
// reads its version.
func (pr *capProber) toolCheck(ctx context.Context, t tool) check {
	bin, where := pr.lookTool(t.name)
	if bin == "" {
		if t.guessed {
			// A guess from the requirement's first word decides nothing
			// when it is absent: the binary may have another name.
			return check{what: fmt.Sprintf("%s not on PATH%s (a guess from the requirement's words: name the binary in backquotes, e.g. `%s --version`, to make the probe decisive)", t.name, where, t.name)}
		}
		return check{decisive: true, what: fmt.Sprintf("%s not on PATH%s", t.name, where)}
	}
	c := check{ok: true, decisive: true, what: fmt.Sprintf("%s at %s", t.name, bin)}
	if len(t.argv) == 0 || t.guessed {
		if t.guessed {
			c.what += " (version not read: not a known tool)"
		}
		return c
	}
	argv := append([]string{bin}, t.argv[1:]...)
	out, err := runCapped(ctx, argv)
	v := versionRE.FindString(out)
	switch {
	case v != "":
		c.version = v
		c.what += fmt.Sprintf(", `%s %s` → %s", t.name, strings.Join(t.argv[1:], " "), v)
	case err != nil:
		c.what += fmt.Sprintf(", `%s %s` failed: %s", t.name, strings.Join(t.argv[1:], " "), firstLine(out, err))
	default:
		c.what += fmt.Sprintf(", `%s %s` printed no version", t.name, strings.Join(t.argv[1:], " "))
	}
	return c
}

// lookTool finds a tool on PATH or among the workspace's built binaries;
// where says what else was searched when it is not found.
func (pr *capProber) lookTool(name string) (string, string) {
	if strings.ContainsAny(name, `/\`) || name == "" || strings.HasPrefix(name, "-") {
		return "", " (not a command name)"
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	if pr.root == "" {
		return "", ""
	}
	dirs := []string{"bin", "build", "dist", "out", filepath.Join("target", "release"), "."}
	for _, d := range dirs {
		p := filepath.Join(pr.root, d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, ""
		}
	}
	return "", " nor in the workspace's bin/, build/, dist/, out/, target/release/"
}

// runCapped runs argv with the version timeout and returns its combined
// output (capped).
func runCapped(ctx context.Context, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	out := &capWriter{n: 16 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Stdin = nil
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", versionTimeout)
	}
	return out.buf.String(), err
}

func firstLine(out string, err error) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if line == "" && err != nil {
		return err.Error()
	}
	if err != nil {
		return line + " (" + err.Error() + ")"
	}
	return line
}

// parseVersion reads the first dotted version number in s.
func parseVersion(s string) ([]int, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	var v []int
	for _, part := range m[1:] {
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// compareVersions compares dotted versions numerically; missing parts are
// zero.
func compareVersions(a, b []int) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// faultFamily is a fault family whose injection needs a host feature.
type faultFamily struct {
	requirement string
	words       *regexp.Regexp
	optional    bool   // an alternative needs nothing (named in alt)
	alt         string // the alternative
	probe       func(ctx context.Context) []check
	hint        string
}

var faultFamilies = []faultFamily{
	{
		requirement: "network faults in the kernel (root + nftables, tc netem)",
		words:       regexp.MustCompile(`(?i)\b(partition|partitions|partitioned|packet loss|latency|delay|netem|iptables|nftables|bandwidth|split[- ]brain|drop)\b`),
		optional:    true,
		alt:         "falsify's embedded proxy injects partitions, latency, bandwidth caps and resets on a registered address without root",
		probe: func(ctx context.Context) []check {
			return []check{rootCheck(), nftCheck(ctx), moduleCheck("sch_netem", "tc netem")}
		},
		hint: "run falsify as root (CAP_NET_ADMIN) with nf_tables and sch_netem available, or front the service with the proxy (register_target address)",
	},
	{
		requirement: "clock faults (libfaketime)",
		words:       regexp.MustCompile(`(?i)\b(clock|skew|time jump|ntp|faketime|slow clock)\b`),
		probe:       func(context.Context) []check { return []check{faketimeCheck()} },
		hint:        "apt-get install -y faketime (Debian/Ubuntu) or dnf install libfaketime",
	},
	{
		requirement: "disk I/O faults (writable cgroup v2 io controller or /dev/fuse)",
		words:       regexp.MustCompile(`(?i)\b(slow disk|disk latency|io latency|i/o latency|eio|io error|i/o error|bit ?flips?|torn writes?)\b`),
		probe: func(context.Context) []check {
			c, f := cgroupCheck(), fuseCheck()
			// Either one suffices.
			return []check{{ok: c.ok || f.ok, decisive: true, what: c.what + "; " + f.what}}
		},
		hint: "run falsify with a writable cgroup v2 subtree, or load fuse (modprobe fuse / --device /dev/fuse)",
	},
}

// faultRows probes what the fault families named by the scenarios'
// Faults fields need.
func (pr *capProber) faultRows(ctx context.Context, p *plan.Plan) []CapabilityRow {
	var rows []CapabilityRow
	for _, fam := range faultFamilies {
		var used []string
		for _, s := range p.Scenarios {
			if fam.words.MatchString(s.Faults) {
				used = append(used, s.ID)
			}
		}
		if len(used) == 0 {
			continue
		}
		row := CapabilityRow{Requirement: fam.requirement, UsedBy: used, Source: "faults of " + strings.Join(used, ", "),
			Optional: fam.optional, InstallHint: fam.hint, Status: CapPresent}
		var what []string
		for _, c := range fam.probe(ctx) {
			what = append(what, c.what)
			if !c.ok {
				row.Status = CapMissing
				row.Failed = append(row.Failed, c.what)
			}
		}
		row.Detected = strings.Join(what, "; ")
		if fam.optional && row.Status == CapMissing {
			row.Detected += "; not blocking: " + fam.alt
		}
		rows = append(rows, row)
	}
	return rows
}

// missingCapabilities returns, for a scenario or arm, every blocking
// capability row that is missing, each as "<requirement> (<what was
// measured>)". A row used by S4 applies to its arms S4/api…; a row used by
// an arm applies to that arm only.
func missingCapabilities(rows []CapabilityRow, scenario string) []string {
	sid, _, _ := strings.Cut(scenario, "/")
	var out []string
	for _, r := range rows {
		if !r.Missing() {
			continue
		}
		for _, u := range r.UsedBy {
			if strings.EqualFold(u, scenario) || strings.EqualFold(u, sid) {
				why := r.Status
				if len(r.Failed) > 0 {
					why = strings.Join(r.Failed, "; ")
				}
				out = append(out, fmt.Sprintf("%s (%s)", r.Requirement, why))
				break
			}
		}
	}
	return out
}

// renderCapabilities writes the capability matrix as a Markdown section
// body.
func renderCapabilities(b *bytes.Buffer, rows []CapabilityRow, probed bool) {
	if !probed {
		b.WriteString("The environment has not been probed for this session.\n\n")
		return
	}
	if len(rows) == 0 {
		b.WriteString("The plan's §6b lists no requirement and no scenario names a fault that needs a host feature.\n\n")
		return
	}
	b.WriteString("| Requirement | Present? | Version | Floor | How detected | Install hint | Used by |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		status := r.Status
		if r.Optional && r.Status == CapMissing {
			status += " (optional)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", findingCell(r.Requirement), status,
			findingCell(verdictText(r.Version)), findingCell(verdictText(r.VersionFloor)), findingCell(r.Detected),
			findingCell(verdictText(r.InstallHint)), findingCell(verdictText(strings.Join(r.UsedBy, ", "))))
	}
	b.WriteString("\n")
}

// Environment is what a session found before any run: the SUT repo's
// toolbox, the capability matrix of this host for the plan, and the
// preconditions of execution. The latest discovery of a session wins.
type Environment struct {
	Toolbox       *Toolbox        `json:"toolbox"`
	Capabilities  []CapabilityRow `json:"capabilities"`
	Preconditions []Precondition  `json:"preconditions"`
	ProbedAt      time.Time       `json:"probed_at"`
}

// Precondition is one condition of execution and whether it holds.
type Precondition struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Missing returns the blocking capabilities a scenario or arm lacks, each
// with a one-line reason; nil when it lacks none.
func (e *Environment) Missing(scenario string) []string {
	if e == nil {
		return nil
	}
	return missingCapabilities(e.Capabilities, scenario)
}

const (
	factEnvironment = "environment-discovered"
	environmentName = "environment.json" // derived from the journal, like session-log.md
)

// DiscoverEnvironment scans the workspace (the SUT repo) for its toolbox,
// probes the capabilities the plan's §6b and its fault kinds need, checks
// the preconditions of execution, journals the result, writes
// environment.json and the toolbox, capability and precondition sections
// of session-log.md, and returns it. Call it at start_session, before any
// run, and again after the user installed what was missing: the latest
// discovery is the one verdicts read.
func (m *Manager) DiscoverEnvironment(ctx context.Context, sessionID string) (*Environment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := m.session(sessionID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	info := *s.snapshot()
	s.mu.Unlock()
	_, p, src, err := m.loadPlan(info.Plan)
	if err != nil {
		return nil, err
	}
	tb, err := DiscoverToolbox(ctx, m.ws.Root(), ToolboxOptions{})
	if err != nil {
		return nil, err
	}
	env := &Environment{Toolbox: tb, Capabilities: ProbeCapabilities(ctx, p, m.ws.Root())}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	env.Preconditions = preconditions(p, &info, sha256Hex(src), env)
	env.ProbedAt = m.now().UTC()

	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.j.Append(factEnvironment, env)
	if err != nil {
		return nil, err
	}
	s.log(f.Time, environmentLine(env))
	if err := s.saveEnvironment(env); err != nil {
		return nil, err
	}
	if err := s.writeLogWithExtras(env, nil); err != nil {
		return nil, err
	}
	return env, nil
}

// Environment returns the session's latest discovered environment, or nil
// when none was discovered.
func (m *Manager) Environment(sessionID string) (*Environment, error) {
	s, err := m.session(sessionID)
	if err != nil {
		return nil, err
	}
	return s.environment()
}

// environmentLine is the timeline entry of a discovery.
func environmentLine(env *Environment) string {
	counts := map[string]int{}
	var blocking []string
	for _, r := range env.Capabilities {
		counts[r.Status]++
		if r.Missing() {
			blocking = append(blocking, r.Requirement)
		}
	}
	line := fmt.Sprintf("environment discovered: %d toolbox item(s); capabilities %d present, %d missing, %d below floor, %d unknown",
		len(env.Toolbox.Items), counts[CapPresent], counts[CapMissing], counts[CapBelowFloor], counts[CapUnknown])
	if len(blocking) > 0 {
		line += "; blocking: " + strings.Join(blocking, "; ")
	}
	return line
}

// saveEnvironment writes environment.json; the caller holds s.mu.
func (s *session) saveEnvironment(env *Environment) error {
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	return s.m.ws.WriteFileAtomic(s.dir(environmentName), b)
}

// environment reads environment.json; nil when the session has none.
func (s *session) environment() (*Environment, error) {
	b, err := s.m.ws.ReadFile(s.dir(environmentName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var env Environment
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", s.dir(environmentName), err)
	}
	return &env, nil
}

// missingFor returns the blocking capabilities a scenario or arm lacks in
// the session's latest discovered environment, each with a one-line
// reason (for Facts.EnvMissing); nil when the environment was never
// discovered or lacks nothing. Manager.envMissing gates it for Facts: a
// scenario with a checked run evidently could start.
func (s *session) missingFor(scenario string) []string {
	env, err := s.environment()
	if err != nil {
		return []string{"environment.json unreadable: " + err.Error()}
	}
	return env.Missing(scenario)
}

// preconditions checks what must hold before the plan runs.
func preconditions(p *plan.Plan, info *SessionInfo, planSHA string, env *Environment) []Precondition {
	var out []Precondition
	// Lint.
	diags := plan.Lint(p)
	var errs []string
	warns := 0
	for _, d := range diags {
		switch d.Severity {
		case plan.SeverityError:
			where := d.Section
			if d.ID != "" {
				where += " " + d.ID
			}
			errs = append(errs, fmt.Sprintf("§%s: %s", strings.TrimSpace(where), d.Message))
		default:
			warns++
		}
	}
	pc := Precondition{Check: "the plan lints clean", OK: len(errs) == 0}
	if pc.OK {
		pc.Detail = fmt.Sprintf("no lint error (%d warning(s))", warns)
	} else {
		pc.Detail = fmt.Sprintf("%d lint error(s); start_run refuses the scenarios they name: %s", len(errs), strings.Join(errs, "; "))
	}
	out = append(out, pc)
	// Plan unchanged.
	pc = Precondition{Check: "the plan is the one the session started on", OK: planSHA == info.PlanSHA256}
	if pc.OK {
		pc.Detail = "sha256 " + short(planSHA)
	} else {
		pc.Detail = fmt.Sprintf("the plan changed since the session started (sha256 %s, now %s): runs read the current plan", short(info.PlanSHA256), short(planSHA))
	}
	out = append(out, pc)
	// Oracles.
	var vague []string
	for _, sc := range p.Scenarios {
		if ok, why := plan.MachineCheckable(sc.Oracle); !ok && len(sc.Arms) == 0 {
			vague = append(vague, fmt.Sprintf("%s (%s)", sc.ID, why))
		}
		for _, a := range sc.Arms {
			o := a.Oracle
			if noText(o) {
				o = sc.Oracle
			}
			if ok, why := plan.MachineCheckable(o); !ok {
				vague = append(vague, fmt.Sprintf("%s (%s)", a.ID, why))
			}
		}
	}
	pc = Precondition{Check: "every scenario has a machine-checkable oracle", OK: len(vague) == 0, Detail: "yes"}
	if len(vague) > 0 {
		pc.Detail = "refused until the plan is fixed: " + strings.Join(vague, "; ")
	}
	out = append(out, pc)
	// Commit.
	pc = Precondition{Check: "the commit under test is recorded", OK: info.Commit != "", Detail: unknownIfEmpty(info.Commit)}
	if !pc.OK {
		pc.Detail = "the workspace has no readable .git HEAD: record the build under test in the session notes"
	}
	out = append(out, pc)
	// Capabilities.
	var blocking, unknown, optional []string
	present := 0
	for _, r := range env.Capabilities {
		switch {
		case r.Missing():
			blocking = append(blocking, fmt.Sprintf("%s for %s (%s)", r.Requirement, strings.Join(r.UsedBy, ", "), r.Status))
		case r.Status == CapUnknown:
			unknown = append(unknown, r.Requirement)
		case r.Status == CapPresent:
			present++
		default:
			optional = append(optional, r.Requirement)
		}
	}
	pc = Precondition{Check: "the capabilities the scenarios need are present", OK: len(blocking) == 0}
	switch {
	case len(blocking) > 0:
		pc.Detail = "missing (those scenarios get INCONCLUSIVE-env until provided; ask the user before installing anything): " + strings.Join(blocking, "; ")
	default:
		pc.Detail = fmt.Sprintf("%d requirement(s) probed present", present)
	}
	if len(optional) > 0 {
		pc.Detail += "; missing but not blocking (an alternative exists): " + strings.Join(optional, "; ")
	}
	if len(unknown) > 0 {
		pc.Detail += "; not probeable, confirm by hand: " + strings.Join(unknown, "; ")
	}
	out = append(out, pc)
	// Toolbox.
	pc = Precondition{Check: "the SUT repo's toolbox was discovered", OK: env.Toolbox != nil && env.Toolbox.Truncated == ""}
	if env.Toolbox != nil {
		pc.Detail = fmt.Sprintf("%d item(s) in %d files", len(env.Toolbox.Items), env.Toolbox.Scanned)
		if env.Toolbox.Truncated != "" {
			pc.Detail += "; " + env.Toolbox.Truncated
		}
	}
	out = append(out, pc)
	return out
}

// renderPreconditions writes the preconditions as a Markdown list.
func renderPreconditions(b *bytes.Buffer, pcs []Precondition) {
	if len(pcs) == 0 {
		b.WriteString("No precondition was checked.\n\n")
		return
	}
	for _, pc := range pcs {
		mark := "holds"
		if !pc.OK {
			mark = "**does not hold**"
		}
		fmt.Fprintf(b, "- %s: %s — %s\n", findingLine(pc.Check), mark, findingLine(pc.Detail))
	}
	b.WriteString("\n")
}

// writeEnvironmentLog writes the toolbox, capability and precondition
// sections of session-log.md from environment.json; the caller holds s.mu.
// session.writeLog calls it after the header so that every rewrite of the
// log keeps them.
func (s *session) writeEnvironmentLog(b *bytes.Buffer) {
	env, err := s.environment()
	if err != nil {
		fmt.Fprintf(b, "## Toolbox discovered\n\nenvironment.json is unreadable: %s\n\n", findingLine(err.Error()))
		return
	}
	writeEnvironmentSections(b, env)
}

// writeEnvironmentSections renders the three environment sections.
func writeEnvironmentSections(b *bytes.Buffer, env *Environment) {
	b.WriteString(toolboxHeading)
	if env == nil {
		b.WriteString("Not discovered yet: call start_session's discovery (DiscoverEnvironment) before any run.\n\n")
		b.WriteString("## Environment capabilities\n\nNot probed yet.\n\n## Preconditions\n\nNot checked yet.\n\n")
		return
	}
	renderToolbox(b, env.Toolbox)
	fmt.Fprintf(b, "## Environment capabilities\n\nProbed %s.\n\n", env.ProbedAt.UTC().Format(time.RFC3339))
	renderCapabilities(b, env.Capabilities, true)
	b.WriteString("## Preconditions\n\n")
	renderPreconditions(b, env.Preconditions)
}

// toolboxHeading starts the environment sections of session-log.md.
const toolboxHeading = "## Toolbox discovered\n\n"
