// Package revisit reads a scan's inputs a second time, after the scan, to
// collect what needs every packet of a loop: the loop's packets and its
// trigger for --extract (a pcapng file per loop), the first packets and a
// per-direction timeline for the HTML report, the DNS server's responses
// to the client's prefix for the rate-limiting what-if, and, for the
// HTML report, a timeline of the whole capture.
//
// The scan itself stays one streaming pass with nothing added per packet:
// this second pass runs only when a scan found loops and something asks
// for it, and only over inputs that can be read twice (regular files;
// standard input is read once and is not spooled, see Unavailable).
//
// The second pass reads the files in the same merged order as the scan,
// decodes every frame the same way (IP reassembly included) and applies
// the same filter, so frame numbers and loop membership agree: a loop's
// packets are the datagrams of its 5-tuple from its first packet on,
// while gaps stay under the idle time, as the detectors count them, up
// to the number of packets the scan counted.
package revisit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
	"github.com/pongscan/pongscan/pkg/scan"
)

// Options say what to collect.
type Options struct {
	// Report is the scan's report: its inputs are read again, its loops
	// are the ones followed.
	Report *report.Report
	// Idle, DNSPorts and Filter are the scan's settings.
	Idle     time.Duration
	DNSPorts []uint16
	Filter   *scan.Filter
	// ExtractDir, when set, receives loop-N.pcapng for each loop.
	ExtractDir string
	// Timeline collects the whole capture's per-bucket counts.
	Timeline bool
	// RRL collects each DNS loop's server responses to the client's
	// prefix.
	RRL bool
	// LadderLen is how many first packets of each loop to keep (with the
	// trigger's); 0 means 20.
	LadderLen int
}

// Lookback is how long before a loop (its trigger) the what-if replays
// the server's responses: longer than any replayed limiter remembers
// (BIND's window of 15 s, NSD's 16 s of halving, Knot's counters that
// reach zero in about 31 s at the default rates).
const Lookback = 60 * time.Second

// Unavailable is returned when an input cannot be read twice.
var Unavailable = errors.New("an input was read once (standard input, a pipe or a FIFO): save the capture to a file to get this")

// Step is one packet of a loop's ladder diagram.
type Step struct {
	Time    int64
	FromC   bool // client to server
	Wire    int
	Summary string // may hold any byte: escape it
	File    string
	Frame   uint64
	Trigger bool // the trigger's query or answer
}

// Series counts a loop's packets per direction in equal buckets from
// Start.
type Series struct {
	Start, Bucket int64       // nanoseconds
	Counts        [2][]uint32 // 0: client to server, 1: server to client
}

// Loop is what the second pass collected for one loop.
type Loop struct {
	Extract *report.Extract
	Ladder  []Step
	Series  Series
	// Responses are the DNS server's responses to the client's prefix,
	// in capture order, for rrl.Replay; Refs names each one's frame.
	Responses []rrl.Replayed
	Refs      []report.Packet
	Prefix    netip.Prefix
	Found     uint64 // loop packets found (the scan counted Loop.Packets)

	idleNs int64
	paths  []string
}

// Timeline counts the whole capture's packets per bucket and category.
type Timeline struct {
	Start, Bucket int64
	Counts        [NumCategories][]uint32
}

// Categories of the capture timeline.
const (
	Queries = iota
	NoError
	NXDomain
	FormErr
	ServFail
	Refused
	OtherRCode
	NonDNS // UDP on a DNS port whose payload is not DNS
	Other  // everything else
	NumCategories
)

// CategoryNames name the timeline's categories.
var CategoryNames = [NumCategories]string{"DNS queries", "answers NOERROR", "answers NXDOMAIN", "answers FORMERR",
	"answers SERVFAIL", "answers REFUSED", "answers, other rcodes", "non-DNS on DNS ports", "other packets"}

// Result is what the second pass collected.
type Result struct {
	Loops    []Loop // in the report's order
	Timeline *Timeline
}

// follow is a loop during the second pass.
type follow struct {
	l          *report.Loop
	stream     string // the loop's stream: only its inputs hold its packets
	c, s       netip.AddrPort
	dnsServer  bool
	firstSrc   int // input index of the loop's first packet
	firstFrame uint64
	trig       [2]struct {
		src   int
		frame uint64
	}
	started, done bool
	last          int64
	count         uint64
	out           *Loop
	w             *writer
	ladderMax     int
	respRank      uint64
	requests      map[netip.AddrPort]bool // last request from each client endpoint parsed as DNS
}

