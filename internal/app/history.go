package app

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/page"
)

// historyUse is what a run does with the history branch, decided once
// from the configuration and the event.
type historyUse struct {
	read, write bool
	// why says why the run does not write, for the log.
	why string
}

// planHistory applies the trust rule. Every run reads (unless history is
// off), so that a pull request sees the trends. Only a run of the
// repository's own code on its default branch writes: push, schedule or
// workflow_dispatch with GITHUB_REF the default branch named by the
// event. Pull requests (pull_request, pull_request_target), and so forks,
// and post mode's workflow_run never write: their figures come from code
// nobody has reviewed, and a record is believed by every later run.
func planHistory(cfg Config, env ghEnv, ev event) historyUse {
	u := historyUse{read: cfg.History != HistoryOff}
	switch {
	case cfg.History != HistoryAuto:
		u.why = fmt.Sprintf("input \"history\" is %q", cfg.History)
	case ev.Name != "push" && ev.Name != "schedule" && ev.Name != "workflow_dispatch":
		u.why = fmt.Sprintf("event %q is not push, schedule or workflow_dispatch", ev.Name)
	case ev.DefaultBranch == "":
		u.why = "the event does not name the repository's default branch"
	case env.Ref != "refs/heads/"+ev.DefaultBranch:
		u.why = fmt.Sprintf("ref %q is not the default branch %q", env.Ref, ev.DefaultBranch)
	case cfg.Mode == ModePost:
		u.why = "mode post posts another run's report"
	case cfg.Run.Shard.Sharded():
		u.why = "a shard of several: the merge writes the whole run"
	default:
		u.write = true
	}
	return u
}

// historyRemote is the history branch of the run's repository, reached
// with the action's token (sent only to the one git command that talks
// to the remote).
func historyRemote(cfg Config, env ghEnv) (branchStore, error) {
	owner, repo := env.Repo()
	if owner == "" || repo == "" {
		return nil, fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name", env.Repository)
	}
	server := strings.TrimRight(env.ServerURL, "/")
	if !strings.HasPrefix(server, "https://") && !strings.HasPrefix(server, "http://") {
		return nil, fmt.Errorf("GITHUB_SERVER_URL %q is not an http(s) URL", env.ServerURL)
	}
	return newStore(server+"/"+owner+"/"+repo+".git", cfg.HistoryBranch, cfg.Token), nil
}

// historyOutcome is what the report shows of the history.
type historyOutcome struct {
	// trends are the significant rows' trends, for the tables.
	trends map[compare.TrendKey]compare.Trend
	// summary is the job summary's trends section of a trusted run.
	summary string
}

// historyTimeout bounds all of a run's work on the history: a read, or a
// write with its retries (gitstore's backoff adds up to about a minute).
const historyTimeout = 5 * time.Minute

// maxHistoryWarnings bounds the warnings about bad records shown in the
// log; the rest are counted.
const maxHistoryWarnings = 5

// useHistory reads the history for r's trends and, when the trust rule
// allows, appends r's head record and the trend page to the branch. dir
// is the checkout, for the head's commit time. Nothing here fails the
// run: every problem is a warning.
func useHistory(ctx context.Context, a *githubactions.Action, cfg Config, env ghEnv, ev event, dir string, r *compare.Report, now time.Time) historyOutcome {
	use := planHistory(cfg, env, ev)
	if !use.read {
		return historyOutcome{}
	}
	a.Group("History")
	defer a.EndGroup()
	// A remote that hangs must not hold the report back for long.
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	store, err := historyRemote(cfg, env)
	if err != nil {
		a.Warningf("history not read: %v", err)
		return historyOutcome{}
	}
	if use.write && !checkedOut(env, r) {
		use.write = false
		use.why = fmt.Sprintf("the checkout %.12s is not the commit the workflow ran on, GITHUB_SHA %.12s; "+
			"an older commit's figures dated today would read as a shift", r.Head.SHA, env.SHA)
	}
	var h *history.History
	var written string // the ID of this run's record, once written
	if use.write {
		rec, err := historyRecord(ctx, cfg, env, ev, dir, r, now)
		if err == nil {
			h, err = writeHistory(ctx, a, store, cfg, rec, env.Repository, now)
		}
		if err == nil {
			written = rec.ID
		}
		switch {
		case errors.Is(err, errDenied):
			a.Warningf("history not written: the token may not push to branch %q (a read-only token or a protected branch; the job needs `permissions: contents: write`): %v", cfg.HistoryBranch, err)
		case err != nil:
			a.Warningf("history not written: %v", err)
		default:
			a.Infof("history: %s recorded on branch %s", rec.ID, cfg.HistoryBranch)
		}
	} else {
		a.Infof("history: read only (%s)", use.why)
	}
	if h == nil {
		if h, err = readHistory(ctx, a, store, now); err != nil {
			a.Warningf("history not read: %v", err)
			return historyOutcome{}
		}
	}
	a.Infof("history: %d records on branch %s", len(h.Records), cfg.HistoryBranch)
	var keys []compare.TrendKey
	for _, row := range r.Benchmarks {
		if row.Verdict == compare.Regression || row.Verdict == compare.Improvement {
			keys = append(keys, compare.TrendKey{Package: row.Package, Name: row.Name, Unit: row.Unit})
		}
	}
	out := historyOutcome{trends: h.Trends(keys, r.Base.SHA)}
	if use.write {
		out.summary = history.Summary(h, history.SummaryOptions{})
		if written != "" {
			// New since the previous run: the history without this run's
			// record is what the previous run left.
			cp, err := changeSummary(withoutRecord(h, written), h, changeOptions(cfg, env))
			if err != nil {
				a.Warningf("change points: %v", err)
			}
			out.summary = cp + "\n" + out.summary
		}
		if err := writePage(filepath.Join(cfg.OutputDir, "index.html"), h, env.Repository, now, pageMarks(h, cfg.Compare.Threshold)); err != nil {
			a.Warningf("trend page: %v", err)
		}
	}
	return out
}

