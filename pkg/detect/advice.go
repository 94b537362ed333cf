package detect

import (
	"fmt"
	"strings"
)

// advice says how to stop loop l: break it now by dropping one packet,
// then fix each side's service so it cannot start again. It names the
// service actually seen on each side (the evidence's), so a TFTP<->TFTP
// loop gets no resolver advice and a server<->server loop names both.
func advice(l *Loop) string {
	c, s := l.Client, l.Server
	var cs, ss string
	if l.Evidence != nil {
		cs, ss = l.Evidence.Client.Service, l.Evidence.Server.Service
	}
	var b strings.Builder
	fmt.Fprintf(&b, "break the loop by dropping one packet: block UDP %s -> %s (or all traffic from %s) at %s's edge", c, s, c.Addr(), s.Addr())
	var fix []string
	switch {
	case serviceName(cs) == serviceName(ss) && c.Port() == s.Port() && !l.HasTrigger:
		// Server <-> server of one kind: one fix, for both hosts.
		fix = []string{fixService(ss, s.Addr().String()+" and "+c.Addr().String(), s.Port())}
	default:
		fix = []string{fixService(ss, s.Addr().String(), s.Port())}
		if l.HasTrigger && strings.HasPrefix(ss, "DNS") {
			// The seed's case: a resolver's query left from a port another
			// service on its host owns.
			fix = append(fix, fmt.Sprintf("on %s, the resolver's source port %d is also served by %s: keep the resolver's source-port range away from it, or stop that service from answering stray datagrams", c.Addr(), c.Port(), orUnknown(cs, c.Port())))
		}
		fix = append(fix, fixService(cs, c.Addr().String(), c.Port()))
	}
	b.WriteString("; then ")
	b.WriteString(strings.Join(fix, "; "))
	return b.String()
}

func orUnknown(svc string, port uint16) string {
	if svc == "" {
		return fmt.Sprintf("the service on UDP port %d", port)
	}
	return svc
}

// serviceName is svc without its details in brackets.
func serviceName(svc string) string {
	name, _, _ := strings.Cut(svc, " (")
	return name
}

// fixService says how to keep the service svc on port p of the hosts a
// from feeding a loop.
func fixService(svc string, a string, p uint16) string {
	name := serviceName(svc)
	switch name {
	case "DNS":
		return fmt.Sprintf("on %s (DNS), enable response rate limiting (RRL, with errors-per-second) and make sure the DNS server never answers a DNS response (QR=1) or junk with anything but silence", a)
	case "TFTP":
		return fmt.Sprintf("on %s (TFTP, port %d), stop the TFTP service answering datagrams that are not requests of a transfer it runs (its error replies keep the loop going), or firewall it from the Internet", a, p)
	case "NTP":
		return fmt.Sprintf("on %s (NTP), disable ntpd's mode 7 and mode 6 queries from the Internet (restrict default noquery; ntpd 4.2.4p8 and later fix CVE-2009-3563) or firewall port %d", a, p)
	case "echo", "systat", "daytime", "QOTD", "chargen", "time":
		return fmt.Sprintf("on %s, turn off the %s service (port %d, an inetd internal service): nothing on the Internet needs it (CVE-2024-2169)", a, name, p)
	}
	return fmt.Sprintf("on %s, find the service on UDP port %d and stop it answering datagrams it did not ask for", a, p)
}
