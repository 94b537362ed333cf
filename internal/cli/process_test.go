//go:build linux

package cli

// Tests of the built binary as a real process: the supervisor, its worker
// and the memory limits, under prlimit(1) and, where this process may
// create one, a memory cgroup. They build pongscan once with
// CGO_ENABLED=0, as the README says to build it, and once with go's
// default; -short skips them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/internal/supervise"
	"github.com/pongscan/pongscan/pkg/report"
)

// builds holds one binary per build setting, built once per test run.
var builds struct {
	sync.Mutex
	dir  string
	bins map[string]string
}

// TestMain removes the binaries built for the process tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// pongscanBinary builds cmd/pongscan with CGO_ENABLED=cgo ("0", or "" for
// go's default) and returns its path.
func pongscanBinary(t *testing.T, cgo string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the pongscan binary")
	}
	builds.Lock()
	defer builds.Unlock()
	if bin, ok := builds.bins[cgo]; ok {
		return bin
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "pongscan-process-test-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.bins = dir, map[string]string{}
	}
	bin := filepath.Join(builds.dir, "pongscan-cgo"+cgo)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/pongscan/pongscan/cmd/pongscan")
	cmd.Env = os.Environ()
	if cgo != "" {
		cmd.Env = append(cmd.Env, "CGO_ENABLED="+cgo)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	builds.bins[cgo] = bin
	return bin
}

// genBenchCapture writes a benchgen capture of n packets (3 planted loops).
func genBenchCapture(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), fmt.Sprintf("gen-%d.pcap", n))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := benchgen.Write(f, benchgen.Config{Packets: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	code     int            // exit status, or -1 when killed by a signal
	signal   syscall.Signal // the signal that killed it
	stdout   string
	stderr   string
	duration time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("status %d, signal %d, %d bytes of stdout, stderr:\n%s", r.code, r.signal, len(r.stdout), r.stderr)
}

// stderrLines is stderr without its empty last line.
func (r result) stderrLines() []string {
	s := strings.TrimSuffix(r.stderr, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// run runs cmd and collects its result.
func run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	began := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), duration: time.Since(began)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.code, r.signal = -1, ws.Signal()
		} else {
			r.code = ws.ExitStatus()
		}
	default:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return r
}

