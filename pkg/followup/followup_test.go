package followup

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/pongscan/pongscan/internal/benchgen"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

func isDNS(l *report.Loop) bool { return l.Detector == "dns-pong" }

// TestManyLoopsAtOnce: with more loops open at once than are tested one
// by one (linearMax), each is found through the index, and each loop's
// follow-up is what following it alone gives: loops of one stream never
// see each other's packets, however many are open.
func TestManyLoopsAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "many.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := benchgen.Write(f, benchgen.Config{Packets: 120000, Seed: 5, QPS: 3000, Clients: 400, Loops: 14,
		LoopPackets: 4000, LoopEvery: 150 * time.Millisecond, LoopClients: 3, LoopShare: 0.5})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	streams := []scan.Stream{{Inputs: []scan.Input{scan.File(path)}}}
	res := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}})
	rep := res.Report
	if len(rep.Loops) != len(st.Loops) || len(rep.Loops) <= linearMax {
		t.Fatalf("%d loops found, %d planted: want more than %d", len(rep.Loops), len(st.Loops), linearMax)
	}
	opts := Options{Streams: streams, Idle: 2 * time.Second, RRL: true, WhatIf: isDNS, Ladders: true,
		ExtractDir: filepath.Join(dir, "all")}
	all := Run(context.Background(), rep, opts)
	if all.Interrupted || len(all.Errors) > 0 {
		t.Fatalf("interrupted %v, errors %v", all.Interrupted, all.Errors)
	}
	for i := range rep.Loops {
		one := &report.Report{Loops: rep.Loops[i : i+1]}
		o := opts
		o.ExtractDir, o.FirstNumber = filepath.Join(dir, "one"), i+1
		alone := Run(context.Background(), one, o)
		got, want := all.Loops[i], alone.Loops[0]
		if !got.Followed || got.Found != rep.Loops[i].Packets {
			t.Errorf("loop %d: followed %v, %d packets found of %d", i+1, got.Followed, got.Found, rep.Loops[i].Packets)
		}
		for _, c := range []struct {
			what string
			a, b any
		}{{"what-if", got.RRL, want.RRL}, {"extract", got.Extract, want.Extract}, {"ladder", got.Ladder, want.Ladder},
			{"series", got.Series, want.Series}} {
			a, _ := json.Marshal(c.a)
			b, _ := json.Marshal(c.b)
			if c.what == "extract" {
				a, b = bytes.ReplaceAll(a, []byte("/all/"), nil), bytes.ReplaceAll(b, []byte("/one/"), nil)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("loop %d: %s with %d loops open differs from the loop followed alone:\n%s\n%s", i+1, c.what, len(rep.Loops), a, b)
			}
		}
	}
}

