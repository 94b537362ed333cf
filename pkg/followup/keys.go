package followup

import (
	"encoding/binary"
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
)

// Addresses as machine words (decode.AddrWords: IPv4 as ::ffff:a.b.c.d),
// and the client prefixes the what-if replays (a /24 for IPv4, a /56 for
// IPv6) as the same words masked. Comparing words is what keeps the
// second read's test of every frame cheap (5 ns a frame with three loops,
// a quarter of bytes.HasPrefix).

// words is an address as two big-endian halves.
type words struct{ hi, lo uint64 }

const (
	v4Marker = uint64(0xffff) << 32       // the low word's top half for IPv4
	v4Top    = uint64(0xffffffff) << 32   // where the marker sits
	mask4    = ^uint64(0xff)              // a /24 of the low word of an IPv4 address
	mask6    = uint64(0xffffffffffffff00) // a /56 of the high word
)

func addrWords(a netip.Addr) words {
	hi, lo := decode.AddrWords(a.Unmap())
	return words{hi, lo}
}

func (w words) is4() bool { return w.hi == 0 && w.lo&v4Top == v4Marker }

// prefix is the client prefix holding w: its /24 or /56.
func (w words) prefix() words {
	if w.is4() {
		return words{0, w.lo & mask4}
	}
	return words{w.hi & mask6, 0}
}

// prefixOf is the netip form of w's prefix.
func prefixOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 56
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// rawPrefixes reads the source and destination prefixes of a plain
// Ethernet frame with IPv4 or IPv6 straight from its bytes; ok is false
// for every other frame (those are decoded).
func rawPrefixes(link uint32, data []byte) (src, dst words, ok bool) {
	if link != decode.LinkEthernet || len(data) < 14+40 {
		return src, dst, false
	}
	be := binary.BigEndian
	ip := data[14:]
	switch be.Uint16(data[12:14]) {
	case 0x0800:
		if ip[0]>>4 != 4 {
			return src, dst, false
		}
		if hl := int(ip[0]&0xf) * 4; ip[9] == 17 && len(ip) >= hl+4 && decode.TunnelPort(be.Uint16(ip[hl+2:hl+4])) {
			return src, dst, false // a tunnel: the loop is inside
		}
		src = words{0, (v4Marker | uint64(be.Uint32(ip[12:16]))) & mask4}
		dst = words{0, (v4Marker | uint64(be.Uint32(ip[16:20]))) & mask4}
		return src, dst, true
	case 0x86dd:
		if ip[0]>>4 != 6 {
			return src, dst, false
		}
		if ip[6] == 17 && decode.TunnelPort(be.Uint16(ip[42:44])) {
			return src, dst, false
		}
		s := words{be.Uint64(ip[8:16]), be.Uint64(ip[16:24])}
		d := words{be.Uint64(ip[24:32]), be.Uint64(ip[32:40])}
		return s.prefix(), d.prefix(), true
	}
	return src, dst, false
}
