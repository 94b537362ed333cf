package detect

import (
	"fmt"

	"github.com/pongscan/pongscan/pkg/decode"
)

// responderPorts are the services of CVE-2024-2169 (Loop DoS) that only
// ever answer: every datagram they send is a reply to one they received.
// Active Users (systat, RFC 866, port 11) is one of the paper's legacy
// services beside the better known five.
var responderPorts = []uint16{7, 11, 13, 17, 19, 37}

// wellKnown names the services of Loop DoS by port.
var wellKnown = map[uint16]string{
	7: "echo", 11: "systat", 13: "daytime", 17: "QOTD", 19: "chargen", 37: "time",
	53: "DNS", 69: "TFTP", 123: "NTP",
}

// service names what one side of a loop runs, from its port and the
// messages it sent (typ: its most frequent message type, as the evidence
// keeps it).
func service(port uint16, typ uint32) string {
	proto := decode.MsgProto(typ >> 16)
	byContent := ""
	switch proto {
	case decode.MsgDNS:
		byContent = "DNS"
	case decode.MsgTFTP:
		byContent = "TFTP"
	case decode.MsgNTP:
		byContent = "NTP"
	}
	if name, ok := wellKnown[port]; ok && (byContent == "" || byContent == name) {
		return fmt.Sprintf("%s (port %d)", name, port)
	}
	if byContent != "" {
		return fmt.Sprintf("%s (port %d)", byContent, port)
	}
	return fmt.Sprintf("UDP port %d", port)
}

// msgTypeName names a message type as the evidence keeps it (protocol in
// the high 16 bits, decode.Msg.Type in the low).
func msgTypeName(typ uint32) string {
	t := uint16(typ)
	switch decode.MsgProto(typ >> 16) {
	case decode.MsgDNS:
		op, rc := t>>11&0xf, uint8(t&0xf)
		kind := "dns-query"
		if t&(1<<15) != 0 {
			kind = "dns-response(" + decode.RCodeName(rc) + ")"
		}
		if op != 0 {
			kind += fmt.Sprintf("[opcode %d]", op)
		}
		return kind
	case decode.MsgTFTP:
		switch op := t >> 8; op {
		case 1:
			return "tftp-rrq"
		case 2:
			return "tftp-wrq"
		case 3:
			return "tftp-data"
		case 4:
			return "tftp-ack"
		case 5:
			return fmt.Sprintf("tftp-error(%d)", t&0xff)
		case 6:
			return "tftp-oack"
		default:
			return fmt.Sprintf("tftp(%d)", op)
		}
	case decode.MsgNTP:
		// version<<12 | mode<<8 | R<<5 | E<<4 | code (decode.Msg)
		mode := t >> 8 & 7
		s := fmt.Sprintf("ntp-mode%d", mode)
		if mode >= 6 {
			if t&(1<<5) != 0 {
				s += "-response"
			} else {
				s += "-request"
			}
			if t&(1<<4) != 0 {
				s += fmt.Sprintf("(error %d)", t&0xf)
			}
		}
		return s
	case decode.MsgText:
		return "text"
	case decode.MsgBinary:
		if t == decode.TypeFourBytes {
			return "binary(4 bytes)"
		}
		return "binary"
	}
	return "empty"
}
