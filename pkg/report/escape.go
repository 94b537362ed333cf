package report

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Escape makes s safe to print on a terminal or to put in a CSV cell.
//
//   - Control bytes (C0, DEL), C1 code points and invalid UTF-8 are written
//     byte by byte as \xHH, so a crafted payload cannot move the cursor,
//     retitle the terminal or hide lines.
//   - Runes that render as nothing or reorder the text around them are
//     written as \uXXXX (\UXXXXXXXX above U+FFFF); see invisibleRune.
//   - A backslash is doubled, so the escapes cannot be forged.
//
// Everything else, accented letters, CJK and emoji included, is kept as
// is. A string with nothing to escape is returned without allocating.
func Escape(s string) string {
	i := firstUnsafe(s)
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	writeEscaped(&b, s[i:], false)
	return b.String()
}

// writeEscaped writes s to b with Escape's escapes; quote also escapes a
// single quote as \' (for ShellQuote's ANSI-C quotes).
func writeEscaped(b *strings.Builder, s string, quote bool) {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c < 0x20 || c == 0x7f:
				writeHexByte(b, c)
			case c == '\\' || quote && c == '\'':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0xa0:
			// Invalid UTF-8, or a C1 control (U+0080..U+009F):
			// show the bytes, as tshark does.
			for k := i; k < i+n; k++ {
				writeHexByte(b, s[k])
			}
		case invisibleRune(r):
			writeRuneEscape(b, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
}

// firstUnsafe returns the index of the first byte of s that Escape would
// change, or len(s).
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' {
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

// invisibleRune reports whether r, a valid rune from U+00A0 up, renders as
// nothing or changes how the text around it is shown, so that printing it
// raw could hide or disguise part of a string:
//
//   - every format character (category Cf): soft hyphen U+00AD, Arabic
//     letter mark U+061C, U+180E, zero-width space, joiners and marks
//     U+200B..U+200F, bidi embeddings and overrides U+202A..U+202E, word
//     joiner and invisible operators U+2060..U+2064, bidi isolates
//     U+2066..U+2069, U+206A..U+206F, the BOM U+FEFF, interlinear
//     annotation U+FFF9..U+FFFB, tags U+E0001 and U+E0020..U+E007F, ...;
//   - the other default-ignorable code points (combining grapheme joiner
//     U+034F, Hangul fillers, U+FFF0..U+FFF8, ...), but not the variation
//     selectors, which emoji and CJK text need;
//   - the line and paragraph separators U+2028 and U+2029.
//
// Note that the zero-width joiner U+200D is escaped too, so an emoji ZWJ
// sequence shows as its parts joined by \u200d.
func invisibleRune(r rune) bool {
	switch {
	case r < 0xad:
		return false
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

func writeHexByte(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&15])
}

// writeRuneEscape writes r as \uXXXX, or \UXXXXXXXX above the BMP.
func writeRuneEscape(b *strings.Builder, r rune) {
	digits := 4
	if r > 0xffff {
		b.WriteString(`\U`)
		digits = 8
	} else {
		b.WriteString(`\u`)
	}
	for sh := 4 * (digits - 1); sh >= 0; sh -= 4 {
		b.WriteByte(hexDigits[(r>>sh)&15])
	}
}
