package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "pongscan (devel) (revision unknown: built without VCS information)"},
		{"work tree without vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			"pongscan (devel) (revision unknown: built without VCS information, go1.26.8)"},
		{"git build", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, true,
			"pongscan (devel) (revision 0123456789abcdef0123456789abcdef01234567 with uncommitted changes, 2026-01-02T03:04:05Z, go1.26.8)"},
		{"go install at a tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, true,
			"pongscan v1.2.3 (revision unknown: built without VCS information, go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readBuildInfo(func() (*debug.BuildInfo, bool) { return tt.bi, tt.ok }).String()
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestVersionFromGitBuild commits this source tree, as it is, to a
// fresh git repository, builds pongscan there with VCS stamping on (as
// `go build` does in a git checkout) and checks that `version`,
// `--version` and the JSON report name that commit.
func TestVersionFromGitBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, p := range []string{"go.mod", "go.sum", "cmd", "internal", "pkg"} {
		if err := os.CopyFS(filepath.Join(src, p), os.DirFS(filepath.Join("../..", p))); err != nil {
			// CopyFS copies a directory; a file is copied by hand.
			b, rerr := os.ReadFile(filepath.Join("../..", p))
			if rerr != nil {
				t.Fatal(err)
			}
			_ = os.MkdirAll(src, 0o755)
			if err := os.WriteFile(filepath.Join(src, p), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", src, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "--quiet")
	git("add", "-A")
	git("commit", "--quiet", "-m", "snapshot")
	rev := git("rev-parse", "HEAD")
	bin := filepath.Join(dir, "pongscan")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/pongscan")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.HasPrefix(string(out), "pongscan ") || !strings.Contains(string(out), "(revision "+rev+", ") {
			t.Errorf("%v printed %q, want the revision %s", args, out, rev)
		}
	}
	sample, _ := filepath.Abs("../../testdata/pcaps/machine-pong.pcap")
	out, _ := exec.Command(bin, "scan", "-f", "json", sample).Output()
	var rep struct {
		Tool struct{ Name, Version, Revision string }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Tool.Name != "pongscan" || rep.Tool.Version == "" || rep.Tool.Revision != rev {
		t.Errorf("tool %+v, want pongscan at %s", rep.Tool, rev)
	}
}

func TestBareCaptureSuggestsScan(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"capture.pcap"}, `"capture.pcap" is not a command; to scan it, run: pongscan scan capture.pcap`},
		{[]string{"my file.pcapng", "b.pcap"}, `run: pongscan scan 'my file.pcapng' b.pcap`},
		{[]string{"../../testdata/pcaps"}, `run: pongscan scan ../../testdata/pcaps`},
		{[]string{"$(reboot).pcap"}, `run: pongscan scan '$(reboot).pcap'`},
		{[]string{"scna"}, "Did you mean this?\n\tscan"},
	}
	for _, tt := range tests {
		code, out, stderr := runCLI(t, tt.args...)
		if code != ExitTrouble || out != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, stderr, tt.want)
		}
	}
	if code, out, _ := runCLI(t); code != ExitOK || !strings.Contains(out, "Available Commands") {
		t.Errorf("bare pongscan: exit %d, %q", code, out)
	}
}

func TestCompletionOffersValues(t *testing.T) {
	for _, tc := range []struct {
		flag string
		want []string
	}{{"--format", []string{"table", "json", "jsonl", "csv"}}, {"--progress", []string{"auto", "always", "never"}},
		{"--csv-table", []string{"loops", "inputs"}}, {"--stream-by", []string{"dir"}}} {
		code, out, _ := runCLI(t, "__complete", "scan", tc.flag, "")
		if code != ExitOK {
			t.Fatalf("%s: exit %d", tc.flag, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w+"\t") {
				t.Errorf("completion of %s lacks %q:\n%s", tc.flag, w, out)
			}
		}
		if !strings.Contains(out, ":4") { // ShellCompDirectiveNoFileComp
			t.Errorf("completion of %s offers files too:\n%s", tc.flag, out)
		}
	}
}

// TestCompletedFormatsAreAccepted checks that every --format value shell
// completion offers is one scan accepts.
func TestCompletedFormatsAreAccepted(t *testing.T) {
	for _, v := range formatValues {
		f, _, _ := strings.Cut(v, "\t")
		if code, _, stderr := runCLI(t, "scan", "-f", f, "--progress", "never", "../../testdata/pcaps/bounce.pcap"); code != ExitOK {
			t.Errorf("-f %s: exit %d: %s", f, code, stderr)
		}
	}
}

func TestFormatIsCaseInsensitiveAndPortsEchoedOnce(t *testing.T) {
	code, out, stderr := runCLI(t, "scan", "-f", "JSON", "--progress", "Never", "--dns-port", "53", "--dns-port", "5353", "--dns-port", "5353",
		"--flow-timeout", "7s", "../../testdata/pcaps/machine-pong.pcap")
	if code != ExitLoops {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Tool     map[string]any
		Settings map[string]any
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-f JSON did not print JSON: %v", err)
	}
	if got := rep.Settings["dns_ports"]; len(got.([]any)) != 2 {
		t.Errorf("dns_ports %v, want [53 5353]", got)
	}
	if rep.Settings["flow_timeout_s"] != 7.0 {
		t.Errorf("flow_timeout_s %v", rep.Settings["flow_timeout_s"])
	}
	if rep.Tool["name"] != "pongscan" || rep.Tool["version"] == "" {
		t.Errorf("tool %v", rep.Tool)
	}
}
