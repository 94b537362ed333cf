package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

var (
	magicGzip   = []byte{0x1f, 0x8b}
	magicZstd   = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz     = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	magicBzip2  = []byte("BZh")
	magicSnoop  = []byte("snoop\x00\x00\x00")
	magicLz4    = []byte{0x04, 0x22, 0x4d, 0x18}
	magicPcapng = []byte{0x0a, 0x0d, 0x0d, 0x0a}
)

func (r *Reader) start() error {
	head, err := r.w.peek(8)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, errShort) {
			return r.fail(0, 0, err)
		}
		return r.fail(0, 0, ErrEmpty)
	}
	if c := compressionOf(head); c != "" {
		zr, closer, err := newDecompressor(c, r.w)
		if err != nil {
			sentinel := ErrDamaged
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				sentinel = ErrCut
			}
			return r.fail(0, 0, fmt.Errorf("%w: %s header: %v", sentinel, c, err))
		}
		r.gz, r.codec, r.dec = true, c, closer
		r.outer = r.w
		r.w = newWindow(zr, len(r.w.buf), r.pool)
		head, _ = r.w.peek(8)
		if len(head) == 0 {
			if r.w.err != nil && !errors.Is(r.w.err, io.EOF) {
				return r.fail(0, 0, r.cut("%s stream holds no data", c))
			}
			return r.fail(0, 0, ErrEmpty)
		}
		if compressionOf(head) != "" {
			return r.fail(0, 0, fmt.Errorf("%w: %s inside %s (decompress it first)", ErrUnsupported, compressionOf(head), c))
		}
	}
	switch {
	case bytes.HasPrefix(head, magicPcapng):
		r.format = FormatPcapng
		return r.startPcapng()
	case len(head) >= 4 && isPcapMagic(head[:4]):
		r.format = FormatPcap
		return r.startPcap()
	case bytes.HasPrefix(head, magicSnoop):
		return r.fail(0, 0, fmt.Errorf("%w: Solaris snoop capture (convert it: editcap -F pcap)", ErrUnsupported))
	}
	if r.gz {
		// A compressed file that does not hold a capture, or a damaged
		// capture whose decompressor gave garbage before its checksum
		// (bzip2 checks a block's CRC after writing it out): the
		// decompressor's verdict on what follows tells them apart.
		if _, err := io.CopyN(io.Discard, &windowReader{r.w}, foreignDrain); err != nil && !errors.Is(err, io.EOF) {
			return r.fail(0, 0, fmt.Errorf("%w: %s stream: %v", ErrDamaged, r.codec, err))
		}
	}
	if len(head) < 4 {
		return r.fail(0, 0, fmt.Errorf("%w: only %d bytes", ErrNotCapture, len(head)))
	}
	return r.fail(0, 0, fmt.Errorf("%w: unknown magic %x", ErrNotCapture, head[:4]))
}

// foreignDrain is how much of a compressed stream that does not start
// like a capture is decompressed to learn whether it is damaged: more
// than a bzip2 block (900 kB), whose CRC comes after its data.
const foreignDrain = 2 << 20

// windowReader lets a decompressor read through the window that sniffed the magic.
type windowReader struct{ w *window }

func (wr *windowReader) Read(p []byte) (int, error) {
	if wr.w.buffered() == 0 {
		wr.w.fill(1)
		if wr.w.buffered() == 0 {
			if wr.w.err != nil {
				return 0, wr.w.err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, wr.w.buf[wr.w.pos:wr.w.end])
	wr.w.pos += n
	return n, nil
}
