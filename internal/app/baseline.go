package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/natsbench/natsbench-action/comment"
)

// event is what the action needs from the payload of the event that
// started the workflow.
type event struct {
	Name string
	// Baseline is the commit the event says to compare against; empty
	// when the event names none.
	Baseline string
	// PR is the pull request's number, 0 when the event is not about one.
	PR int
	// RunURL is, for workflow_run, the page of the run that produced the
	// report being posted.
	RunURL string
	// Run is, for workflow_run, the head that the producing run measured,
	// as GitHub's event says: post mode asks GitHub for the pull request
	// that has it.
	Run *comment.RunHead
	// DefaultBranch is the repository's default branch as the payload
	// says (push, schedule, workflow_dispatch): only runs on it write
	// the history.
	DefaultBranch string
}

// isPR reports whether the event is about a pull request, so that a
// comment has somewhere to go.
func (e event) isPR() bool {
	return e.Name == "pull_request" || e.Name == "pull_request_target"
}

// zeroSHA is the `before` of a push that created its branch.
const zeroSHA = "0000000000000000000000000000000000000000"

// scheduleEvent is the payload of a scheduled run.
type scheduleEvent struct {
	Schedule string             `json:"schedule"`
	Repo     *github.Repository `json:"repository"`
}

// readEvent decodes the event payload at path into go-github's type for
// the event name. Events whose payload the action does not need are not
// read at all.
func readEvent(name, path string) (event, error) {
	ev := event{Name: name}
	var payload any
	switch name {
	case "pull_request", "pull_request_target":
		payload = new(github.PullRequestEvent)
	case "push":
		payload = new(github.PushEvent)
	case "workflow_run":
		payload = new(github.WorkflowRunEvent)
	case "workflow_dispatch":
		payload = new(github.WorkflowDispatchEvent)
	case "schedule":
		// go-github has no type for it: the payload is the schedule and
		// the repository.
		payload = new(scheduleEvent)
	default:
		return ev, nil
	}
	if path == "" {
		return ev, fmt.Errorf("reading the %s event: GITHUB_EVENT_PATH is not set", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ev, fmt.Errorf("reading the %s event: %w", name, err)
	}
	if err := json.Unmarshal(data, payload); err != nil {
		return ev, fmt.Errorf("decoding the %s event in %s: %w", name, path, err)
	}
	switch p := payload.(type) {
	case *github.PullRequestEvent:
		ev.PR = p.GetNumber()
		if ev.PR == 0 {
			ev.PR = p.GetPullRequest().GetNumber()
		}
		ev.Baseline = p.GetPullRequest().GetBase().GetSHA()
	case *github.PushEvent:
		if b := p.GetBefore(); b != zeroSHA {
			ev.Baseline = b
		}
		ev.DefaultBranch = p.GetRepo().GetDefaultBranch()
	case *github.WorkflowDispatchEvent:
		ev.DefaultBranch = p.GetRepo().GetDefaultBranch()
	case *scheduleEvent:
		ev.DefaultBranch = p.Repo.GetDefaultBranch()
	case *github.WorkflowRunEvent:
		run := p.GetWorkflowRun()
		ev.RunURL = run.GetHTMLURL()
		// GitHub leaves pull_requests empty for runs of pull requests
		// from forks: the pull request is then found by the head.
		ev.Run = &comment.RunHead{SHA: run.GetHeadSHA(), Repo: run.GetHeadRepository().GetFullName(), Branch: run.GetHeadBranch()}
		for _, pr := range run.PullRequests {
			if pr.GetNumber() != 0 {
				ev.Run.PRs = append(ev.Run.PRs, pr.GetNumber())
			}
		}
	}
	return ev, nil
}

// git runs git in dir and returns its trimmed standard output. The
// workspace of a container action belongs to another user, so git's
// "dubious ownership" check is switched off for this command only; and
// git must never wait for a password nobody will type.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "safe.directory=*"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// latestRelease returns the most recent tag that is not the head commit
// itself (comparing a release with itself tells nothing), or "" when
// the repository has none.
func latestRelease(ctx context.Context, dir string) string {
	head, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	// The nearest tag in the history of HEAD's first parent: the release
	// before the head, even when the head is itself tagged.
	if tag, err := git(ctx, dir, "describe", "--tags", "--abbrev=0", "HEAD^"); err == nil && tag != "" {
		return tag
	}
	// A shallow clone has no history to describe; its tags may still
	// have been fetched.
	tags, err := git(ctx, dir, "tag", "--sort=-creatordate")
	if err != nil {
		return ""
	}
	for _, tag := range strings.Fields(tags) {
		sha, err := git(ctx, dir, "rev-parse", tag+"^{commit}")
		if err == nil && sha != head {
			return tag
		}
	}
	return ""
}

// localBaseline picks what `go run .` compares against: the merge-base
// with the remote's default branch; else (on that branch itself) the
// committed HEAD when the working tree has changes, or HEAD~1 when it
// has none. It returns "" for a repository with a single commit.
func localBaseline(ctx context.Context, dir string) (string, error) {
	head, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("finding the baseline (use -baseline to set it): %w", err)
	}
	if mb, err := git(ctx, dir, "merge-base", "HEAD", "origin/HEAD"); err == nil && mb != head {
		return mb, nil
	}
	// Untracked files (such as the results directory) are not a change
	// to benchmark.
	if st, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
		return head, nil
	}
	if parent, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}"); err == nil {
		return parent, nil
	}
	return "", nil
}
