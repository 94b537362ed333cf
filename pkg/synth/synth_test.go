package synth

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var (
	testClient = netip.MustParseAddrPort("198.51.100.200:22772")
	testServer = netip.MustParseAddrPort("192.0.2.1:53")
	testT0     = time.Date(2016, 2, 8, 13, 0, 0, 0, time.UTC)
)

// testPackets returns n Ethernet frames of varying size with nanosecond
// timestamps.
func testPackets(t *testing.T, n int) []Packet {
	t.Helper()
	link := Link{Type: LinkEthernet}
	var pkts []Packet
	for i := range n {
		frames, err := link.Frames(Datagram{Src: testClient, Dst: testServer, Payload: bytes.Repeat([]byte{byte(i)}, 10+i*7)})
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, Packet{Time: testT0.Add(time.Duration(i)*time.Millisecond + 123456789), Data: frames[0]})
	}
	return pkts
}

func TestWritePcapReadBack(t *testing.T) {
	tests := []struct {
		name   string
		format PcapFormat
		magic  []byte
		res    time.Duration
	}{
		{"le-usec", PcapFormat{Link: LinkEthernet}, []byte{0xd4, 0xc3, 0xb2, 0xa1}, time.Microsecond},
		{"le-nsec", PcapFormat{Link: LinkEthernet, Nanos: true}, []byte{0x4d, 0x3c, 0xb2, 0xa1}, time.Nanosecond},
		{"be-usec", PcapFormat{Link: LinkEthernet, BigEndian: true}, []byte{0xa1, 0xb2, 0xc3, 0xd4}, time.Microsecond},
		{"be-nsec", PcapFormat{Link: LinkEthernet, BigEndian: true, Nanos: true}, []byte{0xa1, 0xb2, 0x3c, 0x4d}, time.Nanosecond},
		{"snaplen", PcapFormat{Link: LinkEthernet, Snaplen: 64}, []byte{0xd4, 0xc3, 0xb2, 0xa1}, time.Microsecond},
		{"be-snaplen-sll2", PcapFormat{Link: LinkSLL2, Snaplen: 64, BigEndian: true}, []byte{0xa1, 0xb2, 0xc3, 0xd4}, time.Microsecond},
	}
	pkts := testPackets(t, 12)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WritePcap(&buf, tt.format, pkts); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), tt.magic) {
				t.Fatalf("magic % x, want % x", buf.Bytes()[:4], tt.magic)
			}
			if got, want := buf.Len(), PcapRecordEnd(tt.format, pkts, len(pkts)); got != want {
				t.Errorf("file size %d, PcapRecordEnd says %d", got, want)
			}
			r, err := pcapgo.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != tt.format.Link {
				t.Errorf("link type %v, want %v", r.LinkType(), tt.format.Link)
			}
			wantSnap := tt.format.Snaplen
			if wantSnap == 0 {
				wantSnap = DefaultSnaplen
			}
			if r.Snaplen() != wantSnap {
				t.Errorf("snaplen %d, want %d", r.Snaplen(), wantSnap)
			}
			for i, p := range pkts {
				data, ci, err := r.ReadPacketData()
				if err != nil {
					t.Fatalf("packet %d: %v", i+1, err)
				}
				if want := p.Time.Truncate(tt.res); !ci.Timestamp.Equal(want) {
					t.Errorf("packet %d: time %v, want %v", i+1, ci.Timestamp, want)
				}
				want := cut(p.Data, wantSnap)
				if !bytes.Equal(data, want) || ci.Length != len(p.Data) {
					t.Errorf("packet %d: caplen %d origlen %d, want %d %d", i+1, len(data), ci.Length, len(want), len(p.Data))
				}
			}
			if _, _, err := r.ReadPacketData(); !errors.Is(err, io.EOF) {
				t.Errorf("after last packet: %v, want EOF", err)
			}
		})
	}
}

