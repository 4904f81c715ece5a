package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd builds plainlat and runs it as the docs say, with tiny
// numbers: it builds nats-server and botdb, starts them and its echo
// responder, and prints a table in which each of the four clients has
// figures.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and starts three processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "plainlat")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-n", "50", "-warmup", "5", "-rounds", "1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("plainlat: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	t.Logf("output:\n%s", out)

	for _, section := range []string{"## Round 1 of 1", "## Median over 1 rounds"} {
		i := strings.Index(out, section)
		if i < 0 {
			t.Fatalf("no %q in the output", section)
		}
		rows := tableRows(out[i:])
		var names []string
		for _, r := range rows {
			names = append(names, r[0])
			for j, cell := range r[1:5] { // p50, p95, p99, p50 / echo
				v, err := strconv.ParseFloat(cell, 64)
				if err != nil || v <= 0 {
					t.Errorf("%s, client %s, column %d: %q is not a positive number", section, r[0], j+2, cell)
				}
			}
			if r[0] == "echo" && r[4] != "1.00" {
				t.Errorf("%s: echo's p50 / echo is %s, want 1.00", section, r[4])
			}
		}
		if got, want := strings.Join(names, ","), "echo,botdb,plain-idle,plain-after-publish"; got != want {
			t.Errorf("%s: clients %s, want %s", section, got, want)
		}
	}
}

// tableRows returns the cells of the data rows of the first markdown table
// in s.
func tableRows(s string) [][]string {
	var rows [][]string
	in := false
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		in = true
		if strings.HasPrefix(line, "| client ") || strings.HasPrefix(line, "|---") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "0"}, "flag -n 0"},
		{[]string{"-warmup", "-1"}, "flag -warmup -1"},
		{[]string{"-rounds", "0"}, "flag -rounds 0"},
		{[]string{"-seed", "0"}, "flag -seed 0"},
		{[]string{"-prefix", "a.*"}, "flag -prefix"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-echo"}, "-echo takes exactly one argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Microsecond
	}
	for p, want := range map[int]time.Duration{50: 50 * time.Microsecond, 95: 95 * time.Microsecond, 99: 99 * time.Microsecond} {
		if got := pct(d, p); got != want {
			t.Errorf("pct(1..100 µs, %d) = %v, want %v", p, got, want)
		}
	}
	if got := pct(d[:1], 99); got != time.Microsecond {
		t.Errorf("pct of one value = %v, want it", got)
	}
}
