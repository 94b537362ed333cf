package followup

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/rrl"
	"github.com/pongscan/pongscan/pkg/scan"
)

// The rate-limiting what-if replays a server's responses to a client's
// prefix (a /24, a /56) from windowStart, at least Lookback before a
// loop's earliest packet, to its last. A unit's limiters decide every
// response of the server to the prefix in that window (rrl.Limiters), and
// the loop's judge takes the decisions on its own responses. Loops of one
// server and prefix share a unit only when their replays begin at the
// same windowStart: a replay shared from whichever loop came first would
// make a loop's verdicts depend on the loops before it (a limiter held at
// its threshold, such as Knot's decaying counters, decides differently
// after a different start), and on whether the scan (which sees loops
// open) or the second read (which sees windows open) replayed it.
//
// As in the scan (Live), a loop's unit is made at its earliest packet:
// it replays the responses of its window kept until then (keyState.recs,
// kept only while a loop of the server and prefix waits for its earliest
// packet), then decides each response as it comes until the loop ends.
// So the responses decided at once are those of the loops open at once,
// not of every loop whose window is open.

// maxPerKey bounds the loops of one server and client prefix replayed at
// once: each decides every response of the server to the prefix, so that
// a crafted capture of thousands of loops in one prefix at once would
// cost thousands of decisions per response. A loop beyond it gets no
// verdicts, and its what-if says why (crowdedRRL).
const maxPerKey = 32

// maxKeyRecs bounds the responses a server and prefix keeps for the
// windows of loops to come (about 80 bytes each): a minute of 17,000
// responses a second. A loop whose window lost some gets no verdicts
// (crowdedRRL says why).
const maxKeyRecs = 1 << 20

// crowdedRRL is the what-if of a loop not replayed: beyond maxPerKey, or
// its window beyond maxKeyRecs.
func crowdedRRL(l *report.Loop, prefix netip.Prefix, window bool) *report.RRL {
	note := fmt.Sprintf("not replayed: more than %d loops of this server and client prefix at once", maxPerKey)
	if window {
		note = fmt.Sprintf("not replayed: more than %d responses of this server to the client prefix in the minute before the loop", maxKeyRecs)
	}
	return &report.RRL{Server: l.Server.IP, Prefix: prefix.String(), Scenarios: []report.RRLScenario{}, Note: note}
}

// maxRequests bounds the request verdicts a classifier keeps.
const maxRequests = 1 << 16

// unitKey names a server and a client prefix: the server's address and
// port, the client prefix.
type unitKey struct {
	srv  words
	port uint16
	pfx  words
}

// keyState is the what-if's state of a server and client prefix while a
// loop of theirs is followed: the classifier of their datagrams, the
// responses kept for the windows of loops to come, the units of the
// loops open.
type keyState struct {
	cls     classifier
	recs    []rrl.Response // recs[head:] are kept, in order
	head    int
	lost    int64 // the newest response not kept (maxKeyRecs); -1<<63 none
	waiting int   // loops whose window is open, before their earliest packet
	units   []*unit
}

func (ks *keyState) reset() {
	ks.cls.reset()
	ks.recs, ks.head, ks.lost, ks.waiting = ks.recs[:0], 0, -1<<63, 0
	clear(ks.units)
	ks.units = ks.units[:0]
}

// keep adds a response for the windows of loops to come, dropping those
// before t.
func (ks *keyState) keep(r *rrl.Response, t int64) {
	for ks.head < len(ks.recs) && ks.recs[ks.head].Time < t {
		ks.head++
	}
	if ks.head == len(ks.recs) {
		ks.recs, ks.head = ks.recs[:0], 0
	} else if ks.head >= len(ks.recs)/2 && ks.head >= 1024 {
		n := copy(ks.recs, ks.recs[ks.head:])
		ks.recs, ks.head = ks.recs[:n], 0
	}
	if len(ks.recs)-ks.head >= maxKeyRecs {
		ks.lost = max(ks.lost, ks.recs[ks.head].Time)
		ks.head++
	}
	ks.recs = append(ks.recs, *r)
}

// unit replays one server's responses to one client prefix for a loop of
// theirs.
type unit struct {
	lims      *rrl.Limiters
	responses uint64 // DNS responses decided since the first loop's earliest packet
	start     int64  // where its replay began (windowStart)
	loops     int    // the loops open that share it
}

