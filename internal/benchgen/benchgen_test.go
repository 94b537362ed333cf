package benchgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/scan"
)

func write(t *testing.T, cfg Config) ([]byte, *Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

type rec struct {
	time int64
	data []byte
}

func readAll(t *testing.T, data []byte) []rec {
	t.Helper()
	r, err := capture.Open("gen", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []rec
	var rc capture.Record
	for {
		err := r.Next(&rc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec{rc.Time, append([]byte(nil), rc.Data...)})
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Packets: 20000, Seed: 7, Clients: 500}
	a, _ := write(t, cfg)
	b, _ := write(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with one seed wrote different bytes")
	}
	cfg.Seed = 8
	if c, _ := write(t, cfg); bytes.Equal(a, c) {
		t.Fatal("two seeds wrote the same bytes")
	}
}

// TestFormats reads the pcap, pcapng and gzip outputs back: the same
// frames, exactly the packets asked for, in time order, all UDP and DNS
// except the loops' TFTP packets.
func TestFormats(t *testing.T) {
	cfg := Config{Packets: 30000, Seed: 3}
	pcap, st := write(t, cfg)
	if st.Packets != cfg.Packets || int64(len(pcap)) != st.FileBytes {
		t.Fatalf("stats say %d packets, %d bytes; want %d packets, %d bytes", st.Packets, st.FileBytes, cfg.Packets, len(pcap))
	}
	want := readAll(t, pcap)
	if len(want) != cfg.Packets {
		t.Fatalf("read %d packets, want %d", len(want), cfg.Packets)
	}
	dec := decode.NewDecoder(decode.DefaultFragLimits)
	var p decode.Packet
	var info decode.DNSInfo
	nonDNS, v6 := 0, 0
	for i, r := range want {
		if i > 0 && r.time < want[i-1].time {
			t.Fatalf("packet %d goes back in time", i+1)
		}
		if k := dec.Decode(decode.LinkEthernet, r.data, len(r.data), r.time, &p); k != decode.KindUDP {
			t.Fatalf("packet %d decodes as %v", i+1, k)
		}
		if p.Src.Addr().Is6() {
			v6++
		}
		if decode.ClassifyDNS(p.Payload, p.Cut, decode.Full, &info) != decode.DNS {
			nonDNS++
		}
	}
	loopClient := 0
	for _, l := range st.Loops {
		loopClient += (l.Packets + 1) / 2
	}
	if nonDNS != loopClient {
		t.Errorf("%d non-DNS packets, want the loops' %d client packets", nonDNS, loopClient)
	}
	if v6 != st.IPv6 || v6 == 0 {
		t.Errorf("%d IPv6 packets, stats say %d", v6, st.IPv6)
	}
	for _, c := range []Config{{Packets: cfg.Packets, Seed: 3, Pcapng: true}, {Packets: cfg.Packets, Seed: 3, Gzip: true}} {
		data, _ := write(t, c)
		got := readAll(t, data)
		if len(got) != len(want) {
			t.Fatalf("pcapng %v gzip %v: %d packets, want %d", c.Pcapng, c.Gzip, len(got), len(want))
		}
		for i := range got {
			if got[i].time != want[i].time || !bytes.Equal(got[i].data, want[i].data) {
				t.Fatalf("pcapng %v gzip %v: packet %d differs from the pcap", c.Pcapng, c.Gzip, i+1)
			}
		}
	}
}

// TestLoopsFound checks that pongscan reports exactly the planted loops.
func TestLoopsFound(t *testing.T) {
	if testing.Short() {
		t.Skip("scans 200k packets")
	}
	path := filepath.Join(t.TempDir(), "gen.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Write(f, Config{Packets: 200000, Seed: 1, Loops: 4})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.MaxPending > 1000 {
		t.Errorf("%d packets pending at once: the queue is not small", st.MaxPending)
	}
	if st.Clients < 5000 {
		t.Errorf("only %d distinct clients", st.Clients)
	}
	res := scan.Run(context.Background(), []scan.Input{scan.File(path)},
		scan.Options{Detectors: []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}, Frag: decode.DefaultFragLimits})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	got := res.Report.Loops
	if len(got) != len(st.Loops) {
		t.Fatalf("pongscan found %d loops, %d planted", len(got), len(st.Loops))
	}
	for i, l := range st.Loops {
		g := got[i]
		client := netip.AddrPortFrom(netip.MustParseAddr(g.Client.IP), g.Client.Port)
		if client != l.Client || g.Packets != uint64(l.Packets) {
			t.Errorf("loop %d: found %s with %d packets, planted %s with %d", i+1, client, g.Packets, l.Client, l.Packets)
		}
		if l.Packets < 100 {
			t.Errorf("loop %d has only %d packets", i+1, l.Packets)
		}
	}
}
