// Package benchgen streams large synthetic captures of an authoritative DNS
// server for pongscan's benchmarks: cmd/genbench writes them to disk and the
// package benchmarks build smaller ones in memory.
//
// The traffic is thousands of clients (some IPv6) asking queries from random
// source ports at a Poisson rate, each answered 0.2-2 ms later with an
// answer, a NODATA, a referral or an NXDOMAIN, many with EDNS OPT records,
// plus a few machine-pong loops: a genuine query and its referral, then,
// within about a millisecond, a TFTP ERROR "RRQ must be sent first" from
// the client's port, the server's FORMERR, and so on for a few thousand
// packets.
//
// Config's loop fields shape the loops for the captures where they cost
// the most: LoopInterval (a loop's speed: 66.667µs is the incident's
// 30,000 packets/s), LoopEvery (a new loop every so often, as many as
// fit), LoopShare (loops that take most of the capture) and LoopClients
// (loops on the busiest resolvers). WriteManyLoops writes a capture of
// nothing but short loops, each on its own 5-tuple, as many as asked
// (a million), a bounded number at once.
//
// Write holds no packet beyond the one it is writing: frames are built by
// hand into one reused buffer from payload templates made once with
// pkg/synth, and answers wait in a small time-ordered queue (about 70
// entries at 35,000 queries a second). The output depends only on the
// Config: the same seed writes the same bytes.
package benchgen

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/pongscan/pongscan/pkg/synth"
)

// Defaults for zero Config fields.
const (
	DefaultQPS     = 35000
	DefaultClients = 20000
	DefaultLoops   = 3
)

// DefaultStart is the capture's first moment when Config.Start is zero.
var DefaultStart = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// Config describes a capture. Zero fields take the documented defaults.
//
// With none of LoopClients, LoopInterval, LoopEvery and LoopShare set, the
// loops are planned exactly as before those fields existed (the capture's
// length estimated from the background traffic alone), so such a Config
// writes the same bytes as it always has (TestBytesUnchanged). With any of
// them set, the background's queries keep off the ports of running loops;
// with LoopInterval, LoopEvery or LoopShare set, the capture's length is
// estimated with the loops' packets counted: a loop at 30,000 packets/s
// that asks for 9 M packets, in an 11.4 M-packet capture with 8,000
// packets/s of background, gets 8.9 M and runs 297 s of the 309 s capture.
type Config struct {
	// Packets is the exact number of frames written; it must be positive.
	Packets int
	// Seed drives every random choice.
	Seed uint64
	// QPS is the mean rate of queries per second of capture time (each
	// answered one adds a second packet); 0 means DefaultQPS.
	QPS float64
	// Clients is the number of distinct client addresses; 0 means
	// DefaultClients. Popular ones ask more often (a Zipf law), so a
	// short capture may not show them all.
	Clients int
	// IPv6Share is the share of clients with IPv6 addresses; 0 means 0.1,
	// a negative value none.
	IPv6Share float64
	// Loops is the number of machine-pong loops planted; 0 means
	// DefaultLoops, a negative value none.
	Loops int
	// LoopPackets is the length of each loop from its first non-DNS packet
	// on; 0 means a random even count from 2000 to 4998. It is cut so
	// that every loop ends well before the capture does.
	LoopPackets int
	// LoopClients picks the loops' clients: 0 draws each uniformly from
	// all clients, n > 0 from the n busiest (the head of the Zipf law that
	// 40% of the queries follow). 1 puts every loop on the busiest
	// resolver, as in the incident, where a busy resolver's query started
	// the loop and its host's TFTP server kept it going.
	LoopClients int
	// LoopInterval is each loop's round trip, from one client packet to
	// the client's next; zero keeps a random 1-1.5 ms per loop (and the
	// server's reply 80-200 µs after the client, each packet 0-30 µs
	// late). When set, the reply comes 8-20% of LoopInterval after the
	// client's packet and each packet moves by a jitter of ±1% of it, zero
	// on average, so the loop runs at 2/LoopInterval packets a second:
	// 66.667µs is 30,000 packets/s. Timestamps are written in
	// microseconds, so keep it well above 1 µs.
	LoopInterval time.Duration
	// LoopEvery, when set, triggers loop k (from 0) at 10% of the capture
	// plus k*LoopEvery, instead of spreading the loops over 10-60% of it:
	// "a new loop every 20 s". Loops is then the most loops planted, and 0
	// means as many as fit; a loop that would not end before 97% of the
	// capture (so any that would start after its end) is not planted.
	LoopEvery time.Duration
	// LoopShare lets the loops take most of the capture: when set, it is
	// the most of the capture's packets the loops may take together (each
	// loop at most an equal part), each loop may run until 97% of the
	// capture, and spread loops start at 1% of the capture instead of 10%
	// (over 1-51% of it). Zero keeps the caps of old: each loop at most
	// 35% of the capture's duration, all of them at most a quarter of its
	// packets.
	LoopShare float64
	// Unanswered is the share of queries the server drops; 0 means 0.005,
	// a negative value none.
	Unanswered float64
	// Start is the time of the capture's start; zero means DefaultStart.
	Start time.Time
	// Pcapng writes a little-endian pcapng file (one Ethernet interface,
	// microsecond timestamps) instead of classic pcap.
	Pcapng bool
	// Gzip compresses the output with gzip at the default level.
	Gzip bool
}

