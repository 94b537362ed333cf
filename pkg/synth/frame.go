package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Datagram is one UDP datagram, before IP fragmentation and link framing.
type Datagram struct {
	// Src and Dst are the UDP endpoints; both IPv4 or both IPv6.
	Src, Dst netip.AddrPort
	// Payload is the UDP payload.
	Payload []byte
	// TTL is the IPv4 TTL or IPv6 hop limit; 0 means 64.
	TTL uint8
	// ID is the IPv4 identification (low 16 bits) or the IPv6 fragment
	// header identification.
	ID uint32
}

// Link describes how a capture interface frames IP packets.
type Link struct {
	// Type is the link-layer header type: Ethernet (1), Null (0),
	// Raw (101), Loop (108), LinuxSLL (113) or LinuxSLL2 (276).
	Type layers.LinkType
	// VLANs are 802.1Q tags, outermost first (Ethernet only).
	VLANs []uint16
	// QinQ makes the outermost of two or more tags an 802.1ad service tag
	// (TPID 0x88a8).
	QinQ bool
	// MTU is the largest IP packet; bigger datagrams are fragmented.
	// 0 means 1500.
	MTU int
	// Host is the capturing host. Linux cooked headers mark packets to it
	// as "host", from it as "outgoing" and all others as "otherhost".
	Host netip.Addr
	// Resolution is the timestamp precision of the interface; frame times
	// are truncated to it. 0 means one microsecond.
	Resolution time.Duration
}

// Link types this package frames, for convenience.
const (
	LinkEthernet = layers.LinkTypeEthernet
	LinkNull     = layers.LinkTypeNull
	LinkRaw      = layers.LinkTypeRaw
	LinkLoop     = layers.LinkTypeLoop
	LinkSLL      = layers.LinkTypeLinuxSLL
	LinkSLL2     = layers.LinkTypeLinuxSLL2
	LinkPPP      = layers.LinkTypePPP
	LinkCHDLC    = layers.LinkTypeC_HDLC
	Link80211    = layers.LinkTypeIEEE802_11
	LinkRadiotap = layers.LinkTypeIEEE80211Radio
)

// Address family values used by Null and Loop headers.
const (
	afINET  = 2
	afINET6 = 24 // the BSD value; FreeBSD and Darwin use 28 and 30
)

// Linux cooked-capture constants.
const (
	sllHost      = 0
	sllOtherHost = 3
	sllOutgoing  = 4
	arphrdEther  = 1
	sll2IfIndex  = 2
)

func (l Link) mtu() int {
	if l.MTU <= 0 {
		return 1500
	}
	return l.MTU
}

func (l Link) resolution() time.Duration {
	if l.Resolution <= 0 {
		return time.Microsecond
	}
	return l.Resolution
}

// Frames returns the link-layer frames that carry d: one frame, or one
// per IP fragment when d does not fit in the link's MTU.
func (l Link) Frames(d Datagram) ([][]byte, error) {
	pkts, err := IPPackets(d, l.mtu())
	if err != nil {
		return nil, err
	}
	frames := make([][]byte, len(pkts))
	for i, p := range pkts {
		if frames[i], err = l.Frame(d.Src.Addr(), d.Dst.Addr(), p); err != nil {
			return nil, err
		}
	}
	return frames, nil
}

// Frame wraps one IP packet from src to dst in the link's header.
func (l Link) Frame(src, dst netip.Addr, ip []byte) ([]byte, error) {
	v6 := src.Is6() && !src.Is4In6()
	ethType := layers.EthernetTypeIPv4
	family := uint32(afINET)
	if v6 {
		ethType = layers.EthernetTypeIPv6
		family = afINET6
	}
	switch l.Type {
	case layers.LinkTypeEthernet:
		return l.ethernet(src, dst, ethType, ip)
	case layers.LinkTypeRaw:
		return append([]byte(nil), ip...), nil
	case layers.LinkTypeNull:
		b := make([]byte, 4, 4+len(ip))
		binary.LittleEndian.PutUint32(b, family)
		return append(b, ip...), nil
	case layers.LinkTypeLoop:
		b := make([]byte, 4, 4+len(ip))
		binary.BigEndian.PutUint32(b, family)
		return append(b, ip...), nil
	case layers.LinkTypeLinuxSLL:
		b := make([]byte, 16, 16+len(ip))
		binary.BigEndian.PutUint16(b[0:2], l.sllPacketType(src, dst))
		binary.BigEndian.PutUint16(b[2:4], arphrdEther)
		binary.BigEndian.PutUint16(b[4:6], 6)
		copy(b[6:12], hostMAC(src))
		binary.BigEndian.PutUint16(b[14:16], uint16(ethType))
		return append(b, ip...), nil
	case layers.LinkTypeLinuxSLL2:
		b := make([]byte, 20, 20+len(ip))
		binary.BigEndian.PutUint16(b[0:2], uint16(ethType))
		binary.BigEndian.PutUint32(b[4:8], sll2IfIndex)
		binary.BigEndian.PutUint16(b[8:10], arphrdEther)
		b[10] = byte(l.sllPacketType(src, dst))
		b[11] = 6
		copy(b[12:18], hostMAC(src))
		return append(b, ip...), nil
	case layers.LinkTypePPP:
		// HDLC-like framing (RFC 1662): address, control, protocol.
		proto := []byte{0xff, 0x03, 0x00, 0x21}
		if v6 {
			proto[3] = 0x57
		}
		return append(proto, ip...), nil
	case layers.LinkTypeC_HDLC:
		b := []byte{0x0f, 0x00, 0, 0}
		binary.BigEndian.PutUint16(b[2:4], uint16(ethType))
		return append(b, ip...), nil
	case layers.LinkTypeIEEE802_11:
		return l.wifi(src, dst, ethType, ip), nil
	case layers.LinkTypeIEEE80211Radio:
		// A radiotap header with the rate field only (8-byte header,
		// 1-byte rate, padding to 4), then the 802.11 frame.
		rt := []byte{0, 0, 12, 0, 0x04, 0, 0, 0, 0x6c, 0, 0, 0}
		return append(rt, l.wifi(src, dst, ethType, ip)...), nil
	}
	return nil, fmt.Errorf("synth: unsupported link type %d", int(l.Type))
}

