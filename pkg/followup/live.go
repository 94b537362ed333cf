package followup

import (
	"net/netip"
	"runtime/debug"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
	"github.com/pongscan/pongscan/pkg/scan"
)

// The rate-limiting what-if replayed in the scan itself (detect.WhatIf):
// no second read of the inputs, whatever the loop's length. The scan
// routes every flow between a server and a client prefix to one shard
// (scan.Options.WhatIf), so a shard sees all of a unit's responses in
// order.
//
// The DNS detector of a shard tells its front (liveFront) of every DNS
// response and of the loops it opens and ends; the front hands these
// events, in order, to the shard's engine (Live).
//
// The engine keeps every response in a ring of the shard's latest
// (liveRec, 64 bytes, at most ringMax of them: Lookback of traffic
// unless the shard sees more than 4,400 responses a second; fewer under a
// small memory limit, see ringCap). When a loop
// opens, a unit of its own replays the ring's records of its server and
// client prefix from Lookback before the loop's earliest packet, then
// decides each of their responses as it comes, and the loop's judge takes
// the decisions on its own responses (a loop's replay is its own, as in
// the second read: see unit.go). When the loop ends, its unit goes. When
// the ring no longer holds a loop's lookback, the loop's what-if is left
// to the second read (its result holds no verdicts).

// ringMax bounds the records an engine keeps (64 bytes each: at most
// 16.8 MB), fewer under a small memory limit (ringCap, at least ringMin);
// headBits sizes the hash of units.
const (
	ringMax  = 1 << 18
	ringMin  = 1 << 12
	headBits = 16
)

// liveRec is a response in the ring: a loop that opens within Lookback
// replays it.
//
// It is one cache line: its unit is told by the low 32 bits of the
// unit's hash (the high bits chose its chain), its question class by its
// low byte, all BIND keys it by.
type liveRec struct {
	time   int64
	ref    uint64 // packed: input << detect.RefFrameBits | frame
	client words
	qname  uint64
	zone   uint64
	uhash  uint32
	prev   uint32 // records back to the unit hash's previous record; 0 none
	cport  uint16
	qtype  uint16
	qclass uint8
	kind   rrl.Kind
	rcode  uint8
	unpars bool
}

func packRef(r detect.PacketRef) uint64 {
	return uint64(r.Source)<<detect.RefFrameBits | r.Frame&(1<<detect.RefFrameBits-1)
}
func unpackRef(v uint64) detect.PacketRef {
	return detect.PacketRef{Source: int(v >> detect.RefFrameBits), Frame: v & (1<<detect.RefFrameBits - 1)}
}

// respFields are a response's rrl.Response fields but its time and
// client.
type respFields struct {
	kind          rrl.Kind
	rcode         uint8
	unparsed      bool
	qtype, qclass uint16
	qname, zone   uint64
}

func (f *respFields) response(t int64, client netip.Addr) rrl.Response {
	return rrl.Response{Time: t, Client: client, Kind: f.kind, RCode: f.rcode, QType: f.qtype, QClass: f.qclass,
		QName: f.qname, Zone: f.zone, Unparsed: f.unparsed}
}

// Event kinds.
const (
	evResponse uint8 = iota
	evStart
	evEnd
	evGap    // the front stops handing over responses (time: from when)
	evNoGap  // and hands them over again (time: from when)
	evRepeat // a response of loop h like its last (f.unparsed only is set)
)

// satRate is the most responses a second a ring of max records holds a
// minute of (max / Lookback). A shard busier than that cannot replay a
// loop's lookback from its ring: while no loop is open there, its front
// stops handing responses over (they cost the scan for nothing), and the
// loops that open then go to the second read.
func satRate(max uint64) int { return int(max / 60) }

