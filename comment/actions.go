package comment

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sethvargo/go-githubactions"
)

// ErrNoEnvFile reports that the runner gave no GITHUB_STEP_SUMMARY or
// GITHUB_OUTPUT file, as when the binary runs outside GitHub Actions; the
// caller may print the markdown instead.
var ErrNoEnvFile = errors.New("not running in GitHub Actions: no environment file")

// Output names, as declared in action.yml.
const (
	OutputReportJSON     = "report-json"
	OutputReportMarkdown = "report-markdown"
	OutputRegressions    = "regressions"
	OutputImprovements   = "improvements"
	OutputCommentURL     = "comment-url"
)

// Outputs are the step outputs declared in action.yml.
type Outputs struct {
	ReportJSON, ReportMarkdown string // paths of the written report files
	Regressions, Improvements  int
	CommentURL                 string // empty when no comment was posted
}

// WriteSummary appends markdown to the job summary (GITHUB_STEP_SUMMARY).
// The caller fits it to MaxSummary-1 bytes (the runner drops a larger
// summary); a longer one is an error and is not written.
func WriteSummary(a *githubactions.Action, markdown string) error {
	if a.Getenv("GITHUB_STEP_SUMMARY") == "" {
		return fmt.Errorf("writing job summary: GITHUB_STEP_SUMMARY is unset: %w", ErrNoEnvFile)
	}
	if len(markdown) >= MaxSummary {
		return fmt.Errorf("writing job summary: %d bytes, over GitHub's %d", len(markdown), MaxSummary-1)
	}
	if err := fileCommand(func() { a.AddStepSummary(markdown) }); err != nil {
		return fmt.Errorf("writing job summary: %w", err)
	}
	return nil
}

// SetOutputs writes o to GITHUB_OUTPUT, every output each time so later
// steps never read a stale or missing value.
func SetOutputs(a *githubactions.Action, o Outputs) error {
	if a.Getenv("GITHUB_OUTPUT") == "" {
		return fmt.Errorf("setting outputs: GITHUB_OUTPUT is unset: %w", ErrNoEnvFile)
	}
	kv := [][2]string{
		{OutputReportJSON, o.ReportJSON},
		{OutputReportMarkdown, o.ReportMarkdown},
		{OutputRegressions, strconv.Itoa(o.Regressions)},
		{OutputImprovements, strconv.Itoa(o.Improvements)},
		{OutputCommentURL, o.CommentURL},
	}
	for _, p := range kv {
		if err := fileCommand(func() { a.SetOutput(p[0], p[1]) }); err != nil {
			return fmt.Errorf("setting output %s: %w", p[0], err)
		}
	}
	return nil
}

// fileCommand runs f, turning the panic go-githubactions raises when it
// cannot write its environment file into an error.
func fileCommand(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}
