package rrl

import "net/netip"

// BIND is BIND 9's response rate limiting, the rate-limit { } clause of
// named.conf, transcribed from isc-projects/bind9 lib/dns/rrl.c
// (commit bf74540d, 2026): dns_rrl(), get_entry(), make_key(),
// debit_rrl_entry(); the defaults from bin/named/server.c configure_rrl();
// how errors are limited from lib/ns/client.c ns_client_error().
//
// Each response debits a token bucket keyed by the client's prefix
// (ipv4-prefix-length 24, ipv6-prefix-length 56), the response type, and
// for answers, referrals and NODATA the query name (answers also the
// type; errors and NXDOMAIN, the name only when the query path sent
// them). A bucket earns its type's per-second rate each whole second of
// request time, holds at most that rate, and goes no lower than
// -window x rate. A response finding the bucket empty is limited: every
// slip-th one (slip 2 by default; 0 never) is sent truncated, the others
// are dropped. An error response is never slipped: ns_client_error()
// drops it ("Some error responses cannot be 'slipped'").
//
// A FORMERR to a message that does not parse is sent by ns_client_error()
// before a view is chosen, and RRL is configured per view: such responses
// are never rate limited (client->inner.view is NULL). That is the seed
// incident's case: a TFTP error taken for a query.
type BIND struct {
	ResponsesPerSecond int // 0: no limit (the default)
	// The per-type rates; -1 takes ResponsesPerSecond, as named does.
	ErrorsPerSecond    int
	NXDomainsPerSecond int
	ReferralsPerSecond int
	NoDataPerSecond    int
	AllPerSecond       int // 0: no limit
	Window             int // seconds, 1..3600; default 15
	Slip               int // default 2
	IPv4Prefix         int // default 24
	IPv6Prefix         int // default 56

	entries map[bindKey]*bindEntry
}

// BINDDefaults is rate-limit { } with nothing set.
func BINDDefaults() BIND {
	return BIND{ErrorsPerSecond: -1, NXDomainsPerSecond: -1, ReferralsPerSecond: -1, NoDataPerSecond: -1,
		Window: 15, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56}
}

type bindType uint8

const (
	bindQuery bindType = iota
	bindReferral
	bindNoData
	bindNXDomain
	bindError
	bindAll
)

type bindKey struct {
	rtype  bindType
	prefix netip.Addr
	qname  string
	qtype  uint16
	qclass uint16
}

type bindEntry struct {
	responses int
	slipCnt   int
	ts        int64 // seconds
	tsValid   bool
}

func (b *BIND) rate(t bindType) int {
	pick := func(v int) int {
		if v < 0 {
			return b.ResponsesPerSecond
		}
		return v
	}
	switch t {
	case bindQuery:
		return b.ResponsesPerSecond
	case bindReferral:
		return pick(b.ReferralsPerSecond)
	case bindNoData:
		return pick(b.NoDataPerSecond)
	case bindNXDomain:
		return pick(b.NXDomainsPerSecond)
	case bindError:
		return pick(b.ErrorsPerSecond)
	}
	return b.AllPerSecond
}

// Decide implements Limiter.
func (b *BIND) Decide(r *Response) Decision {
	if r.Kind == Error && r.Unparsed {
		return Decision{Skipped: true}
	}
	if b.entries == nil {
		b.entries = map[bindKey]*bindEntry{}
	}
	now := r.Time / 1e9
	k := bindKey{prefix: maskAddr(r.Client, b.IPv4Prefix, b.IPv6Prefix)}
	switch r.Kind {
	case Answer:
		k.rtype, k.qtype, k.qclass = bindQuery, r.QType, r.QClass&0xff
	case Referral:
		k.rtype, k.qclass = bindReferral, r.QClass&0xff
	case NoData:
		k.rtype, k.qclass = bindNoData, r.QClass&0xff
	case NXDomain:
		k.rtype = bindNXDomain
	default:
		k.rtype = bindError
	}
	// make_key() hashes the name when the caller passes one; the error
	// path (ns_client_error) passes none.
	if !(r.Kind == Error && r.RCode == RCodeFormErr) {
		k.qname = lowerName(r.QName)
	}
	res := b.debit(k, now)
	if b.AllPerSecond != 0 {
		if all := b.debit(bindKey{rtype: bindAll, prefix: k.prefix}, now); all != bindOK {
			res = all
		}
	}
	switch {
	case res == bindOK:
		return Decision{}
	case res == bindSlip && r.Kind != Error:
		return Decision{Limited: true, Slip: 1}
	}
	return Decision{Limited: true}
}

type bindResult uint8

const (
	bindOK bindResult = iota
	bindSlip
	bindDrop
)

// debit is debit_rrl_entry() without qps scaling (qps-scale unset, the
// default).
func (b *BIND) debit(k bindKey, now int64) bindResult {
	rate := b.rate(k.rtype)
	if rate == 0 {
		return bindOK
	}
	e := b.entries[k]
	if e == nil {
		e = &bindEntry{}
		b.entries[k] = e
	}
	window := int64(max(b.Window, 1))
	// get_age(): an entry never used is infinitely old; a timestamp in
	// the future (reordered packets) counts as now.
	age := window + 1
	if e.tsValid {
		age = max(now-e.ts, 0)
	}
	if age > 0 {
		if age > window {
			e.responses, e.slipCnt = rate, 0
		} else {
			e.responses += rate * int(age)
			if e.responses > rate {
				e.responses, e.slipCnt = rate, 0
			}
		}
	}
	e.ts, e.tsValid = now, true
	e.responses--
	if e.responses >= 0 {
		return bindOK
	}
	if least := -int(window) * rate; e.responses < least {
		e.responses = least
	}
	if b.Slip != 0 && k.rtype != bindAll {
		if e.slipCnt == 0 {
			e.slipCnt++
			if e.slipCnt >= b.Slip {
				e.slipCnt = 0
			}
			return bindSlip
		}
		e.slipCnt++
		if e.slipCnt >= b.Slip {
			e.slipCnt = 0
		}
	}
	return bindDrop
}
