package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pongscan/pongscan/pkg/report"
)

// TestMergeBoundaries: merge refuses a report of an interrupted scan
// unless --allow-interrupted (and marks the merged report), says that a
// directory is one, and keeps one report file open at a time: 1,100
// reports merge under a limit of 64 open files, on a real process.
func TestMergeBoundaries(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "scan", "-f", "json", "../../testdata/pcaps/machine-pong.pcap")
	if code != ExitLoops {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	rep.Summary.Interrupted = true
	b, _ := json.Marshal(&rep)
	part := filepath.Join(dir, "interrupted.json")
	if err := os.WriteFile(part, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "merge", part); code != ExitTrouble || !strings.Contains(stderr, "--allow-interrupted") {
		t.Errorf("interrupted part: exit %d, %q", code, stderr)
	}
	code, out, stderr = runCLI(t, "merge", "--allow-interrupted", part)
	var merged report.Report
	if code != ExitLoops || json.Unmarshal([]byte(out), &merged) != nil || !merged.Summary.Interrupted {
		t.Errorf("--allow-interrupted: exit %d, interrupted %v, %q", code, merged.Summary.Interrupted, stderr)
	}
	if code, _, stderr := runCLI(t, "merge", dir); code != ExitTrouble || !strings.Contains(stderr, "is a directory") {
		t.Errorf("merge DIR: exit %d, %q", code, stderr)
	}

	// 1,100 reports of one stream's consecutive parts: each its own
	// input file (other times), one loop each.
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("no prlimit")
	}
	bin := pongscanBinary(t, "")
	rep.Summary.Interrupted = false
	parts := filepath.Join(dir, "parts")
	os.Mkdir(parts, 0o755)
	var args []string
	for i := range 1100 {
		r := rep
		r.Inputs = []report.Input{rep.Inputs[0]}
		r.Inputs[0].Path = fmt.Sprintf("part-%04d.pcap", i)
		b, _ := json.Marshal(&r)
		p := filepath.Join(parts, fmt.Sprintf("p%04d.json", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.Command("prlimit", append([]string{"--nofile=64", bin, "merge", "-f", "json"}, args...)...)
	var errb strings.Builder
	cmd.Stderr = &errb
	got, err := cmd.Output()
	if err := json.Unmarshal(got, &merged); err != nil || len(merged.Inputs) != 1100 {
		t.Fatalf("1,100 reports under 64 open files: %v, %d inputs; stderr %s", err, len(merged.Inputs), errb.String())
	}
	_ = err
}

// TestSupervisedCommands: scan and merge run in a supervised worker;
// version, help and completion in the process itself.
func TestSupervisedCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"scan", "x.pcap"}, true}, {[]string{"merge", "a.json"}, true},
		{[]string{"--idle", "scan"}, true}, {[]string{"version"}, false}, {[]string{"--version"}, false},
		{[]string{"help", "scan"}, false}, {[]string{"completion", "bash"}, false}, {nil, false},
		{[]string{"x.pcap"}, true},
	} {
		if got := supervised(tc.args); got != tc.want {
			t.Errorf("%q: supervised %v, want %v", tc.args, got, tc.want)
		}
	}
}
