package compare

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/outcome"
)

func TestJSONRoundTrip(t *testing.T) {
	for _, name := range []string{"mixed", "few"} {
		t.Run(name, func(t *testing.T) {
			r := mustCompute(t, name, Input{
				BaseRef: Ref{Ref: "main", SHA: "1111111"}, HeadRef: Ref{Ref: "pr", SHA: "2222222"},
				Failures:    mixedFailures(),
				BuildErrors: []outcome.BuildError{{Side: "head", Package: "example.com/m/z", Output: "z.go:1: boom"}},
				Hotspots:    []outcome.Hotspot{{Side: "head", Package: pkgA, Function: "a.slow", Flat: 0.5, Cum: 0.75}},
				Command:     "go run . -count 10", RunURL: "https://example.com/run/1",
				Created: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
			})
			var buf bytes.Buffer
			if err := WriteJSON(&buf, r); err != nil {
				t.Fatal(err)
			}
			back, err := ReadJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, r) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", back, r)
			}
		})
	}
}

func TestJSONShape(t *testing.T) {
	t.Run("infinite CI bounds are null", func(t *testing.T) {
		r := mustCompute(t, "few", Input{})
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		var raw struct {
			Benchmarks []struct {
				Base map[string]any `json:"base"`
			} `json:"benchmarks"`
		}
		if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		if b := raw.Benchmarks[0].Base; b["low"] != nil || b["high"] != nil || b["center"] == nil {
			t.Errorf("base = %v, want null low/high and a center", b)
		}
		if !math.IsInf(r.Benchmarks[0].Base.Low, -1) {
			t.Errorf("Low = %v, want -Inf (n=3 has no 95%% CI)", r.Benchmarks[0].Base.Low)
		}
	})
	t.Run("empty report has lists and all counts", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, &Report{}); err != nil {
			t.Fatal(err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"benchmarks", "warnings", "hotspots"} {
			if string(raw[k]) != "[]" {
				t.Errorf("%s = %s, want []", k, raw[k])
			}
		}
		if string(raw["schema"]) != `"natsbench/report/v1"` {
			t.Errorf("schema = %s", raw["schema"])
		}
		var summary map[string]int
		if err := json.Unmarshal(raw["summary"], &summary); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"regression", "improvement", "unchanged", "added", "removed", "failed"} {
			if n, ok := summary[v]; !ok || n != 0 {
				t.Errorf("summary[%s] = %d, %v; want 0, present", v, n, ok)
			}
		}
	})
	t.Run("other schema is an error", func(t *testing.T) {
		_, err := ReadJSON(strings.NewReader(`{"schema":"natsbench/report/v9"}`))
		if err == nil || !strings.Contains(err.Error(), "v9") {
			t.Errorf("err = %v, want schema error", err)
		}
	})
	t.Run("garbage is an error", func(t *testing.T) {
		if _, err := ReadJSON(strings.NewReader(`{`)); err == nil {
			t.Error("no error")
		}
	})
	t.Run("html is not escaped into unicode", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, &Report{Warnings: []string{"a <b> & c"}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "a <b> & c") {
			t.Errorf("json = %s", buf.String())
		}
	})
}
