package scan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
)

// maxPrefetch is the most inputs read on goroutines of their own.
const maxPrefetch = 4

// Options configure a scan.
type Options struct {
	DNSPong detect.DNSPongConfig
	Frag    decode.FragLimits
	// Parallel reads (and decompresses) each input on its own goroutine,
	// beside decoding. Results are identical either way.
	Parallel bool
	// ReadOnce, in parallel mode, reads each input once and hands its
	// frames to both shards, even where each shard could read the inputs
	// itself (uncompressed regular files). Results are identical; tests
	// compare the two.
	ReadOnce bool
	// NoRepeat turns off the Repeat detector (loops between non-DNS
	// services).
	NoRepeat bool
	// Stdin is read for the path "-"; nil means os.Stdin.
	Stdin io.Reader
	// Progress, when set, is called about every Interval of wall time with
	// the bytes and packets read so far.
	Progress func(Progress)
	// Interval between Progress calls; zero means one second.
	Interval time.Duration
}

// Progress is a snapshot of a running scan.
type Progress struct {
	Bytes      int64 // bytes read from the input files (compressed bytes for gzip)
	TotalBytes int64 // sum of the input files' sizes, 0 when unknown (stdin)
	Packets    uint64
	Elapsed    time.Duration
}

// Result is a finished scan: the report and the problems met reading it.
type Result struct {
	Report *report.Report
	// Errors are the input errors, one per failed input, each naming the
	// file and position (a *capture.Error where the file was readable at
	// all).
	Errors []error
}

type input struct {
	path    string
	file    *os.File
	size    int64 // a regular file's size when opened (what is scanned), else -1
	counter *countingReader
	reader  *capture.Reader
	info    report.Input
	first   int64
	last    int64
	seen    bool
}

