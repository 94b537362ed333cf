package report

import (
	"os/exec"
	"testing"
)

// TestShellQuoteRoundTrip hands each quoted word to bash, which must
// print back exactly the original bytes: a hostile file name in a printed
// command stays one word and means itself.
func TestShellQuoteRoundTrip(t *testing.T) {
	words := []string{
		"plain.pcap", "with space.pcap", "it's.pcap", `"double".pcap`, "$(reboot).pcap", "`id`.pcap",
		"a;b&c|d>e<f", "new\nline.pcap", "tab\t.pcap", "esc\x1b[31m.pcap", "bad\xff\xfeutf8", "c1\u009b.pcap",
		"bidi\u202eevil.pcap", "zero\u200bwidth", "back\\slash", "日本語.pcap", "emoji😀.pcap", "*?[a].pcap", "~root",
		"-rf", "", "'", "\\'", "$'x'", "\u2028sep", "tag\U000E0041",
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	for _, w := range words {
		q := ShellQuote(w)
		if !TerminalSafe(q) {
			t.Errorf("ShellQuote(%q) = %q is not safe to print", w, q)
		}
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil {
			t.Errorf("bash rejected %q: %v", q, err)
			continue
		}
		if string(out) != w {
			t.Errorf("ShellQuote(%q) = %s: bash reads it back as %q", w, q, out)
		}
	}
}

func TestShellQuoteForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"machine-pong.pcap", "machine-pong.pcap"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"a\nb", `$'a\x0ab'`},
		{"x\u202ey", `$'x\u202ey'`},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := FileOperand("-x.pcap"); got != "./-x.pcap" {
		t.Errorf("FileOperand(-x.pcap) = %s", got)
	}
}
