// Package scan runs one streaming pass over capture files: it merges the
// inputs in time order (capture), decodes each frame (decode), feeds UDP
// datagrams to the loop detectors (detect) and assembles the report
// (report). It is the library behind `pongscan scan`; it never exits the
// process and never stops at a bad input.
package scan
