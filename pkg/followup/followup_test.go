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
