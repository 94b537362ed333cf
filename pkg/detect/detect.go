package detect

import (
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
)

// PacketRef names a packet by its input and frame number.
type PacketRef struct {
	Source int    // index of the input file
	Frame  uint64 // 1-based frame number in that file
}

// Packet is a decoded UDP datagram as detectors see it.
type Packet struct {
	decode.Packet
	Ref  PacketRef
	Time int64 // nanoseconds since the Unix epoch

	key    flowKey // set by SetFlow: the flow key of Src and Dst
	srcIsA bool
	keyed  bool
}

// SetFlow computes the packet's flow key from Src and Dst and keeps it for
// every detector the packet is shown to, so the key is built once. Call it
// again after changing Src or Dst; without it, each detector computes the
// key itself.
func (p *Packet) SetFlow() {
	p.key, p.srcIsA = makeKey(p.Src, p.Dst)
	p.keyed = true
}

// flow returns the packet's flow key and whether Src is its endpoint a.
func (p *Packet) flow() (*flowKey, bool) {
	if !p.keyed {
		p.key, p.srcIsA = makeKey(p.Src, p.Dst)
		p.keyed = true
	}
	return &p.key, p.srcIsA
}

// Detector finds loops in a time-ordered stream of UDP datagrams.
// Implementations keep their own bounded state.
type Detector interface {
	// Name identifies the detector in reports.
	Name() string
	// Observe sees every UDP datagram in capture order. p and the bytes
	// it points to are borrowed for the duration of the call.
	Observe(p *Packet)
	// Finish ends the stream; end is the time of the last packet of the
	// input. It returns the loops found, sorted by start.
	Finish(end int64) []Loop
	// Counters reports what the detector counted.
	Counters() Counters
}

// Counters are a detector's contribution to the report summary.
type Counters struct {
	DNSMessages uint64 // payloads on DNS ports that parse as DNS
	NonDNS      uint64 // payloads on DNS ports that do not
	Truncated   uint64 // payloads on DNS ports cut by the snap length before they could be judged
	Flows       uint64 // flow records created
	Bounces     uint64 // loops that stopped before reaching the minimum packet count
	OneSided    uint64 // candidate loops with too little traffic in one direction
	Evicted     uint64 // flows evicted after going idle
	EvictedCap  uint64 // flows evicted early because the flow table was full
}

// Direction counts one direction of a loop.
type Direction struct {
	Packets uint64
	Bytes   uint64 // frame bytes on the wire
}

// PacketInfo describes one packet of a finding.
type PacketInfo struct {
	Ref      PacketRef
	Time     int64
	Src, Dst netip.AddrPort
	// Summary is one Wireshark-style line. It may contain any byte the
	// packet held: printers must escape it.
	Summary string
}

// Loop is one machine-pong loop.
type Loop struct {
	Detector       string
	Client, Server netip.AddrPort
	Start, End     int64 // times of the first non-DNS packet and the loop's last packet
	Packets        uint64
	Bytes          uint64
	ClientToServer Direction
	ServerToClient Direction
	PeakPPS        uint64 // most packets in one second [Start+k s, Start+k+1 s)
	Ongoing        bool   // last packet less than the idle gap before the end of input
	ClientTTLs     []int  // distinct TTL / hop-limit values from the client, sorted
	TTLsCapped     bool   // more distinct values than were kept

	Payload     []byte // the first non-DNS payload (a copy, at most MaxPayload bytes)
	PayloadCut  bool   // Payload holds fewer bytes than the datagram
	PayloadInfo decode.PayloadInfo

	// HasTrigger reports that Query, Response, RCode and DelayNanos
	// describe the exchange that started the loop. Without it they are
	// empty, FirstNonDNS is the client's first packet of the loop and
	// FirstPacket the loop's first captured packet.
	HasTrigger  bool
	FirstPacket PacketInfo // the loop's first packet (FirstNonDNS when triggered)
	Query       PacketInfo // the last genuine query answered before the loop
	QueryID     uint16
	QName       string // empty when no longer known (see Detector docs)
	QType       uint16
	Response    PacketInfo // its answer
	RCode       uint8
	FirstNonDNS PacketInfo // the packet that started the loop
	DelayNanos  int64      // FirstNonDNS.Time - Response.Time
}

// MaxPayload bounds the copy of a loop's first non-DNS payload.
const MaxPayload = 2048

// Duration is End-Start in seconds.
func (l *Loop) Duration() float64 { return float64(l.End-l.Start) / 1e9 }

// Rate is Packets per second over the loop's duration; 0 when the loop
// has no duration.
func (l *Loop) Rate() float64 {
	if d := l.Duration(); d > 0 {
		return float64(l.Packets) / d
	}
	return 0
}
