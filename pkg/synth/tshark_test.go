package synth

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tsharkRow is one frame as tshark decodes it.
type tsharkRow struct {
	frame    int
	ns       int64 // Unix time in nanoseconds
	src, dst netip.AddrPort
	udp      bool // false for frames without a (reassembled) UDP header
	ttl      int
}

// tsharkFields are the fields the cross-check reads, in order.
var tsharkFields = []string{
	"frame.number", "frame.time_epoch",
	"ip.src", "ipv6.src", "udp.srcport", "ip.dst", "ipv6.dst", "udp.dstport",
	"ip.ttl", "ipv6.hlim",
}

// needTshark returns tshark's path, or skips the test saying why.
func needTshark(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed, so the family truth is not cross-checked (.ci/run installs it; apt-get install tshark)")
	}
	return path
}

// runTshark decodes file with tshark. IP reassembly is on, so a
// fragmented datagram's UDP fields appear on its last fragment, where the
// truth counts it. It fails the test unless tshark reads the whole file
// cleanly.
func runTshark(t *testing.T, tshark, file string) []tsharkRow {
	t.Helper()
	args := []string{"-n", "-r", file, "-o", "ip.defragment:TRUE", "-o", "ipv6.defragment:TRUE",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.Contains(line, "could be dangerous") {
			t.Errorf("tshark on %s says: %s", filepath.Base(file), line)
		}
	}
	var rows []tsharkRow
	for _, line := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != len(tsharkFields) {
			t.Fatalf("tshark line %q has %d fields", line, len(f))
		}
		r := tsharkRow{}
		var err error
		if r.frame, err = strconv.Atoi(f[0]); err != nil {
			t.Fatalf("frame number %q", f[0])
		}
		if r.ns, err = epochNanos(f[1]); err != nil {
			t.Fatalf("frame %d: %v", r.frame, err)
		}
		src, dst, ttl := f[2], f[5], f[8]
		if src == "" {
			src, dst, ttl = f[3], f[6], f[9]
		}
		r.ttl, _ = strconv.Atoi(ttl)
		if f[4] != "" && src != "" {
			sp, err1 := strconv.ParseUint(f[4], 10, 16)
			dp, err2 := strconv.ParseUint(f[7], 10, 16)
			sa, err3 := netip.ParseAddr(src)
			da, err4 := netip.ParseAddr(dst)
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
				t.Fatalf("frame %d: cannot parse %q", r.frame, line)
			}
			r.src, r.dst, r.udp = netip.AddrPortFrom(sa, uint16(sp)), netip.AddrPortFrom(da, uint16(dp)), true
		}
		rows = append(rows, r)
	}
	return rows
}

// epochNanos parses tshark's frame.time_epoch ("1454936402.400000000")
// exactly.
func epochNanos(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("epoch %q: %w", s, err)
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("epoch %q: %w", s, err)
	}
	return secs*1e9 + ns, nil
}

// closeTo reports whether the truth's Unix seconds f name time ns (the
// float64 of an epoch carries about 0.25µs).
func closeTo(f float64, ns int64) bool {
	return math.Abs(f*1e9-float64(ns)) < 1000
}

