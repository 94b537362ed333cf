package detect

// Pending queries: each DNS flow remembers its last few unanswered
// queries, to match answers with them.

// pendingCap is how many unanswered queries a flow remembers; a busier
// fixed-port resolver overwrites its oldest.
const pendingCap = 4

// answered is a flow's last answered exchange: it arms the flow for
// MaxDelay after the answer.
type answered struct {
	query, resp         ref
	queryTime, respTime int64
	id, qtype           uint16
	rcode               uint8
	ok                  bool
	name                uint64 // sequence number in the name ring
}

type pending struct {
	at    ref
	time  int64
	id    uint16
	qtype uint16
	qhash uint32
}

// pend is the k-th pending query of f: the first lives in the slot, the
// others (a fixed-port resolver's) in d.more.
func (d *DNSPong) pend(f *flowState, k int) *pending {
	if k == 0 {
		return &f.p0
	}
	return &d.more[f.more-1][k-1]
}

func (d *DNSPong) addPending(f *flowState, q pending) {
	if f.npending < pendingCap {
		if f.npending == 1 && f.more == 0 {
			f.more = d.newMore()
		}
		*d.pend(f, int(f.npending)) = q
		f.npending++
		return
	}
	*d.pend(f, int(f.next)) = q // overwrite the oldest
	f.next = (f.next + 1) % pendingCap
}

func (d *DNSPong) takePending(f *flowState, id uint16, qhash uint32, qtype uint16) (pending, bool) {
	// Newest first: a retransmitted query is answered for its last copy.
	for k := int(f.npending) - 1; k >= 0; k-- {
		q := *d.pend(f, k)
		if q.id == id && q.qhash == qhash && q.qtype == qtype {
			for j := k; j+1 < int(f.npending); j++ {
				*d.pend(f, j) = *d.pend(f, j+1)
			}
			f.npending--
			f.next = 0
			if f.npending <= 1 {
				d.freeMore(f)
			}
			return q, true
		}
	}
	return pending{}, false
}

func (d *DNSPong) newMore() int32 {
	if n := len(d.moreFree); n > 0 {
		k := d.moreFree[n-1]
		d.moreFree = d.moreFree[:n-1]
		return k + 1
	}
	d.more = append(d.more, [pendingCap - 1]pending{})
	return int32(len(d.more))
}

func (d *DNSPong) freeMore(f *flowState) {
	if f.more != 0 {
		d.moreFree = append(d.moreFree, f.more-1)
		f.more = 0
	}
}
