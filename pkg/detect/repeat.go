package detect

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
)

// RepeatConfig holds the thresholds of the Repeat detector. Zero fields
// take the defaults from DefaultRepeatConfig.
type RepeatConfig struct {
	// Ports are the service ports watched: a flow is watched when either
	// end uses one.
	Ports []uint16
	// Idle is the gap that ends a run of packets.
	Idle time.Duration
	// MinPackets is the packet count a run needs to be reported.
	MinPackets int
	// MinRate is the lowest average packets per second of a reported run:
	// loops run at network round-trip speed.
	MinRate float64
	// MaxFlows caps the flow table.
	MaxFlows int
}

// DefaultRepeatConfig watches the services of CVE-2024-2169 (Loop DoS):
// echo, daytime, QOTD, chargen, time, DNS, TFTP and NTP.
var DefaultRepeatConfig = RepeatConfig{
	Ports:      []uint16{7, 13, 17, 19, 37, 53, 69, 123},
	Idle:       2 * time.Second,
	MinPackets: 50,
	MinRate:    20,
	MaxFlows:   1 << 18,
}

// Repeat finds loops whose start was not captured, or that no trigger
// explains: a sustained back-and-forth on one UDP 5-tuple with a service
// port on one end, where each direction keeps sending the same payload.
// That is what two services answering each other's errors look like;
// request/response traffic carries changing IDs, sequence numbers or
// timestamps and does not match. A run is reported when it has MinPackets
// packets at MinRate or faster, each direction carries at least a quarter
// of them, and one payload makes up at least half of each direction.
//
// Its findings have no trigger. Scan drops those that overlap a loop the
// DNSPong detector found on the same flow, which carries the trigger.
type Repeat struct {
	cfg      RepeatConfig
	ports    [1024]uint64
	flows    *table[repeatFlow]
	loops    []Loop
	now      int64
	counters Counters
}

type payloadCount struct {
	hash  uint64
	count uint64
}

// heavy keeps the two most frequent payload hashes (Misra-Gries, k=2).
type heavy [2]payloadCount

type repeatFlow struct {
	server   int8 // 1: endpoint a, 2: endpoint b
	running  bool
	start    int64
	last     int64
	first    PacketRef
	src, dst netip.AddrPort // of the first packet
	srcIsA   bool           // the first packet came from endpoint a
	packets  [2]uint64
	bytes    [2]uint64
	top      [2]heavy // per direction, Misra-Gries heavy hitters
	ttls     [2]uint8 // first two distinct TTLs from the client
	nttl     uint8
	bucket   int64
	inBucket uint64
	peak     uint64
	payload  [64]byte
	paylen   uint16
	cut      bool
}

var _ Detector = (*Repeat)(nil)

