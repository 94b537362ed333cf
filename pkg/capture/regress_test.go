package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/pongscan/pongscan/pkg/capture"
)

// readFrames opens data and reads it to its end: it returns the frames
// read and the error that ended the stream (nil at a clean end).
func readFrames(t *testing.T, data []byte) (int, error) {
	t.Helper()
	r, err := capture.Open("x.pcap.gz", bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	var rec capture.Record
	for n := 0; ; n++ {
		if err := r.Next(&rec); err != nil {
			if err == io.EOF {
				err = nil
			}
			return n, err
		}
	}
}

// TestRegressionGzipErrors: a broken gzip stream was reported as an empty
// file (ErrEmpty) when it broke before its first byte, and as a file cut
// short, with the gzip error dropped, when its checksum was wrong or it
// broke later. Each must name what happened.
func TestRegressionGzipErrors(t *testing.T) {
	gz := gzipped(seedPcap())
	n := len(gz)
	badCRC := bytes.Clone(gz)
	binary.LittleEndian.PutUint32(badCRC[n-8:], binary.LittleEndian.Uint32(badCRC[n-8:])^1)
	corrupt := append(bytes.Clone(gz[:10]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	tests := []struct {
		name    string
		data    []byte
		frames  int
		want    error  // sentinel
		wrapped error  // gzip's own error, when it has one
		msg     string // in the message
	}{
		{"magic only", gz[:2], 0, capture.ErrCut, nil, "gzip header"},
		{"header only", gz[:10], 0, capture.ErrCut, nil, "gzip stream holds no data: unexpected EOF"},
		{"corrupt before the first byte", corrupt, 0, capture.ErrDamaged, nil, "gzip stream holds no data: flate: corrupt input"},
		{"checksum", badCRC, 3, capture.ErrDamaged, gzip.ErrChecksum, "frame 4 at decompressed byte 254: damaged capture: record header is 0 of 16 bytes: gzip: invalid checksum"},
		{"trailer cut", gz[:n-3], 3, capture.ErrCut, io.ErrUnexpectedEOF, "frame 4 at decompressed byte 254: file cut short: record header is 0 of 16 bytes: unexpected EOF"},
		{"garbage after the stream", append(bytes.Clone(gz), "garbage!!!"...), 3, capture.ErrDamaged, gzip.ErrHeader, "gzip: invalid header"},
		{"empty stream", gzipped(nil), 0, capture.ErrEmpty, nil, "empty file"},
		{"sound", gz, 3, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkStream(t, tt.data)
			frames, err := readFrames(t, tt.data)
			if frames != tt.frames {
				t.Errorf("%d frames read, want %d", frames, tt.frames)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || tt.wrapped != nil && !errors.Is(err, tt.wrapped) {
				t.Fatalf("error %v, want one wrapping %v and %v", err, tt.want, tt.wrapped)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

// TestRegressionPcapngShortBlock: a pcapng stream ending 8 to 11 bytes
// into a block was reported as "block header is 10 of 8 bytes", since the
// reader asked for 12 bytes to read an 8-byte header. The block is what
// is cut.
func TestRegressionPcapngShortBlock(t *testing.T) {
	le := binary.LittleEndian
	head := append(ngSHB(le), ngIDB(le, 1, 0)...)
	epb := ngEPB(le, 0, 1, dnsFrame(1), 0)
	tests := []struct {
		name string
		keep int // bytes of the EPB kept
		msg  string
	}{
		{"4 bytes", 4, "block header is 4 of 8 bytes"},
		{"8 bytes", 8, fmt.Sprintf("block of %d bytes has only 8", len(epb))},
		{"10 bytes", 10, fmt.Sprintf("block of %d bytes has only 10", len(epb))},
		{"11 bytes", 11, fmt.Sprintf("block of %d bytes has only 11", len(epb))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := append(bytes.Clone(head), epb[:tt.keep]...)
			checkStream(t, data)
			_, err := readFrames(t, data)
			var ce *capture.Error
			if !errors.As(err, &ce) || !errors.Is(err, capture.ErrCut) {
				t.Fatalf("error %v, want a *capture.Error wrapping ErrCut", err)
			}
			if ce.Frame != 1 || ce.Offset != int64(len(head)) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q (frame %d, byte %d), want frame 1 at byte %d saying %q", err, ce.Frame, ce.Offset, len(head), tt.msg)
			}
		})
	}
}

// TestRegressionGzipOffsetPastInput: FuzzReader found a 19-byte gzip
// stream whose pcap header fails at decompressed byte 20, past the end of
// the input. That is right (the fuzz harness was wrong to expect offsets
// inside the input): an error in a gzip stream is flagged Gzip and counts
// decompressed bytes, and says so. (The fuzzer's header flags byte was
// 'A', with reserved bit 0x40 set: gzip -dc and klauspost's inflate
// refuse that header, as TestGzipReservedFlags checks, so the flags here
// are FTEXT.)
func TestRegressionGzipOffsetPastInput(t *testing.T) {
	data := []byte("\x1f\x8b\b\x01000000\xbarx\xd3B&\x0620")
	checkStream(t, data)
	_, err := capture.Open("x.pcap.gz", bytes.NewReader(data))
	var ce *capture.Error
	if !errors.As(err, &ce) || !errors.Is(err, capture.ErrUnsupported) {
		t.Fatalf("error %v, want a *capture.Error wrapping ErrUnsupported", err)
	}
	if !ce.Gzip || ce.Offset != 20 || ce.Frame != 0 || !strings.Contains(err.Error(), "x.pcap.gz: decompressed byte 20: ") {
		t.Fatalf("error %q (gzip %v, frame %d, byte %d), want the pcap header's link type at decompressed byte 20", err, ce.Gzip, ce.Frame, ce.Offset)
	}
}

// TestGzipReservedFlags: a gzip header with a reserved flag bit set is
// damage at byte 0, as gzip -dc says ("has flags 0x40 -- not supported").
func TestGzipReservedFlags(t *testing.T) {
	data := []byte("\x1f\x8b\bA000000\xbarx\xd3B&\x0620")
	_, err := capture.Open("x.pcap.gz", bytes.NewReader(data))
	var ce *capture.Error
	if !errors.As(err, &ce) || !errors.Is(err, capture.ErrDamaged) || ce.Offset != 0 || !strings.Contains(err.Error(), "gzip header") {
		t.Fatalf("error %v, want damage in the gzip header at byte 0", err)
	}
}

// TestRegressionXzHeaderOnly: FuzzReader found that an xz stream header
// followed by nothing, or by one byte, read as an empty file: ulikunitz/xz
// returns a clean end. xz -dc calls it an unexpected end of input; so do
// we, as a cut file. A whole stream with padding after its footer reads.
func TestRegressionXzHeaderOnly(t *testing.T) {
	for _, data := range [][]byte{
		[]byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F"),
		[]byte("\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F0"),
	} {
		checkStream(t, data)
		_, err := capture.Open("x.xz", bytes.NewReader(data))
		if !errors.Is(err, capture.ErrCut) || !strings.Contains(err.Error(), "without its footer") {
			t.Fatalf("%q: error %v, want a cut xz stream", data, err)
		}
	}
	padded := append(xzCompress(seedPcap()), 0, 0, 0, 0, 0, 0, 0, 0)
	if _, recs, err := records(t, "padded.xz", padded); err != nil || len(recs) != 3 {
		t.Fatalf("stream padding: %d records, error %v", len(recs), err)
	}
}
