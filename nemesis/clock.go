package nemesis

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// faketimeLibs are where Debian/Ubuntu and source installs put libfaketime.
var faketimeLibs = []string{
	"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
	"/usr/lib/faketime/libfaketime.so.1",
	"/usr/local/lib/faketime/libfaketime.so.1",
	"/usr/lib64/faketime/libfaketime.so.1",
}

func findFaketimeLib() string {
	for _, p := range faketimeLibs {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func init() {
	register(&Kind{
		Name: "clock-skew", Family: "time", Needs: []string{CapFaketime}, Targets: []string{TargetCommand},
		Doc: "restart an owned command under libfaketime with params.offset (\"+90s\", \"-2h\"); evidence: libfaketime mapped in /proc/PID/maps, the skew measured by a sibling under the same settings, and the target's own reported time (params.time_pattern with one capture group of unix seconds, matched in its log); static and Go binaries are refused (they bypass libc)",
		Params: map[string]string{
			"offset":       "required: the skew, a signed duration (\"+90s\", \"-2h\") or ms",
			"time_pattern": "regexp with one capture group of unix seconds, matched in the target's log: the target's own reported time",
			"time_wait":    "how long to wait for a time_pattern line after the restart (default 3s)",
		},
		Check:     checkClockSkew,
		Baseline:  baselineClockSkew,
		Apply:     applyClockSkew,
		Probe:     probeClockSkew,
		Heal:      healClockSkew,
		HealProbe: healProbeClockSkew,
		Orphan:    orphanNothing("an owned command under libfaketime died with its owner"),
	})
}

type clockFault struct {
	offset  time.Duration
	lib     string
	env     []string
	pattern *regexp.Regexp
	wait    time.Duration
	logOff  int64
	oldPID  int
}

func checkClockSkew(_ context.Context, _ *Env, a *Applied) error {
	p := a.params()
	if !p.has("offset") {
		return errors.New("params.offset: give the skew as a signed duration (\"+90s\", \"-2h\") or milliseconds")
	}
	off, err := p.duration("offset", 0)
	if err != nil {
		return err
	}
	if off == 0 {
		return errors.New("params.offset: a zero skew is no fault")
	}
	cf := &clockFault{offset: off, lib: findFaketimeLib()}
	if cf.lib == "" {
		return &RefusalError{Kind: "clock-skew", Capability: CapFaketime, Reason: "libfaketime.so.1 not found", Hint: "apt-get install -y faketime"}
	}
	if pat, err := p.str("time_pattern", ""); err != nil {
		return err
	} else if pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil {
			return fmt.Errorf("params.time_pattern: %w", err)
		}
		if re.NumSubexp() != 1 {
			return errors.New("params.time_pattern: use exactly one capture group (unix seconds)")
		}
		cf.pattern = re
	}
	if cf.wait, err = p.duration("time_wait", 3*time.Second); err != nil {
		return err
	}
	for _, t := range a.targets {
		s := t.snapshot()
		bin, err := resolveBinary(s.Command[0], s.Dir)
		if err != nil {
			return &RefusalError{Kind: "clock-skew", Reason: fmt.Sprintf("target %q: %v", s.Name, err)}
		}
		if why := faketimeBlind(bin); why != "" {
			return &RefusalError{Kind: "clock-skew", Reason: fmt.Sprintf("target %q runs %s: %s", s.Name, bin, why),
				Hint: "skew the clock of such a binary another way (a time namespace, or the SUT's own clock hook)"}
		}
	}
	secs := strconv.FormatFloat(off.Seconds(), 'f', -1, 64)
	if off > 0 {
		secs = "+" + secs
	}
	cf.env = []string{"LD_PRELOAD=" + cf.lib, "FAKETIME=" + secs, "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_NO_CACHE=1"}
	a.state = cf
	return nil
}

func resolveBinary(argv0, dir string) (string, error) {
	if strings.Contains(argv0, "/") {
		if !filepath.IsAbs(argv0) && dir != "" {
			argv0 = filepath.Join(dir, argv0)
		}
		return filepath.Abs(argv0)
	}
	p, err := exec.LookPath(argv0)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// faketimeBlind says why libfaketime cannot affect the program at path, or
// "" when it can: a static binary (no PT_INTERP: nothing loads an
// LD_PRELOAD library) or a Go binary (it reads the clock through the vDSO,
// never through libc). A script is judged by its interpreter.
func faketimeBlind(path string) string {
	for range 4 {
		f, err := os.Open(path)
		if err != nil {
			return err.Error()
		}
		head := make([]byte, 256)
		k, _ := io.ReadFull(f, head)
		f.Close()
		head = head[:k]
		if bytes.HasPrefix(head, []byte("#!")) {
			line, _, _ := strings.Cut(string(head[2:]), "\n")
			fields := strings.Fields(line)
			if len(fields) == 0 {
				return "a script with an empty #! line"
			}
			path = fields[0]
			if filepath.Base(path) == "env" && len(fields) > 1 {
				p, err := exec.LookPath(fields[1])
				if err != nil {
					return err.Error()
				}
				path = p
			}
			continue
		}
		ef, err := elf.Open(path)
		if err != nil {
			return "not an ELF executable or script: " + err.Error()
		}
		defer ef.Close()
		interp := false
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				interp = true
			}
		}
		if !interp {
			return "a statically linked binary (no PT_INTERP program header): the dynamic loader never runs, so LD_PRELOAD=libfaketime cannot load"
		}
		if ef.Section(".go.buildinfo") != nil {
			return "a Go binary: Go reads the clock through the vDSO, not libc, so libfaketime cannot skew it"
		}
		return ""
	}
	return "too many levels of #! interpreters"
}

