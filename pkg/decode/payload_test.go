package decode

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// payloadCase is a payload and what ClassifyPayload must make of it. An
// empty text or summary is not checked.
type payloadCase struct {
	name    string
	payload string
	kind    PayloadKind
	text    string
	summary string
}

func checkPayloads(t *testing.T, cases []payloadCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			pi := ClassifyPayload([]byte(tt.payload))
			if pi.Kind != tt.kind {
				t.Fatalf("kind %q, want %q (summary %q)", pi.Kind, tt.kind, pi.Summary)
			}
			if tt.text != "" && pi.Text != tt.text {
				t.Errorf("text %q, want %q", pi.Text, tt.text)
			}
			if tt.summary != "" && pi.Summary != tt.summary {
				t.Errorf("summary %q, want %q", pi.Summary, tt.summary)
			}
			if pi.Summary == "" || strings.Contains(pi.Summary, "\n") && pi.Kind != PayloadTFTPError {
				t.Errorf("summary %q is not one line", pi.Summary)
			}
		})
	}
}

func TestClassifyPayloadTFTP(t *testing.T) {
	checkPayloads(t, []payloadCase{
		{"seed's error", "\x00\x05\x00\x04RRQ must be sent first\x00", PayloadTFTPError, "RRQ must be sent first",
			"TFTP Error Code, Code: Illegal TFTP Operation (4), Message: RRQ must be sent first"},
		{"error message with control bytes", "\x00\x05\x00\x00bad\x01\x7fpacket\r\n\x00", PayloadTFTPError, "bad\x01\x7fpacket\r\n",
			"TFTP Error Code, Code: Not defined (0), Message: bad\x01\x7fpacket\r\n"},
		{"error message in UTF-8 and Latin-1", "\x00\x05\x00\x01Datei \xc3\xbc \xfc\x00", PayloadTFTPError, "Datei \xc3\xbc \xfc", ""},
		{"error without a message", "\x00\x05\x00\x05\x00", PayloadTFTPError, "",
			"TFTP Error Code, Code: Unknown transfer ID (5), Message: "},
		{"error padded with NULs", "\x00\x05\x00\x01File not found\x00\x00\x00\x00\x00", PayloadTFTPError, "File not found", ""},
		{"error code 8", "\x00\x05\x00\x08bad blksize\x00", PayloadTFTPError, "bad blksize",
			"TFTP Error Code, Code: Option negotiation failed (8), Message: bad blksize"},
		{"error, too much padding", "\x00\x05\x00\x01File not found\x00\x00\x00\x00\x00\x00", PayloadBinary, "", ""},
		{"error, bytes after the message", "\x00\x05\x00\x01File not found\x00xy", PayloadBinary, "", ""},
		{"error, unterminated", "\x00\x05\x00\x01File not found", PayloadBinary, "", ""},
		{"error code 9", "\x00\x05\x00\x09File not found\x00", PayloadBinary, "", ""},
		{"error code 256", "\x00\x05\x01\x00File not found\x00", PayloadBinary, "", ""},
		{"read request", "\x00\x01pxelinux.0\x00octet\x00", PayloadTFTP, "pxelinux.0",
			"TFTP Read Request, File: pxelinux.0, Transfer type: octet"},
		{"write request, mode in capitals, options", "\x00\x02cfg/router.txt\x00NETASCII\x00blksize\x001428\x00", PayloadTFTP, "cfg/router.txt",
			"TFTP Write Request, File: cfg/router.txt, Transfer type: NETASCII"},
		{"read request, unknown mode", "\x00\x01pxelinux.0\x00binary\x00", PayloadBinary, "", ""},
		{"read request, no file name", "\x00\x01\x00octet\x00", PayloadBinary, "", ""},
		{"read request, mode unterminated", "\x00\x01pxelinux.0\x00octet", PayloadBinary, "", ""},
		{"data", "\x00\x03\x00\x07" + strings.Repeat("\xaa", 512), PayloadTFTP, "", "TFTP Data Packet, Block: 7"},
		{"last, empty data block", "\x00\x03\x01\x00", PayloadTFTP, "", "TFTP Data Packet, Block: 256"},
		{"data, block too long", "\x00\x03\x00\x07" + strings.Repeat("\xaa", 513), PayloadBinary, "", ""},
		{"ack", "\x00\x04\x00\x01", PayloadTFTP, "", "TFTP Acknowledgement, Block: 1"},
		{"ack, too long", "\x00\x04\x00\x01\x00", PayloadBinary, "", ""},
		{"option ack", "\x00\x06blksize\x001428\x00tsize\x0065536\x00", PayloadTFTP, "", "TFTP Option Acknowledgement"},
		{"option ack, value missing", "\x00\x06blksize\x00", PayloadBinary, "", ""},
		{"option ack, empty", "\x00\x06", PayloadBinary, "", ""},
		{"unknown opcode", "\x00\x07\x00\x01abc\x00", PayloadBinary, "", ""},
	})
}

