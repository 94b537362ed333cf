package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func sameFiles(t *testing.T, what string, a, b map[string][]byte) {
	t.Helper()
	for name, data := range a {
		other, ok := b[name]
		if !ok {
			t.Errorf("%s: %s missing", what, name)
			continue
		}
		if !bytes.Equal(data, other) {
			t.Errorf("%s: %s differs", what, name)
		}
	}
}

// TestGenerateDeterministic runs the generator twice and compares bytes.
func TestGenerateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if code := run([]string{"-out", a}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("first run exited %d", code)
	}
	if code := run([]string{"-out", b}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("second run exited %d", code)
	}
	fa, fb := readDir(t, a), readDir(t, b)
	if len(fa) != len(fb) || len(fa) == 0 {
		t.Fatalf("%d files, then %d", len(fa), len(fb))
	}
	sameFiles(t, "second run", fa, fb)
}

// TestTestdataUpToDate checks that testdata/pcaps holds what the generator
// writes now. Regenerate with: go run ./cmd/gensamples -out testdata/pcaps
func TestTestdataUpToDate(t *testing.T) {
	const dir = "../../testdata/pcaps"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no %s: %v", dir, err)
	}
	fresh := t.TempDir()
	if code := run([]string{"-out", fresh}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("run exited %d", code)
	}
	sameFiles(t, "testdata/pcaps is stale (go run ./cmd/gensamples -out testdata/pcaps)", readDir(t, fresh), readDir(t, dir))
}
