package inputset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pcaps = "../../testdata/pcaps/"

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func streams(s *Set) string {
	var out []string
	for _, st := range s.Streams {
		var names []string
		for _, in := range st.Inputs {
			names = append(names, filepath.Base(in.Name))
		}
		out = append(out, st.Name+"="+strings.Join(names, ","))
	}
	return strings.Join(out, " ")
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	pong, _ := os.ReadFile(pcaps + "machine-pong.pcap")
	gz, _ := os.ReadFile(pcaps + "machine-pong.pcap.gz")
	bounce, _ := os.ReadFile(pcaps + "bounce.pcap")
	write(t, filepath.Join(dir, "ns1", "ns1-a.pcap"), pong)
	write(t, filepath.Join(dir, "ns1", "sub", "ns1-b.cap"), bounce)
	write(t, filepath.Join(dir, "ns2", "ns2-a.pcap.gz"), gz)
	write(t, filepath.Join(dir, "ns2", "README"), []byte("hello\n"))
	write(t, filepath.Join(dir, "ns2", "fake.pcap"), []byte("0123456789abcdef0123456789"))
	d := func(p string) string { return filepath.Join(dir, p) }
	// A link to a directory (here a cycle) is not followed, nor counted.
	if err := os.Symlink(dir, d("ns1/loop")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		opts     Options
		want     string
		skipped  int
		warnings []string
	}{
		{"one stream, files by content", []string{dir}, Options{},
			"=ns1-a.pcap,ns1-b.cap,ns2-a.pcap.gz", 2, []string{"hold the same packets at their start"}},
		{"named", []string{d("ns1")}, Options{StreamName: "n"}, "n=ns1-a.pcap,ns1-b.cap", 0, nil},
		{"each", []string{d("ns1")}, Options{Each: true},
			"ns1-a.pcap=ns1-a.pcap sub/ns1-b.cap=ns1-b.cap", 0, nil},
		{"by dir", []string{dir}, Options{StreamBy: "dir"},
			"ns1=ns1-a.pcap ns1/sub=ns1-b.cap ns2=ns2-a.pcap.gz", 2, []string{"their loops are reported once in each stream"}},
		// Names relative to the directory holding the streams: a part
		// scanned alone names its stream as the whole scan does.
		{"by dir, one directory", []string{d("ns2")}, Options{StreamBy: "dir"}, "ns2=ns2-a.pcap.gz", 2, nil},
		{"by pattern", []string{dir}, Options{StreamBy: `^(ns[0-9])-`},
			"ns1=ns1-a.pcap,ns1-b.cap ns2=ns2-a.pcap.gz", 2, []string{"reported once in each stream"}},
		{"pattern not matching", []string{dir}, Options{StreamBy: `^(x)`},
			"ns1/ns1-a.pcap=ns1-a.pcap ns1/sub/ns1-b.cap=ns1-b.cap ns2/ns2-a.pcap.gz=ns2-a.pcap.gz",
			2, []string{"3 files do not match", "reported once in each stream"}},
		{"same file twice", []string{d("ns1/ns1-a.pcap"), d("ns1/../ns1/ns1-a.pcap")}, Options{},
			"=ns1-a.pcap", 0, []string{"is the same file as"}},
		{"a named non-capture is an input", []string{d("ns2/README")}, Options{}, "=README", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Expand(tt.args, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := streams(s); got != tt.want {
				t.Errorf("streams\n%s\nwant\n%s", got, tt.want)
			}
			if len(s.Skipped) != tt.skipped {
				t.Errorf("skipped %v, want %d", s.Skipped, tt.skipped)
			}
			for _, w := range tt.warnings {
				if !strings.Contains(strings.Join(s.Warnings, "\n"), w) {
					t.Errorf("warnings %q lack %q", s.Warnings, w)
				}
			}
			if tt.warnings == nil && len(s.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", s.Warnings)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list")
	os.WriteFile(list, []byte("a\n"), 0o644)
	for _, tt := range []struct {
		args []string
		opts Options
		want string
	}{
		{[]string{"-", "-"}, Options{}, "more than once"},
		{[]string{"-"}, Options{FilesFrom: "-", Stdin: strings.NewReader("x\n")}, "both --files-from"},
		{[]string{"x"}, Options{StreamBy: "ns[0-9]"}, "no capture group"},
		{[]string{"x"}, Options{StreamBy: "(["}, "--stream-by"},
		{[]string{"x"}, Options{Each: true, StreamBy: "dir"}, "exclude each other"},
		{nil, Options{FilesFrom: list + ".missing"}, "--files-from"},
	} {
		if _, err := Expand(tt.args, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %+v: error %v, want %q", tt.args, tt.opts, err, tt.want)
		}
	}
	s, err := Expand(nil, Options{FilesFrom: "-", Stdin: strings.NewReader("a b\r\n\n  \nc\n")})
	if err != nil || streams(s) != "=a b,c" {
		t.Fatalf("--files-from -: %v %s", err, streams(s))
	}
}

// TestFilesFromNull: with -0 a list's paths end with NUL, as find
// -print0 writes them: a name holding a line break is one path. A listed
// file that holds no capture is skipped and counted, as in a directory
// walk; a named one is an input, which the scan reports.
func TestFilesFromNull(t *testing.T) {
	dir := t.TempDir()
	pcap, err := os.ReadFile("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "two\nlines.pcap")
	plain := filepath.Join(dir, "plain.pcap")
	notes := filepath.Join(dir, "notes.txt")
	for p, b := range map[string][]byte{odd: pcap, plain: pcap, notes: []byte("not a capture\n")} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := odd + "\x00" + plain + "\x00\x00" + notes + "\x00"
	s, err := Expand(nil, Options{FilesFrom: "-", Null: true, Stdin: strings.NewReader(list)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range s.Streams {
		for _, in := range st.Inputs {
			got = append(got, in.Name)
		}
	}
	if len(got) != 2 || len(s.Skipped) != 1 || s.Skipped[0] != notes {
		t.Fatalf("inputs %q, skipped %q", got, s.Skipped)
	}
	if _, err := Expand(nil, Options{Null: true}); err == nil || !strings.Contains(err.Error(), "--files-from") {
		t.Errorf("-0 alone: %v", err)
	}
	s, err = Expand([]string{notes}, Options{})
	if err != nil || len(s.Skipped) != 0 || len(s.Streams) != 1 {
		t.Errorf("a named non-capture: %v, skipped %q", err, s.Skipped)
	}
}

// TestStreamNamesCanonical: the same files named by an absolute path, a
// relative one, or one with ./ and .. give the same stream names.
func TestStreamNamesCanonical(t *testing.T) {
	dir := t.TempDir()
	pong, _ := os.ReadFile(pcaps + "machine-pong.pcap")
	write(t, filepath.Join(dir, "ns1", "a.pcap"), pong)
	write(t, filepath.Join(dir, "ns2", "b.pcap"), pong)
	t.Chdir(dir)
	var got []string
	for _, args := range [][]string{
		{filepath.Join(dir, "ns1"), filepath.Join(dir, "ns2")},
		{"ns1", "ns2"},
		{"./ns1/", "ns2/../ns2"},
	} {
		s, err := Expand(args, Options{StreamBy: "dir"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, streams(s))
	}
	if got[0] != "ns1=a.pcap ns2=b.pcap" || got[1] != got[0] || got[2] != got[0] {
		t.Errorf("stream names %q", got)
	}
}
