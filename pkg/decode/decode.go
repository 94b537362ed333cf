package decode

import (
	"encoding/binary"
	"net/netip"
)

// Link types decoded (LINKTYPE_ values from pcap-linktype(7)).
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkPPP      = 9
	LinkRaw12    = 12 // DLT_RAW on some BSDs
	LinkRaw14    = 14 // DLT_RAW on OpenBSD
	LinkPPPHDLC  = 50
	LinkRaw      = 101
	LinkCHDLC    = 104
	Link80211    = 105
	LinkRadiotap = 127
	LinkLoop     = 108
	LinkSLL      = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276
	LinkPPI      = 192 // Per-Packet Information header, then the inner link type
	LinkNFLOG    = 239 // Linux netfilter log: TLVs, one of them the IP packet
	LinkPKTAP    = 258 // Apple PKTAP header, then the inner link type
)

// Kind says what a frame turned out to be.
type Kind uint8

// Frame kinds, in the order a frame is peeled.
const (
	KindUnknownLink Kind = iota // link type not decoded
	KindNotIP                   // ARP, LLDP, 802.3 LLC, ...
	KindMalformed               // link or IP header broken or cut short
	KindFragment                // an IP fragment, held for reassembly
	KindTCP                     // counted, not analysed
	KindOtherIP                 // ICMP, ESP, SCTP, ...
	KindUDP                     // a UDP datagram: Packet is filled in
	numKinds
)

