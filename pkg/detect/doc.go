// Package detect finds loops in a time-ordered stream of UDP datagrams.
//
// Detectors sit behind the Detector interface: a name, the ports they
// watch, Begin/Observe/Finish, their own counters and their own advice. A
// Factory makes one from the shared Config; the scan runs one instance per
// shard. DNSPong is the machine-pong detector for DNS: a genuine query,
// its answer, then a non-DNS reply from the client's port (the issue's
// trigger), and also loops already running when the capture began. Repeat
// finds loops between the other Loop-DoS services (echo, systat, daytime, QOTD,
// chargen, time, TFTP, NTP) from the same run rules (RunConfig).
//
// Detectors keep bounded per-flow state in a Tracker: a table keyed by a
// direction-independent, pointer-free 5-tuple (a chunked slab, an
// open-addressing index and a lazy timer wheel that forgets idle flows)
// that never grows past its cap. When it is full, the flow that really
// expires soonest goes, sparing flows in a loop or in a run that may
// become one while any other is left; a loop cut because nothing else was
// left is marked CutByFlowCap. Loops and runs count their packets with
// the same code (tally). Nothing is allocated per packet.
//
// Thresholds are fields of Config with documented defaults; the command
// line exposes them as flags.
package detect
