package suite

import (
	"fmt"
	"math"
	"strings"
)

// chartColors gives each system one colour in every chart.
var chartColors = map[string]string{Hotstate: "#d9480f", Raw: "#495057", Centrifuge: "#1c7ed6"}

// ChartSVG draws fan-out p99 latency against subscriber count, one line per
// system, as a self-contained SVG.
func (r *Report) ChartSVG() string {
	const (
		w, h                     = 640, 400
		left, right, top, bottom = 70, 150, 40, 60
	)
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	maxX, maxY := 0.0, 0.0
	for _, row := range r.Fanout {
		maxX = math.Max(maxX, float64(row.Subscribers))
		for _, f := range row.Systems {
			maxY = math.Max(maxY, f.P99ms)
		}
	}
	if maxX == 0 {
		maxX = 1
	}
	yStep := niceStep(maxY / 5)
	maxY = math.Ceil(maxY/yStep) * yStep
	if maxY == 0 {
		maxY, yStep = 1, 0.2
	}
	px := func(v float64) float64 { return float64(left) + v/maxX*pw }
	py := func(v float64) float64 { return float64(top) + ph - v/maxY*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">Fan-out p99 latency, publish to receipt</text>`+"\n", left)
	// Grid and y labels.
	for v := 0.0; v <= maxY+yStep/2; v += yStep {
		y := py(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e9ecef"/>`+"\n", left, y, float64(left)+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, trimFloat(v))
	}
	// x labels at each measured size.
	for _, row := range r.Fanout {
		x := px(float64(row.Subscribers))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#adb5bd"/>`+"\n", x, float64(top)+ph, x, float64(top)+ph+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x, float64(top)+ph+20, row.Subscribers)
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#495057"/>`+"\n", left, float64(top)+ph, float64(left)+pw, float64(top)+ph)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="#495057"/>`+"\n", left, top, left, float64(top)+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">subscribers</text>`+"\n", float64(left)+pw/2, h-15)
	fmt.Fprintf(&b, `<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">p99 latency (ms)</text>`+"\n", float64(top)+ph/2, float64(top)+ph/2)
	// One line per system, with a legend entry.
	for i, sys := range Systems {
		var pts []string
		for _, row := range r.Fanout {
			if f := row.Systems[sys]; f != nil {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(row.Subscribers)), py(f.P99ms)))
			}
		}
		c := chartColors[sys]
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2.5" points="%s"/>`+"\n", c, strings.Join(pts, " "))
			for _, p := range pts {
				xy := strings.Split(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", xy[0], xy[1], c)
			}
		}
		ly := top + 20 + i*22
		lx := w - right + 20
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"/>`+"\n", lx, ly, lx+24, ly, c)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+30, ly+4, sys)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
