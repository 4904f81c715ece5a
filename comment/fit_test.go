package comment_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/natsbench/natsbench-action/comment"
	"github.com/natsbench/natsbench-action/comment/githubtest"
)

// TestBodyLimit checks that a body of exactly BodyLimit bytes, the worst
// case of multibyte text included, is accepted by a server that counts
// characters as GitHub does, and that one byte more is refused before any
// call: the renderer fits, Upsert never cuts.
func TestBodyLimit(t *testing.T) {
	pr := comment.Target{Owner: "octo", Repo: "bench", Number: 42}
	for _, key := range []string{"", "bench/go", strings.Repeat("k", 300)} {
		srv := githubtest.New(t)
		g, err := comment.NewGitHub(srv.URL(), srv.Token(), nil)
		if err != nil {
			t.Fatal(err)
		}
		limit := comment.BodyLimit(key)
		body := strings.Repeat("é", limit/2) + strings.Repeat("a", limit%2)
		if len(body) != limit || !utf8.ValidString(body) {
			t.Fatalf("test body of %d bytes", len(body))
		}
		if _, err := g.Upsert(t.Context(), pr, key, body); err != nil {
			t.Errorf("key %q: a body of BodyLimit bytes: %v", key, err)
		}
		srv.ResetCalls()
		long := strings.Repeat("a", comment.MaxBody)
		if _, err := g.Upsert(t.Context(), pr, key, long); err == nil || !strings.Contains(err.Error(), "BodyLimit") {
			t.Errorf("key %q: a body over the limit: %v, want an error naming BodyLimit", key, err)
		}
		if n := srv.Calls(""); n != 0 {
			t.Errorf("key %q: %d API calls for a body over the limit", key, n)
		}
	}
}
