package comment_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/comment/githubtest"
)

// sleeps records the waits a GitHub asked for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newGitHub returns a client for srv whose sleeps are recorded, not waited.
// The API URL is given without its trailing slash, as GITHUB_API_URL is.
func newGitHub(t *testing.T, srv *githubtest.Server) (*comment.GitHub, *sleeps) {
	t.Helper()
	g, err := comment.NewGitHub(strings.TrimSuffix(srv.URL(), "/"), srv.Token(), srv.Client())
	if err != nil {
		t.Fatalf("NewGitHub: %v", err)
	}
	s := &sleeps{}
	g.Sleep = s.sleep
	return g, s
}

var pr = comment.Target{Owner: "octo", Repo: "bench", Number: 42}

// keyed returns the comments on pr that carry key's marker.
func keyed(srv *githubtest.Server, key string) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range srv.CommentsOn(pr.Owner, pr.Repo, pr.Number) {
		if strings.Contains(c.Body, comment.KeyMarker(key)) {
			out = append(out, c)
		}
	}
	return out
}

type post struct {
	key, body string
	fault     func(*githubtest.Server) // before this post
}

func TestUpsert(t *testing.T) {
	s := func(d ...int) []time.Duration {
		out := make([]time.Duration, len(d))
		for i, n := range d {
			out[i] = time.Duration(n) * time.Second
		}
		return out
	}
	tests := []struct {
		name  string
		opts  []githubtest.Option
		seed  func(*githubtest.Server)
		posts []post
		// what the last post returns
		wantErr    error  // errors.Is target
		wantErrSub string // substring of the error
		// state afterwards
		wantKeyed  map[string]string // key => body substring of its only comment
		wantTotal  int               // comments on the PR, -1: don't check
		wantCalls  map[string]int    // method => calls
		wantSleeps []time.Duration
	}{
		{
			name:      "create then update in place",
			posts:     []post{{key: "k", body: "first run"}, {key: "k", body: "second run"}},
			wantKeyed: map[string]string{"k": "second run"},
			wantTotal: 1,
			// GET /user once; run 1 lists, creates and lists again; run 2 lists and edits.
			wantCalls: map[string]int{"GET": 4, "POST": 1, "PATCH": 1, "DELETE": 0},
		},
		{
			name: "marker found on page 3 of 3",
			seed: func(s *githubtest.Server) {
				s.AddComments(pr.Owner, pr.Repo, pr.Number, 210, "LGTM")
				s.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nold report")
				s.AddComments(pr.Owner, pr.Repo, pr.Number, 5, "nit")
			},
			posts:     []post{{key: "k", body: "new report"}},
			wantKeyed: map[string]string{"k": "new report"},
			wantTotal: 216,
			wantCalls: map[string]int{"GET": 4, "POST": 0, "PATCH": 1},
		},
		{
			name:      "two keys keep two comments",
			posts:     []post{{key: "linux", body: "L1"}, {key: "arm", body: "A1"}, {key: "linux", body: "L2"}, {key: "arm", body: "A2"}},
			wantKeyed: map[string]string{"linux": "L2", "arm": "A2"},
			wantTotal: 2,
			wantCalls: map[string]int{"GET": 7, "POST": 2, "PATCH": 2},
		},
		{
			name: "several of ours with the marker: oldest updated, the others deleted",
			seed: func(s *githubtest.Server) {
				s.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nolder")
				s.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nnewer")
			},
			posts:     []post{{key: "k", body: "updated"}},
			wantKeyed: map[string]string{"k": "updated"},
			wantTotal: 1,
			wantCalls: map[string]int{"POST": 0, "PATCH": 1, "DELETE": 1},
		},
		{
			name: "marker quoted in someone's reply is not taken for ours",
			seed: func(s *githubtest.Server) {
				s.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nours")
				s.AddComment(pr.Owner, pr.Repo, pr.Number, "human", "> "+comment.KeyMarker("k")+"\n> ours\nwhy slower?")
			},
			posts:     []post{{key: "k", body: "updated"}},
			wantTotal: 2,
			wantCalls: map[string]int{"POST": 0, "PATCH": 1},
		},
		{
			name: "marker copied into someone else's comment: ignored, ours is created",
			seed: func(s *githubtest.Server) {
				s.AddComment(pr.Owner, pr.Repo, pr.Number, "human", comment.KeyMarker("k")+"\ncopied")
			},
			posts:     []post{{key: "k", body: "v1"}, {key: "k", body: "v2"}},
			wantTotal: 2,
			// run 1: POST; run 2: PATCH of ours. The copy is never written to.
			wantCalls: map[string]int{"POST": 1, "PATCH": 1, "DELETE": 0},
		},
		{
			name:      "502 twice then success",
			posts:     []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) { s.FailNext(2, http.StatusBadGateway) }}},
			wantKeyed: map[string]string{"k": "ok"},
			wantTotal: 1,
			// GET /user twice (502, 502), GET /user, list, create, list.
			wantCalls:  map[string]int{"GET": 5, "POST": 1},
			wantSleeps: s(1, 2),
		},
		{
			name:       "503 and 504 on the write",
			seed:       func(s *githubtest.Server) {},
			posts:      []post{{key: "k", body: "v1"}, {key: "k", body: "v2", fault: func(s *githubtest.Server) { s.FailNext(1, 503) }}},
			wantKeyed:  map[string]string{"k": "v2"},
			wantTotal:  1,
			wantSleeps: s(1),
		},
		{
			name:       "create applied but answered 504 is not duplicated",
			posts:      []post{{key: "k", body: "once", fault: func(s *githubtest.Server) { s.LoseResponses(1, http.StatusGatewayTimeout) }}},
			wantKeyed:  map[string]string{"k": "once"},
			wantTotal:  1,
			wantCalls:  map[string]int{"GET": 4, "POST": 1, "PATCH": 1},
			wantSleeps: s(1),
		},
		{
			name: "create refused with 502 is retried as a create",
			posts: []post{{key: "k", body: "once", fault: func(s *githubtest.Server) {
				s.AddComments(pr.Owner, pr.Repo, pr.Number, 1, "noise")
				s.FailNextOn(http.MethodPost, 1, http.StatusBadGateway)
			}}},
			wantKeyed:  map[string]string{"k": "once"},
			wantTotal:  2,
			wantCalls:  map[string]int{"GET": 4, "POST": 2, "PATCH": 0},
			wantSleeps: s(1),
		},
		{
			name:       "500s that never end give up after 5 attempts",
			posts:      []post{{key: "k", body: "x", fault: func(s *githubtest.Server) { s.FailNext(100, http.StatusBadGateway) }}},
			wantErrSub: "giving up after 5 attempts",
			wantTotal:  0,
			wantCalls:  map[string]int{"GET": 5, "POST": 0},
			wantSleeps: s(1, 2, 4, 8),
		},
		{
			name:       "secondary rate limit honours Retry-After",
			posts:      []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) { s.SecondaryRateLimit(2, 7) }}},
			wantKeyed:  map[string]string{"k": "ok"},
			wantTotal:  1,
			wantSleeps: s(7, 7),
		},
		{
			name:       "secondary rate limit without Retry-After waits a minute",
			posts:      []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) { s.SecondaryRateLimit(1, -1) }}},
			wantKeyed:  map[string]string{"k": "ok"},
			wantSleeps: s(60),
			wantTotal:  1,
		},
		{
			name:       "secondary rate limit beyond the wait budget gives up",
			posts:      []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) { s.SecondaryRateLimit(1, 3600) }}},
			wantErrSub: "over the 3m0s left of the wait budget",
			wantTotal:  0,
		},
		{
			name: "the wait budget is shared by the calls of one upsert",
			posts: []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) {
				s.SecondaryRateLimit(1, 100)                                 // GET /user waits 100s of 180s
				s.FailNextOn(http.MethodPost, 2, http.StatusTooManyRequests) // the create 60s, then 60s more is over
			}}},
			wantErrSub: "GitHub asks to wait 1m0s, over the 20s left of the wait budget",
			wantSleeps: s(100, 60),
			wantTotal:  0,
			wantCalls:  map[string]int{"GET": 3, "POST": 2},
		},
		{
			name:       "429 is a rate limit",
			posts:      []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) { s.FailNext(1, http.StatusTooManyRequests) }}},
			wantKeyed:  map[string]string{"k": "ok"},
			wantSleeps: s(60),
			wantTotal:  1,
		},
		{
			name:       "primary rate limit resetting in hours gives up at once",
			posts:      []post{{key: "k", body: "ok", fault: func(s *githubtest.Server) { s.PrimaryRateLimit(1, 2*time.Hour) }}},
			wantErrSub: "rate limit exhausted until",
			wantCalls:  map[string]int{"GET": 1},
			wantTotal:  0,
		},
		{
			name:       "fork's read-only token is ErrPermission",
			seed:       func(s *githubtest.Server) { s.Forbidden(true) },
			posts:      []post{{key: "k", body: "x"}},
			wantErr:    comment.ErrPermission,
			wantErrSub: "Resource not accessible by integration",
			wantTotal:  0,
			wantCalls:  map[string]int{"GET": 2, "POST": 1},
		},
		{
			name: "fork's token with an existing comment is ErrPermission",
			seed: func(s *githubtest.Server) {
				s.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nfrom workflow_run")
				s.Forbidden(true)
			},
			posts:     []post{{key: "k", body: "x"}},
			wantErr:   comment.ErrPermission,
			wantTotal: 1,
			wantCalls: map[string]int{"PATCH": 1, "POST": 1},
		},
		{
			name:      "404 (repository not visible) is ErrPermission",
			seed:      func(s *githubtest.Server) { s.NotFound(true) },
			posts:     []post{{key: "k", body: "x"}},
			wantErr:   comment.ErrPermission,
			wantTotal: 0,
			wantCalls: map[string]int{"GET": 1},
		},
		{
			name:       "body over the limit is refused before any call",
			posts:      []post{{key: "k", body: strings.Repeat("| row | 1 |\n", 10000)}},
			wantErrSub: "over GitHub's 65536",
			wantTotal:  0,
			wantCalls:  map[string]int{"GET": 0, "POST": 0},
		},
		{
			name:       "422 is an error, not retried with a cut body",
			opts:       []githubtest.Option{githubtest.WithMaxBody(10)},
			posts:      []post{{key: "k", body: "a body longer than ten characters"}},
			wantErrSub: "body is too long",
			wantTotal:  0,
			wantCalls:  map[string]int{"POST": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := githubtest.New(t, tc.opts...)
			if tc.seed != nil {
				tc.seed(srv)
			}
			srv.ResetCalls()
			g, sl := newGitHub(t, srv)
			var err error
			var url string
			for i, p := range tc.posts {
				if p.fault != nil {
					p.fault(srv)
				}
				url, err = g.Upsert(t.Context(), pr, p.key, p.body)
				if err != nil && i < len(tc.posts)-1 {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			switch {
			case tc.wantErr == nil && tc.wantErrSub == "":
				if err != nil {
					t.Fatalf("Upsert: %v", err)
				}
				if !strings.HasPrefix(url, "https://github.com/octo/bench/pull/42#issuecomment-") {
					t.Errorf("url = %q", url)
				}
			case err == nil:
				t.Fatalf("Upsert succeeded (%s), want an error", url)
			default:
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("error %q is not %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Errorf("error %q does not contain %q", err, tc.wantErrSub)
				}
				if tc.wantErr == nil && errors.Is(err, comment.ErrPermission) {
					t.Errorf("error %q is ErrPermission", err)
				}
			}
			if err != nil && strings.Contains(err.Error(), srv.Token()) {
				t.Errorf("error shows the token: %q", err)
			}
			for key, want := range tc.wantKeyed {
				got := keyed(srv, key)
				if len(got) != 1 {
					t.Errorf("key %q: %d comments, want 1", key, len(got))
					continue
				}
				b := got[0].Body
				if !strings.HasPrefix(b, comment.KeyMarker(key)+"\n") || !strings.Contains(b, want) {
					t.Errorf("key %q: body %.200q does not start with the marker or lacks %q", key, b, want)
				}
				if len(b) > comment.MaxBody {
					t.Errorf("key %q: body is %d bytes, over %d", key, len(b), comment.MaxBody)
				}
			}
			if n := len(srv.CommentsOn(pr.Owner, pr.Repo, pr.Number)); tc.wantTotal >= 0 && n != tc.wantTotal {
				t.Errorf("%d comments on the PR, want %d", n, tc.wantTotal)
			}
			for m, want := range tc.wantCalls {
				if got := srv.Calls(m); got != want {
					t.Errorf("%s calls = %d, want %d", m, got, want)
				}
			}
			if got := sl.get(); fmt.Sprint(got) != fmt.Sprint(tc.wantSleeps) && !(len(got) == 0 && len(tc.wantSleeps) == 0) {
				t.Errorf("slept %v, want %v", got, tc.wantSleeps)
			}
			if srv.AuthFailures() != 0 {
				t.Errorf("%d requests without the right token", srv.AuthFailures())
			}
		})
	}
}

