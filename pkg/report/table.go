package report

import (
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tablePrinter struct{ o TableOptions }

var _ Printer = tablePrinter{}

// Table prints the report for people: a table of loops, each loop's
// trigger packets and first non-DNS payload, then a summary, laid out
// for a wide terminal. Every string field of the report is escaped (see
// Escape), not only those known to come from a packet or a file name, so
// a report built by other code is as safe to print.
func Table() Printer { return tablePrinter{} }

// TableWith is Table laid out for o: fitted to a terminal's width, or as
// plain tab-separated rows for a file or a pipe.
func TableWith(o TableOptions) Printer { return tablePrinter{o} }

func (tp tablePrinter) Print(w io.Writer, r *Report) error {
	ew := &errWriter{w: w, names: DisplayNames(r.Inputs)}
	width := tp.o.Width
	if tp.o.Plain {
		width = 0
	}
	ew.para(width, "", "", Headline(r))
	ew.printf("\n")
	if len(r.Loops) > 0 {
		tp.loopTable(ew, r)
		for i := range r.Loops {
			printLoop(ew, width, i+1, &r.Loops[i])
		}
	}
	tp.printSummary(ew, r, width)
	return ew.err
}

// Headline is the report's first line: how many loops were found, and
// whether some inputs, or all of them, could not be read.
func Headline(r *Report) string {
	unreadable, damaged := 0, 0
	for _, in := range r.Inputs {
		switch {
		case in.Error != "" && in.Packets == 0:
			unreadable++
		case in.Error != "":
			damaged++
		}
	}
	if len(r.Inputs) > 0 && unreadable == len(r.Inputs) {
		if len(r.Inputs) == 1 {
			return "Nothing scanned: the input could not be read."
		}
		return fmt.Sprintf("Nothing scanned: none of the %d inputs could be read.", len(r.Inputs))
	}
	var h string
	switch n := len(r.Loops); n {
	case 0:
		h = "No machine-pong loop found"
	case 1:
		h = "1 machine-pong loop found"
	default:
		h = fmt.Sprintf("%d machine-pong loops found", n)
	}
	var notes []string
	if unreadable > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d inputs could not be read", unreadable, len(r.Inputs)))
	}
	if damaged > 0 {
		notes = append(notes, fmt.Sprintf("%d read only up to an error", damaged))
	}
	if r.Summary.Interrupted {
		notes = append(notes, "interrupted")
	}
	if len(notes) > 0 {
		h += " (" + strings.Join(notes, "; ") + ")"
	}
	return h + "."
}

// loopTable prints one row per loop: every column on a wide terminal or
// in plain rows, fewer columns below CompactBelow, none on a terminal too
// narrow for any (each loop's details follow anyway).
func (tp tablePrinter) loopTable(w *errWriter, r *Report) {
	full := &grid{header: []string{"#", "CLIENT", "SERVER", "START (UTC)", "DURATION", "PACKETS", "RATE", "PEAK", "RUNNING", "PAYLOAD"},
		right: []bool{true, false, false, false, true, true, true, true}, shrink: []bool{9: true}}
	compact := &grid{header: []string{"#", "CLIENT / SERVER", "START (UTC)", "PKTS", "RATE", "PEAK", "RUNNING"},
		right: []bool{true, false, false, true, true, true}, shrink: []bool{1: true}}
	// No input failed: the compact grid spends no column on errors, so
	// the timestamps keep the width they need.
	cut := !slices.ContainsFunc(r.Inputs, func(in Input) bool { return in.Error != "" })
	if cut {
		compact.header = compact.header[:4]
	}
	// Rows are made as they are printed (twice when the widths must be
	// measured first), not held: a report may have a million loops.
	cells := func(i int) (n, pkts, rate, peak, running string) {
		l := &r.Loops[i]
		running = "no"
		if l.OngoingAtEnd {
			running = "yes, at end"
		}
		return strconv.Itoa(i + 1), strconv.FormatUint(l.Packets, 10), fmt.Sprintf("%.1f/s", l.RatePPS), fmt.Sprintf("%d/s", l.PeakPPS), running
	}
	full.n, compact.n = len(r.Loops), len(r.Loops)
	var row []string
	full.gen = func(i int) []string {
		l := &r.Loops[i]
		n, pkts, rate, peak, running := cells(i)
		start := Escape(l.Start)
		day, clock := splitStart(l.Start)
		if tp.o.Width > 0 && clock != "" {
			start = day + " " + clock
		}
		row = append(row[:0], n, hostPort(l.Client), hostPort(l.Server), start,
			fmt.Sprintf("%.3f s", l.DurationS), pkts, rate, peak, running, Escape(clipText(payloadCell(&l.Payload), 40)))
		return row
	}
	compact.gen = func(i int) []string {
		l := &r.Loops[i]
		n, pkts, rate, peak, running := cells(i)
		day, clock := splitStart(l.Start)
		row = append(row[:0], n, hostPort(l.Client)+"\n"+hostPort(l.Server), day+"\n"+clock,
			pkts, rate, peak, strings.TrimSuffix(running, ", at end"))
		if cut {
			row = row[:4]
		}
		return row
	}
	switch {
	case tp.o.Plain:
		full.renderPlain(w)
	case tp.o.Width == 0 || tp.o.Width >= CompactBelow && full.render(w, tp.o.Width):
		if tp.o.Width == 0 {
			full.render(w, 0)
		}
	case compact.render(w, tp.o.Width):
	default:
		w.para(tp.o.Width, "", "", "(The terminal is too narrow for the loop table: each loop is described below.)")
	}
}

