package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pongscan/pongscan/internal/supervise"
	"github.com/pongscan/pongscan/pkg/report"
)

// TestMergeHostileReportsRunNothing: a report from another machine of
// the fleet carries commands of its own (tshark, editcap, nft, iptables,
// tcpdump) and names built to break out of quotes. merge prints none of
// its strings as commands: every command of the merged report is pasted
// into bash, in a scratch directory with stub tools first on PATH, and
// nothing the report injected runs.
func TestMergeHostileReportsRunNothing(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	sample, err := filepath.Abs("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scratch := filepath.Join(dir, "scratch")
	stubs := filepath.Join(dir, "stubs")
	for _, d := range []string{scratch, stubs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A capture under a name that breaks out of every kind of quote.
	hostile := filepath.Join(dir, "c'$(touch PWNED-name)'`touch PWNED-tick`\";touch PWNED-semi;\".pcap")
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "scan", "--format", "json", "--stream-name", "n$(touch PWNED-stream)", hostile)
	if code != ExitLoops {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Loops) == 0 {
		t.Fatalf("scan report: %v, %d loops", err, len(rep.Loops))
	}
	// The crafted copy: commands replaced by attacks.
	l := &rep.Loops[0]
	if l.Wireshark == nil || l.Mitigation == nil {
		t.Fatal("the scan gave no hand-off")
	}
	l.Wireshark.Tshark = "touch PWNED-tshark"
	l.Wireshark.Editcap = "touch PWNED-editcap"
	l.Mitigation.Nft = "iptables -F INPUT; touch PWNED-nft"
	l.Mitigation.Iptables = "touch PWNED-iptables"
	l.Mitigation.Tcpdump = "touch PWNED-tcpdump"
	l.Mitigation.BPF = "udp' ; touch PWNED-bpf; '"
	crafted, err := json.Marshal(&rep)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "crafted.json")
	if err := os.WriteFile(path, crafted, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(t, "merge", "--format", "json", path)
	if code != ExitLoops {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	var merged report.Report
	if err := json.Unmarshal([]byte(out), &merged); err != nil {
		t.Fatal(err)
	}
	// Stub tools that do nothing but note that they ran.
	for _, tool := range []string{"tshark", "editcap", "mergecap", "nft", "iptables", "ip6tables", "tcpdump", "capinfos"} {
		script := "#!/bin/sh\necho \"$0 $*\" >> " + filepath.Join(dir, "ran.log") + "\n"
		if err := os.WriteFile(filepath.Join(stubs, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var cmds []string
	for _, l := range merged.Loops {
		if l.Wireshark != nil {
			cmds = append(cmds, l.Wireshark.Tshark, l.Wireshark.Editcap)
		}
		if l.Mitigation != nil {
			cmds = append(cmds, l.Mitigation.Nft, l.Mitigation.Iptables, l.Mitigation.Tcpdump)
		}
	}
	if len(cmds) < 5 {
		t.Fatalf("merge printed %d commands", len(cmds))
	}
	for _, c := range cmds {
		if c == "" || strings.Contains(c, "PWNED-tshark") || strings.Contains(c, "PWNED-nft") {
			t.Errorf("merge printed the report's own command: %q", c)
			continue
		}
		cmd := exec.Command("bash", "-c", c)
		cmd.Dir = scratch
		cmd.Env = append(os.Environ(), "PATH="+stubs+":"+os.Getenv("PATH"))
		cmd.CombinedOutput() // a stub's exit or a multi-line rule's error does not matter; what ran does
	}
	if ents, _ := os.ReadDir(scratch); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("pasting merge's commands made %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran.log")); err != nil {
		t.Errorf("no stub ran: the commands were not run (%v)", err)
	}
}

// TestRootVIsNotVersion: -v is scan's --verbose. `pongscan -v FILE`
// printed the version and exited 0 without scanning anything; it is a
// usage error now, and --version still prints the version.
func TestRootVIsNotVersion(t *testing.T) {
	code, out, stderr := runCLI(t, "-v", "../../testdata/pcaps/machine-pong.pcap")
	if code != ExitTrouble || out != "" || !strings.Contains(stderr, "scan -v") {
		t.Errorf("pongscan -v FILE: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if code, out, _ := runCLI(t, "--version"); code != ExitOK || !strings.Contains(out, "pongscan") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

// TestSupervisorExitTable: the supervisor's failure status is the exit
// table's "internal failure".
func TestSupervisorExitTable(t *testing.T) {
	if supervise.ExitInternal != int(ExitInternal) {
		t.Errorf("supervise.ExitInternal %d, cli.ExitInternal %d", supervise.ExitInternal, ExitInternal)
	}
}
