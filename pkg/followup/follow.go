package followup

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
	"github.com/pongscan/pongscan/pkg/scan"
)

// Lookback is how long before a loop (its trigger) the second read starts
// following it, and the what-if replays the server's responses: longer
// than any replayed limiter remembers (BIND's window of 15 s, NSD's 16 s
// of halving, Knot's counters that reach zero in about 31 s at the
// default rates), so the limiters' state at the trigger is the one a
// replay of the whole capture would reach.
const Lookback = 60 * time.Second

// windowQuantum aligns the start of a loop's replay: it begins at the
// last multiple of windowQuantum (in capture time since 1970) at least
// Lookback before the loop's earliest packet (windowStart), so that the
// loops of a server and prefix that begin within one quantum replay the
// same responses from the same start, and share one replay: a prefix
// with a loop every few milliseconds replays its minute once per
// quantum, not once per loop.
const windowQuantum = 10 * time.Second

// windowStart is where the replay of a loop whose earliest packet is at
// from begins.
func windowStart(from int64) int64 {
	t := from - int64(Lookback)
	r := t % int64(windowQuantum)
	if r < 0 {
		r += int64(windowQuantum)
	}
	return t - r
}

// maxFree bounds the units kept for reuse.
const maxFree = 64

// linearMax is the most active loops tested one by one per frame; beyond
// it they are found through an index.
const linearMax = 8

// ref names a frame of the stream: its input and frame number.
type ref struct {
	in    int
	frame uint64
}

// follow is one loop during the second read: from Lookback before its
// trigger until its last packet.
type follow struct {
	n     int // the loop's number in the report, 1-based
	l     *report.Loop
	out   *Loop
	c, s  netip.AddrPort
	cw    words // the client's address
	sw    words // the server's address
	pfx   words // the client's prefix
	begin int64 // windowStart(from)
	from  int64 // the loop's earliest packet (its trigger's, or its first)
	end   int64 // the loop's last packet, as the scan saw it
	start int64 // the loop's first packet
	first ref
	trig  [2]ref // 0 frames: no trigger

	started, done bool
	last          int64
	count         uint64

	rrl       bool // replay the server's responses
	pos       int  // index in the active loops; -1 when not active
	due       int64
	retired   bool
	w         *writer
	ladderMax int
	series    bool

	// The what-if: the unit replaying the server's responses to the
	// client's prefix from the loop's window on (its own: see unit.go),
	// made at the loop's earliest packet (waiting until then); the judge
	// of this loop's responses (made at its first); the unit's responses
	// count when the loop's window opened and closed.
	unit              *unit
	waiting           bool
	crowded, lost     bool // not replayed: more than maxPerKey loops at once, or maxKeyRecs responses before it
	judge             *rrl.Judge
	respRank          uint64
	respBase, respEnd uint64
	endSet            bool
	// What the frame being shown is to the loop: one of its packets, its
	// trigger's.
	hitLoop, hitTrig bool
}

// streamFollow is the second read's observer of one stream: it follows
// the stream's loops, each from Lookback before it to its end, and stops
// the reading when the last is done. Its work per frame does not grow
// with the number of loops: the loops whose window is open are found
// through an index (beyond linearMax of them), and they end by the clock
// from a heap of their deadlines.
type streamFollow struct {
	idle    int64
	inputs  []string
	pending []*follow // by begin, not active yet
	// byBegin are the loops by their earliest packet's time (from), to
	// start counting their responses when it comes.
	byBegin   []*follow
	nextCount int
	next      int
	active    []*follow
	// byFlow indexes the active loops by their 5-tuple; pfxCount
	// counts them by client prefix.
	byFlow   map[flowKey][]*follow
	pfxCount map[words]int
	// keys hold the what-if's state of each server and client prefix
	// with a loop followed (its window open).
	keys      map[unitKey]*keyState
	replaying int // active loops with a what-if
	// Units, key states and judges of loops done, kept for the next: a
	// capture of a million loops must not allocate a replay for each.
	freeUnits  []*unit
	freeKeys   []*keyState
	freeJudges []*rrl.Judge
	scenarios  []rrl.Scenario
	due        dueHeap // active loops by the time they may end by the clock
	frags      fragRing
	extract    bool // some loop writes its packets: keep fragments
	clock      int64
	stop       func()
	halted     bool
	info       decode.DNSInfo
	cand       []*follow
}

