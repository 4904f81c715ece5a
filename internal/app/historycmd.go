package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/natsbench/natsbench-action/compare"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/changes"
)

// maxReports bounds the report.json files `history -dir` reads.
const maxReports = 10000

// runHistory is `history [-branch REF | -dir DIR] [-html FILE]`: the
// trend table, and with -html the trend page, from the history branch of
// the repository in the working directory (its local branch, else
// origin's) or from a directory of report.json files such as downloaded
// artifacts.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("natsbench history", flag.ContinueOnError)
	fset.SetOutput(stderr)
	branch := fset.String("branch", DefaultHistoryBranch, "read the history branch `REF` of the repository here: the local branch, else origin's")
	dir := fset.String("dir", "", "read the report.json files under `DIR` instead, such as downloaded artifacts")
	html := fset.String("html", "", "also write the trend page to `FILE`")
	plain := fset.Bool("plain", false, "print the table as plain text instead of markdown")
	rows := fset.Int("rows", 50, "list at most `N` rows, those that moved most first")
	threshold := fset.Float64("threshold", DefaultThreshold, "list the change points that shifted at least `T` percent")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "Usage: natsbench history [-branch REF | -dir DIR] [-html FILE] [-plain] [-rows N] [-threshold T]\n\nPrints how each benchmark moved over the recorded runs in its current\nenvironment (first, last, change, records), the rows that moved most first,\nthen the change points of the history, worst first, with the commands that\nconfirm them.\n\nFlags:")
		fset.PrintDefaults()
	}
	if help, err := parseFlags(fset, args, "history: "); help || err != nil {
		return err
	}
	set := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fset.NArg() > 0:
		return fmt.Errorf("history: unexpected argument %q", fset.Arg(0))
	case set["branch"] && set["dir"]:
		return errors.New("history: give -branch or -dir, not both")
	case *rows < 1:
		return fmt.Errorf("history: flag -rows must be a positive number, got %d", *rows)
	case !(*threshold >= 0) || math.IsInf(*threshold, 0):
		return fmt.Errorf("history: flag -threshold must be a percentage of at least 0, got %v", *threshold)
	case !set["dir"] && !validBranch(*branch):
		return fmt.Errorf("history: flag -branch must be a branch name, got %q", *branch)
	}
	now := time.Now()
	var h *history.History
	var warns []error
	var err error
	if *dir != "" {
		h, warns, err = historyFromReports(*dir, now)
	} else {
		h, warns, err = historyFromBranch(ctx, *branch, now)
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "natsbench: history:", w)
	}
	movers := h.Movers()
	fmt.Fprintf(stderr, "natsbench: %d records, %d rows with two or more in their current environment\n", len(h.Records), len(movers))
	if *plain {
		_, err = io.WriteString(stdout, history.PlainTable(movers))
	} else {
		_, err = io.WriteString(stdout, history.Table(movers, *rows))
	}
	if err != nil {
		return fmt.Errorf("history: printing the table: %w", err)
	}
	cs, err := localChanges(ctx, h, *threshold)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if _, err := io.WriteString(stdout, "\n"+changes.Plain(cs)); err != nil {
		return fmt.Errorf("history: printing the change points: %w", err)
	}
	if *html != "" {
		if renderPage == nil {
			return errors.New("history: -html: the trend page is not built in")
		}
		if err := writePage(*html, h, "", now, marksOf(cs)); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		fmt.Fprintf(stderr, "natsbench: trend page in %s\n", *html)
	}
	return nil
}

// historyFromBranch fetches branch from the repository in the working
// directory when it has the branch, else from its origin.
func historyFromBranch(ctx context.Context, branch string, now time.Time) (*history.History, []error, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	root, err := git(ctx, cwd, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, nil, fmt.Errorf("not in a git checkout (use -dir for a directory of reports): %w", err)
	}
	url := root
	if _, err := git(ctx, root, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err != nil {
		if url, err = git(ctx, root, "remote", "get-url", "origin"); err != nil {
			return nil, nil, fmt.Errorf("no local branch %s and no origin to fetch it from: %w", branch, err)
		}
	}
	tmp, err := os.MkdirTemp("", "natsbench-history-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	found, err := newStore(url, branch, "").Fetch(ctx, tmp)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, fmt.Errorf("%s has no branch %s", url, branch)
	}
	h, warns, err := history.Load(tmp, now)
	if err != nil {
		return nil, nil, err
	}
	var out []error
	for _, w := range warns {
		out = append(out, w)
	}
	return h, out, nil
}

// historyFromReports makes a history of the head side of every
// report.json under dir, ordered by the time each run measured (the
// file's modification time for reports from before report.json recorded
// it). Reports that do not read are skipped with a warning.
func historyFromReports(dir string, now time.Time) (*history.History, []error, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && d.Name() == "report.json" {
			if len(paths) == maxReports {
				return fmt.Errorf("more than %d report.json files under %s", maxReports, dir)
			}
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading reports: %w", err)
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no report.json under %s", dir)
	}
	h := &history.History{}
	var warns []error
	for i, path := range paths {
		rec, err := recordOfReport(path, "report-"+strconv.Itoa(i+1))
		if err != nil {
			warns = append(warns, fmt.Errorf("%s skipped: %w", path, err))
			continue
		}
		h.Records = append(h.Records, rec)
	}
	sort.SliceStable(h.Records, func(i, j int) bool { return h.Records[i].RunTime.Before(h.Records[j].RunTime) })
	return h, warns, nil
}

// recordOfReport reads one report.json into the record of its head.
func recordOfReport(path, id string) (history.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return history.Record{}, err
	}
	defer f.Close()
	rep, err := compare.ReadJSON(f)
	if err != nil {
		return history.Record{}, err
	}
	when := rep.Created
	if when.IsZero() {
		if fi, err := f.Stat(); err == nil {
			when = fi.ModTime()
		}
	}
	rec, err := history.FromReport(rep, history.SideHead, history.Meta{ID: id, RunTime: when, RunURL: rep.RunURL})
	if err != nil {
		return rec, err
	}
	if len(rec.Rows) == 0 {
		return rec, errors.New("no head figures")
	}
	return rec, nil
}
