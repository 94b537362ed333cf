package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Format names a capture file format.
type Format string

// The formats a Reader reads.
const (
	FormatPcap   Format = "pcap"
	FormatPcapng Format = "pcapng"
)

// Limits on lengths read from files. Anything larger is reported as damage.
const (
	// MaxPacket is the largest captured packet accepted, Wireshark's
	// WTAP_MAX_PACKET_SIZE_STANDARD: tshark calls a larger pcap record damaged.
	MaxPacket = 262144
	// maxBlock is the largest pcapng block accepted (Wireshark's limit is
	// 16 MiB plus change).
	maxBlock = 16 << 20
	// maxInterfaces bounds the interfaces of one pcapng section.
	maxInterfaces = 65536
)

// Sentinel errors, wrapped in *Error. Test them with errors.Is.
var (
	// ErrNotCapture: the input does not start like any capture format.
	ErrNotCapture = errors.New("not a capture file")
	// ErrUnsupported: a capture format, compression or version pongscan does not read.
	ErrUnsupported = errors.New("unsupported format")
	// ErrCut: the file ends inside a header, record or block.
	ErrCut = errors.New("file cut short")
	// ErrDamaged: a header, record or block holds an impossible value.
	ErrDamaged = errors.New("damaged capture")
	// ErrEmpty: the input holds no bytes at all.
	ErrEmpty = errors.New("empty file")

	errTooLarge = errors.New("length beyond limit")
)

// Error is a positioned reading error.
type Error struct {
	File   string // path as given, "-" for standard input
	Frame  uint64 // frame being read when the error happened (1-based); 0 in the file header
	Offset int64  // byte offset in the (decompressed) stream
	Gzip   bool   // Offset counts decompressed bytes
	Err    error
}

