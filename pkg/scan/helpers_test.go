package scan

import (
	"context"

	"github.com/pongscan/pongscan/pkg/detect"
)

// TestDetectors are the detectors the command runs (internal/cli lists
// them); the tests of this package run the same ones.
var TestDetectors = []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}

// RunPaths scans the captures at paths with opts, the test detectors
// filling an empty list.
func RunPaths(paths []string, opts Options) *Result {
	if opts.Detectors == nil {
		opts.Detectors = TestDetectors
	}
	return Run(context.Background(), Files(nil, paths...), opts)
}

// Modes are the shard layouts and modes that must give identical
// reports.
var Modes = []Options{
	{Shards: 1},
	{Shards: 2, Parallel: true},
	{Shards: 3},
	{Shards: 4, Parallel: true},
	{Shards: 8, Parallel: true},
}