// Run reads the inputs again and collects what opts ask for. It returns
// Unavailable when an input was standard input.
func Run(ctx context.Context, opts Options) (*Result, error) {
	rep := opts.Report
	paths := make([]string, len(rep.Inputs))
	for i, in := range rep.Inputs {
		if in.Path == "-" {
			return nil, Unavailable
		}
		// Only a regular file can be read again: a FIFO would block the
		// open until someone writes it, and what it said is gone. Stat
		// does not open it.
		if st, err := os.Stat(in.Path); err == nil && !st.Mode().IsRegular() {
			return nil, Unavailable
		}
		paths[i] = in.Path
	}
	if opts.LadderLen <= 0 {
		opts.LadderLen = 20
	}
	res := &Result{Loops: make([]Loop, len(rep.Loops))}
	var follows []*follow
	index := map[string]int{}
	for i, p := range paths {
		if _, ok := index[p]; !ok {
			index[p] = i
		}
	}
	first, last := int64(1<<63-1), int64(-1<<63)
	for _, in := range rep.Inputs {
		if t, err := time.Parse(time.RFC3339Nano, in.First); err == nil {
			first = min(first, t.UnixNano())
		}
		if t, err := time.Parse(time.RFC3339Nano, in.Last); err == nil {
			last = max(last, t.UnixNano())
		}
	}
	for i := range rep.Loops {
		res.Loops[i].idleNs, res.Loops[i].paths = int64(opts.Idle), paths
		f, err := newFollow(&rep.Loops[i], i+1, index, &res.Loops[i], opts)
		if err != nil {
			return nil, err
		}
		follows = append(follows, f)
	}
	if opts.Timeline && first <= last {
		res.Timeline = &Timeline{Start: first, Bucket: bucketFor(last - first)}
	}
	defer func() {
		for _, f := range follows {
			if f.w != nil {
				f.w.abort()
			}
		}
	}()
	var pf *prefilter
	if res.Timeline == nil {
		pf = newPrefilter(res.Loops)
	}
	if err := read(ctx, paths, opts, follows, res.Timeline, pf); err != nil {
		return nil, err
	}
	for _, f := range follows {
		f.out.Found = f.count
		if f.w != nil {
			x := f.w.finish()
			x.LoopPackets = f.count
			x.Complete = f.count == f.l.Packets
			f.out.Extract = x
			f.w = nil
		}
	}
	return res, nil
}

func newFollow(l *report.Loop, n int, index map[string]int, out *Loop, opts Options) (*follow, error) {
	parse := func(e report.Endpoint) (netip.AddrPort, error) {
		a, err := netip.ParseAddr(e.IP)
		return netip.AddrPortFrom(a.Unmap(), e.Port), err
	}
	c, err1 := parse(l.Client)
	s, err2 := parse(l.Server)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("loop %d: %w", n, err)
	}
	f := &follow{l: l, stream: l.Stream, c: c, s: s, out: out, ladderMax: opts.LadderLen, dnsServer: l.Detector == "dns-pong",
		firstSrc: index[l.FirstPacket.File], firstFrame: l.FirstPacket.Frame, requests: map[netip.AddrPort]bool{}}
	f.trig[0].frame, f.trig[1].frame = 0, 0
	if q, r := l.Trigger.Query, l.Trigger.Response; q != nil && r != nil {
		f.trig[0].src, f.trig[0].frame = index[q.File], q.Frame
		f.trig[1].src, f.trig[1].frame = index[r.File], r.Frame
	}
	start, _ := time.Parse(time.RFC3339Nano, l.Start)
	end, _ := time.Parse(time.RFC3339Nano, l.End)
	span := end.Sub(start)
	out.Series = Series{Start: start.UnixNano(), Bucket: bucketFor(int64(span) * 150 / 60)}
	nb := int(int64(span)/out.Series.Bucket) + 1
	out.Series.Counts = [2][]uint32{make([]uint32, nb), make([]uint32, nb)}
	bits := 24
	if c.Addr().Is6() {
		bits = 56
	}
	out.Prefix, _ = c.Addr().Prefix(bits)
	if opts.ExtractDir != "" {
		w, err := newWriter(opts.ExtractDir, n, l, out.paths)
		if err != nil {
			out.Extract = &report.Extract{File: w.path, Error: err.Error()}
		} else {
			w.loop = l
			f.w = w
		}
	}
	if !opts.RRL {
		f.dnsServer = false
	}
	return f, nil
}

// bucketFor picks a bucket width giving 100 to 300 buckets over span:
// 1, 2 or 5 times a power of ten, at least a millisecond.
func bucketFor(span int64) int64 {
	target := max(span/150, 1)
	for b := int64(1e6); ; b *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if b*m >= target {
				return b * m
			}
		}
	}
}

