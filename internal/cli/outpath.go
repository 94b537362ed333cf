package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pongscan/pongscan/pkg/report"
)

// outputTarget says how a file output (-o, --html) is written. A path
// that names something other than a regular file (a device such as
// /dev/null, a FIFO, a socket, a terminal), or anything under /dev or
// /proc (/dev/stdout and its kin), is opened and written in place, as
// tcpdump -w and tshark -w do: replacing it would turn the null device
// into a file or cut a FIFO's reader off. A symbolic link is followed:
// the file it names is replaced, the link stays. Anything else gets a
// temporary file beside it, renamed over it once complete.
func outputTarget(path string) (target string, direct bool, err error) {
	// The path and every link it goes through: /dev/stdout is a link to
	// /proc/self/fd/1, which names the shell's file or pipe.
	p := path
	for range 40 {
		if special(p) {
			return path, true, nil
		}
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		t, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = t
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path, false, nil
	case err != nil:
		return "", false, err
	case st.IsDir():
		return "", false, errors.New("is a directory")
	case !st.Mode().IsRegular():
		return path, true, nil
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real, false, nil
	}
	return path, false, nil
}

// special reports whether p is under /dev or /proc.
func special(p string) bool {
	p = filepath.Clean(p)
	return strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/proc/")
}

// notAnInput refuses an output path that names one of the inputs (the
// same file, whatever the path says): the report would replace the
// capture it is about.
func notAnInput(flag, path string, inputs []string) error {
	if path == "" || path == "-" {
		return nil
	}
	out, err := os.Stat(path)
	if err != nil || !out.Mode().IsRegular() {
		return nil
	}
	for _, in := range inputs {
		if st, err := os.Stat(in); err == nil && os.SameFile(out, st) {
			return fmt.Errorf("%s %s: is the input %s: refusing to overwrite a capture being read", flag, report.Escape(path), report.Escape(in))
		}
	}
	return nil
}

// unwrapPath drops a *PathError's operation and path, which the caller's
// message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
