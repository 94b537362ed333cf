package report

// Add adds o's counts to s: the summary of two scans of separate packets
// (streams of one run, or parts merged by `pongscan merge`). Loops is
// added too; a caller that joins loops sets it afterwards.
func (s *Summary) Add(o *Summary) {
	s.Packets += o.Packets
	s.UDP += o.UDP
	s.DNSMessages += o.DNSMessages
	s.NonDNS += o.NonDNS
	s.Truncated += o.Truncated
	s.Flows += o.Flows
	s.Bounces += o.Bounces
	s.Loops += o.Loops
	s.OneSided += o.OneSided
	s.TCP += o.TCP
	s.OtherIP += o.OtherIP
	s.NotIP += o.NotIP
	s.Malformed += o.Malformed
	s.Fragments += o.Fragments
	s.Reassembled += o.Reassembled
	s.FragDropped += o.FragDropped
	s.UnknownLink += o.UnknownLink
	for k, v := range o.UnknownLinks {
		if s.UnknownLinks == nil {
			s.UnknownLinks = map[string]uint64{}
		}
		s.UnknownLinks[k] += v
	}
	s.NonPacket += o.NonPacket
	s.Evicted += o.Evicted
	s.EvictedCap += o.EvictedCap
	for name, c := range o.Detectors {
		if s.Detectors == nil {
			s.Detectors = map[string]map[string]uint64{}
		}
		d := s.Detectors[name]
		if d == nil {
			d = map[string]uint64{}
			s.Detectors[name] = d
		}
		for k, v := range c {
			d[k] += v
		}
	}
	s.VLANTags = max(s.VLANTags, o.VLANTags)
	s.Interrupted = s.Interrupted || o.Interrupted
	s.FollowUpInterrupted = s.FollowUpInterrupted || o.FollowUpInterrupted
}
