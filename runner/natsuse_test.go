package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/natsbench/natsbench-action/internal/gittest"
)

// natsProbe is a benchmark that records, as the metric nats-url, whether
// its process had NATS_URL set; expr is how it names the variable.
func natsProbe(pkg, expr string) string {
	return `package ` + pkg + `

import (
	"os"
	"testing"
)

func BenchmarkProbe(b *testing.B) {
	set := 0.0
	if os.Getenv(` + expr + `) != "" {
		set = 1
	}
	for b.Loop() {
	}
	b.ReportMetric(set, "nats-url")
}
`
}

// natsModule is a module whose packages read NATS_URL in every way the
// rule sees, and in ways it does not.
var natsModule = map[string]string{
	"go.mod": "module example.com/natsuse\n\ngo 1.26\n",
	// Names the variable in its benchmark: gets a server.
	"direct/direct_test.go": natsProbe("direct", `"NATS_URL"`),
	// Names it in a non-test file of the package.
	"nontest/env.go":          "package nontest\n\nconst urlVar = `NATS_URL`\n",
	"nontest/nontest_test.go": natsProbe("nontest", "urlVar"),
	// Reads it through a helper package of the module.
	"helper/helper.go": "package helper\n\nimport \"os\"\n\n// URL is the server's address.\nfunc URL() string { return os.Getenv(\"NATS_URL\") }\n",
	"viahelper/via_test.go": `package viahelper

import (
	"testing"

	"example.com/natsuse/helper"
)

func BenchmarkProbe(b *testing.B) {
	set := 0.0
	if helper.URL() != "" {
		set = 1
	}
	for b.Loop() {
	}
	b.ReportMetric(set, "nats-url")
}
`,
	// Only a comment mentions it, and the name is built at run time: no
	// server, and the benchmark sees NATS_URL unset.
	"plain/plain_test.go": "// This package does not read NATS_URL.\n" + natsProbe("plain", `"NATS_" + "URL"`),
}

func TestUsesNATS(t *testing.T) {
	dir := t.TempDir()
	for name, src := range natsModule {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unscannable := filepath.Join(dir, "bad")
	if err := os.MkdirAll(unscannable, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(unscannable, "bad_test.go"), []byte("package bad\n\nvar s = \"unterminated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for pkg, want := range map[string]bool{"direct": true, "nontest": true, "viahelper": true, "plain": false, "helper": true, "bad": true} {
		if got := usesNATS(dir, filepath.Join(dir, pkg)); got != want {
			t.Errorf("usesNATS(%s) = %v, want %v", pkg, got, want)
		}
	}
}

// TestRunStartsNATSOnlyWhereRead runs the module's benchmarks with NATS
// on: the packages whose source reads NATS_URL get a server, the other
// runs without one.
func TestRunStartsNATSOnlyWhereRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := gittest.Commit(dir, natsModule, "natsuse"); err != nil {
		t.Fatal(err)
	}
	res, err := Run(t.Context(), Config{Dir: dir, Count: 1, Benchtime: "1x", NATS: true, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 || len(res.BuildErrors) > 0 {
		t.Fatalf("failures %+v, build errors %+v", res.Failures, res.BuildErrors)
	}
	got := map[string]float64{}
	r := benchfmt.NewReader(bytes.NewReader(res.Head), "head.txt")
	for r.Scan() {
		if rec, ok := r.Result().(*benchfmt.Result); ok {
			if v, ok := rec.Value("nats-url"); ok {
				got[filepath.Base(rec.GetConfig("pkg"))] = v
			}
		}
	}
	want := map[string]float64{"direct": 1, "nontest": 1, "viahelper": 1, "plain": 0}
	if !mapsEqualFloat(got, want) {
		t.Errorf("NATS_URL set per package = %v, want %v\n%s", got, want, res.Head)
	}
}

func mapsEqualFloat(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
