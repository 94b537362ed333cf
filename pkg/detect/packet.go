package detect

import (
	"encoding/binary"
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
)

// PacketRef names a packet by its input and frame number.
type PacketRef struct {
	Source int    // index of the input file
	Frame  uint64 // 1-based frame number in that file
}

// ref packs a PacketRef into 8 bytes: 16 bits of source, 48 of frame.
type ref uint64

// RefFrameBits is the frame number's share of a packed packet
// reference; the input's index has the other 24 bits: 16.7 M inputs a
// stream (a year of files rotated every two seconds), a trillion frames
// a file.
const RefFrameBits = 40

func mkref(r PacketRef) ref { return ref(uint64(r.Source)<<RefFrameBits | r.Frame&(1<<RefFrameBits-1)) }
func (r ref) unpack() PacketRef {
	return PacketRef{Source: int(r >> RefFrameBits), Frame: uint64(r) & (1<<RefFrameBits - 1)}
}

// Packet is a decoded UDP datagram as detectors see it.
type Packet struct {
	decode.Packet
	Ref  PacketRef
	Time int64 // nanoseconds since the Unix epoch
	// Clock is the latest record time of the input so far, this packet's
	// included: the flow tables' clock. It differs from Time when
	// timestamps run backwards. Zero means Time.
	Clock int64

	key    flowKey // set by SetFlow: the flow key of Src and Dst
	srcIsA bool
	keyed  bool
}

// SetFlow computes the packet's flow key from Src and Dst and keeps it for
// every detector the packet is shown to, so the key is built once. Call it
// again after changing Src or Dst; without it, each detector computes the
// key itself.
func (p *Packet) SetFlow() {
	p.key, p.srcIsA = makeKey(p.Src, p.Dst)
	p.keyed = true
}

// flow returns the packet's flow key and whether Src is its endpoint a.
func (p *Packet) flow() (*flowKey, bool) {
	if !p.keyed {
		p.key, p.srcIsA = makeKey(p.Src, p.Dst)
		p.keyed = true
	}
	return &p.key, p.srcIsA
}

// flowKey is a direction-independent UDP 5-tuple: the two endpoints in a
// fixed order, each address as the two big-endian halves of its 16-byte
// form (IPv4 mapped into IPv6). It holds no pointers, so a table of them
// costs the garbage collector nothing.
type flowKey struct {
	ahi, alo, bhi, blo uint64
	pa, pb             uint16
}

// makeKey orders the endpoints and reports whether src is endpoint a.
func makeKey(src, dst netip.AddrPort) (flowKey, bool) {
	shi, slo := decode.AddrWords(src.Addr())
	dhi, dlo := decode.AddrWords(dst.Addr())
	sp, dp := src.Port(), dst.Port()
	if shi < dhi || shi == dhi && (slo < dlo || slo == dlo && sp < dp) {
		return flowKey{shi, slo, dhi, dlo, sp, dp}, true
	}
	return flowKey{dhi, dlo, shi, slo, dp, sp}, false
}

// endpoint rebuilds one end of a key; IPv4-mapped addresses come back as
// IPv4, as they went in.
func (k *flowKey) endpoint(a bool) netip.AddrPort {
	hi, lo, port := k.bhi, k.blo, k.pb
	if a {
		hi, lo, port = k.ahi, k.alo, k.pa
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrPortFrom(netip.AddrFrom16(b).Unmap(), port)
}
