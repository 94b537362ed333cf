package rrl

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// The differential tests: the streaming Replay against the oracle (the
// batch replay of oracle_test.go), response by response and verdict by
// verdict, on streams decoded from bytes so that FuzzReplay can write
// them too.

// testClients: four in 198.51.100.0/24 (one IPv4-mapped), two outside
// it, IPv6 in and out of 2001:db8:1:100::/56, zones, the unspecified
// addresses and the zero Addr.
var testClients = []netip.Addr{
	netip.MustParseAddr("198.51.100.200"),
	netip.MustParseAddr("198.51.100.7"),
	netip.MustParseAddr("198.51.100.1"),
	netip.MustParseAddr("::ffff:198.51.100.9"),
	netip.MustParseAddr("198.51.101.7"),
	netip.MustParseAddr("203.0.113.5"),
	netip.MustParseAddr("2001:db8:1:100::1"),
	netip.MustParseAddr("2001:db8:1:1ff::2"),
	netip.MustParseAddr("2001:db8:1:100::1%eth0"),
	netip.MustParseAddr("2001:db8:1:200::1"),
	netip.MustParseAddr("2001:db8:2::1"),
	netip.MustParseAddr("fe80::1%eth0"),
	netip.MustParseAddr("::"),
	netip.MustParseAddr("0.0.0.0"),
	netip.MustParseAddr("::ffff:0.0.0.0"),
	{},
}

// testNames: one loop's name in several cases, its zone, the root, one
// label, no name, and non-ASCII names that lower-case to each other or
// to ASCII (Kelvin sign, dotted capital I) or to U+FFFD (bytes that are
// not UTF-8).
var testNames = []string{
	"delegated.example.uk.", "DELEGATED.Example.UK.", "Delegated.example.uk.", "other.example.uk.",
	"example.uk.", "EXAMPLE.uk.", "uk.", ".", "", "www.example.com.", "a.b.c.example.com.", "A.B.C.Example.Com.",
	"\u00c9.example.", "\u00e9.example.", "\xff.example.", "\xfe.example.", "k.example.", "\u212a.example.",
	"\u0130.example.", "i.example.", "no-dot", "two..dots..", "x.y", "x.y.z",
}

var (
	errRCodes  = [4]uint8{RCodeFormErr, 2, 5, 4}
	testQClass = [4]uint16{1, 3, 255, 0x101}
	baseGaps   = [10]int64{20e3, 100e3, 250e3, 1e6, 2e6, 4e6, 8e6, 20e6, 100e6, 400e6}
)

// decodeStream turns bytes into the same responses for both replays.
// data[0] picks the base gap between responses; then 5 bytes a response:
//
//	b0: client (&15), a loop response (&16), the trigger (&32), the name
//	    given in raw bytes (&64: b2%32 bytes following the record)
//	b1: kind ((&7)%5), rcode (>>3&3 of the kind's; any when &128),
//	    unparsed (&64)
//	b2: the name (a testNames index)
//	b3: the gap: the base one, jittered, none, seconds, a step back in
//	    time, or a gap longer than every limiter remembers
//	b4: qtype (&3 + 1), qclass (>>2&3)
func decodeStream(data []byte) ([]oracleReplayed, []Replayed) {
	if len(data) == 0 {
		return nil, nil
	}
	base := baseGaps[int(data[0])%len(baseGaps)]
	data = data[1:]
	var or []oracleReplayed
	var sr []Replayed
	t, rank := int64(1e18), uint64(0)
	for len(data) >= 5 {
		b := data[:5]
		data = data[5:]
		name := testNames[int(b[2])%len(testNames)]
		if b[0]&64 != 0 {
			n := min(int(b[2])%32, len(data))
			name, data = string(data[:n]), data[n:]
		}
		switch g := b[3]; {
		case g < 160:
			t += base
		case g < 192:
			t += base * int64(g-159) / 8
		case g < 208:
		case g < 224:
			t += int64(g-207) * 25e7
		case g < 240:
			t += int64(g-223) * 1e9
		case g < 248:
			t -= int64(g-239) * 37e6
		case g < 255:
			t += int64(g-247) * 7e9
		default:
			t -= 3e9
		}
		kind := Kind(b[1]&7) % 5
		rcode := uint8(RCodeNoError)
		switch kind {
		case Error:
			rcode = errRCodes[b[1]>>3&3]
		case NXDomain:
			rcode = RCodeNXDomain
		}
		if b[1]&128 != 0 {
			rcode = b[1] >> 3 & 15
		}
		o := oracleReplayed{oracleResponse: oracleResponse{Time: t, Client: testClients[b[0]&15], Kind: kind, RCode: rcode,
			QName: name, QType: uint16(b[4]&3) + 1, QClass: testQClass[b[4]>>2&3], Unparsed: b[1]&64 != 0}}
		if b[0]&16 != 0 {
			rank++
			o.Loop, o.Trigger = rank, b[0]&32 != 0
		}
		s := Replayed{Response: Response{Time: o.Time, Client: o.Client, Kind: o.Kind, RCode: o.RCode,
			QType: o.QType, QClass: o.QClass, Unparsed: o.Unparsed}, Loop: o.Loop, Trigger: o.Trigger}
		s.QName, s.Zone = NameKeys([]byte(name))
		or, sr = append(or, o), append(sr, s)
	}
	return or, sr
}

