// Package githubtest is an in-memory fake of the GitHub REST API's issue
// comment endpoints, GET /user and the pull request look-ups of post mode,
// answering like GitHub (JSON shapes, Link
// pagination, 401/403/404/422, rate limit headers) with programmable
// faults, for tests of code that posts comments. It is safe for
// concurrent clients, so tests can race two posters against it. It listens
// on loopback under the base path /api/v3/, as GitHub Enterprise Server
// does, so clients must honour the configured API URL.
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// BasePath is where the fake API is mounted.
const BasePath = "/api/v3/"

// DefaultToken is the token the server expects unless WithToken says otherwise.
const DefaultToken = "ghs_fakeTokenForTests0123456789"

// DefaultLogin is the author of comments created through the API: the
// token is a workflow's GITHUB_TOKEN unless WithLogin says otherwise.
const DefaultLogin = "github-actions[bot]"

// MaxBody is GitHub's limit on a comment body, in characters.
const MaxBody = 65536

// Messages GitHub sends, used by the faults.
const (
	MsgNotAccessible          = "Resource not accessible by integration"
	MsgSecondaryRate          = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID."
	DocSecondaryRate          = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docComments               = "https://docs.github.com/rest/issues/comments"
	docUser                   = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
	primaryRateLimitMsg       = "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID."
	defaultPerPage            = 30
	maxPerPage                = 100
	firstCommentID      int64 = 1000000
)

// Comment is a stored issue comment.
type Comment struct {
	ID        int64
	Owner     string
	Repo      string
	Number    int
	Body      string
	Login     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// HTMLURL is the comment's link, as GitHub would give it.
func (c Comment) HTMLURL() string {
	return fmt.Sprintf("https://github.com/%s/%s/pull/%d#issuecomment-%d", c.Owner, c.Repo, c.Number, c.ID)
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the token that requests must carry.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithMaxBody sets the longest body accepted, in characters (default
// MaxBody), to make the server refuse what the client thinks fits.
func WithMaxBody(n int) Option { return func(s *Server) { s.maxBody = n } }

// WithLogin sets the account the token acts as: the author of comments
// created through the API. A login ending in "[bot]" is an app's
// installation token, which GET /user refuses with 403 as GitHub does;
// any other is a user's token, which GET /user names.
func WithLogin(login string) Option { return func(s *Server) { s.login = login } }

// Server is the fake API. Its methods are safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	token   string
	login   string
	maxBody int

	mu           sync.Mutex
	comments     []*Comment // in ID order
	nextID       int64
	clock        time.Time
	calls        map[string]int
	requests     []Request
	authFails    int
	beforeCreate func(*http.Request)
	lag          int
	// faults, applied in this order to the next requests
	primary    int
	primaryIn  time.Duration
	secondary  int
	retryAfter int
	fail       int
	failStatus int
	failMethod string
	lose       int
	loseStatus int
	forbidden  bool
	notFound   bool

	pulls pullStore // pulls.go
}

// New starts a fake API and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		token:   DefaultToken,
		login:   DefaultLogin,
		maxBody: MaxBody,
		nextID:  firstCommentID,
		clock:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		calls:   map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	s.routePulls(mux)
	mux.HandleFunc("GET "+BasePath+"repos/{owner}/{repo}/issues/{number}/comments", s.list)
	mux.HandleFunc("POST "+BasePath+"repos/{owner}/{repo}/issues/{number}/comments", s.create)
	mux.HandleFunc("PATCH "+BasePath+"repos/{owner}/{repo}/issues/comments/{id}", s.edit)
	mux.HandleFunc("DELETE "+BasePath+"repos/{owner}/{repo}/issues/comments/{id}", s.remove)
	mux.HandleFunc("GET "+BasePath+"user", s.user)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errBody("Not Found", "https://docs.github.com/rest", nil))
	})
	s.srv = httptest.NewServer(s.middleware(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the API base URL to give the client (GITHUB_API_URL), with a
// trailing slash.
func (s *Server) URL() string { return s.srv.URL + BasePath }

// Token is the token requests must carry.
func (s *Server) Token() string { return s.token }

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// FailNext makes the next n requests answer status (such as 502) without
// doing anything.
func (s *Server) FailNext(n, status int) { s.FailNextOn("", n, status) }

// FailNextOn is FailNext for requests with method only ("" for any).
func (s *Server) FailNextOn(method string, n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.failStatus, s.failMethod = n, status, method
}

// LoseResponses makes the next n writes (POST, PATCH) take effect but
// answer status (such as 504), as when a proxy times out after GitHub has
// done the work; a client that retries blindly duplicates comments.
func (s *Server) LoseResponses(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose, s.loseStatus = n, status
}

// SecondaryRateLimit makes the next n requests answer 403 with GitHub's
// secondary rate limit message and Retry-After: retryAfterSeconds (no
// header if negative).
func (s *Server) SecondaryRateLimit(n, retryAfterSeconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondary, s.retryAfter = n, retryAfterSeconds
}

// PrimaryRateLimit makes the next n requests answer 403 with
// X-RateLimit-Remaining: 0 and a reset resetIn from now.
func (s *Server) PrimaryRateLimit(n int, resetIn time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.primary, s.primaryIn = n, resetIn
}

// Forbidden makes every write answer 403 "Resource not accessible by
// integration", as for a fork's read-only token; reads still work.
func (s *Server) Forbidden(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden = on
}

// NotFound makes every request answer 404, as GitHub does for a private
// repository the token cannot see.
func (s *Server) NotFound(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notFound = on
}

// AddComment stores a comment as if login had written it and returns its ID.
func (s *Server) AddComment(owner, repo string, number int, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(owner, repo, number, login, body).ID
}

// AddComments stores n comments with body by "someone", to push later
// comments onto later pages.
func (s *Server) AddComments(owner, repo string, number, n int, body string) {
	for range n {
		s.AddComment(owner, repo, number, "someone", body)
	}
}

// Comments returns a copy of every stored comment, in ID order.
func (s *Server) Comments() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Comment, len(s.comments))
	for i, c := range s.comments {
		out[i] = *c
	}
	return out
}

