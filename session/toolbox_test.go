package session

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (path → content) under root; a content starting
// with "x:" is written executable without the prefix.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if rest, ok := strings.CutPrefix(c, "x:"); ok {
			c, mode = rest, 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// sutRepo is a SUT repository with one of everything a toolbox scan
// reports, and decoys it must skip.
var sutRepo = map[string]string{
	"tools/chaos.sh":                               "x:#!/bin/bash\n# Partition node 2 from the leader.\nset -e\niptables -A INPUT -s 10.0.0.2 -j DROP\n",
	"scripts/bench.py":                             "x:#!/usr/bin/env python3\n# Run the throughput benchmark against a local cluster\nprint(1)\n",
	"bin/kvrd":                                     "x:\x7fELF\x00\x00\x00binary",
	"hack/pause-leader.sh":                         "#!/bin/sh\nkill -STOP \"$(cat leader.pid)\"\n",
	"test/jepsen/core.clj":                         "(ns kvr.core)\n",
	"test/jepsen/nemesis.clj":                      "(ns kvr.nemesis)\n;; tc qdisc add dev eth0 root netem delay 100ms\n",
	"integration/put_test.go":                      "package integration\n",
	"integration/jepsen/runner.clj":                "(ns runner)\n",
	"tools/testdata/golden.json":                   "{\"cmd\": \"iptables -F\"}\n",
	"scripts/README.md":                            "# Scripts\n",
	"scripts/soak.sh":                              "x:#!/bin/sh\n# SPDX-License-Identifier: MIT\n#\n# Soak the cluster for\n# an hour. Then compare.\nexit 0\n",
	"docs/runbooks/failover.md":                    "# Failover runbook\n\nPromote a backup by hand.\n",
	"docs/design.md":                               "# Design\n",
	"Makefile":                                     "BIN := kvr\n\ntest:\n\tgo test ./...\n\nchaos: build\n\t./tools/chaos.sh\n\tdocker pause kvr-1\n\nbuild:\n\tgo build ./...\n",
	"justfile":                                     "set shell := [\"bash\", \"-c\"]\n\nsoak duration:\n    ./scripts/soak.sh {{duration}}\n\nfmt:\n    gofmt -w .\n",
	"Taskfile.yml":                                 "version: '3'\ntasks:\n  e2e:\n    desc: end to end suite\n    cmds:\n      - go test ./e2e\n  lint:\n    cmds:\n      - golangci-lint run\n",
	".github/workflows/ci.yml":                     "name: CI\non: [push]\njobs:\n  unit-test:\n    runs-on: ubuntu-latest\n  chaos:\n    runs-on: ubuntu-latest\n    steps:\n      - run: sudo tc qdisc add dev lo root netem loss 10%\n",
	".gitlab-ci.yml":                               "stages: [test]\n",
	"deploy/docker-compose.yml":                    "services:\n  proxy:\n    image: ghcr.io/shopify/toxiproxy:2.5.0\n",
	"internal/proc/proc_test.go":                   "package proc\n// kills the child with kill -9 and checks recovery\n",
	"cmd/kvr/main.go":                              "package main\n// handles SIGKILL from the supervisor\n",
	"vendor/x/tools/evil.sh":                       "iptables -F\n",
	"node_modules/p/scripts/x.sh":                  "kill -9 1\n",
	"test-sessions/kv/20260101T000000Z/tools/a.sh": "tc qdisc\n",
	".git/hooks/pre-commit":                        "#!/bin/sh\n",
}

func TestDiscoverToolbox(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sutRepo)
	tb, err := DiscoverToolbox(context.Background(), root, ToolboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Truncated != "" {
		t.Fatalf("truncated: %s", tb.Truncated)
	}
	type want struct {
		role   string
		detail string // substring
		faults string // comma-joined
	}
	wants := map[string]want{
		"tools/chaos.sh":             {RoleFaultTooling, "bash script: Partition node 2 from the leader.; injects faults with iptables", "iptables"},
		"scripts/bench.py":           {RoleHarness, "python3 script: Run the throughput benchmark", ""},
		"scripts/soak.sh":            {RoleHarness, "sh script: Soak the cluster for an hour.", ""},
		"bin/kvrd":                   {RoleHarness, "binary under bin/", ""},
		"hack/pause-leader.sh":       {RoleFaultTooling, "sh script", "SIGSTOP"},
		"test/jepsen/":               {RoleTestDriver, "jepsen test folder: 2 file(s) (.clj×2)", "tc netem"},
		"integration/":               {RoleTestDriver, "integration test folder: 2 file(s) (.clj×1, .go×1)", ""},
		"docs/runbooks/failover.md":  {RoleRunbook, "runbook: Failover runbook", ""},
		"Makefile:test":              {RoleMakeTarget, "go test ./...", ""},
		"Makefile:chaos":             {RoleMakeTarget, "./tools/chaos.sh; injects faults with docker pause/kill", "docker pause/kill"},
		"justfile:soak":              {RoleMakeTarget, "./scripts/soak.sh", ""},
		"Taskfile.yml:e2e":           {RoleMakeTarget, "end to end suite", ""},
		".github/workflows/ci.yml":   {RoleCIWorkflow, "GitHub Actions workflow: CI; test jobs: unit-test, chaos; injects faults with tc netem", "tc netem"},
		".gitlab-ci.yml":             {RoleCIWorkflow, "GitLab CI pipeline", ""},
		"deploy/docker-compose.yml":  {RoleFaultTooling, "injects faults with toxiproxy", "toxiproxy"},
		"internal/proc/proc_test.go": {RoleFaultTooling, "Go test; injects faults with kill -9", "kill -9"},
	}
	got := map[string]ToolboxItem{}
	for _, it := range tb.Items {
		if _, dup := got[it.Path]; dup {
			t.Errorf("%s listed twice", it.Path)
		}
		got[it.Path] = it
	}
	for p, w := range wants {
		it, ok := got[p]
		if !ok {
			t.Errorf("%s not found", p)
			continue
		}
		if it.Role != w.role || !strings.Contains(it.Detail, w.detail) || strings.Join(it.Faults, ",") != w.faults {
			t.Errorf("%s = %+v, want role %s, detail ~%q, faults %q", p, it, w.role, w.detail, w.faults)
		}
	}
	for p := range got {
		if _, ok := wants[p]; !ok {
			t.Errorf("unexpected item %s: %+v", p, got[p])
		}
	}
	// Fault tooling first, then test drivers…: the order a tester reads.
	if !sort.SliceIsSorted(tb.Items, func(i, j int) bool { return roleRank(tb.Items[i].Role) < roleRank(tb.Items[j].Role) }) {
		t.Errorf("items not ordered by role: %+v", tb.Items)
	}
	var b bytes.Buffer
	renderToolbox(&b, tb)
	doc := parseMarkdown(t, b.Bytes())
	if len(doc.tables) != 1 || len(doc.tables[0]) != len(tb.Items)+1 {
		t.Fatalf("rendered toolbox: %d tables\n%s", len(doc.tables), b.String())
	}
}

