package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Delay is a random reaction time: Base, plus a uniform jitter in
// [0, Jitter), plus, with probability TailProb, a heavy-tailed outlier
// (Pareto, shape 1.5, scale TailScale, at most TailMax).
type Delay struct {
	// Base is the shortest reaction; 0 means 100µs.
	Base time.Duration
	// Jitter is the width of the uniform jitter added to Base.
	Jitter time.Duration
	// TailProb is the probability of an outlier.
	TailProb float64
	// TailScale scales outliers; 0 means 1ms.
	TailScale time.Duration
	// TailMax caps an outlier; 0 means 50 * TailScale.
	TailMax time.Duration
}

// Sample draws one reaction time from r.
func (d Delay) Sample(r *rand.Rand) time.Duration {
	v := orDuration(d.Base, 100*time.Microsecond)
	if d.Jitter > 0 {
		v += time.Duration(r.Int64N(int64(d.Jitter)))
	}
	if d.TailProb > 0 && r.Float64() < d.TailProb {
		scale := orDuration(d.TailScale, time.Millisecond)
		maxOut := orDuration(d.TailMax, 50*scale)
		// Pareto(1.5) minus its minimum: 0 upwards, heavy-tailed.
		x := float64(scale) * (math.Pow(1-r.Float64(), -1/1.5) - 1)
		v += time.Duration(min(x, float64(maxOut)))
	}
	return v
}

// Side is one endpoint of a ping-pong or a poll.
type Side struct {
	// Addr is the endpoint's address and UDP port.
	Addr netip.AddrPort
	// Responder computes what the side sends; nil never answers.
	Responder Responder
	// Delay is the time from receiving a datagram to the answer
	// passing the capture point (the path to the capture point
	// included).
	Delay Delay
	// TTL is the IP TTL (hop limit) of the side's datagrams as
	// captured; 0 means 64.
	TTL uint8
}

func (s Side) ttl() uint8 {
	if s.TTL == 0 {
		return 64
	}
	return s.TTL
}

// PingPong scripts two UDP services answering each other: A (or B, with
// BFirst) sends the first datagram, and from then on each side answers
// the datagram it has just received, after its own Delay, with what its Responder makes of
// it. It stops after Packets datagrams, or before Until, or at a lost
// datagram, or when a responder falls silent; with none of Packets and
// Until it runs past the end of the capture window (SetWindow).
type PingPong struct {
	// Iface is the capture interface.
	Iface int
	// A and B are the two services. Truth names A the client and B the
	// server, whoever speaks first.
	A, B Side
	// BFirst makes B send the first datagram; A sends it by default.
	BFirst bool
	// First is the payload of the first datagram; nil asks the first
	// sender's responder for it (with a nil received payload).
	First []byte
	// SpoofTTL, when not 0, makes the first datagram a forgery: it
	// carries the first sender's address but was sent by a third host
	// (the attacker), so it arrives with this TTL instead of the
	// sender's own, which its later datagrams carry. This is the
	// spoofing evidence of a loop started on purpose.
	SpoofTTL uint8
	// Start is the time of the first datagram. It may lie before the
	// capture window: the loop is then already running when the capture
	// starts.
	Start time.Time
	// Packets is the number of datagrams, both directions, the first
	// one included; 0 means no limit.
	Packets int
	// Until stops the loop before this time when not zero.
	Until time.Time
	// Loss is the probability that a datagram is lost after the
	// capture point: it is captured but never answered, which ends the
	// loop (a single lost packet stops a loop for good).
	Loss float64
	// Kind names the loop in truth files ("echo-chargen"); "" means
	// "pingpong".
	Kind string
}

// AddPingPong schedules the ping-pong p and returns its id, for
// FamilyLoopTruth. A's datagrams have RoleLoopClient, B's RoleLoopServer.
func (s *Scenario) AddPingPong(p PingPong) (LoopID, error) {
	if p.Iface < 0 || p.Iface >= len(s.links) {
		return 0, fmt.Errorf("synth: no interface %d", p.Iface)
	}
	if !p.A.Addr.IsValid() || !p.B.Addr.IsValid() || p.A.Addr.Addr().Is4() != p.B.Addr.Addr().Is4() {
		return 0, errors.New("synth: ping-pong needs two endpoints of one family")
	}
	if p.A.Addr == p.B.Addr {
		return 0, errors.New("synth: ping-pong endpoints are the same")
	}
	until := p.Until
	if p.Packets <= 0 && until.IsZero() {
		if s.to.IsZero() {
			return 0, errors.New("synth: ping-pong needs a packet count, an end time or a capture window")
		}
		// Past the end: the last datagrams scripted fall outside the
		// window. A little margin makes sure one does.
		until = s.to.Add(time.Second)
	}
	sides := [2]*Side{&p.A, &p.B}
	roles := [2]Role{RoleLoopClient, RoleLoopServer}
	from := 0
	if p.BFirst {
		from = 1
	}
	if sides[from].Responder == nil && p.First == nil {
		return 0, errors.New("synth: ping-pong needs a first payload or a responder on its first sender")
	}
	kind := p.Kind
	if kind == "" {
		kind = "pingpong"
	}
	s.loops = append(s.loops, loopInfo{
		client: p.A.Addr, server: p.B.Addr, noTrigger: true,
		kind: kind, pingPong: true,
		clientTTL: p.A.ttl(), serverTTL: p.B.ttl(), spoofTTL: p.SpoofTTL, iface: p.Iface,
	})
	id := LoopID(len(s.loops))
	payload := p.First
	if payload == nil {
		payload = sides[from].Responder.Respond(nil, p.Start, s.rng)
		if payload == nil {
			return 0, errors.New("synth: ping-pong's first sender has nothing to say")
		}
	}
	t := p.Start
	ttl, spoofed := sides[from].ttl(), false
	if p.SpoofTTL != 0 {
		ttl, spoofed = p.SpoofTTL, true
	}
	for n := 1; ; n++ {
		src, dst := sides[from], sides[1-from]
		s.events = append(s.events, event{
			at: t, iface: p.Iface, loop: id, role: roles[from], spoofed: spoofed,
			d: Datagram{Src: src.Addr, Dst: dst.Addr, Payload: payload, TTL: ttl},
		})
		if p.Packets > 0 && n >= p.Packets {
			break
		}
		if p.Loss > 0 && s.rng.Float64() < p.Loss {
			break
		}
		if dst.Responder == nil {
			break
		}
		t = t.Add(dst.Delay.Sample(s.rng))
		if !until.IsZero() && !t.Before(until) {
			break
		}
		payload = dst.Responder.Respond(payload, t, s.rng)
		if payload == nil {
			break
		}
		from = 1 - from
		ttl, spoofed = dst.ttl(), false
	}
	return id, nil
}

