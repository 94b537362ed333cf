package handoff

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/pongscan/pongscan/pkg/report"
)

// The filters, commands and rules were rewritten with appends (a report
// of a million loops spent a third of its time in fmt here); these are
// the fmt versions they replaced, which they must match byte for byte.

func epochRef(t int64) string {
	sec, ns := t/1e9, t%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	return fmt.Sprintf("%d.%09d", sec, ns)
}

func wiresharkRef(l *report.Loop, n int, inputs []report.Input) (*report.Wireshark, error) {
	f, err := parse(l)
	if err != nil {
		return nil, err
	}
	ip := "ip"
	if f.v6 {
		ip = "ipv6"
	}
	dir := func(a, b netip.AddrPort) string {
		return fmt.Sprintf("%s.src == %s && udp.srcport == %d && %s.dst == %s && udp.dstport == %d",
			ip, a.Addr(), a.Port(), ip, b.Addr(), b.Port())
	}
	when := fmt.Sprintf("frame.time_epoch >= %s && frame.time_epoch <= %s", epochRef(f.start), epochRef(f.end))
	for _, t := range f.trigger {
		when += " || frame.time_epoch == " + epochRef(t)
	}
	filter := fmt.Sprintf("((%s) || (%s)) && (%s)", dir(f.c, f.s), dir(f.s, f.c), when)
	ws := &report.Wireshark{DisplayFilter: filter}

	files, stdin := loopFilesRef(inputs, f.first, f.end)
	out := fmt.Sprintf("loop-%d.pcapng", n)
	window := fmt.Sprintf("loop-%d-window.pcapng", n)
	switch {
	case stdin:
		ws.Note = "the capture was read from standard input: save it to a file to run these commands on it"
	case len(files) == 0:
		ws.Note = "no input file covers the loop's time span"
	}
	if len(files) > 0 && !stdin {
		src, merge := report.FileOperand(files[0]), ""
		if len(files) > 1 {
			ops := make([]string, len(files))
			for i, p := range files {
				ops[i] = report.FileOperand(p)
			}
			src = fmt.Sprintf("loop-%d-merged.pcapng", n)
			merge = fmt.Sprintf("mergecap -w %s %s && ", src, strings.Join(ops, " "))
		}
		ws.Tshark = fmt.Sprintf("%stshark -r %s -2 -w %s -Y %s", merge, src, out, report.ShellQuote(filter))
		ws.Editcap = fmt.Sprintf("%seditcap -A %s -B %s %s %s", merge, epochRef(f.first), epochRef(f.end+1), src, window)
	}
	if l.Detector == "dns-pong" {
		ws.DecodeAs = decodeAs(l, f)
	}
	return ws, nil
}

func loopFilesRef(inputs []report.Input, from, to int64) (files []string, stdin bool) {
	for _, in := range inputs {
		first, err1 := parseTime(in.First)
		last, err2 := parseTime(in.Last)
		if err1 != nil || err2 != nil || last < from || first > to {
			continue
		}
		if in.Path == "-" {
			stdin = true
		}
		files = append(files, in.Path)
	}
	return files, stdin
}

func mitigateRef(l *report.Loop, n int, vlanTags uint8) (*report.Mitigation, error) {
	f, err := parse(l)
	if err != nil {
		return nil, err
	}
	m := &report.Mitigation{}
	var prefix []byte
	// A DNS server's 5-tuple also carries the client's genuine queries
	// (the trigger came on it): only the payload tells loop packets from
	// them. Other services' loops own their 5-tuple.
	if l.Detector == "dns-pong" {
		raw, err := hex.DecodeString(l.Payload.Hex)
		if err == nil && len(raw) > 0 {
			prefix = raw[:min(len(raw), prefixBytes)]
			m.PayloadPrefix = hex.EncodeToString(prefix)
		}
	}
	nft, ipt := "ip", "iptables"
	if f.v6 {
		nft, ipt = "ip6", "ip6tables"
	}
	c, s := f.c, f.s
	m.Nft = fmt.Sprintf("nft add table inet pongscan && nft add chain inet pongscan input '{ type filter hook input priority -10; policy accept; }' && "+
		"nft add rule inet pongscan input %s saddr %s %s daddr %s udp sport %d udp dport %d",
		nft, c.Addr(), nft, s.Addr(), c.Port(), s.Port())
	m.Iptables = fmt.Sprintf("%s -I INPUT -p udp -s %s --sport %d -d %s --dport %d",
		ipt, c.Addr(), c.Port(), s.Addr(), s.Port())
	if len(prefix) > 0 {
		bits := 8 * len(prefix)
		val := "0x" + hex.EncodeToString(prefix)
		m.Nft += fmt.Sprintf(" @th,64,%d %s", bits, val)
		// u32 reads 32 bits at an offset from the IP header: IPv4's
		// header length from its first byte, IPv6's fixed 40 bytes (no
		// extension headers), then the 8-byte UDP header.
		at := "0>>22&0x3C@8"
		if f.v6 {
			at = "48"
		}
		if bits < 32 {
			at += fmt.Sprintf(">>%d", 32-bits)
		}
		m.Iptables += fmt.Sprintf(" -m u32 --u32 %s", report.ShellQuote(at+"="+val))
	}
	m.Nft += " counter drop"
	m.Iptables += " -j DROP"
	host := func(a, b netip.AddrPort) string {
		return fmt.Sprintf("src host %s and src port %d and dst host %s and dst port %d", a.Addr(), a.Port(), b.Addr(), b.Port())
	}
	pair := fmt.Sprintf("(src host %s and dst host %s) or (src host %s and dst host %s)", c.Addr(), s.Addr(), s.Addr(), c.Addr())
	frag := "ip[6:2] & 0x1fff != 0" // later fragments: no UDP header to match
	if f.v6 {
		frag = "ip6[6] == 44" // a fragment header: the UDP header may be elsewhere
	}
	m.BPF = fmt.Sprintf("(udp and ((%s) or (%s))) or (%s and (%s))", host(c, s), host(s, c), frag, pair)
	if vlanTags > 0 {
		// libpcap's "vlan" moves every later test past one tag, so
		// "E or (vlan and E) or (vlan and E)" matches E untagged, under
		// one tag and under two (802.1ad), as frames sit in a file.
		one := m.BPF
		for range min(vlanTags, maxFilterTags) {
			m.BPF += " or (vlan and (" + one + "))"
		}
	}
	m.Tcpdump = fmt.Sprintf("tcpdump -w loop-%d.pcap %s", n, report.ShellQuote(m.BPF))
	who := fmt.Sprintf("UDP %s -> %s", c, s)
	if len(prefix) > 0 {
		m.Note = fmt.Sprintf("drop only %s whose payload starts %s (the loop's; the client's genuine DNS queries on the same ports do not), at the server or on its edge (on a router, hook forward and the FORWARD chain instead of input; nft delete table inet pongscan removes the rules); dropping one packet breaks the loop", who, spacedRef(prefix))
	} else {
		m.Note = fmt.Sprintf("drop %s at the server or on its edge (on a router, hook forward and the FORWARD chain instead of input; nft delete table inet pongscan removes the rules); dropping one packet breaks the loop", who)
	}
	return m, nil
}

