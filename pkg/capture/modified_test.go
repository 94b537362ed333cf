package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
)

// TestModifiedPcap reads Kuznetsov's modified pcap (magic a1b2cd34, 24-byte
// record headers) as editcap -F modpcap writes it: the same records as the
// classic file it was made from.
func TestModifiedPcap(t *testing.T) {
	classic, err := os.ReadFile("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	mod := append([]byte(nil), classic[:24]...)
	binary.LittleEndian.PutUint32(mod, pcapMagicMod)
	for off := 24; off < len(classic); {
		n := int(binary.LittleEndian.Uint32(classic[off+8:]))
		mod = append(mod, classic[off:off+16]...)
		mod = append(mod, 2, 0, 0, 0, 0x08, 0x00, 0, 0) // ifindex, protocol, packet type, pad
		mod = append(mod, classic[off+16:off+16+n]...)
		off += 16 + n
	}
	read := func(b []byte) (recs []Record, err error) {
		r, err := Open("x", bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		for {
			var rec Record
			if err := r.Next(&rec); err != nil {
				if errors.Is(err, io.EOF) {
					return recs, nil
				}
				return recs, err
			}
			rec.Data = append([]byte(nil), rec.Data...)
			rec.Offset = 0
			recs = append(recs, rec)
		}
	}
	want, err := read(classic)
	if err != nil {
		t.Fatal(err)
	}
	got, err := read(mod)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Time != want[i].Time || !bytes.Equal(got[i].Data, want[i].Data) || got[i].Frame != want[i].Frame {
			t.Fatalf("record %d differs: %+v vs %+v", i+1, got[i], want[i])
		}
	}
	// Cut inside a record's extra header bytes: a positioned cut error.
	if _, err := read(mod[:24+20]); !errors.Is(err, ErrCut) {
		t.Errorf("cut modified pcap: %v, want ErrCut", err)
	}
}
