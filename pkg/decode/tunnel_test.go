package decode

import (
	"encoding/binary"
	"testing"
)

// udpFrame is an Ethernet/IPv4/UDP frame from 192.0.2.1:53 to
// 198.51.100.7:dport carrying payload.
func udpFrame(dport uint16, payload []byte) []byte {
	be := binary.BigEndian
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0,
		0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
		0, 53, 0, 0, 0, 0, 0, 0}
	be.PutUint16(f[16:], uint16(20+8+len(payload)))
	be.PutUint16(f[36:], dport)
	be.PutUint16(f[38:], uint16(8+len(payload)))
	return append(f, payload...)
}

// TestTunnelOrNot: a VXLAN datagram's inner frame is decoded in its place;
// a DNS answer to a client whose port happens to be 4789 or 6081, its
// first bytes shaped like a VXLAN header, stays a DNS answer.
func TestTunnelOrNot(t *testing.T) {
	inner := udpFrame(22772, []byte{0, 5, 0, 4, 'x', 0})
	vx := udpFrame(4789, append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, inner...))
	// A DNS answer with ID 0x0800 and flags 0x0000, 8 bytes on: not IP
	// where an inner ethertype would be.
	dns := []byte{0x08, 0x00, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'c', 'o', 'm', 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name  string
		frame []byte
		dport uint16
		plen  int
	}{
		{"vxlan", vx, 22772, 6},
		{"dns to port 4789", udpFrame(4789, dns), 4789, len(dns)},
		{"dns to port 6081", udpFrame(6081, dns), 6081, len(dns)},
	} {
		d := NewDecoder(FragLimits{})
		var p Packet
		if k := d.Decode(LinkEthernet, tc.frame, len(tc.frame), 0, &p); k != KindUDP || p.Dst.Port() != tc.dport || len(p.Payload) != tc.plen {
			t.Errorf("%s: kind %v, to port %d, %d bytes of payload", tc.name, k, p.Dst.Port(), len(p.Payload))
		}
	}
}