// checkFlow checks one loop or trap flow of the truth against tshark's
// decoding; strict asks the loop properties (alternation, silence before
// and after).
func checkFlow(t *testing.T, rows []tsharkRow, ft FlowTruth, strict bool) {
	t.Helper()
	client := netip.AddrPortFrom(netip.MustParseAddr(ft.Client.IP), ft.Client.Port)
	server := netip.AddrPortFrom(netip.MustParseAddr(ft.Server.IP), ft.Server.Port)
	on := func(r tsharkRow) bool {
		return r.udp && ((r.src == client && r.dst == server) || (r.src == server && r.dst == client))
	}
	first, last := ft.Frames.First.Frame, ft.Frames.Last.Frame
	if first < 1 || last > len(rows) || first > last {
		t.Fatalf("%s: frames %d..%d of %d", ft.Name, first, last, len(rows))
	}
	fr, lr := rows[first-1], rows[last-1]
	if fr.frame != first || !on(fr) || !on(lr) {
		t.Fatalf("%s: tshark frames %d and %d are not on %v <-> %v", ft.Name, first, last, client, server)
	}
	if !closeTo(ft.Start, fr.ns) || !closeTo(ft.End, lr.ns) {
		t.Errorf("%s: start %.9f end %.9f, tshark %d %d", ft.Name, ft.Start, ft.End, fr.ns, lr.ns)
	}
	if (fr.src == client) != (ft.FirstFrom == "client") || fr.ttl != int(ft.FirstTTL) {
		t.Errorf("%s: first packet from %v with TTL %d, truth %s with %d", ft.Name, fr.src, fr.ttl, ft.FirstFrom, ft.FirstTTL)
	}
	packets, fromClient, fromServer := 0, 0, 0
	var prev netip.AddrPort
	for _, r := range rows[first-1 : last] {
		if !on(r) {
			continue
		}
		packets++
		want := int(ft.ServerTTL)
		if r.src == client {
			fromClient++
			want = int(ft.ClientTTL)
		} else {
			fromServer++
		}
		if r.frame != first && r.ttl != want {
			t.Errorf("%s: frame %d from %v has TTL %d, truth %d", ft.Name, r.frame, r.src, r.ttl, want)
		}
		if strict && r.src == prev {
			t.Errorf("%s: frame %d: %v sends twice in a row", ft.Name, r.frame, r.src)
		}
		prev = r.src
	}
	if packets != ft.Packets || fromClient != ft.ClientPackets || fromServer != ft.ServerPackets {
		t.Errorf("%s: tshark counts %d packets (%d + %d), truth %d (%d + %d)", ft.Name,
			packets, fromClient, fromServer, ft.Packets, ft.ClientPackets, ft.ServerPackets)
	}
	if d := float64(lr.ns-fr.ns) / 1e9; d > 0 && math.Abs(float64(packets)/d-ft.RatePPS) > 1e-6*ft.RatePPS {
		t.Errorf("%s: rate %v, tshark's packets over duration %v", ft.Name, ft.RatePPS, float64(packets)/d)
	}
	endNs := rows[len(rows)-1].ns
	for _, r := range rows {
		endNs = max(endNs, r.ns)
	}
	var maxGap, prevNs int64
	for _, r := range rows {
		if on(r) && r.frame >= first && r.frame <= last {
			if prevNs != 0 {
				maxGap = max(maxGap, r.ns-prevNs)
			}
			prevNs = r.ns
		}
	}
	if ongoing := StillRunning(time.Duration(endNs-lr.ns), time.Duration(maxGap)); ongoing != ft.OngoingAtEnd {
		t.Errorf("%s: ongoing_at_end %v, but the last packet is %v before the capture's end", ft.Name, ft.OngoingAtEnd, time.Duration(endNs-lr.ns))
	}
	if !strict {
		return
	}
	// The loop is one run: its flow is silent for OngoingWindow before
	// its first packet and after its last.
	for _, r := range rows {
		if !on(r) || (r.frame >= first && r.frame <= last) {
			continue
		}
		if (r.ns < fr.ns && fr.ns-r.ns < int64(OngoingWindow)) || (r.ns > lr.ns && r.ns-lr.ns < int64(OngoingWindow)) {
			t.Errorf("%s: frame %d on the loop's flow is within %v of the loop", ft.Name, r.frame, OngoingWindow)
		}
	}
}

// TestFamilyTshark cross-checks every family sample's truth with tshark:
// the capture reads cleanly, frame counts agree, and each loop's (and
// trap flow's) first and last frames, times, packet counts per direction,
// TTLs, rate and ongoing flag are what tshark sees.
func TestFamilyTshark(t *testing.T) {
	tshark := needTshark(t)
	samples, err := FamilySamples()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(dir, s.Files[0].Name)
			if err := os.WriteFile(file, s.Files[0].Data, 0o644); err != nil {
				t.Fatal(err)
			}
			rows := runTshark(t, tshark, file)
			if len(rows) != s.Truth.PacketsTotal {
				t.Fatalf("tshark reads %d frames, truth says %d", len(rows), s.Truth.PacketsTotal)
			}
			for i, r := range rows {
				if r.frame != i+1 {
					t.Fatalf("row %d is frame %d", i+1, r.frame)
				}
			}
			// Traps have no loops by construction (TestFamilySamplesTruth);
			// their flows must still be where the truth says.
			for _, l := range s.Truth.Loops {
				checkFlow(t, rows, l, true)
			}
			for _, l := range s.Truth.Traps {
				checkFlow(t, rows, l, false)
			}
		})
	}
}

// TestFamilyDerivedMatchesEditcap checks that the sample derived from
// machine-pong.pcap is what editcap makes of it: frames 121 and 122 (or
// 121 alone) deleted, all other frames the same.
func TestFamilyDerivedMatchesEditcap(t *testing.T) {
	tshark := needTshark(t)
	editcap, err := exec.LookPath("editcap")
	if err != nil {
		t.Skip("editcap is not installed (it comes with tshark)")
	}
	core, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	family, err := FamilySamples()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var orig string
	for _, s := range core {
		if s.Name == "machine-pong" {
			orig = write("orig.pcap", s.Files[0].Data)
		}
	}
	derived := map[string][]string{"machine-pong-lost-trigger": {"121", "122"}, "machine-pong-lost-query": {"121"}}
	for _, s := range family {
		drop, ok := derived[s.Name]
		if !ok {
			continue
		}
		delete(derived, s.Name)
		ours := write(s.Files[0].Name, s.Files[0].Data)
		theirs := filepath.Join(dir, "editcap-"+s.Files[0].Name)
		if out, err := exec.Command(editcap, append([]string{orig, theirs}, drop...)...).CombinedOutput(); err != nil {
			t.Fatalf("editcap: %v: %s", err, out)
		}
		a, b := runTshark(t, tshark, ours), runTshark(t, tshark, theirs)
		if len(a) != len(b) {
			t.Fatalf("%s: %d frames, editcap's %d", s.Name, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: frame %d is %+v, editcap's %+v", s.Name, i+1, a[i], b[i])
			}
		}
	}
	if len(derived) > 0 {
		t.Errorf("derived samples missing: %v", derived)
	}
}
