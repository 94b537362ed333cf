package decode

import (
	"encoding/binary"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSVerdict says whether a UDP payload is a DNS message.
type DNSVerdict uint8

// Verdicts.
const (
	NotDNS    DNSVerdict = iota // does not parse as DNS
	DNS                         // parses as DNS
	Truncated                   // cut by the snap length before it could be judged
)

func (v DNSVerdict) String() string {
	switch v {
	case DNS:
		return "dns"
	case Truncated:
		return "truncated"
	}
	return "non-dns"
}

// DNSInfo is what detection needs from a DNS message. It holds no pointers
// into the payload.
type DNSInfo struct {
	ID       uint16
	Response bool
	Opcode   uint8
	RCode    uint8
	// HasQuestion reports that the first question parsed; QName, QType,
	// QClass and QHash describe it.
	HasQuestion bool
	QName       dnsmessage.Name
	QType       uint16
	QClass      uint16
	// QHash is a hash of the question's name bytes (case kept, as a
	// response echoes them), type and class.
	QHash uint64
}

// Depth is how much of a message ClassifyDNS checks.
type Depth uint8

// Depths.
const (
	// HeaderQuestion checks the header and the first question: enough to
	// match queries to responses (dnsmessage measured ~70 ns).
	HeaderQuestion Depth = iota
	// Full checks every question and every record the header counts
	// announce, with names in bounds (~280 ns).
	Full
)

// ClassifyDNS judges payload and fills info. cut tells that the payload is
// a prefix of what was sent: a message that fails to parse is then
// Truncated, never NotDNS, but the header and question are still reported
// when they parsed.
//
// The header and first question are read by hand, with exactly the checks
// dnsmessage makes (a differential fuzz test holds the two together), so
// the common path neither copies dnsmessage's 256-byte Question nor
// allocates its errors. At Full depth dnsmessage then walks every question
// and record. Header counts are treated as hostile: nothing is allocated
// from them, and at most 10 compression pointers are followed per name.
func ClassifyDNS(payload []byte, cut bool, depth Depth, info *DNSInfo) DNSVerdict {
	fail := NotDNS
	if cut {
		fail = Truncated
	}
	if !parseHeaderQuestion(payload, info) {
		return fail
	}
	if depth == HeaderQuestion {
		return DNS
	}
	var p dnsmessage.Parser
	if _, err := p.Start(payload); err != nil {
		return fail
	}
	for {
		_, err := p.Question()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return fail
		}
	}
	if err := skipRest(&p); err != nil {
		return fail
	}
	return DNS
}

// parseHeaderQuestion reads the header and, when the header announces
// questions, the first question into info. It accepts exactly what
// dnsmessage's Parser.Start and first Parser.Question accept: label bounds,
// no dots inside a label, at most 10 pointers, names under 254 bytes,
// reserved label types refused, room for the type and class. QHash mixes
// the presentation name, type and class.
func parseHeaderQuestion(msg []byte, info *DNSInfo) bool {
	info.HasQuestion = false
	if len(msg) < 12 {
		return false
	}
	info.ID = uint16(msg[0])<<8 | uint16(msg[1])
	info.Response = msg[2]&0x80 != 0
	info.Opcode = msg[2] >> 3 & 0x0f
	info.RCode = msg[3] & 0x0f
	if msg[4] == 0 && msg[5] == 0 {
		return true
	}
	name := &info.QName.Data
	off, next, ptrs, n := 12, -1, 0, 0
	for {
		if off >= len(msg) {
			return false
		}
		c := int(msg[off])
		off++
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off
				}
				if next+4 > len(msg) {
					return false
				}
				if n == 0 {
					name[0] = '.'
					n = 1
				}
				info.QName.Length = uint8(n)
				t := msg[next : next+4]
				info.QType = uint16(t[0])<<8 | uint16(t[1])
				info.QClass = uint16(t[2])<<8 | uint16(t[3])
				info.QHash = HashBytes(name[:n], uint64(binary.BigEndian.Uint32(t)))
				info.HasQuestion = true
				return true
			}
			end := off + c
			if end > len(msg) || n+c >= 254 {
				return false
			}
			// Labels are short: a byte loop beats IndexByte plus copy,
			// two calls per label.
			for _, b := range msg[off:end] {
				if b == '.' {
					return false
				}
				name[n] = b
				n++
			}
			name[n] = '.'
			n++
			off = end
		case 0xc0:
			if off >= len(msg) {
				return false
			}
			if ptrs == 0 {
				next = off + 1
			}
			if ptrs++; ptrs > 10 {
				return false
			}
			off = (c^0xc0)<<8 | int(msg[off])
		default:
			return false
		}
	}
}

// HashBytes mixes b, eight bytes at a time, with seed: a fast
// non-cryptographic hash for matching equal byte strings, such as a
// question (seeded with its type and class) or a repeated payload.
func HashBytes(b []byte, seed uint64) uint64 {
	h := uint64(len(b))*0x9e3779b97f4a7c15 ^ seed
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xbf58476d1ce4e5b9
		h ^= h >> 29
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	h = (h ^ tail) * 0x94d049bb133111eb
	return h ^ h>>31
}

func skipRest(p *dnsmessage.Parser) error {
	if err := p.SkipAllQuestions(); err != nil {
		return err
	}
	if err := p.SkipAllAnswers(); err != nil {
		return err
	}
	if err := p.SkipAllAuthorities(); err != nil {
		return err
	}
	return p.SkipAllAdditionals()
}

// RCodeName is the mnemonic of a DNS response code.
func RCodeName(rc uint8) string {
	names := [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}
	if int(rc) < len(names) {
		return names[rc]
	}
	return "RCODE" + itoa(int(rc))
}

// TypeName is the mnemonic of a DNS query type.
func TypeName(t uint16) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 12:
		return "PTR"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 28:
		return "AAAA"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 41:
		return "OPT"
	case 43:
		return "DS"
	case 46:
		return "RRSIG"
	case 48:
		return "DNSKEY"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 252:
		return "AXFR"
	case 255:
		return "ANY"
	}
	return "TYPE" + itoa(int(t))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
