package rrl

// The oracle: the batch replay pongscan ran before the streaming one,
// kept here unchanged in behaviour (its types renamed) so that the
// differential tests and FuzzReplay can hold the streaming replay to it.
// It keeps every response in memory, names as strings in unbounded maps,
// and counts the limited loop responses by running a fresh limiter
// again (limitedCount).

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
)

type oracleResponse struct {
	Time     int64
	Client   netip.Addr
	Kind     Kind
	RCode    uint8
	QName    string
	QType    uint16
	QClass   uint16
	Unparsed bool
}

type oracleLimiter interface {
	Decide(r *oracleResponse) Decision
}

func oracleMaskAddr(a netip.Addr, v4, v6 int) netip.Addr {
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

func oracleLowerName(n string) string { return strings.ToLower(n) }

// oracleBIND is bind.go before the streaming replay.
type oracleBIND struct {
	ResponsesPerSecond int
	ErrorsPerSecond    int
	NXDomainsPerSecond int
	ReferralsPerSecond int
	NoDataPerSecond    int
	AllPerSecond       int
	Window             int
	Slip               int
	IPv4Prefix         int
	IPv6Prefix         int

	entries map[oracleBINDKey]*oracleBINDEntry
}

type oracleBINDKey struct {
	rtype  bindType
	prefix netip.Addr
	qname  string
	qtype  uint16
	qclass uint16
}

type oracleBINDEntry struct {
	responses int
	slipCnt   int
	ts        int64
	tsValid   bool
}

func (b *oracleBIND) rate(t bindType) int {
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

func (b *oracleBIND) Decide(r *oracleResponse) Decision {
	if r.Kind == Error && r.Unparsed {
		return Decision{Skipped: true}
	}
	if b.entries == nil {
		b.entries = map[oracleBINDKey]*oracleBINDEntry{}
	}
	now := r.Time / 1e9
	k := oracleBINDKey{prefix: oracleMaskAddr(r.Client, b.IPv4Prefix, b.IPv6Prefix)}
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
	if !(r.Kind == Error && r.RCode == RCodeFormErr) {
		k.qname = oracleLowerName(r.QName)
	}
	res := b.debit(k, now)
	if b.AllPerSecond != 0 {
		if all := b.debit(oracleBINDKey{rtype: bindAll, prefix: k.prefix}, now); all != bindOK {
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

func (b *oracleBIND) debit(k oracleBINDKey, now int64) bindResult {
	rate := b.rate(k.rtype)
	if rate == 0 {
		return bindOK
	}
	e := b.entries[k]
	if e == nil {
		e = &oracleBINDEntry{}
		b.entries[k] = e
	}
	window := int64(max(b.Window, 1))
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

// oracleKnot is knot.go before the streaming replay.
type oracleKnot struct {
	RateLimit    int
	InstantLimit int
	Slip         int

	loads map[oracleKnotKey]*oracleKnotLoad
}

var (
	oracleKnotV4Prefixes = []int{18, 20, 24, 32}
	oracleKnotV4Mult     = []float64{768, 256, 32, 1}
	oracleKnotV6Prefixes = []int{32, 48, 56, 64, 128}
	oracleKnotV6Mult     = []float64{64, 4, 3, 2, 1}
)

type oracleKnotKey struct {
	bits   int
	prefix netip.Addr
}

type oracleKnotLoad struct {
	load float64
	ms   int64
}

func (k *oracleKnot) Decide(r *oracleResponse) Decision {
	if r.Unparsed || k.RateLimit == 0 {
		return Decision{Skipped: r.Unparsed}
	}
	if k.loads == nil {
		k.loads = map[oracleKnotKey]*oracleKnotLoad{}
	}
	a := r.Client.Unmap()
	prefixes, mult := oracleKnotV6Prefixes, oracleKnotV6Mult
	if a.Is4() {
		prefixes, mult = oracleKnotV4Prefixes, oracleKnotV4Mult
	}
	now := r.Time / 1e6
	decay := float64(k.RateLimit) / 1000 / float64(k.InstantLimit)
	shift := -math.Log2(1 - decay)
	maxTicks := int64(18 / shift)
	loads := make([]*oracleKnotLoad, len(prefixes))
	limited := false
	for i, bits := range prefixes {
		p, _ := a.Prefix(bits)
		key := oracleKnotKey{bits, p.Addr()}
		l := k.loads[key]
		if l == nil {
			l = &oracleKnotLoad{ms: now}
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
		if l.load > 1-price+1e-9 {
			limited = true
		}
	}
	if limited {
		return Decision{Limited: true, Slip: oracleSlipChance(k.Slip)}
	}
	for i, l := range loads {
		l.load += 1 / (float64(k.InstantLimit) * mult[i])
	}
	return Decision{}
}

func oracleSlipChance(n int) float64 {
	if n <= 0 {
		return 0
	}
	return 1 / float64(n)
}

// oracleNSD is nsd.go before the streaming replay.
type oracleNSD struct {
	RateLimit  int
	Slip       int
	IPv4Prefix int
	IPv6Prefix int

	buckets map[oracleNSDKey]*oracleNSDBucket
}

type oracleNSDKey struct {
	source netip.Addr
	kind   Kind
	name   string
}

type oracleNSDBucket struct {
	rate, counter uint32
	stamp         int64
}

func (n *oracleNSD) Decide(r *oracleResponse) Decision {
	if n.RateLimit == 0 {
		return Decision{}
	}
	if n.buckets == nil {
		n.buckets = map[oracleNSDKey]*oracleNSDBucket{}
	}
	k := oracleNSDKey{source: oracleMaskAddr(r.Client, n.IPv4Prefix, n.IPv6Prefix), kind: r.Kind}
	switch {
	case r.Unparsed:
	case r.Kind == Answer:
		k.name = oracleLowerName(r.QName)
	default:
		k.name = oracleParentDomain(oracleLowerName(r.QName))
	}
	lm := uint32(2 * n.RateLimit)
	now := r.Time / 1e9
	b := n.buckets[k]
	var got uint32
	switch {
	case b == nil:
		n.buckets[k] = &oracleNSDBucket{counter: 1, stamp: now}
		got = 1
	default:
		switch d := now - b.stamp; {
		case d == 1:
			b.rate = b.rate/2 + b.counter
			b.counter = 1
		case d > 1:
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
		return Decision{Limited: true, Slip: oracleSlipChance(n.Slip)}
	}
	return Decision{}
}

func oracleParentDomain(name string) string {
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

// oracleScenario is a Scenario whose limiter is the oracle's.
type oracleScenario struct {
	Implementation, Setting, Config string
	New                             func() oracleLimiter
}

// oracleOf is the oracle's limiter with l's configuration, so that both
// replays run the very settings Scenarios() gives.
func oracleOf(l Limiter) oracleLimiter {
	switch l := l.(type) {
	case *BIND:
		return &oracleBIND{ResponsesPerSecond: l.ResponsesPerSecond, ErrorsPerSecond: l.ErrorsPerSecond,
			NXDomainsPerSecond: l.NXDomainsPerSecond, ReferralsPerSecond: l.ReferralsPerSecond,
			NoDataPerSecond: l.NoDataPerSecond, AllPerSecond: l.AllPerSecond, Window: l.Window, Slip: l.Slip,
			IPv4Prefix: l.IPv4Prefix, IPv6Prefix: l.IPv6Prefix}
	case *Knot:
		return &oracleKnot{RateLimit: l.RateLimit, InstantLimit: l.InstantLimit, Slip: l.Slip}
	case *NSD:
		return &oracleNSD{RateLimit: l.RateLimit, Slip: l.Slip, IPv4Prefix: l.IPv4Prefix, IPv6Prefix: l.IPv6Prefix}
	}
	panic(fmt.Sprintf("no oracle for %T", l))
}

func oracleScenarios(scenarios []Scenario) []oracleScenario {
	out := make([]oracleScenario, len(scenarios))
	for i, sc := range scenarios {
		sc := sc
		out[i] = oracleScenario{sc.Implementation, sc.Setting, sc.Config, func() oracleLimiter { return oracleOf(sc.New()) }}
	}
	return out
}

type oracleReplayed struct {
	oracleResponse
	Loop    uint64
	Trigger bool
}

type oracleOutcome struct {
	oracleScenario
	FirstLimited, FirstDrop, LikelyBy int
	DropProbability                   float64
	Slipped                           uint64
	Skipped                           uint64
	LoopResponses                     uint64
	Stops                             bool
}

// oracleReplay is the batch Replay of whatif.go.
func oracleReplay(responses []oracleReplayed, scenarios []oracleScenario) []oracleOutcome {
	out := make([]oracleOutcome, len(scenarios))
	for s, sc := range scenarios {
		o := oracleOutcome{oracleScenario: sc, FirstLimited: -1, FirstDrop: -1, LikelyBy: -1}
		lim := sc.New()
		survive := 1.0
		for i := range responses {
			r := &responses[i]
			d := lim.Decide(&r.oracleResponse)
			if r.Loop == 0 || o.FirstDrop >= 0 || o.LikelyBy >= 0 {
				continue
			}
			o.LoopResponses++
			switch {
			case d.Skipped:
				o.Skipped++
				continue
			case !d.Limited:
				continue
			}
			if o.FirstLimited < 0 {
				o.FirstLimited = i
			}
			switch {
			case d.Slip >= 1:
				o.Slipped++
			case d.Slip <= 0:
				o.FirstDrop = i
				o.Stops = true
			default:
				o.DropProbability = 1 - d.Slip
				survive *= d.Slip
				o.Stops = true
				if survive < likely {
					o.LikelyBy = i
				}
			}
		}
		o.LoopResponses = 0
		for i := range responses {
			if responses[i].Loop > 0 {
				o.LoopResponses++
			}
		}
		out[s] = o
	}
	return out
}

// Explain is Outcome.Explain of whatif.go.
func (o *oracleOutcome) Explain(responses []oracleReplayed, at func(i int) string) string {
	switch {
	case o.LoopResponses == 0:
		return "no response of the loop's server to replay"
	case o.Skipped == o.LoopResponses:
		return fmt.Sprintf("never limits the loop: it never sees its responses (%s)", skipWhy(o.Implementation))
	case o.FirstLimited < 0 && o.Implementation == "BIND 9" && o.Setting == "defaults":
		return "never limits: responses-per-second and errors-per-second are 0 (no limit) unless set"
	case o.FirstLimited < 0 && o.Skipped > 0:
		return fmt.Sprintf("never limits the loop: it never sees %d of its %d responses (%s); the others stay under the limit",
			o.Skipped, o.LoopResponses, skipWhy(o.Implementation))
	case o.FirstLimited < 0:
		if o.Implementation == "BIND 9" && o.Setting == "defaults" {
			return "never limits: responses-per-second and errors-per-second are 0 (no limit) unless set"
		}
		return "never limits: the responses stay under the limit"
	case o.FirstDrop >= 0:
		s := "stops the loop: drops " + at(o.FirstDrop)
		if responses[o.FirstDrop].Trigger {
			s = "the loop never starts: drops the trigger's answer, " + at(o.FirstDrop)
		}
		if o.Slipped > 0 {
			s += fmt.Sprintf(", after %d truncated answers (slips) that kept it going", o.Slipped)
		}
		return s
	case o.DropProbability > 0:
		s := fmt.Sprintf("limits it from %s; each limited answer is dropped with probability %.0f%% (else slipped, truncated), so the loop dies there or soon after",
			at(o.FirstLimited), 100*o.DropProbability)
		if o.LikelyBy >= 0 {
			s += fmt.Sprintf(": by %s with 99%% probability", at(o.LikelyBy))
		} else {
			s += fmt.Sprintf(" (%.0f%% chance it survives every limited answer of the capture)", 100*math.Pow(1-o.DropProbability, float64(o.limitedCount(responses))))
		}
		return s
	}
	return fmt.Sprintf("limits it from %s but slips every limited answer (truncated, TC=1); the client's service answers those too, so the loop goes on", at(o.FirstLimited))
}

func (o *oracleOutcome) limitedCount(responses []oracleReplayed) int {
	n := 0
	lim := o.New()
	for i := range responses {
		if d := lim.Decide(&responses[i].oracleResponse); responses[i].Loop > 0 && d.Limited {
			n++
		}
	}
	return n
}
