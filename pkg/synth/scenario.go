package synth

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Role tells what part a frame plays in a scripted loop.
type Role int

const (
	// RoleOther is background traffic, or anything not part of a loop.
	RoleOther Role = iota
	// RoleTriggerQuery is the genuine query that starts a loop.
	RoleTriggerQuery
	// RoleTriggerResponse is the server's answer to the trigger query.
	RoleTriggerResponse
	// RoleLoopClient is a non-DNS packet from the client to the server;
	// in a ping-pong (AddPingPong), a datagram from A to B.
	RoleLoopClient
	// RoleLoopServer is a FORMERR reply from the server to the client;
	// in a ping-pong, a datagram from B to A.
	RoleLoopServer
	// RoleFlow is a datagram of a tracked flow that is not a loop: a
	// poller (AddPoll) or traffic added with AddTracked.
	RoleFlow
)

// LoopID names a loop added to a Scenario; the zero value means none.
type LoopID int

// Frame is one rendered frame with what the generator knows about it.
type Frame struct {
	Packet
	// Src and Dst are the UDP endpoints of the datagram the frame carries.
	Src, Dst netip.AddrPort
	// Loop is the loop the frame belongs to, if any.
	Loop LoopID
	// Role is the frame's part in Loop.
	Role Role
	// Last is true for the frame that completes its datagram: the only
	// frame, or the last IP fragment (where Wireshark shows the
	// reassembled datagram).
	Last bool
	// TTL is the datagram's IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// Spoofed is true for a forged datagram: the first packet of a
	// ping-pong with a SpoofTTL, sent by a third host in a loop
	// endpoint's name.
	Spoofed bool
}

// Packets returns the packets of frames.
func Packets(frames []Frame) []Packet {
	out := make([]Packet, len(frames))
	for i, f := range frames {
		out[i] = f.Packet
	}
	return out
}

type event struct {
	at      time.Time
	iface   int
	d       Datagram
	loop    LoopID
	role    Role
	spoofed bool
}

type loopInfo struct {
	client, server netip.AddrPort
	class          string
	noTrigger      bool
	// The rest describes ping-pongs and tracked flows.
	kind      string
	pingPong  bool
	clientTTL uint8
	serverTTL uint8
	spoofTTL  uint8
	iface     int
}

// Scenario scripts UDP traffic on one or more capture interfaces and
// renders it into time-ordered frames. All randomness comes from the seed
// given to NewScenario, so the same script renders the same bytes.
// A Scenario is not safe for concurrent use.
type Scenario struct {
	links  []Link
	rng    *rand.Rand
	events []event
	loops  []loopInfo
	// from and to bound the capture (SetWindow); zero means unbounded.
	from, to time.Time
}

// SetWindow makes the capture cover [from, to): Render leaves out every
// datagram scheduled before from or at or after to, as a capture started
// late or stopped early would. Traffic scripted past the window (a loop
// already running when the capture starts, or still running when it
// stops) is clipped; IPv4 identifications still count the datagrams left
// out. A zero time leaves that side open.
func (s *Scenario) SetWindow(from, to time.Time) {
	s.from, s.to = from, to
}

// Window returns the capture window set with SetWindow.
func (s *Scenario) Window() (from, to time.Time) { return s.from, s.to }

