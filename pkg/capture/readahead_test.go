package capture

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadAheadKeepsBytesAndError(t *testing.T) {
	want := make([]byte, 1<<20+17)
	for i := range want {
		want[i] = byte(i * 7)
	}
	boom := errors.New("boom")
	src := io.MultiReader(iotest.HalfReader(bytes.NewReader(want)), iotest.ErrReader(boom))
	a := NewReadAhead(nil, src, 3, 4096)
	defer a.Close()
	got, err := io.ReadAll(a)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the source's error", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d identical ones", len(got), len(want))
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, boom) {
		t.Fatalf("after the end, err = %v, want the same error again", err)
	}
}

// blocked never returns from Read until released: a pipe with nothing to
// say.
type blocked struct{ release chan struct{} }

func (b blocked) Read(p []byte) (int, error) { <-b.release; return 0, io.EOF }

func TestReadAheadCancelWhileBlocked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := blocked{make(chan struct{})}
	defer close(src.release)
	a := NewReadAhead(ctx, src, 2, 64)
	errc := make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 10)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read stayed blocked after the cancel")
	}
}

// counting counts reads and never ends.
type counting struct{ n atomic.Int64 }

func (c *counting) Read(p []byte) (int, error) { c.n.Add(1); return len(p), nil }

func TestReadAheadCloseStopsReading(t *testing.T) {
	src := &counting{}
	a := NewReadAhead(nil, src, 3, 16)
	if _, err := io.ReadFull(a, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	n := src.n.Load()
	time.Sleep(20 * time.Millisecond)
	if m := src.n.Load(); m != n {
		t.Fatalf("the source was read %d more times after Close returned", m-n)
	}
	a.Close() // twice is fine
}
