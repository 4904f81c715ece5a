// Package compare turns two files of Go benchmark results (base and head)
// into a Report with benchstat's statistics and a verdict per
// (package, benchmark, unit), and renders that report as report.json and
// as a markdown comment for a reviewer in a hurry.
//
// The statistics are exactly benchstat's: results are parsed with
// golang.org/x/perf/benchfmt, grouped with benchproc, normalized with
// benchunit, summarized by their median and its confidence interval and
// compared with the Mann-Whitney U test from benchmath. On top of that,
// Compute controls the false discovery rate across rows
// (Benjamini-Hochberg), ignores changes smaller than a threshold, compares
// deterministic units exactly, and turns "could not tell" situations (too
// few samples, too much noise) into warnings rather than verdicts.
//
// Computing (Compute) is kept apart from rendering (Markdown,
// WriteJSON), so that the same Report feeds the PR comment, the job
// summary and the JSON artifact.
package compare
