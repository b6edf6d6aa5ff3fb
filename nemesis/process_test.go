package nemesis

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPauseStopsAndHealResumes(t *testing.T) {
	ctx := context.Background()
	for _, owned := range []bool{true, false} {
		name := map[bool]string{true: "owned_command", false: "foreign_pid"}[owned]
		t.Run(name, func(t *testing.T) {
			n := newNemesis(t)
			spec := TargetSpec{Name: "srv"}
			if owned {
				argv, env, _ := helperCommand(t, "echo")
				spec.Command, spec.Env = argv, env
			} else {
				cmd, _ := startHelper(t, "echo")
				spec.PID = cmd.Process.Pid
			}
			tg, err := n.Register(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			f, err := n.Inject(ctx, Spec{Kind: "pause", Targets: []string{"srv"}})
			if err != nil {
				t.Fatal(err)
			}
			if !f.Landing.Landed {
				t.Fatalf("pause did not land: %s %+v", f.Landing.Reason, f.Landing.Evidence)
			}
			if st, _ := procState(ProcRef{PID: tg.PID}); !strings.HasPrefix(st, "T ") {
				t.Fatalf("state after pause = %s, want T", st)
			}
			ev := f.Landing.Evidence[0]
			if !strings.HasPrefix(ev.After, "T ") || strings.HasPrefix(ev.Before, "T ") || ev.Side != SideVictim || !ev.Measured {
				t.Errorf("evidence = %+v, want before S/R, after T, victim side, measured", ev)
			}
			out, err := n.Heal(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Healed {
				t.Fatalf("heal: %s %+v", out.Reason, out.Evidence)
			}
			if st, alive := procState(ProcRef{PID: tg.PID}); !alive || strings.HasPrefix(st, "T ") {
				t.Fatalf("state after heal = %s, want running or sleeping", st)
			}
			// Healing again returns the recorded outcome.
			again, err := n.Heal(ctx, f)
			if err != nil || !again.Healed || again.At != out.At {
				t.Errorf("second heal = %+v, %v; want the recorded outcome", again, err)
			}
		})
	}
}

func TestKillGivesExitEvidence(t *testing.T) {
	ctx := context.Background()
	t.Run("owned_command_restarted_on_heal", func(t *testing.T) {
		n := newNemesis(t)
		argv, env, _ := helperCommand(t, "echo")
		tg, err := n.Register(ctx, TargetSpec{Name: "srv", Command: argv, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		f, err := n.Inject(ctx, Spec{Kind: "kill", Targets: []string{tg.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if !f.Landing.Landed {
			t.Fatalf("kill did not land: %s", f.Landing.Reason)
		}
		if got := f.Landing.Evidence[0].Raw["exit_status"]; got != "signal: killed" {
			t.Errorf("exit status evidence = %v, want signal: killed", got)
		}
		if _, alive := procState(ProcRef{PID: tg.PID, StartTime: tg.StartTime}); alive {
			t.Fatal("killed process still alive")
		}
		out, err := n.Heal(ctx, f)
		if err != nil || !out.Healed {
			t.Fatalf("heal = %+v, %v", out, err)
		}
		now, _ := n.Target("srv")
		if now.PID == tg.PID {
			t.Errorf("restarted pid = old pid %d", now.PID)
		}
		if _, alive := procState(ProcRef{PID: now.PID, StartTime: now.StartTime}); !alive {
			t.Error("restarted process not alive")
		}
	})
	t.Run("foreign_pid_gone_and_heal_says_why", func(t *testing.T) {
		n := newNemesis(t)
		cmd, _ := startHelper(t, "echo")
		if _, err := n.Register(ctx, TargetSpec{Name: "srv", PID: cmd.Process.Pid}); err != nil {
			t.Fatal(err)
		}
		f, err := n.Inject(ctx, Spec{Kind: "kill", Targets: []string{"srv"}})
		if err != nil {
			t.Fatal(err)
		}
		if !f.Landing.Landed {
			t.Fatalf("kill did not land: %s %+v", f.Landing.Reason, f.Landing.Evidence)
		}
		if after := f.Landing.Evidence[0].After; !strings.Contains(after, "Z (zombie)") && !strings.Contains(after, "gone") {
			t.Errorf("evidence after = %q, want zombie or gone", after)
		}
		out, err := n.Heal(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if out.Healed || !strings.Contains(out.Reason, "cannot restart") {
			t.Errorf("heal of a foreign pid = %+v, want not healed with the reason", out)
		}
	})
}

func TestStopAndRestart(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	argv, env, _ := helperCommand(t, "echo")
	tg, err := n.Register(ctx, TargetSpec{Name: "srv", Command: argv, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	f, err := n.Inject(ctx, Spec{Kind: "restart", Targets: []string{"srv"}, Params: map[string]any{"grace": "2s"}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed {
		t.Fatalf("restart did not land: %s %+v", f.Landing.Reason, f.Landing.Evidence)
	}
	raw := f.Landing.Evidence[0].Raw
	if raw["old_pid"] != tg.PID || raw["new_pid"] == tg.PID {
		t.Errorf("restart evidence = %v, want old pid %d and a new one", raw, tg.PID)
	}
	f2, err := n.Inject(ctx, Spec{Kind: "stop", Targets: []string{"srv"}, Params: map[string]any{"restart": false}})
	if err != nil {
		t.Fatal(err)
	}
	if !f2.Landing.Landed || !strings.Contains(f2.Landing.Evidence[0].After, "signal: terminated") {
		t.Fatalf("stop: %s %+v", f2.Landing.Reason, f2.Landing.Evidence)
	}
	if out, _ := n.Heal(ctx, f2); !out.Healed {
		t.Errorf("heal with restart=false: %+v", out)
	}
	// The command stays down: a fault on it is refused.
	_, err = n.Inject(ctx, Spec{Kind: "pause", Targets: []string{"srv"}})
	var re *RefusalError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "exited") {
		t.Errorf("pause on an exited command: err = %v, want a refusal naming the exit", err)
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startHelper(t, "echo")
	if _, err := n.Register(ctx, TargetSpec{Name: "dies", PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "dir", Path: t.TempDir()}); err != nil {
		t.Fatal(err)
	}

	t.Run("register", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			spec    TargetSpec
			refusal bool
			want    string
		}{
			{"exited pid", TargetSpec{Name: "x", PID: exited.Process.Pid}, true, "no such process"},
			{"no name", TargetSpec{PID: 1}, false, "name"},
			{"two kinds", TargetSpec{Name: "x", PID: 1, Address: "127.0.0.1:1"}, false, "exactly one"},
			{"bad address", TargetSpec{Name: "x", Address: "nowhere"}, false, "host:port"},
			{"file as path", TargetSpec{Name: "x", Path: "/etc/hostname"}, false, "not a directory"},
			{"duplicate name", TargetSpec{Name: "dir", Path: "/tmp"}, false, "already registered"},
			{"missing netns", TargetSpec{Name: "x", Node: "10.0.0.1", Netns: "falsify-no-such-ns"}, false, "netns"},
		} {
			_, err := n.Register(ctx, tc.spec)
			var re *RefusalError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &re) != tc.refusal {
				t.Errorf("%s: err = %v, want %q (refusal %v)", tc.name, err, tc.want, tc.refusal)
			}
		}
	})

	cmd.Process.Kill()
	cmd.Wait()

	t.Run("inject", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			spec    Spec
			refusal bool
			want    string
		}{
			{"unregistered pid", Spec{Kind: "pause", Targets: []string{"4194000"}}, true, "not registered"},
			{"unregistered name", Spec{Kind: "kill", Targets: []string{"db"}}, true, "not registered"},
			{"exited target", Spec{Kind: "pause", Targets: []string{"dies"}}, true, "has exited"},
			{"no targets", Spec{Kind: "pause"}, false, "targets"},
			{"unknown kind", Spec{Kind: "meteor", Targets: []string{"dies"}}, false, "unknown"},
			{"over the cap", Spec{Kind: "pause", Targets: []string{"dies"}, Duration: 11 * time.Minute}, false, "duration"},
			{"wrong target kind", Spec{Kind: "partition", Targets: []string{"dir"}}, true, "address targets"},
			{"restart of a pid", Spec{Kind: "restart", Targets: []string{"dies"}}, true, "command targets"},
			{"clock-skew without offset", Spec{Kind: "clock-skew", Targets: []string{"dir"}}, true, "command targets"},
		} {
			_, err := n.Inject(ctx, tc.spec)
			var re *RefusalError
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.As(err, &re) != tc.refusal {
				t.Errorf("%s: err = %v, want %q (refusal %v)", tc.name, err, tc.want, tc.refusal)
			}
		}
	})
	if fs := n.Faults(); len(fs) != 0 {
		t.Errorf("refused faults left %d entries: %+v", len(fs), fs)
	}
}

func TestTTLWatchdogHeals(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	healed := make(chan Fault, 1)
	n.OnAutoHeal(func(f Fault) { healed <- f })
	argv, env, _ := helperCommand(t, "echo")
	tg, err := n.Register(ctx, TargetSpec{Name: "srv", Command: argv, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	f, err := n.Inject(ctx, Spec{Kind: "pause", Targets: []string{"srv"}, Duration: 200 * time.Millisecond})
	if err != nil || !f.Landing.Landed {
		t.Fatalf("pause: %v %+v", err, f)
	}
	if f.Deadline.Sub(f.Start) != 200*time.Millisecond {
		t.Errorf("deadline - start = %s, want the declared 200ms", f.Deadline.Sub(f.Start))
	}
	select {
	case got := <-healed:
		if got.HealedBy != "ttl" || got.Heal == nil || !got.Heal.Healed {
			t.Fatalf("auto-healed fault = %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not heal the fault")
	}
	if st, alive := procState(ProcRef{PID: tg.PID}); !alive || strings.HasPrefix(st, "T ") {
		t.Fatalf("after TTL: %s", st)
	}
}

// TestNodeProcessFaultsThroughExecutor pauses and kills a process on a node
// target through its executor (the local one: the same kill(1) and /proc
// an ssh executor would run remotely).
func TestNodeProcessFaultsThroughExecutor(t *testing.T) {
	ctx := context.Background()
	n := newNemesis(t)
	cmd, _ := startHelper(t, "echo")
	pid := cmd.Process.Pid
	if _, err := n.Register(ctx, TargetSpec{Name: "node1", Node: "127.0.0.1", Executor: LocalExecutor{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Register(ctx, TargetSpec{Name: "bare", Node: "127.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	_, err := n.Prepare(ctx, Spec{Kind: "pause", Targets: []string{"bare"}, Params: map[string]any{"pid": pid}})
	var re *RefusalError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "no executor") {
		t.Errorf("pause on a node without executor: %v", err)
	}
	if _, err := n.Prepare(ctx, Spec{Kind: "pause", Targets: []string{"node1"}}); err == nil || !strings.Contains(err.Error(), "params.pid") {
		t.Errorf("pause on a node without params.pid: %v", err)
	}

	f, err := n.Inject(ctx, Spec{Kind: "pause", Targets: []string{"node1"}, Params: map[string]any{"pid": pid}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Landing.Landed || !strings.Contains(f.Landing.Evidence[0].Probe, "cat /proc") {
		t.Fatalf("remote pause: %s %+v", f.Landing.Reason, f.Landing.Evidence)
	}
	if st, _ := procState(ProcRef{PID: pid}); !strings.HasPrefix(st, "T ") {
		t.Fatalf("state = %s, want T", st)
	}
	if out, err := n.Heal(ctx, f); err != nil || !out.Healed {
		t.Fatalf("heal: %v %+v", err, out)
	}
	if rec := f.Record; rec.Procs[0].Exec != "local" || rec.Procs[0].Node != "127.0.0.1" {
		t.Errorf("record procs = %+v, want the node and its executor named", rec.Procs)
	}
	f, err = n.Inject(ctx, Spec{Kind: "kill", Targets: []string{"node1"}, Params: map[string]any{"pid": pid, "restart": false}})
	if err != nil || !f.Landing.Landed {
		t.Fatalf("remote kill: %v %+v", err, f)
	}
	if after := f.Landing.Evidence[0].After; !strings.Contains(after, "Z (zombie)") && !strings.Contains(after, "gone") {
		t.Errorf("remote kill evidence after = %q", after)
	}
}
