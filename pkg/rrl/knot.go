package rrl

import (
	"math"
	"net/netip"
)

// Knot is Knot DNS's rrl module (mod-rrl) since 3.4, transcribed from
// CZ-NIC/knot src/knot/modules/rrl/ (commit 242eeaa1, 2026): rrl.c
// (ratelimit_apply, rrl_conf defaults), functions.c (rrl_create,
// rrl_query, rrl_slip_roll, the prefixes and their multipliers) and
// kru.inc.c (the KRU counters: exponential decay each millisecond,
// kru_limited_fetch/kru_limited_update); rrl.rst documents the defaults.
//
// Every UDP query that reaches the modules' begin stage is counted
// against the client's address and its prefixes (IPv4 /32, /24, /20, /18
// at 1, 32, 256 and 768 times the limit; IPv6 /128, /64, /56, /48, /32 at
// 1, 2, 3, 4 and 64 times). Each counter holds at most instant-limit
// (125) queries' worth and decays each millisecond so that rate-limit
// (50) queries a second spread evenly stay under it. A query that would
// overflow any counter is limited: slipped (answered truncated) with
// probability 1/slip, else dropped; slip 1, the default, slips them all.
//
// Knot applies it per query, whatever the response; the replay counts
// the server's responses, one per query it processed. A query that does
// not parse gets FORMERR before the begin stage (process_query_out(),
// "query->parsed < query->size"), so it is never limited.
//
// The counters here are float64; Knot's are 16-bit with randomised
// rounding, so its first limited response may come a query or two
// earlier or later.
type Knot struct {
	RateLimit    int // queries a second; 0 disables; default 50
	InstantLimit int // default 125
	Slip         int // default 1

	loads map[knotKey]*knotLoad
}

// KnotDefaults is mod-rrl with nothing set.
func KnotDefaults() Knot { return Knot{RateLimit: 50, InstantLimit: 125, Slip: 1} }

var (
	knotV4Prefixes = []int{18, 20, 24, 32}
	knotV4Mult     = []float64{768, 256, 32, 1}
	knotV6Prefixes = []int{32, 48, 56, 64, 128}
	knotV6Mult     = []float64{64, 4, 3, 2, 1}
)

type knotKey struct {
	bits   int
	prefix netip.Addr
}

type knotLoad struct {
	load float64 // fraction of the counter's capacity
	ms   int64
}

// Decide implements Limiter.
func (k *Knot) Decide(r *Response) Decision {
	if r.Unparsed || k.RateLimit == 0 {
		return Decision{Skipped: r.Unparsed}
	}
	if k.loads == nil {
		k.loads = map[knotKey]*knotLoad{}
	}
	a := r.Client.Unmap()
	prefixes, mult := knotV6Prefixes, knotV6Mult
	if a.Is4() {
		prefixes, mult = knotV4Prefixes, knotV4Mult
	}
	now := r.Time / 1e6 // milliseconds
	// The load falls by max_decay/KRU_LIMIT of the limit each tick:
	// (rate-limit/1000)/instant-limit.
	decay := float64(k.RateLimit) / 1000 / float64(k.InstantLimit)
	shift := -math.Log2(1 - decay)
	maxTicks := int64(18 / shift)
	loads := make([]*knotLoad, len(prefixes))
	limited := false
	for i, bits := range prefixes {
		p, _ := a.Prefix(bits)
		key := knotKey{bits, p.Addr()}
		l := k.loads[key]
		if l == nil {
			l = &knotLoad{ms: now}
			k.loads[key] = l
		}
		if ticks := now - l.ms; ticks > 0 {
			if ticks > maxTicks {
				l.load = 0
			} else {
				l.load *= math.Exp2(-shift * float64(ticks))
			}
			l.ms = now
		}
		loads[i] = l
		price := 1 / (float64(k.InstantLimit) * mult[i])
		// kru_limited_fetch(): limited when the load has reached the
		// capacity less one price, in 16-bit units where a price of
		// 1/125 rounds to allow 125 queries at once; the epsilon keeps
		// float64 rounding from refusing the 125th.
		if l.load > 1-price+1e-9 {
			limited = true
		}
	}
	if limited {
		// kru_limited_multi_prefix_or(): a limited query adds nothing.
		return Decision{Limited: true, Slip: slipChance(k.Slip)}
	}
	for i, l := range loads {
		l.load += 1 / (float64(k.InstantLimit) * mult[i])
	}
	return Decision{}
}

// slipChance is rrl_slip_roll() (Knot) and rrl_slip() (NSD): 0 drops
// every limited response, 1 slips every one, n slips one in n at random.
func slipChance(n int) float64 {
	if n <= 0 {
		return 0
	}
	return 1 / float64(n)
}
