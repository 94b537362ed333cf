package scan

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
)

// Options configure a scan. The zero value scans with no detector: list
// them in Detectors.
type Options struct {
	// Detectors make the detectors, in order of precedence: where two
	// find a loop on the same flow at the same time, the first one's is
	// reported.
	Detectors []detect.Factory
	// Config holds the detectors' thresholds. Config.MaxFlows caps the
	// flows each detector tracks in the whole scan; it is divided between
	// the shards.
	Config detect.Config
	// Frag bounds IP reassembly; zero fields take decode's defaults.
	Frag decode.FragLimits
	// Shards is the number of detector shards: flows are split between
	// them by a hash of their endpoints. Zero means one per usable core
	// (GOMAXPROCS). The report does not depend on it.
	Shards int
	// Parallel runs each shard on a goroutine of its own, beside the one
	// that reads; without it one goroutine does everything.
	Parallel bool
	// Progress, when set, is called about every Interval of wall time
	// with the bytes and packets read so far, and once at the end.
	Progress func(Progress)
	// Interval between Progress calls; zero means one second.
	Interval time.Duration
	// Filter, when set, keeps only part of the input (filter.go).
	Filter *Filter
	// OnStream, when set, is called as each stream's scan ends, with its
	// final loops and inputs, in the order of the streams; never twice at
	// once (RunStreams).
	OnStream func(StreamDone)
	// Observe, when set, makes an observer for each shard of each stream
	// (observe.go); it may return nil.
	Observe func(ObserveInfo) Observer
	// WhatIf, when set, makes the rate-limiting what-if of each shard of
	// each stream (detect.WhatIf): the DNS detector replays it as it
	// goes, and flows on DNS ports are routed by their endpoints'
	// prefixes, so that a server's responses to a client prefix meet in
	// one shard. Stop in the ObserveInfo is nil.
	WhatIf func(ObserveInfo) detect.WhatIf
}

// Progress is a snapshot of a running scan.
type Progress struct {
	Bytes      int64 // bytes read from the inputs (compressed bytes for gzip)
	TotalBytes int64 // sum of the inputs' sizes, 0 when unknown (stdin)
	Packets    uint64
	Elapsed    time.Duration
}

// Result is a finished scan: the report and the problems met reading it.
type Result struct {
	Report *report.Report
	// Errors are the input errors, one per failed input, each naming the
	// input and position (a *capture.Error where the input was readable
	// at all).
	Errors []error
	// Interrupted reports that the context ended before every input was
	// read: the report covers what was read until then, up to Stopped.
	Interrupted bool
	Stopped     Position
}

// Position names the last record read: an input, a frame and the byte
// offset of its record (decompressed bytes for gzip). Frame is 0 when no
// record was read.
type Position struct {
	Input  string
	Frame  uint64
	Offset int64
}

// String says where reading stopped: "at FILE frame N (byte B)", or
// "before the first packet".
func (p Position) String() string {
	if p.Frame == 0 {
		return "before the first packet"
	}
	return fmt.Sprintf("at %s frame %d (byte %d)", p.Input, p.Frame, p.Offset)
}

// Run scans inputs as one stream merged in time order. It never stops at
// a bad input: what could be read is reported, and each failure is listed
// in Result.Errors. When ctx ends, reading stops and the report covers
// everything read before. RunStreams scans several streams.
func Run(ctx context.Context, inputs []Input, opts Options) *Result {
	return RunStreams(ctx, []Stream{{Inputs: inputs}}, opts)
}

// runStream scans stream number index with its own pipeline.
func runStream(ctx context.Context, index int, st Stream, opts Options) *Result {
	opts = opts.withDefaults()
	s := newScan(ctx, index, st.Name, st.Inputs, opts)
	defer s.close()
	s.open()
	s.startShards()
	s.feed.run()
	s.stopShards()
	return s.collect()
}

func (o Options) withDefaults() Options {
	o.Config = o.Config.WithDefaults()
	if o.Frag == (decode.FragLimits{}) {
		o.Frag = decode.DefaultFragLimits
	}
	if o.Shards <= 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	// Every shard tracks at least one flow per detector, so the cap for
	// the whole scan also caps the shards.
	o.Shards = max(min(o.Shards, maxShards, o.Config.MaxFlows), 1)
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	return o
}

// maxShards bounds Options.Shards (the routing hash supports any number).
const maxShards = 1024

// blockSize is the size of the blocks inputs are read into: 256 KiB stays
// in a core's 1 MiB L2 beside the flow table, where 1 MiB windows pushed
// the table out (8% slower on bench-10m.pcap; 128 KiB measured the same).
// Scans of many inputs use smaller blocks: memory first, since every
// input open at once holds one (and the merge may open them all when they
// overlap in time).
func blockSize(inputs int) int {
	switch {
	case inputs > 256:
		return 16 << 10
	case inputs > 8:
		return 64 << 10
	}
	return 256 << 10
}

// scan is one run of the pipeline.
type scan struct {
	name   string // the stream's
	index  int    // the stream's, in RunStreams
	lazy   *lazyMerge
	ctx    context.Context
	opts   Options
	ins    []*input
	shards []*shard
	feed   feed
}

