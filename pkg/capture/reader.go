package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
	Gzip   bool   // Offset counts decompressed bytes (any compression, not only gzip)
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
	// Block holds Data when the reader was opened with a BlockPool; nil
	// otherwise.
	Block *Block
}

// NonPacket is the LinkType of records that are frames in Wireshark's
// numbering but carry no packet: pcapng custom blocks and systemd journal
// entries. Their Data is empty.
const NonPacket = 0xffffffff

// Reader reads one capture stream.
type Reader struct {
	name   string
	w      *window
	outer  *window // the compressed stream's window, when w reads a decompressor
	pool   *BlockPool
	gz     bool        // the stream is compressed: offsets count decompressed bytes
	codec  Compression // which compression
	dec    io.Closer   // releases the decompressor, when it holds resources
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
// used in errors only. A compressed stream is decompressed transparently.
// Call Release when done: an xz or bzip2 stream is decompressed on a
// goroutine of its own, which Release stops.
func Open(name string, r io.Reader) (*Reader, error) {
	return OpenSize(name, r, initialWindow)
}

// OpenSize is Open with a read buffer of size bytes to start with (it grows
// when a record needs more): smaller for scans of many files at once.
func OpenSize(name string, r io.Reader, size int) (*Reader, error) {
	cr := &Reader{name: name, w: newWindow(r, size, nil)}
	if err := cr.start(); err != nil {
		cr.Release()
		return nil, err
	}
	return cr, nil
}

// OpenPooled is Open reading into blocks of pool: the Data of each record
// stays valid, after later calls to Next, while its Record.Block is
// retained (see Block). Call Release when done with the Reader.
func OpenPooled(name string, r io.Reader, pool *BlockPool) (*Reader, error) {
	cr := &Reader{name: name, pool: pool, w: newWindow(r, 0, pool)}
	if err := cr.start(); err != nil {
		cr.Release()
		return nil, err
	}
	return cr, nil
}

// Release drops the reader's references to its blocks (OpenPooled). The
// reader must not be used again; records already returned stay valid while
// their blocks are retained elsewhere.
func (r *Reader) Release() {
	// The decompressor first: it may read the outer window on a
	// goroutine of its own until it is closed.
	if r.dec != nil {
		r.dec.Close()
		r.dec = nil
	}
	if r.outer != nil {
		r.outer.release()
		r.outer = nil
	}
	r.w.release()
	if r.err == nil {
		r.err = io.EOF
	}
}

// Name is the name given to Open.
func (r *Reader) Name() string { return r.name }

// Format is the format of the stream.
func (r *Reader) Format() Format { return r.format }

// Gzip reports whether the stream was gzip-compressed.
func (r *Reader) Gzip() bool { return r.codec == CompressGzip }

// Compression is the stream's compression, "" when none.
func (r *Reader) Compression() Compression { return r.codec }

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
// ran out or could not be read, ErrDamaged when a broken compressed stream
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
