package followup

import (
	"encoding/binary"
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

// maxRequests bounds the request verdicts kept per followed loop.
const maxRequests = 1 << 16

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
	begin int64
	end   int64 // the loop's last packet, as the scan saw it
	start int64 // the loop's first packet
	first ref
	trig  [2]ref // 0 frames: no trigger

	started, done bool
	last          int64
	count         uint64

	w         *writer
	replay    *rrl.Replay
	requests  map[netip.AddrPort]bool
	respRank  uint64
	ladderMax int
	series    bool

	// Caches of the what-if's per-packet work: a loop repeats one
	// request and one response, byte for byte, thousands of times a
	// second. lastEP's verdict mirrors requests[lastEP]; lastReq and
	// lastResp hold the last payloads judged and what they gave.
	lastEP     netip.AddrPort
	lastParsed bool
	lastValid  bool
	lastReq    payloadCache
	lastResp   payloadCache
	resp       rrl.Response // lastResp's fields but Time and Client
}

// payloadCache remembers the last payload judged (up to maxCached bytes)
// and its verdict.
type payloadCache struct {
	b     []byte
	cut   bool
	valid bool
	dns   bool // request: parsed as DNS; response: a DNS response
}

const maxCached = 512

func (c *payloadCache) hit(b []byte, cut bool) bool {
	return c.valid && cut == c.cut && len(b) == len(c.b) && string(b) == string(c.b)
}

func (c *payloadCache) put(b []byte, cut bool, dns bool) {
	c.valid = len(b) <= maxCached
	if c.valid {
		c.b = append(c.b[:0], b...)
		c.cut, c.dns = cut, dns
	}
}

// streamFollow is the second read's observer of one stream: it follows
// the stream's loops, each from Lookback before it to its end, and stops
// the reading when the last is done.
type streamFollow struct {
	idle    int64
	inputs  []string
	pending []*follow // by begin, not active yet
	next    int
	active  []*follow
	// byKey indexes the active loops by server address and client
	// prefix, when there are more than linearMax.
	byKey    map[[2]words][]*follow
	pfxCount map[words]int // active loops per client prefix
	frags    fragRing
	extract  bool // some loop writes its packets: keep fragments
	clock    int64
	stop     func()
	halted   bool
	info     decode.DNSInfo
	cand     []*follow
	// deadline is the earliest time at which an active loop may end
	// by the clock (its idle gap passed).
	deadline int64
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
	if len(sf.active) > 0 && sf.clock >= sf.deadline {
		sf.expire()
	}
}

func (sf *streamFollow) activate(f *follow) {
	f.out.begin(f)
	sf.active = append(sf.active, f)
	if sf.byKey != nil || len(sf.active) > linearMax {
		sf.index()
	} else {
		sf.pfxCount[f.pfx]++
	}
	sf.deadline = min(sf.deadline, f.deadline(sf.idle))
}

// index (re)builds the index of the active loops.
func (sf *streamFollow) index() {
	if sf.byKey == nil {
		sf.byKey = map[[2]words][]*follow{}
	}
	clear(sf.byKey)
	clear(sf.pfxCount)
	for _, f := range sf.active {
		k := [2]words{f.sw, f.pfx}
		sf.byKey[k] = append(sf.byKey[k], f)
		sf.pfxCount[f.pfx]++
	}
}

// deadline is when the loop is over by the clock alone.
func (f *follow) deadline(idle int64) int64 {
	if f.started {
		return f.last + idle
	}
	return max(f.end, f.begin) + idle
}

