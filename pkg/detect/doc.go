// Package detect finds loops in a time-ordered stream of UDP datagrams.
//
// Detectors sit behind the small Detector interface so other loop
// detectors (NTP, echo/chargen, ...) can plug in beside DNSPong, the
// machine-pong detector for DNS. Each keeps bounded per-flow state in a
// table keyed by a direction-independent, pointer-free 5-tuple, evicts idle
// flows in least-recently-used order and never grows past its cap.
//
// Thresholds are fields of the detector's config with documented defaults;
// the command line exposes each as a flag.
package detect
