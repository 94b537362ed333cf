// Package handoff turns a loop of a report into what the analyst pastes
// next: a Wireshark display filter and tshark/editcap commands that select
// exactly the loop's packets from the original capture, the "Decode As"
// entry for the non-DNS side, nftables and iptables rules that drop only
// the loop's packets, and a BPF capture filter.
//
// Every rule and filter is built from parsed values only: addresses
// re-parsed with net/netip, ports, timestamps and payload bytes as hex.
// File names, the one attacker-controlled input, appear only as shell
// operands quoted by report.ShellQuote.
package handoff

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pongscan/pongscan/pkg/report"
)

// flow is a loop's endpoints and window, parsed back from the report.
type flow struct {
	c, s       netip.AddrPort
	v6         bool
	start, end int64   // the loop's first and last packet
	trigger    []int64 // times of the trigger query and answer
	first      int64   // the earliest packet to select
}

func parse(l *report.Loop) (flow, error) {
	var f flow
	c, err := netip.ParseAddr(l.Client.IP)
	if err != nil {
		return f, fmt.Errorf("client address %q: %v", l.Client.IP, err)
	}
	s, err := netip.ParseAddr(l.Server.IP)
	if err != nil {
		return f, fmt.Errorf("server address %q: %v", l.Server.IP, err)
	}
	c, s = c.Unmap(), s.Unmap()
	if c.Is4() != s.Is4() {
		return f, fmt.Errorf("mixed address families %s and %s", c, s)
	}
	f.c, f.s, f.v6 = netip.AddrPortFrom(c.WithZone(""), l.Client.Port), netip.AddrPortFrom(s.WithZone(""), l.Server.Port), c.Is6()
	if f.start, err = parseTime(l.Start); err != nil {
		return f, err
	}
	if f.end, err = parseTime(l.End); err != nil {
		return f, err
	}
	f.first = f.start
	if q, r := l.Trigger.Query, l.Trigger.Response; q != nil && r != nil {
		for _, ts := range []string{q.Time, r.Time} {
			t, err := parseTime(ts)
			if err != nil {
				return f, err
			}
			f.trigger = append(f.trigger, t)
			f.first = min(f.first, t)
		}
	}
	return f, nil
}

func parseTime(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("time %q: %v", s, err)
	}
	return t.UnixNano(), nil
}

// epoch writes t as seconds since the epoch with nine decimals, the form
// Wireshark's frame.time_epoch and editcap -A/-B read exactly.
func epoch(t int64) string {
	sec, ns := t/1e9, t%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	return fmt.Sprintf("%d.%09d", sec, ns)
}

// Wireshark builds the display filter and commands for loop number n
// (1-based, as the report numbers it). inputs are the report's inputs:
// the commands read the files whose time span meets the loop's window.
func Wireshark(l *report.Loop, n int, inputs []report.Input) (*report.Wireshark, error) {
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
	when := fmt.Sprintf("frame.time_epoch >= %s && frame.time_epoch <= %s", epoch(f.start), epoch(f.end))
	for _, t := range f.trigger {
		when += " || frame.time_epoch == " + epoch(t)
	}
	filter := fmt.Sprintf("((%s) || (%s)) && (%s)", dir(f.c, f.s), dir(f.s, f.c), when)
	ws := &report.Wireshark{DisplayFilter: filter}

	files, stdin := loopFiles(inputs, f.first, f.end)
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
		ws.Editcap = fmt.Sprintf("%seditcap -A %s -B %s %s %s", merge, epoch(f.first), epoch(f.end+1), src, window)
	}
	if l.Detector == "dns-pong" {
		ws.DecodeAs = decodeAs(l, f)
	}
	return ws, nil
}

// loopFiles lists the inputs whose first and last packets span part of
// [from, to]; stdin reports that one of them is standard input.
func loopFiles(inputs []report.Input, from, to int64) (files []string, stdin bool) {
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

// decodeAs is the Decode As entry for the client's side of a loop with a
// DNS server: Wireshark decodes port 53 as DNS, so the client's packets
// show as "DNS [Malformed Packet]".
func decodeAs(l *report.Loop, f flow) *report.DecodeAs {
	proto, what := "data", "raw data"
	switch l.Payload.Kind {
	case "tftp-error", "tftp":
		proto, what = "tftp", "TFTP"
	case "ntp":
		proto, what = "ntp", "NTP"
	case "text":
		proto, what = "data", "text (raw data)"
	}
	port := f.c.Port()
	return &report.DecodeAs{
		Field: "udp.port", Value: port, Protocol: proto,
		Option: fmt.Sprintf("-d udp.port==%d,%s", port, proto),
		Note: fmt.Sprintf("shows the client's packets as %s instead of malformed DNS; Wireshark applies it to both directions, so the server's DNS answers then read as %s too",
			what, proto),
	}
}

// prefixBytes is how many leading payload bytes the rules match.
const prefixBytes = 4

// maxFilterTags bounds the VLAN tags a capture filter looks under: each
// tag repeats the expression, and more than two (802.1ad) is rare.
const maxFilterTags = 3

// Mitigate builds the rules that drop loop number n's packets at the
// server and the capture filter that records them. vlanTags is the most
// 802.1Q tags the inputs' frames carried (report.Summary.VLANTags): the
// filter then also matches frames with one to that many tags.
func Mitigate(l *report.Loop, n int, vlanTags uint8) (*report.Mitigation, error) {
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
	m.Nft = fmt.Sprintf("nft add rule inet filter input %s saddr %s %s daddr %s udp sport %d udp dport %d",
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
		m.Note = fmt.Sprintf("drop only %s whose payload starts %s (the loop's; the client's genuine DNS queries on the same ports do not), at the server or on its edge (use the forward chain on a router); dropping one packet breaks the loop", who, spaced(prefix))
	} else {
		m.Note = fmt.Sprintf("drop %s at the server or on its edge (use the forward chain on a router); dropping one packet breaks the loop", who)
	}
	return m, nil
}

func spaced(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}

// Fill adds the Wireshark handoff and the mitigation to every loop of r.
// A loop whose values do not parse (a report built by other code) gets
// neither.
func Fill(r *report.Report) {
	for i := range r.Loops {
		l := &r.Loops[i]
		if ws, err := Wireshark(l, i+1, r.Inputs); err == nil {
			l.Wireshark = ws
		}
		if m, err := Mitigate(l, i+1, r.Summary.VLANTags); err == nil {
			l.Mitigation = m
		}
	}
}
