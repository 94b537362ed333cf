package handoff

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

var update = flag.Bool("update", false, "rewrite testdata/handoff.golden")

const pcaps = "../../testdata/pcaps"

type sampleLoop struct {
	sample string
	files  []string // as given to the scan: relative to pcaps
	n      int
	loop   report.Loop
	rep    *report.Report
}

// scanSamples scans every sample capture from inside dir (a copy of the
// samples, or the samples themselves) and fills the handoff.
func scanSamples(t *testing.T, dir string) []sampleLoop {
	t.Helper()
	truths, _ := filepath.Glob(filepath.Join(pcaps, "*.truth.json"))
	var out []sampleLoop
	t.Chdir(dir)
	for _, tp := range truths {
		var tr struct{ Files []string }
		b, err := os.ReadFile(filepath.Join(mustAbs(t, pcaps, dir), filepath.Base(tp)))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		res := scan.Run(context.Background(), scan.Files(nil, tr.Files...), scan.Options{
			Detectors: []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}, Shards: 1})
		Fill(res.Report)
		name := strings.TrimSuffix(filepath.Base(tp), ".truth.json")
		for i, l := range res.Report.Loops {
			out = append(out, sampleLoop{sample: name, files: tr.Files, n: i + 1, loop: l, rep: res.Report})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].sample < out[j].sample })
	return out
}

// mustAbs finds the samples directory from inside dir.
func mustAbs(t *testing.T, rel, dir string) string {
	t.Helper()
	if dir == pcaps {
		return "."
	}
	return pcapsAbs
}

var pcapsAbs, _ = filepath.Abs(pcaps)

// TestHandoffGolden keeps the text of every sample loop's filter,
// commands and rules (-update rewrites testdata/handoff.golden).
func TestHandoffGolden(t *testing.T) {
	loops := scanSamples(t, pcaps)
	if len(loops) < 10 {
		t.Fatalf("only %d sample loops", len(loops))
	}
	var b strings.Builder
	for _, s := range loops {
		ws, m := s.loop.Wireshark, s.loop.Mitigation
		fmt.Fprintf(&b, "== %s loop %d (%s)\n", s.sample, s.n, s.loop.Detector)
		fmt.Fprintf(&b, "display filter: %s\ntshark:  %s\neditcap: %s\n", ws.DisplayFilter, ws.Tshark, ws.Editcap)
		if ws.DecodeAs != nil {
			fmt.Fprintf(&b, "decode as: %s\n", ws.DecodeAs.Option)
		}
		fmt.Fprintf(&b, "nft:      %s\niptables: %s\nbpf:      %s\ntcpdump:  %s\nnote:     %s\n\n", m.Nft, m.Iptables, m.BPF, m.Tcpdump, m.Note)
	}
	t.Chdir(filepath.Join(pcapsAbs, "../../pkg/handoff"))
	path := "testdata/handoff.golden"
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./pkg/handoff -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("handoff text differs from %s (go test ./pkg/handoff -update rewrites it):\n%s", path, b.String())
	}
}

// TestBPFCompiles compiles every sample loop's capture filter with
// tcpdump -d, which needs no privilege.
func TestBPFCompiles(t *testing.T) {
	tcpdump := lookTool(t, "tcpdump")
	for _, s := range scanSamples(t, pcaps) {
		out, err := exec.Command(tcpdump, "-d", s.loop.Mitigation.BPF).CombinedOutput()
		if err != nil {
			t.Errorf("%s loop %d: tcpdump -d %q: %v\n%s", s.sample, s.n, s.loop.Mitigation.BPF, err, out)
		}
	}
}

