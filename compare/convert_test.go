package compare

import (
	"reflect"
	"testing"

	"github.com/natsbench/natsbench-action/runner"
)

func TestFromRunner(t *testing.T) {
	res := &runner.Result{
		Failures:    []runner.Failure{{Side: runner.Head, Package: "p", Benchmark: "Foo/bar", Reason: "panic", Output: "panic: x"}},
		BuildErrors: []runner.BuildError{{Side: runner.Base, Package: "q", Output: "q.go:1: bad"}},
		Hotspots:    []runner.Hotspot{{Side: runner.Head, Package: "p", Function: "p.f", Flat: 0.25, Cum: 0.5}},
	}
	f, b, h := FromRunner(res)
	if want := []Failure{{Side: "head", Package: "p", Benchmark: "Foo/bar", Reason: "panic", Output: "panic: x"}}; !reflect.DeepEqual(f, want) {
		t.Errorf("failures = %+v, want %+v", f, want)
	}
	if want := []BuildError{{Side: "base", Package: "q", Output: "q.go:1: bad"}}; !reflect.DeepEqual(b, want) {
		t.Errorf("build errors = %+v, want %+v", b, want)
	}
	if want := []Hotspot{{Side: "head", Package: "p", Function: "p.f", Flat: 0.25, Cum: 0.5}}; !reflect.DeepEqual(h, want) {
		t.Errorf("hotspots = %+v, want %+v", h, want)
	}
	if f, b, h := FromRunner(nil); f != nil || b != nil || h != nil {
		t.Error("FromRunner(nil) returned data")
	}
}
