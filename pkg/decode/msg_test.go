package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pongscan/pongscan/pkg/synth"
)

// msgCase is a payload and what ClassifyMsg must make of it.
type msgCase struct {
	name    string
	payload []byte
	cut     bool
	want    Msg
}

// dnsMsg builds a DNS message: the header, the questions, then answers
// and, when edns, an OPT record.
func dnsMsg(tb testing.TB, h dnsmessage.Header, qs []dnsmessage.Question, answers int, edns bool) []byte {
	tb.Helper()
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(b.StartQuestions())
	for _, q := range qs {
		must(b.Question(q))
	}
	must(b.StartAnswers())
	for i := range answers {
		must(b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 300},
			dnsmessage.AResource{A: [4]byte{192, 0, 2, byte(i + 1)}}))
	}
	must(b.StartAdditionals())
	if edns {
		var opt dnsmessage.ResourceHeader
		must(opt.SetEDNS0(1232, dnsmessage.RCodeSuccess, false))
		must(b.OPTResource(opt, dnsmessage.OPTResource{}))
	}
	m, err := b.Finish()
	must(err)
	return m
}

// msgCases are real-looking messages of every kind ClassifyMsg tells
// apart, the ambiguous bytes its order of checks decides, and cut
// payloads. They seed FuzzClassifyMsg and its committed corpus.
func msgCases(tb testing.TB) []msgCase {
	tb.Helper()
	www := dnsmessage.Question{Name: dnsmessage.MustNewName("www.example.com."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	dns := func(id uint16, resp bool, op dnsmessage.OpCode, rc dnsmessage.RCode, qs []dnsmessage.Question, answers int, edns bool) []byte {
		return dnsMsg(tb, dnsmessage.Header{ID: id, Response: resp, OpCode: op, RCode: rc, RecursionDesired: true}, qs, answers, edns)
	}
	q1 := []dnsmessage.Question{www}
	sq := synth.Query{ID: 0x8b9e, Name: "delegated.example.uk", RD: true, EDNS: true}
	referral, err := synth.DNSResponse(sq, synth.Referral, 0)
	if err != nil {
		tb.Fatal(err)
	}
	nxdomain, err := synth.DNSResponse(sq, synth.NXDomain, 0)
	if err != nil {
		tb.Fatal(err)
	}
	seedErr := synth.TFTPError(synth.TFTPErrIllegalOp, synth.TFTPMsgRRQFirst)
	mdns := www
	mdns.Class = 0x8001 // unicast-response bit
	qclass0 := www
	qclass0.Class = 0
	mdnsQs := []dnsmessage.Question{}
	for _, n := range []string{"_daap._tcp.local.", "_ipp._tcp.local.", "_ipps._tcp.local."} {
		mdnsQs = append(mdnsQs, dnsmessage.Question{Name: dnsmessage.MustNewName(n), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET})
	}
	// A second question whose name is a chain of pointers through an
	// answer's data: k more after its own, ending at the root.
	chain := func(k int) []byte {
		m := []byte("\x00\x07\x01\x00\x00\x02\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00\x01\xc0\x22\x00\x01\x00\x01\x00\x00\x01\x00\x01\x00\x00\x00\x00")
		m = binary.BigEndian.AppendUint16(m, uint16(2*k+1))
		for i := range k {
			m = append(m, 0xc0, byte(34+2*(i+1)))
		}
		return append(m, 0)
	}
	rootQ := strings.Repeat("\x00\x00\x01\x00\x01", 65)
	// A REFUSED answer padded with NULs to 512 bytes, as in suricata's
	// decode-teredo-01 capture, frame 61.
	refusedPadded := dns(0x687a, true, 0, dnsmessage.RCodeRefused, q1, 0, false)
	refusedPadded = append(refusedPadded, make([]byte, 512-len(refusedPadded))...)
	// "a." with a pointer to the NUL at offset 4 (the question count's
	// high byte): valid to dnsmessage, never sent by anyone.
	ptrQ := []byte("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\xc0\x04\x00\x01\x00\x01")
	// A TFTP ERROR whose message lays out a DNS question: ClassifyDNS
	// reads a query for "x." of type 0, class 0.
	errAsDNS := []byte("\x00\x05\x00\x04ABCDEFGH\x01x\x00\x00\x00\x00\x00")

	at := time.Date(2024, 3, 19, 12, 0, 0, 0, time.UTC)
	secs := uint32(at.Unix() + 2208988800)
	timeOf := func(s uint32) []byte { return binary.BigEndian.AppendUint32(nil, s) }
	var chargen []byte
	for j := range 72 {
		chargen = append(chargen, byte(' '+(5+j)%95))
	}
	chargen = append(chargen, "\r\n"...)
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	random[0] = 0xde // not a TFTP opcode, not an NTP version

	dnsQ := Msg{MsgDNS, RoleRequest, 0}
	dnsA := func(rc uint16) Msg { return Msg{MsgDNS, RoleAnswer, 0x8000 | rc} }
	tftpM := func(role MsgRole, op, code uint16) Msg { return Msg{MsgTFTP, role, op<<8 | code} }
	ntpM := func(role MsgRole, vn, mode, rest uint16) Msg { return Msg{MsgNTP, role, vn<<12 | mode<<8 | rest} }
	text := Msg{MsgText, RoleUnknown, 0}
	binaryM := Msg{MsgBinary, RoleUnknown, 0}
	four := Msg{MsgBinary, RoleUnknown, TypeFourBytes}
	b := func(s string) []byte { return []byte(s) }

	return []msgCase{
		// DNS.
		{"dns-query", dns(0x1234, false, 0, 0, q1, 0, false), false, dnsQ},
		{"dns-query-edns", dns(0x1234, false, 0, 0, q1, 0, true), false, dnsQ},
		{"dns-answer-compressed", dns(0x1234, true, 0, 0, q1, 2, true), false, dnsA(0)},
		{"dns-referral-glue-edns", referral, false, dnsA(0)},
		{"dns-nxdomain-soa", nxdomain, false, dnsA(3)},
		{"dns-formerr-header-only", synth.FormErr(seedErr), false, dnsA(1)},
		{"dns-formerr-edns", dns(0x0005, true, 0, dnsmessage.RCodeFormatError, nil, 0, true), false, dnsA(1)},
		{"dns-refused-echoes-question", dns(0x4242, true, 0, dnsmessage.RCodeRefused, q1, 0, false), false, dnsA(5)},
		{"dns-servfail-echoes-question", dns(0x4242, true, 0, dnsmessage.RCodeServerFailure, q1, 0, true), false, dnsA(2)},
		{"dns-servfail-header-only", dns(0x4242, true, 0, dnsmessage.RCodeServerFailure, nil, 0, false), false, dnsA(2)},
		{"dns-notify", dns(0x0101, false, 4, 0, []dnsmessage.Question{{Name: www.Name, Type: dnsmessage.TypeSOA, Class: dnsmessage.ClassINET}}, 0, false), false, Msg{MsgDNS, RoleRequest, 4 << 11}},
		{"dns-mdns-qu-query", dns(0, false, 0, 0, []dnsmessage.Question{mdns}, 0, false), false, dnsQ},
		{"dns-query-id-1-not-tftp-rrq", dns(1, false, 0, 0, q1, 0, false), false, dnsQ},
		{"dns-query-id-3-not-tftp-data", dns(3, false, 0, 0, q1, 0, false), false, dnsQ},
		{"dns-query-id-5-not-tftp-error", dns(5, false, 0, 0, q1, 0, false), false, dnsQ},
		{"dns-formerr-id-6-not-tftp-oack", synth.FormErr([]byte{0, 6, 0}), false, dnsA(1)},
		{"dns-query-that-is-also-an-ntp-header", dns(0x2305, false, 0, 0, []dnsmessage.Question{{Name: dnsmessage.MustNewName(strings.Repeat("n", 30) + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}, 0, false), false, dnsQ},
		{"dns-header-only-query-is-binary", b("\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), false, binaryM},
		{"dns-question-class-0-is-binary", dns(0x1234, false, 0, 0, []dnsmessage.Question{qclass0}, 0, false), false, binaryM},
		{"dns-query-padded-with-a-nul", append(dns(0x1234, false, 0, 0, q1, 0, false), 0), false, dnsQ},
		{"dns-refused-padded-to-512", refusedPadded, false, dnsA(5)},
		{"dns-trailing-garbage-is-binary", append(dns(0x1234, false, 0, 0, q1, 0, false), 0, 1, 0), false, binaryM},
		{"dns-formerr-padded-is-binary", append(synth.FormErr(seedErr), 0, 0, 0, 0), false, binaryM},
		{"dns-two-questions-compressed", dns(7, false, 0, 0, []dnsmessage.Question{www, www}, 0, false), false, dnsQ},
		{"dns-mdns-three-questions", dns(0, false, 0, 0, mdnsQs, 0, false), false, dnsQ},
		{"dns-second-question-pointer-loop-is-binary", b("\x00\x07\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01\xc0\x13\x00\x01\x00\x01"), false, binaryM},
		{"dns-second-question-dot-in-label-is-binary", b("\x00\x07\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01\x03a.b\x00\x00\x01\x00\x01"), false, binaryM},
		{"dns-second-question-10-pointers", chain(9), false, dnsQ},
		{"dns-second-question-11-pointers-is-binary", chain(10), false, binaryM},
		{"dns-64-questions", b("\x00\x07\x01\x00\x00\x40\x00\x00\x00\x00\x00\x00" + rootQ[:64*5]), false, dnsQ},
		{"dns-65-questions-is-binary", b("\x00\x07\x01\x00\x00\x41\x00\x00\x00\x00\x00\x00" + rootQ), false, binaryM},
		{"dns-pointer-in-question-is-binary", ptrQ, false, binaryM},
		{"dns-reserved-label-type-is-binary", b("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x41" + strings.Repeat("a", 65) + "\x00\x00\x01\x00\x01"), false, binaryM},
		{"dns-label-with-a-dot-is-binary", b("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03a.b\x00\x00\x01\x00\x01"), false, binaryM},
		{"dns-label-of-46-bytes-length-byte-is-a-dot", b("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x2e" + strings.Repeat("a", 46) + "\x03com\x00\x00\x01\x00\x01"), false, dnsQ},
		{"dns-name-of-255-bytes-is-binary", b("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + strings.Repeat("\x3f"+strings.Repeat("a", 63), 3) + "\x3e" + strings.Repeat("a", 62) + "\x00\x00\x01\x00\x01"), false, binaryM},
		{"dns-name-of-254-bytes", b("\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + strings.Repeat("\x3f"+strings.Repeat("a", 63), 3) + "\x3d" + strings.Repeat("a", 61) + "\x00\x00\x01\x00\x01"), false, dnsQ},
		{"dns-referral-cut", referral[:60], true, dnsA(0)},
		{"dns-referral-cut-not-flagged-is-binary", referral[:60], false, binaryM},
		{"dns-query-cut-in-question-is-binary", dns(0x1234, false, 0, 0, q1, 0, false)[:20], true, binaryM},

		// TFTP.
		{"tftp-error-seed", seedErr, false, tftpM(RoleAnswer, 5, 4)},
		{"tftp-error-control-bytes", b("\x00\x05\x00\x00bad\x01\x7fpacket\r\n\x00"), false, tftpM(RoleAnswer, 5, 0)},
		{"tftp-error-unknown-tid", synth.TFTPError(synth.TFTPErrUnknownTID, "Unknown transfer ID"), false, tftpM(RoleAnswer, 5, 5)},
		{"tftp-error-parses-as-dns-query", errAsDNS, false, tftpM(RoleAnswer, 5, 4)},
		{"tftp-error-cut-before-nul", seedErr[:12], true, tftpM(RoleAnswer, 5, 4)},
		{"tftp-error-unterminated-is-binary", seedErr[:12], false, binaryM},
		{"tftp-rrq", b("\x00\x01pxelinux.0\x00octet\x00"), false, tftpM(RoleRequest, 1, 0)},
		{"tftp-rrq-options", b("\x00\x01boot/grub/x86_64-efi/core.efi\x00octet\x00blksize\x001468\x00tsize\x000\x00"), false, tftpM(RoleRequest, 1, 0)},
		{"tftp-wrq", b("\x00\x02router-confg\x00netascii\x00"), false, tftpM(RoleRequest, 2, 0)},
		{"tftp-rrq-cut-in-mode", b("\x00\x01pxelinux.0\x00oct"), true, tftpM(RoleRequest, 1, 0)},
		{"tftp-data", append(b("\x00\x03\x00\x2a"), bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 128)...), false, tftpM(RoleTransfer, 3, 0)},
		{"tftp-data-zeros-not-dns", append(b("\x00\x03\x00\x01"), make([]byte, 100)...), false, tftpM(RoleTransfer, 3, 0)},
		{"tftp-data-block-0x8001-of-8-nuls-is-a-formerr", append(b("\x00\x03\x80\x01"), make([]byte, 8)...), false, dnsA(1)},
		{"tftp-ack", b("\x00\x04\x00\x2a"), false, tftpM(RoleTransfer, 4, 0)},
		{"tftp-oack", b("\x00\x06blksize\x001468\x00tsize\x0034816\x00"), false, tftpM(RoleAnswer, 6, 0)},

		// NTP.
		{"ntp-v4-client", synth.NTP(synth.NTPModeClient, at), false, ntpM(RoleRequest, 4, 3, 0)},
		{"ntp-v4-server", synth.NTP(synth.NTPModeServer, at), false, ntpM(RoleAnswer, 4, 4, 0)},
		{"ntp-v3-sntp-client-zeros", b(ntpHdr(0x1b, 0, 0, 0, "")), false, ntpM(RoleRequest, 3, 3, 0)},
		{"ntp-chrony-client-poll-minus-6", b(ntpHdr(0x23, 0, 0xfa, 0xe6, "")), false, ntpM(RoleRequest, 4, 3, 0)},
		{"ntp-v4-symmetric-active", b(ntpHdr(0x21, 3, 6, 0xec, "")), false, ntpM(RoleRequest, 4, 1, 0)},
		{"ntp-v4-symmetric-passive", b(ntpHdr(0x22, 2, 6, 0xec, "")), false, ntpM(RoleAnswer, 4, 2, 0)},
		{"ntp-v4-broadcast", b(ntpHdr(0x25, 2, 6, 0xe9, "")), false, ntpM(RoleUnknown, 4, 5, 0)},
		{"ntp-v4-server-md5-mac", b(ntpHdr(0x24, 2, 6, 0xe9, "\x00\x00\x00\x01"+strings.Repeat("\xab", 16))), false, ntpM(RoleAnswer, 4, 4, 0)},
		{"ntp-v4-server-cut", b(ntpHdr(0x24, 2, 6, 0xe9, "\x00")), true, ntpM(RoleAnswer, 4, 4, 0)},
		{"ntp-control-readstat-request", b(ctl(0x01, 0, 0, "", -1, 0)), false, ntpM(RoleRequest, 2, 6, 0)},
		{"ntp-control-readvar-response", b(ctl(0x82, 0x0618, 0, `version="ntpd 4.2.8p15", stratum=2`, -1, 2)), false, ntpM(RoleAnswer, 2, 6, 0x20)},
		{"ntp-control-error-badfmt", b(ctl(0xc2, 0x0200, 0, "", -1, 0)), false, ntpM(RoleAnswer, 2, 6, 0x32)},
		{"ntp-private-monlist-request", b(private(0x17, 0, 3, 42, 0, 0, 0, 0, strings.Repeat("\x00", 40))), false, ntpM(RoleRequest, 2, 7, 0)},
		{"ntp-private-monlist-response", b(private(0xd7, 0, 3, 42, 0x00, 6, 0x00, 72, strings.Repeat("\x11", 6*72))), false, ntpM(RoleAnswer, 2, 7, 0x20)},
		{"ntp-private-error-fmt", b(private(0x97, 0, 3, 42, 0x30, 0, 0, 0, "")), false, ntpM(RoleAnswer, 2, 7, 0x33)},
		{"ntp-private-error-impl", b(private(0x97, 0, 0, 1, 0x10, 0, 0, 0, "")), false, ntpM(RoleAnswer, 2, 7, 0x31)},
		{"ntp-private-error-req", b(private(0x9f, 0, 2, 99, 0x20, 0, 0, 0, "")), false, ntpM(RoleAnswer, 3, 7, 0x32)},
		{"ntp-private-error-nodata", b(private(0x97, 0, 3, 2, 0x40, 0, 0, 0, "")), false, ntpM(RoleAnswer, 2, 7, 0x34)},
		{"ntp-private-error-auth", b(private(0x97, 0, 3, 10, 0x70, 0, 0, 0, "")), false, ntpM(RoleAnswer, 2, 7, 0x37)},

		// Text and binary.
		{"qotd-quote", b("The only thing we have to fear is fear itself. -- Franklin D. Roosevelt\r\n"), false, text},
		{"qotd-quote-multiline-utf8", b("Whatever you are,\r\nbe a good one.\r\n\xe2\x80\x94 Abraham Lincoln\r\n"), false, text},
		{"daytime-rfc867", b("Tuesday, February 22, 1982 17:37:43-PST\r\n"), false, text},
		{"daytime-nist", b("\n60388 24-03-19 12:00:00 50 0 0 123.4 UTC(NIST) * \n"), false, text},
		{"chargen-line", chargen, false, text},
		{"echo-line", b("hello\n"), false, text},
		{"time-rfc868", timeOf(secs), false, four},
		{"time-rfc868-cut", timeOf(secs), true, binaryM},
		{"four-bytes-before-1990", timeOf(0x01020304), false, four},
		{"four-bytes-of-text", b("hi\r\n"), false, text},
		{"binary-random", random, false, binaryM},
		{"binary-one-byte", []byte{0xff}, false, binaryM},
		{"empty", nil, false, Msg{}},
	}
}

func TestClassifyMsg(t *testing.T) {
	for _, tt := range msgCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClassifyMsg(tt.payload, tt.cut); got != tt.want {
				t.Errorf("%+v (%v), want %+v (%v)", got, got, tt.want, tt.want)
			}
		})
	}
}

// TestClassifyMsgAmbiguities checks the claims the order of checks rests
// on: the ambiguous payloads in msgCases really are ambiguous.
func TestClassifyMsgAmbiguities(t *testing.T) {
	cases := map[string]msgCase{}
	for _, c := range msgCases(t) {
		cases[c.name] = c
	}
	var info DNSInfo
	// ClassifyDNS (dnsmessage's rules) takes these for DNS.
	for _, name := range []string{"tftp-error-parses-as-dns-query", "dns-trailing-garbage-is-binary", "dns-formerr-padded-is-binary",
		"dns-65-questions-is-binary", "dns-pointer-in-question-is-binary", "dns-question-class-0-is-binary", "ntp-control-readstat-request",
		"ntp-v3-sntp-client-zeros", "ntp-chrony-client-poll-minus-6", "dns-header-only-query-is-binary"} {
		if v := ClassifyDNS(cases[name].payload, false, HeaderQuestion, &info); v != DNS {
			t.Errorf("%s: ClassifyDNS says %v; the case shows nothing", name, v)
		}
	}
	// ClassifyPayload, which has no DNS step, takes these for TFTP DATA.
	for _, name := range []string{"dns-query-id-3-not-tftp-data", "tftp-data-block-0x8001-of-8-nuls-is-a-formerr"} {
		if pi := ClassifyPayload(cases[name].payload); pi.Kind != PayloadTFTP || pi.TFTPOpcode != 3 {
			t.Errorf("%s: ClassifyPayload says %+v; the case shows nothing", name, pi)
		}
	}
	// The NTP checks accept this DNS query.
	if _, ok := ntpCheck(cases["dns-query-that-is-also-an-ntp-header"].payload, false); !ok {
		t.Errorf("dns-query-that-is-also-an-ntp-header: not NTP; the case shows nothing")
	}
}

func TestClassifyMsgAllocs(t *testing.T) {
	cases := msgCases(t)
	var sink Msg
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range cases {
			sink = ClassifyMsg(c.payload, c.cut)
			sink = ClassifyMsg(c.payload, !c.cut)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations a run over %d payloads", allocs, 2*len(cases))
	}
	_ = sink
}

func TestMsgString(t *testing.T) {
	tests := []struct {
		m    Msg
		want string
	}{
		{Msg{}, "empty"},
		{Msg{MsgDNS, RoleRequest, 0}, "DNS query"},
		{Msg{MsgDNS, RoleRequest, 4 << 11}, "DNS query opcode 4"},
		{Msg{MsgDNS, RoleAnswer, 0x8001}, "DNS response FORMERR"},
		{Msg{MsgDNS, RoleAnswer, 0x8000}, "DNS response NOERROR"},
		{Msg{MsgTFTP, RoleAnswer, 0x0504}, "TFTP ERROR 4"},
		{Msg{MsgTFTP, RoleTransfer, 0x0300}, "TFTP DATA"},
		{Msg{MsgTFTP, RoleRequest, 0x0100}, "TFTP RRQ"},
		{Msg{MsgNTP, RoleRequest, 0x4300}, "NTPv4 client"},
		{Msg{MsgNTP, RoleAnswer, 0x2733}, "NTPv2 private response INFO_ERR_FMT"},
		{Msg{MsgNTP, RoleAnswer, 0x2735}, "NTPv2 private response error 5"},
		{Msg{MsgNTP, RoleAnswer, 0x2632}, "NTPv2 control response CERR_BADFMT"},
		{Msg{MsgNTP, RoleRequest, 0x2600}, "NTPv2 control request"},
		{Msg{MsgText, RoleUnknown, 0}, "text"},
		{Msg{MsgBinary, RoleUnknown, TypeFourBytes}, "binary, 4 bytes"},
		{Msg{MsgBinary, RoleUnknown, 0}, "binary"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.m, got, tt.want)
		}
	}
	if MsgProto(9).String() != "proto9" || RoleTransfer.String() != "transfer" || MsgRole(9).String() != "role9" {
		t.Errorf("names: %v %v %v", MsgProto(9), RoleTransfer, MsgRole(9))
	}
}

// wantRole is the role a protocol's rules give a message of type t.
func wantRole(p MsgProto, t uint16) MsgRole {
	switch p {
	case MsgDNS:
		if t&0x8000 != 0 {
			return RoleAnswer
		}
		return RoleRequest
	case MsgTFTP:
		switch t >> 8 {
		case tftpRRQ, tftpWRQ:
			return RoleRequest
		case tftpDATA, tftpACK:
			return RoleTransfer
		}
		return RoleAnswer
	case MsgNTP:
		switch t >> 8 & 7 {
		case ntpModeActive, ntpModeClient:
			return RoleRequest
		case ntpModePassive, ntpModeServer:
			return RoleAnswer
		case ntpModeControl, ntpModePrivate:
			if t&(1<<5) != 0 {
				return RoleAnswer
			}
			return RoleRequest
		}
	}
	return RoleUnknown
}

// payloadKindOf is the PayloadKind ClassifyPayload must give a payload
// that ClassifyMsg, uncut, calls m.
func payloadKindOf(m Msg) PayloadKind {
	switch m.Proto {
	case MsgTFTP:
		if m.Type>>8 == tftpERROR {
			return PayloadTFTPError
		}
		return PayloadTFTP
	case MsgNTP:
		return PayloadNTP
	case MsgText:
		return PayloadText
	case MsgBinary:
		return PayloadBinary
	}
	return PayloadEmpty
}

func FuzzClassifyMsg(f *testing.F) {
	for _, c := range msgCases(f) {
		f.Add(c.payload, c.cut)
	}
	f.Fuzz(func(t *testing.T, payload []byte, cut bool) {
		m := ClassifyMsg(payload, cut)
		if again := ClassifyMsg(payload, cut); again != m {
			t.Fatalf("two calls: %+v, %+v", m, again)
		}
		if m.Proto > MsgBinary || m.Role > RoleTransfer {
			t.Fatalf("out of range: %+v", m)
		}
		if (m.Proto == MsgEmpty) != (len(payload) == 0) {
			t.Fatalf("%d bytes: %+v", len(payload), m)
		}
		if r := wantRole(m.Proto, m.Type); m.Role != r {
			t.Fatalf("%+v: role %v, want %v", m, m.Role, r)
		}
		switch m.Proto {
		case MsgEmpty, MsgText:
			if m.Type != 0 {
				t.Fatalf("%+v", m)
			}
		case MsgBinary:
			if m.Type != 0 && (m.Type != TypeFourBytes || cut || len(payload) != 4) {
				t.Fatalf("%+v for %d bytes, cut %v", m, len(payload), cut)
			}
		case MsgDNS:
			var info DNSInfo
			if len(payload) < 12 || m.Type != binary.BigEndian.Uint16(payload[2:])&0xf80f {
				t.Fatalf("%+v for %x", m, payload)
			}
			if v := ClassifyDNS(payload, cut, HeaderQuestion, &info); v != DNS {
				t.Fatalf("DNS to ClassifyMsg, %v to ClassifyDNS", v)
			}
			if v := ClassifyDNS(payload, false, Full, &info); !cut && v != DNS {
				t.Fatalf("DNS to ClassifyMsg, %v to ClassifyDNS at Full depth", v)
			}
		case MsgTFTP:
			if payload[0] != 0 || uint16(payload[1]) != m.Type>>8 || m.Type>>8 == tftpERROR && uint16(payload[3]) != m.Type&0xff {
				t.Fatalf("%+v for %x", m, payload)
			}
		case MsgNTP:
			if m.Type>>12 != uint16(payload[0]>>3&7) || m.Type>>8&7 != uint16(payload[0]&7) {
				t.Fatalf("%+v for %x", m, payload)
			}
		}
		// The strict TFTP packets and DNS exclude each other (a DNS
		// header holds NULs where they need text or their end), so
		// trying TFTP first takes nothing from DNS.
		if _, _, ok := tftpStrict(payload, cut); ok && len(payload) >= 12 && isDNSMsg(payload, cut) {
			t.Fatalf("TFTP and DNS both: %q", payload)
		}
		// cut only waives checks: what is recognised whole is
		// recognised cut.
		if whole := ClassifyMsg(payload, false); whole.Proto != MsgBinary {
			if c := ClassifyMsg(payload, true); c.Proto == MsgBinary {
				t.Fatalf("whole %v, cut %v", whole, c)
			}
		}
		if isText(payload) != isTextReference(payload) {
			t.Fatalf("isText %v", isText(payload))
		}
		// ClassifyPayload agrees wherever ClassifyMsg does not say DNS,
		// and its strict TFTP kinds win over DNS in ClassifyMsg too.
		pi := ClassifyPayload(payload)
		whole := ClassifyMsg(payload, false)
		if whole.Proto != MsgDNS {
			if k := payloadKindOf(whole); pi.Kind != k {
				t.Fatalf("ClassifyMsg %v, ClassifyPayload %q (%s)", whole, pi.Kind, pi.Summary)
			}
		}
		switch pi.Kind {
		case PayloadTFTPError, PayloadTFTP:
			if pi.TFTPOpcode != tftpDATA && (whole.Proto != MsgTFTP || whole.Type != pi.TFTPOpcode<<8|pi.TFTPErrorCode) {
				t.Fatalf("ClassifyPayload %+v, ClassifyMsg %v", pi, whole)
			}
		case PayloadNTP:
			if whole.Proto == MsgNTP && (whole.Type>>12 != uint16(pi.NTPVersion) || whole.Type>>8&7 != uint16(pi.NTPMode)) {
				t.Fatalf("ClassifyPayload %+v, ClassifyMsg %v", pi, whole)
			}
		}
	})
}

// TestWriteClassifyMsgCorpus writes msgCases as FuzzClassifyMsg's
// committed seed corpus, one file a case, when PONGSCAN_WRITE_CORPUS is
// set; otherwise it checks that every case is there.
func TestWriteClassifyMsgCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzClassifyMsg")
	write := os.Getenv("PONGSCAN_WRITE_CORPUS") != ""
	if write {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	safe := regexp.MustCompile(`[^a-z0-9-]`)
	for _, c := range msgCases(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\n", c.payload, c.cut)
		path := filepath.Join(dir, safe.ReplaceAllString(c.name, "-"))
		if write {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != body {
			t.Errorf("%s: corpus file missing or stale (err %v); regenerate with PONGSCAN_WRITE_CORPUS=1 go test -run TestWriteClassifyMsgCorpus ./pkg/decode", c.name, err)
		}
	}
}
