package decode

import (
	"bytes"
	"strconv"
)

// MsgProto is the protocol ClassifyMsg recognised in a payload.
type MsgProto uint8

// Protocols, as ClassifyMsg names them.
const (
	MsgEmpty  MsgProto = iota // no payload
	MsgDNS                    // DNS message
	MsgTFTP                   // TFTP packet, ERROR included
	MsgNTP                    // NTP message, modes 1-7
	MsgText                   // text: QOTD, daytime, chargen, echoed lines...
	MsgBinary                 // anything else; a 4-byte payload may be a time protocol answer
)

var msgProtoNames = [...]string{"empty", "dns", "tftp", "ntp", "text", "binary"}

func (p MsgProto) String() string {
	if int(p) < len(msgProtoNames) {
		return msgProtoNames[p]
	}
	return "proto" + strconv.Itoa(int(p))
}

// MsgRole says what a message is to the exchange it belongs to, by its
// protocol's own rules. Ports say nothing here: the detector adds them.
type MsgRole uint8

// Roles.
const (
	// RoleUnknown: the protocol does not say (text, binary, empty, NTP
	// broadcast).
	RoleUnknown MsgRole = iota
	// RoleRequest asks for an answer: a DNS query (QR 0), a TFTP RRQ or
	// WRQ, NTP modes 1 and 3, NTP modes 6 and 7 without the response
	// bit.
	RoleRequest
	// RoleAnswer is sent in reaction to a message: a DNS response (QR
	// 1), a TFTP ERROR or OACK, NTP modes 2 and 4, NTP modes 6 and 7
	// with the response bit. An answer answering an answer is the mark
	// of a loop.
	RoleAnswer
	// RoleTransfer is a TFTP transfer's progress (DATA, ACK): each is a
	// reaction to the previous one by design, so it is not an answer.
	RoleTransfer
)

var msgRoleNames = [...]string{"unknown", "request", "answer", "transfer"}

func (r MsgRole) String() string {
	if int(r) < len(msgRoleNames) {
		return msgRoleNames[r]
	}
	return "role" + strconv.Itoa(int(r))
}

// Msg is what ClassifyMsg makes of one payload: its protocol, its role,
// and a type signature that is equal for messages of the same type within
// a protocol, so that a short repeating cycle of types can be found even
// when the bytes change every packet.
//
// Type is laid out per protocol:
//
//	DNS:    QR<<15 | opcode<<11 | rcode (the header's flags word masked
//	        with 0xf80f; the EDNS extended rcode is not read)
//	TFTP:   opcode<<8 | error code (error code 0-8, ERROR only)
//	NTP:    version<<12 | mode<<8 | R<<5 | E<<4 | code
//	        where, for modes 6 and 7, R is the response bit, E says an
//	        error is reported (mode 6: the E bit; mode 7: a non-zero
//	        error nibble) and code is the error code's low 4 bits (mode
//	        6: CERR_* from the status word when E; mode 7: INFO_ERR_*);
//	        modes 1-5 have R, E and code 0
//	text:   0, for every text: QOTD quotes vary between one line and
//	        several, so a line shape would break the cycle a QOTD<->echo
//	        loop shows
//	binary: TypeFourBytes for a whole 4-byte payload (the time
//	        protocol's answer, and an echo of it), else 0
//	empty:  0
type Msg struct {
	Proto MsgProto
	Role  MsgRole
	Type  uint16
}

// TypeFourBytes is the Type of a binary payload of exactly 4 bytes.
const TypeFourBytes uint16 = 4

// dnsTypeMask keeps QR, opcode and rcode of a DNS header's flags word.
const dnsTypeMask = 0xf80f