// expire finishes the active loops whose time is up.
func (sf *streamFollow) expire() {
	sf.deadline = 1<<63 - 1
	keep := sf.active[:0]
	removed := false
	for _, f := range sf.active {
		if f.done || sf.clock >= f.deadline(sf.idle) {
			f.finish()
			removed = true
			continue
		}
		keep = append(keep, f)
		sf.deadline = min(sf.deadline, f.deadline(sf.idle))
	}
	clear(sf.active[len(keep):])
	sf.active = keep
	if removed {
		if sf.byKey != nil && len(sf.active) <= linearMax {
			sf.byKey = nil
		}
		if sf.byKey != nil {
			sf.index()
		} else {
			clear(sf.pfxCount)
			for _, f := range sf.active {
				sf.pfxCount[f.pfx]++
			}
		}
	}
	if len(sf.active) == 0 && sf.next == len(sf.pending) && !sf.halted {
		sf.halted = true
		sf.stop()
	}
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
	if sf.byKey == nil {
		for _, f := range sf.active {
			if f.sw == dst && f.pfx == src.prefix() || f.sw == src && f.pfx == dst.prefix() {
				cand = append(cand, f)
			}
		}
	} else {
		cand = append(cand, sf.byKey[[2]words{dst, src.prefix()}]...)
		if src != dst { // a loop between two ports of one host is found once
			cand = append(cand, sf.byKey[[2]words{src, dst.prefix()}]...)
		}
	}
	sf.cand = cand
	ended := false
	for _, f := range cand {
		sf.see(f, fr, src, dst)
		ended = ended || f.done
	}
	clear(sf.cand)
	if ended {
		sf.expire()
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
	if f.replay != nil && !(f.done && !inLoop) {
		sf.rrlSee(f, fr, src, dst, isTrig || inLoop, isTrig)
	}
}

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

// rrlSee replays the server's responses to the client's prefix, and
// remembers whether each client endpoint's last request parsed (a FORMERR
// to one that did not is answered before rate limiting in BIND and Knot).
func (sf *streamFollow) rrlSee(f *follow, fr *scan.Frame, src, dst words, loop, trig bool) {
	p := fr.Packet
	if dst == f.sw && p.Dst.Port() == f.s.Port() {
		parsed := f.lastReq.dns
		if !f.lastReq.hit(p.Payload, p.Cut) {
			parsed = decode.ClassifyDNS(p.Payload, p.Cut, decode.Full, &sf.info) == decode.DNS
			f.lastReq.put(p.Payload, p.Cut, parsed)
		}
		if f.lastValid && p.Src == f.lastEP && parsed == f.lastParsed {
			return // requests[p.Src] holds it already
		}
		if len(f.requests) >= maxRequests {
			clear(f.requests)
		}
		f.requests[p.Src] = parsed
		f.lastEP, f.lastParsed, f.lastValid = p.Src, parsed, true
		return
	}
	if src != f.sw || p.Src.Port() != f.s.Port() {
		return
	}
	r := rrl.Replayed{Response: f.resp}
	if !f.lastResp.hit(p.Payload, p.Cut) {
		info := &sf.info
		isResp := decode.ClassifyDNS(p.Payload, p.Cut, decode.HeaderQuestion, info) == decode.DNS && info.Response
		f.resp = rrl.Response{}
		if isResp {
			b := p.Payload
			aa := len(b) >= 4 && b[2]&0x04 != 0
			var an uint16
			if len(b) >= 8 {
				an = binary.BigEndian.Uint16(b[6:8])
			}
			f.resp = rrl.Response{Kind: rrl.Classify(info.RCode, aa, an), RCode: info.RCode, QType: info.QType, QClass: info.QClass}
			if info.HasQuestion {
				f.resp.QName, f.resp.Zone = rrl.NameKeys(info.QName.Data[:info.QName.Length])
			}
		}
		f.lastResp.put(p.Payload, p.Cut, isResp)
		r.Response = f.resp
		if !isResp {
			return
		}
	} else if !f.lastResp.dns {
		return
	}
	parsed, seen := f.lastParsed, f.lastValid && p.Dst == f.lastEP
	if !seen {
		parsed, seen = f.requests[p.Dst]
	}
	r.Time, r.Client = fr.Time, p.Dst.Addr()
	r.Unparsed = seen && !parsed && r.RCode == rrl.RCodeFormErr
	if loop {
		f.respRank++
		r.Loop, r.Trigger = f.respRank, trig
	}
	f.replay.Add(&r, rrl.Ref{Source: fr.Input, Frame: fr.Frame})
}

// finish ends the loop's follow-up: its file is closed and moved into
// place, its what-if judged.
func (f *follow) finish() {
	f.done = true
	out := f.out
	out.Followed = true
	out.Found = f.count
	if f.w != nil {
		x := f.w.finish()
		x.LoopPackets = f.count
		x.Complete = f.count == f.l.Packets
		out.Extract = x
		f.w = nil
	}
	if f.replay != nil {
		out.RRL = whatIf(f.replay, f.l, out.Prefix, out.inputs)
		f.replay = nil
	}
	f.requests = nil
}

// abort drops an unfinished follow-up: no partial file is left.
func (f *follow) abort() {
	if f.w != nil {
		f.w.abort()
		f.w = nil
	}
	f.replay, f.requests = nil, nil
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
	sf := &streamFollow{idle: int64(idle), inputs: inputs, pending: follows, pfxCount: map[words]int{}, deadline: 1<<63 - 1,
		clock: -1 << 63}
	for _, f := range follows {
		sf.extract = sf.extract || f.w != nil || f.out.wantExtract
	}
	return sf
}
