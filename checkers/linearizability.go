package checkers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// DefaultLinearizabilityTimeout is the linearizability checker's time
// budget when Options["timeout"] is not set.
const DefaultLinearizabilityTimeout = 60 * time.Second

// linearizabilityHTML is the visualization written on a violation.
const linearizabilityHTML = "linearizability.html"

func linearizability() *Checker {
	return &Checker{
		Name:   "linearizability",
		Models: lzModelNames(),
		Needs:  linearizabilityNeeds,
		Check:  checkLinearizability,
	}
}

// linearizabilityNeeds: real-time order needs both times of every
// completed op and a timeout marker on every op without a response; keyed
// models need the key, a lock the process holding it.
func linearizabilityNeeds(model string) []string {
	m, ok := lzModels()[model]
	if !ok {
		return nil
	}
	needs := []string{FieldInvokeTS, FieldCompleteTS, FieldTimeoutMarker}
	if m.partitioned {
		needs = append(needs, FieldKey)
	}
	if m.name == "mutex" {
		needs = append(needs, FieldProcessID)
	}
	return needs
}

// violationGrace is how long the partitions still being searched may go
// on once one is found not linearizable: the verdict is settled, and a
// search that proves illegality can be exponential (porcupine's own
// CheckOperations stops at the first), but other anomalies found quickly
// are worth reporting.
func violationGrace(timeout time.Duration) time.Duration {
	return min(max(timeout/10, time.Second), 10*time.Second)
}

// partResult is the outcome of one partition's check.
type partResult struct {
	part   int
	result porcupine.CheckResult
	// info is the verbose search's, for a partition found illegal;
	// witnessed says it completed (info is then usable).
	info      porcupine.LinearizationInfo
	witnessed bool
}

// linearizabilityWitness is the evidence for a nonlinearizable partition.
type linearizabilityWitness struct {
	// LongestPrefix is the longest linearization porcupine found, as op
	// ids in linearization order.
	LongestPrefix []string `json:"longest_linearizable_prefix"`
	// Frontier holds the ops that could have come next (invoked before any
	// of the remaining ops returned); none of them can take effect there.
	Frontier     []string `json:"frontier"`
	PartitionOps int      `json:"partition_ops"`
	// StateAfterPrefix is the model's state once the prefix took effect.
	StateAfterPrefix string `json:"state_after_prefix"`
}

