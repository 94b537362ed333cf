// Package merge joins the reports of scans of parts of streams into one
// report, as if each stream had been scanned whole: the reduce step of a
// map/reduce over many captures, with GNU parallel, Kubernetes or any
// other engine running the scans.
//
// Parts are consecutive files or time chunks of a stream (editcap -i,
// tcpdump -G), each scanned on its own, and reports of other streams. A
// loop that runs across the boundary between two parts appears in each as
// a loop open at that boundary: ongoing at the end of the first part, and
// open at the start of the next (its first packet within the idle gap of
// the part's first packet). Such loops on the same endpoints, the second
// starting less than the idle gap after the first ended, are joined:
// packets, bytes and directions added, the end taken from the last piece,
// the trigger, payload and first packet from the first; duration, rate,
// ongoing and open-at-start recomputed against the whole stream. Peak
// packets per second is the larger of the pieces' peaks: a second that
// straddles the boundary is not recounted.
//
// A piece too short to be a loop in its own part (fewer than
// --min-packets after the trigger, or a triggerless run under the run
// rules) is not in that part's report and cannot be joined: the merged
// loop then starts or ends at the boundary. Chunks much longer than the
// loops make that rare.
package merge

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/handoff"
	"github.com/pongscan/pongscan/pkg/report"
)

// Read reads a report written by `pongscan scan` or `pongscan merge`:
// the JSON document or JSON Lines, in any valid formatting (pretty, one
// line as `jq -c` writes it, lines of any length), one report a file.
// It is input from other machines: a second document after the first,
// or anything but white space after it, is refused with its byte offset,
// and every loop and input is checked (Validate) before it is merged.
func Read(name string, r io.Reader) (*report.Report, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty report", name)
		}
		return nil, fmt.Errorf("%s: not a pongscan report: %v", name, err)
	}
	var probe struct {
		Schema   *string         `json:"schema"`
		Pongscan json.RawMessage `json:"pongscan"`
	}
	if err := json.Unmarshal(first, &probe); err != nil {
		return nil, fmt.Errorf("%s: not a pongscan report: %v", name, err)
	}
	var rep *report.Report
	switch {
	case probe.Pongscan != nil:
		var err error
		if rep, err = readJSONL(name, first, dec); err != nil {
			return nil, err
		}
	case probe.Schema != nil:
		if *probe.Schema != report.Schema {
			return nil, fmt.Errorf("%s: schema %q, want %q", name, *probe.Schema, report.Schema)
		}
		rep = &report.Report{}
		if err := json.Unmarshal(first, rep); err != nil {
			return nil, fmt.Errorf("%s: not a pongscan report: %v", name, err)
		}
		first = nil
		if err := trailing(name, dec); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: not a pongscan report: neither a report (\"schema\") nor JSON Lines (\"pongscan\")", name)
	}
	if err := Validate(rep); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rep, nil
}

// trailing refuses anything but white space after a JSON report.
func trailing(name string, dec *json.Decoder) error {
	off := dec.InputOffset()
	var v json.RawMessage
	switch err := dec.Decode(&v); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("%s: data after the report at byte %d: %v", name, off, err)
	}
	return fmt.Errorf("%s: a second JSON document after the report, at byte %d: one report a file (concatenated reports are refused)", name, off)
}

// readJSONL reads JSON Lines whose first object is first: one object a
// value, whatever the line breaks.
func readJSONL(name string, first json.RawMessage, dec *json.Decoder) (*report.Report, error) {
	rep := &report.Report{Schema: report.Schema, Loops: []report.Loop{}, Inputs: []report.Input{}}
	summary := false
	raw := first
	for n := 1; ; n++ {
		off := dec.InputOffset()
		if n > 1 {
			raw = raw[:0]
			if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: object %d, at byte %d: %v", name, n, off, err)
			}
		}
		if summary {
			return nil, fmt.Errorf("%s: object %d, at byte %d: data after the summary line, which ends a report (concatenated reports are refused)", name, n, off)
		}
		p, err := report.ReadJSONLine(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: object %d, at byte %d: %v", name, n, off, err)
		}
		switch p.Type {
		case "loop":
			if p.Loop == nil {
				return nil, fmt.Errorf("%s: object %d: loop object without pongscan.loop", name, n)
			}
			rep.Loops = append(rep.Loops, *p.Loop)
		case "input":
			if p.Input == nil {
				return nil, fmt.Errorf("%s: object %d: input object without pongscan.input", name, n)
			}
			rep.Inputs = append(rep.Inputs, *p.Input)
		case "summary":
			if p.Summary == nil || p.Settings == nil {
				return nil, fmt.Errorf("%s: object %d: summary object without summary and settings", name, n)
			}
			rep.Summary, rep.Settings, rep.Warnings = *p.Summary, *p.Settings, p.Warnings
			summary = true
		default:
			return nil, fmt.Errorf("%s: object %d: unknown object type %q", name, n, p.Type)
		}
	}
	if !summary {
		return nil, fmt.Errorf("%s: no summary line: the report is incomplete (was the scan killed?)", name)
	}
	return rep, nil
}

