package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pongscan/pongscan/pkg/followup"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// checkFollowUp refuses --extract and --html on standard input: they read
// the inputs a second time, and a pipe can be read once. (Spooling stdin
// to a temporary file would double a capture of any size on disk behind
// the user's back; saving it is one tee away.)
func checkFollowUp(o *ScanOptions) error {
	if (o.Extract != "" || o.HTML != "") && slices.Contains(o.Files, "-") {
		return fmt.Errorf("--extract and --html read the inputs a second time, and standard input can be read once: save the capture to a file first (tee capture.pcap | pongscan scan -)")
	}
	if o.Extract != "" {
		if st, err := os.Stat(o.Extract); err == nil && !st.IsDir() {
			return fmt.Errorf("--extract %s: not a directory", report.Escape(o.Extract))
		}
	}
	return nil
}

// prepareOutputs checks, before the scan, that the follow-up's outputs
// can be written: the --extract directory exists (it is created) and
// takes files, and --html's directory takes files. A scan of an hour must
// not end in "cannot write".
func prepareOutputs(o *ScanOptions) error {
	probe := func(flag, dir string) error {
		f, err := os.CreateTemp(dir, ".pongscan-probe-*")
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("%s: cannot write in %s: %w", flag, report.Escape(dir), err)
		}
		f.Close()
		os.Remove(f.Name())
		return nil
	}
	if o.Extract != "" {
		if err := os.MkdirAll(o.Extract, 0o755); err != nil {
			return fmt.Errorf("--extract %s: %w", report.Escape(o.Extract), err)
		}
		if err := probe("--extract "+o.Extract, o.Extract); err != nil {
			return err
		}
	}
	if err := notAnInput("-o", o.Output, o.Files); err != nil {
		return err
	}
	if o.HTML != "" {
		if err := notAnInput("--html", o.HTML, o.Files); err != nil {
			return err
		}
		target, direct, err := outputTarget(o.HTML)
		if err != nil {
			return fmt.Errorf("--html %s: %w", report.Escape(o.HTML), err)
		}
		if !direct {
			if err := probe("--html "+o.HTML, filepath.Dir(target)); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasDNSServer reports whether a loop's server side is a DNS server: the
// rate-limiting what-if replays its responses.
func hasDNSServer(l *report.Loop) bool { return l.Detector == "dns-pong" }

// needsReplay reports whether a loop's what-if is still to be replayed by
// the second read: the scan replays it as it goes (followup.Live), but
// leaves a loop whose lookback it no longer held.
func needsReplay(l *report.Loop) bool { return hasDNSServer(l) && l.RRL == nil }

// wantsFollowUp reports whether the report's loops need a second read.
func wantsFollowUp(o *ScanOptions, loops []report.Loop) bool {
	if len(loops) == 0 {
		return false
	}
	return o.Extract != "" || o.HTML != "" || o.RRL && slices.ContainsFunc(loops, func(l report.Loop) bool { return needsReplay(&l) })
}

// followUp reads the streams that hold loops a second time, through the
// scan's own path (pkg/followup), and fills the report's loops: the
// what-if, the extracted files. first numbers the report's first loop
// (JSON Lines follows one stream at a time). The result's Errors are
// trouble to report.
func followUp(ctx context.Context, o *ScanOptions, rep *report.Report, streams []scan.Stream, scanErrs []error,
	first int, progress func(scan.Progress)) *followup.Result {
	fo := followup.Options{
		Streams: streams, Filter: o.Filter, Idle: o.Idle, ExtractDir: o.Extract,
		RRL: o.RRL, WhatIf: needsReplay, Ladders: o.HTML != "", ScanErrors: scanErrs,
		Progress: progress, FirstNumber: first,
	}
	fr := followup.Run(ctx, rep, fo)
	for i := range rep.Loops {
		l, lv := &rep.Loops[i], &fr.Loops[i]
		wantRRL := o.RRL && needsReplay(l)
		switch {
		case lv.Followed:
			l.Extract = lv.Extract
			if wantRRL {
				l.RRL = lv.RRL
			}
		case lv.Unavailable != "":
			if wantRRL {
				l.RRL = &report.RRL{Server: l.Server.IP, Note: "not replayed: " + lv.Unavailable, Scenarios: []report.RRLScenario{}}
			}
			if o.Extract != "" {
				l.Extract = &report.Extract{Error: "not extracted: " + lv.Unavailable}
			}
		case fr.Interrupted:
			why := "the second read of the inputs was interrupted"
			if cause := context.Cause(ctx); cause != nil {
				why = fmt.Sprintf("%v during the second read of the inputs", cause)
			}
			if wantRRL {
				l.RRL = &report.RRL{Server: l.Server.IP, Note: "not replayed: " + why, Scenarios: []report.RRLScenario{}}
			}
			if o.Extract != "" {
				l.Extract = &report.Extract{Error: "not extracted: " + why}
			}
		}
		if x := l.Extract; x != nil && x.Error != "" && lv.Followed {
			fr.Errors = append(fr.Errors, errors.New("--extract: "+x.Error))
		}
	}
	return fr
}
