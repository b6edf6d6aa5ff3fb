package nemesis

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Step is one fault of a composition, applied At after the schedule
// starts (cluster faults: partition the leader's node, then kill it).
type Step struct {
	At   time.Duration `json:"at"`
	Spec Spec          `json:"spec"`
}

// Schedule applies steps in order of At, each as its own fault (its own
// epoch), waiting between them. journal, when set, is called with each
// Record before it is applied and an error from it stops the schedule. A
// step that is refused or fails to prepare stops the schedule too; the
// faults applied so far are returned and stay active (each under its TTL).
func (n *Nemesis) Schedule(ctx context.Context, steps []Step, journal func(*Record) error) ([]*Fault, error) {
	for i := 1; i < len(steps); i++ {
		if steps[i].At < steps[i-1].At {
			return nil, fmt.Errorf("steps[%d].at %s: steps must be in order of at", i, steps[i].At)
		}
	}
	for i, s := range steps {
		if _, err := LookupKind(s.Spec.Kind); err != nil {
			return nil, fmt.Errorf("steps[%d]: %w", i, err)
		}
	}
	start := time.Now()
	var faults []*Fault
	for i, s := range steps {
		if wait := time.Until(start.Add(s.At)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return faults, fmt.Errorf("steps[%d]: %w", i, ctx.Err())
			}
		}
		rec, err := n.Prepare(ctx, s.Spec)
		if err != nil {
			return faults, fmt.Errorf("steps[%d] (%s): %w", i, s.Spec.Kind, err)
		}
		if journal != nil {
			if err := journal(rec); err != nil {
				n.discard(rec.ID)
				return faults, fmt.Errorf("steps[%d]: journal: %w", i, err)
			}
		}
		f, err := n.Apply(ctx, rec)
		if err != nil {
			return faults, fmt.Errorf("steps[%d]: %w", i, err)
		}
		faults = append(faults, f)
	}
	return faults, nil
}

// Discard forgets a prepared fault that will not be applied.
func (n *Nemesis) Discard(rec *Record) error {
	if rec == nil {
		return errors.New("record: nil")
	}
	return n.discard(rec.ID)
}

func (n *Nemesis) discard(id string) error {
	n.mu.Lock()
	act := n.faults[id]
	n.mu.Unlock()
	if act == nil {
		return fmt.Errorf("fault %s: unknown", id)
	}
	act.mu.Lock()
	defer act.mu.Unlock()
	if act.applied {
		return fmt.Errorf("fault %s: already applied; heal it", id)
	}
	n.mu.Lock()
	delete(n.faults, id)
	n.mu.Unlock()
	return nil
}