var kindNames = [numKinds]string{"unknown_link", "not_ip", "malformed", "fragment", "tcp", "other_ip", "udp"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// Packet is a decoded UDP datagram.
type Packet struct {
	Src, Dst netip.AddrPort
	TTL      uint8 // IPv4 TTL or IPv6 hop limit
	// Payload is the UDP payload, borrowed from the frame (or from the
	// reassembler for a reassembled datagram) until the next Decode.
	Payload []byte
	// Cut reports that the capture holds less of the datagram than was
	// sent (snap length), so Payload is a prefix of the real payload.
	Cut bool
	// WireLen is the frame's length on the wire; for a reassembled
	// datagram, the sum over its fragments.
	WireLen int
	// Reassembled reports that the datagram came from IP fragments.
	Reassembled bool
	// Frag names the IP datagram a fragment belongs to; it is set only
	// when the frame was a fragment (KindFragment) or completed a
	// reassembled datagram (Reassembled): the frames of one datagram
	// share it.
	Frag FragID
}

// FragID names an IP datagram sent in fragments: its addresses and its
// identification (16 bits in IPv4, 32 in the IPv6 fragment header).
type FragID struct {
	Src, Dst netip.Addr
	ID       uint32
}

// Stats counts frames by kind and other decoding facts.
type Stats struct {
	Kinds        [numKinds]uint64
	UnknownLinks map[uint32]uint64 // frames per undecoded link type
	Reassembled  uint64            // datagrams rebuilt from fragments
	FragDropped  uint64            // fragments dropped: limits, overlaps, timeouts
	// VLANTags is the most 802.1Q/802.1ad tags seen on one Ethernet
	// frame: a capture filter for this input must skip that many.
	VLANTags uint8
}

// Decoder peels link, IP and UDP headers by hand, with no allocation per
// frame. It is not safe for concurrent use.
type Decoder struct {
	Stats Stats
	frag  *Reassembler
}

// NewDecoder returns a decoder whose IP reassembly obeys lim.
func NewDecoder(lim FragLimits) *Decoder {
	return &Decoder{
		Stats: Stats{UnknownLinks: map[uint32]uint64{}},
		frag:  NewReassembler(lim),
	}
}

// FragmentsDropped counts fragments discarded: cut by the snap length,
// overlapping, over the reassembly limits or timed out.
func (d *Decoder) FragmentsDropped() uint64 { return d.Stats.FragDropped + d.frag.Dropped }

// Decode decodes one frame. data is the captured bytes, origLen the length
// on the wire, now the capture time in nanoseconds (for reassembly
// timeouts). When it returns KindUDP, p is filled in.
func (d *Decoder) Decode(link uint32, data []byte, origLen int, now int64, p *Packet) Kind {
	k := d.decodeTunnels(link, data, origLen, now, p)
	d.Stats.Count(link, k)
	return k
}

// DecodeUncounted is Decode without counting the frame's kind in Stats
// (reassembly is still counted): for a decoder that sees frames another
// decoder counts, as when several decode the same stream side by side.
// Count the frame with Stats.Count where it belongs.
func (d *Decoder) DecodeUncounted(link uint32, data []byte, origLen int, now int64, p *Packet) Kind {
	return d.decodeTunnels(link, data, origLen, now, p)
}

// Traffic mirrored by a cloud (AWS VPC Traffic Mirroring, GCP Packet
// Mirroring, Azure vTAP) or a switch arrives inside a tunnel: VXLAN (UDP
// 4789, and Linux's old default 8472) or Geneve (UDP 6081) carrying the
// mirrored Ethernet frame. The datagram the detectors see is the inner
// one; tunnels inside tunnels are peeled up to maxTunnels deep.
const (
	portVXLAN      = 4789
	portVXLANLinux = 8472
	portGeneve     = 6081
	maxTunnels     = 2
)

// TunnelPort reports whether a UDP destination port is a tunnel's whose
// inner frame is decoded instead of the datagram.
func TunnelPort(p uint16) bool { return p == portVXLAN || p == portGeneve || p == portVXLANLinux }

// decodeTunnels decodes a frame, and the frame inside a VXLAN or Geneve
// datagram in its place.
func (d *Decoder) decodeTunnels(link uint32, data []byte, origLen int, now int64, p *Packet) Kind {
	k := d.decode(link, data, origLen, now, p)
	for depth := 0; k == KindUDP && depth < maxTunnels && TunnelPort(p.Dst.Port()); depth++ {
		inner, ok := tunnelFrame(p.Dst.Port(), p.Payload)
		if !ok {
			return k // not a tunnel after all: the datagram itself
		}
		// A client port that happens to be 4789 gets DNS answers there:
		// only a frame that decodes as IP inside is a tunnel's.
		if !innerIsIP(inner) {
			return k
		}
		wire := len(inner)
		if !p.Reassembled && cap(data) >= cap(inner) {
			// The inner frame's share of the outer wire length.
			wire = origLen - (cap(data) - cap(inner))
		}
		if p.Cut && wire < len(inner) {
			wire = len(inner)
		}
		cut := p.Cut
		*p = Packet{}
		data, origLen = inner, max(wire, len(inner))
		k = d.decode(LinkEthernet, data, origLen, now, p)
		p.Cut = p.Cut || cut
	}
	return k
}

// tunnelFrame finds the Ethernet frame in a VXLAN or Geneve payload.
func tunnelFrame(port uint16, b []byte) ([]byte, bool) {
	if port == portGeneve {
		// Version 0, options length in 4-byte words, protocol type
		// 0x6558 (Transparent Ethernet Bridging).
		if len(b) < 8 || b[0]>>6 != 0 || binary.BigEndian.Uint16(b[2:4]) != 0x6558 {
			return nil, false
		}
		n := 8 + int(b[0]&0x3f)*4
		if len(b) < n+14 {
			return nil, false
		}
		return b[n:], true
	}
	// VXLAN (RFC 7348): flags exactly the I bit (a valid VNI), the
	// reserved bytes zero.
	if len(b) < 8+14 || b[0] != 0x08 || b[1] != 0 || b[2] != 0 || b[3] != 0 || b[7] != 0 {
		return nil, false
	}
	return b[8:], true
}

// innerIsIP reports whether an inner Ethernet frame carries IP (after at
// most two VLAN tags), with the version its ethertype says.
func innerIsIP(f []byte) bool {
	et, off := binary.BigEndian.Uint16(f[12:14]), 14
	for range 2 {
		if et != etherVLAN && et != etherQinQ {
			break
		}
		if len(f) < off+4 {
			return false
		}
		et, off = binary.BigEndian.Uint16(f[off+2:off+4]), off+4
	}
	if len(f) <= off {
		return false
	}
	switch et {
	case etherIPv4:
		return f[off]>>4 == 4
	case etherIPv6:
		return f[off]>>4 == 6
	}
	return false
}

// Count counts one frame of link type link decoded as k.
func (s *Stats) Count(link uint32, k Kind) {
	s.Kinds[k]++
	if k == KindUnknownLink {
		if _, ok := s.UnknownLinks[link]; ok || len(s.UnknownLinks) < 256 {
			s.UnknownLinks[link]++
		}
	}
}

const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100
	etherQinQ  = 0x88a8
	etherQ9100 = 0x9100
	maxTags    = 8
)

