package comment_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/comment/githubtest"
)

// newGitHub returns a client for srv whose sleeps are recorded, not waited.
func newGitHub(t *testing.T, srv *githubtest.Server) (*comment.GitHub, *[]time.Duration) {
	t.Helper()
	g, err := comment.NewGitHub(strings.TrimSuffix(srv.URL(), "/"), srv.Token(), srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	g.Sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}
	return g, &slept
}

func TestSmoke(t *testing.T) {
	srv := githubtest.New(t)
	g, _ := newGitHub(t, srv)
	tg := comment.Target{Owner: "o", Repo: "r", Number: 7}
	srv.AddComments("o", "r", 7, 250, "hello")
	u1, err := g.Upsert(t.Context(), tg, "k", "one")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := g.Upsert(t.Context(), tg, "k", "two")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(u1, u2, srv.Calls("GET"), srv.Calls("POST"), srv.Calls("PATCH"))
}
