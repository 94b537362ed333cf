package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/pongscan/pongscan/pkg/followup"
	"github.com/pongscan/pongscan/pkg/handoff"
	"github.com/pongscan/pongscan/pkg/inputset"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// Batch and fleet scans: streams, directories, lists of files, JSON Lines
// and reports written whole or not at all.

func addBatchFlags(f *pflag.FlagSet, opts *ScanOptions) {
	f.BoolVar(&opts.Each, "each", false, "scan every file as a stream of its own (two sensors, or copies of one capture); the report names each loop's stream")
	f.StringVar(&opts.StreamBy, "stream-by", "", "group files into streams: 'dir' (the files of one directory, the usual layout per node) or a regular expression whose first capture group, matched against the file name, names the stream, e.g. '^(ns[0-9]+)-'")
	f.StringVar(&opts.StreamName, "stream-name", "", "name the one stream of a plain scan (e.g. the node a map task scans), for the report and pongscan merge")
	f.StringVar(&opts.FilesFrom, "files-from", "", "read more input paths from this file, one a line; '-' reads them from standard input")
	f.BoolVarP(&opts.Null, "null", "0", false, "with --files-from: paths end with a NUL byte, not a line break (find -print0)")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "name on stderr every file of a directory skipped as not a capture")
	f.StringVarP(&opts.Output, "output", "o", "", "write the report to this file: to a temporary file beside it, renamed into place once complete")
	f.StringVar(&opts.CSVTable, "csv-table", "loops", "with --format csv: 'loops' (a row per loop) or 'inputs' (a row per input)")
}

func checkBatchFlags(o *ScanOptions) error {
	if o.Each && o.StreamBy != "" {
		return errors.New("--each and --stream-by exclude each other")
	}
	if o.StreamName != "" && (o.Each || o.StreamBy != "") {
		return errors.New("--stream-name names the one stream of a plain scan: not with --each or --stream-by")
	}
	switch o.CSVTable {
	case "loops", "inputs":
	default:
		return fmt.Errorf("--csv-table must be loops or inputs, not %q", o.CSVTable)
	}
	return nil
}

// expandInputs finds the inputs and streams, and says on stderr what it
// skipped.
func expandInputs(o *ScanOptions) (*inputset.Set, error) {
	set, err := inputset.Expand(o.Files, inputset.Options{
		Each: o.Each, StreamBy: o.StreamBy, StreamName: o.StreamName, FilesFrom: o.FilesFrom, Null: o.Null, Stdin: o.Stdin,
	})
	if err != nil {
		return nil, err
	}
	if n := len(set.Skipped); n > 0 {
		if o.Verbose {
			for _, p := range set.Skipped {
				fmt.Fprintf(o.Stderr, "pongscan: skipped %s: not a capture\n", report.Escape(p))
			}
		}
		hint := " (-v names them)"
		if o.Verbose {
			hint = ""
		}
		fmt.Fprintf(o.Stderr, "pongscan: skipped %d files in directories or lists that are not captures%s\n", n, hint)
	}
	if set.Inputs() == 0 {
		return nil, errors.New("no capture to scan")
	}
	return set, nil
}

// output is where the report goes: stdout, a temporary file renamed
// over -o FILE once the report is complete, or -o's device or FIFO,
// written in place (outputTarget).
type output struct {
	w      io.Writer
	f      *os.File
	tmp    string
	dest   string
	direct bool
	done   bool
}

func openOutput(o *ScanOptions) (*output, error) {
	if o.Output == "" || o.Output == "-" {
		return &output{w: o.Stdout}, nil
	}
	target, direct, err := outputTarget(o.Output)
	if err != nil {
		return nil, fmt.Errorf("-o %s: %w", report.Escape(o.Output), err)
	}
	if direct {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("-o %s: %w", report.Escape(o.Output), unwrapPath(err))
		}
		return &output{w: f, f: f, dest: target, direct: true}, nil
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("-o %s: %w", report.Escape(o.Output), unwrapPath(err))
	}
	addTemp(f.Name())
	return &output{w: f, f: f, tmp: f.Name(), dest: target}, nil
}