// TestUpsertSeveralOfOursKeepsOldest: duplicates that an earlier race (or
// an older version) left are deleted, and the oldest, where the
// conversation first saw the report, is kept.
func TestUpsertSeveralOfOursKeepsOldest(t *testing.T) {
	srv := githubtest.New(t)
	older := srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nolder")
	srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("k")+"\nnewer")
	other := srv.AddComment(pr.Owner, pr.Repo, pr.Number, githubtest.DefaultLogin, comment.KeyMarker("other")+"\nanother key")
	g, _ := newGitHub(t, srv)
	u, err := g.Upsert(t.Context(), pr, "k", "updated")
	if err != nil {
		t.Fatal(err)
	}
	got := srv.CommentsOn(pr.Owner, pr.Repo, pr.Number)
	if len(got) != 2 || got[0].ID != older || !strings.HasSuffix(got[0].Body, "updated") || got[1].ID != other || !strings.HasSuffix(got[1].Body, "another key") {
		t.Errorf("comments = %+v, want %d updated and %d untouched", got, older, other)
	}
	if !strings.HasSuffix(u, fmt.Sprint(older)) {
		t.Errorf("url %q is not the kept comment's", u)
	}
}

func TestPrimaryRateLimitShortWait(t *testing.T) {
	srv := githubtest.New(t)
	g, sl := newGitHub(t, srv)
	srv.PrimaryRateLimit(1, 10*time.Second)
	if _, err := g.Upsert(t.Context(), pr, "k", "ok"); err != nil {
		t.Fatal(err)
	}
	got := sl.get()
	// The reset is in whole seconds; we add one second of slack.
	if len(got) != 1 || got[0] < 8*time.Second || got[0] > 12*time.Second {
		t.Errorf("slept %v, want one wait of about 11s", got)
	}
	if n := len(keyed(srv, "k")); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
}

