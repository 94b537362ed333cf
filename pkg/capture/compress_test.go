package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/pongscan/pongscan/pkg/capture"
)

func zstdCompress(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		panic(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func lz4Compress(b []byte) []byte {
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func xzCompress(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := xz.NewWriter(&buf)
	if err != nil {
		panic(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// records reads a capture whole and lists its records.
func records(t *testing.T, name string, data []byte) (capture.Compression, []string, error) {
	t.Helper()
	r, err := capture.Open(name, bytes.NewReader(data))
	if err != nil {
		return "", nil, err
	}
	defer r.Release()
	var out []string
	var rec capture.Record
	for {
		if err := r.Next(&rec); err != nil {
			if err == io.EOF {
				err = nil
			}
			return r.Compression(), out, err
		}
		out = append(out, fmt.Sprintf("%d@%d t=%d lt=%d %x", rec.Frame, rec.Offset, rec.Time, rec.LinkType, rec.Data))
	}
}

// TestCompressedSamples: every sample capture, compressed as zstd, lz4
// (frame) and xz by the Go libraries and, where installed, by the
// command-line tools, reads back the same records (same count, times,
// frame numbers, decompressed offsets and bytes) as the file itself.
func TestCompressedSamples(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	if len(paths) == 0 {
		t.Fatal("no samples in testdata/pcaps")
	}
	codecs := []struct {
		c    capture.Compression
		lib  func([]byte) []byte
		tool []string
	}{
		{capture.CompressZstd, zstdCompress, []string{"zstd", "-q", "-c", "-19"}},
		{capture.CompressLz4, lz4Compress, []string{"lz4", "-q", "-c"}},
		{capture.CompressXz, xzCompress, []string{"xz", "-c", "-9"}},
		{capture.CompressGzip, gzipped, []string{"gzip", "-c"}},
		{capture.CompressBz2, nil, []string{"bzip2", "-c"}}, // no Go writer: the tool only
	}
	for _, p := range paths {
		if strings.HasSuffix(p, ".gz") {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, want, wantErr := records(t, p, raw)
		for _, c := range codecs {
			t.Run(filepath.Base(p)+"/"+string(c.c), func(t *testing.T) {
				packed := map[string][]byte{}
				if c.lib != nil {
					packed["library"] = c.lib(raw)
				}
				if _, err := exec.LookPath(c.tool[0]); err == nil {
					cmd := exec.Command(c.tool[0], c.tool[1:]...)
					cmd.Stdin = bytes.NewReader(raw)
					out, err := cmd.Output()
					if err != nil {
						t.Fatalf("%v: %v", c.tool, err)
					}
					packed["tool"] = out
				} else {
					t.Logf("%s not installed: only the library's output is checked", c.tool[0])
				}
				for how, data := range packed {
					comp, got, err := records(t, p, data)
					if comp != c.c {
						t.Fatalf("%s: compression %q, want %q", how, comp, c.c)
					}
					if len(got) != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Fatalf("%s: %d records, want %d, or they differ", how, len(got), len(want))
					}
					if fmt.Sprint(err) != fmt.Sprint(wantErr) {
						// The same damage, counted in decompressed bytes.
						if wantErr == nil || err == nil || !strings.Contains(err.Error(), "decompressed byte") {
							t.Fatalf("%s: error %v, want %v", how, err, wantErr)
						}
					}
				}
			})
		}
	}
}

// TestCompressedDamage: compressed streams cut short or corrupted end in
// a positioned error, never a panic; records before the damage are read.
func TestCompressedDamage(t *testing.T) {
	pcap := seedPcap()
	big := bytes.Repeat(pcap[24:], 2000)
	pcap = append(append([]byte{}, pcap...), big...)
	for name, data := range map[string][]byte{
		"zstd": zstdCompress(pcap), "lz4": lz4Compress(pcap), "xz": xzCompress(pcap), "gzip": gzipped(pcap),
	} {
		for _, keep := range []int{len(data) / 2, len(data) - 3} {
			t.Run(fmt.Sprintf("%s/cut-%d", name, keep), func(t *testing.T) {
				checkStream(t, data[:keep])
				_, recs, err := records(t, "x.cap", data[:keep])
				var ce *capture.Error
				if !errors.As(err, &ce) || !ce.Gzip || !strings.Contains(err.Error(), "x.cap: ") {
					t.Fatalf("error %v, want a positioned error in decompressed bytes", err)
				}
				if keep > len(data)/2 && len(recs) == 0 {
					t.Fatalf("no record read before the cut")
				}
			})
		}
		t.Run(name+"/flipped", func(t *testing.T) {
			bad := bytes.Clone(data)
			bad[len(bad)*2/3] ^= 0x55
			checkStream(t, bad)
		})
	}
}

// TestDecompressionLimits: decompressors are not made to allocate what a
// crafted header claims, and the readers' limits apply to the
// decompressed stream.
func TestDecompressionLimits(t *testing.T) {
	le := binary.LittleEndian
	t.Run("zstd window beyond 128 MiB", func(t *testing.T) {
		// A frame header with a window descriptor of 2^28 bytes, then
		// one raw last block holding the capture.
		pcap := seedPcap()
		frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 18 << 3}
		bh := uint32(len(pcap))<<3 | 1
		frame = append(frame, byte(bh), byte(bh>>8), byte(bh>>16))
		frame = append(frame, pcap...)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, recs, err := records(t, "big-window.zst", frame)
		runtime.ReadMemStats(&m1)
		if err == nil || len(recs) > 0 || !strings.Contains(err.Error(), "big-window.zst") {
			t.Fatalf("error %v after %d records, want the window refused", err, len(recs))
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 32<<20 {
			t.Fatalf("refusing it allocated %d bytes", a)
		}
		// The same frame with a 2^27 window is read.
		frame[5] = 17 << 3
		if _, recs, err := records(t, "window.zst", frame); err != nil || len(recs) != 3 {
			t.Fatalf("128 MiB window: %d records, error %v", len(recs), err)
		}
	})
	t.Run("zstd window beyond 128 MiB in a later frame", func(t *testing.T) {
		// The capture in two frames (raw blocks, a skippable frame
		// between them), the second claiming a 2^28 window: refused
		// at its compressed offset, after the first frame's records.
		pcap := seedPcap()
		frame := func(b []byte, wd byte) []byte {
			f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, wd}
			bh := uint32(len(b))<<3 | 1
			return append(append(f, byte(bh), byte(bh>>8), byte(bh>>16)), b...)
		}
		half := 24 + 16 + len(dnsFrame(1)) // the header and the first record
		data := frame(pcap[:half], 10<<3)
		data = append(data, 0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z')
		second := len(data)
		data = append(data, frame(pcap[half:], 18<<3)...)
		_, recs, err := records(t, "frames.zst", data)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("zstd frame at compressed byte %d", second)) || len(recs) != 1 {
			t.Fatalf("error %v after %d records, want the frame at compressed byte %d refused after 1", err, len(recs), second)
		}
		if !errors.Is(err, capture.ErrDamaged) {
			t.Errorf("error %v: not damage", err)
		}
		data = append(data[:second], frame(pcap[half:], 17<<3)...) // 128 MiB: read
		if _, recs, err := records(t, "frames.zst", data); err != nil || len(recs) != 3 {
			t.Fatalf("128 MiB window: %d records, error %v", len(recs), err)
		}
	})
	t.Run("xz dictionary beyond 64 MiB", func(t *testing.T) {
		// Compress with the default dictionary, then make the block
		// header claim 256 MiB (and fix its CRC32).
		data := xzCompress(seedPcap())
		hdr := data[12 : 12+(int(data[12])+1)*4]
		i := bytes.Index(hdr, []byte{0x21, 0x01})
		if i < 0 {
			t.Fatalf("no LZMA2 filter in the block header %x", hdr)
		}
		hdr[i+2] = 32 // 2 << 27: 256 MiB
		le.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(hdr[:len(hdr)-4]))
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, _, err := records(t, "big-dict.xz", data)
		runtime.ReadMemStats(&m1)
		if err == nil || !strings.Contains(err.Error(), "dictionary") {
			t.Fatalf("error %v, want the dictionary refused", err)
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 32<<20 {
			t.Fatalf("refusing it allocated %d bytes", a)
		}
		hdr[i+2] = 26 // 2 << 24: 32 MiB is read
		le.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(hdr[:len(hdr)-4]))
		if _, recs, err := records(t, "dict.xz", data); err != nil || len(recs) != 3 {
			t.Fatalf("32 MiB dictionary: %d records, error %v", len(recs), err)
		}
	})
	t.Run("xz dictionary beyond 64 MiB in a later block", func(t *testing.T) {
		// Several streams and blocks of 1 KiB (the real xz, else the
		// library), then the third block header found by its CRC32
		// claims 4 GiB. Only that block is crafted: the first check
		// alone let it through, and the library allocated it.
		var recs []pcapRec
		for i := range 200 {
			recs = append(recs, pcapRec{sec: 1700000000, frac: uint32(i), data: dnsFrame(uint16(i))})
		}
		plain := pcapFile(le, false, 1, recs...)
		var data []byte
		if _, err := exec.LookPath("xz"); err == nil {
			cmd := exec.Command("xz", "-c", "--block-size=1024", "--check=crc64")
			cmd.Stdin = bytes.NewReader(plain)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			data = append(out, 0, 0, 0, 0) // stream padding
			cmd = exec.Command("xz", "-c", "--check=none")
			cmd.Stdin = bytes.NewReader(nil)
			if empty, err := cmd.Output(); err == nil {
				data = append(data, empty...) // a second stream, empty
			}
		} else {
			var buf bytes.Buffer
			zw, err := xz.WriterConfig{BlockSize: 1024}.NewWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			zw.Write(plain)
			zw.Close()
			data = buf.Bytes()
		}
		if _, got, err := records(t, "blocks.xz", data); err != nil || len(got) != 200 {
			t.Fatalf("as written: %d records, error %v", len(got), err)
		}
		var headers []int
		for h := 12; h+8 < len(data); h++ {
			size := (int(data[h]) + 1) * 4
			if data[h] == 0 || h+size > len(data) || size < 8 {
				continue
			}
			if crc32.ChecksumIEEE(data[h:h+size-4]) == le.Uint32(data[h+size-4:]) && bytes.Contains(data[h:h+size-4], []byte{0x21, 0x01}) {
				headers = append(headers, h)
			}
		}
		if len(headers) < 3 {
			t.Fatalf("%d block headers found in %d bytes", len(headers), len(data))
		}
		h := headers[2]
		hdr := data[h : h+(int(data[h])+1)*4]
		i := bytes.Index(hdr, []byte{0x21, 0x01})
		hdr[i+2] = 40 // 4 GiB - 1
		le.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(hdr[:len(hdr)-4]))
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, got, err := records(t, "later-block.xz", data)
		runtime.ReadMemStats(&m1)
		if err == nil || !strings.Contains(err.Error(), "dictionary") || !strings.Contains(err.Error(), fmt.Sprintf("compressed byte %d", h)) {
			t.Fatalf("error %v after %d records, want the dictionary of the block at compressed byte %d refused", err, len(got), h)
		}
		if !errors.Is(err, capture.ErrDamaged) || capture.Foreign(err) {
			t.Errorf("error %v: not damage", err)
		}
		if len(got) == 0 {
			t.Errorf("no records before the crafted block")
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 64<<20 {
			t.Fatalf("refusing it allocated %d bytes", a)
		}
	})
	t.Run("record beyond MaxPacket", func(t *testing.T) {
		h := pcapHeader(le, false, 1)
		rec := make([]byte, 16)
		le.PutUint32(rec[8:], capture.MaxPacket+1)
		le.PutUint32(rec[12:], capture.MaxPacket+1)
		for name, data := range map[string][]byte{
			"zstd": zstdCompress(append(h, rec...)), "lz4": lz4Compress(append(h, rec...)), "xz": xzCompress(append(h, rec...)),
		} {
			_, _, err := records(t, name, data)
			if !errors.Is(err, capture.ErrDamaged) || !strings.Contains(err.Error(), "decompressed byte 24") {
				t.Errorf("%s: error %v, want damage at decompressed byte 24", name, err)
			}
		}
	})
	t.Run("nested compression", func(t *testing.T) {
		_, _, err := records(t, "twice.gz", gzipped(zstdCompress(seedPcap())))
		if !errors.Is(err, capture.ErrUnsupported) {
			t.Fatalf("error %v, want unsupported", err)
		}
	})
}

// TestDamagedBzip2IsNotForeign: a bzip2 capture with one bit flipped is a
// damaged capture, never "not a capture" (which a directory walk skips
// without a word): Go's bzip2 writes a block out before checking its CRC,
// so the first bytes can be garbage that looks like no capture at all. A
// bzip2 file of something else is still not a capture.
func TestDamagedBzip2IsNotForeign(t *testing.T) {
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2")
	}
	bz := func(b []byte) []byte {
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var recs []pcapRec
	for i := range 300 {
		recs = append(recs, pcapRec{sec: 1700000000, frac: uint32(i), data: dnsFrame(uint16(i))})
	}
	data := bz(pcapFile(binary.LittleEndian, false, 1, recs...))
	foreign, damaged := 0, 0
	for i := 4; i < len(data); i += max(1, len(data)/60) {
		for _, bit := range []byte{0x01, 0x10, 0x80} {
			d := bytes.Clone(data)
			d[i] ^= bit
			_, got, err := records(t, "flip.pcap.bz2", d)
			switch {
			case err == nil:
				// A flip in the stream's CRC or padding the reader
				// does not check: the records are all there.
				if len(got) != 300 {
					t.Errorf("byte %d bit %#x: %d records and no error", i, bit, len(got))
				}
			case capture.Foreign(err):
				foreign++
				t.Errorf("byte %d bit %#x: %v: not a capture", i, bit, err)
			default:
				damaged++
			}
		}
	}
	if foreign > 0 || damaged < 20 {
		t.Errorf("%d flips read as not a capture, %d as damage", foreign, damaged)
	}
	if _, _, err := records(t, "notes.txt.bz2", bz([]byte("hello, not a capture\n"))); !capture.Foreign(err) {
		t.Errorf("a bzip2 text file: %v, want not a capture", err)
	}
}
