package nemesis

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"
)

func init() {
	register(&Kind{
		Name: "pause", Family: "process", Targets: []string{TargetPID, TargetCommand, TargetNode},
		Params:    map[string]string{"pid": "the process id on a node target (node targets only)"},
		Doc:       "SIGSTOP the target (its process group when owned); evidence: /proc/PID/stat state T before/after; heal SIGCONT, state back to S/R",
		Check:     checkAlive,
		Baseline:  baselineState,
		Apply:     signalAll(syscall.SIGSTOP),
		Probe:     probeState(true),
		Heal:      signalAll(syscall.SIGCONT),
		HealProbe: probeState(false),
		Orphan:    orphanCont,
	})
	register(&Kind{
		Name: "kill", Family: "process", Targets: []string{TargetPID, TargetCommand, TargetNode},
		Params:    map[string]string{"pid": "the process id on a node target (node targets only)", "restart": "false keeps an owned command down at heal (default true: restarted)"},
		Doc:       "SIGKILL the target; evidence: exit status of an owned command, /proc/PID gone; heal restarts an owned command (params.restart=false keeps it down)",
		Check:     checkAlive,
		Baseline:  baselineState,
		Apply:     signalAll(syscall.SIGKILL),
		Probe:     probeExit,
		Heal:      restartOwned,
		HealProbe: probeRestarted,
		Orphan:    orphanNothing("a killed process stays dead; an owned command died with its owner"),
	})
	register(&Kind{
		Name: "stop", Family: "process", Targets: []string{TargetPID, TargetCommand, TargetNode},
		Params:    map[string]string{"pid": "the process id on a node target (node targets only)", "restart": "false keeps an owned command down at heal (default true: restarted)", "grace": "how long to wait for the exit after SIGTERM (ms or \"10s\")"},
		Doc:       "SIGTERM the target (graceful stop); evidence: exit within params.grace (default 10s), exit status; heal restarts an owned command",
		Check:     checkAlive,
		Baseline:  baselineState,
		Apply:     signalAll(syscall.SIGTERM),
		Probe:     probeExit,
		Heal:      restartOwned,
		HealProbe: probeRestarted,
		Orphan:    orphanNothing("a stopped process stays stopped; an owned command died with its owner"),
	})
	register(&Kind{
		Name: "restart", Family: "process", Targets: []string{TargetCommand}, Instant: true,
		Params:    map[string]string{"grace": "how long to wait for the exit after SIGTERM (ms or \"5s\")"},
		Doc:       "stop an owned command (SIGTERM, SIGKILL after params.grace) and start it again; evidence: old pid's exit status, new pid and start time",
		Check:     checkOwned,
		Baseline:  baselineState,
		Apply:     applyRestart,
		Probe:     probeRestart,
		HealProbe: probeRunning,
		Orphan:    orphanNothing("a restart is instantaneous"),
	})
}

// checkAlive refuses a target whose process exited or whose pid was
// reused, and names the processes in the Record.
func checkAlive(ctx context.Context, _ *Env, a *Applied) error {
	if _, err := a.params().duration("grace", 10*time.Second); err != nil {
		return err
	}
	if err := recordProcs(ctx, a); err != nil {
		return err
	}
	for i, t := range a.targets {
		p := a.Record.Procs[i]
		if st, alive := procState(p); !alive {
			if ex := t.snapshot().Exited; ex != "" {
				st += "; " + ex
			}
			return &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("target %q (pid %d) has exited: %s", t.Name, p.PID, st)}
		}
		if t.Kind == TargetCommand && !t.running() {
			return &RefusalError{Kind: a.Record.Kind, Reason: fmt.Sprintf("target %q has exited (%s); restart it first", t.Name, t.snapshot().Exited)}
		}
	}
	return nil
}

// recordProcs names the processes the fault signals in its Record, before
// it is journaled, so that a crashed owner's pause can be resumed.
func recordProcs(ctx context.Context, a *Applied) error {
	a.Record.Procs = nil
	for _, t := range a.targets {
		p, err := procOf(ctx, a, t)
		if err != nil {
			return err
		}
		a.Record.Procs = append(a.Record.Procs, p)
	}
	return nil
}

func checkOwned(ctx context.Context, _ *Env, a *Applied) error {
	if _, err := a.params().duration("grace", 5*time.Second); err != nil {
		return err
	}
	return recordProcs(ctx, a)
}

func baselineState(_ context.Context, _ *Env, a *Applied) error {
	for i, t := range a.targets {
		p := a.Record.Procs[i]
		st, alive := procState(p)
		a.note(Evidence{Probe: statProbe(p) + " (target " + t.Name + ")", Before: st, Measured: true, Side: SideVictim,
			Raw: map[string]any{"pid": p.PID, "start_time": p.StartTime}})
		if !alive && a.Record.Kind != "restart" {
			return fmt.Errorf("target %q (pid %d): %s", t.Name, p.PID, st)
		}
	}
	return nil
}

