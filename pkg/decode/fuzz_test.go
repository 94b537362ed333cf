package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The link types Decode peels, in a fixed order the fuzzer indexes.
var fuzzLinks = []uint32{LinkNull, LinkEthernet, LinkRaw12, LinkRaw14, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2, LinkPPI, LinkNFLOG, LinkPKTAP, LinkPPP, LinkPPPHDLC, LinkCHDLC, Link80211, LinkRadiotap}

// fuzzDNS is a DNS query for example.com, type A.
var fuzzDNS = []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}

// fuzzUDP is a UDP header and payload from port 40000 to 53.
func fuzzUDP(payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, 40000)
	b = binary.BigEndian.AppendUint16(b, 53)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0)
	return append(b, payload...)
}

// fuzzIPv4 is an IPv4 header and body; fragOff is in bytes.
func fuzzIPv4(proto uint8, id uint16, fragOff int, more bool, body []byte) []byte {
	b := make([]byte, 20, 20+len(body))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(body)))
	binary.BigEndian.PutUint16(b[4:], id)
	fo := uint16(fragOff / 8)
	if more {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], fo)
	copy(b[12:], []byte{192, 0, 2, 1})
	copy(b[16:], []byte{192, 0, 2, 53})
	return append(b, body...)
}

// fuzzIPv6 is an IPv6 header and body with next header next.
func fuzzIPv6(next uint8, body []byte) []byte {
	b := make([]byte, 40, 40+len(body))
	b[0], b[6], b[7] = 0x60, next, 64
	binary.BigEndian.PutUint16(b[4:], uint16(len(body)))
	b[8], b[9], b[23] = 0x20, 0x01, 1
	b[24], b[25], b[39] = 0x20, 0x01, 0x53
	return append(b, body...)
}

// fuzzFrag6 is an IPv6 fragment header followed by data.
func fuzzFrag6(next uint8, id uint32, off int, more bool, data []byte) []byte {
	fo := uint16(off) &^ 7
	if more {
		fo |= 1
	}
	b := []byte{next, 0}
	b = binary.BigEndian.AppendUint16(b, fo)
	b = binary.BigEndian.AppendUint32(b, id)
	return append(b, data...)
}

// fuzzSeq packs frames into the fuzzer's sequence format: a 2-byte length
// before each frame.
func fuzzSeq(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// splitSeq undoes fuzzSeq; a length past the end takes what is left.
func splitSeq(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// wrapLinks puts an IP packet in every link layer Decode reads, each with
// the bytes it adds before the packet.
func wrapLinks(ip []byte) map[uint32][]byte {
	et := []byte{0x08, 0x00}
	fam := uint32(2)
	if len(ip) > 0 && ip[0]>>4 == 6 {
		et, fam = []byte{0x86, 0xdd}, 10
	}
	eth := append(make([]byte, 12), et...)
	sll := append(make([]byte, 14), et...)
	sll2 := append(append([]byte{}, et...), make([]byte, 18)...)
	null := binary.LittleEndian.AppendUint32(nil, fam)
	loop := binary.BigEndian.AppendUint32(nil, fam)
	cat := func(h []byte) []byte { return append(append([]byte{}, h...), ip...) }
	// NFLOG: family, version, resource id, then a prefix TLV and the
	// payload TLV (type 9), lengths little-endian.
	nflog := []byte{byte(fam), 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0}
	nflog = binary.LittleEndian.AppendUint16(nflog, uint16(min(4+len(ip), 0xffff)))
	nflog = binary.LittleEndian.AppendUint16(nflog, 9)
	// PKTAP and PPI: a header naming Ethernet as the inner link type.
	pktap := append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 8), LinkEthernet), eth...)
	ppi := append(binary.LittleEndian.AppendUint32([]byte{0, 0, 8, 0}, LinkEthernet), eth...)
	// PPP (RFC 1662 framing), Cisco HDLC, and 802.11 QoS data with
	// LLC/SNAP, bare and under radiotap.
	pppProto := []byte{0x00, 0x21}
	if et[0] == 0x86 {
		pppProto = []byte{0x00, 0x57}
	}
	ppp := append([]byte{0xff, 0x03}, pppProto...)
	chdlc := append([]byte{0x0f, 0x00}, et...)
	wifi := append(append([]byte{0x88, 0x01}, make([]byte, 24)...), 0xaa, 0xaa, 0x03, 0, 0, 0, et[0], et[1])
	radiotap := append([]byte{0, 0, 8, 0, 0, 0, 0, 0}, wifi...)
	return map[uint32][]byte{
		LinkPPP:      cat(ppp),
		LinkPPPHDLC:  cat(ppp),
		LinkCHDLC:    cat(chdlc),
		Link80211:    cat(wifi),
		LinkRadiotap: cat(radiotap),
		LinkNFLOG:    cat(nflog),
		LinkPKTAP:    cat(pktap),
		LinkPPI:      cat(ppi),
		LinkEthernet: cat(eth),
		LinkSLL:      cat(sll),
		LinkSLL2:     cat(sll2),
		LinkNull:     cat(null),
		LinkLoop:     cat(loop),
		LinkRaw:      cat(nil),
		LinkRaw12:    cat(nil),
		LinkRaw14:    cat(nil),
	}
}

