package githubtest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Pull is a stored pull request: what post mode reads back to learn which
// pull request a workflow run measured.
type Pull struct {
	Owner, Repo string // the base repository
	Number      int
	HeadSHA     string
	HeadRepo    string // owner/name of the head's repository (a fork's)
	HeadBranch  string
	State       string // "open" unless set
}

// pullStore holds the pull requests; it has its own lock so that the
// comment endpoints' state stays apart.
type pullStore struct {
	mu    sync.Mutex
	pulls []Pull
	reads map[string]int // by endpoint: "get", "list", "commit"
}

// AddPull stores a pull request for the pull request endpoints.
func (s *Server) AddPull(p Pull) {
	if p.State == "" {
		p.State = "open"
	}
	s.pulls.mu.Lock()
	defer s.pulls.mu.Unlock()
	s.pulls.pulls = append(s.pulls.pulls, p)
}

// PullReads counts the calls of one pull request endpoint: "get"
// (GET .../pulls/{n}), "list" (GET .../pulls) or "commit"
// (GET .../commits/{sha}/pulls).
func (s *Server) PullReads(endpoint string) int {
	s.pulls.mu.Lock()
	defer s.pulls.mu.Unlock()
	return s.pulls.reads[endpoint]
}

// routePulls mounts the pull request endpoints on mux.
func (s *Server) routePulls(mux *http.ServeMux) {
	mux.HandleFunc("GET "+BasePath+"repos/{owner}/{repo}/pulls/{number}", s.getPull)
	mux.HandleFunc("GET "+BasePath+"repos/{owner}/{repo}/pulls", s.listPulls)
	mux.HandleFunc("GET "+BasePath+"repos/{owner}/{repo}/commits/{sha}/pulls", s.commitPulls)
}

func (s *Server) countRead(endpoint string) {
	s.pulls.mu.Lock()
	defer s.pulls.mu.Unlock()
	if s.pulls.reads == nil {
		s.pulls.reads = map[string]int{}
	}
	s.pulls.reads[endpoint]++
}

// selectPulls returns the stored pull requests of the request's repository
// that keep says to.
func (s *Server) selectPulls(r *http.Request, keep func(Pull) bool) []map[string]any {
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	s.pulls.mu.Lock()
	defer s.pulls.mu.Unlock()
	out := []map[string]any{}
	for _, p := range s.pulls.pulls {
		if strings.EqualFold(p.Owner, owner) && strings.EqualFold(p.Repo, repo) && keep(p) {
			out = append(out, pullJSON(r, p))
		}
	}
	return out
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	s.countRead("get")
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, errBody("Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", nil))
		return
	}
	got := s.selectPulls(r, func(p Pull) bool { return p.Number == n })
	if len(got) == 0 {
		writeJSON(w, http.StatusNotFound, errBody("Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", nil))
		return
	}
	writeJSON(w, http.StatusOK, got[0])
}

// listPulls answers GET .../pulls with GitHub's state and head
// ("user:branch") filters.
func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	s.countRead("list")
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	head := r.URL.Query().Get("head")
	writeJSON(w, http.StatusOK, s.selectPulls(r, func(p Pull) bool {
		if state != "all" && p.State != state {
			return false
		}
		if head == "" {
			return true
		}
		user, branch, _ := strings.Cut(head, ":")
		owner, _, _ := strings.Cut(p.HeadRepo, "/")
		return strings.EqualFold(owner, user) && p.HeadBranch == branch
	}))
}

// commitPulls answers GET .../commits/{sha}/pulls: the pull requests
// whose head is the commit.
func (s *Server) commitPulls(w http.ResponseWriter, r *http.Request) {
	s.countRead("commit")
	sha := r.PathValue("sha")
	writeJSON(w, http.StatusOK, s.selectPulls(r, func(p Pull) bool { return p.HeadSHA == sha }))
}

// pullJSON is p as GitHub's API shows a pull request (the fields clients
// read).
func pullJSON(r *http.Request, p Pull) map[string]any {
	base := p.Owner + "/" + p.Repo
	headOwner, _, _ := strings.Cut(p.HeadRepo, "/")
	return map[string]any{
		"number":   p.Number,
		"state":    p.State,
		"html_url": "https://github.com/" + base + "/pull/" + strconv.Itoa(p.Number),
		"url":      "http://" + r.Host + BasePath + "repos/" + base + "/pulls/" + strconv.Itoa(p.Number),
		"head": map[string]any{
			"ref":  p.HeadBranch,
			"sha":  p.HeadSHA,
			"repo": map[string]any{"full_name": p.HeadRepo, "owner": map[string]any{"login": headOwner}},
		},
		"base": map[string]any{
			"ref":  "main",
			"repo": map[string]any{"full_name": base, "owner": map[string]any{"login": p.Owner}},
		},
	}
}
