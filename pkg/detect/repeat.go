package detect

import (
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
)

// RepeatConfig holds the thresholds of the Repeat detector. Zero fields
// take the defaults from DefaultRepeatConfig.
type RepeatConfig struct {
	// Ports are responder service ports besides echo, daytime, QOTD,
	// chargen and time: a side on one of them answers with every packet
	// that is not a request (--service-port).
	Ports []uint16
	// Exclude are ports whose flows belong to another detector (the DNS
	// ports): a flow with one of them on either end is not watched. Empty
	// means port 53.
	Exclude []uint16
	// Idle is the gap that ends a run of packets.
	Idle time.Duration
	// MinPackets is the packet count a loop needs (with Runs.MinPackets:
	// the larger applies).
	MinPackets int
	// Runs holds the loop rules.
	Runs RunConfig
	// MaxFlows caps the flow table.
	MaxFlows int
}

// DefaultRepeatConfig holds the documented defaults.
var DefaultRepeatConfig = RepeatConfig{
	Idle:     DefaultConfig.Idle,
	Runs:     DefaultRunConfig,
	MaxFlows: DefaultConfig.MaxFlows,
}

// RepeatDetector is the Factory of Repeat: every UDP flow but those on the
// DNS ports, which DNSPong follows.
func RepeatDetector(c Config) Detector {
	c = c.WithDefaults()
	return NewRepeat(RepeatConfig{Ports: c.ServicePorts, Exclude: c.DNSPorts, Idle: c.Idle,
		MinPackets: c.MinPackets, Runs: c.Runs, MaxFlows: c.MaxFlows})
}

// Repeat (udp-pong) finds loops on UDP flows of any ports by the loop
// signature alone (RunConfig): echo, chargen, daytime, QOTD, time, TFTP
// and NTP services answering each other, or any other pair that does.
// Its findings have no trigger.
type Repeat struct {
	cfg       RepeatConfig
	responder PortSet
	exclude   PortSet
	flows     *Tracker[repeatFlow]
	loops     loopList // as they end
	done      []Loop   // what Finish returned
	samples   map[int32]sample
	counters  Counters
}

type repeatFlow struct {
	server  int8 // 1: endpoint a, 2: endpoint b
	sampled bool
	ev      evidence
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
	if cfg.Idle <= 0 {
		cfg.Idle = def.Idle
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	if len(cfg.Exclude) == 0 {
		cfg.Exclude = []uint16{53}
	}
	cfg.Runs = cfg.Runs.withDefaults()
	cfg.Runs.MinPackets = max(cfg.Runs.MinPackets, cfg.MinPackets)
	r := &Repeat{cfg: cfg, samples: map[int32]sample{}}
	r.responder.Add(responderPorts...)
	r.responder.Add(cfg.Ports...)
	r.exclude.Add(cfg.Exclude...)
	r.flows = NewTracker(cfg.MaxFlows, int64(cfg.Idle), r.forget, r.busy)
	return r
}

// Name implements Detector.
func (r *Repeat) Name() string { return "udp-pong" }

// Watch implements Detector: every port (flows on the DNS ports are left
// to DNSPong).
func (r *Repeat) Watch(ports *PortSet) { ports.AddAll() }

// Begin implements Detector; Repeat does not need the start.
func (r *Repeat) Begin(int64) {}

// Counters implements Detector.
func (r *Repeat) Counters() Counters { return r.flows.counted(r.counters) }

// Observe implements Detector.
func (r *Repeat) Observe(p *Packet) {
	sp, dp := p.Src.Port(), p.Dst.Port()
	if r.exclude.Has(sp) || r.exclude.Has(dp) {
		return
	}
	i, f, srcIsA, isNew := r.flows.Lookup(p, p.Time+int64(r.cfg.Idle))
	if isNew {
		f.sampled = false
		f.ev.t.pkts = [2]uint64{}
		sr, dr := r.responder.Has(sp), r.responder.Has(dp)
		switch {
		case sr && !dr:
			f.server = side(srcIsA)
		case dr && !sr:
			f.server = side(!srcIsA)
		case sp != dp:
			// Both or neither: the lower port is the service.
			f.server = side(srcIsA == (sp < dp))
		default:
			f.server = side(!srcIsA) // same port: the first sender is the client
		}
	}
	if f.ev.packets() > 0 && p.Time-f.ev.t.last >= int64(r.cfg.Idle) {
		r.closeRun(i, f)
	}
	dir := 0
	if f.server == side(srcIsA) {
		dir = 1
	}
	if f.ev.packets() == 0 {
		// The ports a side uses do not change within a flow.
		client, server := sp, dp
		if dir == 1 {
			client, server = dp, sp
		}
		f.ev.begin(p, dir, [2]bool{r.responder.Has(client), r.responder.Has(server)})
	}
	f.ev.add(p, dir, decode.ClassifyMsg(p.Payload, p.Cut))
	if dir == 0 && !f.sampled {
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
	return f.ev.packets() >= candidatePackets && f.ev.t.pkts[0] > 0 && f.ev.t.pkts[1] > 0
}

func (r *Repeat) forget(i int32, f *repeatFlow, why Eviction) {
	if why == FullBusy && f.ev.packets() > 0 {
		if _, ok := f.ev.tests(r.cfg.Runs); ok {
			r.counters.CutByFlowCap++
		}
	}
	r.closeRun(i, f)
}

func (r *Repeat) closeRun(i int32, f *repeatFlow) {
	if f.ev.packets() > 0 {
		if _, ok := f.ev.tests(r.cfg.Runs); ok {
			s := r.samples[i]
			client, server := r.flows.Endpoint(i, f.server != 1), r.flows.Endpoint(i, f.server == 1)
			services := [2]string{service(client.Port(), f.ev.types[0].top()), service(server.Port(), f.ev.types[1].top())}
			l := f.ev.trigless(r.Name(), client, server, s.b, s.cut, r.cfg.Runs, services)
			r.loops.push(&l)
		} else if f.ev.oneSidedAnswers(r.cfg.Runs) {
			r.counters.OneSided++
		}
	}
	f.ev.t.pkts = [2]uint64{}
	if f.sampled {
		delete(r.samples, i)
		f.sampled = false
	}
}

// Finish implements Detector.
func (r *Repeat) Finish(end int64) []Loop {
	r.flows.Close(end)
	// Those of an earlier call first (a second call returns them again),
	// then those found since.
	out := r.loops.appendTo(append(make([]Loop, 0, len(r.done)+r.loops.len()), r.done...))
	for i := range out {
		out[i].Ongoing = stillRunning(&out[i], end, r.cfg.Idle)
	}
	sortByStart(out)
	r.done = out
	return out
}

// Advice implements Detector.
func (r *Repeat) Advice(l *Loop) string { return advice(l) }