func (d *Decoder) decode(link uint32, data []byte, origLen int, now int64, p *Packet) Kind {
	cut := origLen > len(data)
	var et uint16
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return KindMalformed
		}
		et = binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for i := 0; et == etherVLAN || et == etherQinQ || et == etherQ9100; i++ {
			if i == maxTags || len(data) < 4 {
				return KindMalformed
			}
			et = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
			d.Stats.VLANTags = max(d.Stats.VLANTags, uint8(i+1))
		}
		if et == etherMPLS || et == etherMPLSMult || et == etherPPPoE {
			var ok bool
			if et, data, ok = peelEtherPayload(et, data); !ok {
				return KindMalformed
			}
		}
	case LinkSLL:
		if len(data) < 16 {
			return KindMalformed
		}
		et = binary.BigEndian.Uint16(data[14:16])
		data = data[16:]
	case LinkSLL2:
		if len(data) < 20 {
			return KindMalformed
		}
		et = binary.BigEndian.Uint16(data[0:2])
		data = data[20:]
	case LinkRaw, LinkRaw12, LinkRaw14, LinkIPv4, LinkIPv6:
		var ok bool
		if et, ok = ipVersion(data); !ok {
			return KindMalformed
		}
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return KindMalformed
		}
		var fam uint32
		if link == LinkLoop {
			fam = binary.BigEndian.Uint32(data)
		} else {
			// Host byte order of the machine that wrote the file.
			fam = binary.LittleEndian.Uint32(data)
			if fam > 0xffff {
				fam = binary.BigEndian.Uint32(data)
			}
		}
		data = data[4:]
		switch fam {
		case 2:
			et = etherIPv4
		case 10, 24, 28, 30:
			et = etherIPv6
		default:
			return KindNotIP
		}
	case LinkPPP, LinkPPPHDLC, LinkCHDLC:
		var ok bool
		if link == LinkPPP {
			et, data, ok = peelPPP(data)
		} else {
			et, data, ok = peelHDLC(data)
		}
		if !ok {
			return KindMalformed
		}
	case Link80211, LinkRadiotap:
		var ok bool
		if link == LinkRadiotap {
			if data, ok = peelRadiotap(data); !ok {
				return KindMalformed
			}
		}
		if et, data, ok = peel80211(data); !ok {
			return KindMalformed
		}
	case LinkPPI, LinkPKTAP:
		// A header naming the inner link type: peel it once (no nesting).
		inner, rest, ok := innerLink(link, data)
		if !ok {
			return KindMalformed
		}
		if inner == LinkPPI || inner == LinkPKTAP {
			return KindUnknownLink
		}
		// The wire length shrinks by the header, so only a real snap-length
		// cut marks the inner frame cut.
		return d.decode(inner, rest, origLen-(len(data)-len(rest)), now, p)
	case LinkNFLOG:
		ip, ok := nflogPayload(data)
		if !ok {
			return KindNotIP
		}
		if et, ok = ipVersion(ip); !ok {
			return KindMalformed
		}
		data = ip
	default:
		return KindUnknownLink
	}
	p.WireLen = origLen
	switch et {
	case etherIPv4:
		return d.ipv4(data, cut, now, p)
	case etherIPv6:
		return d.ipv6(data, cut, now, p)
	}
	return KindNotIP
}

// ipVersion gives the ethertype of a bare IP packet from its version nibble.
func ipVersion(b []byte) (uint16, bool) {
	if len(b) < 1 {
		return 0, false
	}
	switch b[0] >> 4 {
	case 4:
		return etherIPv4, true
	case 6:
		return etherIPv6, true
	}
	return 0, false
}

// innerLink reads a PPI or PKTAP header: the inner link type and the bytes
// after the header. Both headers are little-endian.
func innerLink(link uint32, b []byte) (uint32, []byte, bool) {
	var hlen int
	var inner uint32
	if link == LinkPPI {
		if len(b) < 8 {
			return 0, nil, false
		}
		hlen = int(binary.LittleEndian.Uint16(b[2:4]))
		inner = binary.LittleEndian.Uint32(b[4:8])
	} else {
		if len(b) < 8 {
			return 0, nil, false
		}
		hlen = int(binary.LittleEndian.Uint32(b[0:4]))
		inner = binary.LittleEndian.Uint32(b[4:8])
	}
	if hlen < 8 || hlen > len(b) {
		return 0, nil, false
	}
	return inner, b[hlen:], true
}

// nflogPayload finds the NFULA_PAYLOAD TLV (type 9) of an NFLOG record:
// a 4-byte header, then TLVs of a 2-byte length (header included) and a
// 2-byte type, in host byte order (little-endian here), padded to 4 bytes.
func nflogPayload(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	b = b[4:]
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint16(b[0:2]))
		typ := binary.LittleEndian.Uint16(b[2:4]) & 0x7fff
		if n < 4 || n > len(b) {
			return nil, false
		}
		if typ == 9 {
			return b[4:n], true
		}
		b = b[min((n+3)&^3, len(b)):]
	}
	return nil, false
}

const (
	protoTCP = 6
	protoUDP = 17
)

