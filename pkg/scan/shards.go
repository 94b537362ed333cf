package scan

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// numShards is fixed, parallel or not: each flow lives in one shard chosen
// by a fixed hash of its endpoints, and each shard sees exactly its own
// packets in capture order, so results are identical whether the shards
// run on their own goroutines or inline.
const numShards = 2

// shard holds one instance of every detector for the flows hashed to it.
type shard struct {
	id   int
	dets []detect.Detector
	dns  *detect.DNSPong

	// Parallel mode: the shard decodes frames itself. Every shard gets
	// every batch of raw frames, routes each frame (cheaply from its raw
	// headers when it can) and decodes only its own, plus the frames it
	// cannot route without decoding. Its decoder counts the frames it owns.
	dec     *decode.Decoder
	watched func(uint16) bool
	srcIdx  []int
	in      chan *rawBatch
	free    chan *rawBatch
	done    chan struct{}
	pkt     detect.Packet
	started bool
}

// rawBatch carries raw frames from the reading goroutine to every shard;
// each frame's bytes are copied into buf because the reader reuses its
// own. The last shard done with a batch returns it to the free list.
type rawBatch struct {
	recs []rawRec
	buf  []byte
	refs atomic.Int32
}

// rawRec is a capture.Record whose bytes are buf[off:off+n] of its batch.
// It holds no pointers: writing it costs no write barrier, and it is half
// the size.
type rawRec struct {
	off, n  uint32
	link    uint32
	source  int32
	origLen int64
	time    int64
	frame   uint64
}

const (
	rawBatchRecords = 4096
	rawBatchBytes   = 1 << 20
	rawBatches      = 8
)

// Shards are chosen from the endpoints' 16-byte addresses (as two
// big-endian halves) and ports: each endpoint is mixed on its own and the
// two are added, so both directions of a flow get the same shard. The hash
// is fixed (no seed): sharding must not vary from run to run.
func endpointMix(hi, lo uint64, port uint16) uint64 {
	h, l := bits.Mul64(hi^0x9e3779b97f4a7c15, lo^uint64(port)<<48^0xbf58476d1ce4e5b9)
	return h ^ l
}

func shardOfMix(a, b uint64) int { return int((a + b) >> 63) }

// shardOf is the shard of a decoded datagram's flow.
func shardOf(p *detect.Packet) int {
	shi, slo := decode.AddrWords(p.Src.Addr())
	dhi, dlo := decode.AddrWords(p.Dst.Addr())
	return shardOfMix(endpointMix(shi, slo, p.Src.Port()), endpointMix(dhi, dlo, p.Dst.Port()))
}

// fastRoute finds the shard of a plain Ethernet frame carrying an
// unfragmented UDP datagram in IPv4 (no options) or IPv6 (no extension
// headers) straight from its bytes, as shardOf would from the decoded
// datagram. It reports false for every other frame: those are decoded to
// be routed.
func fastRoute(link uint32, data []byte) (int, bool) {
	if link != decode.LinkEthernet || len(data) < 14+40+8 {
		return 0, false
	}
	be := binary.BigEndian
	ip := data[14:]
	switch be.Uint16(data[12:14]) {
	case 0x0800:
		// Version 4, 20-byte header, UDP, neither more fragments nor an
		// offset.
		if ip[0] != 0x45 || ip[9] != 17 || be.Uint16(ip[6:8])&0x3fff != 0 {
			return 0, false
		}
		src, dst := uint64(be.Uint32(ip[12:16])), uint64(be.Uint32(ip[16:20]))
		return shardOfMix(endpointMix(0, 0xffff<<32|src, be.Uint16(ip[20:22])),
			endpointMix(0, 0xffff<<32|dst, be.Uint16(ip[22:24]))), true
	case 0x86dd:
		if ip[0]>>4 != 6 || ip[6] != 17 {
			return 0, false
		}
		return shardOfMix(endpointMix(be.Uint64(ip[8:16]), be.Uint64(ip[16:24]), be.Uint16(ip[40:42])),
			endpointMix(be.Uint64(ip[24:32]), be.Uint64(ip[32:40]), be.Uint16(ip[42:44]))), true
	}
	return 0, false
}

// observe hands a decoded datagram of this shard to its detectors.
func (s *shard) observe(p *detect.Packet) {
	p.SetFlow()
	for _, d := range s.dets {
		d.Observe(p)
	}
}

// prepare readies the shard to decode frames itself (parallel modes).
func (s *shard) prepare(dec *decode.Decoder, watched func(uint16) bool, srcIdx []int) {
	s.dec, s.watched, s.srcIdx = dec, watched, srcIdx
}

