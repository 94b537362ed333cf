package cli

import (
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/revisit"
)

func writeHTML(path string, rep *report.Report, rv *revisit.Result) error { return nil }
