package main

import (
	"github.com/spf13/cobra"

	"github.com/falsify-dev/falsify/examples/kvr"
)

// newDemoSUTCmd is the hidden entry point of the demo system under test
// (examples/kvr): `falsify demo-sut node …` runs one replica and
// `falsify demo-sut workload …` its seeded workload client, so the demo
// needs nothing but this binary.
func newDemoSUTCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "demo-sut (node|workload) [flags]",
		Short:              "Run the demo replicated key-value service or its workload (used by falsify demo)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if code := kvr.MainContext(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr()); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
}
