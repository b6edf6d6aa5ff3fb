// Command falsify is the falsify MCP server and its CLI: "falsify serve"
// serves the MCP tools to an agent; "falsify lint" and "falsify claims"
// run the same checks without one, for CI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1 // lint errors; a checker violation
	exitUsage    = 2 // bad arguments, unreadable input
	exitUnknown  = 3 // a checker could not decide
)

// version is the release version; builds may set it with
// -ldflags "-X main.version=v1.2.3". Otherwise the module version is used.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error // nil when the command already printed what it had to say
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "falsify: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything cobra reports itself (unknown command or flag, wrong
	// number of arguments) is a usage error.
	fmt.Fprintf(stderr, "falsify: %v\nRun 'falsify --help' for usage.\n", err)
	return exitUsage
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "falsify",
		Short: "Claim-driven, Jepsen-style testing as MCP tools an agent drives but cannot fake",
		Long: `falsify is an MCP server (and this small CLI around it) for claim-driven testing
of distributed and stateful systems. An agent reads the code, runs the system
and writes prose; falsify owns the plan rules, the history, fault evidence, the
checkers and the verdict.

  falsify demo                  run the whole job end to end on a demo system (start here)
  falsify serve                 serve the MCP tools over stdio (for an agent)
  falsify lint PLAN.md          validate a test plan (CI gate)
  falsify claims DIR            list candidate claims found in a repository
  falsify check HISTORY         run a checker over a recorded history
  falsify report SESSION_DIR    regenerate a session's report, JUnit XML and JSON summary`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(
		newServeCmd(),
		newLintCmd(),
		newClaimsCmd(),
		newCheckCmd(),
		newVersionCmd(),
		newDemoSUTCmd(),
		newDemoCmd(),
		newReportCmd(),
	)
	return root
}

// exactArgs is cobra.ExactArgs reported as a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %s (got %d arguments)\nUsage: %s", c.Name(), what, len(args), c.UseLine())
		}
		return nil
	}
}

// buildVersion returns the version to report.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print falsify's version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			fmt.Fprintf(c.OutOrStdout(), "falsify %s (%s)\n", buildVersion(), goVersion)
			return nil
		},
	}
}