// wifi frames ip as an 802.11 QoS data frame to the distribution system
// (the hosts' MACs as transmitter, receiver and final address), then an
// LLC/SNAP header.
func (l Link) wifi(src, dst netip.Addr, ethType layers.EthernetType, ip []byte) []byte {
	b := make([]byte, 0, 34+len(ip))
	b = append(b, 0x88, 0x01, 0, 0) // QoS data, to DS; duration
	b = append(b, hostMAC(dst)...)  // BSSID (the receiver)
	b = append(b, hostMAC(src)...)  // source
	b = append(b, hostMAC(dst)...)  // destination
	b = append(b, 0, 0, 0, 0)       // sequence control, QoS control
	b = append(b, 0xaa, 0xaa, 0x03, 0, 0, 0, byte(ethType>>8), byte(ethType))
	return append(b, ip...)
}

func (l Link) sllPacketType(src, dst netip.Addr) uint16 {
	switch {
	case l.Host.IsValid() && dst == l.Host:
		return sllHost
	case l.Host.IsValid() && src == l.Host:
		return sllOutgoing
	case !l.Host.IsValid():
		return sllHost
	}
	return sllOtherHost
}

func (l Link) ethernet(src, dst netip.Addr, ethType layers.EthernetType, ip []byte) ([]byte, error) {
	ls := make([]gopacket.SerializableLayer, 0, 2+len(l.VLANs))
	eth := &layers.Ethernet{SrcMAC: hostMAC(src), DstMAC: hostMAC(dst), EthernetType: ethType}
	ls = append(ls, eth)
	if len(l.VLANs) > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		if l.QinQ && len(l.VLANs) > 1 {
			eth.EthernetType = layers.EthernetTypeQinQ
		}
		for i, id := range l.VLANs {
			next := layers.EthernetTypeDot1Q
			if i == len(l.VLANs)-1 {
				next = ethType
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Type: next})
		}
	}
	ls = append(ls, gopacket.Payload(ip))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, ls...); err != nil {
		return nil, fmt.Errorf("synth: serialize ethernet: %w", err)
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

// hostMAC derives a locally administered MAC address from an IP address:
// 02:00 followed by the address's last four bytes.
func hostMAC(a netip.Addr) net.HardwareAddr {
	s := a.AsSlice()
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0}
	copy(mac[2:], s[len(s)-4:])
	return mac
}

// IPPackets serializes d as IPv4 or IPv6 packets no larger than mtu bytes,
// fragmenting the UDP datagram when needed (IPv4 fragments, or the IPv6
// fragment extension header). The UDP checksum covers the whole datagram.
func IPPackets(d Datagram, mtu int) ([][]byte, error) {
	src, dst := d.Src.Addr().Unmap(), d.Dst.Addr().Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return nil, errors.New("synth: datagram needs two addresses of one family")
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = 64
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(d.Src.Port()), DstPort: layers.UDPPort(d.Dst.Port())}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	v4 := &layers.IPv4{
		Version: 4, IHL: 5, TTL: ttl, Id: uint16(d.ID), Protocol: layers.IPProtocolUDP,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice(),
	}
	v6 := &layers.IPv6{
		Version: 6, HopLimit: ttl, NextHeader: layers.IPProtocolUDP,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice(),
	}
	// The IP header's length, the smallest MTU that fragments, the room
	// each fragment's headers take, and how to build one fragment.
	hdr, minMTU, room := 40, 56, 48
	var ip interface {
		gopacket.NetworkLayer
		gopacket.SerializableLayer
	} = v6
	frame := func(body []byte, off int, more bool) ([]byte, error) {
		h := *v6
		h.NextHeader = layers.IPProtocolIPv6Fragment
		frag := &layers.IPv6Fragment{
			NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8),
			MoreFragments: more, Identification: d.ID,
		}
		return serialize(opts, &h, frag, gopacket.Payload(body))
	}
	if src.Is4() {
		hdr, minMTU, room, ip = 20, 28, 20, v4
		frame = func(body []byte, off int, more bool) ([]byte, error) {
			f := *v4
			f.FragOffset = uint16(off / 8)
			if more {
				f.Flags = layers.IPv4MoreFragments
			}
			return serialize(opts, &f, gopacket.Payload(body))
		}
	}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	whole, err := serialize(opts, ip, udp, gopacket.Payload(d.Payload))
	if err != nil {
		return nil, err
	}
	if len(whole) <= mtu {
		return [][]byte{whole}, nil
	}
	if mtu < minMTU {
		return nil, fmt.Errorf("synth: mtu %d too small", mtu)
	}
	return fragments(whole[hdr:], (mtu-room)&^7, frame)
}

// fragments cuts body into pieces of step bytes (a multiple of 8) and
// builds each fragment's packet with frame, told its offset and whether
// more follow.
func fragments(body []byte, step int, frame func(piece []byte, off int, more bool) ([]byte, error)) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(body); off += step {
		end := min(off+step, len(body))
		p, err := frame(body[off:end], off, end < len(body))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func serialize(opts gopacket.SerializeOptions, ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		return nil, fmt.Errorf("synth: serialize: %w", err)
	}
	return append([]byte(nil), buf.Bytes()...), nil
}
