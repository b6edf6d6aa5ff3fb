package nemesis

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestKernelDropInNetns drops traffic with nftables inside a network
// namespace the test creates (veth pair a <-> b) and checks the counters,
// the victim-side connect, the heal and that nothing is left behind.
func TestKernelDropInNetns(t *testing.T) {
	ctx := context.Background()
	nsA, _, _, ipB := netnsPair(t, 1)
	for _, tc := range []struct {
		name, kind string
		params     map[string]any
		chains     int
	}{
		{"drop", "drop", nil, 2},
		{"drop_oneway_out", "drop-oneway", map[string]any{"direction": "out"}, 1},
		{"drop_oneway_in", "drop-oneway", map[string]any{"direction": "in"}, 1},
		{"drop_port", "drop", map[string]any{"port": 7000}, 2},
		{"loss_half", "loss", map[string]any{"probability": 0.5}, 2},
		{"loss_tcp_out", "loss", map[string]any{"probability": 1, "direction": "out", "proto": "tcp", "port": 7000}, 1},
		{"loss_udp_out", "loss", map[string]any{"probability": 1, "direction": "out", "proto": "udp", "port": 9999}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNemesis(t)
			if _, err := n.Register(ctx, TargetSpec{Name: "b", Node: ipB, Netns: nsA}); err != nil {
				t.Fatal(err)
			}
			f, err := n.Inject(ctx, Spec{Kind: tc.kind, Targets: []string{"b"}, Params: tc.params})
			if err != nil {
				t.Fatal(err)
			}
			if !f.Landing.Landed {
				t.Fatalf("%s did not land: %s\n%+v", tc.kind, f.Landing.Reason, f.Landing.Evidence)
			}
			var total, rules uint64
			for _, ev := range f.Landing.Evidence {
				if strings.HasPrefix(ev.Probe, "nft counter") {
					rules++
					if ev.Raw["packets_before"].(uint64) != 0 {
						t.Errorf("counter before = %v, want 0", ev.Raw["packets_before"])
					}
					total += ev.Raw["packets_after"].(uint64)
				}
			}
			if rules != uint64(tc.chains) || total == 0 {
				t.Errorf("%d counted rules with %d packets, want %d rules and N > 0", rules, total, tc.chains)
			}
			if tc.kind == "loss" && tc.params["probability"] == 0.5 {
				sent := f.Landing.Evidence[len(f.Landing.Evidence)-1].Raw["sent"].(int)
				out := f.Landing.Evidence[0].Raw["packets_after"].(uint64) // the output chain
				if sent != 200 || out == 0 || out >= uint64(sent) {
					t.Errorf("a 50%% loss dropped %d of %d outgoing packets", out, sent)
				}
			}
			if tc.kind != "loss" && tc.params["port"] == nil {
				victim := f.Landing.Evidence[len(f.Landing.Evidence)-1]
				if victim.Side != SideVictim || !strings.HasPrefix(victim.Before, "refused") || !strings.HasPrefix(victim.After, "timeout") {
					t.Errorf("victim evidence = %+v, want refused before (closed port on b) and timeout after", victim)
				}
			}
			if tables, err := OrphanTables(nsA); err != nil || len(tables) != 1 || tables[0] != n.Table() {
				t.Errorf("tables in %s = %v, %v; want [%s]", nsA, tables, err, n.Table())
			}
			out, err := n.Heal(ctx, f)
			if err != nil || !out.Healed {
				t.Fatalf("heal: %v %+v", err, out)
			}
			if tables, err := OrphanTables(nsA); err != nil || len(tables) != 0 {
				t.Errorf("tables left in %s after heal: %v, %v", nsA, tables, err)
			}
		})
	}
	// Host tables untouched by any of it.
	if tables, err := OrphanTables(""); err != nil || len(tables) != 0 {
		t.Errorf("falsify tables in the host namespace: %v, %v", tables, err)
	}
}

func TestKernelFaultsRefused(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	if _, err := n.Register(ctx, TargetSpec{Name: "lo", Address: "127.0.0.1:80"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "peer", Node: "192.0.2.10"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec    Spec
		refusal bool
		want    string
	}{
		{Spec{Kind: "drop", Targets: []string{"lo"}}, true, "loopback"},
		{Spec{Kind: "drop-oneway", Targets: []string{"peer"}}, false, "params.direction"},
		{Spec{Kind: "loss", Targets: []string{"peer"}, Params: map[string]any{"probability": 2}}, false, "params.probability"},
		{Spec{Kind: "drop", Targets: []string{"peer"}, Params: map[string]any{"proto": "sctp"}}, false, "params.proto"},
		{Spec{Kind: "drop", Targets: []string{"peer"}, Params: map[string]any{"netns": "falsify-no-such-ns"}}, false, "params.netns"},
	} {
		_, err := n.Prepare(ctx, tc.spec)
		var re *RefusalError
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &re) != tc.refusal {
			t.Errorf("%s %v: err = %v, want %q (refusal %v)", tc.spec.Kind, tc.spec.Params, err, tc.want, tc.refusal)
		}
	}
}

func TestReachClassifies(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	r, err := reach(context.Background(), "", net.IPv4(127, 0, 0, 1), port, "", time.Second)
	if err != nil || r.Outcome != "ok" {
		t.Errorf("reach open port = %+v, %v", r, err)
	}
	ln.Close()
	r, err = reach(context.Background(), "", net.IPv4(127, 0, 0, 1), port, "", time.Second)
	if err != nil || r.Outcome != "refused" || !reachable(r) {
		t.Errorf("reach closed port = %+v, %v; want refused (reachable)", r, err)
	}
}
