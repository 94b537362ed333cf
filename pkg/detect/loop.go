package detect

import (
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
)

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
	// CutByFlowCap reports that the loop was still running when the flow
	// table, full of busy flows, had to forget it: packets after End on
	// the same flow were not counted.
	CutByFlowCap bool

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

	// Evidence is what the finding rests on: the signature's tests with
	// their numbers, each side's behaviour, how the loop started.
	Evidence *Evidence
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
