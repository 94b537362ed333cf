package detect

import (
	"math"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
)

// evidence is what one run of a flow tells about whether it is a loop:
// two endpoints where each packet reacts to the other side's previous one,
// sustained. It is kept per run in fixed space and updated per packet.
//
// Directions are 0 (from the client, the side that does not hold the
// service port) and 1 (from the server).
type evidence struct {
	t tally

	first     ref   // the run's first packet
	firstDir  int8  // its direction
	firstTTL  uint8 // its TTL
	firstRole decode.MsgRole

	lastDir  int8 // direction of the previous packet; -1 before the first
	lastTime int64

	clientSeen  bool // the client has sent a packet in the run
	clientFirst ref  // its first packet
	clientTime  int64

	alt     uint64    // packets whose direction differs from the previous packet's
	react   [2]timing // delays of each side's packets after the other side's
	answers [2]uint64 // packets that answer (see answers)
	reqs    [2]uint64 // packets that are requests: a DNS query, an NTP client poll, a TFTP read request
	xfers   [2]uint64 // packets of a transfer in progress (TFTP DATA and ACK)
	echoes  [2]uint64 // packets carrying the other side's last payload
	hash    [2]uint32 // each side's last payload hash
	head    [2]uint16 // each side's last payload's first two bytes (a DNS ID)
	types   [2]heavy  // each side's most frequent message types
	ttl     [2]ttlSet // each side's TTLs, the first packet's excepted

	responder [2]bool // the side's port is a responder service: its packets are answers unless they say otherwise
}

// timing summarises delays in nanoseconds.
type timing struct {
	n        uint64
	sum      float64
	min, max int64
}

func (t *timing) add(d int64) {
	if t.n == 0 || d < t.min {
		t.min = d
	}
	t.max = max(t.max, d)
	t.n++
	t.sum += float64(d)
}

func (t *timing) mean() float64 {
	if t.n == 0 {
		return 0
	}
	return t.sum / float64(t.n)
}

// ttlSet keeps up to two distinct TTLs and counts more.
type ttlSet struct {
	v    [2]uint8
	n    uint8
	more bool
}

func (s *ttlSet) add(ttl uint8) {
	for i := range s.n {
		if s.v[i] == ttl {
			return
		}
	}
	if s.n < 2 {
		s.v[s.n] = ttl
		s.n++
	} else {
		s.more = true
	}
}

func (s *ttlSet) has(ttl uint8) bool {
	for i := range s.n {
		if s.v[i] == ttl {
			return true
		}
	}
	return false
}

// begin starts a run at packet p from direction dir.
func (e *evidence) begin(p *Packet, dir int, responder [2]bool) {
	*e = evidence{first: mkref(p.Ref), firstDir: int8(dir), firstTTL: p.TTL, lastDir: -1, responder: responder}
	e.t.begin(p.Time)
}

// add counts p, from direction dir, with message m.
func (e *evidence) add(p *Packet, dir int, m decode.Msg) {
	if dir == 0 && !e.clientSeen {
		e.clientSeen, e.clientFirst, e.clientTime = true, mkref(p.Ref), p.Time
	}
	if e.lastDir < 0 {
		e.firstRole = m.Role
	} else {
		e.ttl[dir].add(p.TTL)
		if int(e.lastDir) != dir {
			e.alt++
			e.react[dir].add(p.Time - e.lastTime)
		}
	}
	h := payloadHash(p.Payload)
	if e.lastDir >= 0 && h == e.hash[1-dir] && e.t.pkts[1-dir] > 0 && len(p.Payload) > 0 {
		e.echoes[dir]++
		e.answers[dir]++
	} else {
		switch m.Role {
		case decode.RoleAnswer:
			// A DNS response answers the other side's last message only if
			// it carries its ID (its first two bytes): a server copies
			// the ID, and a DNS<->DNS loop keeps one. A flood of
			// responses with fresh IDs answers nothing.
			if m.Proto == decode.MsgDNS && (e.t.pkts[1-dir] == 0 || e.head[1-dir] != head16(p.Payload)) {
				break
			}
			e.answers[dir]++
		case decode.RoleRequest:
			e.reqs[dir]++
		case decode.RoleTransfer:
			e.xfers[dir]++
		default:
			if e.responder[dir] {
				e.answers[dir]++
			}
		}
	}
	e.hash[dir] = h
	e.head[dir] = head16(p.Payload)
	e.types[dir].add(uint32(m.Proto)<<16 | uint32(m.Type))
	e.t.add(p.Time, dir, p.WireLen)
	e.lastDir, e.lastTime = int8(dir), p.Time
}

func (e *evidence) packets() uint64 { return e.t.packets() }

// head16 is a payload's first two bytes, big-endian: a DNS message's ID.
func head16(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return uint16(b[0])<<8 | uint16(b[1])
}

