package report

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// The printers and FromLoop were rewritten so that a report of a million
// loops costs what it prints; these tests hold them to the code they
// replaced, byte for byte.

// loopIDBig is LoopID as it was written with math/big.
func loopIDBig(l *detect.Loop) string {
	a, b := l.Client, l.Server
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	h := sha1.New()
	for _, ap := range []interface{ MarshalBinary() ([]byte, error) }{a, b} {
		bs, _ := ap.MarshalBinary()
		h.Write(bs)
	}
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(l.Start))
	h.Write(t[:])
	sum := h.Sum(nil)
	s := new(big.Int).SetBytes(sum[:12]).Text(62)
	for len(s) < 16 {
		s = "0" + s
	}
	return "L" + s[len(s)-16:]
}

// fromLoopRef is FromLoop as it was, every string formatted anew.
func fromLoopRef(l *detect.Loop, files []string) Loop {
	pkt := func(p detect.PacketInfo) Packet {
		f := ""
		if p.Ref.Source >= 0 && p.Ref.Source < len(files) {
			f = files[p.Ref.Source]
		}
		return Packet{
			File: f, Frame: p.Ref.Frame, Time: Timestamp(p.Time),
			Src:     Endpoint{IP: p.Src.Addr().String(), Port: p.Src.Port()},
			Dst:     Endpoint{IP: p.Dst.Addr().String(), Port: p.Dst.Port()},
			Summary: ValidUTF8(p.Summary),
		}
	}
	ttls := l.ClientTTLs
	if ttls == nil {
		ttls = []int{}
	}
	pi := l.PayloadInfo
	out := Loop{
		Detector: l.Detector, Client: Endpoint{IP: l.Client.Addr().String(), Port: l.Client.Port()},
		Server: Endpoint{IP: l.Server.Addr().String(), Port: l.Server.Port()},
		Start:  Timestamp(l.Start), End: Timestamp(l.End), DurationS: l.Duration(), Packets: l.Packets, Bytes: l.Bytes,
		ClientToServer: Direction(l.ClientToServer), ServerToClient: Direction(l.ServerToClient),
		RatePPS: l.Rate(), PeakPPS: PeakPPS(l.PeakPPS, l.Rate()), OngoingAtEnd: l.Ongoing, ClientTTLs: ttls,
		ClientTTLsMore: l.TTLsCapped, CutByFlowCap: l.CutByFlowCap, ID: loopIDBig(l), Evidence: fromEvidence(l.Evidence),
		Payload: Payload{
			Kind: string(pi.Kind), Text: ValidUTF8(pi.Text), Hex: hex.EncodeToString(l.Payload),
			Length: len(l.Payload), Cut: l.PayloadCut, Summary: ValidUTF8(pi.Summary),
			TFTPOpcode: pi.TFTPOpcode, TFTPErrorCode: pi.TFTPErrorCode,
		},
		FirstPacket: pkt(l.FirstPacket),
		Trigger:     Trigger{FirstNonDNS: FirstNonDNS{Packet: pkt(l.FirstNonDNS)}},
	}
	if l.HasTrigger {
		delay := float64(l.DelayNanos) / 1e6
		out.Trigger.Query = &Query{Packet: pkt(l.Query), ID: l.QueryID, QName: ValidUTF8(l.QName), QType: decode.TypeName(l.QType)}
		out.Trigger.Response = &Response{Packet: pkt(l.Response), RCode: decode.RCodeName(l.RCode)}
		out.Trigger.FirstNonDNS.DelayMS = &delay
	}
	return out
}

var testEndpoints = []string{
	"198.51.100.7:22772", "192.0.2.1:53", "192.0.2.1:22772", "10.0.0.1:0", "0.0.0.0:65535",
	"[2001:db8::1]:19", "[2001:db8::1]:53", "[::ffff:192.0.2.1]:53", "[fe80::1%eth0]:123", "[::]:7",
}