func TestUpsertContext(t *testing.T) {
	t.Run("cancel during a retry wait stops retrying", func(t *testing.T) {
		srv := githubtest.New(t)
		g, _ := newGitHub(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		g.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
		srv.FailNext(100, http.StatusBadGateway)
		_, err := g.Upsert(ctx, pr, "k", "x")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := srv.Calls(""); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("deadline interrupts the real timer", func(t *testing.T) {
		srv := githubtest.New(t)
		g, _ := newGitHub(t, srv)
		g.Sleep = nil // real timer: 60s wanted, the deadline ends it
		srv.SecondaryRateLimit(100, 60)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := g.Upsert(ctx, pr, "k", "x")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if n := srv.Calls(""); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("already cancelled makes no call", func(t *testing.T) {
		srv := githubtest.New(t)
		g, _ := newGitHub(t, srv)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := g.Upsert(ctx, pr, "k", "x"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := srv.Calls(""); n != 0 {
			t.Errorf("%d calls, want 0", n)
		}
	})
}

func TestNewGitHub(t *testing.T) {
	const token = "ghp_secretSecret123"
	srv := githubtest.New(t, githubtest.WithToken(token))
	tests := []struct {
		name, apiURL, token string
		wantErr             string // "" = works against srv
	}{
		{name: "GHES base without trailing slash", apiURL: strings.TrimSuffix(srv.URL(), "/"), token: token},
		{name: "GHES base with trailing slash", apiURL: srv.URL(), token: token},
		{name: "not a URL", apiURL: "api.github.com", token: token, wantErr: "want an absolute http(s) URL"},
		{name: "wrong scheme", apiURL: "ftp://x/api/v3", token: token, wantErr: "want an absolute http(s) URL"},
		{name: "token in the URL", apiURL: "https://" + token + "@ghe.example.com/api/v3", token: token, wantErr: "must not carry credentials"},
		{name: "token mistaken for the URL", apiURL: token, token: token, wantErr: "want an absolute"},
		{name: "empty token", apiURL: srv.URL(), token: "", wantErr: "token is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := comment.NewGitHub(tc.apiURL, tc.token, srv.Client())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("error shows the token: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
				if s := fmt.Sprintf(f, g); strings.Contains(s, token) {
					t.Errorf("%s of GitHub shows the token: %s", f, s)
				}
			}
			u, err := g.Upsert(t.Context(), pr, tc.name, "hi")
			if err != nil || u == "" {
				t.Fatalf("Upsert = %q, %v", u, err)
			}
		})
	}
	if n := srv.AuthFailures(); n != 0 {
		t.Errorf("%d requests without the token", n)
	}
}

func TestDefaultAPIURL(t *testing.T) {
	g, err := comment.NewGitHub("", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.String(); !strings.Contains(s, "https://api.github.com/") {
		t.Errorf("default base = %s", s)
	}
}

func TestWrongTokenIsNotRetriedNorPermission(t *testing.T) {
	srv := githubtest.New(t)
	g, err := comment.NewGitHub(srv.URL(), "wrong-token-value", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Upsert(t.Context(), pr, "k", "x")
	if err == nil || !strings.Contains(err.Error(), "401 Bad credentials") {
		t.Fatalf("err = %v, want 401 Bad credentials", err)
	}
	if errors.Is(err, comment.ErrPermission) {
		t.Error("401 reported as ErrPermission")
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("error shows the token: %q", err)
	}
	if n := srv.Calls(""); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestUpsertInvalidTarget(t *testing.T) {
	srv := githubtest.New(t)
	g, _ := newGitHub(t, srv)
	for _, tg := range []comment.Target{{Repo: "r", Number: 1}, {Owner: "o", Number: 1}, {Owner: "o", Repo: "r"}} {
		if _, err := g.Upsert(t.Context(), tg, "k", "x"); err == nil || !strings.Contains(err.Error(), "invalid target") {
			t.Errorf("Upsert(%v) err = %v, want invalid target", tg, err)
		}
	}
	if n := srv.Calls(""); n != 0 {
		t.Errorf("%d calls, want 0", n)
	}
}

func TestKeyMarker(t *testing.T) {
	keys := []string{"", "default", "a b", "a_b", "a%20b", "a-b", "Benchmarks / bench (ubuntu)", "x-->y", "<script>", "@admin",
		strings.Repeat("k", 500), strings.Repeat("k", 499) + "j", "ключ"}
	seen := map[string]string{}
	for _, k := range keys {
		m := comment.KeyMarker(k)
		payload := strings.TrimSuffix(strings.TrimPrefix(m, "<!-- natsbench-action:key="), " -->")
		if payload == m || strings.ContainsAny(payload, "<>-@ \n") || len(payload) > 128 {
			t.Errorf("KeyMarker(%q) = %q: payload must be short and free of <>-@ and spaces", k, m)
		}
		if prev, ok := seen[m]; ok && !(prev == "" && k == "default") {
			t.Errorf("KeyMarker(%q) == KeyMarker(%q) = %q", k, prev, m)
		}
		seen[m] = k
	}
}
