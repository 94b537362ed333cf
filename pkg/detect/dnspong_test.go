package detect

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pongscan/pongscan/pkg/decode"
)

var (
	client = netip.MustParseAddrPort("198.51.100.200:22772")
	server = netip.MustParseAddrPort("192.0.2.1:53")
	t0     = time.Date(2016, 2, 8, 13, 0, 0, 0, time.UTC).UnixNano()
)

func query(t testing.TB, id uint16, name string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func response(t testing.TB, id uint16, name string, rcode dnsmessage.RCode) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RCode: rcode})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	q := dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	if err := b.Question(q); err != nil {
		t.Fatal(err)
	}
	if err := b.StartAnswers(); err != nil {
		t.Fatal(err)
	}
	if err := b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300}, dnsmessage.AResource{A: [4]byte{192, 0, 2, 99}}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tftpError is what the seed's TFTP server sent: opcode 5, code 4, message.
func tftpError() []byte {
	b := []byte{0, 5, 0, 4}
	return append(append(b, "RRQ must be sent first"...), 0)
}

// formErr is a header-only FORMERR answer echoing the ID the server read.
func formErr(id uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	b[2], b[3] = 0x80, 0x01
	return b
}

// feed drives a detector frame by frame, numbering frames from 1.
type feed struct {
	d     *DNSPong
	frame uint64
	now   int64
}

func (f *feed) send(at time.Duration, src, dst netip.AddrPort, payload []byte, cut bool) uint64 {
	f.frame++
	f.now = t0 + int64(at)
	p := &Packet{
		Packet: decode.Packet{Src: src, Dst: dst, TTL: 52, Payload: payload, Cut: cut, WireLen: 42 + len(payload)},
		Ref:    PacketRef{Frame: f.frame},
		Time:   f.now,
	}
	if src == server {
		p.TTL = 64
	}
	f.d.Observe(p)
	return f.frame
}

// pong sends n loop packets starting at 'at', alternating client and
// server, every gap.
func (f *feed) pong(at, gap time.Duration, n int) time.Duration {
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			f.send(at, client, server, tftpError(), false)
		} else {
			f.send(at, server, client, formErr(5), false)
		}
		at += gap
	}
	return at - gap
}

// fiveInFlight sends five queries on one 5-tuple (frames 1-5), one more
// than a flow remembers, then the answer to query id (frame 6) and a
// loop.
func fiveInFlight(t *testing.T, id uint16) func(f *feed) {
	return func(f *feed) {
		for q := 1; q <= 5; q++ {
			f.send(time.Duration(q)*100*time.Microsecond, client, server, query(t, uint16(q), "a.example."), false)
		}
		f.send(time.Millisecond, server, client, response(t, id, "a.example.", dnsmessage.RCodeSuccess), false)
		f.pong(2*time.Millisecond, time.Millisecond, 20)
	}
}

