package followup

import (
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/scan"
)

// fragRing keeps copies of the recent IP fragment frames near the loops
// followed, so that every frame of a reassembled loop datagram can be
// extracted: the decoder hands the datagram over at its last fragment,
// named by the same decode.FragID as its other fragments. It holds at
// most maxFrags frames or maxFragBytes bytes, as the reassembler bounds
// its own memory, oldest first out.
type fragRing struct {
	frags []frag
	bytes int
}

const (
	maxFrags     = 1024
	maxFragBytes = 4 << 20
)

type frag struct {
	frame scan.Frame // Data and Packet are not kept
	data  []byte
	id    decode.FragID
}

func (r *fragRing) add(fr *scan.Frame, id decode.FragID) {
	c := *fr
	c.Data, c.Packet = nil, nil
	r.frags = append(r.frags, frag{frame: c, data: append([]byte(nil), fr.Data...), id: id})
	r.bytes += len(fr.Data)
	for len(r.frags) > maxFrags || r.bytes > maxFragBytes {
		r.bytes -= len(r.frags[0].data)
		r.frags[0] = frag{}
		r.frags = r.frags[1:]
	}
}

// take removes and returns the kept fragments of datagram id.
func (r *fragRing) take(id decode.FragID) []frag {
	var out []frag
	keep := r.frags[:0]
	for _, f := range r.frags {
		if f.id == id {
			out = append(out, f)
			r.bytes -= len(f.data)
		} else {
			keep = append(keep, f)
		}
	}
	clear(r.frags[len(keep):])
	r.frags = keep
	return out
}
