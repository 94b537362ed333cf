package followup

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// Options say what the second read collects, and how the scan read its
// inputs: the second read must read them the same way.
type Options struct {
	// Streams are the streams the scan read, with their inputs.
	Streams []scan.Stream
	// Filter and Frag are the scan's.
	Filter *scan.Filter
	Frag   decode.FragLimits
	// Idle is the scan's idle gap: it ends a loop.
	Idle time.Duration
	// ExtractDir, when set, receives loop-N.pcapng for each loop.
	ExtractDir string
	// RRL replays the server's responses of the loops WhatIf accepts.
	RRL    bool
	WhatIf func(*report.Loop) bool
	// Ladders collects each loop's first packets and its timeline, for
	// the HTML report; LadderLen is how many first packets (with the
	// trigger's), 0 meaning 20.
	Ladders   bool
	LadderLen int
	// ScanErrors are the scan's input errors: a second read that fails
	// the same way is not reported again.
	ScanErrors []error
	// FirstNumber is the number of the report's first loop (0 means 1):
	// --extract names its file loop-N.pcapng.
	FirstNumber int
	// Progress and Interval are as in scan.Options.
	Progress func(scan.Progress)
	Interval time.Duration
}

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

// Loop is what the second read collected for one loop of the report.
type Loop struct {
	// Followed: the loop was followed to its end.
	Followed bool
	// Unavailable says why it was not followed, when it was wanted.
	Unavailable string
	Extract     *report.Extract
	RRL         *report.RRL
	Ladder      []Step
	Series      Series
	Prefix      netip.Prefix
	Found       uint64 // loop packets found (the scan counted Loop.Packets)

	inputs      []string
	wantExtract bool
	dir         string
	rrl         bool
}

// Result is what the second read collected, in the report's order of
// loops.
type Result struct {
	Loops []Loop
	// Errors are the second read's input errors that the scan did not
	// have (an input changed since the scan read it).
	Errors []error
	// Interrupted: the context ended during the second read; nothing of
	// it is kept, and no file was left behind.
	Interrupted bool
	// Read reports that a second read ran.
	Read bool
}

// ErrUnavailable says why a stream's loops cannot be followed.
var ErrUnavailable = errors.New("an input was read once (standard input, a pipe or a FIFO): save the capture to a file to get this")

// Run reads the streams that hold loops to follow a second time, through
// pkg/scan's own inputs, merge, filter and decoder, and collects what
// opts ask for. Only the streams with such loops are read, each from
// Lookback before its first loop to its last loop's end.
func Run(ctx context.Context, rep *report.Report, opts Options) *Result {
	res := &Result{Loops: make([]Loop, len(rep.Loops))}
	if opts.LadderLen <= 0 {
		opts.LadderLen = 20
	}
	if opts.FirstNumber <= 0 {
		opts.FirstNumber = 1
	}
	streamOf := map[string]int{}
	for i, st := range opts.Streams {
		if _, ok := streamOf[st.Name]; !ok {
			streamOf[st.Name] = i
		}
	}
	perStream := map[int][]*follow{}
	names := map[int]*streamNames{}
	for i := range rep.Loops {
		l := &rep.Loops[i]
		out := &res.Loops[i]
		out.rrl = opts.RRL && opts.WhatIf != nil && opts.WhatIf(l)
		out.wantExtract = opts.ExtractDir != ""
		if !out.rrl && !out.wantExtract && !opts.Ladders {
			continue
		}
		si, ok := streamOf[l.Stream]
		if !ok {
			out.Unavailable = "the loop's stream is not among the inputs"
			continue
		}
		st := opts.Streams[si]
		if !rereadable(st) {
			out.Unavailable = ErrUnavailable.Error()
			continue
		}
		sn := names[si]
		if sn == nil {
			sn = newStreamNames(st)
			names[si] = sn
		}
		f, err := newFollow(l, opts.FirstNumber+i, out, sn, opts)
		if err != nil {
			out.Unavailable = err.Error()
			continue
		}
		perStream[si] = append(perStream[si], f)
	}
	if len(perStream) == 0 {
		return res
	}
	var streams []scan.Stream
	var sfs []*streamFollow
	for si, st := range opts.Streams {
		fs := perStream[si]
		if len(fs) == 0 {
			continue
		}
		streams = append(streams, st)
		sfs = append(sfs, newStreamFollow(names[si].names, fs, opts.Idle))
	}
	res.Read = true
	var mu sync.Mutex
	done := 0
	so := scan.Options{
		Filter: opts.Filter, Frag: opts.Frag, Shards: 1, Parallel: true,
		Progress: opts.Progress, Interval: opts.Interval,
		Observe: func(info scan.ObserveInfo) scan.Observer {
			if info.Shard != 0 || info.Shards != 1 || info.Index >= len(sfs) {
				return nil // one shard a stream: it sees every frame
			}
			sf := sfs[info.Index]
			sf.stop = info.Stop
			return sf
		},
		// A stream's loops are done when its read ends: finish them
		// then, so that files are closed as streams end.
		OnStream: func(scan.StreamDone) {
			mu.Lock()
			sf := sfs[done]
			done++
			mu.Unlock()
			if ctx.Err() == nil {
				sf.finishAll()
			}
		},
	}
	r2 := scan.RunStreams(ctx, streams, so)
	if r2.Interrupted || ctx.Err() != nil {
		res.Interrupted = true
		// Loops followed to their end keep what they found (their
		// files are complete); the others leave nothing behind.
		for _, sf := range sfs {
			sf.abortAll()
		}
		return res
	}
	seen := map[string]bool{}
	for _, err := range opts.ScanErrors {
		seen[err.Error()] = true
	}
	for _, err := range r2.Errors {
		if !seen[err.Error()] {
			res.Errors = append(res.Errors, err)
		}
	}
	return res
}

