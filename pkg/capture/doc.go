// Package capture reads packet-capture files: classic pcap (microsecond or
// nanosecond timestamps, either byte order; also Kuznetsov's modified
// pcap) and pcapng (several sections and
// interfaces, each interface with its own link type and timestamp
// resolution), either one optionally gzip-compressed.
//
// The readers are written for hostile input. Every length read from a file is
// checked against a fixed limit before it is used, buffers grow only with
// bytes that actually arrived, and every error is a *Error that names the
// file, the frame being read and its byte offset. Reads are zero-copy: the
// Data slice of a Record is borrowed from the reader's buffer and is valid
// only until the next call to Next; a reader opened with a BlockPool
// (OpenPooled) instead never overwrites its blocks, so records stay valid
// while their Block is retained, and one goroutine can read while others
// decode.
//
// The format is recognised by content: sniff.go for the magic numbers and
// gzip, pcap.go and pcapng.go for the two formats.
//
// Merge combines several readers into one stream in timestamp order, the way
// mergecap does, so rotated capture files are scanned as one capture.
package capture
