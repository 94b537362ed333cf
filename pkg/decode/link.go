package decode

import "encoding/binary"

// The link layers of point-to-point and wireless captures, and the
// Ethernet payloads that wrap IP once more (MPLS, PPPoE). Each peeler
// returns the ethertype of what follows (etherIPv4, etherIPv6, or another
// value for a frame that is not IP) and the bytes after its header; ok is
// false for a header cut short.

const (
	etherMPLS     = 0x8847
	etherMPLSMult = 0x8848
	etherPPPoE    = 0x8864
	maxLabels     = 8

	pppIPv4 = 0x0021
	pppIPv6 = 0x0057
)

// pppProto maps a PPP protocol number to an ethertype.
func pppProto(proto uint16) uint16 {
	switch proto {
	case pppIPv4:
		return etherIPv4
	case pppIPv6:
		return etherIPv6
	}
	return 0
}

// pppHeader reads a PPP protocol field (RFC 1661): two bytes, or one
// when protocol-field compression made it odd.
func pppHeader(b []byte) (uint16, []byte, bool) {
	if len(b) < 1 {
		return 0, nil, false
	}
	if b[0]&1 == 1 {
		return pppProto(uint16(b[0])), b[1:], true
	}
	if len(b) < 2 {
		return 0, nil, false
	}
	return pppProto(binary.BigEndian.Uint16(b)), b[2:], true
}

// peelPPP reads LINKTYPE_PPP (9): a PPP header, after the HDLC-like
// address and control bytes 0xff 0x03 when they are there (RFC 1662).
func peelPPP(b []byte) (uint16, []byte, bool) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	return pppHeader(b)
}

// peelHDLC reads LINKTYPE_PPP_HDLC (50) and LINKTYPE_C_HDLC (104): PPP in
// HDLC-like framing (0xff 0x03, then PPP), or Cisco HDLC (address 0x0f
// or 0x8f, control, then an ethertype).
func peelHDLC(b []byte) (uint16, []byte, bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	if b[0] == 0xff && b[1] == 0x03 {
		return pppHeader(b[2:])
	}
	return binary.BigEndian.Uint16(b[2:4]), b[4:], true
}

// peel80211 reads an IEEE 802.11 data frame (LINKTYPE_IEEE802_11, 105):
// its MAC header (24 bytes, 30 with a fourth address, 2 more with QoS, 4
// more with HT control), then an LLC/SNAP header naming the ethertype.
// Management, control, null and protected (encrypted) frames are not IP.
func peel80211(b []byte) (uint16, []byte, bool) {
	if len(b) < 24 {
		return 0, nil, false
	}
	fc0, fc1 := b[0], b[1]
	if fc0>>2&3 != 2 || fc0>>4&4 != 0 || fc1&0x40 != 0 {
		return 0, b, true // not data, no body (null data), or encrypted
	}
	n := 24
	if fc1&3 == 3 {
		n += 6 // to and from the distribution system: a fourth address
	}
	if fc0>>4&8 != 0 {
		n += 2 // QoS control
		if fc1&0x80 != 0 {
			n += 4 // HT control
		}
	}
	if len(b) < n+8 {
		return 0, nil, false
	}
	llc := b[n:]
	if llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03 {
		return 0, b, true // not SNAP: not IP
	}
	return binary.BigEndian.Uint16(llc[6:8]), llc[8:], true
}

// peelRadiotap skips a radiotap header (LINKTYPE_IEEE802_11_RADIOTAP,
// 127): its length is in bytes 2-3, little-endian. A frame check
// sequence at the end does not matter: the IP header's length bounds
// the datagram.
func peelRadiotap(b []byte) ([]byte, bool) {
	if len(b) < 8 || b[0] != 0 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint16(b[2:4]))
	if n < 8 || n > len(b) {
		return nil, false
	}
	return b[n:], true
}

// peelEtherPayload unwraps the Ethernet payloads that carry IP once more:
// an MPLS label stack (to its bottom label, then IP by its version
// nibble) and a PPPoE session (RFC 2516: 6 bytes, then PPP). Other
// ethertypes come back as they are.
func peelEtherPayload(et uint16, b []byte) (uint16, []byte, bool) {
	switch et {
	case etherMPLS, etherMPLSMult:
		for i := 0; ; i++ {
			if i == maxLabels || len(b) < 4 {
				return 0, nil, false
			}
			bottom := b[2]&1 != 0
			b = b[4:]
			if bottom {
				break
			}
		}
		v, ok := ipVersion(b)
		if !ok {
			return 0, b, true // a pseudowire or other payload: not IP
		}
		return v, b, true
	case etherPPPoE:
		if len(b) < 6 {
			return 0, nil, false
		}
		return pppHeader(b[6:])
	}
	return et, b, true
}
