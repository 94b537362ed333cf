package capture

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// Compressed captures are recognised by magic, whatever their name, and
// decompressed on the fly. Every limit of the readers (MaxPacket, maxBlock,
// windows that grow only with bytes that arrived) applies to the
// decompressed stream, and each decompressor's own memory is bounded
// before it is created:
//
//   - gzip: klauspost/compress's inflate (faster than compress/gzip here,
//     see bench/README.md), several members read as one stream, like gzip -dc;
//     32 KiB of history.
//   - zstd: windows up to 128 MiB (zstd -dc's own default limit, which
//     covers every level and --long), one decoding goroutine; every
//     frame's window is checked by zstdGuard too, which names the
//     frame's compressed offset.
//   - lz4: the frame format (lz4 -dc); blocks are at most 4 MiB.
//   - bzip2: the standard library's; blocks are at most 900 kB.
//   - xz and bzip2 decompress twice as slowly as gzip or zstd: they run on
//     a goroutine of their own, a chunk ahead of the reader (ReadAhead),
//     so the other core walks and scans the records meanwhile.
//   - xz: LZMA2 dictionaries up to 64 MiB (xz -9's) are accepted; a
//     block header that claims more, the first or any later one, is
//     refused before the decompressor reads it (xzGuard follows the
//     blocks, chunks and index without decompressing), with its
//     compressed offset.

// Compression names a compression format.
type Compression string

// The compressions a Reader unwraps.
const (
	CompressGzip Compression = "gzip"
	CompressZstd Compression = "zstd"
	CompressLz4  Compression = "lz4"
	CompressXz   Compression = "xz"
	CompressBz2  Compression = "bzip2"
)

const (
	maxZstdWindow = 128 << 20
	maxXzDict     = 64 << 20
)

// decompressor returns the compression that head starts with, if any.
func compressionOf(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return CompressGzip
	case bytes.HasPrefix(head, magicZstd):
		return CompressZstd
	case bytes.HasPrefix(head, magicLz4):
		return CompressLz4
	case bytes.HasPrefix(head, magicXz):
		return CompressXz
	case len(head) >= 4 && bytes.HasPrefix(head, magicBzip2) && head[3] >= '1' && head[3] <= '9':
		return CompressBz2
	}
	return ""
}

// newDecompressor wraps r, which starts with c's magic. The closer, when
// not nil, releases the decompressor's resources.
func newDecompressor(c Compression, r *window) (io.Reader, io.Closer, error) {
	wr := &windowReader{r}
	switch c {
	case CompressGzip:
		zr, err := kgzip.NewReader(wr)
		if err != nil {
			return nil, nil, err
		}
		return zr, nil, nil
	case CompressZstd:
		zr, err := zstd.NewReader(newZstdGuard(wr), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, err
		}
		return zr, closerFunc(zr.Close), nil
	case CompressLz4:
		zr := lz4.NewReader(wr)
		if err := zr.Apply(lz4.ConcurrencyOption(1)); err != nil {
			return nil, nil, err
		}
		return zr, nil, nil
	case CompressBz2:
		ra := NewReadAhead(nil, bzip2.NewReader(wr), raChunks, raSize)
		return ra, ra, nil
	case CompressXz:
		if err := checkXzHeader(r); err != nil {
			return nil, nil, err
		}
		tail := &footerWatch{r: newXzGuard(wr)}
		zr, err := xz.ReaderConfig{}.NewReader(tail)
		if err != nil {
			return nil, nil, err
		}
		ra := NewReadAhead(nil, &xzChecked{r: zr, tail: tail}, raChunks, raSize)
		return ra, ra, nil
	}
	return nil, nil, fmt.Errorf("no decompressor for %q", c)
}

