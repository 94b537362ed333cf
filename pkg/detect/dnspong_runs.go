package detect

import "github.com/pongscan/pongscan/pkg/decode"

// Loops without a captured trigger on DNS flows, anywhere in the capture.
//
// Following every DNS flow's evidence would cost every packet of a busy
// server. A flow's run is followed only from its gate: a packet from the
// client that is not a DNS query (junk, a TFTP error, a DNS response).
// Request/response traffic never opens it. The packet just before the gate
// packet joins the run when it came from the other side within MaxDelay:
// it is what the gate packet reacted to (a spoofed first packet, or the
// first FORMERR of a loop the capture caught running), so the run names
// the loop's first captured packet.

// runStats are the evidence of a run that may be a loop without a
// trigger, with a sample of the client's payload.
type runStats struct {
	ev      evidence
	sampled bool
	sample  []byte
	cut     bool
	wi      int32    // the what-if's handle (Config.WhatIf)
	wiLast  lastResp // its last response, for WhatIf.Repeat
}

// The flow's previous packet, kept for the gate (flowState.prev*).
const (
	prevValid = 1 << iota // a previous packet is recorded
	prevFromServer
)

// addRun follows p in the flow's run, opening one at the gate. v and info
// are p's DNS verdict. Most packets only leave a note of themselves for
// the next one's gate: the common path is a few stores.
func (d *DNSPong) addRun(i int32, f *flowState, p *Packet, srcIsA bool, v decode.DNSVerdict, info *decode.DNSInfo) {
	if d.cfg.NoRuns || f.server == 0 {
		return
	}
	fromServer := f.server == side(srcIsA)
	if f.runIdx != 0 || f.loop != nil || !fromServer && !(v == decode.DNS && !info.Response) {
		d.followRun(i, f, p, fromServer, v, info)
	}
	// Keep p as the previous packet: its DNS header bits, or, when it is
	// not DNS (rare on a DNS flow), its full message type.
	f.prevRef, f.prevTime, f.prevTTL = mkref(p.Ref), p.Time, p.TTL
	f.prevWire = uint16(min(p.WireLen, 0xffff))
	f.prevFlags = prevValid
	if fromServer {
		f.prevFlags |= prevFromServer
	}
	if v == decode.DNS {
		f.prevProto, f.prevType = 0, uint16(info.Opcode)<<11|uint16(info.RCode)
		if info.Response {
			f.prevType |= 1 << 15
		}
	} else {
		m := decode.ClassifyMsg(p.Payload, p.Cut)
		f.prevProto, f.prevRole, f.prevType = uint8(m.Proto)|prevTyped, uint8(m.Role), m.Type
	}
}

// prevTyped marks flowState.prevProto as holding a full message type;
// without it the previous packet was DNS and prevType holds its header
// bits (QR, opcode, rcode).
const prevTyped = 0x80

// prevMsg is the message type of the flow's previous packet.
func prevMsg(f *flowState) decode.Msg {
	if f.prevProto&prevTyped != 0 {
		return decode.Msg{Proto: decode.MsgProto(f.prevProto &^ prevTyped), Role: decode.MsgRole(f.prevRole), Type: f.prevType}
	}
	info := decode.DNSInfo{Response: f.prevType&(1<<15) != 0, Opcode: uint8(f.prevType >> 11 & 0xf), RCode: uint8(f.prevType & 0xf)}
	return msgOf(decode.DNS, &info, nil)
}

// followRun counts p in the flow's run, closing one that went idle and
// opening one at the gate: a packet from the client that is not a query.
func (d *DNSPong) followRun(i int32, f *flowState, p *Packet, fromServer bool, v decode.DNSVerdict, info *decode.DNSInfo) {
	dir := 0
	if fromServer {
		dir = 1
	}
	if f.runIdx != 0 && p.Time-d.runs[f.runIdx-1].ev.t.last >= int64(d.cfg.Idle) {
		d.closeRun(i, f)
	}
	switch {
	case f.loop != nil:
		// A triggered loop owns these packets.
		if f.runIdx != 0 {
			d.dropRun(f)
		}
	case f.runIdx != 0:
		d.runs[f.runIdx-1].add(p, dir)
	case dir == 0 && !(v == decode.DNS && !info.Response):
		f.runIdx = d.newRun()
		r := &d.runs[f.runIdx-1]
		if f.prevFlags&prevValid != 0 && f.prevFlags&prevFromServer != 0 && p.Time-f.prevTime <= int64(d.cfg.MaxDelay) && p.Time >= f.prevTime {
			// The packet the gate packet answered starts the run.
			prev := Packet{Ref: f.prevRef.unpack(), Time: f.prevTime}
			prev.TTL, prev.WireLen = f.prevTTL, int(f.prevWire)
			r.ev.begin(&prev, 1, [2]bool{})
			r.ev.add(&prev, 1, prevMsg(f))
			// The what-if saw it when it was a DNS response.
			d.wiRun(i, f, r, prev.Ref, prev.Time, f.prevProto&prevTyped == 0 && f.prevType&(1<<15) != 0)
		} else {
			r.ev.begin(p, 0, [2]bool{})
			d.wiRun(i, f, r, p.Ref, p.Time, false)
		}
		r.add(p, 0)
	}
}