// Run scans the captures at paths as one stream merged in time order.
// It never stops at a bad input: what could be read is reported, and each
// failure is listed in Result.Errors.
func Run(paths []string, opts Options) *Result {
	res := &Result{}
	cfg := opts.DNSPong
	parallel := opts.Parallel && runtime.GOMAXPROCS(0) > 1
	var shards [numShards]*shard
	var watch [1024]uint64 // ports some detector looks at
	maxFlows := cfg.MaxFlows
	if maxFlows <= 0 {
		maxFlows = detect.DefaultDNSPongConfig.MaxFlows
	}
	cfg.MaxFlows = max(maxFlows/numShards, 1) // the cap is for the whole scan
	for k := range shards {
		dp := detect.NewDNSPong(cfg)
		sh := &shard{id: k, dns: dp, dets: []detect.Detector{dp}}
		for _, port := range dp.Config().DNSPorts {
			watch[port/64] |= 1 << (port % 64)
		}
		if !opts.NoRepeat {
			rc := detect.DefaultRepeatConfig
			rc.Idle = dp.Config().Idle
			rc.MaxFlows = max(rc.MaxFlows/numShards, 1)
			rc.Exclude = dp.Config().DNSPorts // DNS flows are DNSPong's, even with a port 123 client
			sh.dets = append(sh.dets, detect.NewRepeat(rc))
			for _, port := range rc.Ports {
				watch[port/64] |= 1 << (port % 64)
			}
		}
		shards[k] = sh
	}
	watched := func(port uint16) bool { return watch[port/64]&(1<<(port%64)) != 0 }
	dec := decode.NewDecoder(opts.Frag)

	// Each reader's window: 256 KiB stays in a core's 1 MiB L2 beside the
	// flow table, where 1 MiB windows pushed the table out (8% slower on
	// bench-10m.pcap; 128 KiB measured the same as 256).
	bufSize := 256 << 10
	if len(paths) > 8 {
		bufSize = 64 << 10 // many rotated files: bounded memory first
	}
	ins := make([]*input, len(paths))
	var srcs []capture.Source
	var srcIdx []int
	var total int64
	for i, p := range paths {
		in := &input{path: p, size: -1, info: report.Input{Path: p, LinkTypes: []uint32{}}}
		ins[i] = in
		var r io.Reader
		if p == "-" {
			r = opts.Stdin
			if r == nil {
				r = os.Stdin
			}
		} else {
			f, err := os.Open(p)
			if err != nil {
				in.fail(res, fmt.Errorf("%s: %w", p, unwrapPathError(err)))
				continue
			}
			in.file = f
			r = f
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				total += st.Size()
				// The bytes there when the scan began: a file still being
				// written reads the same to every reader of it.
				in.size = st.Size()
				r = io.LimitReader(f, in.size)
			}
		}
		in.counter = &countingReader{r: r}
		cr, err := capture.OpenSize(p, in.counter, bufSize)
		if err != nil {
			in.fail(res, err)
			continue
		}
		in.reader = cr
		in.info.Format = string(cr.Format())
		in.info.Gzip = cr.Gzip()
		srcs = append(srcs, cr)
		srcIdx = append(srcIdx, i)
	}
	var extra []*os.File // shard 1's own handles in ownReaders mode
	defer func() {
		for _, in := range ins {
			if in.file != nil {
				in.file.Close()
			}
		}
		for _, f := range extra {
			f.Close()
		}
	}()

	// How the two shards get their frames in parallel mode: from uncompressed
	// regular files, each shard reads every input itself (no frame crosses
	// between cores); otherwise one goroutine reads (and decompresses) and
	// hands batches of frames to both.
	mode := serialMode
	var stream1 capture.Source
	if parallel {
		mode = broadcastMode
		if opts.ReadOnce {
			// one reader
		} else if s1, files, ok := reopen(ins, srcIdx, bufSize); ok {
			mode, stream1, extra = ownReadersMode, s1, files
		} else {
			extra = files
		}
	}
	if mode == broadcastMode && len(srcs) <= maxPrefetch {
		for k, src := range srcs {
			if cr := src.(*capture.Reader); cr.Gzip() || len(srcs) > 1 {
				// Decompressing, or reading a few files, beside decoding.
				// Many rotated files are read inline: the merge reads
				// them one after another anyway, and each prefetcher
				// holds 5 MiB.
				srcs[k] = capture.NewPrefetch(cr)
			}
		}
	}

	m := capture.NewMerge(srcs...)
	m.OnError = func(s int, err error) { ins[srcIdx[s]].fail(res, err) }
	var stream capture.Source = m
	if len(srcs) == 1 {
		// One input: no merging to do.
		stream = &single{src: srcs[0], onError: m.OnError}
	}

	var (
		rec       capture.Record
		pkt       detect.Packet
		packets   uint64
		nonPacket uint64
		end       int64
		started   = time.Now()
		nextRep   = started
	)
	interval := opts.Interval
	if interval <= 0 {
		interval = time.Second
	}
	var bc *broadcaster
	decs := []*decode.Decoder{dec} // the decoders whose Stats make the summary
	if mode != serialMode {
		decs = decs[:0]
		for _, sh := range shards {
			d := decode.NewDecoder(opts.Frag)
			decs = append(decs, d)
			sh.prepare(d, watched, srcIdx)
		}
	}
	switch mode {
	case broadcastMode:
		bc = newBroadcaster(shards[:])
		for _, sh := range shards {
			sh.start(bc.free)
		}
	case ownReadersMode:
		shards[1].run(stream1)
	}
	for stream.Next(&rec) == nil {
		if packets == 0 && mode == serialMode {
			for _, sh := range shards {
				sh.dns.SetStart(rec.Time)
			}
		}
		packets++
		in := ins[srcIdx[rec.Source]]
		if !in.seen || rec.Time < in.first {
			in.first = rec.Time
		}
		if !in.seen || rec.Time > in.last {
			in.last = rec.Time
		}
		in.seen = true
		if rec.Time > end {
			end = rec.Time
		}
		if rec.LinkType == capture.NonPacket {
			nonPacket++
		}
		switch {
		case mode == broadcastMode:
			bc.send(&rec) // the shards decode
		case mode == ownReadersMode:
			shards[0].frame(&rec) // shard 1 reads its own copy
		case rec.LinkType != capture.NonPacket && dec.Decode(rec.LinkType, rec.Data, rec.OrigLen, rec.Time, &pkt.Packet) == decode.KindUDP:
			if watched(pkt.Src.Port()) || watched(pkt.Dst.Port()) {
				pkt.Ref = detect.PacketRef{Source: srcIdx[rec.Source], Frame: rec.Frame}
				pkt.Time = rec.Time
				shards[shardOf(&pkt)].observe(&pkt)
			}
		}
		if opts.Progress != nil && packets&0xfff == 0 {
			if now := time.Now(); now.After(nextRep) {
				nextRep = now.Add(interval)
				opts.Progress(progressOf(ins, total, packets, now.Sub(started)))
			}
		}
	}
	if opts.Progress != nil {
		opts.Progress(progressOf(ins, total, packets, time.Since(started)))
	}

	rep := &report.Report{Schema: report.Schema, Loops: []report.Loop{}}
	files := make([]string, len(paths))
	copy(files, paths)
	if bc != nil {
		bc.close()
	}
	shards[1].wait()
	var found []detect.Loop
	for _, sh := range shards {
		for _, d := range sh.dets {
			for _, l := range d.Finish(end) {
				if !covered(found, &l) {
					found = append(found, l)
				}
			}
		}
	}
	for _, sh := range shards {
		for _, d := range sh.dets {
			c := d.Counters()
			s := &rep.Summary
			s.DNSMessages += c.DNSMessages
			s.NonDNS += c.NonDNS
			s.Truncated += c.Truncated
			s.Flows += c.Flows
			s.Bounces += c.Bounces
			s.OneSided += c.OneSided
			s.Evicted += c.Evicted
			s.EvictedCap += c.EvictedCap
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return loopBefore(&found[i], &found[j]) })
	for i := range found {
		rep.Loops = append(rep.Loops, report.FromLoop(&found[i], files))
	}
	for _, in := range ins {
		if in.reader != nil {
			in.info.Packets = in.reader.Frames()
			in.info.LinkTypes = append(in.info.LinkTypes, in.reader.LinkTypes()...)
		}
		if in.seen {
			in.info.First = report.Timestamp(in.first)
			in.info.Last = report.Timestamp(in.last)
		}
		rep.Inputs = append(rep.Inputs, in.info)
	}
	s := &rep.Summary
	st := mergeStats(decs)
	s.Packets = packets
	s.UDP = st.Kinds[decode.KindUDP]
	s.TCP = st.Kinds[decode.KindTCP]
	s.OtherIP = st.Kinds[decode.KindOtherIP]
	s.NotIP = st.Kinds[decode.KindNotIP]
	s.Malformed = st.Kinds[decode.KindMalformed]
	s.Fragments = st.Kinds[decode.KindFragment] + st.Reassembled
	s.Reassembled = st.Reassembled
	s.FragDropped = decs[0].FragmentsDropped() // every shard reassembles every fragment
	s.UnknownLink = st.Kinds[decode.KindUnknownLink]
	s.NonPacket = nonPacket
	if len(st.UnknownLinks) > 0 {
		s.UnknownLinks = map[string]uint64{}
		for lt, n := range st.UnknownLinks {
			s.UnknownLinks[strconv.FormatUint(uint64(lt), 10)] = n
		}
	}
	s.Loops = len(rep.Loops)
	c := shards[0].dns.Config()
	rep.Settings = report.Settings{
		DNSPorts: c.DNSPorts, MaxDelayMS: float64(c.MaxDelay) / 1e6, IdleS: c.Idle.Seconds(),
		MinPackets: c.MinPackets, MaxFlows: c.MaxFlows * numShards,
	}
	res.Report = rep
	return res
}