func TestWritePcapngReadBack(t *testing.T) {
	ifaces := []Interface{
		{Name: "eth0", Link: LinkEthernet, TsResol: 6},
		{Name: "tun0", Link: LinkRaw, TsResol: 9},
		{Name: "lo0", Link: LinkNull, Snaplen: 40},
	}
	links := []Link{{Type: LinkEthernet}, {Type: LinkRaw}, {Type: LinkNull}}
	var pkts []Packet
	for i := range 30 {
		iface := i % len(ifaces)
		frames, err := links[iface].Frames(Datagram{Src: testClient, Dst: testServer, Payload: TFTPError(4, TFTPMsgRRQFirst)})
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, Packet{Time: testT0.Add(time.Duration(i) * 1234567), Data: frames[0], Iface: iface})
	}
	var buf bytes.Buffer
	if err := WritePcapng(&buf, ifaces, pkts); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(&buf, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: %v", i+1, err)
		}
		if ci.InterfaceIndex != p.Iface {
			t.Errorf("packet %d: interface %d, want %d", i+1, ci.InterfaceIndex, p.Iface)
		}
		res := time.Microsecond
		if ifaces[p.Iface].TsResol == 9 {
			res = time.Nanosecond
		}
		if want := p.Time.Truncate(res); !ci.Timestamp.Equal(want) {
			t.Errorf("packet %d: time %v, want %v", i+1, ci.Timestamp, want)
		}
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); !ok || lt != ifaces[p.Iface].Link {
			t.Errorf("packet %d: link type %v, want %v", i+1, ci.AncillaryData[0], ifaces[p.Iface].Link)
		}
		want := cut(p.Data, ifaces[p.Iface].Snaplen)
		if !bytes.Equal(data, want) || ci.Length != len(p.Data) {
			t.Errorf("packet %d: caplen %d origlen %d, want %d %d", i+1, len(data), ci.Length, len(want), len(p.Data))
		}
	}
	if _, _, err := r.ReadPacketData(); !errors.Is(err, io.EOF) {
		t.Errorf("after last packet: %v, want EOF", err)
	}
	if r.NInterfaces() != len(ifaces) {
		t.Fatalf("%d interfaces, want %d", r.NInterfaces(), len(ifaces))
	}
	for i, want := range ifaces {
		got, err := r.Interface(i)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != want.Name || got.LinkType != want.Link {
			t.Errorf("interface %d: %q %v, want %q %v", i, got.Name, got.LinkType, want.Name, want.Link)
		}
	}
}

func TestGzipReadBack(t *testing.T) {
	pkts := testPackets(t, 5)
	var buf bytes.Buffer
	if err := WritePcap(&buf, PcapFormat{Link: LinkEthernet}, pkts); err != nil {
		t.Fatal(err)
	}
	gz, err := Gzip(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	again, err := Gzip(buf.Bytes())
	if err != nil || !bytes.Equal(gz, again) {
		t.Fatalf("gzip is not deterministic (err %v)", err)
	}
	r, err := pcapgo.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			break
		}
		n++
	}
	if n != len(pkts) {
		t.Errorf("read %d packets, want %d", n, len(pkts))
	}
}

// decodeUDP decodes a frame of the given link type and returns its UDP
// layer. Errors above UDP are expected: the payload is not DNS.
func decodeUDP(t *testing.T, lt layers.LinkType, frame []byte) *layers.UDP {
	t.Helper()
	p := gopacket.NewPacket(frame, lt, gopacket.Default)
	udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok {
		t.Fatalf("no udp layer in %v", p)
	}
	return udp
}

