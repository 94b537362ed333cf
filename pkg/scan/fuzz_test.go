package scan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// checkResult checks what every scan of one input must hold, whatever the
// input: a report, every packet counted once, and errors that name the
// file and a position.
func checkResult(t *testing.T, path string, res *scan.Result) {
	t.Helper()
	rep := res.Report
	if rep == nil || rep.Schema != report.Schema {
		t.Fatalf("no pongscan.report/v1 report: %+v", rep)
	}
	if len(rep.Inputs) != 1 || rep.Inputs[0].Path != path {
		t.Fatalf("inputs %+v", rep.Inputs)
	}
	checkSummary(t, rep)
	if len(res.Errors) > 1 {
		t.Fatalf("%d errors for one input: %v", len(res.Errors), res.Errors)
	}
	if (len(res.Errors) == 1) != (rep.Inputs[0].Error != "") {
		t.Fatalf("errors %v, input error %q", res.Errors, rep.Inputs[0].Error)
	}
	for _, err := range res.Errors {
		var ce *capture.Error
		if !errors.As(err, &ce) || ce.File != path {
			t.Fatalf("error %v is not a *capture.Error naming %s", err, path)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || !position.MatchString(msg) {
			t.Fatalf("error %q names no file and position", msg)
		}
	}
	var buf bytes.Buffer
	if err := report.JSON().Print(&buf, rep); err != nil {
		t.Fatalf("printing JSON: %v", err)
	}
	if !json.Valid(buf.Bytes()) || !utf8.Valid(buf.Bytes()) {
		t.Fatalf("invalid JSON report:\n%s", buf.String())
	}
}

// outcome is a scan rendered for comparison.
func outcome(t *testing.T, res *scan.Result) string {
	t.Helper()
	b, err := json.Marshal(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %v", b, res.Errors)
}

// fileSeedBytes is how much of each sample capture seeds FuzzScan: enough
// for hundreds of packets, small enough to scan quickly.
const fileSeedBytes = 16 << 10

func FuzzScan(f *testing.F) {
	frames := hostileFrames(f)
	pcap, ng := hostilePcap(f, frames), hostilePcapng(f, frames)
	for _, s := range [][]byte{pcap, ng, gz(pcap), pcap[:24], []byte("not a capture"), {}} {
		f.Add(s)
	}
	for _, c := range hostileCases(f) {
		if strings.Contains(c.name, "flipped") || strings.Contains(c.name, "0x") {
			f.Add(c.data)
		}
	}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), fileSeedBytes)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		serial := scan.RunPaths([]string{path}, scan.Options{})
		checkResult(t, path, serial)
		if len(serial.Errors) == 0 {
			var inputs uint64
			for _, in := range serial.Report.Inputs {
				inputs += in.Packets
			}
			if serial.Report.Summary.Packets != inputs {
				t.Fatalf("summary counts %d packets, inputs %d", serial.Report.Summary.Packets, inputs)
			}
		}
		// Any number of shards, inline or on goroutines of their own,
		// changes nothing.
		for _, opts := range []scan.Options{{Shards: 2, Parallel: true}, {Shards: 3}} {
			parallel := scan.RunPaths([]string{path}, opts)
			if a, b := outcome(t, serial), outcome(t, parallel); a != b {
				t.Fatalf("serial and parallel (%+v) scans differ:\n%s\n%s", opts, a, b)
			}
		}
	})
}
