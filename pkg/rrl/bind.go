package rrl

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
//
// The table holds at most maxEntries buckets, the least recently used
// recycled when it is full, as get_entry() does at max-table-size; a
// recycled bucket starts full, as one never used (ts_valid false).
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

	entries table[bindKey, bindEntry]
	hint    int32 // the slot of the last response's key, +1
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
	prefix prefix
	qname  uint64 // NameKeys, as make_key() hashes the name
	family uint8
	rtype  bindType
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
	v := b.AllPerSecond
	switch t {
	case bindQuery:
		return b.ResponsesPerSecond
	case bindReferral:
		v = b.ReferralsPerSecond
	case bindNoData:
		v = b.NoDataPerSecond
	case bindNXDomain:
		v = b.NXDomainsPerSecond
	case bindError:
		v = b.ErrorsPerSecond
	case bindAll:
		return v
	}
	if v < 0 {
		return b.ResponsesPerSecond
	}
	return v
}

// Decide implements Limiter.
func (b *BIND) Decide(r *Response) Decision {
	if r.Kind == Error && r.Unparsed {
		return Decision{Skipped: true}
	}
	var k bindKey
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
	if b.rate(k.rtype) == 0 && b.AllPerSecond == 0 {
		return Decision{} // no limit: nothing to count
	}
	now := r.Time / 1e9
	w, fam := r.client()
	k.prefix, k.family = maskWords(w, fam, b.IPv4Prefix, b.IPv6Prefix)
	// make_key() hashes the name when the caller passes one; the error
	// path (ns_client_error) passes none.
	if !(r.Kind == Error && r.RCode == RCodeFormErr) {
		k.qname = r.QName
	}
	res := b.debit(k, now)
	if b.AllPerSecond != 0 {
		if all := b.debit(bindKey{rtype: bindAll, prefix: k.prefix, family: k.family}, now); all != bindOK {
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
	i, _ := b.entries.get(k, b.hint-1) // a fresh entry is one never used
	b.hint = i + 1
	e := b.entries.val(i)
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

// reset forgets every bucket, keeping the table's memory.
func (b *BIND) reset() { b.entries.reset(); b.hint = 0 }
