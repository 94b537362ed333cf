package detect

import (
	"sort"
	"time"
)

// RepeatConfig holds the thresholds of the Repeat detector. Zero fields
// take the defaults from DefaultRepeatConfig.
type RepeatConfig struct {
	// Ports are the service ports watched: a flow is watched when either
	// end uses one.
	Ports []uint16
	// Exclude are ports whose flows belong to another detector (the DNS
	// ports): a flow with one of them on either end is not watched.
	Exclude []uint16
	// Idle is the gap that ends a run of packets.
	Idle time.Duration
	// Runs holds the loop rules.
	Runs RunConfig
	// MaxFlows caps the flow table.
	MaxFlows int
}

// DefaultRepeatConfig watches the other services of CVE-2024-2169 (Loop
// DoS): echo, daytime, QOTD, chargen, time, TFTP and NTP. DNS flows are
// DNSPong's.
var DefaultRepeatConfig = RepeatConfig{
	Ports:    []uint16{7, 13, 17, 19, 37, 69, 123},
	Idle:     2 * time.Second,
	Runs:     DefaultRunConfig,
	MaxFlows: 1 << 18,
}

// Repeat finds loops between UDP services that no DNS exchange starts: a
// run of packets on a flow with a watched port on one end that meets the
// RunConfig rules. Its findings have no trigger.
type Repeat struct {
	cfg                  RepeatConfig
	ports                [1024]uint64
	exclude              [1024]uint64
	flows                *table[repeatFlow]
	loops                []Loop
	samples              map[int32]sample
	now                  int64
	ticking              bool // now holds a packet time (times may be negative)
	counters             Counters
	evictIdle, evictFull func(int32)
}

type repeatFlow struct {
	server  int8 // 1: endpoint a, 2: endpoint b
	sampled bool
	run     run
}

var _ Detector = (*Repeat)(nil)

// NewRepeat returns a detector with cfg, defaults filling zero fields.
func NewRepeat(cfg RepeatConfig) *Repeat {
	def := DefaultRepeatConfig
	if len(cfg.Ports) == 0 {
		cfg.Ports = def.Ports
	}
	if cfg.Idle <= 0 {
		cfg.Idle = def.Idle
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	cfg.Runs = cfg.Runs.withDefaults()
	r := &Repeat{cfg: cfg, flows: newTable[repeatFlow](cfg.MaxFlows, int64(cfg.Idle)), samples: map[int32]sample{}}
	for _, p := range cfg.Ports {
		r.ports[p/64] |= 1 << (p % 64)
	}
	for _, p := range cfg.Exclude {
		r.exclude[p/64] |= 1 << (p % 64)
	}
	r.evictIdle = func(i int32) { r.evict(i, false) }
	r.evictFull = func(i int32) { r.evict(i, true) }
	return r
}

// Name implements Detector.
func (r *Repeat) Name() string { return "udp-pong" }

// Counters implements Detector. Only evictions forced by the cap are
// reported: idle evictions are routine here.
func (r *Repeat) Counters() Counters { return Counters{EvictedCap: r.counters.EvictedCap} }

func (r *Repeat) watched(p uint16) bool { return r.ports[p/64]&(1<<(p%64)) != 0 }

// Observe implements Detector.
func (r *Repeat) Observe(p *Packet) {
	sp, dp := p.Src.Port(), p.Dst.Port()
	sw, dw := r.watched(sp), r.watched(dp)
	if !sw && !dw || r.exclude[sp/64]&(1<<(sp%64)) != 0 || r.exclude[dp/64]&(1<<(dp%64)) != 0 {
		return
	}
	if p.Time > r.now || !r.ticking {
		r.now, r.ticking = p.Time, true
		r.flows.advance(r.now, r.evictIdle)
	}
	key, srcIsA := p.flow()
	i := r.flows.get(key)
	if i == nilIdx {
		if r.flows.len() >= r.cfg.MaxFlows {
			r.flows.evictSoonest(r.evictFull)
		}
		i = r.flows.add(key, p.Time+int64(r.cfg.Idle))
		f := &r.flows.slot(i).val
		f.sampled, f.run.pkts = false, [2]uint32{}
		switch {
		case sw && !dw:
			f.server = side(srcIsA)
		case dw && !sw:
			f.server = side(!srcIsA)
		case p.Src.Port() != p.Dst.Port():
			// Both watched: the lower port is the service.
			f.server = side(srcIsA == (p.Src.Port() < p.Dst.Port()))
		default:
			f.server = side(!srcIsA) // same port: the first sender is the client
		}
	}
	s := r.flows.slot(i)
	f := &s.val
	if f.run.packets() > 0 && p.Time-f.run.last >= int64(r.cfg.Idle) {
		r.closeRun(i, f)
	}
	dir := 0
	if f.server == side(srcIsA) {
		dir = 1
	}
	f.run.add(p, dir, srcIsA, false)
	if dir == 0 && !f.sampled && f.run.packets() > 2 {
		n := min(len(p.Payload), MaxPayload)
		r.samples[i] = sample{append([]byte(nil), p.Payload[:n]...), p.Cut || n < len(p.Payload)}
		f.sampled = true
	}
	r.flows.setExpiry(i, p.Time+int64(r.cfg.Idle))
}

func (r *Repeat) closeRun(i int32, f *repeatFlow) {
	if f.run.qualifies(r.cfg.Runs) {
		s := r.samples[i]
		k := r.flows.slot(i).key
		r.loops = append(r.loops, f.run.loop(r.Name(), &k, f.server == 1, s.b, s.cut))
	}
	f.run.pkts = [2]uint32{}
	if f.sampled {
		delete(r.samples, i)
		f.sampled = false
	}
}

func (r *Repeat) evict(i int32, full bool) {
	r.closeRun(i, &r.flows.slot(i).val)
	r.flows.remove(i)
	if full {
		r.counters.EvictedCap++
	} else {
		r.counters.Evicted++
	}
}

// Finish implements Detector.
func (r *Repeat) Finish(end int64) []Loop {
	for c := range r.flows.chunks {
		for j := range r.flows.chunks[c] {
			if s := &r.flows.chunks[c][j]; s.live() {
				r.closeRun(int32(c<<chunkShift+j), &s.val)
			}
		}
	}
	for i := range r.loops {
		r.loops[i].Ongoing = end-r.loops[i].End < int64(r.cfg.Idle)
	}
	sort.SliceStable(r.loops, func(i, j int) bool { return r.loops[i].Start < r.loops[j].Start })
	return r.loops
}
