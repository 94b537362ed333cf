package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/report"
)

const pcaps = "../../testdata/pcaps/"

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsonReport(t *testing.T, out string) *report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
	}
	return &r
}

// loopLine is what a loop must keep however the capture was cut or
// grouped.
func loopLine(l report.Loop) string {
	return fmt.Sprintf("%s:%d<->%s:%d %s..%s %d ongoing=%v", l.Client.IP, l.Client.Port, l.Server.IP, l.Server.Port,
		l.Start, l.End, l.Packets, l.OngoingAtEnd)
}

// TestEachCopies: --each over two copies of one capture reports two loops
// with the original counts, one per stream; without it, one stream
// doubles the loop, with a warning on stderr and in the report.
func TestEachCopies(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a", "cap.pcap"), filepath.Join(dir, "b", "cap.pcap")
	copyFile(t, pcaps+"machine-pong.pcap", a)
	copyFile(t, pcaps+"machine-pong.pcap", b)
	_, single, _ := runCLI(t, "scan", "-f", "json", pcaps+"machine-pong.pcap")
	want := jsonReport(t, single).Loops[0]

	code, out, stderr := runCLI(t, "scan", "-f", "json", "--each", a, b)
	if code != ExitLoops {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	r := jsonReport(t, out)
	if len(r.Loops) != 2 {
		t.Fatalf("%d loops, want 2", len(r.Loops))
	}
	for i, l := range r.Loops {
		// Streams are named by path relative to the directory that
		// holds both.
		if loopLine(l) != loopLine(want) || l.Stream != []string{"a/cap.pcap", "b/cap.pcap"}[i] || l.PeakPPS != want.PeakPPS {
			t.Errorf("loop %d in stream %q: %s, want %s", i, l.Stream, loopLine(l), loopLine(want))
		}
	}
	if r.Inputs[0].Stream != "a/cap.pcap" || r.Inputs[1].Stream != "b/cap.pcap" || r.Inputs[0].Path != a {
		t.Errorf("inputs %+v", r.Inputs)
	}
	// The copies are named in a warning either way.
	if !strings.Contains(stderr, "hold the same packets at their start") {
		t.Errorf("stderr %q does not warn about the copy", stderr)
	}

	// CSV rows carry the stream and open_at_start.
	_, csvOut, _ := runCLI(t, "scan", "-f", "csv", "--each", a, b)
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv (%v):\n%s", err, csvOut)
	}
	col := func(name string) int { return slices.Index(rows[0], name) }
	if s, o := col("stream"), col("open_at_start"); s < 0 || o < 0 || rows[1][s] != "a/cap.pcap" || rows[2][s] != "b/cap.pcap" || rows[2][o] != "false" {
		t.Errorf("csv stream/open_at_start columns %d, %d:\n%s", s, o, csvOut)
	}

	_, out, stderr = runCLI(t, "scan", "-f", "json", a, b)
	r = jsonReport(t, out)
	if len(r.Loops) != 1 || r.Loops[0].Packets != 2*want.Packets {
		t.Fatalf("one stream: %d loops", len(r.Loops))
	}
	if !strings.Contains(stderr, "overlap in time") || !strings.Contains(stderr, "--each") || len(r.Warnings) < 2 {
		t.Errorf("one stream of copies: stderr %q, warnings %q", stderr, r.Warnings)
	}

	// The very same file twice is read once, with a warning.
	_, out, stderr = runCLI(t, "scan", "-f", "json", a, a)
	r = jsonReport(t, out)
	if len(r.Inputs) != 1 || r.Loops[0].Packets != want.Packets || !strings.Contains(stderr, "is the same file as") {
		t.Errorf("same file twice: %d inputs, %d packets; stderr %q", len(r.Inputs), r.Loops[0].Packets, stderr)
	}
	// Standard input twice is an error.
	if code, _, stderr := runCLI(t, "scan", "-", "-"); code != ExitTrouble || !strings.Contains(stderr, "more than once") {
		t.Errorf("- twice: exit %d, stderr %q", code, stderr)
	}
}

