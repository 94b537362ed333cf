package scan_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/scan"
)

// capturesDir is the shared corpus of public captures: $PONGSCAN_CAPTURES,
// or shared/captures beside the repository.
func capturesDir() string {
	if d := os.Getenv("PONGSCAN_CAPTURES"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "captures")
}

// manifestRow is one capture of MANIFEST.tsv.
type manifestRow struct {
	file    string // relative to the corpus directory
	format  string // pcap, pcap.gz, pcapng, pcap (nanosecond), snoop, ...
	packets uint64 // as tshark counts them
	status  string // ok, damaged or unsupported, as tshark judges the file
}

func readManifest(t *testing.T, path string) []manifestRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	col := map[string]int{}
	var rows []manifestRow
	for line := 1; sc.Scan(); line++ {
		cells := strings.Split(sc.Text(), "\t")
		if line == 1 {
			for i, c := range cells {
				col[c] = i
			}
			for _, c := range []string{"local_file", "format", "packets", "tshark_status"} {
				if _, ok := col[c]; !ok {
					t.Fatalf("%s has no %s column", path, c)
				}
			}
			continue
		}
		if len(cells) < len(col) {
			t.Fatalf("%s:%d: %d cells, want %d", path, line, len(cells), len(col))
		}
		n, err := strconv.ParseUint(cells[col["packets"]], 10, 64)
		if err != nil {
			t.Fatalf("%s:%d: packets: %v", path, line, err)
		}
		rows = append(rows, manifestRow{file: cells[col["local_file"]], format: cells[col["format"]], packets: n, status: cells[col["tshark_status"]]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestPublicCaptures scans every capture of the shared corpus on its own:
// none holds a loop; every file tshark reads gives tshark's packet count
// with no error; compressed formats pongscan does not read and snoop are
// unsupported; files tshark calls damaged give a positioned error; files
// tshark does not support are unsupported or of an unknown link type.
func TestPublicCaptures(t *testing.T) {
	dir := capturesDir()
	manifest := filepath.Join(dir, "MANIFEST.tsv")
	if _, err := os.Stat(manifest); err != nil {
		t.Skipf("no capture corpus at %s (set PONGSCAN_CAPTURES): %v", dir, err)
	}
	rows := readManifest(t, manifest)
	if len(rows) == 0 {
		t.Fatalf("%s lists no capture", manifest)
	}
	for _, row := range rows {
		t.Run(row.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, row.file)
			res := scan.RunPaths([]string{path}, scan.Options{})
			checkResult(t, path, res)
			s := res.Report.Summary
			if len(res.Report.Loops) > 0 {
				l := res.Report.Loops[0]
				t.Errorf("%d loops reported, the first %+v <-> %+v with %d packets", len(res.Report.Loops), l.Client, l.Server, l.Packets)
			}
			var err error
			if len(res.Errors) > 0 {
				err = res.Errors[0]
			}
			switch {
			case strings.Contains(row.format, "snoop"):
				if !errors.Is(err, capture.ErrUnsupported) {
					t.Errorf("format %q: error %v, want one wrapping capture.ErrUnsupported", row.format, err)
				}
			case strings.Contains(row.format, ".xz"):
				// tshark does not read xz: compare with the file
				// decompressed by xz itself.
				plain := decompressed(t, path)
				want := scan.Run(context.Background(), []scan.Input{scan.Reader("plain", bytes.NewReader(plain))}, scan.Options{Detectors: scan.TestDetectors})
				if err != nil || s.Packets != want.Report.Summary.Packets || s.Packets == 0 {
					t.Errorf("%d packets (error %v), the decompressed file holds %d", s.Packets, err, want.Report.Summary.Packets)
				}
			case row.status == "ok" && strings.HasPrefix(row.format, "pcap"):
				if err != nil {
					t.Errorf("tshark reads it, pongscan says: %v", err)
				}
				if s.Packets != row.packets {
					t.Errorf("%d packets, tshark counts %d", s.Packets, row.packets)
				}
			case row.status == "damaged":
				if err == nil {
					t.Errorf("tshark calls it damaged, pongscan read %d packets without error", s.Packets)
				}
			case row.status == "unsupported":
				if err == nil && s.UnknownLink != s.Packets {
					t.Errorf("tshark does not support it; pongscan gives no error and decodes %d of %d packets", s.Packets-s.UnknownLink, s.Packets)
				}
				if err != nil && !errors.Is(err, capture.ErrUnsupported) {
					t.Errorf("tshark does not support it; pongscan error %v does not wrap capture.ErrUnsupported", err)
				}
			default:
				t.Errorf("manifest row with status %q and format %q", row.status, row.format)
			}
		})
	}
}

// decompressed is the xz file at path decompressed by the xz library.
func decompressed(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := xz.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
