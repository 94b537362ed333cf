package synth

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"
)

// Sample is one generated test capture: its files and its truth.
type Sample struct {
	// Name is the sample's name; its truth file is Name + ".truth.json".
	Name string
	// Files are the capture files in reading order.
	Files []SampleFile
	// Truth is the expected result.
	Truth Truth
}

// SampleFile is one file of a sample.
type SampleFile struct {
	Name string
	Data []byte
}

// Addresses the samples use, all from documentation prefixes.
const (
	serverV4   = "192.0.2.1"
	serverV6   = "2001:db8::1"
	server53   = "192.0.2.1:53"
	server53v6 = "[2001:db8::1]:53"
	seedClient = "198.51.100.200:22772" // the seed incident's client
	v6Client   = "[2001:db8:1::2]:44444"
)

func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func mustAP(s string) netip.AddrPort   { return netip.MustParseAddrPort(s) }
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// at returns the sample time d after 2016-02-08 13:00:00 UTC, the seed
// incident's afternoon.
func at(d time.Duration) time.Time {
	return time.Date(2016, time.February, 8, 13, 0, 0, 0, time.UTC).Add(d)
}

func ms(n float64) time.Duration  { return time.Duration(n * float64(time.Millisecond)) }
func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

// ethernet returns an Ethernet link with the given 802.1Q tags.
func ethernet(vlans ...uint16) Link { return Link{Type: LinkEthernet, VLANs: vlans} }

// noiseV4 is background IPv4 traffic to 192.0.2.1 between from and to.
func noiseV4(iface int, from, to time.Duration, rate float64) Noise {
	return Noise{
		Iface: iface, Server: mustAddr(serverV4), Clients: mustPrefix("203.0.113.0/24"),
		Start: at(from), Duration: to - from, Rate: rate, NTPEvery: 23,
	}
}

// noiseV6 is background IPv6 traffic to 2001:db8::1 between from and to.
func noiseV6(iface int, from, to time.Duration, rate float64) Noise {
	return Noise{
		Iface: iface, Server: mustAddr(serverV6), Clients: mustPrefix("2001:db8:100::/64"),
		Start: at(from), Duration: to - from, Rate: rate, NTPEvery: 29,
	}
}

// namedLoop pairs a loop id with its name in the truth.
type namedLoop struct {
	id   LoopID
	name string
}

// sampleSpec is everything needed to write and judge a single-file sample.
type sampleSpec struct {
	name, file string
	notes      string
	s          *Scenario
	loops      []namedLoop
	pcap       PcapFormat
	ifaces     []Interface // pcapng when not nil
}

func (sp sampleSpec) build() (Sample, error) {
	frames, err := sp.s.Render()
	if err != nil {
		return Sample{}, fmt.Errorf("synth: sample %s: %w", sp.name, err)
	}
	var buf bytes.Buffer
	if sp.ifaces != nil {
		err = WritePcapng(&buf, sp.ifaces, Packets(frames))
	} else {
		err = WritePcap(&buf, sp.pcap, Packets(frames))
	}
	if err != nil {
		return Sample{}, fmt.Errorf("synth: sample %s: %w", sp.name, err)
	}
	files := []File{{Name: sp.file, Frames: frames}}
	truth, err := sp.s.truth(files, sp.loops, sp.notes)
	if err != nil {
		return Sample{}, fmt.Errorf("synth: sample %s: %w", sp.name, err)
	}
	return Sample{Name: sp.name, Files: []SampleFile{{Name: sp.file, Data: buf.Bytes()}}, Truth: truth}, nil
}

// truth assembles a Truth for files with the given expected loops.
func (s *Scenario) truth(files []File, loops []namedLoop, notes string) (Truth, error) {
	t := Truth{Loops: []LoopTruth{}, Notes: notes}
	for _, f := range files {
		t.Files = append(t.Files, f.Name)
		t.PacketsTotal += len(f.Frames)
	}
	for _, l := range loops {
		lt, err := s.LoopTruth(files, l.id, l.name)
		if err != nil {
			return Truth{}, err
		}
		t.Loops = append(t.Loops, lt)
	}
	if len(t.Loops) > 0 {
		t.ExpectExit = 1
	}
	return t, nil
}

