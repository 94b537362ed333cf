package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// adviceFmt is advice as it was written with fmt: the reference the
// appends must match byte for byte.
func adviceFmt(l *Loop) string {
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
		fix = []string{fixServiceFmt(ss, s.Addr().String()+" and "+c.Addr().String(), s.Port())}
	default:
		fix = []string{fixServiceFmt(ss, s.Addr().String(), s.Port())}
		if l.HasTrigger && strings.HasPrefix(ss, "DNS") {
			unknown := cs
			if cs == "" {
				unknown = fmt.Sprintf("the service on UDP port %d", c.Port())
			}
			fix = append(fix, fmt.Sprintf("on %s, the resolver's source port %d is also served by %s: keep the resolver's source-port range away from it, or stop that service from answering stray datagrams", c.Addr(), c.Port(), unknown))
		}
		fix = append(fix, fixServiceFmt(cs, c.Addr().String(), c.Port()))
	}
	b.WriteString("; then ")
	b.WriteString(strings.Join(fix, "; "))
	return b.String()
}

func fixServiceFmt(svc string, a string, p uint16) string {
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

// TestAdviceMatchesFmt holds advice to the fmt version it replaced, for
// every kind of service, endpoint and trigger.
func TestAdviceMatchesFmt(t *testing.T) {
	addrs := []netip.AddrPort{
		netip.MustParseAddrPort("198.51.100.7:22772"),
		netip.MustParseAddrPort("192.0.2.1:53"),
		netip.MustParseAddrPort("192.0.2.1:22772"),
		netip.MustParseAddrPort("[2001:db8::1]:19"),
		netip.MustParseAddrPort("[::ffff:192.0.2.9]:53"),
		netip.MustParseAddrPort("[fe80::1%eth0]:123"),
		{},
	}
	services := []string{"", "DNS (port 53)", "DNS", "TFTP (port 22772)", "NTP (port 123)", "echo (port 7)",
		"systat (port 11)", "daytime (port 13)", "QOTD (port 17)", "chargen (port 19)", "time (port 37)",
		"UDP port 5000", "DNSX (port 1)", "odd \x1b[2J (port"}
	n := 0
	for _, c := range addrs {
		for _, s := range addrs {
			for _, cs := range services {
				for _, ss := range services {
					for _, trig := range []bool{false, true} {
						l := &Loop{Client: c, Server: s, HasTrigger: trig,
							Evidence: &Evidence{Client: SideEvidence{Service: cs}, Server: SideEvidence{Service: ss}}}
						if got, want := advice(l), adviceFmt(l); got != want {
							t.Fatalf("advice(%v, %v, %q, %q, %v):\n got %q\nwant %q", c, s, cs, ss, trig, got, want)
						}
						l.Evidence = nil
						if got, want := advice(l), adviceFmt(l); got != want {
							t.Fatalf("advice(%v, %v, no evidence, %v):\n got %q\nwant %q", c, s, trig, got, want)
						}
						n++
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no case")
	}
}
