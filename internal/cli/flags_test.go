package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScanFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   ExitCode
		check  func(t *testing.T, o *ScanOptions)
		stderr string
	}{
		{name: "defaults", args: []string{"scan", "a.pcap"}, check: func(t *testing.T, o *ScanOptions) {
			if o.Format != "table" || o.MaxDelay != 500*time.Millisecond || o.Idle != 2*time.Second || o.MinPackets != 10 || o.Progress != "auto" {
				t.Errorf("defaults %+v", o)
			}
			if len(o.DNSPorts) != 1 || o.DNSPorts[0] != 53 {
				t.Errorf("ports %v", o.DNSPorts)
			}
		}},
		{name: "extra DNS ports add to 53", args: []string{"scan", "--dns-port", "5353", "--dns-port", "8053", "a.pcap"}, check: func(t *testing.T, o *ScanOptions) {
			if len(o.DNSPorts) != 3 || o.DNSPorts[1] != 5353 || o.DNSPorts[2] != 8053 {
				t.Errorf("ports %v", o.DNSPorts)
			}
		}},
		{name: "thresholds", args: []string{"scan", "--max-delay", "50ms", "--idle", "5s", "--min-packets", "100", "-f", "csv", "a", "b"}, check: func(t *testing.T, o *ScanOptions) {
			if o.MaxDelay != 50*time.Millisecond || o.Idle != 5*time.Second || o.MinPackets != 100 || o.Format != "csv" || len(o.Files) != 2 {
				t.Errorf("options %+v", o)
			}
		}},
		{name: "bad format", args: []string{"scan", "--format", "xml", "a.pcap"}, code: ExitTrouble, stderr: "--format"},
		{name: "bad port", args: []string{"scan", "--dns-port", "70000", "a.pcap"}, code: ExitTrouble, stderr: "--dns-port"},
		{name: "no file", args: []string{"scan"}, code: ExitTrouble, stderr: "requires at least 1 arg"},
		{name: "unknown flag", args: []string{"scan", "--nope", "a.pcap"}, code: ExitTrouble, stderr: "unknown flag"},
		{name: "bad duration", args: []string{"scan", "--idle", "soon", "a.pcap"}, code: ExitTrouble, stderr: "--idle"},
		{name: "zero idle", args: []string{"scan", "--idle", "0s", "a.pcap"}, code: ExitTrouble, stderr: "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ScanOptions
			var out, errb bytes.Buffer
			root := NewRootCmd(strings.NewReader(""), &out, &errb, func(o *ScanOptions) error { got = o; return nil })
			root.SetArgs(tt.args)
			code := exitOf(root.Execute(), &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if tt.stderr != "" && !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.stderr)
			}
			if tt.check != nil {
				if got == nil {
					t.Fatal("scan did not run")
				}
				tt.check(t, got)
			}
		})
	}
}

func TestHelpDocumentsExitStatus(t *testing.T) {
	code, out, _ := runCLI(t, "scan", "--help")
	if code != ExitOK || !strings.Contains(out, "EXIT STATUS") || !strings.Contains(out, "--max-delay") {
		t.Errorf("help (exit %d) lacks EXIT STATUS or flags:\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "pongscan ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestMissingFileIsTroubleButStillReports(t *testing.T) {
	code, out, stderr := runCLI(t, "scan", "--format", "json", "../../testdata/pcaps/machine-pong.pcap", "/nonexistent/x.pcap")
	if code != ExitTrouble {
		t.Errorf("exit %d, want 2 (trouble wins over loops)", code)
	}
	if !strings.Contains(stderr, "/nonexistent/x.pcap") {
		t.Errorf("stderr %q does not name the file", stderr)
	}
	if !strings.Contains(out, `"loops": [`) || !strings.Contains(out, "22772") {
		t.Errorf("the loop read from the good file is missing from the report:\n%s", out)
	}
}

func TestStdin(t *testing.T) {
	f, err := os.Open("../../testdata/pcaps/machine-pong.pcap.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errb bytes.Buffer
	code := Main([]string{"scan", "--format", "json", "-"}, f, &out, &errb)
	if code != ExitLoops {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	var rep struct {
		Inputs []struct {
			Path   string `json:"path"`
			Format string `json:"format"`
			Gzip   bool   `json:"gzip"`
		} `json:"inputs"`
		Loops []struct {
			Trigger struct {
				Query struct {
					File string `json:"file"`
				} `json:"query"`
			} `json:"trigger"`
		} `json:"loops"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Inputs) != 1 || rep.Inputs[0].Path != "-" || rep.Inputs[0].Format != "pcap" || !rep.Inputs[0].Gzip {
		t.Errorf("inputs %+v", rep.Inputs)
	}
	if len(rep.Loops) != 1 || rep.Loops[0].Trigger.Query.File != "-" {
		t.Errorf("loops %+v", rep.Loops)
	}
}

func TestProgressGoesToStderrOnly(t *testing.T) {
	defer func(d time.Duration) { progressDelay = d }(progressDelay)
	progressDelay = 0
	for _, mode := range []string{"always", "never"} {
		code, out, stderr := runCLI(t, "scan", "--format", "json", "--progress", mode, "../../testdata/pcaps/machine-pong.pcap")
		if code != ExitLoops {
			t.Fatalf("%s: exit %d", mode, code)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("%s: stdout is not one JSON document: %v", mode, err)
		}
		has := strings.Contains(stderr, "packets/s")
		if has != (mode == "always") {
			t.Errorf("--progress %s: stderr %q", mode, stderr)
		}
	}
}

// --max-flows caps the whole scan and is echoed exactly, whatever the
// number of shards (it used to be split over two shards and echoed
// rounded: 3 and 1 both came back as 2). A cap smaller than the number of
// shards runs fewer shards. A full table spares the busy loop while other
// flows are left: a cap of 3 keeps the sample's loop whole; with a cap of
// 1 it is the only flow, is cut when the next flow arrives, and says so.
func TestMaxFlowsEchoedExactly(t *testing.T) {
	for _, tc := range []struct{ flows, shards string }{{"1", "4"}, {"3", "2"}, {"3", "1"}, {"1000", "3"}, {"262144", "8"}} {
		code, out, stderr := runCLI(t, "scan", "-f", "json", "--max-flows", tc.flows, "--shards", tc.shards, "../../testdata/pcaps/machine-pong.pcap")
		if code != ExitLoops {
			t.Fatalf("--max-flows %s: exit %d, stderr %s", tc.flows, code, stderr)
		}
		var rep struct {
			Settings struct {
				MaxFlows int `json:"max_flows"`
			} `json:"settings"`
			Loops []struct {
				Packets int  `json:"packets"`
				Cut     bool `json:"cut_by_flow_cap"`
			} `json:"loops"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(tc.flows)
		if rep.Settings.MaxFlows != n {
			t.Errorf("--max-flows %s --shards %s: settings say %d", tc.flows, tc.shards, rep.Settings.MaxFlows)
		}
		want := "[{300 false}]"
		if n == 1 {
			want = "[{42 true}]"
		}
		if got := fmt.Sprint(rep.Loops); got != want {
			t.Errorf("--max-flows %s --shards %s: loops %s, want %s", tc.flows, tc.shards, got, want)
		}
	}
}