// Samples builds every sample capture. The result depends on nothing but
// this package's code: two calls return identical bytes.
func Samples() ([]Sample, error) {
	builders := []func() (Sample, error){
		sampleMachinePong,
		sampleMachinePongGzip,
		sampleDroppedAnswer,
		sampleIPv6,
		sampleSLL,
		sampleSLL2,
		sampleVLAN,
		sampleTwoLinkTypes,
		sampleNanosecond,
		sampleBigEndian,
		sampleNull,
		sampleBSDLoop,
		samplePPP,
		sampleWifi,
		sampleBounce,
		sampleFixedPort,
		sampleTruncated,
		sampleFragments,
		sampleCut,
		sampleRotated,
		sampleJunkFormErr,
		sampleOneWayFlood,
		sampleTwoLoops,
		sampleMidLoop,
		sampleLateJunk,
	}
	return buildAll(builders)
}

// buildAll builds every sample, stopping at the first error.
func buildAll[T any](builders []func() (T, error)) ([]T, error) {
	out := make([]T, 0, len(builders))
	for _, b := range builders {
		s, err := b()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// machinePong is the seed incident in small, shared by several samples.
func machinePong(seed uint64, link Link) (*Scenario, LoopID, error) {
	s := NewScenario(seed, link)
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return nil, 0, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(2.4)), Kind: Referral, Interval: ms(4),
		Until: at(sec(3)),
	})
	return s, id, err
}

// seedSample is the seed's loop (machinePong) on link, written as file in
// format pcap.
func seedSample(seed uint64, link Link, name, file string, pcap PcapFormat, notes string) (Sample, error) {
	s, id, err := machinePong(seed, link)
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{name: name, file: file, s: s, loops: []namedLoop{{id, "L1"}}, pcap: pcap, notes: notes}.build()
}

func sampleMachinePong() (Sample, error) {
	return seedSample(1, ethernet(), "machine-pong", "machine-pong.pcap", PcapFormat{Link: LinkEthernet},
		"the seed incident: a referral to 198.51.100.200:22772 bounces off a TFTP server; the loop runs to the end of the capture")
}

func sampleMachinePongGzip() (Sample, error) {
	sm, err := sampleMachinePong()
	if err != nil {
		return Sample{}, err
	}
	gz, err := Gzip(sm.Files[0].Data)
	if err != nil {
		return Sample{}, err
	}
	sm.Name = "machine-pong-gz"
	sm.Files = []SampleFile{{Name: "machine-pong.pcap.gz", Data: gz}}
	sm.Truth.Files = []string{"machine-pong.pcap.gz"}
	sm.Truth.Notes = "machine-pong.pcap compressed with gzip"
	return sm, nil
}

func sampleDroppedAnswer() (Sample, error) {
	s := NewScenario(2, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3.5), 25)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(0.5)), Kind: Referral, FirstDelay: ms(25), Interval: ms(3),
		Packets: 301,
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "dropped-answer", file: "dropped-answer.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "the loop stops when the server drops one answer (the last packet is an unanswered TFTP error); traffic goes on for more than 2 s, so not ongoing; first non-DNS packet 25 ms after the answer, as in the seed",
	}.build()
}

func sampleIPv6() (Sample, error) {
	s := NewScenario(3, ethernet())
	if err := s.AddNoise(noiseV6(0, 0, sec(3.5), 14)); err != nil {
		return Sample{}, err
	}
	if err := s.AddNoise(noiseV4(0, 0, sec(3.5), 8)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(v6Client), Server: mustAP(server53v6),
		Start: at(sec(0.5)), Kind: Referral, Query: Query{Name: "delegated.example.uk", Type: 28, EDNS: true},
		Interval: ms(3), Packets: 301,
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "ipv6", file: "ipv6.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "IPv6 loop on Ethernet; stopped by a dropped answer, not ongoing",
	}.build()
}