func TestDNSPongScenarios(t *testing.T) {
	type want struct {
		loops      int
		packets    uint64
		ongoing    bool
		bounces    uint64
		oneSided   uint64
		qFrame     uint64
		rFrame     uint64
		firstFrame uint64
		// trigless: the loop is found by its signature, without a
		// trigger; firstFrame is then its first captured packet.
		trigless bool
	}
	tests := []struct {
		name string
		cfg  DNSPongConfig
		run  func(f *feed)
		end  time.Duration // end of input; 0 means the last packet
		want want
	}{
		{
			name: "seed loop runs to the end",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 0xdc20, "delegated.example.uk."), false)
				f.send(100*time.Microsecond, server, client, response(t, 0xdc20, "delegated.example.uk.", dnsmessage.RCodeSuccess), false)
				f.pong(1300*time.Microsecond, time.Millisecond, 100)
			},
			want: want{loops: 1, packets: 100, ongoing: true, qFrame: 1, rFrame: 2, firstFrame: 3},
		},
		{
			name: "loop stops, input goes on past idle",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				f.pong(2*time.Millisecond, time.Millisecond, 40)
				other := netip.MustParseAddrPort("203.0.113.9:4444")
				f.send(5*time.Second, other, server, query(t, 9, "b.example."), false)
			},
			want: want{loops: 1, packets: 40, qFrame: 1, rFrame: 2, firstFrame: 3},
		},
		{
			name: "bounce under the threshold",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				f.pong(2*time.Millisecond, time.Millisecond, 4)
			},
			want: want{bounces: 1},
		},
		// Issue 9: the same back-and-forth without a (valid) trigger is a
		// loop by its signature, wherever it is in the capture. Its first
		// packet is the first TFTP error, or the answer it reacted to when
		// that came within max-delay.
		{
			name: "non-DNS after max-delay is no trigger, but a loop by its signature",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				f.pong(600*time.Millisecond, time.Millisecond, 50)
			},
			want: want{loops: 1, packets: 50, ongoing: true, firstFrame: 3, trigless: true},
		},
		{
			name: "answer with another ID does not arm: a loop by its signature from the answer",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 2, "a.example.", dnsmessage.RCodeSuccess), false)
				f.pong(2*time.Millisecond, time.Millisecond, 50)
			},
			want: want{loops: 1, packets: 51, ongoing: true, firstFrame: 2, trigless: true},
		},
		{
			name: "answer to another question does not arm: a loop by its signature from the answer",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "b.example.", dnsmessage.RCodeSuccess), false)
				f.pong(2*time.Millisecond, time.Millisecond, 50)
			},
			want: want{loops: 1, packets: 51, ongoing: true, firstFrame: 2, trigless: true},
		},
		{
			name: "junk answered by FORMERR without a genuine exchange, mid-capture",
			run: func(f *feed) {
				other := netip.MustParseAddrPort("203.0.113.9:4444")
				f.send(0, other, server, query(t, 9, "b.example."), false)
				f.pong(3*time.Second, time.Millisecond, 50)
			},
			want: want{loops: 1, packets: 50, ongoing: true, firstFrame: 2, trigless: true},
		},
		{
			name: "one-way flood after a genuine answer is not back-and-forth",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				for i := 0; i < 50; i++ {
					f.send(time.Duration(2+i)*time.Millisecond, client, server, tftpError(), false)
				}
			},
			want: want{oneSided: 1},
		},
		{
			name: "a cut client packet is truncated, not non-DNS",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				q := query(t, 2, "a-long-name.example.")
				f.send(2*time.Millisecond, client, server, q[:20], true)
				f.pong(3*time.Millisecond, time.Millisecond, 1) // one real non-DNS keeps it honest: a bounce
			},
			want: want{bounces: 1},
		},
		{
			name: "fixed-port resolver: many answered queries on one 5-tuple",
			run: func(f *feed) {
				at := time.Duration(0)
				for i := 0; i < 200; i++ {
					f.send(at, client, server, query(t, uint16(i), "a.example."), false)
					f.send(at+time.Millisecond/2, server, client, response(t, uint16(i), "a.example.", dnsmessage.RCodeSuccess), false)
					at += 3 * time.Millisecond
				}
			},
		},
		{
			name: "fixed-port resolver: four queries in flight, answered out of order",
			run: func(f *feed) {
				for id := 1; id <= 4; id++ {
					f.send(time.Duration(id)*100*time.Microsecond, client, server, query(t, uint16(id), "a.example."), false)
				}
				for k, id := range []int{3, 1, 4, 2} {
					f.send(time.Millisecond+time.Duration(k)*100*time.Microsecond, server, client, response(t, uint16(id), "a.example.", dnsmessage.RCodeSuccess), false)
				}
				f.pong(2*time.Millisecond, time.Millisecond, 20)
			},
			want: want{loops: 1, packets: 20, ongoing: true, qFrame: 2, rFrame: 8, firstFrame: 9},
		},
		{
			name: "a fifth query in flight overwrites the oldest",
			run:  fiveInFlight(t, 1),
		},
		{
			name: "a fifth query in flight is remembered",
			run:  fiveInFlight(t, 5),
			want: want{loops: 1, packets: 20, ongoing: true, qFrame: 5, rFrame: 6, firstFrame: 7},
		},
		{
			name: "min-packets is a flag",
			cfg:  DNSPongConfig{MinPackets: 4},
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				f.pong(2*time.Millisecond, time.Millisecond, 4)
			},
			want: want{loops: 1, packets: 4, ongoing: true, qFrame: 1, rFrame: 2, firstFrame: 3},
		},
		{
			name: "the trigger is the last answered exchange",
			run: func(f *feed) {
				f.send(0, client, server, query(t, 1, "a.example."), false)
				f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
				f.send(2*time.Millisecond, client, server, query(t, 2, "b.example."), false)
				f.send(3*time.Millisecond, server, client, response(t, 2, "b.example.", dnsmessage.RCodeSuccess), false)
				f.pong(4*time.Millisecond, time.Millisecond, 20)
			},
			want: want{loops: 1, packets: 20, ongoing: true, qFrame: 3, rFrame: 4, firstFrame: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &feed{d: NewDNSPong(tt.cfg)}
			tt.run(f)
			end := f.now
			if tt.end > 0 {
				end = t0 + int64(tt.end)
			}
			loops := f.d.Finish(end)
			c := f.d.Counters()
			if len(loops) != tt.want.loops {
				t.Fatalf("loops = %d, want %d (counters %+v)", len(loops), tt.want.loops, c)
			}
			if c.Bounces != tt.want.bounces || c.OneSided != tt.want.oneSided {
				t.Errorf("bounces, one-sided = %d, %d, want %d, %d", c.Bounces, c.OneSided, tt.want.bounces, tt.want.oneSided)
			}
			if tt.want.loops == 0 {
				return
			}
			l := loops[0]
			if l.Packets != tt.want.packets || l.Ongoing != tt.want.ongoing {
				t.Errorf("packets, ongoing = %d, %v, want %d, %v", l.Packets, l.Ongoing, tt.want.packets, tt.want.ongoing)
			}
			if l.Client != client || l.Server != server {
				t.Errorf("endpoints %v <-> %v", l.Client, l.Server)
			}
			if tt.want.trigless {
				if l.HasTrigger || l.FirstPacket.Ref.Frame != tt.want.firstFrame || l.Evidence == nil || l.Evidence.Rule != "signature" {
					t.Errorf("trigger %v, first packet %d, evidence %+v; want no trigger, first packet %d, the signature", l.HasTrigger, l.FirstPacket.Ref.Frame, l.Evidence, tt.want.firstFrame)
				}
				return
			}
			if l.Query.Ref.Frame != tt.want.qFrame || l.Response.Ref.Frame != tt.want.rFrame || l.FirstNonDNS.Ref.Frame != tt.want.firstFrame {
				t.Errorf("trigger frames %d/%d/%d, want %d/%d/%d", l.Query.Ref.Frame, l.Response.Ref.Frame, l.FirstNonDNS.Ref.Frame,
					tt.want.qFrame, tt.want.rFrame, tt.want.firstFrame)
			}
			if l.ClientToServer.Packets+l.ServerToClient.Packets != l.Packets {
				t.Errorf("directions %d + %d != %d", l.ClientToServer.Packets, l.ServerToClient.Packets, l.Packets)
			}
			if l.PayloadInfo.Kind != decode.PayloadTFTPError || l.PayloadInfo.Text != "RRQ must be sent first" {
				t.Errorf("payload %+v", l.PayloadInfo)
			}
		})
	}
}

