package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/report"
)

// splitByTime cuts the capture at src into files of interval each, as
// `editcap -i` does: the fallback when editcap is not installed.
func splitByTime(t *testing.T, src, dir string, interval time.Duration) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.Open(src, f)
	if err != nil {
		t.Fatal(err)
	}
	var rec capture.Record
	var w *pcapgo.Writer
	var out *os.File
	var begin int64
	k := -1
	for r.Next(&rec) == nil {
		if k < 0 {
			begin = rec.Time
		}
		if n := int((rec.Time - begin) / int64(interval)); n != k {
			if out != nil {
				out.Close()
			}
			k = n
			out, err = os.Create(filepath.Join(dir, fmt.Sprintf("chunk_%05d.pcap", k)))
			if err != nil {
				t.Fatal(err)
			}
			w = pcapgo.NewWriterNanos(out)
			w.WriteFileHeader(262144, layers.LinkTypeEthernet)
		}
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, rec.Time), CaptureLength: len(rec.Data), Length: rec.OrigLen}, rec.Data)
	}
	if out != nil {
		out.Close()
	}
}

// TestMergeWithGNUParallel is the map/reduce recipe of the README, run
// for real: a capture holding six loops is cut into 6-second chunks with
// editcap -i (8 chunks; two loops cross a cut), the chunks are scanned by
// GNU parallel (half of them to JSON, half to JSON Lines), and pongscan
// merge joins the reports. The merged loops must be the single scan's:
// endpoints, start, end, packets, ongoing; the summaries must add up.
func TestMergeWithGNUParallel(t *testing.T) {
	par, err := exec.LookPath("parallel")
	if err != nil {
		t.Skip("GNU parallel is not installed (apt-get install parallel; .ci/run installs it)")
	}
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.pcap")
	st := genCapture6(t, whole)
	chunks := filepath.Join(dir, "chunks")
	os.Mkdir(chunks, 0o755)
	if editcap, err := exec.LookPath("editcap"); err == nil {
		if out, err := exec.Command(editcap, "-i", "6", whole, filepath.Join(chunks, "chunk.pcap")).CombinedOutput(); err != nil {
			t.Fatalf("editcap: %v\n%s", err, out)
		}
	} else {
		t.Log("editcap not installed: cutting the capture by time in Go")
		splitByTime(t, whole, chunks, 6*time.Second)
	}
	files, _ := filepath.Glob(filepath.Join(chunks, "chunk_*.pcap"))
	sort.Strings(files)
	if len(files) < 4 || len(files) > 8 {
		t.Fatalf("%d chunks, want 4 to 8", len(files))
	}
	// The test is only worth something if loops cross the cuts.
	crossing := 0
	for _, l := range st.Loops {
		if l.First.Sub(st.Start)/(6*time.Second) != l.Last.Sub(st.Start)/(6*time.Second) {
			crossing++
		}
	}
	if crossing < 2 {
		t.Fatalf("only %d loops cross a cut", crossing)
	}

	// Map: scan every chunk, two at a time. Exit status 1 (loops found)
	// is success.
	script := fmt.Sprintf(`%s scan --progress never -f {2} -o {1}.{2} {1}; [ $? -le 1 ]`, bin)
	args := []string{"-j", "2", "--halt", "now,fail=1", script, ":::"}
	args = append(args, files...)
	args = append(args, ":::+")
	for i := range files {
		args = append(args, []string{"json", "jsonl"}[i%2])
	}
	if out, err := exec.Command(par, args...).CombinedOutput(); err != nil {
		t.Fatalf("parallel: %v\n%s", err, out)
	}
	var reports []string
	for i, f := range files {
		reports = append(reports, f+"."+[]string{"json", "jsonl"}[i%2])
	}

	// Reduce.
	cmd := exec.Command(bin, append([]string{"merge", "-f", "json"}, reports...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("merge: exit %d: %s", code, stderr.String())
	}
	merged := jsonReport(t, stdout.String())

	xdir := filepath.Join(dir, "x-whole")
	out, err := exec.Command(bin, "scan", "-f", "json", "--progress", "never", "--extract", xdir, whole).Output()
	if len(out) == 0 {
		t.Fatalf("single scan: %v", err)
	}
	single := jsonReport(t, string(out))
	// The merged loops' commands are made again by merge: a joined loop's
	// select all of it from every chunk it crosses, numbered as merged,
	// and write what --extract writes from the whole capture. Its
	// what-if says it covers the first part only.
	joined := 0
	for i, l := range merged.Loops {
		if !strings.Contains(l.Wireshark.Tshark, fmt.Sprintf("-w loop-%d.pcapng", i+1)) {
			t.Errorf("merged loop %d: %s", i+1, l.Wireshark.Tshark)
		}
		if strings.Contains(l.Wireshark.Tshark, "mergecap") {
			joined++
			if l.RRL == nil || !l.RRL.Partial || !strings.Contains(l.RRL.Note, "first part only") {
				t.Errorf("merged loop %d, joined: what-if %+v", i+1, l.RRL)
			}
		}
	}
	if joined < 2 {
		t.Errorf("%d merged loops span chunks, want at least 2", joined)
	}
	if len(merged.Loops) == len(single.Loops) {
		for i := range merged.Loops {
			merged.Loops[i].Extract = single.Loops[i].Extract
		}
		// The loops within one chunk are checked elsewhere (the layouts
		// test): run the joined ones' commands.
		runCommandsOf(t, "merged", merged, xdir, func(l *report.Loop) bool { return strings.Contains(l.Wireshark.Tshark, "mergecap") })
	}
	if len(single.Loops) != len(st.Loops) {
		t.Fatalf("the single scan finds %d loops, %d planted", len(single.Loops), len(st.Loops))
	}
	if got, want := loopLines(merged), loopLines(single); got != want {
		t.Fatalf("merged loops:\n%s\nsingle scan:\n%s", got, want)
	}
	if merged.Summary.Packets != single.Summary.Packets || merged.Summary.UDP != single.Summary.UDP ||
		merged.Summary.DNSMessages != single.Summary.DNSMessages || merged.Summary.Loops != single.Summary.Loops {
		t.Fatalf("merged summary %+v\nsingle %+v", merged.Summary, single.Summary)
	}
	if len(merged.Inputs) != len(files) {
		t.Fatalf("%d inputs, want %d", len(merged.Inputs), len(files))
	}
}

func loopLines(r *report.Report) string {
	var s []string
	for _, l := range r.Loops {
		s = append(s, loopLine(l))
	}
	return strings.Join(s, "\n")
}

// genCapture6 is a 45-second capture with six planted loops of 3,000
// packets, about 4 s apart.
func genCapture6(t *testing.T, path string) *benchgen.Stats {
	return genCapture(t, path, 200000, 6)
}

// TestMergeRotatedSample: the two files of the rotated sample, scanned
// apart (one report JSON, one JSON Lines) under one --stream-name and
// merged, give the loop the scan of both finds: the loop crosses the
// files. A third report of another stream stays apart.
func TestMergeRotatedSample(t *testing.T) {
	dir := t.TempDir()
	r1, r2, r3 := filepath.Join(dir, "r1.json"), filepath.Join(dir, "r2.jsonl"), filepath.Join(dir, "other.json")
	for _, args := range [][]string{
		{"scan", "-f", "json", "--stream-name", "n1", "-o", r1, pcaps + "rotated-1.pcap"},
		{"scan", "-f", "jsonl", "--stream-name", "n1", "-o", r2, pcaps + "rotated-2.pcap"},
		{"scan", "-f", "json", "--stream-name", "n2", "-o", r3, pcaps + "rotated-2.pcap"},
	} {
		if code, _, stderr := runCLI(t, args...); code > ExitLoops {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	_, out, _ := runCLI(t, "scan", "-f", "json", "--stream-name", "n1", pcaps+"rotated-1.pcap", pcaps+"rotated-2.pcap")
	whole := jsonReport(t, out)
	code, out, stderr := runCLI(t, "merge", r2, r3, r1)
	if code != ExitLoops {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	merged := jsonReport(t, out)
	var n1 []report.Loop
	for _, l := range merged.Loops {
		if l.Stream == "n1" {
			n1 = append(n1, l)
		}
	}
	if len(whole.Loops) != 1 || len(n1) != 1 || loopLine(n1[0]) != loopLine(whole.Loops[0]) {
		t.Fatalf("merged n1 loops %v, want %v", n1, whole.Loops)
	}
	if n1[0].Trigger.Query == nil || n1[0].Trigger.Query.Frame != whole.Loops[0].Trigger.Query.Frame {
		t.Fatalf("trigger not taken from the first part: %+v", n1[0].Trigger)
	}
	if merged.Inputs[0].Stream != "n1" || merged.Inputs[2].Stream != "n2" {
		t.Fatalf("inputs %+v", merged.Inputs)
	}
	if code, _, stderr := runCLI(t, "merge", filepath.Join(dir, "missing.json")); code != ExitTrouble || stderr == "" {
		t.Fatalf("missing report: exit %d", code)
	}
}
