package detect

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pongscan/pongscan/pkg/decode"
)

// DNSPongConfig holds the DNS pong detector's thresholds. The zero value of
// a field takes the default from DefaultDNSPongConfig.
type DNSPongConfig struct {
	// DNSPorts are the server ports that make a UDP flow DNS traffic.
	DNSPorts []uint16
	// MaxDelay is the longest gap between the trigger response and the
	// first non-DNS packet from the client.
	MaxDelay time.Duration
	// Idle is the gap that ends a loop.
	Idle time.Duration
	// MinPackets is the packet count at which a loop is reported; shorter
	// ones are bounces.
	MinPackets int
	// MaxFlows caps the flow table; the flow expiring soonest is evicted
	// when it is full.
	MaxFlows int
	// FlowTimeout is how long a flow with unanswered queries is kept
	// without traffic. Other flows go after Idle.
	FlowTimeout time.Duration
	// Runs holds the thresholds for loops without a captured trigger: on
	// DNS flows, a run of packets that meets them is a loop only when it
	// began within Idle of the start of the input (the loop may have
	// started before the capture did), its first client packet is not DNS,
	// and no triggered loop covers it.
	Runs RunConfig
	// NoRuns turns off loops without a trigger.
	NoRuns bool
}

// DefaultDNSPongConfig holds the documented defaults.
var DefaultDNSPongConfig = DNSPongConfig{
	DNSPorts:    []uint16{53},
	MaxDelay:    500 * time.Millisecond,
	Idle:        2 * time.Second,
	MinPackets:  10,
	MaxFlows:    1 << 18,
	FlowTimeout: 5 * time.Second,
	Runs:        DefaultRunConfig,
}

// pendingCap is how many unanswered queries a flow remembers; a busier
// fixed-port resolver overwrites its oldest.
const pendingCap = 4

// ref packs a PacketRef into 8 bytes: 16 bits of source, 48 of frame.
type ref uint64

func mkref(r PacketRef) ref { return ref(uint64(r.Source)<<48 | r.Frame&(1<<48-1)) }
func (r ref) unpack() PacketRef {
	return PacketRef{Source: int(r >> 48), Frame: uint64(r) & (1<<48 - 1)}
}

type pending struct {
	at    ref
	time  int64
	id    uint16
	qtype uint16
	qhash uint32
}

type answered struct {
	query, resp         ref
	queryTime, respTime int64
	id, qtype           uint16
	rcode               uint8
	ok                  bool
	name                uint64 // sequence number in the name ring
}

type flowState struct {
	loop     *loopState
	runLast  int64 // time of the current run's last packet
	runIdx   int32 // 1 + index of the current run's statistics in DNSPong.runs; 0 when untracked
	server   int8  // 0 unknown, 1 endpoint a is the server, 2 endpoint b
	npending uint8
	next     uint8
	// runOpen: a run that began within Idle of the start of the input is
	// in progress. It could still be a loop without a trigger (or, with
	// its statistics dropped, it must stay whole so that a later packet
	// does not begin one), so the flow is kept for Idle after its last
	// packet. Later runs can never qualify and are not followed at all.
	runOpen bool
	runTrig bool // a triggered loop started during the current run

	more int32 // 1 + index in DNSPong.more of pending queries 1 to 3; 0 when at most one waits
	ans  answered
	p0   pending // the first pending query: most flows never have a second
}

// reset readies a recycled slot: only the fields read before being written.
func (f *flowState) reset() {
	f.server, f.npending, f.next, f.more = 0, 0, 0, 0
	f.runOpen, f.runTrig, f.runIdx = false, false, 0
	f.ans.ok = false
	f.loop = nil
}

// runStats are the statistics of a run that may become a loop without a
// trigger, with a sample of the client's payload.
type runStats struct {
	run
	sampled bool
	sample  []byte
	cut     bool
}

type loopState struct {
	l        Loop
	clientIs int8 // 1 if endpoint a is the client, 2 if b
	last     int64
	bucket   int64
	inBucket uint64
	ttls     []int
}

