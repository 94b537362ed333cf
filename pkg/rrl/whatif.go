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

// Ref names a response for the caller, e.g. its input file and frame;
// the replay keeps it with the responses a verdict names, and does not
// interpret it.
type Ref struct {
	Source int
	Frame  uint64
}

// Event is a loop response a verdict names: the first limited, the
// first dropped, the one by which the loop is likely dead.
type Event struct {
	Loop    uint64 // the response's rank in the loop
	Trigger bool   // the answer to the trigger query
	Time    int64  // nanoseconds since the Unix epoch
	Ref     Ref
}

// Outcome is what one scenario would have done to the loop.
type Outcome struct {
	Scenario
	// The responses the verdict names; nil when none. The first drop,
	// or the response by which the loop is likely dead, ends the
	// judging: later loop responses count neither as slipped nor as
	// skipped.
	FirstLimited, FirstDrop, LikelyBy *Event
	// DropProbability is the chance that a limited loop response is
	// dropped, when the server draws it at random.
	DropProbability float64
	Slipped         uint64 // loop responses slipped before the loop died
	Skipped         uint64 // loop responses the algorithm never saw, before the loop died
	// Limited counts the loop responses over the limit until the verdict
	// settles (FirstDrop or LikelyBy): what a loop that survived every
	// random draw met. Only a verdict that never settles reads it ("x%
	// chance it survives every limited answer of the capture"), so later
	// responses need not be decided for it (Judge.Settled).
	Limited       uint64
	LoopResponses uint64 // every loop response replayed
	Stops         bool   // it drops loop responses: the loop dies, surely or likely
}

// likely is the survival probability under which a loop with random
// drops counts as dead.
const likely = 0.01

// Limiters decide responses through every scenario's limiter: one
// server's responses to one client prefix, in capture order. Loops of
// that server and prefix share them: each response is decided once,
// whatever the number of loops it concerns, and each loop's Judge takes
// the decisions on its own responses. Not safe for concurrent use.
type Limiters struct {
	lims []Limiter
	ds   []Decision
}

// NewLimiters makes each scenario's limiter.
func NewLimiters(scenarios []Scenario) *Limiters {
	l := &Limiters{lims: make([]Limiter, len(scenarios)), ds: make([]Decision, len(scenarios))}
	for i, sc := range scenarios {
		l.lims[i] = sc.New()
	}
	return l
}

// Reset forgets everything the limiters counted, as if new, keeping
// their memory: a replay of another server or prefix can reuse them.
func (l *Limiters) Reset() {
	for _, lim := range l.lims {
		if r, ok := lim.(interface{ reset() }); ok {
			r.reset()
		} else {
			panic("rrl: Limiters.Reset on a limiter that cannot reset")
		}
	}
}

// Decide passes r through every limiter and returns their decisions, in
// the order of the scenarios, valid until the next call.
func (l *Limiters) Decide(r *Response) []Decision {
	for i, lim := range l.lims {
		l.ds[i] = lim.Decide(r)
	}
	return l.ds
}

// DecideExcept is Decide without the scenarios whose bit is set in skip:
// their limiters do not count r (their state is stale from then on) and
// their decisions are zero.
func (l *Limiters) DecideExcept(r *Response, skip uint32) []Decision {
	for i, lim := range l.lims {
		if skip&(1<<i) != 0 {
			l.ds[i] = Decision{}
			continue
		}
		l.ds[i] = lim.Decide(r)
	}
	return l.ds
}

// Judge keeps one loop's verdict in every scenario from the decisions on
// the loop's responses: counters and the few events a verdict names,
// never the responses.
type Judge struct {
	runs    []run
	loop    uint64
	settled uint32
}

// run is one scenario's judging; its Outcome's events point into ev.
type run struct {
	out     Outcome
	ev      [3]Event // FirstLimited, FirstDrop, LikelyBy
	survive float64
}

// NewJudge judges a loop in every scenario.
func NewJudge(scenarios []Scenario) *Judge {
	j := &Judge{runs: make([]run, len(scenarios))}
	for i, sc := range scenarios {
		j.runs[i] = run{out: Outcome{Scenario: sc}, survive: 1}
	}
	return j
}

// Reset starts judging another loop, keeping the judge's memory.
func (j *Judge) Reset() {
	for i := range j.runs {
		j.runs[i] = run{out: Outcome{Scenario: j.runs[i].out.Scenario}, survive: 1}
	}
	j.loop, j.settled = 0, 0
}

// Add takes one of the loop's responses (resp.Loop > 0) and the
// scenarios' decisions on it (Limiters.Decide); ref names it if a
// verdict does. A loop response is judged until the scenario's first
// drop, or the response by which the loop is likely dead.
func (j *Judge) Add(resp *Replayed, ref Ref, ds []Decision) {
	j.loop++
	for i := range j.runs {
		if j.settled&(1<<i) != 0 {
			continue
		}
		u := &j.runs[i]
		d := ds[i]
		o := &u.out
		if d.Limited {
			o.Limited++
		}
		switch {
		case d.Skipped:
			o.Skipped++
			continue
		case !d.Limited:
			continue
		}
		if o.FirstLimited == nil {
			o.FirstLimited = u.event(0, resp, ref)
		}
		switch {
		case d.Slip >= 1:
			o.Slipped++
		case d.Slip <= 0:
			o.FirstDrop = u.event(1, resp, ref)
			o.Stops = true
			j.settled |= 1 << i
		default:
			o.DropProbability = 1 - d.Slip
			u.survive *= d.Slip
			o.Stops = true
			if u.survive < likely {
				o.LikelyBy = u.event(2, resp, ref)
				j.settled |= 1 << i
			}
		}
	}
}