// limited runs bin with args under prlimit --as=asBytes (0: no limit),
// with extra environment variables.
func limited(t *testing.T, asBytes int64, env []string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	var cmd *exec.Cmd
	if asBytes > 0 {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			t.Skip("prlimit (util-linux) is not installed")
		}
		cmd = exec.Command(prlimit, append([]string{"--as=" + strconv.FormatInt(asBytes, 10), bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// checkReport checks that stdout is a JSON report with the 3 planted loops.
func checkReport(t *testing.T, stdout string) {
	t.Helper()
	var rep struct {
		Schema  string `json:"schema"`
		Summary struct {
			Loops int `json:"loops"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%.300s", err, stdout)
	}
	if rep.Schema != "pongscan.report/v1" || rep.Summary.Loops != 3 {
		t.Fatalf("report: schema %q, %d loops, want pongscan.report/v1 and 3", rep.Schema, rep.Summary.Loops)
	}
}

// TestProcessPassesThrough: through the supervisor, reports, stderr lines
// and exit statuses are the ones Main gives in-process, for files and for
// standard input.
func TestProcessPassesThrough(t *testing.T) {
	bin := pongscanBinary(t, "0")
	capture := genBenchCapture(t, 20000)
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	for name, args := range map[string][]string{
		"loops":     {"scan", "--format", "json", "--progress", "never", capture},
		"missing":   {"scan", "--format", "csv", capture, missing},
		"bad flag":  {"scan", "--format", "bogus", capture},
		"stdin":     {"scan", "--format", "json", "-"},
		"version":   {"version"},
		"no loop":   {"scan", "--min-packets", "100000", capture},
		"no args":   {},
		"bad usage": {"scan"},
	} {
		t.Run(name, func(t *testing.T) {
			stdin := func() io.Reader {
				f, err := os.Open(capture)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				return f
			}
			var out, errb bytes.Buffer
			wantCode := Main(args, stdin(), &out, &errb)

			cmd := limited(t, 0, nil, bin, args...)
			cmd.Stdin = stdin()
			r := run(t, cmd)
			if r.code != int(wantCode) || r.stdout != out.String() || r.stderr != errb.String() {
				t.Errorf("binary: %v\nin-process: status %d, %d bytes of stdout, stderr:\n%s", r, wantCode, out.Len(), errb.String())
			}
		})
	}
}

// TestProcessOutOfMemoryIsOneLine: when the worker's runtime runs out of
// address space, stderr holds one line naming the cause and the limit,
// not the runtime's trace, and the status is 3, not the 2 of a bad input.
//
// 800 MiB leaves a Go 1.26 program about 100 MiB beyond the runtime's own
// reservations; flows kept for an hour over 1.5 M packets need about
// 200 MB (133 MB for 1 M packets, measured), so the worker fails, while
// the supervisor, which holds a few MB, runs.
func TestProcessOutOfMemoryIsOneLine(t *testing.T) {
	bin := pongscanBinary(t, "0")
	cmd := limited(t, 800<<20, nil, bin, "scan", "--format", "json", "--progress", "never",
		"--max-delay", "1h", "--idle", "1h", "--flow-timeout", "1h", "--max-flows", "100000000", "-")
	var tmp string
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			tmp = v
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = pr
	go func() {
		// The worker dies while reading: the write fails then.
		_, _ = benchgen.Write(pw, benchgen.Config{Packets: 1500000, Seed: 2})
		pw.Close()
	}()
	r := run(t, cmd)
	pr.Close()
	lines := r.stderrLines()
	if r.code != int(ExitInternal) || len(lines) != 1 {
		t.Fatalf("want status 3 and one line on stderr, got %v", r)
	}
	line := lines[0]
	for _, want := range []string{"pongscan: internal failure: out of memory: ", "address-space limit (ulimit -v) 800 MiB", "no report", "-line report is in " + tmp} {
		if !strings.Contains(line, want) {
			t.Errorf("stderr %q does not say %q", line, want)
		}
	}
	trace := line[strings.LastIndex(line, " ")+1:]
	data, err := os.ReadFile(trace)
	if err != nil || !bytes.Contains(data, []byte("fatal error")) {
		t.Errorf("runtime report %s: %v\n%.500s", trace, err, data)
	}
	if r.stdout != "" {
		t.Errorf("stdout: %.200q", r.stdout)
	}
	t.Logf("%s (%.1fs)", line, r.duration.Seconds())
}

// TestProcessUnderAddressSpaceLimits: a scan completes with the report of
// an unlimited run under RLIMIT_AS of 1 GiB, under 1300 MiB (where the
// runtime's optional 512 MiB scavenger index fits and would leave the heap
// too little room: prepareAddressSpace restarts under 1 GiB) and 2 GiB,
// for a binary built without cgo and one built with go's default (which
// needs glibc.malloc.arena_max=1, see prepareAddressSpace). Without those
// two the old build completed 0 of 5 runs at 1000 and 1300 MiB. 1300, not
// 1250: up to about 1250 MiB the runtime may die before main (1 run in 20
// of the default build at 1280 MiB).
func TestProcessUnderAddressSpaceLimits(t *testing.T) {
	capture := genBenchCapture(t, 200000)
	args := []string{"scan", "--format", "json", "--progress", "never", capture}
	for _, cgo := range []string{"0", ""} {
		bin := pongscanBinary(t, cgo)
		ref := run(t, limited(t, 0, nil, bin, args...))
		if ref.code != int(ExitLoops) {
			t.Fatalf("unlimited: %v", ref)
		}
		checkReport(t, ref.stdout)
		for _, c := range []struct {
			as      int64
			seenLim string // the limit the worker sees
		}{{1 << 30, "1024 MiB"}, {1300 << 20, "1024 MiB"}, {2 << 30, "2048 MiB"}} {
			build := "CGO_ENABLED=0"
			if cgo == "" {
				build = "default"
			}
			t.Run(fmt.Sprintf("%s/%dMiB", build, c.as>>20), func(t *testing.T) {
				r := run(t, limited(t, c.as, []string{"PONGSCAN_DEBUG=limits"}, bin, args...))
				// The runtime can die before main, where address-space
				// randomisation leaves a thread stack or the first heap
				// arena no room (README, "Memory limits"); no code of
				// pongscan has run then. Such a start is tried again.
				for try := 1; try < 4 && diedBeforeMain(r); try++ {
					t.Logf("the runtime died before main (%s); again", r.stderrLines()[0])
					r = run(t, limited(t, c.as, []string{"PONGSCAN_DEBUG=limits"}, bin, args...))
				}
				lines := r.stderrLines()
				if r.code != int(ExitLoops) || r.stdout != ref.stdout || len(lines) != 1 {
					t.Fatalf("want status 1, the unlimited report and one debug line; got %v", r)
				}
				if want := "address space left under RLIMIT_AS (ulimit -v) of " + c.seenLim; !strings.Contains(lines[0], want) {
					t.Errorf("debug line %q does not say %q", lines[0], want)
				}
			})
		}
	}
}

// diedBeforeMain tells a run whose Go runtime died while starting: status
// 2 (or SIGABRT), nothing on stdout, and the runtime's own first line.
func diedBeforeMain(r result) bool {
	first := strings.SplitN(r.stderr, "\n", 2)[0]
	return r.stdout == "" && (r.code == 2 || r.code == 134 || r.code == -1) &&
		(strings.HasPrefix(first, "runtime") || strings.HasPrefix(first, "fatal error:"))
}

// TestProcessBelowGoRuntimeFloor documents what no code in pongscan can
// change: under 512 MiB of address space the Go runtime cannot reserve its
// 585 MiB of page summaries and dies before main with its own trace and
// status 2. If this starts to pass, a new Go runtime needs less and the
// README's "Memory limits" needs new figures.
func TestProcessBelowGoRuntimeFloor(t *testing.T) {
	bin := pongscanBinary(t, "0")
	r := run(t, limited(t, 512<<20, nil, bin, "version"))
	lines := r.stderrLines()
	if r.code != 2 || len(lines) == 0 || lines[0] != "fatal error: failed to reserve page summary memory" {
		t.Fatalf("under 512 MiB: %v", r)
	}
	t.Logf("under 512 MiB: status %d, %d lines of runtime trace", r.code, len(lines))
}

// startWorker starts bin scanning a standard input that never ends, in a
// session of its own (no terminal), and returns it, the write end of its
// standard input and the worker's process ID.
func startWorker(t *testing.T, bin string) (*exec.Cmd, *bytes.Buffer, *os.File, int) {
	t.Helper()
	cmd := limited(t, 0, nil, bin, "scan", "--format", "json", "--progress", "never", "-")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = pr
	var errb bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	t.Cleanup(func() {
		pw.Close()
		_ = cmd.Process.Kill()
	})
	// A pcap header and nothing more: the worker waits for the next record.
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if _, err := pw.Write(hdr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	// The worker is the child started with PONGSCAN_WORKER set (os/exec
	// may start a short-lived one of its own first, to probe for pidfd).
	mark := []byte(fmt.Sprintf("\x00%s=%d\x00", supervise.WorkerEnv, cmd.Process.Pid))
	for time.Now().Before(deadline) {
		for _, kid := range children(cmd.Process.Pid) {
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", kid))
			if bytes.Contains(append([]byte{0}, env...), mark) {
				// Let the worker reach its read.
				time.Sleep(200 * time.Millisecond)
				return cmd, &errb, pw, kid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no worker under process %d", cmd.Process.Pid)
	return nil, nil, nil, 0
}

// children lists the child processes of pid, whichever of its threads
// started them.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []int
	for _, task := range tasks {
		data, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

func waitStatus(t *testing.T, cmd *exec.Cmd) syscall.WaitStatus {
	t.Helper()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("pongscan did not end")
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// TestProcessForwardsSignals: SIGTERM and (outside a terminal's foreground
// group) SIGINT sent to pongscan reach its worker, which stops the scan,
// prints the report of what it read and exits 128 + the signal: pongscan
// passes that status on.
func TestProcessForwardsSignals(t *testing.T) {
	bin := pongscanBinary(t, "0")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, errb, _, worker := startWorker(t, bin)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			ws := waitStatus(t, cmd)
			if !ws.Exited() || ws.ExitStatus() != 128+int(sig) || !strings.Contains(errb.String(), "interrupted by "+signalName(sig)) {
				t.Errorf("pongscan ended with exit %v status %d (signal %v), want status %d and a line saying so; stderr:\n%s", ws.Exited(), ws.ExitStatus(), ws.Signal(), 128+int(sig), errb)
			}
			if err := syscall.Kill(worker, 0); err == nil {
				t.Errorf("worker %d still runs", worker)
			}
		})
	}
}

// TestProcessCrashIsOneLine: a worker that dies in the runtime for another
// reason than memory (here SIGQUIT, which makes the Go runtime dump every
// goroutine and exit 2) gives one line and status 3 too.
func TestProcessCrashIsOneLine(t *testing.T) {
	bin := pongscanBinary(t, "0")
	cmd, errb, _, worker := startWorker(t, bin)
	if err := syscall.Kill(worker, syscall.SIGQUIT); err != nil {
		t.Fatalf("worker %d: %v; pongscan %d's children now: %v; stderr:\n%s", worker, err, cmd.Process.Pid, children(cmd.Process.Pid), errb)
	}
	ws := waitStatus(t, cmd)
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	if !ws.Exited() || ws.ExitStatus() != int(ExitInternal) || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "pongscan: internal failure: crash: SIGQUIT: quit") {
		t.Fatalf("status %d, stderr:\n%s", ws.ExitStatus(), errb)
	}
	t.Log(lines[0])
}

// memoryCgroup creates a memory cgroup limited to limit bytes below this
// process's own (cgroup v1, or v2 where the memory controller is
// delegated), or skips the test.
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	var dir, file string
	for line := range strings.SplitSeq(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case hasController(parts[1], "memory"):
			dir, file = filepath.Join("/sys/fs/cgroup/memory", parts[2]), "memory.limit_in_bytes"
		case parts[0] == "0" && dir == "":
			ctl, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", parts[2], "cgroup.subtree_control"))
			if hasController(strings.ReplaceAll(strings.TrimSpace(string(ctl)), " ", ","), "memory") {
				dir, file = filepath.Join("/sys/fs/cgroup", parts[2]), "memory.max"
			}
		}
	}
	if dir == "" {
		t.Skip("no memory cgroup controller this process may use")
	}
	cg := filepath.Join(dir, fmt.Sprintf("pongscan-test-%d-%d", os.Getpid(), limit))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err := os.WriteFile(filepath.Join(cg, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		t.Skipf("cannot set %s: %v", file, err)
	}
	return cg
}

// inCgroup runs bin with args inside the cgroup cg.
func inCgroup(t *testing.T, cg string, env []string, bin string, args ...string) result {
	t.Helper()
	script := `echo $$ > "$0/cgroup.procs" && exec "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, cg, bin}, args...)...)
	cmd.Env = append(append(os.Environ(), "TMPDIR="+t.TempDir()), env...)
	return run(t, cmd)
}

// TestProcessInMemoryCgroup: in a 256 MB memory cgroup pongscan limits its
// heap to 3/4 of it and completes; with GOMEMLIMIT=off in a 40 MB one its
// worker is killed by the kernel's out-of-memory killer, which the
// supervisor says in one line with status 3.
func TestProcessInMemoryCgroup(t *testing.T) {
	bin := pongscanBinary(t, "0")
	capture := genBenchCapture(t, 200000)
	args := []string{"scan", "--format", "json", "--progress", "never", capture}

	cg := memoryCgroup(t, 256<<20)
	r := inCgroup(t, cg, []string{"PONGSCAN_DEBUG=limits"}, bin, args...)
	lines := r.stderrLines()
	if r.code != int(ExitLoops) || len(lines) != 1 || !strings.Contains(lines[0], "memory limit: 192 MiB: 3/4 of the cgroup memory limit of 256 MiB") {
		t.Fatalf("in a 256 MB cgroup: %v", r)
	}
	checkReport(t, r.stdout)

	small := memoryCgroup(t, 40<<20)
	r = inCgroup(t, small, []string{"GOMEMLIMIT=off"}, bin, append([]string{"scan", "--max-delay", "1h", "--idle", "1h", "--flow-timeout", "1h"}, args[1:]...)...)
	lines = r.stderrLines()
	if r.code != int(ExitInternal) || len(lines) != 1 ||
		!strings.HasPrefix(lines[0], "pongscan: internal failure: out of memory: killed by the kernel's out-of-memory killer; cgroup memory limit 40 MiB") {
		t.Fatalf("in a 40 MB cgroup: %v", r)
	}
	t.Log(lines[0])
}

// TestOutputDevicesAsRoot: as root, in a private mount namespace with a
// tmpfs (unshare -m), -o and --html given a character device made with
// mknod (the null device), or a link to /proc/self/fd/1 (as /dev/stdout
// is), write to it: the device stays a device, the link a link, and the
// report reaches the process's standard output.
func TestOutputDevicesAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mknod and mount")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	bin := pongscanBinary(t, "0")
	sample, err := filepath.Abs("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := `set -e
mount -t tmpfs tmpfs "$D"
mknod "$D/null" c 1 3
ln -s /proc/self/fd/1 "$D/stdout"
rc=0; "$BIN" scan --format json --progress never -o "$D/null" --html "$D/null" "$S" || rc=$?
echo "rc1=$rc"
stat -c 'null=%F' "$D/null"
rc=0; "$BIN" scan --format json --progress never -o "$D/stdout" "$S" | grep -c '"loops"' || rc=$?
stat -c 'stdout=%F' "$D/stdout"
`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "D="+dir, "BIN="+bin, "S="+sample)
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "mount") {
		t.Skipf("no private mount namespace here: %v: %s", err, out)
	}
	got := string(out)
	for _, want := range []string{"rc1=1\n", "null=character special file\n", "1\n", "stdout=symbolic link\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// TestExtractOnFullDisk: --extract into a tmpfs of 16 KiB (as root, in a
// private mount namespace): each loop's file fails with ENOSPC, is said
// once on stderr, and its report entry says it was not written: an
// error, complete false, no frames, and no file or temporary left.
func TestExtractOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mount")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	bin := pongscanBinary(t, "0")
	sample, err := filepath.Abs("../../testdata/pcaps/two-loops.pcap")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := `mount -t tmpfs -o size=16k tmpfs "$D" || exit 99
"$BIN" scan -f json --progress never --extract "$D" "$S" > "$D.json" 2> "$D.err"
echo "rc=$?"
ls -A "$D" | wc -l
`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "D="+dir, "BIN="+bin, "S="+sample)
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "rc=") == false {
		t.Skipf("no private mount namespace here: %v: %s", err, out)
	}
	if got := string(out); !strings.Contains(got, "rc=2\n") || !strings.HasSuffix(got, "0\n") {
		t.Errorf("exit and files left: %q", got)
	}
	stderr, _ := os.ReadFile(dir + ".err")
	if n := strings.Count(string(stderr), "no space left on device"); n != 2 || strings.Contains(string(stderr), `\x0a`) {
		t.Errorf("stderr, want one line a loop:\n%s", stderr)
	}
	var rep report.Report
	b, _ := os.ReadFile(dir + ".json")
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Loops) != 2 {
		t.Fatalf("report: %v", err)
	}
	for i, l := range rep.Loops {
		if x := l.Extract; x == nil || x.Error == "" || x.Complete || x.Frames != 0 {
			t.Errorf("loop %d: extract %+v, want an error, not complete, no frames", i+1, x)
		}
	}
}