func (sf *streamFollow) input(i int) string {
	if i >= 0 && i < len(sf.inputs) {
		return sf.inputs[i]
	}
	return ""
}

// Skip implements scan.Skipper: a plain Ethernet frame whose addresses
// are in no active loop's client prefix is of no interest. Nothing is of
// interest before the first loop's window or after the last one's end.
func (sf *streamFollow) Skip(t int64, link uint32, data []byte) bool {
	sf.advance(t)
	if len(sf.active) == 0 {
		return true
	}
	src, dst, ok := rawPrefixes(link, data)
	if !ok {
		return false
	}
	if len(sf.active) <= linearMax {
		for _, f := range sf.active {
			if f.pfx == src || f.pfx == dst {
				return false
			}
		}
		return true
	}
	return sf.pfxCount[src] == 0 && sf.pfxCount[dst] == 0
}

// advance moves the clock: loops whose window opens are activated, loops
// silent for the idle gap are done.
func (sf *streamFollow) advance(t int64) {
	if t > sf.clock {
		sf.clock = t
	}
	for sf.next < len(sf.pending) && sf.pending[sf.next].begin <= sf.clock {
		f := sf.pending[sf.next]
		sf.pending[sf.next] = nil
		sf.next++
		sf.activate(f)
	}
	for sf.nextCount < len(sf.byBegin) && sf.byBegin[sf.nextCount].from <= sf.clock {
		// The loop's earliest packet: its what-if counts the unit's
		// responses from here (the minute before is replayed, not
		// counted).
		f := sf.byBegin[sf.nextCount]
		sf.byBegin[sf.nextCount] = nil
		sf.nextCount++
		if f.waiting {
			sf.open(f)
		}
	}
	for len(sf.due) > 0 && sf.due[0].due <= sf.clock {
		f := sf.due.pop()
		switch {
		case f.retired:
		case f.done || sf.clock >= f.deadline(sf.idle):
			sf.retire(f)
		default:
			f.due = f.deadline(sf.idle)
			sf.due.push(f)
		}
	}
	sf.checkDone()
}

func (sf *streamFollow) activate(f *follow) {
	f.out.begin(f)
	if f.rrl {
		sf.replaying++
		// A unit replays the server's responses to the prefix once
		// some traffic of theirs comes (unitFor): a loop waiting for
		// its window's first packet holds none.
		k := f.unitKey()
		ks := sf.keys[k]
		if ks == nil {
			if n := len(sf.freeKeys); n > 0 {
				ks = sf.freeKeys[n-1]
				sf.freeKeys = sf.freeKeys[:n-1]
			} else {
				ks = &keyState{}
			}
			ks.reset()
			sf.keys[k] = ks
		}
		ks.waiting++
		f.waiting = true
	}
	f.pos = len(sf.active)
	sf.active = append(sf.active, f)
	fk := f.flowKey()
	sf.byFlow[fk] = append(sf.byFlow[fk], f)
	sf.pfxCount[f.pfx]++
	f.due = f.deadline(sf.idle)
	sf.due.push(f)
}

// retire finishes a loop and drops it from the active ones.
func (sf *streamFollow) retire(f *follow) {
	if f.retired {
		return
	}
	f.finish(sf.scenarios)
	f.retired = true
	if f.judge != nil {
		f.judge.Reset()
		sf.freeJudges = append(sf.freeJudges, f.judge)
		f.judge = nil
	}
	if f.rrl {
		sf.replaying--
	}
	if f.rrl {
		sf.release(f)
	}
	last := sf.active[len(sf.active)-1]
	sf.active[f.pos], last.pos = last, f.pos
	sf.active[len(sf.active)-1] = nil
	sf.active = sf.active[:len(sf.active)-1]
	f.pos = -1
	drop(sf.byFlow, f.flowKey(), f)
	if sf.pfxCount[f.pfx]--; sf.pfxCount[f.pfx] <= 0 {
		delete(sf.pfxCount, f.pfx)
	}
}