func testRef(i int) Ref { return Ref{Source: i % 3, Frame: uint64(i)} }

// differ replays data both ways and tells the first difference, or "".
func differ(data []byte) string {
	or, sr := decodeStream(data)
	scenarios := Scenarios()
	// Every decision of every limiter.
	for _, sc := range scenarios {
		lim, ol := sc.New(), oracleOf(sc.New())
		for i := range sr {
			if d, w := lim.Decide(&sr[i].Response), ol.Decide(&or[i].oracleResponse); d != w {
				return fmt.Sprintf("%s %s: response %d (%+v): decision %+v, oracle %+v", sc.Implementation, sc.Setting, i, or[i], d, w)
			}
		}
	}
	// Every verdict.
	p := NewReplay(scenarios)
	for i := range sr {
		p.Add(&sr[i], testRef(i))
	}
	loop := uint64(0)
	for i := range or {
		if or[i].Loop > 0 {
			loop++
		}
	}
	if p.Responses() != uint64(len(or)) || p.LoopResponses() != loop {
		return fmt.Sprintf("%d responses, %d of the loop; want %d, %d", p.Responses(), p.LoopResponses(), len(or), loop)
	}
	at := func(e *Event) string {
		return fmt.Sprintf("response %d (%d#%d, t=%d, trigger %v)", e.Loop, e.Ref.Source, e.Ref.Frame, e.Time, e.Trigger)
	}
	oat := func(i int) string {
		return fmt.Sprintf("response %d (%d#%d, t=%d, trigger %v)", or[i].Loop, i%3, i, or[i].Time, or[i].Trigger)
	}
	event := func(i int) *Event {
		if i < 0 {
			return nil
		}
		return &Event{Loop: or[i].Loop, Trigger: or[i].Trigger, Time: or[i].Time, Ref: testRef(i)}
	}
	sameEvent := func(a, b *Event) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	want := oracleReplay(or, oracleScenarios(scenarios))
	for s, o := range p.Outcomes() {
		w := &want[s]
		switch {
		case o.Implementation != w.Implementation || o.Setting != w.Setting || o.Config != w.Config:
			return fmt.Sprintf("scenario %d is %s %s, oracle %s %s", s, o.Implementation, o.Setting, w.Implementation, w.Setting)
		case !sameEvent(o.FirstLimited, event(w.FirstLimited)) || !sameEvent(o.FirstDrop, event(w.FirstDrop)) || !sameEvent(o.LikelyBy, event(w.LikelyBy)):
			return fmt.Sprintf("%s %s: events %v %v %v, oracle %v %v %v", o.Implementation, o.Setting,
				o.FirstLimited, o.FirstDrop, o.LikelyBy, event(w.FirstLimited), event(w.FirstDrop), event(w.LikelyBy))
		case o.DropProbability != w.DropProbability || o.Slipped != w.Slipped || o.Skipped != w.Skipped ||
			o.LoopResponses != w.LoopResponses || o.Stops != w.Stops:
			return fmt.Sprintf("%s %s: %+v, oracle %+v", o.Implementation, o.Setting, o, *w)
		case o.FirstDrop == nil && o.LikelyBy == nil && o.Limited != uint64(w.limitedCount(or)):
			return fmt.Sprintf("%s %s: %d limited, oracle %d", o.Implementation, o.Setting, o.Limited, w.limitedCount(or))
		}
		if got, ex := o.Explain(at), w.Explain(or, oat); got != ex {
			return fmt.Sprintf("%s %s: %q, oracle %q", o.Implementation, o.Setting, got, ex)
		}
	}
	return ""
}