// DNSPong detects machine pong on DNS: a genuine query from C:p to S:53,
// S's matching answer, then, within MaxDelay, a packet from C:p to S:53
// that is not DNS; the loop is the back-and-forth on that 5-tuple from
// that packet on, until a gap of Idle.
//
// It also reports loops on DNS flows whose start was not captured (see
// RunConfig); those have no trigger.
//
// Per packet it looks up one flow and parses the DNS header and first
// question; only a client packet arriving on a flow armed by a fresh answer
// is parsed in full. Query names are kept in a ring of recent answers, so a
// trigger's name is reported unless more than 32768 answers arrived between
// it and the loop's first packet.
type DNSPong struct {
	cfg                  DNSPongConfig
	ports                [1024]uint64 // bitmap of DNS ports
	flows                *table[flowState]
	names                nameRing
	loops                []Loop
	runLoops             []Loop
	runs                 []runStats                // runs that may become loops without a trigger
	runFree              []int32                   // indexes of unused entries of runs
	more                 [][pendingCap - 1]pending // pending queries after a flow's first
	moreFree             []int32                   // indexes of unused entries of more
	now                  int64
	ticking              bool  // now holds a packet time (times may be negative)
	first                int64 // time of the first packet seen
	started              bool
	counters             Counters
	info                 decode.DNSInfo
	evictIdle, evictFull func(int32)
}

type sample struct {
	b   []byte
	cut bool
}

var _ Detector = (*DNSPong)(nil)

