package scan

import (
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// shard holds one instance of every detector for the flows routed to it,
// and the decoder of its frames.
type shard struct {
	id    int
	route router
	dec   *decode.Decoder
	dets  []detect.Detector
	watch *detect.PortSet // ports some detector watches
	// filter, when set, keeps part of the input (Options.Filter);
	// filtered counts the frames of this shard it dropped.
	filter   *window
	filtered uint64
	pkt      detect.Packet
	began    bool
	// obs, when set, sees every frame the shard keeps (Options.Observe);
	// skip is obs when it can skip frames before decoding.
	obs  Observer
	skip Skipper
	fr   Frame

	in   chan *batch // parallel mode
	done chan struct{}
}

// process takes the shard's records of a batch: those routed to it and
// those every shard decodes.
func (s *shard) process(b *batch) {
	if !s.began {
		start := b.start
		if s.filter != nil {
			// A window that opens later starts the input there: a loop
			// already running at --from is one running at the start.
			s.filter.resolve(b.start)
			start = max(start, s.filter.from)
		}
		for _, d := range s.dets {
			d.Begin(start)
		}
		s.began = true
	}
	recs := b.recs[s.id]
	for i := range recs {
		r := &recs[i]
		s.frame(r, b.data(r))
	}
}

// frame is the per-frame path, the same in every mode: decode, keep the
// frame only if its flow is this shard's, count it, show a watched
// datagram to the detectors.
func (s *shard) frame(r *frameRec, data []byte) {
	if s.filter != nil && !s.filter.inTime(r.time) {
		if r.route == int16(s.id) || r.route == routeAll && s.id == 0 {
			s.filtered++
		}
		return
	}
	if s.skip != nil && s.skip.Skip(r.time, r.link, data) {
		return
	}
	p := &s.pkt
	k := s.dec.DecodeUncounted(r.link, data, int(r.origLen), r.time, &p.Packet)
	owner := int(r.route)
	if r.route == routeAll {
		owner = 0 // frames that are not UDP are counted by shard 0
		if k == decode.KindUDP {
			owner = s.route.shardOf(p)
		}
	}
	// A routed frame is its owner's to count whatever it decodes as (a
	// malformed one too).
	if owner != s.id {
		return
	}
	if s.filter != nil && s.filter.byAddr && (k != decode.KindUDP || !s.filter.keeps(p)) {
		s.filtered++
		return
	}
	s.dec.Stats.Count(r.link, k)
	if s.obs != nil {
		s.fr = Frame{Input: int(r.source), Frame: r.frame, Time: r.time, Link: r.link, Data: data,
			OrigLen: int(r.origLen), Kind: k, Packet: &p.Packet}
		s.obs.Frame(&s.fr)
	}
	if k == decode.KindUDP && (s.watch.Has(p.Src.Port()) || s.watch.Has(p.Dst.Port())) {
		p.Ref = detect.PacketRef{Source: int(r.source), Frame: r.frame}
		p.Time, p.Clock = r.time, r.clock
		p.SetFlow()
		for _, d := range s.dets {
			d.Observe(p)
		}
	}
}

// start runs the shard on a goroutine of its own, fed batches on in;
// done(b) is called when it has finished with each.
func (s *shard) start(done func(*batch)) {
	s.in, s.done = make(chan *batch, batchQueue), make(chan struct{})
	go func() {
		defer close(s.done)
		for b := range s.in {
			s.process(b)
			done(b)
		}
	}()
}

// stop waits for the shard's goroutine, if any, to finish its batches.
func (s *shard) stop() {
	if s.in != nil {
		close(s.in)
		<-s.done
		s.in = nil
	}
}
