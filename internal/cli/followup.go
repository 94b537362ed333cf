package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/revisit"
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

// followUp reads the inputs again when the report needs every packet of a
// loop (--extract, --html, the rate-limiting what-if) and fills the
// report; it writes the HTML page. An error is one to report as trouble.
func followUp(o *ScanOptions, res *scan.Result) error {
	rep := res.Report
	wantRRL := o.RRL && slices.ContainsFunc(rep.Loops, func(l report.Loop) bool { return l.Detector == "dns-pong" })
	need := len(rep.Loops) > 0 && (o.Extract != "" || wantRRL) || o.HTML != ""
	if !need || res.Interrupted {
		return nil
	}
	rv, err := revisit.Run(o.Context, revisit.Options{
		Report: rep, Idle: o.Idle, DNSPorts: o.DNSPorts, Filter: o.Filter,
		ExtractDir: o.Extract, Timeline: o.HTML != "", RRL: wantRRL,
	})
	if errors.Is(err, revisit.Unavailable) {
		for i := range rep.Loops {
			if rep.Loops[i].Detector == "dns-pong" && wantRRL {
				rep.Loops[i].RRL = &report.RRL{Server: rep.Loops[i].Server.IP, Note: "not replayed: " + err.Error(), Scenarios: []report.RRLScenario{}}
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the inputs again: %w", err)
	}
	var trouble error
	for i := range rep.Loops {
		l, lv := &rep.Loops[i], &rv.Loops[i]
		if lv.Extract != nil {
			l.Extract = lv.Extract
			if lv.Extract.Error != "" {
				trouble = errors.Join(trouble, errors.New("--extract: "+lv.Extract.Error))
			}
		}
		if wantRRL && l.Detector == "dns-pong" {
			l.RRL = lv.WhatIf(l)
		}
	}
	if o.HTML != "" {
		if err := writeHTML(o.HTML, rep, rv); err != nil {
			trouble = errors.Join(trouble, fmt.Errorf("--html: %w", err))
		}
	}
	return trouble
}
