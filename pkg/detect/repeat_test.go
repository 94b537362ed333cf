package detect

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
)

type rfeed struct {
	d     *Repeat
	frame uint64
	now   int64
}

func (f *rfeed) send(at time.Duration, src, dst netip.AddrPort, payload []byte) {
	f.frame++
	f.now = t0 + int64(at)
	f.d.Observe(&Packet{
		Packet: decode.Packet{Src: src, Dst: dst, TTL: 50, Payload: payload, WireLen: 42 + len(payload)},
		Ref:    PacketRef{Frame: f.frame},
		Time:   f.now,
	})
}

func ntpPacket(mode byte, ts uint32) []byte {
	b := make([]byte, 48)
	b[0] = 4<<3 | mode
	binary.BigEndian.PutUint32(b[40:], ts)
	return b
}

func TestRepeatScenarios(t *testing.T) {
	ntpA := netip.MustParseAddrPort("192.0.2.10:123")
	ntpB := netip.MustParseAddrPort("192.0.2.20:123")
	tests := []struct {
		name    string
		run     func(f *rfeed)
		loops   int
		packets uint64
		client  netip.AddrPort
		server  netip.AddrPort
	}{
		{
			name: "echo and chargen answering each other",
			run: func(f *rfeed) {
				echo := netip.MustParseAddrPort("192.0.2.30:7")
				chargen := netip.MustParseAddrPort("192.0.2.40:19")
				line := []byte("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n")
				for i := 0; i < 300; i++ {
					at := time.Duration(i) * time.Millisecond
					if i%2 == 0 {
						f.send(at, chargen, echo, line)
					} else {
						f.send(at, echo, chargen, line)
					}
				}
			},
			loops: 1, packets: 300,
			client: netip.MustParseAddrPort("192.0.2.40:19"), server: netip.MustParseAddrPort("192.0.2.30:7"),
		},
		{
			name: "DNS flows are not watched here",
			run: func(f *rfeed) {
				for i := 0; i < 200; i++ {
					if i%2 == 0 {
						f.send(time.Duration(i)*time.Millisecond, client, server, tftpError())
					} else {
						f.send(time.Duration(i)*time.Millisecond, server, client, formErr(5))
					}
				}
			},
		},
		{
			// ntpd before 4.2.4p8 answered a mode 7 error response with
			// another (CVE-2009-3563): responses (R bit set) both ways.
			name: "NTP 123<->123 loop of mode 7 error responses",
			run: func(f *rfeed) {
				for i := 0; i < 100; i++ {
					at := time.Duration(i) * 2 * time.Millisecond
					resp := []byte{0x97, 0x00, 0x03, 0x2a, 0x20, 0, 0, 0} // response, error 2 (INFO_ERR_REQ)
					if i%2 == 0 {
						f.send(at, ntpA, ntpB, resp)
					} else {
						f.send(at, ntpB, ntpA, resp)
					}
				}
			},
			loops: 1, packets: 100, client: ntpA, server: ntpB,
		},
		{
			// The same mode 7 request again and again, each answered: the
			// requests are the sender's own, request/response, not a loop.
			name: "one mode 7 request repeated fast and answered",
			run: func(f *rfeed) {
				for i := 0; i < 100; i++ {
					at := time.Duration(i) * 2 * time.Millisecond
					if i%2 == 0 {
						f.send(at, ntpA, ntpB, []byte{0x17, 0x00, 0x03, 0x2a, 0, 0, 0, 0})
					} else {
						f.send(at, ntpB, ntpA, []byte{0x97, 0x00, 0x03, 0x2a, 0, 0, 0, 0})
					}
				}
			},
		},
		{
			name: "NTP symmetric peering: fresh timestamps every packet",
			run: func(f *rfeed) {
				for i := 0; i < 100; i++ {
					at := time.Duration(i) * 10 * time.Millisecond
					if i%2 == 0 {
						f.send(at, ntpA, ntpB, ntpPacket(1, uint32(i)))
					} else {
						f.send(at, ntpB, ntpA, ntpPacket(2, uint32(i)))
					}
				}
			},
		},
		{
			name: "the same NTP request retried slowly and answered identically",
			run: func(f *rfeed) {
				q, r := ntpPacket(3, 1), ntpPacket(4, 1)
				for i := 0; i < 60; i++ {
					at := time.Duration(i) * 500 * time.Millisecond
					f.send(at, ntpA, ntpB, q)
					f.send(at+time.Millisecond, ntpB, ntpA, r)
				}
			},
		},
		{
			name: "one-way NTP reflection flood",
			run: func(f *rfeed) {
				r := ntpPacket(7, 0)
				for i := 0; i < 500; i++ {
					f.send(time.Duration(i)*time.Millisecond, ntpB, ntpA, r)
				}
			},
		},
		{
			name: "short repeated exchange under the packet threshold",
			run: func(f *rfeed) {
				for i := 0; i < 30; i++ {
					if i%2 == 0 {
						f.send(time.Duration(i)*time.Millisecond, ntpA, ntpB, ntpPacket(3, 1))
					} else {
						f.send(time.Duration(i)*time.Millisecond, ntpB, ntpA, ntpPacket(4, 1))
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &rfeed{d: NewRepeat(RepeatConfig{})}
			tt.run(f)
			loops := f.d.Finish(f.now)
			if len(loops) != tt.loops {
				t.Fatalf("loops = %d, want %d", len(loops), tt.loops)
			}
			if tt.loops == 0 {
				return
			}
			l := loops[0]
			if l.Packets != tt.packets || l.Client != tt.client || l.Server != tt.server || l.HasTrigger {
				t.Errorf("loop %v <-> %v, %d packets, trigger %v; want %v <-> %v, %d packets, no trigger",
					l.Client, l.Server, l.Packets, l.HasTrigger, tt.client, tt.server, tt.packets)
			}
			if l.FirstNonDNS.Ref.Frame != 1 || !l.Ongoing {
				t.Errorf("first frame %d, ongoing %v", l.FirstNonDNS.Ref.Frame, l.Ongoing)
			}
		})
	}
}
