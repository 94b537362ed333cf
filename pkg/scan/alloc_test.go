package scan

import (
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
// query, its answer and a non-DNS packet on an armed flow.
func TestHotPathAllocs(t *testing.T) {
	c := netip.MustParseAddrPort("198.51.100.7:40000")
	s := netip.MustParseAddrPort("192.0.2.1:53")
	q := udpFrame(c, s, dnsMsg(t, 1, false))
	r := udpFrame(s, c, dnsMsg(t, 1, true))
	junk := udpFrame(c, s, []byte("\x00\x05\x00\x04RRQ must be sent first\x00"))

	dec := decode.NewDecoder(decode.DefaultFragLimits)
	det := detect.NewDNSPong(detect.DNSPongConfig{MinPackets: 1 << 30})
	rep := detect.NewRepeat(detect.RepeatConfig{})
	var p detect.Packet
	now := int64(1e18)
	step := func(frame []byte) {
		now += 1e5 // 100 µs
		if dec.Decode(1, frame, len(frame), now, &p.Packet) != decode.KindUDP {
			t.Fatal("frame did not decode as UDP")
		}
		p.Time = now
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
}

// TestShardPathAllocs: the parallel modes' per-frame path (route from the
// raw bytes, decode the shard's own frames, flow key, detectors) allocates
// nothing either, in the shard that owns a flow and in the one that skips
// it.
func TestShardPathAllocs(t *testing.T) {
	c := netip.MustParseAddrPort("198.51.100.7:40000")
	s := netip.MustParseAddrPort("192.0.2.1:53")
	frames := [][]byte{
		udpFrame(c, s, dnsMsg(t, 1, false)),
		udpFrame(s, c, dnsMsg(t, 1, true)),
		udpFrame(c, s, []byte("\x00\x05\x00\x04RRQ must be sent first\x00")),
	}
	var shards [numShards]*shard
	for k := range shards {
		dp := detect.NewDNSPong(detect.DNSPongConfig{MinPackets: 1 << 30})
		shards[k] = &shard{id: k, dns: dp, dets: []detect.Detector{dp, detect.NewRepeat(detect.RepeatConfig{})}}
		shards[k].prepare(decode.NewDecoder(decode.DefaultFragLimits), func(p uint16) bool { return p == 53 }, []int{0})
	}
	var rec capture.Record
	now := int64(1e18)
	allocs := testing.AllocsPerRun(1000, func() {
		for i, f := range frames {
			now += 1e5
			rec = capture.Record{Data: f, OrigLen: len(f), Time: now, LinkType: decode.LinkEthernet, Frame: uint64(i + 1)}
			for _, sh := range shards {
				sh.frame(&rec)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per run, want 0", allocs)
	}
	var owned uint64
	for _, sh := range shards {
		owned += sh.dec.Stats.Kinds[decode.KindUDP]
	}
	if want := uint64(1001 * len(frames)); owned != want {
		t.Errorf("the shards counted %d UDP frames, want %d (each exactly once)", owned, want)
	}
}
