package followup

import (
	"net/netip"

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
// unless the shard sees more than 4,400 responses a second). When a loop
// opens, its unit's limiters replay the unit's records from Lookback
// before the trigger, then decide each response as it comes; each loop's
// judge takes the decisions on its own responses, and a loop that opens
// while another of its unit is open shares the state. When the last loop
// of a unit ends, the unit goes: a later loop replays the ring again, the
// same responses in the same order. When the ring no longer holds a
// loop's lookback, or a response the loop needs was decided before it
// opened and is no longer known, the loop's what-if is left to the second
// read (its result holds no verdicts).

// ringMax bounds the records an engine keeps (64 bytes each: at most
// 16.8 MB); headBits sizes the hash of units.
const (
	ringMax    = 1 << 18
	headBits   = 16
	decidedMax = 1 << 12 // responses decided live outside a loop, kept for a loop that opens after them
)

// liveRec is a response in the ring: a loop that opens within Lookback
// replays it.
//
// It is one cache line: its unit is told by the low 32 bits of the
// unit's hash (the high bits chose its chain), its question class by its
// low byte, all BIND keys it by.
type liveRec struct {
	time   int64
	ref    uint64 // packed: input << 48 | frame
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

func packRef(r detect.PacketRef) uint64 { return uint64(r.Source)<<48 | r.Frame&(1<<48-1) }
func unpackRef(v uint64) detect.PacketRef {
	return detect.PacketRef{Source: int(v >> 48), Frame: v & (1<<48 - 1)}
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

// satRate is the most responses a second a shard's ring holds a minute
// of (ringMax / Lookback). A shard busier than that cannot replay a
// loop's lookback from its ring: while no loop is open there, its front
// stops handing responses over (they cost the scan for nothing), and the
// loops that open then go to the second read.
const satRate = ringMax / 60

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
// satRate stops the responses from being handed over while no loop is
// open; one under half of it hands them over again.
func (fr *liveFront) second(s, t int64) {
	switch {
	case !fr.sat && fr.secCount > satRate && s == fr.sec+1:
		fr.sat = true
		fr.push(liveEvent{kind: evGap, time: t})
	case fr.sat && (fr.secCount < satRate/2 || s != fr.sec+1):
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

	ring  []liveRec // circular: the record with sequence s is ring[s%ringMax]
	seq   uint64    // records ever appended
	heads []uint64  // by unit hash: 1 + the sequence of its newest record
	units map[unitKey]*liveUnit
	// The last unit found, for the next response (a loop's unit, mostly).
	lastKey  unitKey
	lastHash uint64
	lastUnit *liveUnit

	loops      []liveLoop // by handle-1
	freeUnits  []*liveUnit
	freeJudges []*rrl.Judge
	decided    []decidedRec // circular: responses decided live outside a loop
	nDecided   uint64
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

// decidedRec is a response decided live outside a loop: a loop that
// opens later may count it (its trigger's answer).
type decidedRec struct {
	ref  uint64
	time int64
	unit *liveUnit
	gen  uint64 // the unit's generation when decided
	ds   [maxScenarios]rrl.Decision
	resp rrl.Response
}

const maxScenarios = 9

// liveUnit replays one server's responses to one client prefix while a
// loop of theirs is open.
type liveUnit struct {
	key       unitKey
	hash      uint64
	gen       uint64 // bumped at each reuse
	lims      *rrl.Limiters
	responses uint64 // replayed since the unit went live
	open      int    // loops open
	// solo is the unit's one loop while it has had no other since it
	// went live: the scenarios its verdict settled are no longer decided
	// (stale marks them), and a loop that joins later is left to the
	// second read.
	solo  int32 // a handle, 0 when none
	stale uint32
	// ringless: some of its responses were not kept in the ring (the
	// last at lastUnrecorded): the ring cannot replay it any more.
	ringless       bool
	lastUnrecorded int64
	since          int64 // the start of the window its replay began with
	// recent holds the times of its newest responses (recent[responses
	// % recentN]): a loop's count of them at its start and end is read
	// there, not in the ring, where other units' records lie between.
	recent [recentN]int64
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
	unit          *liveUnit
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
		gapEnd: -1 << 63, gaps: map[unitKey]int64{}, allGap: -1 << 63}
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
		u := lp.unit
		ev.server, ev.sport, ev.client, ev.cport = u.key.srv, u.key.port, lp.cw, lp.cport
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
					lv.lastUnit = u
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
		if lp.skipOnly && lp.rank >= fastAfter && u.solo == ev.h && ev.f == lp.lastF {
			// A long loop's last response again (the seed's FORMERR
			// to junk), alone in its unit: every scenario not settled
			// skips it, without state (BIND and Knot never see a
			// FORMERR to junk), so nothing is decided and the ring
			// need not keep it (the unit is ringless from then on: a
			// loop of it within Lookback of its end goes to the
			// second read).
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
		ds := lv.decide(u, &resp.Response)
		lv.judge(lp, resp, ev.ref, ds)
		lp.skipOnly = skipsAll(ds, lp.judge.Settled())
		return
	}
	_, h := lv.key(ev)
	lv.record(h, ev)
	u := lv.lastUnit
	if u == nil {
		return
	}
	resp := &lv.resp
	*resp = rrl.Replayed{Response: ev.f.response(ev.time, ev.client.addr())}
	ds := lv.decide(u, &resp.Response)
	d := &lv.decided[lv.nextDecided()]
	d.ref, d.time, d.unit, d.gen, d.resp = ev.ref, ev.time, u, u.gen, resp.Response
	copy(d.ds[:], ds)
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

// decide passes r through u's limiters, but those of the scenarios its
// only loop's verdict settled.
func (lv *Live) decide(u *liveUnit, r *rrl.Response) []rrl.Decision {
	u.note(r.Time)
	if u.solo != 0 {
		if s := lv.loops[u.solo-1].judge.Settled(); s != 0 {
			u.stale |= s
			return u.lims.DecideExcept(r, s)
		}
	}
	return u.lims.Decide(r)
}

// nextDecided is the slot of the next decided response.
func (lv *Live) nextDecided() int {
	if len(lv.decided) < decidedMax {
		lv.decided = append(lv.decided, decidedRec{})
	}
	i := int(lv.nDecided % decidedMax)
	lv.nDecided++
	return i
}

// record keeps a response of the unit whose hash is h.
func (lv *Live) record(h uint64, ev *liveEvent) {
	if lv.ring == nil {
		// Allocated whole, once: pages are taken from the system only
		// as records are written.
		lv.ring = make([]liveRec, ringMax)
	}
	b := h >> (64 - headBits)
	var prev uint32
	if s := lv.heads[b]; s != 0 && lv.seq-(s-1) < ringMax {
		prev = uint32(lv.seq - (s - 1))
	}
	lv.ring[lv.seq%ringMax] = liveRec{time: ev.time, ref: ev.ref, uhash: uint32(h), client: ev.client, qname: ev.f.qname, zone: ev.f.zone,
		prev: prev, cport: ev.cport, qtype: ev.f.qtype, qclass: uint8(ev.f.qclass), kind: ev.f.kind, rcode: ev.f.rcode, unpars: ev.f.unparsed}
	lv.seq++
	lv.heads[b] = lv.seq
}

// oldest is the sequence of the oldest record still in the ring.
func (lv *Live) oldest() uint64 {
	if lv.seq > ringMax {
		return lv.seq - ringMax
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
	window := ev.from - int64(Lookback)
	u := lv.lastUnit
	solo := false
	if u == nil {
		// The unit goes live: its limiters replay the ring from the
		// loop's window on, its trigger's answer among them.
		u = lv.activate(k)
		u.since = window
		lp.unit = u
		lv.replay(&lp, h, window)
		solo = true
	} else {
		// A loop of the unit is open: the state goes on (but that of
		// scenarios no longer decided); the loop's window holds the
		// responses of the ring from its start.
		lp.unit = u
		if u.stale != 0 {
			// Some scenarios were no longer decided: their state is
			// made again from the ring, the loop's own responses
			// judged on the way.
			lv.rebuild(&lp, h)
		} else {
			lv.retro(&lp, window)
		}
		u.solo = 0
	}
	// The loop counts the unit's responses from its earliest packet on
	// (the minute before is replayed, for the limiters' state, not
	// counted): those already decided are the ring's newest.
	n, ok := u.newerThan(ev.from, true)
	if !ok {
		n, ok = lv.count(h, ev.from)
	}
	lp.base, lp.inexact = u.responses-n, lp.inexact || !ok
	u.open++
	for int(ev.h) > len(lv.loops) {
		lv.loops = append(lv.loops, liveLoop{})
	}
	lv.loops[ev.h-1] = lp
	if solo {
		u.solo = ev.h
	}
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
		r := &lv.ring[seq%ringMax]
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
	return lv.seq <= ringMax || lv.ring[lv.oldest()%ringMax].time <= t
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

// activate makes k's unit live.
func (lv *Live) activate(k unitKey) *liveUnit {
	var u *liveUnit
	if n := len(lv.freeUnits); n > 0 {
		u = lv.freeUnits[n-1]
		lv.freeUnits = lv.freeUnits[:n-1]
	} else {
		u = &liveUnit{lims: rrl.NewLimiters(lv.scen)}
	}
	u.key, u.hash = k, k.hash()
	lv.units[k] = u
	lv.live = append(lv.live, u)
	if lv.lastKey == k {
		lv.lastUnit = u
	}
	return u
}

// retire ends a unit with no loop open.
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
	delete(lv.units, u.key)
	for i, v := range lv.live {
		if v == u {
			lv.live[i] = lv.live[len(lv.live)-1]
			lv.live[len(lv.live)-1] = nil
			lv.live = lv.live[:len(lv.live)-1]
			break
		}
	}
	if lv.lastUnit == u {
		lv.lastUnit = nil
	}
	u.lims.Reset()
	u.gen++
	u.responses, u.open, u.solo, u.stale = 0, 0, 0, 0
	u.ringless, u.lastUnrecorded = false, 0
	if len(lv.freeUnits) < maxFree {
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
		if client == lp.client && r.cport == lp.cport && lp.owns(r.ref) {
			lv.judge(lp, resp, r.ref, ds)
			found++
		}
	}
	if found < lp.wants() {
		lp.inexact = true // the ring no longer held it
	}
}

// rebuild makes the state of u, whose scenarios its only loop settled
// were no longer decided, again: its limiters replay the ring's records
// from the window its replay began with, and lp, the loop that joins it,
// judges its own among them.
func (lv *Live) rebuild(lp *liveLoop, h uint64) {
	u := lp.unit
	if u.ringless || !lv.covers(u.since) {
		lp.inexact = true
		return
	}
	var recs []*liveRec
	lv.walk(h, func(r *liveRec) bool {
		if r.time < u.since {
			return false
		}
		recs = append(recs, r)
		return true
	})
	u.lims.Reset()
	found := 0
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		client := r.client.addr()
		f := respFields{kind: r.kind, rcode: r.rcode, unparsed: r.unpars, qtype: r.qtype, qclass: uint16(r.qclass), qname: r.qname, zone: r.zone}
		resp := &lv.resp
		*resp = rrl.Replayed{Response: f.response(r.time, client)}
		ds := u.lims.Decide(&resp.Response)
		if client == lp.client && r.cport == lp.cport && lp.owns(r.ref) {
			lv.judge(lp, resp, r.ref, ds)
			found++
		}
	}
	if found < lp.wants() {
		lp.inexact = true
	}
	u.stale = 0
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

// retro judges the loop's responses decided before it opened in a live
// unit: its trigger's answer, its first packet when a response.
func (lv *Live) retro(lp *liveLoop, window int64) {
	found := 0
	var hits []int
	n := min(lv.nDecided, decidedMax)
	for i := uint64(0); i < n; i++ {
		j := int((lv.nDecided - 1 - i) % decidedMax)
		d := &lv.decided[j]
		if d.time < window {
			break
		}
		if d.unit != lp.unit || d.gen != lp.unit.gen {
			continue
		}
		if d.resp.Client == lp.client && lp.owns(d.ref) {
			hits = append(hits, j)
			found++
		}
	}
	if found < lp.wants() {
		lp.inexact = true // decided too long ago: the second read will judge it
	}
	for i := len(hits) - 1; i >= 0; i-- {
		d := &lv.decided[hits[i]]
		resp := &lv.resp
		*resp = rrl.Replayed{Response: d.resp}
		lv.judge(lp, resp, d.ref, d.ds[:len(lv.scen)])
	}
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
	if u.open--; u.open == 0 {
		lv.retire(u)
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