// ringCap is the most records a shard's ring may grow to under the Go
// memory limit in force (debug.SetMemoryLimit, set from a cgroup's limit
// or RLIMIT_AS, or GOMEMLIMIT): a sixteenth of it, so that eight shards'
// rings take half, and the scan itself the rest. Under a small limit the
// ring holds less than Lookback of a busy shard, and its loops go to the
// second read, which is exact and holds no responses: the what-if costs
// time there, not memory.
func ringCap() uint64 {
	limit := debug.SetMemoryLimit(-1)
	n := uint64(ringMax)
	if limit > 0 && uint64(limit)/16/64 < n {
		n = uint64(limit) / 16 / 64
	}
	c := uint64(ringMin)
	for c*2 <= n {
		c *= 2
	}
	return c
}

// liveEvent is what a front hands its engine.
type liveEvent struct {
	kind      uint8
	firstResp bool // evStart: the first packet came from the server
	reported  bool // evEnd
	h         int32
	time      int64 // evResponse: its time; evStart: the first packet's; evEnd: the loop's last packet's
	from      int64 // evStart: the loop's earliest packet; evEnd: its first
	ref       uint64
	answer    uint64 // evStart: the trigger's answer, 0 none
	server    words
	client    words
	sport     uint16
	cport     uint16
	f         respFields
	res       *liveResult // evEnd, when reported
}

// liveResult is where a reported loop's verdicts go (detect.Loop.WhatIf):
// filled when the engine has judged the loop, before the scan returns.
type liveResult struct{ rrl *report.RRL }

// RRL is the loop's what-if; nil when the second read must replay it.
func (r *liveResult) RRL() *report.RRL { return r.rrl }

// liveFront is a shard's detect.WhatIf: it turns the detector's calls into
// events for the engine, on the shard's goroutine (an engine of its own
// beside each shard was tried: the two cores are busy with the feed and
// the shards already, and it cost more CPU than it saved).
type liveFront struct {
	lv    *Live
	nextH int32
	freeH []int32
	open  int // loops open (started, not ended)
	// The responses of the current second of capture time, and whether
	// the last whole second had more than satRate.
	sec      int64
	secCount int
	sat      bool
	// The last response's endpoints and their words.
	lastServer, lastClient netip.AddrPort
	sw, cw                 words
}

var _ detect.WhatIf = (*liveFront)(nil)

// LiveWhatIf makes a shard's what-if (scan.Options.WhatIf).
func LiveWhatIf(info scan.ObserveInfo) detect.WhatIf {
	return &liveFront{lv: NewLive(info.Inputs)}
}

// push hands ev to the engine.
func (fr *liveFront) push(ev liveEvent) { fr.lv.handle(&ev) }

func (fr *liveFront) endpoints(server, client netip.AddrPort) {
	if server != fr.lastServer || client != fr.lastClient {
		fr.lastServer, fr.lastClient = server, client
		fr.sw, fr.cw = addrWords(server.Addr()), addrWords(client.Addr())
	}
}

// Response implements detect.WhatIf.
func (fr *liveFront) Response(r *detect.WhatIfResponse) {
	if s := r.Time / 1e9; s != fr.sec {
		fr.second(s, r.Time)
	}
	fr.secCount++
	if fr.sat && fr.open == 0 && r.Loop == 0 {
		return
	}
	fr.endpoints(r.Server, r.Client)
	ev := liveEvent{kind: evResponse, h: r.Loop, time: r.Time, ref: packRef(r.Ref), server: fr.sw, client: fr.cw,
		sport: r.Server.Port(), cport: r.Client.Port()}
	info := r.Info
	ev.f = respFields{kind: rrl.Classify(info.RCode, r.AA, r.Answers), rcode: info.RCode, unparsed: r.Unparsed,
		qtype: info.QType, qclass: info.QClass}
	if info.HasQuestion {
		ev.f.qname, ev.f.zone = rrl.NameKeys(info.QName.Data[:info.QName.Length])
	}
	fr.push(ev)
}

// Repeat implements detect.WhatIf.
func (fr *liveFront) Repeat(h int32, t int64, ref detect.PacketRef, unparsed bool) {
	if s := t / 1e9; s != fr.sec {
		fr.second(s, t)
	}
	fr.secCount++
	fr.push(liveEvent{kind: evRepeat, h: h, time: t, ref: packRef(ref), f: respFields{unparsed: unparsed}})
}