// Parallel modes.
const (
	serialMode     = iota // one goroutine decodes and runs both shards inline
	broadcastMode         // one goroutine reads; every shard decodes its own frames
	ownReadersMode        // every shard reads every input itself
)

// reopen opens every input a second time for shard 1, when every input
// is an uncompressed regular file, limited to the size the first reader
// saw. It reports false (with whatever it opened, for closing) when that
// cannot be done.
func reopen(ins []*input, srcIdx []int, bufSize int) (capture.Source, []*os.File, bool) {
	var files []*os.File
	var srcs []capture.Source
	for _, i := range srcIdx {
		in := ins[i]
		if in.size < 0 || in.reader.Gzip() {
			return nil, files, false
		}
		f, err := os.Open(in.path)
		if err != nil {
			return nil, files, false
		}
		files = append(files, f)
		cr, err := capture.OpenSize(in.path, io.LimitReader(f, in.size), bufSize)
		if err != nil {
			return nil, files, false
		}
		srcs = append(srcs, cr)
	}
	if len(srcs) == 0 {
		return nil, files, false
	}
	ignore := func(int, error) {} // shard 0's reader reports the same errors
	if len(srcs) == 1 {
		return &single{src: srcs[0], onError: ignore}, files, true
	}
	m := capture.NewMerge(srcs...)
	m.OnError = ignore
	return m, files, true
}