// CommentsOn returns a copy of the comments on one issue, in ID order.
func (s *Server) CommentsOn(owner, repo string, number int) []Comment {
	var out []Comment
	for _, c := range s.Comments() {
		if c.Owner == owner && c.Repo == repo && c.Number == number {
			out = append(out, c)
		}
	}
	return out
}

// Request is one request the server received: its method and its path
// below BasePath, such as "repos/o/r/issues/comments/1000001".
type Request struct {
	Method, Path string
}

// Requests returns every request received so far (including failed
// ones), in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// CommentPath is the API path (below BasePath) of the comment with id, as
// Requests reports edits and deletions of it.
func CommentPath(owner, repo string, id int64) string {
	return fmt.Sprintf("repos/%s/%s/issues/comments/%d", owner, repo, id)
}

// BeforeCreate makes every comment creation call f with the request once
// it is validated and before the comment is stored, with no lock held;
// nil removes it. Tests use it to line concurrent posters up.
func (s *Server) BeforeCreate(f func(*http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeCreate = f
}

// ListLag makes listings leave out the newest n comments of each issue,
// as a replica that has not caught up yet would.
func (s *Server) ListLag(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = n
}

// Calls returns how many requests with method the server received
// (including failed ones); "" counts all.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		n := 0
		for _, v := range s.calls {
			n += v
		}
		return n
	}
	return s.calls[method]
}

// AuthFailures returns how many requests carried a missing or wrong token.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFails
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	s.requests = nil
	s.authFails = 0
}

// add stores a comment; s.mu is held. The clock ticks a second per
// comment so created_at orders like IDs.
func (s *Server) add(owner, repo string, number int, login, body string) *Comment {
	s.nextID++
	s.clock = s.clock.Add(time.Second)
	c := &Comment{ID: s.nextID, Owner: owner, Repo: repo, Number: number, Body: body, Login: login, CreatedAt: s.clock, UpdatedAt: s.clock}
	s.comments = append(s.comments, c)
	return c
}