// checkLinearizability runs Porcupine, one partition at a time on as many
// workers as there are CPUs, within the Options["timeout"] budget.
//
// Options: "timeout" (seconds or a duration string; default 60 s),
// "initial" (the register's / every key's initial value; default null),
// "per_replica" and "fault_window" (see [weakFields]).
func checkLinearizability(ctx context.Context, in Input) (*Result, error) {
	m, ok := lzModels()[in.Model]
	if !ok {
		return nil, fmt.Errorf("linearizability: unknown model %q (supported: %s)", in.Model, strings.Join(lzModelNames(), ", "))
	}
	timeout, err := durationOption(in.Options, "timeout", DefaultLinearizabilityTimeout)
	if err != nil {
		return nil, fmt.Errorf("linearizability: %w", err)
	}
	var initial value
	if v, ok := in.Options["initial"]; ok {
		if raw, isRaw := v.(json.RawMessage); isRaw {
			initial, err = canonical(raw)
		} else {
			initial, err = canonicalAny(v)
		}
		if err != nil {
			return nil, fmt.Errorf("linearizability: option initial: %w", err)
		}
	}
	missing, err := weakFields(&Checker{Name: "linearizability", Needs: linearizabilityNeeds}, in.Model, in.Ops, in.Options)
	if err != nil {
		return nil, fmt.Errorf("linearizability: %w", err)
	}
	init := newLZState(0, initial)
	parts, dropped, err := toPartitions(in.Ops, m, init)
	if err != nil {
		return nil, fmt.Errorf("linearizability: %w", err)
	}

	res := &Result{
		Checker:  "linearizability",
		Model:    in.Model,
		OpsTotal: len(in.Ops),
		Scope:    m.scope,
		Missing:  missing,
	}
	total := 0
	for _, p := range parts {
		total += len(p.ops)
	}
	progress := func(done int) {
		if in.Progress != nil {
			in.Progress(done, total)
		}
	}
	progress(0)
	if total == 0 {
		// Vacuously linearizable (Knossos agrees); the evidence says so,
		// for the green-but-broken audit (SPEC §8.1).
		res.Status = StatusOK
		res.OpsConsumed = dropped
		res.Evidence = fmt.Sprintf("Porcupine checked 0 ops: vacuously linearizable, %s in the history and none that can have taken effect and been observed",
			plural(len(in.Ops), "op"))
		progress(0)
		return res, nil
	}

	// runCtx ends at the deadline, when the caller cancels, or shortly
	// after the first violation; every model step then refuses (stopped),
	// so the searches still running end at once (and are counted
	// undecided). A flag read per step is cheaper than asking the context.
	deadline := time.Now().Add(timeout)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var stopped, abandoned atomic.Bool
	defer context.AfterFunc(runCtx, func() { stopped.Store(true) })()
	defer context.AfterFunc(ctx, func() { abandoned.Store(true) })()
	outcome := make([]partResult, len(parts))
	graceStop := false
	if len(parts) == 1 {
		// No worker to hand the search to: cancelling refuses its steps,
		// so it returns at once all the same.
		outcome[0] = checkPartition(m, init, parts[0].ops, 0, deadline, &stopped, &abandoned, true)
		progress(total)
	} else {
		jobs := make(chan int, len(parts))
		for i := range parts {
			jobs <- i
		}
		close(jobs)
		results := make(chan partResult, len(parts))
		for range min(runtime.GOMAXPROCS(0), len(parts)) {
			go func() {
				for i := range jobs {
					results <- checkPartition(m, init, parts[i].ops, i, deadline, &stopped, &abandoned, false)
				}
			}()
		}
		done := 0
	collect:
		for range parts {
			select {
			case r := <-results:
				outcome[r.part] = r
				done += len(parts[r.part].ops)
				progress(done)
				if r.result == porcupine.Illegal && !graceStop {
					graceStop = true
					stop := time.AfterFunc(violationGrace(timeout), cancel)
					defer stop.Stop()
				}
			case <-ctx.Done():
				// The searches still running end at once (their steps
				// are refused); what was decided stands.
				cancel()
				break collect
			}
		}
	}
	model := porcupineModel(m, init, nil)

	var illegal, undecided []int
	decidedOps := 0
	for i, r := range outcome {
		switch r.result {
		case porcupine.Illegal:
			illegal = append(illegal, i)
			decidedOps += len(parts[i].ops)
			res.Anomalies = append(res.Anomalies, nonlinearizable(in, m, model, parts[i], r))
		case porcupine.Ok:
			decidedOps += len(parts[i].ops)
		default:
			undecided = append(undecided, i)
		}
	}
	res.Keys = len(parts)
	res.OpsConsumed = dropped + decidedOps
	res.Partial = len(undecided) > 0
	switch {
	case len(illegal) > 0:
		res.Status = StatusViolation
	case len(undecided) > 0:
		res.Status = StatusUnknown
	default:
		res.Status = StatusOK
	}

	var ev strings.Builder
	if len(undecided) == 0 {
		fmt.Fprintf(&ev, "Porcupine checked %s over %s: %s", plural(total, "op"), plural(len(parts), m.unit), plural(len(illegal), "anomaly"))
	} else {
		why := fmt.Sprintf("the %v budget ran out", timeout)
		switch {
		case ctx.Err() != nil:
			why = fmt.Sprintf("stopped: %v", context.Cause(ctx))
		case graceStop && time.Now().Before(deadline):
			why = fmt.Sprintf("stopped %v after the first violation", violationGrace(timeout))
		}
		fmt.Fprintf(&ev, "Porcupine decided %s of %s (%s of %s): %s; %s undecided (%s)",
			thousands(len(parts)-len(undecided)), plural(len(parts), m.unit), thousands(decidedOps), plural(total, "op"),
			plural(len(illegal), "anomaly"), plural(len(undecided), m.unit), why)
	}
	if len(illegal) > 0 && m.partitioned {
		var keys []string
		for _, i := range illegal {
			keys = append(keys, fmt.Sprintf("%q", parts[i].key))
		}
		fmt.Fprintf(&ev, " (not linearizable: %s %s)", map[bool]string{true: "key", false: "keys"}[len(keys) == 1], preview(keys, 10))
	}
	if dropped > 0 {
		fmt.Fprintf(&ev, "; %s discarded as never applied or unobserved (failed ops, reads that timed out)", plural(dropped, "op"))
	}
	witnessed := slices.DeleteFunc(slices.Clone(illegal), func(i int) bool { return !outcome[i].witnessed })
	if len(witnessed) > 0 && in.ArtifactDir != "" && ctx.Err() == nil {
		path, err := writeVisualization(in.ArtifactDir, model, m, parts, outcome, witnessed, timeout)
		if err != nil {
			fmt.Fprintf(&ev, "; visualization not written: %v", err)
		} else {
			res.Artifacts = append(res.Artifacts, path)
		}
	}
	res.Evidence = ev.String()
	progress(total)
	return res, nil
}

