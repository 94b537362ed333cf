package decode

import (
	"encoding/binary"
	"testing"
)

// TestLinkEncapsulations decodes one UDP datagram under each link layer
// and Ethernet wrapping that carries IP once more, and frames of those
// link layers that are not IP or are cut short.
func TestLinkEncapsulations(t *testing.T) {
	ip := fuzzIPv4(protoUDP, 1, 0, false, fuzzUDP(fuzzDNS))
	ip6 := fuzzIPv6(protoUDP, fuzzUDP(fuzzDNS))
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	macs := make([]byte, 12)
	mpls := func(labels int) []byte {
		b := cat(macs, []byte{0x88, 0x47})
		for i := range labels {
			bos := byte(0)
			if i == labels-1 {
				bos = 1
			}
			b = append(b, 0, byte(16+i), bos, 64)
		}
		return b
	}
	pppoe := func(proto []byte) []byte {
		h := cat(macs, []byte{0x88, 0x64, 0x11, 0, 0, 1})
		return binary.BigEndian.AppendUint16(h, uint16(len(proto)+len(ip)))
	}
	wifiHdr := func(fc0, fc1 byte) []byte { return cat([]byte{fc0, fc1}, make([]byte, 22)) }
	snap := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}
	tests := []struct {
		name  string
		link  uint32
		frame []byte
		want  Kind
	}{
		{"PPP in HDLC-like framing", LinkPPP, cat([]byte{0xff, 0x03, 0x00, 0x21}, ip), KindUDP},
		{"PPP without address and control", LinkPPP, cat([]byte{0x00, 0x21}, ip), KindUDP},
		{"PPP, compressed protocol field", LinkPPP, cat([]byte{0x21}, ip), KindUDP},
		{"PPP, IPv6", LinkPPP, cat([]byte{0xff, 0x03, 0x00, 0x57}, ip6), KindUDP},
		{"PPP LCP is not IP", LinkPPP, cat([]byte{0xff, 0x03, 0xc0, 0x21}, ip), KindNotIP},
		{"PPP, empty", LinkPPP, nil, KindMalformed},
		{"PPP_HDLC, PPP", LinkPPPHDLC, cat([]byte{0xff, 0x03, 0x00, 0x21}, ip), KindUDP},
		{"PPP_HDLC, Cisco HDLC", LinkPPPHDLC, cat([]byte{0x0f, 0x00, 0x08, 0x00}, ip), KindUDP},
		{"Cisco HDLC", LinkCHDLC, cat([]byte{0x8f, 0x00, 0x08, 0x00}, ip), KindUDP},
		{"Cisco HDLC SLARP is not IP", LinkCHDLC, cat([]byte{0x8f, 0x00, 0x80, 0x35}, ip), KindNotIP},
		{"Cisco HDLC, cut", LinkCHDLC, []byte{0x0f, 0x00, 0x08}, KindMalformed},
		{"802.11 data", Link80211, cat(wifiHdr(0x08, 0x01), snap, ip), KindUDP},
		{"802.11 QoS data", Link80211, cat(wifiHdr(0x88, 0x02), []byte{0, 0}, snap, ip), KindUDP},
		{"802.11 QoS data with HT control", Link80211, cat(wifiHdr(0x88, 0x82), []byte{0, 0, 0, 0, 0, 0}, snap, ip), KindUDP},
		{"802.11 four addresses", Link80211, cat(wifiHdr(0x08, 0x03), make([]byte, 6), snap, ip), KindUDP},
		{"802.11 protected data is not read", Link80211, cat(wifiHdr(0x08, 0x41), snap, ip), KindNotIP},
		{"802.11 beacon is not IP", Link80211, cat(wifiHdr(0x80, 0x00), snap, ip), KindNotIP},
		{"802.11 null data is not IP", Link80211, cat(wifiHdr(0x48, 0x01), snap, ip), KindNotIP},
		{"802.11 without SNAP is not IP", Link80211, cat(wifiHdr(0x08, 0x01), []byte{0x42, 0x42, 0x03, 0, 0, 0, 0, 0}, ip), KindNotIP},
		{"802.11 cut in its header", Link80211, wifiHdr(0x08, 0x01)[:20], KindMalformed},
		{"radiotap", LinkRadiotap, cat([]byte{0, 0, 12, 0, 4, 0, 0, 0, 0x6c, 0, 0, 0}, wifiHdr(0x08, 0x01), snap, ip), KindUDP},
		{"radiotap claiming more than the frame", LinkRadiotap, cat([]byte{0, 0, 0xff, 0xff, 0, 0, 0, 0}, ip), KindMalformed},
		{"radiotap of another version", LinkRadiotap, cat([]byte{1, 0, 8, 0, 0, 0, 0, 0}, wifiHdr(0x08, 0x01), snap, ip), KindMalformed},
		{"MPLS, one label", LinkEthernet, cat(mpls(1), ip), KindUDP},
		{"MPLS, three labels", LinkEthernet, cat(mpls(3), ip), KindUDP},
		{"MPLS, IPv6", LinkEthernet, cat(mpls(2), ip6), KindUDP},
		{"MPLS with no bottom label", LinkEthernet, cat(macs, []byte{0x88, 0x47, 0, 16, 0, 64}), KindMalformed},
		{"MPLS, an Ethernet pseudowire is not read", LinkEthernet, cat(mpls(1), []byte{0, 0, 0, 0}, macs, []byte{0x08, 0x00}, ip), KindNotIP},
		{"PPPoE session", LinkEthernet, cat(pppoe([]byte{0, 0x21}), []byte{0, 0x21}, ip), KindUDP},
		{"PPPoE session, cut", LinkEthernet, cat(macs, []byte{0x88, 0x64, 0x11, 0}), KindMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(DefaultFragLimits)
			var p Packet
			k := d.Decode(tt.link, tt.frame, len(tt.frame), 0, &p)
			if k != tt.want {
				t.Fatalf("kind %v, want %v", k, tt.want)
			}
			if k == KindUDP && (p.Src.Port() != 40000 || p.Dst.Port() != 53 || string(p.Payload) != string(fuzzDNS)) {
				t.Errorf("decoded %v -> %v with %d payload bytes", p.Src, p.Dst, len(p.Payload))
			}
		})
	}
}