func sampleSLL() (Sample, error) {
	return seedSample(4, Link{Type: LinkSLL, Host: mustAddr(serverV4)}, "sll", "sll.pcap", PcapFormat{Link: LinkSLL},
		"Linux cooked capture (link type 113) on the server; IPv4 loop running to the end")
}

func sampleSLL2() (Sample, error) {
	s := NewScenario(5, Link{Type: LinkSLL2, Host: mustAddr(serverV6)})
	if err := s.AddNoise(noiseV6(0, 0, sec(3.5), 15)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(v6Client), Server: mustAP(server53v6),
		Start: at(sec(0.5)), Kind: Referral, Interval: ms(2.5), Packets: 250,
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "sll2", file: "sll2.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkSLL2},
		notes: "Linux cooked capture v2 (link type 276); IPv6 loop of 250 packets that ends with a FORMERR the client no longer answers",
	}.build()
}

func sampleVLAN() (Sample, error) {
	s := NewScenario(6,
		ethernet(100),
		Link{Type: LinkEthernet, VLANs: []uint16{200, 100}, QinQ: true},
		ethernet(),
	)
	for _, n := range []Noise{noiseV4(0, 0, sec(3), 15), noiseV4(1, 0, sec(3), 8), noiseV4(2, 0, sec(3), 5)} {
		if err := s.AddNoise(n); err != nil {
			return Sample{}, err
		}
	}
	id, err := s.AddLoop(Loop{
		Iface: 1, Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(2.4)), Kind: Referral, Interval: ms(4), Until: at(sec(3)),
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "vlan", file: "vlan.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "802.1Q-tagged (VLAN 100), QinQ-tagged (0x88a8 VLAN 200 + 0x8100 VLAN 100) and untagged frames; the loop is QinQ-tagged and runs to the end",
	}.build()
}

func sampleTwoLinkTypes() (Sample, error) {
	s := NewScenario(7,
		Link{Type: LinkEthernet, Resolution: time.Microsecond},
		Link{Type: LinkRaw, Resolution: time.Nanosecond},
	)
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 20)); err != nil {
		return Sample{}, err
	}
	n := noiseV4(1, 0, sec(3), 15)
	n.Server = mustAddr("192.0.2.53")
	if err := s.AddNoise(n); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Iface: 1, Client: mustAP(seedClient), Server: mustAP("192.0.2.53:53"),
		Start: at(sec(1) + 123), Kind: Referral,
		ResponseDelay: 98765, FirstDelay: 1000123, Interval: 3333333, ReplyDelay: 87654,
		Packets: 301,
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "two-linktypes", file: "two-linktypes.pcapng", s: s,
		loops: []namedLoop{{id, "L1"}},
		ifaces: []Interface{
			{Name: "eth0", Link: LinkEthernet, TsResol: 6},
			{Name: "tun0", Link: LinkRaw, TsResol: 9},
		},
		notes: "pcapng with two interfaces: 0 Ethernet (if_tsresol 6), 1 raw IP (if_tsresol 9); the loop is on the raw-IP interface with nanosecond timing and stops after 301 packets, 1.5 s before the end: under --idle, but hundreds of its beats missed, so no longer running; noise on both",
	}.build()
}

func sampleNanosecond() (Sample, error) {
	s := NewScenario(8, Link{Type: LinkEthernet, Resolution: time.Nanosecond})
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(2.4) + 1), Kind: Referral,
		ResponseDelay: 101101, FirstDelay: 999999, Interval: 4444441, ReplyDelay: 99999,
		Until: at(sec(3)),
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "nanosecond", file: "nanosecond.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkEthernet, Nanos: true},
		notes: "classic pcap with the nanosecond magic 0xa1b23c4d and nanosecond timestamps; loop runs to the end",
	}.build()
}

func sampleBigEndian() (Sample, error) {
	return seedSample(9, ethernet(), "bigendian", "bigendian.pcap", PcapFormat{Link: LinkEthernet, BigEndian: true},
		"big-endian classic pcap (magic bytes a1 b2 c3 d4), microseconds; loop runs to the end")
}

