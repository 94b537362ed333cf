package report

import (
	"bytes"
	"encoding/json"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

type jsonPrinter struct{}

var _ Printer = jsonPrinter{}

// JSON prints the report as one indented JSON document.
//
// encoding/json escapes the C0 controls, U+2028 and U+2029, and replaces
// invalid UTF-8 with U+FFFD, but writes DEL, the C1 controls and the
// format characters raw. Some terminals act on a UTF-8 encoded C1 CSI
// (U+009B) as on ESC [, and bidi overrides and zero-width characters
// disguise strings in a pager. So the printer writes those runes, the
// ones Escape would escape, as \uXXXX escapes (a surrogate pair above
// U+FFFF): `cat report.json` is as safe as the table, and a JSON decoder
// reads back exactly the same strings. Such runes occur only inside
// strings, since the document's syntax is ASCII.
func JSON() Printer { return jsonPrinter{} }

func (jsonPrinter) Print(w io.Writer, r *Report) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(b.Bytes()))
	return err
}

// escapeJSON rewrites DEL, C1 controls and invisible runes in a JSON
// document produced by encoding/json as \u escapes. It returns doc itself
// when there is nothing to rewrite.
func escapeJSON(doc []byte) []byte {
	var out []byte
	last := 0 // doc[last:i] is not yet copied to out
	for i := 0; i < len(doc); {
		if doc[i] < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRune(doc[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			// encoding/json never writes invalid UTF-8; if it
			// did, U+FFFD keeps the document valid.
		case r < 0xa0, invisibleRune(r):
		default:
			i += n
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(doc)+64)
		}
		out = append(out, doc[last:i]...)
		out = appendJSONEscape(out, r)
		i += n
		last = i
	}
	if out == nil {
		return doc
	}
	return append(out, doc[last:]...)
}

// appendJSONEscape appends r as \uXXXX, or as a UTF-16 surrogate pair of
// them above U+FFFF.
func appendJSONEscape(b []byte, r rune) []byte {
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
		b = appendJSONEscape(b, r1)
		return appendJSONEscape(b, r2)
	}
	b = append(b, '\\', 'u')
	for sh := 12; sh >= 0; sh -= 4 {
		b = append(b, hexDigits[(r>>sh)&15])
	}
	return b
}
