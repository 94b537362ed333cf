package capture

import (
	"context"
	"io"
)

// ReadAhead reads r on a goroutine of its own, at most a few chunks ahead
// of its reader. It serves two needs:
//
//   - a slow decompressor (bzip2, xz) runs beside the scan instead of in
//     front of it;
//   - a read that blocks (a pipe with nothing to say) does not keep the
//     scan from noticing that ctx ended: Read returns ctx's error instead.
//
// Close stops the goroutine and waits for it, so that r is not read after
// Close returns: call it only where r's Read cannot block for ever. A
// ReadAhead over a pipe is not closed after a cancel; its goroutine stays
// blocked in r's Read, holding one chunk, until the pipe says something
// or the process ends.
type ReadAhead struct {
	ctx    context.Context
	ch     chan raChunk
	free   chan []byte
	done   chan struct{}
	exited chan struct{}
	cur    raChunk
	off    int
	sticky error
	closed bool
}

type raChunk struct {
	b   []byte
	err error
}

// NewReadAhead starts reading r in chunks of size bytes, at most chunks of
// them ahead. A nil ctx never ends.
func NewReadAhead(ctx context.Context, r io.Reader, chunks, size int) *ReadAhead {
	if ctx == nil {
		ctx = context.Background()
	}
	chunks, size = max(chunks, 1), max(size, 1)
	a := &ReadAhead{ctx: ctx, ch: make(chan raChunk, chunks), free: make(chan []byte, chunks),
		done: make(chan struct{}), exited: make(chan struct{})}
	for range chunks {
		a.free <- make([]byte, size)
	}
	go func() {
		defer close(a.exited)
		for {
			var b []byte
			select {
			case b = <-a.free:
			case <-a.done:
				return
			case <-ctx.Done():
				return
			}
			n, err := r.Read(b)
			select {
			case a.ch <- raChunk{b[:n], err}:
			case <-a.done:
				return
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return a
}

// Read returns the next bytes read ahead, r's error after them, or ctx's
// error once ctx has ended.
func (a *ReadAhead) Read(p []byte) (int, error) {
	for a.off == len(a.cur.b) {
		if a.sticky != nil {
			return 0, a.sticky
		}
		if a.cur.b != nil {
			a.free <- a.cur.b[:cap(a.cur.b)]
			a.cur.b = nil
		}
		if a.cur.err != nil {
			a.sticky = a.cur.err
			return 0, a.sticky
		}
		select {
		case c := <-a.ch:
			a.cur, a.off = c, 0
			if len(c.b) == 0 && c.err == nil {
				a.free <- c.b[:cap(c.b)]
				a.cur.b = nil
			}
		case <-a.ctx.Done():
			a.sticky = a.ctx.Err()
			return 0, a.sticky
		}
	}
	n := copy(p, a.cur.b[a.off:])
	a.off += n
	return n, nil
}

// Close stops the goroutine and waits for it.
func (a *ReadAhead) Close() error {
	if !a.closed {
		a.closed = true
		close(a.done)
		<-a.exited
	}
	return nil
}
