package scan

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
)

// Stream is a named set of inputs merged in time order into one stream of
// packets: the files of one sensor. Streams are independent: each is
// scanned by a pipeline of its own, and a loop never spans two.
type Stream struct {
	// Name names the stream in the report (every loop and input carries
	// it); empty for the one stream of a plain scan.
	Name   string
	Inputs []Input
}

// MaxStreamInputs is the most inputs one stream may hold (packet
// references keep 24 bits of input index, detect.RefFrameBits). Inputs
// beyond it are reported as not read, in one error; split such a stream
// (e.g. by directory).
const MaxStreamInputs = 1<<(64-detect.RefFrameBits) - 1

// StreamDone is a stream whose scan finished: its loops are final. It is
// handed to Options.OnStream.
type StreamDone struct {
	Name     string
	Inputs   []report.Input
	Loops    []report.Loop
	Warnings []string
	Errors   []error
	// VLANTags is the most 802.1Q tags on one of the stream's frames.
	VLANTags uint8
}

// RunStreams scans each stream with a pipeline of its own, several at
// once over the cores, and returns one report: inputs and loops in the
// order of the streams (each stream's loops by start), the summary added
// up over the streams. A stream's loops are final when its scan ends;
// Options.OnStream, if set, gets each stream then, in the order of the
// streams, before RunStreams returns.
//
// With several streams, the shards (Options.Shards, or one per core) are
// divided between the streams scanned at once, and Options.Config.MaxFlows
// caps each stream's flows: a stream's result never depends on the others
// or on how many run at once.
func RunStreams(ctx context.Context, streams []Stream, opts Options) *Result {
	if len(streams) == 0 {
		streams = []Stream{{}}
	}
	cores := runtime.GOMAXPROCS(0)
	workers := min(len(streams), cores)
	per := opts
	if workers > 1 {
		shards := opts.Shards
		if shards <= 0 {
			shards = cores
		}
		per.Shards = max(1, shards/workers)
		per.Parallel = opts.Parallel && per.Shards > 1
	}
	agg := newProgressAgg(opts, streams)
	results := make([]*Result, len(streams))
	done := make([]chan struct{}, len(streams))
	for i := range done {
		done[i] = make(chan struct{})
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				o := per
				o.Progress = agg.forStream(i)
				results[i] = runOrSkip(ctx, i, streams[i], o)
				close(done[i])
			}
		})
	}
	// Hand finished streams to OnStream in order while the others run.
	handed := make(chan struct{})
	go func() {
		defer close(handed)
		for i := range streams {
			<-done[i]
			if opts.OnStream != nil {
				r := results[i]
				opts.OnStream(StreamDone{Name: streams[i].Name, Inputs: r.Report.Inputs, Loops: r.Report.Loops,
					Warnings: r.Report.Warnings, Errors: r.Errors, VLANTags: r.Report.Summary.VLANTags})
			}
		}
	}()
	for i := range streams {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	<-handed
	agg.finish()
	if len(results) == 1 {
		return results[0]
	}
	return combine(results, opts)
}

// runOrSkip scans a stream, or lists its inputs unread when the scan was
// cancelled before it started.
func runOrSkip(ctx context.Context, index int, st Stream, opts Options) *Result {
	if len(st.Inputs) > MaxStreamInputs {
		res := runStream(ctx, index, Stream{Name: st.Name, Inputs: st.Inputs[:MaxStreamInputs]}, opts)
		rest := st.Inputs[MaxStreamInputs:]
		res.Errors = append(res.Errors, fmt.Errorf("stream %q holds %d inputs, more than %d: the last %d (%s to %s) were not read; split it (--stream-by)",
			st.Name, len(st.Inputs), MaxStreamInputs, len(rest), rest[0].Name, rest[len(rest)-1].Name))
		for _, in := range rest {
			res.Report.Inputs = append(res.Report.Inputs, report.Input{Path: in.Name, Stream: st.Name, LinkTypes: []uint32{},
				Error: fmt.Sprintf("not read: its stream holds more than %d inputs", MaxStreamInputs)})
		}
		return res
	}
	if ctx.Err() != nil && len(st.Inputs) > 0 {
		res := runStream(ctx, index, Stream{Name: st.Name}, opts)
		res.Interrupted = true
		res.Report.Summary.Interrupted = true
		for _, in := range st.Inputs {
			res.Report.Inputs = append(res.Report.Inputs, report.Input{Path: in.Name, Stream: st.Name, LinkTypes: []uint32{}})
		}
		return res
	}
	return runStream(ctx, index, st, opts)
}

