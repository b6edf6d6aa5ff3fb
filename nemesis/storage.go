package nemesis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// defaultMaxFill bounds the free space disk-full will fill: a filesystem
// with more free space is refused (mount a small tmpfs or loop device).
const defaultMaxFill = 1 << 30

func init() {
	register(&Kind{
		Name: "disk-full", Family: "storage", Targets: []string{TargetPath, TargetCommand},
		Doc: "fill the filesystem of a path target (or an owned command's dir, or params.path inside it) with a fill file; evidence: statfs free space → ~0 and ENOSPC on a probe write; heal removes the fill file",
		Params: map[string]string{
			"path":      "a directory inside the target to fill from (default: the target's path or dir)",
			"max_bytes": "refuse to fill a filesystem with more free space than this (default 1 GiB)",
		},
		Check:     checkDiskFull,
		Baseline:  baselineDiskFull,
		Apply:     applyDiskFull,
		Probe:     probeDiskFull,
		Heal:      healDiskFull,
		HealProbe: healProbeDiskFull,
		Orphan:    orphanDiskFull,
	})
}

type diskFault struct {
	dir        string
	freeBefore uint64
	probeWrite string
}

func checkDiskFull(_ context.Context, env *Env, a *Applied) error {
	if len(a.targets) != 1 {
		return errors.New("targets: disk-full takes one path or command target")
	}
	t := a.targets[0].snapshot()
	dir := t.Path
	if t.Kind == TargetCommand {
		dir = t.Dir
		if dir == "" {
			return &RefusalError{Kind: "disk-full", Reason: fmt.Sprintf("command target %q has no dir; register a path target for the directory it writes into", t.Name)}
		}
	}
	p := a.params()
	sub, err := p.str("path", "")
	if err != nil {
		return err
	}
	if sub != "" {
		abs := sub
		if !filepath.IsAbs(sub) {
			abs = filepath.Join(dir, sub)
		}
		abs = filepath.Clean(abs)
		if rel, err := filepath.Rel(dir, abs); err != nil || strings.HasPrefix(rel, "..") {
			return &RefusalError{Kind: "disk-full", Reason: fmt.Sprintf("params.path %q is outside target %q (%s); faults land only on registered targets", sub, t.Name, dir)}
		}
		dir = abs
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("target %q: %s is not a directory (%v)", t.Name, dir, err)
	}
	maxFill, err := p.float("max_bytes", defaultMaxFill)
	if err != nil {
		return err
	}
	free, _, err := statfsFree(dir)
	if err != nil {
		return err
	}
	if float64(free) > maxFill {
		return &RefusalError{Kind: "disk-full", Reason: fmt.Sprintf("%s has %d bytes free, over params.max_bytes %d: refusing to fill a large filesystem", dir, free, int64(maxFill)),
			Hint: "mount a small tmpfs (mount -t tmpfs -o size=64m tmpfs DIR) or loop device for the target's data, or raise params.max_bytes"}
	}
	a.Record.FillPath = filepath.Join(dir, fmt.Sprintf(".falsify_%s_%s.fill", env.n.owner, env.n.objName(a.Record.ID)))
	a.state = &diskFault{dir: dir, probeWrite: filepath.Join(dir, fmt.Sprintf(".falsify_%s_%s.probe", env.n.owner, env.n.objName(a.Record.ID)))}
	return nil
}

// statfsFree returns the bytes available to unprivileged writers and the
// filesystem size.
func statfsFree(dir string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

func baselineDiskFull(_ context.Context, _ *Env, a *Applied) error {
	d := a.state.(*diskFault)
	free, _, err := statfsFree(d.dir)
	if err != nil {
		return err
	}
	d.freeBefore = free
	if err := probeWrite(d.probeWrite); err != nil {
		return fmt.Errorf("a probe write into %s fails before the fault (%v): the fault could not be told apart", d.dir, err)
	}
	return nil
}

func applyDiskFull(_ context.Context, _ *Env, a *Applied) error {
	d := a.state.(*diskFault)
	f, err := os.OpenFile(a.Record.FillPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("fill file: %w", err)
	}
	defer f.Close()
	free, _, err := statfsFree(d.dir)
	if err != nil {
		return err
	}
	// Reserve the space at once where the filesystem can, then write
	// until ENOSPC: fallocate may leave a remainder, and root may write
	// into blocks reserved for it.
	if free > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(free)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSPC) {
			return fmt.Errorf("fallocate %s: %w", a.Record.FillPath, err)
		}
	}
	if _, err := f.Seek(0, 2); err != nil {
		return err
	}
	for _, size := range []int{1 << 20, 4096, 512, 1} {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
					break
				}
				return fmt.Errorf("filling %s: %w", a.Record.FillPath, err)
			}
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("fsync %s: %w", a.Record.FillPath, err)
	}
	return nil
}

