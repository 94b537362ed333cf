package decode

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// PayloadKind names what a non-DNS payload looks like.
type PayloadKind string

// Payload kinds.
const (
	PayloadTFTPError PayloadKind = "tftp-error"
	PayloadTFTP      PayloadKind = "tftp"
	PayloadNTP       PayloadKind = "ntp"
	PayloadText      PayloadKind = "text"
	PayloadBinary    PayloadKind = "binary"
	PayloadEmpty     PayloadKind = "empty"
)

// PayloadInfo describes a non-DNS payload.
type PayloadInfo struct {
	Kind PayloadKind
	// Summary is one line for people, Wireshark-style, e.g.
	// `TFTP Error Code, Code: Illegal TFTP Operation (4), Message: RRQ must be sent first`,
	// `NTP Version 2, private, response, Implementation: XNTPD (3), Request code: MON_GETLIST_1 (42), Error: INFO_ERR_FMT (3)`.
	// It may hold any byte of the payload (a TFTP error message is kept
	// raw): escape it before printing.
	Summary string
	// Text is the payload's human-readable text: the TFTP error message,
	// the file name of a request, or the whole payload when printable.
	Text string
	// TFTP fields, when Kind is tftp or tftp-error.
	TFTPOpcode    uint16 `json:",omitempty"`
	TFTPErrorCode uint16 `json:",omitempty"`
	// NTP fields, when Kind is ntp: version 1-4 and mode 1-7 (6 is
	// ntpq's control, 7 ntpdc's private mode).
	NTPVersion uint8 `json:",omitempty"`
	NTPMode    uint8 `json:",omitempty"`
}

var tftpOpcodes = [...]string{1: "Read Request", 2: "Write Request", 3: "Data Packet", 4: "Acknowledgement", 5: "Error Code", 6: "Option Acknowledgement"}

var tftpErrors = [...]string{"Not defined", "File not found", "Access violation", "Disk full or allocation exceeded", "Illegal TFTP Operation", "Unknown transfer ID", "File already exists", "No such user", "Option negotiation failed"}

// ClassifyPayload looks at a payload that is not DNS. It allocates; call it
// once per finding, not per packet.
//
// It tries, in order, what ClassifyMsg tries after DNS: TFTP (RRQ, WRQ,
// ACK, ERROR, OACK, then DATA), NTP, a 4-byte time protocol answer, text,
// binary; so for a payload that ClassifyMsg does not call DNS, the two
// agree on its protocol.
func ClassifyPayload(b []byte) PayloadInfo {
	if len(b) == 0 {
		return PayloadInfo{Kind: PayloadEmpty, Summary: "empty payload"}
	}
	if pi, ok := tftp(b); ok {
		return pi
	}
	if pi, ok := ntp(b); ok {
		return pi
	}
	if secs, ok := rfc868(b); ok {
		t := time.Unix(int64(secs)-rfc868Epoch, 0).UTC()
		return PayloadInfo{Kind: PayloadBinary, Summary: "binary, 4 bytes: time protocol (RFC 868), " + t.Format("2006-01-02 15:04:05 UTC")}
	}
	if isText(b) {
		t := strings.TrimRight(string(b), "\x00\r\n")
		return PayloadInfo{Kind: PayloadText, Text: t, Summary: fmt.Sprintf("text: %q", clip(t, 60))}
	}
	return PayloadInfo{Kind: PayloadBinary, Summary: fmt.Sprintf("binary, %d bytes", len(b))}
}

// rfc868Epoch is 1970 in the time protocol's seconds since 1900.
const rfc868Epoch = 2208988800

// rfc868Min is 1990-01-01 in seconds since 1900: a 4-byte payload from
// then until the 32-bit count wraps in February 2036 is taken for a time
// protocol (RFC 868) answer. Such a payload starts with a byte of 0xa9 or
// more, so it is never ASCII text. After 2036 the count starts again from
// 0 and this check will need an era.
const rfc868Min = rfc868Epoch + 631152000

// rfc868 reports whether b is a plausible time protocol answer, and its
// seconds since 1900.
func rfc868(b []byte) (uint32, bool) {
	if len(b) != 4 {
		return 0, false
	}
	secs := binary.BigEndian.Uint32(b)
	return secs, secs >= rfc868Min
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// tftp describes a TFTP packet, with the checks ClassifyMsg makes.
func tftp(b []byte) (PayloadInfo, bool) {
	op, code, ok := tftpStrict(b, false)
	if !ok && !(len(b) >= 4 && b[0] == 0 && b[1] == tftpDATA && tftpData(b, false)) {
		return PayloadInfo{}, false
	}
	switch op {
	case tftpERROR:
		end, _ := tftpError(b, false)
		msg := string(b[4:end])
		return PayloadInfo{
			Kind: PayloadTFTPError, Text: msg, TFTPOpcode: op, TFTPErrorCode: code,
			Summary: fmt.Sprintf("TFTP Error Code, Code: %s (%d), Message: %s", tftpErrors[code], code, msg),
		}, true
	case tftpRRQ, tftpWRQ:
		fileEnd, modeEnd, _ := tftpRequest(b, false)
		file, mode := string(b[2:fileEnd]), string(b[fileEnd+1:modeEnd])
		return PayloadInfo{
			Kind: PayloadTFTP, Text: file, TFTPOpcode: op,
			Summary: fmt.Sprintf("TFTP %s, File: %s, Transfer type: %s", tftpOpcodes[op], file, mode),
		}, true
	case tftpDATA, tftpACK:
		return PayloadInfo{
			Kind: PayloadTFTP, TFTPOpcode: op,
			Summary: fmt.Sprintf("TFTP %s, Block: %d", tftpOpcodes[op], binary.BigEndian.Uint16(b[2:4])),
		}, true
	}
	return PayloadInfo{Kind: PayloadTFTP, TFTPOpcode: op, Summary: "TFTP Option Acknowledgement"}, true
}

// isText reports whether b is text: printable ASCII, tabs and line ends,
// and valid UTF-8 beyond ASCII (no C1 controls), with at most trailing
// NULs. It allocates nothing and checks eight ASCII bytes at a time.
func isText(b []byte) bool {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	if n == 0 {
		return false
	}
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i := 0; i < n; {
		// Eight bytes at once when none is below 0x20 or above 0x7e;
		// else those eight (or the tail) one by one, then on.
		end := n
		if i+8 <= n {
			x := binary.LittleEndian.Uint64(b[i:])
			if (x-0x20*ones)&^x&highs == 0 && ((x+1*ones)|x)&highs == 0 {
				i += 8
				continue
			}
			end = i + 8
		}
		for i < end {
			c := b[i]
			switch {
			case c >= 0x20 && c < 0x7f || c == '\t' || c == '\r' || c == '\n':
				i++
			case c < 0x80:
				return false
			default:
				r, size := utf8.DecodeRune(b[i:n])
				if r == utf8.RuneError && size <= 1 || r < 0xa0 {
					return false
				}
				i += size
			}
		}
	}
	return true
}
