package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// ExitCode is pongscan's exit status.
type ExitCode int

// The exit-status table, documented under EXIT STATUS in --help and in the
// README.
const (
	ExitOK      ExitCode = 0 // no loop found, every input read to its end
	ExitLoops   ExitCode = 1 // at least one loop found, every input read to its end
	ExitTrouble ExitCode = 2 // bad flags, or an input that could not be opened or read to its end
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
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: reading stopped, the
     report of everything read before the signal was printed (marked
     "interrupted"); a second signal exits at once without a report`

// errTrouble marks an error already reported that must exit 2.
var errTrouble = errors.New("trouble")

// loopsFound is returned by a scan that found loops and had no trouble.
var errLoops = errors.New("loops found")

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "devel"

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
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(NewScanCmd(stdin, stdout, stderr, runScan))
	root.AddCommand(newMergeCmd(stdin, stdout, stderr))
	root.AddCommand(newVersionCmd(stdout))
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pongscan's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, goV := Version, ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goV = bi.GoVersion
				if v == "devel" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
			}
			_, err := fmt.Fprintf(stdout, "pongscan %s (%s)\n", v, goV)
			return err
		},
	}
}
