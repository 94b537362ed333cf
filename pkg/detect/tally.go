package detect

import "time"

// tally counts the packets of a loop or of a run: per direction, their
// frame bytes, the first and last times, and the busiest second. Triggered
// loops and runs without a trigger count with the same code.
type tally struct {
	start, last int64
	pkts        [2]uint64 // 0: client to server, 1: server to client
	bytes       [2]uint64
	bucket      int64 // the current second since start
	inBucket    uint64
	peak        uint64 // most packets in one second [start+k s, start+k+1 s)
}

// begin starts counting at time t, with nothing counted.
func (c *tally) begin(t int64) { *c = tally{start: t, last: t} }

// add counts one packet of wire bytes at time t; dir 0 is client to
// server.
func (c *tally) add(t int64, dir int, wire int) {
	if t > c.last {
		c.last = t
	}
	c.pkts[dir]++
	c.bytes[dir] += uint64(wire)
	b := max(t-c.start, 0) / int64(time.Second)
	if b != c.bucket {
		c.bucket, c.inBucket = b, 0
	}
	c.inBucket++
	c.peak = max(c.peak, c.inBucket)
}

func (c *tally) packets() uint64 { return c.pkts[0] + c.pkts[1] }

// oneSided reports whether the quieter direction carries less than a
// quarter of the packets: one side talks, the other barely answers.
func (c *tally) oneSided() bool { return 4*min(c.pkts[0], c.pkts[1]) < c.packets() }

// fill copies the counts into l.
func (c *tally) fill(l *Loop) {
	l.Start, l.End = c.start, c.last
	l.Packets = c.packets()
	l.Bytes = c.bytes[0] + c.bytes[1]
	l.ClientToServer = Direction{c.pkts[0], c.bytes[0]}
	l.ServerToClient = Direction{c.pkts[1], c.bytes[1]}
	l.PeakPPS = c.peak
}
