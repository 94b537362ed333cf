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
	r := &d.wiResp
	r.Time, r.Ref, r.Server, r.Client, r.Info = p.Time, p.Ref, p.Src, p.Dst, info
	b := p.Payload
	r.AA = len(b) >= 4 && b[2]&0x04 != 0
	r.Answers = 0
	if len(b) >= 8 {
		r.Answers = binary.BigEndian.Uint16(b[6:8])
	}
	r.Unparsed = f.lastReq == reqUnparsed && info.RCode == 1
	r.Loop = 0
	switch {
	case f.loop != nil:
		r.Loop = f.loop.wi
	case f.runIdx != 0:
		r.Loop = d.runs[f.runIdx-1].wi
	}
	d.cfg.WhatIf.Response(r)
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
