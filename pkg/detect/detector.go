package detect

import (
	"time"
)

// Detector finds loops in a time-ordered stream of UDP datagrams. The scan
// runs one instance per shard; each sees every datagram of its flows, in
// capture order, and keeps its own bounded state (usually in a Tracker).
//
// A new detector is one file implementing this interface and one line in
// the command's list of detectors (internal/cli).
type Detector interface {
	// Name identifies the detector in reports and in the summary.
	Name() string
	// Watch adds the UDP ports whose datagrams the detector wants to
	// ports; a datagram is shown to the detectors when either of its
	// ports is watched by one of them.
	Watch(ports *PortSet)
	// Begin tells the detector when the input began: the time of its
	// first record of any kind, before any Observe. Without it the first
	// datagram observed stands in.
	Begin(start int64)
	// Observe sees a datagram. p and the bytes it points to are borrowed
	// for the duration of the call.
	Observe(p *Packet)
	// Finish ends the stream; end is the time of the last record of the
	// input. It returns the loops found, sorted by start.
	Finish(end int64) []Loop
	// Counters reports what the detector counted.
	Counters() Counters
	// Advice says how to stop one of the detector's loops, for people.
	Advice(l *Loop) string
}

// Factory makes one instance of a detector from the scan's settings.
type Factory func(Config) Detector

// Config holds the settings detectors are made from, shared by all of
// them; each reads the fields it uses. The zero value of a field takes
// its default from DefaultConfig.
type Config struct {
	// DNSPorts are the server ports that make a UDP flow DNS traffic.
	DNSPorts []uint16
	// ServicePorts are responder services besides echo (7), daytime (13),
	// QOTD (17), chargen (19) and time (37): a side on one of them answers
	// with every packet that is not a request.
	ServicePorts []uint16
	// MaxDelay is the longest gap between a trigger answer and the first
	// non-DNS packet from its client.
	MaxDelay time.Duration
	// Idle is the gap that ends a loop.
	Idle time.Duration
	// MinPackets is the packet count at which a loop is reported;
	// shorter ones are bounces.
	MinPackets int
	// FlowTimeout is how long a DNS flow with unanswered queries is kept
	// without traffic.
	FlowTimeout time.Duration
	// MaxFlows caps the flows one detector instance tracks. The scan
	// divides the whole scan's cap between its shards.
	MaxFlows int
	// Runs holds the thresholds for loops found without a trigger.
	Runs RunConfig
	// WhatIf, when set, replays the rate-limiting what-if as the DNS
	// detector goes (whatif.go); each detector instance needs its own.
	WhatIf WhatIf
}

// DefaultConfig holds the documented defaults.
var DefaultConfig = Config{
	DNSPorts:    []uint16{53},
	MaxDelay:    500 * time.Millisecond,
	Idle:        2 * time.Second,
	MinPackets:  10,
	FlowTimeout: 5 * time.Second,
	MaxFlows:    1 << 18,
	Runs:        DefaultRunConfig,
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	def := DefaultConfig
	if len(c.DNSPorts) == 0 {
		c.DNSPorts = def.DNSPorts
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = def.MaxDelay
	}
	if c.Idle <= 0 {
		c.Idle = def.Idle
	}
	if c.MinPackets <= 0 {
		c.MinPackets = def.MinPackets
	}
	if c.FlowTimeout <= 0 {
		c.FlowTimeout = def.FlowTimeout
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = def.MaxFlows
	}
	c.Runs = c.Runs.withDefaults()
	return c
}

// Counters are what one detector counted. The summary lists them under
// the detector's name and adds them up across detectors.
type Counters struct {
	DNSMessages  uint64 // payloads on DNS ports that parse as DNS
	NonDNS       uint64 // payloads on DNS ports that do not
	Truncated    uint64 // payloads on DNS ports cut by the snap length before they could be judged
	Flows        uint64 // flow records created
	Bounces      uint64 // loops that stopped before reaching the minimum packet count
	OneSided     uint64 // candidate loops with too little traffic in one direction
	Evicted      uint64 // flows evicted after going idle
	EvictedCap   uint64 // flows evicted early because the flow table was full
	CutByFlowCap uint64 // loops cut short because the flow table was full of busy flows
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	c.DNSMessages += o.DNSMessages
	c.NonDNS += o.NonDNS
	c.Truncated += o.Truncated
	c.Flows += o.Flows
	c.Bounces += o.Bounces
	c.OneSided += o.OneSided
	c.Evicted += o.Evicted
	c.EvictedCap += o.EvictedCap
	c.CutByFlowCap += o.CutByFlowCap
}

// Named lists the counters by their names in the JSON summary.
func (c *Counters) Named() map[string]uint64 {
	return map[string]uint64{
		"dns_messages": c.DNSMessages, "non_dns": c.NonDNS, "truncated": c.Truncated,
		"flows": c.Flows, "bounces": c.Bounces, "one_sided": c.OneSided,
		"flows_evicted_idle": c.Evicted, "flows_evicted_full": c.EvictedCap,
		"loops_cut_by_flow_cap": c.CutByFlowCap,
	}
}

// PortSet is a set of UDP ports, or all of them.
type PortSet struct {
	bits [1024]uint64
	all  bool
}

// Add adds ports to the set.
func (s *PortSet) Add(ports ...uint16) {
	for _, p := range ports {
		s.bits[p/64] |= 1 << (p % 64)
	}
}

// AddAll makes the set hold every port.
func (s *PortSet) AddAll() { s.all = true }

// Has reports whether p is in the set.
func (s *PortSet) Has(p uint16) bool { return s.all || s.bits[p/64]&(1<<(p%64)) != 0 }