func TestLinkFrames(t *testing.T) {
	v6c := netip.MustParseAddrPort("[2001:db8:1::2]:44444")
	v6s := netip.MustParseAddrPort("[2001:db8::1]:53")
	tests := []struct {
		name     string
		link     Link
		v6       bool
		linkHdr  int
		checkHdr func(t *testing.T, b []byte)
	}{
		{name: "ethernet", link: Link{Type: LinkEthernet}, linkHdr: 14},
		{name: "ethernet-v6", link: Link{Type: LinkEthernet}, v6: true, linkHdr: 14},
		{name: "dot1q", link: Link{Type: LinkEthernet, VLANs: []uint16{100}}, linkHdr: 18, checkHdr: func(t *testing.T, b []byte) {
			if binary.BigEndian.Uint16(b[12:]) != 0x8100 {
				t.Errorf("tpid %#x", binary.BigEndian.Uint16(b[12:]))
			}
		}},
		{name: "qinq", link: Link{Type: LinkEthernet, VLANs: []uint16{200, 100}, QinQ: true}, linkHdr: 22, checkHdr: func(t *testing.T, b []byte) {
			if binary.BigEndian.Uint16(b[12:]) != 0x88a8 || binary.BigEndian.Uint16(b[16:]) != 0x8100 {
				t.Errorf("tpids %#x %#x", binary.BigEndian.Uint16(b[12:]), binary.BigEndian.Uint16(b[16:]))
			}
		}},
		{name: "sll", link: Link{Type: LinkSLL, Host: testServer.Addr()}, linkHdr: 16, checkHdr: func(t *testing.T, b []byte) {
			if binary.BigEndian.Uint16(b[0:2]) != sllHost {
				t.Errorf("packet type %d, want host", binary.BigEndian.Uint16(b[0:2]))
			}
		}},
		{name: "sll2-v6", link: Link{Type: LinkSLL2, Host: v6c.Addr()}, v6: true, linkHdr: 20, checkHdr: func(t *testing.T, b []byte) {
			if b[10] != sllOutgoing || binary.BigEndian.Uint16(b[0:2]) != 0x86dd {
				t.Errorf("packet type %d protocol %#x", b[10], binary.BigEndian.Uint16(b[0:2]))
			}
		}},
		{name: "raw", link: Link{Type: LinkRaw}, linkHdr: 0},
		{name: "null", link: Link{Type: LinkNull}, linkHdr: 4, checkHdr: func(t *testing.T, b []byte) {
			if binary.LittleEndian.Uint32(b) != afINET {
				t.Errorf("family % x", b[:4])
			}
		}},
		{name: "loop-v6", link: Link{Type: LinkLoop}, v6: true, linkHdr: 4, checkHdr: func(t *testing.T, b []byte) {
			if binary.BigEndian.Uint32(b) != afINET6 {
				t.Errorf("family % x", b[:4])
			}
		}},
	}
	payload := TFTPError(TFTPErrIllegalOp, TFTPMsgRRQFirst)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Datagram{Src: testClient, Dst: testServer, Payload: payload, TTL: 52}
			ipHdr := 20
			if tt.v6 {
				d.Src, d.Dst, ipHdr = v6c, v6s, 40
			}
			frames, err := tt.link.Frames(d)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != 1 {
				t.Fatalf("%d frames, want 1", len(frames))
			}
			b := frames[0]
			if want := tt.linkHdr + ipHdr + 8 + len(payload); len(b) != want && !(tt.link.Type == LinkEthernet && len(b) == 60) {
				t.Errorf("frame length %d, want %d", len(b), want)
			}
			if tt.checkHdr != nil {
				tt.checkHdr(t, b)
			}
			udp := decodeUDP(t, tt.link.Type, b)
			if uint16(udp.SrcPort) != d.Src.Port() || uint16(udp.DstPort) != d.Dst.Port() || !bytes.Equal(udp.Payload, payload) {
				t.Errorf("udp %d->%d payload %q", udp.SrcPort, udp.DstPort, udp.Payload)
			}
		})
	}
}

