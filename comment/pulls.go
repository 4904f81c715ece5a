package comment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// RunHead is what GitHub's workflow_run event says about the head that a
// run measured. Post mode learns the pull request from it, never from the
// artifact that the run (a fork's code) produced.
type RunHead struct {
	SHA    string // workflow_run.head_sha
	Repo   string // workflow_run.head_repository.full_name, owner/name
	Branch string // workflow_run.head_branch
	// PRs are the numbers in workflow_run.pull_requests; GitHub leaves
	// the list empty for a pull request from a fork.
	PRs []int
}

// ErrNoPullRequest reports that GitHub knows no pull request whose head is
// the run's head (the branch moved on since, or the run was not for one).
var ErrNoPullRequest = errors.New("no pull request has the run's head")

// maxCandidates bounds how many pull requests are read back.
const maxCandidates = 20

// PullRequestFor returns the number of the pull request of owner/repo whose
// head is h: the same commit from the same repository. Candidates are the
// event's pull requests or, for a fork (none listed), the open pull
// requests from h's owner and branch or, failing those, the ones GitHub
// associates with the commit; each is read back with GET /repos/{owner}/{repo}/pulls/{n} and
// must match h. None is ErrNoPullRequest; several that match is an error.
func (g *GitHub) PullRequestFor(ctx context.Context, owner, repo string, h RunHead) (int, error) {
	if h.SHA == "" || h.Repo == "" {
		return 0, fmt.Errorf("finding the pull request: the event names no head commit and repository: %w", ErrNoPullRequest)
	}
	left := g.MaxWait
	if left <= 0 {
		left = DefaultMaxWait
	}
	candidates := slices.Clone(h.PRs)
	if len(candidates) == 0 {
		var err error
		if candidates, err = g.candidates(ctx, &left, owner, repo, h); err != nil {
			return 0, g.clean(fmt.Errorf("finding the pull request of %s: %w", h.SHA, err))
		}
	}
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	if len(candidates) > maxCandidates {
		candidates = candidates[:maxCandidates]
	}
	var found []int
	for _, n := range candidates {
		if n <= 0 {
			continue
		}
		var pr *github.PullRequest
		err := g.do(ctx, &left, 0, func(ctx context.Context, c *github.Client) (*github.Response, error) {
			p, resp, err := c.PullRequests.Get(ctx, owner, repo, n)
			pr = p
			return resp, err
		})
		if err != nil {
			return 0, g.clean(fmt.Errorf("reading pull request %s/%s#%d: %w", owner, repo, n, err))
		}
		if matches(pr, owner, repo, h) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("finding the pull request of %s from %s: %w", h.SHA, h.Repo, ErrNoPullRequest)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("finding the pull request of %s from %s: %d pull requests have it as their head (%v): not choosing", h.SHA, h.Repo, len(found), found)
}

// candidates lists the pull requests that may have h as their head.
func (g *GitHub) candidates(ctx context.Context, left *time.Duration, owner, repo string, h RunHead) ([]int, error) {
	if headOwner, _, ok := strings.Cut(h.Repo, "/"); ok && h.Branch != "" {
		opts := &github.PullRequestListOptions{State: "open", Head: headOwner + ":" + h.Branch, ListOptions: github.ListOptions{PerPage: maxCandidates}}
		out, err := g.numbers(ctx, left, func(ctx context.Context, c *github.Client) ([]*github.PullRequest, *github.Response, error) {
			return c.PullRequests.List(ctx, owner, repo, opts)
		})
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
	// A renamed or deleted branch: ask by commit, which needs the
	// contents permission too.
	return g.numbers(ctx, left, func(ctx context.Context, c *github.Client) ([]*github.PullRequest, *github.Response, error) {
		return c.PullRequests.ListPullRequestsWithCommit(ctx, owner, repo, h.SHA, &github.ListOptions{PerPage: maxCandidates})
	})
}

// numbers returns the numbers of the pull requests that list returns,
// retried as every call is.
func (g *GitHub) numbers(ctx context.Context, left *time.Duration, list func(context.Context, *github.Client) ([]*github.PullRequest, *github.Response, error)) ([]int, error) {
	var out []int
	err := g.do(ctx, left, 0, func(ctx context.Context, c *github.Client) (*github.Response, error) {
		l, resp, err := list(ctx, c)
		if err == nil {
			out = out[:0]
			for _, p := range l {
				out = append(out, p.GetNumber())
			}
		}
		return resp, err
	})
	return out, err
}

// matches reports whether pr, as GitHub returned it, belongs to
// owner/repo and has h as its head.
func matches(pr *github.PullRequest, owner, repo string, h RunHead) bool {
	return pr.GetHead().GetSHA() == h.SHA &&
		strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), h.Repo) &&
		strings.EqualFold(pr.GetBase().GetRepo().GetFullName(), owner+"/"+repo)
}
