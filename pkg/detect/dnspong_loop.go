package detect

import (
	"fmt"
	"slices"
	"sort"

	"github.com/pongscan/pongscan/pkg/decode"
)

// Triggered loops: from the first non-DNS packet after a fresh answer, every
// packet of the 5-tuple counts until a gap of Idle.

// loopState is a triggered loop in progress.
type loopState struct {
	l        Loop
	clientIs int8 // 1 if endpoint a is the client, 2 if b
	ev       evidence
	ttls     []int
	wi       int32    // the what-if's handle (Config.WhatIf)
	wiLast   lastResp // its last response, for WhatIf.Repeat
}

// maxTTLs is how many distinct client TTLs a triggered loop lists.
const maxTTLs = 16

func (d *DNSPong) startLoop(f *flowState, p *Packet, srcIsA bool) {
	a := f.ans
	ls := &loopState{clientIs: side(srcIsA)}
	ls.ev.begin(p, 0, [2]bool{})
	l := &ls.l
	l.Detector = d.Name()
	l.HasTrigger = true
	l.Client, l.Server = p.Src, p.Dst
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
	ls.wi = d.wiStart(l, min(l.Query.Time, l.Response.Time, l.FirstPacket.Time))
	d.extendLoop(ls, p, srcIsA, decode.ClassifyMsg(p.Payload, p.Cut))
}

func nameOrUnknown(n string) string {
	if n == "" {
		return "<name no longer known>"
	}
	return n
}

func (d *DNSPong) extendLoop(ls *loopState, p *Packet, srcIsA bool, m decode.Msg) {
	dir := 1
	if side(srcIsA) == ls.clientIs {
		dir = 0
		if !slices.Contains(ls.ttls, int(p.TTL)) {
			if len(ls.ttls) < maxTTLs {
				ls.ttls = append(ls.ttls, int(p.TTL))
			} else {
				ls.l.TTLsCapped = true
			}
		}
	}
	ls.ev.add(p, dir, m)
}

// closeLoop ends f's loop and files it as a loop, a bounce or a one-sided
// candidate.
func (d *DNSPong) closeLoop(f *flowState) {
	ls := f.loop
	f.loop = nil
	l := ls.l
	ls.ev.t.fill(&l)
	switch {
	case l.Packets < uint64(d.cfg.MinPackets):
		d.counters.Bounces++
	case ls.ev.t.oneSided():
		// Not back-and-forth: one side talks, the other barely answers.
		d.counters.OneSided++
	default:
		l.ClientTTLs = ls.ttls
		sort.Ints(l.ClientTTLs)
		services := [2]string{service(l.Client.Port(), ls.ev.types[0].top()), service(l.Server.Port(), ls.ev.types[1].top())}
		ev := ls.ev.describe(d.cfg.Runs, "trigger", services)
		l.Evidence = &ev
		d.wiEnd(ls.wi, true, &l)
		d.loops.push(&l)
		return
	}
	d.wiEnd(ls.wi, false, nil)
}