func sampleNull() (Sample, error) {
	return seedSample(10, Link{Type: LinkNull}, "null", "null.pcap", PcapFormat{Link: LinkNull},
		"BSD loopback encapsulation (link type 0, host-order address family); loop runs to the end")
}

func samplePPP() (Sample, error) {
	return seedSample(23, Link{Type: LinkPPP}, "ppp", "ppp.pcap", PcapFormat{Link: LinkPPP},
		"PPP link type (9), HDLC-like framing (ff 03, then protocol 0x0021), as a router's serial or DSL line records it; loop runs to the end")
}

func sampleWifi() (Sample, error) {
	return seedSample(24, Link{Type: LinkRadiotap}, "wifi", "wifi.pcap", PcapFormat{Link: LinkRadiotap},
		"802.11 in monitor mode: radiotap headers (link type 127), QoS data frames to the distribution system, LLC/SNAP; loop runs to the end")
}

func sampleBSDLoop() (Sample, error) {
	s := NewScenario(11, Link{Type: LinkLoop})
	if err := s.AddNoise(noiseV6(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(v6Client), Server: mustAP(server53v6),
		Start: at(sec(2.4)), Kind: Referral, Interval: ms(4), Until: at(sec(3)),
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "bsd-loop", file: "bsd-loop.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkLoop},
		notes: "OpenBSD loopback encapsulation (link type 108, network-order address family 24); IPv6 loop runs to the end",
	}.build()
}

func sampleBounce() (Sample, error) {
	s := NewScenario(12, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	if _, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(0.7)), Kind: Referral, Packets: 3,
	}); err != nil {
		return Sample{}, err
	}
	if _, err := s.AddLoop(Loop{
		Client: mustAP("198.51.100.201:31337"), Server: mustAP(server53),
		Start: at(sec(1.9)), Kind: Answer, Packets: 4,
	}); err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "bounce", file: "bounce.pcap", s: s, pcap: PcapFormat{Link: LinkEthernet},
		notes: "two bounces under the threshold: 3 packets (TFTP error, FORMERR, unanswered TFTP error) and 4 packets (ends with a FORMERR the client ignores); no loop",
	}.build()
}

func sampleFixedPort() (Sample, error) {
	s := NewScenario(13, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 12)); err != nil {
		return Sample{}, err
	}
	if err := fixedPort(s, at(sec(0.5)), 150, ms(10)); err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "fixed-port", file: "fixed-port.pcap", s: s, pcap: PcapFormat{Link: LinkEthernet},
		notes: "a resolver without source-port randomisation: 150 queries on one 5-tuple (198.51.100.53:33333), all answered; no non-DNS, no loop",
	}.build()
}

// fixedPort schedules n queries from one fixed-port resolver.
func fixedPort(s *Scenario, start time.Time, n int, every time.Duration) error {
	client := mustAP("198.51.100.53:33333")
	names, types := noiseNames(), noiseTypes()
	for i := range n {
		q := Query{
			ID:   uint16(s.Rand().Uint32()),
			Name: names[s.Rand().IntN(len(names))],
			Type: types[s.Rand().IntN(len(types))],
			EDNS: true,
		}
		kind := []ResponseKind{Answer, Referral, NXDomain}[i%3]
		t := start.Add(time.Duration(i) * every)
		if err := s.Exchange(0, t, client, mustAP(server53), q, kind, ms(0.2), 0, 61, 64); err != nil {
			return err
		}
	}
	return nil
}

func sampleTruncated() (Sample, error) {
	s := NewScenario(14, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	if err := fixedPort(s, at(sec(0.5)), 150, ms(2)); err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "truncated", file: "truncated.pcap", s: s, pcap: PcapFormat{Link: LinkEthernet, Snaplen: 64},
		notes: "snaplen 64: every DNS message longer than 22 bytes is cut (caplen < origlen); includes a fast fixed-port resolver; a cut DNS message is truncated, not non-DNS, so no loop",
	}.build()
}

