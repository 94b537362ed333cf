package report

import (
	"fmt"
	"strings"
)

// followUpCells are a loop's next steps as CSV cells, in CSVHeader's
// order. Commands and filters are built from parsed values and quoted
// file names: they are written verbatim (Escape would double their
// backslashes and change them), unless they hold something unsafe to
// print, and CSVSafe still guards against formulas.
func followUpCells(l *Loop) []string {
	cells := make([]string, 9)
	if ws := l.Wireshark; ws != nil {
		cells[0], cells[1], cells[2] = ws.DisplayFilter, ws.Tshark, ws.Editcap
		if ws.DecodeAs != nil {
			cells[3] = ws.DecodeAs.Option
		}
	}
	if m := l.Mitigation; m != nil {
		cells[4], cells[5], cells[6] = m.Nft, m.Iptables, m.BPF
	}
	if r := l.RRL; r != nil {
		cells[7] = r.Note
		var parts []string
		for _, s := range r.Scenarios {
			parts = append(parts, fmt.Sprintf("%s %s: %s", s.Implementation, s.Setting, s.Verdict))
		}
		if len(parts) > 0 {
			if r.Note != "" {
				parts = append([]string{r.Note}, parts...)
			}
			cells[7] = strings.Join(parts, "; ")
		}
	}
	if x := l.Extract; x != nil {
		cells[8] = x.File
	}
	for i := range cells {
		if i == 7 {
			cells[i] = CSVSafe(Escape(cells[i]))
		} else {
			cells[i] = CSVSafe(Verbatim(cells[i]))
		}
	}
	return cells
}
