package nemesis

import (
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateChaosGolden = flag.Bool("update-chaosmesh", false, "rewrite testdata/chaosmesh/golden from the manifests built")

func TestChaosMeshManifest(t *testing.T) {
	c := &ChaosMesh{Owner: "S1", Namespace: "chaos"}
	for _, tc := range []struct {
		golden string
		id     string
		spec   Spec
	}{
		{"partition_both", "f1", Spec{Kind: "partition", Duration: 30 * time.Second, Params: map[string]any{
			"namespace": "db", "labels": map[string]any{"app": "etcd"}, "target_labels": map[string]any{"app": "client"}, "target_namespace": "db"}}},
		{"partition_to_fixed", "f2", Spec{Kind: "partition", Params: map[string]any{
			"namespaces": []any{"db", "db2"}, "labels": map[string]any{"app": "etcd", "role": "leader"}, "mode": "fixed", "value": 1,
			"direction": "to", "target_labels": map[string]any{"app": "etcd", "role": "follower"}, "target_mode": "fixed-percent", "target_value": "50"}}},
		{"partition_from_external", "f3", Spec{Kind: "partition", Duration: time.Minute, Params: map[string]any{
			"labels": map[string]any{"app": "kafka"}, "direction": "from", "external_targets": []any{"203.0.113.7", "db.example.com"}}}},
		{"delay", "f4", Spec{Kind: "delay", Duration: 45 * time.Second, Params: map[string]any{
			"namespace": "db", "labels": map[string]any{"app": "etcd"}, "latency": "150ms", "jitter": 20, "correlation": 25}}},
		{"loss", "f5", Spec{Kind: "loss", Duration: 20 * time.Second, Params: map[string]any{
			"namespace": "db", "labels": map[string]any{"app": "etcd"}, "probability": 0.3, "target_labels": map[string]any{"app": "client"}, "direction": "both"}}},
		{"pod_kill", "f6", Spec{Kind: "pod-kill", Params: map[string]any{
			"namespace": "db", "labels": map[string]any{"statefulset.kubernetes.io/pod-name": "etcd-0"}, "grace_period": 5}}},
		{"pod_failure", "F_7", Spec{Kind: "pod-failure", Duration: 90 * time.Second, Params: map[string]any{
			"namespace": "db", "labels": map[string]any{"app": "etcd"}, "mode": "random-max-percent", "value": "40"}}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := c.Manifest(tc.id, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "chaosmesh", "golden", tc.golden+".json")
			if *updateChaosGolden {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("golden %s: %v (run with -update-chaosmesh to create it)", path, err)
			}
			if string(got) != string(want) {
				t.Errorf("manifest differs from %s:\n%s", path, got)
			}
			var m struct {
				Metadata struct{ Name string } `json:"metadata"`
			}
			if err := json.Unmarshal(got, &m); err != nil {
				t.Fatal(err)
			}
			if want := ChaosName("S1", tc.id); m.Metadata.Name != want || !regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`).MatchString(want) {
				t.Errorf("name %q, want %q, a Kubernetes name", m.Metadata.Name, want)
			}
		})
	}
}

func TestChaosMeshManifestErrors(t *testing.T) {
	c := &ChaosMesh{Owner: "s1"}
	lbl := map[string]any{"app": "etcd"}
	for _, tc := range []struct {
		name string
		id   string
		spec Spec
		want string
	}{
		{"unknown kind", "f1", Spec{Kind: "clock-skew", Params: map[string]any{"labels": lbl}}, "Chaos Mesh faults are"},
		{"no labels", "f1", Spec{Kind: "pod-kill"}, "params.labels"},
		{"labels not strings", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": map[string]any{"app": 3}}}, "params.labels.app"},
		{"labels not an object", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": "app=etcd"}}, "params.labels"},
		{"partition without the other side", "f1", Spec{Kind: "partition", Params: map[string]any{"labels": lbl}}, "needs the other side"},
		{"bad direction", "f1", Spec{Kind: "partition", Params: map[string]any{"labels": lbl, "target_labels": lbl, "direction": "sideways"}}, "params.direction"},
		{"target without labels", "f1", Spec{Kind: "partition", Params: map[string]any{"labels": lbl, "target_namespace": "db"}}, "params.target_labels"},
		{"delay without latency", "f1", Spec{Kind: "delay", Params: map[string]any{"labels": lbl}}, "params.latency"},
		{"loss out of range", "f1", Spec{Kind: "loss", Params: map[string]any{"labels": lbl, "probability": 1.5}}, "params.probability"},
		{"correlation out of range", "f1", Spec{Kind: "loss", Params: map[string]any{"labels": lbl, "probability": 0.5, "correlation": 120}}, "params.correlation"},
		{"fixed without value", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl, "mode": "fixed"}}, "params.value"},
		{"percent over 100", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl, "mode": "fixed-percent", "value": 150}}, "params.value"},
		{"all with a value", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl, "mode": "all", "value": 2}}, "takes no value"},
		{"bad mode", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl, "mode": "most"}}, "params.mode"},
		{"negative grace", "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl, "grace_period": -1}}, "grace_period"},
		{"bad id", "f 1; rm", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl}}, "fault id"},
		{"duration over the cap", "f1", Spec{Kind: "pod-failure", Duration: time.Hour, Params: map[string]any{"labels": lbl}}, "duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Manifest(tc.id, tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %q", err, tc.want)
			}
			// Apply refuses the same input before touching anything.
			dir := fakeKubectl(t)
			f, err := c.Apply(context.Background(), tc.id, tc.spec, func(context.Context) (ProbeReading, error) { return ProbeReading{State: "ok"}, nil })
			if err == nil || f != nil {
				t.Fatalf("Apply accepted bad input: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "calls")); err == nil {
				t.Errorf("kubectl ran for bad input")
			}
		})
	}
	if _, err := c.Apply(context.Background(), "f1", Spec{Kind: "pod-kill", Params: map[string]any{"labels": lbl}}, nil); err == nil || !strings.Contains(err.Error(), "probe") {
		t.Errorf("Apply without a probe: %v", err)
	}
}

// fakeKubectl puts testdata/chaosmesh/bin first on PATH and returns the
// fake's state directory, holding the canned injected status.
func fakeKubectl(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("testdata", "chaosmesh", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir := t.TempDir()
	t.Setenv("FAKE_KUBECTL_DIR", dir)
	copyFile(t, filepath.Join("testdata", "chaosmesh", "status_injected.json"), filepath.Join(dir, "status.json"))
	copyFile(t, filepath.Join("testdata", "chaosmesh", "status_pending.json"), filepath.Join(dir, "pending.json"))
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// calls returns the fake kubectl's recorded calls, a temporary manifest
// path replaced by <file>.
func calls(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "calls"))
	if err != nil {
		t.Fatalf("kubectl never ran: %v", err)
	}
	re := regexp.MustCompile(`\S*falsify-chaos-\d+\.json`)
	return strings.Split(strings.TrimSpace(re.ReplaceAllString(string(b), "<file>")), "\n")
}

// partitionServer is a TCP listener that goes away while the fake
// kubectl holds the chaos object (state "present" or "deleting") and comes
// back when it is gone: what a real partition looks like to a connect
// probe.
func partitionServer(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var mu sync.Mutex
	serve := func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	go serve(ln)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		up := true
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			b, _ := os.ReadFile(filepath.Join(dir, "state"))
			s := strings.TrimSpace(string(b))
			mu.Lock()
			switch {
			case up && (s == "present" || s == "deleting"):
				ln.Close()
				up = false
			case !up && s != "present" && s != "deleting":
				if l, err := net.Listen("tcp", addr); err == nil {
					ln, up = l, true
					go serve(l)
				}
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		mu.Lock()
		ln.Close()
		mu.Unlock()
	})
	return addr
}

var partitionSpec = Spec{Kind: "partition", Duration: 30 * time.Second, Params: map[string]any{
	"namespace": "db", "labels": map[string]any{"app": "etcd"}, "target_labels": map[string]any{"app": "client"}, "target_namespace": "db"}}

func TestChaosMeshApplyHeal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ssh   bool
		apply string // the recorded apply call
	}{
		{"local executor, manifest file", false, "--context | kind-test | apply | -f | <file>"},
		{"ssh executor, manifest on stdin", true, "--context | kind-test | apply | -f | -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeKubectl(t)
			addr := partitionServer(t, dir)
			c := &ChaosMesh{Owner: "s1", Namespace: "chaos", Flags: []string{"--context", "kind-test"}, Poll: 20 * time.Millisecond, Settle: 3 * time.Second, WaitTimeout: 3 * time.Second}
			if tc.ssh {
				c.Exec = newSSHServer(t).executor(t, nil)
			}
			ctx := context.Background()
			f, err := c.Apply(ctx, "f1", partitionSpec, TCPConnectProbe(addr, 1, 300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if !f.Landing.Landed || !strings.HasPrefix(f.Landing.Reason, "the probe saw the change: ok") {
				t.Fatalf("landed %t: %s", f.Landing.Landed, f.Landing.Reason)
			}
			if f.Before.State != "ok" || !f.Status.Is("AllInjected") || !f.Status.Is("Selected") || len(f.Status.Records) != 2 {
				t.Errorf("before %+v status %+v", f.Before, f.Status)
			}
			// The manifest kubectl received is the golden one.
			got, _ := os.ReadFile(filepath.Join(dir, "applied.json"))
			want, _ := os.ReadFile(filepath.Join("testdata", "chaosmesh", "golden", "partition_both.json"))
			if string(got) != string(want) || string(f.Manifest) != string(want) {
				t.Errorf("kubectl received\n%s\nwant\n%s", got, want)
			}
			// Chaos Mesh's status is evidence from the injector's side,
			// the probe's reading is the victim's.
			var sawStatus, sawProbe bool
			for _, e := range f.Landing.Evidence {
				if strings.Contains(e.Probe, "Chaos Mesh status") && strings.Contains(e.After, "AllInjected=True") && e.Side == SideInjector {
					sawStatus = true
				}
				if e.Probe == "falsify probe" && e.Before == f.Before.String() && strings.HasPrefix(e.After, "refused") && e.Side == SideVictim {
					sawProbe = true
				}
			}
			if !sawStatus || !sawProbe {
				t.Errorf("evidence lacks the status (%t) or the probe (%t): %+v", sawStatus, sawProbe, f.Landing.Evidence)
			}

			h := c.Heal(ctx, f)
			if !h.Healed || f.HealedBy != "heal" {
				t.Fatalf("heal: %+v", h)
			}
			get := "--context | kind-test | get | networkchaos.chaos-mesh.org | falsify-s1-f1 | -n | chaos | -o | json"
			wantCalls := []string{tc.apply, get,
				"--context | kind-test | delete | networkchaos.chaos-mesh.org | falsify-s1-f1 | -n | chaos | --ignore-not-found | --wait=false", get}
			if got := calls(t, dir); strings.Join(got, "\n") != strings.Join(wantCalls, "\n") {
				t.Errorf("kubectl calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
			}
			if len(f.Log) != 4 || f.Log[0].Stdin != string(want) {
				t.Errorf("log of %d runs, the apply's manifest %q", len(f.Log), f.Log[0].Stdin)
			}
			if again := c.Heal(ctx, f); again.At != h.At {
				t.Errorf("healing twice ran again")
			}
		})
	}
}

func TestChaosMeshInjectedButNoChange(t *testing.T) {
	ctx := context.Background()
	steady, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer steady.Close()
	go func() {
		for {
			c, err := steady.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct {
		name  string
		probe ChaosProbe
	}{
		{"tcp connect probe", TCPConnectProbe(steady.Addr().String(), 3, 300*time.Millisecond)},
		{"caller probe", func(context.Context) (ProbeReading, error) {
			return ProbeReading{State: "leader etcd-0", Detail: "read from the status endpoint"}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeKubectl(t)
			c := &ChaosMesh{Owner: "s1", Namespace: "chaos", Poll: 20 * time.Millisecond, Settle: 300 * time.Millisecond, WaitTimeout: 2 * time.Second}
			f, err := c.Apply(ctx, "f1", partitionSpec, tc.probe)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Status.Is("AllInjected") {
				t.Fatalf("the canned status says AllInjected; got %s", f.Status)
			}
			if f.Landing.Landed || !strings.HasPrefix(f.Landing.Reason, "Chaos Mesh reported AllInjected but the probe saw no change") {
				t.Fatalf("landed %t: %s", f.Landing.Landed, f.Landing.Reason)
			}
			h := c.Heal(ctx, f)
			if !h.Healed {
				t.Errorf("heal: %+v", h)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "state")); strings.TrimSpace(string(b)) != "absent" {
				t.Errorf("object state %q after heal", b)
			}
		})
	}
}

func TestChaosMeshStatusAndFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		setup      func(dir string)
		landed     bool
		reason     string
		healedBy   string // after Apply
		minGets    int    // get calls during Apply and Heal
		healReason string
	}{
		{name: "pending then injected", setup: func(dir string) { os.WriteFile(filepath.Join(dir, "pending_gets"), []byte("3"), 0o644) },
			landed: true, reason: "the probe saw the change", minGets: 5},
		{name: "never injected, probe decides", setup: func(dir string) {
			copyFile(t, filepath.Join("testdata", "chaosmesh", "status_pending.json"), filepath.Join(dir, "status.json"))
		}, landed: true, reason: "Chaos Mesh reported AllInjected=False"},
		{name: "nothing selected", setup: func(dir string) {
			copyFile(t, filepath.Join("testdata", "chaosmesh", "status_unselected.json"), filepath.Join(dir, "status.json"))
		}, landed: true, reason: "Selected=False (Failed)"},
		{name: "lingering delete is waited for", setup: func(dir string) { os.WriteFile(filepath.Join(dir, "lingering_gets"), []byte("4"), 0o644) },
			landed: true, reason: "the probe saw the change", minGets: 6},
		{name: "apply rejected", setup: func(dir string) {
			os.WriteFile(filepath.Join(dir, "apply_fail"), []byte(`error: resource mapping not found for name: "falsify-s1-f1": no matches for kind "NetworkChaos" in version "chaos-mesh.org/v1alpha1"`), 0o644)
		}, landed: false, reason: `kubectl apply failed and was rolled back: exit 1: error: resource mapping not found`, healedBy: "rollback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeKubectl(t)
			addr := partitionServer(t, dir)
			tc.setup(dir)
			c := &ChaosMesh{Owner: "s1", Namespace: "chaos", Poll: 20 * time.Millisecond, Settle: 2 * time.Second, WaitTimeout: 400 * time.Millisecond}
			f, err := c.Apply(ctx, "f1", partitionSpec, TCPConnectProbe(addr, 1, 300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if f.Landing.Landed != tc.landed || !strings.Contains(f.Landing.Reason, tc.reason) {
				t.Fatalf("landed %t reason %q; want %t, %q", f.Landing.Landed, f.Landing.Reason, tc.landed, tc.reason)
			}
			if f.HealedBy != tc.healedBy {
				t.Errorf("healed by %q, want %q", f.HealedBy, tc.healedBy)
			}
			if tc.healedBy == "" {
				c.WaitTimeout = 2 * time.Second
				if h := c.Heal(ctx, f); !h.Healed {
					t.Errorf("heal: %+v", h)
				}
			}
			gets := 0
			var deletes int
			for _, call := range calls(t, dir) {
				if strings.HasPrefix(call, "get | ") {
					gets++
				}
				if strings.HasPrefix(call, "delete | ") {
					deletes++
				}
			}
			if gets < tc.minGets || deletes != 1 {
				t.Errorf("%d gets (want ≥ %d), %d deletes (want 1): %q", gets, tc.minGets, deletes, calls(t, dir))
			}
		})
	}
}

func TestChaosMeshHealNotRecovered(t *testing.T) {
	// The object goes, but the probe stays changed: not healed, and said so.
	dir := fakeKubectl(t)
	c := &ChaosMesh{Owner: "s1", Namespace: "chaos", Poll: 20 * time.Millisecond, Settle: 300 * time.Millisecond, WaitTimeout: time.Second}
	var mu sync.Mutex
	state := "ok"
	probe := func(context.Context) (ProbeReading, error) {
		mu.Lock()
		defer mu.Unlock()
		return ProbeReading{State: state}, nil
	}
	go func() { // the system breaks once the object exists, and stays broken
		for range 200 {
			if b, _ := os.ReadFile(filepath.Join(dir, "state")); strings.TrimSpace(string(b)) == "present" {
				mu.Lock()
				state = "timeout"
				mu.Unlock()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	f, err := c.Apply(context.Background(), "f1", Spec{Kind: "pod-failure", Params: map[string]any{"labels": map[string]any{"app": "etcd"}}}, probe)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed {
		t.Fatalf("landing: %s", f.Landing.Reason)
	}
	h := c.Heal(context.Background(), f)
	if h.Healed || !strings.Contains(h.Reason, "is gone but the probe is not back to its baseline") {
		t.Errorf("heal %t: %s", h.Healed, h.Reason)
	}
}

func TestChaosMeshChanged(t *testing.T) {
	c := &ChaosMesh{}
	ms := time.Millisecond
	for _, tc := range []struct {
		kind          string
		latency       time.Duration
		before, after ProbeReading
		want          bool
	}{
		{"partition", 0, ProbeReading{State: "ok"}, ProbeReading{State: "timeout"}, true},
		{"partition", 0, ProbeReading{State: "ok", RTT: ms}, ProbeReading{State: "ok", RTT: 900 * ms}, false},
		{"delay", 100 * ms, ProbeReading{State: "ok", RTT: ms}, ProbeReading{State: "ok", RTT: 60 * ms}, true},
		{"delay", 100 * ms, ProbeReading{State: "ok", RTT: ms}, ProbeReading{State: "ok", RTT: 20 * ms}, false},
		{"loss", 0, ProbeReading{State: "ok", Attempts: 20}, ProbeReading{State: "ok", Attempts: 20}, false},
		{"loss", 0, ProbeReading{State: "timeout", Failures: 1, Attempts: 20}, ProbeReading{State: "timeout", Failures: 6, Attempts: 20}, true},
		{"loss", 0, ProbeReading{State: "timeout", Failures: 2, Attempts: 20}, ProbeReading{State: "timeout", Failures: 1, Attempts: 10}, false},
		{"pod-kill", 0, ProbeReading{State: "uid a"}, ProbeReading{State: "uid b"}, true},
	} {
		if got := c.changed(&ChaosFault{Kind: tc.kind, latency: tc.latency}, tc.before, tc.after); got != tc.want {
			t.Errorf("%s %v → %v: changed %t, want %t", tc.kind, tc.before, tc.after, got, tc.want)
		}
	}
}

func TestChaosMeshDeleteOwned(t *testing.T) {
	dir := fakeKubectl(t)
	c := &ChaosMesh{Owner: "Session 1"}
	r, err := c.DeleteOwned(context.Background())
	if err != nil || r.Exit != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	want := "delete | networkchaos.chaos-mesh.org,podchaos.chaos-mesh.org | --all-namespaces | -l | falsify.dev/owner=session_1 | --ignore-not-found | --wait=true"
	if got := calls(t, dir); len(got) != 1 || got[0] != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}
