package nemesis

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// registerOp sends one line to a register server at addr and returns the
// reply, or an error when none comes within d.
func registerOp(addr, line string, d time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(reply), err
}

func TestProxyFaultsLandAndHeal(t *testing.T) {
	ctx := context.Background()
	_, echo := startHelper(t, "echo")
	for _, tc := range []struct {
		name, kind string
		params     map[string]any
		outcome    string // the active probe's outcome under the fault
	}{
		{"partition", "partition", nil, "timeout"},
		{"oneway_upstream", "partition-oneway", map[string]any{"direction": "upstream"}, "timeout"},
		{"oneway_downstream", "partition-oneway", map[string]any{"direction": "downstream"}, "timeout"},
		{"latency", "latency", map[string]any{"latency": 150, "jitter": "20ms"}, "ok"},
		{"bandwidth", "bandwidth", map[string]any{"rate": 64}, "ok"},
		{"reset", "reset", nil, ""},
		{"down", "down", nil, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNemesis(t)
			tg, err := n.Register(ctx, TargetSpec{Name: "echo", Address: echo})
			if err != nil {
				t.Fatal(err)
			}
			if tg.ProxyListen == "" || tg.ProxyListen == echo {
				t.Fatalf("proxy listen = %q", tg.ProxyListen)
			}
			params := map[string]any{"probe_timeout": "500ms"}
			for k, v := range tc.params {
				params[k] = v
			}
			if tc.kind == "latency" || tc.kind == "bandwidth" {
				delete(params, "probe_timeout")
			}
			f, err := n.Inject(ctx, Spec{Kind: tc.kind, Targets: []string{"echo"}, Params: params})
			if err != nil {
				t.Fatal(err)
			}
			if !f.Landing.Landed {
				t.Fatalf("%s did not land: %s\n%+v", tc.kind, f.Landing.Reason, f.Landing.Evidence)
			}
			var victim *Evidence
			for i := range f.Landing.Evidence {
				if f.Landing.Evidence[i].Side == SideVictim {
					victim = &f.Landing.Evidence[i]
				}
			}
			if victim == nil || !strings.HasPrefix(victim.Before, "ok") {
				t.Fatalf("no victim-side active probe that succeeded before: %+v", f.Landing.Evidence)
			}
			after := victim.Raw["after"].(map[string]any)
			if tc.outcome != "" && after["outcome"] != tc.outcome {
				t.Errorf("probe outcome under %s = %v, want %s", tc.kind, after["outcome"], tc.outcome)
			}
			if tc.kind == "latency" && after["rtt_ms"].(float64) < 130 {
				t.Errorf("RTT under 150±20ms latency = %vms", after["rtt_ms"])
			}
			out, err := n.Heal(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Healed {
				t.Fatalf("heal: %s %+v", out.Reason, out.Evidence)
			}
			if r := activeProbe(ctx, tg.ProxyListen, probeSpec{send: []byte("x\n"), timeout: time.Second}); !r.OK {
				t.Errorf("probe through the healed proxy: %s", r)
			}
		})
	}
}

// TestOneWayPartitionIsAsymmetric proves the direction of a one-way
// partition on a register server: with downstream black-holed a SET
// through the proxy times out yet reaches the server; with upstream
// black-holed it never does.
func TestOneWayPartitionIsAsymmetric(t *testing.T) {
	ctx := context.Background()
	_, reg := startHelper(t, "register")
	n := newNemesis(t)
	tg, err := n.Register(ctx, TargetSpec{Name: "reg", Address: reg})
	if err != nil {
		t.Fatal(err)
	}
	probe := map[string]any{"probe_send": "GET probe\n", "probe_expect": "\n", "probe_timeout": "400ms"}
	for _, tc := range []struct {
		direction string
		arrives   bool
	}{{"downstream", true}, {"upstream", false}} {
		t.Run(tc.direction, func(t *testing.T) {
			params := map[string]any{"direction": tc.direction}
			for k, v := range probe {
				params[k] = v
			}
			f, err := n.Inject(ctx, Spec{Kind: "partition-oneway", Targets: []string{"reg"}, Params: params})
			if err != nil || !f.Landing.Landed {
				t.Fatalf("inject: %v %+v", err, f)
			}
			key := "k_" + tc.direction
			if reply, err := registerOp(tg.ProxyListen, "SET "+key+" 1", 400*time.Millisecond); err == nil {
				t.Fatalf("SET through the partitioned proxy got a reply %q", reply)
			}
			time.Sleep(50 * time.Millisecond)
			got, err := registerOp(reg, "GET "+key, time.Second) // straight to the server
			if err != nil {
				t.Fatal(err)
			}
			if arrived := got == "1"; arrived != tc.arrives {
				t.Errorf("%s partition: the SET reached the server = %v, want %v", tc.direction, arrived, tc.arrives)
			}
			if out, err := n.Heal(ctx, f); err != nil || !out.Healed {
				t.Fatalf("heal: %v %+v", err, out)
			}
			if got, err := registerOp(tg.ProxyListen, "GET "+key, time.Second); err != nil || got != map[bool]string{true: "1", false: "NIL"}[tc.arrives] {
				t.Errorf("GET through the healed proxy = %q, %v", got, err)
			}
		})
	}
}

// TestHalfFailedApplyRolledBack makes the second toxic of a partition
// fail to install and checks that the first is removed again.
func TestHalfFailedApplyRolledBack(t *testing.T) {
	ctx := context.Background()
	_, echo := startHelper(t, "echo")
	n := newNemesis(t)
	if _, err := n.Register(ctx, TargetSpec{Name: "echo", Address: echo}); err != nil {
		t.Fatal(err)
	}
	rec, err := n.Prepare(ctx, Spec{Kind: "partition", Targets: []string{"echo"}})
	if err != nil {
		t.Fatal(err)
	}
	// Occupy the downstream toxic's name so that its install fails.
	tgt := n.targets["t1"]
	clash := fmt.Sprintf(`{"name":%q,"type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":1}}`, rec.Toxics[1])
	if _, err := tgt.proxy.Toxics.AddToxicJson(strings.NewReader(clash)); err != nil {
		t.Fatal(err)
	}
	f, err := n.Apply(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if f.Landing.Landed || !strings.Contains(f.Landing.Reason, "rolled back") {
		t.Fatalf("landing = %+v, want not landed, rolled back", f.Landing)
	}
	if f.HealedBy != "rollback" || f.Heal == nil {
		t.Fatalf("heal = %+v by %q, want the rollback", f.Heal, f.HealedBy)
	}
	if tgt.proxy.Toxics.GetToxic(rec.Toxics[0]) != nil {
		t.Error("the upstream toxic survived the rollback")
	}
	if _, err := n.Apply(ctx, rec); err == nil {
		t.Error("applying a record twice succeeded")
	}
}

func BenchmarkLandingLatency(b *testing.B) {
	ctx := context.Background()
	_, echo := startHelper(b, "echo")
	n := newNemesis(b)
	if _, err := n.Register(ctx, TargetSpec{Name: "echo", Address: echo}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		f, err := n.Inject(ctx, Spec{Kind: "partition", Targets: []string{"echo"}, Params: map[string]any{"probe_timeout": "200ms"}})
		if err != nil || !f.Landing.Landed {
			b.Fatalf("inject: %v %+v", err, f)
		}
		b.StopTimer()
		if out, err := n.Heal(ctx, f); err != nil || !out.Healed {
			b.Fatalf("heal: %v %+v", err, out)
		}
		b.StartTimer()
	}
}