func newScan(ctx context.Context, index int, name string, inputs []Input, opts Options) *scan {
	s := &scan{ctx: ctx, opts: opts, name: name, index: index}
	for _, in := range inputs {
		s.ins = append(s.ins, &input{Input: in})
	}
	watch := &detect.PortSet{}
	route := router{n: uint64(opts.Shards)}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	if opts.WhatIf != nil {
		route.dns = &detect.PortSet{}
		route.dns.Add(opts.Config.DNSPorts...)
	}
	for k := range opts.Shards {
		cfg := opts.Config
		cfg.MaxFlows = share(opts.Config.MaxFlows, opts.Shards, k)
		if opts.WhatIf != nil {
			cfg.WhatIf = opts.WhatIf(ObserveInfo{Stream: name, Index: index, Inputs: names, Shard: k, Shards: opts.Shards,
				Parallel: opts.Parallel})
		}
		sh := &shard{id: k, route: route, dec: decode.NewDecoder(opts.Frag), watch: watch, filter: newWindow(opts.Filter)}
		for _, mk := range opts.Detectors {
			d := mk(cfg)
			d.Watch(watch)
			sh.dets = append(sh.dets, d)
		}
		s.shards = append(s.shards, sh)
	}
	s.feed = feed{ctx: ctx, ins: s.ins, route: route, shards: opts.Shards,
		free: make(chan *batch, batchQueue+2), progress: opts.Progress, interval: opts.Interval}
	if opts.Observe != nil {
		for k, sh := range s.shards {
			sh.obs = opts.Observe(ObserveInfo{Stream: name, Index: s.index, Inputs: names, Shard: k, Shards: opts.Shards, Stop: s.feed.halt})
			sh.skip, _ = sh.obs.(Skipper)
		}
	}
	return s
}

// share is shard k's part of a cap of n split over shards.
func share(n, shards, k int) int {
	part := n / shards
	if k < n%shards {
		part++
	}
	return part
}

// open opens every input and builds the one stream the feed reads. Files
// of a stream of several inputs are opened lazily (lazy.go).
func (s *scan) open() {
	// Spare blocks: as many as the batches in flight can hold (each
	// batch spans a few blocks), plus one per input being read, so that
	// blocks are recycled rather than reallocated.
	bs := blockSize(len(s.ins))
	pool := capture.NewBlockPool(bs, min(len(s.ins)+(batchQueue+3)*(batchBytes/bs+2), maxKeepBytes/bs))
	if len(s.ins) > 1 {
		s.openLazy(pool)
		return
	}
	var srcs []capture.Source
	for i, in := range s.ins {
		in.open(s.ctx, pool)
		if in.reader == nil {
			continue
		}
		s.feed.total += in.size()
		srcs = append(srcs, in.reader)
		s.feed.srcIn = append(s.feed.srcIn, i)
	}
	switch len(srcs) {
	case 0:
		s.feed.src = eofSource{}
	case 1:
		s.feed.src = &single{src: srcs[0], onError: s.feed.onError}
	default:
		m := capture.NewMerge(srcs...)
		m.OnError = s.feed.onError
		s.feed.src = m
	}
}

// maxKeepBytes bounds the free blocks a pool keeps, whatever the number
// of inputs: memory must not grow with it. It is a size, not a count: the
// 16 KiB blocks of a stream of many files, kept 64 at a time, were
// allocated again and again (300 MB for 1,493 rotated files of 10 M
// packets), and the collector's slack doubled the peak.
const maxKeepBytes = 16 << 20

// openLazy reads the first record time of every file of the stream and
// sets the feed to read them through a lazyMerge. Inputs that cannot be
// opened twice (standard input, a caller's reader) are opened now.
func (s *scan) openLazy(pool *capture.BlockPool) {
	prescanPool := capture.NewBlockPool(8<<10, 2)
	var pending, eager []int
	for i, in := range s.ins {
		s.feed.srcIn = append(s.feed.srcIn, i)
		if !in.reopen {
			in.open(s.ctx, pool)
			if in.reader != nil {
				s.feed.total += in.size()
				eager = append(eager, i)
			}
			continue
		}
		if s.ctx.Err() != nil {
			in.info = report.Input{Path: in.Name, LinkTypes: []uint32{}}
			continue
		}
		switch in.prescan(s, prescanPool) {
		case prescanLazy:
			pending = append(pending, i)
		case prescanOpen:
			eager = append(eager, i)
		}
		s.feed.total += in.sizeHint
	}
	s.lazy = newLazyMerge(s, pool, pending, eager, s.feed.onError)
	s.feed.src = s.lazy
}

// startShards sets how batches reach the shards: on goroutines of their
// own in parallel mode, inline otherwise.
func (s *scan) startShards() {
	f := &s.feed
	if !s.opts.Parallel {
		f.deliver = func(b *batch) {
			for _, sh := range s.shards {
				sh.process(b)
			}
			f.recycle(b)
		}
		return
	}
	done := func(b *batch) {
		if b.refs.Add(-1) == 0 {
			f.recycle(b)
		}
	}
	for _, sh := range s.shards {
		sh.start(done)
	}
	f.deliver = func(b *batch) {
		b.refs.Store(int32(len(s.shards)))
		for _, sh := range s.shards {
			sh.in <- b
		}
	}
}

func (s *scan) stopShards() {
	for _, sh := range s.shards {
		sh.stop()
	}
}

func (s *scan) close() {
	if s.lazy != nil {
		s.lazy.close()
	}
	for _, in := range s.ins {
		in.close()
	}
}