// A slow decompressor runs at most raChunks chunks of raSize bytes
// ahead of the scan.
const (
	raSize   = 128 << 10
	raChunks = 3
)

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// checkXzHeader reads the stream header and the first block header from
// the window without consuming them, and refuses an LZMA2 dictionary
// larger than maxXzDict before the decompressor allocates it.
func checkXzHeader(w *window) error {
	// Stream header (12 bytes), then the block header: its size byte,
	// flags, optional sizes, then the filter flags.
	h, _ := w.peek(12 + 1024 + 4)
	if len(h) < 13 {
		return nil // too short: the decompressor reports it
	}
	return checkXzBlockHeader(h[12:])
}

// checkXzBlockHeader checks one xz block header (b starts at its size
// byte): the LZMA2 filter's dictionary must not exceed maxXzDict.
func checkXzBlockHeader(b []byte) error {
	if b[0] == 0 {
		return nil // the index: no blocks
	}
	size := (int(b[0]) + 1) * 4
	if len(b) < size || size < 2 {
		return nil
	}
	b = b[1:size]
	flags := b[0]
	b = b[1:]
	filters := int(flags&3) + 1
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} {
		if present {
			_, n := binary.Uvarint(b)
			if n <= 0 {
				return nil
			}
			b = b[n:]
		}
	}
	for range filters {
		id, n := binary.Uvarint(b)
		if n <= 0 {
			return nil
		}
		b = b[n:]
		psize, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < psize {
			return nil
		}
		props := b[n : n+int(psize)]
		b = b[n+int(psize):]
		if id == 0x21 && len(props) == 1 {
			if d := xzDictSize(props[0]); d > maxXzDict {
				return fmt.Errorf("xz dictionary of %d bytes, more than the %d accepted", d, maxXzDict)
			}
		}
	}
	return nil
}

// xzDictSize decodes an LZMA2 dictionary-size byte.
func xzDictSize(p byte) uint64 {
	if p > 40 {
		return 1 << 63
	}
	if p == 40 {
		return 1<<32 - 1
	}
	return uint64(2|p&1) << (p/2 + 11)
}

// Foreign reports whether err, from Open, says the input is no capture at
// all (not a capture format, or empty), as opposed to a capture that is
// damaged or of an unsupported kind. A directory walk skips such files.
func Foreign(err error) bool {
	return errors.Is(err, ErrNotCapture) || errors.Is(err, ErrEmpty)
}

// Head returns up to n bytes from the start of r, decompressed when r is
// compressed (one layer, as Open unwraps it): enough to tell whether two
// files hold the same capture. name is used in errors only.
func Head(name string, r io.Reader, n int) ([]byte, error) {
	w := newWindow(r, 4096, nil)
	head, _ := w.peek(8)
	var src io.Reader = &windowReader{w}
	if c := compressionOf(head); c != "" {
		zr, closer, err := newDecompressor(c, w)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", name, c, err)
		}
		if closer != nil {
			defer closer.Close()
		}
		src = zr
	}
	b := make([]byte, n)
	k, err := io.ReadFull(src, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:k], err
}

// footerWatch remembers the last two non-zero bytes of an xz file, which
// end its last stream footer ("YZ"; zero bytes after it are stream
// padding).
type footerWatch struct {
	r     io.Reader
	last2 [2]byte
}

func (f *footerWatch) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	for i := n - 1; i >= 0; i-- {
		if p[i] != 0 {
			if i > 0 {
				f.last2 = [2]byte{p[i-1], p[i]}
			} else {
				f.last2 = [2]byte{f.last2[1], p[0]}
			}
			break
		}
	}
	return n, err
}

// xzChecked turns the clean end ulikunitz/xz reports for some streams cut
// short (a stream header followed by nothing, or by a byte) into the
// unexpected end xz -dc reports: a stream ends with its footer.
type xzChecked struct {
	r    io.Reader
	tail *footerWatch
}

func (x *xzChecked) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if errors.Is(err, io.EOF) && x.tail.last2 != [2]byte{'Y', 'Z'} {
		err = fmt.Errorf("xz stream ends without its footer: %w", io.ErrUnexpectedEOF)
	}
	return n, err
}
