// Package inputset turns command-line arguments into the streams a scan
// reads: files, directories walked recursively (captures recognised by
// their content, other files skipped and counted), lists of paths read
// from a file or standard input, grouped into streams (one stream, one per
// file, one per directory, or named by a pattern of the file name). It
// warns about the same capture named twice.
//
// It reads only the first bytes of each file; the scan reads the rest.
package inputset

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/pongscan/pongscan/pkg/capture"
	"github.com/pongscan/pongscan/pkg/scan"
)

// Options say how to find inputs and group them into streams.
type Options struct {
	// Each makes every input a stream of its own.
	Each bool
	// StreamBy is "dir" (the files of one directory form a stream) or a
	// regular expression whose first capture group, matched against the
	// file's base name, names the stream. Empty: one stream.
	StreamBy string
	// StreamName names the one stream when neither Each nor StreamBy is
	// set.
	StreamName string
	// FilesFrom is a file listing one path a line, "-" for standard
	// input; its paths are added to the arguments.
	FilesFrom string
	// Null: FilesFrom's paths end with a NUL byte, not a line break
	// (find -print0, xargs -0).
	Null bool
	// Stdin is standard input, for "-".
	Stdin io.Reader
}

// Set is the inputs found, grouped into streams.
type Set struct {
	Streams []scan.Stream
	// Skipped lists files found in directories, or listed by --files-from,
	// that are not captures.
	Skipped []string
	// Warnings: duplicates, files no stream pattern matched.
	Warnings []string
}

// Inputs counts the inputs of every stream.
func (s *Set) Inputs() int {
	n := 0
	for _, st := range s.Streams {
		n += len(st.Inputs)
	}
	return n
}

// file is one input found.
type file struct {
	path    string
	stdin   bool
	id      fileID // device and inode; zero when unknown
	head    [32]byte
	hasHead bool
	stream  string // set by group
}

type fileID struct{ dev, ino uint64 }

// headBytes is how much of the decompressed stream identifies a copy: the
// file header and the first records, with their timestamps.
const headBytes = 8 << 10

// Expand finds the inputs named by args (and opts.FilesFrom) and groups
// them into streams. Errors are about the arguments themselves: a list
// that cannot be read, "-" named twice, a bad pattern; files that cannot
// be read are left to the scan, which reports them as input errors.
func Expand(args []string, opts Options) (*Set, error) {
	var re *regexp.Regexp
	switch {
	case opts.StreamBy == "" || opts.StreamBy == "dir":
	case opts.Each:
		return nil, errors.New("--each and --stream-by exclude each other")
	default:
		var err error
		re, err = regexp.Compile(opts.StreamBy)
		if err != nil {
			return nil, fmt.Errorf("--stream-by: %v", err)
		}
		if re.NumSubexp() < 1 {
			return nil, fmt.Errorf("--stream-by %q has no capture group to name the stream, e.g. '^(ns[0-9]+)-'", opts.StreamBy)
		}
	}
	if opts.Each && opts.StreamBy != "" {
		return nil, errors.New("--each and --stream-by exclude each other")
	}
	if opts.Null && opts.FilesFrom == "" {
		return nil, errors.New("-0/--null reads --files-from's paths: give --files-from")
	}
	named := len(args)
	if opts.FilesFrom != "" {
		listed, err := readList(opts.FilesFrom, opts.Stdin, opts.Null)
		if err != nil {
			return nil, err
		}
		args = append(append([]string{}, args...), listed...)
	}
	set := &Set{}
	var files []*file
	stdin := 0
	for i, a := range args {
		if a == "-" {
			if stdin++; stdin > 1 {
				return nil, errors.New(`standard input ("-") named more than once`)
			}
			if opts.FilesFrom == "-" {
				return nil, errors.New(`standard input ("-") is both --files-from and an input`)
			}
			files = append(files, &file{path: "-", stdin: true})
			continue
		}
		st, err := os.Stat(a)
		if err == nil && i >= named && st.Mode().IsRegular() && !isCapture(a) {
			// A list is like a directory walk (find . -type f): a
			// file of it that holds no capture is skipped, counted.
			set.Skipped = append(set.Skipped, a)
			continue
		}
		if err != nil || !st.IsDir() {
			// Named files are inputs whatever they hold: the scan
			// reports one that cannot be read.
			files = append(files, identify(a, st))
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == a {
					return err
				}
				set.Warnings = append(set.Warnings, fmt.Sprintf("%s: skipped: %v", p, unwrap(err)))
				return nil
			}
			if d.IsDir() {
				return nil
			}
			st, err := os.Stat(p) // follows a symbolic link
			if err == nil && st.IsDir() {
				return nil // a link to a directory: not followed (no cycles)
			}
			if err != nil || !st.Mode().IsRegular() {
				set.Skipped = append(set.Skipped, p)
				return nil
			}
			f := identify(p, st)
			if !isCapture(p) {
				set.Skipped = append(set.Skipped, p)
				return nil
			}
			files = append(files, f)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %v", a, unwrap(err))
		}
	}
	files, copies := set.dedupe(files)
	set.Streams = group(files, opts, re, set)
	set.warnCopies(copies)
	return set, nil
}

