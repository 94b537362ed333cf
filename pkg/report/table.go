package report

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

type tablePrinter struct{}

var _ Printer = tablePrinter{}

// Table prints the report for people: a table of loops, each loop's
// trigger packets and first non-DNS payload, then a summary. Every string
// field of the report is escaped (see Escape), not only those known to
// come from a packet or a file name, so a report built by other code is
// as safe to print.
func Table() Printer { return tablePrinter{} }

func (tablePrinter) Print(w io.Writer, r *Report) error {
	ew := &errWriter{w: w, names: DisplayNames(r.Inputs)}
	switch n := len(r.Loops); n {
	case 0:
		ew.printf("No machine-pong loop found.\n\n")
	case 1:
		ew.printf("1 machine-pong loop found.\n\n")
	default:
		ew.printf("%d machine-pong loops found.\n\n", n)
	}
	if len(r.Loops) > 0 {
		t := newTable(ew)
		t.Header("#", "CLIENT", "SERVER", "START (UTC)", "DURATION", "PACKETS", "RATE", "PEAK", "RUNNING", "PAYLOAD")
		for i := range r.Loops {
			l := &r.Loops[i]
			running := "no"
			if l.OngoingAtEnd {
				running = "yes, at end"
			}
			_ = t.Append(strconv.Itoa(i+1), hostPort(l.Client), hostPort(l.Server), Escape(l.Start),
				fmt.Sprintf("%.3f s", l.DurationS), strconv.FormatUint(l.Packets, 10),
				fmt.Sprintf("%.1f/s", l.RatePPS), fmt.Sprintf("%d/s", l.PeakPPS), running,
				Escape(clipText(payloadCell(&l.Payload), 40)))
		}
		if err := t.Render(); err != nil {
			return err
		}
		for i := range r.Loops {
			printLoop(ew, i+1, &r.Loops[i])
		}
	}
	printSummary(ew, r)
	return ew.err
}

func payloadCell(p *Payload) string {
	if p.Text != "" {
		return p.Kind + ": " + p.Text
	}
	return p.Kind
}

// clipText cuts s to at most n bytes, at a rune boundary so that a
// multi-byte character is not shown as \xHH escapes of its first bytes.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// hostPort formats an endpoint, escaped.
func hostPort(e Endpoint) string {
	if strings.Contains(e.IP, ":") {
		return "[" + Escape(e.IP) + "]:" + strconv.Itoa(int(e.Port))
	}
	return Escape(e.IP) + ":" + strconv.Itoa(int(e.Port))
}

func printLoop(w *errWriter, n int, l *Loop) {
	stream := ""
	if l.Stream != "" {
		stream = " in stream " + Escape(l.Stream)
	}
	w.printf("\nLoop %d%s: %s <-> %s, %d packets in %.3f s (%.1f/s, peak %d/s)", n, stream, hostPort(l.Client), hostPort(l.Server), l.Packets, l.DurationS, l.RatePPS, l.PeakPPS)
	if l.OngoingAtEnd {
		w.printf(", still running at the end of the capture")
	}
	line := func(what string, p *Packet, extra string) {
		w.printf("    %-9s %s#%d  %s  %s -> %s  %s%s\n", what, Escape(w.name(p.File)), p.Frame, Escape(p.Time),
			hostPort(p.Src), hostPort(p.Dst), Escape(p.Summary), extra)
	}
	t := &l.Trigger
	if t.Query != nil && t.Response != nil && t.FirstNonDNS.DelayMS != nil {
		w.printf("\n  trigger:\n")
		line("query", &t.Query.Packet, "")
		line("response", &t.Response.Packet, "")
		line("non-DNS", &t.FirstNonDNS.Packet, fmt.Sprintf("  (%.3f ms after the response)", *t.FirstNonDNS.DelayMS))
	} else {
		w.printf("\n  no trigger in the capture (%s: the loop was already running, or no DNS exchange explains it):\n", Escape(l.Detector))
		line("first", &l.FirstPacket, "")
		line("client", &t.FirstNonDNS.Packet, "")
	}
	ttls := make([]string, len(l.ClientTTLs))
	for i, v := range l.ClientTTLs {
		ttls[i] = strconv.Itoa(v)
	}
	src := "several sources or paths"
	if len(ttls) == 1 {
		src = "one source"
	}
	w.printf("  client -> server: %d packets, %d bytes; server -> client: %d packets, %d bytes\n",
		l.ClientToServer.Packets, l.ClientToServer.Bytes, l.ServerToClient.Packets, l.ServerToClient.Bytes)
	w.printf("  client TTL/hop limit: %s (%s)\n", strings.Join(ttls, ", "), src)
	cut := ""
	if l.Payload.Cut {
		cut = ", cut"
	}
	what := "first non-DNS payload"
	if l.Trigger.Query == nil {
		what = "client payload"
	}
	w.printf("  %s (%s, %d bytes%s):\n", what, Escape(l.Payload.Kind), l.Payload.Length, cut)
	raw, _ := hex.DecodeString(l.Payload.Hex)
	for _, ln := range strings.Split(strings.TrimRight(HexDump(raw, 256), "\n"), "\n") {
		w.printf("    %s\n", ln)
	}
	w.printf("  to stop it: %s\n", Escape(l.Advice))
}

