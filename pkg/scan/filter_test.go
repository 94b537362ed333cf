package scan

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/pongscan/pongscan/pkg/report"
)

const samplePong = "../../testdata/pcaps/machine-pong.pcap"

// TestFilters scans the seed sample through filters and checks what
// reaches the report: the loop keeps its file's frame numbers, packets
// outside the filter are counted as filtered out, and every shard layout
// agrees.
func TestFilters(t *testing.T) {
	host := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	rel := func(d time.Duration) Bound { return Bound{Set: true, Relative: true, Offset: d} }
	at := func(s string) Bound {
		tm, _ := time.Parse(time.RFC3339Nano, s)
		return Bound{Set: true, At: tm.UnixNano()}
	}
	tests := []struct {
		name    string
		f       Filter
		loops   int
		packets uint64 // the loop's
		udp     uint64
		ongoing bool
		setting report.FilterSettings
	}{
		{name: "client host", f: Filter{Hosts: []netip.Prefix{host("198.51.100.200/32")}}, loops: 1, packets: 300, udp: 302, ongoing: true,
			setting: report.FilterSettings{Hosts: []string{"198.51.100.200"}}},
		{name: "client /24 and port", f: Filter{Hosts: []netip.Prefix{host("198.51.100.0/24")}, Ports: []uint16{22772}}, loops: 1, packets: 300, udp: 302, ongoing: true,
			setting: report.FilterSettings{Hosts: []string{"198.51.100.0/24"}, Ports: []uint16{22772}}},
		{name: "other host", f: Filter{Hosts: []netip.Prefix{host("203.0.113.9/32")}}, loops: 0, udp: 0,
			setting: report.FilterSettings{Hosts: []string{"203.0.113.9"}}},
		{name: "seconds window", f: Filter{From: rel(2 * time.Second), To: rel(2800 * time.Millisecond)}, loops: 1, packets: 210, ongoing: true,
			setting: report.FilterSettings{From: "2016-02-08T13:00:02.018624000Z", To: "2016-02-08T13:00:02.818624000Z"}},
		{name: "window before the loop", f: Filter{To: at("2016-02-08T13:00:02.4Z")}, loops: 0,
			setting: report.FilterSettings{To: "2016-02-08T13:00:02.400000000Z"}},
		// From inside the loop: the trigger is gone; the loop is found
		// as one running at the start of the window.
		{name: "from inside the loop", f: Filter{From: at("2016-02-08T13:00:02.5Z")}, loops: 1, ongoing: true,
			setting: report.FilterSettings{From: "2016-02-08T13:00:02.500000000Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first []byte
			for _, m := range Modes {
				m.Filter = &tt.f
				res := RunPaths([]string{samplePong}, m)
				rep := res.Report
				if len(rep.Loops) != tt.loops {
					t.Fatalf("%d loops, want %d", len(rep.Loops), tt.loops)
				}
				if rep.Summary.Packets != 450 || rep.Inputs[0].Packets != 450 {
					t.Errorf("packets read %d, want all 450", rep.Summary.Packets)
				}
				if tt.udp > 0 && rep.Summary.UDP != tt.udp {
					t.Errorf("udp %d, want %d", rep.Summary.UDP, tt.udp)
				}
				if rep.Summary.UDP+rep.Summary.FilteredOut != 450 {
					t.Errorf("udp %d + filtered %d != 450", rep.Summary.UDP, rep.Summary.FilteredOut)
				}
				if got := *rep.Settings.Filter; !reflect.DeepEqual(got, tt.setting) {
					t.Errorf("settings.filter %+v, want %+v", got, tt.setting)
				}
				if tt.loops > 0 {
					l := rep.Loops[0]
					if tt.packets > 0 && l.Packets != tt.packets {
						t.Errorf("loop packets %d, want %d", l.Packets, tt.packets)
					}
					if l.OngoingAtEnd != tt.ongoing {
						t.Errorf("ongoing %v, want %v", l.OngoingAtEnd, tt.ongoing)
					}
					if l.Trigger.Query != nil && (l.Trigger.Query.Frame != 121 || l.FirstPacket.Frame != 123) {
						t.Errorf("frames %d, %d: want the file's 121 and 123", l.Trigger.Query.Frame, l.FirstPacket.Frame)
					}
				}
				b, _ := json.Marshal(rep)
				if first == nil {
					first = b
				} else if string(b) != string(first) {
					t.Errorf("shards %d parallel %v: report differs from the first layout", m.Shards, m.Parallel)
				}
			}
		})
	}
}
