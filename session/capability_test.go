package session

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify-dev/falsify/plan"
)

func TestParseAndCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"go version go1.26.8 linux/amd64", "1.22", 1},
		{"1.22", "1.22.0", 0},
		{"iptables v1.8.7 (nf_tables)", "1.8.10", -1},
		{"kernel 5.10", "5.9.200", 1},
		{"tc utility, iproute2-6.1.0, libbpf 1.1.2", "6.1", 0},
	}
	for _, tt := range tests {
		a, okA := parseVersion(tt.a)
		b, okB := parseVersion(tt.b)
		if !okA || !okB {
			t.Fatalf("parseVersion(%q, %q) failed", tt.a, tt.b)
		}
		if got := compareVersions(a, b); got != tt.want {
			t.Errorf("compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, s := range []string{"commit a1b2c3d", "latest", ""} {
		if _, ok := parseVersion(s); ok {
			t.Errorf("parseVersion(%q) found a version", s)
		}
	}
}

func TestPortsIn(t *testing.T) {
	tests := []struct{ text, want string }{
		{"PostgreSQL on localhost:5432", "localhost:5432"},
		{"Prometheus scrape of :9400", "localhost:9400"},
		{"a broker answering on port 7000", "localhost:7000"},
		{"Redis on 10.0.0.5:6379 and etcd at etcd-0.svc:2379", "10.0.0.5:6379,etcd-0.svc:2379"},
		{"PostgreSQL on the CI host", "localhost:5432"},
		{"Linux with iptables and tc/netem", ""},
		{"kernel 5.10, Go 1.22", ""},
		{"at 12:30 daily", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, hp := range portsIn(tt.text) {
			got = append(got, hp.host+":"+hp.port)
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("portsIn(%q) = %q, want %q", tt.text, strings.Join(got, ","), tt.want)
		}
	}
}

// fakeTool writes an executable script that prints a version, in a new
// folder put first on PATH.
func fakeTool(t *testing.T, name, output string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho '"+output+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestProbeRequirements(t *testing.T) {
	fakeTool(t, "kvr-test-tool", "kvr-test-tool version 2.3.4 (commit abc)")
	root := t.TempDir()
	writeTree(t, root, map[string]string{"bin/kvrd-built": "x:#!/bin/sh\necho 1.0\n"})
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	rootStatus := CapMissing
	if os.Geteuid() == 0 {
		rootStatus = CapPresent
	}
	tests := []struct {
		req, floor string
		status     string
		detected   string // substring
		version    string
	}{
		{"Go toolchain", "1.22", CapPresent, "`go version` → ", "*"},
		{"Go toolchain", "99.0", CapBelowFloor, "is below the floor 99.0", "*"},
		{"`kvr-test-tool --version`", "2.0", CapPresent, "version 2.3.4 meets the floor 2.0", "2.3.4"},
		{"`kvr-test-tool --version`", "3.1", CapBelowFloor, "version 2.3.4 is below the floor 3.1", "2.3.4"},
		{"`kvr-test-tool --version`", "commit a1b2c3d", CapPresent, "is not a version number: not compared", "2.3.4"},
		{"`falsify-no-such-tool-x9 --version`", "", CapMissing, "falsify-no-such-tool-x9 not on PATH", ""},
		{"`kvrd-built`", "", CapPresent, "bin/kvrd-built", ""},
		{"kvr binaries built from PR #214", "commit a1b2c3d", CapUnknown, "a guess from the requirement's words", ""},
		{"service on " + open.Addr().String(), "", CapPresent, "answered", ""},
		{"service on " + closedAddr, "", CapMissing, "TCP dial " + closedAddr, ""},
		{"a quiet room and patience", "", CapUnknown, "", ""},
		{"falsify runs as root", "", rootStatus, "effective uid", ""},
	}
	for _, tt := range tests {
		row := (&capProber{root: root}).requirement(context.Background(), plan.Requirement{Requirement: tt.req, VersionFloor: tt.floor, UsedBy: []string{"S1"}})
		if row.Status != tt.status || !strings.Contains(row.Detected, tt.detected) {
			t.Errorf("%q (floor %q): status %s, detected %q; want %s, ~%q", tt.req, tt.floor, row.Status, row.Detected, tt.status, tt.detected)
		}
		if tt.version == "*" && row.Version == "" || tt.version != "*" && row.Version != tt.version {
			t.Errorf("%q: version %q, want %q", tt.req, row.Version, tt.version)
		}
		if row.Missing() != (tt.status == CapMissing || tt.status == CapBelowFloor) {
			t.Errorf("%q: Missing() = %t with status %s", tt.req, row.Missing(), row.Status)
		}
		if row.Missing() && len(row.Failed) == 0 {
			t.Errorf("%q: missing without a failed probe", tt.req)
		}
	}
}

func TestProbeCapabilitiesOfPlan(t *testing.T) {
	src, err := os.ReadFile("../plan/testdata/kvstore.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "- **Faults:** SIGKILL a random node every 20 s (fsync loss window), restart after 5 s",
		"- **Faults:** SIGKILL a random node every 20 s, then a clock skew of +5 s on the coordinator", 1)
	p, err := plan.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rows := ProbeCapabilities(context.Background(), p, t.TempDir())
	if len(rows) != len(p.Environment)+2 {
		t.Fatalf("%d rows for %d §6b requirements and 2 fault families: %+v", len(rows), len(p.Environment), rows)
	}
	for i, req := range p.Environment {
		if rows[i].Requirement != req.Requirement || rows[i].Source != "§6b" || strings.Join(rows[i].UsedBy, ",") != strings.Join(req.UsedBy, ",") || rows[i].InstallHint != req.InstallHint {
			t.Errorf("row %d = %+v, want §6b %+v", i, rows[i], req)
		}
		if rows[i].Status == "" || rows[i].Detected == "" {
			t.Errorf("row %d not probed: %+v", i, rows[i])
		}
	}
	net, clock := rows[len(rows)-2], rows[len(rows)-1]
	if !strings.HasPrefix(net.Requirement, "network faults") || !net.Optional || net.Missing() || strings.Join(net.UsedBy, ",") != "S1,S2" {
		t.Errorf("network row: %+v", net)
	}
	if !strings.HasPrefix(clock.Requirement, "clock faults") || clock.Optional || strings.Join(clock.UsedBy, ",") != "S5" {
		t.Errorf("clock row: %+v", clock)
	}
	if got := missingCapabilities(rows, "S5"); clock.Missing() != containsPrefix(got, "clock faults") {
		t.Errorf("S5 missing %q with clock row %+v", got, clock)
	}
	var b bytes.Buffer
	renderCapabilities(&b, rows, true)
	doc := parseMarkdown(t, b.Bytes())
	if len(doc.tables) != 1 || len(doc.tables[0]) != len(rows)+1 {
		t.Fatalf("rendered matrix:\n%s", b.String())
	}
	for _, row := range doc.tables[0] {
		if len(row) != 7 {
			t.Errorf("matrix row with %d cells: %q", len(row), row)
		}
	}
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func TestMissingCapabilities(t *testing.T) {
	rows := []CapabilityRow{
		{Requirement: "iptables", Status: CapMissing, UsedBy: []string{"S1", "S4"}, Failed: []string{"iptables not on PATH"}},
		{Requirement: "export fixture", Status: CapBelowFloor, UsedBy: []string{"S4/export"}, Failed: []string{"version 1.0 is below the floor 2.0"}},
		{Requirement: "Go", Status: CapPresent, UsedBy: []string{"S1", "S4"}},
		{Requirement: "kvr", Status: CapUnknown, UsedBy: []string{"S1"}},
		{Requirement: "nftables", Status: CapMissing, Optional: true, UsedBy: []string{"S1"}},
	}
	tests := []struct{ scenario, want string }{
		{"S1", "iptables (iptables not on PATH)"},
		{"s1", "iptables (iptables not on PATH)"},
		{"S4", "iptables (iptables not on PATH)"},
		{"S4/api", "iptables (iptables not on PATH)"},
		{"S4/export", "iptables (iptables not on PATH)|export fixture (version 1.0 is below the floor 2.0)"},
		{"S2", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(missingCapabilities(rows, tt.scenario), "|"); got != tt.want {
			t.Errorf("missing(%s) = %q, want %q", tt.scenario, got, tt.want)
		}
	}
}

// TestDiscoverEnvironment runs discovery through the Manager: the fact is
// journaled, environment.json written, the log gains its sections, and a
// missing capability reaches the scenario's facts through missingFor.
func TestDiscoverEnvironment(t *testing.T) {
	m, _ := reportManager(t, func(s string) string {
		return strings.Replace(s, "| Go toolchain | 1.22 | S1, S2, S3, S4, S5 | https://go.dev/dl |",
			"| Go toolchain | 1.22 | S1, S2, S3, S4, S5 | https://go.dev/dl |\n| `falsify-no-such-tool-x9 --version` | 1.0 | S4 | make tools |", 1)
	})
	writeTree(t, m.ws.Root(), map[string]string{"scripts/partition.sh": "#!/bin/sh\n# cut n2 off\niptables -A INPUT -j DROP\n"})
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	// start_session discovers before any run may start.
	if env, err := m.Environment(sess.ID); err != nil || env == nil || len(env.Toolbox.Items) != 1 {
		t.Fatalf("environment after start_session: %+v %v", env, err)
	}
	env, err := m.DiscoverEnvironment(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Toolbox.Items) != 1 || env.Toolbox.Items[0].Path != "scripts/partition.sh" || env.Toolbox.Items[0].Role != RoleFaultTooling {
		t.Errorf("toolbox: %+v", env.Toolbox.Items)
	}
	var capsOK *Precondition
	for i := range env.Preconditions {
		if strings.HasPrefix(env.Preconditions[i].Check, "the capabilities") {
			capsOK = &env.Preconditions[i]
		}
	}
	if capsOK == nil || capsOK.OK || !strings.Contains(capsOK.Detail, "falsify-no-such-tool-x9") {
		t.Errorf("capability precondition: %+v", capsOK)
	}
	again, err := m.Environment(sess.ID)
	if err != nil || again == nil || len(again.Capabilities) != len(env.Capabilities) {
		t.Fatalf("Environment after discovery: %+v %v", again, err)
	}
	s, _ := m.session(sess.ID)
	if got := s.missingFor("S4/api"); len(got) != 1 || !strings.Contains(got[0], "falsify-no-such-tool-x9 not on PATH") {
		t.Errorf("missingFor(S4/api) = %q", got)
	}
	if got := s.missingFor("S1"); len(got) != 0 {
		t.Errorf("missingFor(S1) = %q", got)
	}
	journal, _ := os.ReadFile(filepath.Join(m.ws.Root(), sess.Dir, journalName))
	if !strings.Contains(string(journal), `"type":"environment-discovered"`) {
		t.Errorf("the discovery is not journaled")
	}
	log, _ := os.ReadFile(filepath.Join(m.ws.Root(), sess.Dir, sessionLogName))
	for _, want := range []string{"## Toolbox discovered", "| `scripts/partition.sh` | fault-tooling |", "## Environment capabilities", "| Go toolchain | present |", "## Preconditions", "environment discovered: 1 toolbox item(s)"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// The journal still reopens: the new fact type is skipped by replay.
	m.Close()
	if _, err := m.OpenSession(sess.ID); err != nil {
		t.Fatalf("reopen after discovery: %v", err)
	}
}

// TestWriteEnvironmentLog checks the hook session.writeLog calls: once
// start_session has discovered the environment it renders the three
// sections from environment.json.
func TestWriteEnvironmentLog(t *testing.T) {
	m, _ := reportManager(t, nil)
	ctx := context.Background()
	sess, err := m.StartSession(ctx, "kvr-replication")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m.session(sess.ID)
	var before bytes.Buffer
	s.mu.Lock()
	s.writeEnvironmentLog(&before)
	s.mu.Unlock()
	// start_session already discovered the environment.
	if strings.Contains(before.String(), "Not discovered yet") || !strings.Contains(before.String(), "## Toolbox discovered") {
		t.Errorf("after start_session:\n%s", before.String())
	}
	if _, err := m.DiscoverEnvironment(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	var after bytes.Buffer
	s.mu.Lock()
	s.writeEnvironmentLog(&after)
	s.mu.Unlock()
	doc := parseMarkdown(t, after.Bytes())
	if strings.Join(doc.headings, "|") != "Toolbox discovered|Environment capabilities|Preconditions" || len(doc.tables) != 1 {
		t.Errorf("after discovery: headings %q, %d tables\n%s", doc.headings, len(doc.tables), after.String())
	}
}