// second moves to second s of capture time, at t: a second busier than
// satRate, when the ring can no longer hold Lookback, stops the responses
// from being handed over while no loop is open; one under half of it
// hands them over again.
func (fr *liveFront) second(s, t int64) {
	switch {
	case !fr.sat && fr.secCount > satRate(fr.lv.max) && s == fr.sec+1 && fr.lv.short(t):
		fr.sat = true
		fr.push(liveEvent{kind: evGap, time: t})
	case fr.sat && (fr.secCount < satRate(fr.lv.max)/2 || s != fr.sec+1):
		fr.sat = false
		fr.push(liveEvent{kind: evNoGap, time: t})
	}
	fr.sec, fr.secCount = s, 0
}

// Start implements detect.WhatIf.
func (fr *liveFront) Start(client, server netip.AddrPort, first detect.PacketRef, firstTime int64, firstFromServer bool,
	answer detect.PacketRef, from int64) int32 {
	var h int32
	if n := len(fr.freeH); n > 0 {
		h = fr.freeH[n-1]
		fr.freeH = fr.freeH[:n-1]
	} else {
		fr.nextH++
		h = fr.nextH
	}
	ev := liveEvent{kind: evStart, firstResp: firstFromServer, h: h, time: firstTime, from: from, ref: packRef(first),
		server: addrWords(server.Addr()), client: addrWords(client.Addr()), sport: server.Port(), cport: client.Port()}
	if answer.Frame != 0 {
		ev.answer = packRef(answer)
	}
	fr.push(ev)
	fr.open++
	return h
}

// End implements detect.WhatIf.
func (fr *liveFront) End(h int32, reported bool, l *detect.Loop) {
	ev := liveEvent{kind: evEnd, h: h, reported: reported && l != nil}
	if ev.reported {
		ev.res = &liveResult{}
		l.WhatIf = ev.res
		ev.time, ev.from = l.End, l.Start
	}
	fr.push(ev)
	fr.freeH = append(fr.freeH, h)
	fr.open--
}

// Flush implements detect.WhatIf: the events are handled as they come.
func (fr *liveFront) Flush() {}

// Live is a shard's engine: it replays the what-if from the events of
// its front.
type Live struct {
	inputs []string
	scen   []rrl.Scenario

	ring  []liveRec // circular: the record with sequence s is ring[s&mask]
	mask  uint64    // max-1
	max   uint64    // the ring's size (ringCap), a power of two
	seq   uint64    // records ever appended
	heads []uint64  // by unit hash: 1 + the sequence of its newest record
	// units are the live units by key: the first of each key's list
	// (liveUnit.next).
	units map[unitKey]*liveUnit
	// The last key's units found, for the next response.
	lastKey  unitKey
	lastHash uint64
	lastUnit *liveUnit

	loops      []liveLoop // by handle-1
	freeUnits  []*liveUnit
	freeJudges []*rrl.Judge
	resp       rrl.Replayed // reused: nothing escapes per response
	// The front stopped handing responses over (gap), or did until
	// gapEnd: a lookback before then is not in the ring.
	gap    bool
	gapEnd int64
	// live lists the live units: found by a scan of a few, rather than
	// the map, per response.
	live []*liveUnit
	// gaps are the units retired ringless, with the last time the ring
	// lacks of them (at most maxGaps; beyond, allGap holds them all).
	gaps   map[unitKey]int64
	allGap int64
}

// maxGaps bounds the ringless units remembered one by one.
const maxGaps = 1 << 12

// fastAfter is the responses a loop is judged in full before its
// repeats may take the fast path: a short loop leaves its unit in the
// ring, so that a loop of the same prefix a little later replays it.
const fastAfter = 1 << 16

