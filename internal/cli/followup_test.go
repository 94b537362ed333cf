package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/report"
)

// The follow-up (the what-if, --extract and the hand-off commands) must
// say about a loop what a scan of its stream alone says, whatever the
// layout: one stream, --each, --stream-by, relative --from/--to, filters,
// many rotated files under a low open-file limit.

// nodeCapture writes one node's capture: an authoritative server with
// planted loops, starting at start.
func nodeCapture(t testing.TB, path string, seed uint64, start time.Time, packets, loops int) *benchgen.Stats {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := benchgen.Write(f, benchgen.Config{Packets: packets, Seed: seed, QPS: 2000, Clients: 300, Loops: loops,
		LoopPackets: 1200, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var eventRef = regexp.MustCompile(`\([^()#]*#[0-9]+, `)

// followPrint is what the follow-up says of a loop, without the names
// that depend on the layout (file#frame of events, loop numbers): the
// what-if's counts and verdicts with their times and ranks, the extract's
// counts.
func followPrint(l *report.Loop) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d<->%s:%d %s %d\n", l.Client.IP, l.Client.Port, l.Server.IP, l.Server.Port, l.Start, l.Packets)
	if r := l.RRL; r != nil {
		fmt.Fprintf(&b, "rrl %s %d/%d note=%q\n", r.Prefix, r.Responses, r.LoopResponses, r.Note)
		ev := func(e *report.RRLEvent) string {
			if e == nil {
				return "-"
			}
			return fmt.Sprintf("%s+%.6f#%d", e.Time, e.AfterS, e.Response)
		}
		for _, s := range r.Scenarios {
			fmt.Fprintf(&b, "  %s/%s stops=%v %s %s %s slipped=%d: %s\n", s.Implementation, s.Setting, s.Stops,
				ev(s.FirstLimited), ev(s.FirstDrop), ev(s.LikelyBy), s.Slipped, eventRef.ReplaceAllString(s.Verdict, "(REF, "))
		}
	}
	if x := l.Extract; x != nil {
		fmt.Fprintf(&b, "extract %d frames %d trigger %d loop %d packets complete=%v err=%q\n", x.Frames, x.TriggerFrames,
			x.LoopFrames, x.LoopPackets, x.Complete, x.Error)
	}
	return b.String()
}

// scanJSON runs the built binary and returns its report.
func scanJSON(t *testing.T, prefix []string, args ...string) *report.Report {
	t.Helper()
	bin := pongscanBinary(t, "")
	argv := append(append(prefix, bin, "scan", "-f", "json", "--progress", "never"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
	}
	if stderr.Len() > 0 && strings.Contains(stderr.String(), "pongscan: ") && !strings.Contains(stderr.String(), "warning") {
		t.Errorf("%v: stderr %s", args, stderr.String())
	}
	return jsonReport(t, stdout.String())
}

// extractedFrames lists a --extract file's frames: time, length and the
// original file#frame's base name.
func extractedFrames(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	for _, c := range readComments(t, path) {
		file, frame, _ := strings.Cut(c, "#")
		_ = frame
		fmt.Fprintln(&b, filepath.Base(file))
	}
	return b.String()
}

func TestFollowUpAgreesAcrossLayouts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	nodes := []struct {
		name  string
		start time.Time
	}{{"ns1", t0}, {"ns2", t0.Add(2 * time.Second)}} // two sensors at once: their files overlap in time
	whole := map[string]string{}
	var chunks []string
	for i, n := range nodes {
		p := filepath.Join(dir, "whole", n.name+".pcap")
		if st := nodeCapture(t, p, uint64(11+i), n.start, 60000, 2); len(st.Loops) != 2 {
			t.Fatalf("%s: %d loops planted", n.name, len(st.Loops))
		}
		whole[n.name] = p
		nd := filepath.Join(dir, "nodes", n.name)
		os.MkdirAll(nd, 0o755)
		chunks = append(chunks, splitInto(t, p, nd, 120)...)
	}

	// What each node's loops are when its capture is scanned alone.
	alone := map[string][]string{}
	aloneFrom := map[string][]string{}
	for _, n := range nodes {
		for _, l := range scanJSON(t, nil, "--extract", filepath.Join(dir, "x-alone-"+n.name), whole[n.name]).Loops {
			alone[n.name] = append(alone[n.name], followPrint(&l))
		}
		for _, l := range scanJSON(t, nil, "--from", "5", "--to", "25", whole[n.name]).Loops {
			aloneFrom[n.name] = append(aloneFrom[n.name], followPrint(&l))
		}
		if len(aloneFrom[n.name]) == 0 {
			t.Fatalf("%s: no loop between 5 s and 25 s", n.name)
		}
	}
	byStream := func(rep *report.Report, name func(*report.Loop) string) map[string][]string {
		out := map[string][]string{}
		for i := range rep.Loops {
			out[name(&rep.Loops[i])] = append(out[name(&rep.Loops[i])], followPrint(&rep.Loops[i]))
		}
		return out
	}
	node := func(l *report.Loop) string { return strings.TrimSuffix(filepath.Base(l.Stream), ".pcap") }
	check := func(what string, got map[string][]string, want map[string][]string) {
		t.Helper()
		for _, n := range nodes {
			g, w := strings.Join(got[n.name], ""), strings.Join(want[n.name], "")
			if g != w {
				t.Errorf("%s, %s:\n%s\nwant (the node scanned alone):\n%s", what, n.name, g, w)
			}
		}
	}

	x := filepath.Join(dir, "x-each")
	each := scanJSON(t, nil, "--each", "--extract", x, whole["ns1"], whole["ns2"])
	check("--each", byStream(each, node), alone)
	// The extracted files hold the loops' frames, each from its own
	// stream's file.
	for i, l := range each.Loops {
		got := extractedFrames(t, filepath.Join(x, fmt.Sprintf("loop-%d.pcapng", i+1)))
		if want := strings.Repeat(filepath.Base(l.Stream)+"\n", int(l.Extract.Frames)); got != want {
			t.Errorf("--each loop %d (%s): its file holds frames of other files:\n%s", i+1, l.Stream, head(got))
		}
	}

	for _, l := range each.Loops {
		for _, cmd := range []string{l.Wireshark.Tshark, l.Wireshark.Editcap} {
			if strings.Count(cmd, "/whole/") != 1 || strings.Contains(cmd, "mergecap") {
				t.Errorf("--each: a loop of %s gets a command reading another file: %s", l.Stream, cmd)
			}
		}
	}
	runCommands(t, "--each", each, x)

	xd := filepath.Join(dir, "x-dir")
	byDir := scanJSON(t, nil, "--stream-by", "dir", "--extract", xd, filepath.Join(dir, "nodes"))
	runCommands(t, "--stream-by dir", byDir, xd)
	check("--stream-by dir", byStream(byDir, func(l *report.Loop) string { return filepath.Base(l.Stream) }), alone)
	for _, l := range byDir.Loops {
		for _, cmd := range []string{l.Wireshark.Tshark, l.Wireshark.Editcap} {
			other := "ns2"
			if strings.HasSuffix(l.Stream, "ns2") {
				other = "ns1"
			}
			if strings.Contains(cmd, "/"+other+"/") {
				t.Errorf("--stream-by dir: a loop of %s gets a command reading %s's files: %s", l.Stream, other, cmd)
			}
		}
	}

	rel := scanJSON(t, nil, "--each", "--from", "5", "--to", "25", whole["ns1"], whole["ns2"])
	check("--each with relative --from/--to", byStream(rel, node), aloneFrom)

	// One node's 120 rotated files under 64 open files.
	if prlimit, err := exec.LookPath("prlimit"); err == nil {
		var list []string
		for _, c := range chunks {
			if strings.Contains(c, "/ns1/") {
				list = append(list, c)
			}
		}
		lf := filepath.Join(dir, "list")
		os.WriteFile(lf, []byte(strings.Join(list, "\n")), 0o644)
		rot := scanJSON(t, []string{prlimit, "--nofile=64"}, "--extract", filepath.Join(dir, "x-rot"), "--files-from", lf)
		check("120 rotated files under --nofile=64", map[string][]string{"ns1": byStream(rot, func(*report.Loop) string { return "ns1" })["ns1"]},
			map[string][]string{"ns1": alone["ns1"]})
	}
}

// runCommands runs every loop's printed tshark and editcap commands, as
// printed, through bash in a directory of their own: tshark's file must
// hold exactly the frames --extract wrote to xdir (tshark reads both),
// and editcap's window, filtered by the printed display filter, the same.
func runCommands(t *testing.T, what string, rep *report.Report, xdir string) {
	t.Helper()
	runCommandsOf(t, what, rep, xdir, nil)
}

// runCommandsOf is runCommands for the loops only accepts (nil: all).
func runCommandsOf(t *testing.T, what string, rep *report.Report, xdir string, only func(l *report.Loop) bool) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Logf("%s: tshark is not installed (.ci/run installs it): the printed commands were not run", what)
		return
	}
	if _, err := exec.LookPath("editcap"); err != nil {
		t.Logf("%s: editcap is not installed: the printed commands were not run", what)
		return
	}
	work := t.TempDir()
	for i, l := range rep.Loops {
		if only != nil && !only(&l) {
			continue
		}
		n := i + 1
		ours := tsharkTimes(t, filepath.Join(xdir, fmt.Sprintf("loop-%d.pcapng", n)))
		for _, c := range []string{l.Wireshark.Tshark, l.Wireshark.Editcap} {
			cmd := exec.Command("bash", "-c", c)
			cmd.Dir = work
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s loop %d: %s: %v\n%s", what, n, c, err, out)
			}
		}
		theirs := tsharkTimes(t, filepath.Join(work, fmt.Sprintf("loop-%d.pcapng", n)))
		if ours != theirs {
			t.Errorf("%s loop %d: the printed tshark command writes other frames than --extract:\n%s\nvs\n%s", what, n, head(theirs), head(ours))
		}
		if lines := uint64(strings.Count(ours, "\n")); lines != l.Extract.Frames || lines == 0 {
			t.Errorf("%s loop %d: tshark reads %d frames of the extract, the report says %d", what, n, lines, l.Extract.Frames)
		}
		win := filepath.Join(work, fmt.Sprintf("loop-%d-window.pcapng", n))
		filtered := filepath.Join(work, fmt.Sprintf("loop-%d-window-filtered.pcapng", n))
		if out, err := exec.Command("tshark", "-r", win, "-2", "-w", filtered, "-Y", l.Wireshark.DisplayFilter).CombinedOutput(); err != nil {
			t.Fatalf("%s loop %d: filtering the editcap window: %v\n%s", what, n, err, out)
		}
		if w := tsharkTimes(t, filtered); w != ours {
			t.Errorf("%s loop %d: the editcap window, filtered, holds other frames than --extract:\n%s\nvs\n%s", what, n, head(w), head(ours))
		}
	}
}

