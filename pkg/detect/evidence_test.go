package detect

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Two DNS servers answering each other's responses keep one ID: a loop.
// A flood of spoofed responses with fresh IDs, each answered by the
// server with its FORMERR, alternates just as strictly, but the flood's
// responses answer nothing (their IDs are not the server's last): no
// loop.
func TestDNSAnswersCarryTheirID(t *testing.T) {
	peer := netip.MustParseAddrPort("203.0.113.53:53")
	for _, tc := range []struct {
		name  string
		id    func(i int) uint16
		loops int
	}{
		{"DNS<->DNS loop, one ID", func(int) uint16 { return 0x4242 }, 1},
		{"response flood, fresh IDs", func(i int) uint16 { return uint16(7919 * (i + 1)) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &feed{d: NewDNSPong(DNSPongConfig{})}
			at := time.Second
			for i := range 150 {
				id := tc.id(i)
				f.send(at, peer, server, response(t, id, "x.example.", dnsmessage.RCodeRefused), false)
				f.send(at+200*time.Microsecond, server, peer, formErr(id), false)
				at += 5 * time.Millisecond
			}
			loops := f.d.Finish(f.now)
			if len(loops) != tc.loops {
				t.Fatalf("%d loops, want %d", len(loops), tc.loops)
			}
			if tc.loops > 0 && (loops[0].Packets != 300 || loops[0].FirstPacket.Ref.Frame != 1) {
				t.Errorf("loop of %d packets from frame %d, want 300 from 1", loops[0].Packets, loops[0].FirstPacket.Ref.Frame)
			}
		})
	}
}