// TestLiveMatchesSecondRead: the what-if replayed in the scan (Live)
// gives every DNS loop its verdicts without a second read, and they are
// the second read's, for 1 to 3 shards, on the samples and on captures
// of busy resolvers (loops sharing prefixes, loops opening while others
// of their prefix are open), a seed-rate loop and many loops at once.
func TestLiveMatchesSecondRead(t *testing.T) {
	dir := t.TempDir()
	var files [][]string
	samples, _ := filepath.Glob("../../testdata/pcaps/*.pcap*")
	for _, s := range samples {
		files = append(files, []string{s})
	}
	files = append(files, []string{"../../testdata/pcaps/rotated-1.pcap", "../../testdata/pcaps/rotated-2.pcap"})
	for i, cfg := range []benchgen.Config{
		{Packets: 150000, Seed: 21, QPS: 3000, Clients: 300, Loops: 8, LoopPackets: 2000, LoopEvery: 3 * time.Second, LoopClients: 2},
		{Packets: 200000, Seed: 22, QPS: 2000, Clients: 200, Loops: 1, LoopPackets: 150000, LoopInterval: 66667 * time.Nanosecond, LoopShare: 0.8},
		{Packets: 100000, Seed: 23, QPS: 3000, Clients: 400, Loops: 14, LoopPackets: 3000, LoopEvery: 100 * time.Millisecond, LoopClients: 3, LoopShare: 0.5},
		// One busy resolver's loops 20 s apart: each loop's window opens
		// while the one before is still open, and its limiters (Knot's
		// rate-limit 20 held at its threshold by the resolver) decide
		// the trigger's answer by where their replay began.
		{Packets: 700000, Seed: 1, QPS: 3000, Clients: 400, LoopPackets: 3000, LoopEvery: 20 * time.Second, LoopClients: 1},
	} {
		p := filepath.Join(dir, "gen"+string(rune('a'+i))+".pcap")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := benchgen.Write(f, cfg); err != nil {
			t.Fatal(err)
		}
		f.Close()
		files = append(files, []string{p})
	}
	dets := []detect.Factory{detect.DNSPongDetector, detect.RepeatDetector}
	loops := 0
	for _, fs := range files {
		var ins []scan.Input
		for _, f := range fs {
			ins = append(ins, scan.File(f))
		}
		streams := []scan.Stream{{Inputs: ins}}
		for shards := 1; shards <= 3; shards++ {
			live := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: dets, Shards: shards, Parallel: true, WhatIf: LiveWhatIf})
			plain := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: dets, Shards: shards, Parallel: true})
			read := Run(context.Background(), plain.Report, Options{Streams: streams, Idle: 2 * time.Second, RRL: true, WhatIf: isDNS})
			if len(live.Report.Loops) != len(plain.Report.Loops) {
				t.Fatalf("%v: %d loops with the what-if in the scan, %d without", fs, len(live.Report.Loops), len(plain.Report.Loops))
			}
			for i := range live.Report.Loops {
				l := &live.Report.Loops[i]
				if !isDNS(l) {
					continue
				}
				loops++
				if l.RRL == nil {
					t.Errorf("%v, %d shards, loop %d: no what-if from the scan", fs, shards, i+1)
					continue
				}
				a, _ := json.Marshal(l.RRL)
				b, _ := json.Marshal(read.Loops[i].RRL)
				if !bytes.Equal(a, b) {
					t.Errorf("%v, %d shards, loop %d: the scan's what-if\n%s\nthe second read's\n%s", fs, shards, i+1, a, b)
				}
			}
		}
	}
	if loops < 60 {
		t.Errorf("only %d DNS loops compared", loops)
	}
}

// TestLiveUnderSmallMemoryLimit: under a memory limit too small for a
// minute of a busy shard's responses, the ring stays small (ringCap) and
// the scan replays what it still can: every what-if it gives is the
// second read's; a quiet server's loops are all replayed in the scan, a
// busy one's (the ring no longer holds their minute) are left to the
// second read (no what-if from the scan), never guessed.
func TestLiveUnderSmallMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	for _, tc := range []struct {
		qps  float64
		busy bool
		cfg  benchgen.Config
	}{
		// 100 responses a second a shard and loops at 50 packets a
		// second: a minute fits in 8,192 records.
		{200, false, benchgen.Config{Loops: 4, LoopPackets: 200, LoopEvery: 70 * time.Second, LoopInterval: 20 * time.Millisecond}},
		{3000, true, benchgen.Config{Loops: 8, LoopPackets: 2000, LoopEvery: 3 * time.Second}},
	} {
		p := filepath.Join(t.TempDir(), "busy.pcap")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg := tc.cfg
		cfg.Packets, cfg.Seed, cfg.QPS, cfg.Clients, cfg.LoopClients = 150000, 31, tc.qps, 300, 2
		if _, err := benchgen.Write(f, cfg); err != nil {
			t.Fatal(err)
		}
		f.Close()
		debug.SetMemoryLimit(8 << 20)
		if c := ringCap(); c != 8192 {
			t.Fatalf("ringCap under an 8 MiB limit: %d records, want 8192", c)
		}
		streams := []scan.Stream{{Inputs: []scan.Input{scan.File(p)}}}
		dets := []detect.Factory{detect.DNSPongDetector}
		live := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: dets, Shards: 2, Parallel: true, WhatIf: LiveWhatIf})
		debug.SetMemoryLimit(old)
		plain := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: dets, Shards: 2, Parallel: true})
		read := Run(context.Background(), plain.Report, Options{Streams: streams, Idle: 2 * time.Second, RRL: true, WhatIf: isDNS})
		n := len(live.Report.Loops)
		if n != len(plain.Report.Loops) || n < cfg.Loops-1 {
			t.Fatalf("%v qps: %d loops with the what-if in the scan, %d without, %d planted (the last may be cut)", tc.qps, n, len(plain.Report.Loops), cfg.Loops)
		}
		left := 0
		for i := range live.Report.Loops {
			l := &live.Report.Loops[i]
			if l.RRL == nil {
				left++
				continue
			}
			a, _ := json.Marshal(l.RRL)
			b, _ := json.Marshal(read.Loops[i].RRL)
			if !bytes.Equal(a, b) {
				t.Errorf("%v qps, loop %d: the scan's what-if\n%s\nthe second read's\n%s", tc.qps, i+1, a, b)
			}
		}
		if tc.busy && left == 0 || !tc.busy && left != 0 {
			t.Errorf("%v qps under an 8 MiB limit: %d of %d loops left to the second read", tc.qps, left, n)
		}
	}
}

