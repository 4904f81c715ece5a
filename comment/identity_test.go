package comment_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/comment/githubtest"
)

// writesTo returns the PATCH and DELETE requests srv received for the
// comment id.
func writesTo(srv *githubtest.Server, id int64) []githubtest.Request {
	var out []githubtest.Request
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet && r.Path == githubtest.CommentPath(pr.Owner, pr.Repo, id) {
			out = append(out, r)
		}
	}
	return out
}

// TestUpsertIgnoresOthersMarker: a marker in a comment by any account but
// the token's own is not ours. The action neither edits nor deletes it,
// even where GitHub would let it (a maintainer's token may edit anyone's
// comment), and keeps its own comment beside it.
func TestUpsertIgnoresOthersMarker(t *testing.T) {
	tests := []struct {
		name  string
		login string // the token's account
	}{
		{name: "GITHUB_TOKEN", login: githubtest.DefaultLogin},
		{name: "a user's token", login: "alice"},
		{name: "a GitHub App's token", login: "bench-app[bot]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t, githubtest.WithLogin(tc.login))
			m := comment.KeyMarker("k")
			var foreign []int64
			for _, who := range []string{"mallory", "github-actions", "dependabot[bot]", githubtest.DefaultLogin, "alice", "bench-app[bot]"} {
				if who == tc.login {
					continue
				}
				foreign = append(foreign, srv.AddComment(pr.Owner, pr.Repo, pr.Number, who, m+"\nforged by "+who))
			}
			g, _ := newGitHub(t, srv)
			g.BotLogin = "bench-app[bot]"
			if tc.login == githubtest.DefaultLogin {
				g.BotLogin = ""
			}
			for _, body := range []string{"run 1", "run 2"} {
				if _, err := g.Upsert(t.Context(), pr, "k", body); err != nil {
					t.Fatalf("Upsert(%q): %v", body, err)
				}
			}
			for _, id := range foreign {
				if w := writesTo(srv, id); len(w) != 0 {
					t.Errorf("someone else's comment %d was written to: %v", id, w)
				}
			}
			var mine []githubtest.Comment
			for _, c := range srv.CommentsOn(pr.Owner, pr.Repo, pr.Number) {
				switch {
				case c.Login == tc.login:
					mine = append(mine, c)
				case !strings.Contains(c.Body, "forged by "+c.Login):
					t.Errorf("comment by %s changed: %q", c.Login, c.Body)
				}
			}
			if len(mine) != 1 || mine[0].Body != m+"\nrun 2" {
				t.Errorf("our comments = %+v, want one saying run 2", mine)
			}
			if n := len(srv.CommentsOn(pr.Owner, pr.Repo, pr.Number)); n != len(foreign)+1 {
				t.Errorf("%d comments, want %d", n, len(foreign)+1)
			}
		})
	}
}

// TestIdentity: GET /user names a user's token; an installation token gets
// 403 there, and the identity falls back to BotLogin.
func TestIdentity(t *testing.T) {
	tests := []struct {
		name, serverLogin, botLogin string
		notFound                    bool
		fault                       func(*githubtest.Server)
		want                        comment.Identity
		wantErr                     error
		wantErrSub                  string
		wantGets                    int // 0: 1
	}{
		{name: "user token: GET /user", serverLogin: "alice",
			want: comment.Identity{Login: "alice"}},
		{name: "GITHUB_TOKEN: 403 falls back to github-actions[bot]", serverLogin: githubtest.DefaultLogin,
			want: comment.Identity{Login: comment.DefaultBotLogin, Assumed: true}},
		{name: "app token: 403 falls back to the configured bot", serverLogin: "bench-app[bot]", botLogin: "bench-app[bot]",
			want: comment.Identity{Login: "bench-app[bot]", Assumed: true}},
		{name: "BotLogin does not override a user token", serverLogin: "alice", botLogin: "bench-app[bot]",
			want: comment.Identity{Login: "alice"}},
		{name: "404 is no fallback", serverLogin: githubtest.DefaultLogin, notFound: true,
			wantErr: comment.ErrPermission, wantGets: 2},
		{name: "a secondary rate limit's 403 is waited out, not taken for an installation token", serverLogin: "alice",
			fault: func(s *githubtest.Server) { s.SecondaryRateLimit(1, 5) },
			want:  comment.Identity{Login: "alice"}, wantGets: 2},
		{name: "a primary rate limit's 403 is no fallback", serverLogin: "alice",
			fault:      func(s *githubtest.Server) { s.PrimaryRateLimit(2, 2*time.Hour) },
			wantErrSub: "rate limit exhausted", wantGets: 2},
		{name: "a 502 is retried", serverLogin: githubtest.DefaultLogin,
			fault: func(s *githubtest.Server) { s.FailNext(1, 502) },
			want:  comment.Identity{Login: comment.DefaultBotLogin, Assumed: true}, wantGets: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t, githubtest.WithLogin(tc.serverLogin))
			srv.NotFound(tc.notFound)
			if tc.fault != nil {
				tc.fault(srv)
			}
			g, _ := newGitHub(t, srv)
			g.BotLogin = tc.botLogin
			// Twice: a success is remembered, a failure is not.
			for range 2 {
				got, err := g.Identity(t.Context())
				if tc.wantErr != nil || tc.wantErrSub != "" {
					if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantErrSub) {
						t.Fatalf("Identity err = %v, want %v %q", err, tc.wantErr, tc.wantErrSub)
					}
					if tc.wantErr == nil && errors.Is(err, comment.ErrPermission) {
						t.Errorf("Identity err %v is ErrPermission", err)
					}
					continue
				}
				if err != nil || got != tc.want {
					t.Fatalf("Identity = %+v, %v; want %+v", got, err, tc.want)
				}
			}
			want := max(tc.wantGets, 1)
			if n := srv.Calls("GET"); n != want {
				t.Errorf("%d GET /user, want %d", n, want)
			}
		})
	}
}