// randomStream is the bytes of a random stream of n responses. Each
// stream has a focus, as a loop has: a few clients, names, kinds or
// question types, or all of them; mostly the base gap, sometimes (or
// never) bursts, seconds, steps back and long gaps; mostly loop
// responses; sometimes raw names from a small alphabet, so that they
// repeat.
func randomStream(rng *rand.Rand, n int) []byte {
	subset := func(all, most int) []byte {
		if rng.IntN(4) == 0 {
			most = all
		}
		s := make([]byte, 1+rng.IntN(most))
		for i := range s {
			s[i] = byte(rng.IntN(all))
		}
		return s
	}
	clients, names := subset(len(testClients), 4), subset(len(testNames), 3)
	kinds, questions := subset(256, 2), subset(256, 2)
	special := [3]int{0, 256, 24}[rng.IntN(3)]
	b := []byte{byte(rng.IntN(256))}
	for range n {
		r := [5]byte{clients[rng.IntN(len(clients))], kinds[rng.IntN(len(kinds))], names[rng.IntN(len(names))],
			byte(rng.IntN(160)), questions[rng.IntN(len(questions))]}
		r[0] &= 15
		if rng.IntN(5) > 0 {
			r[0] |= 16 // most responses are the loop's
		}
		if rng.IntN(64) == 0 {
			r[0] |= 32 // a trigger
		}
		if special > 0 && rng.IntN(special) == 0 {
			r[3] = byte(160 + rng.IntN(96)) // jitter, bursts, seconds, steps back, long gaps
		}
		b = append(b, r[:]...)
		if rng.IntN(32) == 0 {
			const alphabet = "aA.\xc3\x89\xc3\xa9\xff"
			b[len(b)-5] |= 64
			name := make([]byte, int(r[2])%32)
			for i := range name {
				name[i] = alphabet[rng.IntN(len(alphabet))]
			}
			b = append(b, name...)
		}
	}
	return b
}

func TestReplayMatchesOracle(t *testing.T) {
	streams, longest := 300, 3000
	if testing.Short() || raceEnabled {
		streams, longest = 60, 1500
	}
	rng := rand.New(rand.NewPCG(1, 2))
	limited := map[string]int{}
	for s := range streams {
		data := randomStream(rng, 1+rng.IntN(longest))
		if d := differ(data); d != "" {
			t.Fatalf("stream %d (%d bytes): %s", s, len(data), d)
		}
		// Count what the streams exercised, so that a generator that
		// stopped limiting anything would show.
		_, sr := decodeStream(data)
		p := NewReplay(Scenarios())
		for i := range sr {
			p.Add(&sr[i], Ref{})
		}
		for _, o := range p.Outcomes() {
			switch {
			case o.FirstDrop != nil:
				limited["drop"]++
			case o.LikelyBy != nil:
				limited["likely"]++
			case o.FirstLimited != nil:
				limited["limited"]++
			}
		}
	}
	t.Logf("outcomes: %v", limited)
	for _, k := range []string{"drop", "likely", "limited"} {
		if limited[k] == 0 {
			t.Errorf("no stream has an outcome %q: the streams do not exercise the limiters", k)
		}
	}
}

// FuzzReplay holds the streaming replay to the oracle on any stream
// decodeStream makes of the fuzzer's bytes.
func FuzzReplay(f *testing.F) {
	f.Add([]byte{})
	f.Add(seedStream(600))
	f.Add(randomStream(rand.New(rand.NewPCG(3, 4)), 400))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 {
			return
		}
		if d := differ(data); d != "" {
			t.Fatal(d)
		}
	})
}

// seedStream is the seed's loop in decodeStream's bytes: the trigger's
// answer, a referral, then FORMERR to junk every 4 ms (250 a second).
func seedStream(n int) []byte {
	b := []byte{5} // 4 ms
	b = append(b, 16|32, byte(Referral), 0, 0, 0)
	for range n - 1 {
		b = append(b, 16, byte(Error)|64, 0, 0, 0)
	}
	return b
}

