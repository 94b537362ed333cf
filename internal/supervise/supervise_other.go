//go:build !linux

package supervise

import "os"

// Only Linux has a supervisor: elsewhere the command runs in-process.

// WorkerEnv names the worker's environment variable.
const WorkerEnv = "PONGSCAN_WORKER"

// WorkerFiles reports that this process is no worker.
func WorkerFiles() (stderr, status *os.File, ok bool) { return nil, nil, false }

// RunWorker runs the command.
func RunWorker(stderr, status *os.File, run func(stderr *os.File) int) int { return run(stderr) }

// Run starts no worker.
func Run(limits func() string, cgroupDir string) (int, bool) { return 0, false }
