package report

import (
	"crypto/sha1"
	"encoding/binary"
	"math/bits"

	"github.com/pongscan/pongscan/pkg/detect"
)

// Evidence is what a loop finding rests on, for an analyst to judge it.
type Evidence struct {
	// Rule is "trigger" (a captured genuine exchange started the loop) or
	// "signature" (found by the loop signature alone).
	Rule string `json:"rule"`
	// Tests are the loop signature's checks with their numbers.
	Tests       []Test       `json:"tests"`
	Alternation float64      `json:"alternation"`
	Client      SideEvidence `json:"client"`
	Server      SideEvidence `json:"server"`
	// Cycle names the message types going each way.
	Cycle string        `json:"cycle"`
	Start StartEvidence `json:"start"`
}

// Test is one check of the loop signature.
type Test struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Held      bool    `json:"held"`
}

// SideEvidence describes what one side of a loop did.
type SideEvidence struct {
	Service  string  `json:"service"`
	Answers  float64 `json:"answers"`  // share of its packets answering the other side
	Echoes   float64 `json:"echoes"`   // share carrying the other side's last payload
	Requests float64 `json:"requests"` // share that are requests of its own
	// ReactionMS: least, mean and most delay after the other side's
	// packet, in milliseconds.
	ReactionMS [3]float64 `json:"reaction_ms"`
	Types      string     `json:"types"`
}

// StartEvidence is what the capture shows of how the loop started.
type StartEvidence struct {
	SpoofedTTL        bool  `json:"spoofed_ttl"` // the first packet's TTL differs from every later one of its sender
	FirstTTL          int   `json:"first_ttl"`
	SenderTTLs        []int `json:"sender_ttls"`        // the sender's TTLs after the first packet
	UnsolicitedAnswer bool  `json:"unsolicited_answer"` // the first packet answers nothing the capture shows
}

func fromEvidence(e *detect.Evidence) *Evidence {
	if e == nil {
		return nil
	}
	side := func(s detect.SideEvidence) SideEvidence {
		return SideEvidence{Service: ValidUTF8(s.Service), Answers: s.Answers, Echoes: s.Echoes, Requests: s.Requests,
			ReactionMS: s.ReactionMS, Types: ValidUTF8(s.Types)}
	}
	out := &Evidence{Rule: e.Rule, Alternation: e.Alternation, Client: side(e.Client), Server: side(e.Server),
		Cycle: ValidUTF8(e.Cycle), Tests: make([]Test, 0, len(e.Tests)),
		Start: StartEvidence{SpoofedTTL: e.Start.SpoofedTTL, FirstTTL: e.Start.FirstTTL,
			SenderTTLs: append([]int{}, e.Start.SenderTTLs...), UnsolicitedAnswer: e.Start.UnsolicitedAnswer}}
	for _, t := range e.Tests {
		out.Tests = append(out.Tests, Test(t))
	}
	return out
}

// LoopID is a loop's stable identifier: "L" and 16 base-62 digits of the
// SHA-1 of its two endpoints (in a fixed order) and its start time in
// nanoseconds. The same loop gets the same ID in every run and report,
// whatever the orientation its finder chose.
//
// The endpoints are hashed in their binary form (netip's AppendBinary),
// the time big-endian; the digits are the last 16 of the first 12 bytes
// of the hash read as a big-endian number in base 62 (digits 0-9, a-z,
// A-Z, as math/big writes them), zero-padded.
func LoopID(l *detect.Loop) string {
	a, b := l.Client, l.Server
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	var buf [64]byte
	in := buf[:0]
	in, _ = a.AppendBinary(in)
	in, _ = b.AppendBinary(in)
	in = binary.BigEndian.AppendUint64(in, uint64(l.Start))
	sum := sha1.Sum(in)
	hi, lo := uint64(binary.BigEndian.Uint32(sum[:4])), binary.BigEndian.Uint64(sum[4:12])
	var id [17]byte
	id[0] = 'L'
	for k := 16; k > 0; k-- {
		var r uint64
		hi, r = hi/62, hi%62
		lo, r = bits.Div64(r, lo, 62)
		id[k] = base62[r]
	}
	return string(id[:])
}

// base62 are math/big's digits up to base 62.
const base62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