// read walks every record of the inputs in the scan's merged order.
func read(ctx context.Context, paths []string, opts Options, follows []*follow, tl *Timeline, pf *prefilter) error {
	var srcs []capture.Source
	var files []*os.File
	var readers []*capture.Reader
	defer func() {
		for _, r := range readers {
			r.Release()
		}
		for _, f := range files {
			f.Close()
		}
	}()
	streamOf := make([]string, len(paths))
	for i := range paths {
		if i < len(opts.Report.Inputs) {
			streamOf[i] = opts.Report.Inputs[i].Stream
		}
	}
	srcIdx := []int{}
	for i, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			continue // the scan reported it
		}
		files = append(files, fh)
		r, err := capture.Open(p, fh)
		if err != nil {
			continue
		}
		readers = append(readers, r)
		srcs = append(srcs, r)
		srcIdx = append(srcIdx, i)
	}
	var src capture.Source
	switch len(srcs) {
	case 0:
		return nil
	case 1:
		src = srcs[0]
	default:
		m := capture.NewMerge(srcs...)
		m.OnError = func(int, error) {}
		src = m
	}
	dec := decode.NewDecoder(decode.DefaultFragLimits)
	frags := &fragRing{}
	var p decode.Packet
	var rec capture.Record
	var info decode.DNSInfo
	dnsPort := map[uint16]bool{}
	for _, port := range opts.DNSPorts {
		dnsPort[port] = true
	}
	started, start := false, int64(0)
	// Without the capture timeline only the loops' neighbourhood
	// matters: from a lookback before the earliest loop (its trigger),
	// longer than any replayed rate limiter remembers, to the last
	// loop's end. Records outside it are read but not decoded.
	var endAll int64
	begin := int64(1<<63 - 1)
	for _, f := range follows {
		t, _ := time.Parse(time.RFC3339Nano, f.l.End)
		endAll = max(endAll, t.UnixNano())
		b, _ := time.Parse(time.RFC3339Nano, f.l.Start)
		begin = min(begin, b.UnixNano())
		if q := f.l.Trigger.Query; q != nil {
			if qt, err := time.Parse(time.RFC3339Nano, q.Time); err == nil {
				begin = min(begin, qt.UnixNano())
			}
		}
	}
	begin -= int64(Lookback)
	for n := 0; ; n++ {
		if n&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		err := src.Next(&rec)
		if err != nil {
			if errors.Is(err, io.EOF) || len(srcs) == 1 {
				break
			}
			return err
		}
		if !started {
			start, started = rec.Time, true
		}
		if rec.LinkType == capture.NonPacket {
			continue
		}
		if tl == nil && rec.Time > endAll+int64(time.Minute) && allDone(follows) {
			break
		}
		if tl == nil && (rec.Time < begin || pf.skip(rec.LinkType, rec.Data)) {
			continue
		}
		srcI := srcIdx[rec.Source]
		if opts.Filter.Active() && !timeKept(opts.Filter, start, rec.Time) {
			continue
		}
		k := dec.Decode(rec.LinkType, rec.Data, rec.OrigLen, rec.Time, &p)
		udp := k == decode.KindUDP
		if opts.Filter.Active() && !opts.Filter.Keep(start, rec.Time, udp, p.Src, p.Dst) {
			continue
		}
		if k == decode.KindFragment {
			frags.add(&rec, srcI)
		}
		if tl != nil {
			tl.count(rec.Time, k, &p, dnsPort, &info)
		}
		if !udp {
			continue
		}
		for _, f := range follows {
			if f.stream == streamOf[srcI] {
				f.see(&rec, srcI, &p, frags, &info)
			}
		}
	}
	return nil
}

func timeKept(f *scan.Filter, start, t int64) bool {
	g := *f
	g.Hosts, g.Ports = nil, nil
	return g.Keep(start, t, true, netip.AddrPort{}, netip.AddrPort{})
}

func allDone(fs []*follow) bool {
	for _, f := range fs {
		if !f.done {
			return false
		}
	}
	return true
}

// count adds a frame to the capture timeline.
func (tl *Timeline) count(t int64, k decode.Kind, p *decode.Packet, dnsPort map[uint16]bool, info *decode.DNSInfo) {
	b := (t - tl.Start) / tl.Bucket
	if b < 0 {
		b = 0
	}
	if b > 1<<20 {
		return
	}
	cat := Other
	if k == decode.KindUDP && (dnsPort[p.Src.Port()] || dnsPort[p.Dst.Port()]) {
		switch decode.ClassifyDNS(p.Payload, p.Cut, decode.HeaderQuestion, info) {
		case decode.DNS:
			switch {
			case !info.Response:
				cat = Queries
			case info.RCode == 0:
				cat = NoError
			case info.RCode == 3:
				cat = NXDomain
			case info.RCode == 1:
				cat = FormErr
			case info.RCode == 2:
				cat = ServFail
			case info.RCode == 5:
				cat = Refused
			default:
				cat = OtherRCode
			}
		case decode.NotDNS:
			cat = NonDNS
		}
	}
	for int(b) >= len(tl.Counts[cat]) {
		for c := range tl.Counts {
			tl.Counts[c] = append(tl.Counts[c], 0)
		}
	}
	tl.Counts[cat][b]++
}
