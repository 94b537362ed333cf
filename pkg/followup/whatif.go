package followup

import (
	"fmt"
	"net/netip"

	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
)

// whatIf says what every scenario of pkg/rrl would have done to loop l,
// from the judge of its responses; responses is the number of the
// server's responses to the prefix replayed in the loop's window; inputs
// name the files the events point into.
func whatIf(j *rrl.Judge, responses uint64, l *report.Loop, prefix netip.Prefix, inputs []string) *report.RRL {
	out := &report.RRL{Server: l.Server.IP, Prefix: prefix.String(), Scenarios: []report.RRLScenario{},
		Responses: responses, LoopResponses: j.LoopResponses()}
	start, _ := parseTime(l.Start)
	event := func(e *rrl.Event) *report.RRLEvent {
		if e == nil {
			return nil
		}
		file := ""
		if e.Ref.Source >= 0 && e.Ref.Source < len(inputs) {
			file = inputs[e.Ref.Source]
		}
		return &report.RRLEvent{File: file, Frame: e.Ref.Frame, Time: report.Timestamp(e.Time),
			AfterS: float64(e.Time-start) / 1e9, Response: e.Loop}
	}
	at := func(e *rrl.Event) string {
		v := event(e)
		return fmt.Sprintf("response %d (%s#%d, %.3f s into the loop)", v.Response, report.Base(v.File), v.Frame, v.AfterS)
	}
	for _, o := range j.Outcomes() {
		out.Scenarios = append(out.Scenarios, report.RRLScenario{
			Implementation: o.Implementation, Setting: o.Setting, Config: o.Config, Stops: o.Stops,
			Verdict: o.Explain(at), FirstLimited: event(o.FirstLimited), FirstDrop: event(o.FirstDrop),
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