// Plausible capture times: from 1970 to the year 2200. A report from
// another machine claiming the year 9999 is refused, not merged.
var (
	minTime = int64(0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// Validate checks a report read from outside before it is merged: every
// value merge or the hand-off uses parses and is plausible: addresses,
// times (1970-2200, a loop's start not after its end), durations, rates
// and settings not negative, counters consistent (a loop's directions
// add up to its packets), file names ones a file can have.
func Validate(r *report.Report) error {
	s := &r.Settings
	for _, v := range []float64{s.MaxDelayMS, s.IdleS, s.FlowTimeoutS} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("settings: impossible duration %g", v)
		}
	}
	if s.MinPackets < 0 || s.MaxFlows < 0 {
		return fmt.Errorf("settings: negative count")
	}
	for i := range r.Inputs {
		in := &r.Inputs[i]
		if err := plainName(in.Path); err != nil {
			return fmt.Errorf("input %d: path: %w", i+1, err)
		}
		if err := plainName(in.Stream); err != nil {
			return fmt.Errorf("input %d: stream: %w", i+1, err)
		}
		for _, ts := range []string{in.First, in.Last} {
			if ts == "" {
				continue
			}
			if _, err := plausibleTime(ts); err != nil {
				return fmt.Errorf("input %d (%s): %w", i+1, report.Escape(in.Path), err)
			}
		}
	}
	for i := range r.Loops {
		if err := validLoop(&r.Loops[i]); err != nil {
			return fmt.Errorf("loop %d: %w", i+1, err)
		}
	}
	return nil
}

func validLoop(l *report.Loop) error {
	for _, e := range []report.Endpoint{l.Client, l.Server, l.FirstPacket.Src, l.FirstPacket.Dst} {
		if _, err := netip.ParseAddr(e.IP); err != nil && e.IP != "" {
			return fmt.Errorf("address %q: %v", report.Escape(e.IP), err)
		}
	}
	if _, err := netip.ParseAddr(l.Client.IP); err != nil {
		return fmt.Errorf("client address %q: %v", report.Escape(l.Client.IP), err)
	}
	if _, err := netip.ParseAddr(l.Server.IP); err != nil {
		return fmt.Errorf("server address %q: %v", report.Escape(l.Server.IP), err)
	}
	start, err := plausibleTime(l.Start)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	end, err := plausibleTime(l.End)
	if err != nil {
		return fmt.Errorf("end: %w", err)
	}
	if end < start {
		return fmt.Errorf("ends (%s) before it starts (%s)", l.End, l.Start)
	}
	for _, v := range []float64{l.DurationS, l.RatePPS} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("impossible duration or rate %g", v)
		}
	}
	if l.ClientToServer.Packets+l.ServerToClient.Packets != l.Packets || l.ClientToServer.Packets > l.Packets {
		return fmt.Errorf("%d packets, but %d + %d by direction", l.Packets, l.ClientToServer.Packets, l.ServerToClient.Packets)
	}
	if err := plainName(l.Stream); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	for _, f := range []string{l.FirstPacket.File} {
		if err := plainName(f); err != nil {
			return fmt.Errorf("file: %w", err)
		}
	}
	if l.FirstPacket.Time != "" {
		if _, err := plausibleTime(l.FirstPacket.Time); err != nil {
			return fmt.Errorf("first packet: %w", err)
		}
	}
	for _, q := range []*report.Query{l.Trigger.Query} {
		if q == nil {
			continue
		}
		if err := plainName(q.File); err != nil {
			return fmt.Errorf("trigger file: %w", err)
		}
		if _, err := plausibleTime(q.Time); err != nil {
			return fmt.Errorf("trigger: %w", err)
		}
	}
	return nil
}

