package capture_test

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/pongscan/pongscan/pkg/capture"
)

// maxInflate bounds how many bytes deflate can make of one byte (1032:1
// at best), so a gzip'd input cannot hold more records than this allows.
const maxInflate = 1100

// smallestRecord is the fewest bytes a record takes: a pcapng block.
const smallestRecord = 12

var sentinels = []error{capture.ErrNotCapture, capture.ErrUnsupported, capture.ErrCut, capture.ErrDamaged, capture.ErrEmpty}

// outcome is what a reader made of a stream: its records, copied, and the
// error that ended it.
type outcome struct {
	format capture.Format
	gzip   bool
	recs   []string
	err    string
}

// readAll reads a stream to its end and checks the reader's promises on
// every step.
func readAll(t *testing.T, name string, data []byte, r io.Reader) outcome {
	t.Helper()
	var out outcome
	cr, err := capture.Open(name, r)
	if err != nil {
		if cr != nil {
			t.Fatalf("Open returned a reader and the error %v", err)
		}
		checkError(t, name, data, false, 0, err)
		out.err = err.Error()
		return out
	}
	defer cr.Release()
	out.format, out.gzip = cr.Format(), cr.Compression() != ""
	if out.format != capture.FormatPcap && out.format != capture.FormatPcapng {
		t.Fatalf("format %q", out.format)
	}
	limit := len(data)/smallestRecord + 1
	switch cr.Compression() {
	case "":
	case capture.CompressGzip:
		limit = len(data)*maxInflate/smallestRecord + 1
	default:
		// zstd and xz runs expand without a useful bound; the check is
		// that reading ends, within the fuzzer's time.
		limit = 1 << 24
	}
	var rec capture.Record
	last := int64(-smallestRecord)
	for i := 1; ; i++ {
		if i > limit {
			t.Fatalf("more than %d records from %d bytes", limit, len(data))
		}
		err := cr.Next(&rec)
		if err == io.EOF {
			if again := cr.Next(&rec); again != io.EOF {
				t.Fatalf("Next after io.EOF returned %v", again)
			}
			return out
		}
		if err != nil {
			checkError(t, name, data, out.gzip, cr.Frames()+1, err)
			if again := cr.Next(&rec); again != err {
				t.Fatalf("error not sticky: %v, then %v", err, again)
			}
			out.err = err.Error()
			return out
		}
		if rec.Frame != uint64(i) || cr.Frames() != uint64(i) {
			t.Fatalf("record %d numbered frame %d, reader counts %d", i, rec.Frame, cr.Frames())
		}
		if rec.Offset < last+smallestRecord {
			t.Fatalf("frame %d at byte %d, only %d bytes after the previous one", i, rec.Offset, rec.Offset-last)
		}
		last = rec.Offset
		if len(rec.Data) > capture.MaxPacket {
			t.Fatalf("frame %d holds %d bytes, more than MaxPacket", i, len(rec.Data))
		}
		if rec.OrigLen < len(rec.Data) {
			t.Fatalf("frame %d: OrigLen %d < %d captured", i, rec.OrigLen, len(rec.Data))
		}
		if !out.gzip && rec.Offset+int64(len(rec.Data)) > int64(len(data)) {
			t.Fatalf("frame %d at byte %d with %d bytes lies beyond the %d-byte input", i, rec.Offset, len(rec.Data), len(data))
		}
		if rec.LinkType == capture.NonPacket && len(rec.Data) != 0 {
			t.Fatalf("frame %d is not a packet but carries %d bytes", i, len(rec.Data))
		}
		out.recs = append(out.recs, fmt.Sprintf("%d@%d t=%d lt=%d orig=%d %x", rec.Frame, rec.Offset, rec.Time, rec.LinkType, rec.OrigLen, rec.Data))
	}
}

// checkError checks that err is a *capture.Error that wraps a sentinel and
// names the file and a position inside the input.
func checkError(t *testing.T, name string, data []byte, gz bool, frame uint64, err error) {
	t.Helper()
	ce, ok := err.(*capture.Error)
	if !ok {
		t.Fatalf("error %T %q is not a *capture.Error", err, err)
	}
	known := false
	for _, s := range sentinels {
		known = known || errors.Is(err, s)
	}
	if !known {
		t.Fatalf("error %q wraps no sentinel", err)
	}
	if errors.Is(err, capture.ErrEmpty) && !emptyStream(data) {
		t.Fatalf("error %q for %d bytes that are not an empty stream", err, len(data))
	}
	if ce.File != name || ce.Frame != frame {
		t.Fatalf("error %q names file %q frame %d, want %q frame %d", err, ce.File, ce.Frame, name, frame)
	}
	if ce.Gzip != gz && frame > 0 {
		t.Fatalf("error %q: Gzip %v, reader says %v", err, ce.Gzip, gz)
	}
	if ce.Offset < 0 || !ce.Gzip && ce.Offset > int64(len(data)) {
		t.Fatalf("error %q at byte %d of a %d-byte input", err, ce.Offset, len(data))
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, name+": ") || !strings.Contains(msg, "byte ") {
		t.Fatalf("error %q does not name the file and a byte", msg)
	}
	if frame > 0 && !strings.Contains(msg, fmt.Sprintf("frame %d ", frame)) {
		t.Fatalf("error %q does not name frame %d", msg, frame)
	}
}

