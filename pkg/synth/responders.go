package synth

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// A Responder is one side of a ping-pong: a UDP service that computes the
// payload it sends from the payload it just received and its own state.
// Responders made by this package keep state (a chargen's position, a
// QOTD's next quote), so give each side its own.
type Responder interface {
	// Respond returns the payload sent in reaction to rx at time now;
	// nil means the service stays silent (the exchange ends there).
	// rx is nil when the service speaks first. Random choices come
	// from r, the scenario's seeded source.
	Respond(rx []byte, now time.Time, r *rand.Rand) []byte
}

// ResponderFunc adapts a function to Responder.
type ResponderFunc func(rx []byte, now time.Time, r *rand.Rand) []byte

// Respond calls f.
func (f ResponderFunc) Respond(rx []byte, now time.Time, r *rand.Rand) []byte {
	return f(rx, now, r)
}

// Well-known UDP ports of the services this package speaks.
const (
	PortEcho     = 7
	PortSystat   = 11
	PortDaytime  = 13
	PortQOTD     = 17
	PortChargen  = 19
	PortDNS      = 53
	PortTFTP     = 69
	PortTime     = 37
	PortNTP      = 123
	PortSNMP     = 161
	PortTFTPAlt  = 1069
	chargenWidth = 72
	chargenChars = 95 // the printable ASCII characters, ' ' to '~'
)

// Echo is the echo service (RFC 862): it answers every datagram with a
// copy of it.
func Echo() Responder {
	return ResponderFunc(func(rx []byte, _ time.Time, _ *rand.Rand) []byte {
		return append([]byte{}, rx...)
	})
}

// ChargenLine returns line i of the character generator pattern (RFC 864):
// 72 consecutive characters of the 95 printable ASCII characters, starting
// i characters further along the ring than line 0 (which starts with the
// space), then CR LF.
func ChargenLine(i int) []byte {
	b := make([]byte, chargenWidth+2)
	start := ((i % chargenChars) + chargenChars) % chargenChars
	for k := range chargenWidth {
		b[k] = byte(' ' + (start+k)%chargenChars)
	}
	b[chargenWidth], b[chargenWidth+1] = '\r', '\n'
	return b
}

// Chargen is the character generator service (RFC 864) over UDP: every
// datagram it receives is answered with the next lines of the rotating
// pattern, lines of them per datagram (74 bytes each; values below 1 mean
// 1). Chargen(1) is BSD inetd's one line per datagram; the next answer
// starts where the last one stopped.
func Chargen(lines int) Responder {
	lines = max(lines, 1)
	next := 0
	return ResponderFunc(func(_ []byte, _ time.Time, _ *rand.Rand) []byte {
		b := make([]byte, 0, lines*(chargenWidth+2))
		for range lines {
			b = append(b, ChargenLine(next)...)
			next++
		}
		return b
	})
}

// ChargenRFC is chargen as RFC 864 words it for UDP: each answer holds a
// random number (1 to 512) of characters of the continuous stream that
// Chargen's lines make, so lines are cut anywhere.
func ChargenRFC() Responder {
	line, pos := 0, 0
	return ResponderFunc(func(_ []byte, _ time.Time, r *rand.Rand) []byte {
		n := 1 + r.IntN(512)
		b := make([]byte, 0, n)
		for len(b) < n {
			l := ChargenLine(line)
			k := min(len(l)-pos, n-len(b))
			b = append(b, l[pos:pos+k]...)
			pos += k
			if pos == len(l) {
				line, pos = line+1, 0
			}
		}
		return b
	})
}

// DaytimeString returns t in the daytime protocol's (RFC 867) example
// format, "Monday, February 8, 2016 13:00:04-GMT", then CR LF.
func DaytimeString(t time.Time) []byte {
	return []byte(t.UTC().Format("Monday, January 2, 2006 15:04:05") + "-GMT\r\n")
}

