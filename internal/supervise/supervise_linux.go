package supervise

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pongscan/pongscan/pkg/report"
)

// The worker's environment and file descriptors. WorkerEnv holds the
// supervisor's process ID, so that a stray copy of the variable in some
// other process's environment is ignored.
const (
	WorkerEnv      = "PONGSCAN_WORKER"
	workerStderrFD = 3 // the user's stderr, for everything pongscan writes
	workerStatusFD = 4 // the worker writes its exit status here when Main returns
)

// WorkerFiles tells whether this process is a supervisor's worker, and
// gives it its stderr and status files. The worker's own fd 2 is a pipe
// to the supervisor that only the Go runtime writes to.
func WorkerFiles() (stderr, status *os.File, ok bool) {
	v, set := os.LookupEnv(WorkerEnv)
	if !set {
		return nil, nil, false
	}
	os.Unsetenv(WorkerEnv)
	if v != strconv.Itoa(os.Getppid()) {
		return nil, nil, false
	}
	var st syscall.Stat_t
	if syscall.Fstat(workerStderrFD, &st) != nil || syscall.Fstat(workerStatusFD, &st) != nil {
		return nil, nil, false
	}
	return os.NewFile(workerStderrFD, "/dev/stderr"), os.NewFile(workerStatusFD, "|status"), true
}

// runtimeStderr holds the worker's original os.Stderr (fd 2, the pipe to
// the supervisor) for the life of the process.
var runtimeStderr *os.File

// RunWorker runs the command (run, given the worker's stderr) and
// reports its exit status on status: a worker that ends without doing so
// died in the runtime.
func RunWorker(stderr, status *os.File, run func(stderr *os.File) int) int {
	// Keep fd 2's *os.File reachable: replaced and collected, its
	// finalizer would close fd 2, and the runtime's crash report, written
	// there, would be lost (seen under memory pressure: EBADF).
	runtimeStderr = os.Stderr
	os.Stderr = stderr
	code := run(stderr)
	fmt.Fprintf(status, "%d\n", code)
	status.Close()
	return code
}

// Run runs the command in a worker and returns its exit status, or ok
// false when no worker could be started (the caller then runs the
// command itself). limits describes the memory limits in force for the
// failure line ("; cgroup memory limit 40 MiB"); cgroupDir is the
// directory of the memory cgroup that limits the process, "" none (its
// out-of-memory kills are counted).
//
// The worker gets this process's stdin and stdout, and its stderr as fd 3;
// its fd 2 is a pipe read here. Runtime output on that pipe (GODEBUG
// traces, say) is passed on to stderr line by line until a line that
// starts a runtime crash report ("fatal error:", "panic:", "runtime:",
// "SIGSEGV: ...", ...). From there on it is kept. Then:
//
//   - a worker that reported its status exits with it, and anything kept
//     is passed on: it was no crash;
//   - a worker that exited with status 2 without reporting, or was killed
//     by SIGKILL, SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGXCPU
//     or SIGXFSZ, failed: one line on stderr names the cause (out of
//     memory when the runtime's report says so or the cgroup counted an
//     out-of-memory kill, and the limit in force), the kept report goes to
//     a file in $TMPDIR named on that line, and the status is ExitInternal;
//   - a worker killed by another signal (SIGINT, SIGTERM, SIGHUP, SIGPIPE)
//     ends this process by the same signal;
//   - any other exit status is passed on.
//
// SIGINT, SIGTERM, SIGQUIT and SIGHUP are forwarded to the worker,
// whoever sent them (the worker takes a repeat within dupWindow as the
// same delivery: the terminal's Ctrl-C reaches it directly too).
func Run(limits func() string, cgroupDir string) (int, bool) {
	errR, errW, err := os.Pipe()
	if err != nil {
		return 0, false
	}
	stR, stW, err := os.Pipe()
	if err != nil {
		errR.Close()
		errW.Close()
		return 0, false
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        os.Args,
		Env:         append(os.Environ(), WorkerEnv+"="+strconv.Itoa(os.Getpid())),
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      errW,
		ExtraFiles:  []*os.File{os.Stderr, stW}, // fd 3 and fd 4
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	sigs := make(chan os.Signal, 8)
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		// One ignored from the start (nohup, a script's background job)
		// stays ignored, here and in the worker.
		if !signal.Ignored(sig) {
			signal.Notify(sigs, sig)
		}
	}
	oomBefore, oomFile := cgroupOOMKills(cgroupDir)
	// Pdeathsig fires when the thread that started the worker ends, not
	// this process (go.dev/issue/27505): keep that thread until the end.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		signal.Stop(sigs)
		for _, f := range []*os.File{errR, errW, stR, stW} {
			f.Close()
		}
		return 0, false
	}
	errW.Close()
	stW.Close()

	var wg sync.WaitGroup
	watch := &crashWatch{out: os.Stderr}
	var statusText []byte
	wg.Add(2)
	go func() { defer wg.Done(); watch.read(errR) }()
	go func() { defer wg.Done(); statusText, _ = io.ReadAll(io.LimitReader(stR, 64)) }()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				// Every signal, whoever sent it: one the terminal
				// (or kill -PGID) also delivered to the worker
				// arrives twice within dupWindow, which the worker
				// takes as one.
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	_ = cmd.Wait()
	close(done)
	signal.Stop(sigs)
	wg.Wait()
	errR.Close()
	stR.Close()

	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if code, err := strconv.Atoi(strings.TrimSpace(string(statusText))); err == nil {
		watch.flush()
		return code, true
	}
	switch {
	case ws.Signaled():
		sig := ws.Signal()
		switch sig {
		case syscall.SIGKILL, syscall.SIGSEGV, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGILL,
			syscall.SIGFPE, syscall.SIGSYS, syscall.SIGXCPU, syscall.SIGXFSZ:
			cause := "killed by " + SignalName(sig)
			if n, ok := cgroupOOMKillsIn(oomFile); ok && n > oomBefore {
				cause = "out of memory: killed by the kernel's out-of-memory killer"
			} else if watch.crashed {
				cause = watch.cause()
			} else if sig == syscall.SIGKILL {
				cause += " (the kernel's out-of-memory killer sends it at a memory limit)"
			}
			fmt.Fprintln(os.Stderr, failureLine(cause, limits, watch))
			return ExitInternal, true
		}
		watch.flush()
		return dieBy(sig), true
	case ws.Exited() && (ws.ExitStatus() == 2 || watch.crashed):
		fmt.Fprintln(os.Stderr, failureLine(watch.cause(), limits, watch))
		return ExitInternal, true
	}
	watch.flush()
	return ws.ExitStatus(), true
}

