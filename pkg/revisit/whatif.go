package revisit

import (
	"fmt"
	"time"

	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
)

// WhatIf replays the responses collected for loop l through every
// scenario of pkg/rrl and says what each would have done.
func (lp *Loop) WhatIf(l *report.Loop) *report.RRL {
	out := &report.RRL{Server: l.Server.IP, Prefix: lp.Prefix.String(), Scenarios: []report.RRLScenario{}}
	for _, r := range lp.Responses {
		out.Responses++
		if r.Loop > 0 {
			out.LoopResponses++
		}
	}
	start, _ := time.Parse(time.RFC3339Nano, l.Start)
	event := func(i int) *report.RRLEvent {
		if i < 0 {
			return nil
		}
		ref := lp.Refs[i]
		return &report.RRLEvent{File: ref.File, Frame: ref.Frame, Time: ref.Time,
			AfterS: float64(lp.Responses[i].Time-start.UnixNano()) / 1e9, Response: lp.Responses[i].Loop}
	}
	at := func(i int) string {
		e := event(i)
		return fmt.Sprintf("response %d (%s#%d, %.3f s into the loop)", e.Response, report.Base(e.File), e.Frame, e.AfterS)
	}
	for _, o := range rrl.Replay(lp.Responses, rrl.Scenarios()) {
		out.Scenarios = append(out.Scenarios, report.RRLScenario{
			Implementation: o.Implementation, Setting: o.Setting, Config: o.Config, Stops: o.Stops,
			Verdict: o.Explain(lp.Responses, at), FirstLimited: event(o.FirstLimited), FirstDrop: event(o.FirstDrop),
			DropProbability: o.DropProbability, LikelyBy: event(o.LikelyBy), Slipped: o.Slipped,
			Why: why(o.Implementation),
		})
	}
	return out
}

// why cites the source each verdict comes from.
func why(impl string) string {
	switch impl {
	case "BIND 9":
		return "token bucket per client /24 (IPv6 /56), response type and name, per whole second (lib/dns/rrl.c); errors are dropped, never slipped, and FORMERR to an unparsable message bypasses RRL (lib/ns/client.c)"
	case "Knot DNS":
		return "KRU counters per address and prefix, decaying each millisecond (src/knot/modules/rrl); unparsable queries are answered before rrl runs (process_query.c); slip 1/slip at random"
	case "NSD":
		return "smoothed per-second rate per client /24 (IPv6 /64), type and name against 2 x rrl-ratelimit (rrl.c); every UDP response counts, FORMERR included; slip 1/rrl-slip at random"
	}
	return ""
}