// middleware counts, authenticates and injects faults before routing.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[r.Method]++
		s.requests = append(s.requests, Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, BasePath)})
		auth := r.Header.Get("Authorization")
		if auth != "Bearer "+s.token && auth != "token "+s.token {
			s.authFails++
			s.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, errBody("Bad credentials", "https://docs.github.com/rest", nil))
			return
		}
		h := w.Header()
		h.Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%d", s.calls[r.Method]))
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Used", "1")
		h.Set("X-RateLimit-Remaining", "4999")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		h.Set("X-RateLimit-Resource", "core")
		write := r.Method != http.MethodGet
		switch {
		case s.primary > 0:
			s.primary--
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Used", "5000")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(s.primaryIn).Unix(), 10))
			s.mu.Unlock()
			writeJSON(w, http.StatusForbidden, errBody(primaryRateLimitMsg, "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting", nil))
		case s.secondary > 0:
			s.secondary--
			if s.retryAfter >= 0 {
				h.Set("Retry-After", strconv.Itoa(s.retryAfter))
			}
			s.mu.Unlock()
			writeJSON(w, http.StatusForbidden, errBody(MsgSecondaryRate, DocSecondaryRate, nil))
		case s.fail > 0 && (s.failMethod == "" || s.failMethod == r.Method):
			s.fail--
			st := s.failStatus
			s.mu.Unlock()
			writeJSON(w, st, errBody(http.StatusText(st), "", nil))
		case s.notFound:
			s.mu.Unlock()
			writeJSON(w, http.StatusNotFound, errBody("Not Found", docComments, nil))
		case s.forbidden && write:
			s.mu.Unlock()
			writeJSON(w, http.StatusForbidden, errBody(MsgNotAccessible, docComments+"#create-an-issue-comment", nil))
		case s.lose > 0 && write:
			s.lose--
			st := s.loseStatus
			s.mu.Unlock()
			next.ServeHTTP(httptest.NewRecorder(), r)
			writeJSON(w, st, errBody(http.StatusText(st), "", nil))
		default:
			s.mu.Unlock()
			next.ServeHTTP(w, r)
		}
	})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	owner, repo, number, ok := issuePath(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	perPage, page := defaultPerPage, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusUnprocessableEntity, errBody("Validation Failed", docComments, nil))
			return
		}
		perPage = min(n, maxPerPage)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			n = 1
		}
		page = n
	}
	all := s.CommentsOn(owner, repo, number)
	s.mu.Lock()
	all = all[:max(len(all)-s.lag, 0)]
	s.mu.Unlock()
	last := max((len(all)+perPage-1)/perPage, 1)
	lo := min((page-1)*perPage, len(all))
	hi := min(lo+perPage, len(all))
	out := make([]map[string]any, 0, hi-lo)
	for _, c := range all[lo:hi] {
		out = append(out, toJSON(r, c))
	}
	if last > 1 {
		link := func(p int, rel string) string {
			u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
			v := url.Values{"per_page": {strconv.Itoa(perPage)}, "page": {strconv.Itoa(p)}}
			u.RawQuery = v.Encode()
			return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
		}
		var links []string
		if page > 1 {
			links = append(links, link(min(page-1, last), "prev"))
		}
		if page < last {
			links = append(links, link(page+1, "next"), link(last, "last"))
		}
		if page > 1 {
			links = append(links, link(1, "first"))
		}
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	owner, repo, number, ok := issuePath(w, r)
	if !ok {
		return
	}
	body, ok := commentBody(w, r, "create-an-issue-comment", s.maxBody)
	if !ok {
		return
	}
	s.mu.Lock()
	hook := s.beforeCreate
	s.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	s.mu.Lock()
	c := *s.add(owner, repo, number, s.login, body)
	s.mu.Unlock()
	w.Header().Set("Location", apiURL(r, c))
	writeJSON(w, http.StatusCreated, toJSON(r, c))
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request) {
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusNotFound, errBody("Not Found", docComments+"#update-an-issue-comment", nil))
		return
	}
	body, ok := commentBody(w, r, "update-an-issue-comment", s.maxBody)
	if !ok {
		return
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.comments, func(c *Comment) bool { return c.ID == id && c.Owner == owner && c.Repo == repo })
	if i < 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, errBody("Not Found", docComments+"#update-an-issue-comment", nil))
		return
	}
	c := s.comments[i]
	if c.Login != s.login {
		// GitHub lets an integration edit only its own comments.
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, errBody(MsgNotAccessible, docComments+"#update-an-issue-comment", nil))
		return
	}
	s.clock = s.clock.Add(time.Second)
	c.Body, c.UpdatedAt = body, s.clock
	out := *c
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, toJSON(r, out))
}