// NewDNSPong returns a detector with cfg, defaults filling zero fields.
func NewDNSPong(cfg DNSPongConfig) *DNSPong {
	def := DefaultDNSPongConfig
	if len(cfg.DNSPorts) == 0 {
		cfg.DNSPorts = def.DNSPorts
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = def.MaxDelay
	}
	if cfg.Idle <= 0 {
		cfg.Idle = def.Idle
	}
	if cfg.MinPackets <= 0 {
		cfg.MinPackets = def.MinPackets
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	if cfg.FlowTimeout <= 0 {
		cfg.FlowTimeout = def.FlowTimeout
	}
	cfg.FlowTimeout = max(cfg.FlowTimeout, cfg.Idle, cfg.MaxDelay)
	cfg.Runs = cfg.Runs.withDefaults()
	d := &DNSPong{cfg: cfg, flows: newTable[flowState](cfg.MaxFlows, int64(cfg.FlowTimeout))}
	for _, p := range cfg.DNSPorts {
		d.ports[p/64] |= 1 << (p % 64)
	}
	d.evictIdle = func(i int32) { d.evict(i, false) }
	d.evictFull = func(i int32) { d.evict(i, true) }
	return d
}

// Name implements Detector.
func (d *DNSPong) Name() string { return "dns-pong" }

// SetStart tells the detector when the input began (its first packet of
// any kind); otherwise the first packet it observes stands in.
func (d *DNSPong) SetStart(t int64) { d.first, d.started = t, true }

// Config is the configuration in force, defaults filled in.
func (d *DNSPong) Config() DNSPongConfig { return d.cfg }

// Counters implements Detector.
func (d *DNSPong) Counters() Counters { return d.counters }

func (d *DNSPong) isDNSPort(p uint16) bool { return d.ports[p/64]&(1<<(p%64)) != 0 }

// Observe implements Detector.
func (d *DNSPong) Observe(p *Packet) {
	sdns, ddns := d.isDNSPort(p.Src.Port()), d.isDNSPort(p.Dst.Port())
	if !sdns && !ddns {
		return
	}
	if !d.started {
		d.first, d.started = p.Time, true
	}
	if p.Time > d.now || !d.ticking {
		d.now, d.ticking = p.Time, true
		d.flows.advance(d.now, d.evictIdle)
	}
	key, srcIsA := p.flow()
	i := d.flows.get(key)
	if i == nilIdx {
		if d.flows.len() >= d.cfg.MaxFlows {
			d.flows.evictSoonest(d.evictFull)
		}
		i = d.flows.add(key, p.Time+int64(d.cfg.MaxDelay)) // the shortest keep: one timer for most flows
		d.counters.Flows++
		f := &d.flows.slot(i).val
		f.reset()
		switch {
		case sdns && !ddns:
			f.server = side(srcIsA)
		case ddns && !sdns:
			f.server = side(!srcIsA)
		}
	}
	f := &d.flows.slot(i).val
	d.observe(i, f, p, srcIsA)
	d.flows.setExpiry(i, d.expiry(f, p.Time))
}

// expiry is when f may be forgotten if nothing more arrives: MaxDelay
// after its last packet (an answer arms it for that long); Idle while a
// loop runs or while a run that began at the start of the input goes on
// (it must stay whole, so that a late non-DNS packet is never taken for
// the start of a run); FlowTimeout while queries wait for answers.
//
// A flow forgotten after MaxDelay and seen again is a new flow. That
// changes no finding: it holds no armed answer, no loop, and no run that
// could qualify (runs only qualify at the start of the input).
func (d *DNSPong) expiry(f *flowState, now int64) int64 {
	keep := d.cfg.MaxDelay
	if f.loop != nil || f.runOpen {
		keep = max(keep, d.cfg.Idle)
	}
	if f.npending > 0 {
		keep = max(keep, d.cfg.FlowTimeout)
	}
	return now + int64(keep)
}

func (d *DNSPong) observe(i int32, f *flowState, p *Packet, srcIsA bool) {
	if f.runOpen && p.Time-f.runLast >= int64(d.cfg.Idle) {
		d.closeRun(i, f)
	}
	if f.loop != nil {
		if p.Time-f.loop.last >= int64(d.cfg.Idle) {
			d.closeLoop(f)
		} else {
			v := d.classify(p, HeaderQuestionDepth)
			d.extendLoop(f.loop, p, srcIsA)
			d.addRun(f, p, srcIsA, v != decode.NotDNS)
			return
		}
	}

	depth := HeaderQuestionDepth
	armed := f.ans.ok && p.Time-f.ans.respTime <= int64(d.cfg.MaxDelay) && p.Time >= f.ans.respTime
	// Which side sent it? Unknown only for flows with DNS ports on both
	// sides until the first query or answer tells.
	fromClient := f.server != 0 && f.server != side(srcIsA)
	if armed && fromClient {
		depth = FullDepth
	}
	v := d.classify(p, depth)
	info := &d.info
	switch v {
	case decode.DNS, decode.Truncated:
		if v == decode.Truncated && !info.HasQuestion {
			break
		}
		if f.server == 0 {
			// Both ports are DNS ports: a query goes to the server.
			f.server = side(srcIsA == info.Response)
			fromClient = !info.Response
		}
		if !info.Response && fromClient && info.HasQuestion {
			d.addPending(f, pending{at: mkref(p.Ref), time: p.Time, id: info.ID, qtype: info.QType, qhash: uint32(info.QHash)})
		} else if info.Response && !fromClient && info.HasQuestion {
			if q, ok := d.takePending(f, info.ID, uint32(info.QHash), info.QType); ok {
				f.ans = answered{
					query: q.at, queryTime: q.time, resp: mkref(p.Ref), respTime: p.Time,
					id: info.ID, qtype: info.QType, rcode: info.RCode, ok: true,
					name: d.names.put(&info.QName),
				}
			}
		}
	case decode.NotDNS:
		if armed && fromClient {
			d.startLoop(f, p, srcIsA)
			f.runTrig = true
		}
	}
	d.addRun(f, p, srcIsA, v != decode.NotDNS)
}

// addRun counts p in the flow's current run, for loops without a trigger.
// Only a run that began within Idle of the start of the input can become
// one, and only while its first client packet is not DNS and no triggered
// loop started in it: statistics are kept for such runs alone, so most
// flows never carry them.
func (d *DNSPong) addRun(f *flowState, p *Packet, srcIsA, isDNS bool) {
	if d.cfg.NoRuns || f.server == 0 {
		return
	}
	if !f.runOpen {
		if p.Time-d.first >= int64(d.cfg.Idle) {
			return // too late to begin a loop without a trigger
		}
		f.runOpen, f.runTrig, f.runLast = true, false, p.Time
		f.runIdx = d.newRun()
	}
	f.runLast = max(f.runLast, p.Time)
	if f.runIdx == 0 {
		return
	}
	r := &d.runs[f.runIdx-1]
	dir := 0
	if f.server == side(srcIsA) {
		dir = 1
	}
	r.add(p, dir, srcIsA, isDNS)
	if f.runTrig || r.clientSeen && r.clientDNS {
		d.dropRun(f) // it can no longer be a loop without a trigger
		return
	}
	if dir == 0 && !r.sampled && r.packets() > 2 {
		// A run worth watching: keep the client's payload for the report.
		n := min(len(p.Payload), MaxPayload)
		r.sample = append(r.sample[:0], p.Payload[:n]...)
		r.cut, r.sampled = p.Cut || n < len(p.Payload), true
	}
}

// newRun returns 1 + the index of fresh run statistics.
func (d *DNSPong) newRun() int32 {
	var k int32
	if n := len(d.runFree); n > 0 {
		k = d.runFree[n-1]
		d.runFree = d.runFree[:n-1]
	} else {
		d.runs = append(d.runs, runStats{})
		k = int32(len(d.runs) - 1)
	}
	r := &d.runs[k]
	r.pkts, r.sampled = [2]uint32{}, false
	return k + 1
}

// dropRun stops tracking f's run statistics; the run itself goes on.
func (d *DNSPong) dropRun(f *flowState) {
	if f.runIdx != 0 {
		d.runFree = append(d.runFree, f.runIdx-1)
		f.runIdx = 0
	}
}

// closeRun ends f's current run, filing it as a loop without a trigger
// when it qualifies.
func (d *DNSPong) closeRun(i int32, f *flowState) {
	if f.runIdx != 0 {
		r := &d.runs[f.runIdx-1]
		if !f.runTrig && r.clientSeen && !r.clientDNS && r.qualifies(d.cfg.Runs) {
			k := d.flows.slot(i).key
			var sample []byte
			if r.sampled {
				sample = r.sample
			}
			d.runLoops = append(d.runLoops, r.loop(d.Name(), &k, f.server == 1, sample, r.sampled && r.cut))
		}
		d.dropRun(f)
	}
	f.runOpen, f.runTrig = false, false
}

// Depths, named here so Observe reads plainly.
const (
	HeaderQuestionDepth = decode.HeaderQuestion
	FullDepth           = decode.Full
)

func side(a bool) int8 {
	if a {
		return 1
	}
	return 2
}

func (d *DNSPong) classify(p *Packet, depth decode.Depth) decode.DNSVerdict {
	v := decode.ClassifyDNS(p.Payload, p.Cut, depth, &d.info)
	switch v {
	case decode.DNS:
		d.counters.DNSMessages++
	case decode.NotDNS:
		d.counters.NonDNS++
	default:
		d.counters.Truncated++
	}
	return v
}

// pend is the k-th pending query of f: the first lives in the slot, the
// others (a fixed-port resolver's) in d.more.
func (d *DNSPong) pend(f *flowState, k int) *pending {
	if k == 0 {
		return &f.p0
	}
	return &d.more[f.more-1][k-1]
}

func (d *DNSPong) addPending(f *flowState, q pending) {
	if f.npending < pendingCap {
		if f.npending == 1 && f.more == 0 {
			f.more = d.newMore()
		}
		*d.pend(f, int(f.npending)) = q
		f.npending++
		return
	}
	*d.pend(f, int(f.next)) = q // overwrite the oldest
	f.next = (f.next + 1) % pendingCap
}

func (d *DNSPong) takePending(f *flowState, id uint16, qhash uint32, qtype uint16) (pending, bool) {
	// Newest first: a retransmitted query is answered for its last copy.
	for k := int(f.npending) - 1; k >= 0; k-- {
		q := *d.pend(f, k)
		if q.id == id && q.qhash == qhash && q.qtype == qtype {
			for j := k; j+1 < int(f.npending); j++ {
				*d.pend(f, j) = *d.pend(f, j+1)
			}
			f.npending--
			f.next = 0
			if f.npending <= 1 {
				d.freeMore(f)
			}
			return q, true
		}
	}
	return pending{}, false
}

func (d *DNSPong) newMore() int32 {
	if n := len(d.moreFree); n > 0 {
		k := d.moreFree[n-1]
		d.moreFree = d.moreFree[:n-1]
		return k + 1
	}
	d.more = append(d.more, [pendingCap - 1]pending{})
	return int32(len(d.more))
}

func (d *DNSPong) freeMore(f *flowState) {
	if f.more != 0 {
		d.moreFree = append(d.moreFree, f.more-1)
		f.more = 0
	}
}

func (d *DNSPong) startLoop(f *flowState, p *Packet, srcIsA bool) {
	a := f.ans
	ls := &loopState{clientIs: side(srcIsA), last: p.Time}
	l := &ls.l
	l.Detector = d.Name()
	l.HasTrigger = true
	l.Client, l.Server = p.Src, p.Dst
	l.Start = p.Time
	l.QueryID, l.QType, l.RCode = a.id, a.qtype, a.rcode
	if name, ok := d.names.get(a.name); ok {
		l.QName = name
	}
	l.Query = PacketInfo{Ref: a.query.unpack(), Time: a.queryTime, Src: p.Src, Dst: p.Dst,
		Summary: fmt.Sprintf("Standard query 0x%04x %s %s", a.id, decode.TypeName(a.qtype), nameOrUnknown(l.QName))}
	l.Response = PacketInfo{Ref: a.resp.unpack(), Time: a.respTime, Src: p.Dst, Dst: p.Src,
		Summary: fmt.Sprintf("Standard query response 0x%04x %s %s %s", a.id, decode.TypeName(a.qtype), nameOrUnknown(l.QName), decode.RCodeName(a.rcode))}
	n := min(len(p.Payload), MaxPayload)
	l.Payload = append([]byte(nil), p.Payload[:n]...)
	l.PayloadCut = p.Cut || n < len(p.Payload)
	l.PayloadInfo = decode.ClassifyPayload(l.Payload)
	l.FirstNonDNS = PacketInfo{Ref: p.Ref, Time: p.Time, Src: p.Src, Dst: p.Dst, Summary: l.PayloadInfo.Summary}
	l.FirstPacket = l.FirstNonDNS
	l.DelayNanos = p.Time - a.respTime
	f.loop = ls
	f.ans.ok = false
	d.extendLoop(ls, p, srcIsA)
}

func nameOrUnknown(n string) string {
	if n == "" {
		return "<name no longer known>"
	}
	return n
}

func (d *DNSPong) extendLoop(ls *loopState, p *Packet, srcIsA bool) {
	l := &ls.l
	t := p.Time
	if t > ls.last {
		ls.last = t
	}
	if t > l.End {
		l.End = t
	}
	l.Packets++
	l.Bytes += uint64(p.WireLen)
	if side(srcIsA) == ls.clientIs {
		l.ClientToServer.Packets++
		l.ClientToServer.Bytes += uint64(p.WireLen)
		if !slices.Contains(ls.ttls, int(p.TTL)) {
			if len(ls.ttls) < 16 {
				ls.ttls = append(ls.ttls, int(p.TTL))
			} else {
				l.TTLsCapped = true
			}
		}
	} else {
		l.ServerToClient.Packets++
		l.ServerToClient.Bytes += uint64(p.WireLen)
	}
	b := max(t-l.Start, 0) / int64(time.Second)
	if b != ls.bucket {
		ls.bucket, ls.inBucket = b, 0
	}
	ls.inBucket++
	if ls.inBucket > l.PeakPPS {
		l.PeakPPS = ls.inBucket
	}
}

// closeLoop ends f's loop and files it as a loop or a bounce.
func (d *DNSPong) closeLoop(f *flowState) {
	ls := f.loop
	f.loop = nil
	l := ls.l
	switch {
	case l.Packets < uint64(d.cfg.MinPackets):
		d.counters.Bounces++
	case 4*min(l.ClientToServer.Packets, l.ServerToClient.Packets) < l.Packets:
		// Not back-and-forth: one side talks, the other barely answers.
		d.counters.OneSided++
	default:
		l.ClientTTLs = ls.ttls
		sort.Ints(l.ClientTTLs)
		d.loops = append(d.loops, l)
	}
}

func (d *DNSPong) evict(i int32, full bool) {
	f := &d.flows.slot(i).val
	if f.loop != nil {
		d.closeLoop(f)
	}
	d.closeRun(i, f)
	d.freeMore(f)
	d.flows.remove(i)
	if full {
		d.counters.EvictedCap++
	} else {
		d.counters.Evicted++
	}
}

// Finish implements Detector. Loops with a trigger come first, then loops
// without one, each sorted by start.
func (d *DNSPong) Finish(end int64) []Loop {
	for c := range d.flows.chunks {
		for j := range d.flows.chunks[c] {
			s := &d.flows.chunks[c][j]
			if !s.live() {
				continue
			}
			if s.val.loop != nil {
				d.closeLoop(&s.val)
			}
			d.closeRun(int32(c<<chunkShift+j), &s.val)
		}
	}
	byStart := func(ls []Loop) {
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].Start < ls[j].Start })
	}
	byStart(d.loops)
	byStart(d.runLoops)
	out := append(d.loops, d.runLoops...)
	for i := range out {
		out[i].Ongoing = end-out[i].End < int64(d.cfg.Idle)
	}
	return out
}

// nameRing keeps the question names of recent answers so a loop can report
// its trigger's name without every flow storing one.
type nameRing struct {
	names []dnsmessage.Name
	seqs  []uint64
	next  uint64
}

// nameRingSize names kept: 8 MiB, allocated at the first answer, enough
// for 65k answers a second under the default 500 ms max-delay.
const nameRingSize = 1 << 15

func (r *nameRing) put(n *dnsmessage.Name) uint64 {
	r.next++
	seq := r.next
	if r.names == nil {
		r.names = make([]dnsmessage.Name, nameRingSize)
		r.seqs = make([]uint64, nameRingSize)
	}
	k := (seq - 1) % nameRingSize
	r.names[k], r.seqs[k] = *n, seq
	return seq
}

func (r *nameRing) get(seq uint64) (string, bool) {
	k := (seq - 1) % nameRingSize
	if seq == 0 || k >= uint64(len(r.seqs)) || r.seqs[k] != seq {
		return "", false
	}
	n := &r.names[k]
	return string(n.Data[:min(int(n.Length), len(n.Data))]), true
}
