package scan

import (
	"cmp"
	"hash/maphash"
	"net/netip"
	"slices"
	"sort"
	"strconv"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
)

// collect finishes every detector and assembles the report: loops in
// order, inputs, the summary (decoders' and detectors' counts) and the
// settings.
func (s *scan) collect() *Result {
	f := &s.feed
	res := &Result{Interrupted: f.stopped}
	if f.stopped && f.packets > 0 {
		res.Stopped = Position{Input: s.ins[f.lastIn].Name, Frame: f.lastFrame, Offset: f.lastOffset}
	}
	rep := &report.Report{Schema: report.Schema, Loops: []report.Loop{}}
	files := make([]string, len(s.ins))
	for i, in := range s.ins {
		files[i] = in.Name
	}
	// Inputs in the order they were read: by first packet (inputs without
	// one last), ties in the order given.
	for _, i := range s.inputOrder() {
		in := s.ins[i]
		ri := in.finish()
		ri.Stream = s.name
		rep.Inputs = append(rep.Inputs, ri)
		if in.err != nil {
			res.Errors = append(res.Errors, in.err)
		}
	}

	// Detectors in order of precedence: a loop an earlier detector found
	// on the same flow at the same time is not reported twice. A flow
	// lives in one shard, so the shards' order does not matter.
	end := s.windowEnd()
	var outs []finished
	counters := map[string]*detect.Counters{}
	for k := range s.opts.Detectors {
		for _, sh := range s.shards {
			d := sh.dets[k]
			outs = append(outs, finished{d: d, loops: d.Finish(end)})
			c := counters[d.Name()]
			if c == nil {
				c = &detect.Counters{}
				counters[d.Name()] = c
			}
			c.Add(d.Counters())
		}
	}
	s.addLoops(rep, outs, files)

	sum := &rep.Summary
	sum.Detectors = map[string]map[string]uint64{}
	var all detect.Counters
	for name, c := range counters {
		sum.Detectors[name] = c.Named()
		all.Add(*c)
	}
	sum.DNSMessages, sum.NonDNS, sum.Truncated = all.DNSMessages, all.NonDNS, all.Truncated
	sum.Flows, sum.Bounces, sum.OneSided = all.Flows, all.Bounces, all.OneSided
	sum.Evicted, sum.EvictedCap = all.Evicted, all.EvictedCap
	s.decodeCounts(sum)
	sum.Packets = f.packets
	sum.NonPacket = f.nonPacket
	sum.Loops = len(rep.Loops)
	sum.Interrupted = f.stopped
	for _, sh := range s.shards {
		sum.FilteredOut += sh.filtered
	}

	c := s.opts.Config
	rep.Settings = report.Settings{
		DNSPorts: c.DNSPorts, MaxDelayMS: float64(c.MaxDelay) / 1e6, IdleS: c.Idle.Seconds(),
		MinPackets: c.MinPackets, MaxFlows: c.MaxFlows, FlowTimeoutS: c.FlowTimeout.Seconds(),
		ServicePorts: append([]uint16{}, c.ServicePorts...),
		Loop: report.LoopSettings{MinPackets: max(c.Runs.MinPackets, c.MinPackets), MinRate: c.Runs.MinRate,
			MinShare: c.Runs.MinShare, MinAlternation: c.Runs.MinAlternation, MinAnswers: c.Runs.MinAnswers},
		Filter: s.filterSettings(),
	}
	rep.Warnings = s.overlapWarnings()
	res.Report = rep
	return res
}

// decodeCounts adds up the frames the shards' decoders counted: each
// counted the frames it owns. Reassembly counts are shard 0's: every
// shard reassembles every fragment.
func (s *scan) decodeCounts(sum *report.Summary) {
	var st decode.Stats
	kinds := &st.Kinds
	unknown := map[uint32]uint64{}
	for _, sh := range s.shards {
		sum.VLANTags = max(sum.VLANTags, sh.dec.Stats.VLANTags)
		for k, n := range sh.dec.Stats.Kinds {
			kinds[k] += n
		}
		for lt, n := range sh.dec.Stats.UnknownLinks {
			unknown[lt] += n
		}
	}
	d0 := s.shards[0].dec
	sum.UDP = kinds[decode.KindUDP]
	sum.TCP = kinds[decode.KindTCP]
	sum.OtherIP = kinds[decode.KindOtherIP]
	sum.NotIP = kinds[decode.KindNotIP]
	sum.Malformed = kinds[decode.KindMalformed]
	sum.Fragments = kinds[decode.KindFragment] + d0.Stats.Reassembled
	sum.Reassembled = d0.Stats.Reassembled
	sum.FragDropped = d0.FragmentsDropped()
	sum.UnknownLink = kinds[decode.KindUnknownLink]
	if len(unknown) > 0 {
		sum.UnknownLinks = map[string]uint64{}
		for lt, n := range unknown {
			sum.UnknownLinks[strconv.FormatUint(uint64(lt), 10)] = n
		}
	}
}