func TestDNSPongSeedDetails(t *testing.T) {
	f := &feed{d: NewDNSPong(DNSPongConfig{})}
	f.send(0, client, server, query(t, 0xdc20, "delegated.example.uk."), false)
	f.send(100*time.Microsecond, server, client, response(t, 0xdc20, "delegated.example.uk.", dnsmessage.RCodeSuccess), false)
	last := f.pong(1300*time.Microsecond, 500*time.Microsecond, 3001) // 1.5 s at 2000 packets/s
	loops := f.d.Finish(f.now)
	if len(loops) != 1 {
		t.Fatalf("loops = %d", len(loops))
	}
	l := loops[0]
	if l.QName != "delegated.example.uk." || l.QueryID != 0xdc20 || l.QType != 1 || l.RCode != 0 {
		t.Errorf("trigger query %q id %#x type %d rcode %d", l.QName, l.QueryID, l.QType, l.RCode)
	}
	if l.DelayNanos != int64(1200*time.Microsecond) {
		t.Errorf("delay %v", time.Duration(l.DelayNanos))
	}
	if got, want := l.End-l.Start, int64(last-1300*time.Microsecond); got != want {
		t.Errorf("duration %v, want %v", time.Duration(got), time.Duration(want))
	}
	if r := l.Rate(); r < 2000 || r > 2002 {
		t.Errorf("rate %.1f, want ~2000.7", r)
	}
	if l.PeakPPS != 2000 {
		t.Errorf("peak %d, want 2000", l.PeakPPS)
	}
	if len(l.ClientTTLs) != 1 || l.ClientTTLs[0] != 52 {
		t.Errorf("client TTLs %v", l.ClientTTLs)
	}
	if l.ClientToServer.Packets != 1501 || l.ServerToClient.Packets != 1500 {
		t.Errorf("directions %+v %+v", l.ClientToServer, l.ServerToClient)
	}
}

