package benchgen

import (
	"bytes"
	"context"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/scan"
)

// flowPkt is one packet of a capture read back: its time (ns), its
// direction and whether its payload is DNS.
type flowPkt struct {
	time       int64
	fromClient bool
	dns        bool
}

// flows reads a capture back and groups its packets by client endpoint
// (the side that is not port 53 of the server).
func flows(t *testing.T, data []byte) (map[netip.AddrPort][]flowPkt, []rec) {
	t.Helper()
	recs := readAll(t, data)
	dec := decode.NewDecoder(decode.DefaultFragLimits)
	var p decode.Packet
	var info decode.DNSInfo
	out := make(map[netip.AddrPort][]flowPkt)
	for i, r := range recs {
		if k := dec.Decode(decode.LinkEthernet, r.data, len(r.data), r.time, &p); k != decode.KindUDP {
			t.Fatalf("packet %d decodes as %v", i+1, k)
		}
		fp := flowPkt{time: r.time, dns: decode.ClassifyDNS(p.Payload, p.Cut, decode.Full, &info) == decode.DNS}
		c := p.Src
		if a := p.Src.Addr(); a == ServerV4 || a == ServerV6 {
			c = p.Dst
		} else {
			fp.fromClient = true
		}
		out[c] = append(out[c], fp)
	}
	return out, recs
}

// loopPackets is a planted loop's packets from its first non-DNS one on,
// checked to alternate client, server, client...
func loopPackets(t *testing.T, fl map[netip.AddrPort][]flowPkt, l Loop) []flowPkt {
	t.Helper()
	ps := fl[l.Client]
	i := 0
	for i < len(ps) && (ps[i].time < l.First.UnixNano()/1000*1000 || ps[i].dns) {
		i++
	}
	ps = ps[i:]
	// The background may use the port again after the loop.
	for j, p := range ps {
		if p.time > l.Last.UnixNano() {
			ps = ps[:j]
			break
		}
	}
	if len(ps) != l.Packets {
		t.Fatalf("loop %s: %d packets from its first non-DNS one, stats say %d", l.Client, len(ps), l.Packets)
	}
	for j, p := range ps {
		if p.fromClient != (j%2 == 0) {
			t.Fatalf("loop %s: packet %d of the loop comes from the wrong side", l.Client, j+1)
		}
	}
	return ps
}

// rate is packets per second from the first packet to the last.
func rate(ps []flowPkt) float64 {
	return float64(len(ps)-1) / (float64(ps[len(ps)-1].time-ps[0].time) / 1e9)
}

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

// TestLoopInterval measures planted loops' rates from the written records.
func TestLoopInterval(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		pps      float64
		packets  int
	}{
		{66667 * time.Nanosecond, 30000, 60000},
		{time.Millisecond, 2000, 4000},
		{10 * time.Millisecond, 200, 400},
	} {
		cfg := Config{Packets: 150000, Seed: 2, QPS: 4000, Clients: 1000, Loops: 2,
			LoopPackets: c.packets, LoopInterval: c.interval, LoopShare: 0.8}
		data, st := write(t, cfg)
		fl, _ := flows(t, data)
		if len(st.Loops) != 2 {
			t.Fatalf("%v: %d loops planted, want 2", c.interval, len(st.Loops))
		}
		for _, l := range st.Loops {
			ps := loopPackets(t, fl, l)
			if l.Packets != c.packets {
				t.Errorf("%v: loop of %d packets, want %d", c.interval, l.Packets, c.packets)
			}
			t.Logf("%v: %.1f packets/s", c.interval, rate(ps))
			if r := rate(ps); !within(r, c.pps, 0.01) {
				t.Errorf("%v: loop runs at %.0f packets/s, want %.0f within 1%%", c.interval, r, c.pps)
			}
			// The server replies within the round trip, client to server
			// 8-20% of it (±1% jitter).
			for j := 1; j < len(ps); j += 2 {
				d := float64(ps[j].time - ps[j-1].time)
				if d < 0.06*float64(c.interval)-1000 || d > 0.22*float64(c.interval)+1000 {
					t.Fatalf("%v: reply %v after the client's packet", c.interval, time.Duration(d))
				}
			}
		}
	}
}

