// Package htmlreport writes a scan's report as one self-contained HTML
// page: no script, no network (a Content-Security-Policy forbids every
// load), charts drawn as inline SVG by pongscan itself through
// html/template, so every string from a capture is escaped for its
// context. The same report and second read always give the same bytes.
//
// The page shows the whole capture's packets per second (DNS queries,
// answers by rcode, non-DNS traffic on DNS ports, the rest) with each
// loop shaded; then, per loop, its facts and counts, a mirrored timeline
// of its two directions with the trigger marked, a ladder diagram of its
// first packets, the payload's hex dump, the Wireshark filter and
// commands, the blocking rules and the rate-limiting what-if.
package htmlreport

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"encoding/hex"

	"github.com/pongscan/pongscan/pkg/followup"
	"github.com/pongscan/pongscan/pkg/report"
)

//go:embed page.html.tmpl
var pageTmpl string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"esc":  report.Escape,   // control and invisible characters shown, not obeyed
	"verb": report.Verbatim, // commands, as they must be pasted
}).Parse(pageTmpl))

// Write renders the page for rep, the capture's timeline tl (counted in
// the scan; may be nil) and what the second read collected of each loop
// (loops, in the report's order; nil when there was no second read: the
// page then has no loop timelines or ladders).
func Write(w io.Writer, rep *report.Report, tl *followup.Timeline, loops []followup.Loop) error {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, build(rep, tl, loops)); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

type page struct {
	Headline string
	Tool     string
	Inputs   []report.Input
	Summary  report.Summary
	Timeline *chart
	Legend   []legend
	Loops    []loopView
	Note     string
}

type legend struct{ Name, Color string }

// chart is an SVG chart: everything in user units of its viewBox.
type chart struct {
	W, H                 int
	PlotX, PlotY         float64
	PlotW, PlotH         float64
	Rects                []rect
	Shades               []rect
	XTicks, YTicks       []tick
	Marks                []mark
	YLabel, XLabel, Axis string
	AxisY                float64 // the zero line of a mirrored chart
	Mirrored             bool
	UpLabel, DownLabel   string
}

type rect struct {
	X, Y, W, H  string
	Fill, Title string
	Label       string
	LabelX      string
}

type tick struct {
	Pos   string
	Label string
}

type mark struct {
	X, Y1, Y2 string
	Label     string
	LabelY    string
	Color     string
}

type loopView struct {
	N          int
	L          *report.Loop
	Title      string
	Facts      []fact
	Timeline   *chart
	Ladder     *ladder
	Hex        string
	Commands   []command
	Rules      []command
	RRL        *report.RRL
	Extract    *report.Extract
	DecodeNote string
}

type fact struct{ K, V string }

type command struct{ What, Text string }

// Colors of the timeline's categories, in revisit's order: colour-blind
// safe (Okabe-Ito and greys), the loop's own traffic in the strongest.
var colors = [followup.NumCategories]string{"#0072b2", "#009e73", "#e69f00", "#d55e00", "#cc79a7", "#56b4e9", "#999999", "#000000", "#dddddd"}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func build(rep *report.Report, tl *followup.Timeline, loops []followup.Loop) *page {
	p := &page{Headline: report.Headline(rep), Inputs: rep.Inputs, Summary: rep.Summary,
		Tool: strings.TrimSpace(fmt.Sprintf("%s %s %s", rep.Tool.Name, rep.Tool.Version, rep.Tool.Revision))}
	for i, n := range followup.CategoryNames {
		p.Legend = append(p.Legend, legend{n, colors[i]})
	}
	if loops == nil && len(rep.Loops) > 0 {
		p.Note = "The loops' timelines and ladders need a second read of the inputs, which was not available."
	}
	if tl != nil {
		p.Timeline = captureChart(tl, rep)
	}
	for i := range rep.Loops {
		l := &rep.Loops[i]
		v := loopView{N: i + 1, L: l, Title: report.Escape(fmt.Sprintf("Loop %d: %s \u2194 %s", i+1, hostPort(l.Client), hostPort(l.Server))),
			RRL: l.RRL, Extract: l.Extract}
		v.Facts = facts(l)
		raw, _ := hex.DecodeString(l.Payload.Hex)
		v.Hex = report.HexDump(raw, 512)
		if ws := l.Wireshark; ws != nil {
			v.Commands = append(v.Commands, command{"Wireshark display filter", ws.DisplayFilter})
			if ws.Tshark != "" {
				v.Commands = append(v.Commands, command{"tshark: the loop and its trigger to a new file", ws.Tshark})
				v.Commands = append(v.Commands, command{"editcap: the loop's time window, every flow", ws.Editcap})
			}
			if d := ws.DecodeAs; d != nil {
				v.Commands = append(v.Commands, command{"Decode As (" + d.Note + ")", fmt.Sprintf("%s == %d \u2192 %s     tshark %s", d.Field, d.Value, d.Protocol, d.Option)})
			}
		}
		if m := l.Mitigation; m != nil {
			v.Rules = []command{{"nftables", m.Nft}, {"iptables", m.Iptables}, {"capture it (BPF)", m.Tcpdump}}
			v.DecodeNote = m.Note
		}
		if i < len(loops) && loops[i].Followed {
			lv := &loops[i]
			v.Timeline = loopChart(lv, l)
			v.Ladder = buildLadder(lv, l)
		}
		p.Loops = append(p.Loops, v)
	}
	return p
}

