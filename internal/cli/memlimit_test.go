package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTree writes files (path relative to root -> content) under a new
// directory and returns it.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupMemoryLimit(t *testing.T) {
	const v1Unlimited = "9223372036854771712\n"
	cases := []struct {
		name     string
		self     string            // /proc/self/cgroup
		files    map[string]string // under the cgroup root
		want     int64
		wantFile string // relative to the cgroup root
	}{
		{
			name: "v2 own cgroup",
			self: "0::/user.slice/job-42\n",
			files: map[string]string{
				"user.slice/memory.max":        "max\n",
				"user.slice/job-42/memory.max": "268435456\n",
			},
			want: 256 << 20, wantFile: "user.slice/job-42/memory.max",
		},
		{
			name: "v2 parent binds",
			self: "0::/batch/job-7/step-0\n",
			files: map[string]string{
				"batch/memory.max":              "max\n",
				"batch/job-7/memory.max":        "536870912\n",
				"batch/job-7/step-0/memory.max": "max\n",
			},
			want: 512 << 20, wantFile: "batch/job-7/memory.max",
		},
		{
			name: "v2 smallest of several",
			self: "0::/a/b\n",
			files: map[string]string{
				"a/memory.max":   "100000000\n",
				"a/b/memory.max": "200000000\n",
			},
			want: 100000000, wantFile: "a/memory.max",
		},
		{
			name:  "v2 no limit",
			self:  "0::/a\n",
			files: map[string]string{"a/memory.max": "max\n"},
		},
		{
			name: "v2 container namespace: path not mounted, limit at the root",
			self: "0::/../../kubepods/pod1/abc\n",
			files: map[string]string{
				"memory.max": "268435456\n",
			},
			want: 256 << 20, wantFile: "memory.max",
		},
		{
			name: "v2 on a hybrid host (unified)",
			self: "0::/job\n",
			files: map[string]string{
				"unified/job/memory.max": "300000000\n",
			},
			want: 300000000, wantFile: "unified/job/memory.max",
		},
		{
			name: "v1 memory controller",
			self: "9:name=systemd:/\n5:cpu,cpuacct:/\n4:memory:/slurm/uid_0/job_9\n0::/\n",
			files: map[string]string{
				"memory/memory.limit_in_bytes":                   v1Unlimited,
				"memory/slurm/memory.limit_in_bytes":             v1Unlimited,
				"memory/slurm/uid_0/job_9/memory.limit_in_bytes": "268435456\n",
			},
			want: 256 << 20, wantFile: "memory/slurm/uid_0/job_9/memory.limit_in_bytes",
		},
		{
			name: "v1 unlimited",
			self: "4:memory:/process_api/abc\n",
			files: map[string]string{
				"memory/process_api/abc/memory.limit_in_bytes": v1Unlimited,
			},
		},
		{
			name: "v1 docker: own path not mounted, the container's limit at the root",
			self: "12:memory:/docker/0123abcd\n",
			files: map[string]string{
				"memory/memory.limit_in_bytes": "134217728\n",
			},
			want: 128 << 20, wantFile: "memory/memory.limit_in_bytes",
		},
		{
			name: "v1 memory among other controllers",
			self: "3:cpu,memory:/x\n",
			files: map[string]string{
				"memory/x/memory.limit_in_bytes": "1000000\n",
			},
			want: 1000000, wantFile: "memory/x/memory.limit_in_bytes",
		},
		{
			name:  "garbage",
			self:  "no colons here\n0:\n::\n",
			files: map[string]string{"memory.max": "lots\n"},
		},
		{
			name: "no cgroup file content",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := fakeTree(t, c.files)
			got, file := cgroupMemoryLimit([]byte(c.self), root)
			if got != c.want {
				t.Errorf("limit = %d, want %d (from %s)", got, c.want, file)
			}
			if c.wantFile != "" && file != filepath.Join(root, filepath.FromSlash(c.wantFile)) {
				t.Errorf("file = %s, want %s", file, c.wantFile)
			}
			if c.want == 0 && file != "" {
				t.Errorf("file = %s for no limit", file)
			}
		})
	}
}

