//go:build race

package rrl

// raceEnabled: the race detector slows the tests down and allocates.
const raceEnabled = true
