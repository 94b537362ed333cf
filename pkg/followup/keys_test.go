package followup

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/pongscan/pongscan/pkg/decode"
)

// frame builds an Ethernet frame of the given type carrying an IP header
// with src and dst (no payload checks matter to the test).
func frame(etherType uint16, src, dst netip.Addr) []byte {
	b := make([]byte, 14+40+8)
	binary.BigEndian.PutUint16(b[12:14], etherType)
	ip := b[14:]
	if src.Is4() {
		ip[0] = 0x45
		s, d := src.As4(), dst.As4()
		copy(ip[12:16], s[:])
		copy(ip[16:20], d[:])
	} else {
		ip[0] = 0x60
		s, d := src.As16(), dst.As16()
		copy(ip[8:24], s[:])
		copy(ip[24:40], d[:])
	}
	return b
}

// skipper is a stream follow-up with active loops on the given clients.
func skipper(clients ...string) *streamFollow {
	sf := newStreamFollow(nil, nil, 0)
	for _, c := range clients {
		f := &follow{cw: addrWords(netip.MustParseAddr(c)), out: &Loop{}, end: 1 << 62}
		f.pfx = f.cw.prefix()
		sf.activate(f)
	}
	return sf
}

func TestSkip(t *testing.T) {
	a := netip.MustParseAddr
	vlan := frame(0x8100, a("198.51.100.1"), a("198.51.100.2"))
	short := frame(0x0800, a("198.51.100.1"), a("198.51.100.2"))[:14+20]
	cases := []struct {
		name string
		link uint32
		data []byte
		skip bool
	}{
		{"v4 source in the prefix", decode.LinkEthernet, frame(0x0800, a("192.0.2.77"), a("203.0.113.5")), false},
		{"v4 destination in the prefix", decode.LinkEthernet, frame(0x0800, a("203.0.113.5"), a("192.0.2.255")), false},
		{"v4 neighbouring /24", decode.LinkEthernet, frame(0x0800, a("192.0.3.1"), a("192.0.1.255")), true},
		{"v4 far away", decode.LinkEthernet, frame(0x0800, a("10.0.0.1"), a("10.0.0.2")), true},
		{"v6 source in the /56", decode.LinkEthernet, frame(0x86dd, a("2001:db8:0:1ff::1"), a("2001:db8:ffff::1")), false},
		{"v6 destination in the /56", decode.LinkEthernet, frame(0x86dd, a("2001:db8:ffff::1"), a("2001:db8:0:100::53")), false},
		{"v6 next /56", decode.LinkEthernet, frame(0x86dd, a("2001:db8:0:200::1"), a("2001:db8:0:0ff::1")), true},
		// The decoder unmaps ::ffff:192.0.2.1: it is the IPv4 client's
		// prefix, as the loop's packets are matched.
		{"v4 mapped in v6 is the v4 prefix", decode.LinkEthernet, frame(0x86dd, a("::ffff:192.0.2.1"), a("2001:db8:1::1")), false},
		{"VLAN-tagged frames are decoded", decode.LinkEthernet, vlan, false},
		{"short frames are decoded", decode.LinkEthernet, short, false},
		{"other link types are decoded", decode.LinkRaw, frame(0x0800, a("10.0.0.1"), a("10.0.0.2")), false},
	}
	for _, n := range []int{2, linearMax + 3} {
		clients := []string{"192.0.2.9", "2001:db8:0:100::7"}
		for i := 2; i < n; i++ {
			clients = append(clients, netip.AddrFrom4([4]byte{172, 16, byte(i), 1}).String())
		}
		sf := skipper(clients...)
		for _, c := range cases {
			if got := sf.Skip(0, c.link, c.data); got != c.skip {
				t.Errorf("%d loops: %s: skip = %v, want %v", n, c.name, got, c.skip)
			}
		}
	}
	if !skipper().Skip(0, decode.LinkRaw, frame(0x0800, a("192.0.2.1"), a("10.0.0.2"))) {
		t.Error("with no loop followed, a frame was kept")
	}
}

func BenchmarkSkip(b *testing.B) {
	sf := skipper("192.0.2.1", "198.51.100.1", "203.0.113.1")
	f := frame(0x0800, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.4.5.6"))
	for b.Loop() {
		if !sf.Skip(0, decode.LinkEthernet, f) {
			b.Fatal("kept")
		}
	}
}