func TestSeedStream(t *testing.T) {
	// The seed corpus's first entry is the README's NSD verdict: with
	// rrl-ratelimit 50 the loop is limited from response 101, 0.40 s in,
	// and dead by response 107 with 99% probability.
	_, sr := decodeStream(seedStream(600))
	p := NewReplay(Scenarios())
	for i := range sr {
		p.Add(&sr[i], Ref{Frame: uint64(i + 1)})
	}
	for _, o := range p.Outcomes() {
		if o.Implementation != "NSD" || o.Setting != "rrl-ratelimit 50" {
			continue
		}
		if o.FirstLimited == nil || o.FirstLimited.Loop != 101 || o.LikelyBy == nil || o.LikelyBy.Loop != 107 {
			t.Errorf("NSD rrl-ratelimit 50: %s", o.Explain(func(e *Event) string { return "response " + strconv.FormatUint(e.Loop, 10) }))
		}
		if after := o.FirstLimited.Time - sr[0].Time; after != 400e6 {
			t.Errorf("first limited %d ns in", after)
		}
	}
}

func TestNameKeys(t *testing.T) {
	h := func(s string) uint64 {
		f := fnv.New64a()
		f.Write([]byte(s))
		return f.Sum64()
	}
	tests := []struct {
		name       string
		full, zone uint64
	}{
		{"", 0, 0},
		{"delegated.example.uk.", h("delegated.example.uk."), h("example.uk.")},
		{"DELEGATED.Example.UK.", h("delegated.example.uk."), h("example.uk.")},
		{"a.b.c.example.com.", h("a.b.c.example.com."), h("example.com.")},
		{"example.uk.", h("example.uk."), h("example.uk.")},
		{"uk.", h("uk."), h("uk.")},
		{".", h("."), h(".")},
		{"x.a.b", h("x.a.b"), h("a.b")}, // no trailing dot: the last label counts
		{"a..", h("a.."), h("a..")},
		{"..a.", h("..a."), h(".a.")},
		{"\u00c9.Example.", h("\u00e9.example."), h("\u00e9.example.")},
		{"\u212a.x.example.", h("k.x.example."), h("x.example.")}, // Kelvin sign
		{"\xff.example.", h("\ufffd.example."), h("\ufffd.example.")},
		{"w.\xff.example.", h("w.\ufffd.example."), h("\ufffd.example.")},
	}
	for _, tt := range tests {
		full, zone := NameKeys([]byte(tt.name))
		if full != tt.full || zone != tt.zone {
			t.Errorf("NameKeys(%q) = %#x, %#x; want %#x, %#x", tt.name, full, zone, tt.full, tt.zone)
		}
	}
}

// nameKeysOracle is what the oracle keys a name by, hashed.
func nameKeysOracle(s string) (full, zone uint64) {
	if s == "" {
		return 0, 0
	}
	h := func(s string) uint64 {
		f := fnv.New64a()
		f.Write([]byte(s))
		if v := f.Sum64(); v != 0 {
			return v
		}
		return 1
	}
	l := oracleLowerName(s)
	return h(l), h(oracleParentDomain(l))
}

func TestNameKeysMatchStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "Z", ".", "\u00c9", "\u00e9", "\xff", "\xc3", "\u212a", "\u0130", "\u03a3", "\ufffd", "\xe2\x84", "xn--", "-"}
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		full, zone := NameKeys([]byte(s))
		if wf, wz := nameKeysOracle(s); full != wf || zone != wz {
			t.Fatalf("NameKeys(%q) = %#x, %#x; strings.ToLower and parentDomain give %#x, %#x", s, full, zone, wf, wz)
		}
	}
}

func FuzzNameKeys(f *testing.F) {
	for _, s := range testNames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, name []byte) {
		full, zone := NameKeys(name)
		if wf, wz := nameKeysOracle(string(name)); full != wf || zone != wz {
			t.Fatalf("NameKeys(%q) = %#x, %#x; want %#x, %#x", name, full, zone, wf, wz)
		}
	})
}

func TestMaskAddr(t *testing.T) {
	// Two addresses share a key exactly when the oracle's masked
	// netip.Addr values are equal, for every prefix length; lengths out
	// of range keep the whole address (without its zone: zones are not
	// kept, and the replay's prefixes are all in range).
	for v4 := -1; v4 <= 33; v4++ {
		for _, v6 := range []int{-1, 0, 1, 31, 32, 48, 56, 63, 64, 65, 80, 95, 96, 97, 127, 128, 129} {
			for _, a := range testClients {
				for _, b := range testClients {
					if (v6 < 0 || v6 > 128) && (a.Zone() != "" || b.Zone() != "") {
						continue
					}
					pa, fa := maskAddr(a, v4, v6)
					pb, fb := maskAddr(b, v4, v6)
					got := pa == pb && fa == fb
					if want := oracleMaskAddr(a, v4, v6) == oracleMaskAddr(b, v4, v6); got != want {
						t.Errorf("/%d /%d: %v and %v share a key: %v, oracle %v", v4, v6, a, b, got, want)
					}
				}
			}
		}
	}
}

