package githubtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/natsbench/natsbench-action/comment/githubtest"
)

func do(t *testing.T, srv *githubtest.Server, method, path, auth, body string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestServer(t *testing.T) {
	const list = "repos/o/r/issues/3/comments"
	bearer := "Bearer " + githubtest.DefaultToken
	type check func(t *testing.T, resp *http.Response, body []byte)
	status := func(want int) check {
		return func(t *testing.T, resp *http.Response, body []byte) {
			if resp.StatusCode != want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, want, body)
			}
		}
	}
	contains := func(s string) check {
		return func(t *testing.T, _ *http.Response, body []byte) {
			if !strings.Contains(string(body), s) {
				t.Errorf("body %s lacks %q", body, s)
			}
		}
	}
	count := func(n int) check {
		return func(t *testing.T, _ *http.Response, body []byte) {
			var cs []github.IssueComment
			if err := json.Unmarshal(body, &cs); err != nil {
				t.Fatal(err)
			}
			if len(cs) != n {
				t.Errorf("%d comments, want %d", len(cs), n)
			}
		}
	}
	link := func(want ...string) check {
		return func(t *testing.T, resp *http.Response, _ []byte) {
			got := resp.Header.Get("Link")
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("Link %q lacks %q", got, w)
				}
			}
			if len(want) == 0 && got != "" {
				t.Errorf("Link %q on a single page", got)
			}
		}
	}
	tests := []struct {
		name                     string
		opts                     []githubtest.Option
		setup                    func(*githubtest.Server)
		method, path, auth, body string
		checks                   []check
	}{
		{name: "default page of 30 with next and last", method: "GET", path: list, auth: bearer,
			checks: []check{status(200), count(30), link(`page=2&per_page=30>; rel="next"`, `page=3&per_page=30>; rel="last"`)}},
		{name: "per_page honoured, capped at 100", method: "GET", path: list + "?per_page=500", auth: bearer,
			checks: []check{status(200), count(70), link()}},
		{name: "last page has prev and first", method: "GET", path: list + "?per_page=30&page=3", auth: bearer,
			checks: []check{status(200), count(10), link(`rel="prev"`, `rel="first"`)}},
		{name: "token scheme accepted", method: "GET", path: list, auth: "token " + githubtest.DefaultToken,
			checks: []check{status(200)}},
		{name: "missing token is 401", method: "GET", path: list,
			checks: []check{status(401), contains(`"message":"Bad credentials"`)}},
		{name: "over-long body is 422 like GitHub", method: "POST", path: list, auth: bearer,
			body:   fmt.Sprintf(`{"body":%q}`, strings.Repeat("x", githubtest.MaxBody+1)),
			checks: []check{status(422), contains(`"message":"Validation Failed"`), contains(`"code":"custom"`), contains("body is too long (maximum is 65536 characters)")}},
		{name: "body at the limit in characters is accepted", method: "POST", path: list, auth: bearer,
			body:   fmt.Sprintf(`{"body":%q}`, strings.Repeat("é", githubtest.MaxBody)),
			checks: []check{status(201)}},
		{name: "missing body is 422", method: "POST", path: list, auth: bearer, body: `{}`,
			checks: []check{status(422), contains(`"code":"missing_field"`)}},
		{name: "create answers 201 with GitHub's shape", method: "POST", path: list, auth: bearer, body: `{"body":"hi"}`,
			checks: []check{status(201), contains(`"html_url":"https://github.com/o/r/pull/3#issuecomment-`), contains(`"login":"github-actions[bot]"`), contains(`"created_at":"`), contains(`"updated_at":"`)}},
		{name: "edit of a missing comment is 404", method: "PATCH", path: "repos/o/r/issues/comments/1", auth: bearer, body: `{"body":"x"}`,
			checks: []check{status(404), contains(`"message":"Not Found"`)}},
		{name: "edit of someone else's comment is 403", method: "PATCH", path: "repos/o/r/issues/comments/1000001", auth: bearer, body: `{"body":"x"}`,
			checks: []check{status(403), contains("Resource not accessible by integration")}},
		{name: "502 fault", setup: func(s *githubtest.Server) { s.FailNext(1, 502) }, method: "GET", path: list, auth: bearer,
			checks: []check{status(502)}},
		{name: "secondary rate limit fault", setup: func(s *githubtest.Server) { s.SecondaryRateLimit(1, 9) }, method: "GET", path: list, auth: bearer,
			checks: []check{status(403), contains("secondary rate limit"), func(t *testing.T, r *http.Response, _ []byte) {
				if r.Header.Get("Retry-After") != "9" {
					t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
				}
			}}},
		{name: "forbidden fault blocks writes only", setup: func(s *githubtest.Server) { s.Forbidden(true) }, method: "POST", path: list, auth: bearer, body: `{"body":"x"}`,
			checks: []check{status(403), contains(githubtest.MsgNotAccessible)}},
		{name: "unknown route is 404", method: "GET", path: "users/octocat/repos", auth: bearer, checks: []check{status(404)}},
		{name: "GET /user refuses an installation token", method: "GET", path: "user", auth: bearer,
			checks: []check{status(403), contains(githubtest.MsgNotAccessible)}},
		{name: "GET /user names a user token's account", opts: []githubtest.Option{githubtest.WithLogin("alice")}, method: "GET", path: "user", auth: bearer,
			checks: []check{status(200), contains(`"login":"alice"`), contains(`"type":"User"`)}},
		{name: "delete of a missing comment is 404", method: "DELETE", path: "repos/o/r/issues/comments/1", auth: bearer,
			checks: []check{status(404), contains(`"message":"Not Found"`)}},
		{name: "delete of someone else's comment is 403", method: "DELETE", path: "repos/o/r/issues/comments/1000001", auth: bearer,
			checks: []check{status(403), contains(githubtest.MsgNotAccessible)}},
		{name: "delete of one's own comment is 204", opts: []githubtest.Option{githubtest.WithLogin("someone")}, method: "DELETE", path: "repos/o/r/issues/comments/1000001", auth: bearer,
			checks: []check{status(204), func(t *testing.T, _ *http.Response, body []byte) {
				if len(body) != 0 {
					t.Errorf("204 with a body: %s", body)
				}
			}}},
		{name: "forbidden fault blocks deletes", setup: func(s *githubtest.Server) { s.Forbidden(true) }, opts: []githubtest.Option{githubtest.WithLogin("someone")},
			method: "DELETE", path: "repos/o/r/issues/comments/1000001", auth: bearer, checks: []check{status(403)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t, tc.opts...)
			srv.AddComments("o", "r", 3, 70, "noise") // IDs 1000001..
			srv.AddComments("o", "r", 4, 5, "elsewhere")
			if tc.setup != nil {
				tc.setup(srv)
			}
			resp, body := do(t, srv, tc.method, tc.path, tc.auth, tc.body)
			for _, c := range tc.checks {
				c(t, resp, body)
			}
			if srv.Calls(tc.method) != 1 {
				t.Errorf("Calls(%s) = %d, want 1", tc.method, srv.Calls(tc.method))
			}
			if got, want := srv.Requests(), []githubtest.Request{{Method: tc.method, Path: strings.SplitN(tc.path, "?", 2)[0]}}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Requests() = %v, want %v", got, want)
			}
			if strings.Contains(string(body), githubtest.DefaultToken) {
				t.Error("response shows the token")
			}
		})
	}
}

