package decode

import (
	"bytes"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// TestRegressionFragmentPastEnd: a fragment lying past the end that the
// last fragment set made the pieces add up to the datagram's length with a
// hole in it, and the reassembler returned the hole as zero bytes. Such a
// datagram must be dropped, whatever order the fragments come in, and a
// well-formed one must still be rebuilt.
func TestRegressionFragmentPastEnd(t *testing.T) {
	udp := fuzzUDP(bytes.Repeat([]byte("pong"), 6)) // 32 bytes
	tests := []struct {
		name    string
		frames  [][]byte
		want    Kind // of the last frame
		dropped uint64
	}{
		{
			name: "past the end, last fragment first",
			frames: [][]byte{
				fuzzIPv4(17, 1, 8, false, udp[8:16]),
				fuzzIPv4(17, 1, 16, true, udp[16:24]),
			},
			want: KindFragment, dropped: 1,
		},
		{
			name: "past the end, last fragment second",
			frames: [][]byte{
				fuzzIPv4(17, 1, 16, true, udp[16:24]),
				fuzzIPv4(17, 1, 8, false, udp[8:16]),
			},
			want: KindFragment, dropped: 1,
		},
		{
			name: "past the end over IPv6",
			frames: [][]byte{
				fuzzIPv6(44, fuzzFrag6(17, 1, 8, false, udp[8:16])),
				fuzzIPv6(44, fuzzFrag6(17, 1, 16, true, udp[16:24])),
			},
			want: KindFragment, dropped: 1,
		},
		{
			name: "in order",
			frames: [][]byte{
				fuzzIPv4(17, 1, 0, true, udp[:16]),
				fuzzIPv4(17, 1, 16, false, udp[16:]),
			},
			want: KindUDP,
		},
		{
			name: "last fragment first",
			frames: [][]byte{
				fuzzIPv4(17, 1, 16, false, udp[16:]),
				fuzzIPv4(17, 1, 8, true, udp[8:16]),
				fuzzIPv4(17, 1, 0, true, udp[:8]),
			},
			want: KindUDP,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(DefaultFragLimits)
			var p Packet
			var k Kind
			for i, f := range tt.frames {
				k = d.Decode(LinkRaw, f, len(f), int64(i), &p)
			}
			if k != tt.want {
				t.Fatalf("last frame decoded as %v, want %v", k, tt.want)
			}
			if got := d.FragmentsDropped(); got != tt.dropped {
				t.Fatalf("%d fragments dropped, want %d", got, tt.dropped)
			}
			if k == KindUDP && (!p.Reassembled || !bytes.Equal(p.Payload, udp[8:])) {
				t.Fatalf("reassembled=%v payload %q, want %q", p.Reassembled, p.Payload, udp[8:])
			}
			if d.frag.Pending() != 0 || d.frag.bytes != 0 {
				t.Fatalf("%d datagrams, %d bytes left pending", d.frag.Pending(), d.frag.bytes)
			}
		})
	}
}

// TestRegressionRDLengthPastEnd: FuzzClassifyDNS found a message that
// dnsmessage.Message.Unpack accepts though its one answer, of type NS,
// declares 12336 bytes of data with one byte left: Unpack reads the NS
// name and never checks that the last record's length fits the message.
// ClassifyDNS skips records by their declared length, so at Full depth
// the message is not DNS (Truncated when cut), while its header and empty
// question section are DNS at HeaderQuestion depth.
func TestRegressionRDLengthPastEnd(t *testing.T) {
	msg := []byte("0000\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x0200000000\x00")
	var m dnsmessage.Message
	if err := m.Unpack(msg); err != nil || len(m.Answers) != 1 || m.Answers[0].Header.Length != 12336 {
		t.Logf("dnsmessage no longer unpacks it (%v): the leniency is gone", err)
	}
	tests := []struct {
		depth Depth
		cut   bool
		want  DNSVerdict
	}{
		{HeaderQuestion, false, DNS},
		{HeaderQuestion, true, DNS},
		{Full, false, NotDNS},
		{Full, true, Truncated},
	}
	for _, tt := range tests {
		var info DNSInfo
		if got := ClassifyDNS(msg, tt.cut, tt.depth, &info); got != tt.want {
			t.Errorf("depth %d, cut %v: %v, want %v", tt.depth, tt.cut, got, tt.want)
		}
		if info.ID != 0x3030 || info.HasQuestion {
			t.Errorf("depth %d: ID %#x, question %v", tt.depth, info.ID, info.HasQuestion)
		}
	}
}
