package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/compare"
)

// ghEnv is the run's context as go-githubactions reads it from the
// GITHUB_* variables.
type ghEnv struct {
	*githubactions.GitHubContext
}

// readContext reads the GITHUB_* variables through go-githubactions.
// The event payload is left to readEvent, which decodes it once into
// go-github's types: Context would read it a second time, whole, into a
// map, and fail entirely on a payload it cannot decode.
func readContext(getenv func(string) string) (ghEnv, error) {
	noEvent := func(k string) string {
		if k == "GITHUB_EVENT_PATH" {
			return ""
		}
		return getenv(k)
	}
	c, err := githubactions.New(githubactions.WithGetenv(noEvent)).Context()
	if c == nil {
		c = &githubactions.GitHubContext{}
	}
	c.EventPath = getenv("GITHUB_EVENT_PATH")
	if err != nil {
		return ghEnv{c}, fmt.Errorf("reading the GITHUB_* variables: %w", err)
	}
	return ghEnv{c}, nil
}

// runURL is the page of this workflow run, linked from the comment.
func (e ghEnv) runURL() string {
	if e.Repository == "" || e.RunID == 0 {
		return ""
	}
	return strings.TrimRight(e.ServerURL, "/") + "/" + e.Repository + "/actions/runs/" + strconv.FormatInt(e.RunID, 10)
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
	if e.Workspace == "" || p == "" {
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
	env, err := readContext(getenv)
	if err != nil {
		a.Warningf("%v", err)
	}
	ev, err := readEvent(env.EventName, env.EventPath)
	if err != nil {
		// The report is still worth making without the event's baseline.
		a.Warningf("%v", err)
	}
	cfg.OutputDir = env.path(cfg.OutputDir)
	cfg.OutputDir = shardOutputDir(cfg)
	cfg.RunnerImage = runnerImage(getenv)
	if cfg.CommentKey == "" {
		key, err := comment.DefaultKey(env.Workflow, env.Job, cfg.Matrix)
		if err != nil {
			a.Warningf("%v", err)
		}
		cfg.CommentKey = key
	}
	switch cfg.Mode {
	case ModePost:
		return postReport(ctx, a, cfg, env, ev)
	case ModeMerge:
		return mergeAction(ctx, a, cfg, env, ev)
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

	// The benchmarks' user builds in these caches, so that a workflow's
	// actions/cache step keeps them warm.
	cfg.Run.GoCache, cfg.Run.GoModCache = logGoCachePaths(ctx, a, dir, benchEnv(os.Environ(), cfg.Token))
	a.Group("Benchmarks")
	l := links{RunURL: env.runURL()}
	if ev.isPR() {
		// The report names its pull request, for whoever reads the artifact.
		l.PR = ev.PR
	}
	r, err := benchmark(ctx, cfg, dir, baseline, stdout, l)
	now := time.Now()
	a.EndGroup()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		if serr := comment.WriteSummary(a, "### natsbench\n\nNo benchmark report: "+compare.Escape(err.Error())+"\n"); serr != nil {
			a.Warningf("%v", serr)
		}
		if oerr := comment.SetOutputs(a, comment.Outputs{}); oerr != nil {
			a.Warningf("%v", oerr)
		}
		// Broken infrastructure is reported, and blocks a merge only
		// under fail-on-regression: a head that cannot be measured must
		// not pass the gate.
		if cfg.FailOnRegression {
			err = fmt.Errorf("%w: no benchmark report: %w", ErrGate, err)
			a.Errorf("%v", err)
			return err
		}
		a.Warningf("no benchmark report: %v", err)
		return nil
	}
	p := newActionPublisher(a, cfg, env)
	p.history = useHistory(ctx, a, cfg, env, ev, dir, r, now)
	if cfg.Comment && ev.isPR() {
		p.comment = commentOn(ctx, a, cfg, env, ev)
	}
	return finish(ctx, a, cfg, p, r)
}

// runnerImage is the GitHub-hosted runner's image, "ubuntu24/20261124.1",
// or "" on other runners.
func runnerImage(getenv func(string) string) string {
	img, v := strings.TrimSpace(getenv("ImageOS")), strings.TrimSpace(getenv("ImageVersion"))
	if img == "" {
		return ""
	}
	if v != "" {
		img += "/" + v
	}
	if len(img) > 100 {
		return ""
	}
	return img
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
	// Nothing in the artifact is believed but its figures: the pull
	// request and the run's link come from GitHub's event and API.
	r.RunURL, r.Extra = "", nil
	p := newActionPublisher(a, cfg, env)
	p.jsonPath, p.runURL = path, ev.RunURL
	p.history = useHistory(ctx, a, cfg, env, ev, env.path(cfg.WorkingDirectory), r, time.Now())
	if cfg.Comment {
		p.comment = commentOn(ctx, a, cfg, env, ev)
	}
	return finish(ctx, a, cfg, p, r)
}

// newActionPublisher publishes to the output directory, the job summary
// and the step outputs; the caller adds the comment.
func newActionPublisher(a *githubactions.Action, cfg Config, env ghEnv) *publisher {
	return &publisher{dir: cfg.OutputDir, action: a, display: env.display}
}

// commentOn is the sticky comment on the event's pull request, or nil
// with a warning when there is none to write: the comment is
// informational and never fails the step. For workflow_run (post mode)
// the pull request is the one GitHub says has the run's head.
func commentOn(ctx context.Context, a *githubactions.Action, cfg Config, env ghEnv, ev event) *commentTarget {
	owner, repo := env.Repo()
	switch {
	case ev.PR == 0 && ev.Run == nil:
		a.Warningf("no pull request to comment on: the event %q names none", ev.Name)
		return nil
	case cfg.Token == "":
		a.Warningf("no comment: input \"github-token\" is empty")
		return nil
	case owner == "" || repo == "":
		a.Warningf("no comment: GITHUB_REPOSITORY %q is not owner/name", env.Repository)
		return nil
	}
	gh, err := comment.NewGitHub(env.APIURL, cfg.Token, nil)
	if err != nil {
		a.Warningf("no comment: %v", err)
		return nil
	}
	pr := ev.PR
	if ev.Run != nil {
		if pr, err = gh.PullRequestFor(ctx, owner, repo, *ev.Run); err != nil {
			a.Warningf("no comment: %v", err)
			return nil
		}
		a.Infof("the run measured pull request #%d (head %s from %s)", pr, ev.Run.SHA, ev.Run.Repo)
	}
	return &commentTarget{poster: gh, target: comment.Target{Owner: owner, Repo: repo, Number: pr}, key: cfg.CommentKey}
}

// finish publishes r and applies the gate.
func finish(ctx context.Context, a *githubactions.Action, cfg Config, p *publisher, r *compare.Report) error {
	if p.comment != nil {
		a.Group("Comment")
	}
	out, warnings := p.publish(ctx, r)
	if p.comment != nil {
		if out.CommentURL != "" {
			a.Infof("comment: %s", out.CommentURL)
		}
		a.EndGroup()
	}
	for _, w := range warnings {
		a.Warningf("%v", w)
	}
	a.Infof("%d regressions, %d improvements; report in %s", out.Regressions, out.Improvements, out.ReportMarkdown)
	if err := gate(cfg, r); err != nil {
		a.Errorf("%v", err)
		return err
	}
	return ctx.Err()
}
