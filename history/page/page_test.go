package page

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/history"
)

func render(t *testing.T, h *history.History, opt Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, h, opt); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRenderPage(t *testing.T) {
	h := synthetic(t, realistic, 90, 60, 40)
	page := render(t, h, Options{Repository: "natsbench/natsbench-action", Generated: end.Add(time.Hour),
		Marks: map[history.Key][]Mark{stepKey: {{Index: 40, Label: "+18% change point"}}}})

	for _, want := range []string{
		"<title>Benchmark trends · natsbench/natsbench-action</title>",
		"90 records · Sep 2 – Nov 30, 2026 (89 days) · generated 2026-11-30 07:00 UTC",
		"AMD EPYC 7763 64-Core Processor, go1.26.8, GOMAXPROCS=4, linux/amd64</span> <span class=\"muted\">60 records, Sep 2 – Oct 31, 2026 (59 days)",
		"Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz, go1.26.8, GOMAXPROCS=4, linux/amd64</span> <span class=\"muted\">30 records",
		`<input id="filter" type="search"`,
		`<span id="count" data-total="10">10 charts</span>`,
		`data-name="github.com/natsbench/natsbench-action/botdb benchmarkkvput sec/op"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<svg "); n != len(realistic) {
		t.Errorf("%d charts, want %d", n, len(realistic))
	}
	// A heading per package, in order, each once.
	heads := regexp.MustCompile(`<h2>([^<]*)</h2>`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, m := range heads {
		got = append(got, m[1])
	}
	want := []string{"github.com/natsbench/natsbench-action/benchmarks", "github.com/natsbench/natsbench-action/botdb", "github.com/natsbench/natsbench-action/compare"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("package headings %q, want %q", got, want)
	}
	// Every chart shows the break, labelled with what changed; only the
	// stepped one shows the mark.
	if n := strings.Count(page, ">→ Intel Xeon Platinum 8370C</text>"); n != len(realistic) {
		t.Errorf("%d charts label the break, want %d", n, len(realistic))
	}
	if n := strings.Count(page, ">+18% change point</text>"); n != 1 {
		t.Errorf("the mark is drawn %d times, want 1", n)
	}
	// Nothing is loaded from anywhere: no src, no external href, no url();
	// and html/template rejected no value (ZgotmplZ).
	for _, bad := range []string{"src=", "url(", "@import", "https://", "//cdn", "ZgotmplZ"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if strings.Count(page, "href=") != 1 || !strings.Contains(page, `<link rel="icon" href="data:,">`) {
		t.Error("the page links to something besides its empty icon")
	}
	if !strings.Contains(html.UnescapeString(page), "script-src "+scriptHash) {
		t.Error("the CSP does not pin the filter script")
	}
}

// TestRenderChartCard pins what a card says: the last value in its unit's
// scale and the change since the newest environment began.
func TestRenderChartCard(t *testing.T) {
	h := synthetic(t, realistic[:1], 10, 6, -1)
	s := h.Series(history.SideHead)[0]
	first, last := s.Points[6], s.Points[9]
	page := html.UnescapeString(render(t, h, Options{Generated: end}))
	for _, want := range []string{
		`<span class="name">BenchmarkPublish/size=128</span> <span class="unit">sec/op</span>`,
		`>` + formatValue(last.Center, "sec/op") + `</span>`,
		`>` + formatChange(first.Center, last.Center) + `</span> <span class="muted">since ` + first.Time.Format("Jan 2") + `</span>`,
		"when this series moved to its current environment",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the card lacks %q", want)
		}
	}
}

// TestChartBreaksLines asserts that a series is never one line across an
// environment change: each environment's centers are a line of their own,
// in the environment's colour.
func TestChartBreaksLines(t *testing.T) {
	h := synthetic(t, realistic[:1], 200, 120, -1) // past glyphsUpTo: lines only
	s := h.Series(history.SideHead)[0]
	svg, err := drawChart(s, nil, func(k string) int {
		if k == amd.Key() {
			return 0
		}
		return 1
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := regexp.MustCompile(`<path d="(M[^"]*)" style="fill:none;stroke:(#[0-9A-F]{6});stroke-width:1.4"`).FindAllStringSubmatch(string(svg), -1)
	got := map[string][]int{}
	for _, l := range lines {
		got[l[2]] = append(got[l[2]], strings.Count(l[1], "L")+1)
	}
	want := map[string][]int{strings.ToUpper(hexColor(envColor(0))): {120}, strings.ToUpper(hexColor(envColor(1))): {80}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("center lines (colour: vertices) %v, want %v", got, want)
	}
	if n := strings.Count(string(svg), "stroke-dasharray"); n != 1 {
		t.Errorf("%d dashed lines, want the one break", n)
	}
}

