package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/plan"
	"github.com/falsify-dev/falsify/tools"
)

func newLintCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "lint PLAN.md",
		Short: "Validate a test plan against SPEC §2.6 (exit 0 clean, 1 errors, 2 usage)",
		Long: `Validate a test plan with the same rules lint_plan applies: every error and
warning names the section, the id and the fix. Exit status: 0 when the plan has
no errors (warnings allowed), 1 when it has errors, 2 on a usage problem (no
such file, not a plan).`,
		Args: exactArgs(1, "one plan file"),
		RunE: func(c *cobra.Command, args []string) error {
			path := args[0]
			src, err := os.ReadFile(path)
			if err != nil {
				return usageErr("%v", err)
			}
			p, err := plan.Parse(src)
			if err != nil {
				return usageErr("%s is not a test plan: %v", path, err)
			}
			rep := tools.LintReport(path, p)
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				for _, d := range append(rep.Errors, rep.Warnings...) {
					fmt.Fprintf(out, "%s: %s [%s] %s\n", path, d.Severity, d.Rule, d.Message)
					if d.Fix != "" && !strings.Contains(d.Message, d.Fix) {
						fmt.Fprintf(out, "    fix: %s\n", d.Fix)
					}
				}
				fmt.Fprintf(out, "%s: %d errors, %d warnings (%d claims, %d hypotheses, %d scenarios)\n",
					path, len(rep.Errors), len(rep.Warnings), rep.Summary.Claims, rep.Summary.Hypotheses, rep.Summary.Scenarios)
			}
			if !rep.Clean {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (the lint_plan result)")
	return c
}
