package scan

import (
	"github.com/pongscan/pongscan/pkg/detect"
)

// numShards is fixed, parallel or not: each flow lives in one shard chosen
// by a fixed hash of its endpoints, and each shard sees exactly its own
// packets in capture order, so results are identical whether the shards
// run on their own goroutines or inline.
const numShards = 2

// shard holds one instance of every detector for the flows hashed to it.
type shard struct {
	dets []detect.Detector
	dns  *detect.DNSPong

	// Parallel mode: batches come in on full and go back on free.
	full chan *batch
	free chan *batch
	done chan struct{}
	cur  *batch
}

// batch carries packets to a shard goroutine; payloads are copied into buf
// because the frames they came from are reused by the reader.
type batch struct {
	pkts []detect.Packet
	buf  []byte
}

const (
	shardBatchPackets = 2048
	shardBatchBytes   = 1 << 20
)

// shardOf picks p's shard from the fixed hash of its flow (the same for
// both directions, and from run to run), computing the flow key once for
// the detectors too.
func shardOf(p *detect.Packet) int {
	return int(p.SetFlow() >> 63)
}

func (s *shard) observe(p *detect.Packet) {
	for _, d := range s.dets {
		d.Observe(p)
	}
}

// start runs the shard on its own goroutine.
func (s *shard) start() {
	s.full = make(chan *batch, 4)
	s.free = make(chan *batch, 4)
	s.done = make(chan struct{})
	for range 4 {
		s.free <- &batch{pkts: make([]detect.Packet, 0, shardBatchPackets), buf: make([]byte, 0, shardBatchBytes+65536)}
	}
	go func() {
		defer close(s.done)
		for b := range s.full {
			for i := range b.pkts {
				s.observe(&b.pkts[i])
			}
			b.pkts, b.buf = b.pkts[:0], b.buf[:0]
			s.free <- b
		}
	}()
	s.cur = <-s.free
}

// send queues a copy of p for the shard goroutine.
func (s *shard) send(p *detect.Packet) {
	b := s.cur
	if len(b.pkts) == shardBatchPackets || len(b.buf)+len(p.Payload) > cap(b.buf) {
		s.full <- b
		b = <-s.free
		s.cur = b
	}
	start := len(b.buf)
	b.buf = append(b.buf, p.Payload...)
	b.pkts = append(b.pkts, *p)
	b.pkts[len(b.pkts)-1].Payload = b.buf[start:len(b.buf):len(b.buf)]
}

// wait flushes the last batch and waits for the goroutine to finish.
func (s *shard) wait() {
	if s.full == nil {
		return
	}
	if len(s.cur.pkts) > 0 {
		s.full <- s.cur
	}
	close(s.full)
	<-s.done
}
