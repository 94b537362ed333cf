package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pongscan/pongscan/pkg/merge"
	"github.com/pongscan/pongscan/pkg/report"
)

// MergeOptions are the parsed flags and arguments of `pongscan merge`.
type MergeOptions struct {
	Reports  []string
	Format   string
	Output   string
	Idle     time.Duration
	CSVTable string
	// Interrupted merges parts whose scan a signal stopped; without it
	// they are refused (the merged report would look whole).
	Interrupted bool

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

func newMergeCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	o := &MergeOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	cmd := &cobra.Command{
		Use:   "merge [flags] REPORT...",
		Short: "Join the reports of scans of parts of streams into one report",
		Long: `Merge reads JSON or JSON Lines reports of pongscan scans ("-" reads standard
input) and writes one report, as if each stream had been scanned whole: the
reduce step after scanning consecutive files or time chunks of a capture
(editcap -i, tcpdump -G) in parallel, with GNU parallel or a Kubernetes Job.

A loop ongoing at the end of one part and open at the start of the next (its
first packet within --idle of the part's first packet), on the same
endpoints and starting less than --idle after the first piece ended, is one
loop: packets, bytes and end are added up, rate, ongoing and duration
recomputed against the whole stream, the trigger taken from the first part,
peak packets per second the larger of the pieces'. Summaries add up. Streams
are matched by name (--stream-name, --stream-by or --each in the scans).

` + exitStatusHelp,
		Example: `  ls chunks/*.pcap | parallel pongscan scan -f json -o {}.json {}
  pongscan merge chunks/*.pcap.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Reports = args
			switch o.Format {
			case "table", "json", "csv", "jsonl":
			default:
				return fmt.Errorf("--format must be table, json, jsonl or csv, not %q", o.Format)
			}
			if o.Idle < 0 {
				return errors.New("--idle must be positive")
			}
			return runMerge(o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "f", "json", "output format: json, jsonl, table or csv")
	f.StringVarP(&o.Output, "output", "o", "", "write the report to this file (a temporary file renamed once complete)")
	f.DurationVar(&o.Idle, "idle", 0, "the gap that ends a loop; default: the --idle the reports were scanned with (they must agree)")
	f.StringVar(&o.CSVTable, "csv-table", "loops", "with --format csv: loops or inputs")
	f.BoolVar(&o.Interrupted, "allow-interrupted", false, "merge reports of scans a signal stopped (the merged report is marked interrupted)")
	completeValues(cmd, "format", formatValues)
	completeValues(cmd, "csv-table", csvTableValues)
	return cmd
}

func runMerge(o *MergeOptions) error {
	if err := notAnInput("-o", o.Output, o.Reports); err != nil {
		return err
	}
	var parts []*report.Report
	stdin := false
	for _, name := range o.Reports {
		var r io.Reader
		if name == "-" {
			if stdin {
				return errors.New(`standard input ("-") named more than once`)
			}
			stdin, r = true, o.Stdin
		} else {
			if st, err := os.Stat(name); err == nil && st.IsDir() {
				return fmt.Errorf("%s: is a directory: merge reads report files (pongscan merge DIR/*.json)", report.Escape(name))
			}
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			r = f
		}
		rep, err := merge.Read(name, r)
		if c, ok := r.(io.Closer); ok && name != "-" {
			c.Close() // one report open at a time
		}
		if err != nil {
			return err
		}
		if (rep.Summary.Interrupted || rep.Summary.FollowUpInterrupted) && !o.Interrupted {
			return fmt.Errorf("%s: the scan was interrupted (a signal stopped it): its report holds part of its inputs; merge it with --allow-interrupted, and the merged report is marked interrupted", report.Escape(name))
		}
		parts = append(parts, rep)
	}
	rep, err := merge.Merge(parts, merge.Options{Idle: o.Idle})
	if err != nil {
		return err
	}
	out, err := openOutput(&ScanOptions{Output: o.Output, Stdout: o.Stdout})
	if err != nil {
		return err
	}
	defer out.abort()
	var p report.Printer
	switch o.Format {
	case "table":
		p = report.Table()
	case "csv":
		p = report.CSV()
		if o.CSVTable == "inputs" {
			p = report.CSVInputs()
		}
	case "jsonl":
		p = report.JSONL()
	default:
		p = report.JSON()
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(o.Stderr, "pongscan: warning: %s\n", report.Escape(w))
	}
	bw := bufio.NewWriter(out.w)
	perr := p.Print(bw, rep)
	if err := bw.Flush(); perr == nil {
		perr = err
	}
	if perr == nil {
		perr = out.commit()
	}
	if perr != nil {
		fmt.Fprintf(o.Stderr, "pongscan: writing the report: %v\n", perr)
		return errTrouble
	}
	for _, in := range rep.Inputs {
		if in.Error != "" {
			return errTrouble
		}
	}
	if len(rep.Loops) > 0 {
		return errLoops
	}
	return nil
}
