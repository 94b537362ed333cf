package cli

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/pongscan/pongscan/pkg/followup"
	"github.com/pongscan/pongscan/pkg/htmlreport"
	"github.com/pongscan/pongscan/pkg/report"
)

// writeHTML writes the page to a temporary file beside path and renames
// it into place. tl is the capture's timeline, loops what the second
// read found of each loop (read: it ran).
func writeHTML(path string, rep *report.Report, tl *followup.Timeline, loops []followup.Loop, read bool) error {
	var b bytes.Buffer
	if !read {
		loops = nil
	}
	if err := htmlreport.Write(&b, rep, tl, loops); err != nil {
		return err
	}
	target, direct, err := outputTarget(path)
	if err != nil {
		return err
	}
	if direct {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(b.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	path = target
	f, err := os.CreateTemp(filepath.Dir(path), ".pongscan-*.html")
	if err != nil {
		return err
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