// ClassifyMsg names the protocol, role and type of one UDP payload. cut
// tells that payload is a prefix of the datagram (snap length): checks
// against the datagram's end are then waived, so a cut payload is never
// judged by bytes it lacks. It allocates nothing and is meant to run on
// every packet.
//
// Bytes can fit more than one protocol, so the checks run in this order,
// the more distinctive first:
//
//  1. Empty.
//  2. TFTP RRQ, WRQ, ACK, ERROR and OACK: their structure is strict
//     (opcode, NUL-terminated strings, transfer mode, error code 0-8,
//     exact lengths). No payload passing the DNS check below fits it (a
//     DNS header holds NULs where these need text or the datagram's end;
//     FuzzClassifyMsg holds this), but dnsmessage's looser rules can take
//     one for DNS, e.g. a TFTP ERROR whose message lays out a question:
//     such a payload is TFTP, like the seed's "RRQ must be sent first".
//  3. DNS, checked strictly, since 12 bytes with a zero question count
//     parse as a DNS header: the header, then the questions (at most 64;
//     names as dnsmessage reads them, the first without compression;
//     class IN, CH, HS, NONE or ANY, the mDNS unicast bit ignored), then
//     every record the header counts announce, then the end of the
//     datagram (or NUL padding, in a message with a question). A message
//     without a question must be a response (the header-only FORMERR,
//     SERVFAIL, REFUSED answers of a loop) or carry records, and end
//     exactly. When cut, records may run past the captured bytes, but
//     the questions must be whole. What passes is DNS to ClassifyDNS too
//     (at Full depth when not cut). So NTP's 48 bytes, a 12-byte ntpq
//     request, or a TFTP DATA block of zeros are not DNS though they parse
//     as a header.
//  4. TFTP DATA: opcode 3 and up to 512 bytes fit much binary, DNS
//     messages with ID 3 among it. (Eight NULs in block 0x8001 are a
//     header-only FORMERR with ID 3, and DNS.)
//  5. NTP (see ntp.go): modes 1-5 need a sane header and length, modes 6
//     and 7 ntpd's layouts. A DNS message that fits an NTP header, as a
//     48-byte query with the right ID and flags does, is DNS.
//  6. A 4-byte payload from 1990 to 2036 as a time protocol answer is
//     binary, even where it is also UTF-8 text.
//  7. Text: printable ASCII, tabs, line ends and UTF-8, trailing NULs
//     allowed.
//  8. Binary.
//
// ClassifyPayload makes the same checks in the same order, without DNS:
// for an uncut payload that ClassifyMsg does not call DNS, the two agree.
func ClassifyMsg(payload []byte, cut bool) Msg {
	b := payload
	if len(b) == 0 {
		return Msg{}
	}
	if b[0] == 0 {
		if op, code, ok := tftpStrict(b, cut); ok {
			m := Msg{Proto: MsgTFTP, Role: RoleAnswer, Type: op<<8 | code}
			switch op {
			case tftpRRQ, tftpWRQ:
				m.Role = RoleRequest
			case tftpACK:
				m.Role = RoleTransfer
			}
			return m
		}
	}
	if len(b) >= 12 && isDNSMsg(b, cut) {
		m := Msg{Proto: MsgDNS, Role: RoleRequest, Type: (uint16(b[2])<<8 | uint16(b[3])) & dnsTypeMask}
		if b[2]&0x80 != 0 {
			m.Role = RoleAnswer
		}
		return m
	}
	if b[0] == 0 && len(b) >= 2 && b[1] == tftpDATA && tftpData(b, cut) {
		return Msg{Proto: MsgTFTP, Role: RoleTransfer, Type: tftpDATA << 8}
	}
	if h, ok := ntpCheck(b, cut); ok {
		m := Msg{Proto: MsgNTP, Type: uint16(h.version)<<12 | uint16(h.mode)<<8}
		switch h.mode {
		case ntpModeActive, ntpModeClient:
			m.Role = RoleRequest
		case ntpModePassive, ntpModeServer:
			m.Role = RoleAnswer
		case ntpModeControl, ntpModePrivate:
			m.Role = RoleRequest
			if h.response {
				m.Role = RoleAnswer
				m.Type |= 1 << 5
			}
			if h.isErr {
				m.Type |= 1<<4 | uint16(h.code&0x0f)
			}
		}
		return m
	}
	if !cut && len(b) == 4 {
		if _, ok := rfc868(b); ok {
			return Msg{Proto: MsgBinary, Type: TypeFourBytes}
		}
	}
	if isText(b) {
		return Msg{Proto: MsgText}
	}
	if !cut && len(b) == 4 {
		return Msg{Proto: MsgBinary, Type: TypeFourBytes}
	}
	return Msg{Proto: MsgBinary}
}

// dnsMaxQuestions bounds the questions isDNSMsg reads, and so its work on
// a hostile count: mDNS asks several in one query, unicast DNS one.
const dnsMaxQuestions = 64