// Loop is a planted machine-pong loop as written.
type Loop struct {
	Client, Server netip.AddrPort
	Trigger        time.Time // the genuine query
	First, Last    time.Time // the first non-DNS packet and the loop's last packet
	Packets        int       // loop packets written, from First on
}

// Stats describe what Write wrote.
type Stats struct {
	Packets     int
	Bytes       int64 // frame bytes, without file and record headers
	Start, End  time.Time
	Queries     int // genuine queries, including loop triggers
	Answers     int // positive answers
	NoData      int // NOERROR answers without records of the type asked
	Referrals   int
	NXDomain    int
	Unanswered  int // queries whose answer was never written
	EDNS        int // queries with an OPT record (answered with one)
	IPv6        int // packets over IPv6
	Clients     int // distinct client addresses that sent a packet
	MaxPending  int // most packets waiting in the queue at once
	Loops       []Loop
	IPv6Clients int   // of Clients
	FileBytes   int64 // bytes of the capture file before compression
	// Planted is the number of loops planted: len(Loops) for Write;
	// WriteManyLoops lists only its first few in Loops.
	Planted int
	// LoopPackets is the loops' packets from their first non-DNS packet
	// on, all loops together.
	LoopPackets int
}

// Server endpoints of the generated traffic.
var (
	ServerV4 = netip.MustParseAddr("192.0.2.53")
	ServerV6 = netip.MustParseAddr("2001:db8::53")
)

var (
	serverMAC = [6]byte{0x02, 0x00, 0xc0, 0x00, 0x02, 0x35}
	routerMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
)

// Event kinds in the pending queue.
const (
	evAnswer uint8 = iota
	evLoopQuery
	evLoopAnswer
	evLoopClient
	evLoopServer
)

type client struct {
	addr [16]byte
	v6   bool
	ttl  uint8
}

type template struct {
	query, resp []byte
	kind        synth.ResponseKind
	nodata      bool
	edns        bool
}

type item struct {
	at     int64
	seq    uint64
	client int32
	tmpl   int32
	loop   int32
	port   uint16
	id     uint16
	kind   uint8
}

type loopState struct {
	client               int32
	port                 uint16
	tmpl                 int32
	id                   uint16
	packets              int
	written              int
	interval             int64
	reply                int64
	jitterMax, jitterOff int64 // each step is late by [0, jitterMax) - jitterOff
	trigger, first, last int64
}

type gen struct {
	cfg      Config
	rng      *rand.Rand
	zClients *rand.Zipf
	zNames   *rand.Zipf
	clients  []client
	seen     []bool
	tmpls    []template
	types    [100]uint8 // weighted query type index
	nTypes   int
	referral []int32 // templates of referrals with EDNS, for loop triggers
	tftp     []byte
	formerr  []byte
	loops    []loopState

	queue []item
	seq   uint64

	// guard keeps background queries off the ports of running loops
	// (active: client<<16 | port); set only when a loop field added
	// since the first version is, so old Configs write the same bytes.
	guard  bool
	active map[uint64]int

	w        *bufio.Writer
	frame    []byte
	rec      []byte
	serverID uint16
	st       Stats
}