func (e *Error) Error() string {
	where := fmt.Sprintf("byte %d", e.Offset)
	if e.Gzip {
		where = fmt.Sprintf("decompressed byte %d", e.Offset)
	}
	if e.Frame > 0 {
		where = fmt.Sprintf("frame %d at %s", e.Frame, where)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, where, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Record is one packet read from a capture.
type Record struct {
	// Data is the captured bytes, borrowed from the reader until the next
	// call to Next: copy what you keep.
	Data     []byte
	OrigLen  int    // length on the wire (>= len(Data) unless the file lies)
	Time     int64  // nanoseconds since the Unix epoch, UTC
	LinkType uint32 // LINKTYPE_ value of the packet's interface
	Frame    uint64 // 1-based frame number in its file, as Wireshark numbers it
	Offset   int64  // byte offset of the record in the (decompressed) stream
	Source   int    // index of the reader in a Merge, 0 for a single reader
}

// NonPacket is the LinkType of records that are frames in Wireshark's
// numbering but carry no packet: pcapng custom blocks and systemd journal
// entries. Their Data is empty.
const NonPacket = 0xffffffff

// Reader reads one capture stream.
type Reader struct {
	name   string
	w      *window
	gz     bool
	format Format
	order  binary.ByteOrder
	frame  uint64
	err    error // sticky error

	// pcap
	nano     bool
	recHdr   int // record header length: 16, or 24 in modified pcap
	linkType uint32

	// pcapng
	ifaces []iface

	linkTypes []uint32 // distinct link types declared, in order of appearance
}

type iface struct {
	linkType uint32
	snaplen  uint32
	tsBinary bool  // resolution is 2^-exp rather than 10^-exp
	tsExp    uint8 // resolution exponent
	tsOffset int64 // seconds added to every timestamp
}

// Open starts reading a capture from r and reads its file header. name is
// used in errors only. A gzip stream is decompressed transparently.
func Open(name string, r io.Reader) (*Reader, error) {
	return OpenSize(name, r, initialWindow)
}

// OpenSize is Open with a read buffer of size bytes to start with (it grows
// when a record needs more): smaller for scans of many files at once.
func OpenSize(name string, r io.Reader, size int) (*Reader, error) {
	cr := &Reader{name: name, w: newWindow(r, size)}
	if err := cr.start(); err != nil {
		return nil, err
	}
	return cr, nil
}

// Name is the name given to Open.
func (r *Reader) Name() string { return r.name }

// Format is the format of the stream.
func (r *Reader) Format() Format { return r.format }

// Gzip reports whether the stream was gzip-compressed.
func (r *Reader) Gzip() bool { return r.gz }

// LinkTypes lists the distinct link types declared so far by the file
// header or pcapng interface descriptions, in order of appearance.
func (r *Reader) LinkTypes() []uint32 { return r.linkTypes }

// Frames is the number of packets read so far.
func (r *Reader) Frames() uint64 { return r.frame }

func (r *Reader) fail(frame uint64, off int64, err error) error {
	r.err = &Error{File: r.name, Frame: frame, Offset: off, Gzip: r.gz, Err: err}
	return r.err
}

// cut describes a structure the stream ended inside: ErrCut when the bytes
// ran out or could not be read, ErrDamaged when a broken gzip stream
// (bad data, bad checksum) stopped them. The read error is wrapped too.
func (r *Reader) cut(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch err := r.w.err; {
	case err == nil || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %s", ErrCut, msg)
	case r.gz && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: %w", ErrDamaged, msg, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrCut, msg, err)
	}
}

func (r *Reader) addLinkType(lt uint32) {
	for _, x := range r.linkTypes {
		if x == lt {
			return
		}
	}
	if len(r.linkTypes) < 64 {
		r.linkTypes = append(r.linkTypes, lt)
	}
}

var (
	magicGzip   = []byte{0x1f, 0x8b}
	magicZstd   = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz     = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	magicBzip2  = []byte("BZh")
	magicSnoop  = []byte("snoop\x00\x00\x00")
	magicLz4    = []byte{0x04, 0x22, 0x4d, 0x18}
	magicPcapng = []byte{0x0a, 0x0d, 0x0d, 0x0a}
)

func (r *Reader) start() error {
	head, err := r.w.peek(8)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, errShort) {
			return r.fail(0, 0, err)
		}
		return r.fail(0, 0, ErrEmpty)
	}
	if bytes.HasPrefix(head, magicGzip) {
		zr, err := gzip.NewReader(&windowReader{r.w})
		if err != nil {
			sentinel := ErrDamaged
			if errors.Is(err, io.ErrUnexpectedEOF) {
				sentinel = ErrCut
			}
			return r.fail(0, 0, fmt.Errorf("%w: gzip header: %v", sentinel, err))
		}
		r.gz = true
		r.w = newWindow(zr, len(r.w.buf))
		head, _ = r.w.peek(8)
		if len(head) == 0 {
			if r.w.err != nil && !errors.Is(r.w.err, io.EOF) {
				return r.fail(0, 0, r.cut("gzip stream holds no data"))
			}
			return r.fail(0, 0, ErrEmpty)
		}
	}
	switch {
	case bytes.HasPrefix(head, magicPcapng):
		r.format = FormatPcapng
		return r.startPcapng()
	case len(head) >= 4 && isPcapMagic(head[:4]):
		r.format = FormatPcap
		return r.startPcap()
	case bytes.HasPrefix(head, magicZstd):
		return r.fail(0, 0, fmt.Errorf("%w: zstd-compressed (decompress it first: zstd -d)", ErrUnsupported))
	case bytes.HasPrefix(head, magicXz):
		return r.fail(0, 0, fmt.Errorf("%w: xz-compressed (decompress it first: xz -d)", ErrUnsupported))
	case bytes.HasPrefix(head, magicBzip2):
		return r.fail(0, 0, fmt.Errorf("%w: bzip2-compressed (decompress it first: bunzip2)", ErrUnsupported))
	case bytes.HasPrefix(head, magicLz4):
		return r.fail(0, 0, fmt.Errorf("%w: lz4-compressed (decompress it first: lz4 -d)", ErrUnsupported))
	case bytes.HasPrefix(head, magicSnoop):
		return r.fail(0, 0, fmt.Errorf("%w: Solaris snoop capture (convert it: editcap -F pcap)", ErrUnsupported))
	}
	if len(head) < 4 {
		return r.fail(0, 0, fmt.Errorf("%w: only %d bytes", ErrNotCapture, len(head)))
	}
	return r.fail(0, 0, fmt.Errorf("%w: unknown magic %x", ErrNotCapture, head[:4]))
}

// windowReader lets gzip read through the window that sniffed the magic.
type windowReader struct{ w *window }

func (wr *windowReader) Read(p []byte) (int, error) {
	if wr.w.buffered() == 0 {
		wr.w.fill(1)
		if wr.w.buffered() == 0 {
			if wr.w.err != nil {
				return 0, wr.w.err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, wr.w.buf[wr.w.pos:wr.w.end])
	wr.w.pos += n
	return n, nil
}

// Next returns the next packet. At the clean end of the stream it returns
// io.EOF; any other error is a *Error and is returned again by later calls.
func (r *Reader) Next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	if r.format == FormatPcap {
		return r.nextPcap(rec)
	}
	return r.nextPcapng(rec)
}

// ---- classic pcap ----

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
	return nil
}

// ---- pcapng ----

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
	return nil
}
