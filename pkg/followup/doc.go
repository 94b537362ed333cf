// Package followup is what pongscan adds to a finding after the scan: the
// capture's timeline for the HTML report, and, from a second read of the
// streams that hold loops, each loop's packets (--extract), its first
// packets and per-direction timeline (the HTML ladder), and the
// rate-limiting what-if (pkg/rrl).
//
// It rides pkg/scan's own path, never a copy of it. The timeline is an
// observer on the scan's shards (TimelineObserver): every frame is decoded
// there anyway. The second read is scan.RunStreams again, over the same
// streams and inputs, with the same filter, lazy merge, reassembly and
// decoder, with no detector and one observer per stream that follows the
// stream's loops: each from Lookback before its trigger to its last packet,
// frames outside the loops' client prefixes skipped before decoding, the
// reading stopped once the last loop is done. So frame numbers, filters
// (relative --from/--to per stream) and input errors are the scan's.
//
// Its memory does not grow with a loop's length: a loop's what-if is a
// streaming replay (rrl.Replay) judged when the loop ends, its packets go
// straight to its file, and only the loops whose window is open are held
// with their state.
package followup
