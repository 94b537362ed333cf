package capture

// Prefetch reads a source on its own goroutine and hands its records over
// in batches, so reading and decompressing run beside decoding on a second
// core. The records, their order and the final error are exactly those of
// the source.
//
// Each record's bytes are copied once into a batch buffer; the caller's
// borrowed Data stays valid until its next call to Next, as with any
// Source.
type Prefetch struct {
	full chan *batch
	free chan *batch
	cur  *batch
	i    int
}

type batch struct {
	recs []Record
	buf  []byte
	err  error // set on the last batch: io.EOF or the source's error
}

const (
	batchBytes   = 1 << 20
	batchRecords = 4096
	batchCount   = 4
)

// NewPrefetch starts reading src in a goroutine that ends at src's first
// error (io.EOF included). The caller must read to that error, or the
// goroutine waits forever.
func NewPrefetch(src Source) *Prefetch {
	p := &Prefetch{full: make(chan *batch, batchCount), free: make(chan *batch, batchCount)}
	for range batchCount {
		p.free <- &batch{recs: make([]Record, 0, batchRecords), buf: make([]byte, 0, batchBytes+MaxPacket)}
	}
	go p.run(src)
	return p
}

func (p *Prefetch) run(src Source) {
	var rec Record
	for {
		b := <-p.free
		b.recs, b.buf, b.err = b.recs[:0], b.buf[:0], nil
		for len(b.recs) < batchRecords && len(b.buf) < batchBytes {
			if err := src.Next(&rec); err != nil {
				b.err = err
				break
			}
			// Data is at most MaxPacket bytes and buf has that much
			// headroom past batchBytes, so the append never moves buf
			// and earlier records' Data stay valid.
			start := len(b.buf)
			b.buf = append(b.buf, rec.Data...)
			rec.Data = b.buf[start:len(b.buf):len(b.buf)]
			b.recs = append(b.recs, rec)
		}
		p.full <- b
		if b.err != nil {
			return
		}
	}
}

// Next implements Source.
func (p *Prefetch) Next(rec *Record) error {
	for p.cur == nil || p.i == len(p.cur.recs) {
		if p.cur != nil {
			if p.cur.err != nil {
				return p.cur.err
			}
			p.free <- p.cur
		}
		p.cur, p.i = <-p.full, 0
	}
	*rec = p.cur.recs[p.i]
	p.i++
	return nil
}
