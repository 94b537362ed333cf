package detect

import (
	"slices"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
)

// RunConfig holds the thresholds for loops found without a trigger: a run
// of packets on one flow, gaps under the idle time, is a loop when it has
// MinPackets packets at MinRate or faster, each direction carries at least
// a quarter of them, and one payload makes up at least half of each
// direction. That is what two services answering each other's errors look
// like; request/response traffic carries changing IDs, sequence numbers or
// timestamps and does not match.
type RunConfig struct {
	MinPackets int
	MinRate    float64 // packets per second
}

// DefaultRunConfig holds the documented defaults.
var DefaultRunConfig = RunConfig{MinPackets: 50, MinRate: 20}

func (c RunConfig) withDefaults() RunConfig {
	if c.MinPackets <= 0 {
		c.MinPackets = DefaultRunConfig.MinPackets
	}
	if c.MinRate <= 0 {
		c.MinRate = DefaultRunConfig.MinRate
	}
	return c
}

// run tracks the current run of packets on one flow in fixed space.
type run struct {
	start, last int64
	first       ref
	firstFromA  bool
	pkts        [2]uint32 // 0: client to server, 1: server to client
	bytes       [2]uint64
	top         [2]heavy
	bucket      int32
	inBucket    uint32
	peak        uint32
	ttls        [2]uint8
	nttl        uint8
	// clientSeen is set by the first client packet; clientDNS tells
	// whether that packet was a DNS message; clientRef and clientTime
	// name it.
	clientSeen, clientDNS bool
	clientRef             ref
	clientTime            int64
}

// heavy keeps the two most frequent payload hashes (Misra-Gries, k=2):
// any payload making up more than a third of the stream survives, with its
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

func (h *heavy) best() uint32 { return max(h[0].count, h[1].count) }

// payloadHash hashes the payload's length and first 64 bytes.
func payloadHash(b []byte) uint32 {
	return uint32(decode.HashBytes(b[:min(len(b), 64)], uint64(len(b))))
}

func (r *run) packets() uint64 { return uint64(r.pkts[0]) + uint64(r.pkts[1]) }

// add counts p in the run; dir 0 is client to server. isDNS tells whether
// its payload is a DNS message.
func (r *run) add(p *Packet, dir int, fromA, isDNS bool) {
	if r.pkts[0] == 0 && r.pkts[1] == 0 {
		*r = run{start: p.Time, first: mkref(p.Ref), firstFromA: fromA}
	}
	if dir == 0 && !r.clientSeen {
		r.clientSeen, r.clientDNS = true, isDNS
		r.clientRef, r.clientTime = mkref(p.Ref), p.Time
	}
	if p.Time > r.last {
		r.last = p.Time
	}
	r.pkts[dir]++
	r.bytes[dir] += uint64(p.WireLen)
	r.top[dir].add(payloadHash(p.Payload))
	if dir == 0 && r.nttl < 3 && (r.nttl == 0 || r.ttls[0] != p.TTL) && (r.nttl < 2 || r.ttls[1] != p.TTL) {
		if r.nttl < 2 {
			r.ttls[r.nttl] = p.TTL
		}
		r.nttl++
	}
	b := int32(max(p.Time-r.start, 0) / int64(time.Second))
	if b != r.bucket {
		r.bucket, r.inBucket = b, 0
	}
	r.inBucket++
	r.peak = max(r.peak, r.inBucket)
}

// qualifies applies the RunConfig rules.
func (r *run) qualifies(c RunConfig) bool {
	n := r.packets()
	d := float64(r.last-r.start) / 1e9
	if n < uint64(c.MinPackets) || d <= 0 || float64(n)/d < c.MinRate {
		return false
	}
	if 4*uint64(min(r.pkts[0], r.pkts[1])) < n {
		return false
	}
	for dir := range 2 {
		if 2*r.top[dir].best() < r.pkts[dir] {
			return false
		}
	}
	return true
}

// loop builds the finding for a qualifying run on the flow with key k,
// where the server is endpoint a when serverIsA. payload is a sample of the
// client's repeated payload (may be nil).
func (r *run) loop(detector string, k *flowKey, serverIsA bool, payload []byte, cut bool) Loop {
	client, server := k.endpoint(!serverIsA), k.endpoint(serverIsA)
	src, dst := client, server
	if r.firstFromA == serverIsA {
		src, dst = server, client
	}
	l := Loop{
		Detector: detector, Client: client, Server: server,
		Start: r.start, End: r.last, Packets: r.packets(), Bytes: r.bytes[0] + r.bytes[1],
		ClientToServer: Direction{uint64(r.pkts[0]), r.bytes[0]},
		ServerToClient: Direction{uint64(r.pkts[1]), r.bytes[1]},
		PeakPPS:        uint64(r.peak),
		Payload:        append([]byte(nil), payload...),
		PayloadCut:     cut,
		FirstPacket:    PacketInfo{Ref: r.first.unpack(), Time: r.start, Src: src, Dst: dst},
		FirstNonDNS:    PacketInfo{Ref: r.clientRef.unpack(), Time: r.clientTime, Src: client, Dst: server},
	}
	l.PayloadInfo = decode.ClassifyPayload(l.Payload)
	l.FirstNonDNS.Summary = l.PayloadInfo.Summary
	l.FirstPacket.Summary = "first packet of the loop in the capture"
	var info decode.DNSInfo
	if decode.ClassifyDNS(l.Payload, cut, decode.Full, &info) == decode.DNS {
		l.FirstNonDNS.Summary = "a DNS message, repeated"
	}
	for k := 0; k < int(min(r.nttl, 2)); k++ {
		l.ClientTTLs = append(l.ClientTTLs, int(r.ttls[k]))
	}
	l.TTLsCapped = r.nttl > 2
	slices.Sort(l.ClientTTLs)
	return l
}
