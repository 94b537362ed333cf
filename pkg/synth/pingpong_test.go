package synth

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestDelaySample(t *testing.T) {
	r := testRand()
	d := Delay{Base: time.Millisecond, Jitter: 500 * time.Microsecond}
	for range 1000 {
		if v := d.Sample(r); v < time.Millisecond || v >= 1500*time.Microsecond {
			t.Fatalf("delay %v out of [1ms, 1.5ms)", v)
		}
	}
	if v := (Delay{}).Sample(r); v != 100*time.Microsecond {
		t.Errorf("zero delay %v, want 100µs", v)
	}
	tail := Delay{Base: time.Millisecond, TailProb: 1, TailScale: time.Millisecond, TailMax: 20 * time.Millisecond}
	var big int
	for range 1000 {
		v := tail.Sample(r)
		if v < time.Millisecond || v > 21*time.Millisecond {
			t.Fatalf("tail delay %v", v)
		}
		if v > 5*time.Millisecond {
			big++
		}
	}
	if big == 0 {
		t.Error("no outlier above 5ms in 1000 heavy-tailed draws")
	}
}

var (
	ppA = netip.MustParseAddrPort("192.0.2.7:7")
	ppB = netip.MustParseAddrPort("198.51.100.19:19")
)

func TestPingPong(t *testing.T) {
	s := NewScenario(5, Link{Type: LinkEthernet})
	id, err := s.AddPingPong(PingPong{
		Kind:  "echo-chargen",
		A:     Side{Addr: ppA, Responder: Echo(), Delay: Delay{Base: 50 * time.Microsecond}, TTL: 64},
		B:     Side{Addr: ppB, Responder: Chargen(1), Delay: Delay{Base: time.Millisecond, Jitter: 100 * time.Microsecond}, TTL: 53},
		First: []byte("\n"), SpoofTTL: 47, Start: testT0, Packets: 9,
	})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 9 {
		t.Fatalf("%d frames, want 9", len(frames))
	}
	for i, f := range frames {
		wantSrc, wantRole, wantTTL := ppA, RoleLoopClient, uint8(64)
		if i%2 == 1 {
			wantSrc, wantRole, wantTTL = ppB, RoleLoopServer, 53
		}
		if i == 0 {
			wantTTL = 47
		}
		if f.Src != wantSrc || f.Role != wantRole || f.TTL != wantTTL || f.Loop != id || f.Spoofed != (i == 0) {
			t.Errorf("frame %d: %v role %v ttl %d spoofed %v", i+1, f.Src, f.Role, f.TTL, f.Spoofed)
		}
		if i > 0 && !f.Time.After(frames[i-1].Time) {
			t.Errorf("frame %d not after frame %d", i+1, i)
		}
		udp := decodeUDP(t, LinkEthernet, f.Data)
		switch {
		case i == 0:
			if string(udp.Payload) != "\n" {
				t.Errorf("first payload %q", udp.Payload)
			}
		case i%2 == 1:
			if !bytes.Equal(udp.Payload, ChargenLine(i/2)) {
				t.Errorf("frame %d: chargen sent %q", i+1, udp.Payload)
			}
		default:
			if !bytes.Equal(udp.Payload, ChargenLine(i/2-1)) {
				t.Errorf("frame %d: echo sent %q", i+1, udp.Payload)
			}
		}
	}
	ft, err := s.FlowTruth([]File{{Name: "x.pcap", Frames: frames}}, id, "L1")
	if err != nil {
		t.Fatal(err)
	}
	if ft.Packets != 9 || ft.ClientPackets != 5 || ft.ServerPackets != 4 || ft.Frames.First.Frame != 1 || ft.Frames.Last.Frame != 9 ||
		!ft.SpoofedFirst || ft.FirstTTL != 47 || ft.ClientTTL != 64 || ft.ServerTTL != 53 || ft.FirstFrom != "client" ||
		!ft.OngoingAtEnd || ft.Kind != "echo-chargen" || ft.Start != UnixSeconds(testT0) || ft.End != UnixSeconds(frames[8].Time) {
		t.Errorf("truth %+v", ft)
	}
	if want := 9 / frames[8].Time.Sub(testT0).Seconds(); ft.RatePPS != want {
		t.Errorf("rate %v, want %v", ft.RatePPS, want)
	}
}