// randomLoop is a loop with endpoints, times and strings from the awkward
// end of what a detector can report.
func randomLoop(rng *rand.Rand) detect.Loop {
	ap := func() netip.AddrPort {
		if rng.IntN(8) == 0 {
			return netip.AddrPort{}
		}
		return netip.MustParseAddrPort(testEndpoints[rng.IntN(len(testEndpoints))])
	}
	str := func() string {
		parts := []string{"", "RRQ must be sent first", "\x1b[2J", "\xff\xfe", "<&>", "\u202e", "\u0085", `"quoted" \back\`, "\u2028", "caf\u00e9", "\U0001F600", "\x00"}
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		return b.String()
	}
	t0 := rng.Int64() - 1<<62
	if rng.IntN(4) == 0 {
		t0 = int64(rng.IntN(3)) - 1
	}
	c, s := ap(), ap()
	pkt := func(t int64, src, dst netip.AddrPort) detect.PacketInfo {
		return detect.PacketInfo{Ref: detect.PacketRef{Source: rng.IntN(3) - 1, Frame: rng.Uint64() >> 16}, Time: t, Src: src, Dst: dst, Summary: str()}
	}
	payload := make([]byte, rng.IntN(40))
	for i := range payload {
		payload[i] = byte(rng.IntN(256))
	}
	l := detect.Loop{
		Detector: "dns-pong", Client: c, Server: s, Start: t0, End: t0 + rng.Int64N(1e12), Packets: rng.Uint64N(1000),
		Bytes: rng.Uint64(), PeakPPS: rng.Uint64N(1000), Ongoing: rng.IntN(2) == 0, TTLsCapped: rng.IntN(2) == 0,
		Payload: payload, PayloadCut: rng.IntN(2) == 0, PayloadInfo: decode.ClassifyPayload(payload),
		HasTrigger: rng.IntN(2) == 0, QName: str(), QType: uint16(rng.IntN(300)), RCode: uint8(rng.IntN(24)),
		DelayNanos: rng.Int64N(1e9), QueryID: uint16(rng.Uint32()),
	}
	if rng.IntN(2) == 0 {
		l.ClientTTLs = []int{64, 128}
	}
	l.PayloadInfo.Text, l.PayloadInfo.Summary = str()+l.PayloadInfo.Text, l.PayloadInfo.Summary+str()
	l.FirstNonDNS = pkt(l.Start, c, s)
	l.FirstPacket = l.FirstNonDNS
	if rng.IntN(2) == 0 {
		l.FirstPacket = pkt(l.Start-rng.Int64N(1e6), s, c)
	}
	l.Query = pkt(l.Start-2e6, c, s)
	l.Response = pkt(l.End, s, ap())
	if rng.IntN(3) > 0 {
		l.Evidence = &detect.Evidence{Rule: str(), Alternation: rng.Float64(), Cycle: str(),
			Client: detect.SideEvidence{Service: str(), Types: str(), Answers: rng.Float64(), ReactionMS: [3]float64{1, 2.5, 1e-3}},
			Server: detect.SideEvidence{Service: str(), Types: str()},
			Start:  detect.StartEvidence{SpoofedTTL: true, FirstTTL: 3, SenderTTLs: []int{64}}}
		for range rng.IntN(7) {
			l.Evidence.Tests = append(l.Evidence.Tests, detect.Test{Name: str(), Value: rng.Float64() * 1e6, Threshold: 0.25, Held: rng.IntN(2) == 0})
		}
	}
	return l
}

func TestLoopIDMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		l := randomLoop(rng)
		if rng.IntN(10) == 0 {
			l.Start = [...]int64{0, -1, 1<<63 - 1, -1 << 63}[rng.IntN(4)]
		}
		if got, want := LoopID(&l), loopIDBig(&l); got != want {
			t.Fatalf("LoopID(%v, %v, %d) = %s, want %s", l.Client, l.Server, l.Start, got, want)
		}
	}
}

func TestFromLoopMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	files := []string{"a.pcap", "dir/b.pcap\x1b"}
	for range 5000 {
		l := randomLoop(rng)
		got, want := FromLoop(&l, files), fromLoopRef(&l, files)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("FromLoop differs:\n got %+v\nwant %+v", got, want)
		}
	}
}

// randomReport is a report of n random loops, with the analyst's next
// steps on some.
func randomReport(rng *rand.Rand, n int) *Report {
	r := cleanReport()
	r.Loops = nil
	for range n {
		l := randomLoop(rng)
		rl := FromLoop(&l, []string{"x.pcap"})
		rl.Advice = advice(rng)
		rl.Stream = []string{"", "s1", "s\u202e2"}[rng.IntN(3)]
		if rng.IntN(2) == 0 {
			rl.Wireshark = &Wireshark{DisplayFilter: "ip.src == 1.2.3.4 && udp.port == 53", Tshark: "tshark -r 'x y' -Y '<&>'"}
			rl.Mitigation = &Mitigation{Nft: "nft add rule", BPF: "udp", Note: "\x1b"}
		}
		if rng.IntN(3) == 0 {
			rl.RRL = &RRL{Server: "192.0.2.1", Scenarios: []RRLScenario{{Implementation: "BIND 9", Setting: "defaults", Stops: true}, {}}}
		}
		r.Loops = append(r.Loops, rl)
	}
	return r
}

func advice(rng *rand.Rand) string {
	return fmt.Sprintf("block UDP <%d> & drop \u2029 it", rng.IntN(100))
}

// TestJSONStreamMatchesWhole holds the streaming JSON printer to encoding
// the whole report at once.
func TestJSONStreamMatchesWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 7, 50} {
		for _, warn := range [][]string{nil, {"w1", "\u202ew2"}} {
			r := randomReport(rng, n)
			r.Warnings = warn
			var got, want bytes.Buffer
			if err := JSON().Print(&got, r); err != nil {
				t.Fatal(err)
			}
			if err := printJSON(&want, r); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("%d loops: streamed JSON differs from the whole document:\n%s", n, firstDiff(got.Bytes(), want.Bytes()))
			}
		}
	}
	// A report with its loops nil prints "loops": null, as before.
	r := cleanReport()
	r.Loops = nil
	var got, want bytes.Buffer
	_ = JSON().Print(&got, r)
	_ = printJSON(&want, r)
	if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Contains(got.Bytes(), []byte(`"loops": null`)) {
		t.Fatalf("nil loops: %s", firstDiff(got.Bytes(), want.Bytes()))
	}
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-80, 0)
	return fmt.Sprintf("at byte %d:\n got ...%q\nwant ...%q", i, a[lo:min(i+80, len(a))], b[lo:min(i+80, len(b))])
}

// TestIndentJSONMatchesIndent holds indentJSON to json.Indent on the
// compact encodings of random values.
func TestIndentJSONMatchesIndent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var value func(depth int) any
	value = func(depth int) any {
		switch k := rng.IntN(9); {
		case depth > 4 || k < 3:
			return []any{nil, true, false, -1.5e-7, 12345678901234.0, 0.0, "", `a"b\c`, "\\", "\"", "}{][,:", "\u2028<>&", "\xff"}[rng.IntN(13)]
		case k < 6:
			a := make([]any, rng.IntN(4))
			for i := range a {
				a[i] = value(depth + 1)
			}
			return a
		default:
			m := map[string]any{}
			for range rng.IntN(4) {
				m[fmt.Sprintf("k%d\"\\,:{", rng.IntN(5))] = value(depth + 1)
			}
			return m
		}
	}
	for range 3000 {
		src, err := json.Marshal(value(0))
		if err != nil {
			t.Fatal(err)
		}
		for _, pi := range [][2]string{{"", "  "}, {"    ", "  "}, {"\t", "\t\t"}} {
			var want bytes.Buffer
			if err := json.Indent(&want, src, pi[0], pi[1]); err != nil {
				t.Fatal(err)
			}
			if got := indentJSON(nil, src, pi[0], pi[1]); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("indentJSON(%s):\n got %s\nwant %s", src, got, want.Bytes())
			}
		}
	}
}

