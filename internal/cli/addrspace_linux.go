package cli

import (
	"os"
	"runtime"
	"strings"
	"syscall"
)

// Address space under RLIMIT_AS. The Go runtime (1.26, 64-bit) reserves
// at start-up, before any of pongscan runs:
//
//   - 585 MiB of page summaries (mpagealloc_64bit.go, sysInit), then a
//     32 MiB heap arena index and a first 64 MiB heap arena: a Go
//     program cannot start under about 700 MiB;
//   - then 512 MiB for the scavenger's index, only if it fits: when it
//     does not, the runtime goes on without it;
//   - more 64 MiB heap arenas as the heap grows; the heap starts at a
//     random offset in the first one (the heap base is randomized), so a
//     40 MiB heap often needs two.
//
// So the optional 512 MiB fits from about 1.1 GiB on, and then leaves
// less room than a 1 GiB limit does: up to about 1.2 GiB no Go program
// starts, and up to about 1.3 GiB a scan that works under 1 GiB runs out of
// memory. prepareAddressSpace lowers a soft limit in (1 GiB, 1.5 GiB) to
// 1 GiB, where the index does not fit and the heap gets about 320 MiB,
// more than those limits would leave it. It cannot help where the runtime
// dies before pongscan's code runs.
//
// A binary linked with cgo also gets, with each thread, a glibc malloc
// arena of 64 MiB of address space (up to 8 per core) and a pthread stack
// of RLIMIT_STACK (8 MiB). The arenas took the room of the heap's second
// arena at random from 800 MiB to 1.6 GiB. prepareAddressSpace sets
// GLIBC_TUNABLES=glibc.malloc.arena_max=1, which glibc reads only at
// start, for such binaries under a limit. The threads the runtime starts
// before main still get theirs, and where that fails pthread_create
// aborts the process: build with CGO_ENABLED=0.
//
// Both need a new start: the process sets its soft limit and executes
// itself again, keeping its process ID, arguments, environment and open
// files. PONGSCAN_ADDRESS_SPACE=prepared marks the new start.
const (
	asLowerFrom = 1 << 30 // soft RLIMIT_AS above this and below asLowerTo ...
	asLowerTo   = 3 << 29 // ... is lowered to asLowerFrom
	asPrepared  = "PONGSCAN_ADDRESS_SPACE"
	arenaMax    = "glibc.malloc.arena_max"
)

func prepareAddressSpace() {
	if os.Getenv(asPrepared) != "" {
		return
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) != nil || rl.Cur > 1<<62 {
		return // unlimited
	}
	soft := rl.Cur
	if (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") && soft > asLowerFrom && soft < asLowerTo {
		soft = asLowerFrom
	}
	env := append(os.Environ(), asPrepared+"=prepared")
	tunables := os.Getenv("GLIBC_TUNABLES")
	addTunable := cgoLinked && !strings.Contains(tunables, arenaMax)
	if addTunable {
		if tunables != "" {
			tunables += ":"
		}
		env = append(env, "GLIBC_TUNABLES="+tunables+arenaMax+"=1")
	}
	if soft == rl.Cur && !addTunable {
		return
	}
	lowered := rl
	lowered.Cur = soft
	if syscall.Setrlimit(syscall.RLIMIT_AS, &lowered) != nil {
		return
	}
	err := syscall.Exec("/proc/self/exe", os.Args, env)
	_ = err // still here: carry on with the limit we were given
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &rl)
}