func TestDNSPongLoopAgainIsANewLoop(t *testing.T) {
	f := &feed{d: NewDNSPong(DNSPongConfig{})}
	f.send(0, client, server, query(t, 1, "a.example."), false)
	f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
	f.pong(2*time.Millisecond, time.Millisecond, 30)
	// Resumes after the idle gap with no trigger: not a loop.
	f.pong(3*time.Second, time.Millisecond, 30)
	// A fresh trigger: a second loop on the same flow.
	f.send(6*time.Second, client, server, query(t, 2, "a.example."), false)
	f.send(6*time.Second+time.Millisecond, server, client, response(t, 2, "a.example.", dnsmessage.RCodeSuccess), false)
	f.pong(6*time.Second+2*time.Millisecond, time.Millisecond, 20)
	loops := f.d.Finish(f.now)
	if len(loops) != 2 {
		t.Fatalf("loops = %d, want 2", len(loops))
	}
	if loops[0].Packets != 30 || loops[1].Packets != 20 || loops[0].Ongoing || !loops[1].Ongoing {
		t.Errorf("loops %d (ongoing %v), %d (ongoing %v)", loops[0].Packets, loops[0].Ongoing, loops[1].Packets, loops[1].Ongoing)
	}
	if loops[1].Query.Ref.Frame != 63 {
		t.Errorf("second trigger query frame %d, want 63", loops[1].Query.Ref.Frame)
	}
}

func TestDNSPongBothPortsDNS(t *testing.T) {
	c := netip.MustParseAddrPort("10.0.0.1:53")
	s := netip.MustParseAddrPort("10.0.0.2:53")
	d := NewDNSPong(DNSPongConfig{})
	n := uint64(0)
	send := func(at time.Duration, src, dst netip.AddrPort, b []byte) {
		n++
		d.Observe(&Packet{Packet: decode.Packet{Src: src, Dst: dst, Payload: b, TTL: 60, WireLen: 60}, Ref: PacketRef{Frame: n}, Time: t0 + int64(at)})
	}
	send(0, c, s, query(t, 7, "x.example."))
	send(time.Millisecond, s, c, response(t, 7, "x.example.", dnsmessage.RCodeSuccess))
	for i := 0; i < 20; i++ {
		at := time.Duration(2+i) * time.Millisecond
		if i%2 == 0 {
			send(at, c, s, tftpError())
		} else {
			send(at, s, c, formErr(5))
		}
	}
	loops := d.Finish(t0 + int64(time.Second))
	if len(loops) != 1 || loops[0].Client != c || loops[0].Server != s {
		t.Fatalf("loops %+v", loops)
	}
}