// liveUnit replays one server's responses to one client prefix for the
// loops of theirs whose replay begins at start (windowStart), from there
// on, while one of them is open.
type liveUnit struct {
	key    unitKey
	hash   uint64
	next   *liveUnit // the next unit of the key
	start  int64
	owners []int32 // the handles of its loops
	// stale: scenarios its only loop's verdict settled, no longer
	// decided; inexact: its replay lacked responses. No other loop may
	// join it.
	stale   uint32
	inexact bool
	// log holds its newest decisions (log[n % unitLogN]): a loop that
	// joins it judges there those of its responses decided before it
	// opened.
	log       [unitLogN]unitLog
	nlog      uint64
	lims      *rrl.Limiters
	responses uint64 // replayed since the unit went live
	// ringless: some of its responses were not kept in the ring (the
	// last at lastUnrecorded): the ring cannot replay it any more.
	ringless       bool
	lastUnrecorded int64
	// recent holds the times of its newest responses (recent[responses
	// % recentN]): a loop's count of them at its start and end is read
	// there, not in the ring, where other units' records lie between.
	recent [recentN]int64
}

// unitLogN is the decisions a live unit keeps for the loops that join
// it.
const unitLogN = 128

// maxFreeLive bounds the live units (about 29 KB each, with their log)
// kept for reuse: a capture of many short loops opens and retires
// thousands a second, and unit made afresh for each left the collector
// a gigabyte behind at 100,000 loops.
const maxFreeLive = 1024

type unitLog struct {
	ref  uint64
	resp rrl.Response
	ds   [maxScenarios]rrl.Decision
}

const maxScenarios = 9

// logged keeps a decision in u's log.
func (u *liveUnit) logged(ref uint64, r *rrl.Response, ds []rrl.Decision) {
	e := &u.log[u.nlog%unitLogN]
	u.nlog++
	e.ref, e.resp = ref, *r
	copy(e.ds[:], ds)
}

// recentN is the responses times a live unit keeps.
const recentN = 64

// note counts a response decided at time t.
func (u *liveUnit) note(t int64) {
	u.recent[u.responses%recentN] = t
	u.responses++
}

// newerThan counts the unit's responses after t (at or after t when
// atOrAfter), and whether its recent times reached back far enough.
func (u *liveUnit) newerThan(t int64, atOrAfter bool) (uint64, bool) {
	n := uint64(0)
	for n < u.responses {
		if n == recentN {
			return n, false
		}
		rt := u.recent[(u.responses-1-n)%recentN]
		if rt < t || !atOrAfter && rt == t {
			return n, true
		}
		n++
	}
	return n, true
}

// liveLoop is a loop, or a run that may become one, being judged.
type liveLoop struct {
	unit          *liveUnit // nil: crowded out
	key           unitKey
	judge         *rrl.Judge
	client        netip.Addr
	cw            words
	cport         uint16
	rank          uint64
	base          uint64 // the unit's responses before the loop's window opened
	last          uint64 // the unit's responses up to the loop's last one
	inexact       bool
	first, answer uint64
	// firstResp: the first packet came from the server, a response the
	// loop counts as its own.
	firstResp bool
	// resp is the loop's last response, kept: the next differs in its
	// time mostly.
	resp  rrl.Replayed
	lastF respFields
	fresh bool // resp holds a response
	// skipOnly: every scenario its verdict has not settled skipped its
	// last response.
	skipOnly bool
}

// NewLive is the engine of a shard of a stream with inputs.
func NewLive(inputs []string) *Live {
	return &Live{inputs: inputs, scen: rrl.Scenarios(), heads: make([]uint64, 1<<headBits), units: map[unitKey]*liveUnit{},
		gapEnd: -1 << 63, gaps: map[unitKey]int64{}, allGap: -1 << 63, max: ringCap()}
}

func (k *unitKey) hash() uint64 {
	h := k.srv.hi*0x9e3779b97f4a7c15 ^ k.srv.lo*0xc2b2ae3d27d4eb4f ^ uint64(k.port)<<48
	h ^= k.pfx.hi*0x165667b19e3779f9 ^ k.pfx.lo*0x27d4eb2f165667c5
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return (h ^ h>>32) | 1
}

func (lv *Live) handle(ev *liveEvent) {
	switch ev.kind {
	case evResponse:
		lv.response(ev)
	case evStart:
		lv.start(ev)
	case evEnd:
		lv.end(ev)
	case evRepeat:
		lp := &lv.loops[ev.h-1]
		unparsed := ev.f.unparsed
		ev.f = lp.lastF
		ev.f.unparsed = unparsed
		ev.server, ev.sport, ev.client, ev.cport = lp.key.srv, lp.key.port, lp.cw, lp.cport
		lv.response(ev)
	case evGap:
		lv.gap = true
	case evNoGap:
		lv.gap, lv.gapEnd = false, ev.time
	}
}

