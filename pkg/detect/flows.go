package detect

import "net/netip"

// flowKey is a direction-independent UDP 5-tuple: the two endpoints in a
// fixed order. It holds no pointers, so a map of them costs the garbage
// collector nothing.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
}

// makeKey orders the endpoints and reports whether src is endpoint a.
func makeKey(src, dst netip.AddrPort) (flowKey, bool) {
	s, d := src.Addr().As16(), dst.Addr().As16()
	sp, dp := src.Port(), dst.Port()
	if less(s, sp, d, dp) {
		return flowKey{a: s, b: d, pa: sp, pb: dp}, true
	}
	return flowKey{a: d, b: s, pa: dp, pb: sp}, false
}

func less(a [16]byte, pa uint16, b [16]byte, pb uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return pa < pb
}

const nilIdx = -1

// table is a map from flow key to a slot in a slab, with the slots kept on a
// list in order of last use, so idle flows are evicted from the front in
// O(1) and the table never exceeds its cap.
type table[T any] struct {
	idx        map[flowKey]int32
	slots      []slot[T]
	free       []int32
	head, tail int32 // least and most recently used
	max        int
}

type slot[T any] struct {
	key        flowKey
	last       int64
	prev, next int32
	val        T
}

func newTable[T any](max int) *table[T] {
	return &table[T]{idx: make(map[flowKey]int32), head: nilIdx, tail: nilIdx, max: max}
}

func (t *table[T]) len() int { return len(t.idx) }

// get returns the slot of k, or nilIdx.
func (t *table[T]) get(k flowKey) int32 {
	if i, ok := t.idx[k]; ok {
		return i
	}
	return nilIdx
}

// add inserts k, which must be absent, and returns its slot. The caller
// makes room first when the table is full.
func (t *table[T]) add(k flowKey, now int64) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.slots = append(t.slots, slot[T]{})
		i = int32(len(t.slots) - 1)
	}
	s := &t.slots[i]
	var zero T
	s.key, s.last, s.val = k, now, zero
	t.idx[k] = i
	t.pushBack(i)
	return i
}

// touch marks slot i used at now.
func (t *table[T]) touch(i int32, now int64) {
	s := &t.slots[i]
	if now > s.last {
		s.last = now
	}
	if t.tail == i {
		return
	}
	t.unlink(i)
	t.pushBack(i)
}

// oldest is the least recently used slot, or nilIdx.
func (t *table[T]) oldest() int32 { return t.head }

func (t *table[T]) remove(i int32) {
	t.unlink(i)
	delete(t.idx, t.slots[i].key)
	var zero T
	t.slots[i].val = zero
	t.free = append(t.free, i)
}

func (t *table[T]) unlink(i int32) {
	s := &t.slots[i]
	if s.prev != nilIdx {
		t.slots[s.prev].next = s.next
	} else {
		t.head = s.next
	}
	if s.next != nilIdx {
		t.slots[s.next].prev = s.prev
	} else {
		t.tail = s.prev
	}
	s.prev, s.next = nilIdx, nilIdx
}

func (t *table[T]) pushBack(i int32) {
	s := &t.slots[i]
	s.prev, s.next = t.tail, nilIdx
	if t.tail != nilIdx {
		t.slots[t.tail].next = i
	} else {
		t.head = i
	}
	t.tail = i
}
