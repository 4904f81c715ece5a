package app

import (
	"context"
	"io"
	"time"

	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/history/gitstore"
	"github.com/natsbench/natsbench-action/history/page"
)

// branchStore is the history branch: fetched at depth 1 to read, and
// updated by fetch, mutate, commit and push without force, retried when
// another writer pushed first. A seam for the tests of what a run does
// with the history; history/gitstore is the store.
type branchStore interface {
	Fetch(ctx context.Context, dir string) (found bool, err error)
	Update(ctx context.Context, dir, msg string, mutate func(dir string) error) error
}

// errDenied is wrapped by a store's error when the remote refused for
// want of permission (a read-only token, a protected branch).
var errDenied = gitstore.ErrDenied

// newStore is the branch of the repository at url (a URL or a local
// path), reached with token when it is not empty.
func newStore(url, branch, token string) branchStore {
	return gitRemote{gitstore.Remote{URL: url, Branch: branch, Token: token}}
}

// gitRemote adapts gitstore.Remote, with its default retries.
type gitRemote struct{ r gitstore.Remote }

func (g gitRemote) Fetch(ctx context.Context, dir string) (bool, error) { return g.r.Fetch(ctx, dir) }

func (g gitRemote) Update(ctx context.Context, dir, msg string, mutate func(string) error) error {
	_, err := g.r.Update(ctx, dir, msg, mutate, gitstore.UpdateOptions{})
	return err
}

// renderPage writes the trend page of h, about repo, made at now, with
// the change points marked. It is a variable so that a build without the
// page (and its plotting library) stays possible; the history command
// reports when it is nil.
var renderPage = func(w io.Writer, h *history.History, repo string, now time.Time, marks map[history.Key][]page.Mark) error {
	return page.Render(w, h, page.Options{Repository: repo, Generated: now, Marks: marks})
}
