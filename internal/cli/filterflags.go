package cli

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pongscan/pongscan/pkg/scan"
)

// filterFlags are the raw --host, --port, --from and --to values.
type filterFlags struct {
	hosts    []string
	ports    []uint
	from, to string
}

// parse turns the flags into a scan filter; nil when none is set.
func (ff *filterFlags) parse() (*scan.Filter, error) {
	f := &scan.Filter{}
	for _, h := range ff.hosts {
		for _, part := range strings.Split(h, ",") {
			p, err := parseHost(strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			if !slices.Contains(f.Hosts, p) {
				f.Hosts = append(f.Hosts, p)
			}
		}
	}
	for _, p := range ff.ports {
		if p == 0 || p > 65535 {
			return nil, fmt.Errorf("--port %d is not a UDP port", p)
		}
		if !slices.Contains(f.Ports, uint16(p)) {
			f.Ports = append(f.Ports, uint16(p))
		}
	}
	var err error
	if f.From, err = parseBound("--from", ff.from); err != nil {
		return nil, err
	}
	if f.To, err = parseBound("--to", ff.to); err != nil {
		return nil, err
	}
	if f.From.Set && f.To.Set && f.From.Relative == f.To.Relative {
		if f.From.Relative && f.To.Offset <= f.From.Offset || !f.From.Relative && f.To.At <= f.From.At {
			return nil, fmt.Errorf("--to must come after --from")
		}
	}
	if !f.Active() {
		return nil, nil
	}
	return f, nil
}

// parseHost reads an address or a CIDR prefix; IPv4-mapped IPv6 is
// IPv4, as flows are.
func parseHost(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("--host %q is not an address or prefix: %v", s, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--host %q is not an address or prefix", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseBound reads an RFC 3339 time (2016-02-08T13:00:02.4Z), or seconds
// since the capture's start (90, 1.5), or a Go duration since the start
// (1m30s).
func parseBound(flag, s string) (scan.Bound, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return scan.Bound{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return scan.Bound{Set: true, At: t.UnixNano()}, nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 && secs < 1e9 {
		return scan.Bound{Set: true, Relative: true, Offset: time.Duration(secs * 1e9)}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return scan.Bound{Set: true, Relative: true, Offset: d}, nil
	}
	return scan.Bound{}, fmt.Errorf("%s %q is neither an RFC 3339 time (2016-02-08T13:00:02Z) nor seconds since the capture's start (90, 1.5, 1m30s)", flag, s)
}