func hostPort(e report.Endpoint) string {
	if strings.Contains(e.IP, ":") {
		return fmt.Sprintf("[%s]:%d", e.IP, e.Port)
	}
	return fmt.Sprintf("%s:%d", e.IP, e.Port)
}

func facts(l *report.Loop) []fact {
	running := "no"
	if l.OngoingAtEnd {
		running = "yes, at the end of the capture"
	}
	payload := l.Payload.Summary
	if !strings.HasPrefix(payload, l.Payload.Kind) {
		// "tftp-error: TFTP Error Code, ..." but not "text: text: ..."
		payload = l.Payload.Kind + ": " + payload
	}
	fs := []fact{
		{"detector", l.Detector}, {"start (UTC)", l.Start}, {"end (UTC)", l.End},
		{"duration", fmt.Sprintf("%.3f s", l.DurationS)}, {"packets", fmt.Sprintf("%d (%d bytes)", l.Packets, l.Bytes)},
		{"rate", fmt.Sprintf("%.1f packets/s, peak %d/s", l.RatePPS, l.PeakPPS)}, {"still running", running},
		{"payload", fmt.Sprintf("%s (%d bytes)", payload, l.Payload.Length)},
	}
	t := l.Trigger
	if t.Query != nil && t.Response != nil {
		fs = append(fs,
			fact{"trigger query", fmt.Sprintf("%s#%d  %s  %s", report.Base(t.Query.File), t.Query.Frame, t.Query.Time, t.Query.Summary)},
			fact{"trigger answer", fmt.Sprintf("%s#%d  %s  %s", report.Base(t.Response.File), t.Response.Frame, t.Response.Time, t.Response.Summary)})
	}
	fs = append(fs, fact{"first non-DNS", fmt.Sprintf("%s#%d  %s  %s", report.Base(t.FirstNonDNS.File), t.FirstNonDNS.Frame, t.FirstNonDNS.Time, t.FirstNonDNS.Summary)},
		fact{"to stop it", l.Advice})
	return fs
}

func parseTime(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixNano()
}

