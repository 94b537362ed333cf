package scan_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/internal/cli"
	"github.com/pongscan/pongscan/pkg/report"
)

// hostileFrame is one packet of the test capture.
type hostileFrame struct {
	at    time.Duration // after the capture's start
	iface int           // pcapng interface: 0 Ethernet, 1 raw IP
	data  []byte
}

var (
	hostileClient = net.IP{198, 51, 100, 7}
	hostileServer = net.IP{192, 0, 2, 53}
	hostileStart  = time.Date(2024, 3, 19, 12, 0, 0, 0, time.UTC)
)

// serialize builds an Ethernet (or, with raw, bare IPv4) frame carrying a
// UDP datagram from src to dst.
func serialize(t testing.TB, raw bool, src, dst net.IP, sport, dport uint16, payload gopacket.SerializableLayer) []byte {
	t.Helper()
	eth := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	ls := []gopacket.SerializableLayer{eth, ip, udp, payload}
	if raw {
		ls = ls[1:]
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// hostileFrames is a machine-pong loop: a DNS query and its answer, then a
// TFTP server that takes DNS FORMERR answers for stray traffic and a DNS
// server that answers its error messages, 20 times; with two unrelated DNS
// packets on a second, raw-IP interface.
func hostileFrames(t testing.TB) []hostileFrame {
	t.Helper()
	q := layers.DNSQuestion{Name: []byte("boot.example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}
	query := &layers.DNS{ID: 0x4242, RD: true, Questions: []layers.DNSQuestion{q}}
	answer := &layers.DNS{ID: 0x4242, QR: true, RD: true, RA: true, Questions: []layers.DNSQuestion{q},
		Answers: []layers.DNSResourceRecord{{Name: q.Name, Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IP{192, 0, 2, 69}}}}
	formerr := &layers.DNS{ID: 0x0005, QR: true, ResponseCode: layers.DNSResponseCodeFormErr}
	tftpErr := gopacket.Payload(append([]byte{0, 5, 0, 4}, "Illegal TFTP operation\x00"...))
	const cport = 69
	frames := []hostileFrame{
		{at: 0, data: serialize(t, false, hostileClient, hostileServer, cport, 53, query)},
		{at: time.Millisecond, data: serialize(t, false, hostileServer, hostileClient, 53, cport, answer)},
		{at: 2 * time.Millisecond, iface: 1, data: serialize(t, true, net.IP{203, 0, 113, 1}, hostileServer, 5353, 53, query)},
	}
	for i := range 20 {
		at := 3*time.Millisecond + time.Duration(i)*time.Millisecond
		if i%2 == 0 {
			frames = append(frames, hostileFrame{at: at, data: serialize(t, false, hostileClient, hostileServer, cport, 53, tftpErr)})
		} else {
			frames = append(frames, hostileFrame{at: at, data: serialize(t, false, hostileServer, hostileClient, 53, cport, formerr)})
		}
	}
	frames = append(frames, hostileFrame{at: 30 * time.Millisecond, iface: 1, data: serialize(t, true, hostileServer, net.IP{203, 0, 113, 1}, 53, 5353, answer)})
	return frames
}

// hostilePcap writes the frames of interface 0 as a classic pcap.
func hostilePcap(t testing.TB, frames []hostileFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if f.iface != 0 {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: hostileStart.Add(f.at), CaptureLength: len(f.data), Length: len(f.data)}
		if err := w.WritePacket(ci, f.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// hostilePcapng writes every frame as a pcapng with two interfaces.
func hostilePcapng(t testing.TB, frames []hostileFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535},
		pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "pongscan hostile test"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535}); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: hostileStart.Add(f.at), CaptureLength: len(f.data), Length: len(f.data), InterfaceIndex: f.iface}
		if err := w.WritePacket(ci, f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pcapRecords returns the offsets of a classic pcap's records.
func pcapRecords(b []byte) []int {
	var offs []int
	for off := 24; off+16 <= len(b); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return offs
}

// ngBlocks returns the offsets and types of a little-endian pcapng's
// blocks.
func ngBlocks(b []byte) (offs []int, types []uint32) {
	for off := 0; off+12 <= len(b); {
		offs = append(offs, off)
		types = append(types, binary.LittleEndian.Uint32(b[off:]))
		off += int(binary.LittleEndian.Uint32(b[off+4:]))
	}
	return offs, types
}

// ngPacketBlock returns the offset of the n-th (0-based) Enhanced Packet
// Block.
func ngPacketBlock(t testing.TB, b []byte, n int) int {
	t.Helper()
	offs, types := ngBlocks(b)
	for i, typ := range types {
		if typ == 6 {
			if n == 0 {
				return offs[i]
			}
			n--
		}
	}
	t.Fatalf("no packet block %d", n)
	return 0
}

// with returns a copy of b with a 32-bit value set at off.
func with(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

type hostileCase struct {
	name string
	data []byte
	want int    // exit status, -1 when any of 0, 1, 2 will do
	msg  string // in stderr when the exit status is 2
}

// hostileCases derives broken captures from a valid pcap and pcapng.
func hostileCases(t testing.TB) []hostileCase {
	frames := hostileFrames(t)
	pcap, ng := hostilePcap(t, frames), hostilePcapng(t, frames)
	recs := pcapRecords(pcap)
	epb := ngPacketBlock(t, ng, 1) // the answer: frame 2 of the pcapng
	epbLen := int(binary.LittleEndian.Uint32(ng[epb+4:]))
	cases := []hostileCase{
		{"valid pcap", pcap, 1, ""},
		{"valid pcapng", ng, 1, ""},
		{"valid pcap.gz", gz(pcap), 1, ""},
		{"empty file", nil, 2, "byte 0: empty file"},
		{"text file", []byte("this is a README, not a capture\n"), 2, "byte 0: not a capture file"},
		{"pcap header, no packets", pcap[:24], 0, ""},
		{"pcapng section and interfaces, no packets", ng[:ngPacketBlock(t, ng, 0)], 0, ""},
		{"pcap of link type 147", with(pcap, 20, 147), 0, ""},
		{"pcap garbage appended", append(bytes.Clone(pcap), "\x00\x01garbage garbage garbage"...), 2, fmt.Sprintf("frame %d at byte %d", len(recs)+1, len(pcap))},
		{"pcapng garbage appended", append(bytes.Clone(ng), "garbage garbage garbage"...), 2, "byte "},
		{"pcap.gz garbage appended", append(gz(pcap), "garbage"...), 2, "decompressed byte"},
		{"pcap.gz cut", gz(pcap)[:200], 2, "decompressed byte"},
	}
	// Record and block lengths near 4 GiB, and other lies.
	for _, v := range []uint32{0xFFFFFFFF, 0xFFFFFFF0, 0x80000000, 262145} {
		cases = append(cases,
			hostileCase{fmt.Sprintf("pcap caplen 0x%x", v), with(pcap, recs[1]+8, v), 2, fmt.Sprintf("frame 2 at byte %d: damaged capture", recs[1])},
			hostileCase{fmt.Sprintf("pcapng block length 0x%x", v), with(ng, epb+4, v), 2, fmt.Sprintf("frame 2 at byte %d", epb)},
			hostileCase{fmt.Sprintf("pcapng caplen 0x%x", v), with(ng, epb+20, v), 2, fmt.Sprintf("frame 2 at byte %d: damaged capture", epb)},
		)
	}
	lies := []struct {
		name       string
		start, end uint32
	}{
		{"start and end disagree", uint32(epbLen), uint32(epbLen) + 4},
		{"start longer than end", uint32(epbLen) + 4, uint32(epbLen)},
		{"not a multiple of 4", uint32(epbLen) + 2, uint32(epbLen) + 2},
		{"shorter than 12", 8, 8},
		{"4", 4, 4},
		{"zero", 0, 0},
	}
	for _, l := range lies {
		c := with(with(ng, epb+4, l.start), epb+epbLen-4, l.end)
		cases = append(cases, hostileCase{"pcapng block length " + l.name, c, 2, fmt.Sprintf("frame 2 at byte %d", epb)})
	}
	cases = append(cases,
		hostileCase{"pcap caplen zero", with(pcap, recs[1]+8, 0), 2, "frame 3"},
		hostileCase{"pcapng section header length zero", with(ng, 4, 0), 2, "byte 0: damaged capture"},
		hostileCase{"pcapng interface on link type 147", with(ng, ngBlocksOf(ng, 1)+8, 147), -1, ""},
		hostileCase{"pcapng packet on interface 9", with(ng, epb+8, 9), 2, fmt.Sprintf("frame 2 at byte %d", epb)},
	)
	// Cut at every kind of place.
	for _, n := range []int{1, 3, 4, 10, 23, 25, 39, recs[1] + 1, recs[1] + 15, recs[1] + 20, len(pcap) - 1} {
		cases = append(cases, hostileCase{fmt.Sprintf("pcap cut at %d", n), pcap[:n], 2, "byte "})
	}
	for _, n := range []int{1, 4, 8, 11, 12, 27, epb, epb + 4, epb + 8, epb + 20, epb + epbLen - 1, len(ng) - 1} {
		want := 2
		if n == epb {
			want = -1 // a cut between blocks is a clean end
		}
		cases = append(cases, hostileCase{fmt.Sprintf("pcapng cut at %d", n), ng[:n], want, "byte "})
	}
	// Flipped bytes, from a fixed seed.
	rng := rand.New(rand.NewPCG(2024, 2169))
	for i := range 60 {
		src, kind := pcap, "pcap"
		if i%2 == 1 {
			src, kind = ng, "pcapng"
		}
		c := bytes.Clone(src)
		flips := 1 + rng.IntN(8)
		for range flips {
			c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
		}
		cases = append(cases, hostileCase{fmt.Sprintf("%s with %d bytes flipped #%d", kind, flips, i), c, -1, ""})
	}
	return cases
}

// ngBlocksOf returns the offset of the first block of type typ.
func ngBlocksOf(b []byte, typ uint32) int {
	offs, types := ngBlocks(b)
	for i, t := range types {
		if t == typ {
			return offs[i]
		}
	}
	return -1
}

// position is how stderr must name the place of trouble.
var position = regexp.MustCompile(`(frame [0-9]+|byte [0-9]+)`)

// runCLI runs `pongscan scan --format json path` and checks what every
// run must do: exit 0, 1 or 2, print a pongscan.report/v1 document, and
// name the file and a position when it exits 2.
func runCLI(t *testing.T, path string) (int, report.Report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var code cli.ExitCode
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("pongscan panicked: %v", p)
			}
		}()
		code = cli.Main([]string{"scan", "--format", "json", path}, strings.NewReader(""), &stdout, &stderr)
	}()
	if code != 0 && code != 1 && code != 2 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Schema != "pongscan.report/v1" {
		t.Fatalf("schema %q", rep.Schema)
	}
	if code == 2 {
		errLine := stderr.String()
		if !strings.Contains(errLine, path) || !position.MatchString(errLine) {
			t.Fatalf("exit 2, but stderr names no file and position: %q", errLine)
		}
	}
	if len(rep.Inputs) != 1 || rep.Inputs[0].Path != path {
		t.Fatalf("inputs %+v", rep.Inputs)
	}
	if (code == 2) != (rep.Inputs[0].Error != "") {
		t.Fatalf("exit %d with input error %q", code, rep.Inputs[0].Error)
	}
	if code == 1 && len(rep.Loops) == 0 || code == 0 && len(rep.Loops) > 0 {
		t.Fatalf("exit %d with %d loops", code, len(rep.Loops))
	}
	return int(code), rep, stderr.String()
}

func TestHostileCaptures(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range hostileCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("case-%03d.pcap", i))
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			code, rep, stderr := runCLI(t, path)
			t.Logf("exit %d, %d packets, %d loops; stderr: %s", code, rep.Summary.Packets, len(rep.Loops), strings.TrimSpace(stderr))
			if tc.want >= 0 && code != tc.want {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.want, stderr)
			}
			if code == 2 && !strings.Contains(stderr, tc.msg) {
				t.Fatalf("stderr %q does not say %q", stderr, tc.msg)
			}
			checkSummary(t, &rep)
		})
	}
}

