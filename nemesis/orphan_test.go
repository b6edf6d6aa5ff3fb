package nemesis

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOrphansHealed plays a crashed falsify: a child process (this test
// binary) pauses a pid, installs an nft drop in a network namespace and
// partitions a proxy, journaling each record before applying it; the
// child is SIGKILLed, and HealOrphans heals all three from the journal.
func TestOrphansHealed(t *testing.T) {
	ctx := context.Background()
	nsA, _, _, ipB := netnsPair(t, 2)
	victim, _ := startHelper(t, "echo")
	_, echo := startHelper(t, "echo")
	journal := filepath.Join(t.TempDir(), "journal.jsonl")

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "FALSIFY_NEMESIS_HELPER=orphan", "ORPHAN_JOURNAL="+journal, "ORPHAN_LOGDIR="+t.TempDir(),
		"ORPHAN_PID="+itoa(victim.Process.Pid), "ORPHAN_NODE="+ipB, "ORPHAN_NETNS="+nsA, "ORPHAN_ECHO="+echo)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			child.Wait()
			t.Fatalf("orphan child failed: %s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("orphan child never got ready: %s", stderr.String())
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	// The faults outlived their owner.
	if st, _ := procState(ProcRef{PID: victim.Process.Pid}); !strings.HasPrefix(st, "T ") {
		t.Fatalf("victim state after the crash = %s, want T (still paused)", st)
	}
	if tables, _ := OrphanTables(nsA); len(tables) != 1 {
		t.Fatalf("tables in %s after the crash = %v, want the child's", nsA, tables)
	}

	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 {
		t.Fatalf("journal holds %d records, want 3", len(recs))
	}
	outs := HealOrphans(ctx, recs)
	for i, o := range outs {
		if !o.Healed {
			t.Errorf("orphan %s (%s) not healed: %s %+v", recs[i].ID, recs[i].Kind, o.Reason, o.Evidence)
		}
	}
	if st, alive := procState(ProcRef{PID: victim.Process.Pid}); !alive || strings.HasPrefix(st, "T ") {
		t.Errorf("victim after HealOrphans = %s, want running", st)
	}
	if tables, err := OrphanTables(nsA); err != nil || len(tables) != 0 {
		t.Errorf("tables left in %s: %v, %v", nsA, tables, err)
	}
	// Healing again is harmless and still healed.
	for i, o := range HealOrphans(ctx, recs) {
		if !o.Healed {
			t.Errorf("second HealOrphans of %s: %s", recs[i].Kind, o.Reason)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestHealOrphansLeavesLiveOwnersAlone(t *testing.T) {
	ctx := context.Background()
	owner, _ := startHelper(t, "echo")
	paused, _ := startHelper(t, "echo")
	st, err := readStat(owner.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := readStat(paused.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := signalProc(ProcRef{PID: paused.Process.Pid, StartTime: ps.Starttime}, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	recs := []Record{
		{ID: "f1", Kind: "pause", OwnerPID: owner.Process.Pid, OwnerTime: st.Starttime, Procs: []ProcRef{{PID: paused.Process.Pid, StartTime: ps.Starttime}}},
		{ID: "f2", Kind: "meteor", OwnerPID: 0},
		// Same pid, another start time: the owner is gone (pid reused).
		{ID: "f3", Kind: "pause", OwnerPID: owner.Process.Pid, OwnerTime: st.Starttime + 1, Procs: []ProcRef{{PID: paused.Process.Pid, StartTime: ps.Starttime}}},
	}
	outs := HealOrphans(ctx, recs)
	if outs[0].Healed || !strings.Contains(outs[0].Reason, "still runs") {
		t.Errorf("live owner: %+v, want left alone", outs[0])
	}
	if outs[1].Healed || !strings.Contains(outs[1].Reason, "unknown") {
		t.Errorf("unknown kind: %+v", outs[1])
	}
	if !outs[2].Healed {
		t.Errorf("dead owner (pid reused): %+v, want healed", outs[2])
	}
	if st, alive := procState(ProcRef{PID: paused.Process.Pid}); !alive || strings.HasPrefix(st, "T ") {
		t.Errorf("paused process after heal: %s", st)
	}
}
