package githubtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
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
		{name: "unknown route is 404", method: "GET", path: "user", auth: bearer, checks: []check{status(404)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := githubtest.New(t)
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
