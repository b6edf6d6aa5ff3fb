package nemesis

import (
	"context"
	"fmt"
	"os"
	"time"
)

// HealOrphans heals faults left behind by a process that died without
// healing them (a crashed falsify), from the Records it journaled before
// applying them: SIGSTOPped processes get SIGCONT (only when their start
// time still matches), the owner's nftables table is deleted, fill files
// are removed; a proxy fault is checked to have died with its owner. It
// returns one Outcome per record, in order; Healed says whether recovery
// was measured. A record whose owner process still runs (same pid and
// start time, not this process) is left alone: it is not an orphan. Call
// it before injecting new faults with the same owner name: it deletes the
// owner's whole nftables table.
func HealOrphans(ctx context.Context, records []Record) []Outcome {
	out := make([]Outcome, len(records))
	doneTables := map[string]bool{}
	for i := range records {
		rec := &records[i]
		k, err := LookupKind(rec.Kind)
		ownerState, ownerAlive := procState(ProcRef{PID: rec.OwnerPID, StartTime: rec.OwnerTime})
		switch {
		case err != nil:
			out[i] = Outcome{Reason: fmt.Sprintf("record %s: %v", rec.ID, err)}
		case ownerAlive && rec.OwnerPID != os.Getpid():
			// Not an orphan: its owner runs and heals it (or its TTL does).
			out[i] = Outcome{Reason: fmt.Sprintf("record %s: its owner (pid %d) still runs; heal it there", rec.ID, rec.OwnerPID),
				Evidence: []Evidence{{Probe: fmt.Sprintf("owner process /proc/%d", rec.OwnerPID), After: ownerState, Measured: true, Side: SideInjector}}}
		case k.Orphan == nil:
			out[i] = Outcome{Healed: true, Reason: "nothing to heal for " + rec.Kind}
		case rec.Table != "" && doneTables[rec.Netns+"\x00"+rec.Table]:
			// The owner's table was already deleted for an earlier record.
			out[i] = Outcome{Healed: tableExists(rec.Netns, rec.Table) != "present", Reason: "the owner's table was deleted with an earlier record",
				Evidence: []Evidence{{Probe: "nft table inet " + rec.Table + nsSuffix(rec.Netns), Before: "present", After: tableExists(rec.Netns, rec.Table), Measured: true, Side: SideInjector}}}
		default:
			out[i] = k.Orphan(ctx, rec)
			if rec.Table != "" {
				doneTables[rec.Netns+"\x00"+rec.Table] = true
			}
		}
		out[i].At = time.Now().UTC()
	}
	return out
}
