package revisit

import (
	"encoding/binary"

	"github.com/pongscan/pongscan/pkg/decode"
)

// prefilter skips, without decoding, the plain Ethernet frames whose IP
// addresses are in none of the loops' client prefixes: without the
// capture timeline, every frame the second read needs (a loop's packets,
// the server's responses to the prefix, the requests they answer, their
// fragments) has an address there. Other frames (other link types,
// VLAN tags) are decoded.
//
// The prefixes are kept as masked machine words (a /24 as the first
// three bytes of a uint32, a /56 as the first seven of a uint64): the
// test runs on every frame of the second read, and comparing words took
// a quarter of the time bytes.HasPrefix over byte slices did.
type prefilter struct {
	v4 []uint32 // address & mask4
	v6 []uint64 // first 8 bytes & mask6
}

const (
	mask4 = 0xffffff00         // a /24
	mask6 = 0xffffffffffffff00 // a /56
)

func newPrefilter(loops []Loop) *prefilter {
	pf := &prefilter{}
	for _, l := range loops {
		a := l.Prefix.Addr()
		if !a.IsValid() || (a.Is4() && l.Prefix.Bits() != 24) || (a.Is6() && l.Prefix.Bits() != 56) {
			return nil // a loop we cannot place: decode everything
		}
		if a.Is4() {
			b := a.As4()
			pf.v4 = append(pf.v4, binary.BigEndian.Uint32(b[:])&mask4)
		} else {
			b := a.As16()
			pf.v6 = append(pf.v6, binary.BigEndian.Uint64(b[:8])&mask6)
		}
	}
	return pf
}

// skip reports whether a frame certainly holds nothing of the loops.
func (pf *prefilter) skip(link uint32, data []byte) bool {
	if pf == nil || link != decode.LinkEthernet || len(data) < 14+40 {
		return false
	}
	switch binary.BigEndian.Uint16(data[12:14]) {
	case 0x0800:
		ip := data[14:]
		if ip[0]>>4 != 4 {
			return false
		}
		a := binary.BigEndian.Uint32(ip[12:16]) & mask4
		b := binary.BigEndian.Uint32(ip[16:20]) & mask4
		for _, p := range pf.v4 {
			if a == p || b == p {
				return false
			}
		}
		return true
	case 0x86dd:
		ip := data[14:]
		a := binary.BigEndian.Uint64(ip[8:16]) & mask6
		b := binary.BigEndian.Uint64(ip[24:32]) & mask6
		for _, p := range pf.v6 {
			if a == p || b == p {
				return false
			}
		}
		return true
	}
	return false
}