// TestBPFCapturesTheLoop runs each capture filter over its sample with
// tcpdump -r: it must keep every packet the display filter selects, less
// the trigger's (the BPF has no time window).
func TestBPFCapturesTheLoop(t *testing.T) {
	tcpdump := lookTool(t, "tcpdump")
	for _, s := range scanSamples(t, pcaps) {
		if len(s.files) != 1 {
			continue
		}
		// The vlan sample's loop runs in QinQ: its filter must look
		// under two tags by itself.
		bpf := s.loop.Mitigation.BPF
		out, err := exec.Command(tcpdump, "-nr", s.files[0], bpf).Output()
		if err != nil && len(out) == 0 {
			t.Logf("%s: tcpdump cannot read it (%v): not checked", s.sample, err)
			continue
		}
		n := uint64(strings.Count(string(out), "\n"))
		if n < s.loop.Packets {
			t.Errorf("%s loop %d: the BPF keeps %d packets, fewer than the loop's %d", s.sample, s.n, n, s.loop.Packets)
		}
	}
}

// TestRulesParse hands every rule to the kernel's own parser in a fresh
// user and network namespace (unshare -Urn), where an unprivileged user
// may build a ruleset: the printed command lines are run as they are,
// through bash, on an empty ruleset: the nft command makes the table and
// chain it needs. The namespace and its rules vanish with the command.
func TestRulesParse(t *testing.T) {
	unshare := lookTool(t, "unshare")
	lookTool(t, "nft")
	lookTool(t, "iptables")
	if out, err := exec.Command(unshare, "-Urn", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a user namespace here (%v: %s): rules not checked", err, out)
	}
	for _, s := range scanSamples(t, pcaps) {
		m := s.loop.Mitigation
		// On an empty ruleset: the rule makes its table and chain,
		// twice over (a second loop's rule finds them there).
		script := "set -e\n" + m.Nft + "\n" + m.Nft + "\n" + m.Iptables + "\nnft list chain inet pongscan input | grep -c drop | grep -qx 2\n"
		out, err := exec.Command(unshare, "-Urn", "bash", "-c", script).CombinedOutput()
		if err != nil {
			t.Errorf("%s loop %d: %v\n%s\n%s", s.sample, s.n, err, script, out)
		}
	}
}

// TestTsharkSelectsTheLoop runs each sample loop's tshark command as
// printed, through bash, on a copy of the samples: the file it writes
// holds the loop's datagrams and the trigger's, as tshark counts them.
func TestTsharkSelectsTheLoop(t *testing.T) {
	lookTool(t, "tshark")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(pcaps)); err != nil {
		t.Fatal(err)
	}
	// tshark takes a second or two to start: a few samples cover the
	// layouts (IPv4, IPv6, fragments, rotated files, pcapng, cooked
	// capture, a loop without a trigger, a file cut short).
	some := map[string]bool{"machine-pong": true, "ipv6": true, "fragments": true, "rotated": true, "two-linktypes": true,
		"sll2": true, "midloop": true, "cut": true}
	for _, s := range scanSamples(t, dir) {
		if !some[s.sample] {
			continue
		}
		cmd := s.loop.Wireshark.Tshark
		damaged := s.rep.Inputs[0].Error != ""
		if out, err := exec.Command("bash", "-c", cmd).CombinedOutput(); err != nil && !damaged {
			t.Errorf("%s loop %d: %v\n%s\n%s", s.sample, s.n, err, cmd, out)
			continue
		}
		got := countFrames(t, fmt.Sprintf("loop-%d.pcapng", s.n), "udp")
		want := s.loop.Packets
		if s.loop.Trigger.Query != nil {
			want += 2
		}
		if got != want {
			t.Errorf("%s loop %d: tshark wrote %d datagrams, want %d (%d loop packets and the trigger)", s.sample, s.n, got, want, s.loop.Packets)
		}
	}
}

// countFrames counts the frames of file that match filter, as tshark
// reads them.
func countFrames(t *testing.T, file, filter string) uint64 {
	t.Helper()
	args := []string{"-r", file}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return uint64(strings.Count(string(out), "\n"))
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/sbin"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				return filepath.Join(d, name)
			}
		}
		t.Skipf("%s is not installed (.ci/run installs it): not checked", name)
	}
	return p
}
