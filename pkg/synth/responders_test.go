package synth

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func testRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestEchoAndFixed(t *testing.T) {
	r := testRand()
	in := []byte("hello")
	out := Echo().Respond(in, testT0, r)
	if !bytes.Equal(out, in) {
		t.Errorf("echo %q", out)
	}
	in[0] = 'j'
	if out[0] != 'h' {
		t.Error("echo shares its input's memory")
	}
	if out := Echo().Respond(nil, testT0, r); out == nil || len(out) != 0 {
		t.Errorf("echo of an empty datagram is %v, want an empty, non-nil payload", out)
	}
	f := Fixed([]byte{1, 2})
	if a, b := f.Respond(nil, testT0, r), f.Respond([]byte("x"), testT0, r); !bytes.Equal(a, []byte{1, 2}) || !bytes.Equal(b, a) {
		t.Errorf("fixed %v %v", a, b)
	}
}

func TestChargen(t *testing.T) {
	l0 := ChargenLine(0)
	if want := " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n"; string(l0) != want {
		t.Errorf("line 0 %q, want %q", l0, want)
	}
	if !bytes.Equal(ChargenLine(95), l0) || !bytes.Equal(ChargenLine(-95), l0) {
		t.Error("the pattern does not repeat every 95 lines")
	}
	if l1 := ChargenLine(1); l1[0] != '!' || len(l1) != 74 {
		t.Errorf("line 1 %q", l1)
	}
	r := testRand()
	c := Chargen(1)
	for i := range 200 {
		if got := c.Respond([]byte("x"), testT0, r); !bytes.Equal(got, ChargenLine(i)) {
			t.Fatalf("answer %d is %q, want line %d", i, got, i)
		}
	}
	c3 := Chargen(3)
	c3.Respond(nil, testT0, r)
	if got := c3.Respond(nil, testT0, r); len(got) != 222 || !bytes.Equal(got[:74], ChargenLine(3)) || !bytes.Equal(got[148:], ChargenLine(5)) {
		t.Errorf("three-line answer %q", got)
	}
	// The RFC variant cuts the same stream anywhere.
	var stream, got []byte
	for i := range 100 {
		stream = append(stream, ChargenLine(i)...)
	}
	rfc := ChargenRFC()
	for len(got) < 3000 {
		b := rfc.Respond(nil, testT0, r)
		if len(b) < 1 || len(b) > 512 {
			t.Fatalf("rfc chargen answer of %d bytes", len(b))
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, stream[:len(got)]) {
		t.Error("rfc chargen answers are not the continuous stream")
	}
}

func TestDaytimeAndTime(t *testing.T) {
	at := time.Date(2016, 2, 8, 13, 0, 4, 700e6, time.UTC)
	if got := string(DaytimeString(at)); got != "Monday, February 8, 2016 13:00:04-GMT\r\n" {
		t.Errorf("daytime %q", got)
	}
	r := testRand()
	if got := string(Daytime(-2*time.Second).Respond(nil, at, r)); got != "Monday, February 8, 2016 13:00:02-GMT\r\n" {
		t.Errorf("skewed daytime %q", got)
	}
	if got := binary.BigEndian.Uint32(TimeSeconds(at)); got != 1454936404+2208988800 {
		t.Errorf("time %d", got)
	}
	if got := TimeProtocol(time.Second).Respond([]byte{0}, at, r); len(got) != 4 || binary.BigEndian.Uint32(got) != 1454936405+2208988800 {
		t.Errorf("time protocol %v", got)
	}
}

func TestQOTD(t *testing.T) {
	quotes := Quotes()
	for _, q := range quotes {
		if len(q) >= 512 || !strings.HasSuffix(q, "\r\n") {
			t.Errorf("quote %q: %d bytes", q, len(q))
		}
	}
	r := testRand()
	seq := QOTD(false)
	for i := range 2 * len(quotes) {
		if got := string(seq.Respond(nil, testT0, r)); got != quotes[i%len(quotes)] {
			t.Fatalf("quote %d is %q", i, got)
		}
	}
	random := QOTD(true)
	seen := map[string]bool{}
	for range 200 {
		seen[string(random.Respond(nil, testT0, r))] = true
	}
	if len(seen) < len(quotes)/2 {
		t.Errorf("random quotes: only %d distinct", len(seen))
	}
}

func TestDNSErrorReply(t *testing.T) {
	q := Query{ID: 0xbeef, Name: "www.example.co.uk", RD: true}
	resp, err := DNSResponse(q, Answer, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rcode layers.DNSResponseCode
		echo  bool
	}{{layers.DNSResponseCodeFormErr, false}, {layers.DNSResponseCodeRefused, true}, {layers.DNSResponseCodeServFail, true}} {
		b := DNSErrorReply(resp, tt.rcode, tt.echo)
		var d layers.DNS
		if err := d.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%v: %v", tt.rcode, err)
		}
		if d.ID != 0xbeef || !d.QR || !d.RD || d.ResponseCode != tt.rcode || len(d.Answers) != 0 {
			t.Errorf("%v: %+v", tt.rcode, d)
		}
		if tt.echo && (len(d.Questions) != 1 || string(d.Questions[0].Name) != q.Name) {
			t.Errorf("%v: questions %+v", tt.rcode, d.Questions)
		}
		if !tt.echo && len(b) != 12 {
			t.Errorf("%v: %d bytes, want the header alone", tt.rcode, len(b))
		}
	}
	// A TFTP error read as DNS: ID 0x0005, no question to echo.
	b := DNSError(layers.DNSResponseCodeRefused, true).Respond(TFTPError(4, TFTPMsgIllegalOp), testT0, testRand())
	if !bytes.Equal(b, []byte{0, 5, 0x80, 5, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("refused to a tftp error % x", b)
	}
	if !bytes.Equal(DNSErrorReply(TFTPError(4, "x"), layers.DNSResponseCodeFormErr, false), FormErr(TFTPError(4, "x"))) {
		t.Error("FORMERR reply differs from FormErr")
	}
}

func TestNTPResponders(t *testing.T) {
	r := testRand()
	first := NTPMode7(true, 3, 42, NTPErrNoData)
	if !bytes.Equal(first, []byte{0x97, 0, 3, 42, 0x40, 0, 0, 0}) {
		t.Errorf("mode 7 % x", first)
	}
	got := NTPMode7Error(NTPErrImpl).Respond(first, testT0, r)
	if !bytes.Equal(got, []byte{0x97, 0, 3, 42, 0x10, 0, 0, 0}) {
		t.Errorf("mode 7 error % x", got)
	}
	req := NTP(NTPModeClient, testT0)
	resp := NTPServer().Respond(req, testT0.Add(time.Millisecond), r)
	if len(resp) != 48 || resp[0]&7 != NTPModeServer || !bytes.Equal(resp[24:32], req[40:48]) {
		t.Errorf("ntp server % x", resp)
	}
	if NTPServer().Respond(resp, testT0, r) != nil {
		t.Error("ntp server answers a server packet")
	}
}