// queryTypes and their weights out of 100.
var queryTypes = []struct {
	t layers.DNSType
	w int
}{
	{layers.DNSTypeA, 40}, {layers.DNSTypeAAAA, 25}, {layers.DNSType(65), 10}, // HTTPS
	{layers.DNSTypeMX, 5}, {layers.DNSTypeNS, 5}, {layers.DNSTypeTXT, 5},
	{layers.DNSType(43), 5}, // DS
	{layers.DNSTypeSOA, 5},
}

var zones = []string{
	"example.uk", "example.co.uk", "example.org.uk", "example.ac.uk",
	"example.me.uk", "example.ltd.uk", "example.net.uk", "example.gov.uk",
}

var hostLabels = []string{
	"www", "mail", "api", "cdn", "static", "login", "news", "shop", "ftp",
	"vpn", "img", "m", "app", "dev", "blog", "smtp", "imap", "ns1", "autodiscover",
}

const numNames = 256

// Write writes the capture described by cfg to w and reports what it
// wrote. It flushes but does not close w.
func Write(w io.Writer, cfg Config) (*Stats, error) {
	if cfg.Packets <= 0 {
		return nil, errors.New("benchgen: packets must be positive")
	}
	g, err := newGen(cfg)
	if err != nil {
		return nil, err
	}
	if err := g.writeTo(w, g.run); err != nil {
		return nil, err
	}
	return &g.st, nil
}

// writeTo runs run with g.w writing to w, through gzip when the Config
// asks for it, and flushes.
func (g *gen) writeTo(w io.Writer, run func() error) error {
	out := w
	var zw *gzip.Writer
	var fileBW *bufio.Writer
	if g.cfg.Gzip {
		fileBW = bufio.NewWriterSize(w, 1<<20)
		zw = gzip.NewWriter(fileBW)
		out = zw
	}
	g.w = bufio.NewWriterSize(out, 1<<20)
	if err := run(); err != nil {
		return err
	}
	if err := g.w.Flush(); err != nil {
		return fmt.Errorf("benchgen: write: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("benchgen: gzip: %w", err)
		}
		if err := fileBW.Flush(); err != nil {
			return fmt.Errorf("benchgen: write: %w", err)
		}
	}
	return nil
}

func newGen(cfg Config) (*gen, error) {
	if cfg.QPS <= 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.Clients <= 0 {
		cfg.Clients = DefaultClients
	}
	if cfg.IPv6Share == 0 {
		cfg.IPv6Share = 0.1
	}
	if cfg.Loops == 0 && cfg.LoopEvery <= 0 {
		cfg.Loops = DefaultLoops
	}
	if cfg.Unanswered == 0 {
		cfg.Unanswered = 0.005
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	g := &gen{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6a09e667f3bcc908)),
		frame: make([]byte, 0, 1<<16),
		rec:   make([]byte, 0, 32),
	}
	g.zClients = rand.NewZipf(g.rng, 1.2, 1, uint64(cfg.Clients-1))
	g.zNames = rand.NewZipf(g.rng, 1.1, 2, numNames-1)
	g.makeClients()
	if err := g.makeTemplates(); err != nil {
		return nil, err
	}
	g.guard = cfg.LoopClients > 0 || cfg.LoopInterval > 0 || cfg.LoopEvery > 0 || cfg.LoopShare > 0
	g.active = make(map[uint64]int)
	g.tftp = synth.TFTPError(synth.TFTPErrIllegalOp, synth.TFTPMsgRRQFirst)
	g.formerr = synth.FormErr(g.tftp)
	g.planLoops()
	return g, nil
}

func (g *gen) makeClients() {
	ttls := []uint8{49, 52, 54, 57, 58, 60, 113, 117, 120, 243, 248}
	n := g.cfg.Clients
	g.clients = make([]client, 0, n)
	g.seen = make([]bool, n)
	used := make(map[[16]byte]bool, n)
	for len(g.clients) < n {
		var c client
		c.ttl = ttls[g.rng.IntN(len(ttls))]
		if g.rng.Float64() < g.cfg.IPv6Share {
			c.v6 = true
			copy(c.addr[:], []byte{0x20, 0x01, 0x0d, 0xb8})
			binary.BigEndian.PutUint32(c.addr[4:], g.rng.Uint32()&0x0000ffff|0x10000)
			binary.BigEndian.PutUint64(c.addr[8:], g.rng.Uint64())
		} else {
			// A unicast address outside 0/8, 10/8, 127/8 and the server's /24.
			a := g.rng.Uint32()
			if f := a >> 24; f == 0 || f == 10 || f == 127 || f >= 224 || a>>8 == 0xc00002 {
				continue
			}
			c.addr = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).As16()
		}
		if used[c.addr] {
			continue
		}
		used[c.addr] = true
		g.clients = append(g.clients, c)
	}
}

