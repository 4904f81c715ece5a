package app

import (
	"fmt"
	"runtime/debug"

	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/changes"
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