func TestRenderCaps(t *testing.T) {
	h := synthetic(t, realistic, 90, -1, 40)
	marks := map[history.Key][]Mark{stepKey: {{Index: 40, Label: "old mark"}, {Index: 85, Label: "new mark"}}}
	page := render(t, h, Options{Generated: end, MaxCharts: 6, MaxPoints: 20, Marks: marks})
	if n := strings.Count(page, "<svg "); n != 6 {
		t.Errorf("%d charts, want the cap of 6", n)
	}
	for _, want := range []string{
		"Showing the first 6 of 10 charts (the page&#39;s limit).",
		"6 charts show only their newest 20 points.",
		"20 points (newest)",
		">new mark</text>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "old mark") {
		t.Error("a mark on a point the cap dropped is drawn")
	}
}

func TestRenderEmpty(t *testing.T) {
	page := render(t, &history.History{}, Options{Repository: "o/r", Generated: end})
	if !strings.Contains(page, "No records yet") || strings.Contains(page, "<svg") || strings.Contains(page, `id="filter"`) {
		t.Errorf("an empty history renders as\n%s", page)
	}
}

// TestRenderEscapesHostileNames renders a history whose every name is
// markup and asserts that all of it is text: the only tags and attributes
// on the page are the ones the page itself writes, and its one script is
// the filter.
func TestRenderEscapesHostileNames(t *testing.T) {
	h := hostileHistory(t)
	marks := map[history.Key][]Mark{}
	for _, s := range h.Series(history.SideHead) {
		marks[s.Key] = []Mark{{Index: 1, Label: hostile[0]}, {Index: 2, Label: hostile[1]}}
	}
	page := render(t, h, Options{Repository: hostile[1], Generated: end, Marks: marks})

	// The names are shown, as text.
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img") {
		t.Error("the page contains markup from the history")
	}
	// Raw text elements first: exactly the page's own style and script.
	rest := page
	for _, el := range []struct{ tag, body string }{{"style", pageCSS}, {"script", filterJS}} {
		open, closing := "<"+el.tag+">", "</"+el.tag+">"
		if n := strings.Count(rest, open); n != 1 {
			t.Fatalf("%d <%s> elements, want 1", n, el.tag)
		}
		i, j := strings.Index(rest, open), strings.Index(rest, closing)
		if j < i || rest[i+len(open):j] != el.body {
			t.Fatalf("the <%s> element is not the page's own", el.tag)
		}
		rest = rest[:i] + rest[j+len(closing):]
	}
	// html/template and vgsvg escape < in text and in attribute values,
	// so every < left starts markup the page wrote.
	allowedTags := set("html head meta title link body header div h1 span p ul li details summary input main section h2 figure figcaption svg g path text footer")
	allowedAttrs := set("lang charset name content http-equiv rel href class aria-label style id type placeholder autocomplete spellcheck data-total data-name title hidden width height viewbox xmlns xmlns:xlink transform d x y")
	tagRE := regexp.MustCompile(`<(/?)([^\s/>]+)([^>]*)>`)
	attrRE := regexp.MustCompile(`([^\s=/"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?`)
	if strings.Count(rest, "<") != len(tagRE.FindAllString(rest, -1)) {
		t.Error("a < on the page starts no tag")
	}
	for _, m := range tagRE.FindAllStringSubmatch(rest, -1) {
		name := strings.ToLower(m[2])
		if name == "!doctype" {
			continue
		}
		if !allowedTags[name] {
			t.Errorf("tag %q on the page", m[0])
		}
		for _, a := range attrRE.FindAllStringSubmatch(m[3], -1) {
			an := strings.ToLower(a[1])
			if !allowedAttrs[an] {
				t.Errorf("attribute %q in %.80q", an, m[0])
			}
			if strings.Contains(strings.ToLower(a[2]), "javascript:") {
				t.Errorf("attribute %q is a javascript: URL", a[0])
			}
		}
	}
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// TestRenderHeadOnly asserts that the page draws the code as it was on its
// branch: base records (a pull request's merge base) are neither charted
// nor counted, and one record is a chart of one point with no change.
func TestRenderHeadOnly(t *testing.T) {
	h := synthetic(t, realistic[:1], 2, -1, -1)
	base := h.Records[1]
	base.ID, base.Side = "run-x-base", history.SideBase
	for i := range base.Rows {
		base.Rows[i].Center *= 100
		base.Rows[i].Low *= 100
		base.Rows[i].High *= 100
	}
	h.Records = append(h.Records[:1], base)
	page := html.UnescapeString(render(t, h, Options{Generated: end}))
	for _, want := range []string{"1 record · ", "1 point</span>", "amd64</span> <span class=\"muted\">1 record, "} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="change`) {
		t.Error("a chart of one point shows a change")
	}
	if n := strings.Count(page, "<svg "); n != 1 {
		t.Errorf("%d charts, want 1", n)
	}
}
