package rrl

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
//
// NSD's buckets are a fixed array of rrl-size (1,000,000), a key taking
// the bucket of its hash from whatever key was there, which starts again
// at a count of one. The replay holds at most maxEntries buckets and
// recycles the least recently used, which starts the same way.
type NSD struct {
	RateLimit  int // responses a second; 0 disables; default 200
	Slip       int // default 2
	IPv4Prefix int // default 24
	IPv6Prefix int // default 64

	buckets table[nsdKey, nsdBucket]
	hint    int32 // the slot of the last response's key, +1
}

// NSDDefaults is NSD with its built-in RRL settings.
func NSDDefaults() NSD { return NSD{RateLimit: 200, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 64} }

type nsdKey struct {
	source prefix
	name   uint64 // the name or the zone of NameKeys; 0 for none
	family uint8
	kind   Kind
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
	k := nsdKey{kind: r.Kind}
	w, fam := r.client()
	k.source, k.family = maskWords(w, fam, n.IPv4Prefix, n.IPv6Prefix)
	switch {
	case r.Unparsed:
	case r.Kind == Answer:
		k.name = r.QName
	default:
		k.name = r.Zone // the name's parent domain (NameKeys)
	}
	lm := uint32(2 * n.RateLimit)
	now := r.Time / 1e9
	i, fresh := n.buckets.get(k, n.hint-1)
	n.hint = i + 1
	b := n.buckets.val(i)
	var got uint32
	switch {
	case fresh:
		*b = nsdBucket{counter: 1, stamp: now}
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

// reset forgets every bucket, keeping the table's memory.
func (n *NSD) reset() { n.buckets.reset(); n.hint = 0 }