// A signal during the second read (here while --extract writes a loop of
// 400,000 packets): the scan's whole report is printed, valid, its
// follow-up marked interrupted; the exit status is the signal's; no
// partial pcapng or HTML is left behind.
func TestSignalDuringFollowUp(t *testing.T) {
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	capPath := filepath.Join(dir, "long-loop.pcap")
	f, err := os.Create(capPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := benchgen.Write(f, benchgen.Config{Packets: 500000, Seed: 3, QPS: 1000, Clients: 200, Loops: 1,
		LoopPackets: 400000, LoopInterval: 100 * time.Microsecond, LoopShare: 0.9})
	f.Close()
	if err != nil || len(st.Loops) != 1 {
		t.Fatalf("%v, %d loops", err, len(st.Loops))
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(tc.name, func(t *testing.T) {
			x, html := filepath.Join(dir, "x-"+tc.name), filepath.Join(dir, tc.name+".html")
			cmd := exec.Command(bin, "scan", "-f", "json", "--progress", "never", "--extract", x, "--html", html, capPath)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			// The loop's file is being written: the second read runs.
			waitUntil(t, "the second read to write the loop's file", func() bool {
				m, _ := filepath.Glob(filepath.Join(x, ".loop-1-*.pcapng"))
				if len(m) == 0 {
					return false
				}
				fi, err := os.Stat(m[0])
				return err == nil && fi.Size() > 1<<20
			})
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("no exit after the signal")
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr.String())
			}
			rep := jsonReport(t, stdout.String())
			if rep.Summary.Interrupted || !rep.Summary.FollowUpInterrupted || len(rep.Loops) != 1 || rep.Summary.Packets != 500000 {
				t.Fatalf("summary %+v: want the whole scan, its follow-up interrupted", rep.Summary)
			}
			l := rep.Loops[0]
			// The what-if was replayed in the scan: whole. The extract,
			// from the second read, says it was interrupted.
			if l.Extract == nil || !strings.Contains(l.Extract.Error, "interrupted by "+tc.name) ||
				l.RRL == nil || len(l.RRL.Scenarios) != 9 || l.RRL.LoopResponses != 200001 || l.Wireshark == nil {
				t.Errorf("loop's follow-up: extract %+v, what-if %v", l.Extract, l.RRL != nil)
			}
			if m, _ := filepath.Glob(filepath.Join(x, "*loop-*")); len(m) != 0 {
				t.Errorf("files left in the extract directory: %v", m)
			}
			if _, err := os.Stat(html); err == nil {
				t.Error("an HTML report was written")
			}
			if m, _ := filepath.Glob(filepath.Join(dir, ".pongscan-*")); len(m) != 0 {
				t.Errorf("temporary files left: %v", m)
			}
			msg := stderr.String()
			if !strings.Contains(msg, "interrupted by "+tc.name+" during the second read") || strings.Count(msg, "interrupted by") != 1 {
				t.Errorf("stderr %q", msg)
			}
		})
	}
}

