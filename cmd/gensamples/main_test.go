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

// TestGenerateFamilyDeterministic runs the family generator twice and
// compares bytes.
func TestGenerateFamilyDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if code := run([]string{"-family", "-out", d}, io.Discard, io.Discard); code != 0 {
			t.Fatalf("run exited %d", code)
		}
	}
	fa, fb := readDir(t, a), readDir(t, b)
	if len(fa) != len(fb) || len(fa) == 0 {
		t.Fatalf("%d files, then %d", len(fa), len(fb))
	}
	sameFiles(t, "second run", fa, fb)
}

// TestFamilyTestdataUpToDate checks that testdata/family holds exactly what
// the generator writes now. Regenerate with:
// go run ./cmd/gensamples -family -out testdata/family
func TestFamilyTestdataUpToDate(t *testing.T) {
	const dir = "../../testdata/family"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no %s: %v", dir, err)
	}
	fresh := t.TempDir()
	if code := run([]string{"-family", "-out", fresh}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("run exited %d", code)
	}
	const what = "testdata/family is stale (go run ./cmd/gensamples -family -out testdata/family)"
	want, got := readDir(t, fresh), readDir(t, dir)
	sameFiles(t, what, want, got)
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s is not generated any more", what, name)
		}
	}
}

// TestFamilyCases checks the -cases layout: one folder per sample with its
// capture and truth.json, as the acceptance checker reads them.
func TestFamilyCases(t *testing.T) {
	flat, cases := t.TempDir(), t.TempDir()
	if code := run([]string{"-family", "-out", flat}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("run exited %d", code)
	}
	if code := run([]string{"-family", "-cases", "-out", cases}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("run -cases exited %d", code)
	}
	want := readDir(t, flat)
	entries, err := os.ReadDir(cases)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		got := readDir(t, filepath.Join(cases, e.Name()))
		for name, data := range got {
			n++
			wantName := name
			if name == "truth.json" {
				wantName = e.Name() + ".truth.json"
			}
			if !bytes.Equal(data, want[wantName]) {
				t.Errorf("%s/%s differs from the flat %s", e.Name(), name, wantName)
			}
		}
	}
	if n != len(want) || len(entries) == 0 {
		t.Errorf("%d files in %d case folders, %d flat", n, len(entries), len(want))
	}
	if code := run([]string{"-cases"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("-cases without -family exited %d, want 2", code)
	}
}
