package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitUntil polls cond every 10 ms for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// bytesRead is how many bytes the process and its children (pongscan's
// worker) have read (/proc/PID/io rchar).
func bytesRead(pid int) int64 {
	n := ownBytesRead(pid)
	for _, kid := range children(pid) {
		n += max(ownBytesRead(kid), 0)
	}
	return n
}

func ownBytesRead(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// A signal while the scan reads a pipe that stays open, as in
// `(cat f.pcap; sleep 30) | pongscan scan -f json -`: the report of
// everything read is printed, valid and marked interrupted, a line on
// stderr names the signal and where reading stopped, and the exit status
// is 128 + the signal's number.
func TestSignalStopsScan(t *testing.T) {
	bin := pongscanBinary(t, "")
	raw, err := os.ReadFile("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "scan", "-f", "json", "-")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			if _, err := stdin.Write(raw); err != nil {
				t.Fatal(err)
			}
			// The pipe stays open: the scan waits for more.
			waitUntil(t, "the capture to be read", func() bool { return bytesRead(cmd.Process.Pid) >= int64(len(raw)) })
			time.Sleep(100 * time.Millisecond) // and handed to the feed
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
			var rep struct {
				Summary struct {
					Packets     uint64 `json:"packets"`
					Loops       int    `json:"loops"`
					Interrupted bool   `json:"interrupted"`
				} `json:"summary"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout.String())
			}
			if !rep.Summary.Interrupted || rep.Summary.Packets != 450 || rep.Summary.Loops != 1 {
				t.Errorf("summary %+v, want interrupted with the 450 packets and the loop read", rep.Summary)
			}
			if msg := stderr.String(); !strings.Contains(msg, "interrupted by "+tc.name) || !strings.Contains(msg, "- frame 450") {
				t.Errorf("stderr %q does not name the signal and the position", msg)
			}
		})
	}
}

// A second signal exits at once: here the report is stuck writing to a
// pipe nobody reads, and only the second Ctrl-C ends the process.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	bin := pongscanBinary(t, "")
	// 400 inputs make a JSON report of about 100 KiB: more than a pipe
	// holds. (Copies: the same file named twice is read once.)
	args := []string{"scan", "-f", "json"}
	raw, err := os.ReadFile("../../testdata/pcaps/bounce.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range 400 {
		p := filepath.Join(dir, fmt.Sprintf("bounce-%d.pcap", i))
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.Command(bin, args...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	waitUntil(t, "the report to fill the pipe", func() bool {
		for _, p := range append(children(pid), pid) { // the worker writes it
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", p))
			for _, f := range tasks {
				if b, _ := os.ReadFile(f); strings.Contains(string(b), "pipe_write") {
					return true
				}
			}
		}
		return false
	})
	_ = cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		t.Fatal("the first signal ended the process while its report was still being written")
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the second signal")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	if !strings.Contains(stderr.String(), "SIGINT again") {
		t.Errorf("stderr %q does not say why it exited", stderr.String())
	}
}

// A scan waiting to open a FIFO nobody writes yet (the kernel holds the
// open, and Go restarts it after a signal) still stops on SIGTERM, with
// the report of what the other streams read.
func TestSignalWhileOpeningFIFO(t *testing.T) {
	bin := pongscanBinary(t, "")
	fifo := filepath.Join(t.TempDir(), "z-live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(bin, "scan", "-f", "json", "--each", "../../testdata/pcaps/machine-pong.pcap", fifo)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, "the FIFO's open", func() bool {
		for _, p := range children(cmd.Process.Pid) {
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", p))
			for _, f := range tasks {
				if b, _ := os.ReadFile(f); strings.Contains(string(b), "fifo") || strings.Contains(string(b), "wait_for_partner") {
					return true
				}
			}
		}
		return false
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop a scan waiting for a FIFO's writer")
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit %d, want 143; stderr %s", code, stderr.String())
	}
	var rep struct {
		Summary struct {
			Interrupted bool `json:"interrupted"`
		} `json:"summary"`
		Loops []json.RawMessage `json:"loops"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || !rep.Summary.Interrupted || len(rep.Loops) != 1 {
		t.Errorf("report: %v, interrupted %v, %d loops (want the other stream's one)", err, rep.Summary.Interrupted, len(rep.Loops))
	}
}

// TestMergeStopsOnFirstSignal: merge has no partial report to give, and
// may be blocked where no context reaches (opening a FIFO no one writes):
// the first SIGTERM ends it, status 143, and its -o temporary file is
// gone. It used to ignore the first signal and hang.
func TestMergeStopsOnFirstSignal(t *testing.T) {
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "part.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(bin, "merge", "-o", filepath.Join(dir, "merged.json"), fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, "the worker", func() bool { return len(children(cmd.Process.Pid)) > 0 })
	time.Sleep(200 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the first SIGTERM did not stop merge")
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit %d, want 143; stderr %s", code, stderr.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left behind: %v", names)
	}
}

// TestSignalToSupervisorInTerminal: kill -INT to pongscan's own pid while
// it is the foreground job of a terminal (script(1) gives it one) stops
// the scan as Ctrl-C does: the supervisor forwards every signal, whoever
// sent it; it used to drop it, taking it for the terminal's.
func TestSignalToSupervisorInTerminal(t *testing.T) {
	bin := pongscanBinary(t, "")
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("no script(1)")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	out := filepath.Join(dir, "out.json")
	pidf := filepath.Join(dir, "pid")
	// In the terminal: the scan in the foreground, reading a FIFO that
	// stays open; its pid written for the test.
	inner := fmt.Sprintf("sh -c 'echo $$ > %s; exec %s scan -f json %s > %s; ' ; echo rc=$? >> %s.rc", pidf, bin, fifo, out, out)
	cmd := exec.Command("script", "-qec", inner, "/dev/null")
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	pcap, _ := os.ReadFile("../../testdata/pcaps/machine-pong.pcap")
	w.Write(pcap)
	var pid int
	waitUntil(t, "the scan's pid", func() bool {
		b, _ := os.ReadFile(pidf)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0 && len(children(pid)) > 0
	})
	waitUntil(t, "the pcap read", func() bool { return bytesRead(pid) >= int64(len(pcap)) })
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("kill -INT to pongscan in a terminal did not stop the scan")
	}
	rc, _ := os.ReadFile(out + ".rc")
	if !strings.Contains(string(rc), "rc=130") {
		t.Errorf("exit: %q, want 130", rc)
	}
	var rep struct {
		Summary struct {
			Interrupted bool `json:"interrupted"`
		} `json:"summary"`
	}
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &rep); err != nil || !rep.Summary.Interrupted {
		t.Errorf("report: %v, interrupted %v", err, rep.Summary.Interrupted)
	}
}

// TestSignalSaysExtractNotWritten: a scan stopped by a signal prints its
// report, and says that --extract wrote nothing (the loops' files come
// from the second read, which does not run) instead of leaving the
// directory empty without a word. No partial file is left.
func TestSignalSaysExtractNotWritten(t *testing.T) {
	bin := pongscanBinary(t, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "z-live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	xdir := filepath.Join(dir, "loops")
	cmd := exec.Command(bin, "scan", "-f", "json", "--extract", xdir, "--each", "../../testdata/pcaps/machine-pong.pcap", fifo)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, "the FIFO's open", func() bool {
		for _, p := range children(cmd.Process.Pid) {
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", p))
			for _, f := range tasks {
				if b, _ := os.ReadFile(f); strings.Contains(string(b), "fifo") || strings.Contains(string(b), "wait_for_partner") {
					return true
				}
			}
		}
		return false
	})
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not stop the scan")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--extract "+xdir+": no loop written: the scan was interrupted") {
		t.Errorf("stderr does not say --extract wrote nothing: %q", stderr.String())
	}
	if ents, _ := os.ReadDir(xdir); len(ents) != 0 {
		t.Errorf("%d files left in the --extract directory", len(ents))
	}
}
