package detect

import (
	"net/netip"
	"slices"

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
	t        tally
	first    ref
	firstDir int8 // direction of the first packet: 0 from the client
	top      [2]heavy
	ttls     [2]uint8
	nttl     uint8
	// clientSeen is set by the first client packet; clientDNS tells
	// whether that packet was a DNS message; clientRef and clientTime
	// name it.
	clientSeen, clientDNS bool
	clientRef             ref
	clientTime            int64
}

// clear empties the run: the next packet begins a new one.
func (r *run) clear() { r.t.pkts = [2]uint64{} }

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

func (r *run) packets() uint64 { return r.t.packets() }

// add counts p in the run; dir 0 is client to server. isDNS tells whether
// its payload is a DNS message.
func (r *run) add(p *Packet, dir int, isDNS bool) {
	if r.packets() == 0 {
		*r = run{first: mkref(p.Ref), firstDir: int8(dir)}
		r.t.begin(p.Time)
	}
	if dir == 0 && !r.clientSeen {
		r.clientSeen, r.clientDNS = true, isDNS
		r.clientRef, r.clientTime = mkref(p.Ref), p.Time
	}
	r.t.add(p.Time, dir, p.WireLen)
	r.top[dir].add(payloadHash(p.Payload))
	if dir == 0 && r.nttl < 3 && (r.nttl == 0 || r.ttls[0] != p.TTL) && (r.nttl < 2 || r.ttls[1] != p.TTL) {
		if r.nttl < 2 {
			r.ttls[r.nttl] = p.TTL
		}
		r.nttl++
	}
}

// qualifies applies the RunConfig rules.
func (r *run) qualifies(c RunConfig) bool {
	n := r.packets()
	d := float64(r.t.last-r.t.start) / 1e9
	if n < uint64(c.MinPackets) || d <= 0 || float64(n)/d < c.MinRate {
		return false
	}
	if r.t.oneSided() {
		return false
	}
	for dir := range 2 {
		if 2*uint64(r.top[dir].best()) < r.t.pkts[dir] {
			return false
		}
	}
	return true
}

// loop builds the finding for a qualifying run between client and server.
// payload is a sample of the client's repeated payload (may be nil).
func (r *run) loop(detector string, client, server netip.AddrPort, payload []byte, cut bool) Loop {
	src, dst := client, server
	if r.firstDir == 1 {
		src, dst = server, client
	}
	l := Loop{
		Detector: detector, Client: client, Server: server,
		Payload:     append([]byte(nil), payload...),
		PayloadCut:  cut,
		FirstPacket: PacketInfo{Ref: r.first.unpack(), Time: r.t.start, Src: src, Dst: dst},
		FirstNonDNS: PacketInfo{Ref: r.clientRef.unpack(), Time: r.clientTime, Src: client, Dst: server},
	}
	r.t.fill(&l)
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
