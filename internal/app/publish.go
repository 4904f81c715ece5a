package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/outcome"
)

// publisher delivers one finished report to each of its targets, and
// renders it once per target at the size that target holds: report.json
// and report.md in the output directory and, locally, stdout (unbounded);
// the job summary (comment.MaxSummary); the sticky comment (its key's
// comment.BodyLimit); and the step outputs. Fitting is compare.Markdown's
// alone: nothing downstream cuts.
type publisher struct {
	// dir receives report.json and report.md.
	dir string
	// jsonPath is the report.json that exists already (post mode posts
	// it), so that only report.md is written.
	jsonPath string
	// runURL links the full run when it is not the report's own (post
	// mode); empty means the report's.
	runURL string
	// stdout, when set, gets the full report (the local command).
	stdout io.Writer
	// action, when set, gets the job summary and the step outputs.
	action *githubactions.Action
	// display names a path in the outputs (relative to the workspace).
	display func(string) string
	// comment, when set, is where the sticky comment goes.
	comment *commentTarget
	// history is what the report shows of the history branch: trends
	// beside the significant rows, and a section for the job summary.
	history historyOutcome
}

// commentTarget is a pull request's sticky comment for one key.
type commentTarget struct {
	poster comment.Poster
	target comment.Target
	key    string
}

// publish writes r to every target. Failing targets are warnings: the
// report is informational, and one target's failure must not cost the
// others. Outputs are set last, with the comment's URL.
func (p *publisher) publish(ctx context.Context, r *compare.Report) (out comment.Outputs, warnings []error) {
	render := func(maxBytes int) string {
		return compare.Markdown(r, compare.MarkdownOptions{RunURL: p.runURL, MaxBytes: maxBytes, Trends: p.history.trends})
	}
	full := render(0)
	jsonPath, mdPath, err := p.writeFiles(r, full)
	if err != nil {
		warnings = append(warnings, err)
	}
	if p.stdout != nil {
		if _, err := io.WriteString(p.stdout, full); err != nil {
			warnings = append(warnings, fmt.Errorf("printing the report: %w", err))
		}
	}
	if p.action != nil {
		// The trends section is bounded by its options; the report is
		// fitted to what it leaves.
		extra := p.history.summary
		if len(extra) > comment.MaxSummary/4 {
			extra = ""
		}
		if extra != "" {
			extra = "\n" + extra
		}
		if err := comment.WriteSummary(p.action, render(comment.MaxSummary-1-len(extra))+extra); err != nil {
			warnings = append(warnings, err)
		}
	}
	if c := p.comment; c != nil {
		url, err := c.poster.Upsert(ctx, c.target, c.key, render(comment.BodyLimit(c.key)))
		switch {
		case errors.Is(err, comment.ErrPermission):
			warnings = append(warnings, fmt.Errorf("no comment: %w. %s", err, comment.ForkAdvice))
		case err != nil:
			warnings = append(warnings, fmt.Errorf("no comment: %w", err))
		default:
			out.CommentURL = url
		}
	}
	display := p.display
	if display == nil {
		display = func(s string) string { return s }
	}
	out.ReportJSON, out.ReportMarkdown = display(jsonPath), display(mdPath)
	out.Regressions = r.Summary[compare.Regression]
	out.Improvements = r.Summary[compare.Improvement]
	if p.action != nil {
		if err := comment.SetOutputs(p.action, out); err != nil {
			warnings = append(warnings, err)
		}
	}
	return out, warnings
}

// writeFiles writes report.json (unless it exists already) and report.md
// into p.dir and returns their paths.
func (p *publisher) writeFiles(r *compare.Report, md string) (jsonPath, mdPath string, err error) {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return p.jsonPath, "", fmt.Errorf("writing the report: %w", err)
	}
	jsonPath = p.jsonPath
	if jsonPath == "" {
		jsonPath = filepath.Join(p.dir, "report.json")
		if err := writeJSONFile(jsonPath, r); err != nil {
			return "", "", err
		}
	}
	mdPath = filepath.Join(p.dir, "report.md")
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		return jsonPath, "", fmt.Errorf("writing the report: %w", err)
	}
	return jsonPath, mdPath, nil
}

// writeJSONFile writes r as report.json at path.
func writeJSONFile(path string, r *compare.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if err := compare.WriteJSON(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// gate is fail-on-regression: the only failure that a finished report
// causes. A head that cannot be measured is as bad as a slower one, or a
// panic would slip through as "unchanged"; so is a lost shard, whose
// benchmarks were not measured at all.
func gate(cfg Config, r *compare.Report) error {
	if !cfg.FailOnRegression {
		return nil
	}
	var why []string
	count := func(n int, one, many string) {
		if n == 1 {
			why = append(why, "1 "+one)
		} else if n > 1 {
			why = append(why, fmt.Sprintf("%d %s", n, many))
		}
	}
	count(r.Summary[compare.Regression], "regression", "regressions")
	failed, builds := 0, 0
	for _, f := range r.Failures {
		if f.Side == outcome.Head {
			failed++
		}
	}
	for _, b := range r.BuildErrors {
		if b.Side == outcome.Head {
			builds++
		}
	}
	removed := map[[2]string]bool{}
	for _, row := range r.Benchmarks {
		if row.Verdict == compare.Removed {
			removed[[2]string{row.Package, row.Name}] = true
		}
	}
	count(failed, "benchmark failed on head", "benchmarks failed on head")
	count(builds, "package does not build on head", "packages do not build on head")
	count(len(removed), "benchmark removed", "benchmarks removed")
	lost := 0
	for _, sh := range r.Shards {
		if sh.Lost() {
			lost++
		}
	}
	count(lost, "shard lost", "shards lost")
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrGate, strings.Join(why, ", "))
}
