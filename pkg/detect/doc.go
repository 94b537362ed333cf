// Package detect finds loops in a time-ordered stream of UDP datagrams.
//
// Detectors sit behind the small Detector interface. DNSPong is the
// machine-pong detector for DNS: a genuine query, its answer, then a
// non-DNS reply from the client's port (the trigger), and also
// loops already running when the capture began. Repeat finds loops between
// the other Loop-DoS services (echo, daytime, QOTD, chargen, time, TFTP,
// NTP) from the same run rules (RunConfig).
//
// Each detector keeps bounded per-flow state in a table keyed by a
// direction-independent, pointer-free 5-tuple: a chunked slab, an
// open-addressing index and a lazy timer wheel that evicts idle flows; the
// table never grows past its cap. Nothing is allocated per packet.
//
// Thresholds are fields of the detector's config with documented defaults;
// the command line exposes the DNS ones as flags.
package detect
