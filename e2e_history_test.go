package main_test

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/comment/githubtest"
	"github.com/natsbench/natsbench-action/history"
	"github.com/natsbench/natsbench-action/internal/gittest"
	"github.com/natsbench/natsbench-action/internal/testutil"
)

// gitServer is the repository's remote as GitHub serves it: git's own
// smart HTTP (git http-backend) behind a check of the token, sent as
// basic authentication with the user x-access-token. The write token may
// push; the read token may only fetch, like a pull request's token from
// a fork; anything else is refused.
type gitServer struct {
	*httptest.Server
	root                 string // GIT_PROJECT_ROOT
	writeToken, readOnly string
	pushes, denied       atomic.Int32
}

func newGitServer(t *testing.T, writeToken, readOnly string) *gitServer {
	t.Helper()
	exec, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	s := &gitServer{root: t.TempDir(), writeToken: writeToken, readOnly: readOnly}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(exec)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, token, ok := r.BasicAuth()
		push := strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
		switch {
		case !ok || user != "x-access-token" || (token != s.writeToken && token != s.readOnly):
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		case push && token != s.writeToken:
			s.denied.Add(1)
			http.Error(w, "Permission to octo/fixture.git denied to github-actions[bot].", http.StatusForbidden)
			return
		case push && strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
			s.pushes.Add(1)
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// bare makes the bare repository owner/name.git that the server serves.
func (s *gitServer) bare(t *testing.T, owner, name string) string {
	t.Helper()
	dir := filepath.Join(s.root, owner, name+".git")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Must(t, dir, "init", "-q", "--bare", "-b", "main")
	gittest.Must(t, dir, "config", "http.receivepack", "true")
	return dir
}

// records reads the history branch of the bare repository as the action
// would, and returns its records and the branch's tip.
func records(t *testing.T, bare string) ([]history.Record, string) {
	t.Helper()
	tip, err := gittest.Git(bare, "rev-parse", "--verify", "-q", "refs/heads/natsbench-history")
	if err != nil {
		return nil, ""
	}
	dir := t.TempDir()
	gittest.Must(t, dir, "clone", "-q", "--branch", "natsbench-history", bare, "h")
	h, warns, err := history.Load(filepath.Join(dir, "h"), time.Now())
	if err != nil || len(warns) > 0 {
		t.Fatalf("loading the history branch: %v %v", err, warns)
	}
	return h.Records, tip
}

// The history fixture allocates a size that changes on each push to
// main (96, 80, 112 bytes: Go's size classes, so B/op is exact), and the
// pull request allocates twice as much and works three times as long: a
// regression on B/op however noisy the machine.
const historyBench = `package fixture

import "testing"

var (
	sink []byte
	acc  uint64
)

` + fixtureWork + `
func BenchmarkAlloc(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink = make([]byte, allocBytes)
		acc += work(workN)
	}
}
`

func sizes(bytes, n int) string {
	return fmt.Sprintf("package fixture\n\nconst (\n\tallocBytes = %d\n\tworkN      = %d\n)\n", bytes, n)
}

func pushEvent(before, after string) string {
	return fmt.Sprintf(`{"ref": "refs/heads/main", "before": %q, "after": %q, "repository": {"full_name": "octo/fixture", "default_branch": "main"}}`, before, after)
}

// TestActionHistory runs the action binary as GitHub would on a
// repository whose remote is a real git server: three pushes to main
// write three records; two runs at once both land, none twice; a pull
// request reads the history and its comment shows the trend of its
// regression; a read-only token warns, exits 0 and writes nothing.
func TestActionHistory(t *testing.T) {
	gh := githubtest.New(t)
	token := gh.Token()
	const readOnly = "ghs_readonlyforktoken0000000000000000"
	srv := newGitServer(t, token, readOnly)
	bare := srv.bare(t, owner, repo)
	bin := buildAction(t, t.TempDir())

	ws := filepath.Join(testutil.SharedDir(t), "workspace")
	c0 := gittest.MustCommit(t, ws, map[string]string{
		"mod/go.mod":        "module example.com/fixture\n\ngo 1.26\n",
		"mod/bench_test.go": historyBench,
		"mod/sizes.go":      sizes(64, 1000),
		".gitignore":        "natsbench-results/\n",
	}, "initial")
	var pushes []string
	for _, n := range []int{96, 80, 112} {
		pushes = append(pushes, gittest.MustCommit(t, ws, map[string]string{"mod/sizes.go": sizes(n, 1000)}, fmt.Sprintf("allocate %d bytes", n)))
	}
	gittest.Must(t, ws, "push", "-q", bare, "main")
	gittest.Must(t, ws, "remote", "add", "origin", bare)

	in := actionInputs(token)
	in["history"], in["count"], in["benchtime"], in["comment"] = "auto", "6", "2000x", "false"
	vars := func(runID int, ref string) map[string]string {
		return map[string]string{
			"GITHUB_SERVER_URL": srv.URL, "GITHUB_RUN_ID": fmt.Sprint(runID), "GITHUB_RUN_ATTEMPT": "1",
			"GITHUB_REF": ref, "ImageOS": "ubuntu24", "ImageVersion": "20261124.1",
		}
	}
	runURLOf := func(id int) string { return fmt.Sprintf("%s/%s/%s/actions/runs/%d", srv.URL, owner, repo, id) }

	t.Run("three pushes to main, three records", func(t *testing.T) {
		before := c0
		for i, sha := range pushes {
			gittest.Must(t, ws, "checkout", "-q", sha)
			r := runActionEnv(t, bin, ws, gh.URL(), "push", pushEvent(before, sha), in, vars(100+i, "refs/heads/main"))
			r.wantCode(t, 0)
			if strings.Contains(r.stdout, "::warning::history") {
				t.Errorf("push %d: history warning:\n%s", i+1, r.stdout)
			}
			recs, _ := records(t, bare)
			if len(recs) != i+1 {
				t.Fatalf("after push %d: %d records, want %d", i+1, len(recs), i+1)
			}
			got := recs[i]
			if got.SHA != sha || got.Side != history.SideHead || got.Event != "push" || got.Ref != "refs/heads/main" ||
				got.RunURL != runURLOf(100+i) || got.Env.Image != "ubuntu24/20261124.1" || got.Count != 6 || got.Benchtime != "2000x" ||
				got.CommitTime.IsZero() || len(got.Rows) == 0 {
				t.Errorf("record %d: %+v", i+1, got)
			}
			if i == len(pushes)-1 {
				if !strings.Contains(r.summary, "```mermaid\nxychart-beta\n") || !strings.Contains(r.summary, "| Benchmark | Unit | First | Last | Change | Records | Since |") {
					t.Errorf("the job summary has no trends:\n%s", r.summary)
				}
				t.Logf("job summary's trends:\n%s", r.summary[strings.Index(r.summary, "### 📈"):])
			}
			r.noToken(t, token, ws)
			before = sha
		}
		if page, err := os.ReadFile(filepath.Join(ws, "natsbench-results", "index.html")); err != nil || !strings.Contains(string(page), "<svg") {
			t.Errorf("no trend page with charts in output-dir: %v", err)
		}
		// The branch's root has the page, for GitHub Pages.
		if page, err := gittest.Git(bare, "show", "natsbench-history:index.html"); err != nil || !strings.Contains(page, "<svg") || !strings.Contains(page, "Alloc") {
			t.Errorf("no trend page at the history branch's root: %v", err)
		}
	})

	t.Run("two writers at once both land, none twice", func(t *testing.T) {
		before, _ := records(t, bare)
		var wg sync.WaitGroup
		runs := make([]run, 2)
		for i, ev := range []struct{ name, payload string }{
			{"schedule", `{"schedule": "0 3 * * 1", "repository": {"full_name": "octo/fixture", "default_branch": "main"}}`},
			{"workflow_dispatch", `{"ref": "refs/heads/main", "repository": {"full_name": "octo/fixture", "default_branch": "main"}}`},
		} {
			// Each job has a checkout of its own.
			dir := filepath.Join(testutil.SharedDir(t), "ws")
			gittest.Must(t, filepath.Dir(dir), "clone", "-q", ws, dir)
			gittest.Must(t, dir, "checkout", "-q", pushes[2])
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[i] = runActionEnv(t, bin, dir, gh.URL(), ev.name, ev.payload, in, vars(200+i, "refs/heads/main"))
			}()
		}
		wg.Wait()
		for _, r := range runs {
			r.wantCode(t, 0)
			if strings.Contains(r.stdout, "::warning::history") {
				t.Errorf("history warning:\n%s", r.stdout)
			}
		}
		recs, _ := records(t, bare)
		if len(recs) != len(before)+2 {
			t.Fatalf("%d records, want %d", len(recs), len(before)+2)
		}
		ids := map[string]int{}
		for _, rec := range recs {
			ids[rec.ID]++
		}
		for _, id := range []int{200, 201} {
			n := 0
			for k, c := range ids {
				if strings.HasPrefix(k, fmt.Sprintf("%d-1-head-", id)) {
					n += c
				}
			}
			if n != 1 {
				t.Errorf("run %d: %d records, want 1", id, n)
			}
		}
		t.Logf("%d pushes reached the server in all", srv.pushes.Load())
	})

	t.Run("a pull request reads the trend into its comment", func(t *testing.T) {
		before, tip := records(t, bare)
		gittest.Must(t, ws, "checkout", "-q", pushes[2])
		pr := gittest.MustCommit(t, ws, map[string]string{"mod/sizes.go": sizes(224, 3000)}, "pr: twice the bytes, three times the work")
		prIn := maps(in, map[string]string{"comment": "true"})
		r := runActionEnv(t, bin, ws, gh.URL(), "pull_request", prEvent(7, pushes[2]), prIn, vars(300, "refs/pull/7/merge"))
		r.wantCode(t, 0)
		cs := gh.CommentsOn(owner, repo, 7)
		if len(cs) != 1 {
			t.Fatalf("%d comments, want 1", len(cs))
		}
		body := cs[0].Body
		row := regexp.MustCompile(`(?m)^\| 🔴 \| Alloc[^|]* \| B/op \|.*$`).FindString(body)
		if row == "" || !strings.Contains(body, "Trend on the default branch") {
			t.Fatalf("no B/op regression row with a trend in the comment:\n%s", body)
		}
		// B/op on main was 96, 80, 112, 112, 112 (the runtime's own
		// allocations blur them a little): the base, the last push,
		// recorded three times, is the newest of the five records.
		if !regexp.MustCompile(`\| [▁▂▃▄▅▆▇█]{5} base 5/5, [a-z0-9 ]+ of 5 \|$`).MatchString(row) {
			t.Errorf("B/op row's trend: %s", row)
		}
		t.Logf("comment's regression row:\n%s", row)
		after, newTip := records(t, bare)
		if len(after) != len(before) || newTip != tip {
			t.Errorf("the pull request wrote the history: %d records, tip %s → %s", len(after), tip, newTip)
		}
		if !strings.Contains(r.stdout, `history: read only (event "pull_request"`) {
			t.Errorf("the log does not say the history is read only")
		}
		r.noToken(t, token, ws)
		_ = pr
	})

	t.Run("a read-only token warns, exits 0 and writes nothing", func(t *testing.T) {
		before, tip := records(t, bare)
		denied := srv.denied.Load()
		gittest.Must(t, ws, "checkout", "-q", pushes[2])
		roIn := maps(in, map[string]string{"github-token": readOnly, "bench": "Alloc"})
		r := runActionEnv(t, bin, ws, gh.URL(), "push", pushEvent(pushes[1], pushes[2]), roIn, vars(400, "refs/heads/main"))
		r.wantCode(t, 0)
		if !strings.Contains(r.stdout, "::warning::history not written: the token may not push") {
			t.Errorf("no warning about the refused write:\n%s", r.stdout)
		}
		if srv.denied.Load() == denied {
			t.Error("the server never refused a push: was the write attempted with the token?")
		}
		after, newTip := records(t, bare)
		if len(after) != len(before) || newTip != tip {
			t.Errorf("a refused write changed the history: %d → %d records", len(before), len(after))
		}
		if r.outputs["report-json"] == "" || !strings.Contains(r.summary, "natsbench") {
			t.Error("the rest of the run did not happen")
		}
		r.noToken(t, readOnly, ws)
	})
}

// maps returns a copy of base with over applied.
func maps(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