func TestIPPacketsFragments(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		d := Datagram{Src: testClient, Dst: testServer, Payload: bytes.Repeat([]byte("x"), 3000), ID: 0x1234}
		hdr := 20
		if v6 {
			d.Src = netip.MustParseAddrPort("[2001:db8:1::2]:44444")
			d.Dst = netip.MustParseAddrPort("[2001:db8::1]:53")
			hdr = 48
		}
		pkts, err := IPPackets(d, 1500)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkts) != 3 {
			t.Fatalf("v6=%v: %d fragments, want 3", v6, len(pkts))
		}
		var body []byte
		for i, p := range pkts {
			if len(p) > 1500 {
				t.Errorf("v6=%v: fragment %d is %d bytes", v6, i, len(p))
			}
			var off int
			var more bool
			if v6 {
				if p[6] != byte(layers.IPProtocolIPv6Fragment) {
					t.Fatalf("fragment %d: next header %d", i, p[6])
				}
				fo := binary.BigEndian.Uint16(p[42:44])
				off, more = int(fo>>3)*8, fo&1 == 1
				if binary.BigEndian.Uint32(p[44:48]) != d.ID {
					t.Errorf("fragment %d: id %#x", i, binary.BigEndian.Uint32(p[44:48]))
				}
			} else {
				ff := binary.BigEndian.Uint16(p[6:8])
				off, more = int(ff&0x1fff)*8, ff&0x2000 != 0
			}
			if off != len(body) || more != (i < len(pkts)-1) {
				t.Errorf("v6=%v fragment %d: offset %d more %v, want %d %v", v6, i, off, more, len(body), i < len(pkts)-1)
			}
			body = append(body, p[hdr:]...)
		}
		if len(body) != 8+len(d.Payload) || !bytes.Equal(body[8:], d.Payload) {
			t.Errorf("v6=%v: reassembled %d bytes", v6, len(body))
		}
	}
}

func TestPayloads(t *testing.T) {
	tftp := TFTPError(TFTPErrIllegalOp, TFTPMsgRRQFirst)
	if want := append([]byte{0, 5, 0, 4}, append([]byte(TFTPMsgRRQFirst), 0)...); !bytes.Equal(tftp, want) {
		t.Errorf("TFTPError = % x", tftp)
	}
	if got, want := FormErr(tftp), []byte{0, 5, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("FormErr = % x, want % x", got, want)
	}
	if got := FormErr([]byte{0xab}); !bytes.Equal(got[:4], []byte{0xab, 0, 0x80, 1}) {
		t.Errorf("FormErr(short) = % x", got)
	}
	q := Query{ID: 0xdc20, Name: "delegated.example.uk", EDNS: true}
	for _, kind := range []ResponseKind{Answer, Referral, NXDomain} {
		qb, err := DNSQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := DNSResponse(q, kind, 0)
		if err != nil {
			t.Fatal(err)
		}
		var dq, dr layers.DNS
		if err := dq.DecodeFromBytes(qb, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if err := dr.DecodeFromBytes(rb, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("%v: %v", kind, err)
		}
		if dq.QR || !dr.QR || dr.ID != q.ID || len(dr.Questions) != 1 || string(dr.Questions[0].Name) != q.Name {
			t.Errorf("%v: query/response mismatch", kind)
		}
		switch kind {
		case Referral:
			if len(dr.Authorities) != 2 || dr.Authorities[0].Type != layers.DNSTypeNS {
				t.Errorf("referral authorities %v", dr.Authorities)
			}
		case NXDomain:
			if dr.ResponseCode != layers.DNSResponseCodeNXDomain {
				t.Errorf("nxdomain rcode %v", dr.ResponseCode)
			}
		}
	}
	big, err := DNSResponse(q, Referral, 2400)
	if err != nil || len(big) < 2400 || len(big) > 2404 {
		t.Errorf("padded response %d bytes (err %v)", len(big), err)
	}
	ntp := NTP(NTPModeServer, testT0)
	if len(ntp) != 48 || ntp[0] != 0x24 || binary.BigEndian.Uint32(ntp[40:44]) != uint32(testT0.Unix()+ntpEpochOffset) {
		t.Errorf("NTP = % x", ntp)
	}
}

func TestLoopAndTruth(t *testing.T) {
	s := NewScenario(1, Link{Type: LinkEthernet})
	id, err := s.AddLoop(Loop{Client: testClient, Server: testServer, Start: testT0, Kind: Referral, Packets: 7})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	wantRoles := []Role{RoleTriggerQuery, RoleTriggerResponse, RoleLoopClient, RoleLoopServer, RoleLoopClient, RoleLoopServer, RoleLoopClient, RoleLoopServer, RoleLoopClient}
	if len(frames) != len(wantRoles) {
		t.Fatalf("%d frames, want %d", len(frames), len(wantRoles))
	}
	for i, f := range frames {
		if f.Role != wantRoles[i] || f.Loop != id {
			t.Errorf("frame %d: role %v loop %v", i+1, f.Role, f.Loop)
		}
	}
	lt, err := s.LoopTruth([]File{{Name: "x.pcap", Frames: frames}}, id, "L1")
	if err != nil {
		t.Fatal(err)
	}
	if lt.Packets != 7 || lt.Frames.TriggerQuery.Frame != 1 || lt.Frames.TriggerResponse.Frame != 2 || lt.Frames.FirstNonDNS.Frame != 3 || !lt.OngoingAtEnd {
		t.Errorf("truth %+v", lt)
	}
	if want := UnixSeconds(testT0.Add(1100 * time.Microsecond)); lt.Start != want {
		t.Errorf("start %v, want %v", lt.Start, want)
	}
	// Split across two files: references become pairs.
	lt2, err := s.LoopTruth([]File{{Name: "a.pcap", Frames: frames[:4]}, {Name: "b.pcap", Frames: frames[4:]}}, id, "L1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(lt2.Frames)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"trigger_query":["a.pcap",1],"trigger_response":["a.pcap",2],"first_non_dns":["a.pcap",3]}`; string(b) != want {
		t.Errorf("frames JSON %s, want %s", b, want)
	}
	var back LoopFrames
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, lt2.Frames) {
		t.Errorf("round trip %+v (err %v)", back, err)
	}
}