func TestServerEditAndSnapshot(t *testing.T) {
	srv := githubtest.New(t)
	bearer := "Bearer " + githubtest.DefaultToken
	resp, body := do(t, srv, "POST", "repos/o/r/issues/3/comments", bearer, `{"body":"v1"}`)
	var c github.IssueComment
	if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %d %s %v", resp.StatusCode, body, err)
	}
	resp, body = do(t, srv, "PATCH", fmt.Sprintf("repos/o/r/issues/comments/%d", c.GetID()), bearer, `{"body":"v2"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"body":"v2"`) {
		t.Fatalf("edit: %d %s", resp.StatusCode, body)
	}
	got := srv.Comments()
	if len(got) != 1 || got[0].Body != "v2" || got[0].Login != githubtest.DefaultLogin || !got[0].UpdatedAt.After(got[0].CreatedAt) {
		t.Errorf("Comments() = %+v", got)
	}
	if srv.Calls("POST") != 1 || srv.Calls("PATCH") != 1 || srv.Calls("") != 2 {
		t.Errorf("calls: POST %d PATCH %d all %d", srv.Calls("POST"), srv.Calls("PATCH"), srv.Calls(""))
	}
}

func TestServerDeleteRemoves(t *testing.T) {
	srv := githubtest.New(t)
	keep := srv.AddComment("o", "r", 3, githubtest.DefaultLogin, "keep")
	gone := srv.AddComment("o", "r", 3, githubtest.DefaultLogin, "gone")
	bearer := "Bearer " + githubtest.DefaultToken
	resp, body := do(t, srv, "DELETE", githubtest.CommentPath("o", "r", gone), bearer, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if got := srv.Comments(); len(got) != 1 || got[0].ID != keep {
		t.Errorf("Comments() = %+v, want only %d", got, keep)
	}
	resp, _ = do(t, srv, "DELETE", githubtest.CommentPath("o", "r", gone), bearer, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", resp.StatusCode)
	}
}

// TestServerConcurrent drives creates, lists, edits and deletes from many
// goroutines at once, for the race detector, and checks that IDs stay
// unique and nothing is lost.
func TestServerConcurrent(t *testing.T) {
	srv := githubtest.New(t)
	bearer := "Bearer " + githubtest.DefaultToken
	var creates atomic.Int32
	srv.BeforeCreate(func(*http.Request) { creates.Add(1) })
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, body := do(t, srv, "POST", "repos/o/r/issues/3/comments", bearer, fmt.Sprintf(`{"body":"c%d"}`, i))
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("create: %d %s", resp.StatusCode, body)
				return
			}
			var c github.IssueComment
			if err := json.Unmarshal(body, &c); err != nil {
				t.Error(err)
				return
			}
			do(t, srv, "GET", "repos/o/r/issues/3/comments?per_page=2", bearer, "")
			do(t, srv, "PATCH", githubtest.CommentPath("o", "r", c.GetID()), bearer, `{"body":"edited"}`)
			if i%2 == 0 {
				do(t, srv, "DELETE", githubtest.CommentPath("o", "r", c.GetID()), bearer, "")
			}
		})
	}
	wg.Wait()
	got := srv.CommentsOn("o", "r", 3)
	if len(got) != n/2 || creates.Load() != n {
		t.Errorf("%d comments after %d creates, want %d after %d", len(got), creates.Load(), n/2, n)
	}
	seen := map[int64]bool{}
	for _, c := range got {
		if seen[c.ID] || c.Body != "edited" {
			t.Errorf("comment %+v: duplicate ID or not edited", c)
		}
		seen[c.ID] = true
	}
	if n := len(srv.Requests()); n != srv.Calls("") {
		t.Errorf("%d requests logged, %d counted", n, srv.Calls(""))
	}
}