func TestDNSPongExtraPort(t *testing.T) {
	s := netip.MustParseAddrPort("192.0.2.1:5353")
	run := func(ports []uint16) int {
		d := NewDNSPong(DNSPongConfig{DNSPorts: ports})
		n := uint64(0)
		send := func(at time.Duration, src, dst netip.AddrPort, b []byte) {
			n++
			d.Observe(&Packet{Packet: decode.Packet{Src: src, Dst: dst, Payload: b, WireLen: 60}, Ref: PacketRef{Frame: n}, Time: t0 + int64(at)})
		}
		send(0, client, s, query(t, 7, "x.example."))
		send(time.Millisecond, s, client, response(t, 7, "x.example.", dnsmessage.RCodeSuccess))
		for i := 0; i < 20; i++ {
			if i%2 == 0 {
				send(time.Duration(2+i)*time.Millisecond, client, s, tftpError())
			} else {
				send(time.Duration(2+i)*time.Millisecond, s, client, formErr(5))
			}
		}
		return len(d.Finish(t0 + int64(time.Second)))
	}
	if n := run(nil); n != 0 {
		t.Errorf("port 5353 without --dns-port: %d loops", n)
	}
	if n := run([]uint16{53, 5353}); n != 1 {
		t.Errorf("port 5353 with --dns-port: %d loops", n)
	}
}

func TestDNSPongFlowCap(t *testing.T) {
	d := NewDNSPong(DNSPongConfig{MaxFlows: 100})
	for i := 0; i < 1000; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1024)
		d.Observe(&Packet{Packet: decode.Packet{Src: src, Dst: server, Payload: query(t, uint16(i), "a.example.")}, Time: t0 + int64(i)})
	}
	if got := d.flows.len(); got != 100 {
		t.Errorf("flow table holds %d, want the cap of 100", got)
	}
	c := d.Counters()
	if c.Flows != 1000 || c.EvictedCap != 900 {
		t.Errorf("flows %d, evicted at cap %d", c.Flows, c.EvictedCap)
	}
}

func TestDNSPongIdleEviction(t *testing.T) {
	d := NewDNSPong(DNSPongConfig{FlowTimeout: 10 * time.Second})
	for i := 0; i < 100; i++ {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1024)
		d.Observe(&Packet{Packet: decode.Packet{Src: src, Dst: server, Payload: query(t, uint16(i), "a.example.")}, Time: t0 + int64(i)*int64(time.Second)})
	}
	// At t0+99 s, flows last seen before t0+89 s are gone.
	if got := d.flows.len(); got != 11 {
		t.Errorf("flow table holds %d, want 11", got)
	}
	if c := d.Counters(); c.Evicted != 89 {
		t.Errorf("evicted %d, want 89", c.Evicted)
	}
}

