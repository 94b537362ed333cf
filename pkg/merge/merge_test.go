package merge

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pongscan/pongscan/pkg/report"
)

const base = "2024-03-01T00:00:"

func ts(s string) string { return base + s + "Z" }

// part is a report of one chunk [first, last] of a stream, with loops.
func part(stream, first, last string, loops ...report.Loop) *report.Report {
	r := &report.Report{Schema: report.Schema, Settings: report.Settings{IdleS: 2, MinPackets: 10},
		Inputs:  []report.Input{{Path: stream + first, Stream: stream, First: ts(first), Last: ts(last), Packets: 100}},
		Summary: report.Summary{Packets: 100, Loops: len(loops)}}
	for _, l := range loops {
		l.Stream = stream
		r.Loops = append(r.Loops, l)
	}
	return r
}

var c, s = report.Endpoint{IP: "198.51.100.1", Port: 5000}, report.Endpoint{IP: "192.0.2.53", Port: 53}

func loop(start, end string, pkts uint64, open, ongoing bool) report.Loop {
	return report.Loop{Client: c, Server: s, Start: ts(start), End: ts(end), Packets: pkts, Bytes: 100 * pkts,
		ClientToServer: report.Direction{Packets: pkts / 2, Bytes: 50 * pkts}, ServerToClient: report.Direction{Packets: pkts / 2, Bytes: 50 * pkts},
		OpenAtStart: open, OngoingAtEnd: ongoing, PeakPPS: pkts, Payload: report.Payload{Kind: "tftp-error"}}
}

func swapped(l report.Loop) report.Loop {
	l.Client, l.Server = l.Server, l.Client
	l.ClientToServer, l.ServerToClient = l.ServerToClient, l.ClientToServer
	return l
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name  string
		parts []*report.Report
		want  []string // start..end packets ongoing open
	}{
		{"joined across one cut", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
			part("", "10.001000000", "20.000000000", loop("10.001000000", "11.000000000", 50, true, false)),
		}, []string{"08.000000000..11.000000000 150 false false"}},
		{"parts given in any order", []*report.Report{
			part("", "10.001000000", "20.000000000", loop("10.001000000", "11.000000000", 50, true, false)),
			part("", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
		}, []string{"08.000000000..11.000000000 150 false false"}},
		{"three parts, the middle one all loop; ongoing at the end", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("08.000000000", "10.000000000", 100, false, true)),
			part("", "10.001000000", "20.000000000", loop("10.001000000", "20.000000000", 500, true, true)),
			part("", "20.001000000", "30.000000000", loop("20.001000000", "29.500000000", 400, true, true)),
		}, []string{"08.000000000..29.500000000 1000 true false"}},
		{"the next piece seen from the other side", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
			part("", "10.001000000", "20.000000000", swapped(loop("10.001000000", "11.000000000", 50, true, false))),
		}, []string{"08.000000000..11.000000000 150 false false"}},
		{"a gap of --idle or more is two loops", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("07.000000000", "08.500000000", 100, false, true)),
			part("", "10.500000000", "20.000000000", loop("10.500000000", "11.000000000", 50, true, false)),
		}, []string{"07.000000000..08.500000000 100 false false", "10.500000000..11.000000000 50 false false"}},
		{"other streams are not joined", []*report.Report{
			part("ns1", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
			part("ns2", "10.001000000", "20.000000000", loop("10.001000000", "11.000000000", 50, true, false)),
		}, []string{"08.000000000..09.999000000 100 true false", "10.001000000..11.000000000 50 false true"}},
		{"ongoing at a cut, then a second of other traffic: 50 beats missed, stopped", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
			part("", "10.001000000", "11.000000000"),
		}, []string{"08.000000000..09.999000000 100 false false"}},
		{"ongoing at a cut, then a tenth of a second: still running", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
			part("", "10.001000000", "10.100000000"),
		}, []string{"08.000000000..09.999000000 100 true false"}},
		{"ongoing at a cut with nothing after it: not ongoing at the stream's end", []*report.Report{
			part("", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true)),
			part("", "10.001000000", "20.000000000"),
		}, []string{"08.000000000..09.999000000 100 false false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Merge(tt.parts, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range r.Loops {
				got = append(got, strings.TrimPrefix(l.Start, base)[:12]+".."+strings.TrimSuffix(strings.TrimPrefix(l.End, base), "Z")+" "+
					itoa(l.Packets)+" "+bstr(l.OngoingAtEnd)+" "+bstr(l.OpenAtStart))
			}
			for i := range got {
				got[i] = strings.Replace(got[i], "Z..", "..", 1)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("loops\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if r.Summary.Packets != uint64(100*len(tt.parts)) || r.Summary.Loops != len(tt.want) {
				t.Fatalf("summary %+v", r.Summary)
			}
			if len(tt.want) == 1 {
				l := r.Loops[0]
				if l.ClientToServer.Packets+l.ServerToClient.Packets != l.Packets || l.Client != c {
					t.Fatalf("directions %+v %+v, client %v", l.ClientToServer, l.ServerToClient, l.Client)
				}
			}
		})
	}
}

