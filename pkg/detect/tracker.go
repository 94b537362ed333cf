package detect

import "net/netip"

// Tracker is the flow table a detector embeds: the flows of one shard,
// keyed by their direction-free 5-tuple, each holding the detector's
// per-flow state T. It keeps a clock (the latest packet time seen),
// forgets flows once their keep time passes, and never holds more than its
// cap: a new flow then pushes out the flow that expires soonest, sparing
// flows the detector calls busy (in a loop, or in a run that may become
// one) while any other is left.
//
// The detector says what to do before a flow goes (close its loop, file
// its run) in its forget function, and how long to keep each flow with
// Keep after every packet. Nothing is allocated per packet.
type Tracker[T any] struct {
	tab     *table[T]
	max     int
	now     int64
	ticking bool // now holds a packet time (times may be negative)

	forget    func(i int32, f *T, why Eviction)
	busy      func(f *T) bool
	evictIdle func(int32)
	evictFull func(int32, bool)

	// Flows counts flow records created: a flow seen again after it was
	// forgotten counts twice.
	Flows uint64
	// EvictedIdle and EvictedFull count flows forgotten after their keep
	// time and pushed out by the cap; EvictedBusy counts the busy ones
	// among the latter (only when nothing else was left).
	EvictedIdle, EvictedFull, EvictedBusy uint64
}

// Eviction says why a flow is forgotten.
type Eviction uint8

const (
	// Idle: its keep time passed (or the input ended, in Finish).
	Idle Eviction = iota
	// Full: the table was full and this flow expired soonest.
	Full
	// FullBusy: the table was full of busy flows and this one expired
	// soonest: a loop or run in it is cut short.
	FullBusy
)

// NewTracker returns a tracker of at most limit flows (at least 1) whose keep
// times are at most horizon nanoseconds ahead of the clock (longer ones
// work, at the cost of re-checking). forget is called before a flow is
// removed; busy tells which flows to spare when the table is full.
func NewTracker[T any](limit int, horizon int64, forget func(i int32, f *T, why Eviction), busy func(f *T) bool) *Tracker[T] {
	t := &Tracker[T]{tab: newTable[T](limit, horizon), max: max(limit, 1), forget: forget, busy: busy}
	t.evictIdle = func(i int32) { t.evict(i, Idle) }
	t.evictFull = func(i int32, busy bool) {
		if busy {
			t.evict(i, FullBusy)
		} else {
			t.evict(i, Full)
		}
	}
	return t
}

// Tick moves the clock to now if it is later, forgetting every flow whose
// keep time is before it. Lookup ticks; call it directly for packets that
// look up no flow.
func (t *Tracker[T]) Tick(now int64) {
	if now > t.now || !t.ticking {
		t.now, t.ticking = now, true
		t.tab.advance(now, t.evictIdle)
	}
}

// Lookup returns the flow of p, adding it (isNew) when absent, and
// whether p's source is the flow's endpoint a. Call Keep for the flow
// after every packet, before the next Lookup: a new flow's keep time is
// keep, but its timer is only set by Keep, once its real keep time is
// known (one timer a flow, not a stale early one first). The state of a
// new flow is NOT cleared: a recycled slot holds an old flow's values, so
// the caller resets what it reads.
//
// The clock moves to p.Clock (or p.Time): the input's clock, not the
// latest time of this tracker's own flows, so that which flows expired
// when does not depend on how flows are split between trackers.
func (t *Tracker[T]) Lookup(p *Packet, keep int64) (i int32, f *T, srcIsA, isNew bool) {
	now := max(p.Time, p.Clock)
	t.Tick(now)
	key, srcIsA := p.flow()
	i = t.tab.get(key)
	if i != nilIdx && t.tab.slot(i).expiry < now {
		// Expired, but the lazy wheel has not come to it yet: a flow is
		// forgotten exactly when its keep time passed, whatever other
		// flows' packets did to the clock (so results do not depend on
		// how flows are sharded).
		t.evict(i, Idle)
		i = nilIdx
	}
	if i == nilIdx {
		if t.tab.len() >= t.max {
			t.tab.evictSoonest(t.busy, t.evictFull)
		}
		i = t.tab.addUnscheduled(key)
		t.tab.slot(i).expiry = keep
		t.Flows++
		isNew = true
	}
	return i, &t.tab.slot(i).val, srcIsA, isNew
}

// Keep sets how long flow i is kept without traffic: until the time until.
func (t *Tracker[T]) Keep(i int32, until int64) { t.tab.setExpiry(i, until) }

// State returns flow i's state.
func (t *Tracker[T]) State(i int32) *T { return &t.tab.slot(i).val }

// Endpoint returns one end of flow i: a when a is true, else b.
func (t *Tracker[T]) Endpoint(i int32, a bool) netip.AddrPort {
	k := &t.tab.slot(i).key
	return k.endpoint(a)
}

// len is Len, for tests written against the table.
func (t *Tracker[T]) len() int { return t.tab.len() }

// Len is the number of flows held.
func (t *Tracker[T]) Len() int { return t.tab.len() }

// counted is c with the tracker's own counts filled in: flows created and
// flows evicted.
func (t *Tracker[T]) counted(c Counters) Counters {
	c.Flows, c.Evicted, c.EvictedCap = t.Flows, t.EvictedIdle, t.EvictedFull
	return c
}

// Now is the clock: the latest packet time seen.
func (t *Tracker[T]) Now() int64 { return t.now }

// Close forgets every flow still held at end, the time of the end of the
// input, in slot order; those whose keep time passed before end count as
// evicted idle, exactly. Detectors call it from Finish.
func (t *Tracker[T]) Close(end int64) {
	for c := range t.tab.chunks {
		for j := range t.tab.chunks[c] {
			if s := &t.tab.chunks[c][j]; s.live() {
				if s.expiry < end {
					t.EvictedIdle++
				}
				t.forget(int32(c<<chunkShift+j), &s.val, Idle)
			}
		}
	}
}

func (t *Tracker[T]) evict(i int32, why Eviction) {
	t.forget(i, &t.tab.slot(i).val, why)
	t.tab.remove(i)
	switch why {
	case Idle:
		t.EvictedIdle++
	case FullBusy:
		t.EvictedBusy++
		t.EvictedFull++
	default:
		t.EvictedFull++
	}
}
