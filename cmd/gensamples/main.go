// Command gensamples writes pongscan's synthetic test captures and their
// truth files:
//
//	go run ./cmd/gensamples -out testdata/pcaps
//
// Every run writes the same bytes. For each sample it writes the capture
// file(s) and NAME.truth.json.
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
	out := fs.String("out", "testdata/pcaps", "directory to write the samples to")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := generate(*out, stdout); err != nil {
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
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", " ")
		if err := enc.Encode(s.Truth); err != nil {
			return fmt.Errorf("encode truth of %s: %w", s.Name, err)
		}
		if err := writeFile(filepath.Join(dir, s.Name+".truth.json"), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
