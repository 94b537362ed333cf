package report

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// hostileStrings are terminal attacks and invisible characters as they
// arrive from the wire or a file name, with the escaped form the table and
// CSV must print instead, and the one JSON must.
var hostileStrings = []struct {
	name, raw, escaped, json string
}{
	{"OSC title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`, `\u001b]0;pwned\u0007`},
	{"CSI clear", "\x1b[2J", `\x1b[2J`, `\u001b[2J`},
	{"C1 CSI", "\u009b2J", `\xc2\x9b2J`, `\u009b2J`},
	{"CR", "line\rover", `line\x0dover`, `line\rover`},
	{"ZWSP", "zero\u200bwidth", `zero\u200bwidth`, `zero\u200bwidth`},
	{"RLM", "mark\u200fed", `mark\u200fed`, `mark\u200fed`},
	{"RLO", "\u202eevil", `\u202eevil`, `\u202eevil`},
	{"BOM", "\ufeffbom", `\ufeffbom`, `\ufeffbom`},
	{"DEL", "del\x7f", `del\x7f`, `del\u007f`},
	{"tag", "tag\U000e0041", `tag\U000e0041`, `tag\udb40\udc41`},
}

// hostilePlaces are the report fields hostile text reaches: set plants s
// in a clean report, and shows says which printers print the field (CSV
// has no inputs, so no error column; the table shows the query name in
// the query's summary).
var hostilePlaces = []struct {
	name  string
	set   func(r *Report, s string)
	shows map[string]bool
}{
	{"qname", func(r *Report, s string) {
		q := r.Loops[0].Trigger.Query
		q.QName = "a" + s + ".example."
		q.Summary = "Standard query 0x0001 A " + q.QName // as the decoder writes it
	}, map[string]bool{"table": true, "csv": true, "json": true}},
	{"payload text", func(r *Report, s string) {
		p := &r.Loops[0].Payload
		p.Text = "x" + s
		p.Hex = hex.EncodeToString([]byte(p.Text))
		p.Length = len(p.Text)
	}, map[string]bool{"table": true, "csv": true, "json": true}},
	{"file name", func(r *Report, s string) {
		f := "/caps/" + s + ".pcap"
		r.Inputs[0].Path = f
		l := &r.Loops[0]
		for _, p := range []*Packet{&l.FirstPacket, &l.Trigger.Query.Packet, &l.Trigger.Response.Packet, &l.Trigger.FirstNonDNS.Packet} {
			p.File = f
		}
	}, map[string]bool{"table": true, "csv": true, "json": true}},
	{"error", func(r *Report, s string) {
		r.Inputs[0].Error = "read /caps/x.pcap: " + s
	}, map[string]bool{"table": true, "json": true}},
}

var hostilePrinters = []struct {
	name string
	p    Printer
}{
	{"table", Table()},
	{"csv", CSV()},
	{"json", JSON()},
}

// cleanReport is a report with one triggered loop and nothing hostile in
// it; the tests plant hostile text in one field at a time.
func cleanReport() *Report {
	delay := 1.5
	c := Endpoint{IP: "198.51.100.7", Port: 40000}
	s := Endpoint{IP: "192.0.2.1", Port: 53}
	pkt := func(src, dst Endpoint, frame uint64, summary string) Packet {
		return Packet{File: "/caps/x.pcap", Frame: frame, Time: "2001-09-09T01:46:40.000000000Z", Src: src, Dst: dst, Summary: summary}
	}
	return &Report{
		Schema: Schema,
		Inputs: []Input{{Path: "/caps/x.pcap", Format: "pcap", LinkTypes: []uint32{1}, Packets: 103,
			First: "2001-09-09T01:46:40.000000000Z", Last: "2001-09-09T01:46:41.000000000Z"}},
		Summary: Summary{Packets: 103, UDP: 103, Loops: 1},
		Loops: []Loop{{
			Detector: "dns-pong", Client: c, Server: s,
			Start: "2001-09-09T01:46:40.000000000Z", End: "2001-09-09T01:46:41.000000000Z", DurationS: 1,
			Packets: 100, Bytes: 5000, ClientToServer: Direction{50, 2500}, ServerToClient: Direction{50, 2500},
			RatePPS: 100, PeakPPS: 100, ClientTTLs: []int{64},
			Payload:     Payload{Kind: "text", Text: "hello", Hex: hex.EncodeToString([]byte("hello")), Length: 5, Summary: "text"},
			FirstPacket: pkt(c, s, 3, "text"),
			Trigger: Trigger{
				Query:       &Query{Packet: pkt(c, s, 1, "Standard query 0x0001 A a.example."), ID: 1, QName: "a.example.", QType: "A"},
				Response:    &Response{Packet: pkt(s, c, 2, "Standard query response 0x0001 A a.example."), RCode: "NOERROR"},
				FirstNonDNS: FirstNonDNS{Packet: pkt(c, s, 3, "text"), DelayMS: &delay},
			},
			Advice: "break the loop",
		}},
	}
}

// rawControl returns the first rune of out that a terminal could act on or
// that renders as nothing: a C0 control other than the line feed, DEL, a
// C1 control, invalid UTF-8 or a format or separator character.
func rawControl(out []byte) (rune, bool) {
	for len(out) > 0 {
		r, n := utf8.DecodeRune(out)
		out = out[n:]
		switch {
		case r == utf8.RuneError && n == 1,
			r < 0x20 && r != '\n', r >= 0x7f && r < 0xa0,
			r == 0x2028, r == 0x2029, r == 0x034f,
			unicode.Is(unicode.Cf, r):
			return r, true
		}
	}
	return 0, false
}

// TestHostileTextIsEscaped plants each hostile string in each field and
// checks that no printer writes it raw, that the escaped form is in every
// output that shows the field, and that the JSON decodes to the report.
func TestHostileTextIsEscaped(t *testing.T) {
	for _, h := range hostileStrings {
		for _, pl := range hostilePlaces {
			for _, pr := range hostilePrinters {
				t.Run(h.name+"/"+pl.name+"/"+pr.name, func(t *testing.T) {
					r := cleanReport()
					pl.set(r, h.raw)
					var b bytes.Buffer
					if err := pr.p.Print(&b, r); err != nil {
						t.Fatal(err)
					}
					out := b.Bytes()
					if bytes.Contains(out, []byte(h.raw)) {
						t.Errorf("output holds %q raw:\n%s", h.raw, out)
					}
					if c, ok := rawControl(out); ok {
						t.Errorf("output holds %U:\n%q", c, out)
					}
					want := h.escaped
					if pr.name == "json" {
						want = h.json
						checkJSONRoundTrip(t, out, r)
					}
					if pl.shows[pr.name] && !bytes.Contains(out, []byte(want)) {
						t.Errorf("output lacks %s:\n%s", want, out)
					}
				})
			}
		}
	}
}

// TestCSVCellsEscaped reads a hostile CSV back and checks each cell: text
// cells escaped, numbers and payload_hex as they were.
func TestCSVCellsEscaped(t *testing.T) {
	const attack = "=1+2\x1b]0;pwned\x07\r\n\u009b2J\u200b\u202e"
	r := cleanReport()
	for _, pl := range hostilePlaces {
		pl.set(r, attack)
	}
	var b bytes.Buffer
	if err := CSV().Print(&b, r); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b.Bytes(), []byte("\n")); n != 2 {
		t.Errorf("CSV has %d lines, want 2:\n%s", n, b.Bytes())
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %q", rows)
	}
	cell := map[string]string{}
	for k, h := range rows[0] {
		cell[h] = rows[1][k]
	}
	esc := `=1+2\x1b]0;pwned\x07\x0d\x0a\xc2\x9b2J\u200b\u202e`
	want := map[string]string{
		"qname":              "a" + esc + ".example.",
		"payload_text":       "x" + esc,
		"payload_hex":        hex.EncodeToString([]byte("x" + attack)),
		"query_file":         "/caps/" + esc + ".pcap",
		"response_file":      "/caps/" + esc + ".pcap",
		"first_non_dns_file": "/caps/" + esc + ".pcap",
		"client_port":        "40000",
		"query_frame":        "1",
		"delay_ms":           "1.5",
		"duration_s":         "1",
	}
	for h, w := range want {
		if cell[h] != w {
			t.Errorf("%s = %q, want %q", h, cell[h], w)
		}
	}
	for h, c := range cell {
		if r, ok := rawControl([]byte(c)); ok || strings.Contains(c, "\n") {
			t.Errorf("%s = %q holds %U", h, c, r)
		}
	}
}

