package cli

import "os"

// Run is pongscan's process: cmd/pongscan's main calls it and exits with
// what it returns. Before running the command it gives the garbage
// collector a memory limit below the cgroup's or RLIMIT_AS's, if one is
// set and GOMEMLIMIT is not (see setMemoryLimit). Tests call Main, which
// leaves the runtime alone.
func Run() ExitCode {
	setMemoryLimit(os.Stderr)
	return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}