func (g *gen) makeTemplates() error {
	k := 0
	for i, qt := range queryTypes {
		for range qt.w {
			g.types[k] = uint8(i)
			k++
		}
	}
	g.nTypes = len(queryTypes)
	g.tmpls = make([]template, 0, numNames*len(queryTypes)*2)
	for i := range numNames {
		zone := zones[g.rng.IntN(len(zones))]
		var name string
		var kind synth.ResponseKind
		switch r := g.rng.IntN(100); {
		case r < 60:
			name = hostLabels[g.rng.IntN(len(hostLabels))] + "." + zone
			if g.rng.IntN(3) == 0 {
				name = fmt.Sprintf("%s%d.%s", hostLabels[g.rng.IntN(len(hostLabels))], i, zone)
			}
			kind = synth.Answer
		case r < 85:
			name = fmt.Sprintf("%s.shop%d.%s", hostLabels[g.rng.IntN(len(hostLabels))], i, zone)
			kind = synth.Referral
		default:
			name = fmt.Sprintf("nx-%06x.%s", g.rng.Uint32()&0xffffff, zone)
			kind = synth.NXDomain
		}
		for _, qt := range queryTypes {
			for _, edns := range []bool{false, true} {
				q := synth.Query{ID: 1, Name: name, Type: qt.t, EDNS: edns}
				qb, err := synth.DNSQuery(q)
				if err != nil {
					return err
				}
				rb, err := synth.DNSResponse(q, kind, 0)
				if err != nil {
					return err
				}
				// An answer without records of the type asked is NODATA.
				nodata := kind == synth.Answer && binary.BigEndian.Uint16(rb[6:8]) == 0
				g.tmpls = append(g.tmpls, template{query: qb, resp: rb, kind: kind, nodata: nodata, edns: edns})
				if kind == synth.Referral && edns {
					g.referral = append(g.referral, int32(len(g.tmpls)-1))
				}
			}
		}
	}
	if len(g.referral) == 0 {
		return errors.New("benchgen: no referral templates")
	}
	return nil
}

// planLoops chooses the loops' clients, lengths and start times so that
// every loop ends before the capture does.
func (g *gen) planLoops() {
	n := g.cfg.Loops
	if g.cfg.LoopInterval > 0 || g.cfg.LoopEvery > 0 || g.cfg.LoopShare > 0 {
		g.planLoopsScaled()
		return
	}
	if n <= 0 {
		return
	}
	// Expected capture length, ignoring the loops' own packets.
	dur := float64(g.cfg.Packets) / (g.cfg.QPS * (2 - g.cfg.Unanswered)) * 1e9
	for k := range n {
		ls := loopState{
			client:    g.loopClient(),
			port:      uint16(1024 + g.rng.IntN(64512)),
			tmpl:      g.referral[g.rng.IntN(len(g.referral))],
			id:        uint16(g.rng.Uint32()),
			interval:  int64(1000+g.rng.IntN(500)) * 1000,
			reply:     int64(80+g.rng.IntN(120)) * 1000,
			jitterMax: 30_000,
		}
		ls.packets = g.cfg.LoopPackets
		if ls.packets <= 0 {
			ls.packets = 2 * (1000 + g.rng.IntN(1500))
		}
		// Each loop may last at most 35% of the capture and take at most
		// a quarter of its packets between them all.
		limit := int(0.35*dur/float64(ls.interval)) * 2
		limit = min(limit, g.cfg.Packets/(4*n)&^1)
		ls.packets = max(min(ls.packets, limit), 0)
		start := g.cfg.Start.UnixNano() + int64(dur*(0.1+0.5*float64(k)/float64(n)))
		ls.trigger = start
		g.loops = append(g.loops, ls)
		g.push(item{at: start, kind: evLoopQuery, loop: int32(k), client: ls.client, port: ls.port, tmpl: ls.tmpl, id: ls.id})
	}
}

