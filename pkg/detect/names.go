package detect

import "golang.org/x/net/dns/dnsmessage"

// nameRing keeps the question names of recent answers so a loop can report
// its trigger's name without every flow storing one.
type nameRing struct {
	names []dnsmessage.Name
	seqs  []uint64
	next  uint64
}

// nameRingSize names kept: 8 MiB, allocated at the first answer, enough
// for 65k answers a second under the default 500 ms max-delay.
const nameRingSize = 1 << 15

func (r *nameRing) put(n *dnsmessage.Name) uint64 {
	r.next++
	seq := r.next
	if r.names == nil {
		r.names = make([]dnsmessage.Name, nameRingSize)
		r.seqs = make([]uint64, nameRingSize)
	}
	k := (seq - 1) % nameRingSize
	r.names[k], r.seqs[k] = *n, seq
	return seq
}

func (r *nameRing) get(seq uint64) (string, bool) {
	k := (seq - 1) % nameRingSize
	if seq == 0 || k >= uint64(len(r.seqs)) || r.seqs[k] != seq {
		return "", false
	}
	n := &r.names[k]
	return string(n.Data[:min(int(n.Length), len(n.Data))]), true
}
