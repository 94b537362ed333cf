package cli

import (
	"bytes"
	"flag"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var screenshot = flag.Bool("screenshot", false, "write docs/html-report.png from the headless Chromium check")

// TestHTMLReportIsSelfContained checks the page's text: one file, no
// script, nothing loaded from anywhere (a Content-Security-Policy says
// so too), the same bytes on every run, and hostile names escaped.
func TestHTMLReportIsSelfContained(t *testing.T) {
	dir := t.TempDir()
	name := `<script>alert(1)<\script>"'` + "\u202e.pcap"
	b, err := os.ReadFile("../../testdata/pcaps/machine-pong.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var pages []string
	for i := range 2 {
		out := filepath.Join(dir, "r"+string(rune('0'+i))+".html")
		code, _, stderr := runCLI(t, "scan", "--html", out, name)
		if code != ExitLoops {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		p, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, string(p))
	}
	page := pages[0]
	if pages[1] != page {
		t.Error("two runs wrote different pages")
	}
	for _, bad := range []string{"<script", "<link", "<iframe", "src=", "href=", "http://", "https://", "url(http", "\u202e"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, want := range []string{"Content-Security-Policy", "default-src 'none'", "<svg", "Capture timeline", "Timeline, per direction",
		"The first packets", "Would response rate limiting have stopped it?", "nft add rule", "tcpdump -w loop-1.pcap",
		"0000  00 05 00 04 52 52 51 20", `&lt;script&gt;alert(1)&lt;\\script&gt;`, `\u202e.pcap`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// chromium finds the headless browser, or skips with the reason.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("headless Chromium is not installed (.ci/run installs Debian's chromium): the page was not rendered")
	return ""
}

// render loads a page in headless Chromium and returns what it printed
// to the console.
func render(t *testing.T, browser, page string, args ...string) []string {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.Command(browser, append(append(base, args...), "file://"+page)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
	case <-time.After(120 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("chromium did not finish in 120 s")
	}
	var console []string
	for _, ln := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(ln, ":CONSOLE") {
			console = append(console, ln)
		}
	}
	return console
}

// TestHTMLInChromium renders the seed sample's page in headless Chromium
// at 1280 x 800 and to PDF: no console message, a screenshot that is not
// blank, a printed document of several pages. A page that breaks the
// Content-Security-Policy proves the console is watched. -screenshot
// writes docs/html-report.png, the README's picture.
func TestHTMLInChromium(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	code, _, stderr := runCLI(t, "scan", "--html", page, "../../testdata/pcaps/machine-pong.pcap")
	if code != ExitLoops {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	shot := filepath.Join(dir, "shot.png")
	if msgs := render(t, browser, page, "--window-size=1280,800", "--screenshot="+shot); len(msgs) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(msgs, "\n"))
	}
	checkNotBlank(t, shot)
	pdf := filepath.Join(dir, "report.pdf")
	if msgs := render(t, browser, page, "--no-pdf-header-footer", "--print-to-pdf="+pdf); len(msgs) > 0 {
		t.Errorf("console messages while printing:\n%s", strings.Join(msgs, "\n"))
	}
	doc, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(doc, []byte("%PDF")) {
		t.Fatalf("no PDF printed: %v", err)
	}
	if n := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(doc, -1)); n < 2 {
		t.Errorf("the printed report has %d pages, want the summary and the loop on pages of their own", n)
	}
	// The console check catches what it should.
	bad := filepath.Join(dir, "bad.html")
	_ = os.WriteFile(bad, []byte(`<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src 'none'"><img src="http://example.invalid/x.png">`), 0o644)
	if msgs := render(t, browser, bad, "--window-size=400,300", "--screenshot="+filepath.Join(dir, "bad.png")); len(msgs) == 0 {
		t.Error("a page breaking its Content-Security-Policy printed nothing to the console: the check sees nothing")
	}
	if *screenshot {
		b, _ := os.ReadFile(shot)
		if err := os.WriteFile("../../docs/html-report.png", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkNotBlank fails unless the image's luminance varies: a blank or
// single-colour screenshot means the page did not render.
func checkNotBlank(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 1280 || b.Dy() != 800 {
		t.Errorf("screenshot is %dx%d, want 1280x800", b.Dx(), b.Dy())
	}
	var sum, sq, n float64
	counts := map[uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
			counts[r>>8<<16|g>>8<<8|bl>>8]++
		}
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if sd < 20 || len(counts) < 16 {
		t.Errorf("the screenshot looks blank: luminance sd %.1f, %d colours", sd, len(counts))
	}
	t.Logf("screenshot: luminance mean %.1f sd %.1f, %d colours", mean, sd, len(counts))
}

// TestHTMLPayloadKindOnce checks the payload row names the payload's kind
// once: "tftp-error: TFTP Error Code, ..." but "text: \"...\"" for a text
// payload, whose summary already starts with its kind.
func TestHTMLPayloadKindOnce(t *testing.T) {
	for _, tt := range []struct{ file, want, bad string }{
		{"../../testdata/pcaps/machine-pong.pcap", "tftp-error: TFTP Error Code", "tftp-error: tftp-error"},
		{"../../testdata/family/qotd-echo.pcap", "<td>text: ", "text: text:"},
	} {
		out := filepath.Join(t.TempDir(), "r.html")
		if code, _, stderr := runCLI(t, "scan", "--rrl=false", "--html", out, tt.file); code != ExitLoops {
			t.Fatalf("%s: exit %d: %s", tt.file, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		if !strings.Contains(page, tt.want) || strings.Contains(page, tt.bad) {
			t.Errorf("%s: the payload row is not %q... (or holds %q)", tt.file, tt.want, tt.bad)
		}
	}
}
