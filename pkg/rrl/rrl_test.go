package rrl

import (
	"net/netip"
	"testing"
)

var client = netip.MustParseAddr("198.51.100.200")

// stream is n responses to client, one every gap nanoseconds from t0.
func stream(n int, gap int64, kind Kind, unparsed bool) []Replayed {
	name, zone := NameKeys([]byte("delegated.example.uk."))
	out := make([]Replayed, n)
	for i := range out {
		out[i] = Replayed{Response: Response{Time: 1e18 + int64(i)*gap, Client: client, Kind: kind, RCode: rcodeOf(kind),
			QName: name, Zone: zone, QType: 1, QClass: 1, Unparsed: unparsed}, Loop: uint64(i + 1)}
	}
	return out
}

func rcodeOf(k Kind) uint8 {
	switch k {
	case Error:
		return RCodeFormErr
	case NXDomain:
		return RCodeNXDomain
	}
	return 0
}

// decisions runs lim over rs and returns, per response, "." passed, "s"
// slipped, "d" dropped, "?" limited at random, "-" skipped.
func decisions(lim Limiter, rs []Replayed) string {
	b := make([]byte, len(rs))
	for i := range rs {
		d := lim.Decide(&rs[i].Response)
		switch {
		case d.Skipped:
			b[i] = '-'
		case !d.Limited:
			b[i] = '.'
		case d.Slip >= 1:
			b[i] = 's'
		case d.Slip <= 0:
			b[i] = 'd'
		default:
			b[i] = '?'
		}
	}
	return string(b)
}

