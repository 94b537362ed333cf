// Command gensamples writes pongscan's synthetic test captures and their
// truth files:
//
//	go run ./cmd/gensamples -out testdata/pcaps
//	go run ./cmd/gensamples -family -out testdata/family
//
// Every run writes the same bytes. For each sample it writes the capture
// file(s) and NAME.truth.json. -family writes the loop-family samples of
// issue 9 (loops without a captured trigger, and traps) instead; with
// -cases it lays each out as the acceptance cases are, a folder NAME
// holding the capture and truth.json, for
// python3 ../shared/acceptance/check.py BINARY DIR.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pongscan/pongscan/pkg/synth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gensamples", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write the samples to (default testdata/pcaps, or testdata/family with -family)")
	family := fs.Bool("family", false, "write the loop-family samples (issue 9) instead of the core ones")
	cases := fs.Bool("cases", false, "with -family: one folder per sample holding the capture and truth.json, as check.py reads them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*cases && !*family) {
		fmt.Fprintln(stderr, "usage: gensamples [-family [-cases]] [-out DIR]")
		return 2
	}
	var err error
	switch {
	case *family:
		dir := *out
		if dir == "" {
			dir = "testdata/family"
		}
		err = generateFamily(dir, *cases, stdout)
	default:
		dir := *out
		if dir == "" {
			dir = "testdata/pcaps"
		}
		err = generate(dir, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gensamples: %v\n", err)
		return 1
	}
	return 0
}

func generate(dir string, stdout io.Writer) error {
	samples, err := synth.Samples()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range samples {
		for _, f := range s.Files {
			if err := writeFile(filepath.Join(dir, f.Name), f.Data); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-24s %8d bytes\n", f.Name, len(f.Data))
		}
		if err := writeTruth(filepath.Join(dir, s.Name+".truth.json"), s.Name, s.Truth, true); err != nil {
			return err
		}
	}
	return nil
}

// generateFamily writes the loop-family samples to dir: flat (capture
// files and NAME.truth.json) or, with cases, as dir/NAME/{capture,
// truth.json}.
func generateFamily(dir string, cases bool, stdout io.Writer) error {
	samples, err := synth.FamilySamples()
	if err != nil {
		return err
	}
	for _, s := range samples {
		sub, truthName := dir, s.Name+".truth.json"
		if cases {
			sub, truthName = filepath.Join(dir, s.Name), "truth.json"
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for _, f := range s.Files {
			if err := writeFile(filepath.Join(sub, f.Name), f.Data); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-32s %8d bytes\n", f.Name, len(f.Data))
		}
		if err := writeTruth(filepath.Join(sub, truthName), s.Name, s.Truth, false); err != nil {
			return err
		}
	}
	return nil
}

// writeTruth writes truth as indented JSON. escapeHTML keeps the core
// samples' truth byte-identical to what they always were ("<" as \u003c);
// the family's notes say "<->" readably.
func writeTruth(path, name string, truth any, escapeHTML bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(truth); err != nil {
		return fmt.Errorf("encode truth of %s: %w", name, err)
	}
	return writeFile(path, buf.Bytes())
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
