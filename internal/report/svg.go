package report

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 1000.0, 220.0
	padL, padB     = 50.0, 30.0
)

func sortStrings(s []string) { slices.Sort(s) }

// timelineSVG draws the decision timeline as stacked bars, allowed below
// denied, with a y axis and the first and last bucket times.
func timelineSVG(tl Timeline) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" role="img" aria-label="decisions over time">`, chartW, chartH)
	if len(tl.Buckets) == 0 {
		b.WriteString(`<text x="20" y="40">no decisions</text></svg>`)
		return template.HTML(b.String())
	}
	first, last := tl.Buckets[0].Start.Unix(), tl.Buckets[len(tl.Buckets)-1].Start.Unix()
	slots := float64((last-first)/tl.WidthSeconds + 1)
	var peak int64 = 1
	for _, k := range tl.Buckets {
		peak = max(peak, k.Allowed+k.Denied)
	}
	plotW, plotH := chartW-padL-10, chartH-padB-10
	bw := plotW / slots
	y := func(n int64) float64 { return plotH * float64(n) / float64(peak) }
	fmt.Fprintf(&b, `<line x1="%.0f" y1="10" x2="%.0f" y2="%.0f" class="axis"/>`, padL, padL, 10+plotH)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/>`, padL, 10+plotH, chartW-10, 10+plotH)
	fmt.Fprintf(&b, `<text x="%.0f" y="18" class="tick" text-anchor="end">%d</text>`, padL-4, peak)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick" text-anchor="end">0</text>`, padL-4, 10+plotH)
	for _, k := range tl.Buckets {
		x := padL + bw*float64((k.Start.Unix()-first)/tl.WidthSeconds)
		ha, hd := y(k.Allowed), y(k.Denied)
		base := 10 + plotH
		title := fmt.Sprintf("%s: %d allowed, %d denied", fmtTime(k.Start), k.Allowed, k.Denied)
		w := max(bw-0.5, 0.5)
		if k.Allowed > 0 {
			fmt.Fprintf(&b, `<rect class="allow" x="%.2f" y="%.2f" width="%.2f" height="%.2f"><title>%s</title></rect>`, x, base-ha, w, ha, template.HTMLEscapeString(title))
		}
		if k.Denied > 0 {
			fmt.Fprintf(&b, `<rect class="deny" x="%.2f" y="%.2f" width="%.2f" height="%.2f"><title>%s</title></rect>`, x, base-ha-hd, w, hd, template.HTMLEscapeString(title))
		}
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick">%s</text>`, padL, chartH-8, fmtTime(tl.Buckets[0].Start))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="tick" text-anchor="end">%s (bucket %ds)</text>`, chartW-10, chartH-8,
		fmtTime(tl.Buckets[len(tl.Buckets)-1].Start), tl.WidthSeconds)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
