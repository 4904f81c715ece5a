package app

import (
	"context"
	"errors"
	"io"

	"github.com/natsbench/natsbench-action/history"
)

// branchStore is the history branch: fetched at depth 1 to read, and
// updated by fetch, mutate, commit and push without force, retried when
// another writer pushed first (history/gitstore).
type branchStore interface {
	Fetch(ctx context.Context, dir string) (found bool, err error)
	Update(ctx context.Context, dir, msg string, mutate func(dir string) error) error
}

// errDenied is wrapped by a store's error when the remote refused for
// want of permission.
var errDenied = errors.New("permission denied by the remote")

// newStore is the branch of the repository at url, reached with token.
func newStore(url, branch, token string) branchStore {
	return unavailableStore{}
}

type unavailableStore struct{}

func (unavailableStore) Fetch(context.Context, string) (bool, error) {
	return false, errors.New("the history store is not built in")
}

func (unavailableStore) Update(context.Context, string, string, func(string) error) error {
	return errors.New("the history store is not built in")
}

// renderPage writes the trend page of h (history/page); nil until built in.
var renderPage func(w io.Writer, h *history.History) error
