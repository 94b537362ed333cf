package detect

import (
	"hash/maphash"
	"math/bits"
)

const (
	nilIdx     = -1
	chunkShift = 12
	chunkSize  = 1 << chunkShift
	wheelSize  = 64 // a power of two: buckets are indexed with &, safe for negative times
)

// table maps flow keys to slots of a chunked slab (growing never copies a
// slot) and expires them with a lazy timer wheel: a packet only writes its
// own slot's expiry, and a slot found in a due bucket is either evicted or
// moved to the bucket of its new expiry. Memory is bounded by max.
type table[T any] struct {
	idx    index
	chunks [][]slot[T]
	n      int32 // slots handed out from the slab so far
	free   []int32
	max    int

	wheel [wheelSize][]timer
	sink  int64   // keeps the prefetching loads in advance from being removed
	kept  []timer // scratch for evictSoonest
	gran  int64   // nanoseconds per wheel bucket
	cur   int64   // last bucket processed (time / gran)
	init  bool
}

type slot[T any] struct {
	key    flowKey
	hash   uint32 // low 32 bits of the key's hash: its index tag
	gen    uint32 // odd while the slot holds a flow; bumped by add and remove
	expiry int64
	sched  int64 // wheel bucket the earliest pending timer is in
	val    T
}

// live reports whether the slot holds a flow.
func (s *slot[T]) live() bool { return s.gen&1 != 0 }

type timer struct {
	idx int32
	gen uint32
}

// newTable makes a table of at most max flows whose expiries are at most
// horizon nanoseconds ahead of the clock (later ones are re-checked).
func newTable[T any](max int, horizon int64) *table[T] {
	gran := max64(horizon/(wheelSize/2), 1e6)
	return &table[T]{idx: newIndex(), max: max, gran: gran}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func (t *table[T]) len() int { return t.idx.n }

func (t *table[T]) slot(i int32) *slot[T] { return &t.chunks[i>>chunkShift][i&(chunkSize-1)] }

// get returns the slot of k, or nilIdx.
func (t *table[T]) get(k *flowKey) int32 {
	h := t.idx.hash(k)
	for p := h & t.idx.mask; ; p = (p + 1) & t.idx.mask {
		e := t.idx.e[p]
		if e == 0 {
			return nilIdx
		}
		if uint32(e>>32) == uint32(h) {
			i := int32(uint32(e)) - 1
			if t.slot(i).key == *k {
				return i
			}
		}
	}
}

// add inserts k, which must be absent, expiring at expiry. The slot's
// value is NOT cleared (a cleared 300-byte slot is cache misses on every
// new flow): the caller resets what it reads. The caller makes room first
// when the table is full.
func (t *table[T]) add(k *flowKey, expiry int64) int32 {
	i := t.addUnscheduled(k)
	s := t.slot(i)
	s.expiry = expiry
	t.schedule(i, s)
	return i
}

// unscheduled marks a slot without a timer yet: setExpiry schedules it.
const unscheduled = 1<<63 - 1

// addUnscheduled inserts k, which must be absent, with no timer: the
// caller sets its expiry with setExpiry before the clock moves on. A new
// flow's keep time is only known once its first packet was looked at;
// scheduling it first would leave a stale early timer per flow.
func (t *table[T]) addUnscheduled(k *flowKey) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = t.n
		t.n++
		if int(i>>chunkShift) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]slot[T], chunkSize))
		}
	}
	s := t.slot(i)
	s.key, s.expiry, s.sched = *k, 0, unscheduled
	s.gen++ // odd: live
	s.hash = uint32(t.insert(k, i))
	return i
}

// index is an open-addressing hash index from flow keys to slab slots:
// linear probing, backward-shift deletion (no tombstones), each entry the
// hash's low 32 bits (which also give its home position, so deleting and
// growing never rehash) and the slot number plus one, 0 meaning empty. Keys live
// in the slab; the seed is random per process, so a crafted capture cannot
// aim collisions at it.
type index struct {
	e    []uint64
	mask uint64
	n    int
	seed uint64
}

func newIndex() index {
	// A random seed per process, drawn from maphash's source.
	var h maphash.Hash
	h.SetSeed(maphash.MakeSeed())
	return index{e: make([]uint64, minIndex), mask: minIndex - 1, seed: h.Sum64() | 1}
}

// hash mixes the key's five words with the seed (multiply-xorshift, as
// wyhash and the like): a few nanoseconds where maphash.Comparable took
// fifty.
func (x *index) hash(k *flowKey) uint64 {
	mix := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a^x.seed, b^0x9e3779b97f4a7c15)
		return hi ^ lo
	}
	h := mix(k.ahi, k.alo)
	h = mix(h^k.bhi, k.blo)
	return mix(h, uint64(k.pa)<<16|uint64(k.pb))
}

func (t *table[T]) insert(k *flowKey, i int32) uint64 {
	x := &t.idx
	if 4*(x.n+1) > 3*len(x.e) { // load at most 3/4: probes stay in a cache line or two
		t.grow()
	}
	h := x.hash(k)
	p := h & x.mask
	for x.e[p] != 0 {
		p = (p + 1) & x.mask
	}
	x.e[p] = uint64(uint32(h))<<32 | uint64(uint32(i)+1)
	x.n++
	return h
}

func (t *table[T]) grow() { t.resize(2 * len(t.idx.e)) }

// minIndex is the smallest index: 8 KiB.
const minIndex = 1024

