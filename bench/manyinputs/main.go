// Command manyinputs writes many small pcap files for the memory
// benchmark of scans of many inputs (bench/manyinputs.sh):
//
//	manyinputs -n 3000 -records 4 -size 262144 [-overlap] -out DIR
//
// Each file holds -records Ethernet/IPv4/UDP frames of -size captured
// bytes (DNS queries padded with zeros), one a second. Without -overlap
// the files follow each other in time, as a rotation does (file i begins
// where file i-1 ended); with it they all cover the same seconds, as
// copies or many sensors would. It prints the paths, one a line.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	n := flag.Int("n", 3000, "files")
	records := flag.Int("records", 4, "records per file")
	size := flag.Int("size", 262144, "captured bytes per record (at most 262144)")
	overlap := flag.Bool("overlap", false, "every file covers the same seconds")
	out := flag.String("out", "", "directory")
	flag.Parse()
	if *out == "" || *size < 60 || *size > 262144 {
		fmt.Fprintln(os.Stderr, "usage: manyinputs -out DIR [-n N] [-records K] [-size BYTES] [-overlap]")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	frame := make([]byte, *size)
	be := binary.BigEndian
	be.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	be.PutUint16(ip[2:], uint16(min(*size-14, 65535)))
	copy(ip[12:], []byte{198, 51, 100, 7})
	copy(ip[16:], []byte{192, 0, 2, 53})
	udp := ip[20:]
	be.PutUint16(udp[2:], 53)
	be.PutUint16(udp[4:], uint16(min(*size-34, 65535)))
	stdout := bufio.NewWriter(os.Stdout)
	defer stdout.Flush()
	for i := range *n {
		p := filepath.Join(*out, fmt.Sprintf("in-%05d.pcap", i))
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		hdr := make([]byte, 24)
		le := binary.LittleEndian
		le.PutUint32(hdr[0:], 0xa1b2c3d4)
		le.PutUint16(hdr[4:], 2)
		le.PutUint16(hdr[6:], 4)
		le.PutUint32(hdr[16:], 262144)
		le.PutUint32(hdr[20:], 1)
		w.Write(hdr)
		t0 := 1700000000 + i**records
		if *overlap {
			t0 = 1700000000
		}
		for k := range *records {
			be.PutUint16(udp[0:], uint16(1024+i%60000))
			be.PutUint16(udp[8:], uint16(k)) // DNS ID
			rec := make([]byte, 16)
			le.PutUint32(rec[0:], uint32(t0+k))
			le.PutUint32(rec[4:], uint32(i%1000))
			le.PutUint32(rec[8:], uint32(*size))
			le.PutUint32(rec[12:], uint32(*size))
			w.Write(rec)
			w.Write(frame)
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		f.Close()
		fmt.Fprintln(stdout, p)
	}
}
