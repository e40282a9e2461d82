package report_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockproxy/airlock/internal/report"
)

// chromium finds Debian's chromium; without it the test skips, or fails
// when CI is set (scripts/deps.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: run scripts/deps.sh as root")
	}
	t.Skip("chromium is not installed: run scripts/deps.sh as root (apt-get install chromium)")
	return ""
}

// runChromium runs headless chromium with no network features over a
// file:// URL and returns its stdout and stderr.
func runChromium(t *testing.T, bin string, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
	}
	return out.String(), errb.String()
}

// consoleErrors returns the lines of chromium's log that report a page
// script error or a failed load.
func consoleErrors(log string) []string {
	var bad []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") ||
			strings.Contains(l, "net::ERR_") || strings.Contains(l, "Refused to") {
			bad = append(bad, l)
		}
	}
	return bad
}

func TestBrowserRendersReport(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	fleet(t, logs, testKey)
	// One altered log, so the page shows its alert.
	alter(t, filepath.Join(logs, "2026-12-01", "b.jsonl"), `"decision":"deny"`, `"decision":"allow"`)
	rep := generate(t, testKey, logs)
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.WriteHTML(f, rep); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	dom, log := runChromium(t, bin, "--dump-dom", url)
	if !strings.Contains(dom, "report-js-ready") || !strings.Contains(dom, `data-js="ready"`) {
		t.Errorf("the page's script did not run: no marker in the DOM (%d bytes)", len(dom))
	}
	if !strings.Contains(dom, "4 of 4 runs") {
		t.Errorf("the filter did not count the runs")
	}
	if bad := consoleErrors(log); len(bad) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(bad, "\n"))
	}

	shot := filepath.Join(dir, "report.png")
	_, log = runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", url)
	if bad := consoleErrors(log); len(bad) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(bad, "\n"))
	}
	checkScreenshot(t, shot)
	if os.Getenv("AIRLOCK_UPDATE_SCREENSHOT") != "" {
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "audit-report.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkScreenshot asserts the PNG is the window's size and shows the page:
// many colours, the alert's red and the chart's green.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1280x2000", b)
	}
	colours := map[uint32]int{}
	var red, green int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl := rgb(img, x, y)
			colours[r<<16|g<<8|bl]++
			if near(r, g, bl, 0xcf, 0x22, 0x2e) {
				red++
			}
			if near(r, g, bl, 0x2d, 0xa4, 0x4e) {
				green++
			}
		}
	}
	if len(colours) < 50 {
		t.Errorf("screenshot has %d colours: blank?", len(colours))
	}
	if red < 100 || green < 50 {
		t.Errorf("screenshot has %d alert-red and %d chart-green samples, want both", red, green)
	}
	t.Logf("screenshot: %d colours, %d red, %d green samples", len(colours), red, green)
}

func rgb(img image.Image, x, y int) (uint32, uint32, uint32) {
	r, g, b, _ := img.At(x, y).RGBA()
	return r >> 8, g >> 8, b >> 8
}

func near(r, g, b, R, G, B uint32) bool {
	d := func(a, b uint32) uint32 {
		if a > b {
			return a - b
		}
		return b - a
	}
	return d(r, R) < 12 && d(g, G) < 12 && d(b, B) < 12
}
