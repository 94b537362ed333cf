//go:build !linux

package cli

// addressSpaceLimit is the soft RLIMIT_AS in bytes; only Linux is asked.
func addressSpaceLimit() int64 { return 0 }
