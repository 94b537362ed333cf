package scan_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/scan"
)

// benchScanPackets is the size of the generated capture: about 30 MB of
// classic pcap, 2.9 s of an authoritative server at 35,000 queries/s, with
// three loops planted.
const benchScanPackets = 200000

func benchFile(b *testing.B, name string, cfg benchgen.Config) (string, *benchgen.Stats) {
	b.Helper()
	path := filepath.Join(b.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Packets, cfg.Seed = benchScanPackets, 1
	st, err := benchgen.Write(f, cfg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	return path, st
}

// BenchmarkRun scans a generated capture file end to end with scan.Run,
// as `pongscan scan` does: one goroutine, and 1, 2 or 4 shards on
// goroutines of their own beside the feed. The
// file is written once per case, outside the timed region, and is in the
// page cache when timing starts.
func BenchmarkRun(b *testing.B) {
	cases := []struct {
		name string
		cfg  benchgen.Config
	}{
		{"pcap", benchgen.Config{}},
		{"pcapng", benchgen.Config{Pcapng: true}},
		{"pcap-gzip", benchgen.Config{Gzip: true}},
	}
	for _, c := range cases {
		for _, mode := range []struct {
			name string
			opts scan.Options
		}{
			{"serial", scan.Options{Shards: 1}},
			{"shards-1", scan.Options{Shards: 1, Parallel: true}},
			{"shards-2", scan.Options{Shards: 2, Parallel: true}},
			{"shards-4", scan.Options{Shards: 4, Parallel: true}},
		} {
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				path, st := benchFile(b, "bench-"+c.name, c.cfg)
				opts := mode.opts
				opts.Frag = decode.DefaultFragLimits
				if fi, err := os.Stat(path); err == nil {
					b.SetBytes(fi.Size())
				}
				b.ReportAllocs()
				for b.Loop() {
					res := scan.RunPaths([]string{path}, opts)
					if len(res.Errors) > 0 {
						b.Fatal(res.Errors)
					}
					if got := len(res.Report.Loops); got != len(st.Loops) {
						b.Fatalf("found %d loops, planted %d", got, len(st.Loops))
					}
				}
				b.ReportMetric(float64(b.N*benchScanPackets)/b.Elapsed().Seconds(), "pkts/s")
			})
		}
	}
}
