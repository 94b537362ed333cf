package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/scan"
)

// Scanning a capture from a Go program: a file by path, the two standard
// detectors, the default thresholds, a shard per core.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := scan.Run(ctx, []scan.Input{scan.File("../../testdata/pcaps/machine-pong.pcap")}, scan.Options{
		Detectors: []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector},
		Parallel:  true,
	})
	for _, err := range res.Errors {
		fmt.Println("error:", err)
	}
	for _, l := range res.Report.Loops {
		fmt.Printf("%s:%d <-> %s:%d: %d packets at %.1f/s, started by frame %d (%s)\n",
			l.Client.IP, l.Client.Port, l.Server.IP, l.Server.Port, l.Packets, l.RatePPS,
			l.Trigger.FirstNonDNS.Frame, l.Payload.Summary)
	}
	// Output:
	// 198.51.100.200:22772 <-> 192.0.2.1:53: 300 packets at 503.3/s, started by frame 123 (TFTP Error Code, Code: Illegal TFTP Operation (4), Message: RRQ must be sent first)
}

// Any io.Reader is an input: here a capture held in memory, with one
// detector and a lower reporting threshold.
func ExampleReader() {
	b, err := os.ReadFile("../../testdata/pcaps/bounce.pcap")
	if err != nil {
		panic(err)
	}
	res := scan.Run(context.Background(), []scan.Input{scan.Reader("memory", bytes.NewReader(b))}, scan.Options{
		Detectors: []detect.Factory{detect.DNSPongDetector},
		Config:    detect.Config{MinPackets: 4},
	})
	s := res.Report.Summary
	fmt.Printf("%d packets, %d loops, %d bounces\n", s.Packets, s.Loops, s.Bounces)
	// Output:
	// 173 packets, 1 loops, 1 bounces
}
