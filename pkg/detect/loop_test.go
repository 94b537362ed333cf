package detect

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// TestSortByStart holds sortByStart to sort.SliceStable, which it
// replaced: equal starts keep their order.
func TestSortByStart(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := rng.IntN(40)
		ls := make([]Loop, n)
		for i := range ls {
			ls[i].Start = int64(rng.IntN(10))
			ls[i].Packets = uint64(i) // identifies the loop
			ls[i].QName = string(rune('a' + i%26))
		}
		if rng.IntN(4) == 0 {
			sort.SliceStable(ls, func(i, j int) bool { return ls[i].Start < ls[j].Start })
		}
		want := append([]Loop{}, ls...)
		sort.SliceStable(want, func(i, j int) bool { return want[i].Start < want[j].Start })
		sortByStart(ls)
		if !reflect.DeepEqual(ls, want) {
			t.Fatalf("sortByStart: got %v, want %v", order(ls), order(want))
		}
	}
}

func order(ls []Loop) []uint64 {
	var o []uint64
	for _, l := range ls {
		o = append(o, l.Packets)
	}
	return o
}

// TestLoopList checks that the chunked list gives back every loop pushed,
// in order, and empties.
func TestLoopList(t *testing.T) {
	var s loopList
	for n := range 1500 {
		l := Loop{Packets: uint64(n)}
		s.push(&l)
	}
	if s.len() != 1500 {
		t.Fatalf("len %d", s.len())
	}
	out := s.appendTo([]Loop{{Packets: 9999}})
	if len(out) != 1501 || out[0].Packets != 9999 {
		t.Fatalf("appendTo: %d loops", len(out))
	}
	for i, l := range out[1:] {
		if l.Packets != uint64(i) {
			t.Fatalf("loop %d is %d", i, l.Packets)
		}
	}
	if s.len() != 0 || len(s.appendTo(nil)) != 0 {
		t.Fatal("not emptied")
	}
}