// niceStep is 1, 2 or 5 times a power of ten, at least v/n.
func niceStep(v float64, n int) float64 {
	if v <= 0 {
		return 1
	}
	raw := v / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// rateLabel prints a rate in packets per second.
func rateLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// timeTicks places about n labels over [start, start+span) nanoseconds.
func timeTicks(start, span int64, x0, w float64, n int) []tick {
	step := int64(niceStep(float64(span), n))
	if step <= 0 {
		step = 1
	}
	var out []tick
	first := (start/step + 1) * step
	if start%step == 0 {
		first = start
	}
	for t := first; t <= start+span; t += step {
		x := x0 + w*float64(t-start)/float64(max(span, 1))
		out = append(out, tick{f1(x), clock(t, step)})
	}
	return out
}

// clock prints t's time of day in UTC, to the precision the step needs.
func clock(t, step int64) string {
	tm := time.Unix(0, t).UTC()
	switch {
	case step >= int64(time.Second):
		return tm.Format("15:04:05")
	case step >= int64(time.Millisecond):
		return tm.Format("15:04:05.000")
	}
	return tm.Format("15:04:05.000000")
}

func captureChart(tl *followup.Timeline, rep *report.Report) *chart {
	n := 0
	for _, c := range tl.Counts {
		n = max(n, len(c))
	}
	c := &chart{W: 1160, H: 300, PlotX: 70, PlotY: 16, PlotW: 1070, PlotH: 240,
		YLabel: "packets/s", Axis: "UTC"}
	if n == 0 {
		return c
	}
	secs := float64(tl.Bucket) / 1e9
	peak := 0.0
	for b := 0; b < n; b++ {
		tot := 0.0
		for k := range tl.Counts {
			if b < len(tl.Counts[k]) {
				tot += float64(tl.Counts[k][b])
			}
		}
		peak = max(peak, tot/secs)
	}
	step := niceStep(peak, 4)
	top := math.Max(step*math.Ceil(peak/step), step)
	span := int64(n) * tl.Bucket
	bw := c.PlotW / float64(n)
	for b := 0; b < n; b++ {
		y := c.PlotY + c.PlotH
		for k := range tl.Counts {
			if b >= len(tl.Counts[k]) || tl.Counts[k][b] == 0 {
				continue
			}
			rate := float64(tl.Counts[k][b]) / secs
			h := c.PlotH * rate / top
			y -= h
			c.Rects = append(c.Rects, rect{X: f1(c.PlotX + float64(b)*bw), Y: f1(y), W: f1(math.Max(bw-0.2, 0.3)), H: f1(h), Fill: colors[k],
				Title: fmt.Sprintf("%s: %s %s/s", clock(tl.Start+int64(b)*tl.Bucket, tl.Bucket), followup.CategoryNames[k], rateLabel(math.Round(rate)))})
		}
	}
	for i := range rep.Loops {
		l := &rep.Loops[i]
		s, e := parseTime(l.Start), parseTime(l.End)
		x0 := c.PlotX + c.PlotW*float64(s-tl.Start)/float64(span)
		x1 := c.PlotX + c.PlotW*float64(e-tl.Start)/float64(span)
		c.Shades = append(c.Shades, rect{X: f1(x0), Y: f1(c.PlotY), W: f1(math.Max(x1-x0, 2)), H: f1(c.PlotH), Fill: "#ffe08a",
			Title: fmt.Sprintf("loop %d: %s <-> %s", i+1, hostPort(l.Client), hostPort(l.Server)), Label: fmt.Sprintf("loop %d", i+1), LabelX: f1(x0 + 3)})
	}
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{f1(c.PlotY + c.PlotH - c.PlotH*v/top), rateLabel(v)})
	}
	c.XTicks = timeTicks(tl.Start, span, c.PlotX, c.PlotW, 8)
	return c
}

