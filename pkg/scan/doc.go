// Package scan runs one streaming pass over packet captures and returns
// the report. It reads top to bottom as a pipeline, one small file a
// stage:
//
//	run.go      Run: open inputs -> one feed -> N shards -> collect -> report
//	input.go    Input: a capture to scan, from a path or any io.Reader
//	feed.go     the feed: reads every input once, merges them in time
//	            order, walks the records and routes each to its shard
//	route.go    the routing hash: both directions of a flow, one shard
//	shard.go    a shard: decodes its frames, shows its datagrams to its
//	            detectors
//	collect.go  finishes the detectors and assembles the report
//
// The feed reads each input exactly once, through one handle, into blocks
// that are never overwritten while a shard still reads them (capture's
// BlockPool): every shard sees the same bytes even if the file changes
// under the scan, and nothing is copied between cores. It routes a plain
// Ethernet IPv4/IPv6 UDP frame from its raw header bytes; a frame it
// cannot route that way (other link types, fragments) goes to every shard,
// each decodes it and keeps it only if the datagram's flow is its own
// (frames that are not UDP are counted by shard 0, and every shard
// reassembles every fragment). One per-frame path serves every mode: with
// Options.Parallel the shards run on goroutines of their own beside the
// feed, without it one goroutine does everything. Each shard sees exactly
// its own flows' packets in capture order, so the report does not depend
// on the number of shards or the mode.
//
// Run takes a context: cancelling it stops the reading, and the report of
// everything read so far is still returned, marked interrupted.
//
// It is the library behind `pongscan scan`; it never exits the process
// and never stops at a bad input.
package scan