// key is the unit of ev's endpoints, and its hash.
func (lv *Live) key(ev *liveEvent) (unitKey, uint64) {
	k := unitKey{ev.server, ev.sport, ev.client.prefix()}
	if k != lv.lastKey || lv.lastHash == 0 {
		lv.lastKey, lv.lastHash = k, k.hash()
		lv.lastUnit = nil
		if len(lv.live) <= 8 {
			for _, u := range lv.live {
				if u.key == k {
					lv.lastUnit = lv.units[k]
					break
				}
			}
		} else {
			lv.lastUnit = lv.units[k]
		}
	}
	return k, lv.lastHash
}

func (lv *Live) response(ev *liveEvent) {
	if ev.h != 0 {
		// A loop's response: its unit is live, its key known.
		lp := &lv.loops[ev.h-1]
		u := lp.unit
		if u == nil {
			// Crowded out (see maxPerKey): its responses are the
			// other loops' of its server and prefix.
			lp.lastF = ev.f
			lv.others(ev)
			return
		}
		if lp.skipOnly && lp.rank >= fastAfter && len(u.owners) == 1 && u.next == nil && lv.units[u.key] == u && ev.f == lp.lastF {
			// A long loop's last response again (the seed's FORMERR
			// to junk), the only loop of its server and prefix: every
			// scenario not settled skips it, without state (BIND and
			// Knot never see a FORMERR to junk), so nothing is
			// decided and the ring need not keep it (the unit is
			// ringless from then on: a loop of its server and prefix
			// within Lookback of its end goes to the second read).
			u.note(ev.time)
			u.ringless = true
			u.lastUnrecorded = ev.time
			lp.last = u.responses
			lp.rank++
			lp.judge.AddSkipped()
			return
		}
		lv.record(u.hash, ev)
		resp := &lp.resp
		if !lp.fresh || ev.f != lp.lastF {
			*resp = rrl.Replayed{Response: ev.f.response(ev.time, lp.client)}
			lp.lastF, lp.fresh = ev.f, true
		}
		resp.Time = ev.time
		ds := lv.decide(u, &resp.Response, ev.ref)
		lv.judge(lp, resp, ev.ref, ds)
		lp.skipOnly = skipsAll(ds, lp.judge.Settled())
		if u.next == nil && lv.units[u.key] == u {
			return
		}
		// The other loops of the server and prefix replay it too.
		for v := lv.units[u.key]; v != nil; v = v.next {
			if v != u {
				resp := &lv.resp
				*resp = rrl.Replayed{Response: ev.f.response(ev.time, lp.client)}
				lv.decide(v, &resp.Response, ev.ref)
			}
		}
		return
	}
	lv.others(ev)
}

// others records a response of no loop being judged, and passes it
// through the live units of its server and prefix.
func (lv *Live) others(ev *liveEvent) {
	_, h := lv.key(ev)
	lv.record(h, ev)
	for u := lv.lastUnit; u != nil; u = u.next {
		resp := &lv.resp
		*resp = rrl.Replayed{Response: ev.f.response(ev.time, ev.client.addr())}
		lv.decide(u, &resp.Response, ev.ref)
	}
}

// skipsAll reports whether every scenario not settled skipped the
// response.
func skipsAll(ds []rrl.Decision, settled uint32) bool {
	for i, d := range ds {
		if settled&(1<<i) == 0 && !d.Skipped {
			return false
		}
	}
	return true
}

// decide passes r, at ref, through u's limiters, but those of the
// scenarios its only loop's verdict settled.
func (lv *Live) decide(u *liveUnit, r *rrl.Response, ref uint64) []rrl.Decision {
	u.note(r.Time)
	var ds []rrl.Decision
	if s := lv.loops[u.owners[0]-1].judge.Settled(); s != 0 && len(u.owners) == 1 {
		u.stale |= s
		ds = u.lims.DecideExcept(r, s)
	} else {
		ds = u.lims.Decide(r)
	}
	if u.stale == 0 {
		u.logged(ref, r, ds)
	}
	return ds
}

