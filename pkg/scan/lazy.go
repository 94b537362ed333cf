package scan

import (
	"errors"
	"io"
	"slices"

	"github.com/pongscan/pongscan/pkg/capture"
)

// Lazy opening: a stream of many files (10,000 rotated ones) must not hold
// them all open, nor a read window for each. Before the scan, each file
// that can be opened again (File inputs) is opened, its header and first
// record read, and closed: that gives its first time. During the scan a
// file is opened only when the merge's clock reaches its first time (or
// nothing else is left to read), and closed at its end. So only the files
// that overlap in time are open at once, and the merge yields exactly the
// order a merge of every file opened at the start would: the earliest
// record first, ties to the input listed first.

// prescan reads in's first record time (from the record's header only,
// through small blocks) and closes it again, unless it cannot be opened
// twice (a FIFO or device named as a file), which stays open. It
// reports what the input needs next.
func (in *input) prescan(s *scan, pool *capture.BlockPool) prescanned {
	in.open(s.ctx, pool)
	if in.reader == nil {
		return prescanDone
	}
	in.sizeHint = in.size()
	t, err := in.reader.PeekTime()
	if t == capture.NoTime {
		t = 0 // Next times a first custom block 0
	}
	if _, stream := in.rc.(readerSource); stream && err == nil {
		return prescanOpen
	}
	switch {
	case err == nil:
		in.firstTime, in.hasFirst = t, true
	case errors.Is(err, io.EOF):
		in.info.LinkTypes = append(in.info.LinkTypes, in.reader.LinkTypes()...)
	default:
		in.fail(err)
	}
	in.close()
	in.reader = nil
	if in.hasFirst {
		return prescanLazy
	}
	return prescanDone
}

type prescanned int

const (
	prescanDone prescanned = iota // failed or empty: nothing more to read
	prescanLazy                   // closed, to be opened at its first time
	prescanOpen                   // a stream that cannot be reopened: read it from the start
)

// lazyMerge yields the records of a stream's inputs in time order,
// opening each input when its first record is due and closing it at its
// end. Its heap holds each open input's next record time only (read from
// the record's header): an input waiting in the merge holds one small
// block, not its next record, so memory does not grow with the records'
// size times the inputs open at once.
type lazyMerge struct {
	s       *scan
	pool    *capture.BlockPool
	pending []int // inputs not opened yet, by first time (then input order)
	next    int   // pending[next] is the next to open
	live    []head
	recs    []capture.Record // each input's last record (Next reuses it)
	popped  bool             // live[0]'s record was handed out: advance it first
	onError func(int, error)
	// maxOpen is the most inputs open at once.
	maxOpen int
}

type head struct {
	in int
	t  int64 // time of the input's next record
}

func newLazyMerge(s *scan, pool *capture.BlockPool, pending []int, eager []int, onError func(int, error)) *lazyMerge {
	slices.SortStableFunc(pending, func(a, b int) int {
		ta, tb := s.ins[a].firstTime, s.ins[b].firstTime
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return a - b
	})
	m := &lazyMerge{s: s, pool: pool, pending: pending, onError: onError, recs: make([]capture.Record, len(s.ins))}
	for _, i := range eager {
		m.start(i)
	}
	return m
}

func (m *lazyMerge) less(a, b *head) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.in < b.in
}

// start opens input i (if not open) and puts it in the heap; an input
// that fails or holds nothing is closed at once.
func (m *lazyMerge) start(i int) {
	in := m.s.ins[i]
	if in.reader == nil {
		in.counter.n.Store(0) // the prescan's bytes are read again
		in.open(m.s.ctx, m.pool)
		if in.reader == nil {
			return
		}
	}
	h := head{in: i}
	if !m.peek(&h) {
		return
	}
	m.live = append(m.live, h)
	m.up(len(m.live) - 1)
	m.maxOpen = max(m.maxOpen, len(m.live))
}

// peek reads the time of h's input's next record; at its end (or an
// error) it closes the input and reports false.
func (m *lazyMerge) peek(h *head) bool {
	in := m.s.ins[h.in]
	in.reader.Compact()
	t, err := in.reader.PeekTime()
	if err == nil {
		if t == capture.NoTime {
			t = m.recs[h.in].Time // Next keeps the time of the record before
		}
		h.t = t
		return true
	}
	m.drop(h.in, err)
	return false
}

// drop closes input i at its end, reporting an error that is not the end.
func (m *lazyMerge) drop(i int, err error) {
	if !errors.Is(err, io.EOF) {
		m.onError(i, err)
	}
	m.s.ins[i].finishReader()
}

// pop removes the heap's top.
func (m *lazyMerge) pop() {
	n := len(m.live) - 1
	m.live[0] = m.live[n]
	m.live = m.live[:n]
	if n > 0 {
		m.down(0)
	}
}

// Next returns the earliest pending record, borrowed until the next call.
func (m *lazyMerge) Next(rec *capture.Record) error {
	if m.popped {
		m.popped = false
		if m.peek(&m.live[0]) {
			m.down(0)
		} else {
			m.pop()
		}
	}
	for {
		for m.next < len(m.pending) {
			i := m.pending[m.next]
			if len(m.live) > 0 {
				top := &m.live[0]
				t := m.s.ins[i].firstTime
				if t > top.t || t == top.t && i > top.in {
					break
				}
			}
			m.next++
			m.start(i)
		}
		if len(m.live) == 0 {
			return io.EOF
		}
		i := m.live[0].in
		r := &m.recs[i]
		if err := m.s.ins[i].reader.Next(r); err != nil {
			// The header was there, the record is damaged.
			m.drop(i, err)
			m.pop()
			continue
		}
		r.Source = i
		*rec = *r
		// Keep only the time (for the next custom block): not the bytes.
		r.Data, r.Block = nil, nil
		m.popped = true
		return nil
	}
}

func (m *lazyMerge) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !m.less(&m.live[j], &m.live[p]) {
			break
		}
		m.live[j], m.live[p] = m.live[p], m.live[j]
		j = p
	}
}

func (m *lazyMerge) down(j int) {
	n := len(m.live)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(&m.live[r], &m.live[l]) {
			c = r
		}
		if !m.less(&m.live[c], &m.live[j]) {
			return
		}
		m.live[j], m.live[c] = m.live[c], m.live[j]
		j = c
	}
}

// close closes every input still open (a cancelled scan).
func (m *lazyMerge) close() {
	for _, h := range m.live {
		m.s.ins[h.in].finishReader()
	}
	m.live = nil
}
