package report

import (
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// Text layout for the table printer: tables that fit a terminal's width
// (box drawing, cells wrapped), tab-separated rows when the output is not
// a terminal, and paragraphs and commands wrapped to the width.

// TableOptions say where the table printer writes.
type TableOptions struct {
	// Width is the terminal's width in columns; 0 means no limit (the
	// layout of a wide terminal, nothing wrapped).
	Width int
	// Plain prints tables as tab-separated rows under a header row, with
	// no box drawing and nothing wrapped, as gh does when its output is
	// not a terminal: for files, pagers and grep.
	Plain bool
}

// CompactBelow is the width under which the loop table drops its payload
// column and stacks the endpoints and the start time into two lines.
const CompactBelow = 120

// displayWidth is the number of terminal columns s takes.
func displayWidth(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return twwidth.Width(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// grid is a table of already escaped cells; a cell may hold several
// lines, separated by "\n".
type grid struct {
	header []string
	rows   [][]string
	// gen, when set, makes the rows instead of rows: gen(i) for i below
	// n, made again on each pass (the row it returns may be reused).
	gen func(i int) []string
	n   int
	// right aligns a column's cells to the right (numbers).
	right []bool
	// shrink marks the columns that may be narrowed, their cells wrapped,
	// to fit a width; the others keep their natural width.
	shrink []bool
}

// each calls fn with every row, in order.
func (g *grid) each(fn func(row []string)) {
	if g.gen == nil {
		for _, r := range g.rows {
			fn(r)
		}
		return
	}
	for i := range g.n {
		fn(g.gen(i))
	}
}

// render writes the grid as a box table no wider than width (0: any
// width), wrapping cells where needed. It reports false, writing
// nothing, when even the narrowest layout would not fit.
func (g *grid) render(w *errWriter, width int) bool {
	n := len(g.header)
	natural := make([]int, n) // widest line of each column
	least := make([]int, n)   // narrowest a column may get
	measure := func(row []string) {
		for c, cell := range row {
			for _, ln := range strings.Split(cell, "\n") {
				natural[c] = max(natural[c], displayWidth(ln))
				if c < len(g.shrink) && g.shrink[c] {
					least[c] = max(least[c], min(displayWidth(longestWord(ln)), 12))
				} else {
					least[c] = natural[c]
				}
			}
		}
	}
	measure(g.header)
	g.each(measure)
	widths := append([]int(nil), natural...)
	frame := 3*n + 1 // "│ " before each cell, " │" after the last
	if width > 0 {
		over := sum(widths) + frame - width
		for over > 0 {
			// Shrink the widest column that can still give.
			k := -1
			for c := range widths {
				if widths[c] > least[c] && (k < 0 || widths[c] > widths[k]) {
					k = c
				}
			}
			if k < 0 {
				return false
			}
			give := min(over, widths[k]-least[k])
			// Give one column at a time, so wide columns shrink evenly.
			second := 0
			for c := range widths {
				if c != k && widths[c] > second {
					second = widths[c]
				}
			}
			if widths[k]-second > 0 && widths[k]-second < give {
				give = widths[k] - second
			}
			widths[k] -= max(give, 1)
			over -= max(give, 1)
		}
	}
	line := func(l, m, r string) {
		w.printf("%s", l)
		for c := range widths {
			w.printf("%s", strings.Repeat("─", widths[c]+2))
			if c < n-1 {
				w.printf("%s", m)
			}
		}
		w.printf("%s\n", r)
	}
	row := func(cells []string, header bool) {
		wrapped := make([][]string, n)
		height := 1
		for c := range cells {
			for _, ln := range strings.Split(cells[c], "\n") {
				wrapped[c] = append(wrapped[c], wrapLine(ln, widths[c])...)
			}
			height = max(height, len(wrapped[c]))
		}
		for i := range height {
			w.printf("│")
			for c := range cells {
				s := ""
				if i < len(wrapped[c]) {
					s = wrapped[c][i]
				}
				pad := widths[c] - displayWidth(s)
				switch {
				case header:
					left := pad / 2
					w.printf(" %s%s%s │", strings.Repeat(" ", left), s, strings.Repeat(" ", pad-left))
				case c < len(g.right) && g.right[c]:
					w.printf(" %s%s │", strings.Repeat(" ", pad), s)
				default:
					w.printf(" %s%s │", s, strings.Repeat(" ", pad))
				}
			}
			w.printf("\n")
		}
	}
	line("┌", "┬", "┐")
	row(g.header, true)
	line("├", "┼", "┤")
	g.each(func(r []string) { row(r, false) })
	line("└", "┴", "┘")
	return true
}

// renderPlain writes the grid as tab-separated rows, a cell's lines
// joined by a space.
func (g *grid) renderPlain(w *errWriter) {
	var cells []string
	plain := func(r []string) {
		cells = cells[:0]
		for _, c := range r {
			cells = append(cells, strings.ReplaceAll(c, "\n", " "))
		}
		w.printf("%s\n", strings.Join(cells, "\t"))
	}
	plain(g.header)
	g.each(plain)
}

func sum(v []int) int {
	t := 0
	for _, x := range v {
		t += x
	}
	return t
}

func longestWord(s string) string {
	best := ""
	for _, f := range strings.Fields(s) {
		if len(f) > len(best) {
			best = f
		}
	}
	return best
}

// wrapLine breaks s into lines of at most width columns, at spaces where
// it can and inside a word where it must. width <= 0 means no limit.
func wrapLine(s string, width int) []string {
	if width <= 0 || displayWidth(s) <= width {
		return []string{s}
	}
	var out []string
	var cur strings.Builder
	curW := 0
	flush := func() {
		out = append(out, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		curW = 0
	}
	for _, word := range strings.SplitAfter(s, " ") {
		ww := displayWidth(strings.TrimRight(word, " "))
		if curW > 0 && curW+ww > width {
			flush()
		}
		for ww > width { // a word longer than a line: cut it
			head, rest := cutWidth(word, width-curW)
			cur.WriteString(head)
			flush()
			word = rest
			ww = displayWidth(strings.TrimRight(word, " "))
		}
		cur.WriteString(word)
		curW += displayWidth(word)
	}
	if cur.Len() > 0 || len(out) == 0 {
		flush()
	}
	return out
}

// cutWidth splits s after at most width columns (at least one rune).
func cutWidth(s string, width int) (string, string) {
	w := 0
	for i, r := range s {
		rw := displayWidth(string(r))
		if w+rw > width && i > 0 {
			return s[:i], s[i:]
		}
		w += rw
	}
	return s, ""
}

// para writes text wrapped to width, the first line after indent, the
// others after hang (both strings of spaces).
func (w *errWriter) para(width int, indent, hang, text string) {
	if width <= 0 || len(indent)+displayWidth(text) <= width {
		w.printf("%s%s\n", indent, text)
		return
	}
	first := wrapLine(text, max(width-len(indent), 8))[0]
	w.printf("%s%s\n", indent, first)
	if rest := strings.TrimLeft(text[len(first):], " "); rest != "" {
		for _, l := range wrapLine(rest, max(width-len(hang), 8)) {
			w.printf("%s%s\n", hang, l)
		}
	}
}

// command writes a shell command line no wider than width: it breaks
// between words with " \" continuations, and inside the last word of a
// tshark or tcpdump command (its filter, single-quoted, where newlines
// are spaces to Wireshark and libpcap) at its spaces: the word after -Y,
// or the last word of a tcpdump command. A word that still
// does not fit is cut and continued at the start of the next line as
// '...'\ + newline + '...', which the shell joins back.
func (w *errWriter) command(width int, indent, cmd string) {
	if width <= 0 || len(indent)+displayWidth(cmd) <= width {
		w.printf("%s%s\n", indent, cmd)
		return
	}
	words := shellWords(cmd)
	hang := indent + "    "
	n := len(words)
	filterLast := n > 1 && strings.HasPrefix(words[n-1], "'") && (words[n-2] == "-Y" || words[0] == "tcpdump")
	cur, curW, empty := indent, len(indent), true
	for i, word := range words {
		last := i == len(words)-1
		sep := " "
		if empty {
			sep = ""
		}
		cont := 2 // room for " \"
		if last {
			cont = 0
		}
		need := displayWidth(word)
		if !empty && curW+len(sep)+need+cont > width {
			w.printf("%s \\\n", cur)
			cur, curW, empty, sep = hang, len(hang), true, ""
		}
		if curW+len(sep)+need+cont <= width {
			cur += sep + word
			curW += len(sep) + need
			empty = false
			continue
		}
		if last && filterLast {
			// Break the filter at its spaces, inside its quotes.
			parts := wrapLine(word, max(width-curW-len(sep), 16))
			w.printf("%s%s%s\n", cur, sep, parts[0])
			rest := strings.TrimPrefix(strings.TrimPrefix(word, parts[0]), " ")
			for _, l := range wrapLine(rest, max(width-len(hang)-2, 16)) {
				w.printf("%s  %s\n", hang, l)
			}
			return
		}
		// Cut the word into quoted pieces that the shell joins again: a
		// backslash-newline outside quotes is removed, so each piece after
		// the first starts at column 0.
		for {
			head, rest := cutQuoted(word, max(width-curW-len(sep)-1, 8))
			if rest == "" {
				cur += sep + head
				curW += len(sep) + displayWidth(head)
				break
			}
			w.printf("%s%s%s\\\n", cur, sep, head)
			cur, curW, sep, word = "", 0, "", rest
		}
		empty = false
	}
	w.printf("%s\n", cur)
}

// cutQuoted cuts a quoted word after about n columns into a head closed
// with its quote and a rest reopened with it: 'abcdef' -> 'abc' 'def'.
// A plain word is cut as is.
func cutQuoted(word string, n int) (string, string) {
	if displayWidth(word) <= n {
		return word, ""
	}
	open, close := "", ""
	switch {
	case strings.HasPrefix(word, "$'"):
		open, close = "$'", "'"
	case strings.HasPrefix(word, "'"):
		open, close = "'", "'"
	}
	body := strings.TrimSuffix(strings.TrimPrefix(word, open), close)
	cut := max(n-len(open)-len(close), 1)
	head, rest := cutWidth(body, cut)
	if open == "$'" {
		// Never split an escape sequence: back up to before a backslash
		// run that starts one.
		for k := max(len(head)-10, 0); k < len(head); k++ {
			if head[k] == '\\' {
				head, rest = head[:k], head[k:]+rest
				break
			}
		}
		if head == "" {
			return word, ""
		}
	}
	return open + head + close, open + rest + close
}

// shellWords splits a command line printed by pongscan into its words,
// keeping quotes: spaces inside '...' or $'...' do not split.
func shellWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	inQ, ansi := false, false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case inQ && ansi && c == '\\' && i+1 < len(cmd):
			cur.WriteByte(c)
			i++
			cur.WriteByte(cmd[i])
			continue
		case inQ && c == '\'':
			inQ = false
		case !inQ && c == '\'':
			inQ, ansi = true, i > 0 && cmd[i-1] == '$'
		case !inQ && c == '\\' && i+1 < len(cmd):
			cur.WriteByte(c)
			i++
			cur.WriteByte(cmd[i])
			continue
		case !inQ && c == ' ':
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteByte(c)
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}