func newUnit(sc []rrl.Scenario) *unit { return &unit{lims: rrl.NewLimiters(sc)} }

func (u *unit) reset() {
	u.lims.Reset()
	u.responses = 0
}

// classifier tells a server's responses to a client prefix, from the
// datagrams between them.
type classifier struct {
	// requests remembers whether each client endpoint's last request
	// parsed as DNS: a FORMERR to one that did not is answered before
	// rate limiting in BIND and Knot. lastEP's verdict mirrors
	// requests[lastEP].
	requests   map[netip.AddrPort]bool
	lastEP     netip.AddrPort
	lastParsed bool
	lastValid  bool
	// A loop repeats one request and one response, byte for byte,
	// thousands of times a second: the last payloads judged, and what
	// they gave.
	lastReq  payloadCache
	lastResp payloadCache
	resp     rrl.Response // lastResp's fields but Time and Client
}

func (u *classifier) reset() {
	clear(u.requests)
	u.lastEP, u.lastParsed, u.lastValid = netip.AddrPort{}, false, false
	u.lastReq.valid, u.lastResp.valid = false, false
}

// payloadCache remembers the last payload judged (up to maxCached bytes)
// and its verdict.
type payloadCache struct {
	b     []byte
	cut   bool
	valid bool
	dns   bool // request: parsed as DNS; response: a DNS response
}

const maxCached = 512

func (c *payloadCache) hit(b []byte, cut bool) bool {
	return c.valid && cut == c.cut && len(b) == len(c.b) && string(b) == string(c.b)
}

func (c *payloadCache) put(b []byte, cut bool, dns bool) {
	c.valid = len(b) <= maxCached
	if c.valid {
		c.b = append(c.b[:0], b...)
		c.cut, c.dns = cut, dns
	}
}

// request notes a request from the prefix to the server.
func (u *classifier) request(p *decode.Packet, info *decode.DNSInfo) {
	parsed := u.lastReq.dns
	if !u.lastReq.hit(p.Payload, p.Cut) {
		parsed = decode.ClassifyDNS(p.Payload, p.Cut, decode.Full, info) == decode.DNS
		u.lastReq.put(p.Payload, p.Cut, parsed)
	}
	if u.lastValid && p.Src == u.lastEP && parsed == u.lastParsed {
		return // requests[p.Src] holds it already
	}
	if u.requests == nil {
		u.requests = map[netip.AddrPort]bool{}
	}
	if len(u.requests) >= maxRequests {
		clear(u.requests)
	}
	u.requests[p.Src] = parsed
	u.lastEP, u.lastParsed, u.lastValid = p.Src, parsed, true
}

// response tells a datagram from the server to the prefix, when it is a
// DNS response.
func (u *classifier) response(fr *scan.Frame, info *decode.DNSInfo) (rrl.Response, bool) {
	p := fr.Packet
	if !u.lastResp.hit(p.Payload, p.Cut) {
		isResp := decode.ClassifyDNS(p.Payload, p.Cut, decode.HeaderQuestion, info) == decode.DNS && info.Response
		u.resp = rrl.Response{}
		if isResp {
			b := p.Payload
			aa := len(b) >= 4 && b[2]&0x04 != 0
			var an uint16
			if len(b) >= 8 {
				an = binary.BigEndian.Uint16(b[6:8])
			}
			u.resp = rrl.Response{Kind: rrl.Classify(info.RCode, aa, an), RCode: info.RCode, QType: info.QType, QClass: info.QClass}
			if info.HasQuestion {
				u.resp.QName, u.resp.Zone = rrl.NameKeys(info.QName.Data[:info.QName.Length])
			}
		}
		u.lastResp.put(p.Payload, p.Cut, isResp)
		if !isResp {
			return rrl.Response{}, false
		}
	} else if !u.lastResp.dns {
		return rrl.Response{}, false
	}
	r := u.resp
	parsed, seen := u.lastParsed, u.lastValid && p.Dst == u.lastEP
	if !seen {
		parsed, seen = u.requests[p.Dst]
	}
	r.Time, r.Client = fr.Time, p.Dst.Addr()
	r.Unparsed = seen && !parsed && r.RCode == rrl.RCodeFormErr
	return r, true
}
