package decode

import (
	"strings"
	"testing"
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