// TestLoopEvery checks the triggers' spacing and that the loops fit.
func TestLoopEvery(t *testing.T) {
	every := 5 * time.Second
	cfg := Config{Packets: 400000, Seed: 3, QPS: 4000, Clients: 2000, LoopPackets: 600, LoopEvery: every}
	data, st := write(t, cfg)
	dur := st.End.Sub(st.Start)
	// About 50 s of capture: loops at 5, 10, ... 45 s (the last ends by
	// 97% of it).
	want := int((0.97*float64(dur)-0.1*float64(dur)-float64(time.Second))/float64(every)) + 1
	if len(st.Loops) < want || len(st.Loops) > want+1 || st.Planted != len(st.Loops) {
		t.Fatalf("%d loops planted in %v, want %d", len(st.Loops), dur, want)
	}
	fl, _ := flows(t, data)
	var triggers []int64
	for i, l := range st.Loops {
		ps := fl[l.Client]
		if len(ps) == 0 || !ps[0].fromClient || !ps[0].dns {
			t.Fatalf("loop %d: no trigger query first", i+1)
		}
		triggers = append(triggers, ps[0].time)
		loopPackets(t, fl, l)
		if l.Packets != 600 || !l.Last.Before(st.End) {
			t.Errorf("loop %d: %d packets, last %v, capture ends %v", i+1, l.Packets, l.Last, st.End)
		}
	}
	if at := time.Duration(triggers[0] - st.Start.UnixNano()); !within(float64(at), 0.1*float64(dur), 0.02) {
		t.Errorf("first trigger %v into a %v capture, want 10%%", at, dur)
	}
	for i := 1; i < len(triggers); i++ {
		if d := time.Duration(triggers[i] - triggers[i-1]); d < every-time.Microsecond || d > every+time.Microsecond {
			t.Errorf("triggers %d and %d %v apart, want %v", i, i+1, d, every)
		}
	}
	// Loops bounds them.
	cfg.Loops = 3
	if _, st := write(t, cfg); len(st.Loops) != 3 {
		t.Errorf("Loops 3 with LoopEvery: %d planted", len(st.Loops))
	}
	// A LoopEvery longer than the capture plants the first only.
	cfg.Loops, cfg.LoopEvery = 0, time.Hour
	if _, st := write(t, cfg); len(st.Loops) != 1 {
		t.Errorf("LoopEvery 1h in a 50 s capture: %d planted, want 1", len(st.Loops))
	}
	if testing.Short() {
		return
	}
	// pongscan finds exactly these loops.
	path := filepath.Join(t.TempDir(), "every.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	checkFound(t, path, st.Loops)
}

func checkFound(t *testing.T, path string, planted []Loop) {
	t.Helper()
	res := scan.Run(context.Background(), []scan.Input{scan.File(path)},
		scan.Options{Detectors: []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}, Frag: decode.DefaultFragLimits})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	got := res.Report.Loops
	if len(got) != len(planted) {
		t.Fatalf("pongscan found %d loops, %d planted", len(got), len(planted))
	}
	for i, l := range planted {
		g := got[i]
		client := netip.AddrPortFrom(netip.MustParseAddr(g.Client.IP), g.Client.Port)
		if client != l.Client || g.Packets != uint64(l.Packets) {
			t.Errorf("loop %d: found %s with %d packets, planted %s with %d", i+1, client, g.Packets, l.Client, l.Packets)
		}
	}
}

