package capture

import (
	"io"
	"math"
)

// NoTime is what PeekTime gives for a record that Next times with the
// time of the record before it (a pcapng custom block or systemd journal
// entry: Next leaves Record.Time as it was).
const NoTime = math.MinInt64

// PeekTime returns the time of the record the next call to Next returns,
// reading no more of the stream than the record's header: the first
// record of a file that will be read later costs its header, not its
// bytes. Section and interface blocks before it are read (Next then goes
// on after them). A simple packet block, which has no time, gives 0 as
// Next does; a custom block gives NoTime. At the end of the stream it returns
// io.EOF; errors are those Next would return, and stay.
func (r *Reader) PeekTime() (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.format == FormatPcap {
		if r.w.atEOF() {
			return 0, io.EOF
		}
		h, err := r.w.peek(r.recHdr)
		if err != nil {
			// Let Next describe the damage.
			return 0, r.Next(&Record{})
		}
		ns := int64(r.order.Uint32(h[4:8]))
		if !r.nano {
			ns *= 1000
		}
		return int64(r.order.Uint32(h[0:4]))*1e9 + ns, nil
	}
	for {
		off := r.w.offset()
		frame := r.frame + 1
		if r.w.atEOF() {
			return 0, io.EOF
		}
		h, err := r.w.peek(8)
		if err != nil {
			return 0, r.fail(frame, off, r.cut("block header is %d of 8 bytes", len(h)))
		}
		switch typ := r.order.Uint32(h[0:4]); typ {
		case blockSHB:
			if err := r.readSHB(frame); err != nil {
				return 0, err
			}
		case blockIDB:
			if err := r.readIDB(frame, off); err != nil {
				return 0, err
			}
		case blockEPB, blockPB:
			b, err := r.w.peek(8 + 12)
			if err != nil {
				return 0, nil // Next says what is wrong
			}
			idx := r.order.Uint32(b[8:12])
			if typ == blockPB {
				idx = uint32(r.order.Uint16(b[8:10]))
			}
			if int(idx) >= len(r.ifaces) {
				return 0, nil
			}
			ts := uint64(r.order.Uint32(b[12:16]))<<32 | uint64(r.order.Uint32(b[16:20]))
			return r.ifaces[idx].nanos(ts), nil
		case blockSPB:
			return 0, nil
		case blockCB, blockCBN, blockSJE:
			return NoTime, nil
		default:
			total := r.order.Uint32(h[4:8])
			if err := r.checkBlockLen(total); err != nil {
				return 0, r.fail(frame, off, err)
			}
			if err := r.w.skip(int64(total)); err != nil {
				return 0, r.fail(frame, off, r.cut("block of %d bytes cut short", total))
			}
		}
	}
}

// Compact lets go of a read buffer grown beyond the pool's block size for
// a large record, once what is left unread fits a block of the pool: an
// input that waits in a merge then holds one block, not the largest
// record it met. Records already returned stay valid (their block is not
// reused: only pool-sized blocks are). Readers without a pool are left
// alone.
func (r *Reader) Compact() {
	w := r.w
	if w.pool == nil || w.blk == nil || len(w.buf) <= w.pool.size || w.end-w.pos > w.pool.size {
		return
	}
	nb := w.pool.get(w.pool.size)
	copy(nb.buf, w.buf[w.pos:w.end])
	w.base += int64(w.pos)
	w.end -= w.pos
	w.pos = 0
	w.blk.Release()
	w.blk, w.buf = nb, nb.buf
}
