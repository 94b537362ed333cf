package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/golden")

// truth is the ground truth the sample generator writes beside each sample
// (the same shape as ../shared/acceptance/cases/*/truth.json).
type truth struct {
	Files      []string `json:"files"`
	ExpectExit int      `json:"expect_exit"`
	Partial    bool     `json:"partial"`
	Loops      []struct {
		Client  endpoint                   `json:"client"`
		Server  endpoint                   `json:"server"`
		Packets uint64                     `json:"packets"`
		RatePPS float64                    `json:"rate_pps"`
		Ongoing *bool                      `json:"ongoing_at_end"`
		Frames  map[string]json.RawMessage `json:"frames"`
		Name    string                     `json:"name"`
	} `json:"loops"`
	PacketsTotal uint64 `json:"packets_total"`
}

type endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
}

type gotReport struct {
	Schema  string `json:"schema"`
	Summary struct {
		Packets uint64 `json:"packets"`
		Loops   int    `json:"loops"`
	} `json:"summary"`
	Loops []struct {
		Client       endpoint `json:"client"`
		Server       endpoint `json:"server"`
		Packets      uint64   `json:"packets"`
		RatePPS      float64  `json:"rate_pps"`
		OngoingAtEnd bool     `json:"ongoing_at_end"`
		Trigger      map[string]struct {
			File  string `json:"file"`
			Frame uint64 `json:"frame"`
		} `json:"trigger"`
	} `json:"loops"`
}

func samples(t *testing.T) map[string]truth {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/pcaps/*.truth.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples in testdata/pcaps (regenerate: go run ./cmd/gensamples -out testdata/pcaps): %v", err)
	}
	out := map[string]truth{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var tr truth
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".truth.json")] = tr
	}
	return out
}

func runCLI(t *testing.T, args ...string) (ExitCode, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestSamples runs every sample capture through the command, checks the
// JSON report against the generator's ground truth and compares the JSON
// and table reports with the golden files (-update rewrites them).
func TestSamples(t *testing.T) {
	all := samples(t)
	t.Chdir("../../testdata/pcaps")
	for name, tr := range all {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"scan", "--format", "json"}, tr.Files...)...)
			if int(code) != tr.ExpectExit {
				t.Errorf("exit %d, want %d; stderr: %s", code, tr.ExpectExit, stderr)
			}
			if code == ExitTrouble && !strings.Contains(stderr, tr.Files[len(tr.Files)-1]) {
				t.Errorf("stderr does not name the file: %q", stderr)
			}
			var rep gotReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("stdout is not JSON: %v", err)
			}
			checkTruth(t, &tr, &rep)
			golden(t, name+".json", out, true)
			_, table, _ := runCLI(t, append([]string{"scan"}, tr.Files...)...)
			golden(t, name+".txt", table, false)
			// Determinism: byte-identical JSON and CSV whatever the
			// parallelism.
			_, serial, _ := runCLI(t, append([]string{"scan", "--format", "json", "--parallel=false"}, tr.Files...)...)
			if serial != out {
				t.Errorf("JSON differs between --parallel=false and the default")
			}
			_, csvOut, _ := runCLI(t, append([]string{"scan", "--format", "csv"}, tr.Files...)...)
			_, csvSerial, _ := runCLI(t, append([]string{"scan", "--format", "csv", "--parallel=false"}, tr.Files...)...)
			if csvOut != csvSerial {
				t.Errorf("CSV differs between --parallel=false and the default")
			}
			if n := strings.Count(csvOut, "\n"); n != 1+len(rep.Loops) {
				t.Errorf("csv has %d lines, want a header and %d rows", n, len(rep.Loops))
			}
		})
	}
}

func checkTruth(t *testing.T, tr *truth, rep *gotReport) {
	t.Helper()
	if rep.Schema != "pongscan.report/v1" {
		t.Errorf("schema %q", rep.Schema)
	}
	if !tr.Partial && tr.PacketsTotal > 0 && rep.Summary.Packets != tr.PacketsTotal {
		t.Errorf("summary packets %d, want %d", rep.Summary.Packets, tr.PacketsTotal)
	}
	if len(rep.Loops) != len(tr.Loops) || rep.Summary.Loops != len(tr.Loops) {
		t.Fatalf("%d loops reported (summary %d), want %d", len(rep.Loops), rep.Summary.Loops, len(tr.Loops))
	}
	for i, want := range tr.Loops {
		got := rep.Loops[i]
		if got.Client != want.Client || got.Server != want.Server {
			t.Errorf("%s: endpoints %v <-> %v, want %v <-> %v", want.Name, got.Client, got.Server, want.Client, want.Server)
		}
		if d := math.Abs(float64(got.Packets) - float64(want.Packets)); d > math.Max(2, 0.02*float64(want.Packets)) {
			t.Errorf("%s: packets %d, want %d", want.Name, got.Packets, want.Packets)
		}
		if !tr.Partial && want.RatePPS > 0 && math.Abs(got.RatePPS-want.RatePPS) > 0.1*want.RatePPS {
			t.Errorf("%s: rate %.1f, want %.1f", want.Name, got.RatePPS, want.RatePPS)
		}
		if want.Ongoing != nil && got.OngoingAtEnd != *want.Ongoing {
			t.Errorf("%s: ongoing %v, want %v", want.Name, got.OngoingAtEnd, *want.Ongoing)
		}
		for tk, rk := range map[string]string{"trigger_query": "query", "trigger_response": "response", "first_non_dns": "first_non_dns"} {
			raw, ok := want.Frames[tk]
			if !ok {
				continue
			}
			g := got.Trigger[rk]
			var frame uint64
			var pair []any
			if json.Unmarshal(raw, &frame) == nil {
				if g.Frame != frame {
					t.Errorf("%s: %s frame %d, want %d", want.Name, rk, g.Frame, frame)
				}
			} else if json.Unmarshal(raw, &pair) == nil && len(pair) == 2 {
				if filepath.Base(g.File) != pair[0] || float64(g.Frame) != pair[1] {
					t.Errorf("%s: %s at %s#%d, want %v#%v", want.Name, rk, g.File, g.Frame, pair[0], pair[1])
				}
			} else {
				t.Errorf("%s: bad truth frame %s", want.Name, raw)
			}
		}
	}
}

// golden compares got with testdata/golden/name; JSON is compared as
// decoded values.
func golden(t *testing.T, name, got string, isJSON bool) {
	t.Helper()
	path := filepath.Join("..", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update)", err)
	}
	if isJSON {
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s differs from the golden report (go test ./internal/cli -update rewrites it):\n%s", name, got)
		}
		return
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden report (go test ./internal/cli -update rewrites it):\n%s", name, got)
	}
}