// Daytime is the daytime service (RFC 867): it answers every datagram
// with the current time as DaytimeString, on a clock skew ahead of the
// capture's (two hosts' clocks rarely agree). The answer changes every
// second.
func Daytime(skew time.Duration) Responder {
	return ResponderFunc(func(_ []byte, now time.Time, _ *rand.Rand) []byte {
		return DaytimeString(now.Add(skew))
	})
}

// TimeSeconds returns t as the time protocol (RFC 868) sends it: the
// seconds since 1900-01-01 00:00 UTC, 4 bytes big-endian.
func TimeSeconds(t time.Time) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(t.Unix()+ntpEpochOffset))
	return b
}

// TimeProtocol is the time service (RFC 868) over UDP: every datagram is
// answered with TimeSeconds of the service's clock (skew ahead of the
// capture's).
func TimeProtocol(skew time.Duration) Responder {
	return ResponderFunc(func(_ []byte, now time.Time, _ *rand.Rand) []byte {
		return TimeSeconds(now.Add(skew))
	})
}

// ActiveUsersList is what the Active Users service (systat, RFC 866)
// sends: the users logged in, one a line.
const ActiveUsersList = "root     console  Feb  8 09:12\r\noperator pts/0    Feb  8 12:41 (192.0.2.250)\r\n"

// ActiveUsers is the Active Users service (RFC 866) over UDP: every
// datagram is answered with ActiveUsersList, whatever it held.
func ActiveUsers() Responder {
	return Fixed([]byte(ActiveUsersList))
}

// Quotes returns the quotes the QOTD service serves: public-domain
// proverbs and sayings, each shorter than 512 bytes and ending in CR LF.
func Quotes() []string {
	return []string{
		"A stitch in time saves nine.\r\n",
		"Well begun is half done.\r\n",
		"The early bird catches the worm, but the second mouse gets the cheese.\r\n",
		"Measure twice, cut once.\r\n",
		"He who hesitates is lost.\r\n",
		"Know thyself. - inscription at Delphi\r\n",
		"The unexamined life is not worth living. - Socrates\r\n",
		"Whatever is worth doing at all, is worth doing well. - Lord Chesterfield, 1746\r\n",
		"It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. - Jane Austen, 1813\r\n",
		"Lost time is never found again. - Benjamin Franklin\r\n",
		"Do not count your chickens before they are hatched.\r\n",
		"Fortune favours the bold. - Terence\r\n",
		"All happy families are alike; each unhappy family is unhappy in its own way. - Leo Tolstoy, Anna Karenina\r\n",
		"Many a little makes a mickle.\r\n",
		"\"The time has come,\" the Walrus said,\r\n\"To talk of many things:\r\nOf shoes - and ships - and sealing-wax -\r\nOf cabbages - and kings -\r\nAnd why the sea is boiling hot -\r\nAnd whether pigs have wings.\"\r\n - Lewis Carroll, 1871\r\n",
		"A journey of a thousand miles begins with a single step. - Laozi\r\n",
	}
}

// QOTD is the quote of the day service (RFC 865): every datagram is
// answered with a quote from Quotes, in turn, or picked at random when
// random is set.
func QOTD(random bool) Responder {
	quotes := Quotes()
	next := 0
	return ResponderFunc(func(_ []byte, _ time.Time, r *rand.Rand) []byte {
		i := next % len(quotes)
		if random {
			i = r.IntN(len(quotes))
		}
		next++
		return []byte(quotes[i])
	})
}

// Fixed answers every datagram with the same payload.
func Fixed(payload []byte) Responder {
	return ResponderFunc(func(_ []byte, _ time.Time, _ *rand.Rand) []byte {
		return append([]byte{}, payload...)
	})
}

// TFTPErrorReply is a TFTP server that answers every datagram with the
// ERROR packet TFTPError(code, msg): code 4 "Illegal TFTP operation" (or
// the seed's "RRQ must be sent first") for a stray packet on port 69,
// code 5 "Unknown transfer ID" on a transfer port.
func TFTPErrorReply(code uint16, msg string) Responder {
	return Fixed(TFTPError(code, msg))
}

