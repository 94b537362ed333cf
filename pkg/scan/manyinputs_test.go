package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/scan"
)

// TestStreamOfManyInputs: a stream of more than 65,535 inputs (a year of
// files rotated every 8 minutes) is read whole, and a loop in one of its
// last files is named by that file: packet references keep 24 bits of
// input index. They kept 16, and inputs past 65,535 were each an error.
func TestStreamOfManyInputs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("70,000 inputs: not under -short or the race detector")
	}
	pong, err := os.ReadFile(samples + "machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	header := pong[:24] // a pcap of no packet
	const n = 70000
	var ins []scan.Input
	for i := range n {
		data := header
		if i == n-2 {
			data = pong
		}
		ins = append(ins, scan.Reader(fmt.Sprintf("part-%05d.pcap", i), bytes.NewReader(data)))
	}
	res := scan.RunStreams(context.Background(), []scan.Stream{{Inputs: ins}}, scan.Options{Detectors: []detect.Factory{detect.DNSPongDetector}, Shards: 2, Parallel: true})
	if len(res.Errors) > 0 {
		t.Fatalf("%d errors, the first %v", len(res.Errors), res.Errors[0])
	}
	if len(res.Report.Loops) != 1 || len(res.Report.Inputs) != n {
		t.Fatalf("%d loops, %d inputs", len(res.Report.Loops), len(res.Report.Inputs))
	}
	if f := res.Report.Loops[0].FirstPacket.File; f != fmt.Sprintf("part-%05d.pcap", n-2) {
		t.Errorf("the loop's first packet is in %q", f)
	}
}