func (g *gen) run() error {
	if err := g.writeFileHeader(); err != nil {
		return err
	}
	start := g.cfg.Start.UnixNano()
	g.st.Start = time.Unix(0, start).UTC()
	meanGap := 1e9 / g.cfg.QPS
	next := start + int64(g.rng.ExpFloat64()*meanGap)
	last := start
	for g.st.Packets < g.cfg.Packets {
		if len(g.queue) > 0 && g.queue[0].at <= next {
			it := g.pop()
			last = it.at
			if err := g.emit(it); err != nil {
				return err
			}
			continue
		}
		last = next
		if err := g.query(next); err != nil {
			return err
		}
		next += int64(g.rng.ExpFloat64() * meanGap)
	}
	g.st.End = time.Unix(0, last).UTC()
	for _, it := range g.queue {
		if it.kind == evAnswer || it.kind == evLoopAnswer {
			g.st.Unanswered++
		}
	}
	for _, s := range g.seen {
		if s {
			g.st.Clients++
		}
	}
	for i, c := range g.clients {
		if c.v6 && g.seen[i] {
			g.st.IPv6Clients++
		}
	}
	for _, ls := range g.loops {
		c := &g.clients[ls.client]
		l := Loop{
			Client:  netip.AddrPortFrom(c.netAddr(), ls.port),
			Server:  netip.AddrPortFrom(g.server(c.v6), 53),
			Trigger: time.Unix(0, ls.trigger).UTC(),
			Packets: ls.written,
		}
		if ls.written > 0 {
			l.First, l.Last = time.Unix(0, ls.first).UTC(), time.Unix(0, ls.last).UTC()
		}
		g.st.Loops = append(g.st.Loops, l)
		g.st.LoopPackets += ls.written
	}
	g.st.Planted = len(g.st.Loops)
	return nil
}

func (c *client) netAddr() netip.Addr {
	a := netip.AddrFrom16(c.addr)
	if !c.v6 {
		return a.Unmap()
	}
	return a
}

func (g *gen) server(v6 bool) netip.Addr {
	if v6 {
		return ServerV6
	}
	return ServerV4
}

// loopClient draws a loop's client (Config.LoopClients).
func (g *gen) loopClient() int32 {
	if n := g.cfg.LoopClients; n > 0 {
		return int32(g.rng.IntN(min(n, len(g.clients))))
	}
	return int32(g.rng.IntN(len(g.clients)))
}

// pickClient draws a client: 40% from a Zipf law over all clients (busy
// resolvers), the rest uniformly.
func (g *gen) pickClient() int32 {
	if g.rng.IntN(10) < 4 {
		return int32(g.zClients.Uint64())
	}
	return int32(g.rng.IntN(len(g.clients)))
}

func (g *gen) query(at int64) error {
	c := g.pickClient()
	name := int(g.zNames.Uint64())
	typ := int(g.types[g.rng.IntN(100)])
	edns := 0
	if g.rng.IntN(10) < 7 {
		edns = 1
	}
	ti := int32((name*g.nTypes+typ)*2 + edns)
	it := item{at: at, client: c, tmpl: ti, port: uint16(1024 + g.rng.IntN(64512)), id: uint16(g.rng.Uint32())}
	for g.guard && g.active[activeKey(c, it.port)] > 0 {
		it.port = uint16(1024 + g.rng.IntN(64512))
	}
	if err := g.write(at, c, it.port, true, g.tmpls[ti].query, it.id); err != nil {
		return err
	}
	g.count(&g.tmpls[ti])
	if g.cfg.Unanswered > 0 && g.rng.Float64() < g.cfg.Unanswered {
		g.st.Unanswered++
		return nil
	}
	it.at += g.answerDelay()
	it.kind = evAnswer
	g.push(it)
	return nil
}

func (g *gen) count(t *template) {
	g.st.Queries++
	if t.edns {
		g.st.EDNS++
	}
	switch {
	case t.kind == synth.Referral:
		g.st.Referrals++
	case t.kind == synth.NXDomain:
		g.st.NXDomain++
	case t.nodata:
		g.st.NoData++
	default:
		g.st.Answers++
	}
}

// answerDelay is 0.2-2 ms.
func (g *gen) answerDelay() int64 { return int64(200_000 + g.rng.IntN(1_800_000)) }

