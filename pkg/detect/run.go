package detect

import (
	"net/netip"
	"slices"

	"github.com/pongscan/pongscan/pkg/decode"
)

// RunConfig holds the thresholds of the loop signature: a run of packets
// on one flow (gaps under the idle time) is a loop, with or without a
// captured trigger, when all of these hold:
//
//   - it has MinPackets packets, at MinRate packets/s or faster;
//   - the quieter direction carries at least MinShare of them;
//   - at least MinAlternation of its packets come from the other side
//     than the packet before (1 when every packet answers the last);
//   - on each side, at least MinAnswers of the packets answer: a
//     response by content (a DNS response, a TFTP ERROR, an NTP server,
//     passive or mode 6/7 response), a copy of the other side's last
//     payload (echo), or any packet that is not a request from a
//     responder port (echo, systat, daytime, QOTD, chargen, time, and the ports
//     added with ServicePorts).
//
// The last test is what separates a loop from request/response traffic,
// however fast: a client's requests (a DNS query, an NTP client poll, a
// TFTP read, a numbered echo request from an ephemeral port) are its own,
// not answers.
type RunConfig struct {
	MinPackets     int
	MinRate        float64 // packets per second
	MinShare       float64
	MinAlternation float64
	MinAnswers     float64
}

// DefaultRunConfig holds the documented defaults. MinRate 1.25: a loop
// whose sides each answer within 800 ms (a busy or rate-limited
// responder, 400-600 ms, plus the path) runs at 1.25 packets/s or more,
// and is as real as a fast one; a client's one request a second is not.
var DefaultRunConfig = RunConfig{MinPackets: 50, MinRate: 1.25, MinShare: 0.25, MinAlternation: 0.4, MinAnswers: 0.8}

func (c RunConfig) withDefaults() RunConfig {
	d := DefaultRunConfig
	if c.MinPackets <= 0 {
		c.MinPackets = d.MinPackets
	}
	if c.MinRate <= 0 {
		c.MinRate = d.MinRate
	}
	if c.MinShare <= 0 {
		c.MinShare = d.MinShare
	}
	if c.MinAlternation <= 0 {
		c.MinAlternation = d.MinAlternation
	}
	if c.MinAnswers <= 0 {
		c.MinAnswers = d.MinAnswers
	}
	return c
}

// heavy keeps the two most frequent values of a stream (Misra-Gries, k=2):
// any value making up more than a third of the stream survives, with its
// count low by at most a third of the stream.
type heavy [2]struct{ hash, count uint32 }

func (h *heavy) add(x uint32) {
	for k := range h {
		if h[k].count > 0 && h[k].hash == x {
			h[k].count++
			return
		}
	}
	for k := range h {
		if h[k].count == 0 {
			h[k].hash, h[k].count = x, 1
			return
		}
	}
	h[0].count--
	h[1].count--
}

// top is the most frequent value kept.
func (h *heavy) top() uint32 {
	if h[1].count > h[0].count {
		return h[1].hash
	}
	return h[0].hash
}

// payloadHash hashes the payload's length and first 64 bytes.
func payloadHash(b []byte) uint32 {
	return uint32(decode.HashBytes(b[:min(len(b), 64)], uint64(len(b))))
}

// trigless builds the finding for a run judged a loop by its signature
// alone, between client and server. payload is a sample of the client's
// payload (may be nil).
func (e *evidence) trigless(detector string, client, server netip.AddrPort, payload []byte, cut bool, c RunConfig, services [2]string) Loop {
	src, dst := client, server
	if e.firstDir == 1 {
		src, dst = server, client
	}
	l := Loop{
		Detector: detector, Client: client, Server: server,
		Payload:     append([]byte(nil), payload...),
		PayloadCut:  cut,
		FirstPacket: PacketInfo{Ref: e.first.unpack(), Time: e.t.start, Src: src, Dst: dst},
	}
	e.t.fill(&l)
	l.PayloadInfo = decode.ClassifyPayload(l.Payload)
	// The client's first packet of the loop stands where a triggered
	// loop names its first non-DNS packet.
	l.FirstNonDNS = PacketInfo{Ref: e.clientFirst.unpack(), Time: e.clientTime, Src: client, Dst: server}
	l.FirstPacket.Summary = "first packet of the loop in the capture"
	l.FirstNonDNS.Summary = l.PayloadInfo.Summary
	ev := e.describe(c, "signature", services)
	l.Evidence = &ev
	// The client's TTLs: the first packet's, if the client sent it, and
	// the later ones.
	ttls := e.ttl[0]
	if e.firstDir == 0 {
		ttls.add(e.firstTTL)
	}
	for k := range ttls.n {
		l.ClientTTLs = append(l.ClientTTLs, int(ttls.v[k]))
	}
	l.TTLsCapped = ttls.more
	slices.Sort(l.ClientTTLs)
	return l
}
