package scan

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/pongscan/pongscan/pkg/capture"
)

// frameRec is one record of a batch. Its bytes are blocks[blk][off:off+n]
// of the batch (or extra[off:off+n] when blk is extraBlock). It holds no
// pointers: writing one costs no write barrier.
type frameRec struct {
	off, n  uint32
	origLen uint32
	link    uint32
	time    int64
	clock   int64 // the input's clock: the latest record time so far, this one's included
	frame   uint64
	source  int32 // index of the input
	blk     uint16
	route   int16 // the owning shard, routeAll or routeNone
}

const (
	routeAll  = -1 // every shard decodes it to find its owner
	routeNone = -2 // not a packet (a pcapng custom block): no shard looks
)

const extraBlock = 0xffff

// batch carries records from the feed to every shard, each shard's in a
// list of its own (recs[k]): a record the feed could route goes to its
// shard's list only, one it could not to every list, a record that is no
// packet to none. A shard reads only its own records, written once by the
// feed's core. It holds one reference to each block its records live in,
// dropped when the last shard is done with it.
type batch struct {
	blocks []*capture.Block
	recs   [][]frameRec
	n      int    // records added, the ones in no list included
	extra  []byte // copies of the rare records found outside a block
	start  int64  // time of the input's first record, for Detector.Begin
	bytes  int
	seq    uint64
	refs   atomic.Int32 // shards still reading it
}

// Batches are sent when they hold batchRecords records or batchBytes bytes
// of them; at most batchQueue wait for each shard.
const (
	batchRecords = 4096
	batchBytes   = 1 << 20
	batchBlocks  = 256
	batchQueue   = 4
)

func (b *batch) data(r *frameRec) []byte {
	if r.blk == extraBlock {
		return b.extra[r.off : r.off+r.n : r.off+r.n]
	}
	buf := b.blocks[r.blk].Bytes()
	return buf[r.off : r.off+r.n : r.off+r.n]
}

// feed reads every input once, in time order across inputs, walks its
// records, routes each to a shard and hands them over in batches.
type feed struct {
	ctx     context.Context
	ins     []*input
	srcIn   []int // input index of each merge source
	src     capture.Source
	route   router
	shards  int
	deliver func(*batch)
	free    chan *batch
	cur     *batch
	seq     uint64

	packets   uint64
	nonPacket uint64
	start     int64
	end       int64
	started   bool
	// the last record handed on, for saying where an interrupted scan
	// stopped
	lastIn     int
	lastFrame  uint64
	lastOffset int64
	stopped    bool        // the context was cancelled
	halted     atomic.Bool // an observer needs nothing more (halt)

	progress func(Progress)
	interval time.Duration
	total    int64
	began    time.Time
	nextRep  time.Time
}

// run reads to the end of every input, or until the context is done.
func (f *feed) run() {
	f.began = time.Now()
	f.nextRep = f.began.Add(f.interval)
	f.cur = f.newBatch()
	var rec capture.Record
	for f.src.Next(&rec) == nil {
		f.add(&rec)
		if b := f.cur; b.n == batchRecords || b.bytes >= batchBytes || len(b.blocks) >= batchBlocks {
			f.flush()
			if f.ctx.Err() != nil {
				f.stopped = true
				break
			}
			if f.halted.Load() {
				break
			}
		}
	}
	if f.ctx.Err() != nil {
		f.stopped = true
	}
	f.flush()
	f.report()
}

// halt ends the reading at the next batch: an observer needs nothing
// more. Safe to call from any goroutine.
func (f *feed) halt() { f.halted.Store(true) }

