package scan

import (
	"strconv"

	"github.com/pongscan/pongscan/pkg/report"
	"net/netip"
	"slices"
	"time"

	"github.com/pongscan/pongscan/pkg/detect"
)

// Filter keeps part of the input, as a display filter does: packets
// outside it are read (frame numbers stay those of the files) but not
// decoded, counted or shown to the detectors; the summary counts them as
// filtered out. The zero value keeps everything.
type Filter struct {
	// Hosts keeps UDP datagrams whose source or destination is in one of
	// the prefixes (a host is a /32 or /128). Other frames are dropped
	// when Hosts or Ports is set: only UDP headers are read for it.
	Hosts []netip.Prefix
	// Ports keeps UDP datagrams whose source or destination port is one
	// of these.
	Ports []uint16
	// From and To keep records with From <= time < To, as editcap -A and
	// -B do.
	From, To Bound
}

// Bound is one end of a time window: an absolute time, or an offset from
// the time of the first record of the input (the capture's start).
type Bound struct {
	Set      bool
	Relative bool
	At       int64         // nanoseconds since the Unix epoch, when not Relative
	Offset   time.Duration // after the capture's start, when Relative
}

// resolve is the bound's absolute time for a capture starting at start.
func (b Bound) resolve(start int64) int64 {
	if b.Relative {
		return start + int64(b.Offset)
	}
	return b.At
}

// Active reports whether the filter drops anything.
func (f *Filter) Active() bool {
	return f != nil && (len(f.Hosts) > 0 || len(f.Ports) > 0 || f.From.Set || f.To.Set)
}

// window is a Filter resolved against the capture's start.
type window struct {
	f        *Filter
	from, to int64
	resolved bool
	byAddr   bool // Hosts or Ports set
}

func newWindow(f *Filter) *window {
	if !f.Active() {
		return nil
	}
	return &window{f: f, byAddr: len(f.Hosts) > 0 || len(f.Ports) > 0}
}

// resolve fixes relative bounds once the capture's start is known.
func (w *window) resolve(start int64) {
	if w.resolved {
		return
	}
	w.resolved = true
	w.from, w.to = -1<<63, 1<<63-1
	if w.f.From.Set {
		w.from = w.f.From.resolve(start)
	}
	if w.f.To.Set {
		w.to = w.f.To.resolve(start)
	}
}

// inTime reports whether a record at t is inside the window.
func (w *window) inTime(t int64) bool { return t >= w.from && t < w.to }

// keeps reports whether a decoded UDP datagram passes the host and port
// parts.
func (w *window) keeps(p *detect.Packet) bool {
	if len(w.f.Hosts) > 0 {
		src, dst := p.Src.Addr().Unmap(), p.Dst.Addr().Unmap()
		if !slices.ContainsFunc(w.f.Hosts, func(h netip.Prefix) bool { return h.Contains(src) || h.Contains(dst) }) {
			return false
		}
	}
	if len(w.f.Ports) > 0 {
		if !slices.Contains(w.f.Ports, p.Src.Port()) && !slices.Contains(w.f.Ports, p.Dst.Port()) {
			return false
		}
	}
	return true
}

// windowEnd is the end of the input for the detectors: the last record's
// time, or the last instant of a --to window that closes before it, so
// that a loop running at --to is "still running at the end".
func (s *scan) windowEnd() int64 {
	end := s.feed.end
	if len(s.shards) > 0 {
		if w := s.shards[0].filter; w != nil && w.resolved && w.to <= end {
			end = w.to - 1
		}
	}
	return end
}

// filterSettings echoes the filter for the report's settings.
func (s *scan) filterSettings() *report.FilterSettings {
	f := s.opts.Filter
	if !f.Active() {
		return nil
	}
	out := &report.FilterSettings{Ports: f.Ports}
	for _, h := range f.Hosts {
		if h.IsSingleIP() {
			out.Hosts = append(out.Hosts, h.Addr().String())
		} else {
			out.Hosts = append(out.Hosts, h.String())
		}
	}
	echo := func(b Bound) string {
		switch {
		case !b.Set:
			return ""
		case !b.Relative:
			return report.Timestamp(b.At)
		case s.feed.started:
			return report.Timestamp(b.resolve(s.feed.start))
		}
		return "+" + strconv.FormatFloat(b.Offset.Seconds(), 'f', -1, 64) + " s"
	}
	out.From, out.To = echo(f.From), echo(f.To)
	return out
}

// Keep reports whether a record at time t passes the filter, for a
// second reading of the input (the capture started at start): ok says
// whether a decoded UDP datagram's endpoints src and dst pass too; a
// frame that is not UDP passes only a filter with no hosts or ports.
func (f *Filter) Keep(start, t int64, udp bool, src, dst netip.AddrPort) bool {
	if !f.Active() {
		return true
	}
	w := newWindow(f)
	w.resolve(start)
	if !w.inTime(t) {
		return false
	}
	if !w.byAddr {
		return true
	}
	if !udp {
		return false
	}
	var p detect.Packet
	p.Src, p.Dst = src, dst
	return w.keeps(&p)
}
