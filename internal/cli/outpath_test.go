package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOutputPaths: -o and --html never replace what they name but a
// regular file. A FIFO is written in place (its reader gets the report),
// a symbolic link stays a link to the file that gets the report, and a
// path that is one of the inputs is refused before the scan, the capture
// left as it was.
func TestOutputPaths(t *testing.T) {
	sample, err := filepath.Abs("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// A FIFO, read while the scan writes it.
	fifo := filepath.Join(dir, "report.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	code, _, stderr := runCLI(t, "scan", "--format", "json", "-o", fifo, sample)
	if code != ExitLoops {
		t.Fatalf("-o FIFO: exit %d, stderr %q", code, stderr)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("-o FIFO: the FIFO was replaced (%v)", err)
	}
	select {
	case b := <-got:
		if !strings.Contains(b, `"loops"`) {
			t.Errorf("-o FIFO: the reader got %q", b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("-o FIFO: its reader got nothing in 20 s")
	}

	// A symbolic link, for -o and --html.
	for _, flag := range []string{"-o", "--html"} {
		real := filepath.Join(dir, "real"+flag)
		link := filepath.Join(dir, "link"+flag)
		if err := os.WriteFile(real, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		args := []string{"scan", "--format", "json", flag, link, sample}
		if flag == "--html" {
			args = append(args[:3], "-o", filepath.Join(dir, "r.json"), flag, link, sample)
		}
		if code, _, stderr := runCLI(t, args...); code != ExitLoops {
			t.Fatalf("%s link: exit %d, stderr %q", flag, code, stderr)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s link: no longer a symbolic link (%v)", flag, err)
		}
		if b, _ := os.ReadFile(real); len(b) < 100 {
			t.Errorf("%s link: the file it names holds %q", flag, b)
		}
	}

	// The input itself, by another path.
	capture := filepath.Join(dir, "cap.pcap")
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(capture, data, 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "alias.pcap")
	if err := os.Link(capture, other); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-o", "--html"} {
		code, _, stderr := runCLI(t, "scan", flag, other, capture)
		if code != ExitTrouble || !strings.Contains(stderr, "is the input") {
			t.Errorf("%s the input: exit %d, stderr %q", flag, code, stderr)
		}
		if b, _ := os.ReadFile(capture); string(b) != string(data) {
			t.Fatalf("%s the input: the capture changed", flag)
		}
	}
}