// result is what one Decode call made of a frame, comparable across link
// types.
type result struct {
	kind        Kind
	src, dst    string
	ttl         uint8
	payload     string
	cut         bool
	reassembled bool
}

func decodeOne(t *testing.T, d *Decoder, link uint32, data []byte, origLen int, now int64) result {
	t.Helper()
	var p Packet
	k := d.Decode(link, data, origLen, now, &p)
	if k >= numKinds {
		t.Fatalf("link %d: kind %d out of range", link, k)
	}
	r := result{kind: k}
	if k != KindUDP {
		return r
	}
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		t.Fatalf("link %d: UDP datagram with addresses %v -> %v", link, p.Src, p.Dst)
	}
	if !p.Reassembled && len(p.Payload) > len(data) {
		t.Fatalf("link %d: payload of %d bytes from a frame of %d", link, len(p.Payload), len(data))
	}
	if len(p.Payload) > maxDatagram {
		t.Fatalf("link %d: payload of %d bytes", link, len(p.Payload))
	}
	r.src, r.dst, r.ttl = p.Src.String(), p.Dst.String(), p.TTL
	r.payload, r.cut, r.reassembled = string(p.Payload), p.Cut, p.Reassembled
	return r
}

// checkStats checks that the decoder counted every frame once and kept
// its reassembly within its limits.
func checkStats(t *testing.T, d *Decoder, frames int, lim FragLimits) {
	t.Helper()
	var n uint64
	for _, c := range d.Stats.Kinds {
		n += c
	}
	if n != uint64(frames) {
		t.Fatalf("kinds count %d frames, decoded %d", n, frames)
	}
	if len(d.Stats.UnknownLinks) > 256 {
		t.Fatalf("%d unknown link types tracked", len(d.Stats.UnknownLinks))
	}
	r := d.frag
	if r.bytes < 0 || r.bytes > lim.MaxBytes {
		t.Fatalf("reassembler holds %d bytes, limit %d", r.bytes, lim.MaxBytes)
	}
	held := 0
	for i := range r.entries {
		e := &r.entries[i]
		if e.inUse {
			held += len(e.buf)
		} else if len(e.buf) != 0 {
			t.Fatalf("free entry holds %d bytes", len(e.buf))
		}
	}
	if held != r.bytes {
		t.Fatalf("reassembler counts %d bytes, entries hold %d", r.bytes, held)
	}
	if len(r.entries) > lim.MaxDatagrams || r.Pending() > lim.MaxDatagrams {
		t.Fatalf("%d datagrams pending, %d entries, limit %d", r.Pending(), len(r.entries), lim.MaxDatagrams)
	}
}

