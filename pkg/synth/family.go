package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// FamilySample is one loop-family capture (issue 9: loops without a
// captured trigger, and traps that are not loops) with its truth.
type FamilySample struct {
	// Name is the sample's name; its truth file is Name + ".truth.json".
	Name string
	// Files are the capture files in reading order.
	Files []SampleFile
	// Truth is the expected result.
	Truth FamilyTruth
}

// FamilySamples builds the loop-family samples (written to
// testdata/family by cmd/gensamples -family): every loop kind of issue 9,
// each started mid-capture by one spoofed packet unless its notes say
// otherwise, and the traps that must not be reported, all under
// background DNS load. Two calls return identical bytes.
func FamilySamples() ([]FamilySample, error) {
	builders := []func() (FamilySample, error){
		famEchoChargen,
		famQOTDEcho,
		famDaytimeDaytime,
		famDaytimeEcho,
		famSystatDaytime,
		famTimeEcho,
		famChargenChargen,
		famDNSDNS,
		famDNSDNSv6,
		famTFTP69DNS,
		famLostTrigger,
		famMachinePongLostTrigger,
		famMachinePongLostQuery,
		famNTPMode7,
		famSlow,
		famTFTP1069,
		famAtStart,
		famTwoLoopsSamePair,
		famJitterWide,
		famLoss,
		famTrapEchoClient,
		famTrapNTPClient,
		famTrapChargenPoller,
		famTrapForwarder,
		famTrapOneWayFlood,
		famTrapRequestResponse,
		famTrapTFTPTransfer,
	}
	return buildAll(builders)
}

// famFlow names a loop or trap flow in a family sample's truth.
type famFlow struct {
	id          LoopID
	name, class string
}

// familySpec is everything needed to write and judge a family sample.
type familySpec struct {
	name, file, kind, link, notes string
	s                             *Scenario
	loops, traps                  []famFlow
	pcap                          PcapFormat
	ifaces                        []Interface // pcapng when not nil
	servicePorts                  []uint16
	// edit, when set, changes the rendered frames before they are
	// written (dropping some, as a lossy capture would).
	edit func([]Frame) ([]Frame, error)
}

func (sp familySpec) build() (FamilySample, error) {
	frames, err := sp.s.Render()
	if err != nil {
		return FamilySample{}, fmt.Errorf("synth: family sample %s: %w", sp.name, err)
	}
	if sp.edit != nil {
		if frames, err = sp.edit(frames); err != nil {
			return FamilySample{}, fmt.Errorf("synth: family sample %s: %w", sp.name, err)
		}
	}
	var buf bytes.Buffer
	if sp.ifaces != nil {
		err = WritePcapng(&buf, sp.ifaces, Packets(frames))
	} else {
		err = WritePcap(&buf, sp.pcap, Packets(frames))
	}
	if err != nil {
		return FamilySample{}, fmt.Errorf("synth: family sample %s: %w", sp.name, err)
	}
	files := []File{{Name: sp.file, Frames: frames}}
	t := FamilyTruth{
		Files: []string{sp.file}, Loops: []FlowTruth{}, PacketsTotal: len(frames),
		Tier: "beyond", Kind: sp.kind, Link: sp.link, ServicePorts: sp.servicePorts, Notes: sp.notes,
	}
	for _, l := range sp.loops {
		ft, err := sp.s.FlowTruth(files, l.id, l.name)
		if err != nil {
			return FamilySample{}, fmt.Errorf("synth: family sample %s: %w", sp.name, err)
		}
		if l.class != "" {
			ft.PayloadClass = l.class
		}
		t.Loops = append(t.Loops, ft)
	}
	for _, l := range sp.traps {
		ft, err := sp.s.FlowTruth(files, l.id, l.name)
		if err != nil {
			return FamilySample{}, fmt.Errorf("synth: family sample %s: %w", sp.name, err)
		}
		t.Traps = append(t.Traps, ft)
	}
	if len(t.Loops) > 0 {
		t.ExpectExit = 1
	}
	return FamilySample{Name: sp.name, Files: []SampleFile{{Name: sp.file, Data: buf.Bytes()}}, Truth: t}, nil
}

// newFamily returns a scenario with background DNS (and some NTP) load
// from many clients to 192.0.2.1 on interface 0 (IPv6 clients to
// 2001:db8::1 too when v6 is set) at qps queries per second, and a
// capture window of dur from at(0).
func newFamily(seed uint64, dur time.Duration, qps float64, v6 bool, links ...Link) (*Scenario, error) {
	s := NewScenario(seed, links...)
	n := Noise{
		Server: mustAddr(serverV4), Clients: mustPrefix("203.0.113.0/24"), NumClients: 200,
		Start: at(0), Duration: dur, Rate: qps, NTPEvery: 41,
	}
	if v6 {
		n.Rate = qps / 3
	}
	if err := s.AddNoise(n); err != nil {
		return nil, err
	}
	if v6 {
		if err := s.AddNoise(Noise{
			Server: mustAddr(serverV6), Clients: mustPrefix("2001:db8:100::/64"), NumClients: 300,
			Start: at(0), Duration: dur, Rate: qps - n.Rate, NTPEvery: 37,
		}); err != nil {
			return nil, err
		}
	}
	s.SetWindow(at(0), at(dur))
	return s, nil
}

// svc is a Side: addr, responder, base delay and jitter, TTL.
func svc(addr string, r Responder, base, jitter time.Duration, ttl uint8) Side {
	return Side{Addr: mustAP(addr), Responder: r, Delay: Delay{Base: base, Jitter: jitter}, TTL: ttl}
}

func us(n float64) time.Duration { return time.Duration(n * float64(time.Microsecond)) }

func loopsOf(ids ...LoopID) []famFlow {
	out := make([]famFlow, len(ids))
	for i, id := range ids {
		out[i] = famFlow{id: id, name: fmt.Sprintf("L%d", i+1)}
	}
	return out
}

