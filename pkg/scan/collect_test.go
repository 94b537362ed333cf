package scan

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/pongscan/pongscan/pkg/detect"
)

// coveredRef is the rule dedupe applies, as collect applied it before: l
// is dropped when a loop kept before it is on the same pair of endpoints
// and overlaps it in time.
func coveredRef(found []*detect.Loop, l *detect.Loop) bool {
	for _, f := range found {
		if overlaps(f, l) {
			return true
		}
	}
	return false
}

func dedupeRef(loops []*detect.Loop) []bool {
	keep := make([]bool, len(loops))
	var found []*detect.Loop
	for i, l := range loops {
		if !coveredRef(found, l) {
			keep[i] = true
			found = append(found, l)
		}
	}
	return keep
}

// lists are loops as detectors return them: lists in order of
// precedence, each sorted by start.
func lists(rng *rand.Rand, pairs []([2]netip.AddrPort), nLists, perList int, span int64) []*detect.Loop {
	var out []*detect.Loop
	for range nLists {
		var ls []*detect.Loop
		for range perList {
			p := pairs[rng.IntN(len(pairs))]
			if rng.IntN(2) == 0 {
				p[0], p[1] = p[1], p[0]
			}
			start := rng.Int64N(span)
			end := start + rng.Int64N(span/10+1)
			if rng.IntN(50) == 0 {
				end = start - 1 - rng.Int64N(10) // not a span: dedupe must still agree
			}
			ls = append(ls, &detect.Loop{Client: p[0], Server: p[1], Start: start, End: end})
		}
		slices.SortStableFunc(ls, func(a, b *detect.Loop) int { return cmp.Compare(a.Start, b.Start) })
		out = append(out, ls...)
	}
	return out
}

func testPairs(n int) [][2]netip.AddrPort {
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.1:53"), netip.MustParseAddrPort("198.51.100.7:22772"),
		netip.MustParseAddrPort("[::ffff:192.0.2.1]:53"), netip.MustParseAddrPort("[2001:db8::1]:53"),
		netip.MustParseAddrPort("[fe80::1%eth0]:53"), netip.MustParseAddrPort("[fe80::1%eth1]:53"), {},
	}
	var out [][2]netip.AddrPort
	for i := range n {
		out = append(out, [2]netip.AddrPort{eps[i%len(eps)], eps[(i/len(eps)+i+1)%len(eps)]})
	}
	return out
}

// TestDedupeMatchesCovered holds dedupe to checking each loop against
// every loop kept before it, on loops of a few pairs that overlap often,
// in lists of the detectors' shape.
func TestDedupeMatchesCovered(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		loops := lists(rng, testPairs(1+rng.IntN(12)), 1+rng.IntN(4), rng.IntN(60), 1+rng.Int64N(1000))
		got, want := dedupe(loops), dedupeRef(loops)
		if !slices.Equal(got, want) {
			for i := range got {
				if got[i] != want[i] {
					l := loops[i]
					t.Fatalf("loop %d (%v <-> %v, %d..%d): kept %v, want %v", i, l.Client, l.Server, l.Start, l.End, got[i], want[i])
				}
			}
		}
	}
}

// TestDedupeNotQuadratic counts dedupe's steps for n and 2n loops in the
// shapes that made collect quadratic: every loop on a pair of its own (a
// capture of many short loops), and every loop on one pair, in the lists
// of two detectors. Twice the loops must take about twice the steps, not
// four times, and at most a few times n log n.
func TestDedupeNotQuadratic(t *testing.T) {
	shapes := map[string]func(n int) []*detect.Loop{
		"pair each": func(n int) []*detect.Loop {
			var out []*detect.Loop
			for i := range n {
				c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
				out = append(out, &detect.Loop{Client: c, Server: netip.MustParseAddrPort("192.0.2.1:53"), Start: int64(i) * 200e3, End: int64(i)*200e3 + 59e6})
			}
			return out
		},
		"one pair": func(n int) []*detect.Loop {
			c, s := netip.MustParseAddrPort("198.51.100.7:53"), netip.MustParseAddrPort("192.0.2.1:53")
			var out []*detect.Loop
			// A detector's two lists (triggered loops, then those
			// without a trigger) interleaved in time, then another
			// detector's loops, each overlapping one of them.
			for k := range 3 {
				for i := range n / 3 {
					t := int64(3*i+k%2) * 10e9
					out = append(out, &detect.Loop{Client: c, Server: s, Start: t, End: t + 5e9})
				}
			}
			return out
		},
	}
	for name, shape := range shapes {
		const n = 30000
		keep1, s1 := dedupeCounted(shape(n))
		_, s2 := dedupeCounted(shape(2 * n))
		limit := 4 * n * int(math.Log2(n))
		t.Logf("%s: %d steps for %d loops, %d for %d (%.2fx)", name, s1, n, s2, 2*n, float64(s2)/float64(s1))
		if s1 > limit {
			t.Errorf("%s: %d steps for %d loops, more than %d", name, s1, n, limit)
		}
		if s2 > 5*s1/2 {
			t.Errorf("%s: %d steps for %d loops, %d for twice as many: not O(n log n)", name, s1, n, s2)
		}
		if name == "one pair" {
			kept := 0
			for _, k := range keep1 {
				if k {
					kept++
				}
			}
			if kept != 2*(n/3) {
				t.Errorf("one pair: kept %d loops, want %d", kept, 2*(n/3))
			}
		}
	}
}