// TestDirectoriesAndStreams: a directory is walked recursively; files are
// captures by content (a capture named .txt is read, a README named
// .pcap is skipped and counted, named with -v); --stream-by dir and a
// pattern group the files; packet references tell same-named files apart.
func TestDirectoriesAndStreams(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, pcaps+"machine-pong.pcap", filepath.Join(dir, "ns1", "cap.pcap"))
	copyFile(t, pcaps+"two-loops.pcap", filepath.Join(dir, "ns2", "deep", "cap.pcap"))
	copyFile(t, pcaps+"bounce.pcap", filepath.Join(dir, "ns2", "bounce.txt"))
	for name, body := range map[string]string{"README": "captures of the fleet\n", "LICENSE": "CC0\n", "ns1/notes.pcap": "not a capture", "ns2/empty": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr := runCLI(t, "scan", "-f", "json", dir)
	if code != ExitLoops {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	r := jsonReport(t, out)
	if len(r.Inputs) != 3 || !strings.Contains(stderr, "skipped 4 files in directories or lists that are not captures (-v names them)") {
		t.Fatalf("%d inputs; stderr %q", len(r.Inputs), stderr)
	}
	_, _, stderr = runCLI(t, "scan", "-v", "-f", "json", dir)
	for _, n := range []string{"README", "LICENSE", "notes.pcap", "empty"} {
		if !strings.Contains(stderr, n+": not a capture") {
			t.Errorf("-v does not name %s: %q", n, stderr)
		}
	}

	_, out, _ = runCLI(t, "scan", "-f", "json", "--stream-by", "dir", dir)
	r = jsonReport(t, out)
	streams := map[string]int{}
	for _, l := range r.Loops {
		streams[filepath.Base(l.Stream)]++
	}
	if streams["ns1"] != 1 || streams["deep"] != 2 || len(r.Loops) != 3 {
		t.Errorf("--stream-by dir: loops per stream %v", streams)
	}
	_, out, stderr = runCLI(t, "scan", "-f", "json", "--stream-by", `^(cap|bounce)\.`, dir)
	r = jsonReport(t, out)
	for _, in := range r.Inputs {
		if want := strings.SplitN(filepath.Base(in.Path), ".", 2)[0]; in.Stream != want {
			t.Errorf("--stream-by pattern: %s in stream %q, want %q", in.Path, in.Stream, want)
		}
	}
	if code, _, stderr := runCLI(t, "scan", "--stream-by", "ns[0-9]", dir); code != ExitTrouble || !strings.Contains(stderr, "capture group") {
		t.Errorf("pattern without a group: exit %d, %q", code, stderr)
	}

	// Two inputs named cap.pcap: the table shows their directories.
	_, table, _ := runCLI(t, "scan", "--each", dir)
	if !strings.Contains(table, "ns1/cap.pcap#") || !strings.Contains(table, "deep/cap.pcap#") {
		t.Errorf("table does not tell the two cap.pcap apart:\n%s", table)
	}
}

// TestFilesFrom: paths read from a file or standard input, added to the
// arguments.
func TestFilesFrom(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list")
	paths := pcaps + "rotated-1.pcap\n\n" + pcaps + "rotated-2.pcap\r\n"
	if err := os.WriteFile(list, []byte(paths), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want, _ := runCLI(t, "scan", "-f", "json", pcaps+"rotated-1.pcap", pcaps+"rotated-2.pcap")
	_, got, stderr := runCLI(t, "scan", "-f", "json", "--files-from", list)
	if got != want {
		t.Fatalf("--files-from FILE differs from the arguments; stderr %s", stderr)
	}
	var out, errb bytes.Buffer
	code := Main([]string{"scan", "-f", "json", "--files-from", "-"}, strings.NewReader(paths), &out, &errb)
	if code != ExitLoops || out.String() != want {
		t.Fatalf("--files-from -: exit %d, stderr %s", code, errb.String())
	}
	if code, _, stderr := runCLI(t, "scan", "--files-from", filepath.Join(dir, "missing")); code != ExitTrouble || !strings.Contains(stderr, "--files-from") {
		t.Errorf("missing list: exit %d, %q", code, stderr)
	}
}

// TestJSONLines: every line is one JSON object; per stream the loops
// then the inputs, the summary last; with CSV rows for inputs too.
func TestJSONLines(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ns1-a.pcap"), filepath.Join(dir, "ns2-b.pcap")
	copyFile(t, pcaps+"machine-pong.pcap", a)
	copyFile(t, pcaps+"two-loops.pcap", b)
	code, out, stderr := runCLI(t, "scan", "-f", "jsonl", "--stream-by", "^(ns[0-9])-", a, b)
	if code != ExitLoops {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	var types, streams []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		p, err := report.ReadJSONLine(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Type)
		if obs, ok := m["observer"].(map[string]any); ok {
			streams = append(streams, obs["name"].(string))
		}
		if p.Type == "loop" {
			nw := m["network"].(map[string]any)
			if !strings.HasPrefix(nw["community_id"].(string), "1:") || m["event"].(map[string]any)["kind"] != "alert" {
				t.Errorf("loop line %s", sc.Text())
			}
		}
	}
	if got := strings.Join(types, ","); got != "loop,input,loop,loop,input,summary" {
		t.Fatalf("objects %s", got)
	}
	if got := strings.Join(streams, ","); got != "ns1,ns1,ns2,ns2,ns2" {
		t.Fatalf("streams %s", got)
	}

	_, csvOut, _ := runCLI(t, "scan", "-f", "csv", "--csv-table", "inputs", "--each", a, b)
	lines := strings.Split(strings.TrimSpace(csvOut), "\n")
	if len(lines) != 3 || lines[0] != strings.Join(report.CSVInputsHeader, ",") || !strings.HasPrefix(lines[1], "ns1-a.pcap,"+a+",pcap,,1,450,") {
		t.Fatalf("csv inputs:\n%s", csvOut)
	}
}

// TestJSONLinesFlushedPerStream: with two streams, the first stream's
// loop reaches the reader while the second stream is still being read
// (here a FIFO nobody has written to yet).
func TestJSONLinesFlushedPerStream(t *testing.T) {
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "z-live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Streams go by name: the capture's sorts first.
	pong := filepath.Join(dir, "a-pong.pcap")
	copyFile(t, pcaps+"machine-pong.pcap", pong)
	cmd := exec.Command(bin, "scan", "-f", "jsonl", "--each", "--parallel=false", pong, fifo)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if p, err := report.ReadJSONLine([]byte(l)); err != nil || p.Type != "loop" {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no loop line while the second stream waits")
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(pcaps + "bounce.pcap")
	w.Write(raw)
	w.Close()
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	cmd.Wait()
	if len(rest) < 2 || !strings.Contains(rest[len(rest)-1], `"type":"summary"`) {
		t.Fatalf("rest %q", rest)
	}
}

// TestOutputFileAtomic: -o FILE appears only once the report is whole;
// while the scan runs, only a temporary file beside it exists.
func TestOutputFileAtomic(t *testing.T) {
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	dest := filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "scan", "-f", "json", "-o", dest, fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, "the temporary file", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, ".report.json.*.tmp"))
		return len(m) == 1
	})
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("report.json exists before the scan ended")
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(pcaps + "machine-pong.pcap")
	w.Write(raw)
	w.Close()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if r := jsonReport(t, string(b)); len(r.Loops) != 1 {
		t.Fatalf("%d loops in the report file", len(r.Loops))
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".report.json.*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	if st, _ := os.Stat(dest); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}

	// A killed scan leaves no report.json.
	dest2 := filepath.Join(dir, "killed.json")
	fifo2 := filepath.Join(dir, "live2.pcap")
	syscall.Mkfifo(fifo2, 0o600)
	cmd = exec.Command(bin, "scan", "-f", "json", "-o", dest2, fifo2)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, _ = os.OpenFile(fifo2, os.O_WRONLY, 0)
	w.Write(raw[:2000])
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	w.Close()
	if _, err := os.Stat(dest2); err == nil {
		t.Fatal("a killed scan left killed.json")
	}
}

