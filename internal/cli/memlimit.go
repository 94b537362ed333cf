package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Memory limits. A batch scheduler or a container bounds pongscan in one of
// two ways, and the Go runtime knows of neither:
//
//   - a memory cgroup (cgroup v2 memory.max, v1 memory.limit_in_bytes)
//     counts the pages the process really uses; past it the kernel's
//     out-of-memory killer ends the process with SIGKILL;
//   - RLIMIT_AS (ulimit -v, prlimit --as) counts address space, including
//     the runtime's untouched reservations: about 585 MiB of page
//     summaries, a 32 MiB arena index and 64 MiB heap arenas. Past it mmap
//     fails and the runtime dies with "fatal error: out of memory".
//
// When the user has not set GOMEMLIMIT, setMemoryLimit gives the garbage
// collector a soft limit below the smaller of the two, so the heap stays
// small instead of growing to twice the live data (GOGC=100). It cannot
// shrink the runtime's reservations: see the README's "Memory limits".

const (
	// cgroupShare is the share of a cgroup's limit given to the Go heap:
	// the rest is for the binary's pages, thread stacks and the page cache
	// of the capture being read, which the cgroup also counts. Measured on
	// bench-1m.pcap in a 48 MB cgroup: killed without a limit, complete
	// with 36 MiB.
	cgroupShareNum, cgroupShareDen = 3, 4
	// unlimitedCgroup: cgroup v1 writes "no limit" as the largest
	// page-aligned int64; any value at least this large is no limit.
	unlimitedCgroup = 1 << 62
)

// memLimits is what the process found about the memory it may use.
type memLimits struct {
	Cgroup     int64  // smallest cgroup memory limit on the way to the root; 0: none
	CgroupFile string // where Cgroup was read
	AS         int64  // soft RLIMIT_AS in bytes; 0: unlimited
	VmSize     int64  // address space in use when read; 0: unknown
}

// goMemoryLimit is the soft limit for the Go runtime under l, and why.
// goMapped is the memory the runtime holds already (it counts against
// GOMEMLIMIT but was reserved before VmSize was read). 0 means no limit.
func (l memLimits) goMemoryLimit(goMapped int64) (int64, string) {
	var limit int64
	var why string
	if l.Cgroup > 0 {
		limit = l.Cgroup / cgroupShareDen * cgroupShareNum
		why = fmt.Sprintf("%d/%d of the cgroup memory limit of %s (%s)", cgroupShareNum, cgroupShareDen, mib(l.Cgroup), l.CgroupFile)
	}
	// Under RLIMIT_AS only the address space left after the runtime's
	// reservations can still become heap, and it is taken 64 MiB arena
	// at a time: give the heap half of what is left.
	if l.AS > 0 && l.VmSize > 0 && l.AS > l.VmSize {
		left := l.AS - l.VmSize
		if as := goMapped + left/2; limit == 0 || as < limit {
			limit = as
			why = fmt.Sprintf("half of the %s of address space left under RLIMIT_AS (ulimit -v) of %s, plus the %s the runtime holds",
				mib(left), mib(l.AS), mib(goMapped))
		}
	}
	return limit, why
}

// setMemoryLimit applies goMemoryLimit to the running program unless the
// GOMEMLIMIT environment variable is set. With PONGSCAN_DEBUG=limits it
// says on stderr what it found and did.
func setMemoryLimit(stderr io.Writer) {
	debugLimits := os.Getenv("PONGSCAN_DEBUG") == "limits"
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		if debugLimits {
			fmt.Fprintf(stderr, "pongscan: memory limit: GOMEMLIMIT=%s, set by the environment\n", v)
		}
		return
	}
	l := readMemLimits("/proc", "/sys/fs/cgroup")
	limit, why := l.goMemoryLimit(goMappedBytes())
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if debugLimits {
		if limit > 0 {
			fmt.Fprintf(stderr, "pongscan: memory limit: %s: %s\n", mib(limit), why)
		} else {
			fmt.Fprintf(stderr, "pongscan: memory limit: none (no cgroup memory limit, no RLIMIT_AS)\n")
		}
	}
}

// goMappedBytes is the memory the Go runtime has mapped and not returned,
// as GOMEMLIMIT counts it.
func goMappedBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// readMemLimits reads the limits of the running process. procRoot is
// normally /proc and cgroupRoot /sys/fs/cgroup; tests point them at fake
// trees.
func readMemLimits(procRoot, cgroupRoot string) memLimits {
	var l memLimits
	if data, err := os.ReadFile(filepath.Join(procRoot, "self", "cgroup")); err == nil {
		l.Cgroup, l.CgroupFile = cgroupMemoryLimit(data, cgroupRoot)
	}
	l.AS = addressSpaceLimit()
	l.VmSize = vmSize(filepath.Join(procRoot, "self", "status"))
	return l
}

// cgroupMemoryLimit finds the smallest memory limit that applies to the
// process whose /proc/PID/cgroup is selfCgroup, looking under cgroupRoot:
//
//   - cgroup v2 ("0::/path"): memory.max in cgroupRoot/path or, on hybrid
//     systems, cgroupRoot/unified/path;
//   - cgroup v1 ("N:...memory...:/path"): memory.limit_in_bytes in
//     cgroupRoot/memory/path.
//
// A limit set on a parent cgroup binds its children, so each one from the
// process's own cgroup up to the root counts. Inside a container the path
// named in /proc/self/cgroup is often not mounted (the container sees its
// own cgroup as the root); the walk up then reaches that root and reads
// the container's limit there. It returns 0 when no limit is set.
func cgroupMemoryLimit(selfCgroup []byte, cgroupRoot string) (int64, string) {
	var best int64
	var bestFile string
	consider := func(dir, p, name string) {
		for p = path.Clean("/" + p); ; p = path.Dir(p) {
			f := filepath.Join(dir, filepath.FromSlash(p), name)
			if v, ok := readCgroupValue(f); ok && (best == 0 || v < best) {
				best, bestFile = v, f
			}
			if p == "/" {
				return
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(selfCgroup))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && controllers == "":
			consider(cgroupRoot, p, "memory.max")
			consider(filepath.Join(cgroupRoot, "unified"), p, "memory.max")
		case hasController(controllers, "memory"):
			consider(filepath.Join(cgroupRoot, "memory"), p, "memory.limit_in_bytes")
		}
	}
	return best, bestFile
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readCgroupValue reads a limit file: a byte count, or "max" (v2) or a
// huge number (v1) for no limit, which reads as not ok.
func readCgroupValue(file string) (int64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(data))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v >= unlimitedCgroup {
		return 0, false
	}
	return v, true
}

// vmSize reads VmSize from a /proc/PID/status file; 0 if it cannot.
func vmSize(statusFile string) int64 {
	data, err := os.ReadFile(statusFile)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// mib formats a byte count in MiB, as ulimit and prlimit users think.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
