package scan_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// writeShortLoops writes a pcap of n seed-style loops of per packets,
// each on a 5-tuple of its own: a genuine query from 10.x.y.z to
// 192.0.2.1:53, its answer, then the client's TFTP error "RRQ must be
// sent first" and the server's FORMERR in turn. Loop k starts at k*200 µs
// and its packets come 1 ms apart, so about 300 run at once.
func writeShortLoops(w io.Writer, n, per int) {
	var gh [24]byte
	binary.LittleEndian.PutUint32(gh[0:], 0xa1b23c4d) // nanoseconds
	binary.LittleEndian.PutUint16(gh[4:], 2)
	binary.LittleEndian.PutUint16(gh[6:], 4)
	binary.LittleEndian.PutUint32(gh[16:], 65535)
	binary.LittleEndian.PutUint32(gh[20:], 1)
	w.Write(gh[:])
	const t0, step, ratio = int64(1_700_000_000e9), int64(200e3), 5 // ratio: steps between a loop's packets
	tftp := []byte("\x00\x05\x00\x04RRQ must be sent first\x00")
	formerr := []byte{0, 5, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	server := [4]byte{192, 0, 2, 1}
	var frame, dns []byte
	for s := range int64(n) + int64(per-1)*ratio {
		for j := range per {
			k := s - int64(j)*ratio
			if k < 0 || k >= int64(n) {
				continue
			}
			client := [4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}
			cport := uint16(1024 + k%60000)
			payload := formerr
			switch {
			case j < 2:
				// A query for h<k>.example.uk. A, then its answer.
				dns = append(dns[:0], byte(k>>8), byte(k), 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0)
				if j == 1 {
					dns[2], dns[3] = 0x81, 0x80
				}
				name := fmt.Appendf(nil, "h%d", k)
				dns = append(append(append(dns, byte(len(name))), name...), "\x07example\x02uk\x00\x00\x01\x00\x01"...)
				payload = dns
			case j%2 == 0:
				payload = tftp
			}
			src, dst, sp, dp := client, server, cport, uint16(53)
			if j%2 == 1 {
				src, dst, sp, dp = server, client, 53, cport
			}
			frame = append(frame[:0], 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0)
			frame = append(frame, 0x45, 0, 0, byte(28+len(payload)), 0, 0, 0x40, 0, 64, 17, 0, 0)
			frame = append(append(frame, src[:]...), dst[:]...)
			frame = binary.BigEndian.AppendUint16(frame, sp)
			frame = binary.BigEndian.AppendUint16(frame, dp)
			frame = append(frame, 0, byte(8+len(payload)), 0, 0)
			frame = append(frame, payload...)
			t := t0 + s*step + int64(j)*1000
			var rh [16]byte
			binary.LittleEndian.PutUint32(rh[0:], uint32(t/1e9))
			binary.LittleEndian.PutUint32(rh[4:], uint32(t%1e9))
			binary.LittleEndian.PutUint32(rh[8:], uint32(len(frame)))
			binary.LittleEndian.PutUint32(rh[12:], uint32(len(frame)))
			w.Write(rh[:])
			w.Write(frame)
		}
	}
}

// BenchmarkManyLoops scans captures of many short loops (60 packets each,
// about 300 at once) and prints their JSON report, for two sizes: the
// time and memory per loop (ns/loop, B/loop) must be about the same for
// both. Collecting the loops was quadratic in their number, and every
// loop was copied several times before it was printed.
func BenchmarkManyLoops(b *testing.B) {
	for _, n := range []int{5000, 20000} {
		b.Run(fmt.Sprintf("loops=%d", n), func(b *testing.B) {
			var capture bytes.Buffer
			writeShortLoops(&capture, n, 60)
			b.SetBytes(int64(capture.Len()))
			b.ReportAllocs()
			for b.Loop() {
				res := scan.Run(context.Background(), []scan.Input{scan.Reader("loops.pcap", bytes.NewReader(capture.Bytes()))},
					scan.Options{Detectors: scan.TestDetectors, Shards: 2, Parallel: true})
				if got := len(res.Report.Loops); got != n {
					b.Fatalf("%d loops found, want %d", got, n)
				}
				if err := report.JSON().Print(io.Discard, res.Report); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/loop")
		})
	}
}

// TestShortLoopsFound checks the benchmark's capture: every loop is
// found, with its trigger and its 58 packets.
func TestShortLoopsFound(t *testing.T) {
	var capture bytes.Buffer
	writeShortLoops(&capture, 500, 60)
	res := scan.Run(context.Background(), []scan.Input{scan.Reader("loops.pcap", bytes.NewReader(capture.Bytes()))},
		scan.Options{Detectors: scan.TestDetectors, Shards: 2, Parallel: true})
	if got := len(res.Report.Loops); got != 500 {
		t.Fatalf("%d loops found, want 500", got)
	}
	for i, l := range res.Report.Loops {
		if l.Packets != 58 || l.Trigger.Query == nil || l.Payload.Kind != "tftp-error" {
			t.Fatalf("loop %d: %d packets, query %v, payload %s", i+1, l.Packets, l.Trigger.Query, l.Payload.Kind)
		}
	}
}