// tableOf is a limiter's table size and cap.
func tableOf(l Limiter) (n, limit int) {
	switch l := l.(type) {
	case *BIND:
		return l.entries.len(), l.entries.limit()
	case *Knot:
		return l.loads.len(), l.loads.limit()
	case *NSD:
		return l.buckets.len(), l.buckets.limit()
	}
	panic(fmt.Sprintf("%T", l))
}

// checkTable verifies a table's index and LRU list against its slab.
func checkTable[K comparable, V any](t *testing.T, tb *table[K, V]) {
	t.Helper()
	if len(tb.slots) == 0 {
		return
	}
	if len(tb.index) != len(tb.slots) {
		t.Fatalf("index holds %d keys, slab %d", len(tb.index), len(tb.slots))
	}
	n, prev := 0, int32(-1)
	for i := tb.head; i >= 0; i = tb.slots[i].next {
		if tb.slots[i].prev != prev || tb.index[tb.slots[i].key] != i {
			t.Fatalf("slot %d: prev %d, want %d; index %d", i, tb.slots[i].prev, prev, tb.index[tb.slots[i].key])
		}
		prev = i
		n++
	}
	if n != len(tb.slots) || prev != tb.tail {
		t.Fatalf("LRU list holds %d slots ending at %d; slab %d, tail %d", n, prev, len(tb.slots), tb.tail)
	}
}

// distinctStream fills r with response i of a stream where every
// response has a name, zone and IPv6 address of its own (one /56).
func distinctStream(r *Replayed, buf []byte, i int) []byte {
	buf = append(strconv.AppendInt(append(buf[:0], "a.n"...), int64(i), 10), ".example."...)
	r.QName, r.Zone = NameKeys(buf)
	var a [16]byte
	copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 1, byte(i)})
	for j := 0; j < 8; j++ {
		a[8+j] = byte(uint64(i) >> (8 * j))
	}
	r.Client = netip.AddrFrom16(a)
	r.Time = 1e18 + int64(i)*33333
	r.Kind = Kind(i % 5)
	r.RCode = [5]uint8{0, 0, 0, RCodeNXDomain, 2}[r.Kind]
	r.QType, r.QClass = 1, 1
	r.Loop = uint64(i + 1)
	return buf
}

func TestCaps(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 200_000
	}
	p := NewReplay(Scenarios())
	var r Replayed
	var buf []byte
	for i := range n {
		buf = distinctStream(&r, buf, i)
		p.Add(&r, Ref{Frame: uint64(i)})
		if i%50_000 == 0 || i == n-1 {
			for k, lim := range p.lims.lims {
				if got, limit := tableOf(lim); got > limit || limit != maxEntries {
					t.Fatalf("%s %s after %d responses: %d entries, cap %d", p.judge.runs[k].out.Implementation, p.judge.runs[k].out.Setting, i+1, got, limit)
				}
			}
		}
	}
	for k, lim := range p.lims.lims {
		u := &p.judge.runs[k]
		got, _ := tableOf(lim)
		want := maxEntries
		if b, ok := lim.(*BIND); ok && b.ResponsesPerSecond == 0 {
			want = 0 // no limit: nothing to count
		}
		if got != want {
			t.Errorf("%s %s: %d entries, want %d", u.out.Implementation, u.out.Setting, got, want)
		}
		switch l := lim.(type) {
		case *BIND:
			checkTable(t, &l.entries)
		case *Knot:
			checkTable(t, &l.loads)
		case *NSD:
			checkTable(t, &l.buckets)
		}
	}
	// What a replay at its caps holds.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	runtime.KeepAlive(p)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := float64(before-ms.HeapAlloc) / 1e6
	t.Logf("a replay of every scenario with every table at its cap holds %.1f MB", held)
	// The package doc says about 19 MB. Without the rebuilds of the
	// tables' maps, Go 1.26's maps held 31 MB after a million evictions,
	// and more later.
	if held > 24 && n == 1_000_000 {
		t.Errorf("a replay at its caps holds %.1f MB, want at most 24", held)
	}
}

