package rrl

import "math"

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
// earlier or later. Knot's table keeps the most loaded sources, replacing
// the least loaded; this one holds at most maxEntries counters and
// recycles the least recently used, which starts again at zero.
type Knot struct {
	RateLimit    int // queries a second; 0 disables; default 50
	InstantLimit int // default 125
	Slip         int // default 1

	loads table[knotKey, knotLoad]
	hints [2][knotMaxPrefixes]int32 // the slots of the last IPv4 and IPv6 prefixes, +1
	// The decay, from RateLimit and InstantLimit (cached for them).
	decayFor [2]int
	shift    float64
	maxTicks int64
}

// KnotDefaults is mod-rrl with nothing set.
func KnotDefaults() Knot { return Knot{RateLimit: 50, InstantLimit: 125, Slip: 1} }

var (
	knotV4Prefixes = []int{18, 20, 24, 32}
	knotV4Mult     = []float64{768, 256, 32, 1}
	knotV6Prefixes = []int{32, 48, 56, 64, 128}
	knotV6Mult     = []float64{64, 4, 3, 2, 1}
)

// knotMaxPrefixes is the most prefixes an address is counted under.
const knotMaxPrefixes = 5

type knotKey struct {
	prefix prefix
	family uint8
	bits   uint8
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
	a, family := r.client()
	prefixes, mult, off, hints := knotV6Prefixes, knotV6Mult, 0, &k.hints[1]
	if family == 4 {
		prefixes, mult, off, hints = knotV4Prefixes, knotV4Mult, 96, &k.hints[0]
	}
	now := r.Time / 1e6 // milliseconds
	if k.decayFor != [2]int{k.RateLimit, k.InstantLimit} {
		// The load falls by max_decay/KRU_LIMIT of the limit each tick:
		// (rate-limit/1000)/instant-limit.
		decay := float64(k.RateLimit) / 1000 / float64(k.InstantLimit)
		k.shift = -math.Log2(1 - decay)
		k.maxTicks = int64(18 / k.shift)
		k.decayFor = [2]int{k.RateLimit, k.InstantLimit}
	}
	var loads [knotMaxPrefixes]int32
	limited := false
	lastTicks, factor := int64(0), 1.0
	for i, bits := range prefixes {
		j, fresh := k.loads.get(knotKey{a.mask(off + bits), family, uint8(bits)}, hints[i]-1)
		hints[i] = j + 1
		l := k.loads.val(j)
		if fresh {
			l.ms = now
		}
		if ticks := now - l.ms; ticks > 0 {
			if ticks > k.maxTicks {
				l.load = 0
			} else {
				if ticks != lastTicks {
					lastTicks, factor = ticks, math.Exp2(-k.shift*float64(ticks))
				}
				l.load *= factor
			}
			l.ms = now
		}
		loads[i] = j
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
	for i := range prefixes {
		k.loads.val(loads[i]).load += 1 / (float64(k.InstantLimit) * mult[i])
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

// reset forgets every counter, keeping the table's memory.
func (k *Knot) reset() { k.loads.reset(); k.hints = [2][knotMaxPrefixes]int32{} }
