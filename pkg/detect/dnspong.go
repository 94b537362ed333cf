package detect

import (
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
)

// DNSPongConfig holds the DNS pong detector's thresholds. The zero value of
// a field takes the default from DefaultDNSPongConfig.
type DNSPongConfig struct {
	// DNSPorts are the server ports that make a UDP flow DNS traffic.
	DNSPorts []uint16
	// MaxDelay is the longest gap between the trigger response and the
	// first non-DNS packet from the client.
	MaxDelay time.Duration
	// Idle is the gap that ends a loop.
	Idle time.Duration
	// MinPackets is the packet count at which a loop is reported; shorter
	// ones are bounces.
	MinPackets int
	// MaxFlows caps the flow table; when it is full, the flow expiring
	// soonest is evicted, sparing flows in a loop or a candidate run.
	MaxFlows int
	// FlowTimeout is how long a flow with unanswered queries is kept
	// without traffic. Other flows go after Idle.
	FlowTimeout time.Duration
	// Runs holds the loop signature for loops without a captured trigger:
	// a run of a DNS flow that meets it is a loop wherever it is in the
	// capture (see dnspong_runs.go for which runs are followed).
	Runs RunConfig
	// NoRuns turns off loops without a trigger.
	NoRuns bool
	// WhatIf, when set, is shown the DNS responses and the loops as they
	// go (whatif.go).
	WhatIf WhatIf
}

// DefaultDNSPongConfig holds the documented defaults.
var DefaultDNSPongConfig = DNSPongConfig{
	DNSPorts:    DefaultConfig.DNSPorts,
	MaxDelay:    DefaultConfig.MaxDelay,
	Idle:        DefaultConfig.Idle,
	MinPackets:  DefaultConfig.MinPackets,
	MaxFlows:    DefaultConfig.MaxFlows,
	FlowTimeout: DefaultConfig.FlowTimeout,
	Runs:        DefaultRunConfig,
}

// DNSPongDetector is the Factory of DNSPong.
func DNSPongDetector(c Config) Detector {
	c = c.WithDefaults()
	return NewDNSPong(DNSPongConfig{
		DNSPorts: c.DNSPorts, MaxDelay: c.MaxDelay, Idle: c.Idle, MinPackets: c.MinPackets,
		MaxFlows: c.MaxFlows, FlowTimeout: c.FlowTimeout, Runs: c.Runs, WhatIf: c.WhatIf,
	})
}

// DNSPong detects machine pong on DNS: a genuine query from C:p to S:53,
// S's matching answer, then, within MaxDelay, a packet from C:p to S:53
// that is not DNS; the loop is the back-and-forth on that 5-tuple from
// that packet on, until a gap of Idle.
//
// It also reports loops on DNS flows whose start was not captured (see
// RunConfig); those have no trigger.
//
// Per packet it looks up one flow and parses the DNS header and first
// question; only a client packet arriving on a flow armed by a fresh answer
// is parsed in full. Query names are kept in a ring of recent answers, so a
// trigger's name is reported unless more than 32768 answers arrived between
// it and the loop's first packet.
//
// The concerns live in files of their own: pending queries
// (dnspong_pending.go), triggered loops (dnspong_loop.go), runs without a
// trigger (dnspong_runs.go), the name ring (names.go).
type DNSPong struct {
	cfg      DNSPongConfig
	ports    PortSet // the DNS ports
	flows    *Tracker[flowState]
	names    nameRing
	loops    loopList // triggered loops, as they end
	runLoops loopList // loops without a trigger, as they end
	done     []Loop   // what Finish returned: the triggered loops, then from split the others
	split    int
	runs     []runStats                // runs that may become loops without a trigger
	runFree  []int32                   // indexes of unused entries of runs
	more     [][pendingCap - 1]pending // pending queries after a flow's first
	moreFree []int32                   // indexes of unused entries of more
	first    int64                     // time of the first packet of the input
	started  bool
	counters Counters
	info     decode.DNSInfo
	wiResp   WhatIfResponse
}

