package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/pkg/report"
)

// TestExtractEverySample runs --extract on every sample and reads each
// file back with gopacket's pcapng reader: the frames the report counts,
// nanosecond timestamps, each packet commented with its original
// file#frame, the trigger's frames first.
func TestExtractEverySample(t *testing.T) {
	all := samples(t)
	t.Chdir("../../testdata/pcaps")
	for name, tr := range all {
		dir := t.TempDir()
		_, out, stderr := runCLI(t, append([]string{"scan", "-f", "json", "--extract", dir}, tr.Files...)...)
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, l := range rep.Loops {
			x := l.Extract
			if x == nil || x.Error != "" || !x.Complete {
				t.Errorf("%s loop %d: extract %+v (stderr %s)", name, i+1, x, stderr)
				continue
			}
			if x.LoopPackets != l.Packets {
				t.Errorf("%s loop %d: %d loop packets found again, the scan counted %d", name, i+1, x.LoopPackets, l.Packets)
			}
			wantTrig := uint64(0)
			if l.Trigger.Query != nil {
				wantTrig = 2
			}
			if x.TriggerFrames != wantTrig {
				t.Errorf("%s loop %d: %d trigger frames, want %d", name, i+1, x.TriggerFrames, wantTrig)
			}
			comments := readComments(t, filepath.Join(dir, fmt.Sprintf("loop-%d.pcapng", i+1)))
			if uint64(len(comments)) != x.Frames {
				t.Errorf("%s loop %d: the file holds %d packets, the report says %d", name, i+1, len(comments), x.Frames)
				continue
			}
			first := l.FirstPacket
			if l.Trigger.Query != nil {
				first = l.Trigger.Query.Packet
			}
			if want := fmt.Sprintf("%s#%d", first.File, first.Frame); comments[0] != want {
				t.Errorf("%s loop %d: first packet's comment %q, want %q", name, i+1, comments[0], want)
			}
		}
	}
}

func readComments(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for {
		_, _, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c := ""
		if len(opts.Comments) > 0 {
			c = opts.Comments[0]
		}
		out = append(out, c)
	}
}

// TestExtractMatchesTshark is the check: for samples covering
// every layout, the extracted file holds exactly the frames that the
// report's own tshark command selects from the original capture, with the
// same timestamps, as tshark reads both.
func TestExtractMatchesTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../testdata/pcaps")); err != nil {
		t.Fatal(err)
	}
	all := samples(t)
	t.Chdir(dir)
	for _, name := range []string{"machine-pong", "ipv6", "fragments", "rotated", "two-linktypes", "sll2", "midloop", "vlan", "two-loops", "nanosecond"} {
		tr := all[name]
		x := filepath.Join(dir, "x-"+name)
		_, out, _ := runCLI(t, append([]string{"scan", "-f", "json", "--extract", x}, tr.Files...)...)
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		for i, l := range rep.Loops {
			if res, err := exec.Command("bash", "-c", l.Wireshark.Tshark).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, res)
			}
			ours := tsharkTimes(t, filepath.Join(x, fmt.Sprintf("loop-%d.pcapng", i+1)))
			theirs := tsharkTimes(t, fmt.Sprintf("loop-%d.pcapng", i+1))
			if ours != theirs {
				t.Errorf("%s loop %d: --extract and the tshark command differ:\n%s\nvs\n%s", name, i+1, head(ours), head(theirs))
			}
			if n := uint64(strings.Count(ours, "\n")); n != l.Extract.Frames {
				t.Errorf("%s loop %d: tshark reads %d frames, the report says %d", name, i+1, n, l.Extract.Frames)
			}
		}
	}
}

// tsharkTimes lists a file's frames as tshark reads them: timestamp,
// encapsulation and length.
func tsharkTimes(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.encap_type", "-e", "frame.len").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	return string(out)
}

func head(s string) string {
	lines := strings.SplitN(s, "\n", 6)
	return strings.Join(lines[:min(len(lines), 5)], "\n")
}
