package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// pcapng: several sections and interfaces, each with its own link type
// and timestamp resolution.

const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 0x00000001
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003
	blockEPB = 0x00000006
	blockSJE = 0x00000009 // systemd journal export
	blockCB  = 0x00000bad // custom block, may be copied
	blockCBN = 0x40000bad // custom block, do not copy
	bomMagic = 0x1a2b3c4d

	optEnd      = 0
	optTsResol  = 9
	optTsOffset = 14
)

func (r *Reader) startPcapng() error {
	off := r.w.offset()
	h, err := r.w.peek(12)
	if err != nil {
		return r.fail(0, off, r.cut("section header is %d of 12 bytes", len(h)))
	}
	return r.readSHB(0)
}

// readSHB reads a Section Header Block at the current offset.
func (r *Reader) readSHB(frame uint64) error {
	off := r.w.offset()
	h, err := r.w.peek(12)
	if err != nil {
		return r.fail(frame, off, r.cut("section header is %d of 12 bytes", len(h)))
	}
	switch {
	case binary.LittleEndian.Uint32(h[8:12]) == bomMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:12]) == bomMagic:
		r.order = binary.BigEndian
	default:
		return r.fail(frame, off+8, fmt.Errorf("%w: section header byte-order magic %x", ErrDamaged, h[8:12]))
	}
	body, err := r.block(frame, off)
	if err != nil {
		return err
	}
	if len(body) < 16 {
		return r.fail(frame, off, fmt.Errorf("%w: section header block of %d bytes", ErrDamaged, len(body)+12))
	}
	major, minor := r.order.Uint16(body[4:6]), r.order.Uint16(body[6:8])
	if major != 1 || (minor != 0 && minor != 2) {
		return r.fail(frame, off+12, fmt.Errorf("%w: pcapng section version %d.%d", ErrUnsupported, major, minor))
	}
	if err := r.walkOptions(body[16:], nil); err != nil {
		return r.fail(frame, off, err)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// block reads the whole block at off (type and length at its start, the
// length repeated at its end) and returns the bytes between the 8-byte
// header and the trailing length, borrowed until the next read.
func (r *Reader) block(frame uint64, off int64) ([]byte, error) {
	h, err := r.w.peek(8)
	if err != nil {
		return nil, r.fail(frame, off, r.cut("block header is %d of 8 bytes", len(h)))
	}
	total := r.order.Uint32(h[4:8])
	if err := r.checkBlockLen(total); err != nil {
		return nil, r.fail(frame, off, err)
	}
	b, err := r.w.next(int(total))
	if err != nil {
		return nil, r.fail(frame, off, r.cut("block of %d bytes has only %d", total, len(b)))
	}
	if tail := r.order.Uint32(b[total-4:]); tail != total {
		return nil, r.fail(frame, off, fmt.Errorf("%w: block length %d at its start, %d at its end", ErrDamaged, total, tail))
	}
	return b[8 : total-4], nil
}

func (r *Reader) checkBlockLen(total uint32) error {
	if total < 12 || total%4 != 0 {
		return fmt.Errorf("%w: block length %d", ErrDamaged, total)
	}
	if total > maxBlock {
		return fmt.Errorf("%w: block length %d beyond the %d accepted", ErrDamaged, total, maxBlock)
	}
	return nil
}

// walkOptions checks an option list and calls fn for each option.
func (r *Reader) walkOptions(b []byte, fn func(code uint16, val []byte)) error {
	for len(b) >= 4 {
		code, n := r.order.Uint16(b[0:2]), int(r.order.Uint16(b[2:4]))
		if code == optEnd {
			return nil
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			if 4+n <= len(b) {
				// Value present but the padding is missing: tolerate.
				padded = n
			} else {
				return fmt.Errorf("%w: option %d of %d bytes overruns its block", ErrDamaged, code, n)
			}
		}
		if fn != nil {
			fn(code, b[4:4+n])
		}
		b = b[4+padded:]
	}
	return nil
}

func (r *Reader) readIDB(frame uint64, off int64) error {
	body, err := r.block(frame, off)
	if err != nil {
		return err
	}
	if len(body) < 8 {
		return r.fail(frame, off, fmt.Errorf("%w: interface description block of %d bytes", ErrDamaged, len(body)+12))
	}
	if len(r.ifaces) >= maxInterfaces {
		return r.fail(frame, off, fmt.Errorf("%w: more than %d interfaces in one section", ErrDamaged, maxInterfaces))
	}
	ifc := iface{linkType: uint32(r.order.Uint16(body[0:2])), snaplen: r.order.Uint32(body[4:8]), tsExp: 6}
	var optErr error
	err = r.walkOptions(body[8:], func(code uint16, val []byte) {
		switch code {
		case optTsResol:
			if len(val) >= 1 {
				ifc.tsBinary = val[0]&0x80 != 0
				ifc.tsExp = val[0] & 0x7f
				if !ifc.tsBinary && ifc.tsExp > 19 || ifc.tsBinary && ifc.tsExp > 63 {
					optErr = fmt.Errorf("%w: timestamp resolution byte 0x%02x", ErrUnsupported, val[0])
				}
			}
		case optTsOffset:
			if len(val) >= 8 {
				ifc.tsOffset = int64(r.order.Uint64(val))
			}
		}
	})
	if err == nil {
		err = optErr
	}
	if err != nil {
		return r.fail(frame, off, err)
	}
	r.ifaces = append(r.ifaces, ifc)
	r.addLinkType(ifc.linkType)
	return nil
}

// nanos converts a pcapng timestamp in interface units to nanoseconds.
func (f *iface) nanos(ts uint64) int64 {
	var sec, frac, unitsPerSec uint64
	if f.tsBinary {
		unitsPerSec = 1 << f.tsExp
		sec, frac = ts>>f.tsExp, ts&(unitsPerSec-1)
	} else {
		unitsPerSec = pow10[f.tsExp]
		sec, frac = ts/unitsPerSec, ts%unitsPerSec
	}
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, unitsPerSec)
	return int64(sec+uint64(f.tsOffset))*1e9 + int64(ns)
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

func (r *Reader) nextPcapng(rec *Record) error {
	for {
		off := r.w.offset()
		frame := r.frame + 1
		if r.w.atEOF() {
			return io.EOF
		}
		h, err := r.w.peek(8)
		if err != nil {
			return r.fail(frame, off, r.cut("block header is %d of 8 bytes", len(h)))
		}
		typ := r.order.Uint32(h[0:4])
		switch typ {
		case blockSHB:
			if err := r.readSHB(frame); err != nil {
				return err
			}
			continue
		case blockIDB:
			if err := r.readIDB(frame, off); err != nil {
				return err
			}
			continue
		case blockEPB, blockPB, blockSPB:
			return r.readPacketBlock(typ, frame, off, rec)
		case blockCB, blockCBN, blockSJE:
			// Wireshark numbers these records as frames: so do we, to
			// keep frame numbers aligned with it.
			if _, err := r.block(frame, off); err != nil {
				return err
			}
			r.frame = frame
			*rec = Record{LinkType: NonPacket, Frame: frame, Offset: off, Time: rec.Time}
			return nil
		}
		total := r.order.Uint32(h[4:8])
		if err := r.checkBlockLen(total); err != nil {
			return r.fail(frame, off, err)
		}
		if err := r.w.skip(int64(total)); err != nil {
			return r.fail(frame, off, r.cut("block of %d bytes cut short", total))
		}
	}
}

func (r *Reader) readPacketBlock(typ uint32, frame uint64, off int64, rec *Record) error {
	body, err := r.block(frame, off)
	if err != nil {
		return err
	}
	var (
		ifIdx   uint32
		ts      uint64
		capLen  uint32
		origLen uint32
		data    []byte
		hasTS   = true
	)
	switch typ {
	case blockEPB, blockPB:
		if len(body) < 20 {
			return r.fail(frame, off, fmt.Errorf("%w: packet block of %d bytes", ErrDamaged, len(body)+12))
		}
		if typ == blockEPB {
			ifIdx = r.order.Uint32(body[0:4])
		} else {
			ifIdx = uint32(r.order.Uint16(body[0:2]))
		}
		ts = uint64(r.order.Uint32(body[4:8]))<<32 | uint64(r.order.Uint32(body[8:12]))
		capLen, origLen = r.order.Uint32(body[12:16]), r.order.Uint32(body[16:20])
		if capLen > MaxPacket || int(capLen) > len(body)-20 {
			return r.fail(frame, off, fmt.Errorf("%w: packet block claims %d captured bytes in a block of %d", ErrDamaged, capLen, len(body)+12))
		}
		data = body[20 : 20+capLen]
	case blockSPB:
		if len(body) < 4 {
			return r.fail(frame, off, fmt.Errorf("%w: simple packet block of %d bytes", ErrDamaged, len(body)+12))
		}
		origLen = r.order.Uint32(body[0:4])
		capLen = min(origLen, uint32(len(body)-4))
		if len(r.ifaces) > 0 && r.ifaces[0].snaplen != 0 {
			capLen = min(capLen, r.ifaces[0].snaplen)
		}
		if capLen > MaxPacket {
			return r.fail(frame, off, fmt.Errorf("%w: simple packet block of %d captured bytes, more than the %d accepted", ErrDamaged, capLen, MaxPacket))
		}
		data = body[4 : 4+capLen]
		hasTS = false
	}
	if int(ifIdx) >= len(r.ifaces) {
		return r.fail(frame, off, fmt.Errorf("%w: packet on interface %d, but the section describes %d", ErrDamaged, ifIdx, len(r.ifaces)))
	}
	f := &r.ifaces[ifIdx]
	r.frame = frame
	rec.Data = data
	rec.OrigLen = int(max(origLen, capLen))
	rec.Time = 0
	if hasTS {
		rec.Time = f.nanos(ts)
	}
	rec.LinkType = f.linkType
	rec.Frame = frame
	rec.Offset = off
	rec.Block = r.w.blk
	return nil
}
