package rrl

// maxEntries caps every limiter's table (see the package doc): below
// each server's own default (BIND max-table-size 20,000, NSD rrl-size
// 1,000,000, Knot table-size 524,288), small enough for a replay per loop.
const maxEntries = 16384

// minEntries is the least a table holds whatever its cap: Knot touches
// five entries for one response and must not evict one of them while
// touching the next.
const minEntries = 8

// table is a limiter's state: values of V by key K, at most max of them
// (maxEntries when 0), the least recently used evicted when a new key
// comes to a full table. Entries live in a slab that grows on demand;
// index maps a key to its slot, and prev/next chain the slots from the
// most recently used (head) to the least (tail). K and V hold no
// pointers, so neither the slab nor the map is scanned by the garbage
// collector; once the slab is at its cap, get allocates nothing.
//
// Each eviction deletes a key from the map and inserts another. Go's map
// leaves a tombstone where a deleted key shared a full group, and grows
// when they pile up: under steady eviction a map of 16,384 keys grew to
// four times its size (6.3 MB, measured with Go 1.26). So once the
// table has evicted as many entries as it holds, index is cleared, which
// keeps its memory and drops the tombstones, and refilled from the slab:
// one more insert per eviction, and the map stays at its first size.
type table[K comparable, V any] struct {
	index      map[K]int32
	slots      []slot[K, V]
	head, tail int32
	max        int
	evictions  int // since index was last rebuilt
}

type slot[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32 // towards head and tail; -1 at the ends
}

func (t *table[K, V]) limit() int {
	if t.max <= 0 {
		return maxEntries
	}
	return max(t.max, minEntries)
}

// len is the number of entries held.
func (t *table[K, V]) len() int { return len(t.slots) }

// get returns the slot of k's entry, making it the most recently used,
// and whether it is fresh (its value zero): k was never seen, or was
// evicted since. The slot's index stays valid until k is evicted, the
// value's address (val) until the next get. hint is the slot k had
// last, or -1: a slot that still holds k spares the map lookup (a loop
// asks for the same keys, response after response).
func (t *table[K, V]) get(k K, hint int32) (i int32, fresh bool) {
	if hint >= 0 && int(hint) < len(t.slots) && t.slots[hint].key == k {
		t.touch(hint)
		return hint, false
	}
	if i, ok := t.index[k]; ok {
		t.touch(i)
		return i, false
	}
	if t.index == nil {
		t.index = make(map[K]int32)
		t.head, t.tail = -1, -1
	}
	if len(t.slots) < t.limit() {
		if len(t.slots) == cap(t.slots) {
			grown := make([]slot[K, V], len(t.slots), min(max(2*cap(t.slots), 16), t.limit()))
			copy(grown, t.slots)
			t.slots = grown
		}
		i = int32(len(t.slots))
		t.slots = append(t.slots, slot[K, V]{key: k, prev: -1, next: -1})
		t.pushFront(i)
	} else {
		// Evict the least recently used: the key starts afresh when it
		// comes back.
		i = t.tail
		s := &t.slots[i]
		delete(t.index, s.key)
		var zero V
		s.key, s.val = k, zero
		t.touch(i)
		if t.evictions++; t.evictions >= len(t.slots) {
			t.rebuild()
		}
	}
	t.index[k] = i
	return i, true
}

// rebuild clears index and fills it again from the slab.
func (t *table[K, V]) rebuild() {
	clear(t.index)
	for i := range t.slots {
		t.index[t.slots[i].key] = int32(i)
	}
	t.evictions = 0
}

// val is the value in slot i.
func (t *table[K, V]) val(i int32) *V { return &t.slots[i].val }

// touch makes slot i the most recently used.
func (t *table[K, V]) touch(i int32) {
	if t.head == i {
		return
	}
	s := &t.slots[i]
	// Unlink: i is not the head, so it has a prev.
	t.slots[s.prev].next = s.next
	if s.next >= 0 {
		t.slots[s.next].prev = s.prev
	} else {
		t.tail = s.prev
	}
	t.pushFront(i)
}

func (t *table[K, V]) pushFront(i int32) {
	s := &t.slots[i]
	s.prev, s.next = -1, t.head
	if t.head >= 0 {
		t.slots[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

// reset empties the table, keeping its memory for the next keys.
func (t *table[K, V]) reset() {
	clear(t.index)
	t.slots = t.slots[:0]
	t.head, t.tail, t.evictions = -1, -1, 0
}