// Loops whose trigger the capture does not hold are found by their
// signature anywhere in the capture (issue 9): already running at the
// start, starting mid-capture, after an answer that armed nothing or came
// too early. The run starts at the first packet that is not a query from
// the client, or at the packet it answered if that came within max-delay.
func TestDNSPongRunWithoutTrigger(t *testing.T) {
	other := netip.MustParseAddrPort("203.0.113.9:4444")
	tests := []struct {
		name    string
		run     func(f *feed)
		loops   int
		packets uint64
		first   uint64 // frame of the loop's first packet
	}{
		{"running at capture start", func(f *feed) { f.pong(0, time.Millisecond, 200) }, 1, 200, 1},
		{"starting 3 s into the capture", func(f *feed) {
			f.send(0, other, server, query(t, 9, "b.example."), false)
			f.pong(3*time.Second, time.Millisecond, 200)
		}, 1, 200, 2},
		{"the answer went to another query: it starts the run", func(f *feed) {
			f.send(0, client, server, query(t, 1, "a.example."), false)
			f.send(time.Millisecond, server, client, response(t, 2, "a.example.", dnsmessage.RCodeSuccess), false)
			f.pong(2*time.Millisecond, time.Millisecond, 200)
		}, 1, 201, 2},
		{"genuine exchange at the start, junk 700 ms later", func(f *feed) {
			f.send(0, client, server, query(t, 1, "a.example."), false)
			f.send(time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
			f.pong(700*time.Millisecond, time.Millisecond, 200)
		}, 1, 200, 3},
		{"exchange later, junk 1.5 s after it", func(f *feed) {
			f.send(0, other, server, query(t, 9, "b.example."), false)
			f.send(3*time.Second, client, server, query(t, 1, "a.example."), false)
			f.send(3*time.Second+time.Millisecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
			f.pong(4500*time.Millisecond, time.Millisecond, 200)
		}, 1, 200, 4},
		{"the capture starts with the server's FORMERR", func(f *feed) {
			f.send(0, server, client, formErr(5), false)
			f.pong(time.Millisecond, time.Millisecond, 199)
		}, 1, 200, 1},
		{"10 packets a second", func(f *feed) { f.pong(0, 100*time.Millisecond, 200) }, 1, 200, 1},
		{"too short", func(f *feed) { f.pong(0, time.Millisecond, 40) }, 0, 0, 0},
		{"too slow: one packet a second", func(f *feed) { f.pong(0, time.Second, 200) }, 0, 0, 0},
		{"runs off: no trigger-less loops", nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DNSPongConfig{}
			if tt.run == nil {
				cfg.NoRuns = true
				tt.run = func(f *feed) { f.pong(0, time.Millisecond, 200) }
			}
			f := &feed{d: NewDNSPong(cfg)}
			tt.run(f)
			loops := f.d.Finish(f.now)
			if len(loops) != tt.loops {
				t.Fatalf("loops = %d, want %d", len(loops), tt.loops)
			}
			if tt.loops == 0 {
				return
			}
			l := loops[0]
			if l.HasTrigger || l.Packets != tt.packets || l.Client != client || l.Server != server || l.FirstPacket.Ref.Frame != tt.first || !l.Ongoing {
				t.Errorf("loop %v <-> %v, trigger %v, %d packets, first frame %d, ongoing %v; want %d packets from frame %d",
					l.Client, l.Server, l.HasTrigger, l.Packets, l.FirstPacket.Ref.Frame, l.Ongoing, tt.packets, tt.first)
			}
			if l.PayloadInfo.Kind != decode.PayloadTFTPError || len(l.ClientTTLs) != 1 || l.ClientTTLs[0] != 52 {
				t.Errorf("payload %+v, TTLs %v", l.PayloadInfo, l.ClientTTLs)
			}
			if e := l.Evidence; e == nil || e.Rule != "signature" || e.Client.Answers < 0.99 || e.Server.Answers < 0.99 || e.Alternation < 0.99 {
				t.Errorf("evidence %+v", e)
			}
		})
	}
}

// A loop that multiplies: the resolver retries its query, the retry's
// answer bounces too, and the 5-tuple carries two, then four ping-pongs at
// once. It stays one loop, and peak_pps shows the growth.
func TestDNSPongGrowingLoop(t *testing.T) {
	f := &feed{d: NewDNSPong(DNSPongConfig{})}
	f.send(0, client, server, query(t, 1, "a.example."), false)
	f.send(100*time.Microsecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
	at := time.Millisecond
	inFlight := 1
	for at < 3*time.Second {
		if at >= time.Second && inFlight == 1 || at >= 2*time.Second && inFlight == 2 {
			inFlight *= 2
		}
		for k := 0; k < inFlight; k++ {
			f.send(at+time.Duration(k)*time.Microsecond, client, server, tftpError(), false)
			f.send(at+time.Duration(k)*time.Microsecond+5*time.Millisecond, server, client, formErr(5), false)
		}
		at += 10 * time.Millisecond
	}
	loops := f.d.Finish(f.now)
	if len(loops) != 1 {
		t.Fatalf("loops = %d, want 1", len(loops))
	}
	l := loops[0]
	// 100 round trips a second: 200 packets/s, then 400, then 800.
	if l.PeakPPS != 800 || l.Packets != 200+400+800 {
		t.Errorf("peak %d, packets %d; want 800 and 1400", l.PeakPPS, l.Packets)
	}
}
