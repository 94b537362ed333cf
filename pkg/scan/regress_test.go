package scan_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pongscan/pongscan/pkg/scan"
)

// ngBlock is a little-endian pcapng block of type typ around body.
func ngBlock(typ uint32, body []byte) []byte {
	body = append(body, make([]byte, (len(body)+3)&^3-len(body))...)
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, uint32(12+len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, uint32(12+len(body)))
}

// timedPcapng is a pcapng of one Ethernet interface with the given
// timestamp resolution byte and offset in seconds, holding frames at the
// given raw timestamps.
func timedPcapng(tsresol byte, tsoffset int64, frames [][]byte, ts []uint64) []byte {
	le := binary.LittleEndian
	shb := le.AppendUint32(nil, 0x1a2b3c4d)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0))
	out := ngBlock(0x0a0d0d0a, shb)
	idb := le.AppendUint16(nil, 1) // Ethernet
	idb = le.AppendUint16(idb, 0)
	idb = le.AppendUint32(idb, 65535)
	idb = append(idb, 9, 0, 1, 0, tsresol, 0, 0, 0) // if_tsresol
	idb = append(idb, 14, 0, 8, 0)                  // if_tsoffset
	idb = le.AppendUint64(idb, uint64(tsoffset))
	idb = append(idb, 0, 0, 0, 0) // opt_endofopt
	out = append(out, ngBlock(1, idb)...)
	for i, f := range frames {
		epb := le.AppendUint32(nil, 0)
		epb = le.AppendUint32(epb, uint32(ts[i]>>32))
		epb = le.AppendUint32(epb, uint32(ts[i]))
		epb = le.AppendUint32(epb, uint32(len(f)))
		epb = le.AppendUint32(epb, uint32(len(f)))
		out = append(out, ngBlock(6, append(epb, f...))...)
	}
	return out
}

// TestRegressionNegativeTime: FuzzScan found a pcapng whose interface
// counts nanoseconds and whose packet is stamped in the year 2347: its
// time overflows int64 nanoseconds and reads as 1821, a negative Time,
// and the DNS pong detector's timer wheel indexed its slots with a
// negative bucket and panicked (index out of range [-63]). A negative
// time is also a sound one: an interface with a negative if_tsoffset
// stamps packets before 1970. A scan must take any time without panicking.
func TestRegressionNegativeTime(t *testing.T) {
	frames := hostileFrames(t)
	query, answer := frames[0].data, frames[1].data
	tests := []struct {
		name     string
		tsresol  byte
		tsoffset int64
		ts       []uint64
	}{
		{"year 2347 in nanoseconds", 9, 0, []uint64{0xa528be1700801e90, 0xa528be1700801e90 + 1e6}},
		{"1969 from a negative offset", 6, -86400 * 365, []uint64{1e6, 2e6}},
		{"year 1 from a negative offset", 6, -62135596800, []uint64{1e6, 2e6}},
		{"the fuzzer's input", 0, 0, nil},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			want := uint64(2)
			if tt.ts != nil {
				data = timedPcapng(tt.tsresol, tt.tsoffset, [][]byte{query, answer}, tt.ts)
			} else {
				b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzScan", "62518b253371c2a1"))
				if err != nil {
					t.Fatal(err)
				}
				data, want = corpusBytes(t, b), 1
			}
			path := filepath.Join(dir, "time.pcapng")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, parallel := range []bool{false, true} {
				var res *scan.Result
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("scan panicked: %v", p)
						}
					}()
					res = scan.RunPaths([]string{path}, scan.Options{Parallel: parallel})
				}()
				checkResult(t, path, res)
				if res.Report.Summary.Packets != want {
					t.Fatalf("%d packets, want %d", res.Report.Summary.Packets, want)
				}
			}
		})
	}
}

// corpusBytes decodes a go fuzz corpus file of one []byte value.
func corpusBytes(t *testing.T, file []byte) []byte {
	t.Helper()
	const head = "go test fuzz v1\n[]byte("
	lit, ok := bytes.CutPrefix(bytes.TrimSpace(file), []byte(head))
	if !ok || !bytes.HasSuffix(lit, []byte(")")) {
		t.Fatalf("not a corpus file of one []byte: %q", file)
	}
	s, err := strconv.Unquote(string(lit[:len(lit)-1]))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}