func TestTableLRU(t *testing.T) {
	var tb table[int, int]
	tb.max = 3 // below minEntries: holds 8
	// The slot each key had last: the hints.
	slots := map[int]int32{}
	get := func(k int) (int, bool) {
		hint, ok := slots[k]
		if !ok {
			hint = -1
		}
		i, fresh := tb.get(k, hint)
		if j, _ := tb.get(k, -1); j != i { // the map agrees with the hint
			t.Fatalf("key %d: slot %d by its hint %d, %d by the map", k, i, hint, j)
		}
		slots[k] = i
		v := tb.val(i)
		*v++
		return *v, fresh
	}
	for k := range 8 {
		if v, fresh := get(k); v != 1 || !fresh {
			t.Fatalf("key %d: %d, fresh %v", k, v, fresh)
		}
	}
	if v, fresh := get(0); v != 2 || fresh { // 0 is now the most recently used
		t.Fatalf("key 0 again: %d, fresh %v", v, fresh)
	}
	if v, fresh := get(8); v != 1 || !fresh || tb.len() != 8 { // evicts 1, the least recently used
		t.Fatalf("key 8: %d, fresh %v, %d entries", v, fresh, tb.len())
	}
	if _, ok := tb.index[1]; ok {
		t.Fatal("key 1 still held")
	}
	if v, fresh := get(0); v != 3 || fresh {
		t.Fatalf("key 0 evicted: %d, fresh %v", v, fresh)
	}
	if v, fresh := get(1); v != 1 || !fresh { // back, afresh, though its hint is 8's slot; evicts 2
		t.Fatalf("key 1 back: %d, fresh %v", v, fresh)
	}
	if _, ok := tb.index[2]; ok {
		t.Fatal("key 2 still held")
	}
	checkTable(t, &tb)
}

func TestEviction(t *testing.T) {
	// Each limiter with a table of 8. "kept": the loop's key is used
	// between others and survives eight new keys; "evicted": it is the
	// least recently used when the ninth key comes, and comes back
	// afresh, where the unbounded oracle still limits it.
	at := func(ms int64) int64 { return 1e18 + ms*1e6 }
	named := func(name string, ms int64, kind Kind) Replayed {
		r := Replayed{Response: Response{Time: at(ms), Client: client, Kind: kind, RCode: rcodeOf(kind), QType: 1, QClass: 1}, Loop: 1}
		r.QName, r.Zone = NameKeys([]byte(name))
		return r
	}
	from := func(c string, ms int64) Replayed {
		r := named("loop.example.", ms, Answer)
		r.Client = netip.MustParseAddr(c)
		return r
	}
	others := func(n int, mk func(i int) Replayed) []Replayed {
		var rs []Replayed
		for i := range n {
			rs = append(rs, mk(i))
		}
		return rs
	}
	join := func(parts ...[]Replayed) []Replayed {
		var rs []Replayed
		for _, p := range parts {
			rs = append(rs, p...)
		}
		return rs
	}
	one := func(r Replayed) []Replayed { return []Replayed{r} }
	name := func(i int) Replayed { return named(fmt.Sprintf("n%d.other%d.", i, i), 1, Answer) }
	nx := func(i int) Replayed { return named(fmt.Sprintf("n%d.other%d.", i, i), 1, NXDomain) }
	// Knot: 125 queries at one instant fill a /128's counter.
	burst := func(c string) []Replayed { return others(126, func(int) Replayed { return from(c, 0) }) }
	host := func(i int) Replayed { return from(fmt.Sprintf("2001:db8:1:100::%x", i+16), 0) }
	loop := "2001:db8:1:100::1"

	bind := func() Limiter { b := BINDDefaults(); b.ResponsesPerSecond = 1; b.entries.max = 8; return &b }
	nsd := func() Limiter {
		n := NSD{RateLimit: 1, Slip: 0, IPv4Prefix: 24, IPv6Prefix: 64}
		n.buckets.max = 8
		return &n
	}
	knot := func() Limiter { k := KnotDefaults(); k.loads.max = 8; return &k }
	tests := []struct {
		name       string
		lim        func() Limiter
		rs         []Replayed
		want, held string // decisions with the table of 8, and unbounded
	}{
		{"BIND kept", bind, join(one(named("loop.", 0, Answer)), one(named("loop.", 0, Answer)), others(7, name),
			one(named("loop.", 0, Answer)), one(name(7)), one(named("loop.", 0, Answer))),
			".s.......d.s", ".s.......d.s"},
		{"BIND evicted", bind, join(one(named("loop.", 0, Answer)), one(named("loop.", 0, Answer)), others(7, name),
			one(name(7)), one(named("loop.", 0, Answer))),
			".s.........", ".s........d"},
		// NSD keys NXDOMAIN by the zone: n7.other7. evicts nothing of
		// sub.loop.example.'s zone while it is used in between.
		{"NSD kept", nsd, join(one(named("a.loop.example.", 0, NXDomain)), one(named("b.loop.example.", 0, NXDomain)), others(7, nx),
			one(named("c.loop.example.", 0, NXDomain)), one(nx(7)), one(named("d.loop.example.", 0, NXDomain))),
			".d.......d.d", ".d.......d.d"},
		{"NSD evicted", nsd, join(one(named("a.loop.example.", 0, NXDomain)), one(named("b.loop.example.", 0, NXDomain)), others(7, nx),
			one(nx(7)), one(named("c.loop.example.", 0, NXDomain))),
			".d.........", ".d........d"},
		// Knot: the loop's host, its four prefixes and three other hosts
		// fill the table; a fourth evicts the host's counter.
		{"Knot kept", knot, join(burst(loop), others(3, host), one(from(loop, 0)), one(host(3)), one(from(loop, 0))),
			strings.Repeat(".", 125) + "s...s.s", strings.Repeat(".", 125) + "s...s.s"},
		{"Knot evicted", knot, join(burst(loop), others(4, host), one(from(loop, 0))),
			strings.Repeat(".", 125) + "s.....", strings.Repeat(".", 125) + "s....s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := tt.lim()
			if got := decisions(lim, tt.rs); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if n, limit := tableOf(lim); n != limit {
				t.Errorf("%d entries, want the table full (%d)", n, limit)
			}
			// The oracle, unbounded, tells what the eviction changed.
			ol := oracleOf(tt.lim())
			b := make([]byte, len(tt.rs))
			for i := range tt.rs {
				r := &tt.rs[i]
				o := oracleResponse{Time: r.Time, Client: r.Client, Kind: r.Kind, RCode: r.RCode, QType: r.QType, QClass: r.QClass}
				// The names: the same keys as NameKeys, as strings.
				o.QName = strconv.FormatUint(r.QName, 16)
				if r.Kind != Answer {
					o.QName = "x." + strconv.FormatUint(r.Zone, 16) + "."
				}
				b[i] = mark(ol.Decide(&o))
			}
			if string(b) != tt.held {
				t.Errorf("oracle %s\nwant   %s", b, tt.held)
			}
		})
	}
}

