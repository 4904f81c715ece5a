package runner

import (
	"fmt"
	"os"
	"sort"

	"github.com/google/pprof/profile"
)

// topHotspots is how many functions of each profile are kept.
const topHotspots = 3

// hotspots reads a CPU profile and returns its top functions by flat
// samples, with their flat and cumulative shares of all samples.
func hotspots(path string, side Side, pkg string) ([]Hotspot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("parsing profile %s: %w", path, err)
	}
	// A CPU profile has samples/count and cpu/nanoseconds; weigh by time.
	vi := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	if vi < 0 {
		return nil, nil
	}
	flat := map[string]int64{}
	cum := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		seen := map[string]bool{}
		for li, loc := range s.Location {
			// Lines run from the innermost inlined function outwards.
			for ni, ln := range loc.Line {
				if ln.Function == nil {
					continue
				}
				name := ln.Function.Name
				if li == 0 && ni == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	if total == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(flat))
	for n := range flat {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if flat[names[i]] != flat[names[j]] {
			return flat[names[i]] > flat[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) > topHotspots {
		names = names[:topHotspots]
	}
	out := make([]Hotspot, len(names))
	for i, n := range names {
		out[i] = Hotspot{
			Side: side, Package: pkg, Function: n,
			Flat: float64(flat[n]) / float64(total),
			Cum:  float64(cum[n]) / float64(total),
		}
	}
	return out, nil
}
