package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pongscan/pongscan/pkg/report"
)

// captureExts are file name endings that say "this is a capture".
var captureExts = []string{".pcap", ".pcapng", ".cap", ".dmp", ".erf", ".pcap.gz", ".pcapng.gz", ".gz", ".zst", ".lz4", ".xz"}

// unknownCommand explains an argument that is not a command. A capture
// file (an existing file, or a name ending like one) gets the scan command
// to run; anything else gets cobra's "did you mean" suggestions.
func unknownCommand(root *cobra.Command, args []string) error {
	first := args[0]
	if looksLikeCapture(first) {
		return fmt.Errorf("%q is not a command; to scan it, run: %s scan %s",
			report.Escape(first), root.CommandPath(), report.ShellQuoteAll(args))
	}
	msg := fmt.Sprintf("unknown command %q for %q", report.Escape(first), root.CommandPath())
	if s := root.SuggestionsFor(first); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return fmt.Errorf("%s\nRun '%s --help' for usage", msg, root.CommandPath())
}

func looksLikeCapture(arg string) bool {
	if arg == "-" {
		return true
	}
	lower := strings.ToLower(arg)
	for _, ext := range captureExts {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	if st, err := os.Stat(arg); err == nil && (st.Mode().IsRegular() || st.IsDir()) {
		return true
	}
	return strings.ContainsRune(arg, filepath.Separator)
}
