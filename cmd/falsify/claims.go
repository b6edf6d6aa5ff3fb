package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/plan"
	"github.com/falsify-dev/falsify/tools"
)

func newClaimsCmd() *cobra.Command {
	var (
		asJSON bool
		limit  int
		paths  []string
	)
	c := &cobra.Command{
		Use:   "claims DIR",
		Short: "List candidate claims and missing claims found in a repository",
		Long: `Scan a repository the way extract_claims does: Markdown docs, code comments,
error names and test names yield candidate claims (category, path:line,
inferred or stated, confidence); error types and timeout/retry/TTL constants
that no doc backs yield candidate missing claims.`,
		Args: exactArgs(1, "one directory"),
		RunE: func(c *cobra.Command, args []string) error {
			dir := args[0]
			if limit < 0 {
				return usageErr("--limit %d: must be positive", limit)
			}
			if st, err := os.Stat(dir); err != nil {
				return usageErr("%v", err)
			} else if !st.IsDir() {
				return usageErr("%s is not a directory", dir)
			}
			rep, err := plan.ExtractClaims(c.Context(), dir, plan.ClaimOptions{Paths: paths, Limit: limit})
			if err != nil {
				return usageErr("%v", err)
			}
			res := tools.ClaimsResult(".", rep)
			res.Root = dir
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			for _, cl := range res.Claims {
				how := "stated"
				if cl.Inferred {
					how = "inferred"
				}
				fmt.Fprintf(out, "%s\t%s\t%.2f\t%s\t%s\n", cl.Source, cl.Category, cl.Confidence, how, cl.Text)
			}
			if len(res.Missing) > 0 {
				fmt.Fprintln(out, "\nmissing claims (behaviour no document states):")
				for _, m := range res.Missing {
					fmt.Fprintf(out, "%s\t%s\t%s\n", m.Source, m.Kind, m.Behavior)
				}
			}
			note := ""
			if res.Truncated {
				note = " (truncated: " + res.Reason + ")"
			}
			fmt.Fprintf(out, "\n%d candidate claims, %d missing claims, %d files scanned%s\n", len(res.Claims), len(res.Missing), res.FilesScanned, note)
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (the extract_claims result)")
	f.IntVar(&limit, "limit", 0, "at most `N` candidate claims and N missing claims (default 200)")
	f.StringSliceVar(&paths, "path", nil, "restrict claims to `PATH` under DIR (repeatable)")
	return c
}
