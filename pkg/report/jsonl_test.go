package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// lineWriter records each Write: JSONLWriter must write whole lines, one
// a call.
type lineWriter struct{ writes []string }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestJSONLObjects(t *testing.T) {
	l := Loop{Stream: "ns1", Detector: "dns-pong", Client: Endpoint{"198.51.100.200", 22772}, Server: Endpoint{"192.0.2.1", 53},
		Start: "2016-02-08T13:00:02.401100000Z", End: "2016-02-08T13:00:02.997200000Z", Packets: 300, Bytes: 19350,
		ClientToServer: Direction{150, 10350}, ServerToClient: Direction{150, 9000},
		FirstPacket: Packet{File: "ns1/a.pcap", Frame: 123}, Payload: Payload{Text: "RRQ\u009b\u202e"}}
	r := &Report{Loops: []Loop{l}, Inputs: []Input{{Path: "ns1/a.pcap", Stream: "ns1", Packets: 450,
		First: "2016-02-08T13:00:00.018624000Z", Last: "2016-02-08T13:00:02.997200000Z", LinkTypes: []uint32{1}}},
		Summary: Summary{Packets: 450, Loops: 1}, Warnings: []string{"w"}}
	w := &lineWriter{}
	if err := JSONL().Print(w, r); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 3 {
		t.Fatalf("%d writes, want 3 lines: %q", len(w.writes), w.writes)
	}
	var types []string
	for i, line := range w.writes {
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("write %d is not one line: %q", i, line)
		}
		if strings.ContainsRune(line, '\u009b') || strings.ContainsRune(line, '\u202e') {
			t.Fatalf("raw C1 or bidi character in %q", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v", i, err)
		}
		p, err := ReadJSONLine([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Type)
	}
	if strings.Join(types, ",") != "loop,input,summary" {
		t.Fatalf("types %v", types)
	}
	var loop struct {
		Timestamp string `json:"@timestamp"`
		Event     struct {
			Kind, Dataset, Start, End string
			Duration                  int64
		}
		Source struct {
			IP             string
			Port           uint16
			Packets, Bytes uint64
		}
		Destination struct {
			IP   string
			Port uint16
		}
		Network struct {
			Transport   string
			CommunityID string `json:"community_id"`
			Packets     uint64
		}
		Observer struct{ Name string }
		File     struct{ Path string }
		Pongscan struct {
			Type string
			Loop Loop
		}
	}
	if err := json.Unmarshal([]byte(w.writes[0]), &loop); err != nil {
		t.Fatal(err)
	}
	if loop.Event.Kind != "alert" || loop.Event.Dataset != "pongscan.loop" || loop.Event.Duration != 596100000 ||
		loop.Source.IP != "198.51.100.200" || loop.Source.Port != 22772 || loop.Source.Packets != 150 ||
		loop.Destination.Port != 53 || loop.Network.Transport != "udp" || loop.Network.Packets != 300 ||
		loop.Observer.Name != "ns1" || loop.File.Path != "ns1/a.pcap" || loop.Timestamp != l.Start ||
		!strings.HasPrefix(loop.Network.CommunityID, "1:") || loop.Pongscan.Loop.Payload.Text != l.Payload.Text {
		t.Fatalf("loop object %+v", loop)
	}
	if want := CommunityID(0, 17, mustAP("198.51.100.200:22772"), mustAP("192.0.2.1:53")); loop.Network.CommunityID != want {
		t.Fatalf("community id %s, want %s", loop.Network.CommunityID, want)
	}
	if !bytes.Contains([]byte(w.writes[2]), []byte(`"schema":"pongscan.jsonl/v1"`)) {
		t.Fatalf("summary %s", w.writes[2])
	}
}
