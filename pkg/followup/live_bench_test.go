package followup

import (
	"net/netip"
	"testing"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/scan"
)

// BenchmarkLiveLoopResponse is the what-if's cost of one response of an
// open loop, the seed's FORMERR to junk, through the front and the engine
// of a shard that runs them on one goroutine.
func BenchmarkLiveLoopResponse(b *testing.B) {
	fr := LiveWhatIf(scan.ObserveInfo{Inputs: []string{"x.pcap"}}).(*liveFront)
	client, server := netip.MustParseAddrPort("198.51.100.200:22772"), netip.MustParseAddrPort("192.0.2.1:53")
	info := decode.DNSInfo{Response: true, RCode: 1}
	h := fr.Start(client, server, detect.PacketRef{Frame: 1}, 1e18, false, detect.PacketRef{}, 1e18)
	r := detect.WhatIfResponse{Server: server, Client: client, Info: &info, Unparsed: true, Loop: h}
	t := int64(1e18)
	for i := 0; b.Loop(); i++ {
		t += 66667
		r.Time, r.Ref = t, detect.PacketRef{Frame: uint64(i + 2)}
		fr.Response(&r)
	}
}