// commit makes the report visible under its name: synced, closed,
// renamed.
func (out *output) commit() error {
	if out.f == nil || out.done {
		return nil
	}
	out.done = true
	if out.direct {
		if err := out.f.Close(); err != nil {
			return fmt.Errorf("-o %s: %w", report.Escape(out.dest), err)
		}
		return nil
	}
	err := out.f.Sync()
	if cerr := out.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The mode of the file it replaces, else 0644: not the 0600 of
		// a private temporary file.
		mode := os.FileMode(0o644)
		if st, serr := os.Stat(out.dest); serr == nil {
			mode = st.Mode().Perm()
		}
		err = os.Chmod(out.tmp, mode)
	}
	if err == nil {
		err = os.Rename(out.tmp, out.dest)
	}
	removeTemp(out.tmp)
	if err != nil {
		os.Remove(out.tmp)
		return fmt.Errorf("-o %s: %w", out.dest, err)
	}
	return nil
}

// abort removes the temporary file of a report that was not completed.
func (out *output) abort() {
	if out.f != nil && !out.done {
		out.done = true
		out.f.Close()
		if !out.direct {
			os.Remove(out.tmp)
			removeTemp(out.tmp)
		}
	}
}

// jsonlStream writes JSON Lines as the scan goes: each stream's loops and
// inputs as soon as the stream is scanned and followed up, then the
// summary as the printer.
type jsonlStream struct {
	bw  *bufio.Writer
	j   *report.JSONLWriter
	err error
	n   int // loops written so far: the next one's number in the report
	k   int // streams done
	// follow runs the follow-up of stream k's loops, numbered from
	// first; nil when it has none.
	follow func(d *scan.StreamDone, k, first int) *followup.Result
	fr     followup.Result // every stream's follow-up, in order
}

func newJSONLStream(w io.Writer, _ io.Writer) *jsonlStream {
	bw := bufio.NewWriter(w)
	return &jsonlStream{bw: bw, j: report.NewJSONL(bw)}
}

func (s *jsonlStream) stream(d scan.StreamDone) {
	first := s.n + 1
	// The hand-off fields, as the report gets them (handoff.Fill),
	// numbered as the report numbers the loop, from the stream's own
	// files.
	handoff.FillStream(d.Loops, first, d.Inputs, d.VLANTags)
	// The what-if and --extract of the stream's loops, before they are
	// written: a stream's lines are final.
	var fr *followup.Result
	if s.follow != nil {
		fr = s.follow(&d, s.k, first)
	}
	s.k++
	if fr != nil {
		s.fr.Loops = append(s.fr.Loops, fr.Loops...)
		s.fr.Errors = append(s.fr.Errors, fr.Errors...)
		s.fr.Interrupted = s.fr.Interrupted || fr.Interrupted
		s.fr.Read = s.fr.Read || fr.Read
	} else {
		s.fr.Loops = append(s.fr.Loops, make([]followup.Loop, len(d.Loops))...)
	}
	for i := range d.Loops {
		s.n++
		if s.err == nil {
			s.err = s.j.Loop(&d.Loops[i])
		}
	}
	for i := range d.Inputs {
		if s.err == nil {
			s.err = s.j.Input(&d.Inputs[i])
		}
	}
}

// followed is every stream's follow-up, or nil when none ran.
func (s *jsonlStream) followed() *followup.Result {
	if !s.fr.Read && !s.fr.Interrupted {
		return nil
	}
	return &s.fr
}

// Print writes the summary, the last line.
func (s *jsonlStream) Print(w io.Writer, r *report.Report) error {
	if s.err != nil {
		return s.err
	}
	return report.NewJSONL(w).Summary(r)
}
