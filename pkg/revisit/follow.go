package revisit

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
)

// maxRequests bounds the request verdicts kept per loop's prefix.
const maxRequests = 1 << 16

// see shows a decoded datagram to one loop.
func (f *follow) see(rec *capture.Record, src int, p *decode.Packet, frags *fragRing, info *decode.DNSInfo) {
	sp, dp := p.Src, p.Dst
	sp, dp = netip.AddrPortFrom(sp.Addr().Unmap(), sp.Port()), netip.AddrPortFrom(dp.Addr().Unmap(), dp.Port())
	fromC := sp == f.c && dp == f.s
	onFlow := fromC || sp == f.s && dp == f.c
	isTrig := false
	if onFlow {
		for _, tr := range f.trig {
			if tr.frame != 0 && tr.src == src && tr.frame == rec.Frame {
				isTrig = true
			}
		}
	}
	inLoop := false
	if onFlow && !f.done {
		if !f.started && src == f.firstSrc && rec.Frame == f.firstFrame {
			f.started, f.last = true, rec.Time
		}
		if f.started {
			if rec.Time-f.last >= int64(f.idle()) {
				f.done = true
			} else {
				inLoop = true
				f.count++
				f.last = max(f.last, rec.Time)
				if f.count >= f.l.Packets {
					f.done = true
				}
			}
		}
	}
	if isTrig || inLoop {
		f.keep(rec, src, p, fromC, isTrig, frags)
	}
	if f.dnsServer {
		f.rrlSee(rec, src, p, sp, dp, isTrig || inLoop, isTrig, info)
	}
}

func (f *follow) idle() int64 { return f.out.idleNs }

// keep writes a frame of the loop or its trigger and counts it.
func (f *follow) keep(rec *capture.Record, src int, p *decode.Packet, fromC, trig bool, frags *fragRing) {
	if f.w != nil {
		if p.Reassembled {
			for _, fr := range frags.take(rec, p) {
				f.w.write(&fr.rec, fr.src, false)
			}
		}
		f.w.write(rec, src, trig)
	}
	out := f.out
	if !trig {
		b := (rec.Time - out.Series.Start) / out.Series.Bucket
		if b >= 0 && int(b) < len(out.Series.Counts[0]) {
			d := 1
			if fromC {
				d = 0
			}
			out.Series.Counts[d][b]++
		}
	}
	if len(out.Ladder) < f.ladderMax+2 {
		out.Ladder = append(out.Ladder, Step{Time: rec.Time, FromC: fromC, Wire: p.WireLen, Summary: summarize(p.Payload, p.Cut),
			File: f.file(src), Frame: rec.Frame, Trigger: trig})
	}
}

func (f *follow) file(src int) string {
	if src >= 0 && src < len(f.out.paths) {
		return f.out.paths[src]
	}
	return ""
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

// rrlSee collects the server's responses to the client's prefix, and
// remembers whether each client endpoint's last request parsed.
func (f *follow) rrlSee(rec *capture.Record, src int, p *decode.Packet, sp, dp netip.AddrPort, loop, trig bool, info *decode.DNSInfo) {
	out := f.out
	switch {
	case dp == f.s && out.Prefix.Contains(sp.Addr()):
		if len(f.requests) >= maxRequests {
			clear(f.requests)
		}
		f.requests[sp] = decode.ClassifyDNS(p.Payload, p.Cut, decode.Full, info) == decode.DNS
	case sp == f.s && out.Prefix.Contains(dp.Addr()):
		if decode.ClassifyDNS(p.Payload, p.Cut, decode.HeaderQuestion, info) != decode.DNS || !info.Response {
			return
		}
		b := p.Payload
		aa := len(b) >= 4 && b[2]&0x04 != 0
		var an uint16
		if len(b) >= 8 {
			an = binary.BigEndian.Uint16(b[6:8])
		}
		parsed, seen := f.requests[dp]
		r := rrl.Replayed{Response: rrl.Response{Time: rec.Time, Client: dp.Addr(), Kind: rrl.Classify(info.RCode, aa, an),
			RCode: info.RCode, QType: info.QType, QClass: info.QClass, Unparsed: seen && !parsed && info.RCode == rrl.RCodeFormErr}}
		if info.HasQuestion {
			r.QName = info.QName.String()
		}
		if loop {
			f.respRank++
			r.Loop, r.Trigger = f.respRank, trig
		}
		out.Responses = append(out.Responses, r)
		out.Refs = append(out.Refs, report.Packet{File: f.file(src), Frame: rec.Frame, Time: report.Timestamp(rec.Time)})
	}
}
