package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// ExitCode is pongscan's exit status.
type ExitCode int

// The exit-status table, documented under EXIT STATUS in --help and in the
// README.
const (
	ExitOK       ExitCode = 0 // no loop found, every input read to its end
	ExitLoops    ExitCode = 1 // at least one loop found, every input read to its end
	ExitTrouble  ExitCode = 2 // bad flags, or an input that could not be opened or read to its end
	ExitInternal ExitCode = 3 // the scan itself failed: out of memory or a crash (see Run)
	// ExitInterrupted and ExitTerminated: a SIGINT or SIGTERM stopped the
	// scan; the report of everything read before it was printed.
	ExitInterrupted ExitCode = 130
	ExitTerminated  ExitCode = 143
)

const exitStatusHelp = `EXIT STATUS
  0  no loop found and every input read to its end
  1  at least one loop found and every input read to its end
  2  trouble: bad flags or arguments, or an input that could not be opened
     or read to its end (the report of everything read is still printed;
     trouble wins over loops)
  3  internal failure: the scan itself failed, out of memory or by a crash;
     one line on stderr names the cause and the memory limit in force;
     there is no report (discard any partial output)
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: reading stopped, the
     report of everything read before the signal was printed (marked
     "interrupted"); a second signal exits at once without a report`

// errTrouble marks an error already reported that must exit 2.
var errTrouble = errors.New("trouble")

// loopsFound is returned by a scan that found loops and had no trouble.
var errLoops = errors.New("loops found")

// Main runs pongscan with args and returns the exit status. SIGINT and
// SIGTERM stop a scan early (see withSignals).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) ExitCode {
	ctx, stop := withSignals(context.Background(), stderr)
	defer stop()
	root := NewRootCmd(stdin, stdout, stderr, nil)
	root.SetArgs(args)
	return exitOf(root.ExecuteContext(ctx), stderr)
}

// exitOf maps a command's error to the exit status, printing errors that
// were not reported yet.
func exitOf(err error, stderr io.Writer) ExitCode {
	var intr interruption
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &intr):
		return intr.code()
	case errors.Is(err, errLoops):
		return ExitLoops
	case errors.Is(err, errTrouble):
		return ExitTrouble
	default:
		fmt.Fprintf(stderr, "pongscan: %v\n", err)
		return ExitTrouble
	}
}

// NewRootCmd builds the command tree. runScan replaces the scan's work in
// tests of flag parsing; nil means the real scan.
func NewRootCmd(stdin io.Reader, stdout, stderr io.Writer, runScan func(*ScanOptions) error) *cobra.Command {
	root := &cobra.Command{
		Use:   "pongscan",
		Short: "Find machine-pong loops (UDP services answering each other forever) in packet captures",
		Long: `pongscan reads pcap and pcapng captures and finds "machine pong": two UDP
services answering each other forever, such as a DNS server and a TFTP
server that took the DNS answer for stray traffic (CVE-2024-2169, "Loop DoS").
For each loop it reports the trigger (the last genuine query and answer and
the first non-DNS reply), how fast it runs and whether it is still running.

` + exitStatusHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints what `pongscan version` prints.
	root.Version = currentBuild().String()
	root.SetVersionTemplate("{{.Version}}\n")
	// Without -v: -v is scan's --verbose, and `pongscan -v FILE` printed
	// the version and exited 0 without scanning.
	root.Flags().Bool("version", false, "print the version and exit")
	// `pongscan capture.pcap` is a scan the user forgot to name.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(cmd, args)
	}
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	root.SuggestionsMinimumDistance = 2
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c == c.Root() && strings.Contains(err.Error(), "'v' in -v") {
			return fmt.Errorf("%w: -v is scan's --verbose (pongscan scan -v FILE); --version prints the version", err)
		}
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(NewScanCmd(stdin, stdout, stderr, runScan))
	root.AddCommand(newMergeCmd(stdin, stdout, stderr))
	root.AddCommand(newVersionCmd(stdout))
	return root
}
