package decode

import "bytes"

// TFTP (RFC 1350; OACK and error code 8 from RFC 2347). The checks below
// are shared by ClassifyPayload and ClassifyMsg, allocate nothing, and are
// structural: an opcode alone never makes a payload TFTP.

// TFTP opcodes.
const (
	tftpRRQ   = 1
	tftpWRQ   = 2
	tftpDATA  = 3
	tftpACK   = 4
	tftpERROR = 5
	tftpOACK  = 6
)

const (
	// tftpMaxErrorCode is the highest error code defined: 0-7 by RFC
	// 1350, 8 (option negotiation failed) by RFC 2347. A higher code is
	// not taken for TFTP: it keeps two-byte-aligned binary that happens
	// to start 00 05 out.
	tftpMaxErrorCode = 8
	// tftpErrorSlack is how many NUL bytes may follow the NUL that ends
	// an ERROR's message, for senders that pad the datagram. More, or
	// any other byte, and the payload is not an ERROR.
	tftpErrorSlack = 4
	// tftpMaxData is the largest DATA payload: a 512-byte block after
	// opcode and block number (RFC 1350; larger blocksizes need an
	// OACK, which the per-packet view cannot see).
	tftpMaxData = 4 + 512
)

// tftpError checks a payload whose first two bytes are 00 05: error code
// 0-8, then a message ended by a NUL that ends the datagram (or is
// followed by at most tftpErrorSlack NULs). The message may hold any other
// byte: servers put control bytes in it, and printers escape them. When
// cut, a message without its NUL runs to the end of what was captured.
// end is the index just past the message.
func tftpError(b []byte, cut bool) (end int, ok bool) {
	if len(b) < 4 || b[2] != 0 || b[3] > tftpMaxErrorCode {
		return 0, false
	}
	i := bytes.IndexByte(b[4:], 0)
	if i < 0 {
		return len(b), cut
	}
	end = 4 + i
	pad := b[end+1:]
	if len(pad) > tftpErrorSlack {
		return 0, false
	}
	for _, c := range pad {
		if c != 0 {
			return 0, false
		}
	}
	return end, true
}

// tftpRequest checks a payload whose first two bytes are 00 01 or 00 02:
// a non-empty text file name, a NUL, a transfer mode (netascii, octet or
// mail, any case) and a NUL; options may follow. When cut, the name or
// the mode may be unterminated if what is there could still be one.
// fileEnd is the index of the NUL after the file name (len(b) if cut
// before it), and the mode is b[fileEnd+1:modeEnd].
func tftpRequest(b []byte, cut bool) (fileEnd, modeEnd int, ok bool) {
	if len(b) < 3 {
		return 0, 0, false
	}
	i := bytes.IndexByte(b[2:], 0)
	if i < 0 {
		return len(b), len(b), cut && isText(b[2:])
	}
	fileEnd = 2 + i
	if i == 0 || !isText(b[2:fileEnd]) {
		return 0, 0, false
	}
	mode := b[fileEnd+1:]
	j := bytes.IndexByte(mode, 0)
	if j < 0 {
		if !cut {
			return 0, 0, false
		}
		for _, m := range tftpModes {
			if len(mode) <= len(m) && asciiFold(mode, m[:len(mode)]) {
				return fileEnd, len(b), true
			}
		}
		return 0, 0, false
	}
	modeEnd = fileEnd + 1 + j
	for _, m := range tftpModes {
		if asciiFold(mode[:j], m) {
			return fileEnd, modeEnd, true
		}
	}
	return 0, 0, false
}

var tftpModes = [...]string{"netascii", "octet", "mail"}

// asciiFold reports whether b equals s, ignoring ASCII case; s must be
// lower-case letters.
func asciiFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if c|0x20 != s[i] {
			return false
		}
	}
	return true
}

// tftpOptionAck checks a payload whose first two bytes are 00 06: one or more
// option name/value pairs, each a non-empty text string ended by a NUL.
// When cut, the last string may be unterminated and the pairs incomplete.
func tftpOptionAck(b []byte, cut bool) bool {
	rest := b[2:]
	n := 0
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return cut && isText(rest)
		}
		if i == 0 || !isText(rest[:i]) {
			return false
		}
		n++
		rest = rest[i+1:]
	}
	return n > 0 && (cut || n%2 == 0)
}

// tftpData checks a payload whose first two bytes are 00 03: block number
// and at most 512 bytes of data (any length when cut).
func tftpData(b []byte, cut bool) bool {
	return len(b) >= 4 && (cut || len(b) <= tftpMaxData)
}

// tftpStrict reports whether b is a TFTP packet of one of the opcodes
// whose structure is distinctive (RRQ, WRQ, ACK, ERROR, OACK), and which
// opcode and error code. DATA is left out: any payload starting 00 03 fits
// it, so callers try it after what it could be mistaken for.
func tftpStrict(b []byte, cut bool) (op, code uint16, ok bool) {
	if len(b) < 4 || b[0] != 0 {
		return 0, 0, false
	}
	switch b[1] {
	case tftpRRQ, tftpWRQ:
		_, _, ok = tftpRequest(b, cut)
	case tftpACK:
		ok = len(b) == 4
	case tftpERROR:
		_, ok = tftpError(b, cut)
		code = uint16(b[3])
	case tftpOACK:
		ok = tftpOptionAck(b, cut)
	}
	return uint16(b[1]), code, ok
}
