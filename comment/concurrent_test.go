package comment_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/comment/githubtest"
)

// lineUp makes the first n comment creations on srv wait until all n have
// arrived, so that n posters have all listed, found nothing and decided to
// create before any comment exists: the race two jobs run into.
func lineUp(t *testing.T, srv *githubtest.Server, n int) {
	t.Helper()
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	srv.BeforeCreate(func(*http.Request) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			// Not a timing assertion: the test fails on the count below
			// if the posters did not race, instead of hanging.
		}
	})
}

// TestUpsertConcurrentPostersEndWithOne: posters that each list, find
// nothing and create end with one comment for the key: the oldest, with
// one of their bodies. Each poster is its own GitHub, as two jobs are.
func TestUpsertConcurrentPostersEndWithOne(t *testing.T) {
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d posters", n), func(t *testing.T) {
			srv := githubtest.New(t)
			foreign := srv.AddComment(pr.Owner, pr.Repo, pr.Number, "mallory", comment.KeyMarker("k")+"\nnot yours")
			lineUp(t, srv, n)
			bodies := make([]string, n)
			urls := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				bodies[i] = fmt.Sprintf("report from poster %d", i)
				g, _ := newGitHub(t, srv)
				wg.Go(func() {
					urls[i], errs[i] = g.Upsert(t.Context(), pr, "k", bodies[i])
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("poster %d: %v", i, err)
				}
			}
			if got := srv.Calls(http.MethodPost); got != n {
				t.Fatalf("%d creates, want %d: the posters did not race", got, n)
			}
			ours := keyed(srv, "k")
			ours = slices.DeleteFunc(ours, func(c githubtest.Comment) bool { return c.ID == foreign })
			if len(ours) != 1 {
				t.Fatalf("%d comments for the key, want 1: %+v", len(ours), ours)
			}
			kept := ours[0]
			var created []int64
			for _, r := range srv.Requests() {
				if r.Method == http.MethodDelete {
					var id int64
					fmt.Sscanf(r.Path[strings.LastIndexByte(r.Path, '/')+1:], "%d", &id)
					created = append(created, id)
				}
			}
			for _, id := range created {
				if id <= kept.ID {
					t.Errorf("deleted %d, not newer than the kept %d", id, kept.ID)
				}
			}
			if !slices.ContainsFunc(bodies, func(b string) bool { return kept.Body == comment.KeyMarker("k")+"\n"+b }) {
				t.Errorf("kept body %q is none of the posters'", kept.Body)
			}
			for i, u := range urls {
				if u != kept.HTMLURL() {
					t.Errorf("poster %d returned %s, want the kept %s", i, u, kept.HTMLURL())
				}
			}
			if w := writesTo(srv, foreign); len(w) != 0 {
				t.Errorf("mallory's comment written to: %v", w)
			}
			// The next run finds the one comment and edits it.
			srv.BeforeCreate(nil)
			srv.ResetCalls()
			g, _ := newGitHub(t, srv)
			if _, err := g.Upsert(t.Context(), pr, "k", "next run"); err != nil {
				t.Fatal(err)
			}
			if srv.Calls(http.MethodPost) != 0 || srv.Calls(http.MethodDelete) != 0 || len(keyed(srv, "k")) != 2 {
				t.Errorf("next run: POST %d DELETE %d, %d keyed; want 0 0 2 (ours and mallory's)",
					srv.Calls(http.MethodPost), srv.Calls(http.MethodDelete), len(keyed(srv, "k")))
			}
		})
	}
}

// TestUpsertDuplicateCleanupIsBestEffort: a delete that keeps failing does
// not fail a post that succeeded; the duplicate it leaves is removed by the
// next run.
func TestUpsertDuplicateCleanupIsBestEffort(t *testing.T) {
	srv := githubtest.New(t)
	m := comment.KeyMarker("k")
	older := srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, m+"\nrun 1 of job A")
	srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, m+"\nrun 1 of job B")
	g, _ := newGitHub(t, srv)
	srv.FailNextOn(http.MethodDelete, 100, http.StatusBadGateway)
	u, err := g.Upsert(t.Context(), pr, "k", "run 2")
	if err != nil {
		t.Fatalf("Upsert with failing deletes: %v", err)
	}
	if !strings.HasSuffix(u, fmt.Sprint(older)) {
		t.Errorf("url %q, want the oldest comment's", u)
	}
	if n := len(keyed(srv, "k")); n != 2 {
		t.Fatalf("%d comments, want the duplicate still there", n)
	}
	srv.FailNextOn("", 0, 0)
	if _, err := g.Upsert(t.Context(), pr, "k", "run 3"); err != nil {
		t.Fatal(err)
	}
	got := keyed(srv, "k")
	if len(got) != 1 || got[0].ID != older || got[0].Body != m+"\nrun 3" {
		t.Errorf("after the next run: %+v, want only %d saying run 3", got, older)
	}
}

// TestUpsertSurvivorGoneKeepsOurs: when the older comment that settle would
// keep cannot be edited (deleted in the meantime), the comment just created
// stays, and nothing is deleted.
func TestUpsertSurvivorGoneKeepsOurs(t *testing.T) {
	srv := githubtest.New(t)
	m := comment.KeyMarker("k")
	var older int64
	srv.BeforeCreate(func(*http.Request) {
		// Another poster's comment lands first and is then refused to us
		// on edit: it is deleted between our re-list and our edit.
		if older == 0 {
			older = srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, m+"\nthe other poster's")
		}
	})
	g, _ := newGitHub(t, srv)
	srv.FailNextOn(http.MethodPatch, 100, http.StatusNotFound)
	u, err := g.Upsert(t.Context(), pr, "k", "ours")
	if err != nil {
		t.Fatal(err)
	}
	got := keyed(srv, "k")
	if len(got) != 2 || got[1].Body != m+"\nours" || u != got[1].HTMLURL() {
		t.Errorf("comments %+v, url %s: want ours kept and returned", got, u)
	}
	if srv.Calls(http.MethodDelete) != 0 {
		t.Errorf("%d deletes, want none when the survivor could not be updated", srv.Calls(http.MethodDelete))
	}
}

// TestUpsertListingLagStillOne: when the listing after a create does not
// show the new comment yet but does show an older one of ours (a concurrent
// poster's), the new comment is still the one deleted.
func TestUpsertListingLagStillOne(t *testing.T) {
	srv := githubtest.New(t)
	m := comment.KeyMarker("k")
	var older int64
	srv.BeforeCreate(func(*http.Request) {
		if older == 0 {
			older = srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, m+"\nthe other poster's")
			srv.ListLag(1) // ours, about to be stored, is left out
		}
	})
	g, _ := newGitHub(t, srv)
	u, err := g.Upsert(t.Context(), pr, "k", "ours")
	if err != nil {
		t.Fatal(err)
	}
	srv.ListLag(0)
	got := keyed(srv, "k")
	if len(got) != 1 || got[0].ID != older || got[0].Body != m+"\nours" || u != got[0].HTMLURL() {
		t.Errorf("comments %+v, url %s: want only %d, saying ours", got, u, older)
	}
}