// splitStart splits an RFC 3339 start into its date and its time of day
// to the millisecond, escaped.
func splitStart(s string) (string, string) {
	day, clock, ok := strings.Cut(s, "T")
	if !ok || len(clock) < 12 {
		return Escape(s), ""
	}
	return Escape(day), Escape(clock[:12])
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

func printLoop(w *errWriter, width, n int, l *Loop) {
	w.printf("\n")
	stream := ""
	if l.Stream != "" {
		stream = " in stream " + Escape(l.Stream)
	}
	head := fmt.Sprintf("Loop %d%s: %s <-> %s, %d packets in %.3f s (%.1f/s, peak %d/s)", n, stream, hostPort(l.Client), hostPort(l.Server), l.Packets, l.DurationS, l.RatePPS, l.PeakPPS)
	if l.OngoingAtEnd {
		head += ", still running at the end of the capture"
	}
	w.para(width, "", "  ", head)
	line := func(what string, p *Packet, extra string) {
		w.para(width, fmt.Sprintf("    %-9s ", what), "              ", fmt.Sprintf("%s#%d  %s  %s -> %s  %s%s", Escape(w.name(p.File)), p.Frame, Escape(p.Time),
			hostPort(p.Src), hostPort(p.Dst), Escape(p.Summary), extra))
	}
	t := &l.Trigger
	if t.Query != nil && t.Response != nil && t.FirstNonDNS.DelayMS != nil {
		w.printf("\n  trigger:\n")
		line("query", &t.Query.Packet, "")
		line("response", &t.Response.Packet, "")
		line("non-DNS", &t.FirstNonDNS.Packet, fmt.Sprintf("  (%.3f ms after the response)", *t.FirstNonDNS.DelayMS))
	} else {
		w.printf("\n")
		w.para(width, "  ", "    ", fmt.Sprintf("no trigger in the capture (%s: the loop was already running, or no DNS exchange explains it):", Escape(l.Detector)))
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
	w.para(width, "  ", "    ", fmt.Sprintf("client -> server: %d packets, %d bytes; server -> client: %d packets, %d bytes",
		l.ClientToServer.Packets, l.ClientToServer.Bytes, l.ServerToClient.Packets, l.ServerToClient.Bytes))
	w.para(width, "  ", "    ", fmt.Sprintf("client TTL/hop limit: %s (%s)", strings.Join(ttls, ", "), src))
	printEvidence(w, width, l.Evidence)
	cut := ""
	if l.Payload.Cut {
		cut = ", cut"
	}
	what := "first non-DNS payload"
	if l.Trigger.Query == nil {
		what = "client payload"
	}
	w.para(width, "  ", "    ", fmt.Sprintf("%s (%s, %d bytes%s):", what, Escape(clipText(payloadCell(&l.Payload), 60)), l.Payload.Length, cut))
	raw, _ := hex.DecodeString(l.Payload.Hex)
	perRow := 16
	if width > 0 && width < 80 {
		perRow = 8
	}
	for _, ln := range strings.Split(strings.TrimRight(hexDump(raw, 256, perRow), "\n"), "\n") {
		w.printf("    %s\n", ln)
	}
	w.para(width, "  to stop it: ", "    ", Escape(l.Advice))
	printFollowUp(w, width, l)
}

// HexDump renders up to limit bytes of b as offset, hex and ASCII columns;
// only printable ASCII appears in the ASCII column.
func HexDump(b []byte, limit int) string { return hexDump(b, limit, 16) }

// hexDump is HexDump with perRow bytes a row (16 or 8).
func hexDump(b []byte, limit, perRow int) string {
	var sb strings.Builder
	n := min(len(b), limit)
	for off := 0; off < n; off += perRow {
		end := min(off+perRow, n)
		fmt.Fprintf(&sb, "%04x  ", off)
		for i := off; i < off+perRow; i++ {
			if i < end {
				fmt.Fprintf(&sb, "%02x ", b[i])
			} else {
				sb.WriteString("   ")
			}
			if i == off+7 && perRow == 16 {
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

func (tp tablePrinter) printSummary(w *errWriter, r *Report, width int) {
	w.printf("\nInputs:\n")
	full := &grid{header: []string{"FILE", "FORMAT", "LINK TYPES", "PACKETS", "FIRST (UTC)", "LAST (UTC)", "ERROR"},
		right: []bool{false, false, false, true}}
	full.shrink = []bool{0: true, 2: true, 6: true}
	// The compact grid has no error column: an error (it names its file)
	// gets a paragraph under the grid, and the timestamps keep the width
	// they need.
	compact := &grid{header: []string{"FILE", "FORMAT", "PACKETS", "FIRST / LAST (UTC)"}, right: []bool{false, false, true},
		shrink: []bool{0: true, 3: true}}
	for _, in := range r.Inputs {
		lts := make([]string, len(in.LinkTypes))
		for i, lt := range in.LinkTypes {
			lts[i] = LinkTypeName(lt)
		}
		format := Escape(in.Format)
		if in.Gzip {
			format += "+gzip"
		}
		pk := strconv.FormatUint(in.Packets, 10)
		full.rows = append(full.rows, []string{Escape(in.Path), format, strings.Join(lts, ", "), pk, Escape(in.First), Escape(in.Last), Escape(in.Error)})
		span := ""
		if in.First != "" {
			span = Escape(in.First) + "\n" + Escape(in.Last)
		}
		compact.rows = append(compact.rows, []string{Escape(in.Path), format, pk, span})
	}
	isCompact := false
	switch {
	case tp.o.Plain:
		full.renderPlain(w)
	case tp.o.Width == 0:
		full.render(w, 0)
	case tp.o.Width >= CompactBelow && full.render(w, tp.o.Width):
	case compact.render(w, tp.o.Width):
		isCompact = true
	default:
		for _, row := range compact.rows {
			w.para(width, "  ", "    ", strings.Join(append(row[:3:3], strings.ReplaceAll(row[3], "\n", " to ")), "  "))
		}
		isCompact = true
	}
	if isCompact {
		for _, in := range r.Inputs {
			if in.Error != "" {
				w.para(width, "  error: ", "    ", Escape(in.Error))
			}
		}
	}
	s := &r.Summary
	sum := func(indent, text string) { w.para(width, indent, "           ", text) }
	sum("\nSummary: ", fmt.Sprintf("%d packets, %d UDP, %d DNS messages, %d non-DNS on DNS ports, %d truncated, %d flows, %d bounces, %d loops",
		s.Packets, s.UDP, s.DNSMessages, s.NonDNS, s.Truncated, s.Flows, s.Bounces, s.Loops))
	sum("         ", fmt.Sprintf("%d TCP, %d other IP, %d not IP, %d malformed, %d unknown link type, %d fragments (%d datagrams reassembled, %d dropped)",
		s.TCP, s.OtherIP, s.NotIP, s.Malformed, s.UnknownLink, s.Fragments, s.Reassembled, s.FragDropped))
	if s.OneSided > 0 || s.Evicted > 0 || s.EvictedCap > 0 {
		sum("         ", fmt.Sprintf("%d one-sided candidates, flows evicted: %d idle, %d with the table full", s.OneSided, s.Evicted, s.EvictedCap))
	}
	if s.FilteredOut > 0 || r.Settings.Filter != nil {
		sum("         ", fmt.Sprintf("%d packets filtered out by %s", s.FilteredOut, filterText(r.Settings.Filter)))
	}
	names := make([]string, 0, len(s.Detectors))
	for name := range s.Detectors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := s.Detectors[name]
		w.para(width, fmt.Sprintf("  %-9s ", Escape(name)+":"), "            ", fmt.Sprintf("%d flows, %d bounces, %d one-sided, %d evicted idle, %d evicted with the table full, %d loops cut by it",
			c["flows"], c["bounces"], c["one_sided"], c["flows_evicted_idle"], c["flows_evicted_full"], c["loops_cut_by_flow_cap"]))
	}
	if s.Interrupted {
		w.printf("\n")
		w.para(width, "", "", "Interrupted: the scan stopped before the end of its inputs; this report covers what was read.")
	}
}

// filterText describes the filters a scan ran with.
func filterText(f *FilterSettings) string {
	if f == nil {
		return "the filters"
	}
	var parts []string
	for _, h := range f.Hosts {
		parts = append(parts, "--host "+Escape(h))
	}
	for _, p := range f.Ports {
		parts = append(parts, "--port "+strconv.Itoa(int(p)))
	}
	if f.From != "" {
		parts = append(parts, "--from "+Escape(f.From))
	}
	if f.To != "" {
		parts = append(parts, "--to "+Escape(f.To))
	}
	return strings.Join(parts, " ")
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

// printEvidence shows what the finding rests on: the signature's tests
// with their numbers, each side's behaviour and how the loop started.
func printEvidence(w *errWriter, width int, e *Evidence) {
	if e == nil {
		return
	}
	rule := "found by the loop signature"
	if e.Rule == "trigger" {
		rule = "started by the trigger above; the signature's tests, for comparison"
	}
	var tests []string
	for _, t := range e.Tests {
		mark := "held"
		if !t.Held {
			mark = "NOT held"
		}
		tests = append(tests, fmt.Sprintf("%s %s (>= %s) %s", strings.ReplaceAll(t.Name, "_", " "),
			strconv.FormatFloat(t.Value, 'f', -1, 64), strconv.FormatFloat(t.Threshold, 'f', -1, 64), mark))
	}
	w.para(width, "  evidence: ", "    ", Escape(rule+": "+strings.Join(tests, "; ")))
	side := func(name string, s SideEvidence) {
		w.para(width, "    ", "      ", Escape(fmt.Sprintf("%s: %s; %.0f%% of its packets answer, %.0f%% echo, %.0f%% are requests; reacts in %.3f ms (least %.3f, most %.3f); sends %s",
			name, s.Service, 100*s.Answers, 100*s.Echoes, 100*s.Requests, s.ReactionMS[1], s.ReactionMS[0], s.ReactionMS[2], s.Types)))
	}
	side("client", e.Client)
	side("server", e.Server)
	var start []string
	if e.Start.SpoofedTTL {
		ttls := make([]string, len(e.Start.SenderTTLs))
		for i, v := range e.Start.SenderTTLs {
			ttls[i] = strconv.Itoa(v)
		}
		start = append(start, fmt.Sprintf("its first packet's TTL %d differs from its sender's later ones (%s): spoofed?", e.Start.FirstTTL, strings.Join(ttls, ", ")))
	}
	if e.Start.UnsolicitedAnswer {
		start = append(start, "its first packet answers nothing the capture shows")
	}
	if len(start) > 0 {
		w.para(width, "    start: ", "      ", Escape(strings.Join(start, "; ")))
	}
}