// ntpHdr is an NTP header of the given first bytes, zero to 48 bytes,
// followed by tail.
func ntpHdr(b0, stratum, poll, precision byte, tail string) string {
	h := make([]byte, 48)
	h[0], h[1], h[2], h[3] = b0, stratum, poll, precision
	for i := 40; i < 48; i++ {
		h[i] = byte(0xe9 + i) // transmit timestamp
	}
	return string(h) + tail
}

// ctl is an NTP mode 6 message: version 2, the r/m/e/opcode byte, status,
// offset, data; count is the data's length unless given.
func ctl(op byte, status, offset uint16, data string, count int, pad int) string {
	if count < 0 {
		count = len(data)
	}
	h := []byte{0x16, op, 0, 7, byte(status >> 8), byte(status), 0, 0, byte(offset >> 8), byte(offset), byte(count >> 8), byte(count)}
	return string(h) + data + strings.Repeat("\x00", pad)
}

// private is an NTP mode 7 message.
func private(b0, seq, impl, req, errItems1, items2, mbzSize1, size2 byte, data string) string {
	return string([]byte{b0, seq, impl, req, errItems1, items2, mbzSize1, size2}) + data
}

func TestClassifyPayloadNTP(t *testing.T) {
	mac20 := strings.Repeat("\x00\x00\x00\x01", 1) + strings.Repeat("\xab", 16) // key ID and MD5 digest
	ext16 := "\x01\x04\x00\x10" + strings.Repeat("\xcd", 12)                    // extension field of 16 bytes
	chrony := ntpHdr(0x23, 0, 0xfa, 0xe6, "")                                   // chrony client, poll -6, precision -26
	checkPayloads(t, []payloadCase{
		{"v4 client", ntpHdr(0x23, 0, 6, 0, ""), PayloadNTP, "", "NTP Version 4, client"},
		{"v3 SNTP client, all zero", ntpHdr(0x1b, 0, 0, 0, ""), PayloadNTP, "", "NTP Version 3, client"},
		{"v4 server, stratum 2, precision -23", ntpHdr(0x24, 2, 6, 0xe9, ""), PayloadNTP, "", "NTP Version 4, server"},
		{"v4 server, unsynchronised, stratum 16", ntpHdr(0xe4, 16, 17, 0xe0, ""), PayloadNTP, "", "NTP Version 4, server"},
		{"v2 symmetric active", ntpHdr(0x11, 3, 10, 0xec, ""), PayloadNTP, "", "NTP Version 2, symmetric active"},
		{"v1 symmetric passive", ntpHdr(0x0a, 3, 10, 0xec, ""), PayloadNTP, "", "NTP Version 1, symmetric passive"},
		{"v4 broadcast", ntpHdr(0x25, 2, 6, 0xe9, ""), PayloadNTP, "", "NTP Version 4, broadcast"},
		{"chrony client, poll -6", chrony, PayloadNTP, "", "NTP Version 4, client"},
		{"crypto-NAK, 52 bytes", ntpHdr(0x24, 2, 6, 0xe9, "\x00\x00\x00\x00"), PayloadNTP, "", ""},
		{"MD5 MAC, 68 bytes", ntpHdr(0x23, 0, 6, 0xe9, mac20), PayloadNTP, "", ""},
		{"SHA-1 MAC, 72 bytes", ntpHdr(0x23, 0, 6, 0xe9, mac20+"\xab\xab\xab\xab"), PayloadNTP, "", ""},
		{"extension field and MAC", ntpHdr(0x23, 0, 6, 0xe9, ext16+mac20), PayloadNTP, "", ""},
		{"two extension fields, no MAC", ntpHdr(0x23, 0, 6, 0xe9, ext16+ext16), PayloadNTP, "", ""},
		{"49 bytes", ntpHdr(0x23, 0, 6, 0, "\x00"), PayloadBinary, "", ""},
		{"47 bytes", ntpHdr(0x23, 0, 6, 0, "")[:47], PayloadBinary, "", ""},
		{"extension field of length 0", ntpHdr(0x23, 0, 6, 0, "\x00\x00\x00\x00"+mac20+"\x00\x00\x00\x00"), PayloadBinary, "", ""},
		{"extension field past the end", ntpHdr(0x23, 0, 6, 0, "\x01\x04\x01\x00"+mac20+"\x00\x00\x00\x00"), PayloadBinary, "", ""},
		{"stratum 17", ntpHdr(0x24, 17, 6, 0xe9, ""), PayloadBinary, "", ""},
		{"poll 25", ntpHdr(0x24, 2, 25, 0xe9, ""), PayloadBinary, "", ""},
		{"poll -7", ntpHdr(0x24, 2, 0xf9, 0xe9, ""), PayloadNTP, "", ""},
		{"poll -8", ntpHdr(0x24, 2, 0xf8, 0xe9, ""), PayloadBinary, "", ""},
		{"chrony client, precision 32 hides its clock", ntpHdr(0x23, 0, 0, 0x20, mac20), PayloadNTP, "", "NTP Version 4, client"},
		{"precision 32, stratum 2", ntpHdr(0x23, 2, 0, 0x20, ""), PayloadBinary, "", ""},
		{"precision 32 from a server", ntpHdr(0x24, 0, 0, 0x20, ""), PayloadBinary, "", ""},
		{"precision 1", ntpHdr(0x24, 2, 6, 1, ""), PayloadBinary, "", ""},
		{"precision -33", ntpHdr(0x24, 2, 6, 0xdf, ""), PayloadBinary, "", ""},
		{"version 0", ntpHdr(0x03, 0, 6, 0, ""), PayloadBinary, "", ""},
		{"version 5", ntpHdr(0x2b, 0, 6, 0, ""), PayloadBinary, "", ""},
		{"mode 0", ntpHdr(0x20, 0, 6, 0, ""), PayloadBinary, "", ""},

		// Text that the old check (version and mode only) took for NTP.
		{"QOTD quote, 'T' reads as v2 server", "The only thing we have to fear is fear itself. -- Franklin D. Roosevelt\r\n", PayloadText, "", ""},
		{"NIST daytime, LF reads as v1 symmetric passive", "\n60388 24-03-19 12:00:00 50 0 0 123.4 UTC(NIST) * \n", PayloadText, "", ""},
		{"chargen line, '!' reads as v4 symmetric active", "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n", PayloadText, "", ""},

		// Mode 6, ntpq.
		{"control READSTAT request", ctl(0x01, 0, 0, "", -1, 0), PayloadNTP, "",
			"NTP Version 2, control, request, Opcode: READSTAT (1)"},
		{"control READVAR request, padded", ctl(0x02, 0, 0, "version", -1, 5), PayloadNTP, "",
			"NTP Version 2, control, request, Opcode: READVAR (2)"},
		{"control READVAR response", ctl(0x82, 0x0618, 0, `version="ntpd 4.2.8p15", stratum=2`, -1, 2), PayloadNTP, "",
			"NTP Version 2, control, response, Opcode: READVAR (2)"},
		{"control error response", ctl(0xc2, 0x0200, 0, "", -1, 0), PayloadNTP, "",
			"NTP Version 2, control, response, Opcode: READVAR (2), Error: CERR_BADFMT (2)"},
		{"control error response, unknown code", ctl(0xc1, 0x0900, 0, "", -1, 0), PayloadNTP, "",
			"NTP Version 2, control, response, Opcode: READSTAT (1), Error: unknown (9)"},
		{"control request with the error bit", ctl(0x41, 0, 0, "", -1, 0), PayloadBinary, "", ""},
		{"control request with the more bit", ctl(0x21, 0, 0, "", -1, 0), PayloadBinary, "", ""},
		{"control request with an offset", ctl(0x02, 0, 8, "version", -1, 5), PayloadBinary, "", ""},
		{"control request with a status", ctl(0x02, 0x0001, 0, "version", -1, 5), PayloadBinary, "", ""},
		{"control request with a leap indicator", "\xd6" + ctl(0x01, 0, 0, "", -1, 0)[1:], PayloadBinary, "", ""},
		{"control response with a leap indicator", "\xd6" + ctl(0x81, 0x0618, 0, "", -1, 0)[1:], PayloadNTP, "", ""},
		{"control, count past the end", ctl(0x82, 0, 0, "version", 20, 0), PayloadBinary, "", ""},
		{"control, count over 468", ctl(0x82, 0, 0, strings.Repeat("x", 469), -1, 3), PayloadBinary, "", ""},
		{"control, more than padding and MAC after the data", ctl(0x82, 0, 0, "version", -1, 32), PayloadBinary, "", ""},
		{"control, 11 bytes", ctl(0x01, 0, 0, "", -1, 0)[:11], PayloadBinary, "", ""},

		// Mode 7, ntpdc.
		{"private MON_GETLIST_1 request, 48 bytes", private(0x17, 0, 3, 42, 0, 0, 0, 0, strings.Repeat("\x00", 40)), PayloadNTP, "",
			"NTP Version 2, private, request, Implementation: XNTPD (3), Request code: MON_GETLIST_1 (42)"},
		{"private PEER_LIST request, 192 bytes", private(0x1f, 0, 3, 0, 0, 0, 0, 0, strings.Repeat("\x00", 184)), PayloadNTP, "",
			"NTP Version 3, private, request, Implementation: XNTPD (3), Request code: PEER_LIST (0)"},
		{"private error response INFO_ERR_FMT (CVE-2009-3563)", private(0x97, 0, 3, 42, 0x30, 0, 0, 0, ""), PayloadNTP, "",
			"NTP Version 2, private, response, Implementation: XNTPD (3), Request code: MON_GETLIST_1 (42), Error: INFO_ERR_FMT (3)"},
		{"private error response INFO_ERR_IMPL", private(0x97, 0, 0, 1, 0x10, 0, 0, 0, ""), PayloadNTP, "",
			"NTP Version 2, private, response, Implementation: UNIV (0), Request code: PEER_LIST_SUM (1), Error: INFO_ERR_IMPL (1)"},
		{"private error response INFO_ERR_REQ", private(0x9f, 0, 2, 99, 0x20, 0, 0, 0, ""), PayloadNTP, "",
			"NTP Version 3, private, response, Implementation: XNTPD_OLD (2), Request code: unknown (99), Error: INFO_ERR_REQ (2)"},
		{"private error response INFO_ERR_NODATA", private(0x97, 0, 3, 2, 0x40, 0, 0, 0, ""), PayloadNTP, "",
			"NTP Version 2, private, response, Implementation: XNTPD (3), Request code: PEER_INFO (2), Error: INFO_ERR_NODATA (4)"},
		{"private error response INFO_ERR_AUTH", private(0x97, 0, 3, 10, 0x70, 0, 0, 0, ""), PayloadNTP, "",
			"NTP Version 2, private, response, Implementation: XNTPD (3), Request code: CONFIG (10), Error: INFO_ERR_AUTH (7)"},
		{"private error response, code 5", private(0x97, 0, 3, 10, 0x50, 0, 0, 0, ""), PayloadNTP, "",
			"NTP Version 2, private, response, Implementation: XNTPD (3), Request code: CONFIG (10), Error: unknown (5)"},
		{"private monlist response, more to come", private(0xd7, 0, 3, 42, 0x00, 6, 0x00, 72, strings.Repeat("\x11", 6*72)), PayloadNTP, "",
			"NTP Version 2, private, response, Implementation: XNTPD (3), Request code: MON_GETLIST_1 (42), Error: INFO_OKAY (0)"},
		{"private request with an error code", private(0x17, 0, 3, 42, 0x30, 0, 0, 0, strings.Repeat("\x00", 40)), PayloadBinary, "", ""},
		{"private request with a sequence number", private(0x17, 1, 3, 42, 0, 0, 0, 0, strings.Repeat("\x00", 40)), PayloadBinary, "", ""},
		{"private, implementation 1", private(0x97, 0, 1, 42, 0x30, 0, 0, 0, ""), PayloadBinary, "", ""},
		{"private, MBZ set", private(0x97, 0, 3, 42, 0x30, 0, 0x10, 0, ""), PayloadBinary, "", ""},
		{"private, error 8", private(0x97, 0, 3, 42, 0x80, 0, 0, 0, ""), PayloadBinary, "", ""},
		{"private, items past the data", private(0x97, 0, 3, 42, 0x00, 2, 0x00, 72, strings.Repeat("\x11", 72)), PayloadBinary, "", ""},
		{"private response, bytes after the items", private(0x97, 0, 3, 42, 0x00, 1, 0x00, 72, strings.Repeat("\x11", 73)), PayloadBinary, "", ""},
		{"private error response with data", private(0x97, 0, 3, 42, 0x30, 0, 0, 0, "\x00\x00\x00\x00"), PayloadBinary, "", ""},
		{"private request, data beyond its items", private(0x17, 0, 3, 42, 0x00, 1, 0x00, 8, strings.Repeat("\x00", 40)), PayloadNTP, "", ""},
		// Random-looking bytes from a capture (amp.TCP.reflection.SYNACK.pcap
		// frame 1627) that read as a v1 private response without items.
		{"junk with a private-mode first byte", "\x8f\xcd\x00\x10\x00\x00\x00\x00\x4b\x40\x54\xf5\x4d\x6e\x67\xd4\x91\x9b\x78\xaa", PayloadBinary, "", ""},
		{"private, 509 bytes", private(0x97, 0, 3, 42, 0x00, 0, 0x00, 0, strings.Repeat("\x11", 501)), PayloadBinary, "", ""},
		{"private, 7 bytes", private(0x97, 0, 3, 42, 0x30, 0, 0, 0, "")[:7], PayloadBinary, "", ""},
	})
	pi := ClassifyPayload([]byte(private(0x97, 0, 3, 42, 0x30, 0, 0, 0, "")))
	if pi.NTPVersion != 2 || pi.NTPMode != 7 {
		t.Errorf("version %d, mode %d", pi.NTPVersion, pi.NTPMode)
	}
}

