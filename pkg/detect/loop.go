package detect

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

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
	Ongoing        bool   // still running at the end of input (see stillRunning)
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

	// WhatIf is where the rate-limiting what-if's verdicts go when the
	// scan replays it as it goes (Config.WhatIf), opaque here.
	WhatIf any
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

// Ongoing windows: a loop is still running at the end of its input when
// its last packet is closer to that end than its own rhythm explains as
// a stop. The window is the longest of ongoingFloor, ongoingPeriods mean
// packet intervals and ongoingReactions times the slowest reaction seen
// in the loop, and never reaches the idle gap that ends a loop.
const (
	ongoingFloor     = 250 * time.Millisecond
	ongoingPeriods   = 10
	ongoingReactions = 4
)

// StillRunning reports whether a loop of packets packets from start to
// end (Unix nanoseconds), whose slowest reaction took slowestMS
// milliseconds (Evidence's ReactionMS, as reports carry it), was still
// running when its input ended at inputEnd: it was silent for less than
// its window (see ongoingFloor) and less than idle. A loop at 500
// packets/s that fell silent a second before the capture ended has
// stopped, though a second is under the default --idle.
func StillRunning(start, end int64, packets uint64, slowestMS float64, inputEnd int64, idle time.Duration) bool {
	gap := inputEnd - end
	if gap >= int64(idle) {
		return false
	}
	window := int64(ongoingFloor)
	if packets > 1 {
		window = max(window, ongoingPeriods*(end-start)/int64(packets-1))
	}
	window = max(window, int64(ongoingReactions*slowestMS*float64(time.Millisecond)))
	return gap < window
}

// stillRunning is StillRunning for a finding.
func stillRunning(l *Loop, inputEnd int64, idle time.Duration) bool {
	var slowestMS float64
	if e := l.Evidence; e != nil {
		slowestMS = max(e.Client.ReactionMS[2], e.Server.ReactionMS[2])
	}
	return StillRunning(l.Start, l.End, l.Packets, slowestMS, inputEnd, idle)
}

// sortByStart sorts loops by start, loops with equal starts kept in their
// order, as sort.SliceStable would, but moving each loop (760 bytes) once:
// it sorts their indexes, then follows the permutation's cycles. Loops
// are filed as they end, so they are mostly in order already, and then
// nothing moves.
func sortByStart(ls []Loop) {
	if slices.IsSortedFunc(ls, func(a, b Loop) int { return cmp.Compare(a.Start, b.Start) }) {
		return
	}
	idx := make([]int32, len(ls))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(ls[a].Start, ls[b].Start) })
	// ls[i] becomes the old ls[idx[i]]; idx[i] = i marks i as done.
	for i := range idx {
		if int(idx[i]) == i {
			continue
		}
		tmp := ls[i]
		j := i
		for {
			k := int(idx[j])
			idx[j] = int32(j)
			if k == i {
				ls[j] = tmp
				break
			}
			ls[j] = ls[k]
			j = k
		}
	}
}

// loopList holds a detector's findings until Finish, in chunks: a growing
// list never copies the loops it holds (760 bytes each, and a capture may
// hold a million). Chunks grow from 4 loops to loopChunk.
type loopList struct {
	chunks [][]Loop
	n      int
}

const loopChunk = 256

// push appends a copy of l.
func (s *loopList) push(l *Loop) {
	k := len(s.chunks) - 1
	if k < 0 || len(s.chunks[k]) == cap(s.chunks[k]) {
		size := 4
		if k >= 0 {
			size = min(2*cap(s.chunks[k]), loopChunk)
		}
		s.chunks = append(s.chunks, make([]Loop, 0, size))
		k++
	}
	s.chunks[k] = append(s.chunks[k], *l)
	s.n++
}

func (s *loopList) len() int { return s.n }

// appendTo appends the loops to dst, in the order pushed, and empties
// the list.
func (s *loopList) appendTo(dst []Loop) []Loop {
	for k, c := range s.chunks {
		dst = append(dst, c...)
		s.chunks[k] = nil
	}
	s.chunks, s.n = nil, 0
	return dst
}