// NewRepeat returns a detector with cfg, defaults filling zero fields.
func NewRepeat(cfg RepeatConfig) *Repeat {
	def := DefaultRepeatConfig
	if len(cfg.Ports) == 0 {
		cfg.Ports = def.Ports
	}
	if cfg.Idle <= 0 {
		cfg.Idle = def.Idle
	}
	if cfg.MinPackets <= 0 {
		cfg.MinPackets = def.MinPackets
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = def.MinRate
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	r := &Repeat{cfg: cfg, flows: newTable[repeatFlow](cfg.MaxFlows)}
	for _, p := range cfg.Ports {
		r.ports[p/64] |= 1 << (p % 64)
	}
	return r
}

// Name implements Detector.
func (r *Repeat) Name() string { return "udp-pong" }

// Counters implements Detector. Only evictions forced by the cap are
// reported: idle evictions are routine here, and the flows are the same
// ones DNSPong counts.
func (r *Repeat) Counters() Counters { return Counters{EvictedCap: r.counters.EvictedCap} }

func (r *Repeat) watched(p uint16) bool { return r.ports[p/64]&(1<<(p%64)) != 0 }

// Observe implements Detector.
func (r *Repeat) Observe(p *Packet) {
	sw, dw := r.watched(p.Src.Port()), r.watched(p.Dst.Port())
	if !sw && !dw {
		return
	}
	if p.Time > r.now {
		r.now = p.Time
		lim := r.now - int64(r.cfg.Idle)
		for i := r.flows.oldest(); i != nilIdx && r.flows.slots[i].last < lim; i = r.flows.oldest() {
			r.evict(i, false)
		}
	}
	key, srcIsA := makeKey(p.Src, p.Dst)
	i := r.flows.get(key)
	if i == nilIdx {
		if r.flows.len() >= r.cfg.MaxFlows {
			r.evict(r.flows.oldest(), true)
		}
		i = r.flows.add(key, p.Time)
		f := &r.flows.slots[i].val
		switch {
		case sw && !dw:
			f.server = side(srcIsA)
		case dw && !sw:
			f.server = side(!srcIsA)
		case p.Src.Port() != p.Dst.Port():
			f.server = side(srcIsA == (p.Src.Port() < p.Dst.Port()))
		default:
			f.server = side(!srcIsA) // the first sender is the client
		}
	} else {
		r.flows.touch(i, p.Time)
	}
	f := &r.flows.slots[i].val
	if f.running && p.Time-f.last >= int64(r.cfg.Idle) {
		r.close(f)
	}
	dir := 0 // 0: client to server, 1: server to client
	if f.server == side(srcIsA) {
		dir = 1
	}
	if !f.running {
		*f = repeatFlow{server: f.server, running: true, start: p.Time, first: p.Ref, src: p.Src, dst: p.Dst, srcIsA: srcIsA}
		f.paylen = uint16(copy(f.payload[:], p.Payload))
		f.cut = p.Cut || len(p.Payload) > len(f.payload)
	}
	if p.Time > f.last {
		f.last = p.Time
	}
	f.packets[dir]++
	f.bytes[dir] += uint64(p.WireLen)
	f.top[dir].add(payloadHash(p.Payload))
	if dir == 0 && f.nttl < 3 && (f.nttl == 0 || f.ttls[0] != p.TTL) && (f.nttl < 2 || f.ttls[1] != p.TTL) {
		if f.nttl < 2 {
			f.ttls[f.nttl] = p.TTL
		}
		f.nttl++
	}
	b := max(p.Time-f.start, 0) / int64(time.Second)
	if b != f.bucket {
		f.bucket, f.inBucket = b, 0
	}
	f.inBucket++
	f.peak = max(f.peak, f.inBucket)
}

func (t *heavy) add(h uint64) {
	for k := range t {
		if t[k].count > 0 && t[k].hash == h {
			t[k].count++
			return
		}
	}
	for k := range t {
		if t[k].count == 0 {
			t[k] = payloadCount{h, 1}
			return
		}
	}
	t[0].count--
	t[1].count--
}

// payloadHash is FNV-1a over the first 256 bytes and the length.
func payloadHash(b []byte) uint64 {
	h := uint64(14695981039346656037) ^ uint64(len(b))
	for _, c := range b[:min(len(b), 256)] {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (r *Repeat) close(f *repeatFlow) {
	f.running = false
	n := f.packets[0] + f.packets[1]
	d := float64(f.last-f.start) / 1e9
	switch {
	case n < uint64(r.cfg.MinPackets) || d <= 0 || float64(n)/d < r.cfg.MinRate:
		return
	case 4*min(f.packets[0], f.packets[1]) < n:
		return
	}
	for dir := range 2 {
		best := max(f.top[dir][0].count, f.top[dir][1].count)
		// Misra-Gries undercounts by at most n/3: demand a clear majority.
		if 2*best < f.packets[dir] {
			return
		}
	}
	src, dst := f.src, f.dst
	client, server := src, dst
	if f.server == side(f.srcIsA) {
		client, server = dst, src
	}
	l := Loop{
		Detector: r.Name(), Client: client, Server: server,
		Start: f.start, End: f.last, Packets: n, Bytes: f.bytes[0] + f.bytes[1],
		ClientToServer: Direction{f.packets[0], f.bytes[0]},
		ServerToClient: Direction{f.packets[1], f.bytes[1]},
		PeakPPS:        f.peak,
		Payload:        append([]byte(nil), f.payload[:f.paylen]...),
		PayloadCut:     f.cut,
		FirstNonDNS:    PacketInfo{Ref: f.first, Time: f.start, Src: src, Dst: dst},
	}
	l.PayloadInfo = decode.ClassifyPayload(l.Payload)
	l.FirstNonDNS.Summary = l.PayloadInfo.Summary
	var info decode.DNSInfo
	if decode.ClassifyDNS(l.Payload, l.PayloadCut, decode.HeaderQuestion, &info) == decode.DNS {
		l.FirstNonDNS.Summary = "DNS message (first packet of the loop)"
	}
	for k := 0; k < int(min(f.nttl, 2)); k++ {
		l.ClientTTLs = append(l.ClientTTLs, int(f.ttls[k]))
	}
	l.TTLsCapped = f.nttl > 2
	slices.Sort(l.ClientTTLs)
	r.loops = append(r.loops, l)
}

func (r *Repeat) evict(i int32, full bool) {
	if f := &r.flows.slots[i].val; f.running {
		r.close(f)
	}
	r.flows.remove(i)
	if full {
		r.counters.EvictedCap++
	} else {
		r.counters.Evicted++
	}
}

// Finish implements Detector.
func (r *Repeat) Finish(end int64) []Loop {
	for i := range r.flows.slots {
		if f := &r.flows.slots[i].val; f.running {
			r.close(f)
		}
	}
	for i := range r.loops {
		r.loops[i].Ongoing = end-r.loops[i].End < int64(r.cfg.Idle)
	}
	sort.SliceStable(r.loops, func(i, j int) bool { return r.loops[i].Start < r.loops[j].Start })
	return r.loops
}
