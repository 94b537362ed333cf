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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/handoff"
	"github.com/pongscan/pongscan/pkg/report"
)

// Read reads a report written by `pongscan scan` or `pongscan merge`:
// the JSON document or JSON Lines.
func Read(name string, r io.Reader) (*report.Report, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var first []byte
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, fmt.Errorf("%s: empty report", name)
		}
		if b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t' {
			br.ReadByte()
			continue
		}
		break
	}
	first, _ = br.Peek(64 << 10)
	if line, _, ok := bytes.Cut(first, []byte("\n")); ok && json.Valid(line) && bytes.Contains(line, []byte(`"pongscan"`)) {
		return readJSONL(name, br)
	}
	var rep report.Report
	dec := json.NewDecoder(br)
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("%s: not a pongscan report: %v", name, err)
	}
	if rep.Schema != report.Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q", name, rep.Schema, report.Schema)
	}
	return &rep, nil
}

func readJSONL(name string, r io.Reader) (*report.Report, error) {
	rep := &report.Report{Schema: report.Schema, Loops: []report.Loop{}, Inputs: []report.Input{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	n, summary := 0, false
	for sc.Scan() {
		n++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		p, err := report.ReadJSONLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %v", name, n, err)
		}
		switch p.Type {
		case "loop":
			if p.Loop == nil {
				return nil, fmt.Errorf("%s: line %d: loop object without pongscan.loop", name, n)
			}
			rep.Loops = append(rep.Loops, *p.Loop)
		case "input":
			if p.Input == nil {
				return nil, fmt.Errorf("%s: line %d: input object without pongscan.input", name, n)
			}
			rep.Inputs = append(rep.Inputs, *p.Input)
		case "summary":
			if p.Summary == nil || p.Settings == nil {
				return nil, fmt.Errorf("%s: line %d: summary object without summary and settings", name, n)
			}
			rep.Summary, rep.Settings, rep.Warnings = *p.Summary, *p.Settings, p.Warnings
			summary = true
		default:
			return nil, fmt.Errorf("%s: line %d: unknown object type %q", name, n, p.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if !summary {
		return nil, fmt.Errorf("%s: no summary line: the report is incomplete (was the scan killed?)", name)
	}
	return rep, nil
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
