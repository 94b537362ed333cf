package detect

import (
	"fmt"
	"strings"
)

// advice says how to stop loop l: drop one packet at the server's edge,
// rate-limit the server (DNS response rate limiting when dnsServer), and
// stop the client's service from answering stray packets.
func advice(l *Loop, dnsServer bool) string {
	c, s := l.Client, l.Server
	var b strings.Builder
	fmt.Fprintf(&b, "break the loop by dropping one packet: block UDP %s -> %s (or all traffic from %s) at the server's edge; ", c, s, c.Addr())
	if dnsServer || s.Port() == 53 {
		fmt.Fprintf(&b, "enable DNS response rate limiting (RRL) on %s; ", s.Addr())
	} else {
		fmt.Fprintf(&b, "rate-limit or stop the service on %s port %d answering unsolicited packets; ", s.Addr(), s.Port())
	}
	switch l.PayloadInfo.Kind {
	case "tftp-error", "tftp":
		fmt.Fprintf(&b, "on %s, stop the TFTP service from answering on port %d, or keep the resolver's source ports out of its range", c.Addr(), c.Port())
	case "ntp":
		fmt.Fprintf(&b, "on %s, stop the NTP service from answering stray packets on port %d", c.Addr(), c.Port())
	default:
		fmt.Fprintf(&b, "on %s, find the service listening on UDP port %d and stop it answering unsolicited packets", c.Addr(), c.Port())
	}
	return b.String()
}
