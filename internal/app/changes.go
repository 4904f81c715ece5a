package app

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/changes"
	"github.com/natsbench/natsbench-action/history/page"
)

// changeOptions are a run's change-point options: its threshold, and what
// the links and the confirmation commands name (the server, the
// repository, the workflow, the module's directory, this binary's
// version).
func changeOptions(cfg Config, env ghEnv) changes.Options {
	return changes.Options{
		ThresholdPct:     cfg.Compare.Threshold,
		ServerURL:        env.ServerURL,
		Repository:       env.Repository,
		Version:          moduleVersion(),
		Workflow:         env.Workflow,
		WorkingDirectory: cfg.WorkingDirectory,
	}
}

// moduleVersion is the version `go run module@version` built this binary
// at, or "" (latest) for a build from a checkout, such as the action's
// container.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// changeSummary is the job summary's section of a trusted run: the change
// points of cur that are new since prev, the history before this run's
// record.
func changeSummary(prev, cur *history.History, opt changes.Options) (string, error) {
	fresh, err := changes.New(prev, cur, opt)
	if err != nil {
		return "", fmt.Errorf("finding change points: %w", err)
	}
	so := changes.SummaryOptions{Series: len(cur.Series(history.SideHead)), Records: len(cur.Records)}
	if len(fresh) == 0 {
		all, err := changes.Find(cur, opt)
		if err != nil {
			return "", fmt.Errorf("finding change points: %w", err)
		}
		so.Known = len(all)
	}
	return changes.Summary(fresh, so), nil
}

// withoutRecord is h without the record of the given ID: the history as
// it was before this run added it.
func withoutRecord(h *history.History, id string) *history.History {
	out := &history.History{Records: make([]history.Record, 0, len(h.Records))}
	for _, r := range h.Records {
		if r.ID != id {
			out.Records = append(out.Records, r)
		}
	}
	return out
}

// checkedOut reports whether the report's head is the commit the workflow
// ran on (GITHUB_SHA), or says nothing against it (either unknown). A
// dispatch with the head input measures an older commit to confirm a
// change point: its figures dated today must not enter the history.
func checkedOut(env ghEnv, r *compare.Report) bool {
	a, b := env.SHA, r.Head.SHA
	if len(a) < 7 || len(b) < 7 {
		return true
	}
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// pageMarks are the change points of h as marks on the trend page; none
// when they cannot be found (the threshold was validated with the
// configuration, so that does not happen).
func pageMarks(h *history.History, threshold float64) map[history.Key][]page.Mark {
	cs, err := changes.Find(h, changes.Options{ThresholdPct: threshold})
	if err != nil {
		return nil
	}
	return marksOf(cs)
}

// marksOf draws each change point at its first record after the shift.
func marksOf(cs []changes.Change) map[history.Key][]page.Mark {
	out := map[history.Key][]page.Mark{}
	for _, c := range cs {
		out[c.Key] = append(out[c.Key], page.Mark{Index: c.AfterIndex, Label: c.Label()})
	}
	return out
}

// localChanges finds the change points of h for `natsbench history`,
// with compare links when the checkout's origin is a GitHub-like https
// or ssh remote.
func localChanges(ctx context.Context, h *history.History, threshold float64) ([]changes.Change, error) {
	opt := changes.Options{ThresholdPct: threshold, Version: moduleVersion()}
	if cwd, err := os.Getwd(); err == nil {
		if url, err := git(ctx, cwd, "remote", "get-url", "origin"); err == nil {
			opt.ServerURL, opt.Repository = splitRemote(url)
		}
	}
	cs, err := changes.Find(h, opt)
	if err != nil {
		return nil, fmt.Errorf("finding change points: %w", err)
	}
	return cs, nil
}

// remoteRE matches https://host/owner/repo(.git) and git@host:owner/repo(.git).
var remoteRE = regexp.MustCompile(`^(?:https://([A-Za-z0-9.-]+(?::[0-9]+)?)/|git@([A-Za-z0-9.-]+):)([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$`)

// splitRemote returns the server URL and the owner/name of a remote URL,
// or "" "" when it is neither form (a path, a URL with credentials).
func splitRemote(url string) (server, repo string) {
	m := remoteRE.FindStringSubmatch(url)
	if m == nil {
		return "", ""
	}
	host := m[1]
	if host == "" {
		host = m[2]
	}
	return "https://" + host, m[3]
}