func itoa(n uint64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

func bstr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestMergeRefusesOtherIdle(t *testing.T) {
	a, b := part("", "00.0", "10.0"), part("", "10.1", "20.0")
	b.Settings.IdleS = 5
	if _, err := Merge([]*report.Report{a, b}, Options{}); err == nil || !strings.Contains(err.Error(), "--idle") {
		t.Fatalf("error %v", err)
	}
}

// TestReadFormats: JSON and JSON Lines read back the same report; JSON
// Lines without its summary line is refused as incomplete.
func TestReadFormats(t *testing.T) {
	r := part("ns1", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true))
	var j, jl bytes.Buffer
	report.JSON().Print(&j, r)
	report.JSONL().Print(&jl, r)
	a, err := Read("a.json", &j)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read("a.jsonl", bytes.NewReader(jl.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Loops) != 1 || len(b.Loops) != 1 || a.Loops[0].End != b.Loops[0].End || b.Inputs[0].Stream != "ns1" || b.Summary.Packets != 100 {
		t.Fatalf("json %+v\njsonl %+v", a, b)
	}
	cut := jl.Bytes()[:bytes.LastIndex(bytes.TrimSpace(jl.Bytes()), []byte("\n"))+1]
	if _, err := Read("cut.jsonl", bytes.NewReader(cut)); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("cut JSON Lines: %v", err)
	}
	if _, err := Read("x", strings.NewReader("hello")); err == nil {
		t.Fatal("read a non-report")
	}
}

// TestReadHostile: reports come from other machines. Valid reports in
// any JSON formatting are read whole (a first line over 64 KiB, jq -c's
// one line, objects broken over lines); concatenated reports, trailing
// data and impossible values are refused, naming what and where.
func TestReadHostile(t *testing.T) {
	r := part("ns1", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true))
	long := part("ns1", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true))
	long.Inputs[0].Path = strings.Repeat("d/", 50000) + "cap.pcap" // a first line of 100 kB
	print := func(p report.Printer, r *report.Report) []byte {
		var b bytes.Buffer
		if err := p.Print(&b, r); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	js, jl, longl := print(report.JSON(), r), print(report.JSONL(), r), print(report.JSONL(), long)
	compact := func(b []byte) []byte {
		var out bytes.Buffer
		if err := json.Compact(&out, b); err != nil {
			t.Fatal(err)
		}
		return append(out.Bytes(), '\n')
	}
	var pretty bytes.Buffer // each JSON Lines object indented over lines
	for _, line := range bytes.Split(bytes.TrimSpace(jl), []byte("\n")) {
		json.Indent(&pretty, line, "", "  ")
		pretty.WriteString("\n")
	}
	for name, data := range map[string][]byte{
		"json": js, "jq -c": compact(js), "jsonl": jl, "long first line": longl, "indented jsonl": pretty.Bytes(),
		"crlf and blank lines": bytes.ReplaceAll(jl, []byte("\n"), []byte("\r\n\r\n")),
	} {
		got, err := Read(name, bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got.Loops) != 1 || got.Summary.Packets != 100 || len(got.Inputs) != 1 {
			t.Errorf("%s: read %d loops, %d packets", name, len(got.Loops), got.Summary.Packets)
		}
	}
	mod := func(f func(r *report.Report)) []byte {
		var c report.Report
		if err := json.Unmarshal(js, &c); err != nil {
			t.Fatal(err)
		}
		f(&c)
		return print(report.JSON(), &c)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"two reports", append(append([]byte{}, js...), js...), "second JSON document"},
		{"trailing garbage", append(append([]byte{}, js...), "}garbage"...), "after the report at byte"},
		{"jsonl after its summary", append(append([]byte{}, jl...), jl...), "after the summary"},
		{"jsonl garbage line", append(append([]byte{}, jl[:bytes.IndexByte(jl, '\n')+1]...), "{not json\n"...), "object 2"},
		{"year 9999", mod(func(r *report.Report) { r.Loops[0].End = "9999-01-01T00:00:00Z" }), "1970-2200"},
		{"ends before it starts", mod(func(r *report.Report) { r.Loops[0].End = ts("01.000000000") }), "before it starts"},
		{"negative duration", mod(func(r *report.Report) { r.Loops[0].DurationS = -5 }), "impossible"},
		{"negative idle", mod(func(r *report.Report) { r.Settings.IdleS = -1 }), "impossible duration"},
		{"packets do not add up", mod(func(r *report.Report) { r.Loops[0].Packets = 7 }), "by direction"},
		{"bad address", mod(func(r *report.Report) { r.Loops[0].Client.IP = "198.51.100.1; touch x" }), "address"},
		{"counter past 2^64", bytes.Replace(js, []byte(`"packets": 100`), []byte(`"packets": 18446744073709551616`), 1), "not a pongscan report"},
		{"other schema", bytes.Replace(js, []byte(report.Schema), []byte("pongscan/v0"), 1), "schema"},
		{"empty", []byte("  \n"), "empty report"},
	} {
		_, err := Read(tc.name, bytes.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), tc.name+": ") {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzRead: whatever a report file holds, Read returns a report or an
// error and never panics; a report it returns passes Validate.
func FuzzRead(f *testing.F) {
	r := part("ns1", "00.000000000", "10.000000000", loop("08.000000000", "09.999000000", 100, false, true))
	for _, p := range []report.Printer{report.JSON(), report.JSONL()} {
		var b bytes.Buffer
		p.Print(&b, r)
		f.Add(b.Bytes())
	}
	f.Add([]byte(`{"schema":"` + report.Schema + `","loops":[{}]}`))
	f.Add([]byte(`{"pongscan":{"type":"summary"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Read("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := Validate(rep); err != nil {
			t.Fatalf("Read returned a report Validate refuses: %v", err)
		}
		if _, err := Merge([]*report.Report{rep, rep}, Options{}); err != nil && rep.Settings.IdleS > 0 {
			_ = err // refusing is fine; panicking is not
		}
	})
}