func TestReadMemLimits(t *testing.T) {
	proc := fakeTree(t, map[string]string{
		"self/cgroup": "0::/job\n",
		"self/status": "Name:\tpongscan\nVmPeak:\t  812345 kB\nVmSize:\t  700000 kB\nVmRSS:\t    5000 kB\n",
	})
	cg := fakeTree(t, map[string]string{"job/memory.max": "268435456\n"})
	l := readMemLimits(proc, cg)
	if l.Cgroup != 256<<20 || l.VmSize != 700000<<10 {
		t.Errorf("got %+v", l)
	}
	if l.AS != addressSpaceLimit() {
		t.Errorf("AS = %d, want this process's %d", l.AS, addressSpaceLimit())
	}

	// A process that can read neither file has no limit and no size.
	l = readMemLimits(t.TempDir(), t.TempDir())
	if l.Cgroup != 0 || l.CgroupFile != "" || l.VmSize != 0 {
		t.Errorf("empty trees: got %+v", l)
	}
}

func TestVmSize(t *testing.T) {
	dir := fakeTree(t, map[string]string{
		"ok":      "VmPeak:\t 9 kB\nVmSize:\t  123 kB\n",
		"missing": "VmRSS:\t 1 kB\n",
		"bad":     "VmSize:\t  lots kB\n",
	})
	for name, want := range map[string]int64{"ok": 123 << 10, "missing": 0, "bad": 0, "absent": 0} {
		if got := vmSize(filepath.Join(dir, name)); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
}

func TestGoMemoryLimit(t *testing.T) {
	cases := []struct {
		name     string
		l        memLimits
		mapped   int64
		want     int64
		whyHas   string
		noLimits bool
	}{
		{name: "nothing", noLimits: true},
		{
			name: "cgroup 256 MiB",
			l:    memLimits{Cgroup: 256 << 20, CgroupFile: "/sys/fs/cgroup/job/memory.max"},
			want: 192 << 20, whyHas: "3/4 of the cgroup memory limit of 256 MiB (/sys/fs/cgroup/job/memory.max)",
		},
		{
			name: "RLIMIT_AS 1 GiB with 700 MiB taken",
			l:    memLimits{AS: 1 << 30, VmSize: 700 << 20}, mapped: 8 << 20,
			want: (8 << 20) + (324<<20)/2, whyHas: "half of the 324 MiB of address space left under RLIMIT_AS (ulimit -v) of 1024 MiB",
		},
		{
			name: "both: the smaller wins",
			l:    memLimits{Cgroup: 256 << 20, CgroupFile: "f", AS: 1 << 30, VmSize: 700 << 20}, mapped: 8 << 20,
			want: 170 << 20, whyHas: "RLIMIT_AS",
		},
		{
			name: "both: cgroup smaller",
			l:    memLimits{Cgroup: 64 << 20, CgroupFile: "f", AS: 1 << 30, VmSize: 700 << 20}, mapped: 8 << 20,
			want: 48 << 20, whyHas: "cgroup",
		},
		{
			name: "RLIMIT_AS already exceeded: no AS-based limit",
			l:    memLimits{AS: 600 << 20, VmSize: 700 << 20}, noLimits: true,
		},
		{
			name: "RLIMIT_AS with VmSize unknown: no AS-based limit",
			l:    memLimits{AS: 1 << 30}, noLimits: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, why := c.l.goMemoryLimit(c.mapped)
			if c.noLimits {
				if got != 0 || why != "" {
					t.Errorf("got %d (%s), want none", got, why)
				}
				return
			}
			if got != c.want {
				t.Errorf("limit = %d (%s), want %d", got, mib(got), c.want)
			}
			if !strings.Contains(why, c.whyHas) {
				t.Errorf("why = %q, want it to contain %q", why, c.whyHas)
			}
		})
	}
}

func TestMiB(t *testing.T) {
	for n, want := range map[int64]string{256 << 20: "256 MiB", 1 << 30: "1024 MiB", 1536 << 10: "1.5 MiB"} {
		if got := mib(n); got != want {
			t.Errorf("mib(%d) = %q, want %q", n, got, want)
		}
	}
}
