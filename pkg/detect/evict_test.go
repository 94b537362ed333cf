package detect

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The numbers: with a cap of 1,000 flows, a 6,000-packet loop
// beside 20 answered one-query flows per millisecond. Every busy packet
// of the loop used to leave its flow's first timer early, so the loop
// looked due soonest and was evicted again and again: 40 loops of 50
// packets and 4,000 packets lost. Now the flow that really expires soonest
// goes, and a flow in a loop is spared while any other is left.
func TestFlowCapKeepsLoopWhole(t *testing.T) {
	f := &feed{d: NewDNSPong(DNSPongConfig{MaxFlows: 1000})}
	f.send(0, client, server, query(t, 1, "a.example."), false)
	f.send(100*time.Microsecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
	q, a := query(t, 7, "b.example."), response(t, 7, "b.example.", dnsmessage.RCodeSuccess)
	at := time.Millisecond
	port := 0
	for n := range 6000 { // the loop: one packet every 0.5 ms, 3 s
		if n%2 == 0 {
			f.send(at, client, server, tftpError(), false)
		} else {
			f.send(at, server, client, formErr(5), false)
			// and every millisecond, 20 one-query flows answered at once
			for range 20 {
				port++
				c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(port >> 16), byte(port >> 8), byte(port)}), 40000)
				f.send(at, c, server, q, false)
				f.send(at, server, c, a, false)
			}
		}
		at += 500 * time.Microsecond
	}
	loops := f.d.Finish(f.now)
	c := f.d.Counters()
	if len(loops) != 1 {
		t.Fatalf("%d loops, want 1 (counters %+v)", len(loops), c)
	}
	if l := loops[0]; l.Packets != 6000 || l.CutByFlowCap {
		t.Errorf("loop of %d packets (cut %v), want 6000 whole", l.Packets, l.CutByFlowCap)
	}
	if c.EvictedCap == 0 {
		t.Errorf("the cap was never reached: the test does not test eviction (counters %+v)", c)
	}
	if c.CutByFlowCap != 0 {
		t.Errorf("%d loops cut, want 0", c.CutByFlowCap)
	}
}

// When nothing but busy flows is left, the table must still make room:
// the loop that expires soonest is cut, counted and marked, never split
// silently.
func TestFlowCapFullOfLoops(t *testing.T) {
	d := NewDNSPong(DNSPongConfig{MaxFlows: 1})
	f := &feed{d: d}
	other := netip.MustParseAddrPort("198.51.100.201:3333")
	f.send(0, client, server, query(t, 1, "a.example."), false)
	f.send(100*time.Microsecond, server, client, response(t, 1, "a.example.", dnsmessage.RCodeSuccess), false)
	f.pong(time.Millisecond, time.Millisecond, 30) // a loop of 30 packets, still running
	// A second flow arrives: the table of one is full of a busy flow.
	f.send(40*time.Millisecond, other, server, query(t, 2, "a.example."), false)
	loops := d.Finish(f.now)
	if len(loops) != 1 {
		t.Fatalf("%d loops, want 1", len(loops))
	}
	if l := loops[0]; !l.CutByFlowCap || l.Packets != 30 {
		t.Errorf("loop of %d packets, cut %v: want 30, cut", l.Packets, l.CutByFlowCap)
	}
	if c := d.Counters(); c.CutByFlowCap != 1 || c.EvictedCap != 1 {
		t.Errorf("cut %d, evicted at cap %d: want 1, 1", c.CutByFlowCap, c.EvictedCap)
	}
}

// evictSoonest re-checks each timer: after a busy flow moved its expiry
// later, an idle flow whose expiry is earlier goes first.
func TestEvictSoonestRechecksExpiry(t *testing.T) {
	tb := newTable[int](10, int64(64*time.Millisecond))
	tb.advance(0, func(int32) {})
	key := func(n int) flowKey {
		k, _ := makeKey(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}), 1000), server)
		return k
	}
	k1, k2 := key(1), key(2)
	busy := tb.add(&k1, int64(2*time.Millisecond)) // first timer early ...
	tb.setExpiry(busy, int64(50*time.Millisecond)) // ... then kept busy: due late
	idle := tb.add(&k2, int64(10*time.Millisecond))
	var got int32 = nilIdx
	tb.evictSoonest(func(*int) bool { return false }, func(i int32, _ bool) { got = i; tb.remove(i) })
	if got != idle {
		t.Errorf("evicted slot %d, want the idle flow %d (the busy one is %d)", got, idle, busy)
	}
}
