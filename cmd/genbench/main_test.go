package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b.pcap")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"-packets", "20000", "-out", out, "-seed", "5"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 20000*(16+60) {
		t.Errorf("%d bytes for 20000 packets", st.Size())
	}
	if !strings.Contains(stderr.String(), "planted 3 loops") || !strings.Contains(stderr.String(), "loop 3: client ") {
		t.Errorf("stderr does not list the loops:\n%s", stderr.String())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}

	stdout.Reset()
	stderr.Reset()
	if rc := run([]string{"-packets", "1000", "-out", "-", "-gzip", "-q"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	if b := stdout.Bytes(); len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Error("-gzip -out - did not write gzip to stdout")
	}

	for _, args := range [][]string{{"-packets", "10"}, {"-packets", "0", "-out", out}, {"-nope"}} {
		if rc := run(args, &stdout, &stderr); rc != 2 {
			t.Errorf("%q: exit %d, want 2", args, rc)
		}
	}
}