// plausibleTime parses a report's timestamp and checks it lies between
// 1970 and 2200.
func plausibleTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("time %q: %v", report.Escape(s), err)
	}
	if t.Year() < 1970 || t.Year() >= 2200 {
		return 0, fmt.Errorf("time %q: not a capture's (1970-2200)", report.Escape(s))
	}
	ns := t.UnixNano()
	if ns < minTime || ns > maxTime {
		return 0, fmt.Errorf("time %q: not a capture's (1970-2200)", report.Escape(s))
	}
	return ns, nil
}

// plainName refuses a name no file can have: one with a NUL byte.
// Other bytes are a file's name as the scan saw it (hostile names
// included): the hand-off quotes them.
func plainName(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%q holds a NUL byte", report.Escape(s))
	}
	return nil
}

// Options for Merge.
type Options struct {
	// Idle is the gap that ends a loop; zero takes the parts' --idle.
	Idle time.Duration
}

// span is the time extent of inputs.
type span struct{ first, last int64 }

// piece is a loop of one part.
type piece struct {
	l       report.Loop
	part    int
	start   int64
	end     int64
	ownEnd  int64  // the piece's own end, before later pieces join it
	ownPkts uint64 // its own packets
	pieces  int    // pieces joined into it (1: none)
	joined  bool   // absorbed into an earlier piece
}

