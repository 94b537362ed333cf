// Package scan runs one streaming pass over capture files: it merges the
// inputs in time order (capture), decodes each frame (decode), routes each
// UDP datagram a detector watches to one of two detector shards by a fixed
// symmetric hash of its endpoints (detect), and assembles the report
// (report). With Options.Parallel the shards run on goroutines of their
// own and gzip or a few inputs are read beside decoding; each shard sees
// exactly its own packets in capture order either way, so reports do not
// depend on it.
//
// It is the library behind `pongscan scan`; it never exits the process and
// never stops at a bad input.
package scan