func FuzzDecode(f *testing.F) {
	dns := fuzzUDP(fuzzDNS)
	v4 := fuzzIPv4(17, 1, 0, false, dns)
	v6 := fuzzIPv6(17, dns)
	big := fuzzUDP(bytes.Repeat([]byte("pong"), 10)) // 48 bytes
	for _, ip := range [][]byte{v4, v6, fuzzIPv4(6, 2, 0, false, make([]byte, 20)), fuzzIPv6(0, append([]byte{17, 0, 1, 4, 0, 0, 0, 0}, dns...))} {
		for i, link := range fuzzLinks {
			if frame, ok := wrapLinks(ip)[link]; ok {
				f.Add(uint8(i), uint16(0), frame)
			}
		}
	}
	f.Add(uint8(200), uint16(0), []byte{1, 2, 3})
	f.Add(uint8(1), uint16(100), append(append(make([]byte, 12), 0x81, 0, 0, 1, 0x08, 0), v4...))
	// Fragment sequences, fed in order under link type 101 (raw IP).
	f.Add(uint8(255), uint16(0), fuzzSeq(fuzzIPv4(17, 7, 0, true, big[:24]), fuzzIPv4(17, 7, 24, false, big[24:])))
	f.Add(uint8(255), uint16(0), fuzzSeq(fuzzIPv4(17, 8, 24, false, big[24:]), fuzzIPv4(17, 8, 0, true, big[:24])))
	f.Add(uint8(255), uint16(0), fuzzSeq(fuzzIPv4(17, 9, 0, true, big[:24]), fuzzIPv4(17, 9, 16, true, big[16:40]), fuzzIPv4(17, 9, 40, false, big[40:])))
	f.Add(uint8(255), uint16(0), fuzzSeq(fuzzIPv6(44, fuzzFrag6(17, 5, 0, true, big[:24])), fuzzIPv6(44, fuzzFrag6(17, 5, 24, false, big[24:]))))
	f.Add(uint8(255), uint16(0), fuzzSeq(fuzzIPv4(17, 3, 0, true, big[:8]), fuzzIPv4(17, 4, 0, true, big[:8]), fuzzIPv4(17, 3, 8, false, big[8:])))
	f.Add(uint8(254), uint16(0), []byte{0, 0x88, 0, 1, 0x08, 0, 2, 0x08, 0}) // in order
	f.Add(uint8(254), uint16(0), []byte{2, 0x08, 1, 0, 0x90, 1, 1, 0x08, 1}) // last fragment first
	f.Fuzz(func(t *testing.T, sel uint8, extra uint16, data []byte) {
		lim := FragLimits{MaxDatagrams: 4, MaxBytes: 512, Timeout: time.Second}
		if sel == 254 {
			checkReassembly(t, data, lim)
			return
		}
		if sel == 255 {
			// A sequence of raw IP frames through one decoder, 100 ms
			// apart, to exercise the reassembler; twice, to check that
			// decoding is deterministic.
			frames := splitSeq(data)
			var runs [2][]result
			for run := range runs {
				d := NewDecoder(lim)
				for i, fr := range frames {
					runs[run] = append(runs[run], decodeOne(t, d, LinkRaw, fr, len(fr)+int(extra%4), int64(i)*int64(100*time.Millisecond)))
					checkStats(t, d, i+1, lim)
				}
			}
			if fmt.Sprint(runs[0]) != fmt.Sprint(runs[1]) {
				t.Fatalf("two runs disagree:\n%v\n%v", runs[0], runs[1])
			}
			return
		}
		// One frame under the chosen link type, or an unknown one.
		d := NewDecoder(lim)
		link := uint32(sel)
		if int(sel) < len(fuzzLinks) {
			link = fuzzLinks[sel]
		}
		r := decodeOne(t, d, link, data, len(data)+int(extra), 0)
		known := false
		for _, l := range fuzzLinks {
			known = known || l == link
		}
		if !known && (r.kind != KindUnknownLink || d.Stats.UnknownLinks[link] != 1) {
			t.Fatalf("link %d decoded as %v", link, r.kind)
		}
		checkStats(t, d, 1, lim)
		// The same bytes as an IP packet must decode alike under every
		// link layer that can carry it.
		var want result
		for i, link := range []uint32{LinkRaw, LinkRaw12, LinkRaw14, LinkEthernet, LinkSLL, LinkSLL2, LinkNull, LinkLoop, LinkPPI, LinkNFLOG, LinkPKTAP, LinkPPP, LinkPPPHDLC, LinkCHDLC, Link80211, LinkRadiotap} {
			frame := wrapLinks(data)[link]
			d := NewDecoder(lim)
			got := decodeOne(t, d, link, frame, len(frame)+int(extra), 0)
			if len(data) == 0 && link != LinkRaw && link != LinkRaw12 && link != LinkRaw14 {
				continue // an empty packet after a link header is not IP
			}
			if i == 0 {
				want = got
			} else if got != want {
				t.Fatalf("link %d: %+v, raw IP: %+v", link, got, want)
			}
			checkStats(t, d, 1, lim)
		}
	})
}

// checkReassembly feeds the reassembler fragments described by 3-byte
// commands: offset/8, then the more-fragments flag (top bit) and length,
// then the datagram. Fragment i is filled with byte i%255+1, so a zero
// byte in a datagram is a hole returned as data.
func checkReassembly(t *testing.T, cmds []byte, lim FragLimits) {
	r := NewReassembler(lim)
	for i := 0; len(cmds) >= 3; i++ {
		off, more, n := int(cmds[0])*8, cmds[1]&0x80 != 0, int(cmds[1]&0x7f)
		k := fragKey{id: uint32(cmds[2] & 3)}
		cmds = cmds[3:]
		out, wire, ok := r.Add(k, off, more, bytes.Repeat([]byte{byte(i%255 + 1)}, n), 1, int64(i)*int64(time.Millisecond))
		if ok && (wire < 1 || wire > i+1 || bytes.IndexByte(out, 0) >= 0) {
			t.Fatalf("fragment %d completed %d bytes from %d fragments: %v", i, len(out), wire, out)
		}
		if r.bytes < 0 || r.bytes > lim.MaxBytes || len(r.entries) > lim.MaxDatagrams {
			t.Fatalf("reassembler holds %d bytes in %d entries", r.bytes, len(r.entries))
		}
	}
}

