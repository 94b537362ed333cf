package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Classic pcap (libpcap) files, microsecond or nanosecond, either byte
// order, and Kuznetsov's modified pcap.

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	pcapMagicMod   = 0xa1b2cd34
)

func isPcapMagic(b []byte) bool {
	le, be := binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b)
	for _, m := range [...]uint32{pcapMagicMicro, pcapMagicNano, pcapMagicMod} {
		if le == m || be == m {
			return true
		}
	}
	return false
}

func (r *Reader) startPcap() error {
	h, err := r.w.next(24)
	if err != nil {
		return r.fail(0, int64(len(h)), r.cut("pcap file header is %d of 24 bytes", len(h)))
	}
	r.recHdr = 16
	switch le, be := binary.LittleEndian.Uint32(h), binary.BigEndian.Uint32(h); {
	case le == pcapMagicMicro:
		r.order = binary.LittleEndian
	case le == pcapMagicNano:
		r.order, r.nano = binary.LittleEndian, true
	case le == pcapMagicMod:
		// Kuznetsov's modified pcap (Linux, old tcpdump): 8 more bytes
		// per record (ifindex, protocol, packet type).
		r.order, r.recHdr = binary.LittleEndian, 24
	case be == pcapMagicMicro:
		r.order = binary.BigEndian
	case be == pcapMagicMod:
		r.order, r.recHdr = binary.BigEndian, 24
	default:
		r.order, r.nano = binary.BigEndian, true
	}
	major := r.order.Uint16(h[4:6])
	if major != 2 {
		return r.fail(0, 4, fmt.Errorf("%w: pcap major version %d", ErrUnsupported, major))
	}
	raw := r.order.Uint32(h[20:24])
	// Bits 16-25 are reserved and must be zero; bits 26-31 carry FCS
	// information that does not change the link type (pcap-linktype(7)).
	if raw&0x03ff0000 != 0 {
		return r.fail(0, 20, fmt.Errorf("%w: link-type reserved bits not zero (0x%08x)", ErrUnsupported, raw))
	}
	r.linkType = raw & 0xffff
	r.addLinkType(r.linkType)
	return nil
}

func (r *Reader) nextPcap(rec *Record) error {
	// Fast path: the whole record is already buffered. Same checks as
	// below, without the calls.
	if w := r.w; w.end-w.pos >= r.recHdr {
		h := w.buf[w.pos : w.pos+r.recHdr]
		capLen := r.order.Uint32(h[8:12])
		if capLen <= MaxPacket && w.end-w.pos >= r.recHdr+int(capLen) {
			origLen := r.order.Uint32(h[12:16])
			ns := int64(r.order.Uint32(h[4:8]))
			if !r.nano {
				ns *= 1000
			}
			r.frame++
			rec.Offset = w.base + int64(w.pos)
			rec.Data = w.buf[w.pos+r.recHdr : w.pos+r.recHdr+int(capLen)]
			rec.OrigLen = int(max(origLen, capLen))
			rec.Time = int64(r.order.Uint32(h[0:4]))*1e9 + ns
			rec.LinkType = r.linkType
			rec.Frame = r.frame
			rec.Block = w.blk
			w.pos += r.recHdr + int(capLen)
			return nil
		}
	}
	off := r.w.offset()
	frame := r.frame + 1
	if r.w.atEOF() {
		return io.EOF
	}
	h, err := r.w.peek(r.recHdr)
	if err != nil {
		return r.fail(frame, off, r.cut("record header is %d of %d bytes", len(h), r.recHdr))
	}
	sec := r.order.Uint32(h[0:4])
	frac := r.order.Uint32(h[4:8])
	capLen := r.order.Uint32(h[8:12])
	origLen := r.order.Uint32(h[12:16])
	if capLen > MaxPacket {
		return r.fail(frame, off, fmt.Errorf("%w: record claims %d captured bytes, more than the %d accepted", ErrDamaged, capLen, MaxPacket))
	}
	b, err := r.w.next(r.recHdr + int(capLen))
	if err != nil {
		return r.fail(frame, off, r.cut("record of %d bytes has only %d", capLen, max(len(b)-r.recHdr, 0)))
	}
	ns := int64(frac)
	if !r.nano {
		ns *= 1000
	}
	r.frame = frame
	rec.Data = b[r.recHdr:]
	rec.OrigLen = int(max(origLen, capLen))
	rec.Time = int64(sec)*1e9 + ns
	rec.LinkType = r.linkType
	rec.Frame = frame
	rec.Offset = off
	rec.Block = r.w.blk
	return nil
}