// mark is a decision as decisions() writes it.
func mark(d Decision) byte {
	switch {
	case d.Skipped:
		return '-'
	case !d.Limited:
		return '.'
	case d.Slip >= 1:
		return 's'
	case d.Slip <= 0:
		return 'd'
	}
	return '?'
}

// mixStream fills r with response i of a mix of answers and NXDOMAIN
// to 251 clients of a /24, over 1000 names, 30,000 a second.
type mixStream struct {
	names   [1000][2]uint64
	clients [251]netip.Addr
}

func newMixStream() *mixStream {
	m := &mixStream{}
	for i := range m.names {
		m.names[i][0], m.names[i][1] = NameKeys(fmt.Appendf(nil, "host%d.zone%d.example.", i, i%37))
	}
	for i := range m.clients {
		m.clients[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
	}
	return m
}

func (m *mixStream) fill(r *Replayed, i int) {
	n := m.names[i*7%len(m.names)]
	r.QName, r.Zone = n[0], n[1]
	r.Client = m.clients[i%len(m.clients)]
	r.Time = 1e18 + int64(i)*33333
	r.Kind, r.RCode = Answer, RCodeNoError
	if i%3 == 0 {
		r.Kind, r.RCode = NXDomain, RCodeNXDomain
	}
	r.QType, r.QClass = 1, 1
	r.Loop = 0
	if i%2 == 0 {
		r.Loop = uint64(i/2 + 1)
	}
}

// seedFill fills r with response i of the seed's loop at 30,000 a
// second: the trigger's referral, then FORMERR to junk.
func seedFill(r *Replayed, i int) {
	*r = Replayed{Response: Response{Time: 1e18 + int64(i)*33333, Client: client, Kind: Error, RCode: RCodeFormErr, Unparsed: true},
		Loop: uint64(i + 1)}
	if i == 0 {
		r.Kind, r.RCode, r.Unparsed, r.Trigger = Referral, RCodeNoError, false, true
		r.QName, r.Zone = NameKeys([]byte("delegated.example.uk."))
		r.QType, r.QClass = 1, 1
	}
}

func TestAddAllocs(t *testing.T) {
	mix := newMixStream()
	var buf []byte
	tests := []struct {
		name string
		fill func(r *Replayed, i int)
		warm int
	}{
		{"seed", seedFill, 1000},
		{"mix", mix.fill, 100_000},
		// Every response a new key: the tables at their caps evict one
		// entry a response; the maps stop growing once warm.
		{"distinct", func(r *Replayed, i int) { buf = distinctStream(r, buf, i) }, 400_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raceEnabled {
				t.Skip("the race detector allocates")
			}
			p := NewReplay(Scenarios())
			var r Replayed
			i := 0
			for ; i < tt.warm; i++ {
				tt.fill(&r, i)
				p.Add(&r, Ref{Frame: uint64(i)})
			}
			// One run of 20,000 responses (after AllocsPerRun's warm-up
			// run): the total, not an average rounded down.
			const n = 20_000
			allocs := testing.AllocsPerRun(1, func() {
				for range n {
					tt.fill(&r, i)
					p.Add(&r, Ref{Frame: uint64(i)})
					i++
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations in %d responses, want 0", allocs, n)
			}
		})
	}
}

// BenchmarkReplay is the cost of one response through all nine
// scenarios (ns/op is ns a response).
func BenchmarkReplay(b *testing.B) {
	mix := newMixStream()
	for _, bm := range []struct {
		name string
		fill func(r *Replayed, i int)
	}{
		{"seed", seedFill},
		{"mix", mix.fill},
	} {
		b.Run(bm.name, func(b *testing.B) {
			p := NewReplay(Scenarios())
			var r Replayed
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bm.fill(&r, i)
				p.Add(&r, Ref{Frame: uint64(i)})
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i)/float64(len(p.lims.lims)), "ns/scenario")
		})
	}
}