func loopChart(lv *followup.Loop, l *report.Loop) *chart {
	s := lv.Series
	n := len(s.Counts[0])
	c := &chart{W: 1160, H: 270, PlotX: 70, PlotY: 26, PlotW: 1070, PlotH: 200, Mirrored: true, YLabel: "packets/s", Axis: "UTC",
		UpLabel: "client \u2192 server", DownLabel: "server \u2192 client"}
	if n == 0 || s.Bucket == 0 {
		return c
	}
	secs := float64(s.Bucket) / 1e9
	peak := 0.0
	for d := 0; d < 2; d++ {
		for _, v := range s.Counts[d] {
			peak = max(peak, float64(v)/secs)
		}
	}
	step := niceStep(peak, 2)
	top := math.Max(step*math.Ceil(peak/step), step)
	mid := c.PlotY + c.PlotH/2
	c.AxisY = mid
	half := c.PlotH / 2
	span := int64(n) * s.Bucket
	bw := c.PlotW / float64(n)
	for d := 0; d < 2; d++ {
		for b, v := range s.Counts[d] {
			if v == 0 {
				continue
			}
			rate := float64(v) / secs
			h := half * rate / top
			y := mid - h
			fill := "#0072b2"
			who := "client \u2192 server"
			if d == 1 {
				y, fill, who = mid, "#d55e00", "server \u2192 client"
			}
			c.Rects = append(c.Rects, rect{X: f1(c.PlotX + float64(b)*bw), Y: f1(y), W: f1(math.Max(bw-0.2, 0.3)), H: f1(h), Fill: fill,
				Title: fmt.Sprintf("%s: %s %s/s", clock(s.Start+int64(b)*s.Bucket, s.Bucket), who, rateLabel(math.Round(rate)))})
		}
	}
	for v := step; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{f1(mid - half*v/top), rateLabel(v)}, tick{f1(mid + half*v/top), rateLabel(v)})
	}
	c.YTicks = append(c.YTicks, tick{f1(mid), "0"})
	c.XTicks = timeTicks(s.Start, span, c.PlotX, c.PlotW, 8)
	// The trigger: its packets come just before the loop's first one;
	// marked at the left edge with their offsets.
	if q, r := l.Trigger.Query, l.Trigger.Response; q != nil && r != nil {
		label := fmt.Sprintf("trigger: query #%d, answer #%d, first non-DNS #%d %.3f ms later",
			q.Frame, r.Frame, l.Trigger.FirstNonDNS.Frame, *l.Trigger.FirstNonDNS.DelayMS)
		c.Marks = append(c.Marks, mark{X: f1(c.PlotX), Y1: f1(c.PlotY), Y2: f1(c.PlotY + c.PlotH), Label: label, LabelY: f1(c.PlotY - 8), Color: "#d40000"})
	} else {
		c.Marks = append(c.Marks, mark{X: f1(c.PlotX), Y1: f1(c.PlotY), Y2: f1(c.PlotY + c.PlotH),
			Label: "no trigger captured: first packet #" + fmt.Sprint(l.FirstPacket.Frame), LabelY: f1(c.PlotY - 8), Color: "#d40000"})
	}
	return c
}

// ladder is a sequence diagram of a loop's first packets.
type ladder struct {
	W, H           int
	CX, SX         float64
	Top, Bottom    float64
	Client, Server string
	Arrows         []arrow
}

type arrow struct {
	X1, Y1, X2, Y2 string
	Color          string
	Label          string
	LabelX, LabelY string
	Anchor         string
	Dash           string
}

func buildLadder(lv *followup.Loop, l *report.Loop) *ladder {
	steps := lv.Ladder
	if len(steps) == 0 {
		return nil
	}
	const row = 26.0
	ld := &ladder{W: 1160, CX: 190, SX: 970, Top: 40, Client: hostPort(l.Client), Server: hostPort(l.Server)}
	ld.H = int(ld.Top + row*float64(len(steps)) + 20)
	ld.Bottom = float64(ld.H) - 8
	t0 := steps[0].Time
	for i, s := range steps {
		y := ld.Top + row*float64(i) + 10
		x1, x2, anchor, lx := ld.CX, ld.SX, "middle", (ld.CX+ld.SX)/2
		color := "#0072b2"
		if !s.FromC {
			x1, x2 = ld.SX, ld.CX
			color = "#d55e00"
		}
		a := arrow{X1: f1(x1), Y1: f1(y), X2: f1(x2), Y2: f1(y + row*0.55), Color: color, LabelY: f1(y - 3), Anchor: anchor, LabelX: f1(lx)}
		if s.Trigger {
			a.Dash = "5 3"
		}
		summary := s.Summary
		if r := []rune(summary); len(r) > 70 {
			summary = string(r[:70]) + "\u2026"
		}
		a.Label = report.Escape(fmt.Sprintf("#%d  +%.3f ms  %d B  %s", s.Frame, float64(s.Time-t0)/1e6, s.Wire, summary))
		ld.Arrows = append(ld.Arrows, a)
	}
	return ld
}
