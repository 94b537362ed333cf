package followup

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