// TestResetIsFresh: limiters and a judge reset after one stream decide
// and judge the next exactly as new ones do (units of the second read
// are reused across prefixes).
func TestResetIsFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	reused, judge := NewLimiters(Scenarios()), NewJudge(Scenarios())
	for round := range 20 {
		_, stream := decodeStream(randomStream(rng, 300))
		fresh, freshJudge := NewLimiters(Scenarios()), NewJudge(Scenarios())
		for i := range stream {
			r := &stream[i]
			got, want := reused.Decide(&r.Response), fresh.Decide(&r.Response)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("round %d, response %d: reset limiters decide %v, new ones %v", round, i, got, want)
			}
			if r.Loop > 0 {
				judge.Add(r, testRef(i), got)
				freshJudge.Add(r, testRef(i), want)
			}
		}
		a, b := judge.Outcomes(), freshJudge.Outcomes()
		for k := range a {
			a[k].New, b[k].New = nil, nil
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round %d: a reset judge's outcomes differ from a new one's", round)
		}
		reused.Reset()
		judge.Reset()
	}
}

// TestAddSkipped: a response every unsettled scenario skipped, given to
// AddSkipped, leaves the judge as Add with the decisions does.
func TestAddSkipped(t *testing.T) {
	sc := Scenarios()
	lims, a, b := NewLimiters(sc), NewJudge(sc), NewJudge(sc)
	junk := Replayed{Response: Response{Client: client, Kind: Error, RCode: RCodeFormErr, Unparsed: true}}
	for i := range 2000 {
		junk.Time, junk.Loop = 1e18+int64(i)*66667, uint64(i+1)
		ds := lims.Decide(&junk.Response)
		a.Add(&junk, Ref{Frame: uint64(i)}, ds)
		skipOnly := true
		for k, d := range ds {
			if b.Settled()&(1<<k) == 0 && !d.Skipped {
				skipOnly = false
			}
		}
		if skipOnly {
			b.AddSkipped()
		} else {
			b.Add(&junk, Ref{Frame: uint64(i)}, ds)
		}
	}
	if b.Settled() == 0 {
		t.Fatal("NSD never settled: the test shows nothing")
	}
	x, y := a.Outcomes(), b.Outcomes()
	for k := range x {
		x[k].New, y[k].New = nil, nil
		x[k].Limited, y[k].Limited = 0, 0 // counted until settled only
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("AddSkipped left the judge other than Add did:\n%+v\n%+v", x, y)
	}
}
