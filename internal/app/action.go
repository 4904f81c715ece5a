package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/compare"
)

// commentMargin keeps the comment body clear of GitHub's limit after the
// comment package adds its key marker.
const commentMargin = 1024

// ghEnv is what the action reads from the GITHUB_* variables, all in
// one place.
type ghEnv struct {
	Workspace  string // the checkout; relative paths are relative to it
	EventName  string
	EventPath  string
	Repository string // owner/name
	APIURL     string
	ServerURL  string
	RunID      string
	Workflow   string
	Job        string
}

func readGHEnv(getenv func(string) string) ghEnv {
	return ghEnv{
		Workspace:  getenv("GITHUB_WORKSPACE"),
		EventName:  getenv("GITHUB_EVENT_NAME"),
		EventPath:  getenv("GITHUB_EVENT_PATH"),
		Repository: getenv("GITHUB_REPOSITORY"),
		APIURL:     getenv("GITHUB_API_URL"),
		ServerURL:  getenv("GITHUB_SERVER_URL"),
		RunID:      getenv("GITHUB_RUN_ID"),
		Workflow:   getenv("GITHUB_WORKFLOW"),
		Job:        getenv("GITHUB_JOB"),
	}
}

// runURL is the page of this workflow run, linked from the comment.
func (e ghEnv) runURL() string {
	if e.Repository == "" || e.RunID == "" {
		return ""
	}
	server := e.ServerURL
	if server == "" {
		server = "https://github.com"
	}
	return strings.TrimRight(server, "/") + "/" + e.Repository + "/actions/runs/" + e.RunID
}

// path resolves p against the workspace, where actions/checkout and
// actions/upload-artifact resolve it too.
func (e ghEnv) path(p string) string {
	if filepath.IsAbs(p) || e.Workspace == "" {
		return p
	}
	return filepath.Join(e.Workspace, p)
}

// display is p relative to the workspace when inside it: the container
// sees the workspace at another path than later steps on the host do, so
// only a relative path means the same file to both.
func (e ghEnv) display(p string) string {
	if e.Workspace == "" {
		return p
	}
	if rel, err := filepath.Rel(e.Workspace, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	return p
}

// runAction is the GitHub Action.
func runAction(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	a := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout))
	// Mask the token before anything else can print.
	if t := a.GetInput("github-token"); t != "" {
		a.AddMask(t)
	}
	cfg, err := parseConfig(fromInput, a.GetInput)
	if err != nil {
		a.Errorf("invalid configuration: %v", err)
		return fmt.Errorf("invalid configuration: %w", err)
	}
	env := readGHEnv(getenv)
	ev, err := readEvent(env.EventName, env.EventPath)
	if err != nil {
		// The report is still worth making without the event's baseline.
		a.Warningf("%v", err)
	}
	cfg.OutputDir = env.path(cfg.OutputDir)
	if cfg.CommentKey == "" {
		cfg.CommentKey = env.Workflow + "/" + env.Job
	}
	if cfg.Mode == ModePost {
		return postReport(ctx, a, cfg, env, ev)
	}

	a.Group("Baseline")
	dir := env.path(cfg.WorkingDirectory)
	baseline := actionBaseline(ctx, cfg, ev, dir)
	if baseline == "" {
		a.Infof("no baseline for event %q: reporting absolute figures", ev.Name)
	} else {
		a.Infof("comparing against %s (event %s)", baseline, ev.Name)
	}
	a.EndGroup()

	a.Group("Benchmarks")
	r, err := benchmark(ctx, cfg, dir, baseline, stdout)
	a.EndGroup()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// Broken infrastructure is reported, not a reason to block a
		// merge: only the configuration and fail-on-regression fail.
		a.Warningf("no benchmark report: %v", err)
		if serr := comment.WriteSummary(a, "### natsbench\n\nNo benchmark report: "+compare.Escape(err.Error())+"\n"); serr != nil {
			a.Warningf("%v", serr)
		}
		if oerr := comment.SetOutputs(a, comment.Outputs{}); oerr != nil {
			a.Warningf("%v", oerr)
		}
		return nil
	}
	if ev.isPR() {
		// The fork pattern's second workflow cannot always learn the pull
		// request from its event: the report carries it.
		if r.Extra == nil {
			r.Extra = map[string]string{}
		}
		r.Extra["pr_number"] = strconv.Itoa(ev.PR)
	}
	r.RunURL = env.runURL()
	return publish(ctx, a, cfg, env, ev, r, "")
}

// actionBaseline picks the commit to compare against: the baseline input
// if set, else the event's (a pull request's base, a push's before),
// else for scheduled and manual runs the latest release tag. "" means
// no comparison.
func actionBaseline(ctx context.Context, cfg Config, ev event, dir string) string {
	if cfg.Baseline != "" {
		return cfg.Baseline
	}
	if ev.Baseline != "" {
		return ev.Baseline
	}
	switch ev.Name {
	case "pull_request", "pull_request_target", "push":
		return ""
	}
	return latestRelease(ctx, dir)
}

