package detect

import (
	"net/netip"

	"github.com/pongscan/pongscan/pkg/decode"
)

// WhatIf is the rate-limiting what-if replayed in the scan itself: the DNS
// detector shows it every DNS response a server sends and every loop (or
// run that may become one) it starts and ends, in capture order, so that
// a loop's verdicts are known when it ends, with no second read of the
// inputs. pkg/followup's Live implements it; a detector instance has its
// own (Config.WhatIf, one per shard). For the verdicts to be those of a
// replay of every response of the server to the client's prefix, that
// traffic must reach one shard: the scan routes DNS flows by their
// endpoints' prefixes when a WhatIf is in use.
type WhatIf interface {
	// Response is one DNS response from a flow's server side.
	Response(r *WhatIfResponse)
	// Repeat is a response of loop h (a Start's handle) whose bytes are
	// those of the loop's last one: the loop's common case, told
	// without parsing it again. unparsed is as in WhatIfResponse.
	Repeat(h int32, time int64, ref PacketRef, unparsed bool)
	// Start begins following a loop, or a run that may become one, on
	// the flow between client and server: first is its first packet
	// (firstFromServer: the server sent it), answer the trigger's answer
	// (zero when it has none), from its earliest packet (the trigger's
	// query). Both may have been shown to Response before. It returns
	// the handle the detector passes with the flow's responses and to
	// End, 0 if none.
	Start(client, server netip.AddrPort, first PacketRef, firstTime int64, firstFromServer bool, answer PacketRef, from int64) int32
	// End ends what Start began. When reported, the loop is reported
	// and End sets l.WhatIf to where its verdicts go; otherwise they are
	// dropped.
	End(h int32, reported bool, l *Loop)
	// Flush is called when the detector has finished (Finish): the
	// verdicts of every loop it reported are known when it returns.
	Flush()
}

// WhatIfResponse is a DNS response as the what-if sees it.
type WhatIfResponse struct {
	Time           int64
	Ref            PacketRef
	Server, Client netip.AddrPort
	Info           *decode.DNSInfo // the response's header and first question
	AA             bool            // authoritative answer
	Answers        uint16          // answer count
	// Unparsed: the flow's last request did not parse as DNS, so the
	// server answered it from its parse-error path.
	Unparsed bool
	// Loop is the handle of the flow's loop or run, 0 when none.
	Loop int32
}
