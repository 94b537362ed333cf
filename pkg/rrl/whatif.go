package rrl

import (
	"fmt"
	"math"
)

// Scenario is one server implementation with one configuration.
type Scenario struct {
	Implementation string // "BIND 9", "Knot DNS", "NSD"
	Setting        string // "defaults", or what differs from them
	Config         string // as the server's configuration file says it
	New            func() Limiter
}

// Scenarios are the implementations replayed, each with its documented
// defaults and a few settings operators use.
func Scenarios() []Scenario {
	bind := func(rps, window int) func() Limiter {
		return func() Limiter {
			b := BINDDefaults()
			b.ResponsesPerSecond = rps
			if window > 0 {
				b.Window = window
			}
			return &b
		}
	}
	knot := func(f func(*Knot)) func() Limiter {
		return func() Limiter {
			k := KnotDefaults()
			f(&k)
			return &k
		}
	}
	nsd := func(f func(*NSD)) func() Limiter {
		return func() Limiter {
			n := NSDDefaults()
			f(&n)
			return &n
		}
	}
	return []Scenario{
		{"BIND 9", "defaults", "rate-limit { };", bind(0, 0)},
		{"BIND 9", "responses-per-second 5", "rate-limit { responses-per-second 5; };", bind(5, 0)},
		{"BIND 9", "responses-per-second 10, window 5", "rate-limit { responses-per-second 10; window 5; };", bind(10, 5)},
		{"Knot DNS", "defaults", "mod-rrl: [ { id: default } ]  # rate-limit 50, instant-limit 125, slip 1", knot(func(*Knot) {})},
		{"Knot DNS", "slip 2", "mod-rrl: [ { id: default, slip: 2 } ]", knot(func(k *Knot) { k.Slip = 2 })},
		{"Knot DNS", "rate-limit 20, slip 0", "mod-rrl: [ { id: default, rate-limit: 20, slip: 0 } ]", knot(func(k *Knot) { k.RateLimit, k.Slip = 20, 0 })},
		{"NSD", "defaults", "rrl-ratelimit: 200  rrl-slip: 2  # the built-in values", nsd(func(*NSD) {})},
		{"NSD", "rrl-ratelimit 50", "rrl-ratelimit: 50", nsd(func(n *NSD) { n.RateLimit = 50 })},
		{"NSD", "rrl-slip 0", "rrl-slip: 0", nsd(func(n *NSD) { n.Slip = 0 })},
	}
}

// Replayed is a response in the replay: the response, and its rank among
// the loop's responses (1 for the first; 0 for the rest of the traffic).
type Replayed struct {
	Response
	Loop uint64
	// Trigger marks the answer to the trigger query: dropping it means
	// the loop never starts.
	Trigger bool
}

// Outcome is what one scenario would have done to the loop.
type Outcome struct {
	Scenario
	// Indexes into the replayed responses; -1 when none.
	FirstLimited, FirstDrop, LikelyBy int
	// DropProbability is the chance that a limited loop response is
	// dropped, when the server draws it at random.
	DropProbability float64
	Slipped         uint64 // loop responses slipped before the loop died
	Skipped         uint64 // loop responses the algorithm never saw
	LoopResponses   uint64
	Stops           bool
}

// likely is the survival probability under which a loop with random
// drops counts as dead.
const likely = 0.01

// Replay runs every scenario over the responses, in time order.
func Replay(responses []Replayed, scenarios []Scenario) []Outcome {
	out := make([]Outcome, len(scenarios))
	for s, sc := range scenarios {
		o := Outcome{Scenario: sc, FirstLimited: -1, FirstDrop: -1, LikelyBy: -1}
		lim := sc.New()
		survive := 1.0
		for i := range responses {
			r := &responses[i]
			d := lim.Decide(&r.Response)
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
		// Count every loop response, also those after the loop died.
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

// Explain is a scenario's verdict in one sentence. at describes a
// response by index (its rank, time and frame).
func (o *Outcome) Explain(responses []Replayed, at func(i int) string) string {
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

func (o *Outcome) limitedCount(responses []Replayed) int {
	n := 0
	lim := o.New()
	for i := range responses {
		if d := lim.Decide(&responses[i].Response); responses[i].Loop > 0 && d.Limited {
			n++
		}
	}
	return n
}

// skipWhy says why an implementation never sees FORMERRs to messages
// that do not parse.
func skipWhy(impl string) string {
	switch impl {
	case "BIND 9":
		return "a FORMERR to a message that does not parse is sent before a view, and so its rate-limit, is chosen: lib/ns/client.c, ns_client_error"
	case "Knot DNS":
		return "a query that does not parse is answered FORMERR before the modules' begin stage, where rrl runs: process_query.c"
	}
	return "they bypass rate limiting"
}
