package scan

import (
	"github.com/pongscan/pongscan/pkg/decode"
)

// Observers: work that needs the frames themselves, beside or instead of
// the detectors, rides the scan's own path. Options.Observe makes one
// Observer for each shard of each stream; the shard shows it every frame
// it keeps, after the filter and decoding, in capture order, exactly once
// over all shards (a frame is its flow's shard's; frames that are not UDP
// are shard 0's). With one shard an observer sees the whole stream.
//
// pkg/followup uses it twice: in the scan, to count the capture's
// timeline for the HTML report, and in a second read of the streams that
// hold loops, with no detector, to follow each loop's packets (extract,
// ladder, rate-limiting what-if). The second read is then the same
// opening, lazy merging, filtering, reassembly and decoding as the scan,
// and fails the same way.

// Observer sees the frames of one shard of one stream.
type Observer interface {
	// Frame sees one frame. f and the bytes it points to are borrowed
	// for the duration of the call.
	Frame(f *Frame)
}

// Skipper is an Observer that can tell, before decoding, that a frame is
// of no interest: the frame is then neither decoded nor shown to it (nor
// to the detectors: use it only in a scan without them). A fragment it
// skips is not reassembled.
type Skipper interface {
	Skip(t int64, link uint32, data []byte) bool
}

// Frame is a frame as an Observer sees it.
type Frame struct {
	Input   int    // index of the input in the stream's Inputs
	Frame   uint64 // 1-based frame number in that input
	Time    int64  // nanoseconds since the Unix epoch
	Link    uint32 // link type
	Data    []byte // the captured bytes (borrowed)
	OrigLen int    // length on the wire
	Kind    decode.Kind
	// Packet is the decoded datagram when Kind is KindUDP, and carries a
	// fragment's identity (Packet.Frag) when Kind is KindFragment or the
	// datagram was reassembled.
	Packet *decode.Packet
}

// ObserveInfo tells Options.Observe which observer it makes.
type ObserveInfo struct {
	Stream        string   // the stream's name
	Index         int      // the stream's index in RunStreams' streams
	Inputs        []string // the stream's input names, as Frame.Input indexes them
	Shard, Shards int
	// Parallel: the shards run on goroutines of their own
	// (Options.Parallel).
	Parallel bool
	// Stop ends the stream's reading early (between batches): call it
	// once the observer needs nothing more. The stream's scan then ends
	// as at the end of its inputs, not as an interrupted one.
	Stop func()
}
