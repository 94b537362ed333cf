package followup

import (
	"sync"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/scan"
)

// The capture timeline of the HTML report: packets per bucket of time, by
// category, over the whole capture. It is counted in the scan itself (an
// observer on each shard), not in a second read: every frame is decoded
// there anyway.
//
// Its memory is fixed: each shard counts into at most maxBuckets buckets
// of a base width, 1 ms to start, aligned on multiples of the width since
// the epoch; when the capture spans more, the width grows tenfold and the
// buckets are folded. The chart's buckets (1, 2 or 5 times a power of ten,
// 100 to 300 of them) are then exact sums of the base buckets: a chart
// bucket is at least 27 base widths whenever the width had to grow.

// Timeline counts the whole capture's packets per bucket and category.
type Timeline struct {
	Start, Bucket int64 // nanoseconds; Start is a multiple of Bucket
	Counts        [NumCategories][]uint32
}

// Categories of the capture timeline.
const (
	Queries = iota
	NoError
	NXDomain
	FormErr
	ServFail
	Refused
	OtherRCode
	NonDNS // UDP on a DNS port whose payload is not DNS
	Other  // everything else
	NumCategories
)

// CategoryNames name the timeline's categories.
var CategoryNames = [NumCategories]string{"DNS queries", "answers NOERROR", "answers NXDOMAIN", "answers FORMERR",
	"answers SERVFAIL", "answers REFUSED", "answers, other rcodes", "non-DNS on DNS ports", "other packets"}

// maxBuckets bounds a counter's base buckets.
const maxBuckets = 4096

// TimelineCounter counts one shard's frames (a scan.Observer). Make one
// per shard with NewTimelineCounter and join them with JoinTimelines.
type TimelineCounter struct {
	dnsPort     [1024]uint64 // bitmap of DNS ports
	width       int64        // base bucket width, ns: 1 ms times a power of ten
	base        int64        // bucket index (time / width) of counts[0]
	counts      [][NumCategories]uint32
	first, last int64
	seen        bool
	info        decode.DNSInfo
}

// NewTimelineCounter counts frames, judging UDP datagrams on dnsPorts as
// DNS.
func NewTimelineCounter(dnsPorts []uint16) *TimelineCounter {
	c := &TimelineCounter{width: 1e6}
	for _, p := range dnsPorts {
		c.dnsPort[p/64] |= 1 << (p % 64)
	}
	return c
}

func (c *TimelineCounter) isDNS(p uint16) bool { return c.dnsPort[p/64]&(1<<(p%64)) != 0 }

// Frame implements scan.Observer.
func (c *TimelineCounter) Frame(f *scan.Frame) {
	cat := Other
	if p := f.Packet; f.Kind == decode.KindUDP && (c.isDNS(p.Src.Port()) || c.isDNS(p.Dst.Port())) {
		info := &c.info
		switch decode.ClassifyDNS(p.Payload, p.Cut, decode.HeaderQuestion, info) {
		case decode.DNS:
			switch {
			case !info.Response:
				cat = Queries
			case info.RCode == 0:
				cat = NoError
			case info.RCode == 3:
				cat = NXDomain
			case info.RCode == 1:
				cat = FormErr
			case info.RCode == 2:
				cat = ServFail
			case info.RCode == 5:
				cat = Refused
			default:
				cat = OtherRCode
			}
		case decode.NotDNS:
			cat = NonDNS
		}
	}
	c.add(f.Time, cat, 1)
}

func (c *TimelineCounter) add(t int64, cat int, n uint32) {
	if !c.seen {
		c.first, c.last, c.seen = t, t, true
		c.base = floorDiv(t, c.width)
	}
	c.first, c.last = min(c.first, t), max(c.last, t)
	i := floorDiv(t, c.width)
	for !c.fits(i) {
		c.coarsen()
		i = floorDiv(t, c.width)
	}
	if i < c.base {
		grow := int(c.base - i)
		c.counts = append(make([][NumCategories]uint32, grow, grow+len(c.counts)), c.counts...)
		c.base = i
	}
	for int(i-c.base) >= len(c.counts) {
		c.counts = append(c.counts, [NumCategories]uint32{})
	}
	c.counts[i-c.base][cat] += n
}

