package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/natsbench/natsbench-action/outcome"
)

// WriteJSON writes r as report.json (schema natsbench/report/v1),
// indented. Lists are never null and the summary has a count for every
// verdict, so consumers need no special cases.
func WriteJSON(w io.Writer, r *Report) error {
	out := normalize(*r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("writing report json: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON. Unknown fields are
// ignored (newer writers may add some); another schema is an error.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("reading report json: %w", err)
	}
	if rep.Schema != Schema {
		return nil, fmt.Errorf("reading report json: schema %q, want %q", rep.Schema, Schema)
	}
	rep = normalize(rep)
	return &rep, nil
}

// normalize returns r with empty lists instead of nil and every verdict
// counted.
func normalize(r Report) Report {
	if r.Schema == "" {
		r.Schema = Schema
	}
	if r.Benchmarks == nil {
		r.Benchmarks = []Row{}
	}
	if r.Hotspots == nil {
		r.Hotspots = []outcome.Hotspot{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	// JSON has no NaN or infinity; a non-finite figure is unknown.
	rows := make([]Row, len(r.Benchmarks))
	for i, b := range r.Benchmarks {
		for _, f := range []**float64{&b.DeltaPct, &b.PValue, &b.PAdjusted} {
			if *f != nil {
				*f = finite(**f)
			}
		}
		if b.Reason == NoReason {
			b.Reason = reasonOf(b.Verdict, b.Note)
		}
		rows[i] = b
	}
	r.Benchmarks = rows
	counts := countVerdicts(r.Benchmarks)
	for k, v := range r.Summary {
		counts[k] = v
	}
	r.Summary = counts
	return r
}

// summaryJSON is Summary on the wire: JSON has no infinity, so an
// unbounded confidence interval (too few samples for one) is null.
type summaryJSON struct {
	N      int      `json:"n"`
	Center *float64 `json:"center"`
	Low    *float64 `json:"low"`
	High   *float64 `json:"high"`
}

func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// MarshalJSON writes non-finite bounds as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{N: s.N, Center: finite(s.Center), Low: finite(s.Low), High: finite(s.High)})
}

// UnmarshalJSON reads null bounds back as -Inf and +Inf.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{N: j.N, Center: math.NaN(), Low: math.Inf(-1), High: math.Inf(1)}
	if j.Center != nil {
		s.Center = *j.Center
	}
	if j.Low != nil {
		s.Low = *j.Low
	}
	if j.High != nil {
		s.High = *j.High
	}
	return nil
}
