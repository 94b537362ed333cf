package cli

import (
	"bytes"
	"os"
	"path/filepath"

	"github.com/pongscan/pongscan/pkg/htmlreport"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/revisit"
)

// writeHTML writes the page to a temporary file beside path and renames
// it into place.
func writeHTML(path string, rep *report.Report, rv *revisit.Result) error {
	var b bytes.Buffer
	if err := htmlreport.Write(&b, rep, rv); err != nil {
		return err
	}
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
