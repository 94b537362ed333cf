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
	"strconv"
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
func epoch(t int64) string { return string(appendEpoch(nil, t)) }

// appendEpoch appends epoch(t).
func appendEpoch(b []byte, t int64) []byte {
	sec, ns := t/1e9, t%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, digits[:]...)
}

// Wireshark builds the display filter and commands for loop number n
// (1-based, as the report numbers it). inputs are the report's inputs:
// the commands read the files whose time span meets the loop's window.
func Wireshark(l *report.Loop, n int, inputs []report.Input) (*report.Wireshark, error) {
	f, err := parse(l)
	if err != nil {
		return nil, err
	}
	return wireshark(l, n, f, inputSpans(inputs)), nil
}

// wireshark is Wireshark for a parsed loop and parsed inputs.
//
// The filter and commands are written with appends rather than fmt:
// every loop of a report has them, and a report may have a million.
func wireshark(l *report.Loop, n int, f flow, inputs []inputSpan) *report.Wireshark {
	ip := "ip"
	if f.v6 {
		ip = "ipv6"
	}
	dir := func(b []byte, a, c netip.AddrPort) []byte {
		b = append(b, ip...)
		b = append(b, ".src == "...)
		b = a.Addr().AppendTo(b)
		b = append(b, " && udp.srcport == "...)
		b = strconv.AppendUint(b, uint64(a.Port()), 10)
		b = append(b, " && "...)
		b = append(b, ip...)
		b = append(b, ".dst == "...)
		b = c.Addr().AppendTo(b)
		b = append(b, " && udp.dstport == "...)
		return strconv.AppendUint(b, uint64(c.Port()), 10)
	}
	b := make([]byte, 0, 512)
	b = append(b, "(("...)
	b = dir(b, f.c, f.s)
	b = append(b, ") || ("...)
	b = dir(b, f.s, f.c)
	b = append(b, ")) && (frame.time_epoch >= "...)
	b = appendEpoch(b, f.start)
	b = append(b, " && frame.time_epoch <= "...)
	b = appendEpoch(b, f.end)
	for _, t := range f.trigger {
		b = append(b, " || frame.time_epoch == "...)
		b = appendEpoch(b, t)
	}
	b = append(b, ')')
	filter := string(b)
	ws := &report.Wireshark{DisplayFilter: filter}

	files, stdin := loopFiles(inputs, f.first, f.end)
	out := "loop-" + strconv.Itoa(n) + ".pcapng"
	window := "loop-" + strconv.Itoa(n) + "-window.pcapng"
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
			src = "loop-" + strconv.Itoa(n) + "-merged.pcapng"
			merge = "mergecap -w " + src + " " + strings.Join(ops, " ") + " && "
		}
		ws.Tshark = merge + "tshark -r " + src + " -2 -w " + out + " -Y " + report.ShellQuote(filter)
		b = append(b[:0], merge...)
		b = append(b, "editcap -A "...)
		b = appendEpoch(b, f.first)
		b = append(b, " -B "...)
		b = appendEpoch(b, f.end+1)
		b = append(b, ' ')
		b = append(b, src...)
		b = append(b, ' ')
		b = append(b, window...)
		ws.Editcap = string(b)
	}
	if l.Detector == "dns-pong" {
		ws.DecodeAs = decodeAs(l, f)
	}
	return ws
}

// inputSpan is an input's path and the times of its first and last
// packets, parsed once for every loop (ok false when they do not parse).
type inputSpan struct {
	path        string
	first, last int64
	ok          bool
}

func inputSpans(inputs []report.Input) []inputSpan {
	out := make([]inputSpan, len(inputs))
	for i, in := range inputs {
		first, err1 := parseTime(in.First)
		last, err2 := parseTime(in.Last)
		out[i] = inputSpan{path: in.Path, first: first, last: last, ok: err1 == nil && err2 == nil}
	}
	return out
}

// loopFiles lists the inputs whose first and last packets span part of
// [from, to]; stdin reports that one of them is standard input.
func loopFiles(inputs []inputSpan, from, to int64) (files []string, stdin bool) {
	for _, in := range inputs {
		if !in.ok || in.last < from || in.first > to {
			continue
		}
		if in.path == "-" {
			stdin = true
		}
		files = append(files, in.path)
	}
	return files, stdin
}

