package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/session"
)

func newReportCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "report SESSION_DIR",
		Short: "Regenerate a session's report, JUnit XML and JSON summary from its journal",
		Long: `Regenerate findings/report.md, findings/junit.xml, findings/summary.json and
session-log.md of a session from its journal alone (and the plan it names),
e.g. in CI after a session ran elsewhere:

  falsify report test-sessions/kvr-demo/20261125T093000Z

SESSION_DIR is a test-sessions/<plan-slug>/<UTC timestamp> directory; its
workspace is the directory holding test-sessions. The journal is read, never
modified. Exit status: 0 when the session verdict is DONE, 1 when it is
FAIL, DONE_WITH_CONCERNS, INCONCLUSIVE or BLOCKED, 2 when the session cannot
be read. --json prints the JSON summary instead of the one-line verdict.`,
		Args: exactArgs(1, "one argument, the session directory"),
		RunE: func(c *cobra.Command, args []string) error {
			ws, dir, err := session.OpenSessionDir(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			rep, err := session.RegenerateReport(ws, dir)
			if err != nil {
				return usageErr("%v", err)
			}
			out := c.OutOrStdout()
			if asJSON {
				b, err := session.SummaryJSON(rep)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				abs := func(p string) string { return filepath.Join(ws.Root(), filepath.FromSlash(p)) }
				fmt.Fprintf(out, "%s: %s — %s\n", rep.Session.ID, rep.Verdict, rep.Headline)
				for _, o := range rep.Outcomes {
					fmt.Fprintf(out, "  %-8s %s\n", o.ID, o.Verdict)
				}
				fmt.Fprintf(out, "report:  %s\njunit:   %s\nsummary: %s\n", abs(rep.Report), abs(rep.JUnit), abs(rep.Summary))
			}
			if rep.Verdict != session.SessionDone {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the JSON summary")
	return c
}
