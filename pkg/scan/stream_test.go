package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

const samples = "../../testdata/pcaps/"

// splitCapture writes the records of the pcap at src into files under
// dir, record i going to file pick(i, time): a rotation (consecutive
// runs) or an interleaving. It returns the files' paths.
func splitCapture(t testing.TB, src, dir string, n int, pick func(i int, ts int64) int) []string {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(src, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, n)
	ws := make([]*pcapgo.Writer, n)
	files := make([]*os.File, n)
	for k := range n {
		paths[k] = filepath.Join(dir, fmt.Sprintf("part-%04d.pcap", k))
		f, err := os.Create(paths[k])
		if err != nil {
			t.Fatal(err)
		}
		files[k] = f
		ws[k] = pcapgo.NewWriterNanos(f)
		if err := ws[k].WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
	}
	var rec capture.Record
	for i := 0; ; i++ {
		if err := r.Next(&rec); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		k := pick(i, rec.Time)
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, rec.Time), CaptureLength: len(rec.Data), Length: rec.OrigLen}
		if err := ws[k].WritePacket(ci, rec.Data); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		f.Close()
	}
	return paths
}

// loopKey is what must not depend on how the capture was cut into files.
func loopKeys(r *report.Report) string {
	var b strings.Builder
	for _, l := range r.Loops {
		fmt.Fprintf(&b, "%s %s:%d<->%s:%d %s..%s %d pkts %d bytes ongoing=%v open=%v\n", l.Stream, l.Client.IP, l.Client.Port,
			l.Server.IP, l.Server.Port, l.Start, l.End, l.Packets, l.Bytes, l.OngoingAtEnd, l.OpenAtStart)
	}
	return b.String()
}

// TestLazyStreamMatchesWholeFile: a capture cut into many files (rotated:
// consecutive runs of records, or interleaved: records dealt out in turn)
// scans to the same loops and counts as the whole file, in every shard
// layout, whether the files are opened lazily (paths) or all at once
// (readers).
func TestLazyStreamMatchesWholeFile(t *testing.T) {
	for _, name := range []string{"machine-pong.pcap", "two-loops.pcap", "midloop.pcap", "fixed-port.pcap"} {
		whole := scan.RunPaths([]string{samples + name}, scan.Options{})
		want := loopKeys(whole.Report)
		if len(whole.Report.Loops) == 0 && name != "fixed-port.pcap" {
			t.Fatalf("%s: no loop in the whole file", name)
		}
		for _, cut := range []struct {
			name string
			n    int
			pick func(i int, ts int64) int
		}{
			{"rotated", 37, func(i int, _ int64) int { return min(i/13, 36) }},
			{"interleaved", 5, func(i int, _ int64) int { return i % 5 }},
		} {
			t.Run(name+"/"+cut.name, func(t *testing.T) {
				paths := splitCapture(t, samples+name, t.TempDir(), cut.n, cut.pick)
				for _, mode := range scan.Modes {
					res := scan.RunPaths(paths, mode)
					if len(res.Errors) > 0 {
						t.Fatal(res.Errors)
					}
					if got := loopKeys(res.Report); got != want {
						t.Fatalf("%+v: loops\n%s\nwant\n%s", mode, got, want)
					}
					if res.Report.Summary.Packets != whole.Report.Summary.Packets || res.Report.Summary.Flows != whole.Report.Summary.Flows {
						t.Fatalf("summary %+v, want %+v", res.Report.Summary, whole.Report.Summary)
					}
				}
				var ins []scan.Input
				for _, p := range paths {
					b, _ := os.ReadFile(p)
					ins = append(ins, scan.Reader(p, bytes.NewReader(b)))
				}
				res := scan.Run(context.Background(), ins, scan.Options{Detectors: scan.TestDetectors})
				if got := loopKeys(res.Report); got != want {
					t.Fatalf("readers: loops\n%s\nwant\n%s", got, want)
				}
				// A rotation reads one file after another: no warning.
				// Interleaved files overlap: a warning naming two.
				warned := len(res.Report.Warnings) > 0
				if warned != (cut.name == "interleaved") {
					t.Fatalf("warnings %q", res.Report.Warnings)
				}
				if w := res.Report.Warnings; warned && (!strings.Contains(w[0], "part-0000.pcap and ") ||
					!strings.Contains(w[0], "part-0001.pcap overlap in time by") ||
					!strings.Contains(res.Report.Warnings[0], "--each")) {
					t.Fatalf("warning %q", res.Report.Warnings[0])
				}
			})
		}
	}
}

// TestFilesOrderedByFirstPacket: files named against their time order are
// read in time order, and listed in it.
func TestFilesOrderedByFirstPacket(t *testing.T) {
	dir := t.TempDir()
	paths := splitCapture(t, samples+"machine-pong.pcap", dir, 3, func(i int, _ int64) int { return 2 - min(i/150, 2) })
	res := scan.RunPaths(paths, scan.Options{})
	whole := scan.RunPaths([]string{samples + "machine-pong.pcap"}, scan.Options{})
	if loopKeys(res.Report) != loopKeys(whole.Report) || len(res.Report.Warnings) > 0 {
		t.Fatalf("loops %s warnings %q", loopKeys(res.Report), res.Report.Warnings)
	}
	var order []string
	for _, in := range res.Report.Inputs {
		order = append(order, filepath.Base(in.Path))
	}
	if got := strings.Join(order, " "); got != "part-0002.pcap part-0001.pcap part-0000.pcap" {
		t.Fatalf("inputs listed as %s, want time order", got)
	}
}

