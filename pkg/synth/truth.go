package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// OngoingWindow is pongscan's default --idle: a loop silent this long
// has ended, and its flow is silent this long before and after it.
const OngoingWindow = 2 * time.Second

// StillRunning is the truth's rule for ongoing_at_end: the capture ended
// before the loop missed a beat. The silence from the loop's last packet
// to the capture's last is at most twice the longest gap between the
// loop's own packets (had it gone on, its next packet would have been
// captured), and under OngoingWindow. A loop stopped by a null route a
// second before the capture ended is not running.
func StillRunning(silence, maxGap time.Duration) bool {
	return silence < OngoingWindow && silence <= 2*maxGap
}

// Truth is the expected result for a sample, in the shape of the
// acceptance cases' truth.json.
type Truth struct {
	// Files are the capture files, in reading order.
	Files []string `json:"files"`
	// ExpectExit is pongscan's expected exit status: 0 no loop, 1 loops
	// found, 2 an input error (for example a cut file).
	ExpectExit int `json:"expect_exit"`
	// Partial is set when the input ends in a damaged record.
	Partial bool `json:"partial,omitempty"`
	// Loops are the loops pongscan must report.
	Loops []LoopTruth `json:"loops"`
	// PacketsTotal is the number of complete records in all files.
	PacketsTotal int `json:"packets_total"`
	// Notes says what the sample is for.
	Notes string `json:"notes"`
}

// Endpoint is an IP address and UDP port.
type Endpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

func endpoint(ap netip.AddrPort) Endpoint {
	return Endpoint{IP: ap.Addr().Unmap().String(), Port: ap.Port()}
}

// LoopTruth is one expected loop.
type LoopTruth struct {
	Name   string   `json:"name"`
	Client Endpoint `json:"client"`
	Server Endpoint `json:"server"`
	// Packets counts every datagram, both directions, of the loop's UDP
	// flow from the first non-DNS packet through the loop's last packet.
	Packets int `json:"packets"`
	// Start and End are the times (Unix seconds) of the first non-DNS
	// packet and of the loop's last packet.
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	// RatePPS is Packets divided by End-Start.
	RatePPS float64 `json:"rate_pps"`
	// OngoingAtEnd is true when the loop was still running when the
	// input ended (StillRunning).
	OngoingAtEnd bool `json:"ongoing_at_end"`
	// PayloadClass names the client's non-DNS payload ("tftp").
	PayloadClass string `json:"payload_class,omitempty"`
	// Partial is set when the input was cut while the loop was known.
	Partial bool       `json:"partial,omitempty"`
	Frames  LoopFrames `json:"frames"`
}

// LoopFrames locates a loop's key packets.
type LoopFrames struct {
	TriggerQuery    *FrameRef `json:"trigger_query,omitempty"`    // absent for a loop without a captured trigger
	TriggerResponse *FrameRef `json:"trigger_response,omitempty"` // absent for a loop without a captured trigger
	FirstNonDNS     FrameRef  `json:"first_non_dns"`              // the loop's first packet
}

// FrameRef is a 1-based frame number (Wireshark numbering) within a file.
// It encodes as a JSON number when File is empty and as a [file, frame]
// pair otherwise.
type FrameRef struct {
	File  string
	Frame int
}

// MarshalJSON implements json.Marshaler.
func (r FrameRef) MarshalJSON() ([]byte, error) {
	if r.File == "" {
		return json.Marshal(r.Frame)
	}
	return json.Marshal([]any{r.File, r.Frame})
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *FrameRef) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*r = FrameRef{Frame: n}
		return nil
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return errors.New("synth: frame reference is neither a number nor a [file, frame] pair")
	}
	if err := json.Unmarshal(pair[0], &r.File); err != nil {
		return fmt.Errorf("synth: frame reference file: %w", err)
	}
	if err := json.Unmarshal(pair[1], &r.Frame); err != nil {
		return fmt.Errorf("synth: frame reference number: %w", err)
	}
	return nil
}

// File is one capture file's frames, in file order.
type File struct {
	Name   string
	Frames []Frame
}

// UnixSeconds returns t as Unix seconds, the float64 nearest to its exact
// decimal value.
func UnixSeconds(t time.Time) float64 {
	f, _ := strconv.ParseFloat(fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()), 64)
	return f
}

// LoopTruth computes the truth for loop id from the frames actually
// written to files (read in order, as one stream). Frame references are
// [file, frame] pairs when there is more than one file.
func (s *Scenario) LoopTruth(files []File, id LoopID, name string) (LoopTruth, error) {
	if id <= 0 || int(id) > len(s.loops) {
		return LoopTruth{}, fmt.Errorf("synth: no loop %d", id)
	}
	info := s.loops[id-1]
	type pos struct {
		ref FrameRef
		f   *Frame
	}
	var all []pos
	query, resp, first, last := -1, -1, -1, -1
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
			if f.Loop != id || !f.Last {
				continue
			}
			i := len(all) - 1
			switch f.Role {
			case RoleTriggerQuery:
				if query < 0 && !info.noTrigger {
					query = i
				}
			case RoleTriggerResponse:
				if resp < 0 {
					resp = i
				}
			case RoleLoopClient, RoleLoopServer:
				if first < 0 && f.Role == RoleLoopClient {
					first = i
				}
				last = i
			}
		}
	}
	if first < 0 || !info.noTrigger && (query < 0 || resp < 0) {
		return LoopTruth{}, fmt.Errorf("synth: loop %d lacks a trigger or a non-dns packet in the files", id)
	}
	packets := 0
	var maxGap time.Duration
	var prev time.Time
	for _, p := range all[first : last+1] {
		if p.f.Last && sameFlow(p.f, info.client, info.server) {
			packets++
			if !prev.IsZero() {
				maxGap = max(maxGap, p.f.Time.Sub(prev))
			}
			prev = p.f.Time
		}
	}
	start, end := all[first].f.Time, all[last].f.Time
	lt := LoopTruth{
		Name:         name,
		Client:       endpoint(info.client),
		Server:       endpoint(info.server),
		Packets:      packets,
		Start:        UnixSeconds(start),
		End:          UnixSeconds(end),
		OngoingAtEnd: StillRunning(lastTime.Sub(end), maxGap),
		PayloadClass: info.class,
		Frames:       LoopFrames{FirstNonDNS: all[first].ref},
	}
	if !info.noTrigger {
		q, r := all[query].ref, all[resp].ref
		lt.Frames.TriggerQuery, lt.Frames.TriggerResponse = &q, &r
	}
	if d := end.Sub(start); d > 0 {
		lt.RatePPS = float64(packets) / d.Seconds()
	}
	return lt, nil
}

func sameFlow(f *Frame, a, b netip.AddrPort) bool {
	return (f.Src == a && f.Dst == b) || (f.Src == b && f.Dst == a)
}
