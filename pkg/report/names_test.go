package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestDisplayNames(t *testing.T) {
	tests := []struct {
		paths []string
		want  []string
	}{
		{[]string{"a/cap.pcap", "b.pcap"}, []string{"cap.pcap", "b.pcap"}},
		{[]string{"d1/cap.pcap", "d2/cap.pcap"}, []string{"d1/cap.pcap", "d2/cap.pcap"}},
		{[]string{"/x/ns1/h/cap.pcap", "/x/ns2/h/cap.pcap", "/x/ns2/other.pcap"}, []string{"ns1/h/cap.pcap", "ns2/h/cap.pcap", "other.pcap"}},
		{[]string{"cap.pcap", "d/cap.pcap"}, []string{"cap.pcap", "d/cap.pcap"}},
		{[]string{"-"}, []string{"-"}},
	}
	for _, tt := range tests {
		var ins []Input
		for _, p := range tt.paths {
			ins = append(ins, Input{Path: p})
		}
		got := DisplayNames(ins)
		for i, p := range tt.paths {
			if got[p] != tt.want[i] {
				t.Errorf("%v: %s shown as %q, want %q", tt.paths, p, got[p], tt.want[i])
			}
		}
	}
}

// TestTableNamesCollidingFiles: packet references tell apart two inputs
// that share a base name.
func TestTableNamesCollidingFiles(t *testing.T) {
	pkt := Packet{File: "d2/cap.pcap", Frame: 7}
	r := &Report{
		Inputs: []Input{{Path: "d1/cap.pcap"}, {Path: "d2/cap.pcap"}},
		Loops:  []Loop{{Stream: "ns2\x1b", FirstPacket: pkt, Trigger: Trigger{FirstNonDNS: FirstNonDNS{Packet: pkt}}}},
	}
	var b bytes.Buffer
	if err := Table().Print(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "d2/cap.pcap#7") || !strings.Contains(b.String(), "Loop 1 in stream ns2\\x1b: ") {
		t.Fatalf("table does not name d2/cap.pcap#7:\n%s", b.String())
	}
}