func famEchoChargen() (FamilySample, error) {
	s, err := newFamily(101, sec(5), 250, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind: "echo-chargen",
		A:    svc("192.0.2.7:7", Echo(), us(40), us(30), 64),
		B:    svc("198.51.100.19:19", Chargen(1), ms(1.1), us(400), 53),
		// The attacker writes one byte to chargen in the echo server's name.
		First: []byte("\n"), SpoofTTL: 47,
		Start: at(sec(3.3) + us(417)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "echo-chargen", file: "echo-chargen.pcap", kind: "echo-chargen", link: "pcap/ethernet", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "echo (192.0.2.7:7) <-> chargen (198.51.100.19:19), started at 3.3 s by one spoofed 1-byte datagram 'from' the echo server (TTL 47; the echo server's own TTL is 64) to chargen; chargen answers the next rotated 72-character line each time (BSD one line per datagram), echo returns it: payloads change every round; runs to the end of the capture. A loop: both ends are services answering each other, strict alternation, short reaction times, echo relation",
	}.build()
}

func famQOTDEcho() (FamilySample, error) {
	s, err := newFamily(102, sec(6), 200, false, Link{Type: LinkSLL, Host: mustAddr("192.0.2.17")})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "qotd-echo",
		A:     svc("198.51.100.7:7", Echo(), ms(0.9), us(300), 57),
		B:     svc("192.0.2.17:17", QOTD(false), us(90), us(60), 64),
		First: []byte("hello\r\n"), SpoofTTL: 49,
		Start: at(sec(2) + us(61)), Until: at(sec(3.3)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "qotd-echo", file: "qotd-echo.pcap", kind: "qotd-echo", link: "pcap/linux-sll", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkSLL},
		notes: "Linux cooked capture on the QOTD host. QOTD (192.0.2.17:17) <-> echo (198.51.100.7:7), started at 2 s by one spoofed datagram 'from' the echo server (TTL 49, its own is 57); QOTD answers the next quote of its list every time (quotes change every round, one spans several lines), echo returns it. Stops at 3.3 s (the echo host is taken offline), more than 2 s before the end: not ongoing",
	}.build()
}

func famDaytimeDaytime() (FamilySample, error) {
	s, err := newFamily(103, sec(5), 250, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "daytime-daytime",
		A:     svc("198.51.100.13:13", Daytime(-ms(2300)), ms(1.2), us(300), 55),
		B:     svc("192.0.2.13:13", Daytime(0), us(120), us(60), 64),
		First: DaytimeString(at(sec(2.1))), SpoofTTL: 38,
		Start: at(sec(3.3) + us(5)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "daytime-daytime", file: "daytime-daytime.pcapng", kind: "daytime-daytime", link: "pcapng/ethernet", s: s,
		loops: loopsOf(id), ifaces: []Interface{{Name: "eth0", Link: LinkEthernet, TsResol: 6}},
		notes: "pcapng. daytime (198.51.100.13:13) <-> daytime (192.0.2.13:13), started at 3.3 s by one spoofed daytime string 'from' 198.51.100.13 (TTL 38, its own is 55); each server answers the other's time string with its own (the clocks differ by 2.3 s), so payloads change every second on both sides; runs to the end",
	}.build()
}

func famDaytimeEcho() (FamilySample, error) {
	s, err := newFamily(104, sec(5), 300, false, Link{Type: LinkRaw})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "daytime-echo",
		A:     svc("198.51.100.113:13", Daytime(ms(700)), ms(1.3), us(500), 50),
		B:     svc("192.0.2.70:7", Echo(), us(60), us(40), 64),
		First: DaytimeString(at(sec(1))), SpoofTTL: 242,
		Start: at(sec(3.2) + us(333)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "daytime-echo", file: "daytime-echo.pcap", kind: "daytime-echo", link: "pcap/raw", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkRaw},
		notes: "raw IP link type (101). daytime (198.51.100.113:13) <-> echo (192.0.2.70:7), started at 3.2 s by one spoofed daytime string 'from' the daytime server (TTL 242, its own is 50); echo returns each time string, daytime answers with the current one: the payload changes every second; runs to the end",
	}.build()
}

func famSystatDaytime() (FamilySample, error) {
	s, err := newFamily(119, sec(3), 100, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "daytime-systat",
		A:     svc("192.0.2.113:13", Daytime(ms(400)), us(90), us(40), 64),
		B:     svc("198.51.100.11:11", ActiveUsers(), ms(2.1), ms(1.1), 57),
		First: DaytimeString(at(sec(0.8))), SpoofTTL: 117,
		Start: at(sec(0.8) + us(77)), Until: at(sec(1.6)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "daytime-systat", file: "daytime-systat.pcap", kind: "daytime-systat", link: "pcap/ethernet", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "daytime (192.0.2.113:13) <-> Active Users (systat, 198.51.100.11:11, RFC 866, one of the Loop DoS paper's legacy services), started at 0.8 s by one spoofed daytime string 'from' the daytime server (TTL 117, its own is 64); systat answers every time string with its user list, daytime answers that with the time; stopped at 1.6 s, 1.4 s before the end: not ongoing",
	}.build()
}

func famTimeEcho() (FamilySample, error) {
	s, err := newFamily(105, sec(5), 250, true, Link{Type: LinkSLL2, Host: mustAddr("2001:db8::7")})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "time-echo",
		A:     svc("[2001:db8::7]:7", Echo(), us(50), us(30), 64),
		B:     svc("[2001:db8:37::25]:37", TimeProtocol(-sec(1.5)), ms(1.0), us(300), 58),
		First: []byte{0}, SpoofTTL: 44,
		Start: at(sec(1) + us(12)), Packets: 2001,
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "time-echo", file: "time-echo.pcap", kind: "time-echo", link: "pcap/linux-sll2", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkSLL2},
		notes: "Linux cooked capture v2 (276) on the echo host, IPv6. time (RFC 868, [2001:db8:37::25]:37) <-> echo ([2001:db8::7]:7), started at 1 s by one spoofed 1-byte datagram 'from' the echo host (hop limit 44, its own is 64); time answers 4 bytes of seconds since 1900 (changing every second), echo returns them. 2001 packets; the last, from echo, is never answered: stops more than 2 s before the end, not ongoing",
	}.build()
}

