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
//
// # Streaming, in bounded memory
//
// A [Replay] takes the responses one at a time, in capture order, and
// keeps none of them: per scenario, the limiter's state, a few counters
// and the (at most three) responses its verdict names. [Replay.Add] does
// a constant amount of work and allocates nothing once the limiters'
// tables are warm, so a loop of 30,000 responses a second for an hour
// needs no more memory than a loop of a second. Names are not strings:
// the caller hashes each question name once with [NameKeys].
//
// A limiter's table holds at most 16,384 entries (maxEntries), as the
// servers bound theirs, and below their defaults: BIND's max-table-size
// (default 20,000) recycles its least recently used entry when full
// (lib/dns/rrl.c get_entry()); NSD has rrl-size buckets (default
// 1,000,000), a new key taking over the bucket its hash falls in (rrl.c
// rrl_update()); Knot's KRU is a fixed table (table-size, default
// 524,288) that keeps the most loaded sources. Each table here grows on
// demand up to its cap, then evicts its least recently used entry; an
// evicted key that comes back starts afresh, as a new one does: a full
// BIND bucket, an NSD count of one, a Knot load of zero.
//
// A table at its cap holds 2.1 MB (Knot) to 2.75 MB (BIND), and a replay
// of the nine Scenarios about 19 MB (BIND's defaults count nothing),
// measured with Go 1.26; most loops use a few entries (one name, one
// client prefix) and a few kilobytes. Until a table is full the replay
// gives the verdicts of one keeping every key (two names whose 64-bit
// keys collide aside). Once it is full, a key is evicted only after
// 16,384 other keys were used since its last response, which a loop
// answering several times a second does not allow unless its prefix gets
// thousands of other names a second; a server with a smaller table, or
// whose own traffic fills it, could forget the loop's key sooner.
package rrl

import (
	"encoding/binary"
	"net/netip"
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
	// QName and Zone are the question's name as NameKeys gives them
	// (the whole name, and its last two labels), 0 when the response
	// carries no question; QType and QClass are the rest of the question.
	QName  uint64
	Zone   uint64
	QType  uint16
	QClass uint16
	// Unparsed reports that the request this answers was not a DNS
	// message: the server answered FORMERR from its parse-error path.
	Unparsed bool

	// splitOf split into words, once for every limiter that decides the
	// response while Client is splitOf.
	splitOf netip.Addr
	words   prefix
	family  uint8
}

// client is r.Client's words and family, split once.
func (r *Response) client() (prefix, uint8) {
	if r.family == 0 || r.Client != r.splitOf {
		r.words, r.family = splitAddr(r.Client)
		r.splitOf = r.Client
	}
	return r.words, r.family
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

// prefix is a client address with its last bits cleared, as a map key
// without pointers (a netip.Addr holds one, for its zone): the address's
// 16-byte form. Keys hold its family next to it (see maskAddr), where it
// packs with their small fields.
type prefix struct{ hi, lo uint64 }

// maskAddr keeps the first v4 (IPv4) or v6 (IPv6) bits of a, as
// netip.Addr.Prefix does, and tells its family: 4, 6, or 0 for the zero
// Addr. IPv4-mapped addresses are IPv4, and a zone is dropped. A prefix
// length out of range keeps the whole address.
func maskAddr(a netip.Addr, v4, v6 int) (prefix, uint8) {
	p, family := splitAddr(a)
	return maskWords(p, family, v4, v6)
}

// maskWords is maskAddr of an address already split.
func maskWords(p prefix, family uint8, v4, v6 int) (prefix, uint8) {
	switch family {
	case 4:
		if v4 < 0 || v4 > 32 {
			v4 = 32
		}
		return p.mask(96 + v4), family
	case 6:
		if v6 < 0 || v6 > 128 {
			v6 = 128
		}
		return p.mask(v6), family
	}
	return p, family
}

// splitAddr is a, unmapped, in 16 bytes (IPv4 as ::ffff:a.b.c.d), and
// its family.
func splitAddr(a netip.Addr) (p prefix, family uint8) {
	a = a.Unmap()
	switch {
	case a.Is4():
		family = 4
	case a.Is6():
		family = 6
	default:
		return p, 0
	}
	b := a.As16()
	return prefix{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, family
}

// mask keeps the first bits of p's 128, 0 <= bits <= 128.
func (p prefix) mask(bits int) prefix {
	switch {
	case bits <= 0:
		return prefix{}
	case bits < 64:
		return prefix{p.hi &^ (1<<(64-bits) - 1), 0}
	case bits < 128:
		return prefix{p.hi, p.lo &^ (1<<(128-bits) - 1)}
	}
	return p
}