func (g *gen) emit(it item) error {
	c := it.client
	switch it.kind {
	case evAnswer:
		return g.write(it.at, c, it.port, false, g.tmpls[it.tmpl].resp, it.id)
	case evLoopQuery:
		if err := g.write(it.at, c, it.port, true, g.tmpls[it.tmpl].query, it.id); err != nil {
			return err
		}
		g.count(&g.tmpls[it.tmpl])
		it.kind, it.at = evLoopAnswer, it.at+g.answerDelay()
		g.push(it)
		if g.guard {
			g.active[activeKey(c, it.port)]++
		}
	case evLoopAnswer:
		if err := g.write(it.at, c, it.port, false, g.tmpls[it.tmpl].resp, it.id); err != nil {
			return err
		}
		if g.loops[it.loop].packets > 0 {
			// The TFTP server's complaint, 0.3-1 ms after the answer.
			it.kind, it.at = evLoopClient, it.at+int64(300_000+g.rng.IntN(700_000))
			g.push(it)
		} else {
			g.loopDone(c, it.port)
		}
	case evLoopClient, evLoopServer:
		ls := &g.loops[it.loop]
		var err error
		if it.kind == evLoopClient {
			err = g.write(it.at, c, it.port, true, g.tftp, 0)
		} else {
			err = g.write(it.at, c, it.port, false, g.formerr, 0)
		}
		if err != nil {
			return err
		}
		if ls.written == 0 {
			ls.first = it.at
		}
		ls.written++
		ls.last = it.at
		if ls.written >= ls.packets {
			g.loopDone(c, it.port)
			return nil
		}
		jitter := int64(g.rng.IntN(int(ls.jitterMax))) - ls.jitterOff
		if it.kind == evLoopClient {
			it.kind, it.at = evLoopServer, it.at+ls.reply+jitter
		} else {
			it.kind, it.at = evLoopClient, it.at+ls.interval-ls.reply+jitter
		}
		g.push(it)
	}
	return nil
}

func activeKey(c int32, port uint16) uint64 { return uint64(c)<<16 | uint64(port) }

// loopDone frees a finished loop's port for the background.
func (g *gen) loopDone(c int32, port uint16) {
	if !g.guard {
		return
	}
	k := activeKey(c, port)
	if g.active[k]--; g.active[k] <= 0 {
		delete(g.active, k)
	}
}

// ---- the pending queue: a binary min-heap on (at, seq) ----

func (g *gen) push(it item) {
	g.seq++
	it.seq = g.seq
	g.queue = append(g.queue, it)
	g.st.MaxPending = max(g.st.MaxPending, len(g.queue))
	q := g.queue
	for j := len(q) - 1; j > 0; {
		p := (j - 1) / 2
		if !itemLess(&q[j], &q[p]) {
			break
		}
		q[j], q[p] = q[p], q[j]
		j = p
	}
}

func (g *gen) pop() item {
	q := g.queue
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for j := 0; ; {
		l := 2*j + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && itemLess(&q[r], &q[l]) {
			c = r
		}
		if !itemLess(&q[c], &q[j]) {
			break
		}
		q[j], q[c] = q[c], q[j]
		j = c
	}
	g.queue = q
	return top
}

func itemLess(a, b *item) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// ---- frames and records ----

const (
	pcapMagicMicro = 0xa1b2c3d4
	snaplen        = 262144
	linkEthernet   = 1
)

func (g *gen) writeFileHeader() error {
	le := binary.LittleEndian
	var b []byte
	if !g.cfg.Pcapng {
		b = make([]byte, 24)
		le.PutUint32(b[0:], pcapMagicMicro)
		le.PutUint16(b[4:], 2)
		le.PutUint16(b[6:], 4)
		le.PutUint32(b[16:], snaplen)
		le.PutUint32(b[20:], linkEthernet)
	} else {
		// Section header block: no options, section length unknown.
		b = le.AppendUint32(b, 0x0a0d0d0a)
		b = le.AppendUint32(b, 28)
		b = le.AppendUint32(b, 0x1a2b3c4d)
		b = le.AppendUint16(b, 1)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint64(b, math.MaxUint64)
		b = le.AppendUint32(b, 28)
		// Interface description block: Ethernet, default microseconds.
		b = le.AppendUint32(b, 1)
		b = le.AppendUint32(b, 20)
		b = le.AppendUint16(b, linkEthernet)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, snaplen)
		b = le.AppendUint32(b, 20)
	}
	g.st.FileBytes += int64(len(b))
	_, err := g.w.Write(b)
	return err
}

