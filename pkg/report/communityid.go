package report

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// CommunityID is the Community ID v1 of a flow of a transport with ports
// (TCP 6, UDP 17, SCTP 132), as Zeek, Suricata and Arkime compute it
// (https://github.com/corelight/community-id-spec): "1:" and the base64 of
// the SHA-1 of the seed (2 bytes, big-endian), the source and destination
// addresses, the protocol, a zero byte and the two ports, the endpoints
// ordered so that the smaller address (then port) comes first. It is the
// same in both directions. An IPv4-mapped IPv6 address is hashed as the
// IPv4 address it maps. It returns "" when the addresses are of different
// families or invalid.
func CommunityID(seed uint16, proto uint8, src, dst netip.AddrPort) string {
	sa, da := src.Addr().Unmap(), dst.Addr().Unmap()
	if !sa.IsValid() || !da.IsValid() || sa.Is4() != da.Is4() {
		return ""
	}
	sp, dp := src.Port(), dst.Port()
	if c := sa.Compare(da); c > 0 || c == 0 && sp > dp {
		sa, da, sp, dp = da, sa, dp, sp
	}
	b := make([]byte, 0, 2+16+16+1+1+4)
	b = binary.BigEndian.AppendUint16(b, seed)
	b = append(b, sa.AsSlice()...)
	b = append(b, da.AsSlice()...)
	b = append(b, proto, 0)
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	sum := sha1.Sum(b)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}
