package decode

import (
	"net/netip"
	"time"
)

// FragLimits bounds IP reassembly.
type FragLimits struct {
	MaxDatagrams int           // datagrams being reassembled at once; the oldest is dropped beyond it
	MaxBytes     int           // bytes buffered over all of them
	Timeout      time.Duration // capture time after which an incomplete datagram is dropped
}

// DefaultFragLimits are generous for real traffic and small for a flood:
// at most 4 MiB buffered.
var DefaultFragLimits = FragLimits{MaxDatagrams: 1024, MaxBytes: 4 << 20, Timeout: 30 * time.Second}

const maxDatagram = 65535 + 8 // IPv4 total length bound; IPv6 payload without jumbograms

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
	v6       bool
}

type fragPiece struct{ off, end int }

type fragEntry struct {
	key    fragKey
	first  int64 // capture time of the first fragment
	buf    []byte
	pieces []fragPiece
	total  int // payload length once the last fragment is seen, else -1
	wire   int // wire bytes of the fragments so far
	inUse  bool
}

// Reassembler rebuilds IPv4 and IPv6 datagrams from fragments within fixed
// limits. Overlapping fragments drop the datagram (as RFC 5722 asks for IPv6).
type Reassembler struct {
	lim     FragLimits
	entries []fragEntry
	bytes   int
	out     []byte // last reassembled datagram, lent to the caller
	// Dropped counts fragments discarded by limits, overlaps or timeouts.
	Dropped uint64
}

// NewReassembler returns a reassembler obeying lim (zero fields take the
// defaults).
func NewReassembler(lim FragLimits) *Reassembler {
	if lim.MaxDatagrams <= 0 {
		lim.MaxDatagrams = DefaultFragLimits.MaxDatagrams
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultFragLimits.MaxBytes
	}
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultFragLimits.Timeout
	}
	return &Reassembler{lim: lim}
}

// Add files one fragment: off is its byte offset in the datagram payload,
// more the more-fragments flag, data its payload, wire its frame length. When
// the fragment completes a datagram, Add returns the datagram's payload
// (borrowed until the next Add), the wire bytes of all its fragments and
// true.
func (r *Reassembler) Add(k fragKey, off int, more bool, data []byte, wire int, now int64) ([]byte, int, bool) {
	end := off + len(data)
	if end > maxDatagram || (more && len(data)%8 != 0) {
		r.Dropped++
		return nil, 0, false
	}
	r.expire(now)
	e := r.find(k)
	if e == nil {
		e = r.alloc(k, now)
	}
	// Reject overlaps and duplicates: drop the whole datagram.
	hi := 0
	for _, p := range e.pieces {
		if off < p.end && p.off < end {
			r.drop(e)
			r.Dropped++
			return nil, 0, false
		}
		hi = max(hi, p.end)
	}
	// A fragment past the end that the last fragment set, or a last
	// fragment ending before a fragment already held, drops it too:
	// covered counts on every piece lying inside the datagram.
	if e.total >= 0 && end > e.total || !more && hi > end {
		r.drop(e)
		r.Dropped++
		return nil, 0, false
	}
	if !more {
		if e.total >= 0 && e.total != end {
			r.drop(e)
			r.Dropped++
			return nil, 0, false
		}
		e.total = end
	}
	if end > len(e.buf) {
		grow := end - len(e.buf)
		if r.bytes+grow > r.lim.MaxBytes {
			r.drop(e)
			r.Dropped++
			return nil, 0, false
		}
		if end <= cap(e.buf) {
			e.buf = e.buf[:end]
		} else {
			nb := make([]byte, end, max(end, 2*cap(e.buf)))
			copy(nb, e.buf)
			e.buf = nb
		}
		r.bytes += grow
	}
	copy(e.buf[off:end], data)
	if len(e.pieces) >= 64 {
		r.drop(e)
		r.Dropped++
		return nil, 0, false
	}
	e.pieces = append(e.pieces, fragPiece{off, end})
	e.wire += wire
	if e.total < 0 || !covered(e.pieces, e.total) {
		return nil, 0, false
	}
	r.out = append(r.out[:0], e.buf[:e.total]...)
	w := e.wire
	r.drop(e)
	return r.out, w, true
}

func covered(ps []fragPiece, total int) bool {
	n := 0
	for _, p := range ps {
		n += p.end - p.off
	}
	return n == total // pieces never overlap, so full length means full cover
}

func (r *Reassembler) find(k fragKey) *fragEntry {
	for i := range r.entries {
		if r.entries[i].inUse && r.entries[i].key == k {
			return &r.entries[i]
		}
	}
	return nil
}

func (r *Reassembler) alloc(k fragKey, now int64) *fragEntry {
	var oldest *fragEntry
	for i := range r.entries {
		e := &r.entries[i]
		if !e.inUse {
			e.reset(k, now)
			return e
		}
		if oldest == nil || e.first < oldest.first {
			oldest = e
		}
	}
	if len(r.entries) < r.lim.MaxDatagrams {
		r.entries = append(r.entries, fragEntry{})
		e := &r.entries[len(r.entries)-1]
		e.reset(k, now)
		return e
	}
	r.Dropped += uint64(len(oldest.pieces))
	r.drop(oldest)
	oldest.reset(k, now)
	return oldest
}

func (e *fragEntry) reset(k fragKey, now int64) {
	e.key, e.first, e.total, e.wire, e.inUse = k, now, -1, 0, true
	e.buf, e.pieces = e.buf[:0], e.pieces[:0]
}

func (r *Reassembler) drop(e *fragEntry) {
	r.bytes -= len(e.buf)
	e.inUse = false
	e.buf = e.buf[:0]
	if cap(e.buf) > 1<<16 {
		e.buf = nil
	}
}

func (r *Reassembler) expire(now int64) {
	lim := int64(r.lim.Timeout)
	for i := range r.entries {
		e := &r.entries[i]
		if e.inUse && now-e.first > lim {
			r.Dropped += uint64(len(e.pieces))
			r.drop(e)
		}
	}
}

// Pending is the number of datagrams being reassembled.
func (r *Reassembler) Pending() int {
	n := 0
	for i := range r.entries {
		if r.entries[i].inUse {
			n++
		}
	}
	return n
}
