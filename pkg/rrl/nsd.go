package rrl

import "net/netip"

// NSD is NSD's response rate limiting, transcribed from NLnetLabs/nsd
// rrl.c (commit 6ed8470b, 2026): rrl_process_query(), examine_query(),
// rrl_classify(), rrl_update(), rrl_attenuate_bucket(), rrl_slip(); the
// defaults from rrl.h (RRL_LIMIT 400 = 2 x rrl-ratelimit 200, RRL_SLIP 2,
// prefixes /24 and /64) and nsd.conf(5).
//
// server_process_query_udp() runs it on every UDP response NSD sends,
// FORMERR to a message that does not parse included. A bucket is keyed by
// the client's prefix, the response's type (nxdomain, error, referral,
// nodata, positive, ...) and a name: the query name for positive
// answers, the zone's apex for NXDOMAIN, NODATA and errors, the
// delegation point for referrals. Each second's count is smoothed as
// rate = rate/2 + count; a response is limited when
// max(count + rate/2, rate) reaches 2 x rrl-ratelimit. A limited response
// is slipped (sent truncated) with probability 1/rrl-slip (2 by default,
// so one in two at random), else discarded; rrl-slip 0 discards all.
//
// The replay does not know the zone a response came from: it keys
// NXDOMAIN, NODATA, errors and referrals by the query name's parent
// domain (two last labels), and errors to unparsed messages by no name,
// as NSD does when it has no zone.
type NSD struct {
	RateLimit  int // responses a second; 0 disables; default 200
	Slip       int // default 2
	IPv4Prefix int // default 24
	IPv6Prefix int // default 64

	buckets map[nsdKey]*nsdBucket
}

// NSDDefaults is NSD with its built-in RRL settings.
func NSDDefaults() NSD { return NSD{RateLimit: 200, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 64} }

type nsdKey struct {
	source netip.Addr
	kind   Kind
	name   string
}

type nsdBucket struct {
	rate, counter uint32
	stamp         int64
}

// Decide implements Limiter.
func (n *NSD) Decide(r *Response) Decision {
	if n.RateLimit == 0 {
		return Decision{}
	}
	if n.buckets == nil {
		n.buckets = map[nsdKey]*nsdBucket{}
	}
	k := nsdKey{source: maskAddr(r.Client, n.IPv4Prefix, n.IPv6Prefix), kind: r.Kind}
	switch {
	case r.Unparsed:
	case r.Kind == Answer:
		k.name = lowerName(r.QName)
	default:
		k.name = parentDomain(lowerName(r.QName))
	}
	lm := uint32(2 * n.RateLimit)
	now := r.Time / 1e9
	b := n.buckets[k]
	var got uint32
	switch {
	case b == nil:
		n.buckets[k] = &nsdBucket{counter: 1, stamp: now}
		got = 1
	default:
		switch d := now - b.stamp; {
		case d == 1:
			b.rate = b.rate/2 + b.counter
			b.counter = 1
		case d > 1:
			// rrl_attenuate_bucket()
			if d > 16 {
				b.rate = 0
			} else {
				b.rate >>= d
				b.rate += b.counter >> (d - 1)
			}
			b.counter = 1
		case d < 0:
			b.rate, b.counter = 0, 1
		default:
			b.counter++
		}
		b.stamp = now
		got = b.rate
		if b.counter > b.rate/2 {
			got = b.counter + b.rate/2
		}
	}
	if got >= lm {
		return Decision{Limited: true, Slip: slipChance(n.Slip)}
	}
	return Decision{}
}

// parentDomain stands in for a zone apex: the last two labels of name.
func parentDomain(name string) string {
	dots := 0
	for i := len(name) - 2; i >= 0; i-- {
		if name[i] == '.' {
			dots++
			if dots == 2 {
				return name[i+1:]
			}
		}
	}
	return name
}