// finished is one detector instance's loops, as its Finish returned them.
type finished struct {
	d     detect.Detector
	loops []detect.Loop
}

// addLoops puts the loops of outs (in the detectors' order of precedence)
// into rep: those no earlier loop covers (see dedupe), each with its
// detector's advice, sorted by start, then endpoints (loopCompare), so
// the order never depends on which shard found them.
//
// Each loop is converted once, straight into its place in rep.Loops,
// and the detector's copy is cleared as it is (its payload, evidence and
// strings go, not the report's): however many loops there are, memory
// holds the report and at most one detector copy of each finding, and
// nothing here takes more than O(n log n).
func (s *scan) addLoops(rep *report.Report, outs []finished, files []string) {
	n := 0
	for _, o := range outs {
		n += len(o.loops)
	}
	all := make([]*detect.Loop, 0, n) // every loop, in the order of precedence
	for _, o := range outs {
		for i := range o.loops {
			all = append(all, &o.loops[i])
		}
	}
	keep := dedupe(all)
	var order []int32 // the loops kept, in the order of precedence, then in the report's
	for i, k := range keep {
		if k {
			order = append(order, int32(i))
		}
	}
	slices.SortStableFunc(order, func(a, b int32) int { return loopCompare(all[a], all[b]) })
	rank := make([]int32, len(all)) // where each kept loop goes in the report
	for pos, i := range order {
		rank[i] = int32(pos)
	}
	rep.Loops = make([]report.Loop, len(order))
	f := &s.feed
	i := 0
	for _, o := range outs {
		for j := range o.loops {
			l := &o.loops[j]
			if keep[i] {
				out := &rep.Loops[rank[i]]
				*out = report.FromLoop(l, files)
				out.Advice = o.d.Advice(l)
				out.Stream = s.name
				out.OpenAtStart = f.started && l.Start-f.start < int64(s.opts.Config.Idle)
				if r, ok := l.WhatIf.(interface{ RRL() *report.RRL }); ok {
					out.RRL = r.RRL() // replayed in the scan (Options.WhatIf)
				}
			}
			*l = detect.Loop{} // converted or covered: let its payload and evidence go
			i++
		}
	}
}

// loopCompare orders loops by start, then by endpoints, so the order
// never depends on which shard found them.
func loopCompare(a, b *detect.Loop) int {
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	if c := a.Client.Compare(b.Client); c != 0 {
		return c
	}
	return a.Server.Compare(b.Server)
}

// overlaps reports whether f and l are on the same pair of endpoints, in
// either orientation, and overlap in time.
func overlaps(f, l *detect.Loop) bool {
	same := f.Client == l.Client && f.Server == l.Server || f.Client == l.Server && f.Server == l.Client
	return same && f.Start <= l.End && l.Start <= f.End
}

// dedupe reports which of loops (in the order of precedence) are kept: a
// loop is dropped when an earlier detector, or an earlier list, already
// found it: a kept loop on the same pair of endpoints overlaps it in time
// (overlaps). It takes O(n log n), where checking each loop against every
// loop kept before it took O(n^2) (a scan of a million short loops spent
// minutes there).
//
// Loops are grouped by their pair of endpoints (a hash of the pair, then
// the pair itself). Within a pair, the loops kept are pairwise disjoint
// in time (each was checked against those before it), so sorted by start
// they are sorted by end too: whether any of them meets [start, end] is
// whether the last one starting by end reaches start, a binary search.
// The kept loops of a pair are held in runs of increasing start (a
// detector's Finish returns its loops by start, so a pair has one run per
// list it appears in, a handful), each searched on its own.
func dedupe(loops []*detect.Loop) []bool {
	keep, _ := dedupeCounted(loops)
	return keep
}