// postReport is ModePost: publish a report.json made by an earlier run.
// The markdown is rendered again from the JSON, never taken from the
// artifact, so a tampered artifact cannot put raw HTML in the comment.
func postReport(ctx context.Context, a *githubactions.Action, cfg Config, env ghEnv, ev event) error {
	path := env.path(cfg.Report)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	f, err := os.Open(path)
	if err != nil {
		a.Errorf("input \"report\": %v", err)
		return fmt.Errorf("input \"report\": %w", err)
	}
	r, err := compare.ReadJSON(f)
	f.Close()
	if err != nil {
		a.Errorf("input \"report\": reading %s: %v", cfg.Report, err)
		return fmt.Errorf("input \"report\": reading %s: %w", cfg.Report, err)
	}
	if ev.PR == 0 && r.Extra != nil {
		if n, err := strconv.Atoi(r.Extra["pr_number"]); err == nil && n > 0 {
			ev.PR = n
		}
	}
	if ev.RunURL != "" {
		r.RunURL = ev.RunURL
	}
	return publish(ctx, a, cfg, env, ev, r, path)
}

// publish writes the report files, the job summary, the comment and the
// outputs. jsonPath is set when the report.json exists already.
func publish(ctx context.Context, a *githubactions.Action, cfg Config, env ghEnv, ev event, r *compare.Report, jsonPath string) error {
	md := compare.Markdown(r, compare.MarkdownOptions{RunURL: r.RunURL})
	var mdPath string
	var err error
	if jsonPath == "" {
		jsonPath, mdPath, err = writeReport(cfg.OutputDir, r, md)
	} else {
		mdPath = filepath.Join(cfg.OutputDir, "report.md")
		if err = os.MkdirAll(cfg.OutputDir, 0o755); err == nil {
			err = os.WriteFile(mdPath, []byte(md), 0o644)
		}
	}
	if err != nil {
		a.Warningf("%v", err)
	}

	if err := comment.WriteSummary(a, md); err != nil {
		a.Warningf("%v", err)
	}

	out := comment.Outputs{
		ReportJSON:     env.display(jsonPath),
		ReportMarkdown: env.display(mdPath),
		Regressions:    r.Summary[compare.Regression],
		Improvements:   r.Summary[compare.Improvement],
	}
	wantComment := cfg.Comment && (ev.isPR() || cfg.Mode == ModePost)
	switch {
	case !wantComment:
	case ev.PR == 0:
		a.Warningf("no pull request to comment on: the event %q names none", ev.Name)
	case cfg.Token == "":
		a.Warningf("no comment: input \"github-token\" is empty")
	default:
		a.Group("Comment")
		out.CommentURL = postComment(ctx, a, cfg, env, ev, r)
		a.EndGroup()
	}
	if err := comment.SetOutputs(a, out); err != nil {
		a.Warningf("%v", err)
	}
	a.Infof("%d regressions, %d improvements; report in %s", out.Regressions, out.Improvements, out.ReportMarkdown)
	if cfg.FailOnRegression && out.Regressions > 0 {
		a.Errorf("%d benchmark regressions and fail-on-regression is true", out.Regressions)
		return fmt.Errorf("%w: %d", ErrRegressions, out.Regressions)
	}
	return ctx.Err()
}

// postComment upserts the sticky comment and returns its URL, or "" with
// a warning: the comment is informational and never fails the step.
func postComment(ctx context.Context, a *githubactions.Action, cfg Config, env ghEnv, ev event, r *compare.Report) string {
	owner, repo, ok := strings.Cut(env.Repository, "/")
	if !ok || owner == "" || repo == "" {
		a.Warningf("no comment: GITHUB_REPOSITORY %q is not owner/name", env.Repository)
		return ""
	}
	gh, err := comment.NewGitHub(env.APIURL, cfg.Token, nil)
	if err != nil {
		a.Warningf("no comment: %v", err)
		return ""
	}
	body := compare.Markdown(r, compare.MarkdownOptions{MaxBytes: comment.MaxBody - commentMargin, RunURL: r.RunURL})
	url, err := gh.Upsert(ctx, comment.Target{Owner: owner, Repo: repo, Number: ev.PR}, cfg.CommentKey, body)
	switch {
	case errors.Is(err, comment.ErrPermission):
		a.Warningf("no comment: %v. %s", err, comment.ForkAdvice)
		return ""
	case err != nil:
		a.Warningf("no comment: %v", err)
		return ""
	}
	a.Infof("comment: %s", url)
	return url
}