func sampleFragments() (Sample, error) {
	s := NewScenario(15, ethernet())
	n4 := noiseV4(0, 0, sec(3.5), 15)
	n4.LargeEvery, n4.LargeSize = 8, 2000
	n6 := noiseV6(0, 0, sec(3.5), 8)
	n6.LargeEvery, n6.LargeSize = 5, 2000
	for _, n := range []Noise{n4, n6} {
		if err := s.AddNoise(n); err != nil {
			return Sample{}, err
		}
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(0.4)), Kind: Referral, Query: Query{Name: "delegated.example.uk", EDNS: true},
		PadTo: 2400, Interval: ms(4), Packets: 201,
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "fragments", file: "fragments.pcap", s: s,
		loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "IPv4 and IPv6 fragmented DNS responses; the loop's trigger response is a 2400-byte EDNS-padded referral in two IPv4 fragments (its frame is the last fragment); the loop stops after 201 packets, more than 2 s before the end",
	}.build()
}

func sampleCut() (Sample, error) {
	s, id, err := machinePong(16, ethernet())
	if err != nil {
		return Sample{}, err
	}
	frames, err := s.Render()
	if err != nil {
		return Sample{}, err
	}
	// Keep 85% of the records, then half of the next one.
	keep := len(frames) * 85 / 100
	format := PcapFormat{Link: LinkEthernet}
	var buf bytes.Buffer
	if err := WritePcap(&buf, format, Packets(frames[:keep+1])); err != nil {
		return Sample{}, err
	}
	end := PcapRecordEnd(format, Packets(frames), keep) + 16 + len(frames[keep].Data)/2
	data := buf.Bytes()[:end]
	files := []File{{Name: "cut.pcap", Frames: frames[:keep]}}
	truth, err := s.truth(files, []namedLoop{{id, "L1"}}, "")
	if err != nil {
		return Sample{}, err
	}
	truth.ExpectExit = 2
	truth.Partial = true
	for i := range truth.Loops {
		truth.Loops[i].Partial = true
	}
	truth.Notes = fmt.Sprintf("a loop capture cut in the middle of record %d (its header is complete, its data is not): an input error, but the loop found before the cut is still reported", keep+1)
	return Sample{Name: "cut", Files: []SampleFile{{Name: "cut.pcap", Data: data}}, Truth: truth}, nil
}

func sampleRotated() (Sample, error) {
	s := NewScenario(17, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(4.5), 20)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(1.8)), Kind: Referral, Interval: ms(4), Packets: 201,
	})
	if err != nil {
		return Sample{}, err
	}
	frames, err := s.Render()
	if err != nil {
		return Sample{}, err
	}
	split := at(sec(2))
	i := 0
	for i < len(frames) && frames[i].Time.Before(split) {
		i++
	}
	files := []File{{Name: "rotated-1.pcap", Frames: frames[:i]}, {Name: "rotated-2.pcap", Frames: frames[i:]}}
	sm := Sample{Name: "rotated"}
	for _, f := range files {
		var buf bytes.Buffer
		if err := WritePcap(&buf, PcapFormat{Link: LinkEthernet}, Packets(f.Frames)); err != nil {
			return Sample{}, err
		}
		sm.Files = append(sm.Files, SampleFile{Name: f.Name, Data: buf.Bytes()})
	}
	sm.Truth, err = s.truth(files, []namedLoop{{id, "L1"}},
		"one loop crossing a file rotation (tcpdump -G style, split at 13:00:02); read both files as one stream; frames are [file, frame] pairs")
	return sm, err
}