// record keeps a response of the unit whose hash is h.
func (lv *Live) record(h uint64, ev *liveEvent) {
	if lv.ring == nil {
		// Allocated whole, once: pages are taken from the system only
		// as records are written (a ring grown by doubling left its
		// old copies to the collector and peaked higher).
		lv.ring, lv.mask = make([]liveRec, lv.max), lv.max-1
	}
	b := h >> (64 - headBits)
	var prev uint32
	if s := lv.heads[b]; s != 0 && lv.seq-(s-1) < lv.max {
		prev = uint32(lv.seq - (s - 1))
	}
	lv.ring[lv.seq&lv.mask] = liveRec{time: ev.time, ref: ev.ref, uhash: uint32(h), client: ev.client, qname: ev.f.qname, zone: ev.f.zone,
		prev: prev, cport: ev.cport, qtype: ev.f.qtype, qclass: uint8(ev.f.qclass), kind: ev.f.kind, rcode: ev.f.rcode, unpars: ev.f.unparsed}
	lv.seq++
	lv.heads[b] = lv.seq
}

// short reports whether the ring is full and holds less than Lookback
// before t.
func (lv *Live) short(t int64) bool {
	return lv.seq >= lv.max && lv.ring[lv.oldest()&lv.mask].time > t-int64(Lookback)
}

// oldest is the sequence of the oldest record still in the ring.
func (lv *Live) oldest() uint64 {
	if lv.seq > lv.max {
		return lv.seq - lv.max
	}
	return 0
}

func (lv *Live) judge(lp *liveLoop, resp *rrl.Replayed, ref uint64, ds []rrl.Decision) {
	lp.last = lp.unit.responses // the window closes at the loop's last response
	lp.rank++
	resp.Loop, resp.Trigger = lp.rank, lp.answer != 0 && ref == lp.answer
	r := unpackRef(ref)
	lp.judge.Add(resp, rrl.Ref{Source: r.Source, Frame: r.Frame}, ds)
}

func (lv *Live) start(ev *liveEvent) {
	k, h := lv.key(ev)
	lp := liveLoop{client: ev.client.addr(), cw: ev.client, cport: ev.cport, first: ev.ref, answer: ev.answer, firstResp: ev.firstResp}
	if n := len(lv.freeJudges); n > 0 {
		lp.judge = lv.freeJudges[n-1]
		lv.freeJudges = lv.freeJudges[:n-1]
	} else {
		lp.judge = rrl.NewJudge(lv.scen)
	}
	for int(ev.h) > len(lv.loops) {
		lv.loops = append(lv.loops, liveLoop{})
	}
	// The loop's unit goes live: its limiters replay the ring from the
	// loop's window on, its trigger's answer among them.
	lp.key = k
	window := windowStart(ev.from)
	same := 0
	var u *liveUnit
	for v := lv.lastUnit; v != nil; v = v.next {
		if v.ringless && v.lastUnrecorded >= window {
			lp.inexact = true // a loop of the prefix left responses out of the ring
		}
		if u == nil && v.start == window && v.stale == 0 && !v.ringless && !v.inexact && lv.join(&lp, v) {
			u = v
		}
		same++
	}
	if u != nil {
		u.owners = append(u.owners, ev.h)
	} else {
		if same >= maxPerKey {
			// Crowded out: the second read says so.
			lp.inexact = true
			lv.loops[ev.h-1] = lp
			return
		}
		u = lv.activate(k, ev.h, window)
		lp.unit = u
		lv.replay(&lp, h, window)
	}
	// The loop counts the unit's responses from its earliest packet on
	// (the minute before is replayed, for the limiters' state, not
	// counted): those already decided are the ring's newest.
	n, ok := u.newerThan(ev.from, true)
	if !ok {
		n, ok = lv.count(h, ev.from)
	}
	lp.base, lp.inexact = u.responses-n, lp.inexact || !ok
	lv.loops[ev.h-1] = lp
}

