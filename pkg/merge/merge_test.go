package merge

import (
	"bytes"
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