// flowState is what DNSPong keeps per flow: 176 bytes in the tracker's slab
// (with the key and the table's own fields).
type flowState struct {
	loop     *loopState
	prevTime int64 // the flow's previous packet, for the gate of a run (dnspong_runs.go)
	prevRef  ref
	runIdx   int32 // 1 + index of the current run's evidence in DNSPong.runs; 0 when none is followed
	server   int8  // 0 unknown, 1 endpoint a is the server, 2 endpoint b
	npending uint8
	next     uint8
	lastReq  uint8 // the client's last packet: 0 none, reqParsed or reqUnparsed (for the what-if)

	prevFlags uint8
	prevWire  uint16
	prevTTL   uint8
	prevProto uint8 // prevTyped | a decode.MsgProto, or 0: prevType holds DNS header bits
	prevRole  uint8
	prevType  uint16

	more int32 // 1 + index in DNSPong.more of pending queries 1 to 3; 0 when at most one waits
	ans  answered
	p0   pending // the first pending query: most flows never have a second
}

// reset readies a recycled slot: only the fields read before being written.
func (f *flowState) reset() {
	f.server, f.npending, f.next, f.more = 0, 0, 0, 0
	f.runIdx, f.prevFlags, f.lastReq = 0, 0, 0
	f.ans.ok = false
	f.loop = nil
}

var _ Detector = (*DNSPong)(nil)

// NewDNSPong returns a detector with cfg, defaults filling zero fields.
func NewDNSPong(cfg DNSPongConfig) *DNSPong {
	c := Config{DNSPorts: cfg.DNSPorts, MaxDelay: cfg.MaxDelay, Idle: cfg.Idle, MinPackets: cfg.MinPackets,
		MaxFlows: cfg.MaxFlows, FlowTimeout: cfg.FlowTimeout, Runs: cfg.Runs}.WithDefaults()
	cfg.DNSPorts, cfg.MaxDelay, cfg.Idle, cfg.MinPackets = c.DNSPorts, c.MaxDelay, c.Idle, c.MinPackets
	cfg.MaxFlows, cfg.FlowTimeout, cfg.Runs = c.MaxFlows, c.FlowTimeout, c.Runs
	cfg.FlowTimeout = max(cfg.FlowTimeout, cfg.Idle, cfg.MaxDelay)
	cfg.Runs.MinPackets = max(cfg.Runs.MinPackets, cfg.MinPackets) // --min-packets holds for every finding
	d := &DNSPong{cfg: cfg}
	d.ports.Add(cfg.DNSPorts...)
	d.flows = NewTracker(cfg.MaxFlows, int64(cfg.FlowTimeout), d.forget, d.busy)
	return d
}

// Name implements Detector.
func (d *DNSPong) Name() string { return "dns-pong" }

// Watch implements Detector: the DNS ports.
func (d *DNSPong) Watch(ports *PortSet) { ports.Add(d.cfg.DNSPorts...) }

// Begin implements Detector.
func (d *DNSPong) Begin(start int64) { d.first, d.started = start, true }

// SetStart is Begin, under its old name.
func (d *DNSPong) SetStart(t int64) { d.Begin(t) }

// Config is the configuration in force, defaults filled in.
func (d *DNSPong) Config() DNSPongConfig { return d.cfg }

// Counters implements Detector.
func (d *DNSPong) Counters() Counters { return d.flows.counted(d.counters) }

// Observe implements Detector.
func (d *DNSPong) Observe(p *Packet) {
	sdns, ddns := d.ports.Has(p.Src.Port()), d.ports.Has(p.Dst.Port())
	if !sdns && !ddns {
		return
	}
	if !d.started {
		d.first, d.started = p.Time, true
	}
	// MaxDelay is the shortest keep: one timer for most flows.
	i, f, srcIsA, isNew := d.flows.Lookup(p, p.Time+int64(d.cfg.MaxDelay))
	if isNew {
		f.reset()
		switch {
		case sdns && !ddns:
			f.server = side(srcIsA)
		case ddns && !sdns:
			f.server = side(!srcIsA)
		}
	}
	d.observe(i, f, p, srcIsA)
	d.flows.Keep(i, d.expiry(f, p.Time))
}

// expiry is when f may be forgotten if nothing more arrives: MaxDelay
// after its last packet (an answer arms it for that long, and a gate looks
// back that far); Idle while a loop or a followed run goes on;
// FlowTimeout while queries wait for answers.
//
// A flow forgotten after MaxDelay and seen again is a new flow. That
// changes no finding: it holds no armed answer, no loop and no run.
func (d *DNSPong) expiry(f *flowState, now int64) int64 {
	keep := d.cfg.MaxDelay
	if f.loop != nil || f.runIdx != 0 {
		keep = max(keep, d.cfg.Idle)
	}
	if f.npending > 0 {
		keep = max(keep, d.cfg.FlowTimeout)
	}
	return now + int64(keep)
}

