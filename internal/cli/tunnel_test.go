package cli

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/pkg/capture"
)

// wrapTunnel writes the frames of the pcap at src, each inside an outer
// Ethernet/IPv4/UDP datagram to port (4789 VXLAN, 6081 Geneve) between
// two mirror endpoints, the outer source port varying with the frame as
// a VTEP's flow hash does.
func wrapTunnel(t *testing.T, src, dst string, port uint16) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(src, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	var rec capture.Record
	for i := 0; ; i++ {
		if err := r.Next(&rec); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var tun []byte
		if port == 6081 {
			tun = []byte{0, 0, 0x65, 0x58, 0, 0, 42, 0} // Geneve, no options
		} else {
			tun = []byte{0x08, 0, 0, 0, 0, 0, 42, 0} // VXLAN, VNI 42
		}
		inner := append(tun, rec.Data...)
		udp := make([]byte, 8)
		be.PutUint16(udp[0:], uint16(49152+i%97))
		be.PutUint16(udp[2:], port)
		be.PutUint16(udp[4:], uint16(8+len(inner)))
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
		be.PutUint16(ip[2:], uint16(20+8+len(inner)))
		var sum uint32
		for k := 0; k < 20; k += 2 {
			sum += uint32(be.Uint16(ip[k:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		be.PutUint16(ip[10:], ^uint16(sum))
		eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0}
		frame := append(append(append(eth, ip...), udp...), inner...)
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, rec.Time), CaptureLength: len(frame), Length: len(frame) + rec.OrigLen - len(rec.Data)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMirroredLoops: the seed loop mirrored inside VXLAN and inside
// Geneve, as cloud traffic mirroring delivers it, is the plain capture's
// loop: the same endpoints, packets, rate and trigger frames, and
// --extract writes all its packets; tshark decodes the same DNS messages
// inside (where installed).
func TestMirroredLoops(t *testing.T) {
	sample := "../../testdata/pcaps/machine-pong.pcap"
	_, plainOut, _ := runCLI(t, "scan", "-f", "json", sample)
	plain := jsonReport(t, plainOut)
	if len(plain.Loops) != 1 {
		t.Fatalf("plain: %d loops", len(plain.Loops))
	}
	for _, tc := range []struct {
		name string
		port uint16
	}{{"vxlan", 4789}, {"geneve", 6081}} {
		p := filepath.Join(t.TempDir(), tc.name+".pcap")
		wrapTunnel(t, sample, p, tc.port)
		x := filepath.Join(filepath.Dir(p), "x")
		code, out, stderr := runCLI(t, "scan", "-f", "json", "--extract", x, p)
		if code != ExitLoops {
			t.Fatalf("%s: exit %d, %s", tc.name, code, stderr)
		}
		got := jsonReport(t, out)
		if len(got.Loops) != 1 {
			t.Fatalf("%s: %d loops", tc.name, len(got.Loops))
		}
		a, b := got.Loops[0], plain.Loops[0]
		if loopLine(a) != loopLine(b) || a.Trigger.Query == nil || a.Trigger.Query.Frame != b.Trigger.Query.Frame ||
			a.FirstPacket.Frame != b.FirstPacket.Frame || a.RatePPS != b.RatePPS {
			t.Errorf("%s: %s, want %s", tc.name, loopLine(a), loopLine(b))
		}
		// The second read finds the loop inside the tunnel too.
		if x := a.Extract; x == nil || x.Error != "" || !x.Complete || x.LoopPackets != b.Packets {
			t.Errorf("%s: --extract %+v, want the loop's %d packets", tc.name, x, b.Packets)
		}
		if _, err := exec.LookPath("tshark"); err == nil {
			count := func(file string, args ...string) string {
				out, err := exec.Command("tshark", append([]string{"-r", file, "-Y", "dns", "-T", "fields", "-e", "frame.number"}, args...)...).Output()
				if err != nil {
					t.Fatalf("tshark: %v", err)
				}
				return strings.TrimSpace(string(out))
			}
			args := []string{}
			if tc.port == 6081 {
				args = []string{"-d", "udp.port==6081,geneve"}
			}
			if w, g := count(sample), count(p, args...); w != g {
				t.Errorf("%s: tshark finds DNS in other frames than in the plain capture", tc.name)
			}
		}
	}
}