// TFTP error messages.
const (
	TFTPMsgIllegalOp  = "Illegal TFTP operation"
	TFTPMsgUnknownTID = "Unknown transfer ID"
)

// DNSErrorReply returns the error response a name server sends to rx: it
// keeps rx's ID (the first two bytes), opcode and RD bit, sets QR and the
// given rcode (layers.DNSResponseCodeFormErr, ServFail, Refused...). With
// echoQuestion, and when rx holds a well-formed first question, the
// response repeats that question (QDCOUNT 1); otherwise it is the 12-byte
// header alone.
func DNSErrorReply(rx []byte, rcode layers.DNSResponseCode, echoQuestion bool) []byte {
	b := FormErr(rx)
	b[3] = byte(rcode) & 0x0f
	if !echoQuestion || len(rx) < 12 || binary.BigEndian.Uint16(rx[4:6]) == 0 {
		return b
	}
	// The first question: labels up to the root, then type and class.
	i := 12
	for i < len(rx) && rx[i] != 0 {
		if rx[i]&0xc0 != 0 {
			return b // compressed or extended label: not echoed
		}
		i += 1 + int(rx[i])
	}
	if i+5 > len(rx) {
		return b
	}
	b[5] = 1
	return append(b, rx[12:i+5]...)
}

// DNSError is a name server answering everything it receives (responses
// too, which is the bug behind DNS <-> DNS loops) with DNSErrorReply.
func DNSError(rcode layers.DNSResponseCode, echoQuestion bool) Responder {
	return ResponderFunc(func(rx []byte, _ time.Time, _ *rand.Rand) []byte {
		return DNSErrorReply(rx, rcode, echoQuestion)
	})
}

// NTP mode 7 (ntpd's private mode) error codes.
const (
	NTPErrImpl   uint8 = 1 // incompatible implementation number
	NTPErrReq    uint8 = 2 // unimplemented request code
	NTPErrFmt    uint8 = 3 // format error
	NTPErrNoData uint8 = 4
	NTPErrAuth   uint8 = 7
)

// NTPMode7 returns the 8-byte header of an ntpd mode 7 (private) packet:
// R (response) bit as given, version 2, implementation impl, request
// code req, and the error code in the top 4 bits of err_nitems with no
// items. ntpd's req_ack sends exactly this for an error.
func NTPMode7(response bool, impl, req, errCode uint8) []byte {
	b := make([]byte, 8)
	b[0] = 2<<3 | 7
	if response {
		b[0] |= 0x80
	}
	b[2], b[3] = impl, req
	b[4] = errCode << 4
	return b
}

// NTPMode7Error is ntpd before 4.2.4p8 answering mode 7 packets, error
// responses included (CVE-2009-3563): it returns NTPMode7(true, ...) with
// rx's version, implementation and request code and the error code
// errCode.
func NTPMode7Error(errCode uint8) Responder {
	return ResponderFunc(func(rx []byte, _ time.Time, _ *rand.Rand) []byte {
		var impl, req uint8 = 3, 42 // IMPL_XNTPD, REQ_MON_GETLIST_1
		vn := uint8(2)
		if len(rx) >= 4 {
			impl, req = rx[2], rx[3]
			vn = rx[0] >> 3 & 7
		}
		b := NTPMode7(true, impl, req, errCode)
		b[0] = 0x80 | vn<<3 | 7
		return b
	})
}

// NTPServer answers NTP client (mode 3) packets with server (mode 4)
// packets timed now, echoing the client's transmit timestamp as the
// origin timestamp; anything else gets no answer.
func NTPServer() Responder {
	return ResponderFunc(func(rx []byte, now time.Time, _ *rand.Rand) []byte {
		if len(rx) < 48 || rx[0]&7 != NTPModeClient {
			return nil
		}
		b := NTP(NTPModeServer, now)
		copy(b[24:32], rx[40:48])
		return b
	})
}
