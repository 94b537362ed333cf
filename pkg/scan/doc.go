// Package scan runs one streaming pass over capture files: it merges the
// inputs in time order (capture), decodes each frame (decode), routes each
// UDP datagram a detector watches to one of two detector shards by a fixed
// symmetric hash of its endpoints (detect), and assembles the report
// (report).
//
// Without Options.Parallel one goroutine decodes and runs both shards
// inline. With it, each shard runs on a goroutine of its own and decodes
// its own frames: when every input is an uncompressed regular file, each
// shard reads every input itself, so no frame crosses between cores;
// otherwise (gzip, stdin) one goroutine reads and hands batches of raw
// frames to both. A shard routes a plain Ethernet/IPv4 or IPv6 UDP frame
// from its raw header bytes, skipping the other shard's frames without
// decoding them; other frames it decodes to route them, and frames that
// are not UDP are counted by shard 0. Each shard sees exactly its own
// packets in capture order in every mode, so reports do not depend on it.
//
// It is the library behind `pongscan scan`; it never exits the process and
// never stops at a bad input.
package scan