// Merge joins the parts' reports. Parts must be scans of disjoint
// packets: consecutive parts of a stream, or other streams.
func Merge(parts []*report.Report, opts Options) (*report.Report, error) {
	if len(parts) == 0 {
		return nil, errors.New("no report to merge")
	}
	out := &report.Report{Schema: report.Schema, Loops: []report.Loop{}, Inputs: []report.Input{}, Settings: parts[0].Settings}
	idle := opts.Idle
	for i, p := range parts {
		if opts.Idle == 0 && p.Settings.IdleS != parts[0].Settings.IdleS {
			return nil, fmt.Errorf("report %d was scanned with --idle %gs, report 1 with %gs: merge them with --idle", i+1, p.Settings.IdleS, parts[0].Settings.IdleS)
		}
		if !sameSettings(p.Settings, parts[0].Settings) {
			out.Warnings = append(out.Warnings, fmt.Sprintf("report %d was scanned with other settings than report 1; the first report's are listed", i+1))
		}
	}
	if idle == 0 {
		idle = time.Duration(parts[0].Settings.IdleS * 1e9)
	}
	if opts.Idle != 0 {
		out.Settings.IdleS = idle.Seconds()
	}

	// Each stream's extent over all parts, and each part's per stream.
	streams := map[string]*span{}
	partSpans := map[[2]string]span{}
	widen := func(m *span, f, l int64) {
		m.first, m.last = min(m.first, f), max(m.last, l)
	}
	for i, p := range parts {
		for _, in := range p.Inputs {
			out.Inputs = append(out.Inputs, in)
			f, err1 := parseTime(in.First)
			l, err2 := parseTime(in.Last)
			if err1 != nil || err2 != nil {
				continue
			}
			s := streams[in.Stream]
			if s == nil {
				s = &span{math.MaxInt64, math.MinInt64}
				streams[in.Stream] = s
			}
			widen(s, f, l)
			k := [2]string{fmt.Sprint(i), in.Stream}
			ps, ok := partSpans[k]
			if !ok {
				ps = span{math.MaxInt64, math.MinInt64}
			}
			widen(&ps, f, l)
			partSpans[k] = ps
		}
		if i == 0 {
			out.Summary = p.Summary
		} else {
			out.Summary.Add(&p.Summary)
		}
		out.Warnings = append(out.Warnings, p.Warnings...)
	}
	out.Warnings = append(out.Warnings, overlaps(partSpans, idle)...)

	var pieces []*piece
	for i, p := range parts {
		for _, l := range p.Loops {
			s, err1 := parseTime(l.Start)
			e, err2 := parseTime(l.End)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("report %d: loop %s:%d <-> %s:%d: bad time %q..%q", i+1, l.Client.IP, l.Client.Port, l.Server.IP, l.Server.Port, l.Start, l.End)
			}
			pieces = append(pieces, &piece{l: l, part: i, start: s, end: e, ownEnd: e, ownPkts: l.Packets, pieces: 1})
		}
	}
	sort.SliceStable(pieces, func(a, b int) bool {
		x, y := pieces[a], pieces[b]
		if x.l.Stream != y.l.Stream {
			return x.l.Stream < y.l.Stream
		}
		if x.start != y.start {
			return x.start < y.start
		}
		return x.part < y.part
	})
	// Join: each piece open at its part's start continues the open chain
	// on the same endpoints in the same stream that ended less than the
	// idle gap before it, in another part.
	var chains []*piece // heads of joined loops, in order
	joined := 0
	last := map[*piece]*piece{}
	for _, p := range pieces {
		var best *piece
		if p.l.OpenAtStart {
			for _, h := range slices.Backward(chains) {
				t := last[h]
				if h.l.Stream != p.l.Stream {
					break
				}
				if t.part == p.part || !t.l.OngoingAtEnd || !sameFlow(&h.l, &p.l) || t.end > p.start || p.start-t.end >= int64(idle) {
					continue
				}
				if best == nil || t.end > last[best].end {
					best = h
				}
			}
		}
		if best == nil {
			chains = append(chains, p)
			last[p] = p
			continue
		}
		join(&best.l, &p.l)
		best.end = p.end
		best.pieces++
		last[best] = p
		p.joined = true
	}
	for _, h := range chains {
		l := h.l
		s := streams[l.Stream]
		start, _ := parseTime(l.Start)
		l.End = report.Timestamp(last[h].end)
		l.DurationS = float64(last[h].end-start) / 1e9
		l.RatePPS = 0
		if l.DurationS > 0 {
			l.RatePPS = float64(l.Packets) / l.DurationS
		}
		if s != nil {
			// The last piece's own part judged it with all it knew;
			// when the stream went on after that part, the loop has
			// to reach the stream's end as detect judges any loop.
			t := last[h]
			l.OngoingAtEnd = t.l.OngoingAtEnd
			if ps, ok := partSpans[[2]string{fmt.Sprint(t.part), l.Stream}]; !ok || ps.last < s.last {
				var slowestMS float64
				if e := l.Evidence; e != nil {
					slowestMS = max(e.Client.ReactionMS[2], e.Server.ReactionMS[2])
				}
				l.OngoingAtEnd = l.OngoingAtEnd && detect.StillRunning(start, t.end, l.Packets, slowestMS, s.last, idle)
			}
			l.OpenAtStart = start-s.first < int64(idle)
		}
		if h.pieces > 1 {
			partOf(&l, h)
			joined++
		}
		out.Loops = append(out.Loops, l)
	}
	sort.SliceStable(out.Loops, func(a, b int) bool {
		x, y := &out.Loops[a], &out.Loops[b]
		if x.Stream != y.Stream {
			return x.Stream < y.Stream
		}
		if x.Start != y.Start {
			return x.Start < y.Start
		}
		return endpointLess(x, y)
	})
	sort.SliceStable(out.Inputs, func(a, b int) bool {
		x, y := &out.Inputs[a], &out.Inputs[b]
		if x.Stream != y.Stream {
			return x.Stream < y.Stream
		}
		if (x.First == "") != (y.First == "") {
			return y.First == ""
		}
		return x.First < y.First
	})
	out.Summary.Loops = len(out.Loops)
	if joined > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d loops were joined across the parts' cuts: their --extract files, written per part, "+
			"hold a piece each (left out of this report), and their rate-limiting what-if covers their first part only; "+
			"their tshark and editcap commands select the whole loop", joined))
	}
	refill(out)
	return out, nil
}

// refill makes every loop's hand-off again, from its parsed values,
// numbered as the merged report numbers it, with its stream's inputs
// from every part: a loop joined across cuts gets commands that merge
// every chunk it crosses and select its whole window. Nothing of a part's
// commands is copied: reports are input, never trusted text.
func refill(r *report.Report) {
	for i := range r.Loops {
		r.Loops[i].Wireshark, r.Loops[i].Mitigation = nil, nil
	}
	handoff.Fill(r)
}

