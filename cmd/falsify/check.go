package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/checkers"
	"github.com/falsify-dev/falsify/history"
	"github.com/falsify-dev/falsify/tools"
)

func newCheckCmd() *cobra.Command {
	var (
		checker, model, format, finalState, artifacts string
		timeout                                       time.Duration
		options                                       []string
		asJSON                                        bool
	)
	c := &cobra.Command{
		Use:   "check --checker NAME --model MODEL HISTORY",
		Short: "Run a checker over a history file (exit 0 ok, 1 violation, 3 unknown, 2 usage)",
		Long: `Run one of falsify's checkers over a recorded history, the way run_checker
does, without an agent or a session: for CI.

  falsify check --checker linearizability --model cas-register history.edn

The history format is taken from the extension (.jsonl falsify rows, .edn a
Jepsen history, .log jepsen.log op lines, .json Porcupine operations) unless
--format says otherwise. Nemesis windows in the history are passed to the
checker as fault windows. Exit status: 0 ok, 1 violation, 3 unknown (the
checker could not decide — never a pass), 2 usage.`,
		Args: exactArgs(1, "one history file"),
		RunE: func(c *cobra.Command, args []string) error {
			file := args[0]
			ck, err := checkers.Lookup(checker)
			if err != nil {
				return usageErr("--checker: %v (available: %s)", err, strings.Join(checkers.Names(), ", "))
			}
			if model == "" {
				return usageErr("--model: required; %s takes %s", ck.Name, strings.Join(ck.Models, ", "))
			}
			if !slices.Contains(ck.Models, model) {
				return usageErr("--model %q: %s takes %s", model, ck.Name, strings.Join(ck.Models, ", "))
			}
			if format == "" {
				if format = tools.FormatFromPath(file); format == "" {
					return usageErr("--format: cannot tell the format of %s from its extension; pass one of %s", file, strings.Join(history.Formats(), ", "))
				}
			}
			opts := map[string]any{}
			for _, kv := range options {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErr("--option %q: want key=value (value as JSON, or a bare string)", kv)
				}
				var val any
				if err := json.Unmarshal([]byte(v), &val); err != nil {
					val = v
				}
				opts[k] = val
			}
			if timeout > 0 {
				opts["timeout"] = timeout.String()
			}
			f, err := os.Open(file)
			if err != nil {
				return usageErr("%v", err)
			}
			imp, err := history.Import(f, format)
			f.Close()
			if err != nil {
				return usageErr("%s: %v", file, err)
			}
			if _, ok := opts["fault_window"]; !ok && len(imp.Windows) > 0 {
				var ws []any
				for _, w := range imp.Windows {
					var end any
					if w.End != nil {
						end = *w.End
					}
					ws = append(ws, []any{w.Start, end})
				}
				opts["fault_window"] = ws
			}
			in := checkers.Input{Ops: imp.Ops, Model: model, Options: opts}
			if finalState != "" {
				data, err := os.ReadFile(finalState)
				if err != nil {
					return usageErr("--final-state: %v", err)
				}
				in.States = append(in.States, checkers.State{Kind: checkers.StateFinal, Name: filepath.Base(finalState), Data: data})
			}
			if artifacts == "" {
				dir, err := os.MkdirTemp("", "falsify-check-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				in.ArtifactDir = dir
			} else {
				if err := os.MkdirAll(artifacts, 0o755); err != nil {
					return usageErr("--artifacts: %v", err)
				}
				in.ArtifactDir = artifacts
			}
			res, err := ck.Check(c.Context(), in)
			if err != nil {
				return usageErr("%s: %v", file, err)
			}
			out := tools.CheckerResult(res, "")
			if artifacts == "" {
				out.Artifacts = []string{}
			}
			w := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "%s: %s (%s, model %s): %s\n", file, out.Status, out.Checker, out.Model, out.Evidence)
				for _, a := range out.Anomalies {
					fmt.Fprintf(w, "  %s", a.Kind)
					if a.Key != "" {
						fmt.Fprintf(w, " key %s", a.Key)
					}
					fmt.Fprintf(w, ": %s", a.Description)
					if len(a.OpIDs) > 0 {
						fmt.Fprintf(w, " (ops %s)", strings.Join(a.OpIDs, ", "))
					}
					fmt.Fprintln(w)
				}
				if len(out.Missing) > 0 {
					fmt.Fprintf(w, "  weak history: missing %s\n", strings.Join(out.Missing, ", "))
				}
				if len(imp.Rejected) > 0 {
					fmt.Fprintf(w, "  %d unreadable rows skipped (first: %s)\n", len(imp.Rejected), imp.Rejected[0])
				}
				for _, a := range out.Artifacts {
					fmt.Fprintf(w, "  artifact: %s\n", a)
				}
			}
			switch out.Status {
			case checkers.StatusOK:
				return nil
			case checkers.StatusViolation:
				return &exitError{code: exitFindings}
			default:
				return &exitError{code: exitUnknown}
			}
		},
	}
	fl := c.Flags()
	fl.StringVar(&checker, "checker", "", "checker `NAME` ("+strings.Join(checkers.Names(), ", ")+")")
	fl.StringVar(&model, "model", "", "the `MODEL` the history exercises (e.g. register, cas-register, kv)")
	fl.StringVar(&format, "format", "", "history `FORMAT`: "+strings.Join(history.Formats(), ", ")+" (default: from the extension)")
	fl.DurationVar(&timeout, "timeout", 0, "time budget of the check (default: the checker's own, 60s for linearizability)")
	fl.StringVar(&finalState, "final-state", "", "JSON `FILE` holding the final state (no-lost-ack)")
	fl.StringArrayVar(&options, "option", nil, "checker option `KEY=VALUE` (JSON value), repeatable, e.g. quiescent=true")
	fl.StringVar(&artifacts, "artifacts", "", "keep the checker's artifacts (e.g. the linearizability visualisation) in `DIR`")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON (the run_checker result)")
	return c
}