func baselineClockSkew(_ context.Context, _ *Env, a *Applied) error {
	cf := a.state.(*clockFault)
	t := a.targets[0]
	s := t.snapshot()
	cf.oldPID = s.PID
	a.note(Evidence{Probe: fmt.Sprintf("/proc/%d/maps", s.PID), Before: mapsState(s.PID), Measured: true, Side: SideVictim})
	return nil
}

func mapsState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	if bytes.Contains(b, []byte("libfaketime")) {
		return "libfaketime mapped"
	}
	return "libfaketime not mapped"
}

func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func applyClockSkew(_ context.Context, _ *Env, a *Applied) error {
	cf := a.state.(*clockFault)
	for _, t := range a.targets {
		t.stopOwned(5 * time.Second)
		cf.logOff = logSize(t.LogPath)
		t.mu.Lock()
		t.extraEnv = cf.env
		t.mu.Unlock()
		if err := t.start(); err != nil {
			return err
		}
	}
	return nil
}

// waitMaps polls /proc/PID/maps until libfaketime is (or is not) mapped.
func waitMaps(pid int, want bool) string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := mapsState(pid)
		if (st == "libfaketime mapped") == want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// siblingSkew runs date(1) under env and returns its clock minus the host's.
func siblingSkew(ctx context.Context, env []string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "date", "+%s.%N")
	cmd.Env = append(os.Environ(), env...)
	host := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return 0, "", fmt.Errorf("date: %w", err)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0, string(out), fmt.Errorf("date printed %q", out)
	}
	return time.Duration(f*float64(time.Second)) - time.Duration(host.UnixNano()), strings.TrimSpace(string(out)), nil
}

