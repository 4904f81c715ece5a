package page

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/natsbench/natsbench-action/history"
)

// The size a chart is drawn at; the page scales it to its card.
const (
	chartWidth  = vg.Length(360)
	chartHeight = vg.Length(170)
	// glyphsUpTo is the number of points up to which each point gets a
	// dot: past it the dots are a smear and cost bytes.
	glyphsUpTo = 150
)

// The palette of environments (Tableau 10 without its red, which marks
// change points, and its yellow, which white paper swallows).
var palette = []color.NRGBA{
	{0x4e, 0x79, 0xa7, 0xff}, // blue
	{0xf2, 0x8e, 0x2b, 0xff}, // orange
	{0x59, 0xa1, 0x4f, 0xff}, // green
	{0xb0, 0x7a, 0xa1, 0xff}, // purple
	{0x9c, 0x75, 0x5f, 0xff}, // brown
	{0x76, 0xb7, 0xb2, 0xff}, // teal
	{0xff, 0x9d, 0xa7, 0xff}, // pink
}

var (
	markColor  = color.NRGBA{0xd6, 0x27, 0x28, 0xff}
	breakColor = color.NRGBA{0x55, 0x5b, 0x66, 0xff}
	inkColor   = color.NRGBA{0x3d, 0x44, 0x4f, 0xff}
	gridColor  = color.NRGBA{0xe6, 0xe8, 0xeb, 0xff}
	sans       = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// envColor returns the colour of environment number i on the page.
func envColor(i int) color.NRGBA { return palette[i%len(palette)] }

// hexColor is c as #rrggbb for the page's CSS.
func hexColor(c color.NRGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// drawChart draws one series as an SVG element: the centers as a line
// per environment segment, the intervals as a band, a dashed line where
// the environment changes and a red line at each mark. env gives the
// colour index of an environment key. Text reaches the SVG only through
// vgsvg's FillString, which escapes it.
func drawChart(s history.Series, marks []Mark, env func(string) int) (svg []byte, err error) {
	// gonum panics on what it cannot draw; one odd series must not cost
	// the page.
	defer func() {
		if r := recover(); r != nil {
			svg, err = nil, fmt.Errorf("drawing %s: %v", s.Key, r)
		}
	}()
	pts := s.Points
	if len(pts) == 0 {
		return nil, fmt.Errorf("drawing %s: no points", s.Key)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	tmin, tmax := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo = math.Min(lo, math.Min(p.Low, p.Center))
		hi = math.Max(hi, math.Max(p.High, p.Center))
		x := unix(p)
		tmin, tmax = math.Min(tmin, x), math.Max(tmax, x)
	}
	sc := scaleFor(s.Key.Unit, math.Max(math.Abs(lo), math.Abs(hi)))
	lo, hi = lo*sc.factor, hi*sc.factor
	nonneg := lo >= 0

	p := plot.New()
	p.BackgroundColor = color.White
	styleAxis(&p.X)
	styleAxis(&p.Y)
	p.X.Tick.Marker = dateTicks{}
	p.Y.Tick.Marker = valueTicks{}
	p.Y.Label.Text = sc.label
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal.Color = gridColor
	grid.Horizontal.Width = 0.6
	p.Add(grid)

	bounds := append([]int{0}, s.Breaks()...)
	bounds = append(bounds, len(pts))
	for i := 0; i+1 < len(bounds); i++ {
		seg := pts[bounds[i]:bounds[i+1]]
		col := envColor(env(seg[0].Env))
		if err := drawSegment(p, seg, sc.factor, col, len(pts) <= glyphsUpTo); err != nil {
			return nil, err
		}
	}
	// The newest point stands out: it is what a reader looks for first.
	last := pts[len(pts)-1]
	dot, err := plotter.NewScatter(plotter.XYs{{X: unix(last), Y: last.Center * sc.factor}})
	if err != nil {
		return nil, err
	}
	dot.GlyphStyle = draw.GlyphStyle{Color: envColor(env(last.Env)), Radius: 2.8, Shape: draw.CircleGlyph{}}
	p.Add(dot)

	// Ranges: room above the data for the labels of breaks and marks.
	// A span of at least a tenth of the level: noise of 0.1% must not
	// fill the chart and look like movement.
	span := math.Max(hi-lo, math.Max(math.Abs(hi+lo)/2*0.1, 1e-9))
	if mid := (hi + lo) / 2; hi-lo < span {
		lo, hi = mid-span/2, mid+span/2
	}
	ymin, ymax := lo-0.08*span, hi+0.5*span
	if nonneg && ymin < 0 {
		ymin = 0 // a cost is never negative; don't draw it so
	}
	if tmax <= tmin {
		tmin, tmax = tmin-86400, tmax+86400
	}
	pad := (tmax - tmin) * 0.02
	xmin, xmax := tmin-pad, tmax+pad

	// Labels go in rows in the headroom: breaks in the top two, marks in
	// the two below; a label that fits in none of its rows is left out
	// (the line stays, and the page lists every environment).
	lb := labeler{xmin: xmin, xmax: xmax, rowY: func(row int) float64 { return ymax - (0.03+0.07*float64(row))*(ymax-ymin) }, handler: p.TextHandler}
	for _, b := range s.Breaks() {
		x := (unix(pts[b-1]) + unix(pts[b])) / 2
		if err := vline(p, x, ymin, ymax, breakColor, []vg.Length{3, 2.5}); err != nil {
			return nil, err
		}
		if err := lb.add(p, x, "→ "+envLabel(pts[b-1].Env, pts[b].Env), breakColor, 0, 1); err != nil {
			return nil, err
		}
	}
	for _, m := range marks {
		if m.Index < 0 || m.Index >= len(pts) {
			continue
		}
		x := unix(pts[m.Index])
		if err := vline(p, x, ymin, ymax, markColor, nil); err != nil {
			return nil, err
		}
		if err := lb.add(p, x, clip(m.Label, 48), markColor, 2, 3); err != nil {
			return nil, err
		}
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = ymin, ymax

	c := vgsvg.New(chartWidth, chartHeight)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("drawing %s: %w", s.Key, err)
	}
	// The XML prolog and comment have no place inside HTML.
	out := buf.Bytes()
	i := bytes.Index(out, []byte("<svg"))
	if i < 0 {
		return nil, fmt.Errorf("drawing %s: no <svg> element", s.Key)
	}
	return out[i:], nil
}

func unix(p history.Point) float64 { return float64(p.Time.Unix()) }

func styleAxis(a *plot.Axis) {
	a.Color = inkColor
	a.Width = 0.6
	a.Tick.Color = inkColor
	a.Tick.Width = 0.6
	a.Tick.Length = 3
	a.Tick.Label.Color = inkColor
	a.Tick.Label.Font = font.From(sans, 10)
	a.Label.TextStyle.Color = inkColor
	a.Label.TextStyle.Font = font.From(sans, 10)
	a.Padding = 2
}

// drawSegment draws the points of one environment: a band from low to
// high, the line of the centers and, when there are few points, a dot
// for each.
func drawSegment(p *plot.Plot, seg []history.Point, f float64, col color.NRGBA, glyphs bool) error {
	band := col
	band.A = 0x38
	if len(seg) == 1 {
		x := unix(seg[0])
		bar, err := plotter.NewLine(plotter.XYs{{X: x, Y: seg[0].Low * f}, {X: x, Y: seg[0].High * f}})
		if err != nil {
			return err
		}
		bar.LineStyle = draw.LineStyle{Color: band, Width: 3}
		p.Add(bar)
	} else {
		ring := make(plotter.XYs, 0, 2*len(seg))
		for _, pt := range seg {
			ring = append(ring, plotter.XY{X: unix(pt), Y: pt.Low * f})
		}
		for i := len(seg) - 1; i >= 0; i-- {
			ring = append(ring, plotter.XY{X: unix(seg[i]), Y: seg[i].High * f})
		}
		poly, err := plotter.NewPolygon(ring)
		if err != nil {
			return err
		}
		poly.Color = band
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	centers := make(plotter.XYs, len(seg))
	for i, pt := range seg {
		centers[i] = plotter.XY{X: unix(pt), Y: pt.Center * f}
	}
	if len(seg) > 1 {
		line, err := plotter.NewLine(centers)
		if err != nil {
			return err
		}
		line.LineStyle = draw.LineStyle{Color: col, Width: 1.4}
		p.Add(line)
	}
	if glyphs || len(seg) == 1 {
		sc, err := plotter.NewScatter(centers)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: 1.5, Shape: draw.CircleGlyph{}}
		p.Add(sc)
	}
	return nil
}

// vline draws a vertical line at x over the whole height.
func vline(p *plot.Plot, x, ymin, ymax float64, col color.NRGBA, dashes []vg.Length) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
	if err != nil {
		return err
	}
	l.LineStyle = draw.LineStyle{Color: col, Width: 1.1, Dashes: dashes}
	p.Add(l)
	return nil
}

// labeler places the labels of vertical lines in rows so that they do not
// overlap: beside the line, to its right, or to its left in the right
// part of the chart so that it stays inside.
type labeler struct {
	xmin, xmax float64
	rowY       func(row int) float64
	handler    text.Handler
	taken      map[int][][2]float64 // x intervals per row, in points
}

// plotWidth is about the width of a chart's data area, in points: the
// chart less its y axis.
const plotWidth = chartWidth - 48

func (l *labeler) add(p *plot.Plot, x float64, label string, col color.NRGBA, rows ...int) error {
	if label == "" {
		return nil
	}
	st := text.Style{Color: col, Font: font.From(sans, 9.5), YAlign: text.YTop, Handler: l.handler}
	off := vg.Length(3)
	at := (x - l.xmin) / (l.xmax - l.xmin) * float64(plotWidth)
	// Right of the line if it fits, else left of it, shortened to the
	// wider side if it fits neither.
	room := max(float64(plotWidth)-at, at) - 3
	for r := []rune(label); float64(st.Width(label)) > room && len(r) > 2; r = r[:len(r)-1] {
		label = string(r[:len(r)-2]) + "…"
	}
	w := float64(st.Width(label))
	lo, hi := at+3, at+3+w
	if hi > float64(plotWidth) {
		st.XAlign = text.XRight
		off = -3
		lo, hi = at-3-w, at-3
	}
	if l.taken == nil {
		l.taken = map[int][][2]float64{}
	}
	for _, row := range rows {
		free := true
		for _, iv := range l.taken[row] {
			if lo < iv[1]+4 && iv[0] < hi+4 {
				free = false
				break
			}
		}
		if !free {
			continue
		}
		l.taken[row] = append(l.taken[row], [2]float64{lo, hi})
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: l.rowY(row)}}, Labels: []string{label}})
		if err != nil {
			return err
		}
		lb.Offset = vg.Point{X: off}
		lb.TextStyle = []text.Style{st}
		p.Add(textOnly{lb})
		return nil
	}
	return nil
}

// textOnly draws labels without telling the plot their extent: labelled
// lines are placed inside the data area already, and the plot must not
// shrink its axes to make room for them.
type textOnly struct{ l *plotter.Labels }

// Plot implements plot.Plotter.
func (t textOnly) Plot(c draw.Canvas, p *plot.Plot) { t.l.Plot(c, p) }
