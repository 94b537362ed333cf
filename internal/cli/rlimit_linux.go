package cli

import "syscall"

// addressSpaceLimit is the soft RLIMIT_AS in bytes, 0 when unlimited
// (RLIM_INFINITY is all ones).
func addressSpaceLimit() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err != nil || rl.Cur > 1<<62 {
		return 0
	}
	return int64(rl.Cur)
}