// HexDump renders up to limit bytes of b as offset, hex and ASCII columns;
// only printable ASCII appears in the ASCII column.
func HexDump(b []byte, limit int) string {
	var sb strings.Builder
	n := min(len(b), limit)
	for off := 0; off < n; off += 16 {
		end := min(off+16, n)
		fmt.Fprintf(&sb, "%04x  ", off)
		for i := off; i < off+16; i++ {
			if i < end {
				fmt.Fprintf(&sb, "%02x ", b[i])
			} else {
				sb.WriteString("   ")
			}
			if i == off+7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for _, c := range b[off:end] {
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('.')
			}
		}
		sb.WriteString("|\n")
	}
	if len(b) > n {
		fmt.Fprintf(&sb, "... %d more bytes\n", len(b)-n)
	}
	return sb.String()
}

func printSummary(w *errWriter, r *Report) {
	w.printf("\nInputs:\n")
	t := newTable(w)
	t.Header("FILE", "FORMAT", "LINK TYPES", "PACKETS", "FIRST (UTC)", "LAST (UTC)", "ERROR")
	for _, in := range r.Inputs {
		lts := make([]string, len(in.LinkTypes))
		for i, lt := range in.LinkTypes {
			lts[i] = LinkTypeName(lt)
		}
		format := Escape(in.Format)
		if in.Gzip {
			format += "+gzip"
		}
		_ = t.Append(Escape(in.Path), format, strings.Join(lts, ", "), strconv.FormatUint(in.Packets, 10),
			Escape(in.First), Escape(in.Last), Escape(in.Error))
	}
	_ = t.Render()
	s := &r.Summary
	w.printf("\nSummary: %d packets, %d UDP, %d DNS messages, %d non-DNS, %d truncated, %d flows, %d bounces, %d loops\n",
		s.Packets, s.UDP, s.DNSMessages, s.NonDNS, s.Truncated, s.Flows, s.Bounces, s.Loops)
	w.printf("         %d TCP, %d other IP, %d not IP, %d malformed, %d unknown link type, %d fragments (%d datagrams reassembled, %d dropped)\n",
		s.TCP, s.OtherIP, s.NotIP, s.Malformed, s.UnknownLink, s.Fragments, s.Reassembled, s.FragDropped)
	if s.OneSided > 0 || s.Evicted > 0 || s.EvictedCap > 0 {
		w.printf("         %d one-sided candidates, flows evicted: %d idle, %d with the table full\n", s.OneSided, s.Evicted, s.EvictedCap)
	}
	names := make([]string, 0, len(s.Detectors))
	for name := range s.Detectors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := s.Detectors[name]
		w.printf("  %-9s %d flows, %d bounces, %d one-sided, %d evicted idle, %d evicted with the table full, %d loops cut by it\n",
			Escape(name)+":", c["flows"], c["bounces"], c["one_sided"], c["flows_evicted_idle"], c["flows_evicted_full"], c["loops_cut_by_flow_cap"])
	}
	if s.Interrupted {
		w.printf("\nInterrupted: the scan stopped before the end of its inputs; this report covers what was read.\n")
	}
}

// LinkTypeName names a LINKTYPE_ value.
func LinkTypeName(lt uint32) string {
	names := map[uint32]string{0: "NULL", 1: "ETHERNET", 12: "RAW", 14: "RAW", 101: "RAW", 108: "LOOP", 113: "LINUX_SLL",
		105: "IEEE802_11", 127: "IEEE802_11_RADIOTAP", 192: "PPI", 228: "IPV4", 229: "IPV6", 276: "LINUX_SLL2", 9: "PPP", 239: "NFLOG", 258: "PKTAP"}
	if n, ok := names[lt]; ok {
		return fmt.Sprintf("%s (%d)", n, lt)
	}
	return strconv.FormatUint(uint64(lt), 10)
}

func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoWrap(tw.WrapNone))
}

type errWriter struct {
	w     io.Writer
	err   error
	names map[string]string // DisplayNames of the inputs
}

// name is how packet references name a file: its base name, or more of
// its path where inputs share a base name.
func (e *errWriter) name(path string) string {
	if n, ok := e.names[path]; ok {
		return n
	}
	return Base(path)
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
