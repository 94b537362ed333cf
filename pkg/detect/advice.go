package detect

import (
	"net/netip"
	"strconv"
	"strings"
)

// advice says how to stop loop l: break it now by dropping one packet,
// then fix each side's service so it cannot start again. It names the
// service actually seen on each side (the evidence's), so a TFTP<->TFTP
// loop gets no resolver advice and a server<->server loop names both.
//
// It is written with appends, not fmt: every loop of a report has one,
// and a report may have a million.
func advice(l *Loop) string {
	c, s := l.Client, l.Server
	var cs, ss string
	if l.Evidence != nil {
		cs, ss = l.Evidence.Client.Service, l.Evidence.Server.Service
	}
	ca, sa := c.Addr().String(), s.Addr().String()
	b := make([]byte, 0, 1024)
	b = append(b, "break the loop by dropping one packet: block UDP "...)
	b = appendAddrPort(b, c)
	b = append(b, " -> "...)
	b = appendAddrPort(b, s)
	b = append(b, " (or all traffic from "...)
	b = append(b, ca...)
	b = append(b, ") at "...)
	b = append(b, sa...)
	b = append(b, "'s edge; then "...)
	switch {
	case serviceName(cs) == serviceName(ss) && c.Port() == s.Port() && !l.HasTrigger:
		// Server <-> server of one kind: one fix, for both hosts.
		b = appendFix(b, ss, sa+" and "+ca, s.Port())
	default:
		b = appendFix(b, ss, sa, s.Port())
		if l.HasTrigger && strings.HasPrefix(ss, "DNS") {
			// The seed's case: a resolver's query left from a port another
			// service on its host owns.
			b = append(b, "; on "...)
			b = append(b, ca...)
			b = append(b, ", the resolver's source port "...)
			b = strconv.AppendUint(b, uint64(c.Port()), 10)
			b = append(b, " is also served by "...)
			if cs == "" {
				b = append(b, "the service on UDP port "...)
				b = strconv.AppendUint(b, uint64(c.Port()), 10)
			} else {
				b = append(b, cs...)
			}
			b = append(b, ": keep the resolver's source-port range away from it, or stop that service from answering stray datagrams"...)
		}
		b = append(b, "; "...)
		b = appendFix(b, cs, ca, c.Port())
	}
	return string(b)
}

// appendAddrPort appends p as p.String() (and fmt's %s) writes it.
func appendAddrPort(b []byte, p netip.AddrPort) []byte {
	if !p.Addr().IsValid() {
		return append(b, p.String()...)
	}
	return p.AppendTo(b)
}

// serviceName is svc without its details in brackets.
func serviceName(svc string) string {
	name, _, _ := strings.Cut(svc, " (")
	return name
}

// appendFix appends how to keep the service svc on port p of the hosts a
// from feeding a loop.
func appendFix(b []byte, svc string, a string, p uint16) []byte {
	port := func(b []byte) []byte { return strconv.AppendUint(b, uint64(p), 10) }
	name := serviceName(svc)
	b = append(b, "on "...)
	b = append(b, a...)
	switch name {
	case "DNS":
		return append(b, " (DNS), enable response rate limiting (RRL, with errors-per-second) and make sure the DNS server never answers a DNS response (QR=1) or junk with anything but silence"...)
	case "TFTP":
		b = append(b, " (TFTP, port "...)
		b = port(b)
		return append(b, "), stop the TFTP service answering datagrams that are not requests of a transfer it runs (its error replies keep the loop going), or firewall it from the Internet"...)
	case "NTP":
		b = append(b, " (NTP), disable ntpd's mode 7 and mode 6 queries from the Internet (restrict default noquery; ntpd 4.2.4p8 and later fix CVE-2009-3563) or firewall port "...)
		return port(b)
	case "echo", "systat", "daytime", "QOTD", "chargen", "time":
		b = append(b, ", turn off the "...)
		b = append(b, name...)
		b = append(b, " service (port "...)
		b = port(b)
		return append(b, ", an inetd internal service): nothing on the Internet needs it (CVE-2024-2169)"...)
	}
	b = append(b, ", find the service on UDP port "...)
	b = port(b)
	return append(b, " and stop it answering datagrams it did not ask for"...)
}
