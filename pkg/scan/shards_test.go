package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// fastRoute must pick the shard shardOf picks after decoding, for every
// frame it routes and any number of shards: a frame routed one way by its
// raw bytes and the other way once decoded would be seen by no shard, or
// by two.
func TestFastRouteAgreesWithDecoding(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	if len(paths) == 0 {
		t.Fatal("no sample captures")
	}
	for _, n := range []int{2, 3, 8} {
		r := router{n: uint64(n)}
		routed, declined := 0, 0
		shards := make([]int, n)
		for _, path := range paths {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			cr, err := capture.Open(path, f)
			if err != nil {
				t.Fatal(err)
			}
			dec := decode.NewDecoder(decode.DefaultFragLimits)
			var rec capture.Record
			var p detect.Packet
			for {
				if err := cr.Next(&rec); err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, capture.ErrCut) {
						t.Fatalf("%s: %v", path, err)
					}
					break
				}
				owner, ok := r.fastRoute(rec.LinkType, rec.Data)
				k := dec.Decode(rec.LinkType, rec.Data, rec.OrigLen, rec.Time, &p.Packet)
				switch {
				case !ok:
					declined++
				case k != decode.KindUDP:
					t.Errorf("%s frame %d: routed, but decodes as %v", path, rec.Frame, k)
				case r.shardOf(&p) != owner:
					t.Errorf("%d shards, %s frame %d: routed to shard %d, decoded %v -> %v is shard %d", n, path, rec.Frame, owner, p.Src, p.Dst, r.shardOf(&p))
				default:
					routed++
					shards[owner]++
				}
			}
			f.Close()
		}
		if routed == 0 || declined == 0 {
			t.Errorf("%d shards: routed %d frames, declined %d: the samples should exercise both paths", n, routed, declined)
		}
		for k, c := range shards {
			if c == 0 {
				t.Errorf("%d shards: shard %d got no frame (per shard %v)", n, k, shards)
			}
		}
	}
}

// The routing hash spreads flows evenly for any number of shards: over
// 100,000 random flows, no shard holds more than 5% above its share.
func TestRouterSpreadsEvenly(t *testing.T) {
	for _, n := range []int{2, 3, 5, 7, 16} {
		r := router{n: uint64(n)}
		counts := make([]int, n)
		x := uint64(0x1234567)
		const flows = 100000
		for range flows {
			x = x*6364136223846793005 + 1442695040888963407
			src := uint64(0xc0a80000 | x>>48)
			sport := uint16(x >> 16)
			counts[r.of(endpointMix(0, 0xffff<<32|src, sport), endpointMix(0, 0xffff<<32|0xc0000201, 53))]++
		}
		for k, c := range counts {
			if share := float64(flows) / float64(n); float64(c) > 1.05*share || float64(c) < 0.95*share {
				t.Errorf("%d shards: shard %d holds %d flows, share %.0f", n, k, c, share)
			}
		}
	}
}

// Every number of shards, inline or on goroutines, gives the same report.
func TestShardLayoutsAgree(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	rotated, _ := filepath.Glob(filepath.Join(dir, "rotated*"))
	sets := [][]string{rotated}
	for _, p := range paths {
		sets = append(sets, []string{p})
	}
	for _, set := range sets {
		want := outcomeOf(t, RunPaths(set, Options{Shards: 1}))
		for _, opts := range Modes {
			if got := outcomeOf(t, RunPaths(set, opts)); got != want {
				t.Errorf("%v with %+v:\n%s\none shard:\n%s", set, opts, got, want)
			}
		}
	}
}

func outcomeOf(t *testing.T, res *Result) string {
	t.Helper()
	b, err := json.Marshal(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %v", b, res.Errors)
}

// The same on a generated authoritative server's capture with loops:
// 20,000 clients, 150,000 packets, three planted loops, every layout.
func TestShardLayoutsAgreeGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gen.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := benchgen.Write(f, benchgen.Config{Packets: 150000, Seed: 7, Loops: 3})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	want := RunPaths([]string{path}, Options{Shards: 1})
	if n := len(want.Report.Loops); n != len(st.Loops) {
		t.Fatalf("found %d loops, planted %d", n, len(st.Loops))
	}
	w := outcomeOf(t, want)
	for _, opts := range Modes {
		if got := outcomeOf(t, RunPaths([]string{path}, opts)); got != w {
			t.Errorf("%+v: the report differs from one shard's", opts)
		}
	}
}