// rereadable reports whether every input of st can be read again.
func rereadable(st scan.Stream) bool {
	for _, in := range st.Inputs {
		if !in.Rereadable() {
			return false
		}
	}
	return true
}

// streamNames are a stream's input names, as scan.Frame.Input indexes
// them, and each name's index: made once a stream, shared by its loops.
type streamNames struct {
	names []string
	index map[string]int
}

func newStreamNames(st scan.Stream) *streamNames {
	sn := &streamNames{names: make([]string, len(st.Inputs)), index: map[string]int{}}
	for i, in := range st.Inputs {
		sn.names[i] = in.Name
		if _, ok := sn.index[in.Name]; !ok {
			sn.index[in.Name] = i
		}
	}
	return sn
}

func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// newFollow prepares loop number n of a stream (its inputs sn) for the
// second read.
func newFollow(l *report.Loop, n int, out *Loop, sn *streamNames, opts Options) (*follow, error) {
	parse := func(e report.Endpoint) (netip.AddrPort, error) {
		a, err := netip.ParseAddr(e.IP)
		return netip.AddrPortFrom(a.Unmap(), e.Port), err
	}
	c, err1 := parse(l.Client)
	s, err2 := parse(l.Server)
	start, err3 := parseTime(l.Start)
	end, err4 := parseTime(l.End)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	out.inputs = sn.names
	at := func(file string, frame uint64) ref {
		i, ok := sn.index[file]
		if !ok {
			return ref{-1, 0}
		}
		return ref{i, frame}
	}
	f := &follow{n: n, l: l, out: out, c: c, s: s, cw: addrWords(c.Addr()), sw: addrWords(s.Addr()),
		start: start, end: end, first: at(l.FirstPacket.File, l.FirstPacket.Frame), rrl: out.rrl, pos: -1}
	f.pfx = f.cw.prefix()
	out.Prefix = prefixOf(c.Addr())
	earliest := start
	if q, r := l.Trigger.Query, l.Trigger.Response; q != nil && r != nil {
		f.trig = [2]ref{at(q.File, q.Frame), at(r.File, r.Frame)}
		for _, ts := range []string{q.Time, r.Time} {
			if t, err := parseTime(ts); err == nil {
				earliest = min(earliest, t)
			}
		}
	}
	f.from, f.begin = earliest, windowStart(earliest)
	if opts.Ladders {
		f.ladderMax = opts.LadderLen + 2
		f.series = true
	}
	out.dir = opts.ExtractDir
	return f, nil
}

// begin readies the loop's collectors as its window opens.
func (out *Loop) begin(f *follow) {
	if out.wantExtract {
		w, err := newWriter(out.dir, f.n, f.l)
		if err != nil {
			out.Extract = &report.Extract{File: w.path, Error: err.Error()}
		} else {
			f.w = w
		}
	}
	if f.series {
		span := f.end - f.start
		out.Series = Series{Start: f.start, Bucket: bucketFor(span * 150 / 60)}
		nb := int(span/out.Series.Bucket) + 1
		out.Series.Counts = [2][]uint32{make([]uint32, nb), make([]uint32, nb)}
	}
}

// finishAll ends every loop of the stream at the end of its read.
func (sf *streamFollow) finishAll() {
	for len(sf.active) > 0 {
		sf.retire(sf.active[len(sf.active)-1])
	}
	for _, f := range sf.pending[sf.next:] {
		f.out.begin(f)
		f.finish(sf.scenarios)
	}
	sf.next = len(sf.pending)
}

// abortAll drops every unfinished loop of the stream.
func (sf *streamFollow) abortAll() {
	for _, f := range sf.active {
		f.abort()
	}
	sf.active = nil
	sf.due = nil
}
