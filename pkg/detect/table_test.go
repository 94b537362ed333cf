package detect

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// The table against a map: random adds and removes, the index growing
// through a burst and shrinking after it, every key found exactly while
// it is in.
func TestTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tb := newTable[int](1<<20, int64(1e9))
	tb.advance(0, func(int32) {})
	model := map[flowKey]int32{}
	keyOf := func(n int) flowKey {
		a := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
		k, _ := makeKey(netip.AddrPortFrom(a, uint16(n)), netip.MustParseAddrPort("192.0.2.53:53"))
		return k
	}
	check := func(stage string) {
		t.Helper()
		if tb.len() != len(model) {
			t.Fatalf("%s: table holds %d, model %d", stage, tb.len(), len(model))
		}
		for k, i := range model {
			if got := tb.get(&k); got != i {
				t.Fatalf("%s: key in slot %d found at %d", stage, i, got)
			}
		}
	}
	for n := range 50000 { // the burst
		k := keyOf(n)
		model[k] = tb.add(&k, 1)
	}
	check("after the burst")
	peak := len(tb.idx.e)
	for n := range 50000 { // most leave, in random order; a few come and go
		m := rng.IntN(50000)
		k := keyOf(m)
		if i, ok := model[k]; ok && n%10 != 0 {
			tb.remove(i)
			delete(model, k)
		} else if !ok {
			model[k] = tb.add(&k, 1)
		}
	}
	check("after the churn")
	for k, i := range model {
		if len(model) <= 500 {
			break
		}
		tb.remove(i)
		delete(model, k)
	}
	check("after the burst ended")
	if len(tb.idx.e) >= peak/8 {
		t.Errorf("index of %d entries for %d flows (peak %d): it did not shrink", len(tb.idx.e), tb.len(), peak)
	}
	for n := 50000; n < 50100; n++ {
		if k := keyOf(n); tb.get(&k) != nilIdx {
			t.Fatalf("key %d never added is found", n)
		}
	}
}