// reportedSkew waits for the target to log a time matching pattern after
// offset and returns its skew against the host clock.
func reportedSkew(ctx context.Context, path string, from int64, re *regexp.Regexp, wait time.Duration) (time.Duration, string, error) {
	deadline := time.Now().Add(wait)
	for {
		line, v, ok := lastMatch(path, from, re)
		if ok {
			return time.Duration(v*float64(time.Second)) - time.Duration(time.Now().UnixNano()), line, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, "", fmt.Errorf("no line matching %q in %s within %s", re, path, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastMatch(path string, from int64, re *regexp.Regexp) (string, float64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, false
	}
	defer f.Close()
	if _, err := f.Seek(from, 0); err != nil {
		return "", 0, false
	}
	var line string
	var v float64
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if x, err := strconv.ParseFloat(m[1], 64); err == nil {
			line, v, found = sc.Text(), x, true
		}
	}
	return line, v, found
}

func near(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= float64(2*time.Second)
}

func probeClockSkew(ctx context.Context, _ *Env, a *Applied) Outcome {
	cf := a.state.(*clockFault)
	t := a.targets[0]
	s := t.snapshot()
	var out Outcome
	maps := waitMaps(s.PID, true)
	out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/PID/maps (pid %d → %d)", cf.oldPID, s.PID), Before: a.evidence[0].Before, After: maps, Measured: true, Side: SideVictim,
		Raw: map[string]any{"old_pid": cf.oldPID, "new_pid": s.PID, "env": cf.env}})
	ok := maps == "libfaketime mapped"
	skew, raw, err := siblingSkew(ctx, cf.env)
	ev := Evidence{Probe: "date(1) under the target's libfaketime settings vs the host clock", Before: "0s", Measured: err == nil, Side: SideInjector}
	if err != nil {
		ev.After = err.Error()
		ok = false
	} else {
		ev.After = fmt.Sprintf("%s (date printed %s)", skew.Round(time.Millisecond), raw)
		ev.Raw = map[string]any{"skew_ms": skew.Milliseconds(), "offset_ms": cf.offset.Milliseconds()}
		ok = ok && near(skew, cf.offset)
	}
	out.Evidence = append(out.Evidence, ev)
	if cf.pattern != nil {
		skew, line, err := reportedSkew(ctx, s.LogPath, cf.logOff, cf.pattern, cf.wait)
		ev := Evidence{Probe: "time reported by the target in " + s.LogPath + " vs the host clock", Before: "0s", Measured: err == nil, Side: SideVictim}
		if err != nil {
			ev.After = err.Error()
			ok = false
		} else {
			ev.After = fmt.Sprintf("%s (line %q)", skew.Round(time.Millisecond), line)
			ev.Raw = map[string]any{"skew_ms": skew.Milliseconds(), "line": line}
			ok = ok && near(skew, cf.offset)
		}
		out.Evidence = append(out.Evidence, ev)
	}
	out.Landed = ok
	out.Reason = pick(ok, fmt.Sprintf("the target runs under libfaketime and its clock reads %s off the host's", cf.offset),
		"the skew was not measured as declared (see evidence)")
	return out
}

func healClockSkew(_ context.Context, _ *Env, a *Applied) error {
	cf := a.state.(*clockFault)
	for _, t := range a.targets {
		t.stopOwned(5 * time.Second)
		cf.logOff = logSize(t.LogPath)
		t.mu.Lock()
		t.extraEnv = nil
		t.mu.Unlock()
		if err := t.start(); err != nil {
			return err
		}
	}
	return nil
}

func healProbeClockSkew(ctx context.Context, _ *Env, a *Applied) Outcome {
	cf := a.state.(*clockFault)
	s := a.targets[0].snapshot()
	var out Outcome
	maps := waitMaps(s.PID, false)
	_, alive := procState(ProcRef{PID: s.PID, StartTime: s.StartTime})
	ok := maps == "libfaketime not mapped" && alive
	out.Evidence = append(out.Evidence, Evidence{Probe: fmt.Sprintf("/proc/%d/maps", s.PID), Before: "libfaketime mapped", After: maps, Measured: true, Side: SideVictim})
	if cf.pattern != nil {
		skew, line, err := reportedSkew(ctx, s.LogPath, cf.logOff, cf.pattern, cf.wait)
		ev := Evidence{Probe: "time reported by the target vs the host clock", Before: cf.offset.String(), Measured: err == nil, Side: SideVictim}
		if err != nil {
			ev.After = err.Error()
			ok = false
		} else {
			ev.After = fmt.Sprintf("%s (line %q)", skew.Round(time.Millisecond), line)
			ok = ok && near(skew, 0)
		}
		out.Evidence = append(out.Evidence, ev)
	}
	out.Healed = ok
	out.Reason = pick(ok, "the target runs again without libfaketime, on the host clock", "the target still runs under libfaketime or its clock is still off")
	return out
}
