package report

import (
	"strings"
	"unicode/utf8"
)

// ShellQuote quotes s as one word for bash or zsh, so that a printed
// command line means exactly what it says whatever s holds (file names
// are attacker-controlled):
//
//   - a word of only letters, digits and _ . / : @ % + = , - is left as is;
//   - a word with any character Escape would escape (control bytes,
//     invalid UTF-8, C1 controls, invisible and bidi characters) is written
//     in ANSI-C quotes, $'...', with those characters as \xHH, \uHHHH or
//     \UHHHHHHHH escapes, so the quoted word is itself safe to print on a
//     terminal and survives copy and paste;
//   - anything else goes in single quotes, a single quote as '\”.
//
// The result holds no character that Escape would change other than a
// backslash (see TerminalSafe).
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if plainWord(s) {
		return s
	}
	if firstUnsafeRune(s) == len(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	writeEscaped(&b, s, true)
	b.WriteByte('\'')
	return b.String()
}

// ShellQuoteAll quotes each word and joins them with spaces.
func ShellQuoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = ShellQuote(w)
	}
	return strings.Join(q, " ")
}

// FileOperand quotes a path given to a program as an operand: a relative
// path starting with "-" gets a leading "./", so the program cannot take
// it for an option.
func FileOperand(path string) string {
	if strings.HasPrefix(path, "-") {
		path = "./" + path
	}
	return ShellQuote(path)
}

func plainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_./:@%+=,-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// firstUnsafeRune is firstUnsafe without the backslash: the index of the
// first byte of s that is not safe on a terminal, or len(s).
func firstUnsafeRune(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r < 0xa0 || invisibleRune(r) {
			return i
		}
		i += n
	}
	return len(s)
}

// TerminalSafe reports whether s holds nothing Escape would escape but
// backslashes: text pongscan built itself from quoted or parsed parts,
// such as a command line from ShellQuote, which must be printed as is
// (doubling its backslashes would change the command).
func TerminalSafe(s string) bool { return firstUnsafeRune(s) == len(s) }

// Verbatim returns s unchanged when it is TerminalSafe, and Escape(s)
// otherwise: for commands and filters, which are printed to be copied.
func Verbatim(s string) string {
	if TerminalSafe(s) {
		return s
	}
	return Escape(s)
}