// TestJSONLStreamsInOrder checks that each stream's loops, then its
// inputs, come together, in the order the streams first appear.
func TestJSONLStreamsInOrder(t *testing.T) {
	r := cleanReport()
	l := r.Loops[0]
	r.Loops = nil
	for i, st := range []string{"b", "a", "b", "", "a"} {
		l.Stream, l.ID = st, fmt.Sprint(i)
		r.Loops = append(r.Loops, l)
	}
	in := r.Inputs[0]
	r.Inputs = nil
	for i, st := range []string{"c", "a", "", "c"} {
		in.Stream, in.Path = st, fmt.Sprint("in", i)
		r.Inputs = append(r.Inputs, in)
	}
	var buf bytes.Buffer
	if err := JSONL().Print(&buf, r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		p, err := ReadJSONLine(line)
		if err != nil {
			t.Fatal(err)
		}
		switch p.Type {
		case "loop":
			got = append(got, "loop "+p.Loop.Stream+" "+p.Loop.ID)
		case "input":
			got = append(got, "input "+p.Input.Stream+" "+p.Input.Path)
		default:
			got = append(got, p.Type)
		}
	}
	want := []string{"loop b 0", "loop b 2", "loop a 1", "loop a 4", "input a in1", "loop  3", "input  in2", "input c in0", "input c in3", "summary"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// escapeJSONRef is escapeJSON as it was, a byte at a time.
func escapeJSONRef(doc []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(doc); {
		if doc[i] < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRune(doc[i:])
		switch {
		case r == utf8.RuneError && n == 1:
		case r < 0xa0, invisibleRune(r):
		default:
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(doc)+64)
		}
		out = append(out, doc[last:i]...)
		out = appendJSONEscape(out, r)
		i += n
		last = i
	}
	if out == nil {
		return doc
	}
	return append(out, doc[last:]...)
}

// TestEscapeJSONMatchesReference checks the word-at-a-time skip of
// escapeJSON at every alignment.
func TestEscapeJSONMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pieces := []string{"a", "{\"k\": 1}", "\x7f", "\u0085", "\u202e", "caf\u00e9", "\U0001F600", "\xff", "\xe2\x80", "\u00a0", "\u2028", "01234567"}
	for range 20000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		if got, want := escapeJSON(append([]byte(nil), b...)), escapeJSONRef(b); !bytes.Equal(got, want) {
			t.Fatalf("escapeJSON(%q) = %q, want %q", b, got, want)
		}
	}
}
