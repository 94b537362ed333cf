package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/pongscan/pongscan/pkg/report"
)

// Version and Revision can be set at build time where the build info
// holds none (a build outside a VCS checkout, or with -buildvcs=false):
//
//	go build -ldflags "-X github.com/pongscan/pongscan/internal/cli.Version=v1.2.3 \
//	  -X github.com/pongscan/pongscan/internal/cli.Revision=$(git rev-parse HEAD)" ./cmd/pongscan
//
// The build info (runtime/debug.ReadBuildInfo) wins when it has a value:
// the module version of `go install ...@v1.2.3`, and the vcs.revision,
// vcs.time and vcs.modified that `go build` records in a git checkout.
var (
	Version  = ""
	Revision = ""
)

// buildInfo is what `pongscan version` prints and the JSON report's
// "tool" member carries.
type buildInfo struct {
	report.Tool
	Time      string // commit time of Revision, RFC 3339; "" when unknown
	GoVersion string
}

// readBuildInfo reads the running binary's build info; read is
// debug.ReadBuildInfo, replaced in tests.
func readBuildInfo(read func() (*debug.BuildInfo, bool)) buildInfo {
	b := buildInfo{Tool: report.Tool{Name: "pongscan", Version: Version, Revision: Revision}}
	bi, ok := read()
	if !ok {
		if b.Version == "" {
			b.Version = "(devel)"
		}
		return b
	}
	b.GoVersion = bi.GoVersion
	if v := bi.Main.Version; v != "" && (v != "(devel)" || b.Version == "") {
		b.Version = v
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line `pongscan version` and `pongscan --version`
// print: "pongscan v1.2.3 (revision 0123abc..., 2026-01-02T03:04:05Z, go1.26.8)".
func (b buildInfo) String() string {
	rev := "revision unknown: built without VCS information"
	if b.Revision != "" {
		rev = "revision " + b.Revision
		if b.Modified {
			rev += " with uncommitted changes"
		}
		if b.Time != "" {
			rev += ", " + b.Time
		}
	}
	if b.GoVersion != "" {
		rev += ", " + b.GoVersion
	}
	return fmt.Sprintf("%s %s (%s)", b.Name, b.Version, rev)
}

func currentBuild() buildInfo { return readBuildInfo(debug.ReadBuildInfo) }

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pongscan's version and the VCS revision it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(stdout, currentBuild())
			return err
		},
	}
}