// TestManyLoopsOfOnePrefix: short loops of one server and client prefix,
// one after another in quick succession and many at once (every client
// in 2001:db8:2::/56). The scan and the second read give each the same
// what-if (loops whose replays start at the same point share it); beyond
// maxPerKey at once a loop gets no verdicts and a note that says why,
// from the scan (through the second read) and the second read alike.
func TestManyLoopsOfOnePrefix(t *testing.T) {
	for _, tc := range []struct {
		m       benchgen.ManyLoops
		crowded bool
	}{
		// Loops of 60 packets, 96 at once: those of one 10 s share
		// their replay.
		{benchgen.ManyLoops{Loops: 1500, InFlight: 96}, false},
		// Loops of 800 s, begun over 400 s: more than maxPerKey
		// replay starts at once.
		{benchgen.ManyLoops{Loops: 100, InFlight: 100, LoopPackets: 4000, LoopInterval: 200 * time.Millisecond}, true},
	} {
		m := tc.m
		m.Seed, m.IPv6Share = 3, 1
		p := filepath.Join(t.TempDir(), "many.pcap")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := benchgen.WriteManyLoops(f, m); err != nil {
			t.Fatal(err)
		}
		f.Close()
		streams := []scan.Stream{{Inputs: []scan.Input{scan.File(p)}}}
		dets := []detect.Factory{detect.DNSPongDetector}
		live := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: dets, Shards: 2, Parallel: true, WhatIf: LiveWhatIf})
		plain := scan.RunStreams(context.Background(), streams, scan.Options{Detectors: dets, Shards: 2, Parallel: true})
		read := Run(context.Background(), plain.Report, Options{Streams: streams, Idle: 2 * time.Second, RRL: true, WhatIf: isDNS})
		if n := len(live.Report.Loops); n != m.Loops || len(plain.Report.Loops) != n {
			t.Fatalf("%d in flight: %d loops with the what-if in the scan, %d without, %d planted", m.InFlight, n, len(plain.Report.Loops), m.Loops)
		}
		left, notes := 0, 0
		for i := range live.Report.Loops {
			r := read.Loops[i].RRL
			if r == nil {
				t.Fatalf("loop %d: no what-if from the second read", i+1)
			}
			if len(r.Scenarios) == 0 {
				if !strings.Contains(r.Note, "loops of this server and client prefix at once") {
					t.Errorf("loop %d: no verdicts, note %q", i+1, r.Note)
				}
				notes++
			}
			l := &live.Report.Loops[i]
			if l.RRL == nil {
				left++
				continue
			}
			a, _ := json.Marshal(l.RRL)
			b, _ := json.Marshal(r)
			if !bytes.Equal(a, b) {
				t.Errorf("%d in flight, loop %d: the scan's what-if\n%s\nthe second read's\n%s", m.InFlight, i+1, a, b)
			}
		}
		t.Logf("%d in flight: %d loops left to the second read, %d without verdicts there", m.InFlight, left, notes)
		if tc.crowded != (notes > 0) || tc.crowded != (left > 0) || notes > left {
			t.Errorf("%d in flight: %d loops left to the second read, %d without verdicts there", m.InFlight, left, notes)
		}
		if notes > m.Loops*3/4 {
			t.Errorf("%d in flight: %d of %d loops without verdicts", m.InFlight, notes, m.Loops)
		}
	}
}
