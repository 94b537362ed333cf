package benchgen

import "math"

// The plan used when Config.LoopInterval, LoopEvery or LoopShare is set.

const (
	// loopEnd is how far into the capture every loop must have ended.
	loopEnd = 0.97
	// loopLead bounds the time from a loop's trigger query to its first
	// non-DNS packet: the answer 0.2-2 ms after the query, the TFTP
	// server's complaint 0.3-1 ms after the answer.
	loopLead = 3_000_000
)

// loopParams draws one loop's endpoints and timing, and the length it
// asks for before any cap.
func (g *gen) loopParams() (ls loopState, want int) {
	ls = loopState{
		client: g.loopClient(),
		port:   uint16(1024 + g.rng.IntN(64512)),
		tmpl:   g.referral[g.rng.IntN(len(g.referral))],
		id:     uint16(g.rng.Uint32()),
	}
	g.loopTiming(&ls)
	want = g.cfg.LoopPackets
	if want <= 0 {
		want = 2 * (1000 + g.rng.IntN(1500))
	}
	return ls, want
}

// loopTiming sets a loop's round trip, reply delay and jitter from
// Config.LoopInterval (see there).
func (g *gen) loopTiming(ls *loopState) {
	if iv := int64(g.cfg.LoopInterval); iv > 0 {
		ls.interval = iv
		ls.reply = max(int64(float64(iv)*(0.08+0.12*g.rng.Float64())), 1)
		ls.jitterMax = max(iv/50, 1)
		ls.jitterOff = ls.jitterMax / 2
		return
	}
	ls.interval = int64(1000+g.rng.IntN(500)) * 1000
	ls.reply = int64(80+g.rng.IntN(120)) * 1000
	ls.jitterMax = 30_000
}

// roundTrip is a loop's mean round trip with its jitter.
func (ls *loopState) roundTrip() float64 {
	return float64(ls.interval) + float64(ls.jitterMax-1) - 2*float64(ls.jitterOff)
}

// span bounds the time from a loop's trigger to its last packet when it
// has p packets.
func (ls *loopState) span(p int) float64 {
	return loopLead + float64((p+1)/2)*ls.roundTrip()
}

// fit is the most packets (even) a loop can have and still end within d
// nanoseconds of its trigger.
func (ls *loopState) fit(d float64) int {
	if d <= loopLead {
		return 0
	}
	return int((d-loopLead)/ls.roundTrip()) * 2
}

type plannedLoop struct {
	k       int   // index among the drawn loops
	start   int64 // nanoseconds after the capture's start
	packets int
}

// planLoopsScaled plans the loops with the capture's length estimated from
// its packets, the loops' included: it finds the length d at which the
// background's packets over d plus the loops planted for d make the
// capture's packets.
func (g *gen) planLoopsScaled() {
	cfg := &g.cfg
	bgRate := cfg.QPS * (2 - max(cfg.Unanswered, 0)) / 1e9 // packets per ns
	dMax := float64(cfg.Packets) / bgRate                  // no loops at all
	n := cfg.Loops
	if n < 0 {
		return
	}
	if cfg.LoopEvery > 0 {
		// As many as could start before the end of the longest capture.
		most := int((loopEnd-0.1)*dMax/float64(cfg.LoopEvery)) + 1
		most = min(most, cfg.Packets/4)
		if n == 0 || n > most {
			n = most
		}
	}
	if n <= 0 {
		return
	}
	loops := make([]loopState, n)
	want := make([]int, n)
	for k := range loops {
		loops[k], want[k] = g.loopParams()
	}
	share := cfg.LoopShare
	budget := float64(cfg.Packets) / 4
	if share > 0 {
		budget = min(share, 1) * float64(cfg.Packets)
	}
	var buf []plannedLoop
	plan := func(d float64) []plannedLoop {
		out := buf[:0]
		if cfg.LoopEvery > 0 {
			for k := range loops {
				ls := &loops[k]
				start := 0.1*d + float64(k)*float64(cfg.LoopEvery)
				p := want[k]
				if share <= 0 {
					p = min(p, int(0.35*d/float64(ls.interval))*2)
				}
				if p < 1 || start+ls.span(p) > loopEnd*d {
					continue
				}
				out = append(out, plannedLoop{k: k, start: int64(start), packets: p})
			}
			for i := range out {
				out[i].packets = min(out[i].packets, int(budget/float64(len(out)))&^1)
			}
		} else {
			first := 0.1
			if share > 0 {
				first = 0.01
			}
			for k := range loops {
				ls := &loops[k]
				start := d * (first + 0.5*float64(k)/float64(n))
				p := want[k]
				if share <= 0 {
					p = min(p, int(0.35*d/float64(ls.interval))*2)
				}
				p = min(p, int(budget/float64(n))&^1, ls.fit(loopEnd*d-start))
				out = append(out, plannedLoop{k: k, start: int64(start), packets: max(p, 0)})
			}
		}
		buf = out
		return out
	}
	packets := func(d float64) float64 {
		t := bgRate * d
		for _, pl := range plan(d) {
			t += float64(pl.packets + 2)
		}
		return t
	}
	// The packets grow with d (more loops fit, and longer); take the
	// longest d that does not plan more packets than the capture has, so
	// the capture runs at least that long.
	lo, hi := 0.0, dMax
	for range 100 {
		mid := (lo + hi) / 2
		if packets(mid) <= float64(cfg.Packets) {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1000 {
			break
		}
	}
	start := cfg.Start.UnixNano()
	for _, pl := range plan(math.Floor(lo)) {
		ls := loops[pl.k]
		ls.packets = pl.packets
		ls.trigger = start + pl.start
		i := int32(len(g.loops))
		g.loops = append(g.loops, ls)
		g.push(item{at: ls.trigger, kind: evLoopQuery, loop: i, client: ls.client, port: ls.port, tmpl: ls.tmpl, id: ls.id})
	}
}
