package report

import (
	"bytes"
	"encoding/binary"
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
//
// The document is written as it is encoded, a loop at a time, so that
// printing holds no copy of it (a million loops print gigabytes); an
// error encoding a loop (no value a scan reports causes one) leaves it
// cut there.
func JSON() Printer { return jsonPrinter{} }

func (jsonPrinter) Print(w io.Writer, r *Report) error {
	if len(r.Loops) == 0 {
		return printJSON(w, r)
	}
	// The document without its loops, then each loop on its own as the
	// encoder indents an element of "loops": the same bytes as encoding
	// the whole report at once, without holding all of it in memory (a
	// scan of a million loops prints gigabytes).
	shell := *r
	shell.Loops = nil
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&shell); err != nil {
		return err
	}
	doc := b.Bytes()
	// Strings hold no raw newline: this is the report's own field.
	const at = "\n  \"loops\": "
	k := bytes.Index(doc, []byte(at+"null"))
	if k < 0 {
		return printJSON(w, r)
	}
	head, tail := doc[:k+len(at)], doc[k+len(at)+len("null"):]
	ew := &errWriter{w: w}
	ew.Write(escapeJSON(head))
	var compact bytes.Buffer
	le := json.NewEncoder(&compact)
	var ind []byte
	sep := "[\n    "
	for i := range r.Loops {
		compact.Reset()
		if err := le.Encode(&r.Loops[i]); err != nil {
			return err
		}
		ind = indentJSON(ind[:0], bytes.TrimSuffix(compact.Bytes(), []byte("\n")), "    ", "  ")
		io.WriteString(ew, sep)
		ew.Write(escapeJSON(ind))
		sep = ",\n    "
		if ew.err != nil {
			return ew.err
		}
	}
	io.WriteString(ew, "\n  ]")
	ew.Write(escapeJSON(tail))
	return ew.err
}

// indentJSON appends src, one value as encoding/json writes it compact
// (no space outside strings), indented as json.Indent and the Encoder's
// SetIndent indent it: the same bytes, a few times faster than their
// general scanner, which a report of a million loops spent most of its
// printing time in.
func indentJSON(dst, src []byte, prefix, indent string) []byte {
	newline := func(dst []byte, depth int) []byte {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, indent...)
		}
		return dst
	}
	needIndent := false // after { or [: the first member goes on a new line, unless there is none
	depth := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if needIndent && c != '}' && c != ']' {
			needIndent = false
			depth++
			dst = newline(dst, depth)
		}
		switch c {
		case '"':
			// Copy the string whole: it may hold any punctuation.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			dst = append(dst, src[i:j]...)
			i = j - 1
		case '{', '[':
			needIndent = true
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = newline(dst, depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if needIndent {
				needIndent = false
			} else {
				depth--
				dst = newline(dst, depth)
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// printJSON encodes the whole report at once.
func printJSON(w io.Writer, r *Report) error {
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
		// Skip ASCII eight bytes at a time: almost all of a report.
		if i+8 <= len(doc) && asciiNoDEL(binary.LittleEndian.Uint64(doc[i:])) {
			i += 8
			continue
		}
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

// asciiNoDEL reports whether the eight bytes of w are all below 0x7f:
// ASCII (no high bit) with no DEL (no byte of w^0x7f...7f is zero).
func asciiNoDEL(w uint64) bool {
	const hi, lo = 0x8080808080808080, 0x0101010101010101
	v := w ^ 0x7f7f7f7f7f7f7f7f
	return w&hi == 0 && (v-lo)&^v&hi == 0
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
