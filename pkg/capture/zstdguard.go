package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// zstdGuard follows the frames of the zstd bytes the decompressor reads
// (RFC 8878: frame headers, block headers, skippable frames), without
// decompressing, and refuses a frame whose window exceeds maxZstdWindow
// before the decompressor sees it, naming the frame's compressed offset.
// The library refuses such a frame too, but says nowhere which one: in a
// file of many frames (zstd --rsyncable, pzstd, concatenated files) the
// offset tells which part is bad. What the format forbids is left to the
// decompressor; the guard then stops following (off).
type zstdGuard struct {
	r   io.Reader
	off bool
	pos int64

	state    zstdState
	buf      []byte
	need     int   // bytes still wanted (headers) or to skip (block data)
	frameAt  int64 // the current frame's offset
	checksum bool
	last     bool
}

type zstdState uint8

const (
	zstdMagic zstdState = iota
	zstdFHD
	zstdFrameHeader
	zstdSkipSize
	zstdSkip
	zstdBlockHeader
	zstdBlockData
	zstdChecksum
)

func newZstdGuard(r io.Reader) *zstdGuard { return &zstdGuard{r: r, state: zstdMagic, need: 4} }

func (g *zstdGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if !g.off {
		if gerr := g.walk(p[:n]); gerr != nil {
			return 0, gerr
		}
	}
	return n, err
}

func (g *zstdGuard) walk(b []byte) error {
	for len(b) > 0 && !g.off {
		switch g.state {
		case zstdSkip, zstdBlockData, zstdChecksum:
			k := min(g.need, len(b))
			g.need -= k
			g.pos += int64(k)
			b = b[k:]
			if g.need == 0 {
				g.afterData()
			}
			continue
		}
		g.buf = append(g.buf, b[0])
		b = b[1:]
		g.pos++
		if len(g.buf) < g.need {
			continue
		}
		if err := g.header(); err != nil {
			return err
		}
	}
	return nil
}

// afterData moves on when a counted stretch is read.
func (g *zstdGuard) afterData() {
	switch {
	case g.state == zstdBlockData && !g.last:
		g.state, g.need = zstdBlockHeader, 3
	case g.state == zstdBlockData && g.checksum:
		g.state, g.need = zstdChecksum, 4
	default:
		g.state, g.need = zstdMagic, 4
	}
	g.buf = g.buf[:0]
}

// header takes a complete header in g.buf.
func (g *zstdGuard) header() error {
	b := g.buf
	switch g.state {
	case zstdMagic:
		m := binary.LittleEndian.Uint32(b)
		g.frameAt = g.pos - 4
		switch {
		case m == 0xfd2fb528:
			g.state, g.need = zstdFHD, 5 // the magic and the descriptor
		case m&0xfffffff0 == 0x184d2a50:
			g.state, g.need = zstdSkipSize, 8
		default:
			g.off = true // not a frame: the decompressor says so
		}
		return nil
	case zstdFHD:
		d := b[4]
		single := d&0x20 != 0
		fcs := [4]int{0, 2, 4, 8}[d>>6]
		if fcs == 0 && single {
			fcs = 1
		}
		n := 5 + fcs + [4]int{0, 1, 2, 4}[d&3]
		if !single {
			n++
		}
		g.checksum = d&0x04 != 0
		g.state, g.need = zstdFrameHeader, n
		if n > len(b) {
			return nil
		}
		fallthrough
	case zstdFrameHeader:
		d := b[4]
		single := d&0x20 != 0
		var window uint64
		if !single {
			wd := b[5]
			base := uint64(1) << (10 + wd>>3)
			window = base + base/8*uint64(wd&7)
		} else {
			fcsAt := 5 + [4]int{0, 1, 2, 4}[d&3]
			switch f := b[fcsAt:]; len(f) {
			case 1:
				window = uint64(f[0])
			case 2:
				window = uint64(binary.LittleEndian.Uint16(f)) + 256
			case 4:
				window = uint64(binary.LittleEndian.Uint32(f))
			case 8:
				window = binary.LittleEndian.Uint64(f)
			}
		}
		if window > maxZstdWindow {
			return fmt.Errorf("zstd frame at compressed byte %d needs a window of %d bytes, more than the %d accepted", g.frameAt, window, maxZstdWindow)
		}
		g.state, g.need, g.buf = zstdBlockHeader, 3, g.buf[:0]
	case zstdSkipSize:
		g.state, g.need = zstdSkip, int(binary.LittleEndian.Uint32(b[4:8]))
		g.buf = g.buf[:0]
		if g.need == 0 {
			g.afterData()
		}
	case zstdBlockHeader:
		h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		g.last = h&1 != 0
		size := int(h >> 3)
		switch (h >> 1) & 3 {
		case 1: // RLE: one byte
			size = 1
		case 3:
			g.off = true // reserved: the decompressor says so
			return nil
		}
		g.state, g.need = zstdBlockData, size
		g.buf = g.buf[:0]
		if size == 0 {
			g.afterData()
		}
	}
	return nil
}
