package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"RRQ must be sent first", "RRQ must be sent first"},
		{"\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"line\rhidden", `line\x0dhidden`},
		{"a\nb", `a\x0ab`},
		{"back\\slash", `back\\slash`},
		{"\xff\xfe", `\xff\xfe`},
		{"caf\u00e9", "caf\u00e9"},
		{"\u202eevil", `\u202eevil`},
		{"\u009b2J", `\xc2\x9b2J`},
		{"\x7f", `\x7f`},
		{"\x1b[2J", `\x1b[2J`},
		{"\u0085next", `\xc2\x85next`},
		{"\ufffd is kept", "\ufffd is kept"},
		{"\xe2\x80", `\xe2\x80`}, // a cut-off U+202E
		// Invisible and format characters.
		{"a\u00adb", `a\u00adb`},
		{"a\u034fb", `a\u034fb`},
		{"a\u061cb", `a\u061cb`},
		{"a\u180eb", `a\u180eb`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"\u200c\u200d\u200e\u200f", `\u200c\u200d\u200e\u200f`},
		{"\u2028\u2029", `\u2028\u2029`},
		{"\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"\u2060\u2061\u2062\u2063\u2064", `\u2060\u2061\u2062\u2063\u2064`},
		{"\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"\u206a\u206f", `\u206a\u206f`},
		{"\ufeffbom", `\ufeffbom`},
		{"\ufff9\ufffa\ufffb", `\ufff9\ufffa\ufffb`},
		{"\u3164", `\u3164`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"caf\u00e9\u202e\x1b\\", "caf\u00e9" + `\u202e\x1b\\`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEscapeKeepsText checks that ordinary text of any script passes
// through unchanged and without allocating.
func TestEscapeKeepsText(t *testing.T) {
	for _, s := range []string{
		"",
		"RRQ must be sent first",
		"host-1.example.com. A IN ~!#$%^&*()_+{}|:<>?",
		"caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \u0142\u00f3d\u017a",
		"\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0420\u0443\u0441\u0441\u043a\u0438\u0439",
		"\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea",
		"\u65e5\u672c\u8a9e \u4e2d\u6587 \ud55c\uad6d\uc5b4",
		"\u00a0no-break space, \u3000ideographic space",
		"emoji \U0001f600 \U0001f389 \u2764\ufe0f \U0001f44d\U0001f3fd \U0001f1eb\U0001f1f7",
		"\ufffd",
	} {
		if got := Escape(s); got != s {
			t.Errorf("Escape(%q) = %q, want it unchanged", s, got)
		}
		if n := testing.AllocsPerRun(10, func() { _ = Escape(s) }); n != 0 {
			t.Errorf("Escape(%q) allocates %v times", s, n)
		}
	}
}

// TestEscapeNoRawControl checks every code point up to U+FFFF and a few
// above: Escape's output holds no control, C1 or invisible rune, and every
// rune it keeps is the rune it was given.
func TestEscapeNoRawControl(t *testing.T) {
	check := func(r rune) {
		in := "a" + string(r) + "b"
		out := Escape(in)
		for _, c := range out {
			if c < 0x20 || c >= 0x7f && c < 0xa0 || c == 0xad || c != r && c >= 0x80 ||
				unicode.Is(unicode.Cf, c) || c == 0x2028 || c == 0x2029 {
				t.Fatalf("Escape(%q) = %q holds %U", in, out, c)
			}
		}
		if out != in && !strings.HasPrefix(out, `a\`) {
			t.Fatalf("Escape(%q) = %q", in, out)
		}
	}
	for r := rune(0); r <= 0xffff; r++ {
		if r < 0xd800 || r > 0xdfff {
			check(r)
		}
	}
	for _, r := range []rune{0x110bd, 0x1d173, 0x1f600, 0xe0001, 0xe0041, 0xe007f, 0xe0100, 0x10ffff} {
		check(r)
	}
}

func TestCSVSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+2", "'+1+2"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"-1.5", "-1.5"},
		{"192.0.2.1", "192.0.2.1"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CSVSafe(tt.in); got != tt.want {
			t.Errorf("CSVSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// hostileLoop is a loop whose payload and query name try to attack the
// terminal, the spreadsheet and the JSON.
func hostileLoop() detect.Loop {
	payload := []byte("=cmd|' /C calc'!A0\x1b[2J\x1b]0;pwned\x07\r\xff\xfe")
	c := netip.MustParseAddrPort("198.51.100.7:40000")
	s := netip.MustParseAddrPort("192.0.2.1:53")
	l := detect.Loop{
		Detector: "dns-pong", Client: c, Server: s, Start: 1e18, End: 1e18 + 1e9, Packets: 100,
		HasTrigger: true, Payload: payload, PayloadInfo: decode.ClassifyPayload(payload),
		QName:    "evil\x1b[31m.\xff.example.",
		Query:    detect.PacketInfo{Src: c, Dst: s, Summary: "Standard query \x1b[2J"},
		Response: detect.PacketInfo{Src: s, Dst: c}, FirstNonDNS: detect.PacketInfo{Src: c, Dst: s, Summary: "text: \x1b[2J"},
	}
	l.PayloadInfo.Text = string(payload)
	return l
}

func TestPrintersAreSafe(t *testing.T) {
	l := hostileLoop()
	r := &Report{Schema: Schema, Inputs: []Input{{Path: "x\x1b[2J.pcap", LinkTypes: []uint32{1}}}, Loops: []Loop{FromLoop(&l, []string{"x.pcap"})}}

	var tb bytes.Buffer
	if err := Table().Print(&tb, r); err != nil {
		t.Fatal(err)
	}
	for _, c := range tb.String() {
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 && c < 0xa0 {
			t.Fatalf("table output holds control character %U:\n%s", c, tb.String())
		}
	}

	var js bytes.Buffer
	if err := JSON().Print(&js, r); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(js.Bytes()) {
		t.Error("JSON is not valid UTF-8")
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Loops[0].Payload.Hex != "3d636d647c27202f432063616c6327214130"+"1b5b324a1b5d303b70776e6564070dfffe" {
		t.Errorf("hex %q lost the raw bytes", back.Loops[0].Payload.Hex)
	}

	var cs bytes.Buffer
	if err := CSV().Print(&cs, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(rows[0]) != len(rows[1]) {
		t.Fatalf("csv rows %v", rows)
	}
	for _, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+@\t\r", rune(cell[0])) {
			t.Errorf("csv cell %q would run as a formula", cell)
		}
	}
}

func TestHexDump(t *testing.T) {
	got := HexDump([]byte("\x00\x05\x00\x04RRQ must be sent first\x00"), 256)
	want := "0000  00 05 00 04 52 52 51 20  6d 75 73 74 20 62 65 20  |....RRQ must be |\n" +
		"0010  73 65 6e 74 20 66 69 72  73 74 00                 |sent first.|\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
