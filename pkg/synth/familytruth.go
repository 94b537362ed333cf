package synth

import (
	"fmt"
	"time"
)

// FamilyTruth is the expected result for a loop-family sample: the
// acceptance truth.json shape with tier "beyond", where loops have no
// trigger and name their first captured packet instead, plus fields the
// detector's own tests can use.
type FamilyTruth struct {
	// Files are the capture files, in reading order.
	Files []string `json:"files"`
	// ExpectExit is pongscan's expected exit status: 1 with loops, 0
	// without.
	ExpectExit int `json:"expect_exit"`
	// Loops are the loops pongscan must report.
	Loops []FlowTruth `json:"loops"`
	// PacketsTotal is the number of records in all files.
	PacketsTotal int `json:"packets_total"`
	// Tier is "beyond": the trigger-less loop family of issue 9.
	Tier string `json:"tier"`
	// Kind names what the sample shows ("echo-chargen",
	// "trap-echo-client").
	Kind string `json:"kind"`
	// Link describes the file format and link type
	// ("pcap/ethernet", "pcapng/raw").
	Link string `json:"link"`
	// ServicePorts are ports a detector must be told are services
	// (--service-port) to see a loop between them as server to server.
	ServicePorts []uint16 `json:"service_ports,omitempty"`
	// Traps describe the flows of a trap sample that look loop-like but
	// are not loops; pongscan must report none of them.
	Traps []FlowTruth `json:"traps,omitempty"`
	// Notes says what the sample is and why it is a loop or a trap.
	Notes string `json:"notes"`
}

// FlowTruth describes one scripted flow as captured: a loop (in
// FamilyTruth.Loops) or a trap (in FamilyTruth.Traps).
type FlowTruth struct {
	Name string `json:"name"`
	// Client and Server are the flow's endpoints; for a loop the
	// client is A of the PingPong (the side that sent the first
	// datagram when it was captured) and the server is B. The
	// acceptance check accepts either orientation.
	Client Endpoint `json:"client"`
	Server Endpoint `json:"server"`
	// Packets counts every datagram of the flow (its 5-tuple, both
	// directions) from the first captured packet through the last.
	Packets int `json:"packets"`
	// Start and End are the times (Unix seconds) of the first and last
	// packets.
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// RatePPS is Packets / (End - Start).
	RatePPS float64 `json:"rate_pps"`
	// OngoingAtEnd is true when the loop was still running when the
	// capture ended (StillRunning).
	OngoingAtEnd bool `json:"ongoing_at_end"`
	// PayloadClass names the payload when a detector classifies it
	// ("tftp" for the seed's loop).
	PayloadClass string     `json:"payload_class,omitempty"`
	Frames       FlowFrames `json:"frames"`
	// Kind names the flow ("echo-chargen", "echo-client").
	Kind string `json:"kind"`
	// ClientPackets and ServerPackets split Packets by sender.
	ClientPackets int `json:"client_packets"`
	ServerPackets int `json:"server_packets"`
	// FirstFrom is "client" or "server": who sent the first packet.
	FirstFrom string `json:"first_from"`
	// SpoofedFirst is true when the first packet is a forgery: sent by a
	// third host in an endpoint's name, with FirstTTL where that
	// endpoint's own packets carry ClientTTL (or ServerTTL).
	SpoofedFirst bool `json:"spoofed_first"`
	// FirstTTL is the IP TTL (hop limit) of the first packet.
	FirstTTL uint8 `json:"first_ttl"`
	// ClientTTL and ServerTTL are the TTLs of each side's other packets
	// (0 when it sent none).
	ClientTTL uint8 `json:"client_ttl"`
	ServerTTL uint8 `json:"server_ttl"`
	// MaxGapMS is the longest time between two consecutive packets of
	// the flow, in milliseconds.
	MaxGapMS float64 `json:"max_gap_ms"`
}

// FlowFrames locates a flow's first and last packets (1-based frame
// numbers; [file, frame] pairs for several files). For a datagram in IP
// fragments, the frame is the last fragment's.
type FlowFrames struct {
	First FrameRef `json:"first"`
	Last  FrameRef `json:"last"`
}

// FlowTruth computes the truth of the loop or flow id (AddPingPong,
// AddPoll, Track, or AddLoop, whose trigger packets it leaves out) from the
// frames actually written to files, read in order as one stream.
func (s *Scenario) FlowTruth(files []File, id LoopID, name string) (FlowTruth, error) {
	if id <= 0 || int(id) > len(s.loops) {
		return FlowTruth{}, fmt.Errorf("synth: no loop %d", id)
	}
	info := s.loops[id-1]
	type pos struct {
		ref FrameRef
		f   *Frame
	}
	var all []pos
	first, last := -1, -1
	var lastTime time.Time
	for _, file := range files {
		for n := range file.Frames {
			f := &file.Frames[n]
			ref := FrameRef{Frame: n + 1}
			if len(files) > 1 {
				ref.File = file.Name
			}
			all = append(all, pos{ref: ref, f: f})
			if f.Time.After(lastTime) {
				lastTime = f.Time
			}
			if f.Loop != id || !f.Last || f.Role == RoleTriggerQuery || f.Role == RoleTriggerResponse {
				continue
			}
			if first < 0 {
				first = len(all) - 1
			}
			last = len(all) - 1
		}
	}
	if first < 0 {
		return FlowTruth{}, fmt.Errorf("synth: loop %d has no packet in the files", id)
	}
	kind := info.kind
	if kind == "" && !info.pingPong {
		kind = "machine-pong"
	}
	ft := FlowTruth{
		Name: name, Client: endpoint(info.client), Server: endpoint(info.server),
		Kind: kind, PayloadClass: info.class,
		Frames: FlowFrames{First: all[first].ref, Last: all[last].ref},
	}
	ff := all[first].f
	ft.FirstFrom = "client"
	if ff.Src == info.server {
		ft.FirstFrom = "server"
	}
	ft.SpoofedFirst, ft.FirstTTL = ff.Spoofed, ff.TTL
	var prev time.Time
	var maxGap time.Duration
	for i, p := range all[first : last+1] {
		f := p.f
		if !f.Last || !sameFlow(f, info.client, info.server) {
			continue
		}
		ft.Packets++
		if f.Src == info.client {
			ft.ClientPackets++
			if i > 0 || !f.Spoofed {
				ft.ClientTTL = f.TTL
			}
		} else {
			ft.ServerPackets++
			if i > 0 || !f.Spoofed {
				ft.ServerTTL = f.TTL
			}
		}
		if !prev.IsZero() {
			maxGap = max(maxGap, f.Time.Sub(prev))
		}
		prev = f.Time
	}
	start, end := ff.Time, all[last].f.Time
	ft.Start, ft.End = UnixSeconds(start), UnixSeconds(end)
	ft.OngoingAtEnd = StillRunning(lastTime.Sub(end), maxGap)
	if d := end.Sub(start); d > 0 {
		ft.RatePPS = float64(ft.Packets) / d.Seconds()
	}
	ft.MaxGapMS = float64(maxGap) / float64(time.Millisecond)
	return ft, nil
}
