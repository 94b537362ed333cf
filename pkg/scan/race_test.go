//go:build race

package scan_test

// raceEnabled: the race detector slows the tests down and multiplies
// their memory: tests of scale skip under it.
const raceEnabled = true
