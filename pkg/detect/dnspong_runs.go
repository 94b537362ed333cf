package detect

// Runs without a trigger on DNS flows: only a run that began within Idle of
// the start of the input can become a loop (it may have started before the
// capture did), so statistics are kept for those alone.

// runStats are the statistics of a run that may become a loop without a
// trigger, with a sample of the client's payload.
type runStats struct {
	run
	sampled bool
	sample  []byte
	cut     bool
}

// addRun counts p in the flow's current run, for loops without a trigger.
// Only a run that began within Idle of the start of the input can become
// one, and only while its first client packet is not DNS and no triggered
// loop started in it: statistics are kept for such runs alone, so most
// flows never carry them.
func (d *DNSPong) addRun(f *flowState, p *Packet, srcIsA, isDNS bool) {
	if d.cfg.NoRuns || f.server == 0 {
		return
	}
	if !f.runOpen {
		if p.Time-d.first >= int64(d.cfg.Idle) {
			return // too late to begin a loop without a trigger
		}
		f.runOpen, f.runTrig, f.runLast = true, false, p.Time
		f.runIdx = d.newRun()
	}
	f.runLast = max(f.runLast, p.Time)
	if f.runIdx == 0 {
		return
	}
	r := &d.runs[f.runIdx-1]
	dir := 0
	if f.server == side(srcIsA) {
		dir = 1
	}
	r.add(p, dir, isDNS)
	if f.runTrig || r.clientSeen && r.clientDNS {
		d.dropRun(f) // it can no longer be a loop without a trigger
		return
	}
	if dir == 0 && !r.sampled && r.packets() > 2 {
		// A run worth watching: keep the client's payload for the report.
		n := min(len(p.Payload), MaxPayload)
		r.sample = append(r.sample[:0], p.Payload[:n]...)
		r.cut, r.sampled = p.Cut || n < len(p.Payload), true
	}
}

// newRun returns 1 + the index of fresh run statistics.
func (d *DNSPong) newRun() int32 {
	var k int32
	if n := len(d.runFree); n > 0 {
		k = d.runFree[n-1]
		d.runFree = d.runFree[:n-1]
	} else {
		d.runs = append(d.runs, runStats{})
		k = int32(len(d.runs) - 1)
	}
	r := &d.runs[k]
	r.clear()
	r.sampled = false
	return k + 1
}

// dropRun stops tracking f's run statistics; the run itself goes on.
func (d *DNSPong) dropRun(f *flowState) {
	if f.runIdx != 0 {
		d.runFree = append(d.runFree, f.runIdx-1)
		f.runIdx = 0
	}
}

// closeRun ends f's current run, filing it as a loop without a trigger
// when it qualifies.
func (d *DNSPong) closeRun(i int32, f *flowState) {
	if f.runIdx != 0 {
		r := &d.runs[f.runIdx-1]
		if !f.runTrig && r.clientSeen && !r.clientDNS && r.qualifies(d.cfg.Runs) {
			var sample []byte
			if r.sampled {
				sample = r.sample
			}
			client, server := d.flows.Endpoint(i, f.server != 1), d.flows.Endpoint(i, f.server == 1)
			d.runLoops = append(d.runLoops, r.loop(d.Name(), client, server, sample, r.sampled && r.cut))
		}
		d.dropRun(f)
	}
	f.runOpen, f.runTrig = false, false
}
