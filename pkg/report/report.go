package report

import (
	"encoding/hex"
	"io"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// Schema names the JSON document's version.
const Schema = "pongscan.report/v1"

// Report is everything a scan found. It is the JSON document, and the
// other printers render the same values.
type Report struct {
	Schema string `json:"schema"`
	// Tool names the program and build that wrote the report (tool.go).
	Tool     Tool     `json:"tool"`
	Inputs   []Input  `json:"inputs"`
	Settings Settings `json:"settings"`
	Summary  Summary  `json:"summary"`
	Loops    []Loop   `json:"loops"`
	// Warnings are problems that did not stop the scan: inputs of one
	// stream overlapping in time, the same file named twice.
	Warnings []string `json:"warnings,omitempty"`
}

// Settings echoes the thresholds the scan used.
type Settings struct {
	DNSPorts   []uint16 `json:"dns_ports"`
	MaxDelayMS float64  `json:"max_delay_ms"`
	IdleS      float64  `json:"idle_s"`
	MinPackets int      `json:"min_packets"`
	MaxFlows   int      `json:"max_flows"`
	// FlowTimeoutS is how long a DNS flow with unanswered queries is kept.
	FlowTimeoutS float64 `json:"flow_timeout_s"`
	// Filter echoes --host, --port, --from and --to; absent without them.
	Filter *FilterSettings `json:"filter,omitempty"`
	// ServicePorts are the extra responder ports (--service-port).
	ServicePorts []uint16 `json:"service_ports"`
	// Loop is the loop signature's thresholds (--loop-*).
	Loop LoopSettings `json:"loop_signature"`
}

// LoopSettings echoes the loop signature's thresholds.
type LoopSettings struct {
	MinPackets     int     `json:"min_packets"`
	MinRate        float64 `json:"min_rate_pps"`
	MinShare       float64 `json:"min_share"`
	MinAlternation float64 `json:"min_alternation"`
	MinAnswers     float64 `json:"min_answers"`
}

// Input describes one input file.
type Input struct {
	Path string `json:"path"`
	// Stream names the input's stream; absent for the one stream of a
	// plain scan.
	Stream string `json:"stream,omitempty"`
	Format string `json:"format,omitempty"` // pcap or pcapng; empty when unreadable
	Gzip   bool   `json:"gzip,omitempty"`
	// Compression is gzip, zstd, lz4 or xz, absent when none.
	Compression string   `json:"compression,omitempty"`
	LinkTypes   []uint32 `json:"link_types"`
	Packets     uint64   `json:"packets"`
	First       string   `json:"first,omitempty"` // RFC 3339 UTC, nanoseconds
	Last        string   `json:"last,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// Summary counts what was read.
type Summary struct {
	Packets      uint64            `json:"packets"`
	UDP          uint64            `json:"udp"`
	DNSMessages  uint64            `json:"dns_messages"`
	NonDNS       uint64            `json:"non_dns"`
	Truncated    uint64            `json:"truncated"`
	Flows        uint64            `json:"flows"`
	Bounces      uint64            `json:"bounces"`
	Loops        int               `json:"loops"`
	OneSided     uint64            `json:"one_sided"`
	TCP          uint64            `json:"tcp"`
	OtherIP      uint64            `json:"other_ip"`
	NotIP        uint64            `json:"not_ip"`
	Malformed    uint64            `json:"malformed"`
	Fragments    uint64            `json:"fragments"`
	Reassembled  uint64            `json:"reassembled"`
	FragDropped  uint64            `json:"fragments_dropped"`
	UnknownLink  uint64            `json:"unknown_link"`
	UnknownLinks map[string]uint64 `json:"unknown_link_types,omitempty"`
	NonPacket    uint64            `json:"non_packet_records"`
	Evicted      uint64            `json:"flows_evicted_idle"`
	EvictedCap   uint64            `json:"flows_evicted_full"`
	// Detectors holds each detector's own counters under its name; the
	// counters above add them up.
	Detectors map[string]map[string]uint64 `json:"detectors"`
	// FilteredOut counts the records a --host, --port, --from or --to
	// filter dropped (they are in Packets, and in no other count).
	FilteredOut uint64 `json:"filtered_out,omitempty"`
	// VLANTags is the most 802.1Q/802.1ad tags seen on one frame of the
	// inputs (0: none): the loops' capture filters match frames with up
	// to that many tags, as they are in a capture file.
	VLANTags uint8 `json:"vlan_tags_max,omitempty"`
	// Interrupted reports that the scan was stopped (a signal) before
	// every input was read: the report covers what was read until then.
	Interrupted bool `json:"interrupted"`
	// FollowUpInterrupted reports that a signal stopped the second read
	// (the what-if, --extract, --html) after the whole scan: the report
	// is complete, and loops not followed up say so.
	FollowUpInterrupted bool `json:"followup_interrupted,omitempty"`
}

// Endpoint is an address and port.
type Endpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

// Direction counts one direction of a loop.
type Direction struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Payload describes the loop's first non-DNS payload.
type Payload struct {
	Kind    string `json:"kind"`
	Text    string `json:"text"` // valid UTF-8: invalid bytes become U+FFFD
	Hex     string `json:"hex"`  // the raw bytes
	Length  int    `json:"length"`
	Cut     bool   `json:"cut,omitempty"`
	Summary string `json:"summary"`
	// TFTP fields, when kind is tftp-error or tftp.
	TFTPOpcode    uint16 `json:"tftp_opcode,omitempty"`
	TFTPErrorCode uint16 `json:"tftp_error_code,omitempty"`
}

// Packet names one trigger packet.
type Packet struct {
	File    string   `json:"file"`
	Frame   uint64   `json:"frame"`
	Time    string   `json:"time"`
	Src     Endpoint `json:"src"`
	Dst     Endpoint `json:"dst"`
	Summary string   `json:"summary"`
}

// Query is the trigger query.
type Query struct {
	Packet
	ID    uint16 `json:"id"`
	QName string `json:"qname"`
	QType string `json:"qtype"`
}

// Response is the trigger response.
type Response struct {
	Packet
	RCode string `json:"rcode"`
}

// FirstNonDNS is the packet that started the loop: the client's first
// non-DNS packet after the trigger answer, or, for a loop without a
// captured trigger, the client's first packet of the loop.
type FirstNonDNS struct {
	Packet
	DelayMS *float64 `json:"delay_ms"` // after the trigger answer; null without a trigger
}

// Trigger links the last genuine exchange to the first non-DNS reply.
// Query and Response are null for a loop whose trigger was not captured.
type Trigger struct {
	Query       *Query      `json:"query"`
	Response    *Response   `json:"response"`
	FirstNonDNS FirstNonDNS `json:"first_non_dns"`
}

// Loop is one machine-pong loop.
type Loop struct {
	// ID names the loop across runs and tools: a hash of its two
	// endpoints and its start time, like Zeek's uid.
	ID string `json:"id"`
	// Stream names the loop's stream; absent for the one stream of a
	// plain scan.
	Stream         string    `json:"stream,omitempty"`
	Detector       string    `json:"detector"`
	Client         Endpoint  `json:"client"`
	Server         Endpoint  `json:"server"`
	Start          string    `json:"start"`
	End            string    `json:"end"`
	DurationS      float64   `json:"duration_s"`
	Packets        uint64    `json:"packets"`
	Bytes          uint64    `json:"bytes"`
	ClientToServer Direction `json:"client_to_server"`
	ServerToClient Direction `json:"server_to_client"`
	RatePPS        float64   `json:"rate_pps"`
	PeakPPS        uint64    `json:"peak_pps"`
	OngoingAtEnd   bool      `json:"ongoing_at_end"`
	// OpenAtStart: the loop's first packet lies within the idle gap of
	// its stream's first record, so it may have begun before the capture
	// (or the chunk) did. With OngoingAtEnd (open at the end) it is what
	// `pongscan merge` joins loops split across chunks by.
	OpenAtStart bool  `json:"open_at_start"`
	ClientTTLs  []int `json:"client_ttls"`
	// ClientTTLsMore is set when the client used more distinct TTLs than
	// client_ttls lists (16 for triggered loops, 2 otherwise).
	ClientTTLsMore bool    `json:"client_ttls_more,omitempty"`
	Payload        Payload `json:"payload"`
	// FirstPacket is the loop's first packet: the first non-DNS packet
	// for a triggered loop, the first captured packet of the loop
	// otherwise.
	FirstPacket Packet  `json:"first_packet"`
	Trigger     Trigger `json:"trigger"`
	// CutByFlowCap: the flow table, full of busy flows, had to forget
	// the loop while it ran; packets after End were not counted.
	CutByFlowCap bool `json:"cut_by_flow_cap,omitempty"`
	// Evidence is what the finding rests on (see Evidence).
	Evidence *Evidence `json:"evidence"`
	// Advice says how to stop it, from the detector that found it.
	Advice string `json:"advice"`
	// The analyst's next steps (followup.go): Wireshark filter and
	// commands, blocking rules, the rate-limiting what-if, and the file
	// --extract wrote.
	Wireshark  *Wireshark  `json:"wireshark,omitempty"`
	Mitigation *Mitigation `json:"mitigation,omitempty"`
	RRL        *RRL        `json:"rrl,omitempty"`
	Extract    *Extract    `json:"extract,omitempty"`
}

// Timestamp formats nanoseconds since the epoch as RFC 3339 UTC with nine
// fractional digits.
func Timestamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
}

// FromLoop converts a detector's loop; files maps PacketRef.Source to paths.
//
// Strings the loop repeats (its endpoints' addresses in every packet, its
// start time in its first packet) are formatted once and shared: a scan
// of a million loops holds a million of these reports.
func FromLoop(l *detect.Loop, files []string) Loop {
	client, server := l.Client.Addr().String(), l.Server.Addr().String()
	start, end := Timestamp(l.Start), Timestamp(l.End)
	ip := func(a netip.Addr) string {
		switch a {
		case l.Client.Addr():
			return client
		case l.Server.Addr():
			return server
		}
		return a.String()
	}
	ts := func(t int64) string {
		switch t {
		case l.Start:
			return start
		case l.End:
			return end
		}
		return Timestamp(t)
	}
	pkt := func(p *detect.PacketInfo) Packet {
		f := ""
		if p.Ref.Source >= 0 && p.Ref.Source < len(files) {
			f = files[p.Ref.Source]
		}
		return Packet{
			File: f, Frame: p.Ref.Frame, Time: ts(p.Time),
			Src:     Endpoint{IP: ip(p.Src.Addr()), Port: p.Src.Port()},
			Dst:     Endpoint{IP: ip(p.Dst.Addr()), Port: p.Dst.Port()},
			Summary: ValidUTF8(p.Summary),
		}
	}
	ttls := l.ClientTTLs
	if ttls == nil {
		ttls = []int{}
	}
	pi := l.PayloadInfo
	out := Loop{
		Detector:       l.Detector,
		Client:         Endpoint{IP: client, Port: l.Client.Port()},
		Server:         Endpoint{IP: server, Port: l.Server.Port()},
		Start:          start,
		End:            end,
		DurationS:      l.Duration(),
		Packets:        l.Packets,
		Bytes:          l.Bytes,
		ClientToServer: Direction(l.ClientToServer),
		ServerToClient: Direction(l.ServerToClient),
		RatePPS:        l.Rate(),
		PeakPPS:        PeakPPS(l.PeakPPS, l.Rate()),
		OngoingAtEnd:   l.Ongoing,
		ClientTTLs:     ttls,
		ClientTTLsMore: l.TTLsCapped,
		CutByFlowCap:   l.CutByFlowCap,
		ID:             LoopID(l),
		Evidence:       fromEvidence(l.Evidence),
		Payload: Payload{
			Kind: string(pi.Kind), Text: ValidUTF8(pi.Text), Hex: hex.EncodeToString(l.Payload),
			Length: len(l.Payload), Cut: l.PayloadCut, Summary: ValidUTF8(pi.Summary),
			TFTPOpcode: pi.TFTPOpcode, TFTPErrorCode: pi.TFTPErrorCode,
		},
		FirstPacket: pkt(&l.FirstPacket),
		Trigger:     Trigger{FirstNonDNS: FirstNonDNS{Packet: pkt(&l.FirstNonDNS)}},
	}
	if l.HasTrigger {
		delay := float64(l.DelayNanos) / 1e6
		out.Trigger.Query = &Query{Packet: pkt(&l.Query), ID: l.QueryID, QName: ValidUTF8(l.QName), QType: decode.TypeName(l.QType)}
		out.Trigger.Response = &Response{Packet: pkt(&l.Response), RCode: decode.RCodeName(l.RCode)}
		out.Trigger.FirstNonDNS.DelayMS = &delay
	}
	return out
}

// PeakPPS is a loop's peak rate: the most packets in one second of it
// ([start+k s, start+k+1 s), as the detectors count), but never less than
// its mean rate, rounded up. A loop shorter than a second has no whole
// second: counting its packets as its peak put PEAK below RATE (300/s
// against 503.3/s for the seed sample), and so would a loop whose last,
// partial second ran faster than its whole ones.
func PeakPPS(busiestSecond uint64, rate float64) uint64 {
	return max(busiestSecond, uint64(math.Ceil(rate)))
}

// ValidUTF8 replaces invalid UTF-8 with U+FFFD so JSON carries text, never
// raw bytes (those live in hex fields).
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Base names a file for display.
func Base(p string) string { return filepath.Base(p) }

// Printer writes a report in one format.
type Printer interface {
	Print(w io.Writer, r *Report) error
}
