package detect

import (
	"encoding/binary"

	"github.com/pongscan/pongscan/pkg/decode"
)

// The rate-limiting what-if in the scan (whatif.go): what the DNS detector
// shows Config.WhatIf as it goes.

// Request states of flowState.lastReq.
const (
	reqParsed   = 1
	reqUnparsed = 2
)

// whatIf shows p, just classified as v, to the what-if: a packet from
// the client notes whether it parsed, a DNS response from the server
// goes to the replay with its flow's loop or run.
func (d *DNSPong) whatIf(f *flowState, p *Packet, srcIsA bool, v decode.DNSVerdict) {
	info := &d.info
	server := f.server
	if server == 0 {
		// Both ports are DNS ports and no query or answer has said
		// which side serves yet.
		if v != decode.DNS {
			return
		}
		server = side(srcIsA == info.Response)
	}
	if server != side(srcIsA) {
		f.lastReq = reqUnparsed
		if v == decode.DNS {
			f.lastReq = reqParsed
		}
		return
	}
	if v != decode.DNS || !info.Response {
		return
	}
	unparsed := f.lastReq == reqUnparsed && info.RCode == 1
	var h int32
	var last *lastResp
	switch {
	case f.loop != nil:
		h, last = f.loop.wi, &f.loop.wiLast
	case f.runIdx != 0:
		h, last = d.runs[f.runIdx-1].wi, &d.runs[f.runIdx-1].wiLast
	}
	if h != 0 && last.is(p.Payload) {
		d.cfg.WhatIf.Repeat(h, p.Time, p.Ref, unparsed)
		return
	}
	if h != 0 {
		last.set(p.Payload)
	}
	r := &d.wiResp
	r.Time, r.Ref, r.Server, r.Client, r.Info = p.Time, p.Ref, p.Src, p.Dst, info
	b := p.Payload
	r.AA = len(b) >= 4 && b[2]&0x04 != 0
	r.Answers = 0
	if len(b) >= 8 {
		r.Answers = binary.BigEndian.Uint16(b[6:8])
	}
	r.Unparsed, r.Loop = unparsed, h
	d.cfg.WhatIf.Response(r)
}

// lastResp is a loop's last response's bytes, for WhatIf.Repeat: at most
// lastRespMax of them (a longer response is never a repeat).
type lastResp struct {
	b [lastRespMax]byte
	n int8 // -1: none
}

const lastRespMax = 64

func (l *lastResp) is(b []byte) bool {
	return l.n > 0 && len(b) == int(l.n) && string(b) == string(l.b[:l.n])
}

func (l *lastResp) set(b []byte) {
	if len(b) > lastRespMax || len(b) == 0 {
		l.n = -1
		return
	}
	l.n = int8(copy(l.b[:], b))
}

// wiStart begins following a loop in the what-if; 0 without one.
func (d *DNSPong) wiStart(l *Loop, from int64) int32 {
	if d.cfg.WhatIf == nil {
		return 0
	}
	var answer PacketRef
	if l.HasTrigger {
		answer = l.Response.Ref
	}
	return d.cfg.WhatIf.Start(l.Client, l.Server, l.FirstPacket.Ref, l.FirstPacket.Time, false, answer, from)
}

// wiEnd ends what the what-if began.
func (d *DNSPong) wiEnd(h int32, reported bool, l *Loop) {
	if d.cfg.WhatIf != nil && h != 0 {
		d.cfg.WhatIf.End(h, reported, l)
	}
}
