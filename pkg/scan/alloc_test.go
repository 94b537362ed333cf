package scan

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// udpFrame builds an Ethernet/IPv4/UDP frame by hand.
func udpFrame(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, 14+20+8+len(payload))
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	return b
}

func dnsMsg(t testing.TB, id uint16, resp bool) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: resp})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("www.example.com."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	m, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHotPathAllocs proves the per-packet path allocates nothing: decoding
// a frame, judging its DNS payload and updating an existing flow, for a
// query, its answer and a non-DNS packet on an armed flow. It runs the
// real path (the flow key set once per packet, as the shards do), so the
// answer matches the query and the loop starts: the test checks that too.
func TestHotPathAllocs(t *testing.T) {
	c := netip.MustParseAddrPort("198.51.100.7:40000")
	s := netip.MustParseAddrPort("192.0.2.1:53")
	q := udpFrame(c, s, dnsMsg(t, 1, false))
	r := udpFrame(s, c, dnsMsg(t, 1, true))
	junk := udpFrame(c, s, []byte("\x00\x05\x00\x04RRQ must be sent first\x00"))

	dec := decode.NewDecoder(decode.DefaultFragLimits)
	det := detect.NewDNSPong(detect.DNSPongConfig{MinPackets: 2})
	rep := detect.NewRepeat(detect.RepeatConfig{})
	var p detect.Packet
	now := int64(1e18)
	step := func(frame []byte) {
		now += 1e5 // 100 µs
		if dec.Decode(1, frame, len(frame), now, &p.Packet) != decode.KindUDP {
			t.Fatal("frame did not decode as UDP")
		}
		p.Time = now
		p.SetFlow()
		det.Observe(&p)
		rep.Observe(&p)
	}
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"query and answer", [][]byte{q, r}},
		{"loop packets", [][]byte{junk, r}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				for _, f := range tt.frames {
					step(f)
				}
			})
			if allocs != 0 {
				t.Errorf("%.2f allocations per run, want 0", allocs)
			}
		})
	}
	// The first junk packet followed a fresh answer: one loop of every
	// packet after it.
	loops := det.Finish(now)
	if len(loops) != 1 || !loops[0].HasTrigger || loops[0].Packets != 2002 {
		t.Fatalf("the path run was not the real one: %d loops %+v", len(loops), loops)
	}
}

// TestShardPathAllocs: the pipeline's per-frame path (the feed routing a
// frame from its raw bytes and batching it, two shards decoding their own
// frames and skipping the other's, flow key, detectors) allocates
// nothing, and counts each frame exactly once.
func TestShardPathAllocs(t *testing.T) {
	c := netip.MustParseAddrPort("198.51.100.7:40000")
	s := netip.MustParseAddrPort("192.0.2.1:53")
	frames := [][]byte{
		udpFrame(c, s, dnsMsg(t, 1, false)),
		udpFrame(s, c, dnsMsg(t, 1, true)),
		udpFrame(c, s, []byte("\x00\x05\x00\x04RRQ must be sent first\x00")),
	}
	sc := newScan(context.Background(), 0, "", nil, Options{Detectors: TestDetectors, Shards: 2}.withDefaults())
	sc.ins = []*input{{}}
	sc.feed.ins, sc.feed.srcIn = sc.ins, []int{0}
	sc.startShards()
	sc.feed.cur = sc.feed.newBatch()
	var rec capture.Record
	now := int64(1e18)
	allocs := testing.AllocsPerRun(1000, func() {
		for i, f := range frames {
			now += 1e5
			rec = capture.Record{Data: f, OrigLen: len(f), Time: now, LinkType: decode.LinkEthernet, Frame: uint64(i + 1)}
			sc.feed.add(&rec)
		}
		sc.feed.flush()
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per run, want 0", allocs)
	}
	var owned uint64
	for _, sh := range sc.shards {
		owned += sh.dec.Stats.Kinds[decode.KindUDP]
	}
	if want := uint64(1001 * len(frames)); owned != want {
		t.Errorf("the shards counted %d UDP frames, want %d (each exactly once)", owned, want)
	}
}
