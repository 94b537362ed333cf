package cli

import "github.com/pongscan/pongscan/pkg/detect"

// Detectors are the detectors `pongscan scan` runs, in order of
// precedence: where two find a loop on the same flow at the same time,
// the first one's is reported. This is the one place that lists them: a
// new detector is a file in pkg/detect and a line here.
var Detectors = []detect.Factory{
	detect.DNSPongDetector, // dns-pong: a genuine DNS exchange, then a non-DNS reply
	detect.RepeatDetector,  // udp-pong: echo, systat, daytime, QOTD, chargen, time, TFTP, NTP
}
