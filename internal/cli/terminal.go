package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// forceTTYEnv forces terminal output when stdout is not a terminal, as
// GH_FORCE_TTY does for gh: any value forces it; a number is the width in
// columns, a percentage a share of the real terminal's width (or of 80).
const forceTTYEnv = "PONGSCAN_FORCE_TTY"

// terminalWidth reports whether w is a terminal and its width in columns.
func terminalWidth(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = 80
	}
	return width, true
}

// tableLayout decides how the table printer lays out a report on w: fitted
// to the width of a terminal, else plain tab-separated rows.
func tableLayout(w io.Writer) report.TableOptions {
	width, tty := terminalWidth(w)
	if v, ok := os.LookupEnv(forceTTYEnv); ok && v != "" {
		base := width
		if base == 0 {
			base = 80
		}
		switch {
		case strings.HasSuffix(v, "%"):
			if pct, err := strconv.Atoi(strings.TrimSuffix(v, "%")); err == nil && pct > 0 {
				return report.TableOptions{Width: max(base*pct/100, 20)}
			}
		default:
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return report.TableOptions{Width: max(n, 20)}
			}
		}
		return report.TableOptions{Width: base}
	}
	if !tty {
		return report.TableOptions{Plain: true}
	}
	return report.TableOptions{Width: width}
}

// progressLine keeps one status line on stderr: redrawn in place, never
// wider than the terminal (a longer line would wrap and leave a line
// behind on each redraw), shown only once a scan has run for a second,
// and erased before the report.
type progressLine struct {
	w     io.Writer
	width int // 0: not a terminal, no limit
	shown bool
	// label starts the line: what is being read ("following up 3
	// loops: " in the second read).
	label string
}

// progressDelay is how long a scan runs before the line appears (a
// variable for tests).
var progressDelay = time.Second

func newProgressLine(w io.Writer) *progressLine {
	width, _ := terminalWidth(w)
	return &progressLine{w: w, width: width}
}

func (p *progressLine) update(s scan.Progress) {
	if s.Elapsed < progressDelay {
		return
	}
	width := p.width
	if width > 0 {
		width = max(width-len(p.label), 1)
	}
	line := p.label + progressText(s, width)
	if p.width > 0 && len(line) >= p.width {
		line = line[:max(p.width-1, 0)]
	}
	fmt.Fprint(p.w, "\r"+line+"\x1b[K")
	p.shown = true
}

// done erases the line, so that the report starts on a clean screen.
func (p *progressLine) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// progressText is the status line for s, its parts dropped from the least
// useful on until it fits width-1 columns (the last column is left free:
// a line that fills it makes some terminals wrap).
func progressText(s scan.Progress, width int) string {
	secs := max(s.Elapsed.Seconds(), 1e-9)
	rate := float64(s.Bytes) / secs
	read := mb(s.Bytes) + " read"
	var pct, eta string
	if s.TotalBytes > 0 && s.Bytes <= s.TotalBytes {
		read = fmt.Sprintf("%s of %s", mb(s.Bytes), mb(s.TotalBytes))
		pct = fmt.Sprintf("%.0f%%", 100*float64(s.Bytes)/float64(s.TotalBytes))
		if rate > 0 {
			eta = "ETA " + time.Duration(float64(s.TotalBytes-s.Bytes)/rate*float64(time.Second)).Round(time.Second).String()
		}
	}
	parts := []string{pct, read, fmt.Sprintf("%d packets", s.Packets), fmt.Sprintf("%.1f MB/s", rate/1e6),
		fmt.Sprintf("%.0f packets/s", float64(s.Packets)/secs), eta}
	// Dropped first to last when the line is too wide.
	order := []int{4, 3, 2, 1, 5}
	join := func() string {
		var keep []string
		for _, x := range parts {
			if x != "" {
				keep = append(keep, x)
			}
		}
		return strings.Join(keep, ", ")
	}
	line := join()
	for _, i := range order {
		if width <= 0 || len(line) < width {
			break
		}
		parts[i] = ""
		line = join()
	}
	if width > 0 && len(line) >= width {
		line = line[:max(width-1, 0)]
	}
	return line
}

func mb(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
}