func TestSamplesDeterministic(t *testing.T) {
	a, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d samples, then %d", len(a), len(b))
	}
	total := 0
	for i := range a {
		if a[i].Name != b[i].Name || len(a[i].Files) != len(b[i].Files) {
			t.Fatalf("sample %d differs: %s vs %s", i, a[i].Name, b[i].Name)
		}
		for j := range a[i].Files {
			total += len(a[i].Files[j].Data)
			if !bytes.Equal(a[i].Files[j].Data, b[i].Files[j].Data) {
				t.Errorf("%s: %s differs between runs", a[i].Name, a[i].Files[j].Name)
			}
		}
		ja, _ := json.Marshal(a[i].Truth)
		jb, _ := json.Marshal(b[i].Truth)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: truth differs between runs", a[i].Name)
		}
	}
	if total > 3<<20 {
		t.Errorf("samples total %d bytes, budget 3 MiB", total)
	}
}

// readAll counts the records of a capture file and returns the error that
// ended reading (nil at a clean end of file).
func readAll(t *testing.T, name string, data []byte) (int, error) {
	t.Helper()
	var next func() error
	if strings.HasSuffix(name, ".pcapng") {
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		next = func() error { _, _, err := r.ReadPacketData(); return err }
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		next = func() error { _, _, err := r.ReadPacketData(); return err }
	}
	n := 0
	for {
		err := next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func TestSamplesReadable(t *testing.T) {
	samples, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			n := 0
			var lastErr error
			for _, f := range s.Files {
				c, err := readAll(t, f.Name, f.Data)
				n += c
				if err != nil {
					lastErr = err
				}
			}
			if n != s.Truth.PacketsTotal {
				t.Errorf("read %d packets, truth says %d", n, s.Truth.PacketsTotal)
			}
			if (s.Truth.ExpectExit == 2) != (lastErr != nil) {
				t.Errorf("expect_exit %d but read error %v", s.Truth.ExpectExit, lastErr)
			}
			if (s.Truth.ExpectExit == 1) != (len(s.Truth.Loops) > 0) && s.Truth.ExpectExit != 2 {
				t.Errorf("expect_exit %d with %d loops", s.Truth.ExpectExit, len(s.Truth.Loops))
			}
		})
	}
}
