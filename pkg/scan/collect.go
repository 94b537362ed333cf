package scan

import (
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
	var found []detect.Loop
	var advice []string
	counters := map[string]*detect.Counters{}
	for k, mk := range s.opts.Detectors {
		_ = mk
		for _, sh := range s.shards {
			d := sh.dets[k]
			for _, l := range d.Finish(end) {
				if !covered(found, &l) {
					found = append(found, l)
					advice = append(advice, d.Advice(&l))
				}
			}
			c := counters[d.Name()]
			if c == nil {
				c = &detect.Counters{}
				counters[d.Name()] = c
			}
			c.Add(d.Counters())
		}
	}
	order := make([]int, len(found))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return loopBefore(&found[order[i]], &found[order[j]]) })
	for _, i := range order {
		l := report.FromLoop(&found[i], files)
		l.Advice = advice[i]
		l.Stream = s.name
		l.OpenAtStart = f.started && found[i].Start-f.start < int64(s.opts.Config.Idle)
		rep.Loops = append(rep.Loops, l)
	}

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

// loopBefore orders loops by start, then by endpoints, so the order never
// depends on which shard found them.
func loopBefore(a, b *detect.Loop) bool {
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	if c := a.Client.Compare(b.Client); c != 0 {
		return c < 0
	}
	return a.Server.Compare(b.Server) < 0
}

// covered reports whether an earlier detector already found l: a loop on
// the same pair of endpoints overlapping it in time.
func covered(found []detect.Loop, l *detect.Loop) bool {
	for i := range found {
		f := &found[i]
		same := f.Client == l.Client && f.Server == l.Server || f.Client == l.Server && f.Server == l.Client
		if same && f.Start <= l.End && l.Start <= f.End {
			return true
		}
	}
	return false
}
