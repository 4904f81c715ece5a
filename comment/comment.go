// Package comment posts the benchmark report as one sticky pull request
// comment per key, edited in place on every run (only the token's own
// comments count, and duplicates are removed), and writes the job summary
// and step outputs. It talks to the GitHub REST API through go-github,
// retrying what GitHub asks to be retried (5xx, rate limits) and reporting a
// read-only token as ErrPermission so the caller can fall back to the job
// summary.
package comment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// Target names the pull request (or issue) to comment on.
type Target struct {
	Owner, Repo string
	Number      int
}

// String formats t as owner/repo#number.
func (t Target) String() string { return fmt.Sprintf("%s/%s#%d", t.Owner, t.Repo, t.Number) }

// Poster creates or updates the sticky comment for key on t and returns its
// URL.
type Poster interface {
	Upsert(ctx context.Context, t Target, key, body string) (url string, err error)
}

var _ Poster = (*GitHub)(nil)

// ErrPermission reports that the token may not comment (403/404 that is not
// a rate limit), as with a fork's read-only GITHUB_TOKEN. Callers fall back
// to the job summary and warn with ForkAdvice.
var ErrPermission = errors.New("no permission to comment (read-only token?)")

// ForkAdvice tells how to get comments on pull requests from forks, whose
// workflows get a read-only token.
const ForkAdvice = "Pull requests from forks get a read-only GITHUB_TOKEN, so the report is only in the job summary. " +
	"To comment on them, use two workflows: the pull_request workflow runs this action and uploads its output-dir with actions/upload-artifact; " +
	"a second workflow on workflow_run (which has a write token) downloads that artifact and runs this action with mode: post and report: set to the downloaded report.json (or its directory) to post it. " +
	"See the README's \"Forks\" section."

// DefaultAPIURL is used when GITHUB_API_URL is empty.
const DefaultAPIURL = "https://api.github.com/"

// Retry defaults; see the GitHub fields of the same names.
const (
	DefaultMaxAttempts      = 5
	DefaultMaxWait          = 3 * time.Minute
	DefaultMaxRateLimitWait = time.Minute
)

// maxPages bounds the comment lookup (100 per page: 10,000 comments).
const maxPages = 100

// GitHub is a Poster on the GitHub REST API (github.com or Enterprise
// Server). Its exported fields tune retries; set them before first use.
// After that it is safe for concurrent use.
type GitHub struct {
	// Sleep waits for d or until ctx is done; tests replace it so they
	// don't wait. Nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now tells the time, to know how long to wait for a rate limit reset.
	// Nil means time.Now.
	Now func() time.Time
	// MaxAttempts bounds the tries of one API call (0: DefaultMaxAttempts).
	MaxAttempts int
	// MaxWait bounds the total time one Upsert may spend waiting between
	// tries (0: DefaultMaxWait).
	MaxWait time.Duration
	// MaxRateLimitWait is the longest wait for the primary rate limit to
	// reset; a later reset gives up at once (0: DefaultMaxRateLimitWait).
	MaxRateLimitWait time.Duration
	// BotLogin is the account assumed for a token that may not read GET
	// /user, as no installation token may (empty: DefaultBotLogin, the
	// GITHUB_TOKEN's). Set it to "<app-slug>[bot]" for a GitHub App's
	// token. A wrong guess costs one extra comment, deleted again, per run.
	BotLogin string

	idMu sync.Mutex
	id   Identity // the token's account, once known

	base   *url.URL
	hc     *http.Client        // adds the Authorization header
	redact func(string) string // hides the token, should any error carry it
}

// NewGitHub returns a GitHub for the API at apiURL (GITHUB_API_URL, such as
// https://api.github.com or https://ghe.example.com/api/v3; empty means
// github.com) authenticated with token. hc may be nil. The token is kept out
// of errors and of the value's printed form.
func NewGitHub(apiURL, token string, hc *http.Client) (*GitHub, error) {
	if strings.TrimSpace(apiURL) == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := apiURL
		if token != "" {
			shown = strings.ReplaceAll(shown, token, "***")
		}
		return nil, fmt.Errorf("github api url %q: want an absolute http(s) URL such as %s", shown, DefaultAPIURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Not shown: the extra part may be a credential.
		return nil, errors.New("github api url: must not carry credentials, a query or a fragment")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if token == "" {
		return nil, errors.New("github token is empty")
	}
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	authed := *hc
	next := authed.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	authed.Transport = authTransport(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
		return next.RoundTrip(r)
	})
	return &GitHub{
		base: u,
		hc:   &authed,
		redact: func(s string) string {
			return strings.ReplaceAll(s, token, "***")
		},
	}, nil
}