// TestUpsertWrongBotGuessConverges: an App's installation token with
// BotLogin unset is taken for github-actions[bot], so its own comment is
// not found and a second one is created. The new comment's author corrects
// the identity, and the new one gives way to the old: still one comment,
// in its old place.
func TestUpsertWrongBotGuessConverges(t *testing.T) {
	const app = "bench-app[bot]"
	srv := githubtest.New(t, githubtest.WithLogin(app))
	old := srv.AddComment(pr.Owner, pr.Repo, pr.Number, app, comment.KeyMarker("k")+"\nprevious run")
	g, _ := newGitHub(t, srv)
	if _, err := g.Upsert(t.Context(), pr, "k", "this run"); err != nil {
		t.Fatal(err)
	}
	got := keyed(srv, "k")
	if len(got) != 1 || got[0].ID != old || !strings.HasSuffix(got[0].Body, "this run") {
		t.Errorf("comments = %+v, want only %d saying this run", got, old)
	}
	id, err := g.Identity(t.Context())
	if err != nil || id != (comment.Identity{Login: app}) {
		t.Errorf("Identity after a create = %+v, %v; want %s, not assumed", id, err, app)
	}
	// The second run knows better: an edit, no create.
	srv.ResetCalls()
	if _, err := g.Upsert(t.Context(), pr, "k", "next run"); err != nil {
		t.Fatal(err)
	}
	if srv.Calls("POST") != 0 || srv.Calls("DELETE") != 0 || srv.Calls("PATCH") != 1 {
		t.Errorf("second run: POST %d DELETE %d PATCH %d, want 0 0 1", srv.Calls("POST"), srv.Calls("DELETE"), srv.Calls("PATCH"))
	}
}

// TestUpsertNeverDeletesOthers: duplicates are removed only among our own
// comments, whatever else carries the marker.
func TestUpsertNeverDeletesOthers(t *testing.T) {
	srv := githubtest.New(t, githubtest.WithLogin("alice"))
	m := comment.KeyMarker("k")
	mallory := srv.AddComment(pr.Owner, pr.Repo, pr.Number, "mallory", m+"\nolder than ours")
	ours1 := srv.AddComment(pr.Owner, pr.Repo, pr.Number, "alice", m+"\nours 1")
	ours2 := srv.AddComment(pr.Owner, pr.Repo, pr.Number, "alice", m+"\nours 2")
	quoted := srv.AddComment(pr.Owner, pr.Repo, pr.Number, "alice", "> "+m+"\nalice quoting the report by hand")
	g, _ := newGitHub(t, srv)
	if _, err := g.Upsert(t.Context(), pr, "k", "new"); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, c := range srv.CommentsOn(pr.Owner, pr.Repo, pr.Number) {
		ids = append(ids, c.ID)
	}
	if want := []int64{mallory, ours1, quoted}; !slices.Equal(ids, want) {
		t.Errorf("comments left %v, want %v (%d deleted)", ids, want, ours2)
	}
	if w := writesTo(srv, mallory); len(w) != 0 {
		t.Errorf("mallory's comment written to: %v", w)
	}
}
