package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// xzGuard follows the block structure of the xz bytes the decompressor
// reads, without decompressing, and refuses every block header whose
// LZMA2 dictionary exceeds maxXzDict before the decompressor sees it:
// ulikunitz/xz allocates what each block claims, so a crafted later block
// declaring 4 GiB beat the check of the first block alone. LZMA2 chunks
// are skipped by the sizes in their headers, the index by its varints.
// What the format forbids is left to the decompressor, which reports it;
// the guard then stops following (off).
type xzGuard struct {
	r   io.Reader
	off bool
	pos int64 // compressed bytes passed through

	state    xzState
	need     int    // bytes still wanted in this state
	buf      []byte // the bytes of a header being collected
	check    int    // the stream's check size
	blockLen int64  // bytes of the block so far (for its padding)
	ctl      byte   // the LZMA2 chunk's control byte
	// The index: varints still to read, and bytes so far (padding).
	varints   uint64
	countRead bool
	indexLen  int64
	varint    []byte
}

type xzState uint8

const (
	xzStreamHeader xzState = iota
	xzBlockStart
	xzBlockHeader
	xzChunkCtl
	xzChunkHead
	xzChunkData
	xzBlockPad
	xzCheck
	xzIndex
	xzIndexPad
	xzIndexCRC
	xzFooter
	xzStreamPad
)

func newXzGuard(r io.Reader) *xzGuard {
	return &xzGuard{r: r, state: xzStreamHeader, need: 12}
}

// xzCheckSize is the size of a check by its type (xz file format 2.1.1.2).
var xzCheckSize = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

func (g *xzGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if !g.off {
		if gerr := g.walk(p[:n]); gerr != nil {
			return 0, gerr
		}
	}
	return n, err
}

// walk follows the structure through b.
func (g *xzGuard) walk(b []byte) error {
	for len(b) > 0 && !g.off {
		switch g.state {
		case xzChunkData, xzCheck, xzIndexCRC, xzFooter:
			k := min(g.need, len(b))
			g.need -= k
			g.pos += int64(k)
			if g.state == xzChunkData {
				g.blockLen += int64(k)
			}
			b = b[k:]
			if g.need == 0 {
				g.next()
			}
			continue
		}
		c := b[0]
		b = b[1:]
		if err := g.byte(c); err != nil {
			return err
		}
		g.pos++
	}
	return nil
}

// next moves on when a counted state's bytes are all read.
func (g *xzGuard) next() {
	switch g.state {
	case xzChunkData:
		g.state = xzChunkCtl
	case xzCheck:
		g.state = xzBlockStart
	case xzIndexCRC:
		g.state, g.need = xzFooter, 12
	case xzFooter:
		g.state = xzStreamPad
	}
}

// byte takes one byte of a state read byte by byte.
func (g *xzGuard) byte(c byte) error {
	switch g.state {
	case xzStreamHeader:
		g.buf = append(g.buf, c)
		if len(g.buf) == 12 {
			g.check = xzCheckSize[g.buf[7]&0x0f]
			g.buf = g.buf[:0]
			g.state = xzBlockStart
		}
	case xzBlockStart:
		if c == 0 {
			g.state, g.indexLen, g.countRead, g.varint = xzIndex, 1, false, g.varint[:0]
			return nil
		}
		g.buf = append(g.buf[:0], c)
		g.need = int(c)*4 + 4
		g.state = xzBlockHeader
	case xzBlockHeader:
		g.buf = append(g.buf, c)
		if len(g.buf) == g.need {
			if err := checkXzBlockHeader(g.buf); err != nil {
				return fmt.Errorf("%w, in the block header at compressed byte %d", err, g.pos+1-int64(len(g.buf)))
			}
			g.blockLen = int64(len(g.buf))
			g.state = xzChunkCtl
		}
	case xzChunkCtl:
		g.blockLen++
		switch {
		case c == 0:
			g.state = xzBlockPad
			if g.blockLen%4 == 0 {
				g.endBlock()
			}
		case c == 1 || c == 2:
			g.ctl, g.buf, g.need, g.state = c, g.buf[:0], 2, xzChunkHead
		case c >= 0x80:
			g.ctl, g.buf, g.need, g.state = c, g.buf[:0], 4, xzChunkHead
			if c >= 0xc0 {
				g.need = 5
			}
		default:
			g.off = true // invalid: the decompressor says so
		}
	case xzChunkHead:
		g.blockLen++
		g.buf = append(g.buf, c)
		if len(g.buf) == g.need {
			size := binary.BigEndian.Uint16(g.buf[0:2])
			if g.ctl >= 0x80 {
				size = binary.BigEndian.Uint16(g.buf[2:4])
			}
			g.need, g.state = int(size)+1, xzChunkData
		}
	case xzBlockPad:
		g.blockLen++
		if g.blockLen%4 == 0 {
			g.endBlock()
		}
	case xzIndex:
		g.indexLen++
		g.varint = append(g.varint, c)
		if c&0x80 != 0 {
			if len(g.varint) > 9 {
				g.off = true
			}
			return nil
		}
		v, _ := binary.Uvarint(g.varint)
		g.varint = g.varint[:0]
		if !g.countRead {
			g.countRead, g.varints = true, 2*v // two varints a record
		} else {
			g.varints--
		}
		if g.varints == 0 {
			g.state = xzIndexPad
			if g.indexLen%4 == 0 {
				g.state, g.need = xzIndexCRC, 4
			}
		}
	case xzIndexPad:
		g.indexLen++
		if g.indexLen%4 == 0 {
			g.state, g.need = xzIndexCRC, 4
		}
	case xzStreamPad:
		if c != 0 {
			// The next stream's header.
			g.buf = append(g.buf[:0], c)
			g.state = xzStreamHeader
		}
	}
	return nil
}

func (g *xzGuard) endBlock() {
	g.need = g.check
	g.state = xzCheck
	if g.need == 0 {
		g.state = xzBlockStart
	}
}
