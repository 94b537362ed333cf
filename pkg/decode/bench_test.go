package decode_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/synth"
)

var (
	benchClient4 = netip.MustParseAddrPort("198.51.100.7:40000")
	benchServer4 = netip.MustParseAddrPort("192.0.2.53:53")
	benchClient6 = netip.MustParseAddrPort("[2001:db8:1::7]:40000")
	benchServer6 = netip.MustParseAddrPort("[2001:db8::53]:53")
	benchQuery   = synth.Query{ID: 0x1234, Name: "www.shop17.example.co.uk", Type: layers.DNSTypeA}
)

func benchFrame(b *testing.B, src, dst netip.AddrPort, payload []byte) []byte {
	b.Helper()
	fs, err := synth.Link{Type: synth.LinkEthernet}.Frames(synth.Datagram{Src: src, Dst: dst, Payload: payload})
	if err != nil || len(fs) != 1 {
		b.Fatalf("frame: %v", err)
	}
	return fs[0]
}

// BenchmarkDecode peels Ethernet, IP and UDP off a DNS query frame.
func BenchmarkDecode(b *testing.B) {
	q, err := synth.DNSQuery(benchQuery)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		src, dst netip.AddrPort
	}{
		{"ethernet-ipv4-udp-dns", benchClient4, benchServer4},
		{"ethernet-ipv6-udp-dns", benchClient6, benchServer6},
	} {
		b.Run(c.name, func(b *testing.B) {
			frame := benchFrame(b, c.src, c.dst, q)
			dec := decode.NewDecoder(decode.DefaultFragLimits)
			var p decode.Packet
			b.ReportAllocs()
			now := int64(1e18)
			for b.Loop() {
				if dec.Decode(decode.LinkEthernet, frame, len(frame), now, &p) != decode.KindUDP {
					b.Fatal("not UDP")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkClassifyDNS judges a plain query, a referral with glue and an
// EDNS OPT record, a header-only FORMERR and a TFTP error (the two payloads
// of a loop) at both depths.
func BenchmarkClassifyDNS(b *testing.B) {
	query, err := synth.DNSQuery(benchQuery)
	if err != nil {
		b.Fatal(err)
	}
	eq := benchQuery
	eq.EDNS = true
	referral, err := synth.DNSResponse(eq, synth.Referral, 0)
	if err != nil {
		b.Fatal(err)
	}
	tftp := synth.TFTPError(synth.TFTPErrIllegalOp, synth.TFTPMsgRRQFirst)
	payloads := []struct {
		name string
		msg  []byte
		want decode.DNSVerdict
	}{
		{"query", query, decode.DNS},
		{"referral-edns", referral, decode.DNS},
		{"formerr", synth.FormErr(tftp), decode.DNS},
		{"tftp-error", tftp, decode.NotDNS},
	}
	depths := []struct {
		name  string
		depth decode.Depth
	}{{"header-question", decode.HeaderQuestion}, {"full", decode.Full}}
	for _, p := range payloads {
		for _, d := range depths {
			b.Run(p.name+"/"+d.name, func(b *testing.B) {
				var info decode.DNSInfo
				b.ReportAllocs()
				for b.Loop() {
					if v := decode.ClassifyDNS(p.msg, false, d.depth, &info); v != p.want {
						b.Fatalf("verdict %v, want %v", v, p.want)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
			})
		}
	}
}

// BenchmarkClassifyMsg classifies the payloads the loop detector sees on
// every packet: DNS queries and answers of a busy server, the two
// payloads of the seed's loop, NTP, and the text and binary of the
// small services.
func BenchmarkClassifyMsg(b *testing.B) {
	query, err := synth.DNSQuery(benchQuery)
	if err != nil {
		b.Fatal(err)
	}
	eq := benchQuery
	eq.EDNS = true
	answer, err := synth.DNSResponse(eq, synth.Answer, 0)
	if err != nil {
		b.Fatal(err)
	}
	referral, err := synth.DNSResponse(eq, synth.Referral, 0)
	if err != nil {
		b.Fatal(err)
	}
	tftp := synth.TFTPError(synth.TFTPErrIllegalOp, synth.TFTPMsgRRQFirst)
	var chargen []byte
	for j := range 72 {
		chargen = append(chargen, byte(' '+(7+j)%95))
	}
	chargen = append(chargen, "\r\n"...)
	quote := []byte(strings.Repeat("Those who cannot remember the past are condemned to repeat it.\r\n", 8))
	at := time.Date(2024, 3, 19, 12, 0, 0, 0, time.UTC)
	payloads := []struct {
		name  string
		msg   []byte
		proto decode.MsgProto
	}{
		{"dns-query", query, decode.MsgDNS},
		{"dns-answer-edns", answer, decode.MsgDNS},
		{"dns-referral-edns", referral, decode.MsgDNS},
		{"dns-formerr", synth.FormErr(tftp), decode.MsgDNS},
		{"tftp-error", tftp, decode.MsgTFTP},
		{"ntp-server", synth.NTP(synth.NTPModeServer, at), decode.MsgNTP},
		{"ntp-private-error", []byte{0x97, 0, 3, 42, 0x30, 0, 0, 0}, decode.MsgNTP},
		{"chargen-line", chargen, decode.MsgText},
		{"qotd-512", quote, decode.MsgText},
		{"time", []byte{0xe9, 0xa3, 0x5a, 0x40}, decode.MsgBinary},
	}
	for _, p := range payloads {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m := decode.ClassifyMsg(p.msg, false); m.Proto != p.proto {
					b.Fatalf("%v, want %v", m, p.proto)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}