func TestClassifyPayloadTextAndTime(t *testing.T) {
	// chargen: 72-character lines, each starting one character further
	// along the 95 printable characters.
	var chargen strings.Builder
	for i := range 7 {
		for j := range 72 {
			chargen.WriteByte(byte(' ' + (i+j)%95))
		}
		chargen.WriteString("\r\n")
	}
	quote := strings.Repeat("Those who cannot remember the past are condemned to repeat it.\r\n", 8) // 512 bytes
	at := time.Date(2024, 3, 19, 12, 0, 0, 0, time.UTC)
	secs := uint32(at.Unix() + 2208988800)
	timeOf := func(s uint32) string { return string([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}) }
	checkPayloads(t, []payloadCase{
		{"QOTD quote of 512 bytes, CRLF lines", quote, PayloadText, strings.TrimRight(quote, "\r\n"),
			`text: "Those who cannot remember the past are condemned to repeat i..."`},
		{"QOTD quote with an em dash", "Whatever you are, be a good one. \xe2\x80\x94 Abraham Lincoln\r\n", PayloadText, "Whatever you are, be a good one. \u2014 Abraham Lincoln", ""},
		{"chargen line", chargen.String()[:74], PayloadText, chargen.String()[:72], ""},
		{"chargen, seven lines", chargen.String(), PayloadText, "", ""},
		{"daytime, RFC 867 example", "Tuesday, February 22, 1982 17:37:43-PST\r\n", PayloadText, "Tuesday, February 22, 1982 17:37:43-PST",
			`text: "Tuesday, February 22, 1982 17:37:43-PST"`},
		{"daytime, inetd's ctime format", "Tue Mar 19 12:00:00 2024\r\n", PayloadText, "Tue Mar 19 12:00:00 2024", ""},
		{"echo of a line", "hello\n", PayloadText, "hello", `text: "hello"`},
		{"text padded with NULs", "hello\x00\x00", PayloadText, "hello", ""},
		{"four bytes of text", "hi\r\n", PayloadText, "hi", ""},
		{"one character", "x", PayloadText, "x", ""},
		{"tab-separated", "a\tb\r\n", PayloadText, "a\tb", ""},
		{"C1 control in UTF-8", "next\xc2\x85line", PayloadBinary, "", ""},
		{"invalid UTF-8", "caf\xe9 au lait", PayloadBinary, "", ""},
		{"escape sequence", "\x1b[31mred\x1b[0m", PayloadBinary, "", ""},
		{"DEL", "abc\x7fdef", PayloadBinary, "", ""},
		{"NUL inside", "abc\x00def", PayloadBinary, "", ""},
		{"only NULs", "\x00\x00\x00\x00\x00", PayloadBinary, "", "binary, 5 bytes"},
		{"time protocol answer", timeOf(secs), PayloadBinary, "", "binary, 4 bytes: time protocol (RFC 868), 2024-03-19 12:00:00 UTC"},
		{"time protocol, 1990", timeOf(2840140800), PayloadBinary, "", "binary, 4 bytes: time protocol (RFC 868), 1990-01-01 00:00:00 UTC"},
		{"time protocol, last second before 2036", timeOf(0xffffffff), PayloadBinary, "", "binary, 4 bytes: time protocol (RFC 868), 2036-02-07 06:28:15 UTC"},
		{"four bytes before 1990", timeOf(2840140799), PayloadBinary, "", "binary, 4 bytes"},
		{"four bytes that are UTF-8 and a time: time wins", "\xc3\xa9\r\n", PayloadBinary, "", "binary, 4 bytes: time protocol (RFC 868), 2004-01-09 11:20:42 UTC"},
		{"three bytes", "\x01\x02\x03", PayloadBinary, "", "binary, 3 bytes"},
		{"five bytes", "\xeb\x01\x02\x03\x04", PayloadBinary, "", "binary, 5 bytes"},
		{"empty", "", PayloadEmpty, "", "empty payload"},
	})
}

// isTextReference is isText one byte at a time, to hold the word-at-a-time
// version to.
func isTextReference(b []byte) bool {
	s := strings.TrimRight(string(b), "\x00")
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\r' && r != '\n' || r >= 0x7f && r < 0xa0 {
			return false
		}
	}
	return true
}

func TestIsTextEveryPosition(t *testing.T) {
	bytesToTry := []byte{0x00, 0x01, '\t', '\n', 0x0b, '\r', 0x1f, 0x20, 'A', 0x7e, 0x7f, 0x80, 0xa0, 0xc2, 0xe2, 0xff}
	for n := 1; n <= 24; n++ {
		for pos := range n {
			for _, c := range bytesToTry {
				for _, c2 := range bytesToTry {
					b := []byte(strings.Repeat("a", n))
					b[pos], b[(pos*7+3)%n] = c, c2
					if got, want := isText(b), isTextReference(b); got != want {
						t.Fatalf("isText(%q) = %v, want %v", b, got, want)
					}
				}
			}
		}
	}
}
