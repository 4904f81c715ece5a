package gittest

import (
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Access is what a request to HTTPHandler may do.
type Access int

// What a token (or no token) may do.
const (
	None  Access = iota // nothing: 401 without a token, 403 with one
	Read                // fetch
	Write               // fetch and push
)

// HTTPHandler serves the bare repositories under root over git's smart
// HTTP protocol, through git http-backend, the way GitHub takes a token:
// HTTP basic authentication whose password is the token. tokens says what
// each token may do, and anonymous what a request without one may do. A
// request without a token that needs more gets 401; a token that is
// unknown or may not do what it asks gets 403.
//
// Only a request allowed to push reaches http-backend with REMOTE_USER
// set, which is what enables receive-pack, so a fault in the check here
// still writes nothing.
func HTTPHandler(t testing.TB, root string, anonymous Access, tokens map[string]Access) http.Handler {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := Read
		if r.URL.Query().Get("service") == "git-receive-pack" || strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			need = Write
		}
		have := anonymous
		_, token, hasAuth := r.BasicAuth()
		if hasAuth {
			have = tokens[token]
		}
		switch {
		case have >= need:
		case !hasAuth:
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		default:
			http.Error(w, "permission denied", http.StatusForbidden)
			return
		}
		env := []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull}
		if have >= Write {
			env = append(env, "REMOTE_USER=x-access-token")
		}
		h := &cgi.Handler{Path: git, Args: []string{"http-backend"}, Env: env}
		h.ServeHTTP(w, r)
	})
}

// MustBare makes a bare repository at dir and returns dir.
func MustBare(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	Must(t, dir, "init", "--quiet", "--bare")
	return dir
}