// share is part/whole, 0 for an empty whole.
func share(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// Test is one check of a loop rule, with its numbers.
type Test struct {
	Name      string  // what is measured
	Value     float64 // the measure
	Threshold float64 // the bound it is held to
	Held      bool    // whether the run met it
}

// judge applies the run rules to the evidence: the tests in order, and
// whether all held.
func (e *evidence) judge(c RunConfig) ([]Test, bool) {
	tests, ok := e.tests(c)
	return append([]Test(nil), tests[:]...), ok
}

// tests is judge without a slice to keep: most runs judged are not loops.
func (e *evidence) tests(c RunConfig) ([6]Test, bool) {
	n := e.packets()
	dur := float64(e.t.last-e.t.start) / 1e9
	rate := 0.0
	if dur > 0 {
		rate = float64(n) / dur
	}
	alt := share(e.alt, max(n, 1)-1)
	tests := [6]Test{
		{"packets", float64(n), float64(c.MinPackets), n >= uint64(c.MinPackets)},
		{"rate_pps", round(rate, 1), c.MinRate, dur > 0 && rate >= c.MinRate},
		{"quieter_direction_share", round(share(min(e.t.pkts[0], e.t.pkts[1]), n), 3), c.MinShare, share(min(e.t.pkts[0], e.t.pkts[1]), n) >= c.MinShare},
		{"alternation", round(alt, 3), c.MinAlternation, alt >= c.MinAlternation},
	}
	for dir, name := range [2]string{"client_answers", "server_answers"} {
		a := share(e.answers[dir], e.t.pkts[dir])
		tests[4+dir] = Test{name, round(a, 3), c.MinAnswers, a >= c.MinAnswers}
	}
	ok := true
	for _, t := range tests {
		ok = ok && t.Held
	}
	return tests, ok
}

// oneSidedAnswers reports a one-sided candidate: enough packets, but one
// side talks and the other barely answers, the talker's packets being
// answers (a reflection flood from a service, or a loop whose other half
// the capture does not see).
func (e *evidence) oneSidedAnswers(c RunConfig) bool {
	n := e.packets()
	if n < uint64(c.MinPackets) || !e.t.oneSided() {
		return false
	}
	loud := 0
	if e.t.pkts[1] > e.t.pkts[0] {
		loud = 1
	}
	return share(e.answers[loud], e.t.pkts[loud]) >= c.MinAnswers
}

func round(x float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(x*p) / p
}

// Evidence is what a finding rests on, for an analyst to judge it.
type Evidence struct {
	// Rule is "trigger" for a loop started by a captured genuine exchange,
	// "signature" for one found by the loop signature alone.
	Rule string
	// Tests are the signature's checks with their numbers (also measured
	// for triggered loops, which do not depend on them).
	Tests []Test
	// Alternation is the share of packets sent by the other side than
	// the packet before: 1 when every packet answers the previous one.
	Alternation float64
	// Client and Server describe each side.
	Client, Server SideEvidence
	// Cycle names the message types going each way, e.g.
	// "tftp-error(4) <-> dns-response(FORMERR)".
	Cycle string
	// Start says how the loop began, where the capture shows it.
	Start StartEvidence
}

// SideEvidence describes one side of a loop.
type SideEvidence struct {
	Service  string  // the service seen on that side, e.g. "DNS server", "chargen", "TFTP"
	Answers  float64 // share of its packets that answer the other side
	Echoes   float64 // share of its packets that carry the other side's last payload
	Requests float64 // share of its packets that are requests of its own
	// ReactionMS is the delay of its packets after the other side's, in
	// milliseconds: the least, the mean and the most.
	ReactionMS [3]float64
	Types      string // its most frequent message type
}

// StartEvidence is what the capture shows of how a loop started.
type StartEvidence struct {
	// SpoofedTTL: the first packet's TTL differs from every later packet
	// of the same sender: it was likely sent by someone else.
	SpoofedTTL bool
	FirstTTL   int
	SenderTTLs []int
	// UnsolicitedAnswer: the first packet is an answer to nothing the
	// capture shows.
	UnsolicitedAnswer bool
}

// describe turns the evidence into the finding's Evidence.
func (e *evidence) describe(c RunConfig, rule string, services [2]string) Evidence {
	tests, _ := e.judge(c)
	n := e.packets()
	ev := Evidence{Rule: rule, Tests: tests, Alternation: round(share(e.alt, max(n, 1)-1), 3)}
	sides := [2]*SideEvidence{&ev.Client, &ev.Server}
	for dir, s := range sides {
		p := e.t.pkts[dir]
		s.Service = services[dir]
		s.Answers = round(share(e.answers[dir], p), 3)
		s.Echoes = round(share(e.echoes[dir], p), 3)
		s.Requests = round(share(e.reqs[dir], p), 3)
		r := &e.react[dir]
		ms := func(ns float64) float64 { return round(ns/float64(time.Millisecond), 3) }
		s.ReactionMS = [3]float64{ms(float64(r.min)), ms(r.mean()), ms(float64(r.max))}
		s.Types = msgTypeName(e.types[dir].top())
	}
	ev.Cycle = ev.Client.Types + " <-> " + ev.Server.Types
	d := int(e.firstDir)
	later := &e.ttl[d]
	if later.n > 0 && !later.has(e.firstTTL) {
		ev.Start.SpoofedTTL = true
	}
	ev.Start.FirstTTL = int(e.firstTTL)
	for i := range later.n {
		ev.Start.SenderTTLs = append(ev.Start.SenderTTLs, int(later.v[i]))
	}
	ev.Start.UnsolicitedAnswer = e.firstRole == decode.RoleAnswer || e.responder[d] && e.firstRole == decode.RoleUnknown
	return ev
}