func spacedRef(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}

// TestMatchesFmtVersion holds Wireshark, Mitigate and Fill to the fmt
// versions on random loops: both families, triggers or none, payloads of
// every length the rules look at, VLAN tags, inputs from stdin, several
// files or none covering the loop.
func TestMatchesFmtVersion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ips := []string{"198.51.100.7", "192.0.2.1", "10.0.0.0", "2001:db8::1", "::ffff:192.0.2.9", "fe80::1%eth0", "::", "bad"}
	ts := func(t int64) string { return report.Timestamp(t) }
	for range 5000 {
		t0 := rng.Int64N(4e18) - 2e18
		if rng.IntN(5) == 0 {
			t0 = rng.Int64N(4e9) - 2e9
		}
		t1 := t0 + rng.Int64N(1e11)
		var payload []byte
		for range rng.IntN(7) {
			payload = append(payload, byte(rng.IntN(256)))
		}
		l := report.Loop{
			Detector: []string{"dns-pong", "udp-pong"}[rng.IntN(2)],
			Client:   report.Endpoint{IP: ips[rng.IntN(len(ips))], Port: uint16(rng.IntN(65536))},
			Server:   report.Endpoint{IP: ips[rng.IntN(len(ips))], Port: uint16(rng.IntN(65536))},
			Start:    ts(t0), End: ts(t1),
			Payload: report.Payload{Kind: []string{"tftp-error", "tftp", "ntp", "text", "binary"}[rng.IntN(5)], Hex: hex.EncodeToString(payload)},
		}
		if rng.IntN(20) == 0 {
			l.Start = "yesterday"
		}
		if rng.IntN(20) == 0 {
			l.Payload.Hex = "zz"
		}
		if rng.IntN(2) == 0 {
			l.Trigger.Query = &report.Query{Packet: report.Packet{Time: ts(t0 - rng.Int64N(1e9))}}
			l.Trigger.Response = &report.Response{Packet: report.Packet{Time: ts(t0 - rng.Int64N(1e8))}}
		}
		var inputs []report.Input
		for range rng.IntN(4) {
			a := t0 + rng.Int64N(2e11) - 1e11
			in := report.Input{Path: []string{"-", "cap.pcap", "-dash.pcap", "it's here.pcap", "\x1b[2J.pcap"}[rng.IntN(5)], First: ts(a), Last: ts(a + rng.Int64N(1e11))}
			if rng.IntN(10) == 0 {
				in.First = ""
			}
			inputs = append(inputs, in)
		}
		n := 1 + rng.IntN(1000)
		vlan := uint8(rng.IntN(6))
		gotW, errW := Wireshark(&l, n, inputs)
		wantW, errWR := wiresharkRef(&l, n, inputs)
		if fmt.Sprint(errW) != fmt.Sprint(errWR) || !reflect.DeepEqual(gotW, wantW) {
			t.Fatalf("Wireshark(%+v):\n got %+v %v\nwant %+v %v", l, gotW, errW, wantW, errWR)
		}
		gotM, errM := Mitigate(&l, n, vlan)
		wantM, errMR := mitigateRef(&l, n, vlan)
		if fmt.Sprint(errM) != fmt.Sprint(errMR) || !reflect.DeepEqual(gotM, wantM) {
			t.Fatalf("Mitigate(%+v):\n got %+v %v\nwant %+v %v", l, gotM, errM, wantM, errMR)
		}
		k := 1 + rng.IntN(3)
		wantW, _ = wiresharkRef(&l, k, inputs)
		wantM, _ = mitigateRef(&l, k, vlan)
		r := &report.Report{Inputs: inputs, Loops: make([]report.Loop, k)}
		r.Loops[k-1] = l
		r.Summary.VLANTags = vlan
		Fill(r)
		if got := r.Loops[k-1]; !reflect.DeepEqual(got.Wireshark, wantW) || !reflect.DeepEqual(got.Mitigation, wantM) {
			t.Fatalf("Fill(%+v): %+v %+v, want %+v %+v", l, got.Wireshark, got.Mitigation, wantW, wantM)
		}
	}
}