// resize rebuilds the index with size entries (a power of two).
func (t *table[T]) resize(size int) {
	x := &t.idx
	old := x.e
	x.e = make([]uint64, size)
	x.mask = uint64(len(x.e) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		p := e >> 32 & x.mask
		for x.e[p] != 0 {
			p = (p + 1) & x.mask
		}
		x.e[p] = e
	}
}

func (t *table[T]) delete(hash uint32, i int32) {
	x := &t.idx
	want := uint64(uint32(i) + 1)
	p := uint64(hash) & x.mask
	for uint64(uint32(x.e[p])) != want {
		if x.e[p] == 0 {
			return // not present
		}
		p = (p + 1) & x.mask
	}
	// Backward-shift: pull later entries of the probe run into the hole.
	for q := (p + 1) & x.mask; x.e[q] != 0; q = (q + 1) & x.mask {
		home := x.e[q] >> 32 & x.mask
		// Move e[q] into the hole at p unless its home lies in (p, q].
		if (q-home)&x.mask >= (q-p)&x.mask {
			x.e[p] = x.e[q]
			p = q
		}
	}
	x.e[p] = 0
	x.n--
}

// setExpiry sets slot i's expiry. A later expiry costs nothing (the timer
// due first re-checks it); an earlier one adds a timer in the earlier
// bucket, so an answered flow goes at its own time, not its query's.
func (t *table[T]) setExpiry(i int32, expiry int64) {
	s := t.slot(i)
	s.expiry = expiry
	if expiry/t.gran < s.sched {
		t.schedule(i, s)
	}
}

func (t *table[T]) schedule(i int32, s *slot[T]) {
	b := s.expiry / t.gran
	if b <= t.cur {
		b = t.cur + 1
	}
	if b-t.cur >= wheelSize {
		b = t.cur + wheelSize - 1 // re-checked when due
	}
	w := &t.wheel[b&(wheelSize-1)]
	*w = append(*w, timer{i, s.gen})
	s.sched = b
}

func (t *table[T]) remove(i int32) {
	s := t.slot(i)
	t.delete(s.hash, i)
	if x := &t.idx; 8*x.n < len(x.e) && len(x.e) > minIndex {
		// Shrink after a burst (such as the start of the input, when
		// flows are kept longer): a sparse index is all cache misses.
		t.resize(len(x.e) / 2)
	}
	s.gen++ // even: free
	t.free = append(t.free, i)
}

// advance expires every slot whose expiry is before now, calling evict
// (which must remove it) for each.
//
// The first call starts the clock; call it before the first add.
func (t *table[T]) advance(now int64, evict func(int32)) {
	target := now / t.gran
	if !t.init {
		t.cur, t.init = target-1, true
		return
	}
	if target-t.cur > wheelSize {
		t.cur = target - wheelSize // every bucket gets processed once below
	}
	for t.cur < target {
		t.cur++
		w := &t.wheel[t.cur&(wheelSize-1)]
		due := *w
		*w = nil
		// Touch every due slot first: independent loads overlap their
		// cache misses, where the loop below would take them one by one.
		var sink int64
		for _, tm := range due {
			sink += t.slot(tm.idx).expiry
		}
		t.sink += sink
		for _, tm := range due {
			s := t.slot(tm.idx)
			if s.gen != tm.gen || s.sched > t.cur {
				continue // removed, recycled, or an earlier timer superseded this one
			}
			if s.expiry < now {
				evict(tm.idx)
			} else {
				t.schedule(tm.idx, s)
			}
		}
		if cap(due) <= 1<<16 && *w == nil {
			*w = due[:0] // keep the buffer
		}
	}
}

// evictSoonest removes the flow that expires soonest among those busy
// does not hold (a flow in a loop, or in a run that may become one),
// calling evict(i, false) for it. Timers are re-checked against their
// slot's expiry, which only ever moved later without moving the timer: a
// busy flow's first timer looks due long before the flow is. Such timers
// are moved to the flow's real bucket on the way.
//
// When busy holds for every flow, the busy flow that expires soonest is
// evicted with evict(i, true). It reports false when the table is empty.
//
// Timers of busy flows are kept where they are; each call walks past them
// again, so the cost grows with the number of busy flows ahead of the
// first idle one, not with the table.
func (t *table[T]) evictSoonest(busy func(*T) bool, evict func(i int32, busy bool)) bool {
	fallback, fallbackExp := int32(nilIdx), int64(0)
	for k := int64(1); k <= wheelSize; k++ {
		b := t.cur + k
		w := &t.wheel[b&(wheelSize-1)]
		due := *w
		if len(due) == 0 {
			continue
		}
		kept := t.kept[:0]
		found, j := int32(nilIdx), 0
		for ; j < len(due) && found == nilIdx; j++ {
			tm := due[j]
			s := t.slot(tm.idx)
			switch {
			case s.gen != tm.gen || s.sched != b:
				// removed, recycled, or superseded by an earlier timer
			case s.expiry/t.gran > b && k < wheelSize-1:
				t.schedule(tm.idx, s) // due later: into its real bucket
			case busy(&s.val):
				kept = append(kept, tm)
				if fallback == nilIdx || s.expiry < fallbackExp {
					fallback, fallbackExp = tm.idx, s.expiry
				}
			default:
				found = tm.idx
			}
		}
		// The timers looked at leave the front of the bucket without a
		// copy (one eviction a new flow when the table is full: a copy
		// of the rest each time was quadratic); busy ones go back at its
		// end. schedule never adds to this bucket meanwhile (k < wheelSize-1).
		*w = append(due[j:], kept...)
		t.kept = kept[:0]
		if found != nilIdx {
			evict(found, false)
			return true
		}
	}
	if fallback != nilIdx {
		evict(fallback, true)
		return true
	}
	return false
}