// probeWrite writes and syncs 4 KiB into path, then removes it.
func probeWrite(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(make([]byte, 4096))
	serr := f.Sync()
	f.Close()
	os.Remove(path)
	if werr != nil {
		return werr
	}
	return serr
}

func probeDiskFull(_ context.Context, _ *Env, a *Applied) Outcome {
	d := a.state.(*diskFault)
	var out Outcome
	free, size, err := statfsFree(d.dir)
	fi, _ := os.Stat(a.Record.FillPath)
	var filled int64
	if fi != nil {
		filled = fi.Size()
	}
	out.Evidence = append(out.Evidence, Evidence{Probe: "statfs " + d.dir + " (bytes available)", Before: fmt.Sprint(d.freeBefore), After: fmt.Sprint(free), Measured: err == nil, Side: SideInjector,
		Raw: map[string]any{"free_before": d.freeBefore, "free_after": free, "fs_size": size, "fill_file": a.Record.FillPath, "fill_bytes": filled}})
	werr := probeWrite(d.probeWrite)
	enospc := errors.Is(werr, syscall.ENOSPC) || errors.Is(werr, syscall.EDQUOT)
	after := "ok"
	if werr != nil {
		after = werr.Error()
	}
	out.Evidence = append(out.Evidence, Evidence{Probe: "write+fsync 4096 bytes into " + d.dir, Before: "ok", After: after, Measured: true, Side: SideVictim})
	out.Landed = enospc && free < 64<<10
	out.Reason = pick(out.Landed, fmt.Sprintf("free space fell from %d to %d bytes and a write into the target's directory fails with ENOSPC", d.freeBefore, free),
		fmt.Sprintf("free space %d bytes; probe write: %s", free, after))
	return out
}

func healDiskFull(_ context.Context, _ *Env, a *Applied) error {
	if err := os.Remove(a.Record.FillPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing fill file: %w", err)
	}
	return nil
}

func healProbeDiskFull(_ context.Context, _ *Env, a *Applied) Outcome {
	d := a.state.(*diskFault)
	var out Outcome
	_, statErr := os.Stat(a.Record.FillPath)
	gone := errors.Is(statErr, os.ErrNotExist)
	free, _, err := statfsFree(d.dir)
	out.Evidence = append(out.Evidence, Evidence{Probe: "fill file " + a.Record.FillPath, Before: "present", After: pick(gone, "absent", "present"), Measured: true, Side: SideInjector})
	out.Evidence = append(out.Evidence, Evidence{Probe: "statfs " + d.dir + " (bytes available)", Before: "~0", After: fmt.Sprint(free), Measured: err == nil, Side: SideInjector,
		Raw: map[string]any{"free_before_fault": d.freeBefore, "free_now": free}})
	werr := probeWrite(d.probeWrite)
	after := "ok"
	if werr != nil {
		after = werr.Error()
	}
	out.Evidence = append(out.Evidence, Evidence{Probe: "write+fsync 4096 bytes into " + d.dir, Before: "ENOSPC", After: after, Measured: true, Side: SideVictim})
	out.Healed = gone && werr == nil
	out.Reason = pick(out.Healed, fmt.Sprintf("the fill file is gone, %d bytes free again, writes succeed", free), "fill file gone: "+fmt.Sprint(gone)+"; probe write: "+after)
	return out
}

func orphanDiskFull(_ context.Context, rec *Record) Outcome {
	var out Outcome
	_, err := os.Stat(rec.FillPath)
	before := pick(err == nil, "present", "absent")
	rmErr := os.Remove(rec.FillPath)
	_, err = os.Stat(rec.FillPath)
	gone := errors.Is(err, os.ErrNotExist)
	ev := Evidence{Probe: "fill file " + rec.FillPath, Before: before, After: pick(gone, "absent", "present"), Measured: true, Side: SideInjector}
	if rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		ev.Raw = map[string]any{"error": rmErr.Error()}
	}
	out.Evidence = append(out.Evidence, ev)
	if gone {
		free, _, err := statfsFree(filepath.Dir(rec.FillPath))
		if err == nil {
			out.Evidence = append(out.Evidence, Evidence{Probe: "statfs " + filepath.Dir(rec.FillPath), After: fmt.Sprintf("%d bytes available", free), Measured: true, Side: SideInjector})
		}
	}
	out.Healed = gone
	out.Reason = pick(gone, "the fill file is removed", "the fill file could not be removed")
	return out
}