// partOf marks what a joined loop keeps of its first piece only: the
// what-if replayed that part (a limiter's state does not cross a cut), and
// the --extract file held that part.
func partOf(l *report.Loop, h *piece) {
	l.Extract = nil
	r := l.RRL
	if r == nil || len(r.Scenarios) == 0 {
		return
	}
	c := *r
	c.Partial = true
	c.ReplayedTo = report.Timestamp(h.ownEnd)
	c.Note = fmt.Sprintf("covers the loop's first part only: its first %d of %d packets, to %s (the parts were scanned apart, and a "+
		"limiter's state does not cross a cut); a drop found there is exact, past it nothing was replayed: scan the parts as one stream "+
		"for a replay of the whole loop", h.ownPkts, l.Packets, c.ReplayedTo)
	l.RRL = &c
}

// join adds b, the next piece of a's loop, to a.
func join(a, b *report.Loop) {
	c2s, s2c := b.ClientToServer, b.ServerToClient
	if a.Client != b.Client {
		c2s, s2c = s2c, c2s
	}
	a.Packets += b.Packets
	a.Bytes += b.Bytes
	a.ClientToServer.Packets += c2s.Packets
	a.ClientToServer.Bytes += c2s.Bytes
	a.ServerToClient.Packets += s2c.Packets
	a.ServerToClient.Bytes += s2c.Bytes
	a.PeakPPS = max(a.PeakPPS, b.PeakPPS)
	a.CutByFlowCap = a.CutByFlowCap || b.CutByFlowCap
	if a.Client == b.Client {
		ttls := append(slices.Clone(a.ClientTTLs), b.ClientTTLs...)
		slices.Sort(ttls)
		ttls = slices.Compact(ttls)
		if len(ttls) > 16 {
			ttls, a.ClientTTLsMore = ttls[:16], true
		}
		a.ClientTTLs = ttls
		a.ClientTTLsMore = a.ClientTTLsMore || b.ClientTTLsMore
	}
	a.OngoingAtEnd = b.OngoingAtEnd
	a.End = b.End
}

func sameFlow(a, b *report.Loop) bool {
	return a.Client == b.Client && a.Server == b.Server || a.Client == b.Server && a.Server == b.Client
}

func endpointLess(x, y *report.Loop) bool {
	cx, cy := addrPort(x.Client), addrPort(y.Client)
	if c := cx.Compare(cy); c != 0 {
		return c < 0
	}
	return addrPort(x.Server).Compare(addrPort(y.Server)) < 0
}

func addrPort(e report.Endpoint) netip.AddrPort {
	a, _ := netip.ParseAddr(e.IP)
	return netip.AddrPortFrom(a, e.Port)
}

func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

func sameSettings(a, b report.Settings) bool {
	return slices.Equal(a.DNSPorts, b.DNSPorts) && a.MaxDelayMS == b.MaxDelayMS && a.IdleS == b.IdleS &&
		a.MinPackets == b.MinPackets && a.MaxFlows == b.MaxFlows && a.FlowTimeoutS == b.FlowTimeoutS
}

// overlaps warns about parts of one stream that overlap in time by more
// than the idle gap: they are not consecutive parts, and loops in both
// are not joined.
func overlaps(spans map[[2]string]span, idle time.Duration) []string {
	type ps struct {
		part        int
		first, last int64
	}
	by := map[string][]ps{}
	for k, s := range spans {
		var i int
		fmt.Sscan(k[0], &i)
		by[k[1]] = append(by[k[1]], ps{i, s.first, s.last})
	}
	var names []string
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		list := by[n]
		sort.Slice(list, func(a, b int) bool {
			return list[a].first < list[b].first || list[a].first == list[b].first && list[a].part < list[b].part
		})
		for i := 1; i < len(list); i++ {
			if ov := min(list[i-1].last, list[i].last) - list[i].first; ov > int64(idle) {
				stream := ""
				if n != "" {
					stream = fmt.Sprintf("stream %q: ", n)
				}
				out = append(out, fmt.Sprintf("%sreports %d and %d overlap in time by %s: they are not consecutive parts of one stream; loops in both are counted in each",
					stream, list[i-1].part+1, list[i].part+1, time.Duration(ov)))
			}
		}
	}
	return out
}