// write builds one Ethernet/IP/UDP frame between client c (port) and the
// server and writes its record. fromClient picks the direction; a nonzero
// id is patched into the payload's first two bytes (the DNS ID).
func (g *gen) write(at int64, ci int32, port uint16, fromClient bool, payload []byte, id uint16) error {
	be := binary.BigEndian
	c := &g.clients[ci]
	f := g.frame[:0]
	srv := g.server(c.v6).As16()
	src, dst := &c.addr, &srv
	sport, dport := port, uint16(53)
	ttl := c.ttl
	if fromClient {
		f = append(f, serverMAC[:]...)
		f = append(f, routerMAC[:]...)
		g.seen[ci] = true
	} else {
		f = append(f, routerMAC[:]...)
		f = append(f, serverMAC[:]...)
		src, dst = dst, src
		sport, dport = dport, sport
		ttl = 64
	}
	udpLen := 8 + len(payload)
	var ipStart, udpStart int
	if c.v6 {
		g.st.IPv6++
		f = be.AppendUint16(f, 0x86dd)
		ipStart = len(f)
		f = be.AppendUint32(f, 0x60000000)
		f = be.AppendUint16(f, uint16(udpLen))
		f = append(f, 17, ttl)
		f = append(f, src[:]...)
		f = append(f, dst[:]...)
	} else {
		f = be.AppendUint16(f, 0x0800)
		ipStart = len(f)
		var ipid uint16
		if fromClient {
			ipid = uint16(g.rng.Uint32())
		} else {
			g.serverID++
			ipid = g.serverID
		}
		f = append(f, 0x45, 0)
		f = be.AppendUint16(f, uint16(20+udpLen))
		f = be.AppendUint16(f, ipid)
		f = append(f, 0, 0, ttl, 17, 0, 0)
		f = append(f, src[12:]...)
		f = append(f, dst[12:]...)
		be.PutUint16(f[ipStart+10:], ^fold(sum(f[ipStart:ipStart+20], 0)))
	}
	udpStart = len(f)
	f = be.AppendUint16(f, sport)
	f = be.AppendUint16(f, dport)
	f = be.AppendUint16(f, uint16(udpLen))
	f = append(f, 0, 0)
	f = append(f, payload...)
	if id != 0 {
		be.PutUint16(f[udpStart+8:], id)
	}
	// UDP checksum over the pseudo-header and the datagram.
	var ps uint64
	if c.v6 {
		ps = sum(f[ipStart+8:ipStart+40], 0) + uint64(udpLen) + 17
	} else {
		ps = sum(f[ipStart+12:ipStart+20], 0) + uint64(udpLen) + 17
	}
	ck := ^fold(sum(f[udpStart:], ps))
	if ck == 0 {
		ck = 0xffff
	}
	be.PutUint16(f[udpStart+6:], ck)
	g.frame = f
	return g.record(at, f)
}

// sum adds b as big-endian 16-bit words to acc.
func sum(b []byte, acc uint64) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v>>48 + v>>32&0xffff + v>>16&0xffff + v&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

func fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

func (g *gen) record(at int64, f []byte) error {
	le := binary.LittleEndian
	us := at / 1000
	r := g.rec[:0]
	n := len(f)
	if !g.cfg.Pcapng {
		r = le.AppendUint32(r, uint32(us/1e6))
		r = le.AppendUint32(r, uint32(us%1e6))
		r = le.AppendUint32(r, uint32(len(f)))
		r = le.AppendUint32(r, uint32(len(f)))
	} else {
		// Enhanced packet block on interface 0.
		pad := -n & 3
		total := uint32(32 + len(f) + pad)
		r = le.AppendUint32(r, 6)
		r = le.AppendUint32(r, total)
		r = le.AppendUint32(r, 0)
		r = le.AppendUint32(r, uint32(uint64(us)>>32))
		r = le.AppendUint32(r, uint32(us))
		r = le.AppendUint32(r, uint32(len(f)))
		r = le.AppendUint32(r, uint32(len(f)))
		// Padding and the trailing length go after the frame.
		f = append(f, 0, 0, 0, 0, 0, 0, 0)[:len(f)+pad]
		f = le.AppendUint32(f, total)
	}
	g.rec = r
	g.st.Packets++
	g.st.Bytes += int64(n)
	g.st.FileBytes += int64(len(r) + len(f))
	g.w.Write(r)
	_, err := g.w.Write(f)
	return err
}