// dedupeCounted is dedupe, and how many steps it took: comparisons of
// two loops in the sort, and loops and spans looked at in the groups
// (the tests hold it to O(n log n)).
func dedupeCounted(loops []*detect.Loop) ([]bool, int) {
	keep := make([]bool, len(loops))
	recs := make([]pairRec, len(loops))
	seed := maphash.MakeSeed()
	for i, l := range loops {
		recs[i] = pairRec{h: pairHash(seed, l), seq: int32(i)}
	}
	steps := 0
	slices.SortFunc(recs, func(x, y pairRec) int {
		steps++
		if c := cmp.Compare(x.h, y.h); c != 0 {
			return c
		}
		if c := comparePairs(loops[x.seq], loops[y.seq]); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	g := pairGroup{steps: &steps}
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].h == recs[i].h && comparePairs(loops[recs[j].seq], loops[recs[i].seq]) == 0 {
			j++
		}
		steps += j - i
		g.keep(recs[i:j], loops, keep)
		i = j
	}
	return keep, steps
}

// pairRec places a loop in dedupe's order: by the hash of its endpoint
// pair, then by its position in the order of precedence.
type pairRec struct {
	h   uint64
	seq int32
}

// pairGroup decides which loops of one pair of endpoints are kept.
type pairGroup struct {
	spans []span // the loops kept so far, in runs of increasing start
	runs  []int  // where each run begins in spans
	steps *int   // counts the spans looked at
}

type span struct{ start, end int64 }

// keep marks the loops of recs (one pair, in the order of precedence)
// that no loop kept before them overlaps.
func (g *pairGroup) keep(recs []pairRec, loops []*detect.Loop, keep []bool) {
	if len(recs) == 1 {
		keep[recs[0].seq] = true
		return
	}
	for _, r := range recs {
		if l := loops[r.seq]; l.End < l.Start {
			// Not a time span (no detector of ours makes one): the
			// search below needs spans, so check the pair the plain way.
			g.keepPlain(recs, loops, keep)
			return
		}
	}
	g.spans, g.runs = g.spans[:0], g.runs[:0]
	for _, r := range recs {
		l := loops[r.seq]
		if g.met(l.Start, l.End) {
			continue
		}
		keep[r.seq] = true
		if n := len(g.spans); n == 0 || g.spans[n-1].start > l.Start {
			g.runs = append(g.runs, n)
		}
		g.spans = append(g.spans, span{l.Start, l.End})
	}
}

// met reports whether a kept span meets [start, end].
func (g *pairGroup) met(start, end int64) bool {
	*g.steps += len(g.runs)
	for k, from := range g.runs {
		to := len(g.spans)
		if k+1 < len(g.runs) {
			to = g.runs[k+1]
		}
		run := g.spans[from:to]
		// The last span starting by end; it ends latest among them.
		p := sort.Search(len(run), func(i int) bool {
			*g.steps++
			return run[i].start > end
		}) - 1
		if p >= 0 && run[p].end >= start {
			return true
		}
	}
	return false
}

// keepPlain is keep by covered's own rule, each loop against every loop
// of the pair kept before it.
func (g *pairGroup) keepPlain(recs []pairRec, loops []*detect.Loop, keep []bool) {
	var kept []*detect.Loop
	for _, r := range recs {
		l := loops[r.seq]
		*g.steps += len(kept)
		if !slices.ContainsFunc(kept, func(f *detect.Loop) bool { return overlaps(f, l) }) {
			keep[r.seq] = true
			kept = append(kept, l)
		}
	}
}

// pair is a loop's endpoints in a fixed order: the same for both
// orientations.
func pair(l *detect.Loop) (netip.AddrPort, netip.AddrPort) {
	if l.Server.Compare(l.Client) < 0 {
		return l.Server, l.Client
	}
	return l.Client, l.Server
}

// comparePairs orders loops by their pairs of endpoints; 0 means the same
// pair, in either orientation (netip's Compare is 0 exactly for equal
// values).
func comparePairs(x, y *detect.Loop) int {
	xa, xb := pair(x)
	ya, yb := pair(y)
	if c := xa.Compare(ya); c != 0 {
		return c
	}
	return xb.Compare(yb)
}

// pairHash hashes a loop's pair of endpoints: equal pairs hash equal.
func pairHash(seed maphash.Seed, l *detect.Loop) uint64 {
	a, b := pair(l)
	var buf [2 * 19]byte
	var zone uint64
	for k, e := range [2]netip.AddrPort{a, b} {
		ip := e.Addr()
		a16 := ip.As16()
		o := buf[k*19:]
		copy(o, a16[:])
		o[16], o[17], o[18] = byte(e.Port()>>8), byte(e.Port()), byte(ip.BitLen())
		if z := ip.Zone(); z != "" {
			zone = zone*31 + maphash.String(seed, z)
		}
	}
	return maphash.Bytes(seed, buf[:]) ^ zone
}
