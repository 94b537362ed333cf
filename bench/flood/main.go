// Command flood writes a capture of one-packet UDP flows: DNS queries, each
// from its own client address and port, none answered. It is the flow-table
// flood of the hostile-input benchmark: pongscan must keep its memory
// bounded however many flows it sees.
//
//	go run ./bench/flood -flows 2000000 -rate 1000000 -out /tmp/flood.pcap
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	flows := flag.Int("flows", 2_000_000, "number of one-packet flows")
	rate := flag.Float64("rate", 1_000_000, "packets per second of capture time")
	out := flag.String("out", "", "output pcap file")
	flag.Parse()
	if *out == "" || *flows <= 0 || *rate <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, *flows, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func write(path string, n int, rate float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	w.Write(hdr)

	query := []byte("\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01")
	frame := make([]byte, 14+20+8+len(query))
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(query)))
	copy(ip[16:20], []byte{192, 0, 2, 53})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(query)))
	copy(udp[8:], query)

	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := make([]byte, 16)
	for i := 0; i < n; i++ {
		// Client 10.x.y.z, port 1024 + i/2^24: every packet a new flow.
		ip[12], ip[13], ip[14], ip[15] = 10, byte(i>>16), byte(i>>8), byte(i)
		binary.BigEndian.PutUint16(udp[0:], uint16(1024+i>>24))
		binary.BigEndian.PutUint16(udp[8:], uint16(i)) // DNS ID
		t := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		binary.LittleEndian.PutUint32(rec[0:], uint32(t.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(t.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		w.Write(rec)
		w.Write(frame)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
