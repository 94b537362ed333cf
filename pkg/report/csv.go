package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

type csvPrinter struct{}

var _ Printer = csvPrinter{}

// CSV prints one row per loop with its scalar fields, header row first.
// Every cell is escaped as the table is (see Escape), so no raw control
// byte, C1 code point or invisible format character reaches the file and
// `cat report.csv` is as safe as the table; then cells that a spreadsheet
// would run as a formula are neutralised. payload_hex keeps the raw bytes.
func CSV() Printer { return csvPrinter{} }

// CSVHeader is the CSV header row.
var CSVHeader = []string{
	"detector", "client_ip", "client_port", "server_ip", "server_port", "start", "end", "duration_s",
	"packets", "bytes", "c2s_packets", "c2s_bytes", "s2c_packets", "s2c_bytes",
	"rate_pps", "peak_pps", "ongoing_at_end", "client_ttls", "payload_kind", "payload_text", "payload_hex",
	"query_file", "query_frame", "query_time", "query_id", "qname", "qtype",
	"response_file", "response_frame", "response_time", "rcode",
	"first_non_dns_file", "first_non_dns_frame", "first_non_dns_time", "delay_ms",
	"stream", "open_at_start",
	// The loop's stable id and what the finding rests on.
	"id", "evidence_rule", "evidence_cycle",
	// The next steps (followup_csv.go): verbatim, as commands.
	"wireshark_filter", "tshark", "editcap", "decode_as", "nft", "iptables", "bpf", "rrl", "extract_file",
}

func (csvPrinter) Print(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for i := range r.Loops {
		l := &r.Loops[i]
		ttls := make([]string, len(l.ClientTTLs))
		for k, t := range l.ClientTTLs {
			ttls[k] = strconv.Itoa(t)
		}
		t := &l.Trigger
		var q Query
		var r Response
		qid, delay := "", ""
		if t.Query != nil {
			q, qid = *t.Query, strconv.Itoa(int(t.Query.ID))
		}
		if t.Response != nil {
			r = *t.Response
		}
		if t.FirstNonDNS.DelayMS != nil {
			delay = f(*t.FirstNonDNS.DelayMS)
		}
		blank := func(n uint64) string {
			if n == 0 {
				return ""
			}
			return u(n)
		}
		row := []string{
			l.Detector, l.Client.IP, strconv.Itoa(int(l.Client.Port)), l.Server.IP, strconv.Itoa(int(l.Server.Port)),
			l.Start, l.End, f(l.DurationS),
			u(l.Packets), u(l.Bytes), u(l.ClientToServer.Packets), u(l.ClientToServer.Bytes),
			u(l.ServerToClient.Packets), u(l.ServerToClient.Bytes),
			f(l.RatePPS), u(l.PeakPPS), strconv.FormatBool(l.OngoingAtEnd), strings.Join(ttls, " "),
			l.Payload.Kind, l.Payload.Text, l.Payload.Hex,
			q.File, blank(q.Frame), q.Time, qid, q.QName, q.QType,
			r.File, blank(r.Frame), r.Time, r.RCode,
			t.FirstNonDNS.File, u(t.FirstNonDNS.Frame), t.FirstNonDNS.Time, delay,
			l.Stream, strconv.FormatBool(l.OpenAtStart),
			l.ID, evidenceRule(l), evidenceCycle(l),
		}
		for k := range row {
			// Escape first: it turns a leading tab or CR into text,
			// and CSVSafe then sees what the spreadsheet will see.
			row[k] = CSVSafe(Escape(row[k]))
		}
		row = append(row, followUpCells(l)...)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVSafe neutralises a cell a spreadsheet would treat as a formula (OWASP
// CSV injection): one starting with = + - @, tab or carriage return gets a
// leading single quote. Numbers keep their sign.
func CSVSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s
		}
		return "'" + s
	}
	return s
}

func evidenceRule(l *Loop) string {
	if l.Evidence == nil {
		return ""
	}
	return l.Evidence.Rule
}

func evidenceCycle(l *Loop) string {
	if l.Evidence == nil {
		return ""
	}
	return l.Evidence.Cycle
}
