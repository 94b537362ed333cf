package capture_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/capture"
)

// benchPackets is the size of the in-memory captures read by the
// benchmarks: about 30 MB of classic pcap.
const benchPackets = 200000

func benchCapture(b *testing.B, cfg benchgen.Config) []byte {
	b.Helper()
	cfg.Packets, cfg.Seed = benchPackets, 1
	var buf bytes.Buffer
	if _, err := benchgen.Write(&buf, cfg); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// benchReadAll reads every record of data with a fresh Reader, through Merge
// when merge is set (as scan does), and returns the count.
func benchReadAll(b *testing.B, data []byte, merge bool) int {
	r, err := capture.Open("bench", bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	var src capture.Source = r
	if merge {
		src = capture.NewMerge(r)
	}
	var rec capture.Record
	n := 0
	for {
		err := src.Next(&rec)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			return n
		}
		n++
	}
}

// BenchmarkRead reads a generated authoritative-server capture from memory
// with capture.Open on a bytes.Reader: classic pcap, pcapng, gzip'd pcap,
// and pcap through a one-source Merge.
func BenchmarkRead(b *testing.B) {
	cases := []struct {
		name  string
		cfg   benchgen.Config
		merge bool
	}{
		{"pcap", benchgen.Config{}, false},
		{"pcapng", benchgen.Config{Pcapng: true}, false},
		{"pcap-gzip", benchgen.Config{Gzip: true}, false},
		{"pcap-merge1", benchgen.Config{}, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := benchCapture(b, c.cfg)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n += benchReadAll(b, data, c.merge)
			}
			if n != b.N*benchPackets {
				b.Fatalf("read %d packets in %d passes", n, b.N)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
