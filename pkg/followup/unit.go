package followup

import (
	"encoding/binary"
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/rrl"
	"github.com/pongscan/pongscan/pkg/scan"
)

// The rate-limiting what-if replays a server's responses to a client's
// prefix (a /24, a /56). Loops of one server and prefix replay the same
// responses: they share one unit, whose limiters decide each response
// once (rrl.Limiters), and each loop's judge takes the decisions on its
// own responses. A thousand loops in one prefix cost one replay, not a
// thousand.

// maxRequests bounds the request verdicts a unit keeps.
const maxRequests = 1 << 16

// unitKey names a unit: the server's address and port, the client
// prefix.
type unitKey struct {
	srv  words
	port uint16
	pfx  words
}

// unit replays one server's responses to one client prefix while a loop
// of theirs is followed.
type unit struct {
	scenarios []rrl.Scenario
	lims      *rrl.Limiters
	responses uint64 // DNS responses replayed
	refs      int    // loops followed that use it
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

func newUnit(sc []rrl.Scenario) *unit {
	return &unit{scenarios: sc, lims: rrl.NewLimiters(sc), requests: map[netip.AddrPort]bool{}}
}

// reset readies a unit of a retired prefix for another, keeping its
// memory: its limiters' tables and maps.
func (u *unit) reset() {
	u.lims.Reset()
	clear(u.requests)
	u.responses, u.refs = 0, 0
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
func (u *unit) request(p *decode.Packet, info *decode.DNSInfo) {
	parsed := u.lastReq.dns
	if !u.lastReq.hit(p.Payload, p.Cut) {
		parsed = decode.ClassifyDNS(p.Payload, p.Cut, decode.Full, info) == decode.DNS
		u.lastReq.put(p.Payload, p.Cut, parsed)
	}
	if u.lastValid && p.Src == u.lastEP && parsed == u.lastParsed {
		return // requests[p.Src] holds it already
	}
	if len(u.requests) >= maxRequests {
		clear(u.requests)
	}
	u.requests[p.Src] = parsed
	u.lastEP, u.lastParsed, u.lastValid = p.Src, parsed, true
}

// response decides a datagram from the server to the prefix through
// every scenario, when it is a DNS response; the decisions are valid
// until the next call.
func (u *unit) response(fr *scan.Frame, info *decode.DNSInfo) (rrl.Replayed, []rrl.Decision, bool) {
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
			return rrl.Replayed{}, nil, false
		}
	} else if !u.lastResp.dns {
		return rrl.Replayed{}, nil, false
	}
	r := rrl.Replayed{Response: u.resp}
	parsed, seen := u.lastParsed, u.lastValid && p.Dst == u.lastEP
	if !seen {
		parsed, seen = u.requests[p.Dst]
	}
	r.Time, r.Client = fr.Time, p.Dst.Addr()
	r.Unparsed = seen && !parsed && r.RCode == rrl.RCodeFormErr
	u.responses++
	return r, u.lims.Decide(&r.Response), true
}