// authTransport is an http.RoundTripper func; a func value keeps the token
// it captures out of %v output.
type authTransport func(*http.Request) (*http.Response, error)

func (f authTransport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// String describes g without its token.
func (g *GitHub) String() string { return "comment.GitHub{" + g.base.String() + "}" }

// GoString describes g without its token.
func (g *GitHub) GoString() string { return g.String() }

// client returns a fresh go-github client. One per try, because go-github
// remembers a rate limit and refuses locally until it passes; we have
// already waited (maybe through an injected Sleep), so that memory would
// only fail the retry.
func (g *GitHub) client() *github.Client {
	c := github.NewClient(g.hc)
	base := *g.base
	c.BaseURL = &base
	c.UserAgent = "natsbench-action"
	return c
}

// KeyMarker returns the hidden HTML comment that identifies the sticky
// comment for key. The key is percent-encoded (so distinct keys stay
// distinct and nothing can close the HTML comment) and long keys are
// shortened with a hash.
func KeyMarker(key string) string {
	return "<!-- natsbench-action:key=" + sanitizeKey(key) + " -->"
}

func sanitizeKey(key string) string {
	if key == "" {
		key = "default"
	}
	const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~/:"
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		if c := key[i]; strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	const max = 128
	if len(s) > max {
		sum := sha256.Sum256([]byte(key))
		p := s[:64]
		if i := strings.LastIndexByte(p, '%'); i >= len(p)-2 {
			p = p[:i] // don't leave half an escape
		}
		s = p + "~" + hex.EncodeToString(sum[:8])
	}
	return s
}

// withMarker puts the key marker first.
func withMarker(marker, body string) string {
	body = strings.Replace(body, marker+"\n", "", 1)
	return marker + "\n" + body
}

// Upsert makes sure the pull request t has exactly one comment of ours for
// key with the given body. Ours means written by the token's account (see
// Identity) and starting with KeyMarker(key); a marker in anyone else's
// comment is ignored and that comment never touched. It edits the oldest of
// ours in place and deletes any others, or creates one. After creating it
// lists again: a poster running at the same time may have created one too,
// and both then keep the oldest, with their body, and delete the rest. The
// body must fit BodyLimit(key): a longer one is an error, before any call.
// It returns the comment's html_url.
func (g *GitHub) Upsert(ctx context.Context, t Target, key, body string) (string, error) {
	if t.Owner == "" || t.Repo == "" || t.Number <= 0 {
		return "", fmt.Errorf("upserting comment: invalid target %q: want owner, repo and a positive number", t.String())
	}
	marker := KeyMarker(key)
	full := withMarker(marker, body)
	if n := utf8.RuneCountInString(full); n > MaxBody {
		return "", fmt.Errorf("upserting comment: the body with its marker has %d characters, over GitHub's %d: fit it to BodyLimit", n, MaxBody)
	}
	left := g.MaxWait
	if left <= 0 {
		left = DefaultMaxWait
	}
	me, err := g.identity(ctx, &left)
	if err != nil {
		return "", g.clean(fmt.Errorf("finding the comment for key %q on %s: %w", key, t, err))
	}
	ours, err := g.find(ctx, &left, t, marker, me, 0)
	if err != nil {
		return "", g.clean(fmt.Errorf("finding the comment for key %q on %s: %w", key, t, err))
	}
	var existing int64
	if len(ours) > 0 {
		existing = ours[0]
	}
	write := func(b string) (*github.IssueComment, error) {
		ic := &github.IssueComment{Body: github.String(b)}
		var out *github.IssueComment
		if existing != 0 {
			err := g.do(ctx, &left, 0, func(ctx context.Context, c *github.Client) (*github.Response, error) {
				var resp *github.Response
				var err error
				out, resp, err = c.Issues.EditComment(ctx, t.Owner, t.Repo, existing, ic)
				return resp, err
			})
			if err == nil {
				return out, nil
			}
			if !errors.Is(err, ErrPermission) {
				return nil, fmt.Errorf("updating comment %d on %s: %w", existing, t, err)
			}
			// Deleted since we listed it (404), or refused (403): create
			// one, which settle reconciles with any other. A token that
			// can't comment at all fails the create the same way.
			existing = 0
		}
		var prev error
		err := g.do(ctx, &left, 0, func(ctx context.Context, c *github.Client) (resp *github.Response, err error) {
			defer func() { prev = err }()
			if ambiguous(prev) {
				// The last create may have landed: look before posting again.
				ids, err := g.find(ctx, &left, t, marker, me, 1)
				if err != nil {
					return nil, err
				}
				if len(ids) > 0 {
					out, resp, err = c.Issues.EditComment(ctx, t.Owner, t.Repo, ids[0], ic)
					return resp, err
				}
			}
			out, resp, err = c.Issues.CreateComment(ctx, t.Owner, t.Repo, t.Number, ic)
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("creating comment on %s: %w", t, err)
		}
		return out, nil
	}
	out, err := write(full)
	if err != nil {
		return "", g.clean(err)
	}
	if existing != 0 {
		// The oldest of ours is up to date; the others are duplicates
		// that an earlier race left.
		g.remove(ctx, &left, t, ours[1:])
		return out.GetHTMLURL(), nil
	}
	return g.settle(ctx, &left, t, marker, out).GetHTMLURL(), nil
}

// settle reconciles out, the comment just written by the create path, with
// any other of ours for marker: a concurrent poster may have created one
// too. It lists again, gives the oldest out's body and deletes the others,
// so that racing posters agree on the survivor (ids only grow) and end with
// one comment. It returns the survivor. It is best effort: on a failure the
// duplicate stays, and the next run's Upsert deletes it.
func (g *GitHub) settle(ctx context.Context, left *time.Duration, t Target, marker string, out *github.IssueComment) *github.IssueComment {
	// The author of a comment we just made is certainly us, where Identity
	// may have had to assume.
	me := g.learn(out.GetUser().GetLogin())
	ours, err := g.find(ctx, left, t, marker, me, 0)
	if err != nil {
		return out
	}
	// A listing may lag behind a create; ours is ours all the same.
	ours = append(ours, out.GetID())
	slices.Sort(ours)
	ours = slices.Compact(ours)
	keep := ours[0]
	if keep != out.GetID() {
		var kept *github.IssueComment
		err := g.do(ctx, left, 0, func(ctx context.Context, c *github.Client) (resp *github.Response, err error) {
			kept, resp, err = c.Issues.EditComment(ctx, t.Owner, t.Repo, keep, &github.IssueComment{Body: github.String(out.GetBody())})
			return resp, err
		})
		if err != nil {
			return out
		}
		out = kept
	}
	g.remove(ctx, left, t, slices.DeleteFunc(ours, func(id int64) bool { return id == keep }))
	return out
}

// remove deletes the comments ids, which must be ours. It is best effort:
// one already gone (a concurrent poster deleted it) is what we wanted, and
// one left is deleted by the next run.
func (g *GitHub) remove(ctx context.Context, left *time.Duration, t Target, ids []int64) {
	for _, id := range ids {
		_ = g.do(ctx, left, 0, func(ctx context.Context, c *github.Client) (*github.Response, error) {
			return c.Issues.DeleteComment(ctx, t.Owner, t.Repo, id)
		})
	}
}

// find returns the IDs of our comments for marker, oldest first: those
// written by me that start with the marker, as we write it. A marker
// elsewhere, or in another account's comment, is not ours.
func (g *GitHub) find(ctx context.Context, left *time.Duration, t Target, marker string, me Identity, attempts int) ([]int64, error) {
	var ours []int64
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 0; page < maxPages; page++ {
		var list []*github.IssueComment
		var next int
		err := g.do(ctx, left, attempts, func(ctx context.Context, c *github.Client) (*github.Response, error) {
			l, resp, err := c.Issues.ListComments(ctx, t.Owner, t.Repo, t.Number, opts)
			if err == nil {
				list, next = l, resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if me.owns(c.GetUser().GetLogin()) && strings.HasPrefix(c.GetBody(), marker) && c.GetID() != 0 {
				ours = append(ours, c.GetID())
			}
		}
		if next == 0 {
			break
		}
		opts.Page = next
	}
	slices.Sort(ours)
	return slices.Compact(ours), nil
}

// clean hides the token in err's text, should any layer have put it there.
func (g *GitHub) clean(err error) error {
	if err == nil {
		return nil
	}
	if s := err.Error(); g.redact(s) != s {
		return &redacted{msg: g.redact(s), err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// status returns the HTTP status of a go-github error, or 0.
func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