// emptyStream reports whether data is empty or a sound compressed stream
// of nothing, in any compression the reader unwraps (an empty zstd frame
// is 9 bytes, an empty lz4 frame 11, an empty xz stream 32). Each is
// decoded here by its library directly, not through the reader.
func emptyStream(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	var zr io.Reader
	var err error
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err = gzip.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err == nil {
			defer d.Close()
			zr = d
		}
	case bytes.HasPrefix(data, []byte{0x04, 0x22, 0x4d, 0x18}):
		zr = lz4.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		zr, err = xz.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("BZh")):
		zr = bzip2.NewReader(bytes.NewReader(data))
	default:
		return false
	}
	if err != nil {
		return false
	}
	// Reading for one byte reaches the end of a stream of nothing, and
	// stops at the first byte of any other.
	b, err := io.ReadAll(io.LimitReader(zr, 1))
	return len(b) == 0 && err == nil
}

// checkStream reads data whole and one byte per Read; both reads must
// agree, since the window must not depend on how bytes arrive.
func checkStream(t *testing.T, data []byte) outcome {
	t.Helper()
	const name = "fuzz.pcap"
	whole := readAll(t, name, data, bytes.NewReader(data))
	bytewise := readAll(t, name, data, iotest.OneByteReader(bytes.NewReader(data)))
	if fmt.Sprint(whole) != fmt.Sprint(bytewise) {
		t.Fatalf("reading whole and byte by byte disagree:\n%v\n%v", whole, bytewise)
	}
	return whole
}

// fuzzSeeds are valid captures in every supported shape, and some that are
// not, for the fuzzer to start from.
func fuzzSeeds() [][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	pcap, ng := seedPcap(), seedPcapng()
	return [][]byte{
		pcap,
		pcapFile(be, true, 101, pcapRec{sec: 1, frac: 999999999, data: dnsFrame(7)[14:]}),
		pcapFile(le, false, 147, pcapRec{data: []byte{1, 2, 3}}),
		pcapHeader(le, false, 1),
		ng,
		gzipped(pcap),
		gzipped(ng),
		append(gzipped(pcap[:40]), gzipped(pcap[40:])...), // two gzip members
		append(ngSHB(le), ngIDB(le, 1, 0)...),
		append(append(ngSHB(le), ngIDB(le, 1, 0)...), ngSPB(le, 1500, dnsFrame(1))...),
		[]byte("#!/bin/sh\necho this is not a capture\n"),
		{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		zstdCompress(pcap),
		lz4Compress(ng),
		xzCompress(pcap),
		{},
	}
}

// fileSeedBytes is how much of each sample capture seeds the fuzzer: a
// few dozen records in every format, small enough to mutate quickly.
const fileSeedBytes = 8 << 10

// addFileSeeds adds the beginnings of the sample captures in
// testdata/pcaps, when there are.
func addFileSeeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), fileSeedBytes)])
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	addFileSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkStream(t, data)
	})
}

// TestSeedsRead checks that the valid seeds read to their end, so the
// fuzzer starts from captures that exercise the record paths.
func TestSeedsRead(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		format capture.Format
		gzip   bool
		frames int
	}{
		{"pcap", seedPcap(), capture.FormatPcap, false, 3},
		{"pcapng", seedPcapng(), capture.FormatPcapng, false, 6},
		{"pcap.gz", gzipped(seedPcap()), capture.FormatPcap, true, 3},
		{"pcapng.gz", gzipped(seedPcapng()), capture.FormatPcapng, true, 6},
		{"pcap in two gzip members", append(gzipped(seedPcap()[:40]), gzipped(seedPcap()[40:])...), capture.FormatPcap, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := checkStream(t, tt.data)
			if out.err != "" || out.format != tt.format || out.gzip != tt.gzip || len(out.recs) != tt.frames {
				t.Fatalf("got %s gzip=%v, %d frames, error %q; want %s gzip=%v, %d frames", out.format, out.gzip, len(out.recs), out.err, tt.format, tt.gzip, tt.frames)
			}
		})
	}
}
