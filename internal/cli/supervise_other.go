//go:build !linux

package cli

import "os"

// Only Linux has a supervisor: elsewhere the command runs in-process.

func workerFiles() (stderr, status *os.File, ok bool) { return nil, nil, false }

func runWorker(stderr, status *os.File) ExitCode { return runInProcess() }

func supervise() (ExitCode, bool) { return 0, false }

func prepareAddressSpace() {}