// isDNSMsg makes ClassifyMsg's DNS checks on a payload of at least 12
// bytes. Questions are read with parseHeaderQuestion's rules (label
// bounds, no dots inside a label, names under 254 bytes, at most 10
// pointers, reserved label types refused); the first may not use a
// compression pointer, which no sender puts there, so it is read without
// following any. Records are skipped as dnsmessage skips them. After them
// comes the end of the datagram or, in a message with a question, NUL
// padding (servers and middleboxes pad answers, e.g. to 512 bytes); a
// message without a question must end exactly, or zero-filled binary
// would pass for a header-only answer.
func isDNSMsg(b []byte, cut bool) bool {
	qd := int(b[4])<<8 | int(b[5])
	rr := (int(b[6])<<8 | int(b[7])) + (int(b[8])<<8 | int(b[9])) + (int(b[10])<<8 | int(b[11]))
	off := 12
	if qd == 0 {
		if rr == 0 && b[2]&0x80 == 0 {
			return false // a header-only query
		}
	} else {
		if qd > dnsMaxQuestions {
			return false
		}
		// Each pass checks the bounds the previous label's length
		// needs; the name's length (labels and their dots, which
		// parseHeaderQuestion limits to 254) only grows, so one check
		// at the end decides as a check per label would.
		start := off
		for {
			if off >= len(b) {
				return false
			}
			c := int(b[off])
			off++
			if c == 0 {
				break
			}
			if c > 63 {
				return false
			}
			off += c
		}
		if off-start-1 > 254 {
			return false
		}
		// A dot inside a label is refused, as dnsmessage refuses it. One
		// search over the whole name finds none in nearly every name; a
		// dot found may be a length byte of 46, so look again label by
		// label.
		if bytes.IndexByte(b[start:off], '.') >= 0 && dotInLabel(b[start:off]) {
			return false
		}
		for q := 0; ; q++ {
			if off+4 > len(b) {
				return false
			}
			switch (int(b[off+2])<<8 | int(b[off+3])) & 0x7fff {
			case 1, 3, 4, 254, 255:
			default:
				return false
			}
			off += 4
			if q == qd-1 {
				break
			}
			var ok bool
			if off, ok = dnsName(b, off); !ok {
				return false
			}
		}
	}
	for ; rr > 0; rr-- {
	name:
		for {
			if off >= len(b) {
				return cut
			}
			c := int(b[off])
			off++
			switch c & 0xc0 {
			case 0x00:
				if c == 0 {
					break name
				}
				if off += c; off > len(b) {
					return cut
				}
			case 0xc0:
				off++
				break name
			default:
				return false
			}
		}
		if off+10 > len(b) {
			return cut
		}
		if off += 10 + (int(b[off+8])<<8 | int(b[off+9])); off > len(b) {
			return cut
		}
	}
	if off == len(b) {
		return true
	}
	if qd == 0 {
		return false
	}
	for _, c := range b[off:] {
		if c != 0 {
			return false
		}
	}
	return true
}

// dnsName checks the name at off as parseHeaderQuestion reads one,
// following compression pointers, and returns the offset after it.
func dnsName(msg []byte, off int) (int, bool) {
	next, ptrs, n := -1, 0, 0
	for {
		if off >= len(msg) {
			return 0, false
		}
		c := int(msg[off])
		off++
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off
				}
				return next, true
			}
			end := off + c
			if end > len(msg) || n+c >= 254 || bytes.IndexByte(msg[off:end], '.') >= 0 {
				return 0, false
			}
			n += c + 1
			off = end
		case 0xc0:
			if off >= len(msg) {
				return 0, false
			}
			if ptrs == 0 {
				next = off + 1
			}
			if ptrs++; ptrs > 10 {
				return 0, false
			}
			off = (c^0xc0)<<8 | int(msg[off])
		default:
			return 0, false
		}
	}
}

// dotInLabel reports whether a name of uncompressed labels, already
// checked to be in bounds, holds a '.' inside a label.
func dotInLabel(name []byte) bool {
	for len(name) > 0 && name[0] != 0 {
		c := int(name[0])
		if bytes.IndexByte(name[1:1+c], '.') >= 0 {
			return true
		}
		name = name[1+c:]
	}
	return false
}

// String describes m for people, e.g. "DNS response FORMERR", "TFTP
// ERROR 4", "NTPv2 private response INFO_ERR_FMT". It allocates: use it
// for reports, not per packet.
func (m Msg) String() string {
	t := int(m.Type)
	switch m.Proto {
	case MsgEmpty:
		return "empty"
	case MsgDNS:
		s := "DNS query"
		if m.Role == RoleAnswer {
			s = "DNS response"
		}
		if op := t >> 11 & 0x0f; op != 0 {
			s += " opcode " + strconv.Itoa(op)
		}
		if rc := uint8(t & 0x0f); rc != 0 || m.Role == RoleAnswer {
			s += " " + RCodeName(rc)
		}
		return s
	case MsgTFTP:
		names := [...]string{tftpRRQ: "RRQ", tftpWRQ: "WRQ", tftpDATA: "DATA", tftpACK: "ACK", tftpERROR: "ERROR", tftpOACK: "OACK"}
		op := t >> 8
		if op >= len(names) || names[op] == "" {
			return "TFTP opcode " + strconv.Itoa(op)
		}
		if op == tftpERROR {
			return "TFTP ERROR " + strconv.Itoa(t&0xff)
		}
		return "TFTP " + names[op]
	case MsgNTP:
		mode := t >> 8 & 7
		s := "NTPv" + strconv.Itoa(t>>12&7) + " " + ntpModes[mode]
		if mode == ntpModeControl || mode == ntpModePrivate {
			if t&(1<<5) != 0 {
				s += " response"
			} else {
				s += " request"
			}
			if t&(1<<4) != 0 {
				names := ctlErrors[:]
				if mode == ntpModePrivate {
					names = infoErrors[:]
				}
				if c := t & 0x0f; c < len(names) && names[c] != "" {
					s += " " + names[c]
				} else {
					s += " error " + strconv.Itoa(c)
				}
			}
		}
		return s
	case MsgText:
		return "text"
	case MsgBinary:
		if m.Type == TypeFourBytes {
			return "binary, 4 bytes"
		}
		return "binary"
	}
	return m.Proto.String()
}