// identify reads a file's device and inode and the hash of the start of
// its decompressed content.
func identify(path string, st os.FileInfo) *file {
	f := &file{path: path}
	if st == nil {
		return f
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		f.id = fileID{uint64(sys.Dev), uint64(sys.Ino)}
	}
	if !st.Mode().IsRegular() {
		return f
	}
	head, err := decompressedHead(path)
	if err == nil && len(head) > 24 {
		f.head, f.hasHead = sha256.Sum256(head), true
	}
	return f
}

// isCapture opens the file as a capture: is it one (perhaps damaged or
// unsupported), or something else?
func isCapture(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return true // the scan will say why it cannot be read
	}
	defer fh.Close()
	r, err := capture.OpenSize(path, fh, 4096)
	if r != nil {
		r.Release()
	}
	return err == nil || !capture.Foreign(err)
}

// decompressedHead is the first headBytes of the file, decompressed.
func decompressedHead(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return capture.Head(path, fh, headBytes)
}

// dedupe drops a file named again (same device and inode) and warns;
// files whose decompressed starts are the same (a file and its .gz copy)
// are kept, and returned in pairs to warn about once streams are known.
func (s *Set) dedupe(files []*file) ([]*file, [][2]*file) {
	seen := map[fileID]string{}
	heads := map[[32]byte]*file{}
	var out []*file
	var copies [][2]*file
	for _, f := range files {
		if f.id != (fileID{}) {
			if first, ok := seen[f.id]; ok {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s is the same file as %s: read once", f.path, first))
				continue
			}
			seen[f.id] = f.path
		}
		if f.hasHead {
			if first, ok := heads[f.head]; ok {
				copies = append(copies, [2]*file{first, f})
			} else {
				heads[f.head] = f
			}
		}
		out = append(out, f)
	}
	return out, copies
}

// warnCopies warns about files holding the same packets at their start.
func (s *Set) warnCopies(copies [][2]*file) {
	for i, c := range copies {
		if i == maxCopyWarnings {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%d more inputs are copies of others", len(copies)-maxCopyWarnings))
			break
		}
		a, b := c[0], c[1]
		if a.stream == b.stream {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s and %s hold the same packets at their start (a copy, perhaps compressed?): "+
				"in one stream every packet they share counts twice; drop one, or scan them with --each", a.path, b.path))
		} else {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s and %s hold the same packets at their start (a copy, perhaps compressed?): "+
				"their loops are reported once in each stream", a.path, b.path))
		}
	}
}

const maxCopyWarnings = 10

