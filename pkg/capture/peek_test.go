package capture_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pongscan/pongscan/pkg/capture"
)

// TestPeekTime: before every record, PeekTime gives the time Next then
// returns (records without a time of their own: 0), in every sample and
// seed, compressed or not; at the end io.EOF; on damage Next's error.
func TestPeekTime(t *testing.T) {
	inputs := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		inputs[filepath.Base(p)] = b
	}
	for i, b := range fuzzSeeds() {
		inputs["seed"+string(rune('a'+i))] = b
	}
	inputs["zstd"] = zstdCompress(seedPcapng())
	for name, data := range inputs {
		r, err := capture.Open(name, bytes.NewReader(data))
		if err != nil {
			continue
		}
		defer r.Release()
		for n := 0; ; n++ {
			pt, perr := r.PeekTime()
			var rec capture.Record
			err := r.Next(&rec)
			if perr == io.EOF {
				if err != io.EOF {
					t.Fatalf("%s: PeekTime says EOF, Next %v", name, err)
				}
				break
			}
			if err != nil {
				if perr != nil && perr.Error() != err.Error() {
					t.Fatalf("%s: PeekTime error %v, Next %v", name, perr, err)
				}
				break
			}
			if perr != nil {
				t.Fatalf("%s record %d: PeekTime %v, Next read it", name, n+1, perr)
			}
			want := rec.Time
			if rec.LinkType == capture.NonPacket {
				want = capture.NoTime
			}
			if pt != want && !(pt == 0 && rec.Time == 0) {
				// A simple packet block: no time of its own.
				t.Fatalf("%s record %d: PeekTime %d, Next %d", name, n+1, pt, rec.Time)
			}
		}
	}
}
