package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pongscan/pongscan/pkg/capture"
)

// A pooled reader's records keep their bytes after later calls to Next
// while their blocks are retained, and read exactly what an ordinary
// reader reads: same records, same bytes, same final error. Blocks of
// 4 KiB force many moves to fresh blocks, records straddling them, and
// growth for records larger than a block.
func TestPooledRecordsStayValid(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	if len(paths) < 5 {
		t.Fatal("no sample captures")
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, wantErr := readAllRecs(t, raw, nil)
			for _, size := range []int{4 << 10, 64 << 10} {
				pool := capture.NewBlockPool(size, 2)
				got, gotErr := readAllRecs(t, raw, pool)
				if len(got) != len(want) {
					t.Fatalf("block size %d: %d records, want %d", size, len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i].Data, want[i].Data) || got[i].Frame != want[i].Frame || got[i].Time != want[i].Time {
						t.Fatalf("block size %d: record %d differs", size, i)
					}
				}
				if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
					t.Errorf("block size %d: error %v, want %v", size, gotErr, wantErr)
				}
				for _, r := range got {
					if r.Block != nil {
						r.Block.Release()
					}
				}
			}
		})
	}
}

// readAllRecs reads every record. With a pool it retains each record's block
// and keeps Data as returned (no copy), so a reused block shows up as
// changed bytes; without one it copies.
func readAllRecs(t *testing.T, raw []byte, pool *capture.BlockPool) ([]capture.Record, error) {
	t.Helper()
	var r *capture.Reader
	var err error
	if pool != nil {
		r, err = capture.OpenPooled("x", bytes.NewReader(raw), pool)
	} else {
		r, err = capture.Open("x", bytes.NewReader(raw))
	}
	if err != nil {
		return nil, err
	}
	var out []capture.Record
	for {
		var rec capture.Record
		err := r.Next(&rec)
		if err != nil {
			if pool != nil {
				r.Release()
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
		if pool != nil {
			if rec.Block == nil && rec.LinkType != capture.NonPacket {
				t.Fatal("pooled record without a block")
			}
			if rec.Block != nil {
				rec.Block.Retain(1)
			}
		} else {
			rec.Data = append([]byte(nil), rec.Data...)
		}
		out = append(out, rec)
	}
}

// A block goes back to its pool only when its last reference is dropped,
// and releasing it once too often is a bug that panics.
func TestBlockReferences(t *testing.T) {
	var recs []pcapRec
	for i := range 200 {
		recs = append(recs, pcapRec{sec: uint32(i), data: bytes.Repeat([]byte{byte(i)}, 100)})
	}
	raw := pcapFile(binary.LittleEndian, false, 1, recs...)
	pool := capture.NewBlockPool(1024, 4)
	r, err := capture.OpenPooled("x", bytes.NewReader(raw), pool)
	if err != nil {
		t.Fatal(err)
	}
	var first capture.Record
	if err := r.Next(&first); err != nil {
		t.Fatal(err)
	}
	first.Block.Retain(1)
	for {
		var rec capture.Record
		if err := r.Next(&rec); err != nil {
			break
		}
	}
	r.Release()
	if !bytes.Equal(first.Data, bytes.Repeat([]byte{0}, 100)) {
		t.Fatal("a retained block was reused")
	}
	first.Block.Release()
	defer func() {
		if recover() == nil {
			t.Error("releasing a block once too often did not panic")
		}
	}()
	first.Block.Release()
}