// canonical rewrites the stream names that are paths (a file's, with
// --each; a directory's, with --stream-by dir) relative to the deepest
// directory holding all their parents: /data/ns1 and /data/ns2 are ns1
// and ns2, and a scan of /data/ns1 alone names its stream ns1, as a scan
// of ./ns1 on another machine does. So the reports of parts scanned
// apart, from other working directories or mount points, name the same
// stream alike, and merge joins them.
func canonical(names []string, isPath []bool) {
	var root []string
	first := true
	for i, n := range names {
		if !isPath[i] {
			continue
		}
		abs, err := filepath.Abs(n)
		if err != nil {
			continue
		}
		parent := strings.Split(filepath.Dir(abs), string(filepath.Separator))
		if first {
			root, first = parent, false
			continue
		}
		k := 0
		for k < len(root) && k < len(parent) && root[k] == parent[k] {
			k++
		}
		root = root[:k]
	}
	if first {
		return
	}
	base := strings.Join(root, string(filepath.Separator))
	if base == "" {
		base = string(filepath.Separator)
	}
	for i, n := range names {
		if !isPath[i] {
			continue
		}
		abs, err := filepath.Abs(n)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(base, abs); err == nil && rel != "." {
			names[i] = filepath.ToSlash(rel)
		}
	}
}

// group builds the streams, sorted by name (the one stream of a plain
// scan first).
func group(files []*file, opts Options, re *regexp.Regexp, set *Set) []scan.Stream {
	byName := map[string]*scan.Stream{}
	var names []string
	var unmatched int
	raw := make([]string, len(files))
	isPath := make([]bool, len(files))
	for i, f := range files {
		name := opts.StreamName
		switch {
		case opts.Each:
			name, isPath[i] = f.path, !f.stdin
		case opts.StreamBy == "dir":
			name, isPath[i] = filepath.Dir(f.path), true
			if f.stdin {
				name, isPath[i] = "-", false
			}
		case re != nil:
			m := re.FindStringSubmatch(filepath.Base(f.path))
			if m == nil {
				unmatched++
				name, isPath[i] = f.path, !f.stdin
			} else {
				name = m[1]
			}
		}
		raw[i] = name
	}
	canonical(raw, isPath)
	for i, f := range files {
		name := raw[i]
		f.stream = name
		st := byName[name]
		if st == nil {
			st = &scan.Stream{Name: name}
			byName[name] = st
			names = append(names, name)
		}
		in := scan.File(f.path)
		if f.stdin {
			in = scan.Reader("-", opts.Stdin)
		}
		st.Inputs = append(st.Inputs, in)
	}
	if unmatched > 0 {
		set.Warnings = append(set.Warnings, fmt.Sprintf("%d files do not match --stream-by %q: each is a stream of its own, named by its path", unmatched, opts.StreamBy))
	}
	sort.Strings(names)
	out := make([]scan.Stream, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out
}

// readList reads one path a line from path ("-": standard input). Blank
// lines are skipped; a line is taken as it is otherwise (spaces included),
// but a trailing CR is dropped. With null, paths end with a NUL byte
// instead and are taken whole (line breaks included); empty ones are
// skipped.
func readList(path string, stdin io.Reader, null bool) ([]string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--files-from: %v", err)
		}
		defer f.Close()
		r = f
	} else if stdin == nil {
		return nil, errors.New("--files-from -: no standard input")
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if null {
		sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
			if i := bytes.IndexByte(data, 0); i >= 0 {
				return i + 1, data[:i], nil
			}
			if atEOF && len(data) > 0 {
				return len(data), data, nil
			}
			return 0, nil, nil
		})
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				out = append(out, sc.Text())
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--files-from %s: %v", path, err)
		}
		return out, nil
	}
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if bytes.IndexByte([]byte(line), 0) >= 0 {
			return nil, fmt.Errorf("--files-from %s: line %d holds a NUL byte", path, len(out)+1)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--files-from %s: %v", path, err)
	}
	return out, nil
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
