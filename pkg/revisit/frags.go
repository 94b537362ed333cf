package revisit

import (
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
)

// fragRing keeps copies of the recent IP fragment frames, so that the
// frames of a reassembled loop datagram can all be extracted: the decoder
// hands over the datagram at its last fragment. It holds at most
// maxFrags frames or maxFragBytes bytes, as the reassembler bounds its
// own memory, oldest first out.
type fragRing struct {
	frags []frag
	bytes int
}

const (
	maxFrags     = 1024
	maxFragBytes = 4 << 20
)

type frag struct {
	rec capture.Record
	src int
	key fragKey
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
}

// fragmentKey reads a fragment frame's addresses and identification with
// gopacket (fragments are rare: the hand-written decoder keeps no key).
func fragmentKey(link uint32, data []byte) (fragKey, bool) {
	pkt := gopacket.NewPacket(data, layers.LinkType(link), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	if ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		s, _ := netip.AddrFromSlice(ip.SrcIP)
		d, _ := netip.AddrFromSlice(ip.DstIP)
		return fragKey{s.Unmap(), d.Unmap(), uint32(ip.Id)}, true
	}
	if ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
		if fr, ok := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
			s, _ := netip.AddrFromSlice(ip.SrcIP)
			d, _ := netip.AddrFromSlice(ip.DstIP)
			return fragKey{s, d, fr.Identification}, true
		}
	}
	return fragKey{}, false
}

func (r *fragRing) add(rec *capture.Record, src int) {
	k, ok := fragmentKey(rec.LinkType, rec.Data)
	if !ok {
		return
	}
	c := *rec
	c.Data = append([]byte(nil), rec.Data...)
	c.Block = nil
	r.frags = append(r.frags, frag{rec: c, src: src, key: k})
	r.bytes += len(c.Data)
	for len(r.frags) > maxFrags || r.bytes > maxFragBytes {
		r.bytes -= len(r.frags[0].rec.Data)
		r.frags = r.frags[1:]
	}
}

// take removes and returns the kept fragments of the datagram whose last
// fragment is rec.
func (r *fragRing) take(rec *capture.Record, p *decode.Packet) []frag {
	k, ok := fragmentKey(rec.LinkType, rec.Data)
	if !ok {
		return nil
	}
	var out []frag
	keep := r.frags[:0]
	for _, f := range r.frags {
		if f.key == k {
			out = append(out, f)
			r.bytes -= len(f.rec.Data)
		} else {
			keep = append(keep, f)
		}
	}
	r.frags = keep
	return out
}