// TestLoopShare checks that loops may take most of the capture, within
// the share, and that the old caps hold without it.
func TestLoopShare(t *testing.T) {
	// The seed's incident scaled down: 8,000 packets/s of background and a
	// loop at 30,000 packets/s that asks for more than fits.
	cfg := Config{Packets: 500000, Seed: 4, QPS: 4000, Clients: 2000, Loops: 1,
		LoopPackets: 1 << 30, LoopInterval: 66667 * time.Nanosecond, LoopShare: 0.9}
	data, st := write(t, cfg)
	dur := st.End.Sub(st.Start)
	l := st.Loops[0]
	if share := float64(l.Packets) / float64(cfg.Packets); share < 0.75 || share > 0.9 {
		t.Errorf("the loop took %.1f%% of the packets, want 75-90%%", 100*share)
	}
	if ran := l.Last.Sub(l.First); ran < dur*9/10 || !l.Last.Before(st.End) {
		t.Errorf("the loop ran %v of the %v capture, until %v (end %v); want over 90%%", ran, dur, l.Last, st.End)
	}
	fl, _ := flows(t, data)
	if r := rate(loopPackets(t, fl, l)); !within(r, 30000, 0.01) {
		t.Errorf("the loop runs at %.0f packets/s, want 30000", r)
	}
	// The estimate counts the loop: the capture lasts what its background
	// says (2 packets a query, 0.5% unanswered).
	bg := float64(cfg.Packets-l.Packets-2) / (4000 * 1.995)
	if !within(dur.Seconds(), bg, 0.02) {
		t.Errorf("capture of %v, its background alone says %.1f s", dur, bg)
	}
	// The share binds: 4 loops share 40%.
	cfg.Loops, cfg.LoopShare = 4, 0.4
	_, st = write(t, cfg)
	total := 0
	for _, l := range st.Loops {
		total += l.Packets
		if l.Packets > cfg.Packets/10 {
			t.Errorf("a loop of %d packets, more than its tenth", l.Packets)
		}
	}
	if total > cfg.Packets*4/10 || total < cfg.Packets*35/100 || st.LoopPackets != total {
		t.Errorf("loops took %d of %d packets (stats %d), want 35-40%%", total, cfg.Packets, st.LoopPackets)
	}
	// Without a share, the old caps: a loop at most 35% of the capture's
	// duration, all together at most a quarter of the packets.
	cfg.LoopShare = 0
	_, st = write(t, cfg)
	dur = st.End.Sub(st.Start)
	total = 0
	for _, l := range st.Loops {
		total += l.Packets
		if ran := l.Last.Sub(l.First); ran > dur*36/100 {
			t.Errorf("without a share a loop ran %v of %v", ran, dur)
		}
	}
	if total > cfg.Packets/4 {
		t.Errorf("without a share the loops took %d of %d packets", total, cfg.Packets)
	}
}

// TestManyLoops checks the many-loop capture: every loop on its own
// 5-tuple, trigger and answer then the loop's packets, the packets
// counted, a bounded number in flight, and the same bytes for one seed.
func TestManyLoops(t *testing.T) {
	m := ManyLoops{Loops: 3000, Seed: 5, InFlight: 50}
	var buf bytes.Buffer
	st, err := WriteManyLoops(&buf, m)
	if err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if st.Packets != 3000*62 || st.Planted != 3000 || st.LoopPackets != 3000*60 || len(st.Loops) != manyListed {
		t.Fatalf("stats: %d packets, %d loops planted (%d loop packets), %d listed", st.Packets, st.Planted, st.LoopPackets, len(st.Loops))
	}
	fl, recs := flows(t, data)
	if len(recs) != st.Packets {
		t.Fatalf("read %d packets, stats say %d", len(recs), st.Packets)
	}
	if len(fl) != 3000 {
		t.Fatalf("%d client endpoints, want 3000", len(fl))
	}
	addrs := make(map[netip.Addr]bool)
	type span struct{ a, b int64 }
	var spans []span
	v6 := 0
	for c, ps := range fl {
		addrs[c.Addr()] = true
		if c.Addr().Is6() {
			v6++
		}
		if len(ps) != 62 || !ps[0].fromClient || !ps[0].dns || ps[1].fromClient || !ps[1].dns {
			t.Fatalf("%s: %d packets, not trigger query and answer first", c, len(ps))
		}
		for j, p := range ps[2:] {
			if p.dns != !p.fromClient || p.fromClient != (j%2 == 0) {
				t.Fatalf("%s: loop packet %d out of shape", c, j+1)
			}
		}
		if r := rate(ps[2:]); r < 1300 || r > 2000 {
			t.Errorf("%s: loop at %.0f packets/s, want 1-1.5 ms round trips", c, r)
		}
		spans = append(spans, span{ps[0].time, ps[len(ps)-1].time})
	}
	if len(addrs) != 3000 {
		t.Errorf("%d client addresses for 3000 loops", len(addrs))
	}
	if v6 < 200 || v6 > 400 || st.IPv6Clients != v6 {
		t.Errorf("%d IPv6 loops (stats %d), want about 300", v6, st.IPv6Clients)
	}
	// At most InFlight loops between a trigger and a last packet at once.
	for _, s := range spans {
		n := 0
		for _, o := range spans {
			if o.a <= s.a && s.a <= o.b {
				n++
			}
		}
		if n > m.InFlight {
			t.Fatalf("%d loops in flight at once, want at most %d", n, m.InFlight)
		}
	}
	if st.MaxPending > 2*m.InFlight {
		t.Errorf("%d packets pending at once", st.MaxPending)
	}
	// About Loops/InFlight loop times: 60 loops a slot of about 38 ms
	// plus a 10 ms pause on average.
	if d := st.End.Sub(st.Start); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("capture of %v, want about 3 s", d)
	}
	var again bytes.Buffer
	if _, err := WriteManyLoops(&again, m); err != nil || !bytes.Equal(data, again.Bytes()) {
		t.Error("two runs with one seed wrote different bytes")
	}
	if testing.Short() {
		return
	}
	path := filepath.Join(t.TempDir(), "many.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := scan.Run(context.Background(), []scan.Input{scan.File(path)},
		scan.Options{Detectors: []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}, Frag: decode.DefaultFragLimits})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	if got := len(res.Report.Loops); got != 3000 {
		t.Fatalf("pongscan found %d loops, 3000 planted", got)
	}
	for _, l := range res.Report.Loops {
		if l.Packets != 60 {
			t.Fatalf("pongscan found a loop of %d packets, want 60", l.Packets)
		}
	}
}

