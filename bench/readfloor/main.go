// Command readfloor is the read floor of pongscan's benchmarks: the least
// work any tool must do to look at every packet of a classic pcap file. It
// reads each record (16-byte header and data) through a 1 MiB bufio.Reader
// without copying it, touches the data by xoring its first and last bytes
// into a checksum, and prints the packet count and the seconds taken:
//
//	readfloor [-pcapgo | -capture] FILE...
//
// No gopacket, no decoding. A gzip-compressed file is decompressed with
// compress/gzip, which makes it the decompression floor instead. "-"
// reads standard input: `zstd -dc FILE | readfloor -` is the floor behind
// a command-line decompressor.
//
// With -capture the records are read by pongscan's own reader
// (pkg/capture), which decompresses gzip, zstd, lz4, xz and bzip2 in the
// process: compared with `TOOL -dc FILE | readfloor -` it measures the
// decompression libraries against their command-line tools.
//
// With -pcapgo the loop reads records with gopacket's pcapgo.Reader and
// ZeroCopyReadPacketData (over the same 1 MiB bufio.Reader) and touches
// them the same way: the bare Go loop the design card's library gives,
// and the floor issue 3 measured ("about 20 M packets/s" on its 2-core
// machine, "pcapgo's zero-copy read about 40 ns").
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/pkg/capture"
)

func main() {
	usePcapgo := flag.Bool("pcapgo", false, "read records with gopacket's pcapgo.Reader.ZeroCopyReadPacketData")
	useCapture := flag.Bool("capture", false, "read records with pongscan's pkg/capture (any compression)")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: readfloor [-pcapgo] FILE...")
		os.Exit(2)
	}
	rc := 0
	for _, p := range flag.Args() {
		start := time.Now()
		n, sum, err := readFile(p, *usePcapgo, *useCapture)
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

func readFile(path string, usePcapgo, useCapture bool) (uint64, byte, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return 0, 0, err
		}
		defer f.Close()
	}
	if useCapture {
		return readCapture(path, f)
	}
	if usePcapgo {
		return readPcapgo(f)
	}
	return read(f)
}

// readCapture is read through pongscan's reader.
func readCapture(name string, r io.Reader) (uint64, byte, error) {
	cr, err := capture.OpenSize(name, r, 256<<10)
	if err != nil {
		return 0, 0, err
	}
	var n uint64
	var sum byte
	var rec capture.Record
	for {
		err := cr.Next(&rec)
		if errors.Is(err, io.EOF) {
			return n, sum, nil
		}
		if err != nil {
			return n, sum, err
		}
		if len(rec.Data) > 0 {
			sum ^= rec.Data[0] ^ rec.Data[len(rec.Data)-1]
		}
		n++
	}
}

// readPcapgo is read through gopacket's pcapgo reader.
func readPcapgo(r io.Reader) (uint64, byte, error) {
	pr, err := pcapgo.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	var n uint64
	var sum byte
	for {
		data, _, err := pr.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return n, sum, nil
		}
		if err != nil {
			return n, sum, fmt.Errorf("record %d: %w", n+1, err)
		}
		if len(data) > 0 {
			sum ^= data[0] ^ data[len(data)-1]
		}
		n++
	}
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
