package page

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/natsbench/natsbench-action/history"
)

// chromium finds the distribution's Chromium: Debian's package installs
// /usr/bin/chromium, Ubuntu's chromium-browser.
func chromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("neither chromium nor chromium-browser is on PATH")
}

// TestBrowser loads trend pages in a real headless Chromium: they must
// load with no console error, exception or dialog, fetch nothing from
// anywhere but their own server, draw every chart at a visible size, and
// filter charts as the reader types. With NATSBENCH_SCREENSHOT=file.png
// it saves a full-page screenshot of the realistic page (docs/trend-page.png).
//
// Without Chromium it skips, except under CI, where .ci/run installs it
// and a skip would hide that the page is untested.
func TestBrowser(t *testing.T) {
	chromiumPath, err := chromium()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v, and CI is set: .ci/run installs it, so this test must not skip", err)
		}
		t.Skipf("%v (apt-get install -y chromium; .ci/run does it)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()

	t.Run("realistic", func(t *testing.T) {
		h := synthetic(t, realistic, 90, 60, 40)
		marks := map[history.Key][]Mark{stepKey: {{Index: 40, Label: "+18% change point"}}}
		b := load(t, actx, h, Options{Repository: "natsbench/natsbench-action", Generated: end.Add(time.Hour), Marks: marks})
		b.checkCharts(t, len(realistic))
		b.checkFilter(t, "kvput", 1)
		b.checkFilter(t, "compare sec/op", 2)
		b.checkFilter(t, "no such benchmark", 0)
		b.checkFilter(t, "", len(realistic))
		if path := os.Getenv("NATSBENCH_SCREENSHOT"); path != "" {
			// The page as a reader first sees it: no focus ring.
			if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(png))
		}
		b.checkQuiet(t)
	})

	t.Run("a year", func(t *testing.T) {
		// The bounded page of the benchmark: 200 charts of 365 points.
		h := synthetic(t, yearRows(), 365, 200, -1)
		b := load(t, actx, h, Options{Repository: "o/r", Generated: end})
		// A figure to report, not to assert: the machine is shared.
		ms, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].loadEventEnd`))
		t.Logf("the year's page loaded in %.0f ms (err %v)", ms, err)
		b.checkCharts(t, 200)
		b.checkFilter(t, "pkg03 op07", 2)
		b.checkQuiet(t)
	})

	t.Run("hostile names", func(t *testing.T) {
		h := hostileHistory(t)
		marks := map[history.Key][]Mark{}
		for _, s := range h.Series(history.SideHead) {
			marks[s.Key] = []Mark{{Index: 1, Label: `<script>alert(2)</script>`}}
		}
		b := load(t, actx, h, Options{Repository: `"><script>alert(3)</script>`, Generated: end, Marks: marks})
		b.checkCharts(t, len(h.Series(history.SideHead)))
		b.checkFilter(t, "<script>", 2)
		b.checkQuiet(t)
	})
}

// tab is one page loaded in the browser, with what it did.
type tab struct {
	ctx  context.Context
	host string

	mu       sync.Mutex
	problems []string
	requests []string
}

func (b *tab) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// load serves the page of h on loopback and opens it in a new tab.
func load(t *testing.T, actx context.Context, h *history.History, opt Options) *tab {
	t.Helper()
	var page bytes.Buffer
	if err := Render(&page, h, opt); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	b := &tab{host: u.Host}
	listen := func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problem("console.%s: %s", ev.Type, strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			b.problem("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				b.problem("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *cdppage.EventJavascriptDialogOpening:
			b.problem("dialog %s: %s", ev.Type, ev.Message)
		case *network.EventRequestWillBeSent:
			b.mu.Lock()
			b.requests = append(b.requests, ev.Request.URL)
			b.mu.Unlock()
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	t.Cleanup(cancel)
	b.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	return b
}

// checkCharts asserts that the page has n charts, each an SVG drawn at a
// size a reader can see.
func (b *tab) checkCharts(t *testing.T, n int) {
	t.Helper()
	sizes, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][2]float64](
		`[...document.querySelectorAll("figure.chart svg")].map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != n {
		t.Errorf("%d charts on the page, want %d", len(sizes), n)
	}
	for i, s := range sizes {
		if s[0] < 200 || s[1] < 80 {
			t.Errorf("chart %d is drawn %.0f×%.0f px", i, s[0], s[1])
		}
	}
	all, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg").length`))
	if err != nil || all != n {
		t.Errorf("%d svg elements in all (err %v), want %d", all, err, n)
	}
}

// checkFilter types query into the filter box and asserts that want
// charts stay visible.
func (b *tab) checkFilter(t *testing.T, query string, want int) {
	t.Helper()
	// Clear the box, then type as a reader does: one key event per rune;
	// an empty query is a key and its deletion.
	keys := query
	if keys == "" {
		keys = "x\b"
	}
	if err := chromedp.Do(b.ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("filter").value = ""`),
		chromedp.SendKeys(chromedp.ID("filter"), keys)); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("figure.chart")].filter(c => c.getClientRects().length > 0).map(c => c.dataset.name)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != want {
		t.Errorf("filter %q shows %d charts %q, want %d", query, len(got), got, want)
	}
	for _, name := range got {
		for _, w := range strings.Fields(strings.ToLower(query)) {
			if !strings.Contains(name, w) {
				t.Errorf("filter %q shows %q", query, name)
			}
		}
	}
	count, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("count")))
	if err != nil {
		t.Fatal(err)
	}
	if query != "" && !strings.HasPrefix(count, fmt.Sprintf("%d of ", want)) {
		t.Errorf("filter %q: the count says %q", query, count)
	}
}

// checkQuiet asserts that the page reported nothing and asked for nothing
// beyond its own server.
func (b *tab) checkQuiet(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("the page reported %s", p)
	}
	if len(b.requests) == 0 {
		t.Error("no request seen: the listener is not working")
	}
	for _, r := range b.requests {
		u, err := url.Parse(r)
		if err != nil || u.Host != b.host {
			t.Errorf("the page requested %s, which is not its server %s", r, b.host)
		}
	}
}
