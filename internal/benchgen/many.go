package benchgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// ManyLoops describes a capture of nothing but short seed-style loops, each
// on a 5-tuple of its own: a genuine query to the server's port 53 and its
// referral, then the client port's TFTP ERROR "RRQ must be sent first",
// the server's FORMERR, and so on. WriteManyLoops writes it.
//
// The loops run in InFlight slots: when a slot's loop has written its last
// packet, the slot's next loop is triggered up to Pause later, from a new
// client address and port. So about InFlight loops run at any moment and
// the capture lasts about Loops/InFlight times a loop's length plus half
// the pause: a million loops of 60 packets at 256 in flight, 1-1.5 ms
// round trips and the default pause, about 200 s (62 M packets).
type ManyLoops struct {
	// Loops is the number of loops written; it must be positive. Each has
	// its own client address (distinct for up to 500 M loops) and a random
	// port.
	Loops int
	// LoopPackets is each loop's length from its first non-DNS packet on,
	// after its trigger query and answer; 0 means 60. The capture holds
	// Loops*(LoopPackets+2) packets.
	LoopPackets int
	// InFlight is the number of loops running at once; 0 means 256.
	InFlight int
	// Pause is the most time from a loop's last packet to the next trigger
	// in its slot (uniform from 0); 0 means 20 ms.
	Pause time.Duration
	// LoopInterval is each loop's round trip, as in Config; zero means a
	// random 1-1.5 ms per loop.
	LoopInterval time.Duration
	// Seed drives every random choice.
	Seed uint64
	// IPv6Share is the share of loops from IPv6 clients; 0 means 0.1, a
	// negative value none.
	IPv6Share float64
	// Start is the time of the capture's start; zero means DefaultStart.
	Start time.Time
	// Pcapng and Gzip are as in Config.
	Pcapng, Gzip bool
}

// manyListed is how many of the loops WriteManyLoops lists in Stats.Loops.
const manyListed = 10

// manyOctets are the first octets of the many-loop clients' IPv4
// addresses: public unicast space, away from the server's 192.0.2.0/24.
var manyOctets = [...]byte{
	23, 31, 37, 41, 45, 46, 62, 77, 78, 80, 81, 82, 83, 84, 85, 86,
	87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 151, 176, 178, 185, 188, 193,
}

// WriteManyLoops writes the capture m describes to w and reports what it
// wrote; Stats.Loops lists the first few loops only, Stats.Planted counts
// them all. Memory stays bounded whatever m.Loops: one slot per loop in
// flight and their pending packets. It flushes but does not close w.
func WriteManyLoops(w io.Writer, m ManyLoops) (*Stats, error) {
	if m.Loops <= 0 {
		return nil, errors.New("benchgen: loops must be positive")
	}
	if m.Loops > 1<<29 { // 32 first octets (manyOctets) and 24 bits
		return nil, fmt.Errorf("benchgen: at most %d loops", 1<<29)
	}
	if m.LoopPackets <= 0 {
		m.LoopPackets = 60
	}
	if m.InFlight <= 0 {
		m.InFlight = 256
	}
	m.InFlight = min(m.InFlight, m.Loops)
	if m.Pause <= 0 {
		m.Pause = 20 * time.Millisecond
	}
	g, err := newGen(Config{
		Packets:      m.Loops * (m.LoopPackets + 2),
		Seed:         m.Seed,
		Clients:      m.InFlight, // one client record per slot
		IPv6Share:    m.IPv6Share,
		Loops:        -1,
		LoopInterval: m.LoopInterval,
		Start:        m.Start,
		Pcapng:       m.Pcapng,
		Gzip:         m.Gzip,
	})
	if err != nil {
		return nil, err
	}
	if err := g.writeTo(w, func() error { return g.runMany(m) }); err != nil {
		return nil, err
	}
	return &g.st, nil
}

func (g *gen) runMany(m ManyLoops) error {
	if err := g.writeFileHeader(); err != nil {
		return err
	}
	start := g.cfg.Start.UnixNano()
	g.st.Start = time.Unix(0, start).UTC()
	mask29 := uint32(g.rng.Uint64()) & (1<<29 - 1)
	mask64 := g.rng.Uint64()
	share := g.cfg.IPv6Share
	ttls := []uint8{49, 52, 54, 57, 58, 60, 113, 117, 120, 243, 248}
	g.loops = make([]loopState, m.InFlight)
	started := 0
	begin := func(slot int32, at int64) {
		i := started
		started++
		c := &g.clients[slot]
		*c = client{ttl: ttls[g.rng.IntN(len(ttls))]}
		if share > 0 && g.rng.Float64() < share {
			// 2001:db8:2::/48, the index scrambled by a bijection.
			c.v6 = true
			copy(c.addr[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 2})
			binary.BigEndian.PutUint64(c.addr[8:], uint64(i)*0x9e3779b97f4a7c15^mask64)
		} else {
			// The index scrambled by a bijection on 29 bits: 5 for one of
			// the 32 first octets, 24 for the rest of the address.
			x := (uint32(i)*0x1e3779b1 ^ mask29) & (1<<29 - 1)
			a := uint32(manyOctets[x>>24])<<24 | x&0xffffff
			c.addr = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).As16()
		}
		ls := loopState{
			client: slot,
			port:   uint16(1024 + g.rng.IntN(64512)),
			tmpl:   g.referral[g.rng.IntN(len(g.referral))],
			id:     uint16(g.rng.Uint32()),
		}
		g.loopTiming(&ls)
		ls.packets = m.LoopPackets
		ls.trigger = at
		g.loops[slot] = ls
		g.push(item{at: at, kind: evLoopQuery, loop: slot, client: slot, port: ls.port, tmpl: ls.tmpl, id: ls.id})
	}
	// Stagger the first loops over about one loop's time.
	rt := int64(1_265_000) // 1-1.5 ms and 0-30 µs of jitter twice
	if m.LoopInterval > 0 {
		rt = int64(m.LoopInterval)
	}
	first := loopLead + int64((m.LoopPackets+1)/2)*rt + int64(m.Pause)/2
	for s := range int32(m.InFlight) {
		begin(s, start+g.rng.Int64N(first))
	}
	last := start
	for len(g.queue) > 0 {
		it := g.pop()
		last = it.at
		if err := g.emit(it); err != nil {
			return err
		}
		if it.kind != evLoopClient && it.kind != evLoopServer {
			continue
		}
		ls := &g.loops[it.loop]
		if ls.written < ls.packets {
			continue
		}
		// The slot's loop is done.
		c := &g.clients[ls.client]
		g.st.Planted++
		g.st.LoopPackets += ls.written
		g.st.Clients++
		if c.v6 {
			g.st.IPv6Clients++
		}
		if len(g.st.Loops) < manyListed {
			g.st.Loops = append(g.st.Loops, Loop{
				Client:  netip.AddrPortFrom(c.netAddr(), ls.port),
				Server:  netip.AddrPortFrom(g.server(c.v6), 53),
				Trigger: time.Unix(0, ls.trigger).UTC(),
				First:   time.Unix(0, ls.first).UTC(),
				Last:    time.Unix(0, ls.last).UTC(),
				Packets: ls.written,
			})
		}
		if started < m.Loops {
			begin(it.loop, it.at+1+g.rng.Int64N(int64(m.Pause)))
		}
	}
	g.st.End = time.Unix(0, last).UTC()
	if g.st.Packets != g.cfg.Packets {
		return fmt.Errorf("benchgen: wrote %d packets, planned %d", g.st.Packets, g.cfg.Packets)
	}
	return nil
}
