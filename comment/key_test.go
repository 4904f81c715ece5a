package comment_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/comment"
)

func TestDefaultKey(t *testing.T) {
	tests := []struct {
		name, matrix string
		want         string
		wantErr      bool
	}{
		{name: "not a matrix job", matrix: "null", want: "bench/go"},
		{name: "input unset (local CLI)", matrix: "", want: "bench/go"},
		{name: "empty matrix", matrix: "{}", want: "bench/go"},
		{name: "toJSON's pretty form", matrix: "{\n  \"os\": \"ubuntu-latest\",\n  \"go\": \"1.24\"\n}", want: "bench/go (go=1.24, os=ubuntu-latest)"},
		{name: "numbers kept as written", matrix: `{"go": 1.20, "n": 3}`, want: "bench/go (go=1.20, n=3)"},
		{name: "booleans and nested objects as compact JSON, keys sorted", matrix: `{"race": true, "cfg": {"z": 1, "a": "<x>"}}`,
			want: `bench/go (cfg={"a":"<x>","z":1}, race=true)`},
		{name: "separators in a value are quoted", matrix: `{"a": "1, b=2"}`, want: `bench/go (a="1, b=2")`},
		{name: "empty value is quoted", matrix: `{"a": ""}`, want: `bench/go (a="")`},
		{name: "line breaks and control characters are quoted onto one line", matrix: `{"a\n::x": "v\n::warning::pwned\u0007", "b": {"c": "d\ne"}}`,
			want: `bench/go ("a\n::x"="v\n::warning::pwned\a", b={"c":"d\ne"})`},
		{name: "an array is not a matrix", matrix: `[1, 2]`, want: "bench/go", wantErr: true},
		{name: "broken JSON", matrix: `{"os": `, want: "bench/go", wantErr: true},
		{name: "text after the object", matrix: `{"os": "a"} {"os": "b"}`, want: "bench/go", wantErr: true},
		{name: "unexpanded expression", matrix: "${{ toJSON(matrix) }}", want: "bench/go", wantErr: true},
		{name: "too large", matrix: `{"a": "` + strings.Repeat("x", comment.MaxMatrixJSON) + `"}`, want: "bench/go", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := comment.DefaultKey("bench", "go", tc.matrix)
			if got != tc.want {
				t.Errorf("key = %q, want %q", got, tc.want)
			}
			switch {
			case tc.wantErr && err == nil:
				t.Error("no error, want one")
			case tc.wantErr && !strings.Contains(err.Error(), "set comment-key"):
				t.Errorf("error %q does not tell the fix", err)
			case !tc.wantErr && err != nil:
				t.Errorf("error %v", err)
			}
		})
	}
}

// TestDefaultKeyMatrixLegsDiffer: every leg of a matrix gets its own key
// and marker, stable whatever order toJSON writes the values in; before,
// all legs shared workflow/job and overwrote one comment.
func TestDefaultKeyMatrixLegsDiffer(t *testing.T) {
	markers := map[string]string{}
	for _, goV := range []string{"1.23", "1.24"} {
		for _, os := range []string{"ubuntu-latest", "ubuntu-24.04-arm"} {
			for _, race := range []string{"true", "false"} {
				leg := fmt.Sprintf(`{"go": %q, "os": %q, "race": %s}`, goV, os, race)
				reordered := fmt.Sprintf(`{"race": %s, "os": %q, "go": %q}`, race, os, goV)
				k, err := comment.DefaultKey("Benchmarks", "bench", leg)
				if err != nil {
					t.Fatal(err)
				}
				k2, err := comment.DefaultKey("Benchmarks", "bench", reordered)
				if err != nil || k2 != k {
					t.Errorf("reordered leg: key %q, %v; want %q", k2, err, k)
				}
				m := comment.KeyMarker(k)
				if prev, ok := markers[m]; ok {
					t.Errorf("legs %s and %s share the marker %s", prev, leg, m)
				}
				markers[m] = leg
			}
		}
	}
	// Values that hold the separators do not collide with more values.
	a, _ := comment.DefaultKey("w", "j", `{"a": "1, b=2"}`)
	b, _ := comment.DefaultKey("w", "j", `{"a": "1", "b": "2"}`)
	if a == b {
		t.Errorf("two matrices share the key %q", a)
	}
}