// fits reports whether bucket i can be counted without passing
// maxBuckets.
func (c *TimelineCounter) fits(i int64) bool {
	lo, hi := min(c.base, i), max(c.base+int64(len(c.counts))-1, i)
	return hi-lo < maxBuckets
}

// coarsen makes the buckets ten times wider.
func (c *TimelineCounter) coarsen() {
	nb := floorDiv(c.base, 10)
	var out [][NumCategories]uint32
	for j := range c.counts {
		k := int(floorDiv(c.base+int64(j), 10) - nb)
		for len(out) <= k {
			out = append(out, [NumCategories]uint32{})
		}
		for cat, n := range c.counts[j] {
			out[k][cat] += n
		}
	}
	c.width *= 10
	c.base, c.counts = nb, out
}

// JoinTimelines adds the counters up (the shards of every stream) into
// the chart's timeline: 100 to 300 buckets of 1, 2 or 5 times a power of
// ten (at least a millisecond) over the frames' span. It returns nil when
// no frame was counted.
func JoinTimelines(cs []*TimelineCounter) *Timeline {
	var all TimelineCounter
	all.width = 1e6
	for _, c := range cs {
		if c == nil || !c.seen {
			continue
		}
		for all.width < c.width {
			all.coarsen()
		}
		for j, cats := range c.counts {
			t := (c.base + int64(j)) * c.width
			for cat, n := range cats {
				if n > 0 {
					all.add(t, cat, n)
				}
			}
		}
		all.first, all.last = min(all.first, c.first), max(all.last, c.last)
	}
	if !all.seen {
		return nil
	}
	w := max(bucketFor(all.last-all.first), all.width)
	start := floorDiv(all.first, w)
	tl := &Timeline{Start: start * w, Bucket: w}
	n := int(floorDiv(all.last, w)-start) + 1
	for k := range tl.Counts {
		tl.Counts[k] = make([]uint32, n)
	}
	for j, cats := range all.counts {
		b := int(floorDiv((all.base+int64(j))*all.width, w) - start)
		if b < 0 || b >= n {
			continue
		}
		for cat, v := range cats {
			tl.Counts[cat][b] += v
		}
	}
	return tl
}

// bucketFor picks a bucket width giving 100 to 300 buckets over span:
// 1, 2 or 5 times a power of ten, at least a millisecond.
func bucketFor(span int64) int64 {
	target := max(span/150, 1)
	for b := int64(1e6); ; b *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if b*m >= target {
				return b * m
			}
			if b > 1e17 {
				return b
			}
		}
	}
}

// floorDiv is a/b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// TimelineObserver makes the scan's per-shard observers that count the
// capture timeline (for scan.Options.Observe), and joins their counts once
// the scan is done.
type TimelineObserver struct {
	dnsPorts []uint16
	mu       sync.Mutex
	counters []*TimelineCounter
}

// NewTimelineObserver counts with dnsPorts as the DNS ports.
func NewTimelineObserver(dnsPorts []uint16) *TimelineObserver {
	return &TimelineObserver{dnsPorts: dnsPorts}
}

// Observe implements scan.Options.Observe.
func (o *TimelineObserver) Observe(scan.ObserveInfo) scan.Observer {
	c := NewTimelineCounter(o.dnsPorts)
	o.mu.Lock()
	o.counters = append(o.counters, c)
	o.mu.Unlock()
	return c
}

// Timeline joins the counts of every shard of every stream.
func (o *TimelineObserver) Timeline() *Timeline {
	o.mu.Lock()
	defer o.mu.Unlock()
	return JoinTimelines(o.counters)
}