func (d *DNSPong) observe(i int32, f *flowState, p *Packet, srcIsA bool) {
	if f.loop != nil {
		if p.Time-f.loop.ev.t.last >= int64(d.cfg.Idle) {
			d.closeLoop(f)
		} else {
			v := d.classify(p, HeaderQuestionDepth)
			if d.cfg.WhatIf != nil {
				d.whatIf(f, p, srcIsA, v)
			}
			d.extendLoop(f.loop, p, srcIsA, msgOf(v, &d.info, p))
			d.addRun(i, f, p, srcIsA, v, &d.info)
			return
		}
	}

	depth := HeaderQuestionDepth
	armed := f.ans.ok && p.Time-f.ans.respTime <= int64(d.cfg.MaxDelay) && p.Time >= f.ans.respTime
	// Which side sent it? Unknown only for flows with DNS ports on both
	// sides until the first query or answer tells.
	fromClient := f.server != 0 && f.server != side(srcIsA)
	if armed && fromClient {
		depth = FullDepth
	}
	v := d.classify(p, depth)
	info := &d.info
	if d.cfg.WhatIf != nil {
		d.whatIf(f, p, srcIsA, v)
	}
	switch v {
	case decode.DNS, decode.Truncated:
		if v == decode.Truncated && !info.HasQuestion {
			break
		}
		if f.server == 0 {
			// Both ports are DNS ports: a query goes to the server.
			f.server = side(srcIsA == info.Response)
			fromClient = !info.Response
		}
		if !info.Response && fromClient && info.HasQuestion {
			d.addPending(f, pending{at: mkref(p.Ref), time: p.Time, id: info.ID, qtype: info.QType, qhash: uint32(info.QHash)})
		} else if info.Response && !fromClient && info.HasQuestion {
			if q, ok := d.takePending(f, info.ID, uint32(info.QHash), info.QType); ok {
				f.ans = answered{
					query: q.at, queryTime: q.time, resp: mkref(p.Ref), respTime: p.Time,
					id: info.ID, qtype: info.QType, rcode: info.RCode, ok: true,
					name: d.names.put(&info.QName),
				}
			}
		}
	case decode.NotDNS:
		if armed && fromClient {
			d.startLoop(f, p, srcIsA)
		}
	}
	d.addRun(i, f, p, srcIsA, v, info)
}

// Depths, named here so Observe reads plainly.
const (
	HeaderQuestionDepth = decode.HeaderQuestion
	FullDepth           = decode.Full
)

func side(a bool) int8 {
	if a {
		return 1
	}
	return 2
}

func (d *DNSPong) classify(p *Packet, depth decode.Depth) decode.DNSVerdict {
	v := decode.ClassifyDNS(p.Payload, p.Cut, depth, &d.info)
	switch v {
	case decode.DNS:
		d.counters.DNSMessages++
	case decode.NotDNS:
		d.counters.NonDNS++
	default:
		d.counters.Truncated++
	}
	return v
}

// busy tells the tracker which flows to spare when the table is full: a
// flow in a loop, or in a run being followed.
func (d *DNSPong) busy(f *flowState) bool { return f.loop != nil || f.runIdx != 0 }

// forget closes what f holds before the tracker removes it.
func (d *DNSPong) forget(i int32, f *flowState, why Eviction) {
	if f.loop != nil {
		if why == FullBusy {
			f.loop.l.CutByFlowCap = true
			d.counters.CutByFlowCap++
		}
		d.closeLoop(f)
	}
	d.closeRun(i, f)
	d.freeMore(f)
}

// Finish implements Detector. Loops with a trigger come first, then loops
// without one, each sorted by start.
func (d *DNSPong) Finish(end int64) []Loop {
	d.flows.Close(end)
	if d.cfg.WhatIf != nil {
		d.cfg.WhatIf.Flush()
	}
	// One array of the findings: those of an earlier call first (a
	// second call returns them again), then those found since.
	before, runsBefore := d.done[:d.split], d.done[d.split:]
	out := make([]Loop, 0, len(d.done)+d.loops.len()+d.runLoops.len())
	out = d.loops.appendTo(append(out, before...))
	n := len(out)
	out = d.runLoops.appendTo(append(out, runsBefore...))
	sortByStart(out[:n])
	sortByStart(out[n:])
	d.done, d.split = out, n
	for i := range out {
		out[i].Ongoing = stillRunning(&out[i], end, d.cfg.Idle)
	}
	return out
}

// Advice implements Detector.
func (d *DNSPong) Advice(l *Loop) string { return advice(l) }
