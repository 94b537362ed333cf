package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// fastRoute must pick the shard shardOf picks after decoding, for every
// frame it routes: a frame routed one way by its raw bytes and the other
// way once decoded would be seen by no shard, or by two.
func TestFastRouteAgreesWithDecoding(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	if len(paths) == 0 {
		t.Fatal("no sample captures")
	}
	var routed, declined, shards [numShards]int
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := capture.Open(path, f)
		if err != nil {
			t.Fatal(err)
		}
		dec := decode.NewDecoder(decode.DefaultFragLimits)
		var rec capture.Record
		var p detect.Packet
		for {
			if err := r.Next(&rec); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, capture.ErrCut) {
					t.Fatalf("%s: %v", path, err)
				}
				break
			}
			owner, ok := fastRoute(rec.LinkType, rec.Data)
			k := dec.Decode(rec.LinkType, rec.Data, rec.OrigLen, rec.Time, &p.Packet)
			switch {
			case !ok:
				declined[0]++
			case k != decode.KindUDP:
				t.Errorf("%s frame %d: routed, but decodes as %v", path, rec.Frame, k)
			case shardOf(&p) != owner:
				t.Errorf("%s frame %d: routed to shard %d, decoded %v -> %v is shard %d", path, rec.Frame, owner, p.Src, p.Dst, shardOf(&p))
			default:
				routed[0]++
				shards[owner]++
			}
		}
		f.Close()
	}
	if routed[0] == 0 || declined[0] == 0 || shards[0] == 0 || shards[1] == 0 {
		t.Errorf("routed %d frames (per shard %v), declined %d: the samples should exercise both paths and shards", routed[0], shards, declined[0])
	}
}

// Every way of running the shards gives the same report: inline, each
// shard reading the inputs itself, and one reader feeding both.
func TestParallelModesAgree(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	rotated, _ := filepath.Glob(filepath.Join(dir, "rotated*"))
	sets := [][]string{rotated}
	for _, p := range paths {
		sets = append(sets, []string{p})
	}
	for _, set := range sets {
		serial := outcomeOf(t, Run(set, Options{}))
		for _, opts := range []Options{{Parallel: true}, {Parallel: true, ReadOnce: true}} {
			if got := outcomeOf(t, Run(set, opts)); got != serial {
				t.Errorf("%v with %+v:\n%s\nserial:\n%s", set, opts, got, serial)
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
