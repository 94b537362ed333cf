package cli

import (
	"os"
	"strings"
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
	if stderr, status, ok := workerFiles(); ok {
		return runWorker(stderr, status)
	}
	prepareAddressSpace()
	if os.Getenv("PONGSCAN_SUPERVISOR") != "off" && supervised(os.Args[1:]) {
		if code, ok := supervise(); ok {
			return code
		}
	}
	return runInProcess()
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
