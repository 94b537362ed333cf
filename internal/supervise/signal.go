package supervise

import (
	"strconv"
	"syscall"
)

// SignalName names a signal for people, with the limit behind the ones a
// resource limit sends.
func SignalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT",
		syscall.SIGBUS: "SIGBUS", syscall.SIGILL: "SIGILL", syscall.SIGFPE: "SIGFPE",
		syscall.SIGSYS: "SIGSYS", syscall.SIGXCPU: "SIGXCPU (CPU time limit, ulimit -t)",
		syscall.SIGXFSZ: "SIGXFSZ (file size limit, ulimit -f)",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	return "signal " + strconv.Itoa(int(sig))
}
