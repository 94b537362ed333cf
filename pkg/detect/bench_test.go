package detect_test

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/synth"
)

// benchStream decodes a generated authoritative-server capture of n
// packets into detector packets whose payloads live in one arena.
func benchStream(b *testing.B, n int) []detect.Packet {
	b.Helper()
	var buf bytes.Buffer
	if _, err := benchgen.Write(&buf, benchgen.Config{Packets: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	r, err := capture.Open("bench", &buf)
	if err != nil {
		b.Fatal(err)
	}
	dec := decode.NewDecoder(decode.DefaultFragLimits)
	pkts := make([]detect.Packet, 0, n)
	arena := make([]byte, 0, 128*n)
	var rec capture.Record
	for {
		if err := r.Next(&rec); err != nil {
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			break
		}
		var p detect.Packet
		if dec.Decode(rec.LinkType, rec.Data, rec.OrigLen, rec.Time, &p.Packet) != decode.KindUDP {
			b.Fatal("frame is not UDP")
		}
		if len(arena)+len(p.Payload) > cap(arena) {
			arena = make([]byte, 0, 128*n)
		}
		off := len(arena)
		arena = append(arena, p.Payload...)
		p.Payload = arena[off:len(arena):len(arena)]
		p.Ref = detect.PacketRef{Frame: rec.Frame}
		p.Time = rec.Time
		pkts = append(pkts, p)
	}
	return pkts
}

// shiftPort moves a client port (never 53) to another non-privileged one,
// so each pass over the stream makes new flows.
func shiftPort(ap netip.AddrPort, k uint32) netip.AddrPort {
	p := uint32(ap.Port())
	if p < 1024 {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr(), uint16(1024+(p-1024+k*7919)%64512))
}

// BenchmarkDNSPongObserve feeds DNSPong the packets of an authoritative
// server at 35,000 queries/s from 20,000 clients on random source ports:
// nearly every query makes a flow, so this measures the flow table at its
// steady state of about 350,000 flows (10 s of flow timeout) as much as
// the DNS parsing. The stream is replayed with later times and shifted
// client ports, so every pass makes new flows and expires the old ones.
func BenchmarkDNSPongObserve(b *testing.B) {
	pkts := benchStream(b, 1<<18)
	span := pkts[len(pkts)-1].Time - pkts[0].Time + 1000
	d := detect.NewDNSPong(detect.DNSPongConfig{})
	var p detect.Packet
	i, pass := 0, uint32(0)
	step := func() {
		p = pkts[i]
		if pass > 0 {
			p.Time += int64(pass) * span
			p.Src, p.Dst = shiftPort(p.Src, pass), shiftPort(p.Dst, pass)
		}
		d.Observe(&p)
		if i++; i == len(pkts) {
			i = 0
			pass++
		}
	}
	// Warm up, untimed, until the flow table is at its steady state:
	// flows expire as fast as they are made.
	warm := int(d.Config().FlowTimeout.Nanoseconds()/span+2) * len(pkts)
	for range warm {
		step()
	}
	flows := d.Counters().Flows
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	b.ReportMetric(float64(d.Counters().Flows-flows)/float64(b.N), "flows/pkt")
}

// BenchmarkDNSPongLoop feeds DNSPong the packets of a running loop: a TFTP
// error and the FORMERR it draws, on one flow.
func BenchmarkDNSPongLoop(b *testing.B) {
	client := netip.MustParseAddrPort("198.51.100.7:40000")
	server := netip.MustParseAddrPort("192.0.2.53:53")
	q := synth.Query{ID: 7, Name: "www.shop17.example.co.uk", EDNS: true}
	qb, err := synth.DNSQuery(q)
	if err != nil {
		b.Fatal(err)
	}
	rb, err := synth.DNSResponse(q, synth.Referral, 0)
	if err != nil {
		b.Fatal(err)
	}
	tftp := synth.TFTPError(synth.TFTPErrIllegalOp, synth.TFTPMsgRRQFirst)
	mk := func(src, dst netip.AddrPort, payload []byte) detect.Packet {
		var p detect.Packet
		p.Src, p.Dst, p.Payload, p.TTL, p.WireLen = src, dst, payload, 52, 42+len(payload)
		return p
	}
	seq := []detect.Packet{mk(client, server, tftp), mk(server, client, synth.FormErr(tftp))}
	d := detect.NewDNSPong(detect.DNSPongConfig{})
	now := int64(1e18)
	for _, p := range []detect.Packet{mk(client, server, qb), mk(server, client, rb)} {
		now += 100_000
		p.Time = now
		d.Observe(&p)
	}
	var p detect.Packet
	i := 0
	step := func() {
		now += 600_000
		p = seq[i&1]
		p.Time = now
		d.Observe(&p)
		i++
	}
	// Start the loop, untimed, so that it is reported however short the
	// timed run.
	for range 2 * detect.DefaultDNSPongConfig.MinPackets {
		step()
	}
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if loops := d.Finish(now); len(loops) != 1 {
		b.Fatalf("%d loops, want 1", len(loops))
	}
}

// BenchmarkFlowCapFlood: one-query flows from new clients into a full
// table, each pushing out the flow that expires soonest (the flood of
// bench/flood). Eviction must stay O(1) amortised: a copy of the rest of
// a wheel bucket per eviction made this quadratic (4.2 s for bench/run.sh's
// 2 million flows instead of 0.6 s).
func BenchmarkFlowCapFlood(b *testing.B) {
	d := detect.NewDNSPong(detect.DNSPongConfig{MaxFlows: 100000})
	srv := netip.MustParseAddrPort("192.0.2.53:53")
	q := []byte("\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	var p detect.Packet
	now := int64(1e18)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		now += 1000 // 1 M packets a second
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i>>24))
		p.Packet = decode.Packet{Src: src, Dst: srv, Payload: q, WireLen: 42 + len(q)}
		p.Time = now
		p.SetFlow()
		d.Observe(&p)
	}
	if c := d.Counters(); b.N > 200000 && c.EvictedCap == 0 {
		b.Fatalf("the table never filled: %+v", c)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
