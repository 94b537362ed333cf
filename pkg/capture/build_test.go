package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
)

// Builders of small captures, written byte by byte so that tests and fuzz
// seeds can also write what no well-behaved writer would.

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// pcapRec is one classic pcap record. capLen 0 means len(data).
type pcapRec struct {
	sec, frac uint32
	data      []byte
	capLen    uint32
	origLen   uint32
}

// pcapHeader is a classic pcap file header.
func pcapHeader(order byteOrder, nano bool, link uint32) []byte {
	h := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 262144)
	order.PutUint32(h[20:], link)
	return h
}

// pcapFile is a classic pcap file holding recs.
func pcapFile(order byteOrder, nano bool, link uint32, recs ...pcapRec) []byte {
	b := pcapHeader(order, nano, link)
	for _, r := range recs {
		capLen, origLen := r.capLen, r.origLen
		if capLen == 0 {
			capLen = uint32(len(r.data))
		}
		if origLen == 0 {
			origLen = uint32(len(r.data))
		}
		b = order.AppendUint32(b, r.sec)
		b = order.AppendUint32(b, r.frac)
		b = order.AppendUint32(b, capLen)
		b = order.AppendUint32(b, origLen)
		b = append(b, r.data...)
	}
	return b
}

// ngBlock is a pcapng block of type typ around body, padded to 4 bytes.
func ngBlock(order byteOrder, typ uint32, body []byte) []byte {
	padded := (len(body) + 3) &^ 3
	total := uint32(12 + padded)
	b := order.AppendUint32(nil, typ)
	b = order.AppendUint32(b, total)
	b = append(b, body...)
	b = append(b, make([]byte, padded-len(body))...)
	return order.AppendUint32(b, total)
}

// ngOpt is one pcapng option, padded to 4 bytes.
func ngOpt(order byteOrder, code uint16, val []byte) []byte {
	b := order.AppendUint16(nil, code)
	b = order.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, (len(val)+3)&^3-len(val))...)
}

// ngOpts ends an option list with opt_endofopt.
func ngOpts(order byteOrder, opts ...[]byte) []byte {
	if len(opts) == 0 {
		return nil
	}
	return append(bytes.Join(opts, nil), ngOpt(order, 0, nil)...)
}

// ngSHB is a Section Header Block of version 1.0 with unknown length.
func ngSHB(order byteOrder, opts ...[]byte) []byte {
	body := order.AppendUint32(nil, 0x1a2b3c4d)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint64(body, ^uint64(0))
	return ngBlock(order, 0x0a0d0d0a, append(body, ngOpts(order, opts...)...))
}

// ngIDB is an Interface Description Block.
func ngIDB(order byteOrder, link uint16, snaplen uint32, opts ...[]byte) []byte {
	body := order.AppendUint16(nil, link)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint32(body, snaplen)
	return ngBlock(order, 1, append(body, ngOpts(order, opts...)...))
}

// ngEPB is an Enhanced Packet Block; origLen 0 means len(data).
func ngEPB(order byteOrder, ifIdx uint32, ts uint64, data []byte, origLen uint32) []byte {
	if origLen == 0 {
		origLen = uint32(len(data))
	}
	body := order.AppendUint32(nil, ifIdx)
	body = order.AppendUint32(body, uint32(ts>>32))
	body = order.AppendUint32(body, uint32(ts))
	body = order.AppendUint32(body, uint32(len(data)))
	body = order.AppendUint32(body, origLen)
	return ngBlock(order, 6, append(body, data...))
}

// ngSPB is a Simple Packet Block.
func ngSPB(order byteOrder, origLen uint32, data []byte) []byte {
	return ngBlock(order, 3, append(order.AppendUint32(nil, origLen), data...))
}

// ngPB is an obsolete Packet Block.
func ngPB(order byteOrder, ifIdx uint16, ts uint64, data []byte) []byte {
	body := order.AppendUint16(nil, ifIdx)
	body = order.AppendUint16(body, 0) // drops count
	body = order.AppendUint32(body, uint32(ts>>32))
	body = order.AppendUint32(body, uint32(ts))
	body = order.AppendUint32(body, uint32(len(data)))
	body = order.AppendUint32(body, uint32(len(data)))
	return ngBlock(order, 2, append(body, data...))
}

// gzipped compresses b.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// dnsFrame is an Ethernet/IPv4/UDP frame carrying a DNS query for
// example.com from 192.0.2.1:40000 to 192.0.2.53:53.
func dnsFrame(id uint16) []byte {
	dns := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}
	b := make([]byte, 14+20+8, 14+20+8+len(dns))
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(dns)))
	copy(ip[12:], []byte{192, 0, 2, 1})
	copy(ip[16:], []byte{192, 0, 2, 53})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(dns)))
	return append(b, dns...)
}

// seedPcap is a valid little-endian microsecond pcap of three frames.
func seedPcap() []byte {
	return pcapFile(binary.LittleEndian, false, 1,
		pcapRec{sec: 1700000000, frac: 1, data: dnsFrame(1)},
		pcapRec{sec: 1700000000, frac: 2, data: dnsFrame(2)[:40], origLen: uint32(len(dnsFrame(2)))},
		pcapRec{sec: 1700000001, frac: 999999, data: dnsFrame(3)},
	)
}

// seedPcapng is a valid pcapng: two sections of opposite byte orders, the
// first with two interfaces of different link types and timestamp
// resolutions, every packet block type, an unknown and a custom block.
func seedPcapng() []byte {
	le, be := binary.LittleEndian, binary.BigEndian
	var b []byte
	b = append(b, ngSHB(le, ngOpt(le, 4, []byte("pongscan test")))...)
	b = append(b, ngIDB(le, 1, 0, ngOpt(le, 2, []byte("eth0")))...)
	b = append(b, ngIDB(le, 101, 64, ngOpt(le, 9, []byte{9}), ngOpt(le, 14, le.AppendUint64(nil, 10)))...)
	b = append(b, ngEPB(le, 0, 1700000000000001, dnsFrame(1), 0)...)
	b = append(b, ngEPB(le, 1, 1700000000000000002, dnsFrame(2)[14:], 0)...)
	b = append(b, ngBlock(le, 5, make([]byte, 20))...) // interface statistics: skipped
	b = append(b, ngSPB(le, uint32(len(dnsFrame(3))), dnsFrame(3))...)
	b = append(b, ngPB(le, 0, 1700000000000004, dnsFrame(4))...)
	b = append(b, ngBlock(le, 0x00000bad, []byte{0, 0, 0x7e, 0x9f, 'h', 'i'})...)
	b = append(b, ngSHB(be)...)
	b = append(b, ngIDB(be, 113, 0, ngOpt(be, 9, []byte{0x80 | 20}))...)
	sll := append(make([]byte, 16), dnsFrame(5)[14:]...)
	sll[14], sll[15] = 0x08, 0x00
	b = append(b, ngEPB(be, 0, 1700000000<<20, sll, 0)...)
	return b
}