// msgOf types p from its DNS verdict, classifying it in full only when it
// is not DNS (rare on a DNS flow).
func msgOf(v decode.DNSVerdict, info *decode.DNSInfo, p *Packet) decode.Msg {
	if v == decode.DNS && !plausibleDNS(info) {
		return decode.Msg{Proto: decode.MsgBinary}
	}
	if v == decode.DNS || p == nil {
		m := decode.Msg{Proto: decode.MsgDNS, Role: decode.RoleRequest, Type: uint16(info.Opcode)<<11 | uint16(info.RCode)}
		if info.Response {
			m.Role, m.Type = decode.RoleAnswer, m.Type|1<<15
		}
		return m
	}
	return decode.ClassifyMsg(p.Payload, p.Cut)
}

// add counts p in the run, with a sample of the client's first payload.
func (r *runStats) add(p *Packet, dir int) {
	r.ev.add(p, dir, decode.ClassifyMsg(p.Payload, p.Cut))
	if dir == 0 && !r.sampled {
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
	d.runs[k].sampled = false
	return k + 1
}

// wiRun begins following run r of the flow in slot i in the what-if,
// from its first packet.
func (d *DNSPong) wiRun(i int32, f *flowState, r *runStats, first PacketRef, firstTime int64, fromServer bool) {
	r.wi, r.wiLast.n = 0, 0
	if d.cfg.WhatIf == nil {
		return
	}
	client, server := d.flows.Endpoint(i, f.server != 1), d.flows.Endpoint(i, f.server == 1)
	r.wi = d.cfg.WhatIf.Start(client, server, first, firstTime, fromServer, PacketRef{}, firstTime)
}

// dropRun stops following f's run.
func (d *DNSPong) dropRun(f *flowState) {
	if f.runIdx != 0 {
		r := &d.runs[f.runIdx-1]
		d.wiEnd(r.wi, false, nil)
		r.wi = 0
		d.runFree = append(d.runFree, f.runIdx-1)
		f.runIdx = 0
	}
}

// closeRun ends f's run, filing it as a loop without a trigger when it
// qualifies.
func (d *DNSPong) closeRun(i int32, f *flowState) {
	if f.runIdx == 0 {
		return
	}
	r := &d.runs[f.runIdx-1]
	if _, ok := r.ev.tests(d.cfg.Runs); ok {
		var sample []byte
		if r.sampled {
			sample = r.sample
		}
		client, server := d.flows.Endpoint(i, f.server != 1), d.flows.Endpoint(i, f.server == 1)
		services := [2]string{service(client.Port(), r.ev.types[0].top()), service(server.Port(), r.ev.types[1].top())}
		l := r.ev.trigless(d.Name(), client, server, sample, r.sampled && r.cut, d.cfg.Runs, services)
		d.wiEnd(r.wi, true, &l)
		r.wi = 0
		d.runLoops.push(&l)
	} else if r.ev.oneSidedAnswers(d.cfg.Runs) {
		d.counters.OneSided++
	}
	d.dropRun(f)
}

// plausibleDNS reports whether a message that parses as DNS uses an
// opcode and rcode a DNS server sends over UDP: QUERY, IQUERY, STATUS,
// NOTIFY or UPDATE, and a defined rcode. Other protocols' binary payloads
// parse as DNS headers now and then (AFS Rx packets read as opcode 6,
// rcode 14); they are not DNS evidence.
func plausibleDNS(info *decode.DNSInfo) bool {
	switch info.Opcode {
	case 0, 1, 2, 4, 5:
	default:
		return false
	}
	return info.RCode <= 10
}