// TestStreamsAreIndependent: two copies of one capture scanned as two
// streams (what --each does) give two loops with the original counts,
// each carrying its stream; as one stream they give one loop of twice the
// packets and a warning.
func TestStreamsAreIndependent(t *testing.T) {
	p := samples + "machine-pong.pcap"
	whole := scan.RunPaths([]string{p}, scan.Options{})
	l0 := whole.Report.Loops[0]
	for _, mode := range scan.Modes {
		mode.Detectors = scan.TestDetectors
		var order []string
		mode.OnStream = func(d scan.StreamDone) {
			order = append(order, d.Name)
			if d.Name != "c" && (len(d.Loops) != 1 || d.Loops[0].Stream != d.Name) {
				t.Errorf("stream %s handed %d loops", d.Name, len(d.Loops))
			}
		}
		res := scan.RunStreams(context.Background(), []scan.Stream{
			{Name: "a", Inputs: []scan.Input{scan.File(p)}},
			{Name: "b", Inputs: []scan.Input{scan.File(p)}},
			{Name: "c", Inputs: []scan.Input{scan.File(samples + "bounce.pcap")}},
		}, mode)
		if strings.Join(order, ",") != "a,b,c" {
			t.Fatalf("OnStream order %v", order)
		}
		r := res.Report
		if len(r.Loops) != 2 || r.Summary.Loops != 2 {
			t.Fatalf("%d loops, want 2", len(r.Loops))
		}
		for i, l := range r.Loops {
			if l.Stream != []string{"a", "b"}[i] || l.Packets != l0.Packets || l.Start != l0.Start || l.PeakPPS != l0.PeakPPS {
				t.Fatalf("loop %d: stream %q, %d packets, want %d", i, l.Stream, l.Packets, l0.Packets)
			}
		}
		if len(r.Inputs) != 3 || r.Inputs[1].Stream != "b" || r.Summary.Packets != 2*whole.Report.Summary.Packets+r.Inputs[2].Packets {
			t.Fatalf("inputs %+v, summary %+v", r.Inputs, r.Summary)
		}
		if len(r.Warnings) != 0 {
			t.Fatalf("warnings %q", r.Warnings)
		}
	}
	one := scan.RunPaths([]string{p, p}, scan.Options{})
	if len(one.Report.Loops) != 1 || one.Report.Loops[0].Packets != 2*l0.Packets || len(one.Report.Warnings) != 1 {
		t.Fatalf("one stream: %s warnings %q", loopKeys(one.Report), one.Report.Warnings)
	}
}

// TestOpenAtStart: a loop running when the capture began is open at its
// start; one whose trigger was captured later is not.
func TestOpenAtStart(t *testing.T) {
	for name, want := range map[string]bool{"midloop.pcap": true, "machine-pong.pcap": false} {
		res := scan.RunPaths([]string{samples + name}, scan.Options{})
		if len(res.Report.Loops) == 0 || res.Report.Loops[0].OpenAtStart != want {
			t.Errorf("%s: %s, want open_at_start %v", name, loopKeys(res.Report), want)
		}
		b, _ := json.Marshal(res.Report.Loops[0])
		if !bytes.Contains(b, []byte(`"open_at_start":`)) {
			t.Errorf("JSON lacks open_at_start: %s", b)
		}
	}
}

// TestManyFilesRecycleBlocks: a stream of many rotated files reads into
// the same few blocks as one file does. Its pool kept 64 blocks whatever
// their size, and with the 16 KiB blocks of more than 256 inputs the
// batches in flight needed more: every block was allocated anew (300 MB
// for 1,493 rotated files of 10 M packets, and the collector's slack on
// top). Counted in allocated bytes, not time: the stream of 400 files
// allocates less than a tenth of its bytes more than the single file.
func TestManyFilesRecycleBlocks(t *testing.T) {
	if raceEnabled {
		t.Skip("counts allocations: not under the race detector")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "all.pcap")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := benchgen.Write(f, benchgen.Config{Packets: 600000, Seed: 9, QPS: 4000, Clients: 500, Loops: 2, LoopPackets: 2000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	parts := splitCapture(t, src, dir, n, func(i int, _ int64) int { return i * n / 600000 })
	alloc := func(paths ...string) uint64 {
		var ins []scan.Input
		for _, p := range paths {
			ins = append(ins, scan.File(p))
		}
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		res := scan.RunStreams(context.Background(), []scan.Stream{{Inputs: ins}}, scan.Options{Detectors: []detect.Factory{detect.DNSPongDetector}, Shards: 2, Parallel: true})
		runtime.ReadMemStats(&m1)
		if res.Report.Summary.Packets != 600000 {
			t.Fatalf("%d files: %d packets read", len(paths), res.Report.Summary.Packets)
		}
		return m1.TotalAlloc - m0.TotalAlloc
	}
	one, many := alloc(src), alloc(parts...)
	t.Logf("one file: %d MB allocated; %d files: %d MB (capture %d MB)", one>>20, n, many>>20, st.Size()>>20)
	if many > one+uint64(st.Size())/10 {
		t.Errorf("%d files allocate %d MB, one file %d MB: blocks of a %d MB capture are not recycled", n, many>>20, one>>20, st.Size()>>20)
	}
}
