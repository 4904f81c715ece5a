package comment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/comment/githubtest"
)

// TestPullRequestFor checks that the pull request comes from GitHub and
// must have the run's head: its commit and its repository.
func TestPullRequestFor(t *testing.T) {
	const sha, other = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	pulls := []githubtest.Pull{
		{Owner: "octo", Repo: "bench", Number: 7, HeadSHA: sha, HeadRepo: "alice/bench", HeadBranch: "feature"},
		{Owner: "octo", Repo: "bench", Number: 8, HeadSHA: other, HeadRepo: "octo/bench", HeadBranch: "inside"},
		{Owner: "octo", Repo: "bench", Number: 999, HeadSHA: other, HeadRepo: "mallory/bench", HeadBranch: "feature"},
	}
	for _, tc := range []struct {
		name    string
		head    comment.RunHead
		want    int
		wantErr string
	}{
		{"same repository, listed by the event", comment.RunHead{SHA: other, Repo: "octo/bench", Branch: "inside", PRs: []int{8}}, 8, ""},
		{"fork, found by head branch and commit", comment.RunHead{SHA: sha, Repo: "alice/bench", Branch: "feature"}, 7, ""},
		{"fork, found by commit alone", comment.RunHead{SHA: sha, Repo: "alice/bench", Branch: "renamed"}, 7, ""},
		{"listed PR with another head commit", comment.RunHead{SHA: sha, Repo: "octo/bench", Branch: "inside", PRs: []int{8}}, 0, "no pull request"},
		{"same commit from another repository", comment.RunHead{SHA: sha, Repo: "mallory/bench", Branch: "feature"}, 0, "no pull request"},
		{"branch moved on since the run", comment.RunHead{SHA: "3333333333333333333333333333333333333333", Repo: "alice/bench", Branch: "feature"}, 0, "no pull request"},
		{"no head in the event", comment.RunHead{PRs: []int{7}}, 0, "no pull request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t)
			for _, p := range pulls {
				srv.AddPull(p)
			}
			g, _ := newGitHub(t, srv)
			n, err := g.PullRequestFor(t.Context(), "octo", "bench", tc.head)
			if tc.wantErr == "" {
				if err != nil || n != tc.want {
					t.Fatalf("PullRequestFor = %d, %v; want %d", n, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, comment.ErrNoPullRequest) {
				t.Fatalf("PullRequestFor = %d, %v; want ErrNoPullRequest", n, err)
			}
		})
	}

	t.Run("two pull requests with the head: none chosen", func(t *testing.T) {
		srv := githubtest.New(t)
		srv.AddPull(pulls[0])
		dup := pulls[0]
		dup.Number = 9
		srv.AddPull(dup)
		g, _ := newGitHub(t, srv)
		if n, err := g.PullRequestFor(t.Context(), "octo", "bench", comment.RunHead{SHA: sha, Repo: "alice/bench", Branch: "feature"}); err == nil {
			t.Fatalf("PullRequestFor = %d, want an error", n)
		}
	})
}
