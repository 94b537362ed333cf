package synth

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet is one captured frame as a writer stores it.
type Packet struct {
	// Time is the capture timestamp.
	Time time.Time
	// Data is the captured bytes.
	Data []byte
	// OrigLen is the length of the frame on the wire; 0 means len(Data).
	OrigLen int
	// Iface is the pcapng interface index; classic pcap ignores it.
	Iface int
}

func (p Packet) origLen() int {
	if p.OrigLen <= 0 {
		return len(p.Data)
	}
	return max(p.OrigLen, len(p.Data))
}

// DefaultSnaplen is the snapshot length written when none is given.
const DefaultSnaplen = 262144

// PcapFormat describes a classic pcap file.
type PcapFormat struct {
	// Link is the file's link-layer header type.
	Link layers.LinkType
	// Snaplen is the snapshot length; longer packets are cut to it and
	// keep their original length. 0 means DefaultSnaplen.
	Snaplen uint32
	// Nanos selects the nanosecond magic (0xa1b23c4d) instead of
	// microseconds.
	Nanos bool
	// BigEndian writes the header and records big-endian.
	BigEndian bool
}

// Classic pcap magic numbers.
const (
	magicMicros = 0xa1b2c3d4
	magicNanos  = 0xa1b23c4d
)

// WritePcap writes pkts to w as a classic pcap file. Little-endian files
// are written with pcapgo; big-endian ones by hand.
func WritePcap(w io.Writer, f PcapFormat, pkts []Packet) error {
	snap := f.Snaplen
	if snap == 0 {
		snap = DefaultSnaplen
	}
	if !f.BigEndian {
		pw := pcapgo.NewWriter(w)
		if f.Nanos {
			pw = pcapgo.NewWriterNanos(w)
		}
		if err := pw.WriteFileHeader(snap, f.Link); err != nil {
			return fmt.Errorf("synth: write pcap header: %w", err)
		}
		for i, p := range pkts {
			data := cut(p.Data, snap)
			ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(data), Length: p.origLen()}
			if err := pw.WritePacket(ci, data); err != nil {
				return fmt.Errorf("synth: write pcap record %d: %w", i+1, err)
			}
		}
		return nil
	}
	be := binary.BigEndian
	var hdr [24]byte
	magic := uint32(magicMicros)
	if f.Nanos {
		magic = magicNanos
	}
	be.PutUint32(hdr[0:4], magic)
	be.PutUint16(hdr[4:6], 2)
	be.PutUint16(hdr[6:8], 4)
	be.PutUint32(hdr[16:20], snap)
	be.PutUint32(hdr[20:24], uint32(f.Link))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("synth: write pcap header: %w", err)
	}
	for i, p := range pkts {
		data := cut(p.Data, snap)
		var rec [16]byte
		frac := p.Time.Nanosecond()
		if !f.Nanos {
			frac /= 1000
		}
		be.PutUint32(rec[0:4], uint32(p.Time.Unix()))
		be.PutUint32(rec[4:8], uint32(frac))
		be.PutUint32(rec[8:12], uint32(len(data)))
		be.PutUint32(rec[12:16], uint32(p.origLen()))
		if _, err := w.Write(rec[:]); err != nil {
			return fmt.Errorf("synth: write pcap record %d: %w", i+1, err)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("synth: write pcap record %d: %w", i+1, err)
		}
	}
	return nil
}

// PcapRecordEnd returns the byte offset just past record n (1-based) of a
// classic pcap file written by WritePcap with the same format and packets;
// PcapRecordEnd(f, pkts, 0) is the header size. Use it to cut a file in
// the middle of a record.
func PcapRecordEnd(f PcapFormat, pkts []Packet, n int) int {
	snap := f.Snaplen
	if snap == 0 {
		snap = DefaultSnaplen
	}
	off := 24
	for _, p := range pkts[:n] {
		off += 16 + len(cut(p.Data, snap))
	}
	return off
}

// Interface describes one pcapng interface.
type Interface struct {
	// Name is written as if_name when not empty.
	Name string
	// Link is the interface's link-layer header type.
	Link layers.LinkType
	// TsResol is the decimal timestamp resolution exponent written as
	// if_tsresol: 6 for microseconds, 9 for nanoseconds. 0 means 6.
	TsResol uint8
	// Snaplen cuts longer packets; 0 means no limit.
	Snaplen uint32
}