// NewScenario returns an empty scenario whose interface i frames packets
// with links[i]. seed drives every random choice.
func NewScenario(seed uint64, links ...Link) *Scenario {
	return &Scenario{
		links: links,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Rand returns the scenario's random source, for callers that script
// their own traffic and want it to follow the seed.
func (s *Scenario) Rand() *rand.Rand { return s.rng }

// Add schedules datagram d on interface iface at time at.
func (s *Scenario) Add(iface int, at time.Time, d Datagram) error {
	if iface < 0 || iface >= len(s.links) {
		return fmt.Errorf("synth: no interface %d", iface)
	}
	s.events = append(s.events, event{at: at, iface: iface, d: d})
	return nil
}

// Exchange schedules a query from client to server at time at, and the
// server's response of the given kind delay later. padTo pads the response
// (see DNSResponse). TTLs of 0 mean 64.
func (s *Scenario) Exchange(iface int, at time.Time, client, server netip.AddrPort, q Query, kind ResponseKind, delay time.Duration, padTo int, clientTTL, serverTTL uint8) error {
	qb, err := DNSQuery(q)
	if err != nil {
		return err
	}
	rb, err := DNSResponse(q, kind, padTo)
	if err != nil {
		return err
	}
	if err := s.Add(iface, at, Datagram{Src: client, Dst: server, Payload: qb, TTL: clientTTL}); err != nil {
		return err
	}
	return s.Add(iface, at.Add(delay), Datagram{Src: server, Dst: client, Payload: rb, TTL: serverTTL})
}

// Noise describes background traffic to one name server: many clients
// asking queries from random source ports, answered with answers,
// referrals and NXDOMAIN.
type Noise struct {
	// Iface is the capture interface.
	Iface int
	// Server is the name server's address; it listens on port 53.
	Server netip.Addr
	// Clients is the prefix client addresses are drawn from; it must be
	// of Server's family.
	Clients netip.Prefix
	// NumClients is the number of distinct clients; 0 means 20.
	NumClients int
	// Start and Duration bound the query times.
	Start    time.Time
	Duration time.Duration
	// Rate is the mean number of queries per second; 0 means 50.
	Rate float64
	// LargeEvery pads every n-th response to LargeSize bytes, so that
	// it is fragmented on a 1500-byte MTU; 0 means never.
	LargeEvery int
	// LargeSize is the padded response size; 0 means 3000.
	LargeSize int
	// NTPEvery replaces every n-th query with an NTP exchange between the
	// client and the server's port 123; 0 means never.
	NTPEvery int
}

// noiseNames returns the query names background clients ask for.
func noiseNames() []string {
	return []string{
		"example.uk", "gov.uk", "www.example.co.uk", "mail.example.org.uk",
		"cdn.images.example.co.uk", "api.service.example.uk", "static.example.ac.uk",
		"news.example.uk", "shop.example.co.uk", "login.example.me.uk",
		"ftp.example.ltd.uk", "long-label-qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq.co.uk",
		"_dmarc.example.uk", "nonexistent-host.example.uk", "b.example.net.uk",
	}
}

// noiseTypes returns the query types background clients ask for, A the
// most often.
func noiseTypes() []layers.DNSType {
	return []layers.DNSType{
		layers.DNSTypeA, layers.DNSTypeA, layers.DNSTypeA, layers.DNSTypeA, layers.DNSTypeA,
		layers.DNSTypeAAAA, layers.DNSTypeAAAA, layers.DNSTypeMX, layers.DNSTypeNS, layers.DNSTypeTXT,
	}
}

// AddNoise schedules background traffic as described by n.
func (s *Scenario) AddNoise(n Noise) error {
	if !n.Server.IsValid() || !n.Clients.IsValid() || n.Server.Is4() != n.Clients.Addr().Is4() {
		return errors.New("synth: noise needs a server and a client prefix of one family")
	}
	if n.Duration <= 0 {
		return errors.New("synth: noise needs a positive duration")
	}
	numClients := n.NumClients
	if numClients <= 0 {
		numClients = 20
	}
	rate := n.Rate
	if rate <= 0 {
		rate = 50
	}
	large := n.LargeSize
	if large <= 0 {
		large = 3000
	}
	type client struct {
		addr netip.Addr
		ttl  uint8
	}
	ttls := []uint8{49, 52, 54, 57, 58, 60, 113, 117, 120, 243, 248}
	clients := make([]client, 0, numClients)
	seen := map[netip.Addr]bool{n.Server: true}
	for tries := 0; len(clients) < numClients && tries < 100*numClients; tries++ {
		a := randomHost(s.rng, n.Clients)
		if seen[a] {
			continue
		}
		seen[a] = true
		clients = append(clients, client{addr: a, ttl: ttls[s.rng.IntN(len(ttls))]})
	}
	if len(clients) == 0 {
		return errors.New("synth: noise client prefix has no room for clients")
	}
	names, types := noiseNames(), noiseTypes()
	t := n.Start
	end := n.Start.Add(n.Duration)
	for i := 1; ; i++ {
		t = t.Add(time.Duration(s.rng.ExpFloat64() / rate * float64(time.Second)))
		if !t.Before(end) {
			return nil
		}
		c := clients[s.rng.IntN(len(clients))]
		delay := time.Duration(80+s.rng.IntN(820)) * time.Microsecond
		port := uint16(1024 + s.rng.IntN(64511))
		cl := netip.AddrPortFrom(c.addr, port)
		if n.NTPEvery > 0 && i%n.NTPEvery == 0 {
			srv := netip.AddrPortFrom(n.Server, 123)
			if err := s.Add(n.Iface, t, Datagram{Src: cl, Dst: srv, Payload: NTP(NTPModeClient, t), TTL: c.ttl}); err != nil {
				return err
			}
			if err := s.Add(n.Iface, t.Add(delay), Datagram{Src: srv, Dst: cl, Payload: NTP(NTPModeServer, t.Add(delay))}); err != nil {
				return err
			}
			continue
		}
		q := Query{
			ID:   uint16(s.rng.Uint32()),
			Name: names[s.rng.IntN(len(names))],
			Type: types[s.rng.IntN(len(types))],
			EDNS: s.rng.IntN(2) == 0,
		}
		kind := Answer
		switch r := s.rng.IntN(20); {
		case r >= 17:
			kind = NXDomain
		case r >= 13:
			kind = Referral
		}
		pad := 0
		if n.LargeEvery > 0 && i%n.LargeEvery == 0 {
			pad = large
		}
		if err := s.Exchange(n.Iface, t, cl, netip.AddrPortFrom(n.Server, 53), q, kind, delay, pad, c.ttl, 64); err != nil {
			return err
		}
	}
}

// randomHost returns a random address inside p, avoiding the all-zeros
// host. Only the low 16 host bits vary.
func randomHost(r *rand.Rand, p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	hostBits := len(b)*8 - p.Bits()
	bits := min(hostBits, 16)
	if bits <= 0 {
		return p.Addr()
	}
	v := 1 + r.IntN(1<<bits-1)
	if bits >= 8 && len(b) == 4 {
		// Avoid the broadcast address of small IPv4 prefixes.
		for v == 1<<bits-1 {
			v = 1 + r.IntN(1<<bits-1)
		}
	}
	b[len(b)-1] |= byte(v)
	b[len(b)-2] |= byte(v >> 8)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Loop scripts a machine-pong loop: a genuine query from Client to Server,
// the server's response, and then alternating non-DNS packets from the
// client and FORMERR replies from the server at a fixed interval.
type Loop struct {
	// Iface is the capture interface.
	Iface int
	// Client is the DNS client's address and source port, which a
	// non-DNS service (TFTP in the seed incident) also owns.
	Client netip.AddrPort
	// Server is the name server's address and port (usually 53).
	Server netip.AddrPort
	// Start is the time of the genuine query.
	Start time.Time
	// Query is the genuine query; an empty Name means
	// "delegated.example.uk" and a zero ID a random one.
	Query Query
	// Kind is the shape of the trigger response.
	Kind ResponseKind
	// PadTo pads the trigger response to at least this many bytes
	// (forcing fragmentation when it exceeds the link MTU).
	PadTo int
	// NoTrigger leaves out the genuine query and response: the loop
	// starts with junk. Mid-capture that is a trap; at the start of a
	// capture it is a loop that began before the capture did.
	NoTrigger bool
	// ResponseDelay is the time from query to response; 0 means 100µs.
	ResponseDelay time.Duration
	// FirstDelay is the time from the response to the first non-DNS
	// packet; 0 means 1ms.
	FirstDelay time.Duration
	// Interval is the time between two non-DNS packets; 0 means 1.25ms.
	Interval time.Duration
	// ReplyDelay is the time from a non-DNS packet to its FORMERR; 0
	// means 100µs.
	ReplyDelay time.Duration
	// Packets is the number of loop packets (non-DNS and FORMERR, in
	// both directions) from the first non-DNS packet on. An odd count
	// ends with a client packet the server leaves unanswered: the server
	// dropped one answer and the loop stopped. 0 means run until Until.
	Packets int
	// Until ends the loop before this time when Packets is 0.
	Until time.Time
	// NoReply makes the server never answer: a one-way flood (a trap).
	NoReply bool
	// NoArm: the scripted trigger cannot arm the detector (its first
	// non-DNS packet comes too late after the answer, say): the loop is
	// found by its signature, so the truth names no trigger frames.
	NoArm bool
	// Payload is the client's non-DNS payload; nil means the TFTP error
	// "RRQ must be sent first" (code 4).
	Payload []byte
	// Class names the payload in truth files; "" means "tftp".
	Class string
	// ClientTTL and ServerTTL are the IP TTLs; 0 means 52 and 64.
	ClientTTL, ServerTTL uint8
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// AddLoop schedules the loop l and returns its id.
func (s *Scenario) AddLoop(l Loop) (LoopID, error) {
	if l.Iface < 0 || l.Iface >= len(s.links) {
		return 0, fmt.Errorf("synth: no interface %d", l.Iface)
	}
	if l.Packets <= 0 && l.Until.IsZero() {
		return 0, errors.New("synth: loop needs a packet count or an end time")
	}
	s.loops = append(s.loops, loopInfo{client: l.Client, server: l.Server, class: l.Class, noTrigger: l.NoTrigger || l.NoArm})
	if l.Class == "" {
		s.loops[len(s.loops)-1].class = "tftp"
	}
	id := LoopID(len(s.loops))
	respDelay := orDuration(l.ResponseDelay, 100*time.Microsecond)
	first := orDuration(l.FirstDelay, time.Millisecond)
	interval := orDuration(l.Interval, 1250*time.Microsecond)
	reply := orDuration(l.ReplyDelay, 100*time.Microsecond)
	cttl, sttl := l.ClientTTL, l.ServerTTL
	if cttl == 0 {
		cttl = 52
	}
	if sttl == 0 {
		sttl = 64
	}
	payload := l.Payload
	if payload == nil {
		payload = TFTPError(TFTPErrIllegalOp, TFTPMsgRRQFirst)
	}
	add := func(at time.Time, d Datagram, role Role) {
		s.events = append(s.events, event{at: at, iface: l.Iface, d: d, loop: id, role: role})
	}
	t := l.Start
	if !l.NoTrigger {
		q := l.Query
		if q.Name == "" {
			q.Name = "delegated.example.uk"
		}
		if q.ID == 0 {
			q.ID = uint16(1 + s.rng.IntN(0xffff))
		}
		qb, err := DNSQuery(q)
		if err != nil {
			return 0, err
		}
		rb, err := DNSResponse(q, l.Kind, l.PadTo)
		if err != nil {
			return 0, err
		}
		add(t, Datagram{Src: l.Client, Dst: l.Server, Payload: qb, TTL: cttl}, RoleTriggerQuery)
		t = t.Add(respDelay)
		add(t, Datagram{Src: l.Server, Dst: l.Client, Payload: rb, TTL: sttl}, RoleTriggerResponse)
		t = t.Add(first)
	}
	formerr := FormErr(payload)
	for n := 0; l.Packets <= 0 || n < l.Packets; {
		if l.Packets <= 0 && !t.Before(l.Until) {
			break
		}
		add(t, Datagram{Src: l.Client, Dst: l.Server, Payload: payload, TTL: cttl}, RoleLoopClient)
		n++
		if l.NoReply {
			t = t.Add(interval)
			continue
		}
		rt := t.Add(reply)
		if (l.Packets > 0 && n >= l.Packets) || (l.Packets <= 0 && !rt.Before(l.Until)) {
			break
		}
		add(rt, Datagram{Src: l.Server, Dst: l.Client, Payload: formerr, TTL: sttl}, RoleLoopServer)
		n++
		t = t.Add(interval)
	}
	return id, nil
}

// Render returns every scheduled datagram as frames in time order (ties
// keep the order of scheduling). IPv4 identifications are assigned per
// source address in time order unless a datagram sets its own; frame
// times are truncated to each link's resolution.
func (s *Scenario) Render() ([]Frame, error) {
	evs := slices.Clone(s.events)
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	ids := make(map[netip.Addr]uint32)
	var out []Frame
	for _, e := range evs {
		link := s.links[e.iface]
		d := e.d
		if d.ID == 0 {
			src := d.Src.Addr()
			id, ok := ids[src]
			if !ok {
				h := fnv.New32a()
				h.Write(src.AsSlice())
				id = h.Sum32() & 0xffff
			}
			id = (id + 1) & 0xffff
			if id == 0 {
				id = 1
			}
			ids[src] = id
			d.ID = id
		}
		if (!s.from.IsZero() && e.at.Before(s.from)) || (!s.to.IsZero() && !e.at.Before(s.to)) {
			continue
		}
		frames, err := link.Frames(d)
		if err != nil {
			return nil, err
		}
		at := e.at.Truncate(link.resolution())
		ttl := d.TTL
		if ttl == 0 {
			ttl = 64
		}
		for i, b := range frames {
			out = append(out, Frame{
				Packet: Packet{Time: at, Data: b, Iface: e.iface},
				Src:    d.Src, Dst: d.Dst,
				Loop: e.loop, Role: e.role,
				Last: i == len(frames)-1,
				TTL:  ttl, Spoofed: e.spoofed,
			})
		}
	}
	return out, nil
}
