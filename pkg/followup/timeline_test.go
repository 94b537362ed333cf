package followup

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestTimelineJoinIsExact: however the frames fall on shards and however
// far apart they are (the base buckets then widen and fold), the joined
// timeline is exactly the one counted directly with the chart's bucket.
func TestTimelineJoinIsExact(t *testing.T) {
	base := time.Date(2016, 2, 8, 13, 0, 0, 0, time.UTC).UnixNano()
	cases := []struct {
		name   string
		span   int64
		shards int
		// outlier adds a few frames far from the others (a clock
		// jump), before and after
		outlier int64
	}{
		{"half a second", int64(500 * time.Millisecond), 1, 0},
		{"ten minutes", int64(10 * time.Minute), 2, 0},
		{"a day on four shards", int64(24 * time.Hour), 4, 0},
		{"a clock jump of a year", int64(time.Minute), 3, int64(365 * 24 * time.Hour)},
		{"before 1970", int64(time.Hour), 2, -base - int64(time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(c.span)))
			counters := make([]*TimelineCounter, c.shards)
			for i := range counters {
				counters[i] = NewTimelineCounter([]uint16{53})
			}
			type frame struct {
				t   int64
				cat int
			}
			var frames []frame
			for range 20000 {
				frames = append(frames, frame{base + rng.Int64N(c.span), rng.IntN(NumCategories)})
			}
			if c.outlier != 0 {
				for range 5 {
					frames = append(frames, frame{base + c.outlier + rng.Int64N(int64(time.Second)), rng.IntN(NumCategories)})
				}
			}
			for _, f := range frames {
				counters[rng.IntN(c.shards)].add(f.t, f.cat, 1)
			}
			got := JoinTimelines(counters)
			first, last := frames[0].t, frames[0].t
			for _, f := range frames {
				first, last = min(first, f.t), max(last, f.t)
			}
			w := bucketFor(last - first)
			if got.Bucket != w {
				t.Fatalf("bucket %v, want %v", time.Duration(got.Bucket), time.Duration(w))
			}
			want := &Timeline{Start: floorDiv(first, w) * w, Bucket: w}
			n := int(floorDiv(last, w)-floorDiv(first, w)) + 1
			for k := range want.Counts {
				want.Counts[k] = make([]uint32, n)
			}
			for _, f := range frames {
				want.Counts[f.cat][floorDiv(f.t, w)-floorDiv(first, w)]++
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("joined timeline differs from the direct count (start %d vs %d, %d vs %d buckets)",
					got.Start, want.Start, len(got.Counts[0]), n)
			}
			if n < 1 || n > 301 {
				t.Errorf("%d buckets", n)
			}
			for _, c := range counters {
				if len(c.counts) > maxBuckets {
					t.Errorf("a counter holds %d buckets, more than %d", len(c.counts), maxBuckets)
				}
			}
		})
	}
	if JoinTimelines([]*TimelineCounter{NewTimelineCounter(nil)}) != nil {
		t.Error("a timeline of no frame")
	}
}