// drop removes f from m[k].
func drop[K comparable](m map[K][]*follow, k K, f *follow) {
	list := m[k]
	for i, g := range list {
		if g == f {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(m, k)
	} else {
		m[k] = list
	}
}

// flowKey is a 5-tuple, the same both ways.
type flowKey struct {
	a, b   words
	ap, bp uint16
}

func makeFlowKey(x words, xp uint16, y words, yp uint16) flowKey {
	if x.hi < y.hi || x.hi == y.hi && (x.lo < y.lo || x.lo == y.lo && xp < yp) {
		return flowKey{x, y, xp, yp}
	}
	return flowKey{y, x, yp, xp}
}

func (f *follow) flowKey() flowKey { return makeFlowKey(f.cw, f.c.Port(), f.sw, f.s.Port()) }

func (f *follow) unitKey() unitKey { return unitKey{f.sw, f.s.Port(), f.pfx} }

// checkDone stops the reading once every loop is done.
func (sf *streamFollow) checkDone() {
	if len(sf.active) == 0 && sf.next == len(sf.pending) && !sf.halted && sf.stop != nil {
		sf.halted = true
		sf.stop()
	}
}

// deadline is when the loop is over by the clock alone.
func (f *follow) deadline(idle int64) int64 {
	if f.started {
		return f.last + idle
	}
	return max(f.end, f.begin) + idle
}

// dueHeap is a min-heap of loops by due. A loop's due only moves later:
// one popped early is pushed again with its new due.
type dueHeap []*follow

func (h *dueHeap) push(f *follow) {
	*h = append(*h, f)
	q := *h
	for j := len(q) - 1; j > 0; {
		p := (j - 1) / 2
		if q[p].due <= q[j].due {
			break
		}
		q[p], q[j] = q[j], q[p]
		j = p
	}
}

func (h *dueHeap) pop() *follow {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = nil
	q = q[:n]
	for j := 0; ; {
		l := 2*j + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && q[r].due < q[l].due {
			c = r
		}
		if q[j].due <= q[c].due {
			break
		}
		q[j], q[c] = q[c], q[j]
		j = c
	}
	*h = q
	return top
}

// Frame implements scan.Observer.
func (sf *streamFollow) Frame(fr *scan.Frame) {
	sf.advance(fr.Time)
	if len(sf.active) == 0 {
		return
	}
	p := fr.Packet
	if fr.Kind == decode.KindFragment {
		if sf.extract {
			sf.frags.add(fr, p.Frag)
		}
		return
	}
	if fr.Kind != decode.KindUDP {
		return
	}
	src, dst := addrWords(p.Src.Addr()), addrWords(p.Dst.Addr())
	cand := sf.cand[:0]
	if len(sf.active) <= linearMax {
		for _, f := range sf.active {
			if f.sw == dst && f.cw == src && f.s.Port() == p.Dst.Port() && f.c.Port() == p.Src.Port() ||
				f.sw == src && f.cw == dst && f.s.Port() == p.Src.Port() && f.c.Port() == p.Dst.Port() {
				cand = append(cand, f)
			}
		}
	} else {
		cand = append(cand, sf.byFlow[makeFlowKey(src, p.Src.Port(), dst, p.Dst.Port())]...)
	}
	sf.cand = cand
	for _, f := range cand {
		sf.see(f, fr, src, dst)
	}
	if sf.replaying > 0 {
		sf.whatIf(fr, src, dst, cand)
	}
	for _, f := range cand {
		if f.done {
			sf.retire(f)
		}
	}
	clear(sf.cand)
	sf.checkDone()
}

// open makes the unit of f, at its earliest packet: it replays the
// responses of the loop's window kept until then.
func (sf *streamFollow) open(f *follow) {
	ks := sf.keys[f.unitKey()]
	f.waiting = false
	ks.waiting--
	switch {
	case ks.lost >= f.begin:
		f.lost = true
		return
	}
	for _, u := range ks.units {
		if u.start == f.begin {
			// A loop of the same quantum: the same replay.
			u.loops++
			f.unit, f.respBase = u, u.responses
			return
		}
	}
	if len(ks.units) >= maxPerKey {
		f.crowded = true
		return
	}
	var u *unit
	if n := len(sf.freeUnits); n > 0 {
		u = sf.freeUnits[n-1]
		sf.freeUnits = sf.freeUnits[:n-1]
	} else {
		u = newUnit(sf.scenarios)
	}
	for i := ks.head; i < len(ks.recs); i++ {
		if r := &ks.recs[i]; r.Time >= f.begin {
			u.lims.Decide(r)
		}
	}
	u.responses, u.start, u.loops = 0, f.begin, 1
	f.unit, f.respBase = u, 0
	ks.units = append(ks.units, u)
}

// release ends f's part in the what-if of its server and prefix.
func (sf *streamFollow) release(f *follow) {
	k := f.unitKey()
	ks := sf.keys[k]
	if ks == nil {
		return
	}
	if f.waiting {
		f.waiting = false
		ks.waiting--
	}
	if u := f.unit; u != nil {
		f.unit = nil
		if u.loops--; u.loops > 0 {
			return
		}
		for i, v := range ks.units {
			if v == u {
				ks.units = append(ks.units[:i], ks.units[i+1:]...)
				break
			}
		}
		u.reset()
		if len(sf.freeUnits) < maxFree {
			sf.freeUnits = append(sf.freeUnits, u)
		}
	}
	if ks.waiting == 0 && len(ks.units) == 0 {
		delete(sf.keys, k)
		if len(sf.freeKeys) < maxFree {
			ks.reset()
			sf.freeKeys = append(sf.freeKeys, ks)
		}
	}
}

// whatIf shows a datagram to the what-if of the server and prefix it
// concerns: a request from a client prefix to a server, or the server's
// response, kept for the loops waiting and decided by the unit of each
// loop open, and judged by the loop when the packet is its.
func (sf *streamFollow) whatIf(fr *scan.Frame, src, dst words, cand []*follow) {
	p := fr.Packet
	if ks := sf.keys[unitKey{dst, p.Dst.Port(), src.prefix()}]; ks != nil {
		ks.cls.request(p, &sf.info)
	}
	ks := sf.keys[unitKey{src, p.Src.Port(), dst.prefix()}]
	if ks == nil {
		return
	}
	r, ok := ks.cls.response(fr, &sf.info)
	if !ok {
		return
	}
	if ks.waiting > 0 {
		ks.keep(&r, windowStart(sf.clock))
	}
	for _, u := range ks.units {
		sf.decide(u, r, fr, cand)
	}
}

// decide passes a server's response r, in frame fr, through u.
func (sf *streamFollow) decide(u *unit, resp rrl.Response, fr *scan.Frame, cand []*follow) {
	u.responses++
	r := rrl.Replayed{Response: resp}
	ds := u.lims.Decide(&r.Response)
	ref := rrl.Ref{Source: fr.Input, Frame: fr.Frame}
	for _, f := range cand {
		if f.unit != u || !f.hitLoop || f.endSet {
			continue
		}
		if f.judge == nil {
			if n := len(sf.freeJudges); n > 0 {
				f.judge = sf.freeJudges[n-1]
				sf.freeJudges = sf.freeJudges[:n-1]
			} else {
				f.judge = rrl.NewJudge(sf.scenarios)
			}
		}
		f.respRank++
		r.Loop, r.Trigger = f.respRank, f.hitTrig
		f.judge.Add(&r, ref, ds)
		f.respEnd = u.responses // the window closes at the loop's last response
	}
}

// see shows a datagram between the loop's server and its client prefix
// to the loop.
func (sf *streamFollow) see(f *follow, fr *scan.Frame, src, dst words) {
	p := fr.Packet
	sp, dp := p.Src, p.Dst
	fromC := src == f.cw && sp.Port() == f.c.Port() && dp.Port() == f.s.Port() && dst == f.sw
	onFlow := fromC || src == f.sw && sp.Port() == f.s.Port() && dst == f.cw && dp.Port() == f.c.Port()
	here := ref{fr.Input, fr.Frame}
	isTrig := onFlow && f.trig[0].frame != 0 && (here == f.trig[0] || here == f.trig[1])
	inLoop := false
	if onFlow && !f.done {
		if !f.started && here == f.first {
			f.started, f.last = true, fr.Time
		}
		if f.started {
			if fr.Time-f.last >= sf.idle {
				f.done = true
			} else {
				inLoop = true
				f.count++
				f.last = max(f.last, fr.Time)
				if f.count >= f.l.Packets {
					f.done = true
				}
			}
		}
	}
	if isTrig || inLoop {
		sf.keep(f, fr, fromC, isTrig)
	}
	f.hitLoop, f.hitTrig = isTrig || inLoop, isTrig
	if f.done && !inLoop {
		f.closeWindow() // the packet after the loop's end is not replayed for it
	}
}

// closeWindow ends the loop's what-if: no later response is its.
func (f *follow) closeWindow() { f.endSet = true }

// keep writes a frame of the loop or its trigger, and adds it to the
// ladder and the timeline.
func (sf *streamFollow) keep(f *follow, fr *scan.Frame, fromC, trig bool) {
	p := fr.Packet
	if f.w != nil {
		if p.Reassembled {
			for _, x := range sf.frags.take(p.Frag) {
				f.w.write(&x.frame, x.data, sf.input(x.frame.Input), false)
			}
		}
		f.w.write(fr, fr.Data, sf.input(fr.Input), trig)
	}
	out := f.out
	if f.series && !trig {
		s := &out.Series
		b := (fr.Time - s.Start) / s.Bucket
		if b >= 0 && int(b) < len(s.Counts[0]) {
			d := 1
			if fromC {
				d = 0
			}
			s.Counts[d][b]++
		}
	}
	if len(out.Ladder) < f.ladderMax {
		out.Ladder = append(out.Ladder, Step{Time: fr.Time, FromC: fromC, Wire: p.WireLen, Summary: summarize(p.Payload, p.Cut),
			File: sf.input(fr.Input), Frame: fr.Frame, Trigger: trig})
	}
}

// summarize is a Wireshark-style line for a payload on a DNS flow.
func summarize(b []byte, cut bool) string {
	var info decode.DNSInfo
	if decode.ClassifyDNS(b, cut, decode.Full, &info) == decode.DNS {
		name := "<no question>"
		if info.HasQuestion {
			name = info.QName.String()
		}
		if info.Response {
			return fmt.Sprintf("Standard query response 0x%04x %s %s %s", info.ID, decode.TypeName(info.QType), name, decode.RCodeName(info.RCode))
		}
		return fmt.Sprintf("Standard query 0x%04x %s %s", info.ID, decode.TypeName(info.QType), name)
	}
	return decode.ClassifyPayload(b).Summary
}

// finish ends the loop's follow-up: its file is closed and moved into
// place, its what-if judged.
func (f *follow) finish(sc []rrl.Scenario) {
	f.done = true
	out := f.out
	out.Followed = true
	out.Found = f.count
	if f.w != nil {
		x := f.w.finish()
		x.LoopPackets = f.count
		x.Complete = f.count == f.l.Packets && x.Error == "" // a file not written is not complete
		out.Extract = x
		f.w = nil
	}
	if f.rrl && (f.crowded || f.lost) {
		out.RRL = crowdedRRL(f.l, out.Prefix, f.lost)
	} else if f.rrl {
		f.closeWindow()
		j := f.judge
		if j == nil {
			j = rrl.NewJudge(sc)
		}
		out.RRL = whatIf(j, f.respEnd-min(f.respBase, f.respEnd), f.l, out.Prefix, out.inputs)
	}
}

// abort drops an unfinished follow-up: no partial file is left.
func (f *follow) abort() {
	if f.w != nil {
		f.w.abort()
		f.w = nil
	}
	f.judge, f.unit = nil, nil
}

// newStreamFollow prepares the follow-up of a stream's loops.
func newStreamFollow(inputs []string, follows []*follow, idle time.Duration) *streamFollow {
	slices.SortStableFunc(follows, func(a, b *follow) int {
		switch {
		case a.begin < b.begin:
			return -1
		case a.begin > b.begin:
			return 1
		}
		return 0
	})
	sf := &streamFollow{idle: int64(idle), inputs: inputs, pending: follows, pfxCount: map[words]int{},
		byFlow: map[flowKey][]*follow{}, keys: map[unitKey]*keyState{}, clock: -1 << 63, scenarios: rrl.Scenarios()}
	sf.byBegin = slices.Clone(follows)
	slices.SortStableFunc(sf.byBegin, func(a, b *follow) int {
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	for _, f := range follows {
		sf.extract = sf.extract || f.w != nil || f.out.wantExtract
	}
	return sf
}