// pcapng block types and option codes.
const (
	blockSHB      = 0x0a0d0d0a
	blockIDB      = 0x00000001
	blockEPB      = 0x00000006
	byteOrderLE   = 0x1a2b3c4d
	optEnd        = 0
	optShbUserApp = 4
	optIfName     = 2
	optIfTsresol  = 9
	synthUserAppl = "pongscan synth"
)

// WritePcapng writes pkts to w as a little-endian pcapng file with one
// section and the given interfaces. Each packet goes to the interface
// named by its Iface, with a timestamp in that interface's resolution.
// The file is written by hand because pcapgo fixes if_tsresol to 9.
func WritePcapng(w io.Writer, ifaces []Interface, pkts []Packet) error {
	if len(ifaces) == 0 {
		return errors.New("synth: pcapng needs at least one interface")
	}
	var buf bytes.Buffer
	le := binary.LittleEndian
	// Section header block.
	var opts bytes.Buffer
	putOption(&opts, optShbUserApp, []byte(synthUserAppl))
	putOption(&opts, optEnd, nil)
	body := make([]byte, 16)
	le.PutUint32(body[0:4], byteOrderLE)
	le.PutUint16(body[4:6], 1)
	le.PutUint16(body[6:8], 0)
	le.PutUint64(body[8:16], ^uint64(0)) // section length unknown
	putBlock(&buf, blockSHB, append(body, opts.Bytes()...))
	for _, in := range ifaces {
		res := in.TsResol
		if res == 0 {
			res = 6
		}
		if res > 9 {
			return fmt.Errorf("synth: unsupported if_tsresol %d", res)
		}
		opts.Reset()
		if in.Name != "" {
			putOption(&opts, optIfName, []byte(in.Name))
		}
		putOption(&opts, optIfTsresol, []byte{res})
		putOption(&opts, optEnd, nil)
		body := make([]byte, 8)
		le.PutUint16(body[0:2], uint16(in.Link))
		le.PutUint32(body[4:8], in.Snaplen)
		putBlock(&buf, blockIDB, append(body, opts.Bytes()...))
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("synth: write pcapng header: %w", err)
	}
	for i, p := range pkts {
		if p.Iface < 0 || p.Iface >= len(ifaces) {
			return fmt.Errorf("synth: packet %d names interface %d of %d", i+1, p.Iface, len(ifaces))
		}
		in := ifaces[p.Iface]
		res := in.TsResol
		if res == 0 {
			res = 6
		}
		data := p.Data
		if in.Snaplen > 0 {
			data = cut(data, in.Snaplen)
		}
		unit := int64(1)
		for range 9 - int(res) {
			unit *= 10
		}
		ts := uint64(p.Time.Unix())*pow10(res) + uint64(int64(p.Time.Nanosecond())/unit)
		body := make([]byte, 20, 20+len(data)+3)
		le.PutUint32(body[0:4], uint32(p.Iface))
		le.PutUint32(body[4:8], uint32(ts>>32))
		le.PutUint32(body[8:12], uint32(ts))
		le.PutUint32(body[12:16], uint32(len(data)))
		le.PutUint32(body[16:20], uint32(p.origLen()))
		body = append(body, data...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		buf.Reset()
		putBlock(&buf, blockEPB, body)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("synth: write pcapng packet %d: %w", i+1, err)
		}
	}
	return nil
}

func pow10(n uint8) uint64 {
	v := uint64(1)
	for range n {
		v *= 10
	}
	return v
}

func putBlock(buf *bytes.Buffer, typ uint32, body []byte) {
	le := binary.LittleEndian
	total := uint32(12 + len(body))
	var b [4]byte
	le.PutUint32(b[:], typ)
	buf.Write(b[:])
	le.PutUint32(b[:], total)
	buf.Write(b[:])
	buf.Write(body)
	buf.Write(b[:])
}

func putOption(buf *bytes.Buffer, code uint16, val []byte) {
	var b [4]byte
	binary.LittleEndian.PutUint16(b[0:2], code)
	binary.LittleEndian.PutUint16(b[2:4], uint16(len(val)))
	buf.Write(b[:])
	buf.Write(val)
	for i := len(val); i%4 != 0; i++ {
		buf.WriteByte(0)
	}
}

// Gzip returns data compressed with gzip. The header carries no name and
// no modification time, so the output depends only on data.
func Gzip(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("synth: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("synth: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

func cut(data []byte, snap uint32) []byte {
	if snap > 0 && uint32(len(data)) > snap {
		return data[:snap]
	}
	return data
}
