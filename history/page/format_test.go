package page

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"
)

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{2.345e-6, "sec/op", "2.35 µs/op"},
		{999e-9, "sec/op", "999 ns/op"},
		{12.5e-9, "sec/op", "12.5 ns/op"},
		{0.91e-3, "sec/op", "910 µs/op"},
		{1.5e-3, "sec/op", "1.50 ms/op"},
		{3.2, "sec/op", "3.20 s/op"},
		{1234, "ns/op", "1.23 µs/op"},
		{1184, "B/op", "1.16 KiB/op"},
		{512, "B/op", "512 B/op"},
		{2.6e6, "B/op", "2.48 MiB/op"},
		{3 << 30, "B/s", "3.00 GiB/s"},
		{14, "allocs/op", "14.0 allocs/op"},
		{0, "allocs/op", "0 allocs/op"},
		{1.84e6, "msgs/s", "1.84 M msgs/s"},
		{12345, "msgs/s", "12.3 k msgs/s"},
		{0.0042, "ratio", "0.00420 ratio"},
		{-1.5e-6, "sec/op", "-1.50 µs/op"},
	} {
		t.Run(fmt.Sprint(tc.v, tc.unit), func(t *testing.T) {
			if got := formatValue(tc.v, tc.unit); got != tc.want {
				t.Errorf("formatValue(%g, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
			}
		})
	}
}

func TestSig3(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{1.234, "1.23"}, {12.34, "12.3"}, {123.4, "123"}, {1234.5, "1234"},
		{9.996, "10.0"}, {99.96, "100"}, {0.1234, "0.123"}, {0, "0"}, {1e-9, "1e-09"},
	} {
		if got := sig3(tc.v); got != tc.want {
			t.Errorf("sig3(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestFormatChange(t *testing.T) {
	for _, tc := range []struct {
		a, b float64
		want string
	}{
		{100, 112.3, "+12.3%"}, {100, 96, "−4.0%"}, {100, 250, "+150%"}, {100, 100.01, "±0.0%"},
		{0, 5, ""}, {-2, -1, "+50.0%"},
	} {
		if got := formatChange(tc.a, tc.b); got != tc.want {
			t.Errorf("formatChange(%g, %g) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEnvLabel(t *testing.T) {
	for _, tc := range []struct {
		prev, next, want string
	}{
		{amd.Key(), xeon.Key(), "Intel Xeon Platinum 8370C"},
		{"AMD EPYC 7763 64-Core Processor, go1.25.5, GOMAXPROCS=4, linux/amd64", amd.Key(), "go1.26.8"},
		{amd.Key(), "AMD EPYC 7763 64-Core Processor, go1.26.8, GOMAXPROCS=8, linux/amd64", "GOMAXPROCS=8"},
		{"unknown environment", "Apple M2, go1.26.8", "Apple M2, go1.26.8"},
		{amd.Key(), "Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz, go1.27.1, GOMAXPROCS=2, linux/amd64", "Intel Xeon E5-2673 v4, go1.27.1, GOMAXP…"},
	} {
		if got := envLabel(tc.prev, tc.next); got != tc.want {
			t.Errorf("envLabel(%q, %q) = %q, want %q", tc.prev, tc.next, got, tc.want)
		}
	}
}

func TestDateTicks(t *testing.T) {
	day := func(m time.Month, d int) float64 { return float64(time.Date(2026, m, d, 0, 0, 0, 0, time.UTC).Unix()) }
	for _, tc := range []struct {
		name     string
		min, max float64
		want     string
	}{
		{"a week", day(11, 23) + 3600, day(11, 30) + 3600, "[Nov 24 Nov 25 Nov 26 Nov 27 Nov 28 Nov 29 Nov 30]"},
		{"a quarter", day(9, 2), day(11, 30), "[Sep 2 Sep 16 Sep 30 Oct 14 Oct 28 Nov 11 Nov 25]"},
		{"a year", day(1, 1) - 86400*30, day(12, 1), "[Jan 2026 Mar 2026 May 2026 Jul 2026 Sep 2026 Nov 2026]"},
		{"a day", day(11, 30), day(11, 30) + 20*3600, "[Nov 30 03:00 06:00 09:00 12:00 15:00 18:00]"},
		{"nothing", day(11, 30), day(11, 30), "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tk := range (dateTicks{}).Ticks(tc.min, tc.max) {
				got = append(got, tk.Label)
				if tk.Value < tc.min || tk.Value > tc.max {
					t.Errorf("tick %s at %g is outside [%g, %g]", tk.Label, tk.Value, tc.min, tc.max)
				}
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("ticks %v, want %s", got, tc.want)
			}
		})
	}
}

// TestValueTicks asserts that each label says its tick's value, and that
// a chart gets a few of them.
func TestValueTicks(t *testing.T) {
	for _, r := range [][2]float64{{1.15, 1.17}, {0.7, 1.1}, {2.2, 3.0}, {13.188, 15.4}, {100, 500}, {0.00012, 0.00019}, {-3, 7}, {0, 1}, {998, 1003}} {
		ticks := (valueTicks{}).Ticks(r[0], r[1])
		if len(ticks) < 3 || len(ticks) > 9 {
			t.Errorf("range %v: %d ticks", r, len(ticks))
		}
		for _, tk := range ticks {
			v, err := strconv.ParseFloat(tk.Label, 64)
			if err != nil || math.Abs(v-tk.Value) > (r[1]-r[0])*1e-9 {
				t.Errorf("range %v: tick at %g is labelled %q", r, tk.Value, tk.Label)
			}
			if tk.Value < r[0] || tk.Value > r[1] {
				t.Errorf("range %v: tick at %g is outside", r, tk.Value)
			}
		}
	}
	var got []string
	for _, tk := range (valueTicks{}).Ticks(13.188, 15.4) {
		got = append(got, tk.Label)
	}
	if fmt.Sprint(got) != "[13.5 14.0 14.5 15.0]" {
		t.Errorf("ticks of [13.188, 15.4]: %v", got)
	}
}

func TestSpan(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 6, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		a, b time.Time
		want string
	}{
		{d(2026, 9, 2), d(2026, 11, 30), "Sep 2 – Nov 30, 2026 (89 days)"},
		{d(2025, 12, 31), d(2026, 1, 1), "Dec 31, 2025 – Jan 1, 2026 (1 day)"},
		{d(2026, 11, 30), d(2026, 11, 30).Add(time.Hour), "Nov 30, 2026"},
	} {
		if got := span(tc.a, tc.b); got != tc.want {
			t.Errorf("span(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