func TestBIND(t *testing.T) {
	rps := func(n int) *BIND { b := BINDDefaults(); b.ResponsesPerSecond = n; return &b }
	tests := []struct {
		name string
		lim  *BIND
		rs   []Replayed
		want string
	}{
		{"defaults never limit", rps(0), stream(12, 1e6, Answer, false), "............"},
		// 5 tokens to start; an answer over the limit is slipped, then
		// dropped, in turn (slip 2).
		{"answers slip then drop", rps(5), stream(10, 1e6, Answer, false), ".....sdsds"},
		// Errors are never slipped (ns_client_error).
		{"errors drop", rps(5), stream(8, 1e6, Error, false), ".....ddd"},
		// FORMERR to a message that does not parse: no view, no RRL.
		{"unparsed FORMERR skipped", rps(1), stream(4, 1e6, Error, true), "----"},
		// Five a second, each second, stay under five a second.
		{"at the rate", rps(5), stream(15, 2e8, Answer, false), "..............."},
		// Six a second: a token short each second; the second second
		// starts with one token owed, and the slip counter carries over.
		{"over the rate", rps(5), stream(12, 166666667, Answer, false), ".....s....ds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decisions(tt.lim, tt.rs); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// Prefixes: a second client in the same /24 shares the bucket.
	b := rps(2)
	rs := stream(4, 1e6, NXDomain, false)
	rs[1].Client, rs[3].Client = netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.101.7")
	if got := decisions(b, rs); got != "..s." {
		t.Errorf("prefix sharing: %s, want ..s.", got)
	}
}

func TestKnot(t *testing.T) {
	k := KnotDefaults()
	// instant-limit 125: 125 queries at one instant pass, the 126th is
	// limited, and slip 1 slips it.
	got := decisions(&k, stream(127, 0, Answer, false))
	if want := repeat('.', 125) + "ss"; got != want {
		t.Errorf("burst: %s", got)
	}
	// 40 a second, spread evenly, stay under rate-limit 50 for ever
	// (at exactly 50 the load tends to the capacity).
	k = KnotDefaults()
	if got := decisions(&k, stream(1000, 25e6, Answer, false)); got != repeat('.', 1000) {
		t.Errorf("at the rate limited at %d", firstNot(got, '.'))
	}
	// 250 a second (the seed's server side) is limited within a second.
	k = KnotDefaults()
	got = decisions(&k, stream(500, 4e6, Error, false))
	if i := firstNot(got, '.'); i < 125 || i > 250 {
		t.Errorf("250/s: first limited at response %d, want within the first second after the burst allowance", i+1)
	}
	k = Knot{RateLimit: 50, InstantLimit: 125, Slip: 2}
	if got := decisions(&k, stream(127, 0, Answer, false)); got[126] != '?' {
		t.Errorf("slip 2 is a coin toss: %q", got[120:])
	}
	k = KnotDefaults()
	if got := decisions(&k, stream(3, 0, Error, true)); got != "---" {
		t.Errorf("unparsed: %s", got)
	}
}

func TestNSD(t *testing.T) {
	n := NSDDefaults()
	// 2 x 200 in one second: the 400th is limited, a coin toss (slip 2).
	got := decisions(&n, stream(401, 1e6, Error, true))
	if i := firstNot(got, '.'); i != 399 || got[399] != '?' {
		t.Errorf("first limited at %d (%q)", i+1, got[395:])
	}
	// 250 a second: under 400 in the first second; the smoothed rate
	// builds (250, 375, ...) and limits it in the third.
	n = NSDDefaults()
	got = decisions(&n, stream(1000, 4e6, Error, true))
	if i := firstNot(got, '.'); i < 500 || i >= 750 {
		t.Errorf("250/s: first limited at response %d, want in the third second", i+1)
	}
	n = NSD{RateLimit: 50, Slip: 0, IPv4Prefix: 24, IPv6Prefix: 64}
	if got := decisions(&n, stream(101, 1e6, Error, true)); got != repeat('.', 99)+"dd" {
		t.Errorf("slip 0 drops: %q", got[95:])
	}
	// NXDOMAIN counts against the zone (here the last two labels, any
	// case), an answer against its name.
	names := []string{"a.example.uk.", "b.example.uk.", "C.Example.UK.", "d.other.uk.", "a.example.uk."}
	for kind, want := range map[Kind]string{NXDomain: ".dd.d", Answer: "....d"} {
		n = NSD{RateLimit: 1, Slip: 0, IPv4Prefix: 24, IPv6Prefix: 64} // 2 a second
		rs := stream(len(names), 1e6, kind, false)
		for i, name := range names {
			rs[i].QName, rs[i].Zone = NameKeys([]byte(name))
		}
		if got := decisions(&n, rs); got != want {
			t.Errorf("%v by zone: %s, want %s", kind, got, want)
		}
	}
}

func TestReplayVerdicts(t *testing.T) {
	// The seed: a referral (the trigger's answer), then FORMERR to junk
	// at 250 a second for two seconds.
	rs := stream(501, 4e6, Error, true)
	rs[0].Kind, rs[0].RCode, rs[0].Unparsed, rs[0].Trigger = Referral, 0, false, true
	p := NewReplay(Scenarios())
	for i := range rs {
		p.Add(&rs[i], Ref{Frame: uint64(i + 1)})
	}
	at := func(e *Event) string { return "response " + itoa(int(e.Loop)) }
	want := map[string]string{
		"BIND 9/defaults":               "never limits: responses-per-second and errors-per-second are 0 (no limit) unless set",
		"BIND 9/responses-per-second 5": "never limits the loop: it never sees 500 of its 501 responses (a FORMERR to a message that does not parse is sent before a view, and so its rate-limit, is chosen: lib/ns/client.c, ns_client_error); the others stay under the limit",
		"Knot DNS/defaults":             "never limits the loop: it never sees 500 of its 501 responses (a query that does not parse is answered FORMERR before the modules' begin stage, where rrl runs: process_query.c); the others stay under the limit",
	}
	for _, o := range p.Outcomes() {
		key := o.Implementation + "/" + o.Setting
		got := o.Explain(at)
		if w, ok := want[key]; ok && got != w {
			t.Errorf("%s: %q, want %q", key, got, w)
		}
		if o.LoopResponses != 501 {
			t.Errorf("%s: %d loop responses", key, o.LoopResponses)
		}
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func firstNot(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			return i
		}
	}
	return -1
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