// checkPartition decides one partition within what is left of the
// budget; steps refuse once stopped is set.
//
// With verbose (the history's only partition), it runs porcupine's
// verbose search at once: one search gives both the verdict and, when the
// partition is not linearizable, the witness and the visualization.
// Otherwise it runs the plain search, which skips the verbose one's
// bookkeeping, and only when the partition is not linearizable searches
// again, verbosely. That is the same deterministic search, so it ends the
// same way; it is given the time the first took twice over, even past the
// budget (the verdict is settled), and stops early only when the check is
// abandoned.
func checkPartition(m lzModel, init *lzState, ops []porcupine.Operation, part int, deadline time.Time,
	stopped, abandoned *atomic.Bool, verbose bool) partResult {
	res := partResult{part: part, result: porcupine.Unknown}
	left := time.Until(deadline)
	if left <= 0 || stopped.Load() {
		return res
	}
	run := &lzRun{stop: stopped}
	if verbose {
		r, info := porcupine.CheckOperationsVerbose(porcupineModel(m, init, run), ops, left)
		if run.aborted.Load() {
			return res // steps were refused: the verdict means nothing
		}
		res.result = r
		if r == porcupine.Illegal {
			res.info, res.witnessed = info, true
		}
		return res
	}
	start := time.Now()
	res.result = porcupine.CheckOperationsTimeout(porcupineModel(m, init, run), ops, left)
	if run.aborted.Load() {
		res.result = porcupine.Unknown // steps were refused: the verdict means nothing
	}
	if res.result != porcupine.Illegal || abandoned.Load() {
		return res
	}
	run = &lzRun{stop: abandoned}
	budget := max(time.Until(deadline), 2*time.Since(start)+10*time.Millisecond)
	r, info := porcupine.CheckOperationsVerbose(porcupineModel(m, init, run), ops, budget)
	if r == porcupine.Illegal && !run.aborted.Load() {
		res.info, res.witnessed = info, true
	}
	return res
}

// nonlinearizable builds the anomaly for a partition porcupine found
// illegal.
func nonlinearizable(in Input, m lzModel, model porcupine.Model, p partition, r partResult) Anomaly {
	where := "the " + m.unit
	if m.partitioned {
		where = fmt.Sprintf("key %q", p.key)
	}
	if !r.witnessed {
		return Anomaly{
			Kind: "nonlinearizable",
			Key:  p.key,
			Description: fmt.Sprintf("no order of the %s on %s respects real time and the %s model "+
				"(the search for the longest linearizable prefix, the witness, did not finish)",
				plural(len(p.ops), "op"), where, m.name),
		}
	}
	info := r.info
	var longest []int
	if pl := info.PartialLinearizations(); len(pl) > 0 {
		for _, seq := range pl[0] {
			if len(seq) > len(longest) || len(seq) == len(longest) && slices.Compare(seq, longest) < 0 {
				longest = seq
			}
		}
	}
	w := linearizabilityWitness{PartitionOps: len(p.ops), LongestPrefix: []string{}}
	in2 := make([]bool, len(p.ops))
	state := model.Init()
	for _, id := range longest {
		if id >= 0 && id < len(p.ops) {
			in2[id] = true
			w.LongestPrefix = append(w.LongestPrefix, in.Ops[p.idx[id]].OpID)
			_, state = model.Step(state, p.ops[id].Input, p.ops[id].Output)
		}
	}
	w.StateAfterPrefix = model.DescribeState(state)
	var rest []int
	minReturn := int64(0)
	for i := range p.ops {
		if !in2[i] {
			if len(rest) == 0 || p.ops[i].Return < minReturn {
				minReturn = p.ops[i].Return
			}
			rest = append(rest, i)
		}
	}
	var frontier []int
	for _, i := range rest {
		if p.ops[i].Call <= minReturn {
			frontier = append(frontier, i)
		}
	}
	slices.SortStableFunc(frontier, func(a, b int) int { return cmp.Compare(p.ops[a].Call, p.ops[b].Call) })
	var descr []string
	for _, i := range frontier {
		id := in.Ops[p.idx[i]].OpID
		w.Frontier = append(w.Frontier, id)
		descr = append(descr, fmt.Sprintf("%s %s", id, describeOp(p.ops[i].Input, p.ops[i].Output)))
	}
	return Anomaly{
		Kind: "nonlinearizable",
		Key:  p.key,
		Description: fmt.Sprintf("no order of the %s on %s respects real time and the %s model: "+
			"after the longest linearizable prefix (%s, leaving %s), none of the ops that could come next can take effect: %s",
			plural(len(p.ops), "op"), where, m.name, plural(len(w.LongestPrefix), "op"), w.StateAfterPrefix, preview(descr, 8)),
		OpIDs:   w.Frontier,
		Witness: w,
	}
}

// writeVisualization writes porcupine's HTML visualization of the illegal
// partitions. With one, its own check is drawn; with several, they are
// checked again together (within the budget) so one file shows them all.
func writeVisualization(dir string, model porcupine.Model, m lzModel, parts []partition, outcome []partResult,
	illegal []int, timeout time.Duration) (string, error) {
	info := outcome[illegal[0]].info
	if len(illegal) > 1 {
		var ops []porcupine.Operation
		for _, i := range illegal {
			ops = append(ops, parts[i].ops...)
		}
		combined := model
		combined.Partition = partitionByKey
		if r, all := porcupine.CheckOperationsVerbose(combined, ops, timeout); r == porcupine.Illegal {
			model, info = combined, all
		}
	}
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return "", fmt.Errorf("rendering: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, linearizabilityHTML)
	tmp, err := os.CreateTemp(dir, ".linearizability-*.html")
	if err != nil {
		return "", err
	}
	_, werr := tmp.Write(buf.Bytes())
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", werr
	}
	return path, nil
}

// preview joins up to n items, saying how many more there are.
func preview(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %s more", thousands(len(items)-n))
}