// walk calls fn on the ring's records of the unit hashing to h, from the
// newest back, while fn returns true and the ring holds them (covers
// tells whether it held everything wanted).
func (lv *Live) walk(h uint64, fn func(r *liveRec) bool) {
	if lv.ring == nil {
		return
	}
	s := lv.heads[h>>(64-headBits)]
	if s == 0 {
		return
	}
	oldest := lv.oldest()
	for seq := s - 1; seq >= oldest; {
		r := &lv.ring[seq&lv.mask]
		if r.uhash == uint32(h) && !fn(r) {
			return
		}
		if r.prev == 0 || uint64(r.prev) > seq {
			return
		}
		seq -= uint64(r.prev)
	}
}

// covers reports whether the ring still holds every record from t on.
func (lv *Live) covers(t int64) bool {
	if lv.gap || t < lv.gapEnd {
		return false // the front handed none over for a while
	}
	return lv.seq <= lv.max || lv.ring[lv.oldest()&lv.mask].time <= t
}

// count counts the ring's responses of the unit hashing to h at or after
// t, and whether the ring held them all.
func (lv *Live) count(h uint64, t int64) (uint64, bool) {
	n := uint64(0)
	lv.walk(h, func(r *liveRec) bool {
		if r.time < t {
			return false
		}
		n++
		return true
	})
	return n, lv.covers(t)
}

// join makes lp, a loop opening, share v, a unit of its server and
// prefix whose replay began where lp's does, when v's log holds the
// decisions on lp's responses before it opened (which lp judges).
func (lv *Live) join(lp *liveLoop, v *liveUnit) bool {
	var hits [2]uint64
	found := 0
	for i := uint64(0); i < min(v.nlog, unitLogN) && found < len(hits); i++ {
		n := v.nlog - 1 - i
		e := &v.log[n%unitLogN]
		if e.resp.Client == lp.client && lp.owns(e.ref) {
			hits[found] = n
			found++
		}
	}
	if found < lp.wants() {
		return false
	}
	lp.unit = v
	for i := found - 1; i >= 0; i-- {
		e := &v.log[hits[i]%unitLogN]
		resp := &lv.resp
		*resp = rrl.Replayed{Response: e.resp}
		lv.judge(lp, resp, e.ref, e.ds[:len(lv.scen)])
	}
	return true
}

// activate makes a unit of k live for the loop with handle h, its replay
// beginning at start, last of the key's list.
func (lv *Live) activate(k unitKey, h int32, start int64) *liveUnit {
	var u *liveUnit
	if n := len(lv.freeUnits); n > 0 {
		u = lv.freeUnits[n-1]
		lv.freeUnits = lv.freeUnits[:n-1]
	} else {
		u = &liveUnit{lims: rrl.NewLimiters(lv.scen)}
	}
	u.key, u.hash, u.start = k, k.hash(), start
	u.owners = append(u.owners[:0], h)
	if first := lv.units[k]; first == nil {
		lv.units[k] = u
	} else {
		v := first
		for v.next != nil {
			v = v.next
		}
		v.next = u
	}
	lv.live = append(lv.live, u)
	if lv.lastKey == k {
		lv.lastUnit = lv.units[k]
	}
	return u
}

