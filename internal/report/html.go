package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageText string

//go:embed report.css
var pageCSS string

//go:embed report.js
var pageJS string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"ts":       fmtTime,
	"dur":      fmtDuration,
	"short":    func(s string) string { return s[:min(len(s), 12)] },
	"chainOK":  func(s string) bool { return s == ChainVerified || s == ChainVerifiedUnkeyed },
	"labels":   fmtLabels,
	"timeline": timelineSVG,
	"css":      func() template.CSS { return template.CSS(pageCSS) },
	"js":       func() template.JS { return template.JS(pageJS) },
	"join":     strings.Join,
	"unixms": func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	},
}).Parse(pageText))

// WriteHTML writes rep as one self-contained page: its CSS, script and
// chart are inline, and it loads nothing else.
func WriteHTML(w io.Writer, rep *Report) error {
	if err := page.Execute(w, rep); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtDuration(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return "—"
	}
	return b.Sub(a).Round(time.Millisecond).String()
}

func fmtLabels(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sortStrings(parts)
	return strings.Join(parts, " ")
}