// mergeStats adds up the frame counts of decoders that each counted their
// own frames. Reassembly counts are the first decoder's: in parallel mode
// every shard's decoder reassembles every fragment.
func mergeStats(decs []*decode.Decoder) *decode.Stats {
	if len(decs) == 1 {
		return &decs[0].Stats
	}
	st := &decode.Stats{UnknownLinks: map[uint32]uint64{}, Reassembled: decs[0].Stats.Reassembled, FragDropped: decs[0].Stats.FragDropped}
	for _, d := range decs {
		for k, n := range d.Stats.Kinds {
			st.Kinds[k] += n
		}
		for lt, n := range d.Stats.UnknownLinks {
			st.UnknownLinks[lt] += n
		}
	}
	return st
}

// loopBefore orders loops by start, then by endpoints, so the order never
// depends on which shard found them.
func loopBefore(a, b *detect.Loop) bool {
	if a.Start != b.Start {
		return a.Start < b.Start
	}
	if c := a.Client.Compare(b.Client); c != 0 {
		return c < 0
	}
	return a.Server.Compare(b.Server) < 0
}

// covered reports whether an earlier detector already found l: a loop on
// the same pair of endpoints overlapping it in time. Detectors run in
// order of precedence (the triggered DNS detector first).
func covered(found []detect.Loop, l *detect.Loop) bool {
	for i := range found {
		f := &found[i]
		same := f.Client == l.Client && f.Server == l.Server || f.Client == l.Server && f.Server == l.Client
		if same && f.Start <= l.End && l.Start <= f.End {
			return true
		}
	}
	return false
}

func (in *input) fail(res *Result, err error) {
	in.info.Error = report.ValidUTF8(err.Error())
	res.Errors = append(res.Errors, err)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func progressOf(ins []*input, total int64, packets uint64, el time.Duration) Progress {
	var b int64
	for _, in := range ins {
		if in.counter != nil {
			b += in.counter.n.Load()
		}
	}
	return Progress{Bytes: b, TotalBytes: total, Packets: packets, Elapsed: el}
}

// single is the stream of one source, reporting its error like Merge.
type single struct {
	src     capture.Source
	onError func(int, error)
}

func (s *single) Next(rec *capture.Record) error {
	err := s.src.Next(rec)
	if err != nil && !errors.Is(err, io.EOF) {
		s.onError(0, err)
		s.src = eofSource{}
	}
	rec.Source = 0
	return err
}

type eofSource struct{}

func (eofSource) Next(*capture.Record) error { return io.EOF }

// countingReader counts bytes read; the count is read by the progress
// reporter while a prefetching goroutine reads.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