func TestDiscoverToolboxBounds(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sutRepo)
	tb, err := DiscoverToolbox(context.Background(), root, ToolboxOptions{MaxFiles: 3})
	if err != nil || !strings.Contains(tb.Truncated, "stopped after 3 files") || tb.Scanned != 4 {
		t.Fatalf("file bound: %+v %v", tb, err)
	}
	tb, err = DiscoverToolbox(context.Background(), root, ToolboxOptions{MaxItems: 2})
	if err != nil || len(tb.Items) != 2 || !strings.Contains(tb.Truncated, "the first 2 listed") {
		t.Fatalf("item bound: %+v %v", tb, err)
	}
	tb, err = DiscoverToolbox(context.Background(), root, ToolboxOptions{Timeout: time.Nanosecond})
	if err != nil || !strings.Contains(tb.Truncated, "stopped after 1ns") {
		t.Fatalf("time bound: %+v %v", tb, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DiscoverToolbox(ctx, root, ToolboxOptions{}); err == nil {
		t.Fatalf("a cancelled scan succeeded")
	}
	if _, err := DiscoverToolbox(context.Background(), filepath.Join(root, "Makefile"), ToolboxOptions{}); err == nil {
		t.Fatalf("a scan of a file succeeded")
	}
	empty := t.TempDir()
	tb, err = DiscoverToolbox(context.Background(), empty, ToolboxOptions{})
	if err != nil || len(tb.Items) != 0 || tb.Items == nil {
		t.Fatalf("empty repo: %+v %v", tb, err)
	}
}

// TestDiscoverToolboxOnThisRepo scans falsify's own repository: real
// data, bounded, with the CI script it runs.
func TestDiscoverToolboxOnThisRepo(t *testing.T) {
	tb, err := DiscoverToolbox(context.Background(), "..", ToolboxOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Scanned < 50 || len(tb.Items) == 0 {
		t.Fatalf("scanned %d files, found %d items", tb.Scanned, len(tb.Items))
	}
	for _, it := range tb.Items {
		if strings.HasPrefix(it.Path, ".git/") || strings.Contains(it.Path, "node_modules/") || strings.HasPrefix(it.Path, "/") {
			t.Errorf("item outside the scanned tree or in a skipped folder: %s", it.Path)
		}
	}
}

func TestBuildTargets(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) []buildTarget
		text  string
		want  string // name=recipe;…
	}{
		{"make", makeTargets, "X := 1\n.PHONY: test\ntest: build\n\t@go test ./...\n\n# comment\nbench:\n\tgo test -bench .\nVAR = 2\n", "test=go test ./...;bench=go test -bench ."},
		{"make double colon and pattern", makeTargets, "%.o: %.c\n\tcc $<\nall::\n\techo\n", "all=echo"},
		{"just", justTargets, "set dotenv-load\n# build it\nbuild:\n  go build\n@test pkg=\"./...\":\n  go test {{pkg}}\n", "build=go build;test=go test {{pkg}}"},
		{"taskfile", taskTargets, "version: '3'\nvars:\n  X: 1\ntasks:\n  unit:\n    cmds:\n      - cmd: go test ./...\n  'e2e':\n    desc: e2e suite\n", "unit=go test ./...;e2e=e2e suite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, bt := range tt.parse(tt.text) {
				got = append(got, bt.name+"="+bt.recipe)
			}
			if strings.Join(got, ";") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, ";"), tt.want)
			}
		})
	}
}

func TestFaultsIn(t *testing.T) {
	tests := []struct{ text, want string }{
		{"tc qdisc add dev eth0 root netem delay 100ms", "tc netem"},
		{"sudo iptables -A INPUT -j DROP; ip6tables -F", "iptables"},
		{"nft add rule inet t c drop", "nftables"},
		{"kind: NetworkChaos", "chaos-mesh"},
		{"pumba netem --duration 1m", "tc netem,pumba"},
		{"kill -9 $pid", "kill -9"},
		{"os.Process.Signal(syscall.SIGSTOP)", "SIGSTOP"},
		{"LD_PRELOAD=libfaketime.so.1 FAKETIME=+1h", "faketime"},
		{"docker compose pause db", "docker pause/kill"},
		{"the kill switch and the stop button", ""},
		{"attack the nftables article", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(faultsIn(tt.text), ","); got != tt.want {
			t.Errorf("faultsIn(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