func FuzzClassifyDNS(f *testing.F) {
	for _, s := range dnsSeeds(f) {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, cut bool) {
		var hq, full DNSInfo
		vh := ClassifyDNS(payload, cut, HeaderQuestion, &hq)
		vf := ClassifyDNS(payload, cut, Full, &full)
		for _, v := range []DNSVerdict{vh, vf} {
			switch {
			case v > Truncated:
				t.Fatalf("verdict %d out of range", v)
			case cut && v == NotDNS:
				t.Fatalf("a cut payload judged %v", v)
			case !cut && v == Truncated:
				t.Fatalf("a whole payload judged %v", v)
			}
		}
		if vf == DNS && vh != DNS {
			t.Fatalf("DNS at Full depth but %v at HeaderQuestion", vh)
		}
		if vf == DNS && (hq.ID != full.ID || hq.Response != full.Response || hq.RCode != full.RCode ||
			hq.HasQuestion != full.HasQuestion || hq.QHash != full.QHash || hq.QName != full.QName) {
			t.Fatalf("depths disagree on the header or question: %+v, %+v", hq, full)
		}
		if vh == DNS && (len(payload) < 12 || hq.ID != binary.BigEndian.Uint16(payload)) {
			t.Fatalf("DNS of %d bytes with ID %d", len(payload), hq.ID)
		}
		// cut only turns a failure into Truncated.
		var other DNSInfo
		vo := ClassifyDNS(payload, !cut, Full, &other)
		if (vo == DNS) != (vf == DNS) {
			t.Fatalf("cut=%v: %v, cut=%v: %v", cut, vf, !cut, vo)
		}
		// What dnsmessage unpacks whole is DNS at every depth, unless
		// its last record's length runs past the message: Unpack never
		// checks that (see TestRegressionRDLengthPastEnd), and padding
		// the message tells that case apart.
		var m dnsmessage.Message
		if err := m.Unpack(payload); err == nil && vf != DNS {
			var padded DNSInfo
			if ClassifyDNS(append(bytes.Clone(payload), make([]byte, 1<<16)...), false, Full, &padded) != DNS {
				t.Fatalf("dnsmessage unpacks it, ClassifyDNS says %v", vf)
			}
		}
		pi := ClassifyPayload(payload)
		switch pi.Kind {
		case PayloadTFTPError, PayloadTFTP, PayloadNTP, PayloadText, PayloadBinary:
			if len(payload) == 0 {
				t.Fatalf("empty payload classified %q", pi.Kind)
			}
		case PayloadEmpty:
			if len(payload) != 0 {
				t.Fatalf("%d bytes classified empty", len(payload))
			}
		default:
			t.Fatalf("payload kind %q", pi.Kind)
		}
		if pi.Summary == "" {
			t.Fatalf("no summary for a %q payload", pi.Kind)
		}
		if pi.Kind == PayloadTFTPError && (len(payload) < 5 || !bytes.Contains(payload, []byte(pi.Text))) {
			t.Fatalf("TFTP error text %q not in the payload", pi.Text)
		}
	})
}

// dnsSeeds are DNS messages of every section, and non-DNS payloads the
// detector meets.
func dnsSeeds(tb testing.TB) [][]byte {
	name := dnsmessage.MustNewName("www.example.com.")
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, Response: true, RCode: dnsmessage.RCodeNameError})
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	must(b.StartAnswers())
	must(b.AResource(dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}))
	must(b.StartAuthorities())
	must(b.NSResource(dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET}, dnsmessage.NSResource{NS: name}))
	must(b.StartAdditionals())
	var opt dnsmessage.ResourceHeader
	must(opt.SetEDNS0(1232, dnsmessage.RCodeSuccess, false))
	must(b.OPTResource(opt, dnsmessage.OPTResource{}))
	full, err := b.Finish()
	must(err)
	formerr := []byte{0, 9, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
	loop := append(append([]byte{}, fuzzDNS[:12]...), 0xc0, 12, 0, 1, 0, 1) // pointer to itself
	return [][]byte{
		fuzzDNS, full, full[:len(full)-5], formerr, loop,
		append([]byte{0, 5, 0, 4}, "RRQ must be sent first\x00"...),
		append([]byte{0, 1}, "pxelinux.0\x00octet\x00"...),
		{0, 4, 0, 1},
		append([]byte{0x23}, make([]byte, 47)...),
		[]byte("hello, world\r\n"),
		{},
	}
}