// TestCSVFormulaAfterEscape checks that a cell is neutralised as the
// spreadsheet sees it, after escaping.
func TestCSVFormulaAfterEscape(t *testing.T) {
	tests := []struct{ text, want string }{
		{"=cmd|' /C calc'!A0\x1b[2J", `'=cmd|' /C calc'!A0\x1b[2J`},
		{"\t=cmd", `\x09=cmd`},
		{"\r=cmd", `\x0d=cmd`},
		{"\u200b=cmd", `\u200b=cmd`},
		{"-12.5", "-12.5"},
		{"@\u202e", `'@\u202e`},
	}
	for _, tt := range tests {
		r := cleanReport()
		r.Loops[0].Payload.Text = tt.text
		var b bytes.Buffer
		if err := CSV().Print(&b, r); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for k, h := range rows[0] {
			if h == "payload_text" && rows[1][k] != tt.want {
				t.Errorf("payload_text %q = %q, want %q", tt.text, rows[1][k], tt.want)
			}
		}
	}
}

// setStrings sets every string field reachable from v, through pointers,
// slices and structs, to s.
func setStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Pointer:
		if !v.IsNil() {
			setStrings(v.Elem(), s)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			setStrings(v.Index(i), s)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			setStrings(v.Field(i), s)
		}
	}
}

