package compare

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// benchstatRow is one row of `benchstat -format csv OLD NEW`.
type benchstatRow struct {
	pkg, name, unit string
	base, head      *float64
	p               string // "0.000" as benchstat prints it; "" if none
}

// runBenchstat runs the benchstat command pinned in go.mod (from the
// module cache, offline) on two fixtures and parses its CSV output.
func runBenchstat(t *testing.T, oldFile, newFile string) []benchstatRow {
	t.Helper()
	cmd := exec.Command("go", "run", "golang.org/x/perf/cmd/benchstat", "-format", "csv", oldFile, newFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("benchstat: %v\n%s", err, stderr.String())
	}
	r := csv.NewReader(&stdout)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parsing benchstat csv: %v", err)
	}
	var rows []benchstatRow
	var pkg, unit string
	num := func(s string) *float64 {
		if s == "" {
			return nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("benchstat center %q: %v", s, err)
		}
		return &v
	}
	for _, f := range recs {
		switch {
		case len(f) == 1 && strings.Contains(f[0], ": "):
			// A table header, "key: value", printed when it changes.
			if k, v, _ := strings.Cut(f[0], ": "); k == "pkg" {
				pkg = v
			}
		case len(f) > 2 && f[0] == "" && f[2] == "CI":
			unit = f[1]
		case len(f) > 1 && f[0] == "":
			// The row of file names.
		case f[0] == "geomean":
		default:
			row := benchstatRow{pkg: pkg, name: f[0], unit: unit, base: num(f[1])}
			if len(f) > 3 {
				row.head = num(f[3])
			}
			if len(f) > 6 {
				if p, _, ok := strings.Cut(strings.TrimPrefix(f[6], "p="), " "); ok && strings.HasPrefix(f[6], "p=") {
					row.p = p
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// TestMatchesBenchstat checks that every center and p-value we report is
// the one the benchstat command reports on the same files.
func TestMatchesBenchstat(t *testing.T) {
	for _, name := range []string{"mixed", "aa", "few", "noisy", "small", "hostile"} {
		t.Run(name, func(t *testing.T) {
			r := mustCompute(t, name, Input{})
			want := runBenchstat(t, "testdata/"+name+"_old.txt", "testdata/"+name+"_new.txt")
			if len(want) != len(r.Benchmarks) {
				t.Errorf("benchstat has %d rows, we have %d", len(want), len(r.Benchmarks))
			}
			index := map[string]Row{}
			for _, b := range r.Benchmarks {
				index[b.Package+" "+b.Name+" "+b.Unit] = b
			}
			compared := 0
			for _, w := range want {
				key := w.pkg + " " + w.name + " " + w.unit
				got, ok := index[key]
				if !ok {
					t.Errorf("%s: benchstat row missing from the report", key)
					continue
				}
				checkCenter(t, key+" base", got.Base, w.base)
				checkCenter(t, key+" head", got.Head, w.head)
				if got.PValue != nil && w.p != "" {
					compared++
					if p := fmt.Sprintf("%0.3f", *got.PValue); p != w.p {
						t.Errorf("%s: p = %s, benchstat p=%s", key, p, w.p)
					}
				}
			}
			if compared == 0 {
				t.Errorf("no p-value compared")
			}
			t.Logf("%d rows, %d p-values match benchstat", len(want), compared)
		})
	}
}

func checkCenter(t *testing.T, what string, got *Summary, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s: center %v, benchstat %v", what, got, want)
	case got.Center != *want:
		t.Errorf("%s: center %v, benchstat %v", what, got.Center, *want)
	}
}
