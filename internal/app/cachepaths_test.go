package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"
)

// cacheEnv is this process's environment with the Go caches moved to
// gocache and gomodcache.
func cacheEnv(t *testing.T, gocache, gomodcache string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOCACHE=") || strings.HasPrefix(kv, "GOMODCACHE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOCACHE="+gocache, "GOMODCACHE="+gomodcache)
}

func TestGoCachePathsAsksTheGoCommand(t *testing.T) {
	tmp := t.TempDir()
	wantCache, wantMod := filepath.Join(tmp, "build"), filepath.Join(tmp, "mod")
	gocache, gomodcache, err := goCachePaths(context.Background(), tmp, cacheEnv(t, wantCache, wantMod))
	if err != nil {
		t.Fatal(err)
	}
	if gocache != wantCache || gomodcache != wantMod {
		t.Errorf("goCachePaths = %q, %q; want %q, %q", gocache, gomodcache, wantCache, wantMod)
	}
}

func TestGoCachePathsReportsAFailure(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, _, err := goCachePaths(context.Background(), missing, nil)
	if err == nil || !strings.Contains(err.Error(), "reading the Go cache paths") {
		t.Errorf("goCachePaths in a missing directory: err = %v, want a reading the Go cache paths error", err)
	}
}

func TestRunnerCachePath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/github/home/.cache/go-build", "${{ runner.temp }}/_github_home/.cache/go-build", true},
		{"/github/home/go/pkg/mod", "${{ runner.temp }}/_github_home/go/pkg/mod", true},
		{"/go/pkg/mod", "", false},
		{"/github/homework/x", "", false},
		{"/github/home", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := runnerCachePath(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("runnerCachePath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestLogGoCachePathsPrintsAGroup(t *testing.T) {
	noEnv := func(k string) string {
		t.Errorf("read environment variable %q", k)
		return ""
	}
	t.Run("found", func(t *testing.T) {
		var out bytes.Buffer
		a := githubactions.New(githubactions.WithGetenv(noEnv), githubactions.WithWriter(&out))
		tmp := t.TempDir()
		gocache, gomodcache := logGoCachePaths(context.Background(), a, tmp, cacheEnv(t, "/github/home/.cache/go-build", filepath.Join(tmp, "mod")))
		// Only a cache in the container's HOME becomes the benchmarks':
		// another (root's own, in tests) is never given away.
		if gocache != "/github/home/.cache/go-build" || gomodcache != "" {
			t.Errorf("returned %q, %q; want the GOCACHE in /github/home only", gocache, gomodcache)
		}
		got := out.String()
		for _, want := range []string{
			"::group::Go caches\n",
			"GOCACHE=/github/home/.cache/go-build (actions/cache path: ${{ runner.temp }}/_github_home/.cache/go-build)\n",
			"GOMODCACHE=" + filepath.Join(tmp, "mod") + " (outside /github/home: not kept across runs)\n",
			"::endgroup::\n",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("output lacks %q:\n%s", want, got)
			}
		}
	})
	t.Run("failure", func(t *testing.T) {
		var out bytes.Buffer
		a := githubactions.New(githubactions.WithGetenv(noEnv), githubactions.WithWriter(&out))
		if c, m := logGoCachePaths(context.Background(), a, filepath.Join(t.TempDir(), "missing"), nil); c != "" || m != "" {
			t.Errorf("returned %q, %q without go env's answer", c, m)
		}
		got := out.String()
		if !strings.Contains(got, "::warning::reading the Go cache paths") || !strings.HasSuffix(got, "::endgroup::\n") {
			t.Errorf("want a warning inside the group, got:\n%s", got)
		}
	})
}
