package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/report"
)

// Input is one capture to scan.
type Input struct {
	// Name names the input in the report and in errors: its path, or "-"
	// for standard input.
	Name string
	// Open opens the input. The scan calls it once, reads what it returns
	// to its end through that one handle, and closes it. (Inputs made by
	// File are opened twice in streams of several inputs: once to read
	// their first record's time, once to read them.)
	Open func() (io.ReadCloser, error)

	// reopen: Open may be called again and reads the same bytes (a
	// file), so the input can be opened lazily.
	reopen bool
}

// File is the capture at path. A regular file is read through one handle
// by position, up to the size it had when opened: bytes appended during
// the scan are not read, and a file truncated during the scan ends in an
// error that says so.
func File(path string) Input {
	return Input{Name: path, Open: func() (io.ReadCloser, error) { return openFile(path) }, reopen: true}
}

// Reader is the capture read from r, such as standard input. The scan does
// not close r. Reads from r that block (a pipe with nothing to say) do not
// hold up cancelling the scan.
func Reader(name string, r io.Reader) Input {
	return Input{Name: name, Open: func() (io.ReadCloser, error) { return readerSource{r}, nil }}
}

// Rereadable reports whether the input can be read a second time and
// gives the same bytes: a File input naming a regular file. Standard
// input, a caller's reader, a FIFO or a device cannot: what they said
// is gone.
func (in Input) Rereadable() bool {
	if !in.reopen {
		return false
	}
	st, err := os.Stat(in.Name)
	return err == nil && st.Mode().IsRegular()
}

// Files are the captures at paths, "-" meaning stdin.
func Files(stdin io.Reader, paths ...string) []Input {
	ins := make([]Input, len(paths))
	for i, p := range paths {
		if p == "-" {
			ins[i] = Reader(p, stdin)
		} else {
			ins[i] = File(p)
		}
	}
	return ins
}

// readerSource marks a reader that may block: it is read on a goroutine
// of its own so that cancelling the scan is never stuck in a read.
type readerSource struct{ io.Reader }

func (readerSource) Close() error { return nil }

// fileSource reads a regular file by position (pread) through one handle,
// limited to its size at open. Other files (a FIFO, a device) are read as
// a stream.
type fileSource struct {
	f    *os.File
	path string
	r    io.Reader
	size int64 // -1: not a regular file
}

func openFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, unwrapPathError(err)
	}
	if st.IsDir() {
		f.Close()
		return nil, errors.New("is a directory")
	}
	fs := &fileSource{f: f, path: path, r: f, size: -1}
	if st.Mode().IsRegular() {
		fs.size = st.Size()
		fs.r = io.NewSectionReader(f, 0, fs.size)
		return fs, nil
	}
	return readerSource{fs}, nil // a FIFO or device may block
}

func (s *fileSource) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *fileSource) Close() error               { return s.f.Close() }

// Size is the size of a regular file when it was opened, -1 otherwise.
func (s *fileSource) Size() int64 { return s.size }

