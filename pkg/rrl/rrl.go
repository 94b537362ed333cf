// Package rrl replays a DNS server's responses through the response rate
// limiting (RRL) algorithms of BIND 9, Knot DNS and NSD, to tell whether
// and when each would have dropped a machine-pong loop's responses.
//
// A loop with one packet in flight dies at its first dropped response. A
// response that is "slipped" is sent truncated (TC=1) instead: the
// client's service answers that too, so a slip keeps the loop going.
//
// Each algorithm is a transcription of the server's source, cited at its
// type; time is the capture's, not a clock. What the replay cannot know
// is said where it matters: the zone a response came from (NSD keys
// NXDOMAIN, NODATA and errors by the zone's apex), traffic to addresses
// outside the prefix the caller replays (Knot also counts /18 and /20 for
// IPv4, /32 and /48 for IPv6), and the random choices of Knot and NSD
// between slipping and dropping, given as probabilities.
package rrl

import (
	"net/netip"
	"strings"
)

// Kind is how the servers classify a response for rate limiting.
type Kind uint8

// Response kinds.
const (
	Answer   Kind = iota // NOERROR with answers
	Referral             // NOERROR, no answer, not authoritative: a delegation
	NoData               // NOERROR, no answer, authoritative
	NXDomain             // NXDOMAIN
	Error                // any other rcode: FORMERR, SERVFAIL, REFUSED, NOTIMP, ...
)

var kindNames = [...]string{"answer", "referral", "nodata", "nxdomain", "error"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// RCode values the algorithms look at.
const (
	RCodeNoError  = 0
	RCodeFormErr  = 1
	RCodeNXDomain = 3
)

// Classify tells the kind of a response from its header: rcode, the AA
// flag and the answer count.
func Classify(rcode uint8, authoritative bool, answers uint16) Kind {
	switch {
	case rcode == RCodeNXDomain:
		return NXDomain
	case rcode != RCodeNoError:
		return Error
	case answers > 0:
		return Answer
	case authoritative:
		return NoData
	}
	return Referral
}

// Response is one response of the server, as the replay sees it.
type Response struct {
	Time   int64      // nanoseconds since the Unix epoch
	Client netip.Addr // the client it went to
	Kind   Kind
	RCode  uint8
	// QName (any case), QType and QClass are the question it answers;
	// QName is "" when the response carries none.
	QName  string
	QType  uint16
	QClass uint16
	// Unparsed reports that the request this answers was not a DNS
	// message: the server answered FORMERR from its parse-error path.
	Unparsed bool
}

// Decision is what an algorithm does with one response.
type Decision struct {
	// Skipped: the algorithm never sees this response (see Unparsed).
	Skipped bool
	// Limited: over the limit, so dropped or slipped.
	Limited bool
	// Slip is the probability that a limited response is slipped (sent
	// truncated) rather than dropped: 0 or 1 where the server decides by
	// a counter (BIND), 1/slip where it draws at random (Knot, NSD).
	Slip float64
}

// Limiter is one server's rate limiting, with its state. Decide must be
// called with responses in time order.
type Limiter interface {
	Decide(r *Response) Decision
}

// maskAddr keeps the first bits of a; IPv4-mapped addresses are IPv4.
func maskAddr(a netip.Addr, v4, v6 int) netip.Addr {
	a = a.Unmap()
	bits := v6
	if a.Is4() {
		bits = v4
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return a
	}
	return p.Addr()
}

// lowerName is the name the servers hash: DNS names compare without case.
func lowerName(n string) string { return strings.ToLower(n) }