// Poll scripts request/response traffic that is NOT a loop: a client
// sending requests of its own on its own schedule (every Interval plus a
// uniform jitter), each answered by the server's responder after the
// server's Delay. Set NoReply (or no server responder) for a one-way
// stream: a flood from Client toward Server.
type Poll struct {
	// Iface is the capture interface.
	Iface int
	// Client sends the requests (its Responder is unused); Server
	// answers them.
	Client, Server Side
	// Request makes request i (0-based) sent at now.
	Request func(i int, now time.Time, r *rand.Rand) []byte
	// Start is the time of the first request.
	Start time.Time
	// Interval is the time between requests; Jitter adds a uniform
	// random [0, Jitter) to each.
	Interval, Jitter time.Duration
	// Count is the number of requests; 0 means until Until.
	Count int
	// Until stops the requests before this time when Count is 0.
	Until time.Time
	// NoReply leaves every request unanswered.
	NoReply bool
	// Kind names the traffic in truth files ("echo-client").
	Kind string
}

// AddPoll schedules p and returns its id; its datagrams have RoleFlow.
func (s *Scenario) AddPoll(p Poll) (LoopID, error) {
	if p.Iface < 0 || p.Iface >= len(s.links) {
		return 0, fmt.Errorf("synth: no interface %d", p.Iface)
	}
	if p.Request == nil || p.Interval <= 0 {
		return 0, errors.New("synth: poll needs a request maker and an interval")
	}
	if p.Count <= 0 && p.Until.IsZero() {
		return 0, errors.New("synth: poll needs a count or an end time")
	}
	id := s.Track(p.Iface, p.Client.Addr, p.Server.Addr, p.Kind)
	s.loops[id-1].clientTTL, s.loops[id-1].serverTTL = p.Client.ttl(), p.Server.ttl()
	t := p.Start
	for i := 0; p.Count <= 0 || i < p.Count; i++ {
		if p.Count <= 0 && !t.Before(p.Until) {
			break
		}
		req := p.Request(i, t, s.rng)
		s.events = append(s.events, event{at: t, iface: p.Iface, loop: id, role: RoleFlow,
			d: Datagram{Src: p.Client.Addr, Dst: p.Server.Addr, Payload: req, TTL: p.Client.ttl()}})
		if !p.NoReply && p.Server.Responder != nil {
			rt := t.Add(p.Server.Delay.Sample(s.rng))
			if resp := p.Server.Responder.Respond(req, rt, s.rng); resp != nil {
				s.events = append(s.events, event{at: rt, iface: p.Iface, loop: id, role: RoleFlow,
					d: Datagram{Src: p.Server.Addr, Dst: p.Client.Addr, Payload: resp, TTL: p.Server.ttl()}})
			}
		}
		next := p.Interval
		if p.Jitter > 0 {
			next += time.Duration(s.rng.Int64N(int64(p.Jitter)))
		}
		t = t.Add(next)
	}
	return id, nil
}

// Track registers a flow between client and server on interface iface
// (for traffic scripted by hand with AddTracked) and returns its id, so
// that FlowTruth can describe it.
func (s *Scenario) Track(iface int, client, server netip.AddrPort, kind string) LoopID {
	s.loops = append(s.loops, loopInfo{client: client, server: server, noTrigger: true, kind: kind, iface: iface})
	return LoopID(len(s.loops))
}

// AddTracked schedules datagram d as part of tracked flow id (RoleFlow).
func (s *Scenario) AddTracked(id LoopID, at time.Time, d Datagram) error {
	if id <= 0 || int(id) > len(s.loops) {
		return fmt.Errorf("synth: no flow %d", id)
	}
	s.events = append(s.events, event{at: at, iface: s.loops[id-1].iface, d: d, loop: id, role: RoleFlow})
	return nil
}