// TestHostileUnknownLinkType: packets of a link type pongscan does not
// decode are counted as such, not guessed at.
func TestHostileUnknownLinkType(t *testing.T) {
	pcap := hostilePcap(t, hostileFrames(t))
	path := filepath.Join(t.TempDir(), "dlt147.pcap")
	if err := os.WriteFile(path, with(pcap, 20, 147), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep, _ := runCLI(t, path)
	s := rep.Summary
	if code != 0 || s.Packets != 22 || s.UnknownLink != 22 || s.UnknownLinks["147"] != 22 || s.UDP != 0 {
		t.Fatalf("exit %d, summary %+v; want 22 packets of unknown link type 147", code, s)
	}
}

// checkSummary checks that every packet read is counted once by kind.
func checkSummary(t *testing.T, rep *report.Report) {
	t.Helper()
	s := rep.Summary
	kinds := s.UDP + s.TCP + s.OtherIP + s.NotIP + s.Malformed + (s.Fragments - s.Reassembled) + s.UnknownLink + s.NonPacket
	if kinds != s.Packets {
		t.Fatalf("%d packets, %d counted by kind: %+v", s.Packets, kinds, s)
	}
	var inputs uint64
	for _, in := range rep.Inputs {
		inputs += in.Packets
	}
	if inputs != s.Packets {
		t.Fatalf("inputs hold %d packets, summary %d", inputs, s.Packets)
	}
	if s.Loops != len(rep.Loops) {
		t.Fatalf("summary counts %d loops, report lists %d", s.Loops, len(rep.Loops))
	}
}

// TestHostileMemory: a record or block claiming nearly 4 GiB in a small
// file costs no more memory than the file.
func TestHostileMemory(t *testing.T) {
	frames := hostileFrames(t)
	pcap, ng := hostilePcap(t, frames), hostilePcapng(t, frames)
	recs := pcapRecords(pcap)
	epb := ngPacketBlock(t, ng, 1)
	tests := []struct {
		name string
		data []byte
	}{
		{"pcap caplen 0xFFFFFFF0", with(pcap, recs[1]+8, 0xFFFFFFF0)},
		{"pcap caplen 256 KiB, cut", with(pcap, recs[1]+8, 262144)},
		{"pcapng block length 0xFFFFFFF0", with(ng, epb+4, 0xFFFFFFF0)},
		{"pcapng block length 16 MiB, cut", with(ng, epb+4, 16<<20)},
		{"pcapng caplen 0xFFFFFFF0", with(ng, epb+20, 0xFFFFFFF0)},
		{"pcap.gz caplen 0xFFFFFFF0", gz(with(pcap, recs[1]+8, 0xFFFFFFF0))},
	}
	dir := t.TempDir()
	const limit = 64 << 20
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("big-%d.pcap", i))
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			code, _, stderr := runCLI(t, path)
			runtime.ReadMemStats(&after)
			if code != 2 || !strings.Contains(stderr, "frame 2") {
				t.Fatalf("exit %d, stderr %q; want 2 naming frame 2", code, stderr)
			}
			d := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MiB", float64(d)/(1<<20))
			if d > limit {
				t.Fatalf("allocated %d MiB for a %d-byte file", d>>20, len(tt.data))
			}
		})
	}
}