// splitInto writes the records of src into n pcap files of consecutive
// records (a rotation) and returns their paths.
func splitInto(t testing.TB, src, dir string, n int) []string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.Open(src, f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []capture.Record
	var rec capture.Record
	for {
		if err := r.Next(&rec); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		c := rec
		c.Data = bytes.Clone(rec.Data)
		recs = append(recs, c)
	}
	per := (len(recs) + n - 1) / n
	var paths []string
	for k := 0; k*per < len(recs); k++ {
		p := filepath.Join(dir, fmt.Sprintf("rot-%05d.pcap", k))
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := pcapgo.NewWriterNanos(out)
		w.WriteFileHeader(262144, layers.LinkTypeEthernet)
		for _, rc := range recs[k*per : min((k+1)*per, len(recs))] {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, rc.Time), CaptureLength: len(rc.Data), Length: rc.OrigLen}, rc.Data)
		}
		out.Close()
		paths = append(paths, p)
	}
	return paths
}

// genCapture writes a synthetic authoritative-server capture with planted
// loops.
func genCapture(t testing.TB, path string, packets, loops int) *benchgen.Stats {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := benchgen.Write(f, benchgen.Config{Packets: packets, Seed: 7, QPS: 2000, Clients: 2000, Loops: loops, LoopPackets: 3000})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRotatedUnderFileLimit: 1,200 rotated files scan under a limit of
// 256 open files (soft and hard: the Go runtime raises the soft one) to
// the same result as the one file they were cut from. Opening every file
// at once, as the scan did before, fails here with "too many open files".
func TestRotatedUnderFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.pcap")
	genCapture(t, whole, 120000, 3)
	paths := splitInto(t, whole, filepath.Join(dir), 1200)
	if len(paths) != 1200 {
		t.Fatalf("%d files", len(paths))
	}
	list := filepath.Join(dir, "list")
	os.WriteFile(list, []byte(strings.Join(paths, "\n")), 0o644)

	run := func(args ...string) (*report.Report, string) {
		cmd := exec.Command(prlimit, append([]string{"--nofile=256", bin, "scan", "-f", "json", "--progress", "never"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		return jsonReport(t, stdout.String()), stderr.String()
	}
	want, _ := run("--extract", filepath.Join(dir, "x-whole"), whole)
	got, stderr := run("--extract", filepath.Join(dir, "x-rotated"), "--files-from", list)
	if len(want.Loops) != 3 {
		t.Fatalf("%d loops in the whole file", len(want.Loops))
	}
	if len(got.Loops) != len(want.Loops) || strings.Contains(stderr, "too many open files") {
		t.Fatalf("%d loops, want %d; stderr %s", len(got.Loops), len(want.Loops), stderr)
	}
	for i := range want.Loops {
		if loopLine(got.Loops[i]) != loopLine(want.Loops[i]) {
			t.Errorf("loop %d: %s, want %s", i, loopLine(got.Loops[i]), loopLine(want.Loops[i]))
		}
		// The follow-up (the what-if, the extracted file) reads the
		// rotated files again under the same limit, and must agree.
		if g, w := followPrint(&got.Loops[i]), followPrint(&want.Loops[i]); g != w || got.Loops[i].RRL == nil || got.Loops[i].Extract == nil {
			t.Errorf("loop %d's follow-up:\n%s\nwant:\n%s", i, g, w)
		}
	}
	g, w := got.Summary, want.Summary
	g.Detectors, w.Detectors = nil, nil
	if fmt.Sprint(g) != fmt.Sprint(w) || len(got.Inputs) != 1200 {
		t.Errorf("summary %+v, want %+v (%d inputs)", g, w, len(got.Inputs))
	}
}

// TestFIFOInStream: a FIFO named beside files in one stream is read once,
// from its start (it cannot be opened twice to read its first packet's
// time), and merged with the files.
func TestFIFOInStream(t *testing.T) {
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(bin, "scan", "-f", "json", "--progress", "never", pcaps+"rotated-1.pcap", fifo)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(pcaps + "rotated-2.pcap")
	w.Write(raw)
	w.Close()
	cmd.Wait()
	_, want, _ := runCLI(t, "scan", "-f", "json", pcaps+"rotated-1.pcap", pcaps+"rotated-2.pcap")
	got, exp := jsonReport(t, stdout.String()), jsonReport(t, want)
	if loopLines(got) != loopLines(exp) || got.Summary.Packets != exp.Summary.Packets {
		t.Fatalf("FIFO stream: %s (%d packets), want %s (%d); stderr %s", loopLines(got), got.Summary.Packets,
			loopLines(exp), exp.Summary.Packets, stderr.String())
	}
}
