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
	Idle:     DefaultConfig.Idle,
	Runs:     DefaultRunConfig,
	MaxFlows: DefaultConfig.MaxFlows,
}

// RepeatDetector is the Factory of Repeat: the default service ports,
// leaving flows on the DNS ports to DNSPong.
func RepeatDetector(c Config) Detector {
	c = c.WithDefaults()
	return NewRepeat(RepeatConfig{Exclude: c.DNSPorts, Idle: c.Idle, Runs: c.Runs, MaxFlows: c.MaxFlows})
}

// Repeat finds loops between UDP services that no DNS exchange starts: a
// run of packets on a flow with a watched port on one end that meets the
// RunConfig rules. Its findings have no trigger.
type Repeat struct {
	cfg      RepeatConfig
	ports    PortSet
	exclude  PortSet
	flows    *Tracker[repeatFlow]
	loops    []Loop
	samples  map[int32]sample
	counters Counters
}

type repeatFlow struct {
	server  int8 // 1: endpoint a, 2: endpoint b
	sampled bool
	run     run
}

// sample is a copy of a client payload, for the report.
type sample struct {
	b   []byte
	cut bool
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
	r := &Repeat{cfg: cfg, samples: map[int32]sample{}}
	r.ports.Add(cfg.Ports...)
	r.exclude.Add(cfg.Exclude...)
	r.flows = NewTracker(cfg.MaxFlows, int64(cfg.Idle), r.forget, r.busy)
	return r
}

// Name implements Detector.
func (r *Repeat) Name() string { return "udp-pong" }

// Watch implements Detector: the service ports.
func (r *Repeat) Watch(ports *PortSet) { ports.Add(r.cfg.Ports...) }

// Begin implements Detector; Repeat does not need the start.
func (r *Repeat) Begin(int64) {}

// Counters implements Detector.
func (r *Repeat) Counters() Counters {
	c := r.counters
	c.Flows = r.flows.Flows
	c.Evicted = r.flows.EvictedIdle
	c.EvictedCap = r.flows.EvictedFull
	return c
}

// Observe implements Detector.
func (r *Repeat) Observe(p *Packet) {
	sp, dp := p.Src.Port(), p.Dst.Port()
	sw, dw := r.ports.Has(sp), r.ports.Has(dp)
	if !sw && !dw || r.exclude.Has(sp) || r.exclude.Has(dp) {
		return
	}
	i, f, srcIsA, isNew := r.flows.Lookup(p, p.Time+int64(r.cfg.Idle))
	if isNew {
		f.sampled = false
		f.run.clear()
		switch {
		case sw && !dw:
			f.server = side(srcIsA)
		case dw && !sw:
			f.server = side(!srcIsA)
		case sp != dp:
			// Both watched: the lower port is the service.
			f.server = side(srcIsA == (sp < dp))
		default:
			f.server = side(!srcIsA) // same port: the first sender is the client
		}
	}
	if f.run.packets() > 0 && p.Time-f.run.t.last >= int64(r.cfg.Idle) {
		r.closeRun(i, f)
	}
	dir := 0
	if f.server == side(srcIsA) {
		dir = 1
	}
	f.run.add(p, dir, false)
	if dir == 0 && !f.sampled && f.run.packets() > 2 {
		n := min(len(p.Payload), MaxPayload)
		r.samples[i] = sample{append([]byte(nil), p.Payload[:n]...), p.Cut || n < len(p.Payload)}
		f.sampled = true
	}
	r.flows.Keep(i, p.Time+int64(r.cfg.Idle))
}

// candidatePackets is how many packets, both ways, make a run busy: the
// tracker spares it when the table is full.
const candidatePackets = 8

func (r *Repeat) busy(f *repeatFlow) bool {
	return f.run.packets() >= candidatePackets && f.run.t.pkts[0] > 0 && f.run.t.pkts[1] > 0
}

func (r *Repeat) forget(i int32, f *repeatFlow, why Eviction) {
	if why == FullBusy && f.run.qualifies(r.cfg.Runs) {
		r.counters.CutByFlowCap++
	}
	r.closeRun(i, f)
}

func (r *Repeat) closeRun(i int32, f *repeatFlow) {
	if f.run.qualifies(r.cfg.Runs) {
		s := r.samples[i]
		client, server := r.flows.Endpoint(i, f.server != 1), r.flows.Endpoint(i, f.server == 1)
		r.loops = append(r.loops, f.run.loop(r.Name(), client, server, s.b, s.cut))
	}
	f.run.clear()
	if f.sampled {
		delete(r.samples, i)
		f.sampled = false
	}
}

// Finish implements Detector.
func (r *Repeat) Finish(end int64) []Loop {
	r.flows.Close(end)
	for i := range r.loops {
		r.loops[i].Ongoing = end-r.loops[i].End < int64(r.cfg.Idle)
	}
	sort.SliceStable(r.loops, func(i, j int) bool { return r.loops[i].Start < r.loops[j].Start })
	return r.loops
}

// Advice implements Detector.
func (r *Repeat) Advice(l *Loop) string { return advice(l, false) }
