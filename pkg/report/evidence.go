package report

import (
	"crypto/sha1"
	"encoding/binary"
	"math/big"

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
		Cycle: ValidUTF8(e.Cycle), Tests: []Test{},
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
func LoopID(l *detect.Loop) string {
	a, b := l.Client, l.Server
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	h := sha1.New()
	for _, ap := range []interface{ MarshalBinary() ([]byte, error) }{a, b} {
		bs, _ := ap.MarshalBinary()
		h.Write(bs)
	}
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(l.Start))
	h.Write(t[:])
	sum := h.Sum(nil)
	s := new(big.Int).SetBytes(sum[:12]).Text(62)
	for len(s) < 16 {
		s = "0" + s
	}
	return "L" + s[len(s)-16:]
}