func (u *run) event(i int, r *Replayed, ref Ref) *Event {
	u.ev[i] = Event{Loop: r.Loop, Trigger: r.Trigger, Time: r.Time, Ref: ref}
	return &u.ev[i]
}

// AddSkipped takes one of the loop's responses that every scenario whose
// verdict is not settled skipped (a FORMERR to a message that did not
// parse, which BIND and Knot never see): Add with those decisions, for
// the caller that knows them without deciding.
func (j *Judge) AddSkipped() {
	j.loop++
	for i := range j.runs {
		if j.settled&(1<<i) == 0 {
			j.runs[i].out.Skipped++
		}
	}
}

// LoopResponses is the number of the loop's responses judged.
func (j *Judge) LoopResponses() uint64 { return j.loop }

// Settled has a bit set for each scenario whose verdict no later
// response changes: it found the loop's first drop, or the response by
// which it is likely dead. Its decisions on later responses need not be
// made (Limiters.DecideExcept); Outcome.Limited then stops counting, and
// no verdict reads it.
func (j *Judge) Settled() uint32 { return j.settled }

// Outcomes is each scenario's outcome so far, in the order of the
// scenarios; call it after the last Add. The outcomes and their events
// are copies: they do not hold on to the judge.
func (j *Judge) Outcomes() []Outcome {
	out := make([]Outcome, len(j.runs))
	events := make([]Event, 0, 3*len(j.runs))
	keep := func(e *Event) *Event {
		if e == nil {
			return nil
		}
		events = append(events, *e)
		return &events[len(events)-1]
	}
	for i := range j.runs {
		o := j.runs[i].out
		o.LoopResponses = j.loop
		o.FirstLimited, o.FirstDrop, o.LikelyBy = keep(o.FirstLimited), keep(o.FirstDrop), keep(o.LikelyBy)
		out[i] = o
	}
	return out
}

// Replay is one loop's replay through every scenario, fed one response
// at a time: the server's responses to the client's prefix, the loop's
// and the rest, in capture order. It is Limiters and a Judge of the
// loop's responses. It keeps no response, only each scenario's limiter,
// counters and the few events its verdict names (see the package doc
// for the limiters' bounds). A Replay is not safe for concurrent use.
type Replay struct {
	lims      *Limiters
	judge     *Judge
	responses uint64
}

// NewReplay starts a replay of each scenario, with a limiter of its own.
func NewReplay(scenarios []Scenario) *Replay {
	return &Replay{lims: NewLimiters(scenarios), judge: NewJudge(scenarios)}
}

// Add replays one response through every scenario; responses come in
// capture order. Every response goes through each limiter; a loop
// response (Loop > 0) is judged until the scenario's first drop, or the
// response by which the loop is likely dead. ref names it if a verdict
// does. Add keeps no reference to resp.
func (p *Replay) Add(resp *Replayed, ref Ref) {
	p.responses++
	ds := p.lims.Decide(&resp.Response)
	if resp.Loop > 0 {
		p.judge.Add(resp, ref, ds)
	}
}

// Responses is the number of responses replayed.
func (p *Replay) Responses() uint64 { return p.responses }

// LoopResponses is the number of the loop's responses replayed.
func (p *Replay) LoopResponses() uint64 { return p.judge.LoopResponses() }

// Outcomes is each scenario's outcome so far, in the order of the
// scenarios; call it after the last Add. The outcomes and their events
// are copies: they do not hold on to the replay.
func (p *Replay) Outcomes() []Outcome { return p.judge.Outcomes() }

// Explain is a scenario's verdict in one sentence. at describes a
// response the verdict names (its rank, time and frame).
func (o *Outcome) Explain(at func(e *Event) string) string {
	switch {
	case o.LoopResponses == 0:
		return "no response of the loop's server to replay"
	case o.Skipped == o.LoopResponses:
		return fmt.Sprintf("never limits the loop: it never sees its responses (%s)", skipWhy(o.Implementation))
	case o.FirstLimited == nil && o.Implementation == "BIND 9" && o.Setting == "defaults":
		return "never limits: responses-per-second and errors-per-second are 0 (no limit) unless set"
	case o.FirstLimited == nil && o.Skipped > 0:
		return fmt.Sprintf("never limits the loop: it never sees %d of its %d responses (%s); the others stay under the limit",
			o.Skipped, o.LoopResponses, skipWhy(o.Implementation))
	case o.FirstLimited == nil:
		return "never limits: the responses stay under the limit"
	case o.FirstDrop != nil:
		s := "stops the loop: drops " + at(o.FirstDrop)
		if o.FirstDrop.Trigger {
			s = "the loop never starts: drops the trigger's answer, " + at(o.FirstDrop)
		}
		if o.Slipped > 0 {
			s += fmt.Sprintf(", after %d truncated answers (slips) that kept it going", o.Slipped)
		}
		return s
	case o.DropProbability > 0:
		s := fmt.Sprintf("limits it from %s; each limited answer is dropped with probability %.0f%% (else slipped, truncated), so the loop dies there or soon after",
			at(o.FirstLimited), 100*o.DropProbability)
		if o.LikelyBy != nil {
			s += fmt.Sprintf(": by %s with 99%% probability", at(o.LikelyBy))
		} else {
			s += fmt.Sprintf(" (%.0f%% chance it survives every limited answer of the capture)", 100*math.Pow(1-o.DropProbability, float64(o.Limited)))
		}
		return s
	}
	return fmt.Sprintf("limits it from %s but slips every limited answer (truncated, TC=1); the client's service answers those too, so the loop goes on", at(o.FirstLimited))
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
