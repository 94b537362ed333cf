package capture

import (
	"errors"
	"io"
)

// Source is anything that yields records, such as a *Reader.
type Source interface {
	Next(rec *Record) error
}

// Merge yields the records of several sources as one stream in timestamp
// order, as mergecap does: at each step the source whose next record is
// earliest goes first, ties going to the source listed first. Records of one
// source keep their file order. A source that fails is reported once through
// OnError and dropped; the others go on.
type Merge struct {
	srcs    []Source
	heads   []Record
	live    []int // indexes of sources with a pending head, kept as a min-heap
	started bool
	last    int // source whose head was returned last and must be advanced
	// OnError is called with the index and error of a source that fails.
	OnError func(src int, err error)
}

// NewMerge merges srcs. Record.Source is set to the index in srcs.
func NewMerge(srcs ...Source) *Merge {
	return &Merge{srcs: srcs, heads: make([]Record, len(srcs)), last: -1}
}

func (m *Merge) less(a, b int) bool {
	ta, tb := m.heads[a].Time, m.heads[b].Time
	if ta != tb {
		return ta < tb
	}
	return a < b
}

func (m *Merge) advance(i int) bool {
	err := m.srcs[i].Next(&m.heads[i])
	if err == nil {
		m.heads[i].Source = i
		return true
	}
	if !errors.Is(err, io.EOF) && m.OnError != nil {
		m.OnError(i, err)
	}
	return false
}

// Next returns the earliest pending record, borrowed until the next call.
// It returns io.EOF when every source is exhausted or failed.
func (m *Merge) Next(rec *Record) error {
	if !m.started {
		m.started = true
		for i := range m.srcs {
			if m.advance(i) {
				m.live = append(m.live, i)
				m.up(len(m.live) - 1)
			}
		}
	} else if m.last >= 0 {
		// The record returned last is no longer borrowed: move its source on.
		if m.advance(m.last) {
			m.down(0)
		} else {
			n := len(m.live) - 1
			m.live[0] = m.live[n]
			m.live = m.live[:n]
			if n > 0 {
				m.down(0)
			}
		}
	}
	if len(m.live) == 0 {
		m.last = -1
		return io.EOF
	}
	m.last = m.live[0]
	*rec = m.heads[m.last]
	return nil
}

func (m *Merge) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !m.less(m.live[j], m.live[p]) {
			break
		}
		m.live[j], m.live[p] = m.live[p], m.live[j]
		j = p
	}
}

func (m *Merge) down(j int) {
	n := len(m.live)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(m.live[r], m.live[l]) {
			c = r
		}
		if !m.less(m.live[c], m.live[j]) {
			return
		}
		m.live[j], m.live[c] = m.live[c], m.live[j]
		j = c
	}
}