// TestLoopClients puts every loop on the busiest client, and keeps the
// background's queries off the loops' ports while they run.
func TestLoopClients(t *testing.T) {
	cfg := Config{Packets: 300000, Seed: 6, QPS: 4000, Clients: 2000, LoopClients: 1, LoopEvery: 4 * time.Second, LoopPackets: 2000}
	data, st := write(t, cfg)
	if len(st.Loops) < 6 {
		t.Fatalf("%d loops planted", len(st.Loops))
	}
	fl, _ := flows(t, data)
	busiest := make(map[netip.Addr]int)
	for c, ps := range fl {
		busiest[c.Addr()] += len(ps)
	}
	var top netip.Addr
	for a, n := range busiest {
		if n > busiest[top] {
			top = a
		}
	}
	for i, l := range st.Loops {
		if l.Client.Addr() != top {
			t.Errorf("loop %d on %s, the busiest client is %s", i+1, l.Client.Addr(), top)
		}
		n := 0
		for _, p := range fl[l.Client] {
			if p.time >= l.Trigger.UnixNano()/1000*1000 && p.time <= l.Last.UnixNano() {
				n++
			}
		}
		if n != l.Packets+2 {
			t.Errorf("loop %d: %d packets on its 5-tuple from its trigger to its end, want %d", i+1, n, l.Packets+2)
		}
	}
	// A client busy enough that, unguarded, its queries would land on the
	// loops' ports: 3 loops of 9-13 s against 8,700 queries/s from random
	// ports would meet about 4 times.
	hot := Config{Packets: 600000, Seed: 6, QPS: 20000, Clients: 3, Loops: 3, LoopClients: 1, LoopPackets: 20000, LoopShare: 0.5}
	hd, hst := write(t, hot)
	hfl, _ := flows(t, hd)
	for i, l := range hst.Loops {
		n := 0
		for _, p := range hfl[l.Client] {
			if p.time >= l.Trigger.UnixNano()/1000*1000 && p.time <= l.Last.UnixNano() {
				n++
			}
		}
		if n != l.Packets+2 {
			t.Errorf("busy client, loop %d of %d packets: %d packets on its 5-tuple from its trigger to its end", i+1, l.Packets, n)
		}
	}
	// The busiest client sends many of the queries: several percent.
	if share := float64(busiest[top]) / float64(st.Packets); share < 0.04 {
		t.Errorf("the busiest client has %.1f%% of the packets", 100*share)
	}
	if testing.Short() {
		return
	}
	path := filepath.Join(t.TempDir(), "clients.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	checkFound(t, path, st.Loops)
}