// The follow-up's outputs are checked before the scan: a path that
// cannot be written is one line on stderr, said once, before any input
// is read, and the scan does not run.
func TestFollowUpOutputsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, args := range [][]string{
		{"--html", filepath.Join(dir, "no-such-dir", "r.html")},
		{"--html", dir},
		{"--extract", file},
		{"--extract", filepath.Join(file, "sub")},
	} {
		code, out, stderr := runCLI(t, append(append([]string{"scan", "-f", "json"}, args...), pcaps+"machine-pong.pcap")...)
		if code != ExitTrouble || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, args[0]) {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q: want exit 2, no report, one line naming the flag", args, code, len(out), stderr)
		}
	}
}

// TestWhatIfInScanMatchesSecondRead: the what-if replayed in the scan
// itself (followup.Live, the default) says of every loop exactly what a
// replay in a second read of the inputs says (--rrl-second-read), on
// every sample and on generated captures of many loops at once, busy
// resolvers and a seed-rate loop.
func TestWhatIfInScanMatchesSecondRead(t *testing.T) {
	dir := t.TempDir()
	type capture struct {
		name string
		args []string
	}
	var caps []capture
	for name, tr := range samples(t) {
		var files []string
		for _, f := range tr.Files {
			files = append(files, filepath.Join("../../testdata/pcaps", f))
		}
		caps = append(caps, capture{name, files})
	}
	gen := func(name string, cfg benchgen.Config) {
		p := filepath.Join(dir, name+".pcap")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := benchgen.Write(f, cfg); err != nil {
			t.Fatal(err)
		}
		f.Close()
		caps = append(caps, capture{name, []string{p}})
	}
	gen("busy-resolvers", benchgen.Config{Packets: 150000, Seed: 21, QPS: 3000, Clients: 300, Loops: 8, LoopPackets: 2000,
		LoopEvery: 3 * time.Second, LoopClients: 2})
	gen("seed-rate", benchgen.Config{Packets: 200000, Seed: 22, QPS: 2000, Clients: 200, Loops: 1, LoopPackets: 150000,
		LoopInterval: 66667 * time.Nanosecond, LoopShare: 0.8})
	gen("many-at-once", benchgen.Config{Packets: 100000, Seed: 23, QPS: 3000, Clients: 400, Loops: 14, LoopPackets: 3000,
		LoopEvery: 100 * time.Millisecond, LoopClients: 3, LoopShare: 0.5})
	for _, c := range caps {
		for _, shards := range []string{"1", "2", "3"} {
			code, in, _ := runCLI(t, append([]string{"scan", "-f", "json", "--shards", shards}, c.args...)...)
			_, read, _ := runCLI(t, append([]string{"scan", "-f", "json", "--shards", shards, "--rrl-second-read"}, c.args...)...)
			if code == ExitTrouble && strings.TrimSpace(in) == "" {
				continue
			}
			a, b := jsonReport(t, in), jsonReport(t, read)
			if len(a.Loops) != len(b.Loops) {
				t.Fatalf("%s: %d loops, %d with the second read", c.name, len(a.Loops), len(b.Loops))
			}
			for i := range a.Loops {
				if x, y := followPrint(&a.Loops[i]), followPrint(&b.Loops[i]); x != y {
					t.Errorf("%s, %s shards, loop %d: in the scan\n%s\nin a second read\n%s", c.name, shards, i+1, x, y)
				}
			}
		}
	}
}
