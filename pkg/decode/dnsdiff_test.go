package decode

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzHeaderQuestionMatchesDNSMessage holds the hand-written header and
// first-question reader to dnsmessage: both accept the same messages and
// read the same ID, flags, name, type and class.
func FuzzHeaderQuestionMatchesDNSMessage(f *testing.F) {
	seeds := [][]byte{
		{},
		make([]byte, 12),
		[]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"),
		[]byte("\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x01\x00\x01"),              // root name
		[]byte("\x00\x05\x00\x04RRQ must be sent first\x00"),                                        // TFTP error
		[]byte("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"),          // pointer loop
		[]byte("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03a.b\x00\x00\x01\x00\x01"),       // dot in label
		[]byte("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x41abc\x00\x00\x01\x00\x01"),       // reserved label type
		[]byte("\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01\xc0\x0c"), // second question cut
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var info DNSInfo
		got := parseHeaderQuestion(msg, &info)
		var p dnsmessage.Parser
		h, err := p.Start(msg)
		if err != nil {
			if got {
				t.Fatalf("hand reader accepts a header dnsmessage refuses: %v", err)
			}
			return
		}
		q, qerr := p.Question()
		want := qerr == nil || qerr == dnsmessage.ErrSectionDone
		if got != want {
			t.Fatalf("hand reader says %v, dnsmessage says %v (%v)", got, want, qerr)
		}
		if !got {
			return
		}
		if info.ID != h.ID || info.Response != h.Response || info.RCode != uint8(h.RCode)&0x0f || info.Opcode != uint8(h.OpCode) {
			t.Fatalf("header %+v, dnsmessage %+v", info, h)
		}
		if info.HasQuestion != (qerr == nil) {
			t.Fatalf("HasQuestion %v, dnsmessage error %v", info.HasQuestion, qerr)
		}
		if qerr == nil {
			if info.QName.String() != q.Name.String() || info.QType != uint16(q.Type) || info.QClass != uint16(q.Class) {
				t.Fatalf("question %q %d %d, dnsmessage %q %d %d", info.QName.String(), info.QType, info.QClass, q.Name.String(), q.Type, q.Class)
			}
		}
	})
}

func TestClassifyDNSVerdicts(t *testing.T) {
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03www\x07example\x03com\x00\x00\x01\x00\x01" +
		"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00") // with an EDNS OPT record
	tests := []struct {
		name    string
		payload []byte
		cut     bool
		depth   Depth
		want    DNSVerdict
	}{
		{"query", query, false, Full, DNS},
		{"query, header and question", query, false, HeaderQuestion, DNS},
		{"FORMERR header only", []byte("\x00\x05\x80\x01\x00\x00\x00\x00\x00\x00\x00\x00"), false, Full, DNS},
		{"TFTP error", []byte("\x00\x05\x00\x04RRQ must be sent first\x00"), false, Full, NotDNS},
		{"short", []byte("\x00\x05\x00"), false, Full, NotDNS},
		{"announced record missing", query[:len(query)-11], false, Full, NotDNS},
		{"announced record missing, header check only", query[:len(query)-11], false, HeaderQuestion, DNS},
		{"cut by the snap length", query[:20], true, Full, Truncated},
		{"cut after the question", query[:len(query)-5], true, Full, Truncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info DNSInfo
			if got := ClassifyDNS(tt.payload, tt.cut, tt.depth, &info); got != tt.want {
				t.Errorf("verdict %v, want %v", got, tt.want)
			}
		})
	}
	var info DNSInfo
	ClassifyDNS(query, false, Full, &info)
	if info.ID != 0x1234 || info.Response || !info.HasQuestion || info.QName.String() != "www.example.com." || info.QType != 1 || info.QClass != 1 {
		t.Errorf("info %+v", info)
	}
}
