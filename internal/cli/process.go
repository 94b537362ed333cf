package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pongscan/pongscan/internal/supervise"
)

// Run is pongscan's process: cmd/pongscan's main calls it and exits with
// what it returns.
//
// On Linux the command runs in a worker, a child process running this same
// binary, watched by this one (see supervise). When the Go runtime cannot
// get memory it prints "fatal error: out of memory" with a hundred or more
// lines of goroutine traces and exits 2, the status of a bad input, and no
// code in the process can catch it. The supervisor turns such a death of
// its worker into one line on stderr and ExitInternal. Standard input and
// output are the worker's own, not copied; so is stderr for everything
// pongscan writes. PONGSCAN_SUPERVISOR=off runs the command in this
// process instead.
func Run() ExitCode {
	if stderr, status, ok := supervise.WorkerFiles(); ok {
		return ExitCode(supervise.RunWorker(stderr, status, func(stderr *os.File) int {
			setMemoryLimit(stderr)
			return int(Main(os.Args[1:], os.Stdin, os.Stdout, stderr))
		}))
	}
	prepareAddressSpace()
	if os.Getenv("PONGSCAN_SUPERVISOR") != "off" && supervised(os.Args[1:]) {
		l := readMemLimits("/proc", "/sys/fs/cgroup")
		dir := ""
		if l.CgroupFile != "" {
			dir = filepath.Dir(l.CgroupFile)
		}
		if code, ok := supervise.Run(func() string { return limitsText(readMemLimits("/proc", "/sys/fs/cgroup")) }, dir); ok {
			return ExitCode(code)
		}
	}
	return runInProcess()
}

// limitsText is the memory limits in force, for the supervisor's
// failure line.
func limitsText(l memLimits) string {
	var b strings.Builder
	if l.AS > 0 {
		fmt.Fprintf(&b, "; address-space limit (ulimit -v) %s", mib(l.AS))
	}
	if l.Cgroup > 0 {
		fmt.Fprintf(&b, "; cgroup memory limit %s", mib(l.Cgroup))
	}
	return b.String()
}

// runInProcess runs the command in this process, where a runtime crash
// is the runtime's own: its trace and exit status 2.
func runInProcess() ExitCode {
	setMemoryLimit(os.Stderr)
	return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// supervised reports whether the command args run may use much memory:
// scan and merge run in a supervised worker, the others (version, help,
// completion) in this process.
func supervised(args []string) bool {
	for _, a := range args {
		switch a {
		case "scan", "merge":
			return true
		case "version", "help", "completion", "__complete", "__completeNoDesc":
			return false
		}
		if !strings.HasPrefix(a, "-") {
			return true // an unknown command: the worker says so
		}
	}
	return false // pongscan alone, or flags only: the help
}