func famChargenChargen() (FamilySample, error) {
	s, err := newFamily(106, sec(5), 200, false, Link{Type: LinkEthernet, VLANs: []uint16{42}, MTU: 400})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:   "chargen-chargen",
		A:      svc("198.51.100.91:19", ChargenRFC(), ms(1.2), us(500), 52),
		B:      svc("192.0.2.19:19", Chargen(1), us(70), us(50), 64),
		BFirst: true, First: ChargenLine(17), SpoofTTL: 250,
		Start: at(sec(3.6) + us(808)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "chargen-chargen", file: "chargen-chargen.pcap", kind: "chargen-chargen", link: "pcap/ethernet-802.1q", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "802.1Q-tagged Ethernet (VLAN 42) with a 400-byte IP MTU (a tunnel), so datagrams over 372 bytes travel in IP fragments: the truth counts a fragmented datagram once, at its last fragment. chargen (192.0.2.19:19, one 74-byte line per datagram; the truth's server, first to speak) <-> chargen (198.51.100.91:19, RFC 864 style: 1-512 characters of the stream per datagram, often fragmented), started at 3.6 s by one spoofed chargen line 'from' 192.0.2.19 (TTL 250, its own is 64); payloads and sizes change every packet; runs to the end",
	}.build()
}

func famDNSDNS() (FamilySample, error) {
	s, err := newFamily(107, sec(2.5), 1200, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	q := Query{ID: 0x4a7f, Name: "www.example.co.uk", RD: true}
	first, err := DNSResponse(q, Answer, 0)
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "dns-dns",
		A:     svc("198.51.100.53:53", DNSError(layers.DNSResponseCodeServFail, true), ms(0.9), us(400), 56),
		B:     svc(server53, DNSError(layers.DNSResponseCodeRefused, true), us(100), us(80), 64),
		First: first, SpoofTTL: 111,
		Start: at(sec(1.2) + us(250)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "dns-dns", file: "dns-dns.pcap", kind: "dns-dns", link: "pcap/ethernet", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "DNS <-> DNS: the busy name server 192.0.2.1:53 (background load of 1200 qps) and another server 198.51.100.53:53 answer each other's responses. Started at 1.2 s by one spoofed DNS response (ID 0x4a7f, an answer for www.example.co.uk) 'from' 198.51.100.53 (TTL 111, its own is 56); 192.0.2.1 answers REFUSED, 198.51.100.53 answers SERVFAIL, both echoing the question and keeping ID 0x4a7f. Every packet is valid DNS with QR=1: responses answering responses. Runs to the end",
	}.build()
}

func famDNSDNSv6() (FamilySample, error) {
	s, err := newFamily(108, sec(5), 300, true, Link{Type: LinkEthernet, Resolution: time.Nanosecond})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "dns-dns",
		A:     svc("[2001:db8:53::35]:53", DNSError(layers.DNSResponseCodeFormErr, false), ms(0.6)+7, us(350), 59),
		B:     svc(server53v6, DNSError(layers.DNSResponseCodeRefused, true), us(90)+3, us(70), 64),
		First: FormErr([]byte{0x13, 0x37, 0x01}), SpoofTTL: 33,
		Start: at(sec(1.5) + 4321), Packets: 2000,
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "dns-dns-v6", file: "dns-dns-v6.pcapng", kind: "dns-dns", link: "pcapng/ethernet-ns", s: s,
		loops: loopsOf(id), ifaces: []Interface{{Name: "eth1", Link: LinkEthernet, TsResol: 9}},
		notes: "pcapng with nanosecond timestamps, IPv6. DNS <-> DNS between [2001:db8:53::35]:53 (answers FORMERR, header only) and the busy server [2001:db8::1]:53 (answers REFUSED), ID 0x1337 kept throughout. Started at 1.5 s by one spoofed header-only FORMERR 'from' [2001:db8:53::35] (hop limit 33, its own is 59); 2000 packets, then an answer is lost: stops more than 2 s before the end, not ongoing",
	}.build()
}