// combine joins the streams' results into one.
func combine(results []*Result, opts Options) *Result {
	out := &Result{}
	rep := &report.Report{Schema: report.Schema, Loops: []report.Loop{}, Inputs: []report.Input{}}
	for i, r := range results {
		rep.Inputs = append(rep.Inputs, r.Report.Inputs...)
		rep.Loops = append(rep.Loops, r.Report.Loops...)
		rep.Warnings = append(rep.Warnings, r.Report.Warnings...)
		if i == 0 {
			rep.Settings = r.Report.Settings
			rep.Summary = r.Report.Summary
		} else {
			rep.Summary.Add(&r.Report.Summary)
		}
		out.Errors = append(out.Errors, r.Errors...)
		if r.Interrupted && !out.Interrupted {
			out.Interrupted, out.Stopped = true, r.Stopped
		}
	}
	rep.Summary.Loops = len(rep.Loops)
	out.Report = rep
	return out
}

// progressAgg adds up the progress of the streams scanned at once.
type progressAgg struct {
	fn       func(Progress)
	interval time.Duration
	mu       sync.Mutex
	cur      []Progress
	began    time.Time
	next     time.Time
	total    int64
}

func newProgressAgg(opts Options, streams []Stream) *progressAgg {
	a := &progressAgg{fn: opts.Progress, interval: opts.Interval, began: time.Now()}
	if a.interval <= 0 {
		a.interval = time.Second
	}
	a.cur = make([]Progress, len(streams))
	return a
}

// forStream is the Progress callback of stream i: nil when no progress is
// wanted, the caller's own with a single stream.
func (a *progressAgg) forStream(i int) func(Progress) {
	if a.fn == nil {
		return nil
	}
	if len(a.cur) == 1 {
		return a.fn
	}
	return func(p Progress) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.cur[i] = p
		if now := time.Now(); now.After(a.next) {
			a.next = now.Add(a.interval)
			a.fn(a.sum())
		}
	}
}

func (a *progressAgg) sum() Progress {
	var s Progress
	for _, p := range a.cur {
		s.Bytes += p.Bytes
		s.TotalBytes += p.TotalBytes
		s.Packets += p.Packets
	}
	s.Elapsed = time.Since(a.began)
	return s
}

func (a *progressAgg) finish() {
	if a.fn == nil || len(a.cur) == 1 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fn(a.sum())
}

// overlapWarnings says which inputs of the stream overlap in time by more
// than the idle gap: merged into one stream, two sensors' copies of one
// loop become one loop of twice the packets. At most maxOverlapWarnings
// are listed, then a count.
func (s *scan) overlapWarnings() []string {
	idle := int64(s.opts.Config.Idle)
	var idx []int
	for i, in := range s.ins {
		if in.seen {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ta, tb := s.ins[a].first, s.ins[b].first
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	var out []string
	n := 0
	reach := -1 // the input reaching furthest so far
	for _, i := range idx {
		in := s.ins[i]
		if reach >= 0 {
			r := s.ins[reach]
			if ov := min(r.last, in.last) - in.first; ov > idle {
				n++
				if n <= maxOverlapWarnings {
					name := ""
					if s.name != "" {
						name = fmt.Sprintf("stream %q: ", s.name)
					}
					out = append(out, fmt.Sprintf("%s%s and %s overlap in time by %s, more than --idle %s: "+
						"one stream merges them, so a loop both saw is counted twice; if they are different sensors or copies, "+
						"scan them with --each or --stream-by",
						name, r.Name, in.Name, time.Duration(ov), time.Duration(idle)))
				}
			}
			if in.last > r.last {
				reach = i
			}
		} else {
			reach = i
		}
	}
	if n > maxOverlapWarnings {
		out = append(out, fmt.Sprintf("%d more inputs overlap in time", n-maxOverlapWarnings))
	}
	return out
}

const maxOverlapWarnings = 10

// inputOrder lists the stream's inputs by first packet time, inputs that
// had none last, ties in the order given.
func (s *scan) inputOrder() []int {
	idx := make([]int, len(s.ins))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := s.ins[a], s.ins[b]
		switch {
		case x.seen != y.seen:
			if x.seen {
				return -1
			}
			return 1
		case !x.seen || x.first == y.first:
			return 0
		case x.first < y.first:
			return -1
		}
		return 1
	})
	return idx
}