// historyRecord is the record of r's head: the code of the default
// branch as it was at this run. The base is not recorded: a push's base
// is the branch's previous tip, which its own run recorded, and a
// scheduled run's base is the last release, whose figures dated today
// would read as today's code.
func historyRecord(ctx context.Context, cfg Config, env ghEnv, ev event, dir string, r *compare.Report, now time.Time) (history.Record, error) {
	m := history.Meta{
		ID:      recordID(env, cfg.CommentKey, history.SideHead, now),
		RunTime: now,
		Ref:     env.Ref,
		Event:   ev.Name,
		RunURL:  env.runURL(),
		Image:   cfg.RunnerImage,
	}
	if r.Head.SHA != "" {
		if ct, err := git(ctx, dir, "log", "-1", "--format=%cI", r.Head.SHA); err == nil {
			m.CommitTime, _ = time.Parse(time.RFC3339, ct)
		}
	}
	rec, err := history.FromReport(r, history.SideHead, m)
	if err != nil {
		return rec, err
	}
	if err := rec.Validate(now); err != nil {
		return rec, fmt.Errorf("history record: %w", err)
	}
	return rec, nil
}

// recordID is unique per run attempt, job and side: the run id and
// attempt, and a hash of the comment key (workflow/job plus matrix
// values), so that two jobs of one run keep a record each while a retried
// write of the same job stays one.
func recordID(env ghEnv, key, side string, now time.Time) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	run := strconv.FormatInt(env.RunID, 10)
	if env.RunID == 0 {
		run = "t" + strconv.FormatInt(now.UnixNano(), 36)
	}
	return fmt.Sprintf("%s-%d-%s-%08x", run, max(env.RunAttempt, 1), side, h.Sum32())
}

// writeHistory appends rec to the branch (with retention, and the trend
// page at its root) and returns the history as pushed.
func writeHistory(ctx context.Context, a *githubactions.Action, store branchStore, cfg Config, rec history.Record, repo string, now time.Time) (*history.History, error) {
	dir, err := os.MkdirTemp("", "natsbench-history-")
	if err != nil {
		return nil, fmt.Errorf("writing history: %w", err)
	}
	defer os.RemoveAll(dir)
	msg := fmt.Sprintf("natsbench: record %s (%.12s)", rec.ID, rec.SHA)
	// Update may call this again on a newer tip: Append adds the record
	// only once, and the page is drawn from whatever the tip holds.
	// The last call's history is the one pushed: it is returned rather
	// than loaded a third time.
	var h *history.History
	var warns []history.Warning
	err = store.Update(ctx, dir, msg, func(dir string) error {
		if _, err := history.Append(dir, rec, cfg.HistoryKeep, now); err != nil {
			return err
		}
		h, warns, err = history.Load(dir, now)
		if err != nil {
			return err
		}
		return writePage(filepath.Join(dir, "index.html"), h, repo, now, pageMarks(h, cfg.Compare.Threshold))
	})
	if err != nil {
		return nil, err
	}
	showHistoryWarnings(a, warns)
	return h, nil
}

// readHistory fetches the branch's tip and loads it.
func readHistory(ctx context.Context, a *githubactions.Action, store branchStore, now time.Time) (*history.History, error) {
	dir, err := os.MkdirTemp("", "natsbench-history-")
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	defer os.RemoveAll(dir)
	if _, err := store.Fetch(ctx, dir); err != nil {
		return nil, err
	}
	h, warns, err := history.Load(dir, now)
	if err != nil {
		return nil, err
	}
	showHistoryWarnings(a, warns)
	return h, nil
}

// showHistoryWarnings logs what Load skipped, bounded.
func showHistoryWarnings(a *githubactions.Action, warns []history.Warning) {
	for i, w := range warns {
		if i == maxHistoryWarnings {
			a.Warningf("history: %d more problems skipped", len(warns)-i)
			break
		}
		a.Warningf("%s", compare.Escape(w.Error()))
	}
}

// writePage writes the trend page of h, about the repository repo, to
// path, with marks on the charts.
func writePage(path string, h *history.History, repo string, now time.Time, marks map[history.Key][]page.Mark) error {
	if renderPage == nil {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the trend page: %w", err)
	}
	if err := renderPage(f, h, repo, now, marks); err != nil {
		f.Close()
		return fmt.Errorf("writing the trend page: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the trend page: %w", err)
	}
	return nil
}