// decodeAs is the Decode As entry for the client's side of a loop with a
// DNS server: Wireshark decodes port 53 as DNS, so the client's packets
// show as "DNS [Malformed Packet]".
func decodeAs(l *report.Loop, f flow) *report.DecodeAs {
	k := decodeData
	switch l.Payload.Kind {
	case "tftp-error", "tftp":
		k = decodeTFTP
	case "ntp":
		k = decodeNTP
	case "text":
		k = decodeText
	}
	d := &decodeAsKinds[k]
	port := f.c.Port()
	return &report.DecodeAs{
		Field: "udp.port", Value: port, Protocol: d.proto,
		Option: "-d udp.port==" + strconv.FormatUint(uint64(port), 10) + "," + d.proto,
		Note:   d.note, // one string for every loop of a kind
	}
}

const (
	decodeData = iota
	decodeTFTP
	decodeNTP
	decodeText
)

// decodeAsKinds are what Wireshark is told the client speaks, by the
// kind of its payload, and the note saying what that does.
var decodeAsKinds = func() (k [4]struct{ proto, note string }) {
	for i, pw := range [4][2]string{decodeData: {"data", "raw data"}, decodeTFTP: {"tftp", "TFTP"}, decodeNTP: {"ntp", "NTP"}, decodeText: {"data", "text (raw data)"}} {
		k[i].proto = pw[0]
		k[i].note = fmt.Sprintf("shows the client's packets as %s instead of malformed DNS; Wireshark applies it to both directions, so the server's DNS answers then read as %s too",
			pw[1], pw[0])
	}
	return k
}()

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
	return mitigate(l, n, vlanTags, f), nil
}

// mitigate is Mitigate for a parsed loop, written with appends as
// wireshark is.
// nftSetup makes pongscan's own nftables table and input chain, if they
// are not there yet (nft add is idempotent).
const nftSetup = "nft add table inet pongscan && nft add chain inet pongscan input '{ type filter hook input priority -10; policy accept; }' && "