func sampleJunkFormErr() (Sample, error) {
	s := NewScenario(18, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	client, server := mustAP("198.51.100.77:40000"), mustAP(server53)
	t := at(sec(0.4))
	for range 6 {
		junk := make([]byte, 20+s.Rand().IntN(30))
		for i := range junk {
			junk[i] = byte(s.Rand().Uint32())
		}
		junk[2] &= 0x07 // QR and opcode clear: the server takes it for a query
		junk[4], junk[5] = 0xff, byte(s.Rand().Uint32())
		if err := s.Add(0, t, Datagram{Src: client, Dst: server, Payload: junk, TTL: 55}); err != nil {
			return Sample{}, err
		}
		if err := s.Add(0, t.Add(ms(0.1)), Datagram{Src: server, Dst: client, Payload: FormErr(junk)}); err != nil {
			return Sample{}, err
		}
		t = t.Add(ms(50 + float64(s.Rand().IntN(300))))
	}
	return sampleSpec{
		name: "junk-formerr", file: "junk-formerr.pcap", s: s, pcap: PcapFormat{Link: LinkEthernet},
		notes: "trap: 198.51.100.77:40000 sends junk to port 53 six times and gets FORMERR each time, but never sent a genuine answered query: no loop",
	}.build()
}

func sampleOneWayFlood() (Sample, error) {
	s := NewScenario(19, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	if _, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(1)), Kind: Referral, Interval: ms(2), Packets: 200, NoReply: true,
	}); err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "oneway-flood", file: "oneway-flood.pcap", s: s, pcap: PcapFormat{Link: LinkEthernet},
		notes: "trap: a genuine answered query, then the client floods 200 TFTP errors to the server, which never replies: not back-and-forth, no loop",
	}.build()
}

func sampleTwoLoops() (Sample, error) {
	s := NewScenario(20, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3.5), 12)); err != nil {
		return Sample{}, err
	}
	if err := s.AddNoise(noiseV6(0, 0, sec(3.5), 6)); err != nil {
		return Sample{}, err
	}
	a, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(0.3)), Kind: Referral, Interval: ms(4), Packets: 201,
	})
	if err != nil {
		return Sample{}, err
	}
	b, err := s.AddLoop(Loop{
		Client: mustAP(v6Client), Server: mustAP(server53v6),
		Start: at(sec(2.9)), Kind: Answer, Query: Query{Name: "www.example.co.uk", Type: 28},
		Payload:  TFTPError(TFTPErrUnknownTID, "Unknown transfer ID"),
		Interval: ms(4), Until: at(sec(3.5)),
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "two-loops", file: "two-loops.pcap", s: s,
		loops: []namedLoop{{a, "L1"}, {b, "L2"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "two loops from different clients: L1 IPv4 (stops after 201 packets, not ongoing), L2 IPv6 with TFTP error 5 'Unknown transfer ID' (runs to the end)",
	}.build()
}

// sampleMidLoop is a capture that starts while a loop is already running:
// its trigger was never captured.
func sampleMidLoop() (Sample, error) {
	s := NewScenario(21, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(4.5), 25)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(0.002)), NoTrigger: true, Interval: ms(4), Until: at(sec(2)),
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "midloop", file: "midloop.pcap", s: s, loops: []namedLoop{{id, "L1"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "the capture starts while the seed loop is already running: reported without a trigger (first_non_dns is the first captured loop packet); it stops at 2 s, more than 2 s before the end",
	}.build()
}

// sampleLateJunk is a trap: a genuine exchange, then a sustained non-DNS
// ping-pong that starts after --max-delay.
func sampleLateJunk() (Sample, error) {
	s := NewScenario(22, ethernet())
	if err := s.AddNoise(noiseV4(0, 0, sec(3), 25)); err != nil {
		return Sample{}, err
	}
	id, err := s.AddLoop(Loop{
		Client: mustAP(seedClient), Server: mustAP(server53),
		Start: at(sec(0.3)), Kind: Referral, FirstDelay: ms(700), Interval: ms(4), Packets: 300, NoArm: true,
	})
	if err != nil {
		return Sample{}, err
	}
	return sampleSpec{
		name: "late-junk", file: "late-junk.pcap", s: s, pcap: PcapFormat{Link: LinkEthernet},
		loops: []namedLoop{{id, "L1"}},
		notes: "a genuine answered query, then a TFTP/FORMERR ping-pong that starts 700 ms after the answer, past --max-delay: no trigger, but a loop by its signature (issue 9), from its first TFTP error",
	}.build()
}
