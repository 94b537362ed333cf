package report

// The analyst's next steps with a loop, beside the finding itself: look
// at it in Wireshark, block it, and know whether response rate limiting
// would have stopped it. pkg/handoff and pkg/rrl fill these in.

// Wireshark says how to see a loop's packets in Wireshark or tshark.
type Wireshark struct {
	// DisplayFilter selects exactly the loop's packets and its trigger
	// (the query and the answer) in the original capture: the loop's
	// 5-tuple, both ways, from its first packet to its last, and the
	// trigger packets by their timestamps.
	DisplayFilter string `json:"display_filter"`
	// Tshark writes those packets, with the IP fragments they need, to a
	// new pcapng file (two passes, -2, so that fragments are kept).
	Tshark string `json:"tshark"`
	// Editcap cuts the capture to the loop's time window: every packet
	// from the trigger to the loop's end, other flows included, to open
	// in Wireshark with the filter (faster than tshark on a large file).
	Editcap string `json:"editcap"`
	// DecodeAs tells Wireshark what the non-DNS side speaks, so the
	// loop's packets do not show as "DNS [Malformed Packet]"; absent
	// when Wireshark decodes both sides already.
	DecodeAs *DecodeAs `json:"decode_as,omitempty"`
	// Note says what the commands cannot do (an input read from stdin).
	Note string `json:"note,omitempty"`
}

// DecodeAs is a Wireshark "Decode As..." entry.
type DecodeAs struct {
	Field    string `json:"field"`    // "udp.port"
	Value    uint16 `json:"value"`    // the non-DNS side's port
	Protocol string `json:"protocol"` // Wireshark's name: "tftp", "ntp", "data"
	// Option is tshark's -d option for it.
	Option string `json:"tshark_option"`
	Note   string `json:"note"`
}

// Mitigation holds rules that drop only a loop's packets, and a capture
// filter that records them.
type Mitigation struct {
	// Nft is an nftables rule for the server's input hook (an inet
	// filter table with an input chain, as Debian's default ruleset has).
	Nft string `json:"nft"`
	// Iptables is the same rule for iptables, or ip6tables for IPv6.
	Iptables string `json:"iptables"`
	// BPF captures the loop's packets, both ways, and the IP fragments
	// between the two hosts; Tcpdump is the command that uses it.
	BPF     string `json:"bpf"`
	Tcpdump string `json:"tcpdump"`
	// PayloadPrefix is the hex of the payload's first bytes the rules
	// match, when the 5-tuple alone would also drop legitimate traffic
	// (DNS queries from the same port); empty otherwise.
	PayloadPrefix string `json:"payload_prefix,omitempty"`
	Note          string `json:"note"`
}

// RRL is the response-rate-limiting what-if of a loop whose server is a
// DNS server: the server's responses to the loop's client, and to the
// rest of the client's /24 (IPv4) or /56 (IPv6), replayed from the
// capture through the algorithms of BIND 9, Knot DNS and NSD.
type RRL struct {
	Server string `json:"server"`
	Prefix string `json:"prefix"`
	// Responses counts the server's responses to the prefix from the
	// loop's earliest packet (its trigger's query) to its last (the
	// minute before is replayed too, for the limiters' state, but not
	// counted), LoopResponses those of the loop (the trigger's answer
	// included).
	Responses     uint64        `json:"responses"`
	LoopResponses uint64        `json:"loop_responses"`
	Scenarios     []RRLScenario `json:"scenarios"`
	// Note says why there is no replay (an input read from stdin), or,
	// beside the scenarios, what the replay does not cover.
	Note string `json:"note,omitempty"`
	// Partial marks a replay of part of the loop only: a loop that
	// `pongscan merge` joined from parts scanned apart keeps its first
	// part's replay, which ends at ReplayedTo. A drop found there is
	// exact (it is the loop's first); past it nothing was replayed.
	Partial    bool   `json:"partial,omitempty"`
	ReplayedTo string `json:"replayed_to,omitempty"`
}

// RRLScenario is one server implementation with one configuration.
type RRLScenario struct {
	Implementation string `json:"implementation"` // "BIND 9", "Knot DNS", "NSD"
	Setting        string `json:"setting"`        // "defaults", or what differs from them
	Config         string `json:"config"`         // the configuration, as its file would say it
	// Stops is true when the first response the algorithm drops is one
	// of the loop's, so that the loop (one packet in flight) dies there,
	// or the trigger's answer, so that it never starts.
	Stops   bool   `json:"stops"`
	Verdict string `json:"verdict"`
	// FirstLimited is the first loop response over the limit (dropped or
	// slipped); FirstDrop the first dropped one. With a random slip
	// (Knot and NSD with slip 2 or more) a limited response is dropped
	// with DropProbability, and LikelyBy is the response by which the
	// loop has died with 99% probability.
	FirstLimited    *RRLEvent `json:"first_limited,omitempty"`
	FirstDrop       *RRLEvent `json:"first_drop,omitempty"`
	DropProbability float64   `json:"drop_probability,omitempty"`
	LikelyBy        *RRLEvent `json:"likely_by,omitempty"`
	// Slipped counts truncated (TC=1) answers sent to the loop before
	// it would have died: each keeps it going.
	Slipped uint64 `json:"slipped"`
	Why     string `json:"why"`
}

// RRLEvent is one of the server's responses in the replay.
type RRLEvent struct {
	File  string `json:"file"`
	Frame uint64 `json:"frame"`
	Time  string `json:"time"`
	// AfterS is the time since the loop's first packet (negative for the
	// trigger's answer); Response is its rank among the loop's
	// responses, the trigger's answer being 1 when it was captured.
	AfterS   float64 `json:"after_s"`
	Response uint64  `json:"response"`
}

// Extract is the pcapng file --extract wrote for a loop.
type Extract struct {
	File string `json:"file"`
	// Frames is what the file holds: TriggerFrames (the query and its
	// answer) and LoopFrames (every frame of the loop's datagrams, IP
	// fragments included). Complete is false when the second read found
	// fewer loop packets than the scan counted (the file changed).
	Frames        uint64 `json:"frames"`
	TriggerFrames uint64 `json:"trigger_frames"`
	LoopFrames    uint64 `json:"loop_frames"`
	LoopPackets   uint64 `json:"loop_packets"`
	Complete      bool   `json:"complete"`
	Error         string `json:"error,omitempty"`
}
