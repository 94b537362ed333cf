package scan

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var errInjected = errors.New("injected I/O error")

// failingReader returns the first n bytes of b, then errInjected.
type failingReader struct {
	b []byte
	n int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errInjected
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b, r.n = r.b[k:], r.n-k
	return k, nil
}

func (r *failingReader) Close() error { return nil }

// consistent checks what a report must hold however its input ended: no
// count above the packets read, no finding naming a frame past its
// input's last.
func consistent(t *testing.T, res *Result) {
	t.Helper()
	rep := res.Report
	var frames uint64
	last := map[string]uint64{}
	for _, in := range rep.Inputs {
		frames += in.Packets
		last[in.Path] = in.Packets
	}
	s := &rep.Summary
	if s.Packets != frames {
		t.Errorf("summary counts %d packets, the inputs %d", s.Packets, frames)
	}
	if sum := s.UDP + s.TCP + s.OtherIP + s.NotIP + s.Malformed + s.UnknownLink + s.NonPacket + s.Fragments - s.Reassembled; sum != s.Packets {
		t.Errorf("frame kinds add up to %d, packets read %d (summary %+v)", sum, s.Packets, s)
	}
	for _, l := range rep.Loops {
		for _, p := range []uint64{l.FirstPacket.Frame, l.Trigger.FirstNonDNS.Frame} {
			if p > last[l.FirstPacket.File] {
				t.Errorf("loop names frame %d of %s, which has %d", p, l.FirstPacket.File, last[l.FirstPacket.File])
			}
		}
	}
}

// A read error at byte n gives the report of the bytes before it (the
// same as a copy of the file cut at n), one error naming the input and
// its position, and the same report for every shard layout.
func TestReadErrorMidScan(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "pcaps", "two-loops.pcap")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{24, 5000, len(raw) / 2, len(raw) - 7} {
		cut := filepath.Join(t.TempDir(), "two-loops.pcap")
		if err := os.WriteFile(cut, raw[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		want := RunPaths([]string{cut}, Options{Shards: 1})
		for _, opts := range Modes {
			opts.Detectors = TestDetectors
			in := Input{Name: cut, Open: func() (io.ReadCloser, error) { return &failingReader{b: raw, n: n}, nil }}
			res := Run(context.Background(), []Input{in}, opts)
			consistent(t, res)
			if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errInjected) || !strings.HasPrefix(res.Errors[0].Error(), cut+": ") {
				t.Fatalf("byte %d: errors %v, want one naming the input and wrapping the injected error", n, res.Errors)
			}
			if !strings.Contains(res.Errors[0].Error(), "byte") {
				t.Errorf("byte %d: error %q names no position", n, res.Errors[0])
			}
			// The same findings and counts as the file cut at n.
			got, exp := *res.Report, *want.Report
			got.Inputs, exp.Inputs = nil, nil
			if a, b := outcomeOf(t, &Result{Report: &got}), outcomeOf(t, &Result{Report: &exp}); a != b {
				t.Errorf("byte %d, %+v: the report differs from the scan of the file cut there:\n%s\n%s", n, opts, a, b)
			}
			if res.Report.Inputs[0].Packets != want.Report.Inputs[0].Packets {
				t.Errorf("byte %d: %d packets, the cut file %d", n, res.Report.Inputs[0].Packets, want.Report.Inputs[0].Packets)
			}
		}
	}
}

// hookedFile is a file input that calls hook once, after its first read,
// as if another process acted on the file while the scan read it.
type hookedFile struct {
	io.ReadCloser
	hook func()
}

func (h *hookedFile) Read(p []byte) (int, error) {
	n, err := h.ReadCloser.Read(p)
	if h.hook != nil {
		h.hook()
		h.hook = nil
	}
	return n, err
}

func (h *hookedFile) changed() string {
	if c, ok := h.ReadCloser.(changer); ok {
		return c.changed()
	}
	return ""
}

