package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pongscan/pongscan/pkg/scan"
)

// displayCols counts terminal columns: every rune of pongscan's output is
// one column wide except East Asian wide ones, which the samples do not
// hold.
func displayCols(s string) int { return utf8.RuneCountInString(s) }

// TestReportFitsTerminal prints every sample (and all of them at once) on
// terminals of several widths: no line may be wider than the terminal.
func TestReportFitsTerminal(t *testing.T) {
	all := samples(t)
	t.Chdir("../../testdata/pcaps")
	var every []string
	for _, tr := range all {
		every = append(every, tr.Files...)
	}
	for _, width := range []string{"60", "80", "100", "119", "120", "160"} {
		t.Setenv(forceTTYEnv, width)
		for name, tr := range all {
			_, out, _ := runCLI(t, append([]string{"scan"}, tr.Files...)...)
			checkWidth(t, name+" at "+width, out, width)
		}
		_, out, _ := runCLI(t, append([]string{"scan"}, every...)...)
		checkWidth(t, "all samples at "+width, out, width)
	}
}

func checkWidth(t *testing.T, what, out, width string) {
	t.Helper()
	w := 0
	for _, c := range width {
		w = w*10 + int(c-'0')
	}
	for i, ln := range strings.Split(out, "\n") {
		if n := displayCols(ln); n > w {
			t.Errorf("%s: line %d is %d columns wide:\n%s", what, i+1, n, ln)
			return
		}
	}
}

// TestTerminalGoldens keeps the terminal layouts: compact at 80 columns,
// full at 200, for the seed sample and the IPv6 one (-update rewrites).
func TestTerminalGoldens(t *testing.T) {
	t.Chdir("../../testdata/pcaps")
	for _, tc := range []struct{ name, width string }{{"machine-pong", "80"}, {"ipv6", "80"}, {"two-loops", "200"}} {
		t.Setenv(forceTTYEnv, tc.width)
		_, out, _ := runCLI(t, "scan", tc.name+".pcap")
		golden(t, tc.name+"."+tc.width+"col.txt", out, false)
	}
}

func TestPlainOutputHasNoBoxDrawing(t *testing.T) {
	_, out, _ := runCLI(t, "scan", "../../testdata/pcaps/machine-pong.pcap")
	if strings.ContainsAny(out, "┌│─") {
		t.Errorf("output to a non-terminal has box drawing:\n%s", out)
	}
	if !strings.Contains(out, "#\tCLIENT\tSERVER\tSTART (UTC)") || !strings.Contains(out, "1\t198.51.100.200:22772\t192.0.2.1:53\t") {
		t.Errorf("output to a non-terminal is not tab-separated rows:\n%s", out)
	}
}

func TestHeadlineWhenNothingRead(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan", "/nonexistent/x.pcap"}, "Nothing scanned: the input could not be read.\n"},
		// A named file that is not a capture is an input that could not
		// be read (a directory is walked: issue 10).
		{[]string{"scan", "/nonexistent/x.pcap", "../../README.md"}, "Nothing scanned: none of the 2 inputs could be read.\n"},
		{[]string{"scan", "/nonexistent/x.pcap", "../../testdata/pcaps/machine-pong.pcap"}, "1 machine-pong loop found (1 of 2 inputs could not be read).\n"},
		{[]string{"scan", "../../testdata/pcaps/cut.pcap"}, "(1 read only up to an error).\n"},
	}
	for _, tt := range tests {
		_, out, _ := runCLI(t, tt.args...)
		first, _, _ := strings.Cut(out, "\n")
		if !strings.HasSuffix(first+"\n", tt.want) {
			t.Errorf("%v: headline %q, want %q", tt.args, first, tt.want)
		}
	}
}

func TestProgressText(t *testing.T) {
	s := scan.Progress{Bytes: 750e6, TotalBytes: 1500e6, Packets: 5_000_000, Elapsed: 2 * time.Second}
	tests := []struct {
		width int
		want  string
	}{
		{0, "50%, 750.0 MB of 1.50 GB, 5000000 packets, 375.0 MB/s, 2500000 packets/s, ETA 2s"},
		{81, "50%, 750.0 MB of 1.50 GB, 5000000 packets, 375.0 MB/s, 2500000 packets/s, ETA 2s"},
		{80, "50%, 750.0 MB of 1.50 GB, 5000000 packets, 375.0 MB/s, ETA 2s"},
		{60, "50%, 750.0 MB of 1.50 GB, 5000000 packets, ETA 2s"},
		{40, "50%, 750.0 MB of 1.50 GB, ETA 2s"},
		{20, "50%, ETA 2s"},
		{8, "50%"},
		{3, "50"},
	}
	for _, tt := range tests {
		got := progressText(s, tt.width)
		if got != tt.want {
			t.Errorf("width %d: %q, want %q", tt.width, got, tt.want)
		}
		if tt.width > 0 && len(got) >= tt.width {
			t.Errorf("width %d: %d columns leave no free last column", tt.width, len(got))
		}
	}
	if got := progressText(scan.Progress{Bytes: 1e6, Packets: 10, Elapsed: time.Second}, 0); got != "1.0 MB read, 10 packets, 1.0 MB/s, 10 packets/s" {
		t.Errorf("stdin: %q", got)
	}
}