func mitigate(l *report.Loop, n int, vlanTags uint8, f flow) *report.Mitigation {
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
	port := func(b []byte, p uint16) []byte { return strconv.AppendUint(b, uint64(p), 10) }
	b := make([]byte, 0, 512)
	// A table of its own, made if missing: "inet filter" exists only
	// where a distribution's ruleset made it (a host with iptables-nft
	// has "ip filter INPUT"), and rules in it die with a reload of that
	// ruleset. `nft delete table inet pongscan` removes them all.
	b = append(b, nftSetup...)
	b = append(b, "nft add rule inet pongscan input "...)
	b = append(b, nft...)
	b = append(b, " saddr "...)
	b = c.Addr().AppendTo(b)
	b = append(b, ' ')
	b = append(b, nft...)
	b = append(b, " daddr "...)
	b = s.Addr().AppendTo(b)
	b = append(b, " udp sport "...)
	b = port(b, c.Port())
	b = append(b, " udp dport "...)
	b = port(b, s.Port())
	var ib []byte
	ib = append(ib, ipt...)
	ib = append(ib, " -I INPUT -p udp -s "...)
	ib = c.Addr().AppendTo(ib)
	ib = append(ib, " --sport "...)
	ib = port(ib, c.Port())
	ib = append(ib, " -d "...)
	ib = s.Addr().AppendTo(ib)
	ib = append(ib, " --dport "...)
	ib = port(ib, s.Port())
	if len(prefix) > 0 {
		bits := 8 * len(prefix)
		val := "0x" + hex.EncodeToString(prefix)
		b = append(b, " @th,64,"...)
		b = strconv.AppendInt(b, int64(bits), 10)
		b = append(b, ' ')
		b = append(b, val...)
		// u32 reads 32 bits at an offset from the IP header: IPv4's
		// header length from its first byte, IPv6's fixed 40 bytes (no
		// extension headers), then the 8-byte UDP header.
		at := "0>>22&0x3C@8"
		if f.v6 {
			at = "48"
		}
		if bits < 32 {
			at += ">>" + strconv.Itoa(32-bits)
		}
		ib = append(ib, " -m u32 --u32 "...)
		ib = append(ib, report.ShellQuote(at+"="+val)...)
	}
	b = append(b, " counter drop"...)
	ib = append(ib, " -j DROP"...)
	m.Nft, m.Iptables = string(b), string(ib)
	host := func(b []byte, a, c netip.AddrPort) []byte {
		b = append(b, "src host "...)
		b = a.Addr().AppendTo(b)
		b = append(b, " and src port "...)
		b = port(b, a.Port())
		b = append(b, " and dst host "...)
		b = c.Addr().AppendTo(b)
		b = append(b, " and dst port "...)
		return port(b, c.Port())
	}
	pair := func(b []byte) []byte {
		b = append(b, "(src host "...)
		b = c.Addr().AppendTo(b)
		b = append(b, " and dst host "...)
		b = s.Addr().AppendTo(b)
		b = append(b, ") or (src host "...)
		b = s.Addr().AppendTo(b)
		b = append(b, " and dst host "...)
		b = c.Addr().AppendTo(b)
		return append(b, ')')
	}
	frag := "ip[6:2] & 0x1fff != 0" // later fragments: no UDP header to match
	if f.v6 {
		frag = "ip6[6] == 44" // a fragment header: the UDP header may be elsewhere
	}
	b = append(b[:0], "(udp and (("...)
	b = host(b, c, s)
	b = append(b, ") or ("...)
	b = host(b, s, c)
	b = append(b, "))) or ("...)
	b = append(b, frag...)
	b = append(b, " and ("...)
	b = pair(b)
	b = append(b, "))"...)
	if vlanTags > 0 {
		// libpcap's "vlan" moves every later test past one tag, so
		// "E or (vlan and E) or (vlan and E)" matches E untagged, under
		// one tag and under two (802.1ad), as frames sit in a file.
		one := len(b)
		for range min(vlanTags, maxFilterTags) {
			b = append(b, " or (vlan and ("...)
			b = append(b, b[:one]...)
			b = append(b, "))"...)
		}
	}
	m.BPF = string(b)
	m.Tcpdump = "tcpdump -w loop-" + strconv.Itoa(n) + ".pcap " + report.ShellQuote(m.BPF)
	b = append(b[:0], "UDP "...)
	b = c.AppendTo(b)
	b = append(b, " -> "...)
	b = s.AppendTo(b)
	who := string(b)
	if len(prefix) > 0 {
		m.Note = "drop only " + who + " whose payload starts " + spaced(prefix) + " (the loop's; the client's genuine DNS queries on the same ports do not), at the server or on its edge (on a router, hook forward and the FORWARD chain instead of input; nft delete table inet pongscan removes the rules); dropping one packet breaks the loop"
	} else {
		m.Note = "drop " + who + " at the server or on its edge (on a router, hook forward and the FORWARD chain instead of input; nft delete table inet pongscan removes the rules); dropping one packet breaks the loop"
	}
	return m
}

func spaced(b []byte) string {
	out := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(out)
}

const hexDigits = "0123456789abcdef"

// Fill adds the Wireshark handoff and the mitigation to every loop of r.
// A loop whose values do not parse (a report built by other code) gets
// neither. A loop's commands read only its own stream's files: a loop of
// one sensor (--each, --stream-by) never sends tshark to another's.
func Fill(r *report.Report) {
	byStream := map[string][]report.Input{}
	for _, in := range r.Inputs {
		byStream[in.Stream] = append(byStream[in.Stream], in)
	}
	spans := map[string][]inputSpan{}
	for name, ins := range byStream {
		spans[name] = inputSpans(ins)
	}
	for i := range r.Loops {
		fill(&r.Loops[i], i+1, spans[r.Loops[i].Stream], r.Summary.VLANTags)
	}
}

// FillStream is Fill for the loops of one stream, numbered from first,
// with the stream's inputs: what JSON Lines writes as each stream ends.
func FillStream(loops []report.Loop, first int, inputs []report.Input, vlanTags uint8) {
	spans := inputSpans(inputs)
	for i := range loops {
		fill(&loops[i], first+i, spans, vlanTags)
	}
}

// fill fills loop number n; the inputs' time spans are parsed once, not
// once per loop.
func fill(l *report.Loop, n int, inputs []inputSpan, vlanTags uint8) {
	f, err := parse(l)
	if err != nil {
		return
	}
	l.Wireshark = wireshark(l, n, f, inputs)
	l.Mitigation = mitigate(l, n, vlanTags, f)
}