// A file truncated while it is read (logrotate's copytruncate, a tcpdump
// -W ring) ends where it was cut, with an error that says the file shrank;
// every shard saw the same bytes, so the report is consistent and the same
// for every layout.
func TestFileTruncatedMidScan(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pcaps", "two-loops.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// Reads are 256 KiB blocks: a file of several blocks is cut after the
	// first one was read.
	big := append([]byte(nil), raw...)
	for len(big) < 1<<20 {
		big = append(big, raw[24:]...) // more records, same times: a valid pcap
	}
	var first string
	path := filepath.Join(t.TempDir(), "ring.pcap")
	for _, opts := range Modes {
		if err := os.WriteFile(path, big, 0o644); err != nil {
			t.Fatal(err)
		}
		in := Input{Name: path, Open: func() (io.ReadCloser, error) {
			rc, err := openFile(path)
			return &hookedFile{rc, func() { _ = os.Truncate(path, 300<<10) }}, err
		}}
		opts.Detectors = TestDetectors
		res := Run(context.Background(), []Input{in}, opts)
		consistent(t, res)
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "shrank from 1") {
			t.Fatalf("%+v: errors %v, want one saying the file shrank", opts, res.Errors)
		}
		if res.Report.Summary.Packets == 0 {
			t.Fatal("nothing read before the cut")
		}
		res.Report.Inputs[0].Path = ""
		res.Report.Inputs[0].Error = ""
		got := outcomeOf(t, &Result{Report: res.Report})
		if first == "" {
			first = got
		} else if got != first {
			t.Errorf("%+v: report differs from the first layout's:\n%s\n%s", opts, got, first)
		}
	}
}

// A file renamed over while it is read: the scan reads the file it opened,
// through its one handle, to its end.
func TestFileReplacedMidScan(t *testing.T) {
	dir := t.TempDir()
	orig, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pcaps", "two-loops.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pcaps", "ipv6.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cap.pcap")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	want := RunPaths([]string{path}, Options{Shards: 1})
	for _, opts := range Modes {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		in := Input{Name: path, Open: func() (io.ReadCloser, error) {
			rc, err := openFile(path)
			return &hookedFile{rc, func() {
				tmp := filepath.Join(dir, "new.pcap")
				_ = os.WriteFile(tmp, other, 0o644)
				_ = os.Rename(tmp, path)
			}}, err
		}}
		opts.Detectors = TestDetectors
		res := Run(context.Background(), []Input{in}, opts)
		if a, b := outcomeOf(t, res), outcomeOf(t, want); a != b {
			t.Errorf("%+v: replaced file changed the report:\n%s\n%s", opts, a, b)
		}
	}
}

// signalReader closes full once n bytes were read through it.
type signalReader struct {
	r    io.Reader
	n    int
	full chan struct{}
}

func (s *signalReader) Read(p []byte) (int, error) {
	k, err := s.r.Read(p)
	if s.n -= k; s.n <= 0 && s.full != nil {
		close(s.full)
		s.full = nil
	}
	return k, err
}

// Cancelling the context stops the scan: Run returns, the report covers
// what was read, is marked interrupted and says where it stopped; a read
// blocked on a pipe that never ends does not hold it up.
func TestCancelStopsBlockedRead(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pcaps", "machine-pong.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(raw) // then nothing more, never closed: a stalled pipe
	}()
	full := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result)
	go func() {
		in := Reader("-", &signalReader{r: pr, n: len(raw), full: full})
		done <- Run(ctx, []Input{in}, Options{Detectors: TestDetectors, Shards: 2, Parallel: true})
	}()
	<-full // everything written was read; the next read blocks forever
	cancel()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context was cancelled")
	}
	if !res.Interrupted || !res.Report.Summary.Interrupted {
		t.Fatal("not marked interrupted")
	}
	if len(res.Errors) != 0 {
		t.Errorf("an interrupted read is not an input error: %v", res.Errors)
	}
	p := res.Report.Summary.Packets
	if p > 450 || res.Stopped.Frame != p || p > 0 && res.Stopped.Input != "-" {
		t.Errorf("%d packets, stopped at %+v", p, res.Stopped)
	}
	consistent(t, res)
	_ = pw.Close()
}