// retire ends a unit whose loop ended.
func (lv *Live) retire(u *liveUnit) {
	if u.ringless {
		// A loop that opens here within Lookback would replay a ring
		// without these responses.
		if len(lv.gaps) >= maxGaps {
			for k, t := range lv.gaps {
				if t < u.lastUnrecorded-int64(Lookback) {
					delete(lv.gaps, k)
				}
			}
		}
		if len(lv.gaps) < maxGaps {
			lv.gaps[u.key] = u.lastUnrecorded
		} else {
			lv.allGap = max(lv.allGap, u.lastUnrecorded)
		}
	}
	if first := lv.units[u.key]; first == u {
		if u.next == nil {
			delete(lv.units, u.key)
		} else {
			lv.units[u.key] = u.next
		}
	} else {
		for v := first; v != nil; v = v.next {
			if v.next == u {
				v.next = u.next
				break
			}
		}
	}
	for i, v := range lv.live {
		if v == u {
			lv.live[i] = lv.live[len(lv.live)-1]
			lv.live[len(lv.live)-1] = nil
			lv.live = lv.live[:len(lv.live)-1]
			break
		}
	}
	if lv.lastKey == u.key {
		lv.lastUnit = lv.units[u.key]
	}
	u.lims.Reset()
	u.responses, u.next, u.owners, u.stale, u.nlog, u.inexact = 0, nil, u.owners[:0], 0, 0, false
	u.ringless, u.lastUnrecorded = false, 0
	if len(lv.freeUnits) < maxFreeLive {
		lv.freeUnits = append(lv.freeUnits, u)
	}
}

// replay feeds a newly live unit the ring's records of it from t on, in
// order, judging those of the loop (its trigger's answer, its first
// packet).
func (lv *Live) replay(lp *liveLoop, h uint64, t int64) {
	var recs []*liveRec
	lv.walk(h, func(r *liveRec) bool {
		if r.time < t {
			return false
		}
		recs = append(recs, r)
		return true
	})
	if !lv.covers(t) || lv.gaps[lp.unit.key] >= t || lv.allGap >= t {
		lp.inexact = true // the ring no longer reaches back to t, or lacks responses of the unit
		lp.unit.inexact = true
	}
	u := lp.unit
	found := 0
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		client := r.client.addr()
		f := respFields{kind: r.kind, rcode: r.rcode, unparsed: r.unpars, qtype: r.qtype, qclass: uint16(r.qclass), qname: r.qname, zone: r.zone}
		resp := &lv.resp
		*resp = rrl.Replayed{Response: f.response(r.time, client)}
		ds := u.lims.Decide(&resp.Response)
		u.note(r.time)
		if i < unitLogN {
			u.logged(r.ref, &resp.Response, ds)
		}
		if client == lp.client && r.cport == lp.cport && lp.owns(r.ref) {
			lv.judge(lp, resp, r.ref, ds)
			found++
		}
	}
	if found < lp.wants() {
		lp.inexact = true // the ring no longer held it
	}
}

// owns reports whether the response at ref, decided before the loop
// opened, is the loop's.
func (lp *liveLoop) owns(ref uint64) bool {
	return lp.answer != 0 && ref == lp.answer || lp.firstResp && ref == lp.first
}

// wants is how many of the loop's responses were decided before it
// opened: its trigger's answer, its first packet when the server sent it.
func (lp *liveLoop) wants() int {
	n := 0
	if lp.answer != 0 {
		n++
	}
	if lp.firstResp && lp.first != lp.answer {
		n++
	}
	return n
}

func (lv *Live) end(ev *liveEvent) {
	lp := &lv.loops[ev.h-1]
	u := lp.unit
	if ev.reported && !lp.inexact {
		srv := unitServer(u.key)
		rl := &report.Loop{Server: report.Endpoint{IP: srv.Addr().String(), Port: srv.Port()}, Start: report.Timestamp(ev.from)}
		ev.res.rrl = whatIf(lp.judge, lp.last-min(lp.base, lp.last), rl, prefixOf(lp.client), lv.inputs)
	}
	lp.judge.Reset()
	lv.freeJudges = append(lv.freeJudges, lp.judge)
	if u != nil {
		for i, o := range u.owners {
			if o == ev.h {
				u.owners = append(u.owners[:i], u.owners[i+1:]...)
				break
			}
		}
		if len(u.owners) == 0 {
			lv.retire(u)
		}
	}
	*lp = liveLoop{}
}

// unitServer is a unit's server endpoint.
func unitServer(k unitKey) netip.AddrPort { return netip.AddrPortFrom(k.srv.addr(), k.port) }

// addr is the address of w, IPv4 unmapped.
func (w words) addr() netip.Addr {
	var b [16]byte
	for i := range 8 {
		b[i] = byte(w.hi >> (56 - 8*i))
		b[8+i] = byte(w.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b).Unmap()
}