func signalAll(sig syscall.Signal) func(context.Context, *Env, *Applied) error {
	return func(_ context.Context, _ *Env, a *Applied) error {
		for _, p := range a.Record.Procs {
			if err := signalProc(p, sig); err != nil {
				return err
			}
		}
		return nil
	}
}

// probeState polls each process's state until it is stopped (T) or, for
// the heal, no longer stopped, for up to 2 s.
func probeState(wantStopped bool) func(context.Context, *Env, *Applied) Outcome {
	return func(ctx context.Context, _ *Env, a *Applied) Outcome {
		var out Outcome
		ok := true
		for i, p := range a.Record.Procs {
			before := ""
			if !wantStopped {
				before = "T (stopped)"
			} else if i < len(a.evidence) {
				before = a.evidence[i].Before
			}
			deadline := time.Now().Add(2 * time.Second)
			var st string
			var alive bool
			for {
				st, alive = procState(p)
				stopped := strings.HasPrefix(st, "T ")
				if !alive || stopped == wantStopped || time.Now().After(deadline) || ctx.Err() != nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			good := alive && strings.HasPrefix(st, "T ") == wantStopped
			if wantStopped && strings.HasPrefix(before, "T ") {
				good = false // already stopped: the fault proves nothing
			}
			ok = ok && good
			out.Evidence = append(out.Evidence, Evidence{Probe: statProbe(p), Before: before, After: st, Measured: true, Side: SideVictim,
				Raw: map[string]any{"pid": p.PID, "start_time": p.StartTime}})
		}
		if wantStopped {
			out.Landed = ok
			out.Reason = pick(ok, "every target process is in state T (stopped), read from /proc", "a target process is not in state T (stopped) after SIGSTOP (or was already stopped)")
		} else {
			out.Healed = ok
			out.Reason = pick(ok, "every target process left state T after SIGCONT", "a target process is still stopped or gone after SIGCONT")
		}
		return out
	}
}

// probeExit measures that each target process exited: the exit status of
// an owned command, /proc/PID gone (or a zombie) otherwise.
func probeExit(ctx context.Context, env *Env, a *Applied) Outcome {
	grace, _ := a.params().duration("grace", 10*time.Second)
	if a.Record.Kind == "kill" {
		grace = 5 * time.Second
	}
	var out Outcome
	ok := true
	for i, t := range a.targets {
		p := a.Record.Procs[i]
		before := a.evidence[i].Before
		ev := Evidence{Probe: fmt.Sprintf("/proc/%d (target %s)", p.PID, t.Name), Before: before, Measured: true, Side: SideVictim, Raw: map[string]any{"pid": p.PID}}
		if t.Kind == TargetCommand {
			status, exited := t.exited(grace)
			st, alive := procState(p)
			ev.After = st
			if exited {
				ev.After = "exited: " + status + "; " + st
				ev.Raw["exit_status"] = status
			}
			ok = ok && exited && !alive
		} else {
			deadline := time.Now().Add(grace)
			var st string
			var alive bool
			for {
				st, alive = procState(p)
				if !alive || time.Now().After(deadline) || ctx.Err() != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			ev.After = st
			ok = ok && !alive
		}
		out.Evidence = append(out.Evidence, ev)
	}
	out.Landed = ok
	out.Reason = pick(ok, "every target process is gone, read from /proc (and its exit status when owned)",
		fmt.Sprintf("a target process is still alive %s after the signal", grace))
	return out
}

// restartOwned is the heal of kill and stop: owned commands are started
// again unless params.restart is false; pid targets cannot be.
func restartOwned(_ context.Context, _ *Env, a *Applied) error {
	if v, ok := a.Spec.Params["restart"].(bool); ok && !v {
		return nil
	}
	for _, t := range a.targets {
		if t.Kind != TargetCommand || t.running() {
			continue
		}
		if err := t.start(); err != nil {
			return err
		}
	}
	return nil
}

func probeRestarted(ctx context.Context, env *Env, a *Applied) Outcome {
	if v, ok := a.Spec.Params["restart"].(bool); ok && !v {
		return Outcome{Healed: true, Reason: "params.restart is false: the target stays down by request"}
	}
	var out Outcome
	ok := true
	var foreign []string
	for i, t := range a.targets {
		old := a.Record.Procs[i]
		if t.Kind != TargetCommand {
			st, _ := procState(old)
			out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/%d (target %s)", old.PID, t.Name), Before: "killed", After: st, Measured: true, Side: SideVictim})
			foreign = append(foreign, t.Name)
			ok = false
			continue
		}
		now := t.proc()
		st, alive := procState(now)
		good := alive && now.PID != old.PID || alive && now.StartTime != old.StartTime
		ok = ok && good
		out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/%d/stat (target %s restarted)", now.PID, t.Name),
			Before: fmt.Sprintf("pid %d gone", old.PID), After: fmt.Sprintf("pid %d start time %d: %s", now.PID, now.StartTime, st), Measured: true, Side: SideVictim,
			Raw: map[string]any{"old_pid": old.PID, "new_pid": now.PID, "start_time": now.StartTime}})
	}
	out.Healed = ok
	switch {
	case len(foreign) > 0:
		out.Reason = fmt.Sprintf("target %s is a pid falsify does not own and cannot restart; restart it with your tools (or register it as a command)", strings.Join(foreign, ", "))
	case ok:
		out.Reason = "every owned command runs again under a new pid"
	default:
		out.Reason = "an owned command did not come back"
	}
	return out
}