// remove deletes a comment: 204, 404 if there is none, 403 if another
// account wrote it (as edit).
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	const doc = docComments + "#delete-an-issue-comment"
	if err != nil {
		writeJSON(w, http.StatusNotFound, errBody("Not Found", doc, nil))
		return
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.comments, func(c *Comment) bool { return c.ID == id && c.Owner == owner && c.Repo == repo })
	switch {
	case i < 0:
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, errBody("Not Found", doc, nil))
	case s.comments[i].Login != s.login:
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, errBody(MsgNotAccessible, doc, nil))
	default:
		s.comments = slices.Delete(s.comments, i, i+1)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// user answers GET /user: the account of a user's token, and 403 for an
// app's installation token, which has no user.
func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	if userType(s.login) == "Bot" {
		writeJSON(w, http.StatusForbidden, errBody(MsgNotAccessible, docUser, nil))
		return
	}
	writeJSON(w, http.StatusOK, userJSON(s.login))
}

func issuePath(w http.ResponseWriter, r *http.Request) (owner, repo string, number int, ok bool) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 {
		writeJSON(w, http.StatusNotFound, errBody("Not Found", docComments, nil))
		return "", "", 0, false
	}
	return r.PathValue("owner"), r.PathValue("repo"), n, true
}

// commentBody decodes {"body": ...} and validates it as GitHub does.
func commentBody(w http.ResponseWriter, r *http.Request, doc string, maxBody int) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("Problems parsing JSON", docComments+"#"+doc, nil))
		return "", false
	}
	switch {
	case in.Body == nil || *in.Body == "":
		writeJSON(w, http.StatusUnprocessableEntity, errBody("Validation Failed", docComments+"#"+doc,
			[]map[string]string{{"resource": "IssueComment", "code": "missing_field", "field": "body"}}))
		return "", false
	case utf8.RuneCountInString(*in.Body) > maxBody:
		writeJSON(w, http.StatusUnprocessableEntity, errBody("Validation Failed", docComments+"#"+doc,
			[]map[string]string{{"resource": "IssueComment", "code": "custom", "field": "body",
				"message": fmt.Sprintf("body is too long (maximum is %d characters)", maxBody)}}))
		return "", false
	}
	return *in.Body, true
}

func apiURL(r *http.Request, c Comment) string {
	return fmt.Sprintf("http://%s%srepos/%s/%s/issues/comments/%d", r.Host, BasePath, c.Owner, c.Repo, c.ID)
}

func toJSON(r *http.Request, c Comment) map[string]any {
	return map[string]any{
		"id":                 c.ID,
		"node_id":            fmt.Sprintf("IC_fake%d", c.ID),
		"url":                apiURL(r, c),
		"html_url":           c.HTMLURL(),
		"issue_url":          fmt.Sprintf("http://%s%srepos/%s/%s/issues/%d", r.Host, BasePath, c.Owner, c.Repo, c.Number),
		"body":               c.Body,
		"user":               userJSON(c.Login),
		"created_at":         c.CreatedAt.Format(time.RFC3339),
		"updated_at":         c.UpdatedAt.Format(time.RFC3339),
		"author_association": "NONE",
	}
}

func userJSON(login string) map[string]any {
	return map[string]any{
		"login": login,
		"id":    len(login) * 1000,
		"type":  userType(login),
	}
}

func userType(login string) string {
	if strings.HasSuffix(login, "[bot]") {
		return "Bot"
	}
	return "User"
}

func errBody(msg, doc string, errs []map[string]string) map[string]any {
	m := map[string]any{"message": msg, "status": ""}
	if doc != "" {
		m["documentation_url"] = doc
	}
	if errs != nil {
		m["errors"] = errs
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if m, ok := v.(map[string]any); ok {
		if _, has := m["status"]; has {
			m["status"] = strconv.Itoa(status)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