// changed says how the file changed since it was opened, if it shrank:
// the reason a read ran out of bytes.
func (s *fileSource) changed() string {
	if s.size < 0 {
		return ""
	}
	st, err := s.f.Stat()
	switch {
	case err != nil:
		return ""
	case st.Size() < s.size:
		return fmt.Sprintf("the file shrank from %d to %d bytes while it was read (truncated or rotated?)", s.size, st.Size())
	}
	return ""
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// input is one input during a scan.
type input struct {
	Input
	rc      io.ReadCloser
	counter countingReader
	reader  *capture.Reader
	info    report.Input
	frames  uint64 // frame number of the last record handed on
	first   int64
	last    int64
	seen    bool
	err     error

	// lazy opening (lazy.go)
	sizeHint  int64 // size at the prescan
	firstTime int64 // time of the first record, read by the prescan
	hasFirst  bool
}

// open opens the input and its capture reader. A failure is kept in
// in.err and in the report.
func (in *input) open(ctx context.Context, pool *capture.BlockPool) {
	in.info = report.Input{Path: in.Name, LinkTypes: []uint32{}}
	rc, err := openCtx(ctx, in.Input)
	if errors.Is(err, errOpenCancelled) {
		return // interrupted while waiting for the input: not a damaged one
	}
	if err != nil {
		in.fail(fmt.Errorf("%s: %w", in.Name, err))
		return
	}
	in.rc = rc
	var r io.Reader = rc
	if rs, ok := rc.(readerSource); ok {
		// Read on a goroutine of its own, so that a read blocked on
		// a pipe does not keep the scan from noticing a cancel. It
		// is never closed: after a cancel its goroutine may be
		// blocked in the pipe's Read.
		r = capture.NewReadAhead(ctx, rs.Reader, 3, 64<<10)
	}
	in.counter.r = r
	cr, err := capture.OpenPooled(in.Name, &in.counter, pool)
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return // interrupted while reading the header: not a damaged input
		}
		in.fail(err)
		return
	}
	in.reader = cr
	in.info.Format = string(cr.Format())
	in.info.Gzip = cr.Gzip()
	in.info.Compression = string(cr.Compression())
}

// size is the input's size in bytes when known (a regular file), else 0.
func (in *input) size() int64 {
	if s, ok := in.rc.(interface{ Size() int64 }); ok && s.Size() > 0 {
		return s.Size()
	}
	return 0
}

var errOpenCancelled = errors.New("cancelled while opening")

// openCtx opens in. An open that may wait (a FIFO with no writer yet: the
// kernel holds the open until one comes, and Go restarts it after a
// signal) runs on a goroutine of its own, so that cancelling the scan is
// not stuck behind it; the goroutine then closes what it opens, if ever.
// Regular files open inline.
func openCtx(ctx context.Context, in Input) (io.ReadCloser, error) {
	if st, err := os.Stat(in.Name); err != nil || st.Mode().IsRegular() || in.Name == "-" {
		return in.Open()
	}
	type opened struct {
		rc  io.ReadCloser
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		rc, err := in.Open()
		ch <- opened{rc, err}
	}()
	select {
	case o := <-ch:
		return o.rc, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.rc != nil {
				o.rc.Close()
			}
		}()
		return nil, errOpenCancelled
	}
}

// changer is an input that can say how it changed while it was read.
type changer interface{ changed() string }

func (in *input) fail(err error) {
	if c, ok := in.rc.(changer); ok && errors.Is(err, capture.ErrCut) {
		if why := c.changed(); why != "" {
			err = &changedError{err: err, why: why}
		}
	}
	in.err = err
	in.info.Error = report.ValidUTF8(err.Error())
}

// finishReader keeps what the report needs of the input's reader, then
// closes it: the input was read to its end.
func (in *input) finishReader() {
	if in.reader == nil {
		return
	}
	in.info.LinkTypes = append(in.info.LinkTypes, in.reader.LinkTypes()...)
	in.close()
	in.reader = nil
}

// close releases the input's reader and file.
func (in *input) close() {
	if in.reader != nil {
		in.reader.Release()
	}
	if in.rc != nil {
		in.rc.Close()
		in.rc = nil
	}
}

// finish fills the report's view of the input.
func (in *input) finish() report.Input {
	in.info.Packets = in.frames
	if in.reader != nil {
		in.info.LinkTypes = append(in.info.LinkTypes, in.reader.LinkTypes()...)
	}
	if in.seen {
		in.info.First = report.Timestamp(in.first)
		in.info.Last = report.Timestamp(in.last)
	}
	return in.info
}

// changedError is a read error explained by the file changing under the
// scan.
type changedError struct {
	err error
	why string
}

func (e *changedError) Error() string { return e.err.Error() + " (" + e.why + ")" }
func (e *changedError) Unwrap() error { return e.err }

// countingReader counts bytes read; the progress reporter reads the count.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