// crashWatch reads the worker's fd 2.
type crashWatch struct {
	out       io.Writer
	crashed   bool // a line that starts a runtime crash report was seen
	kept      bytes.Buffer
	keptLines int
	cut       bool // kept reached maxKept
}

// maxKept bounds the crash report kept in memory.
const maxKept = 4 << 20

// crashStarts are the beginnings of the lines the Go runtime starts a
// crash report with.
var crashStarts = []string{"fatal error:", "fatal:", "panic:", "runtime:", "runtime/cgo:", "unexpected fault address", "SIG", "goroutine "}

func (w *crashWatch) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	lineStart := true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if lineStart && !w.crashed {
				for _, s := range crashStarts {
					if bytes.HasPrefix(line, []byte(s)) {
						w.crashed = true
						break
					}
				}
			}
			if w.crashed {
				w.keep(line)
			} else {
				_, _ = w.out.Write(line)
			}
			lineStart = line[len(line)-1] == '\n'
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func (w *crashWatch) keep(b []byte) {
	if w.kept.Len()+len(b) > maxKept {
		w.cut = true
		return
	}
	w.kept.Write(b)
	w.keptLines += bytes.Count(b, []byte{'\n'})
}

// flush passes on what was kept: the worker finished, so it was no crash.
func (w *crashWatch) flush() {
	_, _ = w.out.Write(w.kept.Bytes())
	w.kept.Reset()
}

// cause names what the kept report says went wrong.
func (w *crashWatch) cause() string {
	text := w.kept.String()
	for _, s := range []string{"out of memory", "cannot allocate memory", "failed to reserve", "pthread_create failed", "cannot allocate"} {
		if strings.Contains(text, s) {
			return "out of memory: " + w.detail()
		}
	}
	if d := w.detail(); d != "" {
		return "crash: " + d
	}
	return "crash: the scan process exited with status 2 and no report of its own"
}

// detail is the kept report's most telling line.
func (w *crashWatch) detail() string {
	lines := strings.Split(w.kept.String(), "\n")
	for _, prefix := range []string{"runtime: out of memory", "runtime/cgo:", "fatal error:", "panic:", "SIG", "fatal:", "runtime:", "unexpected fault address"} {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return report.Escape(strings.TrimSpace(l))
			}
		}
	}
	if len(lines) > 0 {
		return report.Escape(strings.TrimSpace(lines[0]))
	}
	return ""
}

// failureLine is the one line said when the worker failed: the cause, the
// memory limit in force, and where the runtime's report was saved.
func failureLine(cause string, limits func() string, w *crashWatch) string {
	var b strings.Builder
	b.WriteString("pongscan: internal failure: ")
	b.WriteString(cause)
	if limits != nil {
		b.WriteString(limits())
	}
	b.WriteString("; no report")
	if w.kept.Len() > 0 {
		if f, err := os.CreateTemp("", "pongscan-crash-*.txt"); err == nil {
			_, werr := f.Write(w.kept.Bytes())
			if cerr := f.Close(); werr == nil && cerr == nil {
				cut := ""
				if w.cut {
					cut = fmt.Sprintf(" (its first %d MiB)", maxKept>>20)
				}
				fmt.Fprintf(&b, "; the runtime's %d-line report is in %s%s", w.keptLines, f.Name(), cut)
			}
		}
	}
	return b.String()
}

// dieBy ends this process by sig, as the worker ended, so that a shell
// sees the same status (and a SIGINT ends a shell script, as it should).
// The Go runtime dies of SIGHUP, SIGINT and SIGTERM sent by kill; for other
// signals (SIGPIPE, SIGUSR1, ...) dieBy returns 128+sig, the status a shell
// shows for them.
func dieBy(sig syscall.Signal) int {
	switch sig {
	case syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM:
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
	}
	return 128 + int(sig)
}

// cgroupOOMKills reads how many processes the kernel's out-of-memory
// killer has killed in this process's memory cgroup (memory.events in v2,
// memory.oom_control in v1), and the file it read.
func cgroupOOMKills(dir string) (int64, string) {
	if dir == "" {
		return 0, ""
	}
	for _, name := range []string{"memory.events", "memory.oom_control"} {
		f := filepath.Join(dir, name)
		if n, ok := cgroupOOMKillsIn(f); ok {
			return n, f
		}
	}
	return 0, ""
}

func cgroupOOMKillsIn(file string) (int64, bool) {
	if file == "" {
		return 0, false
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