func famTFTP69DNS() (FamilySample, error) {
	s, err := newFamily(109, sec(3), 800, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "tftp-dns",
		A:     svc("198.51.100.69:69", TFTPErrorReply(TFTPErrIllegalOp, TFTPMsgIllegalOp), ms(1.4), us(600), 52),
		B:     svc(server53, DNSError(layers.DNSResponseCodeFormErr, false), us(100), us(50), 64),
		First: TFTPError(TFTPErrIllegalOp, TFTPMsgIllegalOp), SpoofTTL: 41,
		Start: at(sec(1.6) + us(77)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "tftp69-dns", file: "tftp69-dns.pcap", kind: "tftp-dns", link: "pcap/ethernet", s: s,
		loops: []famFlow{{id: id, name: "L1", class: "tftp"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "a TFTP error 'from' the TFTP server 198.51.100.69:69 (spoofed: TTL 41, the server's own is 52) arrives at the busy name server's port 53 (background 800 qps) at 1.6 s; the name server answers FORMERR (header only, ID 0x0005 taken from the TFTP opcode), the TFTP server answers that with another error 4 'Illegal TFTP operation', and so on. No DNS exchange started it. Runs to the end",
	}.build()
}

func famLostTrigger() (FamilySample, error) {
	s, err := newFamily(110, sec(6), 250, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	// A genuine query from the same host on another port, earlier.
	if err := s.Exchange(0, at(sec(1.3)), mustAP("198.51.100.44:51000"), mustAP(server53),
		Query{ID: 0x2222, Name: "example.uk"}, Answer, us(150), 0, 52, 64); err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "dns-tftp",
		A:     svc("198.51.100.44:40404", TFTPErrorReply(TFTPErrIllegalOp, TFTPMsgRRQFirst), ms(1.9), us(300), 52),
		B:     svc(server53, DNSError(layers.DNSResponseCodeFormErr, false), us(100), us(20), 64),
		First: TFTPError(TFTPErrIllegalOp, TFTPMsgRRQFirst),
		Start: at(sec(3.5) + us(2301)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "lost-trigger", file: "lost-trigger.pcap", kind: "dns-tftp", link: "pcap/ethernet", s: s,
		loops: []famFlow{{id: id, name: "L1", class: "tftp"}}, pcap: PcapFormat{Link: LinkEthernet},
		notes: "the seed's loop (TFTP error 'RRQ must be sent first' from 198.51.100.44:40404 <-> FORMERR from 192.0.2.1:53) in a capture that lost the query and the answer that started it: the first captured loop packet is the first TFTP error, at 3.5 s (not spoofed: TTL 52 like the rest). Runs to the end",
	}.build()
}

// dropFrames returns frames without the 1-based frame numbers drop.
func dropFrames(frames []Frame, drop ...int) []Frame {
	out := make([]Frame, 0, len(frames))
	for i, f := range frames {
		if !slices.Contains(drop, i+1) {
			out = append(out, f)
		}
	}
	return out
}

// checkRoles fails unless the 1-based frames want have the roles given.
func checkRoles(frames []Frame, want map[int]Role) error {
	for n, r := range want {
		if n < 1 || n > len(frames) || frames[n-1].Role != r {
			return fmt.Errorf("frame %d is not the expected %v", n, r)
		}
	}
	return nil
}

func famMachinePongLostTrigger() (FamilySample, error) {
	s, id, err := machinePong(1, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "machine-pong-lost-trigger", file: "machine-pong-lost-trigger.pcap", kind: "dns-tftp", link: "pcap/ethernet", s: s,
		loops: []famFlow{{id: id, name: "L1", class: "tftp"}}, pcap: PcapFormat{Link: LinkEthernet},
		edit: func(frames []Frame) ([]Frame, error) {
			if err := checkRoles(frames, map[int]Role{121: RoleTriggerQuery, 122: RoleTriggerResponse, 123: RoleLoopClient}); err != nil {
				return nil, err
			}
			return dropFrames(frames, 121, 122), nil
		},
		notes: "testdata/pcaps/machine-pong.pcap without its frames 121 and 122 (the trigger query and referral; editcap machine-pong.pcap out.pcap 121 122): the loop's first packet, the first TFTP error, was frame 123 and is now frame 121; 300 packets at ~500/s, running to the end. No background-load change, no spoofing",
	}.build()
}

func famMachinePongLostQuery() (FamilySample, error) {
	s, id, err := machinePong(1, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "machine-pong-lost-query", file: "machine-pong-lost-query.pcap", kind: "dns-tftp", link: "pcap/ethernet", s: s,
		loops: []famFlow{{id: id, name: "L1", class: "tftp"}}, pcap: PcapFormat{Link: LinkEthernet},
		edit: func(frames []Frame) ([]Frame, error) {
			if err := checkRoles(frames, map[int]Role{121: RoleTriggerQuery, 122: RoleTriggerResponse}); err != nil {
				return nil, err
			}
			out := dropFrames(frames, 121)
			// The referral nobody asked for is now the loop's first
			// packet: the TFTP server reacted to it.
			out[120].Role = RoleLoopServer
			return out, nil
		},
		notes: "testdata/pcaps/machine-pong.pcap without its frame 121 (the trigger query only; editcap machine-pong.pcap out.pcap 121): the referral from 192.0.2.1:53, now frame 121, is an answer nobody (in the capture) asked for, and the TFTP server reacts to it; this truth counts it as the loop's first packet, so 301 packets from frame 121 (as issue 9 counts). A detector that starts the loop at the first non-DNS packet (frame 122) reports 300, within the 2% tolerance, but names another first frame",
	}.build()
}

func famNTPMode7() (FamilySample, error) {
	s, err := newFamily(113, sec(5), 250, false, Link{Type: LinkSLL, Host: mustAddr(serverV4)})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "ntp-mode7",
		A:     svc("198.51.100.123:123", NTPMode7Error(NTPErrReq), ms(1.0), us(450), 54),
		B:     svc("192.0.2.1:123", NTPMode7Error(NTPErrImpl), us(110), us(90), 64),
		First: NTPMode7(true, 3, 42, NTPErrNoData), SpoofTTL: 120,
		Start: at(sec(3.2) + us(999)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "ntp-mode7", file: "ntp-mode7.pcap", kind: "ntp-mode7", link: "pcap/linux-sll", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkSLL},
		notes: "Linux cooked capture on the NTP server 192.0.2.1. ntpd mode 7 error loop (CVE-2009-3563) between 198.51.100.123:123 and 192.0.2.1:123: one spoofed mode 7 error response (R bit set, MON_GETLIST_1, error 4) 'from' 198.51.100.123 (TTL 120, its own is 54) at 3.2 s; each ntpd answers every mode 7 response with its own 8-byte error response (error 2 and error 1). Runs to the end",
	}.build()
}

func famSlow() (FamilySample, error) {
	s, err := newFamily(114, sec(22), 100, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "echo-echo",
		A:     svc("198.51.100.77:7", Echo(), ms(95), ms(10), 49),
		B:     svc("192.0.2.77:7", Echo(), ms(95), ms(10), 64),
		First: []byte("ping 0001 from the other side\r\n"), SpoofTTL: 61,
		Start: at(sec(4) + us(1)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "slow-10pps", file: "slow-10pps.pcap", kind: "echo-echo", link: "pcap/ethernet", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "a slow loop: echo (198.51.100.77:7) <-> echo (192.0.2.77:7) at about 10 packets/s (each side reacts after 95-105 ms: long paths and rate-limited servers), started at 4 s by one spoofed datagram 'from' 198.51.100.77 (TTL 61, its own is 49); the same payload bounces for 18 s to the end of the capture. Under default rate thresholds a detector may need a flag to see it",
	}.build()
}

func famTFTP1069() (FamilySample, error) {
	s, err := newFamily(115, sec(5), 250, false, Link{Type: LinkRaw, Resolution: time.Nanosecond})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "tftp-tftp",
		A:     svc("198.51.100.10:1069", TFTPErrorReply(TFTPErrUnknownTID, TFTPMsgUnknownTID), ms(1.1)+13, us(250), 60),
		B:     svc("192.0.2.10:1069", TFTPErrorReply(TFTPErrIllegalOp, TFTPMsgIllegalOp), us(80)+7, us(40), 64),
		First: TFTPError(TFTPErrUnknownTID, TFTPMsgUnknownTID), SpoofTTL: 36,
		Start: at(sec(3.4) + 17),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "tftp-tftp-1069", file: "tftp-tftp-1069.pcapng", kind: "tftp-tftp", link: "pcapng/raw-ns", s: s,
		loops:  []famFlow{{id: id, name: "L1", class: "tftp"}},
		ifaces: []Interface{{Name: "tun0", Link: LinkRaw, TsResol: 9}}, servicePorts: []uint16{PortTFTPAlt},
		notes: "pcapng, raw IP, nanosecond timestamps. TFTP <-> TFTP on the non-standard port 1069 at both ends (198.51.100.10:1069 answers error 5 'Unknown transfer ID', 192.0.2.10:1069 answers error 4 'Illegal TFTP operation'), started at 3.4 s by one spoofed error 'from' 198.51.100.10 (TTL 36, its own is 60). Port 1069 is no well-known service: the detector needs --service-port 1069, or rules that see two fixed ports answering errors with errors. Runs to the end",
	}.build()
}

func famAtStart() (FamilySample, error) {
	s, err := newFamily(116, sec(6), 200, false, Link{Type: LinkEthernet, Resolution: time.Nanosecond})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPingPong(PingPong{
		Kind:  "qotd-chargen",
		A:     svc("198.51.100.17:17", QOTD(true), ms(1.3)+11, us(500), 51),
		B:     svc("192.0.2.19:19", Chargen(1), us(75)+5, us(50), 64),
		First: []byte(Quotes()[0]), SpoofTTL: 45,
		Start: at(-sec(5) + 123456), Until: at(sec(2)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "at-start", file: "at-start.pcap", kind: "qotd-chargen", link: "pcap/ethernet-ns", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet, Nanos: true},
		notes: "nanosecond pcap. A QOTD (198.51.100.17:17, random quotes) <-> chargen (192.0.2.19:19) loop already running when the capture starts (it began 5 s earlier with a spoofed packet the capture did not see): the first captured loop packet is the loop's first packet, not spoofed. It stops at 2 s, more than 2 s before the end: not ongoing",
	}.build()
}

func famTwoLoopsSamePair() (FamilySample, error) {
	s, err := newFamily(117, sec(8), 150, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	mk := func(start, until time.Time, spoofTTL uint8) (LoopID, error) {
		return s.AddPingPong(PingPong{
			Kind:  "daytime-echo",
			A:     svc("198.51.100.31:7", Echo(), ms(1.1), us(400), 53),
			B:     svc("192.0.2.13:13", Daytime(0), us(90), us(60), 64),
			First: []byte("\r\n"), SpoofTTL: spoofTTL,
			Start: start, Until: until,
		})
	}
	a, err := mk(at(sec(0.8)+us(3)), at(sec(2.3)), 39)
	if err != nil {
		return FamilySample{}, err
	}
	b, err := mk(at(sec(6.6)+us(9)), time.Time{}, 46)
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "two-loops-same-pair", file: "two-loops-same-pair.pcap", kind: "daytime-echo", link: "pcap/ethernet", s: s,
		loops: loopsOf(a, b), pcap: PcapFormat{Link: LinkEthernet},
		notes: "two loops on one pair, echo (198.51.100.31:7) <-> daytime (192.0.2.13:13), each started by one spoofed datagram 'from' the echo host (TTL 39, then 46; its own is 53): L1 from 0.8 s to 2.3 s (stopped, not ongoing), L2 from 6.6 s to the end; the pair is silent for about 4.3 s between them, more than --idle 2 s: two findings",
	}.build()
}

func famJitterWide() (FamilySample, error) {
	s, err := newFamily(118, sec(12), 120, true, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	wide := Delay{Base: us(100), Jitter: ms(19.9), TailProb: 0.004, TailScale: ms(10), TailMax: ms(250)}
	id, err := s.AddPingPong(PingPong{
		Kind:  "echo-chargen",
		A:     Side{Addr: mustAP("[2001:db8::7]:7"), Responder: Echo(), Delay: wide, TTL: 64},
		B:     Side{Addr: mustAP("[2001:db8:19::13]:19"), Responder: Chargen(1), Delay: wide, TTL: 57},
		First: []byte("x"), SpoofTTL: 250,
		Start: at(sec(3) + us(45)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "jitter-wide", file: "jitter-wide.pcap", kind: "echo-chargen", link: "pcap/ethernet", s: s,
		loops: loopsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "IPv6 echo ([2001:db8::7]:7) <-> chargen ([2001:db8:19::13]:19) whose reaction times jitter widely on both sides: uniform 0.1-20 ms, plus rare heavy-tailed outliers up to 250 ms (see max_gap_ms); about 100 packets/s. Started at 3 s by one spoofed datagram 'from' the echo host (hop limit 250, its own is 64). Runs to the end",
	}.build()
}

func famLoss() (FamilySample, error) {
	// The loop dies at its first lost packet; with 1% loss its length is
	// random. Take the first seed from 119 whose loop lasts 400 to 1500
	// packets, long enough to be a loop and short enough to die well
	// before the end.
	for seed := uint64(119); seed < 119+500; seed++ {
		s, err := newFamily(seed, sec(6), 250, false, ethernet())
		if err != nil {
			return FamilySample{}, err
		}
		id, err := s.AddPingPong(PingPong{
			Kind:  "tftp-dns",
			A:     svc("198.51.100.96:69", TFTPErrorReply(TFTPErrUnknownTID, TFTPMsgUnknownTID), ms(1.6), us(700), 47),
			B:     svc(server53, DNSError(layers.DNSResponseCodeFormErr, false), us(100), us(60), 64),
			First: TFTPError(TFTPErrUnknownTID, TFTPMsgUnknownTID), SpoofTTL: 52,
			Start: at(sec(1.2) + us(202)), Loss: 0.01,
		})
		if err != nil {
			return FamilySample{}, err
		}
		n := 0
		for _, e := range s.events {
			if e.loop == id {
				n++
			}
		}
		if n < 400 || n > 1500 {
			continue
		}
		return familySpec{
			name: "loss-1pct", file: "loss-1pct.pcap", kind: "tftp-dns", link: "pcap/ethernet", s: s,
			loops: []famFlow{{id: id, name: "L1", class: "tftp"}}, pcap: PcapFormat{Link: LinkEthernet},
			notes: fmt.Sprintf("TFTP (198.51.100.96:69, error 5) <-> DNS (192.0.2.1:53, FORMERR) on a path losing 1%% of packets (seed %d), started at 1.2 s by one spoofed TFTP error (TTL 52, the TFTP server's own is 47): the loop dies at its first lost packet, after %d packets; the last one is captured but never answered. Not ongoing", seed, n),
		}.build()
	}
	return FamilySample{}, fmt.Errorf("synth: no seed gives a loss-1pct loop of 400 to 1500 packets")
}

// Traps.

func trapsOf(ids ...LoopID) []famFlow {
	out := make([]famFlow, len(ids))
	for i, id := range ids {
		out[i] = famFlow{id: id, name: fmt.Sprintf("T%d", i+1)}
	}
	return out
}

func famTrapEchoClient() (FamilySample, error) {
	s, err := newFamily(201, sec(6), 200, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPoll(Poll{
		Kind:   "echo-client",
		Client: Side{Addr: mustAP("198.51.100.50:51234"), TTL: 57},
		Server: svc("192.0.2.7:7", Echo(), us(60), us(40), 64),
		Request: func(i int, now time.Time, _ *rand.Rand) []byte {
			return fmt.Appendf(nil, "seq=%06d t=%d.%06d probe", i, now.Unix(), now.Nanosecond()/1000)
		},
		Start: at(sec(0.5) + us(5)), Interval: ms(9.8), Jitter: us(400), Until: at(sec(5.7)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "trap-echo-client", file: "trap-echo-client.pcap", kind: "trap-echo-client", link: "pcap/ethernet", s: s,
		traps: trapsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "trap, not a loop: an echo client on an ephemeral port (198.51.100.50:51234) sends numbered probes at 100/s to the echo server 192.0.2.7:7, which echoes each one. Strict alternation and the echo relation hold, but every request is the client's own: it comes on the client's own 10 ms schedule, not as a reaction to the echo (which arrives 0.1 ms after the request), the client is on an ephemeral port, and each payload is new",
	}.build()
}

func famTrapNTPClient() (FamilySample, error) {
	s, err := newFamily(202, sec(6), 200, false, Link{Type: LinkRaw})
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPoll(Poll{
		Kind:    "ntp-client",
		Client:  Side{Addr: mustAP("198.51.100.51:38123"), TTL: 63},
		Server:  svc("192.0.2.1:123", NTPServer(), us(40), us(30), 64),
		Request: func(_ int, now time.Time, _ *rand.Rand) []byte { return NTP(NTPModeClient, now) },
		Start:   at(sec(0.3) + us(77)), Interval: ms(19.5), Jitter: ms(1), Until: at(sec(5.8)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "trap-ntp-client", file: "trap-ntp-client.pcap", kind: "trap-ntp-client", link: "pcap/raw", s: s,
		traps: trapsOf(id), pcap: PcapFormat{Link: LinkRaw},
		notes: "raw IP. Trap, not a loop: an NTP client on an ephemeral port (198.51.100.51:38123) polls 192.0.2.1:123 at 50/s (mode 3) with a new transmit timestamp each time; the server answers each with mode 4. Client/server modes, the client's own 20 ms schedule and an ephemeral client port make it request/response",
	}.build()
}

func famTrapChargenPoller() (FamilySample, error) {
	s, err := newFamily(203, sec(5), 200, false, ethernet(7))
	if err != nil {
		return FamilySample{}, err
	}
	id, err := s.AddPoll(Poll{
		Kind:    "chargen-poller",
		Client:  Side{Addr: mustAP("198.51.100.52:40019"), TTL: 116},
		Server:  svc("192.0.2.19:19", Chargen(1), us(70), us(40), 64),
		Request: func(int, time.Time, *rand.Rand) []byte { return []byte("\n") },
		Start:   at(sec(0.2) + us(1)), Interval: ms(5), Jitter: ms(5), Until: at(sec(4.8)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "trap-chargen-poller", file: "trap-chargen-poller.pcap", kind: "trap-chargen-poller", link: "pcap/ethernet-802.1q", s: s,
		traps: trapsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "802.1Q (VLAN 7). Trap, not a loop: a chargen poller on an ephemeral port (198.51.100.52:40019) sends a 1-byte datagram every 5-10 ms (about 130/s) to chargen 192.0.2.19:19, which answers each with the next line. The client's requests are its own (same byte, own schedule), not reactions to chargen's lines",
	}.build()
}

func famTrapForwarder() (FamilySample, error) {
	s, err := newFamily(204, sec(4), 200, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	fwd, up := mustAP("192.0.2.53:53"), mustAP("198.51.100.1:53")
	id := s.Track(0, fwd, up, "forwarder")
	r := s.Rand()
	names, types := noiseNames(), noiseTypes()
	t := at(sec(0.1))
	for {
		t = t.Add(time.Duration(r.ExpFloat64() / 400 * float64(time.Second)))
		if !t.Before(at(sec(3.9))) {
			break
		}
		q := Query{ID: uint16(r.Uint32()), Name: names[r.IntN(len(names))], Type: types[r.IntN(len(types))], RD: true, EDNS: true}
		kind := []ResponseKind{Answer, Answer, Referral, NXDomain}[r.IntN(4)]
		qb, err := DNSQuery(q)
		if err != nil {
			return FamilySample{}, err
		}
		rb, err := DNSResponse(q, kind, 0)
		if err != nil {
			return FamilySample{}, err
		}
		if err := s.AddTracked(id, t, Datagram{Src: fwd, Dst: up, Payload: qb, TTL: 64}); err != nil {
			return FamilySample{}, err
		}
		rtt := ms(2) + time.Duration(r.Int64N(int64(ms(28))))
		if err := s.AddTracked(id, t.Add(rtt), Datagram{Src: up, Dst: fwd, Payload: rb, TTL: 58}); err != nil {
			return FamilySample{}, err
		}
	}
	return familySpec{
		name: "trap-forwarder", file: "trap-forwarder.pcap", kind: "trap-forwarder", link: "pcap/ethernet", s: s,
		traps: trapsOf(id), pcap: PcapFormat{Link: LinkEthernet},
		notes: "trap, not a loop: a forwarder using source port 53 (192.0.2.53:53, query-source port 53) sends about 400 queries/s to its upstream 198.51.100.1:53; each query has a fresh ID and is answered by a matching response 2-30 ms later, so queries overlap. Both ends are on port 53, but queries answer nothing: each response matches an earlier query of the forwarder's own, and no response is ever answered",
	}.build()
}

func famTrapOneWayFlood() (FamilySample, error) {
	s, err := newFamily(205, sec(5), 200, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	victim := netip.MustParseAddr("192.0.2.250")
	var ids []LoopID
	add := func(kind, src string, dport uint16, every time.Duration, req func(int, time.Time, *rand.Rand) []byte) error {
		id, err := s.AddPoll(Poll{
			Kind: kind, Client: Side{Addr: mustAP(src), TTL: 50}, Server: Side{Addr: netip.AddrPortFrom(victim, dport), TTL: 64},
			Request: req, Start: at(sec(1) + every), Interval: every, Jitter: every / 2, Until: at(sec(2.5)), NoReply: true,
		})
		ids = append(ids, id)
		return err
	}
	line := 0
	if err := add("chargen-flood", "198.51.100.19:19", 31337, ms(1), func(int, time.Time, *rand.Rand) []byte {
		line++
		return ChargenLine(line)
	}); err != nil {
		return FamilySample{}, err
	}
	if err := add("ntp-flood", "198.51.100.123:123", 31337, ms(3), func(int, time.Time, *rand.Rand) []byte {
		return append(NTPMode7(true, 3, 42, 0), make([]byte, 432)...)
	}); err != nil {
		return FamilySample{}, err
	}
	if err := add("dns-flood", "198.51.100.53:53", 8080, ms(4), func(i int, _ time.Time, r *rand.Rand) []byte {
		b, _ := DNSResponse(Query{ID: uint16(r.Uint32()), Name: "example.uk", Type: layers.DNSTypeTXT}, Answer, 0)
		return b
	}); err != nil {
		return FamilySample{}, err
	}
	return familySpec{
		name: "trap-oneway-flood", file: "trap-oneway-flood.pcap", kind: "trap-oneway-flood", link: "pcap/ethernet", s: s,
		traps: trapsOf(ids...), pcap: PcapFormat{Link: LinkEthernet},
		notes: "trap, not a loop: one-way reflection floods toward the victim 192.0.2.250 from service source ports, never answered: chargen lines from 198.51.100.19:19 (~800/s), 440-byte NTP mode 7 responses from 198.51.100.123:123 (~270/s), DNS TXT responses from 198.51.100.53:53 (~200/s), for 1.5 s. No back and forth",
	}.build()
}

// snmpGet returns a minimal SNMPv2c GetRequest (get is false: a
// GetResponse carrying value) for sysUpTime.0 with request ID id.
func snmpGet(id uint32, get bool, value uint32) []byte {
	tlv := func(tag byte, body []byte) []byte { return append([]byte{tag, byte(len(body))}, body...) }
	oid := tlv(0x06, []byte{0x2b, 6, 1, 2, 1, 1, 3, 0})
	val := []byte{0x05, 0x00}
	pdu := byte(0xa0)
	if !get {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], value)
		val, pdu = tlv(0x43, b[:]), 0xa2
	}
	var rid [4]byte
	binary.BigEndian.PutUint32(rid[:], id&0x7fffffff)
	vb := tlv(0x30, tlv(0x30, append(oid, val...)))
	body := append(tlv(0x02, rid[:]), tlv(0x02, []byte{0})...)
	body = append(body, tlv(0x02, []byte{0})...)
	body = append(body, vb...)
	msg := append(tlv(0x02, []byte{1}), tlv(0x04, []byte("public"))...)
	msg = append(msg, tlv(pdu, body)...)
	return tlv(0x30, msg)
}

func famTrapRequestResponse() (FamilySample, error) {
	s, err := newFamily(206, sec(10), 150, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	// SNMP polling at 40/s from a manager on an ephemeral port.
	uptime := uint32(123456)
	snmp, err := s.AddPoll(Poll{
		Kind:   "snmp-poller",
		Client: Side{Addr: mustAP("192.0.2.200:48161"), TTL: 64},
		Server: Side{Addr: mustAP("198.51.100.161:161"), TTL: 253, Delay: Delay{Base: us(300), Jitter: us(500)},
			Responder: ResponderFunc(func(rx []byte, now time.Time, _ *rand.Rand) []byte {
				uptime += 2
				if len(rx) < 21 {
					return nil
				}
				return snmpGet(binary.BigEndian.Uint32(rx[17:21]), false, uptime)
			})},
		Request: func(i int, _ time.Time, _ *rand.Rand) []byte { return snmpGet(uint32(1000+i), true, 0) },
		Start:   at(sec(0.4)), Interval: ms(25), Jitter: ms(1), Until: at(sec(9.6)),
	})
	if err != nil {
		return FamilySample{}, err
	}
	// A DNS client retrying one query (same ID, same port) with backoff;
	// only the last try is answered.
	client, server := mustAP("198.51.100.99:45454"), mustAP(server53)
	retry := s.Track(0, client, server, "dns-retry")
	q := Query{ID: 0x7777, Name: "slow.example.uk", RD: true}
	qb, err := DNSQuery(q)
	if err != nil {
		return FamilySample{}, err
	}
	rb, err := DNSResponse(q, NXDomain, 0)
	if err != nil {
		return FamilySample{}, err
	}
	t := at(sec(1))
	for i, wait := range []float64{1, 2, 2, 3} {
		if err := s.AddTracked(retry, t, Datagram{Src: client, Dst: server, Payload: qb, TTL: 54}); err != nil {
			return FamilySample{}, err
		}
		if i == 3 {
			if err := s.AddTracked(retry, t.Add(ms(0.4)), Datagram{Src: server, Dst: client, Payload: rb, TTL: 64}); err != nil {
				return FamilySample{}, err
			}
		}
		t = t.Add(sec(wait))
	}
	// NTP symmetric peering at 1/s: both peers on 123 send mode 1 on
	// their own schedules.
	p1, p2 := mustAP("192.0.2.1:123"), mustAP("198.51.100.124:123")
	peer := s.Track(0, p1, p2, "ntp-peering")
	for i := range 10 {
		ta := at(sec(0.25) + time.Duration(i)*time.Second + time.Duration(s.Rand().IntN(2000))*time.Microsecond)
		tb := at(sec(0.61) + time.Duration(i)*time.Second + time.Duration(s.Rand().IntN(2000))*time.Microsecond)
		if err := s.AddTracked(peer, ta, Datagram{Src: p1, Dst: p2, Payload: NTP(1, ta), TTL: 64}); err != nil {
			return FamilySample{}, err
		}
		if err := s.AddTracked(peer, tb, Datagram{Src: p2, Dst: p1, Payload: NTP(1, tb), TTL: 59}); err != nil {
			return FamilySample{}, err
		}
	}
	return familySpec{
		name: "trap-request-response", file: "trap-request-response.pcapng", kind: "trap-request-response", link: "pcapng/ethernet", s: s,
		traps: trapsOf(snmp, retry, peer), ifaces: []Interface{{Name: "eth0", Link: LinkEthernet, TsResol: 6}},
		notes: "pcapng. Traps, not loops: SNMP-like polling of 198.51.100.161:161 by a manager on an ephemeral port (192.0.2.200:48161) at 40/s, each GetRequest with a new request ID answered by one GetResponse; a DNS client (198.51.100.99:45454) retrying one query (ID 0x7777) four times with backoff, only the last try answered; NTP symmetric peering between 192.0.2.1:123 and 198.51.100.124:123 at 1/s, each peer sending mode 1 on its own schedule (server to server and alternating, but nobody reacts to anybody)",
	}.build()
}

func famTrapTFTPTransfer() (FamilySample, error) {
	s, err := newFamily(207, sec(3), 250, false, ethernet())
	if err != nil {
		return FamilySample{}, err
	}
	client, server, tid := mustAP("198.51.100.70:50123"), mustAP("192.0.2.69:69"), mustAP("192.0.2.69:61234")
	rrq := s.Track(0, client, server, "tftp-rrq")
	data := s.Track(0, client, tid, "tftp-transfer")
	t := at(sec(0.8) + us(31))
	req := append([]byte{0, 1}, "firmware-v2.bin\x00octet\x00"...)
	if err := s.AddTracked(rrq, t, Datagram{Src: client, Dst: server, Payload: req, TTL: 62}); err != nil {
		return FamilySample{}, err
	}
	const size = 200*1024 + 123
	r := s.Rand()
	for block, off := 1, 0; ; block++ {
		t = t.Add(us(150) + time.Duration(r.Int64N(int64(us(120)))))
		n := min(512, size-off)
		pkt := make([]byte, 4+n)
		binary.BigEndian.PutUint16(pkt[0:2], 3)
		binary.BigEndian.PutUint16(pkt[2:4], uint16(block))
		for i := range n {
			pkt[4+i] = byte((off + i) * 7 / 3)
		}
		if err := s.AddTracked(data, t, Datagram{Src: tid, Dst: client, Payload: pkt, TTL: 64}); err != nil {
			return FamilySample{}, err
		}
		t = t.Add(us(500) + time.Duration(r.Int64N(int64(us(300)))))
		ack := []byte{0, 4, byte(block >> 8), byte(block)}
		if err := s.AddTracked(data, t, Datagram{Src: client, Dst: tid, Payload: ack, TTL: 62}); err != nil {
			return FamilySample{}, err
		}
		off += n
		if n < 512 {
			break
		}
	}
	return familySpec{
		name: "trap-tftp-transfer", file: "trap-tftp-transfer.pcap", kind: "trap-tftp-transfer", link: "pcap/ethernet", s: s,
		traps: trapsOf(rrq, data), pcap: PcapFormat{Link: LinkEthernet},
		notes: "trap, not a loop: a genuine TFTP download. RRQ 'firmware-v2.bin' (octet) from 198.51.100.70:50123 to 192.0.2.69:69, then DATA from the server's transfer port 192.0.2.69:61234 and ACKs alternating strictly with short reaction times, block numbers counting up, 401 blocks, ending with a short DATA block (123 bytes) and its ACK. Lockstep, but a transfer between two ephemeral ports that ends by itself, not two services answering each other",
	}.build()
}
