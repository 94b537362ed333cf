// Command readfloor is the read floor of pongscan's benchmarks: the least
// work any tool must do to look at every packet of a classic pcap file. It
// reads each record (16-byte header and data) through a 1 MiB bufio.Reader
// without copying it, touches the data by xoring its first and last bytes
// into a checksum, and prints the packet count and the seconds taken:
//
//	readfloor FILE...
//
// No gopacket, no decoding. A gzip-compressed file is decompressed with
// compress/gzip, which makes it the decompression floor instead.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: readfloor FILE...")
		os.Exit(2)
	}
	rc := 0
	for _, p := range os.Args[1:] {
		start := time.Now()
		n, sum, err := readFile(p)
		secs := time.Since(start).Seconds()
		if err != nil {
			fmt.Fprintf(os.Stderr, "readfloor: %s: %v\n", p, err)
			rc = 1
			continue
		}
		fmt.Printf("%s: %d packets in %.3f s (%.0f packets/s), checksum %02x\n", p, n, secs, float64(n)/secs, sum)
	}
	os.Exit(rc)
}

func readFile(path string) (uint64, byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return read(f)
}

// read counts the records of the pcap stream r and folds a checksum of
// their first and last bytes.
func read(r io.Reader) (uint64, byte, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if m, err := br.Peek(2); err == nil && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, 0, err
		}
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	h, err := br.Peek(24)
	if err != nil {
		return 0, 0, fmt.Errorf("pcap header: %w", err)
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(h) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return 0, 0, fmt.Errorf("not a classic pcap file (magic %x)", h[:4])
	}
	br.Discard(24)
	var n uint64
	var sum byte
	for {
		h, err := br.Peek(16)
		if len(h) == 0 && errors.Is(err, io.EOF) {
			return n, sum, nil
		}
		if err != nil {
			return n, sum, fmt.Errorf("record %d header: %w", n+1, err)
		}
		capLen := int(order.Uint32(h[8:12]))
		if capLen > 1<<18 {
			return n, sum, fmt.Errorf("record %d claims %d bytes", n+1, capLen)
		}
		b, err := br.Peek(16 + capLen)
		if err != nil {
			return n, sum, fmt.Errorf("record %d: %w", n+1, err)
		}
		if capLen > 0 {
			sum ^= b[16] ^ b[len(b)-1]
		}
		br.Discard(16 + capLen)
		n++
	}
}
