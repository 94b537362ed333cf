package cli

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pongscan/pongscan/pkg/scan"
)

func TestFilterFlags(t *testing.T) {
	tests := []struct {
		name string
		ff   filterFlags
		want *scan.Filter
		err  string
	}{
		{name: "none", ff: filterFlags{}, want: nil},
		{name: "hosts and prefixes, deduplicated", ff: filterFlags{hosts: []string{"192.0.2.1", "198.51.100.0/24,192.0.2.1", "::ffff:203.0.113.5", "2001:db8::1/56"}},
			want: &scan.Filter{Hosts: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("198.51.100.0/24"),
				netip.MustParsePrefix("203.0.113.5/32"), netip.MustParsePrefix("2001:db8::/56")}}},
		{name: "ports", ff: filterFlags{ports: []uint{53, 22772, 53}}, want: &scan.Filter{Ports: []uint16{53, 22772}}},
		{name: "seconds and durations", ff: filterFlags{from: "1.5", to: "1m30s"},
			want: &scan.Filter{From: scan.Bound{Set: true, Relative: true, Offset: 1500 * time.Millisecond}, To: scan.Bound{Set: true, Relative: true, Offset: 90 * time.Second}}},
		{name: "RFC 3339", ff: filterFlags{from: "2016-02-08T13:00:02.4011Z", to: "2016-02-08T14:00:00+01:00"},
			want: &scan.Filter{From: scan.Bound{Set: true, At: 1454936402401100000}, To: scan.Bound{Set: true, At: 1454936400000000000}}, err: "--to must come after --from"},
		{name: "bad host", ff: filterFlags{hosts: []string{"example.org"}}, err: `--host "example.org" is not an address`},
		{name: "bad port", ff: filterFlags{ports: []uint{0}}, err: "--port 0 is not a UDP port"},
		{name: "bad time", ff: filterFlags{from: "yesterday"}, err: `--from "yesterday" is neither`},
		{name: "negative", ff: filterFlags{to: "-5"}, err: `--to "-5" is neither`},
		{name: "empty window", ff: filterFlags{from: "10", to: "5"}, err: "--to must come after --from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ff.parse()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || got != nil && (len(got.Hosts) != len(tt.want.Hosts) || len(got.Ports) != len(tt.want.Ports) || got.From != tt.want.From || got.To != tt.want.To) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range hostsOf(got) {
				if got.Hosts[i] != tt.want.Hosts[i] {
					t.Errorf("host %d: %v, want %v", i, got.Hosts[i], tt.want.Hosts[i])
				}
			}
		})
	}
}

func hostsOf(f *scan.Filter) []netip.Prefix {
	if f == nil {
		return nil
	}
	return f.Hosts
}
