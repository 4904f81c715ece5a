package gitstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/internal/gittest"
)

const branch = "natsbench-history"

// fast retries: the tests' writers collide on purpose.
var fast = UpdateOptions{Attempts: 60, Backoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

// newBare makes an empty bare repository and returns its path.
func newBare(t *testing.T) string {
	t.Helper()
	return gittest.MustBare(t, filepath.Join(t.TempDir(), "repo.git"))
}

// newHTTP serves a new empty bare repository over smart HTTP and returns
// its URL and path.
func newHTTP(t *testing.T, anonymous gittest.Access, tokens map[string]gittest.Access) (url, bare string) {
	t.Helper()
	root := t.TempDir()
	bare = gittest.MustBare(t, filepath.Join(root, "repo.git"))
	srv := httptest.NewServer(gittest.HTTPHandler(t, root, anonymous, tokens))
	t.Cleanup(srv.Close)
	return srv.URL + "/repo.git", bare
}

// appendLine is an idempotent mutate: it appends line to file unless the
// file holds it already.
func appendLine(file, line string) func(string) error {
	return func(dir string) error {
		p := filepath.Join(dir, file)
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l == line {
				return nil
			}
		}
		return os.WriteFile(p, append(b, line+"\n"...), 0o644)
	}
}

// tip is the branch's tip in the bare repository, or "" when it has none.
func tip(t *testing.T, bare string) string {
	t.Helper()
	out, err := gittest.Git(bare, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

// lines fetches the branch and returns file's lines.
func lines(t *testing.T, r Remote, file string) []string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "read")
	found, err := r.Fetch(t.Context(), dir)
	if err != nil || !found {
		t.Fatalf("Fetch: found=%v err=%v", found, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// assertLinear checks that the branch's history is one line of want
// commits from a single root.
func assertLinear(t *testing.T, bare string, want int) {
	t.Helper()
	out := gittest.Must(t, bare, "rev-list", "--parents", "refs/heads/"+branch)
	commits := strings.Split(out, "\n")
	if len(commits) != want {
		t.Errorf("history has %d commits, want %d:\n%s", len(commits), want, out)
	}
	for i, c := range commits {
		parents := len(strings.Fields(c)) - 1
		if (i < len(commits)-1 && parents != 1) || (i == len(commits)-1 && parents != 0) {
			t.Errorf("commit %d of %d has %d parents: history is not linear from one root:\n%s", i, len(commits), parents, out)
		}
	}
}

func TestFetchMissingBranch(t *testing.T) {
	r := Remote{URL: newBare(t), Branch: branch}
	dir := filepath.Join(t.TempDir(), "d")
	found, err := r.Fetch(t.Context(), dir)
	if err != nil || found {
		t.Fatalf("Fetch = %v, %v; want false, nil", found, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("dir holds %d entries, want none", len(ents))
	}
}

func TestUpdateCreatesThenAppends(t *testing.T) {
	ctx := t.Context()
	bare := newBare(t)
	gittest.MustCommit(t, filepath.Join(t.TempDir(), "code"), map[string]string{"main.go": "package main\n"}, "code")
	r := Remote{URL: bare, Branch: branch, Author: "Tester <tester@example.com>"}

	res, err := r.Update(ctx, filepath.Join(t.TempDir(), "1"), "first", appendLine("2026-12.jsonl", "one"), UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !res.Created || res.Attempts != 1 || res.Commit != tip(t, bare) {
		t.Errorf("first Update = %+v; want a new branch at %s", res, tip(t, bare))
	}
	if got := gittest.Must(t, bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", branch); got != "Tester <tester@example.com>|Tester <tester@example.com>|first" {
		t.Errorf("commit = %q", got)
	}

	dir := filepath.Join(t.TempDir(), "2")
	res, err = r.Update(ctx, dir, "second", appendLine("2026-12.jsonl", "two"), UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Created {
		t.Errorf("second Update = %+v; want a change to an existing branch", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "2026-12.jsonl")); string(b) != "one\ntwo\n" {
		t.Errorf("dir after Update holds %q, want the pushed files", b)
	}

	// The same record again changes nothing and pushes nothing.
	before := tip(t, bare)
	res, err = r.Update(ctx, filepath.Join(t.TempDir(), "3"), "again", appendLine("2026-12.jsonl", "two"), UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || res.Commit != before || tip(t, bare) != before {
		t.Errorf("idempotent Update = %+v, tip %s; want no change at %s", res, tip(t, bare), before)
	}

	if got := lines(t, r, "2026-12.jsonl"); strings.Join(got, ",") != "one,two" {
		t.Errorf("lines = %v", got)
	}
	assertLinear(t, bare, 2)
	// The branch shares nothing with other branches' history.
	if got := gittest.Must(t, bare, "ls-tree", "--name-only", branch); got != "2026-12.jsonl" {
		t.Errorf("branch tree = %q, want only the history file", got)
	}
}

func TestUpdateNothingOnEmptyBranchPushesNothing(t *testing.T) {
	bare := newBare(t)
	r := Remote{URL: bare, Branch: branch}
	res, err := r.Update(t.Context(), t.TempDir(), "nothing", func(string) error { return nil }, UpdateOptions{})
	if err != nil || res.Changed || res.Commit != "" {
		t.Fatalf("Update = %+v, %v; want no change", res, err)
	}
	if tip(t, bare) != "" {
		t.Error("the branch was created with nothing in it")
	}
}

func TestUpdateMutateErrorPushesNothing(t *testing.T) {
	bare := newBare(t)
	r := Remote{URL: bare, Branch: branch}
	boom := errors.New("boom")
	_, err := r.Update(t.Context(), t.TempDir(), "m", func(dir string) error {
		if err := appendLine("f", "x")(dir); err != nil {
			return err
		}
		return boom
	}, UpdateOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if tip(t, bare) != "" {
		t.Error("a failed mutate pushed")
	}
}

func TestUpdateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Remote{URL: newBare(t), Branch: branch}
	if _, err := r.Update(t.Context(), dir, "m", appendLine("f", "x"), UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want a not-empty error", err)
	}
	if _, err := r.Fetch(t.Context(), dir); err == nil {
		t.Fatal("Fetch into a non-empty dir succeeded")
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
		t.Errorf("the caller's file was touched: %q, %v", b, err)
	}
}

func TestBadInputs(t *testing.T) {
	for _, r := range []Remote{
		{URL: "", Branch: branch},
		{URL: "--upload-pack=touch /tmp/x", Branch: branch},
		{URL: "/x", Branch: ""},
		{URL: "/x", Branch: "-f"},
		{URL: "/x", Branch: "a..b"},
		{URL: "/x", Branch: "a b"},
		{URL: "/x", Branch: "refs/heads/x"},
		{URL: "/x", Branch: branch, Author: "no email"},
	} {
		if _, err := r.Update(t.Context(), t.TempDir(), "m", appendLine("f", "x"), UpdateOptions{}); err == nil {
			t.Errorf("Update with %+v succeeded", r)
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	for _, transport := range []string{"bare", "http"} {
		for _, writers := range []int{2, 4} {
			t.Run(fmt.Sprintf("%s/%d", transport, writers), func(t *testing.T) {
				var r Remote
				var bare string
				if transport == "bare" {
					bare = newBare(t)
					r = Remote{URL: bare, Branch: branch}
				} else {
					var url string
					url, bare = newHTTP(t, gittest.None, map[string]gittest.Access{"tok": gittest.Write})
					r = Remote{URL: url, Branch: branch, Token: "tok"}
				}
				// Each writer's record lands once, whether or not the
				// branch existed when the writers started.
				testConcurrent(t, r, bare, writers, "a")
				testConcurrent(t, r, bare, writers, "b")
				got := lines(t, r, "runs.jsonl")
				if len(got) != 2*writers {
					t.Errorf("%d lines, want %d: %v", len(got), 2*writers, got)
				}
				assertLinear(t, bare, 2*writers)
			})
		}
	}
}

func testConcurrent(t *testing.T, r Remote, bare string, writers int, round string) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]Result, writers)
	errs := make([]error, writers)
	for i := range writers {
		dir := filepath.Join(t.TempDir(), "w")
		wg.Go(func() {
			<-start
			line := fmt.Sprintf(`{"writer":%d,"round":%q}`, i, round)
			results[i], errs[i] = r.Update(t.Context(), dir, "record "+line, appendLine("runs.jsonl", line), fast)
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if !results[i].Changed {
			t.Errorf("writer %d: %+v, want a change", i, results[i])
		}
		total += results[i].Attempts
	}
	t.Logf("round %s: %d writers took %d attempts in all", round, writers, total)
	seen := map[string]int{}
	for _, l := range lines(t, r, "runs.jsonl") {
		seen[l]++
	}
	for i := range writers {
		line := fmt.Sprintf(`{"writer":%d,"round":%q}`, i, round)
		if seen[line] != 1 {
			t.Errorf("record of writer %d in round %s appears %d times", i, round, seen[line])
		}
	}
}

// TestRetryAfterLostRace makes the race happen for sure: the first call of
// mutate lets another writer push before it returns.
func TestRetryAfterLostRace(t *testing.T) {
	for _, created := range []bool{false, true} {
		t.Run(fmt.Sprintf("branch existed=%v", created), func(t *testing.T) {
			bare := newBare(t)
			r := Remote{URL: bare, Branch: branch}
			want := 2
			if created {
				if _, err := r.Update(t.Context(), t.TempDir(), "seed", appendLine("f", "seed"), UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				want = 3
			}
			calls := 0
			mutate := func(dir string) error {
				calls++
				if calls == 1 {
					if _, err := r.Update(t.Context(), t.TempDir(), "other", appendLine("f", "other"), UpdateOptions{}); err != nil {
						return err
					}
				}
				return appendLine("f", "mine")(dir)
			}
			res, err := r.Update(t.Context(), t.TempDir(), "mine", mutate, UpdateOptions{Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Attempts != 2 || calls != 2 || !res.Changed || res.Created {
				t.Errorf("Update = %+v after %d calls of mutate; want a change on the second attempt", res, calls)
			}
			got := strings.Join(lines(t, r, "f"), ",")
			if (created && got != "seed,other,mine") || (!created && got != "other,mine") {
				t.Errorf("lines = %s", got)
			}
			assertLinear(t, bare, want)

			// With one attempt only, the lost race is ErrConflict and
			// nothing of this writer's lands.
			calls = 0
			before := tip(t, bare)
			_, err = r.Update(t.Context(), t.TempDir(), "mine", func(dir string) error {
				calls++
				if _, err := r.Update(t.Context(), t.TempDir(), "other", appendLine("f", "other2"), UpdateOptions{}); err != nil {
					return err
				}
				return appendLine("f", "mine2")(dir)
			}, UpdateOptions{Attempts: 1})
			if !errors.Is(err, ErrConflict) || errors.Is(err, ErrDenied) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
			if tip(t, bare) == before || strings.Contains(strings.Join(lines(t, r, "f"), ","), "mine2") {
				t.Error("want the other writer's commit and not this one's")
			}
		})
	}
}

func TestHTTPAccess(t *testing.T) {
	const good, readOnly, wrong = "ghs_good", "ghs_readonly", "ghs_wrong"
	tokens := map[string]gittest.Access{good: gittest.Write, readOnly: gittest.Read}
	for _, tc := range []struct {
		name      string
		anonymous gittest.Access
		token     string
		readErr   error // nil: the read works
		writeErr  error // nil: the write lands
	}{
		{"public repo, no token", gittest.Read, "", nil, ErrDenied},
		{"public repo, wrong token", gittest.Read, wrong, ErrDenied, ErrDenied},
		{"private repo, no token", gittest.None, "", ErrDenied, ErrDenied},
		{"read-only token", gittest.None, readOnly, nil, ErrDenied},
		{"write token", gittest.None, good, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, bare := newHTTP(t, tc.anonymous, tokens)
			// The branch exists, so that a read has something to read.
			seed := Remote{URL: url, Branch: branch, Token: good}
			if _, err := seed.Update(t.Context(), t.TempDir(), "seed", appendLine("f", "seed"), UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			before := tip(t, bare)

			r := Remote{URL: url, Branch: branch, Token: tc.token}
			found, err := r.Fetch(t.Context(), t.TempDir())
			if !errors.Is(err, tc.readErr) || (tc.readErr == nil && !found) {
				t.Errorf("Fetch = %v, %v; want found and error %v", found, err, tc.readErr)
			}
			_, err = r.Update(t.Context(), t.TempDir(), "write", appendLine("f", "new"), UpdateOptions{Attempts: 3, Backoff: time.Millisecond})
			if !errors.Is(err, tc.writeErr) || (tc.writeErr == nil && err != nil) {
				t.Fatalf("Update error = %v, want %v", err, tc.writeErr)
			}
			if err != nil {
				if tip(t, bare) != before {
					t.Error("a denied write moved the branch")
				}
				assertNoSecret(t, err.Error(), tc.token)
				return
			}
			if got := lines(t, seed, "f"); strings.Join(got, ",") != "seed,new" {
				t.Errorf("lines = %v, want the write to land", got)
			}
		})
	}
}

// TestRetryAfterServerError fails the first push with a 502, as GitHub
// sometimes does, and sees the second attempt land.
func TestRetryAfterServerError(t *testing.T) {
	root := t.TempDir()
	bare := gittest.MustBare(t, filepath.Join(root, "repo.git"))
	git := gittest.HTTPHandler(t, root, gittest.Write, nil)
	var failed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") && !failed.Swap(true) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		git.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	r := Remote{URL: srv.URL + "/repo.git", Branch: branch}
	res, err := r.Update(t.Context(), t.TempDir(), "m", appendLine("f", "x"), UpdateOptions{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !failed.Load() || res.Attempts != 2 || !res.Changed || tip(t, bare) != res.Commit {
		t.Errorf("Update = %+v; want the second attempt to land", res)
	}
}

func TestProtectedBranchHookDenied(t *testing.T) {
	bare := newBare(t)
	r := Remote{URL: bare, Branch: branch}
	if _, err := r.Update(t.Context(), t.TempDir(), "seed", appendLine("f", "seed"), UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := tip(t, bare)
	hook := "#!/bin/sh\necho 'error: GH006: Protected branch update failed for refs/heads/" + branch + ".' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := r.Update(t.Context(), t.TempDir(), "write", appendLine("f", "new"), UpdateOptions{})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	if !strings.Contains(err.Error(), "Protected branch") {
		t.Errorf("err = %v, want the remote's reason", err)
	}
	if tip(t, bare) != before {
		t.Error("a declined push moved the branch")
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := Remote{URL: newBare(t), Branch: branch}
	if _, err := r.Fetch(ctx, t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch err = %v, want context.Canceled", err)
	}
	if _, err := r.Update(ctx, t.TempDir(), "m", appendLine("f", "x"), UpdateOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Update err = %v, want context.Canceled", err)
	}
}

// secrets are the forms of the token that must never show.
func secrets(token string) []string {
	return []string{token,
		base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token)),
		base64.StdEncoding.EncodeToString([]byte(token))}
}

func assertNoSecret(t *testing.T, text, token string) {
	t.Helper()
	if token == "" {
		return
	}
	for _, s := range secrets(token) {
		if strings.Contains(text, s) {
			t.Errorf("text shows the token (as %q): %s", s, text)
		}
	}
}

// TestTokenStaysInTheOneCommand runs git through a wrapper that records
// each command's arguments and whether its environment holds the token,
// and searches every file git left behind, after each command, for the
// token. The remote is hostile: it echoes the Authorization header back in
// its error page, which git prints.
func TestTokenStaysInTheOneCommand(t *testing.T) {
	const token = "ghs_SECRETtoken123"
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the git directories go
	work := filepath.Join(t.TempDir(), "work")
	log := filepath.Join(t.TempDir(), "log")
	wrapper := filepath.Join(t.TempDir(), "git")
	script := `#!/bin/sh
tok=no
env | grep -qF "` + secrets(token)[1] + `" && tok=yes
printf '%s\t%s\n' "$tok" "$*" >> ` + log + `
git "$@"
rc=$?
grep -rlF -e "` + token + `" -e "` + secrets(token)[1] + `" ` + tmp + " " + work + ` >> ` + log + `.leaks 2>/dev/null
exit $rc
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	gittest.MustBare(t, filepath.Join(root, "repo.git"))
	git := gittest.HTTPHandler(t, root, gittest.None, map[string]gittest.Access{token: gittest.Write})
	var fail sync.Map // path prefix → status to answer with instead
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, ok := fail.Load("all"); ok {
			w.WriteHeader(code.(int))
			fmt.Fprintf(w, "error: you sent %s", r.Header.Get("Authorization"))
			return
		}
		git.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	r := Remote{URL: srv.URL + "/repo.git", Branch: branch, Token: token, Git: wrapper}

	if _, err := r.Update(t.Context(), work, "m", appendLine("f", "x"), UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError} {
		fail.Store("all", code)
		for _, op := range []string{"fetch", "update"} {
			if err := os.RemoveAll(work); err != nil {
				t.Fatal(err)
			}
			var err error
			if op == "fetch" {
				_, err = r.Fetch(t.Context(), work)
			} else {
				_, err = r.Update(t.Context(), work, "m", appendLine("f", "y"), UpdateOptions{Attempts: 2, Backoff: time.Millisecond})
			}
			if err == nil {
				t.Fatalf("%s against a server answering %d succeeded", op, code)
			}
			if code != http.StatusInternalServerError && !errors.Is(err, ErrDenied) {
				t.Errorf("%s against %d: %v, want ErrDenied", op, code, err)
			}
			t.Logf("%s against %d: %v", op, code, err)
			assertNoSecret(t, err.Error(), token)
		}
	}

	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, string(b), token)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		tok, args, _ := strings.Cut(line, "\t")
		talks := strings.Contains(args, " fetch ") || strings.Contains(args, " push ")
		if (tok == "yes") != talks {
			t.Errorf("token in env = %s for: %s", tok, args)
		}
	}
	if leaks, _ := os.ReadFile(log + ".leaks"); len(leaks) > 0 {
		t.Errorf("files on disk hold the token:\n%s", leaks)
	}
}

// TestIgnoresAmbientGit puts in the way what a runner may hold: a global
// config with a credential helper and a URL rewrite, GIT_DIR pointing at a
// workspace whose config carries actions/checkout's persisted header, and
// GIT_CONFIG_PARAMETERS. None of it may be used.
func TestIgnoresAmbientGit(t *testing.T) {
	const persisted = "ghs_persisted"
	url, bare := newHTTP(t, gittest.None, map[string]gittest.Access{persisted: gittest.Write})
	home := t.TempDir()
	called := filepath.Join(home, "helper-called")
	header := "AUTHORIZATION: basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+persisted))
	gitconfig := "[credential]\n\thelper = \"!f() { touch " + called + "; echo username=x-access-token; echo password=" + persisted + "; }; f\"\n" +
		"[http]\n\textraheader = " + header + "\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(gitconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	workspace := filepath.Join(t.TempDir(), "workspace")
	gittest.MustCommit(t, workspace, map[string]string{"a": "a"}, "code")
	gittest.Must(t, workspace, "config", "http.extraheader", header)
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_DIR", filepath.Join(workspace, ".git"))
	t.Setenv("GIT_CONFIG_PARAMETERS", "'http.extraheader'='"+header+"'")
	t.Chdir(workspace)

	r := Remote{URL: url, Branch: branch}
	_, err := r.Update(t.Context(), t.TempDir(), "m", appendLine("f", "x"), UpdateOptions{Attempts: 1})
	// The checks below run git themselves; t.Setenv restores these after.
	os.Unsetenv("GIT_DIR")
	os.Unsetenv("GIT_CONFIG_PARAMETERS")
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("Update without a token = %v; want ErrDenied, not a borrowed credential", err)
	}
	if _, err := os.Stat(called); err == nil {
		t.Error("the user's credential helper was called")
	}
	if tip(t, bare) != "" {
		t.Error("a write landed with a borrowed credential")
	}
	if got := gittest.Must(t, workspace, "rev-list", "--count", "HEAD"); got != "1" {
		t.Errorf("the workspace repository changed: %s commits", got)
	}
}

func TestTidy(t *testing.T) {
	in := "remote: a\r\x1b[31mred\nhint: skip me\n\nTo /x\nfatal: b\n" + strings.Repeat("x", 3000)
	got := tidy(in)
	if strings.ContainsAny(got, "\n\r\x1b") || !strings.HasPrefix(got, "remote: a  [31mred; fatal: b; x") || len(got) > maxOutput+len("…") {
		t.Errorf("tidy = %q", got)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want error
	}{
		{"remote: Permission to o/r.git denied to github-actions[bot].\nfatal: unable to access 'https://github.com/o/r.git/': The requested URL returned error: 403", ErrDenied},
		{"fatal: could not read Username for 'https://github.com': terminal prompts disabled", ErrDenied},
		{"remote: error: GH006: Protected branch update failed for refs/heads/h.\n!\tabc:refs/heads/h\t[remote rejected] (protected branch hook declined)", ErrDenied},
		{"!\tabc:refs/heads/h\t[remote rejected] (push declined due to repository rule violations)", ErrDenied},
		{"!\tabc:refs/heads/h\t[rejected] (fetch first)", errRace},
		{"!\tabc:refs/heads/h\t[rejected] (non-fast-forward)", errRace},
		{"!\tabc:refs/heads/h\t[remote rejected] (cannot lock ref 'refs/heads/h': is at 1 but expected 2)", errRace},
		{"!\tabc:refs/heads/h\t[remote rejected] (failed to update ref)", errRace},
		{"fatal: unable to access 'https://x/': Could not resolve host: x", nil},
		{"fatal: unable to access 'https://x/': The requested URL returned error: 502", errTransient},
		{"error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500\nsend-pack: unexpected disconnect while reading sideband packet\nfatal: the remote end hung up unexpectedly", errTransient},
	} {
		if got := classify(tc.out); got != tc.want {
			t.Errorf("classify(%q) = %v, want %v", tc.out, got, tc.want)
		}
	}
}