func applyRestart(_ context.Context, _ *Env, a *Applied) error {
	grace, _ := a.params().duration("grace", 5*time.Second)
	for _, t := range a.targets {
		t.stopOwned(grace)
		if err := t.start(); err != nil {
			return err
		}
	}
	return nil
}

func probeRestart(ctx context.Context, _ *Env, a *Applied) Outcome {
	var out Outcome
	ok := true
	for i, t := range a.targets {
		old := a.Record.Procs[i]
		oldState, oldAlive := procState(old)
		now := t.proc()
		st, alive := procState(now)
		good := !oldAlive && alive && (now.PID != old.PID || now.StartTime != old.StartTime)
		ok = ok && good
		out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/PID/stat (target %s)", t.Name),
			Before:   fmt.Sprintf("pid %d start time %d: %s", old.PID, old.StartTime, a.evidence[i].Before),
			After:    fmt.Sprintf("old pid %d: %s; new pid %d start time %d: %s", old.PID, oldState, now.PID, now.StartTime, st),
			Raw:      map[string]any{"old_pid": old.PID, "new_pid": now.PID, "old_start_time": old.StartTime, "new_start_time": now.StartTime},
			Measured: true, Side: SideVictim})
	}
	out.Landed = ok
	out.Reason = pick(ok, "the old process is gone and a new one runs (new pid / start time)", "the restart did not produce a new running process")
	return out
}

func probeRunning(_ context.Context, _ *Env, a *Applied) Outcome {
	var out Outcome
	ok := true
	for _, t := range a.targets {
		p := t.proc()
		st, alive := procState(p)
		ok = ok && alive
		out.Evidence = append(out.Evidence, Evidence{Probe: statProbe(p), After: st, Measured: true, Side: SideVictim})
	}
	out.Healed = ok
	out.Reason = pick(ok, "a restart is instantaneous; the target runs", "the target is not running")
	return out
}

// orphanCont resumes processes a crashed owner left SIGSTOPped.
func orphanCont(_ context.Context, rec *Record) Outcome {
	var out Outcome
	ok := true
	procs := rec.Procs
	if len(procs) == 0 {
		for _, t := range rec.Targets {
			procs = append(procs, ProcRef{PID: t.PID, StartTime: t.StartTime, Group: t.Kind == TargetCommand})
		}
	}
	for _, p := range procs {
		before, alive := procState(p)
		if !alive {
			out.Evidence = append(out.Evidence, Evidence{Probe: statProbe(p), Before: before, After: before, Measured: true, Side: SideVictim})
			continue // gone: nothing left paused
		}
		err := signalProc(p, syscall.SIGCONT)
		var after string
		deadline := time.Now().Add(2 * time.Second)
		for {
			after, alive = procState(p)
			if !strings.HasPrefix(after, "T ") || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		good := err == nil && !strings.HasPrefix(after, "T ")
		ok = ok && good
		ev := Evidence{Probe: statProbe(p), Before: before, After: after, Measured: true, Side: SideVictim}
		if err != nil {
			ev.Raw = map[string]any{"error": err.Error()}
		}
		out.Evidence = append(out.Evidence, ev)
	}
	out.Healed = ok
	out.Reason = pick(ok, "SIGCONT sent; no target process is left stopped", "a target process is still stopped after SIGCONT")
	return out
}

func orphanNothing(why string) func(context.Context, *Record) Outcome {
	return func(context.Context, *Record) Outcome {
		return Outcome{Healed: true, Reason: "nothing to heal: " + why}
	}
}

// statProbe names the state reading of p, with the node command for a
// remote process.
func statProbe(p ProcRef) string {
	if p.Node != "" {
		return fmt.Sprintf("cat /proc/%d/stat on node %s (%s executor): state", p.PID, p.Node, p.Exec)
	}
	return fmt.Sprintf("/proc/%d/stat state", p.PID)
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