func (d *Decoder) ipv4(b []byte, cut bool, now int64, p *Packet) Kind {
	if len(b) < 20 || b[0]>>4 != 4 {
		return KindMalformed
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || len(b) < ihl {
		return KindMalformed
	}
	if total < len(b) {
		b = b[:total] // drop link-layer padding
	} else if total > len(b) {
		cut = true
	}
	proto := b[9]
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	p.TTL = b[8]
	flags := binary.BigEndian.Uint16(b[6:8])
	mf, fragOff := flags&0x2000 != 0, int(flags&0x1fff)*8
	body := b[ihl:]
	if mf || fragOff != 0 {
		p.Frag = FragID{Src: src, Dst: dst, ID: uint32(binary.BigEndian.Uint16(b[4:6]))}
		if cut {
			d.Stats.FragDropped++
			return KindFragment
		}
		key := fragKey{src: src, dst: dst, id: uint32(binary.BigEndian.Uint16(b[4:6])), proto: proto}
		whole, wire, ok := d.frag.Add(key, fragOff, mf, body, p.WireLen, now)
		if !ok {
			return KindFragment
		}
		d.Stats.Reassembled++
		p.WireLen = wire
		p.Reassembled = true
		body, cut = whole, false
	} else {
		p.Reassembled = false
	}
	return transport(proto, src, dst, body, cut, p)
}

const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6ESP      = 50
	ip6AH       = 51
	ip6NoNext   = 59
	ip6DestOpts = 60
	ip6Mobility = 135
	ip6HIP      = 139
	ip6Shim6    = 140
	maxExtHdrs  = 16
)

func (d *Decoder) ipv6(b []byte, cut bool, now int64, p *Packet) Kind {
	if len(b) < 40 || b[0]>>4 != 6 {
		return KindMalformed
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if 40+plen < len(b) {
		b = b[:40+plen]
	} else if 40+plen > len(b) {
		cut = true
	}
	next := b[6]
	p.TTL = b[7]
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	body := b[40:]
	p.Reassembled = false
	for i := 0; ; i++ {
		switch next {
		case ip6HopByHop, ip6Routing, ip6DestOpts, ip6Mobility, ip6HIP, ip6Shim6, ip6AH:
			if i == maxExtHdrs || len(body) < 8 {
				return KindMalformed
			}
			n := (int(body[1]) + 1) * 8
			if next == ip6AH {
				n = (int(body[1]) + 2) * 4
			}
			if n > len(body) {
				return KindMalformed
			}
			next, body = body[0], body[n:]
			continue
		case ip6Fragment:
			if i == maxExtHdrs || len(body) < 8 {
				return KindMalformed
			}
			fo := binary.BigEndian.Uint16(body[2:4])
			mf, off := fo&1 != 0, int(fo&0xfff8)
			id := binary.BigEndian.Uint32(body[4:8])
			proto := body[0]
			body = body[8:]
			if !mf && off == 0 {
				// Atomic fragment (RFC 6946): nothing to reassemble.
				next = proto
				continue
			}
			p.Frag = FragID{Src: src, Dst: dst, ID: id}
			if cut {
				d.Stats.FragDropped++
				return KindFragment
			}
			key := fragKey{src: src, dst: dst, id: id, proto: proto, v6: true}
			whole, wire, ok := d.frag.Add(key, off, mf, body, p.WireLen, now)
			if !ok {
				return KindFragment
			}
			d.Stats.Reassembled++
			p.WireLen = wire
			p.Reassembled = true
			// Extension headers after the fragment header are in the
			// reassembled payload: keep peeling from there.
			next, body, cut = proto, whole, false
			continue
		case ip6NoNext, ip6ESP:
			return KindOtherIP
		}
		return transport(next, src, dst, body, cut, p)
	}
}

func transport(proto uint8, src, dst netip.Addr, b []byte, cut bool, p *Packet) Kind {
	switch proto {
	case protoUDP:
	case protoTCP:
		return KindTCP
	default:
		return KindOtherIP
	}
	if len(b) < 8 {
		return KindMalformed
	}
	ulen := int(binary.BigEndian.Uint16(b[4:6]))
	pay := b[8:]
	switch {
	case ulen == 0 && len(pay) > 0:
		// Jumbogram or a sender that left the length out: take what is there.
	case ulen < 8:
		return KindMalformed
	case ulen-8 < len(pay):
		pay = pay[:ulen-8]
	case ulen-8 > len(pay):
		cut = true
	}
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:2]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:4]))
	p.Payload = pay
	p.Cut = cut
	return KindUDP
}

// AddrWords returns the two big-endian halves of a's 16-byte form (IPv4
// mapped into IPv6), for keys and hashes built from machine words. IPv4
// takes a path of its own: As16's array, stored in 8-byte halves and
// reloaded whole, stalls store-to-load forwarding (28 ns a flow key,
// measured).
func AddrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}
