package capture

import (
	"errors"
	"io"
)

// window is a forward-only buffered reader that hands out borrowed slices of
// its buffer and knows the stream offset of every byte.
//
// The buffer starts small and grows only while bytes keep arriving, so a
// record that claims 4 GiB in a 40-byte file costs no more than the file.
//
// With a pool, the buffer is a Block that is never written twice: where
// the window would slide its unread bytes to the front, it copies them to
// a fresh block instead and drops its reference to the old one.
type window struct {
	r    io.Reader
	buf  []byte
	pool *BlockPool
	blk  *Block // the block buf belongs to, with the pool
	pos  int    // start of unread bytes in buf
	end  int    // end of valid bytes in buf
	base int64  // stream offset of buf[0]
	err  error  // sticky read error, returned once buffered bytes run out
}

const (
	// initialWindow is the buffer of a Reader from Open: 1 MiB, fewer and
	// larger reads (64 KiB measured 20-40% slower end to end). Scans read
	// through 256 KiB pooled blocks instead (scan.blockSize).
	initialWindow = 1 << 20
	maxWindow     = 1 << 25 // 32 MiB: larger than any block the readers accept
)

// errShort reports that the stream ended inside a structure.
var errShort = errors.New("unexpected end of file")

func newWindow(r io.Reader, size int, pool *BlockPool) *window {
	if pool != nil {
		b := pool.get(pool.size)
		return &window{r: r, buf: b.buf, pool: pool, blk: b}
	}
	if size <= 0 {
		size = initialWindow
	}
	return &window{r: r, buf: make([]byte, size)}
}

// release drops the window's reference to its block, if pooled. The window
// must not be read again.
func (w *window) release() {
	if w.blk != nil {
		w.blk.Release()
		w.blk, w.buf = nil, nil
		w.pos, w.end = 0, 0
	}
}

// offset is the stream offset of the next unread byte.
func (w *window) offset() int64 { return w.base + int64(w.pos) }

// buffered is the number of bytes available without reading.
func (w *window) buffered() int { return w.end - w.pos }

// fill reads until at least n bytes are buffered, or the stream ends.
// n must not exceed maxWindow.
func (w *window) fill(n int) {
	for w.end-w.pos < n && w.err == nil {
		if w.pool != nil && w.pos+n > len(w.buf) {
			// Move the unread bytes to a fresh block, twice as large
			// (at most) if they fill this one: records handed out keep
			// their bytes.
			size := len(w.buf)
			if w.end-w.pos == len(w.buf) {
				size = min(2*size, maxWindow)
			}
			nb := w.pool.get(size)
			copy(nb.buf, w.buf[w.pos:w.end])
			w.base += int64(w.pos)
			w.end -= w.pos
			w.pos = 0
			w.blk.Release()
			w.blk, w.buf = nb, nb.buf
		}
		if w.pos > 0 && w.pos+n > len(w.buf) {
			// Slide unread bytes to the front.
			copy(w.buf, w.buf[w.pos:w.end])
			w.base += int64(w.pos)
			w.end -= w.pos
			w.pos = 0
		}
		if w.end == len(w.buf) {
			// The buffer is full of unread bytes and still too small:
			// grow it, by at most a doubling, only now that bytes arrived.
			nb := make([]byte, min(2*len(w.buf), maxWindow))
			copy(nb, w.buf[:w.end])
			w.buf = nb
		}
		end := len(w.buf)
		if w.pool != nil && end > w.pool.size {
			// A buffer grown for a large record reads no further
			// than the record: left unread, the next bytes would
			// keep the large buffer alive (see Reader.Compact).
			end = min(end, w.pos+n)
		}
		m, err := w.r.Read(w.buf[w.end:end])
		w.end += m
		if err != nil {
			w.err = err
		}
	}
}

// peek returns the next n bytes without consuming them. When fewer than n
// bytes remain before the end of the stream it returns what there is and
// errShort (or the underlying read error).
func (w *window) peek(n int) ([]byte, error) {
	if n < 0 || n > maxWindow {
		return nil, errTooLarge
	}
	if w.end-w.pos < n {
		w.fill(n)
	}
	if w.end-w.pos < n {
		return w.buf[w.pos:w.end], w.shortErr()
	}
	return w.buf[w.pos : w.pos+n], nil
}

// next consumes and returns the next n bytes, borrowed until the next call.
func (w *window) next(n int) ([]byte, error) {
	b, err := w.peek(n)
	if err != nil {
		return b, err
	}
	w.pos += n
	return b, nil
}

// skip consumes n bytes without buffering them all at once.
func (w *window) skip(n int64) error {
	for n > 0 {
		if w.pos == w.end {
			w.fill(1)
			if w.pos == w.end {
				return w.shortErr()
			}
		}
		k := int64(w.end - w.pos)
		if k > n {
			k = n
		}
		w.pos += int(k)
		n -= k
	}
	return nil
}

// atEOF reports whether the stream ended cleanly with nothing left.
func (w *window) atEOF() bool {
	if w.pos < w.end {
		return false
	}
	w.fill(1)
	return w.pos == w.end && errors.Is(w.err, io.EOF)
}

func (w *window) shortErr() error {
	if w.err == nil || errors.Is(w.err, io.EOF) {
		return errShort
	}
	return w.err
}