// run reads src to its end on a goroutine of its own, taking this shard's
// frames.
func (s *shard) run(src capture.Source) {
	done := make(chan struct{})
	s.done = done
	go func() {
		defer close(done)
		var rec capture.Record
		for src.Next(&rec) == nil {
			s.frame(&rec)
		}
	}()
}

// start runs the shard on its own goroutine, fed raw frames on in.
func (s *shard) start(free chan *rawBatch) {
	s.free = free
	in, done := make(chan *rawBatch, rawBatches), make(chan struct{})
	s.in, s.done = in, done
	go func() {
		defer close(done)
		for b := range in {
			var rec capture.Record
			for i := range b.recs {
				r := &b.recs[i]
				rec.Data = b.buf[r.off : r.off+r.n : r.off+r.n]
				rec.OrigLen, rec.Time, rec.LinkType = int(r.origLen), r.time, r.link
				rec.Frame, rec.Source = r.frame, int(r.source)
				s.frame(&rec)
			}
			if b.refs.Add(-1) == 0 {
				b.recs, b.buf = b.recs[:0], b.buf[:0]
				s.free <- b
			}
		}
	}()
}

// frame routes, decodes and observes one raw frame in parallel mode.
func (s *shard) frame(rec *capture.Record) {
	if !s.started {
		s.dns.SetStart(rec.Time) // every shard sees the first frame
		s.started = true
	}
	if rec.LinkType == capture.NonPacket {
		return // counted by the reading goroutine
	}
	owner, routed := fastRoute(rec.LinkType, rec.Data)
	if routed && owner != s.id {
		return
	}
	p := &s.pkt
	k := s.dec.DecodeUncounted(rec.LinkType, rec.Data, rec.OrigLen, rec.Time, &p.Packet)
	if !routed {
		owner = 0 // frames that are not UDP are counted by shard 0
		if k == decode.KindUDP {
			owner = shardOf(p)
		}
	}
	// A routed frame is its owner's to count whatever it decodes as
	// (a malformed one too); a routed UDP datagram's owner is shardOf's.
	if owner != s.id {
		return
	}
	s.dec.Stats.Count(rec.LinkType, k)
	if k == decode.KindUDP && (s.watched(p.Src.Port()) || s.watched(p.Dst.Port())) {
		p.Ref = detect.PacketRef{Source: s.srcIdx[rec.Source], Frame: rec.Frame}
		p.Time = rec.Time
		s.observe(p)
	}
}

// wait waits for the shard's goroutine, if any, to finish its input.
func (s *shard) wait() {
	if s.in != nil {
		close(s.in)
		s.in = nil
	}
	if s.done != nil {
		<-s.done
		s.done = nil
	}
}

// broadcaster copies raw frames into batches and hands each full batch to
// every shard.
type broadcaster struct {
	shards []*shard
	free   chan *rawBatch
	cur    *rawBatch
}

func newBroadcaster(shards []*shard) *broadcaster {
	b := &broadcaster{shards: shards, free: make(chan *rawBatch, rawBatches)}
	for range rawBatches {
		b.free <- &rawBatch{recs: make([]rawRec, 0, rawBatchRecords), buf: make([]byte, 0, rawBatchBytes+capture.MaxPacket)}
	}
	b.cur = <-b.free
	return b
}

// send queues a copy of rec for every shard.
func (b *broadcaster) send(rec *capture.Record) {
	c := b.cur
	// buf has MaxPacket bytes of headroom past rawBatchBytes, so the
	// append never moves it and earlier frames' Data stay valid.
	start := len(c.buf)
	c.buf = append(c.buf, rec.Data...)
	c.recs = append(c.recs, rawRec{off: uint32(start), n: uint32(len(rec.Data)), link: rec.LinkType,
		source: int32(rec.Source), origLen: int64(rec.OrigLen), time: rec.Time, frame: rec.Frame})
	if len(c.recs) == rawBatchRecords || len(c.buf) >= rawBatchBytes {
		b.flush()
		b.cur = <-b.free
	}
}

func (b *broadcaster) flush() {
	if len(b.cur.recs) == 0 {
		return
	}
	b.cur.refs.Store(int32(len(b.shards)))
	for _, s := range b.shards {
		s.in <- b.cur
	}
	b.cur = nil
}

// close sends the last batch and waits for every shard to finish.
func (b *broadcaster) close() {
	if b.cur != nil {
		b.flush()
	}
	for _, s := range b.shards {
		s.wait()
	}
}