// add hands rec on: the input's bookkeeping, its route, its bytes.
func (f *feed) add(rec *capture.Record) {
	ii := f.srcIn[rec.Source]
	in := f.ins[ii]
	in.frames = rec.Frame
	if !in.seen || rec.Time < in.first {
		in.first = rec.Time
	}
	if !in.seen || rec.Time > in.last {
		in.last = rec.Time
	}
	in.seen = true
	if !f.started {
		f.start, f.end, f.started = rec.Time, rec.Time, true
	}
	f.end = max(f.end, rec.Time)
	f.packets++
	f.lastIn, f.lastFrame, f.lastOffset = ii, rec.Frame, rec.Offset

	b := f.cur
	b.n++
	r := frameRec{origLen: uint32(rec.OrigLen), link: rec.LinkType, time: rec.Time, clock: f.end, frame: rec.Frame, source: int32(ii)}
	switch {
	case rec.LinkType == capture.NonPacket:
		f.nonPacket++ // no shard needs it: the clock is in every record
		return
	case f.shards == 1:
		r.route = 0
	default:
		r.route = routeAll
		if owner, ok := f.route.fastRoute(rec.LinkType, rec.Data); ok {
			r.route = int16(owner)
		}
	}
	r.n = uint32(len(rec.Data))
	b.bytes += len(rec.Data)
	if blk := rec.Block; blk != nil && blk.Seq>>16 == b.seq {
		r.blk = uint16(blk.Seq)
	} else if blk != nil {
		blk.Retain(1)
		blk.Seq = b.seq<<16 | uint64(len(b.blocks))
		r.blk = uint16(len(b.blocks))
		b.blocks = append(b.blocks, blk)
	}
	// Data is buf[off:off+n], its capacity running to the end of buf.
	if blk := rec.Block; blk != nil && len(rec.Data) > 0 {
		buf := blk.Bytes()
		off := len(buf) - cap(rec.Data)
		if off >= 0 && off+len(rec.Data) <= len(buf) && &buf[off] == &rec.Data[0] {
			r.off = uint32(off)
			b.put(&r)
			return
		}
	}
	if len(rec.Data) == 0 && rec.Block != nil {
		b.put(&r)
		return
	}
	// Not inside its block (a reader that does not pool): copy it.
	r.blk, r.off = extraBlock, uint32(len(b.extra))
	b.extra = append(b.extra, rec.Data...)
	b.put(&r)
}

// put adds r to its shard's list, or to every list when it is routeAll.
func (b *batch) put(r *frameRec) {
	if r.route >= 0 {
		b.recs[r.route] = append(b.recs[r.route], *r)
		return
	}
	for k := range b.recs {
		b.recs[k] = append(b.recs[k], *r)
	}
}

func (f *feed) newBatch() *batch {
	var b *batch
	select {
	case b = <-f.free:
	default:
		b = &batch{recs: make([][]frameRec, f.shards)}
		for k := range b.recs {
			b.recs[k] = make([]frameRec, 0, batchRecords/f.shards+batchRecords/8)
		}
	}
	f.seq++
	b.seq = f.seq
	b.start = f.start
	return b
}

// flush hands the current batch to the shards and starts another.
func (f *feed) flush() {
	b := f.cur
	if b.n > 0 {
		b.start = f.start
		f.deliver(b)
		f.cur = f.newBatch()
	}
	if f.progress != nil {
		if now := time.Now(); now.After(f.nextRep) {
			f.nextRep = now.Add(f.interval)
			f.report()
		}
	}
}

// recycle drops the batch's block references and keeps it for reuse.
func (f *feed) recycle(b *batch) {
	for _, blk := range b.blocks {
		blk.Release()
	}
	clear(b.blocks)
	b.blocks, b.extra, b.bytes, b.n = b.blocks[:0], b.extra[:0], 0, 0
	for k := range b.recs {
		b.recs[k] = b.recs[k][:0]
	}
	select {
	case f.free <- b:
	default:
	}
}

func (f *feed) report() {
	if f.progress == nil {
		return
	}
	var n int64
	for _, in := range f.ins {
		n += in.counter.n.Load()
	}
	f.progress(Progress{Bytes: n, TotalBytes: f.total, Packets: f.packets, Elapsed: time.Since(f.began)})
}

// onError files a merge source's error with its input, unless the
// context's end caused it (an interrupted read is not a damaged file).
func (f *feed) onError(s int, err error) {
	if f.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		f.stopped = true
		return
	}
	f.ins[f.srcIn[s]].fail(err)
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