func TestPingPongStops(t *testing.T) {
	mk := func(p PingPong, from, to time.Time) ([]Frame, *Scenario, LoopID) {
		t.Helper()
		s := NewScenario(6, Link{Type: LinkRaw})
		s.SetWindow(from, to)
		p.A = Side{Addr: ppA, Responder: Echo(), Delay: Delay{Base: time.Millisecond}}
		p.B = Side{Addr: ppB, Responder: Echo(), Delay: Delay{Base: time.Millisecond}}
		p.First = []byte("x")
		id, err := s.AddPingPong(p)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := s.Render()
		if err != nil {
			t.Fatal(err)
		}
		return frames, s, id
	}
	// Until: packets at 0, 1, ..., 9 ms.
	if f, _, _ := mk(PingPong{Start: testT0, Until: testT0.Add(9500 * time.Microsecond)}, time.Time{}, time.Time{}); len(f) != 10 {
		t.Errorf("until: %d frames, want 10", len(f))
	}
	// Certain loss: the first datagram is never answered.
	if f, _, _ := mk(PingPong{Start: testT0, Packets: 50, Loss: 1}, time.Time{}, time.Time{}); len(f) != 1 {
		t.Errorf("loss: %d frames, want 1", len(f))
	}
	// Past the end of the window, started before it: the first
	// captured packet is not the spoofed one.
	f, s, id := mk(PingPong{Start: testT0.Add(-5500 * time.Microsecond), SpoofTTL: 9}, testT0, testT0.Add(20*time.Millisecond))
	if len(f) != 20 || !f[0].Time.Equal(testT0.Add(500*time.Microsecond)) {
		t.Fatalf("window: %d frames from %v", len(f), f[0].Time)
	}
	ft, err := s.FlowTruth([]File{{Name: "x", Frames: f}}, id, "L1")
	if err != nil {
		t.Fatal(err)
	}
	if ft.SpoofedFirst || ft.FirstTTL != 64 || ft.FirstFrom != "client" || ft.Packets != 20 || !ft.OngoingAtEnd {
		t.Errorf("window truth %+v", ft)
	}
	// No stop condition and no window.
	s = NewScenario(1, Link{Type: LinkRaw})
	if _, err := s.AddPingPong(PingPong{A: Side{Addr: ppA, Responder: Echo()}, B: Side{Addr: ppB, Responder: Echo()}, First: []byte("x")}); err == nil {
		t.Error("a ping-pong without an end was accepted")
	}
}

func TestAddPoll(t *testing.T) {
	s := NewScenario(7, Link{Type: LinkEthernet})
	client := netip.MustParseAddrPort("198.51.100.50:51234")
	id, err := s.AddPoll(Poll{
		Kind: "echo-client", Client: Side{Addr: client, TTL: 57}, Server: Side{Addr: ppA, Responder: Echo()},
		Request: func(i int, _ time.Time, _ *rand.Rand) []byte { return []byte{byte(i)} },
		Start:   testT0, Interval: 10 * time.Millisecond, Count: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	flood, err := s.AddPoll(Poll{
		Kind: "flood", Client: Side{Addr: ppB}, Server: Side{Addr: client, Responder: Echo()}, NoReply: true,
		Request: func(int, time.Time, *rand.Rand) []byte { return ChargenLine(0) },
		Start:   testT0.Add(3 * time.Second), Interval: time.Millisecond, Until: testT0.Add(3*time.Second + 10*time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	files := []File{{Name: "p", Frames: frames}}
	ft, err := s.FlowTruth(files, id, "T1")
	if err != nil {
		t.Fatal(err)
	}
	if ft.Packets != 10 || ft.ClientPackets != 5 || ft.ServerPackets != 5 || ft.ClientTTL != 57 || ft.SpoofedFirst || ft.OngoingAtEnd {
		t.Errorf("poll truth %+v", ft)
	}
	fl, err := s.FlowTruth(files, flood, "T2")
	if err != nil {
		t.Fatal(err)
	}
	if fl.Packets != 10 || fl.ServerPackets != 0 || fl.Frames.First.Frame != 11 {
		t.Errorf("flood truth %+v", fl)
	}
}

func TestPingPongBFirst(t *testing.T) {
	s := NewScenario(8, Link{Type: LinkEthernet, MTU: 100})
	id, err := s.AddPingPong(PingPong{
		A:      Side{Addr: ppA, Responder: Echo(), TTL: 64},
		B:      Side{Addr: ppB, Responder: Chargen(1), TTL: 53},
		BFirst: true, SpoofTTL: 200, Start: testT0, Packets: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	// Every 74-byte line goes in two fragments on a 100-byte MTU.
	if len(frames) != 8 {
		t.Fatalf("%d frames, want 8", len(frames))
	}
	if frames[0].Src != ppB || frames[0].TTL != 200 || !frames[0].Spoofed || frames[2].Src != ppA || frames[4].TTL != 53 {
		t.Errorf("frames %+v", frames)
	}
	ft, err := s.FlowTruth([]File{{Name: "x", Frames: frames}}, id, "L1")
	if err != nil {
		t.Fatal(err)
	}
	if ft.FirstFrom != "server" || !ft.SpoofedFirst || ft.FirstTTL != 200 || ft.ServerTTL != 53 || ft.ClientTTL != 64 ||
		ft.Packets != 4 || ft.Frames.First.Frame != 2 || ft.Frames.Last.Frame != 8 || ft.Client.Port != 7 {
		t.Errorf("truth %+v", ft)
	}
}
