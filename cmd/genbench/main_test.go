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

func TestLoopFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b.pcap")
	var stdout, stderr bytes.Buffer
	// A loop every 2 s in about 12.5 s of capture, as many as fit (no -loops).
	args := []string{"-packets", "100000", "-qps", "4000", "-loop-packets", "600", "-loop-every", "2s", "-out", out, "-q"}
	if rc := run(args, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	if !strings.Contains(stderr.String(), "planted 6 loops") {
		t.Errorf("-loop-every 2s without -loops:\n%s", stderr.String())
	}
	stderr.Reset()
	args = append(args[:len(args)-1], "-loops", "2", "-q")
	if rc := run(args, &stdout, &stderr); rc != 0 || !strings.Contains(stderr.String(), "planted 2 loops") {
		t.Errorf("-loops 2 -loop-every 2s: exit %d\n%s", rc, stderr.String())
	}
	stderr.Reset()
	args = []string{"-packets", "100000", "-qps", "4000", "-loops", "1", "-loop-packets", "1000000",
		"-loop-interval", "66.667us", "-loop-share", "0.8", "-out", out, "-q"}
	if rc := run(args, &stdout, &stderr); rc != 0 || !strings.Contains(stderr.String(), "planted 1 loops") {
		t.Errorf("-loop-share: exit %d\n%s", rc, stderr.String())
	}
	stderr.Reset()
	args = []string{"-packets", "100000", "-qps", "4000", "-loops", "3", "-loop-clients", "1", "-out", out}
	if rc := run(args, &stdout, &stderr); rc != 0 {
		t.Fatalf("-loop-clients: exit %d: %s", rc, stderr.String())
	}
	var clients []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if _, rest, ok := strings.Cut(line, ": client "); ok {
			ip, _, _ := strings.Cut(rest, " ")
			clients = append(clients, ip[:strings.LastIndex(ip, ":")])
		}
	}
	if len(clients) != 3 || clients[0] != clients[1] || clients[1] != clients[2] {
		t.Errorf("-loop-clients 1: loops from %q, want 3 from one client", clients)
	}
	stderr.Reset()
	if rc := run([]string{"-many-loops", "500", "-in-flight", "20", "-out", out}, &stdout, &stderr); rc != 0 {
		t.Fatalf("-many-loops: exit %d: %s", rc, stderr.String())
	}
	if !strings.Contains(stderr.String(), "wrote 31000 packets") || !strings.Contains(stderr.String(), "planted 500 loops") {
		t.Errorf("-many-loops 500:\n%s", stderr.String())
	}
}
