package synth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Size budgets of the loop-family samples (issue 9): each capture, and
// all of testdata/family.
const (
	familyFileBudget  = 1_500_000
	familyTotalBudget = 15_000_000
)

func TestFamilySamplesDeterministic(t *testing.T) {
	a, err := FamilySamples()
	if err != nil {
		t.Fatal(err)
	}
	b, err := FamilySamples()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d samples, then %d", len(a), len(b))
	}
	total := 0
	for i := range a {
		if a[i].Name != b[i].Name || len(a[i].Files) != len(b[i].Files) {
			t.Fatalf("sample %d differs: %s vs %s", i, a[i].Name, b[i].Name)
		}
		for j := range a[i].Files {
			n := len(a[i].Files[j].Data)
			total += n
			if n > familyFileBudget {
				t.Errorf("%s: %d bytes, budget %d", a[i].Files[j].Name, n, familyFileBudget)
			}
			if !bytes.Equal(a[i].Files[j].Data, b[i].Files[j].Data) {
				t.Errorf("%s: %s differs between runs", a[i].Name, a[i].Files[j].Name)
			}
		}
		ja, _ := json.Marshal(a[i].Truth)
		jb, _ := json.Marshal(b[i].Truth)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: truth differs between runs", a[i].Name)
		}
	}
	if total > familyTotalBudget {
		t.Errorf("family samples total %d bytes, budget %d", total, familyTotalBudget)
	}
}

// TestFamilySamplesTruth checks what the truth promises beyond what
// tshark can see: shapes, exit codes, and the properties each sample is
// built to have.
func TestFamilySamplesTruth(t *testing.T) {
	samples, err := FamilySamples()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			tr := s.Truth
			if names[s.Name] {
				t.Fatal("duplicate name")
			}
			names[s.Name] = true
			if tr.Tier != "beyond" || tr.Kind == "" || tr.Link == "" || tr.Notes == "" || len(tr.Files) != 1 || tr.Files[0] != s.Files[0].Name {
				t.Errorf("truth header %+v", tr)
			}
			n, err := readAll(t, s.Files[0].Name, s.Files[0].Data)
			if err != nil || n != tr.PacketsTotal {
				t.Errorf("read %d packets (err %v), truth says %d", n, err, tr.PacketsTotal)
			}
			trap := strings.HasPrefix(s.Name, "trap-")
			if trap != (len(tr.Loops) == 0) || trap != (tr.ExpectExit == 0) || trap != (len(tr.Traps) > 0) {
				t.Errorf("trap %v with %d loops, %d traps, exit %d", trap, len(tr.Loops), len(tr.Traps), tr.ExpectExit)
			}
			if !trap && tr.ExpectExit != 1 {
				t.Errorf("expect_exit %d with loops", tr.ExpectExit)
			}
			// Every loop but the ones whose start the capture missed
			// (or that no attacker started) begins with a spoofed
			// packet whose TTL differs from its sender's own.
			unspoofed := map[string]bool{"at-start": true, "lost-trigger": true, "machine-pong-lost-trigger": true, "machine-pong-lost-query": true}
			for _, l := range tr.Loops {
				if l.Packets < 100 || l.RatePPS <= 0 || l.Frames.First.Frame < 1 || l.Frames.Last.Frame <= l.Frames.First.Frame {
					t.Errorf("%s: %+v", l.Name, l)
				}
				if l.ClientPackets+l.ServerPackets != l.Packets || l.ClientPackets == 0 || l.ServerPackets == 0 {
					t.Errorf("%s: %d + %d packets of %d", l.Name, l.ClientPackets, l.ServerPackets, l.Packets)
				}
				if l.SpoofedFirst == unspoofed[s.Name] {
					t.Errorf("%s: spoofed_first %v", l.Name, l.SpoofedFirst)
				}
				own := l.ClientTTL
				if l.FirstFrom == "server" {
					own = l.ServerTTL
				}
				if l.SpoofedFirst && l.FirstTTL == own {
					t.Errorf("%s: spoofed first packet from the %s with its own TTL %d", l.Name, l.FirstFrom, own)
				}
			}
			if s.Name == "machine-pong-lost-trigger" {
				if l := tr.Loops[0]; l.Frames.First.Frame != 121 || l.Packets != 300 || !l.OngoingAtEnd {
					t.Errorf("derived seed loop %+v", l)
				}
			}
		})
	}
	for _, want := range []string{"echo-chargen", "qotd-echo", "daytime-daytime", "daytime-echo", "time-echo", "chargen-chargen",
		"dns-dns", "tftp69-dns", "lost-trigger", "machine-pong-lost-trigger", "ntp-mode7", "slow-10pps", "tftp-tftp-1069",
		"at-start", "two-loops-same-pair", "jitter-wide", "loss-1pct", "trap-echo-client", "trap-ntp-client",
		"trap-chargen-poller", "trap-forwarder", "trap-oneway-flood", "trap-request-response", "trap-tftp-transfer"} {
		if !names[want] {
			t.Errorf("no sample %s", want)
		}
	}
}