// TestEveryStringFieldEscaped sets every string field of a report, even
// those FromLoop fills from trusted values, to an attack and checks that
// every printer escapes them all.
func TestEveryStringFieldEscaped(t *testing.T) {
	const attack = "\x1b]0;pwned\x07\u009b2J\r\u200b\u202e\x7f\u0085\u00ad\U000e0001"
	r := cleanReport()
	setStrings(reflect.ValueOf(r).Elem(), attack)
	r.Summary.UnknownLinks = map[string]uint64{attack: 1}
	for _, pr := range hostilePrinters {
		var b bytes.Buffer
		if err := pr.p.Print(&b, r); err != nil {
			t.Fatal(err)
		}
		if c, ok := rawControl(b.Bytes()); ok {
			t.Errorf("%s output holds %U:\n%q", pr.name, c, b.Bytes())
		}
		if pr.name == "json" {
			checkJSONRoundTrip(t, b.Bytes(), r)
		}
	}
}

// checkJSONRoundTrip checks that doc is valid JSON that decodes to r.
func checkJSONRoundTrip(t *testing.T, doc []byte, r *Report) {
	t.Helper()
	var back Report
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatalf("JSON does not decode: %v\n%s", err, doc)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("JSON decodes to\n%+v\nwant\n%+v", back, *r)
	}
}

// TestJSONEscapeKeepsDocument checks that the JSON printer's output is
// what encoding/json writes, but for the runes it escapes.
func TestJSONEscapeKeepsDocument(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a": "plain"}`, `{"a": "plain"}`},
		{"{\"a\": \"caf\u00e9 \u65e5\u672c \U0001f600 \u2764\ufe0f \ufffd\"}", "{\"a\": \"caf\u00e9 \u65e5\u672c \U0001f600 \u2764\ufe0f \ufffd\"}"},
		{"{\"a\": \"\u009b2J\x7f\"}", `{"a": "\u009b2J\u007f"}`},
		{"{\"\u200b\": \"x\u202ey\ufeff\"}", `{"\u200b": "x\u202ey\ufeff"}`},
		{"[\"\U000e0041\u00e9\u00ad\"]", "[\"\\udb40\\udc41\u00e9\\u00ad\"]"},
	}
	for _, tt := range tests {
		if got := string(escapeJSON([]byte(tt.in))); got != tt.want {
			t.Errorf("escapeJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var a, b any
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tt.want), &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%q decodes to %q, want %q", tt.want, b, a)
		}
	}
}

// TestTableClipsAtRuneBoundary checks that the payload column is cut
// between characters, not inside one.
func TestTableClipsAtRuneBoundary(t *testing.T) {
	r := cleanReport()
	r.Loops[0].Payload.Text = strings.Repeat("a", 33) + "\u00e9\u00e9\u00e9"
	var b bytes.Buffer
	if err := Table().Print(&b, r); err != nil {
		t.Fatal(err)
	}
	if want := "text: " + strings.Repeat("a", 33) + "..."; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
	if strings.Contains(b.String(), `\xc3`) {
		t.Errorf("table shows a cut character:\n%s", b.String())
	}
}