func TestProgressLineRedrawsAndClears(t *testing.T) {
	var b bytes.Buffer
	p := &progressLine{w: &b, width: 50}
	p.update(scan.Progress{Bytes: 1, Packets: 1, Elapsed: 500 * time.Millisecond})
	if b.Len() != 0 {
		t.Fatalf("shown before a second had passed: %q", b.String())
	}
	p.update(scan.Progress{Bytes: 2e6, Packets: 100, Elapsed: 2 * time.Second})
	p.update(scan.Progress{Bytes: 4e6, Packets: 200, Elapsed: 3 * time.Second})
	p.done()
	out := b.String()
	if strings.Contains(out, "\n") {
		t.Errorf("a newline leaves a line behind: %q", out)
	}
	if strings.Count(out, "\r") != 3 || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("want two redraws in place and a clearing: %q", out)
	}
	for _, ln := range strings.Split(out, "\r") {
		if n := len(strings.TrimSuffix(ln, "\x1b[K")); n >= 50 {
			t.Errorf("line of %d columns on a 50-column terminal: %q", n, ln)
		}
	}
	var quiet bytes.Buffer
	q := &progressLine{w: &quiet}
	q.update(scan.Progress{Elapsed: 100 * time.Millisecond})
	q.done()
	if quiet.Len() != 0 {
		t.Errorf("a run under a second printed %q", quiet.String())
	}
}

// TestWrappedCommandsRunAsPrinted copies the seed sample to a file name
// built to break a careless command line, prints the report on narrow
// terminals, and runs the tshark command as wrapped there, lines and all,
// through bash: it must read that file and write the loop, and nothing
// in the name may run.
func TestWrappedCommandsRunAsPrinted(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	name := "cap $(touch pwned) it's\n\x1b[31m.pcap"
	b, err := os.ReadFile("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, width := range []string{"60", "80"} {
		t.Setenv(forceTTYEnv, width)
		_, out, _ := runCLI(t, "scan", name)
		checkWidth(t, "hostile name at "+width, out, width)
		lines := strings.Split(out, "\n")
		var cmd []string
		for i, ln := range lines {
			if strings.HasPrefix(ln, "    tshark ") {
				for _, l := range lines[i:] {
					if strings.HasPrefix(l, "    the time window") {
						break
					}
					cmd = append(cmd, l)
				}
				break
			}
		}
		if len(cmd) < 2 {
			t.Fatalf("at %s columns the tshark command is not wrapped:\n%s", width, out)
		}
		os.Remove("loop-1.pcapng")
		script := strings.Join(cmd, "\n")
		if res, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("the command as printed at %s columns fails: %v\n%s\n%s", width, err, script, res)
		}
		n, err := exec.Command("tshark", "-r", "loop-1.pcapng", "-Y", "udp").Output()
		if err != nil || strings.Count(string(n), "\n") != 302 {
			t.Errorf("at %s columns: the command wrote %d datagrams, want 302 (%v)", width, strings.Count(string(n), "\n"), err)
		}
		if _, err := os.Stat("pwned"); err == nil {
			t.Fatalf("the file name ran a command")
		}
	}
}

// TestCompactInputsKeepTimestamps checks the compact Inputs grid at 80
// columns: each input's first and last times whole on their lines (an
// error column once squeezed them into three pieces each), and a failed
// input's error in a paragraph under the grid.
func TestCompactInputsKeepTimestamps(t *testing.T) {
	t.Chdir("../../testdata/pcaps")
	t.Setenv(forceTTYEnv, "80")
	stamp := regexp.MustCompile(`│ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z │`)
	for _, tc := range []struct {
		file      string
		wantError bool
	}{{"machine-pong.pcap", false}, {"cut.pcap", true}} {
		_, out, _ := runCLI(t, "scan", tc.file)
		_, inputs, _ := strings.Cut(out, "\nInputs:\n")
		inputs, _, _ = strings.Cut(inputs, "\nSummary:")
		if n := len(stamp.FindAllString(inputs, -1)); n != 2 {
			t.Errorf("%s: %d whole timestamps in the Inputs grid, want 2:\n%s", tc.file, n, inputs)
		}
		if got := strings.Contains(inputs, "  error: "+tc.file+": "); got != tc.wantError {
			t.Errorf("%s: error paragraph %v, want %v:\n%s", tc.file, got, tc.wantError, inputs)
		}
	}
}
