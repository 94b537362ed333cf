package revisit

import (
	"bytes"
	"encoding/binary"

	"github.com/pongscan/pongscan/pkg/decode"
)

// prefilter skips, without decoding, the plain Ethernet frames whose IP
// addresses are in none of the loops' client prefixes: without the
// capture timeline, every frame the second read needs (a loop's packets,
// the server's responses to the prefix, the requests they answer, their
// fragments) has an address there. Other frames (other link types,
// VLAN tags) are decoded.
type prefilter struct {
	v4 [][]byte // the prefix's whole bytes: 3 of a /24
	v6 [][]byte // 7 of a /56
}

func newPrefilter(loops []Loop) *prefilter {
	pf := &prefilter{}
	for _, l := range loops {
		a := l.Prefix.Addr()
		if !a.IsValid() {
			return nil // a loop we cannot place: decode everything
		}
		n := l.Prefix.Bits() / 8
		if a.Is4() {
			b := a.As4()
			pf.v4 = append(pf.v4, b[:n])
		} else {
			b := a.As16()
			pf.v6 = append(pf.v6, b[:n])
		}
	}
	return pf
}

// skip reports whether a frame certainly holds nothing of the loops.
func (pf *prefilter) skip(link uint32, data []byte) bool {
	if pf == nil || link != decode.LinkEthernet || len(data) < 14+40 {
		return false
	}
	match := func(ps [][]byte, a, b []byte) bool {
		for _, p := range ps {
			if bytes.HasPrefix(a, p) || bytes.HasPrefix(b, p) {
				return true
			}
		}
		return false
	}
	switch binary.BigEndian.Uint16(data[12:14]) {
	case 0x0800:
		ip := data[14:]
		if ip[0]>>4 != 4 {
			return false
		}
		return !match(pf.v4, ip[12:16], ip[16:20])
	case 0x86dd:
		ip := data[14:]
		return !match(pf.v6, ip[8:24], ip[24:40])
	}
	return false
}
