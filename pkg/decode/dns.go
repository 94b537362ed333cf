package decode

import (
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
// Header counts are treated as hostile: nothing is allocated from them, and
// dnsmessage follows at most 10 compression pointers per name.
func ClassifyDNS(payload []byte, cut bool, depth Depth, info *DNSInfo) DNSVerdict {
	info.HasQuestion = false
	fail := NotDNS
	if cut {
		fail = Truncated
	}
	if !headerQuestionOK(payload) {
		// Rejected without dnsmessage, whose errors allocate: loop
		// packets take this path thousands of times a second.
		return fail
	}
	var p dnsmessage.Parser
	h, err := p.Start(payload)
	if err != nil {
		return fail
	}
	info.ID = h.ID
	info.Response = h.Response
	info.Opcode = uint8(h.OpCode)
	info.RCode = uint8(h.RCode) & 0x0f
	q, err := p.Question()
	switch err {
	case nil:
		info.HasQuestion = true
		info.QName = q.Name
		info.QType = uint16(q.Type)
		info.QClass = uint16(q.Class)
		info.QHash = questionHash(&q)
	case dnsmessage.ErrSectionDone:
		// No question: a FORMERR or NOTIMP answer may carry none.
		if depth == Full {
			if err := skipRest(&p); err != nil {
				return fail
			}
		}
		return DNS
	default:
		return fail
	}
	if depth == HeaderQuestion {
		return DNS
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

// headerQuestionOK reports whether msg has a full header and, when it
// announces questions, a first question that dnsmessage will accept: the
// same checks as dnsmessage's Name.unpack (label bounds, no dots inside a
// label, at most 10 pointers, names under 254 bytes, reserved label types
// refused) plus room for the type and class.
func headerQuestionOK(msg []byte) bool {
	if len(msg) < 12 {
		return false
	}
	if msg[4] == 0 && msg[5] == 0 {
		return true
	}
	off, next, ptrs, nameLen := 12, -1, 0, 0
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
				return next+4 <= len(msg)
			}
			end := off + c
			if end > len(msg) || nameLen+c >= 254 {
				return false
			}
			for _, v := range msg[off:end] {
				if v == '.' {
					return false
				}
			}
			nameLen += c + 1
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

// questionHash is FNV-1a over the name bytes, type and class.
func questionHash(q *dnsmessage.Question) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	n := int(q.Name.Length)
	if n > len(q.Name.Data) {
		n = len(q.Name.Data)
	}
	for _, c := range q.Name.Data[:n] {
		h ^= uint64(c)
		h *= prime
	}
	for _, c := range [4]byte{byte(q.Type >> 8), byte(q.Type), byte(q.Class >> 8), byte(q.Class)} {
		h ^= uint64(c)
		h *= prime
	}
	return h
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
